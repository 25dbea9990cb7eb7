"""Running one Task's work and reporting it as the interpreter expects.

`invoke` finds the handler (or built-in integration) for a `TaskRequest`, calls it, and returns a
`Delivery`: TaskSucceeded with the result in the shape AWS gives it (Lambda's Invoke response for
``lambda:invoke``), or TaskFailed the way the service reports failures (Lambda: the exception's
class name, and a JSON cause with errorMessage, errorType, requestId and stackTrace).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import math
import secrets
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from email.utils import format_datetime
from types import TracebackType
from typing import Any

from orchestrator.engine.outcomes import (
    Delivery,
    TaskContext,
    TaskFailed,
    TaskRequest,
    TaskSubmitted,
    TaskSucceeded,
)
from orchestrator.engine.resources import DEFAULT_ACCOUNT, DEFAULT_REGION, Resource, handler_name, parse_resource
from orchestrator.integrations import remote, services
from orchestrator.integrations.registry import Handler

INVALID_RESULT = "Orchestrator.InvalidHandlerResult"

log = logging.getLogger(__name__)

Now = Callable[[], dt.datetime]


def _wall_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def invoke(
    request: TaskRequest,
    context: TaskContext,
    handlers: Mapping[str, Handler],
    *,
    callback_answers: bool,
    now: Now = _wall_clock,
    on_handler_error: Callable[[Exception], None] | None = None,
) -> Delivery:
    """Do ``request``'s work with the handler its resource names.

    ``callback_answers``: for a ``.waitForTaskToken`` task, whether the handler's return value is
    the task's result (run_local, where the handler stands in for whoever answers) or only the
    response to the first call (the runtime, which then waits for SendTaskSuccess).
    ``now``: the time of the response (its Date header); run_local passes its clock's.
    ``on_handler_error``: told of the exception a handler raised (a worker logs it, with its traceback).
    """
    resource = parse_resource(request.resource)
    try:
        routed = remote.route(resource, request.payload)  # ORCHESTRATOR_ROUTE_TO_AWS comes first
    except ValueError as exc:
        return TaskFailed("States.Runtime", str(exc))
    if routed is not None:
        return _call_integration(routed, request, context)
    name = handler_name(resource, request.payload)
    function = handlers.get(name)
    if function is None:
        integration = services.find(resource)
        if integration is None:
            return _no_handler(request, resource, name, context)
        return _call_integration(integration, request, context)
    is_invoke = _is_lambda_invoke(resource)
    argument = lambda_event(request.payload) if is_invoke else request.payload
    started = time.perf_counter()
    try:
        result = function(copy_json(argument), context)
    except Exception as exc:
        if on_handler_error is not None:
            on_handler_error(exc)
        return handler_failure(exc, resource)
    took = time.perf_counter() - started
    try:
        result = copy_json(result)
    except (TypeError, ValueError) as exc:
        return TaskFailed(
            INVALID_RESULT, f"The handler '{name}' returned {type(result).__name__}, which is not JSON ({exc})"
        )
    if is_invoke:
        request_id = str(uuid.uuid4())
        tail = _log_tail(request_id, took) if _wants_log_tail(request.payload) else None
        result = lambda_invoke_result(result, request_id, now(), log_result=tail)
    if resource.pattern == "callback" and not callback_answers:
        return TaskSubmitted(result)
    return TaskSucceeded(result)


def _call_integration(integration: services.Integration, request: TaskRequest, context: TaskContext) -> Delivery:
    try:
        result = copy_json(integration.call(request, context))
    except services.IntegrationError as exc:
        return TaskFailed(exc.error, exc.cause)
    except ValueError as exc:  # a service answered NaN or Infinity (an HTTP endpoint, say)
        return TaskFailed("States.Runtime", f"The service's response is not JSON ({exc})")
    # A service called with a task token does not answer for it: the task waits for the token.
    return TaskSubmitted(result) if request.pattern == "callback" else TaskSucceeded(result)


def _is_lambda_invoke(resource: Resource) -> bool:
    return resource.service == "lambda" and resource.action == "invoke" and resource.kind == "service"


def _is_lambda(resource: Resource) -> bool:
    return resource.kind == "lambda" or _is_lambda_invoke(resource)


def lambda_event(parameters: Any) -> Any:
    """The event a function gets from ``lambda:invoke``'s Parameters: its ``Payload``, as Lambda reads it.

    Lambda takes the payload as the request's body: text is the JSON it encodes (``"0.0"`` is the
    number 0.0, ``"[]"`` an empty list), and no payload at all is ``{}``. Text that is not JSON is
    handed over as it is.
    """
    if not isinstance(parameters, dict):
        return parameters
    payload = parameters.get("Payload")
    if payload is None:
        return {}
    if isinstance(payload, str):
        try:
            return json.loads(payload)
        except json.JSONDecodeError:
            return payload
    return payload


def _wants_log_tail(parameters: Any) -> bool:
    return isinstance(parameters, dict) and parameters.get("LogType") == "Tail"


def _log_tail(request_id: str, seconds: float) -> str:
    """``LogResult``: the end of the invocation's log, base64-encoded (its START, END and REPORT lines)."""
    millis = seconds * 1000
    text = (
        f"START RequestId: {request_id} Version: $LATEST\n"
        f"END RequestId: {request_id}\n"
        f"REPORT RequestId: {request_id}\tDuration: {millis:.2f} ms\tBilled Duration: {max(1, math.ceil(millis))} ms\n"
    )
    return base64.b64encode(text.encode()).decode()


