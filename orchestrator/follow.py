"""Following an execution as it runs: what ``orchestrator run`` prints while it waits.

`follow` polls the history through the service and hands each new event to a printer, which shows
states as they are entered and left, errors as they happen, and, when the execution waits on a
task token, the token and the command that answers it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

from orchestrator.service import Service

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


class Printer:
    """Turns history events into one line each, for a person."""

    def __init__(self, out: TextIO, *, tokens: Callable[[], list[dict[str, Any]]]) -> None:
        self.out = out
        self.tokens = tokens
        self.announced: set[str] = set()

    def event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            details = event["stateEnteredEventDetails"]
            self._line(f"-> {details['name']} ({kind[: -len('StateEntered')]})")
        elif kind.endswith("StateExited"):
            self._line(f"<- {event['stateExitedEventDetails']['name']}")
        elif kind.endswith("Failed") and kind not in ("ExecutionFailed",):
            details = next((v for k, v in event.items() if k.endswith("EventDetails")), {}) or {}
            if details.get("error"):
                self._line(f"   ! {kind}: {details.get('error')}: {_short(details.get('cause'))}")
        elif kind == "MapIterationStarted":
            self._line(f"   Map iteration {event['mapIterationStartedEventDetails']['index']}")

    def waiting(self, execution_arn: str) -> None:
        for token in self.tokens():
            if token["executionArn"] != execution_arn or token["token"] in self.announced:
                continue
            self.announced.add(token["token"])
            self._line(f"   waiting in '{token['stateName']}' for a task token callback. To answer it, run:")
            self._line(f"     orchestrator send-task-success {token['token']} --output '{{}}'")
            self._line(f"     orchestrator send-task-failure {token['token']} --error Rejected --cause 'why'")

    def _line(self, text: str) -> None:
        print(text, file=self.out, flush=True)


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
