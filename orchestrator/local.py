"""`run_local`: run a state machine in memory, the public way to unit-test one.

It wires the in-memory driver (`engine.local`) to the integrations (handlers and services), so a
Task state calls the handler its resource names.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from typing import Any

from orchestrator.asl.model import StateMachine
from orchestrator.asl.parse import parse
from orchestrator.engine.local import Clock, ExecutionResult, VirtualClock, execute
from orchestrator.integrations import registry
from orchestrator.integrations.invoke import copy_json, invoke
from orchestrator.integrations.registry import Handler


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
            SendTaskSuccess would deliver, and an exception is SendTaskFailure.
        state_machine_type: ``STANDARD`` or ``EXPRESS``.
        clock: a `VirtualClock` (the default: waits take no time) or `RealClock`.
        name: the execution's name (a UUID if not given).
        seed: makes States.UUID, $random and similar repeatable.

    Raises:
        DefinitionError: the definition is not valid ASL.
    """
    machine = definition if isinstance(definition, StateMachine) else parse(definition)
    table = dict(registry.handlers() if handlers is None else handlers)
    return execute(
        machine,
        execution_input(input),
        lambda request, context: invoke(request, context, table, callback_answers=True),
        clock=clock or VirtualClock(),
        name=name or str(uuid.uuid4()),
        state_machine_name=state_machine_name,
        state_machine_type=state_machine_type,
        rng=random.Random(seed),
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
