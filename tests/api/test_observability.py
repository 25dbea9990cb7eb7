"""Metrics and JSON logs of a real cluster: ``orchestrator serve``, a worker and the scheduler on
PostgreSQL and Redis, every process with ``ORCHESTRATOR_LOG_FORMAT=json``.

A known workload runs (3 executions succeed, 2 fail in a Lambda function, 1 is stopped, 1 times out, 1
misses its heartbeat, 2 Express ones succeed); the metrics of serve's ``/metrics`` and the worker's
``--metrics-port`` are parsed with prometheus-client's parser and summed, and must count it exactly.
Every line the three processes wrote on stderr must be one JSON object with its fields, and none may
hold an execution's data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from orchestrator import Client
from tests.api.conftest import API_REDIS_URL, client, free_port, isolate
from tests.api.test_routes_and_health import KEY, SECRET, signed_get
from tests.runtime.conftest import CALLBACK, CALLBACK_PARAMETERS, LAMBDA, ROLE, ROOT, Cluster, libpq_url, wait_for

SECRET_INPUT = "do-not-log-" + uuid.uuid4().hex  # in every execution's input; in no log line
LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


class Launched:
    """A process of the cluster, its stdout and stderr kept apart (stderr must be all JSON)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], tmp: Path) -> None:
        self.name = name
        self.stderr = tmp / f"{name}.stderr"
        self.stdout = tmp / f"{name}.stdout"
        with self.stdout.open("w") as out, self.stderr.open("w") as err:
            self.handle = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=err, start_new_session=True)

    def lines(self) -> list[str]:
        return [line for line in self.stderr.read_text().splitlines() if line.strip()]

    def alive(self) -> bool:
        return self.handle.poll() is None

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.handle.pid, signal.SIGTERM)
        try:
            self.handle.wait(timeout=20)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.handle.pid, signal.SIGKILL)


