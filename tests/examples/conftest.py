"""What the credit-application tests share: the example's files, and the history AWS would record for it.

A history of this workflow is not one fixed sequence: the Parallel's two branches and the Map's
iterations run side by side, so their events interleave differently from run to run. What is
fixed, and what AWS records, is: the root's own events in order (with ParallelStateStarted ...
ParallelStateSucceeded and MapStateStarted ... MapStateSucceeded around the concurrent parts), and
inside each branch or iteration its own events in order. `split` takes a history apart into those
pieces, following ``previousEventId`` (AWS links each event of a branch or iteration to the one
before it in that same branch or iteration), so each piece can be compared with the sequence
written out below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import TaskContext
from tasks import credit

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "credit-application"
TOPIC = "TaskTokenTopic"
TABLE = "GetCreditBureau"
ASK = "arn:aws:states:::sns:publish.waitForTaskToken"
UNAVAILABLE = {"Name": {"S": "Unreachable Bureau"}, "Available": {"BOOL": False}}


def definition() -> str:
    return (EXAMPLE / "statemachine.asl.json").read_text()


def application(file: str) -> dict[str, Any]:
    """A sample input: ``input-auto-approve.json`` or ``input-needs-approval.json``."""
    return dict(json.loads((EXAMPLE / file).read_text()))


def bureaus() -> dict[str, Any]:
    """The bureaus table as ``bureaus.json`` describes it (key schema and items)."""
    return dict(json.loads((EXAMPLE / "bureaus.json").read_text()))


def bureau_names() -> set[str]:
    return {item["Name"]["S"] for item in bureaus()["Items"]}


def expected_scores(execution_arn: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the Map outputs for these bureau items (in their order), computed by the handler itself."""
    context = TaskContext(execution_arn, "Get all scores", "arn:aws:states:::lambda:invoke", 0)
    return [credit.credit_score(item, context) for item in items]


# -- the history, taken apart -------------------------------------------------------------------------


def label(event: dict[str, Any]) -> str:
    """An event as the expected sequences below write it: its type, and what tells it apart."""
    kind = event["type"]
    details = next((v for k, v in event.items() if k.endswith("EventDetails")), None) or {}
    if kind.endswith(("StateEntered", "StateExited")):
        return f"{kind} {details['name']}"
    if kind.startswith("Task") and "resourceType" in details:
        return f"{kind} {details['resourceType']}:{details['resource']}"
    if kind.startswith("MapIteration"):
        return f"{kind} {details['index']}"
    if kind == "MapStateStarted":
        return f"{kind} length={details.get('length')}"
    return kind


@dataclass
class Pieces:
    """A history as the root's events, each Parallel branch's (by its first state) and each Map iteration's."""

    root: list[str] = field(default_factory=list)
    branches: dict[str, list[str]] = field(default_factory=dict)
    iterations: dict[int, list[str]] = field(default_factory=dict)
    # the ids of each piece's events, to check they fall inside their container's Started..Succeeded
    ids: dict[str | int, list[int]] = field(default_factory=dict)


CONTAINER_EVENTS = ("Execution", "ParallelState", "MapState")


def split(events: list[dict[str, Any]]) -> Pieces:
    """Take a history of this workflow apart (see the module's docstring)."""
    pieces = Pieces()
    by_id = {e["id"]: e for e in events}
    owner: dict[int, str | int | None] = {}  # event id -> branch name, iteration index, or None (the root)
    for event in events:
        kind = event["type"]
        previous = by_id.get(event["previousEventId"])
        if kind.startswith(CONTAINER_EVENTS):
            key: str | int | None = None
        elif kind.startswith("MapIteration"):
            key = int(event[_details(event)]["index"])
        elif previous is not None and previous["type"] == "ParallelStateStarted":
            key = event["stateEnteredEventDetails"]["name"]  # the first state of a branch
        else:
            key = owner.get(event["previousEventId"])
        owner[event["id"]] = key
        if key is None:
            pieces.root.append(label(event))
        elif isinstance(key, int):
            pieces.iterations.setdefault(key, []).append(label(event))
        else:
            pieces.branches.setdefault(key, []).append(label(event))
        if key is not None:
            pieces.ids.setdefault(key, []).append(event["id"])
    return pieces


def _details(event: dict[str, Any]) -> str:
    return next(k for k in event if k.endswith("EventDetails"))


def assert_inside(events: list[dict[str, Any]], pieces: Pieces) -> None:
    """Every branch's events come between ParallelStateStarted and ParallelStateSucceeded, every
    iteration's between MapStateStarted and MapStateSucceeded."""
    first = {e["type"]: e["id"] for e in reversed(events)}
    parallel = (first["ParallelStateStarted"], first["ParallelStateSucceeded"])
    mapped = (first["MapStateStarted"], first["MapStateSucceeded"])
    for key, ids in pieces.ids.items():
        low, high = mapped if isinstance(key, int) else parallel
        assert all(low < i < high for i in ids), (key, ids, low, high)


