"""The handler registry: ``@handler("Name")`` functions, by the name a Task resource calls.

A handler is ``(payload, context) -> result``. Its name is the Lambda function name for Lambda
resources (``arn:aws:lambda:...:function:NAME``, or ``lambda:invoke`` with ``FunctionName``) and
the whole resource ARN for anything else (see `engine.resources.handler_name`).
"""

from __future__ import annotations

import importlib
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


def load_modules(modules: Iterable[str], *, include_tasks: bool = True) -> list[str]:
    """Import the modules that register handlers; returns the ones imported.

    The top-level ``tasks`` package is imported when it exists; a module named in ``modules``
    that cannot be imported is an error (a typo must not silently lose every handler).
    """
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
            raise ImportError(f"cannot import handler module {module!r} (ORCHESTRATOR_HANDLER_MODULES): {exc}") from exc
        loaded.append(module)
    return loaded
