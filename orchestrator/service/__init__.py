"""The use cases, shared by the CLI and the HTTP API: AWS Step Functions' actions on our store.

Each method of `Service` is one action: it validates its arguments as AWS does, runs one
transaction, publishes the messages that transaction decided once it has committed, and returns
the action's result in the API's shape (camelCase keys, datetimes for timestamps). Anything a
caller can get wrong raises `ServiceError` with AWS's error code. The actions are grouped in one
module per resource; `Service` combines them.
"""

from __future__ import annotations

from typing import Any

from orchestrator.integrations import sfn
from orchestrator.service.activities import ActivityActions
from orchestrator.service.base import ServiceError, utcnow
from orchestrator.service.browse import BrowseActions
from orchestrator.service.events import EventActions
from orchestrator.service.executions import ExecutionActions
from orchestrator.service.express import ExpressActions
from orchestrator.service.map_runs import MapRunActions
from orchestrator.service.queues import QueueActions
from orchestrator.service.retention import RetentionActions
from orchestrator.service.state_machines import StateMachineActions
from orchestrator.service.tables import TableActions
from orchestrator.service.tags import TagActions
from orchestrator.service.testing import TestStateActions
from orchestrator.service.tokens import TaskTokenActions
from orchestrator.service.topics import TopicActions
from orchestrator.service.versions import VersionActions

__all__ = ["Service", "ServiceError", "utcnow"]


class Service(
    StateMachineActions,
    VersionActions,
    ExecutionActions,
    ExpressActions,
    TaskTokenActions,
    ActivityActions,
    TagActions,
    MapRunActions,
    TestStateActions,
    TopicActions,
    QueueActions,
    TableActions,
    BrowseActions,
    RetentionActions,
    EventActions,
):
    """Every action, bound to a configuration and a Celery app (for publishing)."""


class ServiceStepFunctions:
    """The Service as ``aws-sdk:sfn`` Tasks call it (`integrations.sfn.StepFunctions`)."""

    def perform(self, action: str, parameters: Any) -> dict[str, Any]:
        try:
            return sfn.perform(Service(), action, parameters)
        except ServiceError as exc:
            raise sfn.refused(exc.code, exc.message) from None


# The integrations sit below this layer: what they need of it is lent to them, here.
sfn.INTEGRATION.serve_with(ServiceStepFunctions)
