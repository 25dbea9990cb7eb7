"""EventBridge: ``arn:aws:states:::events:putEvents`` (and ``.waitForTaskToken``), delivered to the
subscribers of the engine's own status-change events (docs/events.md).

The request is PutEvents' (``Entries``: 1 to 10 of ``Detail``, ``DetailType``, ``Source``,
``EventBusName``, ``Resources``, ``Time``); a ``Detail`` that is a JSON object rather than its text
is sent as its JSON text, as Step Functions does. As Step Functions' optimized integration does, the
execution's ARN and its state machine's ARN are appended to each entry's ``Resources``, and a
response with a ``FailedEntryCount`` above 0 fails the Task with ``EventBridge.FailedEntry`` (the
response as its cause). The result is PutEvents' response: ``Entries`` (an ``EventId`` each) and
``FailedEntryCount``.

Each accepted entry becomes an event in EventBridge's shape (``version``, ``id``, ``detail-type``,
``source``, ``account``, ``time``, ``region``, ``resources``, ``detail``), handed to the runtime,
which delivers it at least once to the webhooks of ORCHESTRATOR_EVENTS_FILE and the
``@subscriber`` functions whose filters let it through (the runtime lends this module its way of
doing so, `EventBus`). Without the runtime (`run_local`), the events are checked and answered for,
and delivered to nobody.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from orchestrator import config
from orchestrator.engine.outcomes import TaskContext, TaskRequest
from orchestrator.engine.resources import Resource
from orchestrator.integrations import services
from orchestrator.integrations.services import IntegrationError

MAX_ENTRIES = 10
MAX_REQUEST_BYTES = 256 * 1024


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why PutEvents refused one entry (its ``ErrorCode`` and ``ErrorMessage``)."""

    code: str
    message: str


def _validation(message: str) -> IntegrationError:
    # A request EventBridge refuses as a whole (not entry by entry).
    cause = (
        f"{message} (Service: AmazonEventBridge; Status Code: 400; Error Code: ValidationException; "
        f"Request ID: {uuid.uuid4()}; Proxy: null)"
    )
    return IntegrationError("EventBridge.AmazonEventBridgeException", cause)


def entries_of(parameters: Any) -> list[Any]:
    """The request's Entries, checked as a whole (1 to 10 of them)."""
    entries = parameters.get("Entries") if isinstance(parameters, dict) else None
    if not isinstance(entries, list) or not entries:
        raise _validation(
            "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null"
        )
    if len(entries) > MAX_ENTRIES:
        raise _validation(
            f"1 validation error detected: Value '{len(entries)}' at 'entries' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_ENTRIES}"
        )
    return entries


def detail_text(detail: Any) -> str | None:
    """An entry's Detail as the text sent: text as it is, a JSON object as its text."""
    if detail is None or isinstance(detail, str):
        return detail
    return json.dumps(detail, separators=(",", ":"), ensure_ascii=False)


def check_entry(entry: Any) -> Refusal | None:
    """Why EventBridge would refuse this entry, or None: Source, DetailType and Detail are required,
    and Detail must be the text of a JSON object."""
    if not isinstance(entry, dict):
        return Refusal("InvalidArgument", "Entry is not an object.")
    for name in ("Source", "DetailType", "Detail"):
        if entry.get(name) in (None, ""):
            return Refusal("InvalidArgument", f"Parameter {name} is not valid. Reason: {name} is a required argument.")
    try:
        detail = json.loads(detail_text(entry["Detail"]) or "")
    except ValueError:
        return Refusal("MalformedDetail", "Detail is malformed.")
    if not isinstance(detail, dict):
        return Refusal("MalformedDetail", "Detail is malformed.")
    return None


def build_event(
    entry: dict[str, Any], settings: config.Settings, context: TaskContext, now: dt.datetime
) -> dict[str, Any]:
    """The event EventBridge makes of an accepted entry, with the execution's and its state machine's ARNs appended
    to its resources."""
    resources = [str(r) for r in entry.get("Resources") or []]
    if context.execution_arn:
        resources += [context.execution_arn, state_machine_arn(context.execution_arn)]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": settings.account,
        "time": _time(entry.get("Time"), now),
        "region": settings.region,
        "resources": resources,
        "detail": json.loads(detail_text(entry["Detail"]) or "{}"),
    }


def state_machine_arn(execution_arn: str) -> str:
    """``arn:...:execution:<machine>:<name>`` (or ``:express:``) -> ``arn:...:stateMachine:<machine>``."""
    parts = execution_arn.split(":")
    return ":".join([*parts[:5], "stateMachine", parts[6]]) if len(parts) >= 8 else execution_arn


def _time(value: Any, now: dt.datetime) -> str:
    moment = now
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = now
    elif isinstance(value, int | float) and not isinstance(value, bool):
        moment = dt.datetime.fromtimestamp(value, dt.UTC)
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventBus(Protocol):
    """How the runtime delivers put events (it sits above this layer and lends it with `deliver_through`)."""

    def put(self, events: list[dict[str, Any]], execution_arn: str) -> None: ...


class PutEvents:
    """``arn:aws:states:::events:putEvents[.waitForTaskToken]``."""

    name = "events"

    def __init__(self) -> None:
        self.bus: Callable[[], EventBus | None] = lambda: None

    def deliver_through(self, bus: Callable[[], EventBus | None]) -> None:
        """``bus()``: the runtime's event bus when the Task runs in one of its workers, else None."""
        self.bus = bus

    def handles(self, resource: Resource) -> bool:
        return resource.service == "events" and resource.action == "putEvents"

    def call(self, request: TaskRequest, context: TaskContext) -> Any:
        settings, now = config.load(), utcnow()
        answers: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for entry in entries_of(request.payload):
            refusal = check_entry(entry)
            if refusal is not None:
                answers.append({"ErrorCode": refusal.code, "ErrorMessage": refusal.message})
                continue
            event = build_event(entry, settings, context, now)
            events.append(event)
            answers.append({"EventId": event["id"]})
        failed = sum(1 for answer in answers if "ErrorCode" in answer)
        response = {"Entries": answers, "FailedEntryCount": failed}
        bus = self.bus()
        if events and bus is not None:
            bus.put(events, context.execution_arn)
        if failed:
            raise IntegrationError("EventBridge.FailedEntry", json.dumps(response, separators=(",", ":")))
        return response


INTEGRATION = PutEvents()
services.register(INTEGRATION)
