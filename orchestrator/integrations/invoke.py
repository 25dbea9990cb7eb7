"""Running one Task's work and reporting it as the interpreter expects.

`invoke` finds the handler (or built-in integration) for a `TaskRequest`, calls it, and returns a
`Delivery`: TaskSucceeded with the result in the shape AWS gives it (Lambda's Invoke response for
``lambda:invoke``), or TaskFailed the way the service reports failures (Lambda: the exception's
class name, and a JSON cause with errorMessage, errorType, requestId and stackTrace).
"""

from __future__ import annotations

import json
import traceback
import uuid
from collections.abc import Mapping
from typing import Any

from orchestrator.engine.outcomes import (
    Delivery,
    TaskContext,
    TaskFailed,
    TaskRequest,
    TaskSubmitted,
    TaskSucceeded,
)
from orchestrator.engine.resources import Resource, handler_name, parse_resource
from orchestrator.integrations import services
from orchestrator.integrations.registry import Handler

INVALID_RESULT = "Orchestrator.InvalidHandlerResult"


def invoke(
    request: TaskRequest, context: TaskContext, handlers: Mapping[str, Handler], *, callback_answers: bool
) -> Delivery:
    """Do ``request``'s work with the handler its resource names.

    ``callback_answers``: for a ``.waitForTaskToken`` task, whether the handler's return value is
    the task's result (run_local, where the handler stands in for whoever answers) or only the
    response to the first call (the runtime, which then waits for SendTaskSuccess).
    """
    resource = parse_resource(request.resource)
    name = handler_name(resource, request.payload)
    is_lambda = _is_lambda(resource)
    function = handlers.get(name)
    if function is None:
        integration = services.find(resource)
        if integration is None:
            return _no_handler(request, name, is_lambda)
        return _call_integration(integration, request, context)
    argument = request.payload
    if resource.service == "lambda" and resource.action == "invoke" and isinstance(argument, dict):
        argument = argument.get("Payload")
    try:
        result = function(copy_json(argument), context)
    except Exception as exc:
        return handler_failure(exc, is_lambda)
    try:
        result = copy_json(result)
    except (TypeError, ValueError):
        return TaskFailed(INVALID_RESULT, f"The handler '{name}' returned {type(result).__name__}, which is not JSON")
    if resource.service == "lambda" and resource.action == "invoke":
        result = lambda_invoke_result(result, str(uuid.uuid4()))
    if resource.pattern == "callback" and not callback_answers:
        return TaskSubmitted(result)
    return TaskSucceeded(result)


def _call_integration(integration: services.Integration, request: TaskRequest, context: TaskContext) -> Delivery:
    try:
        result = copy_json(integration.call(request, context))
    except services.IntegrationError as exc:
        return TaskFailed(exc.error, exc.cause)
    # A service called with a task token does not answer for it: the task waits for the token.
    return TaskSubmitted(result) if request.pattern == "callback" else TaskSucceeded(result)


def _is_lambda(resource: Resource) -> bool:
    return resource.kind == "lambda" or (resource.service == "lambda" and resource.action == "invoke")


def _no_handler(request: TaskRequest, name: str, is_lambda: bool) -> TaskFailed:
    if is_lambda:
        return TaskFailed(
            "Lambda.ResourceNotFoundException",
            f"Function not found: {name} (no handler named '{name}' is registered)",
        )
    return TaskFailed(
        "States.TaskFailed",
        f"No handler is registered for the resource '{request.resource}' (register one with @handler({name!r}))",
    )


def copy_json(value: Any) -> Any:
    """A deep copy through JSON: what crosses to or from a handler is plain JSON, never shared."""
    return json.loads(json.dumps(value))


def handler_failure(exc: Exception, is_lambda: bool) -> TaskFailed:
    """TaskFailed for a handler's exception: its ``error`` attribute or class name, and its message."""
    error = getattr(exc, "error", None)
    error = error if isinstance(error, str) and error else type(exc).__name__
    message = str(exc)
    if not is_lambda:
        return TaskFailed(error, message)
    stack = traceback.format_tb(exc.__traceback__)
    return TaskFailed(error, lambda_error_cause(error, message, str(uuid.uuid4()), stack))


def lambda_invoke_result(function_output: Any, request_id: str) -> dict[str, Any]:
    """What ``arn:aws:states:::lambda:invoke`` returns: Lambda's Invoke response around the payload."""
    length = "0"
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": function_output,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": ["$LATEST"],
                "x-amzn-Remapped-Content-Length": [length],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [request_id],
                "Content-Type": ["application/json"],
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Type": "application/json",
                "X-Amz-Executed-Version": "$LATEST",
                "x-amzn-Remapped-Content-Length": length,
                "x-amzn-RequestId": request_id,
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }


def lambda_error_cause(error_type: str, message: str, request_id: str, stack: list[str]) -> str:
    """The ``Cause`` Lambda reports for an unhandled exception: a JSON document as text."""
    return json.dumps({"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack})
