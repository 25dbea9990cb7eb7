"""What installing the project puts into site-packages (issue 16, item 16): the ``orchestrator`` package
and nothing else; above all no top-level ``tasks``, a name that clashes easily. The repository's
``tasks/`` (the credit application's handlers) is loaded from the checkout instead.

The wheel is built as pip builds it for ``pip install .``, from a copy of the files a build reads.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_only_the_orchestrator_package(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(CHECKOUT / name, source / name)
    for name in ("orchestrator", "tasks"):
        shutil.copytree(CHECKOUT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))

    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(tmp_path / "dist"), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("orchestrator-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/", 1)[0] for name in names}
    assert top_level == {"orchestrator", wheel.name.split("-py")[0] + ".dist-info"}, sorted(top_level)
    assert not any(name.startswith("tasks/") for name in names)
    # What the engine reads at run time besides its modules is in it.
    assert "orchestrator/migrations/env.py" in names


def test_a_tasks_package_in_the_current_directory_is_loaded(tmp_path: Path) -> None:
    """Where `orchestrator run`, `serve` and `worker` find ``tasks/``: the directory they run in."""
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "__init__.py").write_text(
        'from orchestrator import handler\n\n\n@handler("FromHere")\ndef here(payload, context):\n    return 1\n'
    )
    code = (
        "import sys; from orchestrator.integrations import registry\n"
        "sys.path[:] = [p for p in sys.path if p not in ('', '.')]\n"  # as for the installed `orchestrator` script
        "print(registry.load_modules(()), sorted(registry.registered()))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )

    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "['tasks'] ['FromHere']"