def _no_handler(request: TaskRequest, resource: Resource, name: str, context: TaskContext) -> TaskFailed:
    if _is_lambda(resource):
        arn = missing_function_arn(resource, request.payload, context.execution_arn)
        # AWS's Cause says nothing of handlers; the log says what to do about it.
        log.warning("no handler named %r is registered: %s fails as Lambda reports a missing function", name, arn)
        return TaskFailed(
            "Lambda.ResourceNotFoundException",
            f"Function not found: {arn} (Service: AWSLambda; Status Code: 404; "
            f"Error Code: ResourceNotFoundException; Request ID: {uuid.uuid4()}; Proxy: null)",
        )
    return TaskFailed(
        "States.TaskFailed",
        f"No handler is registered for the resource '{request.resource}' (register one with @handler({name!r}))",
    )


def missing_function_arn(resource: Resource, parameters: Any, execution_arn: str) -> str:
    """The qualified ARN Lambda names in its "Function not found" message.

    The function reference (a name, a partial or a full ARN, with or without a qualifier) is
    completed with the execution's partition, region and account, and ``$LATEST`` when it has no
    qualifier.
    """
    reference = resource.arn
    if resource.kind != "lambda" and isinstance(parameters, dict):
        reference = str(parameters.get("FunctionName", ""))
    partition, region, account = _home_of(execution_arn)
    parts = reference.split(":")
    if parts[0] == "arn" and len(parts) >= 7:
        partition, region, account = parts[1] or partition, parts[3] or region, parts[4] or account
        rest = parts[6:]
    elif "function" in parts:
        index = parts.index("function")
        account = parts[index - 1] if index > 0 and parts[index - 1] else account
        rest = parts[index + 1 :]
    else:
        rest = parts
    qualifier = rest[1] if len(rest) > 1 and rest[1] else "$LATEST"
    return f"arn:{partition}:lambda:{region}:{account}:function:{rest[0]}:{qualifier}"


def _home_of(execution_arn: str) -> tuple[str, str, str]:
    """The partition, region and account of an execution ARN (the defaults if it names none)."""
    parts = execution_arn.split(":")
    if len(parts) > 4 and parts[0] == "arn":
        return parts[1] or "aws", parts[3] or DEFAULT_REGION, parts[4] or DEFAULT_ACCOUNT
    return "aws", DEFAULT_REGION, DEFAULT_ACCOUNT


