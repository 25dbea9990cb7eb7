"""The two runs of the multi-host test, driven from the client host through the HTTP API.

1. **A worker host cut off.** Executions are started at a steady pace; a few seconds in, worker1's
   cable is pulled for longer than the lease, then plugged back. Whatever worker1 held at the cut
   must reach the other worker, with the default settings, within 30 s of the cut: the handlers it
   ran when their leases run out (the scheduler republishes their messages), the messages it had
   taken and not started as no lease covers them, and what it was doing inside a transaction once
   PostgreSQL ends its session (``idle_in_transaction_session_timeout``).
2. **PostgreSQL stopped.** Executions are started at a steady pace (the client retries a start the
   API refuses, as any client would); a few seconds in, PostgreSQL stops for ten seconds, then
   starts again. The API, workers and scheduler must reconnect on their own.

Each run waits for every execution to end, then reads every history and checks it against
`workload.problems`. `Run` keeps what was measured; `judge_cut` and `judge_outage` turn it into
figures and failures.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.multihost import workload
from tests.multihost.deployment import Deployment
from tests.multihost.network import run_inside
from tests.multihost.servers import REDIS_PORT

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@dataclass
class Action:
    """Something done to the deployment ``after`` seconds after the previous action (the first: after
    the run's first start); ``mark`` names the moment it is done."""

    after: float
    mark: str
    do: Callable[[], dict[str, Any] | None]  # what it saw, if anything


@dataclass
class Run:
    """What one run started, did to the deployment, and found."""

    label: str
    inputs: dict[str, int] = field(default_factory=dict)  # execution ARN -> n of its input
    started: dict[str, float] = field(default_factory=dict)  # execution ARN -> when StartExecution answered
    first_start: float = 0.0
    last_start: float = 0.0
    refused_calls: int = 0  # API calls that failed and were tried again
    marks: dict[str, float] = field(default_factory=dict)
    log_offsets: dict[str, dict[str, int]] = field(default_factory=dict)  # mark -> process -> log size
    seen: dict[str, Any] = field(default_factory=dict)  # what the actions saw
    most_in_flight: int = 0
    statuses: dict[str, str] = field(default_factory=dict)
    stopped: dict[str, float] = field(default_factory=dict)  # ARN -> stopDate
    problems: dict[str, list[str]] = field(default_factory=dict)
    stalls: dict[str, float] = field(default_factory=dict)  # ARN -> its longest gap between events
    stamps: dict[str, list[float]] = field(default_factory=dict)  # ARN -> its events' times
    ended_at: float = 0.0

    @property
    def lost(self) -> list[str]:
        return [arn for arn in self.inputs if self.statuses.get(arn) != "SUCCEEDED"]

    @property
    def last_success(self) -> float:
        return max(self.stopped.values())


class Driver:
    """Starts and follows executions through the API; used inside the client host (`run_inside`)."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.options = deployment.options
        self.deadline = 0.0  # time.monotonic() by which the current run must be over
        self.stop = threading.Event()  # set when the run failed: the starter stops starting
        self.sfn = boto3.client(
            "stepfunctions",
            endpoint_url=deployment.api_url,
            region_name="us-east-1",
            aws_access_key_id="multihost",
            aws_secret_access_key="multihost",
            config=Config(inject_host_prefix=False, retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
        )

    def state_machine(self, name: str) -> str:
        created = self.sfn.create_state_machine(
            name=name,
            definition=json.dumps(workload.DEFINITION),
            roleArn="arn:aws:iam::123456789012:role/multihost",
        )
        return str(created["stateMachineArn"])

    def run(self, label: str, actions: list[Action]) -> Run:
        """Start the executions at the configured pace while doing ``actions``; wait for every
        execution to end; check every history."""
        run = Run(label)
        machine = self.state_machine(f"multihost-{label}")
        self.deadline = time.monotonic() + self.options.run_timeout
        failure: list[BaseException] = []
        starter = threading.Thread(target=self._start_all, args=(run, machine, failure), name=f"start-{label}")
        run.first_start = time.time()
        starter.start()
        try:
            moment = run.first_start
            for action in actions:
                moment += action.after
                time.sleep(max(0.0, moment - time.time()))
                run.seen.update(action.do() or {})
                moment = run.marks[action.mark] = time.time()
                run.log_offsets[action.mark] = self.log_offsets()
        except BaseException:
            self.stop.set()
            raise
        finally:
            starter.join()
        try:
            if failure:
                raise failure[0]
            self._wait_all(run, machine)
            self._check_histories(run)
        finally:
            self.sfn.close()
        return run

    def log_offsets(self) -> dict[str, int]:
        return {name: p.log.stat().st_size for name, p in self.deployment.processes.items()}

    # -- starting ------------------------------------------------------------------------------

    def _start_all(self, run: Run, machine: str, failure: list[BaseException]) -> None:
        """Start the executions, at most ``start_rate`` a second and ``max_in_flight`` running at once
        (a client with back-pressure: on a busy machine too, the queues hold no more than the
        deployment works off well within the lease, after which the sweeper takes a message no worker
        holds for lost)."""
        try:
            for n in range(self.options.executions):
                if self.stop.is_set():
                    return
                time.sleep(max(0.0, run.first_start + n / self.options.start_rate - time.time()))
                self._wait_for_room(run, machine)
                arn = self._start(run, machine, n)
                run.inputs[arn], run.started[arn] = n, time.time()
            run.last_start = time.time()
        except BaseException as exc:  # handed to the driving thread
            failure.append(exc)

    def _wait_for_room(self, run: Run, machine: str) -> None:
        while True:
            try:
                page = self.sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING", maxResults=1000)
            except (ClientError, BotoCoreError):
                run.refused_calls += 1
                time.sleep(0.5)  # the API cannot answer now (its database is away)
                continue
            running = len(page["executions"])
            run.most_in_flight = max(run.most_in_flight, running)
            if running < self.options.max_in_flight:
                return
            if time.monotonic() > self.deadline:
                raise AssertionError(
                    f"{run.label}: {running} executions still running {self.options.run_timeout}s into the run:\n"
                    + self.diagnose([item["executionArn"] for item in page["executions"]])
                )
            time.sleep(0.2)

    def _start(self, run: Run, machine: str, n: int) -> str:
        """StartExecution, tried again (same name, same input: idempotent) while the API refuses it."""
        name = f"{run.label}-{n:04d}"
        text = json.dumps(workload.execution_input(n, self.options.handler_seconds))
        while True:
            try:
                return str(self.sfn.start_execution(stateMachineArn=machine, name=name, input=text)["executionArn"])
            except ClientError as exc:
                if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
                    # an earlier attempt did start it, and it has ended since: it is ours
                    return machine.replace(":stateMachine:", ":execution:") + f":{name}"
                error: Exception = exc
            except BotoCoreError as exc:
                error = exc
            run.refused_calls += 1
            if time.monotonic() > self.deadline:
                raise AssertionError(f"StartExecution {name} refused until the deadline: {error}")
            time.sleep(0.5)

    # -- following -----------------------------------------------------------------------------

    def _wait_all(self, run: Run, machine: str) -> None:
        while True:
            try:
                listed = self._list(machine)
            except (ClientError, BotoCoreError):
                run.refused_calls += 1
                listed = None  # the API cannot answer now (its database is away): ask again
            if listed is not None:
                run.statuses = {arn: item["status"] for arn, item in listed.items() if arn in run.inputs}
                run.stopped = {
                    arn: item["stopDate"].timestamp() for arn, item in listed.items() if item.get("stopDate")
                }
                if len(run.statuses) == len(run.inputs) and all(s in TERMINAL for s in run.statuses.values()):
                    run.ended_at = time.time()
                    return
            if time.monotonic() > self.deadline:
                running = [arn for arn in run.inputs if run.statuses.get(arn) not in TERMINAL]
                raise AssertionError(
                    f"{run.label}: {len(running)} of {len(run.inputs)} executions still not ended "
                    f"{self.options.run_timeout}s into the run:\n" + self.diagnose(running)
                )
            time.sleep(0.5)

    def _list(self, machine: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        token = None
        while True:
            page = self.sfn.list_executions(
                stateMachineArn=machine, maxResults=1000, **({"nextToken": token} if token else {})
            )
            found.update({item["executionArn"]: item for item in page["executions"]})
            token = page.get("nextToken")
            if not token:
                return found

    def history(self, arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        token = None
        while True:
            page = self.sfn.get_execution_history(
                executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {})
            )
            events.extend(page["events"])
            token = page.get("nextToken")
            if not token:
                return events

    def _check_histories(self, run: Run) -> None:
        for arn, n in run.inputs.items():
            events = self.history(arn)
            found = workload.problems(events, n, self.options.handler_seconds)
            if found:
                run.problems[arn] = found
            stamps = [e["timestamp"].timestamp() for e in events]
            run.stalls[arn] = max((b - a for a, b in itertools.pairwise(stamps)), default=0.0)
            run.stamps[arn] = stamps

    def diagnose(self, arns: list[str]) -> str:
        """Where executions that did not end stand: the last events of a few, and the database's state."""
        lines = []
        for arn in arns[:5]:
            try:
                tail = ", ".join(f"{e['id']} {e['type']}" for e in self.history(arn)[-4:])
            except (ClientError, BotoCoreError) as exc:
                tail = f"(history unavailable: {exc})"
            lines.append(f"{arn}: ... {tail}")
        return "\n".join([*lines, database_state(self.deployment)])


def database_state(deployment: Deployment) -> str:
    """The outbox, timers and sessions of the database (for a failure's message)."""
    import psycopg

    try:
        with psycopg.connect(deployment.libpq_url(), connect_timeout=5, autocommit=True) as connection:
            outbox = connection.execute("SELECT id, task, queue, published_at FROM outbox ORDER BY id").fetchall()
            timers = connection.execute("SELECT * FROM timers").fetchall()
            sessions = connection.execute(
                "SELECT client_addr, state, wait_event_type, wait_event, left(query, 80) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
    except psycopg.Error as exc:
        return f"  (database unavailable: {exc})"
    return f"  outbox: {outbox[:20]}\n  timers: {timers[:20]}\n  sessions: {sessions}"


# -- the two runs -----------------------------------------------------------------------------------


def cut_a_worker(deployment: Deployment) -> Run:
    """Run 1: worker1's host is cut off mid-run for ``cut_seconds``, then plugged back."""
    options, network = deployment.options, deployment.network
    worker = deployment.hosts["worker1"]

    def restore() -> dict[str, Any]:
        try:
            return {"unacked at link up": unacked_overdue(deployment), "sessions at link up": sessions(deployment)}
        finally:
            network.restore(worker)

    actions = [
        Action(options.cut_after, "link down", lambda: network.cut(worker)),
        Action(options.cut_seconds, "link up", restore),
    ]
    return run_inside(deployment.client.namespace, lambda: Driver(deployment).run("cut", actions))


def stop_the_database(deployment: Deployment) -> Run:
    """Run 2: PostgreSQL stops mid-run for ``outage_seconds``, then starts again."""
    options, postgres = deployment.options, deployment.postgres
    assert postgres is not None
    actions = [
        Action(options.outage_after, "database down", postgres.stop),
        Action(options.outage_seconds, "database up", postgres.start),
    ]
    return run_inside(deployment.client.namespace, lambda: Driver(deployment).run("outage", actions))


def unacked_overdue(deployment: Deployment) -> int:
    """Messages Redis holds as delivered and unacknowledged for longer than the visibility timeout
    (which it has not yet given to another worker)."""
    import redis

    client = redis.Redis(host=deployment.hosts["db"].address, port=REDIS_PORT, socket_timeout=5)
    try:
        ceiling = time.time() - deployment.settings.visibility_timeout
        return int(client.zcount("unacked_index", 0, ceiling))
    finally:
        client.close()


def sessions(deployment: Deployment) -> dict[str, int]:
    """The cut worker's database sessions left inside a transaction (holding their locks), and the
    sessions waiting for a lock."""
    import psycopg

    worker = deployment.hosts["worker1"].address
    with psycopg.connect(deployment.libpq_url(), connect_timeout=5, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FILTER (WHERE host(client_addr) = %s AND xact_start IS NOT NULL), "
            "count(*) FILTER (WHERE wait_event_type = 'Lock') "
            "FROM pg_stat_activity WHERE datname = current_database()",
            (worker,),
        ).fetchone()
    assert row is not None
    return {"cut host in a transaction": int(row[0]), "waiting for a lock": int(row[1])}


# -- what the logs say ------------------------------------------------------------------------------

_TASK = re.compile(r"Task (\S+)\[([0-9a-f-]+)\] (received|succeeded|failed|retry|raised)")


def held_at(log: str) -> list[str]:
    """The tasks a worker had received and not finished, at the end of ``log`` (its text up to a moment)."""
    held: dict[str, str] = {}
    for name, task_id, what in _TASK.findall(log):
        if what == "received":
            held[task_id] = name
        else:
            held.pop(task_id, None)
    return sorted(held.values())


def finished_between(log: str) -> int:
    """How many tasks a worker finished in ``log`` (a slice of it)."""
    return sum(1 for _, _, what in _TASK.findall(log) if what == "succeeded")


def log_slice(deployment: Deployment, process: str, start: int, end: int | None = None) -> str:
    with deployment.processes[process].log.open("rb") as log:
        log.seek(start)
        data = log.read() if end is None else log.read(end - start)
    return data.decode(errors="replace")


# -- figures and verdicts ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """The figures of a run, and what went wrong in it (empty when all is well)."""

    title: str
    figures: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def expect(self, condition: bool, failure: str) -> None:
        if not condition:
            self.failures.append(failure)

    def lines(self) -> list[str]:
        return [self.title, *(f"  {line}" for line in self.figures), *(f"  FAILED: {f}" for f in self.failures)]


def in_flight_at(run: Run, moment: float) -> list[str]:
    """The executions started before ``moment`` and not ended by then."""
    return [arn for arn, at in run.started.items() if at < moment < run.stopped.get(arn, float("inf"))]


def _common(outcome: Outcome, run: Run) -> None:
    lost = run.lost
    outcome.figures += [
        f"executions run: {len(run.inputs)} (started over {run.last_start - run.first_start:.1f}s, at most "
        f"{run.most_in_flight} running at once), succeeded: {len(run.inputs) - len(lost)}, lost: {len(lost)}",
        f"histories checked: {len(run.inputs)}; with a transition recorded twice or another defect: "
        f"{len(run.problems)}",
    ]
    outcome.expect(not lost, f"executions not SUCCEEDED: {[(a, run.statuses.get(a)) for a in lost[:10]]}")
    outcome.expect(not run.problems, f"unsound histories: {dict(list(run.problems.items())[:5])}")


def _recovery(run: Run, arns: list[str], start: float) -> str:
    return f"{max(run.stopped[a] for a in arns) - start:.1f}s" if arns else "-"


# The goal: every execution the cut host held moves on within this many seconds of the cut.
RECOVERS_WITHIN = 30.0


def moved_on(run: Run, arn: str, moment: float) -> float:
    """Seconds from ``moment`` to the execution's first event after it."""
    return min((at for at in run.stamps[arn] if at > moment), default=float("inf")) - moment


def judge_cut(deployment: Deployment, run: Run) -> Outcome:
    """Run 1's figures, and whether the cut really hit work in flight and nothing was lost."""
    outcome = Outcome("Run 1: a worker host cut off the network")
    _common(outcome, run)
    down, up = run.marks["link down"], run.marks["link up"]
    vt, lease = deployment.settings.visibility_timeout, deployment.settings.lease_seconds
    held = held_at(log_slice(deployment, "worker1", 0, run.log_offsets["link down"]["worker1"]))
    caught = [a for a in in_flight_at(run, down) if a in run.stopped]
    waited = [arn for arn, gap in run.stalls.items() if gap >= lease]
    recovery = max((moved_on(run, arn, down) for arn in caught), default=0.0)
    outcome.figures += [
        f"hosts cut: 1 (worker1), link down for {up - down:.1f}s (lease {lease:g}s, visibility timeout {vt:g}s); "
        f"tasks in its hands at the cut: {len(held)} ({', '.join(sorted(set(held))) or '-'}); executions started "
        f"after the cut: {sum(1 for at in run.started.values() if at > down)}",
        f"when the link came back: messages Redis held unacknowledged past the visibility timeout: "
        f"{run.seen['unacked at link up']}; worker1's database sessions still inside a transaction: "
        f"{run.seen['sessions at link up']['cut host in a transaction']}; sessions waiting for a lock: "
        f"{run.seen['sessions at link up']['waiting for a lock']}",
        f"time to recover: the {len(caught)} executions in flight at the cut all moved on within {recovery:.1f}s "
        f"of the link going down, and all succeeded {_recovery(run, caught, down)} after it "
        f"({_relative(max(run.stopped[a] for a in caught) - up)} it came back)"
        if caught
        else "time to recover: no execution was in flight at the cut",
        f"executions that waited {lease:g}s or more between two events: {len(waited)}"
        + (f", longest {max(run.stalls[a] for a in waited):.1f}s, the last one done {_recovery(run, waited, down)} "
           f"after the link went down" if waited else ""),
        f"last execution of the run succeeded {run.last_success - down:.1f}s after the link went down, "
        f"{_relative(run.last_success - up)} it came back",
    ]  # fmt: skip
    outcome.expect(bool(held), "worker1 held no task when its link went down: the cut tested nothing")
    outcome.expect(bool(caught), "no execution was in flight when the link went down")
    outcome.expect(any(at > down for at in run.started.values()), "the run was over before the cut")
    outcome.expect(
        recovery < RECOVERS_WITHIN, f"an execution in flight at the cut moved on only {recovery:.1f}s after it"
    )
    return outcome


def judge_outage(deployment: Deployment, run: Run) -> Outcome:
    """Run 2's figures, and whether every process came back to work after PostgreSQL did."""
    outcome = Outcome("Run 2: PostgreSQL stopped and started again")
    _common(outcome, run)
    down, up = run.marks["database down"], run.marks["database up"]
    caught = in_flight_at(run, down)
    after = {
        name: finished_between(log_slice(deployment, name, run.log_offsets["database up"][name]))
        for name in ("worker1", "worker2")
    }
    heartbeat = deployment.tmp / "home-scheduler" / "scheduler.heartbeat"
    ticked = heartbeat.exists() and heartbeat.stat().st_mtime > up
    status, health = deployment.health()
    dead = [name for name, p in deployment.processes.items() if not p.alive()]
    outcome.figures += [
        f"PostgreSQL down for {up - down:.1f}s (stopped to started); executions in flight at the stop: {len(caught)}; "
        f"API calls refused meanwhile and tried again by the client: {run.refused_calls}",
        f"time to recover: the executions in flight at the stop all succeeded {_recovery(run, caught, up)} after "
        f"PostgreSQL was back; the last of the run {run.last_success - up:.1f}s after",
        f"reconnected on their own: tasks finished after the restart by worker1 {after['worker1']}, worker2 "
        f"{after['worker2']}; scheduler ticking: {'yes' if ticked else 'NO'}; API /health: {status} "
        f"{health['status']}; processes that died: {', '.join(dead) or 'none'}",
    ]
    outcome.expect(bool(caught), "no execution was in flight when PostgreSQL stopped")
    outcome.expect(all(after.values()), f"a worker finished nothing after PostgreSQL came back: {after}")
    outcome.expect(ticked, "the scheduler's heartbeat did not move after PostgreSQL came back")
    outcome.expect(status == 200, f"the API's /health after the outage: {status} {health}")
    outcome.expect(not dead, f"processes died: {dead}")
    return outcome


def judge_baseline(deployment: Deployment, run: Run) -> Outcome:
    """A run with nothing done to the deployment (not in the CI's scenario): what it costs."""
    outcome = Outcome("Baseline: nothing cut, nothing stopped")
    _common(outcome, run)
    tasks: dict[str, int] = {}
    for name in ("worker1", "worker2"):
        for task, _, what in _TASK.findall(deployment.processes[name].output()):
            tasks[task] = tasks.get(task, 0) + (what == "succeeded")
    republished = re.findall(r"republishing (\d+) message", deployment.processes["scheduler"].output())
    outcome.figures += [
        f"the run took {run.ended_at - run.first_start:.1f}s; tasks run: "
        + ", ".join(f"{task} {count}" for task, count in sorted(tasks.items())),
        f"messages the sweeper republished: {sum(map(int, republished))} in {len(republished)} sweeps",
    ]
    return outcome


def run_all(deployment: Deployment, only: tuple[str, ...] = ("cut", "outage")) -> list[Outcome]:
    """Both runs (or ``only`` some: ``cut``, ``outage``, ``baseline``), one after the other, judged."""
    outcomes = []
    if "baseline" in only:
        run = run_inside(deployment.client.namespace, lambda: Driver(deployment).run("baseline", []))
        outcomes.append(judge_baseline(deployment, run))
    if "cut" in only:
        outcomes.append(judge_cut(deployment, cut_a_worker(deployment)))
    if "outage" in only:
        outcomes.append(judge_outage(deployment, stop_the_database(deployment)))
    return outcomes


def _relative(seconds: float) -> str:
    return f"{seconds:.1f}s after" if seconds >= 0 else f"{-seconds:.1f}s before"
