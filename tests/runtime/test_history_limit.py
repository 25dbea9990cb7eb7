"""Long Pass/Choice loops on the durable runtime (PostgreSQL, a worker and the scheduler): one
transaction steps through `MAX_STEPS` states at most, then commits and goes on in a new message;
and an execution that never ends fails at its 25,000th event, as on AWS."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from orchestrator.engine.history import HISTORY_LIMIT_CAUSE, MAX_EVENTS
from orchestrator.runtime.driver import MAX_STEPS
from orchestrator.service import ServiceError
from orchestrator.store.db import session_scope
from orchestrator.store.models import Execution
from tests.engine.test_history_limit import ENDLESS, counter
from tests.runtime.conftest import Cluster, assert_history_is_sound, report, running_cluster, wait_for


@pytest.fixture(scope="module")
def cluster(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(database_url, tmp_path_factory.mktemp("history_limit")) as made:
        yield made


def _row(cluster: Cluster, execution_arn: str) -> tuple[int, int]:
    """The execution's ``seq`` (one more for every transaction that left it waiting) and its state transitions."""
    with session_scope(cluster.settings.database_url) as session:
        row = session.execute(
            select(Execution.seq, Execution.state_transitions).where(Execution.arn == execution_arn)
        ).one()
        return row[0], row[1]


def test_an_endless_loop_fails_at_event_25000_and_holds_no_worker_meanwhile(cluster: Cluster) -> None:
    started = time.monotonic()
    execution = cluster.start(cluster.state_machine(ENDLESS))
    # While it runs, its history grows in committed steps that other transactions can read
    wait_for(lambda: len(cluster.history(execution)) > MAX_STEPS, 60, poll=0.2, what="committed events")
    ended = cluster.wait(execution, timeout=300)
    took = time.monotonic() - started
    assert (ended["status"], ended["error"], ended["cause"]) == ("FAILED", "States.Runtime", HISTORY_LIMIT_CAUSE)
    events = cluster.history(execution)
    assert len(events) == MAX_EVENTS
    assert_history_is_sound(events)
    assert (events[-1]["type"], events[-1]["previousEventId"]) == ("ExecutionFailed", MAX_EVENTS - 1)
    seq, transitions = _row(cluster, execution)
    assert seq >= transitions // MAX_STEPS  # it committed at least every MAX_STEPS states
    report(f"an endless Pass/Choice loop failed at {len(events):,} events in {took:.1f} s ({seq} transactions)")
    # and, as on AWS, it cannot be redriven: its history has no room left
    with pytest.raises(ServiceError) as refused:
        cluster.service.redrive_execution(execution)
    assert (refused.value.code, refused.value.message) == (
        "ExecutionNotRedrivable",
        "Execution history event limit exceeded.",
    )


def test_a_loop_of_3000_pass_states_commits_in_several_transactions_and_succeeds(cluster: Cluster) -> None:
    execution = cluster.start(cluster.state_machine(counter(1500)), {"n": 0})
    ended = cluster.wait(execution, timeout=120)
    assert ended["status"] == "SUCCEEDED", ended
    assert ended["output"] == '{"n":1500}'
    seq, transitions = _row(cluster, execution)
    assert transitions == 3001  # 1,500 times Inc and Check, then Done
    assert seq == transitions // MAX_STEPS  # left waiting for its next message 3 times
    events = cluster.history(execution)
    assert len(events) == 4 * 1500 + 4
    assert_history_is_sound(events)
