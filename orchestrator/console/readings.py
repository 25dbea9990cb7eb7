"""What the execution page learns from reading a whole history, kept per (execution, last event).

Reading 25,000 events in Python (`progress`) takes a few hundred milliseconds; the page, its
live fragments, its step panel and its other pages of steps and events all ask the same questions
of the same history. A history only grows (a redrive appends to it, and every new event moves the
execution's ``last_event_id``), so a reading keyed by the execution and its last event id stays
true for ever: each server process keeps the latest few and reads a history again only when it
has moved.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from orchestrator.console import progress

#: Readings kept per server process. One of a 25,000-event history holds its 5,000-odd steps with
#: their inputs and outputs: 18 MB (measured with tracemalloc; most histories are far smaller).
KEPT = 8


@dataclass(frozen=True)
class Reading:
    """One history read whole: the steps, the failure, each Map's iterations, the events by type."""

    steps: tuple[progress.Step, ...]
    failure: progress.Failure | None
    iterations: Mapping[str, tuple[progress.Iteration, ...]]  # by Map state name
    type_counts: Mapping[str, int]  # events by type

    @property
    def event_count(self) -> int:
        return sum(self.type_counts.values())

    def statuses(self, lane_prefix: str | None) -> dict[str, str]:
        """`progress.state_statuses` of the history, from the steps read once."""
        return progress.statuses_of(self.steps, lane_prefix)


def read(events: Sequence[Mapping[str, Any]]) -> Reading:
    """Everything the page shows that needs the whole history, in one reading of it."""
    return Reading(
        steps=tuple(progress.steps(events)),
        failure=progress.failure(events),
        iterations={name: tuple(its) for name, its in progress.iterations_by_map(events).items()},
        type_counts=dict(Counter(str(e.get("type", "")) for e in events)),
    )


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a history is parsed and read.

    Those make hundreds of thousands of objects that live on, and each allocation threshold
    crossed made the collector walk them (and every reading kept) again: reading 25,000 events
    took two to three times as long with it on (measured: 0.44 s off against 0.7-1.8 s on). The
    collector is process-wide; it is turned back on only if it was on, so nesting or another
    thread's pause leaves it as it was meant to be at the end.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class Readings:
    """The latest readings, by (execution ARN, last event id); safe to share between threads.

    A history is read once however many requests ask for it at the same time: a live page's two
    fragments are fetched together after every change of a running execution.
    """

    def __init__(self, kept: int = KEPT) -> None:
        self.kept = kept
        self._readings: OrderedDict[tuple[str, int], Reading] = OrderedDict()
        self._reading_now: dict[tuple[str, int], Future[Reading]] = {}
        self._lock = threading.Lock()

    def get(self, arn: str, last_event_id: int, events: Callable[[], Sequence[Mapping[str, Any]]]) -> Reading:
        """The reading of the execution ``arn`` at ``last_event_id``; ``events()`` reads its history
        (up to that event) when no reading of it is kept or under way."""
        key = (arn, last_event_id)
        with self._lock:
            found = self._readings.get(key)
            if found is not None:
                self._readings.move_to_end(key)
                return found
            underway = self._reading_now.get(key)
            if underway is None:
                mine = self._reading_now[key] = Future()
        if underway is not None:
            return underway.result()  # another request is reading this very history: wait for it
        try:
            with collector_paused():
                reading = read(events())
        except BaseException as exc:
            mine.set_exception(exc)  # whoever waits gets the same error
            raise
        finally:
            with self._lock:
                del self._reading_now[key]
        with self._lock:
            self._readings[key] = reading
            self._readings.move_to_end(key)
            while len(self._readings) > self.kept:
                self._readings.popitem(last=False)
        mine.set_result(reading)
        return reading