def copy_json(value: Any) -> Any:
    """A deep copy through JSON: what crosses to or from a handler is plain JSON, never shared.

    Raises ValueError for NaN and Infinity, which are not JSON (AWS refuses them, PostgreSQL cannot
    store them), and TypeError for what is not JSON at all.
    """
    return json.loads(json.dumps(value, allow_nan=False))


def handler_failure(exc: Exception, resource: Resource) -> TaskFailed:
    """TaskFailed for a handler's exception: its ``error`` attribute or class name, and its message.

    For a Lambda function the cause is Lambda's error document; ``lambda:invoke`` gives it as
    compact JSON, a Lambda function ARN as Resource with json.dumps's spaces (as AWS does).
    """
    error = getattr(exc, "error", None)
    error = error if isinstance(error, str) and error else type(exc).__name__
    message = str(exc)
    if not _is_lambda(resource):
        return TaskFailed(error, message)
    stack = traceback.format_tb(_function_frames(exc.__traceback__))
    cause = lambda_error_cause(error, message, str(uuid.uuid4()), stack, compact=_is_lambda_invoke(resource))
    return TaskFailed(error, cause)


def _function_frames(frames: TracebackType | None) -> TracebackType | None:
    """The traceback from the function's own frame on: Lambda's stackTrace does not show its caller."""
    while frames is not None and frames.tb_frame.f_globals.get("__name__") == __name__:
        frames = frames.tb_next
    return frames


def lambda_invoke_result(
    function_output: Any, request_id: str, now: dt.datetime, *, log_result: str | None = None
) -> dict[str, Any]:
    """What ``arn:aws:states:::lambda:invoke`` returns: Lambda's Invoke response around the payload.

    ``Content-Length`` is the length of the payload as a Python function's runtime writes it
    (json.dumps), ``Date`` is ``now``; ``log_result`` is the base64 log tail of ``LogType: Tail``.
    """
    headers = {
        "X-Amz-Executed-Version": "$LATEST",
        "x-amzn-Remapped-Content-Length": "0",
        "Connection": "keep-alive",
        "x-amzn-RequestId": request_id,
        "Content-Length": str(len(json.dumps(function_output).encode())),
        "Date": http_date(now),
        "X-Amzn-Trace-Id": _trace_id(now),
        "Content-Type": "application/json",
    }
    if log_result is not None:
        headers = {"X-Amz-Log-Result": log_result, **headers}
    result: dict[str, Any] = {"ExecutedVersion": "$LATEST"}
    if log_result is not None:
        result["LogResult"] = log_result
    return {
        **result,
        "Payload": function_output,
        "SdkHttpMetadata": {
            # AllHttpHeaders in the order Lambda sends them, each a list; HttpHeaders by name, plain
            "AllHttpHeaders": {key: [value] for key, value in headers.items()},
            "HttpHeaders": dict(sorted(headers.items(), key=lambda item: item[0].lower())),
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }


def http_date(moment: dt.datetime) -> str:
    """``moment`` as an HTTP Date header writes it: ``Tue, 03 Dec 2024 10:00:00 GMT``."""
    return format_datetime(moment.astimezone(dt.UTC), usegmt=True)


def _trace_id(now: dt.datetime) -> str:
    """An X-Ray trace header, as Lambda returns it: the epoch seconds in hex and 96 random bits."""
    return f"Root=1-{int(now.timestamp()):08x}-{secrets.token_hex(12)};Sampled=0"


def lambda_error_cause(
    error_type: str, message: str, request_id: str, stack: list[str], *, compact: bool = False
) -> str:
    """The ``Cause`` Lambda reports for an unhandled exception: a JSON document as text."""
    document = {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack}
    return json.dumps(document, separators=(",", ":")) if compact else json.dumps(document)
