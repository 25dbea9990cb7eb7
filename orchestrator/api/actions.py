"""The actions the API serves: each takes the request's JSON body and returns the response's.

Parameters are checked as AWS's model declares them (required, type, length) before the service
sees them; a problem is a ``ValidationException`` naming the parameter, as AWS words it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from orchestrator.service import Service, ServiceError

Action = Callable[[Service, dict[str, Any]], dict[str, Any]]
AsyncAction = Callable[[Service, dict[str, Any]], Awaitable[dict[str, Any]]]
ACTIONS: dict[str, Action] = {}
# Actions that wait on the event loop instead of a thread (GetActivityTask's long poll).
ASYNC_ACTIONS: dict[str, AsyncAction] = {}


def action(name: str) -> Callable[[Action], Action]:
    def register(function: Action) -> Action:
        ACTIONS[name] = function
        return function

    return register


class Params:
    """Typed access to a request body, with AWS's validation messages."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def _fail(self, name: str, value: Any, constraint: str) -> ServiceError:
        shown = "null" if value is None else value
        return ServiceError(
            "ValidationException",
            f"1 validation error detected: Value '{shown}' at '{name}' failed to satisfy constraint: {constraint}",
        )

    def string(
        self, name: str, *, required: bool = False, max_length: int | None = None, min_length: int = 0
    ) -> str | None:
        value = self.body.get(name)
        if value is None:
            if required:
                raise self._fail(name, None, "Member must not be null")
            return None
        if not isinstance(value, str):
            raise ServiceError("SerializationException", f"Unexpected value type for '{name}': expected a string")
        if len(value) < min_length or (max_length is not None and len(value) > max_length):
            raise self._fail(name, value[:64], f"Member must have length between {min_length} and {max_length}")
        return value

    def required(self, name: str, **limits: Any) -> str:
        value = self.string(name, required=True, **limits)
        assert value is not None
        return value

    def integer(self, name: str, *, default: int = 0, minimum: int = 0, maximum: int = 1000) -> int:
        value = self.body.get(name)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            raise ServiceError("SerializationException", f"Unexpected value type for '{name}': expected an integer")
        if not minimum <= value <= maximum:
            raise self._fail(name, value, f"Member must have value between {minimum} and {maximum}")
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.body.get(name, default)
        if not isinstance(value, bool):
            raise ServiceError("SerializationException", f"Unexpected value type for '{name}': expected a boolean")
        return value

    def obj(self, name: str) -> Any:
        value = self.body.get(name)
        if value is not None and not isinstance(value, dict):
            raise ServiceError("SerializationException", f"Unexpected value type for '{name}': expected an object")
        return value

    def array(self, name: str) -> list[Any] | None:
        value = self.body.get(name)
        if value is not None and not isinstance(value, list):
            raise ServiceError("SerializationException", f"Unexpected value type for '{name}': expected a list")
        return value


# -- state machines ------------------------------------------------------------------------------------


