"""The recorded AWS executions of ../shared/conformance, run through the durable runtime.

The same pure cases `tests/conformance` runs through `run_local`, here run as a user of the service
would: create the state machine, start the execution, let real worker processes (PostgreSQL and
Redis) and the scheduler run it, describe it, and judge the result with the corpus's own judge.
All the cases are started at once and polled together. Cases known to fail here are listed, with
the reason, in known_failures.json next to this file: an unlisted failure fails the build, and so
does a listed case that passes (the list only shrinks).

Differences from AWS's conditions: the StartSyncExecution cases start with StartExecution (an
EXPRESS machine's execution then runs on a worker, as an asynchronous Express execution). Waits and retry
backoffs take their real time, except that an execution whose only pending work is a timer
more than a second away has its timers moved forward (the time-travel hook the timers table
offers tests), so a case never waits for long. A case whose input holds timestamps computed when
it was recorded has them moved forward by the time since its recording (`input_as_of`), which is
what running the workers on a virtual clock at the recording date would do.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from orchestrator.service import ServiceError
from orchestrator.store.db import session_scope
from orchestrator.store.models import Execution, OutboxMessage, Timer
from tests.conformance.corpus import _runner, input_as_of, pure_cases
from tests.runtime.conftest import REDIS_URL, ROLE, TERMINAL, Cluster, close_clusters, new_cluster, report

HERE = Path(__file__).resolve().parent
KNOWN_FAILURES: dict[str, str] = json.loads((HERE / "known_failures.json").read_text())
CASES = pure_cases()
BUDGET_SECONDS = 110.0  # every case ends well within it; one that does not counts as a timeout
TERMINAL_EVENTS = {
    "ExecutionSucceeded": ("SUCCEEDED", "executionSucceededEventDetails"),
    "ExecutionFailed": ("FAILED", "executionFailedEventDetails"),
    "ExecutionTimedOut": ("TIMED_OUT", "executionTimedOutEventDetails"),
    "ExecutionAborted": ("ABORTED", "executionAbortedEventDetails"),
}


@pytest.fixture(scope="module")
def cluster(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    made = new_cluster(database_url, REDIS_URL, tmp_path_factory.mktemp("conformance"))
    yield made
    close_clusters([made])


@pytest.fixture(scope="module")
def results(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """Every case run through the cluster: case id -> what the corpus's boto3 runner would report."""
    for _ in range(2):
        cluster.start_worker(concurrency=2)
    cluster.start_scheduler(tick=0.05)
    began = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        started = dict(zip([c["id"] for c in CASES], pool.map(lambda c: _start(cluster, c), CASES), strict=True))
    arns = {case_id: r["arn"] for case_id, r in started.items() if "arn" in r}
    jumps = _wait_with_time_travel(cluster, list(arns.values()))
    with ThreadPoolExecutor(4) as pool:
        described = dict(zip(arns, pool.map(lambda a: _describe(cluster, a), arns.values()), strict=True))
    elapsed = time.monotonic() - began
    out = {case_id: described.get(case_id, r) for case_id, r in started.items()}
    passed = sum(1 for case in CASES if _judge(case, out[case["id"]])[0] == "pass")
    report(
        f"conformance through the durable runtime: {passed}/{len(CASES)} pass ({100 * passed / len(CASES):.1f}%) "
        f"in {elapsed:.1f}s, 2 workers x 2 processes; {jumps} timer jump(s)"
    )
    return out


def _start(cluster: Cluster, case: dict[str, Any]) -> dict[str, Any]:
    """Create and start one case (a state machine of the case's type, then StartExecution)."""
    service = cluster.service
    try:
        machine = service.create_state_machine(
            name=f"corpus-{uuid.uuid4().hex[:12]}",
            definition=json.dumps(case["definition"]),
            role_arn=ROLE,
            type=case.get("state_machine_type") or "STANDARD",
        )
    except ServiceError as exc:
        return {"phase": "create", "detail": str(exc)}
    try:
        started = service.start_execution(
            machine["stateMachineArn"],
            name=uuid.uuid4().hex,
            input=json.dumps(input_as_of(case, dt.datetime.now(dt.UTC))),
        )
    except ServiceError as exc:
        return {"phase": "start", "detail": str(exc)}
    return {"phase": "started", "arn": started["executionArn"]}