# -- what AWS records for this workflow, written out ------------------------------------------------------

GET_CREDIT_LIMIT = [
    "ExecutionStarted",
    "TaskStateEntered Get credit limit",
    "TaskScheduled lambda:invoke",
    "TaskStarted lambda:invoke",
    "TaskSucceeded lambda:invoke",
    "TaskStateExited Get credit limit",
    "ChoiceStateEntered Credit applied >= 5000?",
    "ChoiceStateExited Credit applied >= 5000?",
]
AUTO_APPROVE = [
    "PassStateEntered Auto-approve limit",
    "PassStateExited Auto-approve limit",
]
# A callback task: TaskSubmitted records SNS's answer to the publish; TaskSucceeded, SendTaskSuccess's output.
HUMAN_APPROVAL = [
    "TaskStateEntered Wait for human approval",
    "TaskScheduled sns:publish.waitForTaskToken",
    "TaskStarted sns:publish.waitForTaskToken",
    "TaskSubmitted sns:publish.waitForTaskToken",
    "TaskSucceeded sns:publish.waitForTaskToken",
    "TaskStateExited Wait for human approval",
    "PassStateEntered Credit limit approved",
    "PassStateExited Credit limit approved",
]
VERIFY_BUREAUS_AND_SCORES = [
    "ParallelStateEntered Verify applicant's identity and address",
    "ParallelStateStarted",
    # ... the two branches ...
    "ParallelStateSucceeded",
    "ParallelStateExited Verify applicant's identity and address",
    "TaskStateEntered Get list of credit bureaus",
    "TaskScheduled aws-sdk:dynamodb:scan",
    "TaskStarted aws-sdk:dynamodb:scan",
    "TaskSucceeded aws-sdk:dynamodb:scan",
    "TaskStateExited Get list of credit bureaus",
    "MapStateEntered Get scores from all credit bureaus",
    "MapStateStarted length={bureaus}",
    # ... one iteration per bureau ...
    "MapStateSucceeded",
    "MapStateExited Get scores from all credit bureaus",
    "ExecutionSucceeded",
]


def root_sequence(*, approved_by_a_person: bool, bureaus: int = 3) -> list[str]:
    middle = HUMAN_APPROVAL if approved_by_a_person else AUTO_APPROVE
    tail = [e.format(bureaus=bureaus) for e in VERIFY_BUREAUS_AND_SCORES]
    return [*GET_CREDIT_LIMIT, *middle, *tail]


BRANCHES = {
    "Verify identity": [
        "TaskStateEntered Verify identity",
        "TaskScheduled lambda:invoke",
        "TaskStarted lambda:invoke",
        "TaskSucceeded lambda:invoke",
        "TaskStateExited Verify identity",
    ],
    "Verify address": [
        "TaskStateEntered Verify address",
        "TaskScheduled lambda:invoke",
        "TaskStarted lambda:invoke",
        "TaskSucceeded lambda:invoke",
        "TaskStateExited Verify address",
    ],
}


def iteration(index: int) -> list[str]:
    """A bureau that answers at once."""
    return [
        f"MapIterationStarted {index}",
        "TaskStateEntered Get all scores",
        "TaskScheduled lambda:invoke",
        "TaskStarted lambda:invoke",
        "TaskSucceeded lambda:invoke",
        "TaskStateExited Get all scores",
        f"MapIterationSucceeded {index}",
    ]


def unavailable_iteration(index: int) -> list[str]:
    """A bureau that never answers: the first attempt and two retries (Retry on Bureau.Unavailable,
    MaxAttempts 2) inside the one TaskStateEntered/Exited, then the Catch's "Score unavailable"."""
    attempt = ["TaskScheduled lambda:invoke", "TaskStarted lambda:invoke", "TaskFailed lambda:invoke"]
    return [
        f"MapIterationStarted {index}",
        "TaskStateEntered Get all scores",
        *attempt,
        *attempt,
        *attempt,
        "TaskStateExited Get all scores",
        "PassStateEntered Score unavailable",
        "PassStateExited Score unavailable",
        f"MapIterationSucceeded {index}",
    ]


def state_output(events: list[dict[str, Any]], state: str) -> Any:
    """The output a state exited with (the first time it exited)."""
    exited = next(
        e for e in events if e["type"].endswith("StateExited") and e["stateExitedEventDetails"]["name"] == state
    )
    return json.loads(exited["stateExitedEventDetails"]["output"])
