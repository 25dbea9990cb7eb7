"""Built-in service integrations: the protocol each one follows, and how a resource finds one.

An integration is a module of this package (``sns``, ``dynamodb``, ``http``, ``sfn``, ``aws_sdk``) that
registers an object with `register`. For a Task state whose resource no ``@handler`` claims, `find`
returns the integration that handles it; ``call`` does the work and returns the service's response
(the task's result), or raises `IntegrationError` with the error name AWS would report
(``DynamoDB.ConditionalCheckFailedException``, ``States.Http.Socket``, ...).

Integrations work the same from `run_local` and from the durable runtime: they find what they need
(the database of local topics and tables, connections) through `orchestrator.config`.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

from orchestrator.engine.outcomes import TaskContext, TaskRequest
from orchestrator.engine.resources import Resource

BUILT_IN = (
    "orchestrator.integrations.sns",
    "orchestrator.integrations.dynamodb",
    "orchestrator.integrations.http",
    "orchestrator.integrations.sfn",
    "orchestrator.integrations.s3_tasks",
    "orchestrator.integrations.sqs",
    "orchestrator.integrations.eventbridge",
    # last: it takes every aws-sdk: resource, so the local services above must register first
    "orchestrator.integrations.aws_sdk",
)


class Integration(Protocol):
    """What a built-in integration provides."""

    name: str

    def handles(self, resource: Resource) -> bool:
        """Whether this integration does the work of ``resource``."""

    def call(self, request: TaskRequest, context: TaskContext) -> Any:
        """Do the work; return the service's response, or raise IntegrationError."""


class IntegrationError(Exception):
    """A service call that failed: ``error`` is the name Retry and Catch see."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


def sdk_error_name(service: str, code: str) -> str:
    """An aws-sdk integration's error as Step Functions names it: ``<Service>.<Code>Exception``.

    ``sdk_error_name("S3", "NoSuchKey")`` is ``S3.NoSuchKeyException``; a code ending in Exception keeps it.
    """
    return f"{service}.{code if code.endswith('Exception') else code + 'Exception'}"


_INTEGRATIONS: list[Integration] = []
_LOADED = False


def register(integration: Integration) -> Integration:
    _INTEGRATIONS.append(integration)
    return integration


def find(resource: Resource) -> Integration | None:
    """The built-in integration for ``resource``, if there is one (the built-in modules load on first use)."""
    _load()
    return next((i for i in _INTEGRATIONS if i.handles(resource)), None)


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for module in BUILT_IN:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a built-in that is not written yet is fine; a broken one is not
                raise