def _wait_with_time_travel(cluster: Cluster, arns: list[str]) -> int:
    """Poll until every execution ends; move a quiet execution's far timers to now. Returns the jumps."""
    deadline = time.monotonic() + BUDGET_SECONDS
    pending = set(arns)
    jumps = 0
    while pending and time.monotonic() < deadline:
        statuses = cluster.statuses(list(pending))
        pending = {arn for arn in pending if statuses.get(arn) not in TERMINAL}
        jumps += _fast_forward_sleepers(cluster, pending)
        time.sleep(0.2)
    return jumps


def _fast_forward_sleepers(cluster: Cluster, pending: set[str]) -> int:
    """For each running execution with nothing queued and only timers more than a second away, move
    all its timers earlier by the wait to its first one (its own virtual clock jumps forward)."""
    if not pending:
        return 0
    jumps = 0
    now = dt.datetime.now(dt.UTC)
    with session_scope(cluster.settings.database_url) as session:
        roots = dict(session.execute(select(Execution.id, Execution.arn).where(Execution.arn.in_(pending))).all())
        if not roots:
            return 0
        tree = func.coalesce(Execution.root_id, Execution.id)
        first = session.execute(
            select(tree, func.min(Timer.fire_at))
            .join(Execution, Execution.id == Timer.run_id)
            .where(tree.in_(list(roots)))
            .group_by(tree)
        ).all()
        busy = _roots_with_messages(session)
        for root_id, fire_at in first:
            jump = fire_at - now
            if root_id in busy or jump < dt.timedelta(seconds=1):
                continue
            runs_of_tree = select(Execution.id).where(tree == root_id)
            session.execute(update(Timer).where(Timer.run_id.in_(runs_of_tree)).values(fire_at=Timer.fire_at - jump))
            jumps += 1
    return jumps


def _roots_with_messages(session: Any) -> set[int]:
    """Executions with a message in the outbox (something queued or running for them)."""
    rows = session.execute(select(OutboxMessage.args)).scalars()
    return {args[0] for args in rows if isinstance(args, list) and args}


def _describe(cluster: Cluster, arn: str) -> dict[str, Any]:
    """What the corpus's runner reads: DescribeExecution, and the terminal history event."""
    description = cluster.service.describe_execution(arn)
    if description["status"] not in TERMINAL:
        cluster.service.stop_execution(arn)
        return {"phase": "timeout", "detail": f"still {description['status']} after {BUDGET_SECONDS}s"}
    result: dict[str, Any] = {
        "phase": "run",
        "status": description["status"],
        "output": description.get("output"),
        "error": description.get("error"),
        "cause": description.get("cause"),
    }
    events = cluster.service.get_execution_history(arn, reverse_order=True, max_results=5)["events"]
    for event in events:
        if event["type"] in TERMINAL_EVENTS:
            status, key = TERMINAL_EVENTS[event["type"]]
            details = event.get(key) or {}
            result["history_terminal"] = {
                "status": status,
                "output": details.get("output"),
                "error": details.get("error"),
                "cause": details.get("cause"),
            }
            break
    return result


def _judge(case: dict[str, Any], actual: dict[str, Any]) -> tuple[str, str, Any]:
    return _runner().judge(case, actual)  # type: ignore[no-any-return]


def test_known_failures_are_real_cases_with_reasons() -> None:
    # A listed id that names no case would hide nothing and never shrink.
    assert CASES, "the corpus holds no pure case"
    assert not set(KNOWN_FAILURES) - {c["id"] for c in CASES}
    assert all(isinstance(reason, str) and reason.strip() for reason in KNOWN_FAILURES.values())


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case_matches_aws_through_the_runtime(case: dict[str, Any], results: dict[str, dict[str, Any]]) -> None:
    verdict, category, details = _judge(case, results[case["id"]])
    reason = KNOWN_FAILURES.get(case["id"])
    if reason is None:
        assert verdict == "pass", f"{category}: {json.dumps(details, default=str)[:1500]}"
    else:
        assert verdict != "pass", f"listed as a known failure ({reason}) but passes: remove it from the list"
