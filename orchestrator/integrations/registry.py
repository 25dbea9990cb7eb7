"""The handler registry: ``@handler("Name")`` functions, by the name a Task resource calls.

A handler is ``(payload, context) -> result``. Its name is the Lambda function name for Lambda
resources (``arn:aws:lambda:...:function:NAME``, or ``lambda:invoke`` with ``FunctionName``) and
the whole resource ARN for anything else (see `engine.resources.handler_name`).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from orchestrator.engine.outcomes import TaskContext

Handler = Callable[[Any, TaskContext], Any]


@dataclass(frozen=True, slots=True)
class Registration:
    name: str
    function: Handler
    queue: str | None  # None: the default handler queue


_REGISTRY: dict[str, Registration] = {}


def handler(name: str, *, queue: str | None = None) -> Callable[[Handler], Handler]:
    """Register a function as the handler of ``name``.

    Example::

        @handler("RandomNumberforCredit")
        def random_number(payload, context):
            return {"limit": 4200}

    ``queue`` puts it on a Celery queue of its own, so its workers scale apart.
    """

    def register(function: Handler) -> Handler:
        existing = _REGISTRY.get(name)
        if existing is not None and existing.function is not function:
            raise ValueError(f"a handler named {name!r} is already registered ({existing.function!r})")
        _REGISTRY[name] = Registration(name, function, queue)
        return function

    return register


def registered() -> dict[str, Registration]:
    """Every registered handler, by name."""
    return dict(_REGISTRY)


def handlers() -> dict[str, Handler]:
    return {name: r.function for name, r in _REGISTRY.items()}


class HandlerModuleNotFound(ImportError):
    """A module named in ORCHESTRATOR_HANDLER_MODULES is nowhere on the import path (a typo, most often)."""


def load_modules(modules: Iterable[str], *, include_tasks: bool = True) -> list[str]:
    """Import the modules that register handlers; returns the ones imported.

    The current directory is on the import path, as for ``python -m``: ``myhandlers.py`` or a
    ``tasks/`` folder beside the definitions is found without PYTHONPATH. The top-level ``tasks``
    package is imported when it exists; a module named in ``modules`` that cannot be found is
    `HandlerModuleNotFound` (a typo must not silently lose every handler).
    """
    _put_current_directory_on_path()
    loaded = []
    if include_tasks:
        try:
            importlib.import_module("tasks")
            loaded.append("tasks")
        except ModuleNotFoundError as exc:
            if exc.name != "tasks":
                raise
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if not _is_part_of(exc.name, module):
                raise  # the module exists, and one that it imports is missing: its traceback says where
            raise HandlerModuleNotFound(
                f"cannot import handler module {module!r} (ORCHESTRATOR_HANDLER_MODULES): no module named "
                f"{exc.name!r} in the current directory ({os.getcwd()}) nor on the Python path"
            ) from None
        loaded.append(module)
    return loaded


def _put_current_directory_on_path() -> None:
    # Appended, not prepended: a module of the current directory must not shadow an installed one.
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.append(here)


def _is_part_of(missing: str | None, module: str) -> bool:
    """Whether ``missing`` is ``module`` itself or one of its parent packages (``a`` or ``a.b`` of ``a.b.c``)."""
    return missing is not None and (module == missing or module.startswith(missing + "."))
