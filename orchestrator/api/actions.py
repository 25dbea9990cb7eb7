"""The actions the API serves: each takes the request's JSON body and returns the response's.

A body reaches an action only once ``orchestrator.api.shapes`` has checked it against the action's
input shape in AWS's model (types, required members, lengths, enums, ranges, patterns): an action
reads its members as they are, supplies AWS's defaults, and checks only what the model cannot say
(one of two ARNs, a bound of our storage).
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


# A bound of our storage the model does not set (its MaxConcurrency and ToleratedFailureCount have
# no maximum; the columns are 32-bit integers).
MAX_STORED_INT = 10**9


def _get(body: dict[str, Any], name: str, default: Any) -> Any:
    """The member ``name``, or AWS's default when it is absent or null."""
    value = body.get(name)
    return default if value is None else value


def _bounded(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is not None and value > MAX_STORED_INT:
        raise ServiceError(
            "ValidationException",
            f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: "
            f"Member must have value less than or equal to {MAX_STORED_INT}",
        )
    return value


# -- state machines ------------------------------------------------------------------------------------


@action("CreateStateMachine")
def create_state_machine(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.create_state_machine(
        name=body["name"],
        definition=body["definition"],
        role_arn=body["roleArn"],
        type=body.get("type") or "STANDARD",
        tags=body.get("tags"),
        logging_configuration=body.get("loggingConfiguration"),
        tracing_configuration=body.get("tracingConfiguration"),
        publish_version=_get(body, "publish", False),
        version_description=body.get("versionDescription"),
    )


@action("DescribeStateMachine")
def describe_state_machine(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.describe_state_machine(body["stateMachineArn"])


@action("UpdateStateMachine")
def update_state_machine(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.update_state_machine(
        body["stateMachineArn"],
        definition=body.get("definition"),
        role_arn=body.get("roleArn"),
        logging_configuration=body.get("loggingConfiguration"),
        tracing_configuration=body.get("tracingConfiguration"),
        publish_version=_get(body, "publish", False),
        version_description=body.get("versionDescription"),
    )


@action("DeleteStateMachine")
def delete_state_machine(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.delete_state_machine(body["stateMachineArn"])


@action("ListStateMachines")
def list_state_machines(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.list_state_machines(max_results=_get(body, "maxResults", 0), next_token=body.get("nextToken"))


@action("ValidateStateMachineDefinition")
def validate_state_machine_definition(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.validate_definition(
        body["definition"],
        type=body.get("type") or "STANDARD",
        severity=body.get("severity") or "ERROR",
        max_results=_get(body, "maxResults", 100),
    )


# -- executions ----------------------------------------------------------------------------------------


@action("StartExecution")
def start_execution(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.start_execution(
        body["stateMachineArn"],
        name=body.get("name"),
        input=body.get("input"),
        trace_header=body.get("traceHeader"),
    )


@action("StartSyncExecution")
def start_sync_execution(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.start_sync_execution(
        body["stateMachineArn"],
        name=body.get("name"),
        input=body.get("input"),
        trace_header=body.get("traceHeader"),
    )


@action("DescribeExecution")
def describe_execution(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.describe_execution(body["executionArn"])


@action("DescribeStateMachineForExecution")
def describe_state_machine_for_execution(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.describe_state_machine_for_execution(body["executionArn"])


@action("ListExecutions")
def list_executions(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    machine = body.get("stateMachineArn")
    map_run = body.get("mapRunArn")
    if (machine is None) == (map_run is None):
        raise ServiceError("ValidationException", "Must provide a StateMachine ARN or a MapRun ARN")
    return service.list_executions(
        machine or "",
        map_run_arn=map_run,
        status_filter=body.get("statusFilter"),
        max_results=_get(body, "maxResults", 0),
        next_token=body.get("nextToken"),
        redrive_filter=body.get("redriveFilter"),
    )


@action("StopExecution")
def stop_execution(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.stop_execution(
        body["executionArn"],
        error=body.get("error"),
        cause=body.get("cause"),
    )


@action("GetExecutionHistory")
def get_execution_history(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.get_execution_history(
        body["executionArn"],
        max_results=_get(body, "maxResults", 0),
        reverse_order=_get(body, "reverseOrder", False),
        next_token=body.get("nextToken"),
        include_execution_data=_get(body, "includeExecutionData", True),
    )


@action("RedriveExecution")
def redrive_execution(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.redrive_execution(
        body["executionArn"],
        client_token=body.get("clientToken"),
    )


# -- task tokens ---------------------------------------------------------------------------------------


@action("SendTaskSuccess")
def send_task_success(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.send_task_success(body["taskToken"], body["output"])


@action("SendTaskFailure")
def send_task_failure(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.send_task_failure(
        body["taskToken"],
        error=body.get("error"),
        cause=body.get("cause"),
    )


@action("SendTaskHeartbeat")
def send_task_heartbeat(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.send_task_heartbeat(body["taskToken"])


# -- activities ----------------------------------------------------------------------------------------

POLL_SECONDS = 60.0  # how long GetActivityTask holds a request open, as AWS does
POLL_INTERVAL = 0.2


@action("CreateActivity")
def create_activity(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.create_activity(body["name"], tags=body.get("tags"))


@action("DescribeActivity")
def describe_activity(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.describe_activity(body["activityArn"])


@action("DeleteActivity")
def delete_activity(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.delete_activity(body["activityArn"])


@action("ListActivities")
def list_activities(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.list_activities(max_results=_get(body, "maxResults", 0), next_token=body.get("nextToken"))


@action("GetActivityTask")
def get_activity_task_once(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    """The synchronous fallback; the server uses `get_activity_task` (below) to long-poll."""
    claimed = service.claim_activity_task(body["activityArn"], body.get("workerName"))
    return claimed or {}


async def get_activity_task(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    """Long poll: up to 60 s, checking every 0.2 s in a short transaction; nothing held in between."""
    arn = body["activityArn"]
    worker = body.get("workerName")
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
    return service.tag_resource(body["resourceArn"], body["tags"])


@action("UntagResource")
def untag_resource(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.untag_resource(body["resourceArn"], body["tagKeys"])


@action("ListTagsForResource")
def list_tags_for_resource(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.list_tags_for_resource(body["resourceArn"])


# -- versions and aliases ------------------------------------------------------------------------------


@action("PublishStateMachineVersion")
def publish_state_machine_version(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.publish_state_machine_version(
        body["stateMachineArn"],
        revision_id=body.get("revisionId"),
        description=body.get("description"),
    )


@action("ListStateMachineVersions")
def list_state_machine_versions(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.list_state_machine_versions(
        body["stateMachineArn"],
        max_results=_get(body, "maxResults", 0),
        next_token=body.get("nextToken"),
    )


@action("DeleteStateMachineVersion")
def delete_state_machine_version(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.delete_state_machine_version(body["stateMachineVersionArn"])


@action("CreateStateMachineAlias")
def create_state_machine_alias(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.create_state_machine_alias(
        body["name"], body["routingConfiguration"], description=body.get("description")
    )


@action("DescribeStateMachineAlias")
def describe_state_machine_alias(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.describe_state_machine_alias(body["stateMachineAliasArn"])


@action("UpdateStateMachineAlias")
def update_state_machine_alias(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.update_state_machine_alias(
        body["stateMachineAliasArn"],
        description=body.get("description"),
        routing=body.get("routingConfiguration"),
    )


@action("DeleteStateMachineAlias")
def delete_state_machine_alias(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.delete_state_machine_alias(body["stateMachineAliasArn"])


@action("ListStateMachineAliases")
def list_state_machine_aliases(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.list_state_machine_aliases(
        body["stateMachineArn"],
        max_results=_get(body, "maxResults", 0),
        next_token=body.get("nextToken"),
    )


# -- Distributed Map runs ------------------------------------------------------------------------------


@action("ListMapRuns")
def list_map_runs(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.list_map_runs(
        body["executionArn"],
        max_results=_get(body, "maxResults", 0),
        next_token=body.get("nextToken"),
    )


@action("DescribeMapRun")
def describe_map_run(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.describe_map_run(body["mapRunArn"])


@action("UpdateMapRun")
def update_map_run(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.update_map_run(
        body["mapRunArn"],
        max_concurrency=_bounded(body, "maxConcurrency"),
        tolerated_failure_percentage=body.get("toleratedFailurePercentage"),
        tolerated_failure_count=_bounded(body, "toleratedFailureCount"),
    )
