"""Where each event of an execution's history happens: in which Map iteration and Parallel branch.

A history is one list for the whole execution; branches and iterations interleave in it. Each event
names the event before it in its own thread (``previousEventId``), so following that link tells
which iteration or branch it belongs to: a ``MapIterationStarted`` opens an iteration (its index is
in the event), the first state entered after a ``ParallelStateStarted`` opens a branch (its number
is the branch whose StartAt that state is: state names are unique in a whole state machine), and
the Map's or Parallel's own end closes them. `Trail` keeps those labels, event by event.
"""

from __future__ import annotations

from typing import Any

from orchestrator.asl.model import ParallelState, State, StateMachine

Labels = tuple[str, ...]

_ITERATION_ENDS = ("MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted")
_PARALLEL_ENDS = ("ParallelStateSucceeded", "ParallelStateFailed", "ParallelStateAborted", "ParallelStateExited")


def states_by_name(machine: StateMachine | None) -> dict[str, State]:
    """Every state of the machine, nested ones included (their names are unique machine-wide)."""
    if machine is None:
        return {}
    found = dict(machine.root.states)
    for scope in machine.scopes.values():
        found.update(scope.states)
    return found


class Trail:
    """Labels events, in the order of their ids, with the iterations and branches they run in."""

    def __init__(self, states: dict[str, State]) -> None:
        self.states = states
        self._after: dict[int, Labels] = {0: ()}  # what the events following an event inherit
        self._entered: dict[int, str] = {}  # a StateEntered event's state name
        self._parallel_started: dict[int, str] = {}  # a ParallelStateStarted event's Parallel

    def place(self, event: dict[str, Any]) -> Labels:
        """The labels of ``event`` (outermost first), e.g. ``("Map Each #3", "Parallel Both branch 2")``."""
        kind, previous = event["type"], event.get("previousEventId", 0)
        labels = self._after.get(previous, ())
        after = None
        if kind == "MapIterationStarted":
            details = event["mapIterationStartedEventDetails"]
            labels = _cut(labels, f"Map {details['name']} #")  # the previous iteration's start links here
            after = (*labels, f"Map {details['name']} #{details['index']}")
        elif kind in _ITERATION_ENDS:
            details = next(v for k, v in event.items() if k.endswith("EventDetails"))
            after = _cut(labels, f"Map {details['name']} #")
        elif kind in _PARALLEL_ENDS and not self._before_branches(previous):
            exited = event.get("stateExitedEventDetails")
            labels = _cut(labels, f"Parallel {exited['name']} " if exited else "Parallel ")
        elif previous in self._parallel_started and kind.endswith("StateEntered"):
            labels = (*labels, self._branch(self._parallel_started[previous], event))
        if kind.endswith("StateEntered"):
            self._entered[event["id"]] = event["stateEnteredEventDetails"]["name"]
        elif kind == "ParallelStateStarted" and previous in self._entered:
            self._parallel_started[event["id"]] = self._entered[previous]
        self._after[event["id"]] = labels if after is None else after
        return labels

    def _before_branches(self, previous: int) -> bool:
        """Whether a Parallel's end follows its own start (it failed before running any branch)."""
        return previous in self._parallel_started or isinstance(
            self.states.get(self._entered.get(previous, "")), ParallelState
        )

    def _branch(self, parallel: str, entered: dict[str, Any]) -> str:
        state = self.states.get(parallel)
        first = entered["stateEnteredEventDetails"]["name"]
        if isinstance(state, ParallelState):
            for number, branch in enumerate(state.branches, start=1):
                if branch.start_at == first:
                    return f"Parallel {parallel} branch {number}"
        return f"Parallel {parallel}"


def _cut(labels: Labels, prefix: str) -> Labels:
    """``labels`` up to (without) the last one that starts with ``prefix``; unchanged if none does."""
    for i in range(len(labels) - 1, -1, -1):
        if labels[i].startswith(prefix):
            return labels[:i]
    return labels
