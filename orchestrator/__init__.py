"""Orchestrator: a durable, AWS Step Functions-compatible workflow engine.

The public Python surface: `run_local` runs a state machine in memory (the way to unit-test one),
`validate` lists the problems in a definition, `parse` turns one into its typed model, `Client`
starts and follows executions from a service (docs/client.md).
"""

from typing import TYPE_CHECKING

from orchestrator.asl.errors import DefinitionError, Diagnostic, StatesError
from orchestrator.asl.parse import parse, validate
from orchestrator.engine.local import ExecutionResult, RealClock, VirtualClock
from orchestrator.engine.outcomes import TaskContext
from orchestrator.integrations.registry import handler
from orchestrator.integrations.subscribers import subscriber
from orchestrator.local import run_local

if TYPE_CHECKING:
    from orchestrator.client import Client, ServiceError, WaitTimeout

__version__ = "0.1.0"

__all__ = [
    "Client",
    "DefinitionError",
    "Diagnostic",
    "ExecutionResult",
    "RealClock",
    "ServiceError",
    "StatesError",
    "TaskContext",
    "VirtualClock",
    "WaitTimeout",
    "__version__",
    "handler",
    "parse",
    "run_local",
    "subscriber",
    "validate",
]


def __getattr__(name: str) -> object:
    # The client brings the service, the runtime and Celery with it: imported when first asked for.
    if name in ("Client", "ServiceError", "WaitTimeout"):
        from orchestrator import client

        return getattr(client, name)
    raise AttributeError(f"module 'orchestrator' has no attribute {name!r}")
