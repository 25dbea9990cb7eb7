"""Imports point one way: faces, service, runtime, integrations, store, engine, language
(ARCHITECTURE.md, "Layers, and the one direction of imports").

Every module under ``orchestrator/`` is read with `ast` (imports inside functions too, since a
lazy import is still a dependency) and placed in its layer; a module may import its own layer and
the layers below, never one above. What a lower layer needs from above reaches it as an interface
it defines and the upper layer implements (``integrations.sfn.StepFunctions``,
``integrations.sns.DeliveryQueue``).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "orchestrator"

# Highest first. The Python faces are the package itself (``handler``, ``run_local``, ``Client``),
# ``local`` (run_local), ``client``, ``events`` (``@subscriber``), and what ``orchestrator run``
# prints with (``follow``, ``trace``). Migrations change the store's schema, at the store's level.
LAYERS: dict[str, tuple[str, ...]] = {
    "faces": ("", "cli", "api", "console", "client", "local", "events", "follow", "trace"),
    "service": ("service",),
    "runtime": ("runtime",),
    "integrations": ("integrations",),
    "store": ("store", "migrations"),
    "engine": ("engine",),
    "asl": ("asl",),
}
RANK = {name: rank for rank, name in enumerate(reversed(LAYERS))}
# What every layer may use, and which imports no layer: the settings and the log format.
SHARED = ("config", "logs")
# Neither the language nor the interpreter does I/O (ARCHITECTURE.md): none of these in asl/, engine/.
IO_LIBRARIES = ("sqlalchemy", "celery", "kombu", "psycopg", "redis", "httpx", "boto3", "botocore")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported(path: Path) -> list[tuple[str, int]]:
    return imports_of(module_name(path), path.name == "__init__.py", path.read_text())


def imports_of(name: str, is_package: bool, text: str) -> list[tuple[str, int]]:
    """The modules the module ``name`` imports (``from a import b`` is ``a.b`` when that is a
    module), with their lines."""
    package = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((candidate if candidate in MODULES else base, node.lineno))
    return list(dict.fromkeys(found))  # ``from a import b, c`` is one import of ``a``


def part_of(module: str) -> str:
    """The first name below ``orchestrator`` ("" for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_of(module: str) -> str | None:
    top = part_of(module)
    return next((layer for layer, parts in LAYERS.items() if top in parts), None)


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(m for m in MODULES if layer_of(m) is None and part_of(m) not in SHARED)
    assert not unplaced, f"put these modules in a layer of tests/test_layers.py (ARCHITECTURE.md): {unplaced}"


def upward(module: str, targets: list[tuple[str, int]]) -> list[str]:
    """The imports of ``module`` that point up, each described."""
    own = layer_of(module)
    found = []
    for target, line in targets:
        if not target.startswith("orchestrator"):
            continue
        theirs = layer_of(target)
        if part_of(module) in SHARED and part_of(target) not in SHARED:
            found.append(f"{module}:{line} imports {target}, but {module} is shared by every layer")
        elif own is not None and theirs is not None and RANK[theirs] > RANK[own]:
            found.append(f"{module}:{line} ({own}) imports {target} ({theirs})")
    return found


def test_no_module_imports_a_layer_above_its_own() -> None:
    found = [line for module, path in sorted(MODULES.items()) for line in upward(module, imported(path))]
    assert not found, "imports that point up:\n" + "\n".join(found)


def test_the_language_and_the_interpreter_do_no_io() -> None:
    found = [
        f"{module}:{line} imports {target}"
        for module, path in sorted(MODULES.items())
        if layer_of(module) in ("asl", "engine")
        for target, line in imported(path)
        if target.split(".")[0] in IO_LIBRARIES
    ]
    assert not found, "\n".join(found)


def test_the_check_sees_upward_imports_even_inside_functions_and_relative() -> None:
    # Given what integrations/sfn.py and integrations/sns.py once held, and a shared module gone wrong
    sfn = "def call():\n    from orchestrator.service import Service, ServiceError\n"
    sns = "def publish():\n    from ..runtime import deliveries\n"
    config = "from orchestrator.store import db\n"
    # Then each import is named as one that points up
    assert upward("orchestrator.integrations.sfn", imports_of("orchestrator.integrations.sfn", False, sfn)) == [
        "orchestrator.integrations.sfn:2 (integrations) imports orchestrator.service (service)"
    ]
    assert upward("orchestrator.integrations.sns", imports_of("orchestrator.integrations.sns", False, sns)) == [
        "orchestrator.integrations.sns:2 (integrations) imports orchestrator.runtime.deliveries (runtime)"
    ]
    assert upward("orchestrator.config", imports_of("orchestrator.config", False, config)) == [
        "orchestrator.config:1 imports orchestrator.store.db, but orchestrator.config is shared by every layer"
    ]
    # and an import downwards is not
    assert upward("orchestrator.service.base", [("orchestrator.store.db", 1), ("orchestrator.asl.parse", 2)]) == []