@dataclass
class Observed:
    cluster: Cluster
    serve: Launched
    worker: Launched
    scheduler: Launched
    api_url: str
    worker_metrics_url: str

    def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of serve's and the worker's metrics, summed by name and labels."""
        total: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for url in (f"{self.api_url}/metrics", self.worker_metrics_url):
            response = httpx.get(url, timeout=10)
            assert response.status_code == 200, response.text
            for family in text_string_to_metric_families(response.text):
                for sample in family.samples:
                    key = (sample.name, tuple(sorted(sample.labels.items())))
                    total[key] = total.get(key, 0.0) + sample.value
        return total


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "orchestrator.cli", *args]


@pytest.fixture(scope="module")
def observed(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    tmp = Path(tmp_path_factory.mktemp("observed"))
    cluster = Cluster(database_url, API_REDIS_URL, tmp, extra_env={"ORCHESTRATOR_LOG_FORMAT": "json"})
    isolate(cluster)
    api_port, metrics_port = free_port(), free_port()
    worker_argv = command(
        "worker", "--concurrency", "2", "--without-mingle", "--without-gossip", "--metrics-port", str(metrics_port)
    )
    processes = {
        "worker": Launched("worker", worker_argv, cluster.env, tmp),
        "scheduler": Launched("scheduler", command("scheduler", "--tick", "0.1"), cluster.env, tmp),
        "serve": Launched(
            "serve", command("serve", "--port", str(api_port), "--log-level", "info", "--access-log"), cluster.env, tmp
        ),
    }
    observed = Observed(
        cluster,
        processes["serve"],
        processes["worker"],
        processes["scheduler"],
        f"http://127.0.0.1:{api_port}",
        f"http://127.0.0.1:{metrics_port}/metrics",
    )
    try:
        wait_for(lambda: _answers(f"{observed.api_url}/health"), 60, what="orchestrator serve")
        wait_for(lambda: _answers(observed.worker_metrics_url), 60, what="the worker's metrics port")
        wait_for(lambda: any("ready" in line for line in observed.worker.lines()), 60, what="the worker")
        yield observed
    finally:
        for process in processes.values():
            process.stop()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code in (200, 503)
    except httpx.TransportError:
        return False


# -- the workload --------------------------------------------------------------------------------------------


def task(resource: str, **more: Any) -> dict[str, Any]:
    return {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": resource, "End": True, **more}}}


ECHO = task("arn:aws:states:::lambda:invoke", Parameters={"FunctionName": "echo", "Payload.$": "$"})
FAIL = task(LAMBDA.format("fail"))
WAIT = task(CALLBACK, Parameters=CALLBACK_PARAMETERS)
TIMES_OUT = {**WAIT, "TimeoutSeconds": 1}
NO_HEARTBEAT = task(CALLBACK, Parameters=CALLBACK_PARAMETERS, HeartbeatSeconds=1)
EXPRESS = task(LAMBDA.format("noop"))  # an EXPRESS machine: no history; counted from its run's events


@dataclass(frozen=True)
class Workload:
    machines: dict[str, str]  # role -> state machine name
    request_ids: list[str]  # x-amzn-RequestId of the StartExecution answers
    tokens_while_waiting: float
    pending_tokens_then: int


@pytest.fixture(scope="module")
def workload(observed: Observed) -> Workload:
    sfn = client(observed.api_url)
    tag = uuid.uuid4().hex[:6]
    definitions = {
        "echo": ECHO, "fail": FAIL, "wait": WAIT, "timeout": TIMES_OUT, "heartbeat": NO_HEARTBEAT, "express": EXPRESS
    }  # fmt: skip
    machines = {role: f"{role}-{tag}" for role in definitions}
    arns = {
        role: sfn.create_state_machine(
            name=machines[role],
            definition=json.dumps(d),
            roleArn=ROLE,
            type="EXPRESS" if role == "express" else "STANDARD",
        )["stateMachineArn"]
        for role, d in definitions.items()
    }
    request_ids = []
    started: dict[str, list[str]] = {}
    for role, count in (("echo", 3), ("fail", 2), ("wait", 1), ("timeout", 1), ("heartbeat", 1), ("express", 1)):
        for _ in range(count):
            answer = sfn.start_execution(stateMachineArn=arns[role], input=json.dumps({"secret": SECRET_INPUT}))
            request_ids.append(answer["ResponseMetadata"]["RequestId"])
            started.setdefault(role, []).append(answer["executionArn"])
    synchronous = sfn.start_sync_execution(stateMachineArn=arns["express"], input=json.dumps({"secret": SECRET_INPUT}))
    assert synchronous["status"] == "SUCCEEDED"
    cluster = observed.cluster
    expected = {"echo": "SUCCEEDED", "fail": "FAILED", "wait": "ABORTED", "timeout": "TIMED_OUT", "heartbeat": "FAILED"}
    expected["express"] = "SUCCEEDED"
    # All but the one waiting for its token end on their own; then nothing changes the tokens but us
    others = [arn for role, arns_of_role in started.items() if role != "wait" for arn in arns_of_role]
    statuses = cluster.wait_all(others, timeout=90)
    assert cluster.token_for(started["wait"][0])
    tokens_while_waiting = _sample(observed.scrape(), "orchestrator_task_tokens_waiting")
    pending_then = _pending_tokens(cluster)
    sfn.stop_execution(executionArn=started["wait"][0])
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.describe_execution(executionArn=started["echo"][0] + "-missing")
    every = [arn for arns_of_role in started.values() for arn in arns_of_role]
    statuses = cluster.wait_all(every, timeout=90)
    assert {arn: statuses[arn] for arn in every} == {arn: expected[role] for role, a in started.items() for arn in a}
    # A worker counts just after its commit, which the statuses read above may see first
    ended = len(every) + 1  # and the synchronous Express execution
    wait_for(lambda: _ended(observed, machines) == ended, 10, what="the worker to count the last ends")
    return Workload(machines, request_ids, tokens_while_waiting, pending_then)


def _ended(observed: Observed, machines: dict[str, str]) -> float:
    samples = observed.scrape()
    return sum(
        _sample(samples, "orchestrator_execution_time_seconds_count", state_machine=name) for name in machines.values()
    )


def _pending_tokens(cluster: Cluster) -> int:
    with psycopg.connect(libpq_url(cluster.settings.database_url)) as connection:
        row = connection.execute("SELECT count(*) FROM task_tokens WHERE status = 'PENDING'").fetchone()
        return int(row[0]) if row else 0


def _sample(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# -- metrics -------------------------------------------------------------------------------------------------


def test_the_metrics_count_the_workload_exactly(observed: Observed, workload: Workload) -> None:
    samples = observed.scrape()
    m = workload.machines

    def executions(outcome: str, role: str) -> float:
        return _sample(samples, f"orchestrator_executions_{outcome}_total", state_machine=m[role])

    counted = {
        (outcome, role): executions(outcome, role)
        for outcome in ("started", "succeeded", "failed", "aborted", "timed_out")
        for role in m
    }
    expected = Counter(
        {("started", "echo"): 3, ("started", "fail"): 2, ("started", "wait"): 1, ("started", "timeout"): 1}
        | {("started", "heartbeat"): 1, ("succeeded", "echo"): 3, ("failed", "fail"): 2, ("aborted", "wait"): 1}
        | {("timed_out", "timeout"): 1, ("failed", "heartbeat"): 1}
        | {("started", "express"): 2, ("succeeded", "express"): 2}  # StartExecution and StartSyncExecution
    )
    assert counted == {key: float(expected[key]) for key in counted}

    # ExecutionTime: one observation per ended execution; the timed-out one lasted its TimeoutSeconds
    for role, ended in (("echo", 3), ("fail", 2), ("wait", 1), ("timeout", 1), ("heartbeat", 1), ("express", 2)):
        assert _sample(samples, "orchestrator_execution_time_seconds_count", state_machine=m[role]) == ended
        assert _sample(samples, "orchestrator_state_transitions_total", state_machine=m[role]) == ended
    assert _sample(samples, "orchestrator_execution_time_seconds_sum", state_machine=m["timeout"]) >= 1.0

    service = {"kind": "service", "resource": "lambda:invoke"}
    callback = {"kind": "service", "resource": "lambda:invoke.waitForTaskToken"}
    lambda_fail = {"kind": "lambda", "resource": LAMBDA.format("fail")}
    lambda_noop = {"kind": "lambda", "resource": LAMBDA.format("noop")}
    tasks = {
        (outcome, labels["resource"]): _sample(samples, f"orchestrator_tasks_{outcome}_total", **labels)
        for outcome in ("scheduled", "started", "succeeded", "failed", "timed_out", "heartbeat_timed_out")
        for labels in (service, callback, lambda_fail, lambda_noop)
    }
    scheduled = (("lambda:invoke", 3), (CALLBACK_RESOURCE, 3), (FAIL_ARN, 2), (NOOP_ARN, 2))
    expected_tasks = {("scheduled", r): n for r, n in scheduled}
    expected_tasks |= {("started", r): n for (_, r), n in expected_tasks.items()}
    expected_tasks |= {("succeeded", "lambda:invoke"): 3, ("failed", FAIL_ARN): 2, ("succeeded", NOOP_ARN): 2}
    expected_tasks |= {("heartbeat_timed_out", CALLBACK_RESOURCE): 1}
    assert tasks == {key: float(expected_tasks.get(key, 0)) for key in tasks}
    # run time: every Task that ended; schedule time: every Task that started
    assert _sample(samples, "orchestrator_task_run_time_seconds_count", **service) == 3
    assert _sample(samples, "orchestrator_task_run_time_seconds_count", **lambda_fail) == 2
    assert _sample(samples, "orchestrator_task_run_time_seconds_count", **callback) == 1
    assert _sample(samples, "orchestrator_task_run_time_seconds_count", **lambda_noop) == 2
    assert _sample(samples, "orchestrator_task_run_time_seconds_sum", **callback) >= 1.0  # its HeartbeatSeconds
    assert _sample(samples, "orchestrator_task_schedule_time_seconds_count", **callback) == 3

    # the API's requests, by action and status
    assert _sample(samples, "orchestrator_api_requests_total", action="StartExecution", code="200") == 9
    assert _sample(samples, "orchestrator_api_requests_total", action="StartSyncExecution", code="200") == 1
    assert _sample(samples, "orchestrator_api_requests_total", action="StopExecution", code="200") == 1
    assert _sample(samples, "orchestrator_api_requests_total", action="DescribeExecution", code="400") == 1
    assert _sample(samples, "orchestrator_api_requests_total", action="CreateStateMachine", code="200") == 6
    assert _sample(samples, "orchestrator_api_request_duration_seconds_count", action="StartExecution") == 9


CALLBACK_RESOURCE = "lambda:invoke.waitForTaskToken"
FAIL_ARN = LAMBDA.format("fail")
NOOP_ARN = LAMBDA.format("noop")


def test_the_backlog_gauges_are_read_from_the_database(observed: Observed, workload: Workload) -> None:
    # While the stopped execution waited for its token, the gauge counted the tokens then pending
    assert workload.tokens_while_waiting == workload.pending_tokens_then >= 1
    # Once all is quiet, each gauge is what the tables hold
    samples = observed.scrape()
    with psycopg.connect(libpq_url(observed.cluster.settings.database_url)) as connection:

        def count(sql: str) -> float:
            row = connection.execute(sql).fetchone()
            return float(row[0]) if row else 0.0

        assert _sample(samples, "orchestrator_outbox_messages") == count("SELECT count(*) FROM outbox")
        assert _sample(samples, "orchestrator_timers_due") == count(
            "SELECT count(*) FROM timers WHERE fire_at <= now()"
        )
        assert _sample(samples, "orchestrator_task_tokens_waiting") == count(
            "SELECT count(*) FROM task_tokens WHERE status = 'PENDING'"
        )
        assert _sample(samples, "orchestrator_leases_expired") == count(
            "SELECT count(*) FROM leases WHERE worker IS NOT NULL AND expires_at <= now()"
        )
    assert ("orchestrator_outbox_oldest_message_age_seconds", ()) in samples


def test_a_rolled_back_start_counts_nothing(observed: Observed) -> None:
    """Counted after commit: the Client in this process, joining a transaction that rolls back."""
    cluster = observed.cluster
    local = Client(settings=cluster.settings, app=cluster.app)
    name = f"rollback-{uuid.uuid4().hex[:6]}"
    machine = local.create_state_machine(name=name, definition=json.dumps(ECHO), role_arn=ROLE)["stateMachineArn"]
    started = {"state_machine": name}
    engine = create_engine(cluster.settings.database_url)
    try:
        with pytest.raises(RuntimeError), Session(engine) as session, session.begin():
            local.start_execution(machine, {"n": 1}, name="never", session=session)
            raise RuntimeError("the caller's transaction fails")
        assert REGISTRY.get_sample_value("orchestrator_executions_started_total", started) in (None, 0.0)
        with Session(engine) as session, session.begin():
            local.start_execution(machine, {"n": 1}, name="kept", session=session)
        assert REGISTRY.get_sample_value("orchestrator_executions_started_total", started) == 1.0
    finally:
        engine.dispose()


def test_metrics_from_another_host_need_a_signature_or_the_setting(observed: Observed) -> None:
    cluster = observed.cluster
    forwarded = {"X-Forwarded-For": "203.0.113.9"}  # a request through a proxy: not from this machine
    with _server(cluster, ORCHESTRATOR_API_KEYS=f"{KEY}={SECRET}") as guarded:
        assert httpx.get(f"{guarded.url}/metrics").status_code == 200  # from this machine
        refused = httpx.get(f"{guarded.url}/metrics", headers=forwarded)
        assert refused.status_code == 403
        assert refused.json()["__type"] == "AccessDeniedException"
        signed = signed_get(guarded, "/metrics", headers=forwarded)
        assert signed.status_code == 200 and "orchestrator_api_requests" in signed.text
        assert signed_get(guarded, "/metrics", headers=forwarded, secret="wrong").status_code == 403
    with _server(cluster, ORCHESTRATOR_API_KEYS=f"{KEY}={SECRET}", ORCHESTRATOR_METRICS_PUBLIC="1") as public:
        assert httpx.get(f"{public.url}/metrics", headers=forwarded).status_code == 200


@contextlib.contextmanager
def _server(cluster: Cluster, **env: str) -> Iterator[Any]:
    from tests.api.conftest import Server

    with Server(cluster, **env) as running:
        yield running


# -- JSON logs -----------------------------------------------------------------------------------------------


def test_every_line_of_every_process_is_a_json_object(observed: Observed, workload: Workload) -> None:
    for process in (observed.serve, observed.worker, observed.scheduler):
        lines = process.lines()
        assert lines, f"{process.name} wrote nothing on stderr"
        for line in lines:
            record = json.loads(line)  # fails on any line that is not JSON
            assert isinstance(record, dict), line
            assert record["level"] in LEVELS, line
            assert isinstance(record["logger"], str) and isinstance(record["message"], str), line
            assert dt.datetime.fromisoformat(record["timestamp"]).utcoffset() == dt.timedelta(0), line


def test_no_log_line_carries_an_executions_data(observed: Observed, workload: Workload) -> None:
    for process in (observed.serve, observed.worker, observed.scheduler):
        assert not [line for line in process.lines() if SECRET_INPUT in line], process.name


def test_an_api_log_line_names_the_request_id_the_answer_carried(observed: Observed, workload: Workload) -> None:
    logged = {json.loads(line).get("requestId") for line in observed.serve.lines()}
    assert set(workload.request_ids) <= logged
    assert len(set(workload.request_ids)) == len(workload.request_ids)  # one id per request


def test_a_worker_line_names_the_celery_task_it_ran(observed: Observed, workload: Workload) -> None:
    records = [json.loads(line) for line in observed.worker.lines()]
    ran = [r for r in records if r["logger"] == "celery.app.trace"]
    assert ran and all(r["task"].startswith("orchestrator.") and r["taskId"] for r in ran)
    assert any(r["logger"] == "celery.apps.worker" and "ready" in r["message"] for r in records)


def test_a_worker_line_names_the_execution_state_and_attempt(observed: Observed, workload: Workload) -> None:
    # Given a Task whose Lambda function no handler implements (the worker logs a warning as it runs it)
    sfn = client(observed.api_url)
    name = f"missing-{uuid.uuid4().hex[:6]}"
    machine = sfn.create_state_machine(name=name, definition=json.dumps(task(MISSING_ARN)), roleArn=ROLE)
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")["executionArn"]
    assert observed.cluster.wait_all([execution], timeout=60) == {execution: "FAILED"}
    # Then that line names what the worker was working on
    warnings = [
        record
        for record in map(json.loads, observed.worker.lines())
        if record["logger"] == "orchestrator.integrations.invoke" and MISSING_ARN in record["message"]
    ]
    assert [(w["executionArn"], w["stateName"], w["attempt"]) for w in warnings] == [(execution, "Work", 1)]


MISSING_ARN = LAMBDA.format(f"missing-{uuid.uuid4().hex[:6]}")


def test_the_cli_logs_json_lines_too(tmp_path: Path) -> None:
    """``orchestrator run`` on the embedded default: its log lines on stderr, its report on stdout."""
    definition = tmp_path / "flow.asl.json"
    definition.write_text(json.dumps(task(MISSING_ARN)))
    env = {**os.environ, "ORCHESTRATOR_HOME": str(tmp_path / "home"), "ORCHESTRATOR_LOG_FORMAT": "json"}
    for variable in ("ORCHESTRATOR_DATABASE_URL", "ORCHESTRATOR_BROKER_URL"):
        env.pop(variable, None)
    ran = subprocess.run(
        command("run", str(definition), "--input", json.dumps({"secret": SECRET_INPUT})),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 1 and "FAILED" in ran.stdout, ran.stderr
    records = [json.loads(line) for line in ran.stderr.splitlines() if line.strip()]
    assert records and all({"timestamp", "level", "logger", "message"} <= set(r) for r in records)
    warning = next(r for r in records if r["logger"] == "orchestrator.integrations.invoke")
    assert warning["level"] == "WARNING" and warning["stateName"] == "Work" and warning["attempt"] == 1
    assert warning["executionArn"].startswith("arn:aws:states:us-east-1:123456789012:execution:flow:")
    assert SECRET_INPUT not in ran.stderr


def test_an_activity_is_counted_under_its_arn(observed: Observed, workload: Workload) -> None:
    """An activity's start and end are recorded by the API (GetActivityTask, SendTaskSuccess), its
    scheduling by a worker: the metrics of the two processes make one Task."""
    sfn = client(observed.api_url)
    activity = sfn.create_activity(name=f"approve-{uuid.uuid4().hex[:6]}")["activityArn"]
    machine = sfn.create_state_machine(
        name=f"activity-{uuid.uuid4().hex[:6]}", definition=json.dumps(task(activity)), roleArn=ROLE
    )
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")["executionArn"]
    claimed = sfn.get_activity_task(activityArn=activity, workerName="approver")
    assert claimed.get("taskToken"), "the activity task was not handed out"
    sfn.send_task_success(taskToken=claimed["taskToken"], output='{"approved": true}')
    assert observed.cluster.wait_all([execution], timeout=60) == {execution: "SUCCEEDED"}
    labels = {"kind": "activity", "resource": activity}
    wait_for(
        lambda: _sample(observed.scrape(), "orchestrator_tasks_succeeded_total", **labels) == 1, 10, what="the count"
    )
    samples = observed.scrape()
    counted = {
        name: _sample(samples, name, **labels)
        for name in (
            "orchestrator_tasks_scheduled_total",
            "orchestrator_tasks_started_total",
            "orchestrator_tasks_succeeded_total",
            "orchestrator_task_schedule_time_seconds_count",
            "orchestrator_task_run_time_seconds_count",
        )
    }
    assert counted == dict.fromkeys(counted, 1.0)
