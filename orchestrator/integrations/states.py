"""The Step Functions integration's shapes: what a Task calling ``states:startExecution`` receives.

Both drivers start the child their own way (the runtime in the database, `run_local` in memory);
this module says what the Task sees: StartExecution's response, DescribeExecution's answer when a
``.sync`` task's child ends (Input and Output as compact JSON text for ``.sync``, as JSON for ``.sync:2``),
and the errors Step Functions reports for its own API.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

from orchestrator.engine.outcomes import Delivery, TaskFailed, TaskSucceeded
from orchestrator.integrations.invoke import http_date


def child_input(value: Any) -> Any:
    """``Input`` as the child sees it: an object as is, JSON text parsed, nothing as ``{}``."""
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def refused(code: str, message: str) -> TaskFailed:
    """How Step Functions reports a failed call of its own API from a Task."""
    return TaskFailed(
        f"StepFunctions.{code}Exception",
        f"{message} (Service: AWSStepFunctions; Status Code: 400; "
        f"Error Code: {code}; Request ID: {uuid.uuid4()}; Proxy: null)",
    )


def millis(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def start_response(arn: str, now: dt.datetime) -> dict[str, Any]:
    """What a Task gets from ``states:startExecution``: StartExecution's response and its HTTP metadata."""
    request_id = str(uuid.uuid4())
    headers = {
        "x-amzn-RequestId": request_id,
        "connection": "keep-alive",
        "Content-Length": str(len(_start_body(arn, now).encode())),
        "Date": http_date(now),
        "Content-Type": "application/x-amz-json-1.0",
    }
    return {
        "ExecutionArn": arn,
        "SdkHttpMetadata": {
            # AllHttpHeaders in the order Step Functions sends them, each a list; HttpHeaders by name, plain
            "AllHttpHeaders": {key: [value] for key, value in headers.items()},
            "HttpHeaders": dict(sorted(headers.items(), key=lambda item: item[0].lower())),
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StartDate": millis(now),
    }


def _start_body(arn: str, now: dt.datetime) -> str:
    """StartExecution's response body as Step Functions writes it: what its Content-Length counts."""
    return f'{{"executionArn":{json.dumps(arn)},"startDate":{_epoch_seconds(millis(now))}}}'


def _epoch_seconds(milliseconds: int) -> str:
    """A time in epoch seconds as AWS's JSON protocol writes it (Java's double): ``1.701867033598E9``."""
    _, digits, exponent = Decimal(milliseconds).scaleb(-3).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    return f"{text[0]}.{text[1:] or '0'}E{len(digits) + exponent - 1}"


def child_ended(
    *,
    arn: str,
    name: str,
    machine_arn: str | None,
    execution_input: Any,
    status: str,
    output: Any,
    error: str | None,
    cause: str | None,
    start: dt.datetime,
    stop: dt.datetime,
    parsed: bool,
) -> Delivery:
    """What a ``.sync`` (``parsed=False``) or ``.sync:2`` Task learns when its child ends."""
    described: dict[str, Any] = {
        "ExecutionArn": arn,
        "Input": execution_input if parsed else compact_json(execution_input),
        "InputDetails": {"Included": True},
        "Name": name,
        "StartDate": millis(start),
        "StateMachineArn": machine_arn,
        "Status": status,
        "StopDate": millis(stop),
    }
    if status == "SUCCEEDED":
        described["Output"] = output if parsed else compact_json(output)
        described["OutputDetails"] = {"Included": True}
        return TaskSucceeded(described)
    failure: dict[str, Any] = {"Error": "States.Timeout" if status == "TIMED_OUT" else error or "States.TaskFailed"}
    if cause is not None:
        failure["Cause"] = cause
    return TaskFailed("States.TaskFailed", compact_json({**failure, **described}))


def compact_json(value: Any) -> str:
    """JSON text as Step Functions writes it, with no spaces: ``{"Payload":null}``."""
    return json.dumps(value, separators=(",", ":"))
