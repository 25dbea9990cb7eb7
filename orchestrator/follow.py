"""Following an execution as it runs: what ``orchestrator run`` prints while it waits.

`follow` polls the history through the service and hands each new event to a printer, which shows
states as they are entered and left (each line labelled with its Map iteration and Parallel branch,
`trace`), errors as they happen, the retries that follow them and how long Waits last, and, when
the execution waits on a task token, the token and the command that answers it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import time
from collections.abc import Callable
from typing import Any, TextIO

from orchestrator.asl import choice, paths
from orchestrator.asl.errors import DefinitionError
from orchestrator.asl.model import StateMachine, WaitState
from orchestrator.asl.parse import parse
from orchestrator.engine.step import retrier_for, retry_delay
from orchestrator.service import Service
from orchestrator.trace import Labels, Trail, states_by_name

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


class Printer:
    """Turns history events into one line each, for a person.

    Each line starts with the Map iterations and Parallel branches it runs in
    (``[Map Each #3] [Parallel Both branch 2] -> Check (Task)``). Given the definition, it also
    announces a Task's retries with their delay and a Wait's end.
    """

    def __init__(
        self, out: TextIO, *, tokens: Callable[[], list[dict[str, Any]]], definition: str | None = None
    ) -> None:
        self.out: TextIO | None = out
        self.tokens = tokens
        self.announced: set[str] = set()
        self.states = states_by_name(_parsed(definition))
        self.trail = Trail(self.states)
        self.in_state: dict[Labels, str] = {}  # the state each iteration or branch is in
        self.retried: dict[tuple[Labels, str], list[int]] = {}  # retries so far, per retrier

    def event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        labels = self.trail.place(event)
        prefix = "".join(f"[{label}] " for label in labels)
        if kind.endswith("StateEntered"):
            details = event["stateEnteredEventDetails"]
            self.in_state[labels] = details["name"]
            self.retried.pop((labels, details["name"]), None)
            self._line(f"{prefix}-> {details['name']} ({kind[: -len('StateEntered')]})")
            if kind == "WaitStateEntered":
                self._wait(prefix, details, event["timestamp"])
        elif kind.endswith("StateExited"):
            self._line(f"{prefix}<- {event['stateExitedEventDetails']['name']}")
        elif kind == "MapIterationStarted":
            self._line(f"{prefix}   Map iteration {event['mapIterationStartedEventDetails']['index']}")
        elif (kind.endswith("Failed") or kind.endswith("TimedOut")) and not kind.startswith("Execution"):
            details = next((v for k, v in event.items() if k.endswith("EventDetails")), {}) or {}
            if details.get("error"):
                cause = details.get("cause")
                said = f"{details['error']}: {_short(cause)}" if cause else details["error"]  # (a timeout has none)
                self._line(f"{prefix}   ! {kind}: {said}")
                self._retry(prefix, labels, details["error"])

    def _retry(self, prefix: str, labels: Labels, error: str) -> None:
        """Say whether, and when, the state that just failed is tried again (as the engine decides)."""
        name = self.in_state.get(labels)
        state = self.states.get(name or "")
        retriers = getattr(state, "retry", ())
        if not name or not retriers:
            return
        attempts = self.retried.setdefault((labels, name), [0] * len(retriers))
        index = retrier_for(retriers, attempts, error)
        if index is None:
            return
        retrier = retriers[index]
        delay = retry_delay(dataclasses.replace(retrier, jitter_strategy="NONE"), attempts[index], random.Random())
        attempts[index] += 1
        when = f"up to {delay:.1f} s (jittered)" if retrier.jitter_strategy == "FULL" else f"{delay:.1f} s"
        total = retrier.max_attempts + 1
        self._line(f"{prefix}   Retrying {name} in {when} (attempt {attempts[index] + 1} of {total}): {error}")

    def _wait(self, prefix: str, details: dict[str, Any], entered: dt.datetime) -> None:
        entered = entered if entered.tzinfo is not None else entered.replace(tzinfo=dt.UTC)
        until = wait_until(self.states.get(details["name"]), details.get("input"), entered)
        if until is None:
            return
        seconds = max(0.0, (until - entered).total_seconds())
        shown = until.astimezone(dt.UTC)
        same_day = shown.date() == entered.astimezone(dt.UTC).date()
        moment = f"{shown:%H:%M:%S}Z" if same_day else f"{shown:%Y-%m-%d %H:%M:%S}Z"
        self._line(f"{prefix}   Waiting {seconds:g} s, until {moment}")

    def waiting(self, execution_arn: str) -> None:
        for token in self.tokens():
            if token["executionArn"] != execution_arn or token["token"] in self.announced:
                continue
            self.announced.add(token["token"])
            self._line(f"   waiting in '{token['stateName']}' for a task token callback. To answer it, run:")
            self._line(f"     orchestrator send-task-success {token['token']} --output '{{}}'")
            self._line(f"     orchestrator send-task-failure {token['token']} --error Rejected --cause 'why'")

    def _line(self, text: str) -> None:
        if self.out is None:
            return
        try:
            print(text, file=self.out, flush=True)
        except BrokenPipeError:
            # The reader went away (`orchestrator run ... | head`): the execution still runs to its end.
            self.out = None


def wait_until(state: Any, input_text: str | None, entered: dt.datetime) -> dt.datetime | None:
    """When a Wait state entered at ``entered`` ends, from its definition and input; None when that
    cannot be told here (a JSONata expression, a path to nothing)."""
    if not isinstance(state, WaitState):
        return None
    try:
        if isinstance(state.seconds, int):
            return entered + dt.timedelta(seconds=state.seconds)
        if isinstance(state.timestamp, str) and not state.is_jsonata:
            return choice.parse_timestamp(state.timestamp)
        data = paths.read(state.input_path or "$", json.loads(input_text or "null"))
        if state.seconds_path:
            return entered + dt.timedelta(seconds=int(paths.read(state.seconds_path, data)))
        if state.timestamp_path:
            return choice.parse_timestamp(paths.read(state.timestamp_path, data))
    except (ValueError, TypeError, LookupError):
        return None
    return None


def _parsed(definition: str | None) -> StateMachine | None:
    if definition is None:
        return None
    try:
        return parse(definition)
    except DefinitionError:
        return None


def _short(text: Any, limit: int = 200) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def follow(
    service: Service,
    execution_arn: str,
    printer: Printer | None,
    *,
    poll: float = 0.1,
    timeout: float | None = None,
    interrupted: Callable[[], bool] = lambda: False,
) -> dict[str, Any]:
    """Wait for the execution to end, printing its events as they come; returns DescribeExecution.

    Returns early, the execution maybe still running, after ``timeout`` seconds or once ``interrupted``
    says so (after a Ctrl-C, for the caller to decide what to do).
    """
    seen = 0
    started = time.monotonic()
    last_token_check = 0.0
    while True:
        description = service.describe_execution(execution_arn)
        events = service.history_after(execution_arn, seen, limit=1000)
        for event in events:
            seen = event["id"]
            if printer is not None:
                printer.event(event)
        if description["status"] in TERMINAL and len(events) < 1000:
            return description
        if printer is not None and time.monotonic() - last_token_check > 0.5:
            last_token_check = time.monotonic()
            printer.waiting(execution_arn)
        if interrupted() or (timeout is not None and time.monotonic() - started > timeout):
            return description
        if len(events) < 1000:
            time.sleep(poll)