@action("CreateStateMachine")
def create_state_machine(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    return service.create_state_machine(
        name=p.required("name", min_length=1, max_length=80),
        definition=p.required("definition", min_length=1, max_length=1_048_576),
        role_arn=p.required("roleArn", min_length=1, max_length=256),
        type=p.string("type") or "STANDARD",
        tags=p.array("tags"),
        logging_configuration=p.obj("loggingConfiguration"),
        tracing_configuration=p.obj("tracingConfiguration"),
        publish_version=p.boolean("publish"),
        version_description=p.string("versionDescription", max_length=256),
    )


@action("DescribeStateMachine")
def describe_state_machine(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.describe_state_machine(Params(body).required("stateMachineArn", min_length=1, max_length=256))


@action("UpdateStateMachine")
def update_state_machine(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    return service.update_state_machine(
        p.required("stateMachineArn", min_length=1, max_length=256),
        definition=p.string("definition", min_length=1, max_length=1_048_576),
        role_arn=p.string("roleArn", min_length=1, max_length=256),
        logging_configuration=p.obj("loggingConfiguration"),
        tracing_configuration=p.obj("tracingConfiguration"),
        publish_version=p.boolean("publish"),
        version_description=p.string("versionDescription", max_length=256),
    )


@action("DeleteStateMachine")
def delete_state_machine(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.delete_state_machine(Params(body).required("stateMachineArn", min_length=1, max_length=256))


@action("ListStateMachines")
def list_state_machines(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    return service.list_state_machines(
        max_results=p.integer("maxResults"), next_token=p.string("nextToken", max_length=1024)
    )


@action("ValidateStateMachineDefinition")
def validate_state_machine_definition(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    return service.validate_definition(
        p.required("definition", min_length=1, max_length=1_048_576),
        type=p.string("type") or "STANDARD",
        severity=p.string("severity") or "ERROR",
        max_results=p.integer("maxResults", default=100, maximum=100),
    )


# -- executions ----------------------------------------------------------------------------------------


@action("StartExecution")
def start_execution(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    return service.start_execution(
        p.required("stateMachineArn", min_length=1, max_length=256),
        name=p.string("name", min_length=1, max_length=80),
        input=p.string("input", max_length=262_144),
        trace_header=p.string("traceHeader", max_length=256),
    )


@action("StartSyncExecution")
def start_sync_execution(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    return service.start_sync_execution(
        p.required("stateMachineArn", min_length=1, max_length=256),
        name=p.string("name", min_length=1, max_length=80),
        input=p.string("input", max_length=262_144),
        trace_header=p.string("traceHeader", max_length=256),
    )


@action("DescribeExecution")
def describe_execution(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.describe_execution(Params(body).required("executionArn", min_length=1, max_length=256))


@action("DescribeStateMachineForExecution")
def describe_state_machine_for_execution(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.describe_state_machine_for_execution(
        Params(body).required("executionArn", min_length=1, max_length=256)
    )


@action("ListExecutions")
def list_executions(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    machine = p.string("stateMachineArn", min_length=1, max_length=256)
    map_run = p.string("mapRunArn", min_length=1, max_length=2000)
    if (machine is None) == (map_run is None):
        raise ServiceError("ValidationException", "Must provide a StateMachine ARN or a MapRun ARN")
    return service.list_executions(
        machine or "",
        map_run_arn=map_run,
        status_filter=p.string("statusFilter"),
        max_results=p.integer("maxResults"),
        next_token=p.string("nextToken", max_length=3096),
    )


@action("StopExecution")
def stop_execution(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    return service.stop_execution(
        p.required("executionArn", min_length=1, max_length=256),
        error=p.string("error", max_length=256),
        cause=p.string("cause", max_length=32768),
    )


@action("GetExecutionHistory")
def get_execution_history(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    return service.get_execution_history(
        p.required("executionArn", min_length=1, max_length=256),
        max_results=p.integer("maxResults"),
        reverse_order=p.boolean("reverseOrder"),
        next_token=p.string("nextToken", max_length=1024),
        include_execution_data=p.boolean("includeExecutionData", True),
    )


@action("RedriveExecution")
def redrive_execution(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    return service.redrive_execution(
        p.required("executionArn", min_length=1, max_length=256),
        client_token=p.string("clientToken", min_length=1, max_length=64),
    )


# -- task tokens ---------------------------------------------------------------------------------------


@action("SendTaskSuccess")
def send_task_success(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    return service.send_task_success(
        p.required("taskToken", min_length=1, max_length=2048), p.required("output", max_length=262_144)
    )


@action("SendTaskFailure")
def send_task_failure(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    return service.send_task_failure(
        p.required("taskToken", min_length=1, max_length=2048),
        error=p.string("error", max_length=256),
        cause=p.string("cause", max_length=32768),
    )


@action("SendTaskHeartbeat")
def send_task_heartbeat(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.send_task_heartbeat(Params(body).required("taskToken", min_length=1, max_length=2048))


# -- activities ----------------------------------------------------------------------------------------

POLL_SECONDS = 60.0  # how long GetActivityTask holds a request open, as AWS does
POLL_INTERVAL = 0.2


@action("CreateActivity")
def create_activity(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    return service.create_activity(p.required("name", min_length=1, max_length=80), tags=p.array("tags"))


@action("DescribeActivity")
def describe_activity(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.describe_activity(Params(body).required("activityArn", min_length=1, max_length=256))


@action("DeleteActivity")
def delete_activity(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.delete_activity(Params(body).required("activityArn", min_length=1, max_length=256))


@action("ListActivities")
def list_activities(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    return service.list_activities(
        max_results=p.integer("maxResults"), next_token=p.string("nextToken", max_length=1024)
    )


@action("GetActivityTask")
def get_activity_task_once(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    """The synchronous fallback; the server uses `get_activity_task` (below) to long-poll."""
    p = Params(body)
    claimed = service.claim_activity_task(
        p.required("activityArn", min_length=1, max_length=256), p.string("workerName", min_length=1, max_length=80)
    )
    return claimed or {}


async def get_activity_task(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    """Long poll: up to 60 s, checking every 0.2 s in a short transaction; nothing held in between."""
    p = Params(body)
    arn = p.required("activityArn", min_length=1, max_length=256)
    worker = p.string("workerName", min_length=1, max_length=80)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + POLL_SECONDS
    while True:
        claimed = await run_in_threadpool(service.claim_activity_task, arn, worker)
        if claimed is not None:
            return claimed
        if loop.time() >= deadline:
            return {}
        await asyncio.sleep(POLL_INTERVAL)


ASYNC_ACTIONS["GetActivityTask"] = get_activity_task


# -- tags ----------------------------------------------------------------------------------------------


@action("TagResource")
def tag_resource(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    tags = p.array("tags")
    if tags is None:
        raise ServiceError(
            "ValidationException",
            "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null",
        )
    return service.tag_resource(p.required("resourceArn", min_length=1, max_length=256), tags)


@action("UntagResource")
def untag_resource(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    keys = p.array("tagKeys")
    if keys is None:
        raise ServiceError(
            "ValidationException",
            "1 validation error detected: Value null at 'tagKeys' failed to "
            "satisfy constraint: Member must not be null",
        )
    return service.untag_resource(p.required("resourceArn", min_length=1, max_length=256), keys)


@action("ListTagsForResource")
def list_tags_for_resource(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.list_tags_for_resource(Params(body).required("resourceArn", min_length=1, max_length=256))


# -- versions and aliases ------------------------------------------------------------------------------


@action("PublishStateMachineVersion")
def publish_state_machine_version(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    return service.publish_state_machine_version(
        p.required("stateMachineArn", min_length=1, max_length=256),
        revision_id=p.string("revisionId"),
        description=p.string("description", max_length=256),
    )


@action("ListStateMachineVersions")
def list_state_machine_versions(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    return service.list_state_machine_versions(
        p.required("stateMachineArn", min_length=1, max_length=256),
        max_results=p.integer("maxResults"),
        next_token=p.string("nextToken", max_length=1024),
    )


@action("DeleteStateMachineVersion")
def delete_state_machine_version(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.delete_state_machine_version(
        Params(body).required("stateMachineVersionArn", min_length=1, max_length=2048)
    )


@action("CreateStateMachineAlias")
def create_state_machine_alias(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    routing = p.array("routingConfiguration")
    if routing is None:
        raise ServiceError(
            "ValidationException",
            "1 validation error detected: Value null at "
            "'routingConfiguration' failed to satisfy constraint: Member must not be null",
        )
    return service.create_state_machine_alias(
        p.required("name", min_length=1, max_length=80), routing, description=p.string("description", max_length=256)
    )


@action("DescribeStateMachineAlias")
def describe_state_machine_alias(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.describe_state_machine_alias(
        Params(body).required("stateMachineAliasArn", min_length=1, max_length=256)
    )


@action("UpdateStateMachineAlias")
def update_state_machine_alias(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    return service.update_state_machine_alias(
        p.required("stateMachineAliasArn", min_length=1, max_length=256),
        description=p.string("description", max_length=256),
        routing=p.array("routingConfiguration"),
    )


@action("DeleteStateMachineAlias")
def delete_state_machine_alias(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.delete_state_machine_alias(
        Params(body).required("stateMachineAliasArn", min_length=1, max_length=256)
    )


@action("ListStateMachineAliases")
def list_state_machine_aliases(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    return service.list_state_machine_aliases(
        p.required("stateMachineArn", min_length=1, max_length=256),
        max_results=p.integer("maxResults"),
        next_token=p.string("nextToken", max_length=1024),
    )


# -- Distributed Map runs ------------------------------------------------------------------------------


@action("ListMapRuns")
def list_map_runs(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    return service.list_map_runs(
        p.required("executionArn", min_length=1, max_length=256),
        max_results=p.integer("maxResults"),
        next_token=p.string("nextToken", max_length=1024),
    )


@action("DescribeMapRun")
def describe_map_run(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.describe_map_run(Params(body).required("mapRunArn", min_length=1, max_length=2000))


@action("UpdateMapRun")
def update_map_run(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    percentage = body.get("toleratedFailurePercentage")
    if percentage is not None and (not isinstance(percentage, int | float) or isinstance(percentage, bool)):
        raise ServiceError("SerializationException", "toleratedFailurePercentage must be a number")
    return service.update_map_run(
        p.required("mapRunArn", min_length=1, max_length=2000),
        max_concurrency=p.integer("maxConcurrency", default=None, maximum=10**9) if "maxConcurrency" in body else None,
        tolerated_failure_percentage=percentage,
        tolerated_failure_count=p.integer("toleratedFailureCount", default=None, maximum=10**9)
        if "toleratedFailureCount" in body
        else None,
    )
