"""Nested executions: a Task state with ``arn:aws:states:::states:startExecution[.sync|.sync:2|.waitForTaskToken]``.

The Task starts the other state machine's execution inside its own transaction (the child is an
execution of its own, with its own ARN and history, linked back by ``caller_id``):

- request-response: the task's result is StartExecution's response;
- ``.sync`` / ``.sync:2``: the task waits; when the child ends, a message brings DescribeExecution's
  answer (Input and Output as JSON text for ``.sync``, as JSON for ``.sync:2``), or fails the task with
  ``States.TaskFailed`` and that answer, with the child's error and cause, as the cause;
- ``.waitForTaskToken``: the task waits for its token, which the child usually sends.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.orm import Session

from orchestrator.asl.errors import DefinitionError
from orchestrator.asl.parse import parse
from orchestrator.config import Settings
from orchestrator.engine.outcomes import Delivery, TaskRequest, TaskSubmitted, TaskSucceeded
from orchestrator.engine.resources import Resource
from orchestrator.integrations import states
from orchestrator.runtime.messages import ADVANCE, Message, encode_delivery
from orchestrator.runtime.starting import insert_execution
from orchestrator.store import runs
from orchestrator.store import state_machines as catalog


def is_nested(resource: Resource) -> bool:
    return resource.service == "states" and resource.action == "startExecution"


def start_child(
    session: Session,
    settings: Settings,
    *,
    caller_id: int,
    caller_seq: int,
    task: TaskRequest,
    resource: Resource,
    now: dt.datetime,
) -> tuple[Delivery, list[Message]]:
    """Start the execution a Task asks for; returns what the Task learns now, and the child's message."""
    payload = task.payload if isinstance(task.payload, dict) else {}
    machine_arn = payload.get("StateMachineArn")
    machine = catalog.by_arn(session, machine_arn) if isinstance(machine_arn, str) else None
    if machine is None:
        return states.refused("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{machine_arn}'"), []
    name = payload.get("Name") or str(uuid.uuid4())
    prefix = machine.arn.replace(":stateMachine:", ":execution:", 1)
    arn = f"{prefix}:{name}"
    if catalog.execution_by_arn(session, arn) is not None:
        return states.refused("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'"), []
    definition = catalog.definition_text(session, machine.definition_hash)
    try:
        parsed = parse(definition)
    except DefinitionError as exc:
        return states.refused("InvalidDefinition", str(exc)), []
    waits = resource.pattern in ("sync", "sync:2")
    _, messages = insert_execution(
        session,
        settings,
        machine=parsed,
        now=now,
        execution={
            "arn": arn,
            "name": name,
            "state_machine_id": machine.id,
            "definition_hash": machine.definition_hash,
            "role_arn": machine.role_arn,
            "input": states.child_input(payload.get("Input")),
            "caller_id": caller_id,
            "caller_seq": caller_seq,
            "caller_pattern": resource.pattern if waits else None,
        },
    )
    response = states.start_response(arn, now)
    first = TaskSucceeded(response) if resource.pattern == "request-response" else TaskSubmitted(response)
    return first, messages


def notify_caller(
    session: Session,
    settings: Settings,
    execution: Any,
    *,
    status: str,
    output: Any,
    error: str | None,
    cause: str | None,
    now: dt.datetime,
) -> list[Message]:
    """When a child started by a ``.sync`` Task ends: the message that answers the waiting Task."""
    m = execution._mapping if hasattr(execution, "_mapping") else execution
    if m["caller_id"] is None or m["caller_pattern"] not in ("sync", "sync:2"):
        return []
    caller = runs.load_run(session, m["caller_id"])
    if caller is None:
        return []
    machine = catalog.by_id(session, m["state_machine_id"])
    delivery = states.child_ended(
        arn=m["arn"],
        name=m["name"],
        machine_arn=machine.arn if machine else None,
        execution_input=m["input"],
        status=status,
        output=output,
        error=error,
        cause=cause,
        start=m["start_date"],
        stop=now,
        parsed=m["caller_pattern"] == "sync:2",
    )
    caller_root = caller._mapping["root_id"] or caller._mapping["id"]
    return [
        Message(
            ADVANCE, [caller_root, m["caller_id"], m["caller_seq"], encode_delivery(delivery)], settings.engine_queue
        )
    ]
