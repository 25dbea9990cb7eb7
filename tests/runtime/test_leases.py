"""Leases on outbox messages, and what the sweeper does with them (PostgreSQL and SQLite).

A worker takes a message's lease before running its work and renews it while it runs; the sweeper
republishes the message of a lease that ran out at once (its holder is lost), one that no worker
has taken for the lease's length after it was published, and never one whose lease is alive,
however old. A failed publish is tried again a second later, then after longer waits.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from orchestrator import config
from orchestrator.runtime.messages import ADVANCE, INVOKE, Message
from orchestrator.runtime.publish import publish, retry_delay, sweep
from orchestrator.store import leases, runs
from orchestrator.store.db import session_scope
from orchestrator.store.models import Lease, OutboxMessage
from tests.runtime.conftest import LAMBDA, RABBIT_URL, REDIS_URL, ClusterFactory, duplicated_transitions
from tests.runtime.test_sweeper import url  # noqa: F401 - the fixture: an empty database of the test's own

VISIBILITY = dt.timedelta(hours=1)
LEASE = 15.0
DELIVER = "orchestrator.deliver"


def _message(database: str, *, task: str = INVOKE, published: dt.datetime, created: dt.datetime | None = None) -> int:
    row = {
        "task": task,
        "args": [1, 1, 0],
        "queue": "q",
        "countdown": None,
        "created_at": created or published,
        "published_at": published,
    }
    with session_scope(database) as session:
        return runs.add_messages(session, [row])[0]


def _take(database: str, outbox_id: int, worker: str, now: dt.datetime) -> int | None:
    with session_scope(database) as session:
        return leases.take(session, outbox_id, worker=worker, now=now, seconds=LEASE)


def _swept(database: str, now: dt.datetime) -> set[int]:
    with session_scope(database) as session:
        found = sweep(session, now=now, older_than=VISIBILITY, lease_seconds=LEASE)
    return {m.outbox_id for m in found if m.outbox_id is not None}


def _lease(database: str, outbox_id: int) -> dict[str, Any] | None:
    with session_scope(database) as session:
        row = session.execute(select(Lease.__table__).where(Lease.outbox_id == outbox_id)).first()
        return dict(row._mapping) if row is not None else None


def test_one_worker_at_a_time_holds_a_message_and_the_next_takes_over_once_it_ran_out(url: str) -> None:  # noqa: F811
    now = dt.datetime.now(dt.UTC)
    message = _message(url, published=now)
    assert _take(url, message, "a:1", now) == 1
    assert _take(url, message, "b:2", now + dt.timedelta(seconds=LEASE - 1)) is None  # alive: a copy does nothing
    with session_scope(url) as session:
        kept = leases.renew(session, {message}, worker="a:1", now=now + dt.timedelta(seconds=10), seconds=LEASE)
    assert kept == {message}
    assert _take(url, message, "b:2", now + dt.timedelta(seconds=LEASE + 5)) is None  # renewed at 10 s: alive
    assert _take(url, message, "b:2", now + dt.timedelta(seconds=10 + LEASE)) == 2  # ran out: attempt 2
    with session_scope(url) as session:
        late = now + dt.timedelta(seconds=30)
        assert leases.renew(session, {message}, worker="a:1", now=late, seconds=LEASE) == set()
        assert leases.held_by_others(session, {message}, "a:1") == {message}


def test_a_consumed_message_has_no_lease_and_none_can_be_taken(url: str) -> None:  # noqa: F811
    now = dt.datetime.now(dt.UTC)
    message = _message(url, published=now)
    assert _take(url, message, "a:1", now) == 1
    with session_scope(url) as session:
        assert runs.consume_message(session, message)
        assert not runs.consume_message(session, message)  # a copy: nothing left to consume
    assert _lease(url, message) is None  # gone with its message
    assert _take(url, message, "b:2", now) is None


def test_a_renewal_does_not_wait_for_a_lease_being_consumed(database_url: str) -> None:
    """PostgreSQL: a transaction consuming one of a process's messages (its lease goes with it) may
    wait for an execution's lock for long; the process's other leases are renewed meanwhile."""
    now = dt.datetime.now(dt.UTC)
    consumed, other = _message(database_url, published=now), _message(database_url, published=now)
    for message in (consumed, other):
        assert _take(database_url, message, "a:1", now) == 1
    try:
        with session_scope(database_url) as consuming:
            assert runs.consume_message(consuming, consumed)  # not committed yet: its lease row is locked
            with session_scope(database_url) as session:
                later = now + dt.timedelta(seconds=10)
                assert leases.renew(session, {consumed, other}, worker="a:1", now=later, seconds=LEASE) == {other}
    finally:
        with session_scope(database_url) as session:
            runs.consume_message(session, other)


def test_a_live_lease_is_never_swept_however_old_its_message(url: str) -> None:  # noqa: F811
    now = dt.datetime.now(dt.UTC)
    message = _message(url, published=now - dt.timedelta(hours=2))
    assert _take(url, message, "a:1", now) == 1
    for later in (0, 5, 14):
        assert message not in _swept(url, now + dt.timedelta(seconds=later))


def test_a_lease_that_ran_out_is_swept_at_once_and_given_up(url: str) -> None:  # noqa: F811
    now = dt.datetime.now(dt.UTC)
    message = _message(url, published=now)
    assert _take(url, message, "a:1", now) == 1
    ran_out = now + dt.timedelta(seconds=LEASE + 0.1)
    assert message in _swept(url, ran_out)
    assert _lease(url, message)["worker"] is None  # type: ignore[index]
    assert message not in _swept(url, ran_out + dt.timedelta(seconds=1))  # once, then with backoff
    assert _take(url, message, "b:2", ran_out + dt.timedelta(seconds=2)) == 2


def test_a_message_nobody_took_is_swept_after_the_lease_and_others_after_the_visibility_timeout(
    url: str,  # noqa: F811
) -> None:
    now = dt.datetime.now(dt.UTC)
    invoke = _message(url, published=now)
    step = _message(url, task=ADVANCE, published=now)
    delivery = _message(url, task=DELIVER, published=now)
    assert _swept(url, now + dt.timedelta(seconds=LEASE - 1)) & {invoke, step, delivery} == set()
    assert _swept(url, now + dt.timedelta(seconds=LEASE + 1)) & {invoke, step, delivery} == {invoke, step}
    assert delivery in _swept(url, now + VISIBILITY + dt.timedelta(seconds=1))


def test_a_message_that_failed_to_go_out_is_tried_again_within_seconds_with_backoff(url: str) -> None:  # noqa: F811
    class BrokerAway:
        orchestrator_settings = config.load({"ORCHESTRATOR_DATABASE_URL": url, "ORCHESTRATOR_HOME": "/nonexistent"})

        def send_task(self, *args: Any, **kwargs: Any) -> None:
            raise ConnectionError("the broker is away")

    now = dt.datetime.now(dt.UTC)
    first, second = _message(url, published=now), _message(url, published=now)
    sent = publish(BrokerAway(), [Message(INVOKE, [1, 1, 0, {}, i], "q", outbox_id=i) for i in (first, second)])  # type: ignore[arg-type]
    assert sent == 0
    with session_scope(url) as session:
        due = dict(session.execute(select(OutboxMessage.id, OutboxMessage.republish_at)).all())
    for message in (first, second):
        assert dt.timedelta(0) < _utc(due[message]) - now < dt.timedelta(seconds=3)
    assert {first, second} <= _swept(url, now + dt.timedelta(seconds=3))
    # the waits double with the message's age, up to half a minute
    assert [retry_delay(dt.timedelta(seconds=s)).total_seconds() for s in (0, 1, 2, 8, 100)] == [1, 1, 2, 8, 30]


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


# -- with workers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("broker", [REDIS_URL, RABBIT_URL], ids=["redis", "rabbitmq"])
def test_a_handler_longer_than_its_lease_on_a_live_worker_runs_once(
    cluster_factory: ClusterFactory, tmp_path: Path, broker: str
) -> None:
    """A 12 s handler under 5 s leases renewed every second: its message is older than the lease for
    most of the run, so only the live lease keeps the sweeper from handing it to the idle worker.
    (5 s, not 3: on a loaded machine, with the suite's other test processes, a renewal can be late.)"""
    cluster = cluster_factory(
        broker, extra_env={"ORCHESTRATOR_LEASE_SECONDS": "5", "ORCHESTRATOR_LEASE_RENEW_SECONDS": "1"}
    )
    scheduler = cluster.start_scheduler()
    cluster.start_workers(2, concurrency=1)
    calls = tmp_path / "calls"
    definition = {
        "StartAt": "Long",
        "States": {
            "Long": {
                "Type": "Task",
                "Resource": LAMBDA.format("tally"),
                "Parameters": {"file": str(calls), "seconds": 12},
                "End": True,
            }
        },
    }
    execution = cluster.start(cluster.state_machine(definition))
    assert cluster.wait(execution, timeout=60)["status"] == "SUCCEEDED"
    assert len(calls.read_text().splitlines()) == 1
    assert "republishing" not in scheduler.output()
    assert duplicated_transitions(cluster.history(execution)) == []
