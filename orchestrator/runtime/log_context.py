"""What a worker's task is working on, for its log lines: the execution, the state and the attempt.

A task starts with nothing known (`working`); the step notes the execution and state as soon as it
has read them (`note`). The fields then go on the task's log records: on each JSON line
(`current_fields`, a provider of `orchestrator.logs`), and in the words of the line Celery writes
when the task ends (the task returns `describe`, which Celery prints as its result:
``Task orchestrator.invoke[...] succeeded in 0.11s: 'execution arn:...:run-1, state Check, attempt 2'``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

Note = Mapping[str, Any]
_CURRENT: ContextVar[tuple[Note, ...]] = ContextVar("orchestrator_work", default=())
_MOST = 20  # notes kept for one task (follow-on runs a few Tasks in one)


@contextmanager
def working() -> Iterator[None]:
    """One task's scope: what it notes is forgotten when it ends (a worker thread runs many tasks)."""
    token = _CURRENT.set(())
    try:
        yield
    finally:
        _CURRENT.reset(token)


def note(*, execution_arn: str | None, state: str | None = None, attempt: int | None = None) -> None:
    """Record what the current task is working on now (a field left None is not known). A task that
    runs the next Task of its execution itself (follow-on) notes each, in turn."""
    # The latest few only: a caller outside `working` (a test, a script) must not make it grow for ever.
    kept = _CURRENT.get()[-(_MOST - 1) :]
    _CURRENT.set((*kept, {"executionArn": execution_arn, "stateName": state, "attempt": attempt}))


def current_fields() -> dict[str, Any]:
    """The known fields of the latest note, under the names a JSON log line gives them."""
    notes = _CURRENT.get()
    return {key: value for key, value in notes[-1].items() if value is not None} if notes else {}


def extra() -> dict[str, Any]:
    """The fields for a log call's ``extra``."""
    return current_fields()


def describe(*, latest_only: bool = False) -> str | None:
    """``execution <arn>, state <name>, attempt <n>`` as far as known, for each note in turn (``; ``
    between them; the execution named again only when it changes; a note repeated is said once), or
    only for the latest; None if nothing is known."""
    notes = _CURRENT.get()[-1:] if latest_only else _CURRENT.get()
    parts: list[str] = []
    execution = previous = None
    for note_ in notes:
        if note_ == previous:
            continue
        previous = note_
        words = []
        if note_["executionArn"] is not None and note_["executionArn"] != execution:
            execution = note_["executionArn"]
            words.append(f"execution {execution}")
        if note_["stateName"] is not None:
            words.append(f"state {note_['stateName']}")
        if note_["attempt"] is not None:
            words.append(f"attempt {note_['attempt']}")
        if words:
            parts.append(", ".join(words))
    return "; ".join(parts) or None


def attempt_of(cursor: Mapping[str, Any] | None) -> int | None:
    """The attempt (1 for the first try) a run's Task is on, from its cursor; None outside a Task."""
    if not cursor or cursor.get("phase") not in ("task", "retry"):
        return None
    return int(cursor.get("retryCount", 0)) + 1
