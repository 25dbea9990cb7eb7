"""Retention removes exactly the old closed executions and what refers to them, on PostgreSQL and SQLite.

The executions are rows as the runtime writes them (a root, its branches and iterations, their
history events, task tokens, timers, map runs, outbox messages with a lease, status-change events),
put in directly so that each test knows every row; the cutoff is fixed in the test, not taken from
today's date (``now`` is given to the action).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orchestrator import config
from orchestrator.runtime.messages import ADVANCE
from orchestrator.service import Service
from orchestrator.store.db import session_scope
from orchestrator.store.models import (
    Execution,
    HistoryEvent,
    Lease,
    MapRun,
    OutboxMessage,
    StateMachine,
    StatusEvent,
    TaskToken,
    Timer,
)
from tests.runtime.conftest import REDIS_URL, ROOT, Process, wait_for

NOW = dt.datetime(2030, 6, 1, 12, 0, tzinfo=dt.UTC)
OLD = NOW - dt.timedelta(days=120)
RECENT = NOW - dt.timedelta(days=10)
RETENTION = dt.timedelta(days=90)
ROLE = "arn:aws:iam::123456789012:role/test"
DEFINITION = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
TABLES = (Execution, HistoryEvent, TaskToken, Timer, MapRun, OutboxMessage, Lease, StatusEvent)


@dataclass
class World:
    """Executions put in the database, by the role they play in a test."""

    url: str
    machine_id: int = 0
    definition_hash: str = ""
    ids: dict[str, int] = field(default_factory=dict)

    def execution(
        self,
        session: Session,
        label: str,
        status: str,
        stop: dt.datetime | None,
        *,
        root: str | None = None,
        events: int = 3,
        caller: str | None = None,
        own_history: bool = False,
    ) -> int:
        """An execution (or with ``root``, a branch of one) with ``events`` history events of its own."""
        root_id = self.ids[root] if root else None
        row = Execution(
            arn=None if root else f"arn:aws:states:us-east-1:123456789012:execution:m:{label}-{uuid.uuid4().hex[:6]}",
            name=label,
            state_machine_id=self.machine_id,
            definition_hash=self.definition_hash,
            role_arn=ROLE,
            root_id=root_id,
            parent_id=root_id,
            status=status,
            input={"label": label},
            start_date=(stop or NOW) - dt.timedelta(minutes=5),
            stop_date=stop,
            caller_id=self.ids[caller] if caller else None,
            next_event_id=events + 1 if (root is None or own_history) else 1,
        )
        session.add(row)
        session.flush()
        self.ids[label] = row.id
        if root is None or own_history:
            row.history_id = row.id
            for n in range(1, events + 1):
                session.add(
                    HistoryEvent(
                        execution_id=row.id,
                        id=n,
                        previous_event_id=n - 1,
                        type="PassStateEntered",
                        timestamp=row.start_date,
                        details={"name": "P"},
                    )
                )
        return row.id

    def waiting(self, session: Session, label: str, run: str | None = None) -> None:
        """A task token, a timer, a map run, an outbox message with its lease and a status event."""
        root_id, run_id = self.ids[label], self.ids[run or label]
        token = f"token-{label}-{uuid.uuid4().hex}"
        session.add(TaskToken(token=token, execution_id=root_id, run_id=run_id, state_name="P", resource="r"))
        session.add(Timer(run_id=run_id, seq=1, kind="wait", fire_at=NOW))
        session.add(
            MapRun(
                arn=f"arn:map:{label}:{uuid.uuid4().hex}",
                execution_id=root_id,
                run_id=run_id,
                generation=0,
                state_name="P",
                start_date=NOW,
            )
        )
        message = OutboxMessage(task=ADVANCE, args=[root_id, run_id, 1, None], queue="q")
        session.add(message)
        session.flush()
        session.add(Lease(outbox_id=message.id, worker="h:1", attempt=1, taken_at=NOW, expires_at=NOW))
        session.add(StatusEvent(id=str(uuid.uuid4()), execution_id=root_id, status="RUNNING", time=NOW, event="{}"))


def _world(database_url: str, tmp_path: Path) -> tuple[World, Service]:
    settings = config.load({"ORCHESTRATOR_DATABASE_URL": database_url, "ORCHESTRATOR_HOME": str(tmp_path)})
    service = Service(settings)
    arn = service.create_state_machine(name="m", definition=json.dumps(DEFINITION), role_arn=ROLE)["stateMachineArn"]
    world = World(database_url)
    with session_scope(database_url) as session:
        machine = session.execute(select(StateMachine.id, StateMachine.definition_hash).where(StateMachine.arn == arn))
        world.machine_id, world.definition_hash = machine.one()
    return world, service


def _populate(world: World) -> None:
    with session_scope(world.url) as session:
        # removed: old and closed, whatever the way they closed
        world.execution(session, "old-succeeded", "SUCCEEDED", OLD, events=5)
        world.execution(session, "old-branch", "SUCCEEDED", OLD, root="old-succeeded")
        world.execution(session, "old-iteration", "FAILED", OLD, root="old-succeeded", own_history=True, events=4)
        world.waiting(session, "old-succeeded", run="old-iteration")
        world.execution(session, "old-failed", "FAILED", OLD)
        world.execution(session, "old-timed-out", "TIMED_OUT", OLD)
        world.execution(session, "old-aborted", "ABORTED", OLD - dt.timedelta(days=300))
        # kept: stopped recently; running (even started long ago) with an old closed branch
        world.execution(session, "recent", "SUCCEEDED", RECENT)
        world.waiting(session, "recent")
        world.execution(session, "old-running", "RUNNING", None)
        world.execution(session, "closed-branch-of-running", "SUCCEEDED", OLD, root="old-running")
        world.waiting(session, "old-running", run="closed-branch-of-running")
        # kept: old and closed, but a branch of it still runs
        world.execution(session, "old-with-live-branch", "ABORTED", OLD)
        world.execution(session, "live-branch", "RUNNING", None, root="old-with-live-branch")
        # kept: old and closed, but an execution its branch started still runs
        world.execution(session, "old-caller", "FAILED", OLD)
        world.execution(session, "old-caller-branch", "FAILED", OLD, root="old-caller")
        world.execution(session, "running-callee", "RUNNING", None, caller="old-caller-branch")
        # removed, while the execution it started, which stopped recently, stays and forgets its caller
        world.execution(session, "old-parent", "SUCCEEDED", OLD)
        world.execution(session, "recent-callee", "SUCCEEDED", RECENT, caller="old-parent")


REMOVED = {"old-succeeded", "old-branch", "old-iteration", "old-failed", "old-timed-out", "old-aborted", "old-parent"}


def _rows(url: str) -> dict[str, int]:
    with session_scope(url) as session:
        return {t.__tablename__: int(session.scalar(select(func.count()).select_from(t)) or 0) for t in TABLES}


def _remaining(world: World) -> set[str]:
    with session_scope(world.url) as session:
        left = set(session.scalars(select(Execution.id)))
    return {label for label, i in world.ids.items() if i in left}


EXPECTED = {
    "executions": 5,
    "childRuns": 2,
    "historyEvents": 5 + 4 + 3 * 4,
    "taskTokens": 1,
    "timers": 1,
    "mapRuns": 1,
    "outboxMessages": 1,
    "statusEvents": 1,
}


def test_prune_removes_old_closed_executions_and_everything_that_refers_to_them(
    database_url: str, tmp_path: Path
) -> None:
    world, service = _world(database_url, tmp_path)
    _populate(world)
    before = _rows(database_url)

    report = service.prune_executions(RETENTION, now=NOW)

    assert report["removed"] == EXPECTED
    assert report["dryRun"] is False
    assert report["stoppedBefore"] == NOW - RETENTION
    assert _remaining(world) == set(world.ids) - REMOVED
    after = _rows(database_url)
    assert after == {
        **before,
        "executions": before["executions"] - 7,
        "history_events": before["history_events"] - EXPECTED["historyEvents"],
        "task_tokens": before["task_tokens"] - 1,
        "timers": before["timers"] - 1,
        "map_runs": before["map_runs"] - 1,
        "outbox": before["outbox"] - 1,
        "leases": before["leases"] - 1,
        "status_events": before["status_events"] - 1,
    }
    with session_scope(database_url) as session:
        callee = session.get(Execution, world.ids["recent-callee"])
        assert callee is not None and callee.caller_id is None
        kept = session.get(Execution, world.ids["running-callee"])
        assert kept is not None and kept.caller_id == world.ids["old-caller-branch"]
    # nothing is left to remove: a second prune finds nothing
    assert service.prune_executions(RETENTION, now=NOW)["removed"]["executions"] == 0


def test_dry_run_counts_the_same_and_removes_nothing(database_url: str, tmp_path: Path) -> None:
    world, service = _world(database_url, tmp_path)
    _populate(world)
    before = _rows(database_url)

    report = service.prune_executions(RETENTION, dry_run=True, now=NOW)

    assert report["dryRun"] is True
    assert report["removed"] == EXPECTED
    assert _rows(database_url) == before
    assert _remaining(world) == set(world.ids)


def test_small_batches_remove_the_same(database_url: str, tmp_path: Path) -> None:
    world, service = _world(database_url, tmp_path)
    _populate(world)

    # one execution per batch by count, and by events (every one has more than 2)
    by_count = service.prune_executions(RETENTION, now=NOW, batch_executions=1)
    assert by_count["removed"] == EXPECTED
    assert by_count["batches"] == 5
    _populate(world)
    by_events = service.prune_executions(RETENTION, now=NOW, batch_events=2)
    assert by_events["removed"] == EXPECTED
    assert by_events["batches"] == 5


def test_a_shorter_age_reaches_the_recent_ones_but_never_a_running_one(database_url: str, tmp_path: Path) -> None:
    world, service = _world(database_url, tmp_path)
    _populate(world)

    report = service.prune_executions(dt.timedelta(days=1), now=NOW)

    # the recent execution and the callee that stopped recently go too; what runs stays
    assert report["removed"]["executions"] == EXPECTED["executions"] + 2
    assert _remaining(world) == {
        "old-running",
        "closed-branch-of-running",
        "old-with-live-branch",
        "live-branch",
        "old-caller",
        "old-caller-branch",
        "running-callee",
    }


def test_a_row_another_transaction_holds_is_left_for_later(postgresql_url: str, tmp_path: Path) -> None:
    world, service = _world(postgresql_url, tmp_path)
    _populate(world)
    with session_scope(postgresql_url) as holder:
        # a redrive, say, holds the execution's row
        holder.execute(select(Execution.id).where(Execution.id == world.ids["old-failed"]).with_for_update())
        report = service.prune_executions(RETENTION, now=NOW)
        assert report["removed"]["executions"] == EXPECTED["executions"] - 1
    assert _remaining(world) == set(world.ids) - REMOVED | {"old-failed"}
    assert service.prune_executions(RETENTION, now=NOW)["removed"]["executions"] == 1


def test_the_scheduler_prunes_by_itself_unless_retention_is_off(postgresql_url: str, tmp_path: Path) -> None:
    # Given executions that stopped 120 days ago and one that stopped 10 days ago (from the real clock:
    # the scheduler reads it)
    world, _ = _world(postgresql_url, tmp_path)
    now = dt.datetime.now(dt.UTC)
    with session_scope(postgresql_url) as session:
        world.execution(session, "old", "SUCCEEDED", now - dt.timedelta(days=120), events=10)
        world.execution(session, "old-branch", "FAILED", now - dt.timedelta(days=120), root="old")
        world.waiting(session, "old", run="old-branch")
        world.execution(session, "recent", "SUCCEEDED", now - dt.timedelta(days=10))
        world.execution(session, "running", "RUNNING", None)
    heartbeat = tmp_path / "scheduler.heartbeat"
    env = {
        **os.environ,
        "ORCHESTRATOR_DATABASE_URL": postgresql_url,
        "ORCHESTRATOR_BROKER_URL": REDIS_URL,
        "ORCHESTRATOR_ENGINE_QUEUE": f"orchestrator-{uuid.uuid4().hex[:8]}",
        "ORCHESTRATOR_SCHEDULER_HEARTBEAT": str(heartbeat),
        "PYTHONPATH": str(ROOT),
    }
    argv = [sys.executable, "-m", "orchestrator.cli", "scheduler", "--tick", "0.1"]

    # When a scheduler runs with retention off, for several ticks: nothing goes
    off = Process("scheduler-off", argv, {**env, "ORCHESTRATOR_RETENTION_DAYS": "off"}, tmp_path / "off.log")
    try:
        ticks = _ticks(heartbeat, off, 5)
        assert ticks >= 5
        assert _remaining(world) == set(world.ids)
    finally:
        off.kill()

    # When one runs with the default (90 days): the old execution goes at its first pass, with its
    # branch and what refers to them; the recent and the running ones stay
    on = Process("scheduler", argv, env, tmp_path / "on.log")
    try:
        wait_for(lambda: "old" not in _remaining(world), 60, what="the scheduler to prune")
        assert _remaining(world) == {"recent", "running"}
        assert _rows(postgresql_url) == {
            "executions": 2,
            "history_events": 6,
            "task_tokens": 0,
            "timers": 0,
            "map_runs": 0,
            "outbox": 0,
            "leases": 0,
            "status_events": 0,
        }
        assert on.alive(), on.output()
    finally:
        on.kill()


def _ticks(heartbeat: Path, process: Process, count: int) -> int:
    """Wait until the scheduler has touched its heartbeat ``count`` times (a tick each); return how many."""
    seen: set[int] = set()

    def touched() -> bool:
        assert process.alive(), process.output()
        if heartbeat.exists():
            seen.add(heartbeat.stat().st_mtime_ns)
        return len(seen) >= count

    wait_for(touched, 60, poll=0.02, what="scheduler ticks")
    return len(seen)


def _cli(database_url: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}
    env.update(ORCHESTRATOR_DATABASE_URL=database_url, ORCHESTRATOR_HOME=str(home), PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-m", "orchestrator.cli", "prune", *args]
    return subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_orchestrator_prune_reports_then_removes(database_url: str, tmp_path: Path) -> None:
    world, _ = _world(database_url, tmp_path)
    now = dt.datetime.now(dt.UTC)
    with session_scope(database_url) as session:
        world.execution(session, "old", "FAILED", now - dt.timedelta(days=40), events=7)
        world.execution(session, "old-branch", "FAILED", now - dt.timedelta(days=40), root="old")
        world.execution(session, "recent", "SUCCEEDED", now - dt.timedelta(days=2))

    dry = _cli(database_url, tmp_path, "--older-than", "30d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("would remove 1 closed execution(s) that stopped before ")
    assert dry.stdout.rstrip().endswith("+00:00, with 7 history events, 1 branch and iteration runs")
    assert _remaining(world) == {"old", "old-branch", "recent"}

    done = _cli(database_url, tmp_path, "--older-than", "30d", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["dryRun"] is False
    assert report["removed"] == {**dict.fromkeys(EXPECTED, 0), "executions": 1, "childRuns": 1, "historyEvents": 7}
    assert _remaining(world) == {"recent"}

    again = _cli(database_url, tmp_path, "--older-than", "1w")
    assert again.stdout.startswith("nothing to remove: no closed execution stopped before ")

    wrong = _cli(database_url, tmp_path, "--older-than", "30 days")
    assert wrong.returncode == 2
    assert "--older-than takes an age such as 30d" in wrong.stderr
