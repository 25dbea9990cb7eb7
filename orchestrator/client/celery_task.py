"""``orchestrator.start_execution``: StartExecution as a Celery task, for services that already use Celery.

A service sends it to the engine's queue (``ORCHESTRATOR_ENGINE_QUEUE``, ``orchestrator`` by
default) with keyword arguments only::

    app.send_task(
        "orchestrator.start_execution",
        kwargs={"state_machine_arn": arn, "input": {"amount": 3500}, "name": "application-42"},
        queue="orchestrator",
    )

- ``state_machine_arn`` (required): a state machine, version or alias ARN;
- ``input``: the execution's input, a JSON value or JSON text (default ``{}``);
- ``name``: the execution's name; by default the Celery task's id, so every message names its
  execution and the same message delivered twice starts one execution;
- ``trace_header``: as StartExecution's ``traceHeader``.

An engine worker runs it through the service layer, exactly as StartExecution: idempotent by name
(a copy of a message whose execution has started, or even ended, does nothing more). A refusal
(``StateMachineDoesNotExist``, ``InvalidExecutionInput``, a name taken by another input...) fails
the task with `StartRefused` (one line in the worker's log, with AWS's error code); a database
that is away is tried again.

The task calls the service, so it sits above the runtime, with the client; the runtime's Celery
app has its workers import this module by name (``include``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from celery import shared_task
from sqlalchemy.exc import OperationalError

from orchestrator.client.answers import json_text
from orchestrator.runtime.app import settings_of
from orchestrator.service import Service, ServiceError

START_EXECUTION = "orchestrator.start_execution"

log = logging.getLogger(__name__)


class StartRefused(Exception):
    """StartExecution refused the task's execution: ``"<AWS error code>: <message>"``.

    (Not `ServiceError` itself: a worker's pool process hands its task's exception to the main
    process pickled, and this one pickles.)"""


@shared_task(
    name=START_EXECUTION,
    bind=True,
    acks_late=True,
    throws=(StartRefused,),  # an expected refusal: logged as one line, no traceback
    autoretry_for=(OperationalError,),
    retry_backoff=1,
    retry_backoff_max=30,
    max_retries=None,
)
def start_execution_task(
    self: Any,
    *,
    state_machine_arn: str,
    input: Any = None,
    name: str | None = None,
    trace_header: str | None = None,
) -> dict[str, str]:
    """Start the execution; returns its ARN and start date (ISO 8601)."""
    service = Service(settings_of(self.app), self.app)
    name = name or self.request.id
    text = "{}" if input is None else json_text(input)
    try:
        started = service.start_execution(state_machine_arn, name=name, input=text, trace_header=trace_header)
    except ServiceError as exc:
        earlier = _started_by_an_earlier_copy(service, state_machine_arn, name, text, exc)
        if earlier is None:
            raise StartRefused(str(exc)) from None
        started = earlier
    log.info("started %s", started["executionArn"])
    return {"executionArn": started["executionArn"], "startDate": started["startDate"].isoformat()}


def _started_by_an_earlier_copy(
    service: Service, machine_arn: str, name: str, text: str, refusal: ServiceError
) -> dict[str, Any] | None:
    """The execution of this name, if the refusal says it exists and it has this input (a copy of this
    message started it, and it has ended since); None otherwise (another input took the name...)."""
    if refusal.code != "ExecutionAlreadyExists":
        return None
    base = machine_arn.split(":stateMachine:", 1)[1].split(":", 1)[0] if ":stateMachine:" in machine_arn else ""
    existing = service.describe_execution(service.execution_arn(base, name))
    if _canonical(existing["input"]) != _canonical(text):
        return None
    return existing


def _canonical(text: str) -> str:
    return json.dumps(json.loads(text), sort_keys=True)
