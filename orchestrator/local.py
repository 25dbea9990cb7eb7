"""`run_local`: run a state machine in memory, the public way to unit-test one.

It wires the in-memory driver (`engine.local`) to the integrations (handlers and services), so a
Task state calls the handler its resource names. Step Functions itself (``states:startExecution``,
``aws-sdk:sfn:*``) is in memory too: children run to their end inside the parent's Task.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.asl.model import StateMachine
from orchestrator.asl.parse import parse
from orchestrator.engine.local import Clock, ExecutionResult, VirtualClock, execute
from orchestrator.engine.outcomes import Delivery, TaskContext, TaskRequest, TaskSubmitted, TaskSucceeded
from orchestrator.engine.resources import handler_name, parse_resource
from orchestrator.integrations import registry, sfn, states
from orchestrator.integrations.invoke import copy_json, invoke
from orchestrator.integrations.registry import Handler

log = logging.getLogger(__name__)


def run_local(
    definition: str | dict[str, Any] | StateMachine,
    input: Any = None,
    *,
    handlers: Mapping[str, Handler] | None = None,
    state_machine_type: str = "STANDARD",
    clock: Clock | None = None,
    name: str | None = None,
    state_machine_name: str = "local",
    seed: int | None = None,
    state_machines: Mapping[str, str | dict[str, Any]] | None = None,
) -> ExecutionResult:
    """Run one execution of ``definition`` in memory and return how it ended.

    Parameters:
        definition: ASL as JSON text, a dict, or an already parsed `StateMachine`.
        input: the execution input (any JSON value; ``None`` means ``{}``).
        handlers: Task handlers by name, each ``(payload, context) -> result``. The name is the
            function name for Lambda resources (``arn:aws:lambda:...:function:NAME`` or
            ``lambda:invoke`` with ``FunctionName``), and the resource ARN for anything else.
            ``None`` uses the handlers registered with ``@handler``. For a ``.waitForTaskToken``
            task the handler answers for whoever holds the token: its return value is what
            SendTaskSuccess would deliver, and an exception is SendTaskFailure (the history
            records TaskSubmitted first, with ``{}`` for the service's response).
        state_machine_type: ``STANDARD`` or ``EXPRESS``.
        clock: a `VirtualClock` (the default: waits take no time) or `RealClock`. A Task's
            TimeoutSeconds and HeartbeatSeconds run on it too: a handler that takes the clock past
            them (``clock.sleep_until``) times its task out with ``States.Timeout`` (which the
            Task's Retry and Catch also match as ``States.HeartbeatTimeout`` when it was the
            heartbeat), and a task waiting for a token nobody answers times out at its deadline.
        name: the execution's name (a UUID if not given).
        seed: makes States.UUID, $random and similar repeatable.
        state_machines: definitions that ``states:startExecution`` and ``aws-sdk:sfn:startExecution``
            Tasks may start, by state machine ARN or name; such a child runs in memory too (to its end,
            before the parent goes on). ``aws-sdk:sfn`` sees these executions and state machines
            (`orchestrator.integrations.sfn` says how).

    Raises:
        DefinitionError: the definition is not valid ASL.
    """
    machine = definition if isinstance(definition, StateMachine) else parse(definition)
    table = dict(registry.handlers() if handlers is None else handlers)
    clock = clock or VirtualClock()

    def run_child(
        definition: str | dict[str, Any], child_input: Any, name: str, machine_name: str, kind: str
    ) -> ExecutionResult:
        return _execute(parse(definition), execution_input(child_input), name, machine_name, kind, shared)

    shared = _Shared(table, clock, seed, sfn.LocalStepFunctions(state_machines or {}, run_child, clock.now))
    return _execute(
        machine, execution_input(input), name or str(uuid.uuid4()), state_machine_name, state_machine_type, shared
    )


@dataclass(frozen=True)
class _Shared:
    """What an execution shares with the children it runs in memory: handlers, clock, seed, Step Functions."""

    handlers: dict[str, Handler]
    clock: Clock
    seed: int | None
    world: sfn.LocalStepFunctions


def _execute(
    machine: StateMachine,
    execution_input: Any,
    name: str,
    state_machine_name: str,
    state_machine_type: str,
    shared: _Shared,
) -> ExecutionResult:
    table, clock, world = shared.handlers, shared.clock, shared.world

    def work(request: TaskRequest, context: TaskContext) -> Delivery | tuple[Delivery, ...]:
        resource = parse_resource(request.resource)
        if resource.service == "states" and resource.action == "startExecution":
            return _run_child(request, context, resource.pattern, world)
        if sfn.INTEGRATION.handles(resource) and handler_name(resource, request.payload) not in table:
            return world.task(request, context)
        delivery = invoke(request, context, table, callback_answers=True, now=clock.now)
        if resource.pattern == "callback" and handler_name(resource, request.payload) in table:
            # The handler answered for the token's holder; the call that sent the token came first,
            # and AWS records it. Its response is the service's, which a handler does not give: {}.
            return TaskSubmitted({}), delivery
        return delivery

    return execute(
        machine,
        execution_input,
        work,
        clock=clock,
        name=name,
        state_machine_name=state_machine_name,
        state_machine_type=state_machine_type,
        rng=random.Random(shared.seed),
    )


def execution_input(value: Any) -> Any:
    """The input as the execution will see it: plain JSON (``None`` means ``{}``), a private copy.

    Raises ValueError if ``value`` is not JSON (a set, a date, an object of a class...).
    """
    if value is None:
        return {}
    try:
        return copy_json(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The execution input is not JSON: {exc}") from None


def _run_child(
    request: TaskRequest, context: TaskContext, pattern: str, world: sfn.LocalStepFunctions
) -> Delivery | tuple[Delivery, ...]:
    """A ``states:startExecution`` Task in memory: the child runs to its end here.

    While it runs, a ``.waitForTaskToken`` task's token can be answered (aws-sdk:sfn:sendTaskSuccess
    in the child): the answer comes after the response, as the token's answer does on AWS.
    """
    payload = request.payload if isinstance(request.payload, dict) else {}
    machine_arn = str(payload.get("StateMachineArn", ""))
    name = str(payload.get("Name") or uuid.uuid4())
    child_input = states.child_input(payload.get("Input"))
    with world.waiting(context.token if pattern == "callback" else None) as answers:
        child = world.run_child(machine_arn, name, child_input)
    if child is None:
        # AWS's Cause, word for word; what to do about it goes to the log.
        log.warning(
            "run_local knows no state machine %r: give run_local its definition in state_machines=", machine_arn
        )
        return states.refused("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{machine_arn}'")
    result = child.result
    started = result.start_date
    response = states.start_response(result.execution_arn, started)
    if pattern == "request-response":
        return TaskSucceeded(response)
    if pattern not in ("sync", "sync:2"):
        return (TaskSubmitted(response), answers[0]) if answers else TaskSubmitted(response)
    ended = states.child_ended(
        arn=result.execution_arn,
        name=name,
        machine_arn=machine_arn,
        execution_input=child_input,
        status=result.status,
        output=result.output,
        error=result.error,
        cause=result.cause,
        start=started,
        stop=result.stop_date,
        parsed=pattern == "sync:2",
    )
    return TaskSubmitted(response), ended
