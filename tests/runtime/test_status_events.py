"""Status-change events (issue 14, item 5) from a real cluster (PostgreSQL, Redis, a worker, the
scheduler) to a real HTTP server in this process, and to a ``@subscriber`` function in the worker.

The events file gives three webhooks: ``all`` (every event), ``flaky`` (refuses each event twice,
then takes it; only SUCCEEDED events of the machine ``events-ok``) and ``down`` (answers 500 until
told otherwise; only FAILED events of ``events-fail``, three attempts, then a dead letter).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from orchestrator.events import SIGNATURE_HEADER, SignatureError, verify_signature
from orchestrator.runtime import operations
from orchestrator.runtime.driver import load_machine
from orchestrator.store import state_machines as catalog
from orchestrator.store.db import session_scope
from orchestrator.store.models import EventDelivery, OutboxMessage, StatusEvent
from tests.runtime.conftest import ROOT, Cluster, running_cluster, wait_for

SECRETS = {"all": "all-secret", "flaky": "flaky-secret", "down": "down-secret"}
OK_MACHINE, FAIL_MACHINE, SLOW_MACHINE = "events-ok", "events-fail", "events-slow"


class Receiver:
    """An HTTP server that records every request, refusing as each path is told to."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.down = True  # /down answers 500 while this holds
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                event = json.loads(body)
                with receiver.lock:
                    seen = [r for r in receiver.requests if r["path"] == self.path and r["event"]["id"] == event["id"]]
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body, "event": event}
                    )
                refuse = (self.path == "/flaky" and len(seen) < 2) or (self.path == "/down" and receiver.down)
                self.send_response(503 if self.path == "/flaky" and refuse else 500 if refuse else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def received(self, path: str, execution_arn: str) -> list[dict[str, Any]]:
        with self.lock:
            return [
                r for r in self.requests if r["path"] == path and r["event"]["detail"]["executionArn"] == execution_arn
            ]

    def statuses(self, path: str, execution_arn: str) -> list[str]:
        return [r["event"]["detail"]["status"] for r in self.received(path, execution_arn)]


def _events_file(path: Path, url: str) -> Path:
    path.write_text(
        f"""
[[webhook]]
name = "all"
url = "{url}/all"
secret = "{SECRETS["all"]}"
retry_delay = 0.2

[[webhook]]
name = "flaky"
url = "{url}/flaky"
secret_env = "TEST_FLAKY_SECRET"
state_machines = ["{OK_MACHINE}"]
statuses = ["SUCCEEDED"]
retry_delay = 0.2
max_retry_delay = 0.5

[[webhook]]
name = "down"
url = "{url}/down"
secret = "{SECRETS["down"]}"
state_machines = ["arn:aws:states:us-east-1:123456789012:stateMachine:{FAIL_MACHINE}"]
statuses = ["FAILED"]
max_attempts = 3
retry_delay = 0.2
"""
    )
    return path


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture(scope="module")
def cluster(database_url: str, tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("status-events")
    env = {
        "ORCHESTRATOR_EVENTS_FILE": str(_events_file(tmp / "events.toml", receiver.url)),
        "ORCHESTRATOR_HANDLER_MODULES": "tests.runtime.handlers,tests.runtime.status_subscribers",
        "TEST_STATUS_EVENTS_FILE": str(tmp / "subscriber.jsonl"),
        "TEST_FLAKY_SECRET": SECRETS["flaky"],
    }
    os.environ["TEST_FLAKY_SECRET"] = SECRETS["flaky"]  # this process reads the file too (StartExecution)
    with running_cluster(database_url, tmp, extra_env=env) as running:
        running.state_machine({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}, OK_MACHINE)
        failing = {"StartAt": "No", "States": {"No": {"Type": "Fail", "Error": "Credit.Refused", "Cause": "too low"}}}
        running.state_machine(failing, FAIL_MACHINE)
        slow = {"StartAt": "Nap", "TimeoutSeconds": 1, "States": {"Nap": {"Type": "Wait", "Seconds": 30, "End": True}}}
        running.state_machine(slow, SLOW_MACHINE)
        yield running


def _arn(cluster: Cluster, machine: str) -> str:
    return cluster.service.state_machine_arn(machine)


def _delivery(cluster: Cluster, event_id: str, subscriber: str) -> EventDelivery | None:
    with session_scope(cluster.settings.database_url) as session:
        query = select(EventDelivery).where(EventDelivery.event_id == event_id, EventDelivery.subscriber == subscriber)
        found = session.scalars(query).first()
        if found is not None:
            session.expunge(found)
        return found


def _status_order(event: dict[str, Any]) -> int:
    return 0 if event["detail"]["status"] == "RUNNING" else 1


def _details(receiver: Receiver, execution_arn: str) -> list[dict[str, Any]]:
    return [r["event"]["detail"] for r in receiver.received("/all", execution_arn)]


def _millis(moment: Any) -> int:
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def test_a_success_sends_running_then_succeeded_in_eventbridge_shape_signed(
    cluster: Cluster, receiver: Receiver
) -> None:
    # Given a machine that succeeds, when an execution of it runs to its end
    arn = cluster.start(_arn(cluster, OK_MACHINE), {"applicant": "Ada", "amount": 1200})
    described = cluster.wait(arn)
    assert described["status"] == "SUCCEEDED"
    # Then the webhook for every event gets RUNNING, then SUCCEEDED
    wait_for(lambda: len(receiver.received("/all", arn)) == 2, 30, what="two events at /all")
    # (in either order: deliveries run side by side, and EventBridge does not promise an order either)
    running, succeeded = sorted((r["event"] for r in receiver.received("/all", arn)), key=_status_order)
    assert [running["detail"]["status"], succeeded["detail"]["status"]] == ["RUNNING", "SUCCEEDED"]
    for event in (running, succeeded):
        assert list(event) == [
            "version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail",
        ]  # fmt: skip
        assert event["version"] == "0"
        assert str(uuid.UUID(event["id"])) == event["id"]
        assert event["detail-type"] == "Step Functions Execution Status Change"
        assert event["source"] == "aws.states"
        assert event["account"] == "123456789012"
        assert event["region"] == "us-east-1"
        assert event["resources"] == [arn]
        assert len(event["time"]) == 20 and event["time"].endswith("Z")
        detail = event["detail"]
        assert list(detail) == [
            "executionArn", "stateMachineArn", "name", "status", "startDate", "stopDate", "input", "inputDetails",
            "output", "outputDetails", "redriveCount", "redriveDate", "redriveStatus", "redriveStatusReason",
            "error", "cause",
        ]  # fmt: skip
        assert detail["executionArn"] == arn
        assert detail["stateMachineArn"] == _arn(cluster, OK_MACHINE)
        assert detail["name"] == arn.rsplit(":", 1)[1]
        assert detail["startDate"] == _millis(described["startDate"])
        assert detail["input"] == described["input"]  # as DescribeExecution shows it
        assert json.loads(detail["input"]) == {"applicant": "Ada", "amount": 1200}
        assert detail["inputDetails"] == {"included": True}
        assert detail["redriveCount"] == 0
        assert detail["redriveDate"] is None
        assert detail["redriveStatus"] == "NOT_REDRIVABLE"
        assert detail["error"] is None and detail["cause"] is None
    assert running["detail"]["stopDate"] is None
    assert running["detail"]["output"] is None and running["detail"]["outputDetails"] is None
    assert running["detail"]["redriveStatusReason"] == "Execution is RUNNING and cannot be redriven"
    assert succeeded["detail"]["stopDate"] == _millis(described["stopDate"])
    assert succeeded["detail"]["output"] == described["output"]
    assert succeeded["detail"]["outputDetails"] == {"included": True}
    assert succeeded["detail"]["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"
    assert running["id"] != succeeded["id"]
    # And each is kept in status_events as it was sent
    for event in (running, succeeded):
        with session_scope(cluster.settings.database_url) as session:
            row = wait_for(lambda e=event: session.get(StatusEvent, e["id"]), 10, what="the event's row")
            assert (row.status, json.loads(row.event)) == (event["detail"]["status"], event)
            assert row.time.strftime("%Y-%m-%dT%H:%M:%SZ") == event["time"]
    # And each request is signed with the webhook's secret, over the exact body received
    for request in receiver.received("/all", arn):
        signature = request["headers"][SIGNATURE_HEADER]
        assert verify_signature(SECRETS["all"], signature, request["body"]) > 0
        with pytest.raises(SignatureError):
            verify_signature("another-secret", signature, request["body"])
        with pytest.raises(SignatureError):
            verify_signature(SECRETS["all"], signature, request["body"] + b" ")
        assert request["headers"]["Content-Type"] == "application/json"


def test_a_refusing_webhook_gets_the_event_again_until_it_takes_it(cluster: Cluster, receiver: Receiver) -> None:
    # Given the flaky webhook, which refuses an event twice (503) and only wants SUCCEEDED of events-ok
    arn = cluster.start(_arn(cluster, OK_MACHINE))
    assert cluster.wait(arn)["status"] == "SUCCEEDED"
    # Then it got the SUCCEEDED event three times, the same event each time, attempts 1, 2, 3
    wait_for(lambda: len(receiver.received("/flaky", arn)) == 3, 30, what="three tries at /flaky")
    tries = receiver.received("/flaky", arn)
    assert {r["event"]["id"] for r in tries} == {tries[0]["event"]["id"]}
    assert [r["headers"]["X-Orchestrator-Attempt"] for r in tries] == ["1", "2", "3"]
    assert receiver.statuses("/flaky", arn) == ["SUCCEEDED"] * 3  # the filter kept RUNNING away
    for request in tries:
        verify_signature(SECRETS["flaky"], request["headers"][SIGNATURE_HEADER], request["body"])
    delivered = wait_for(
        lambda: (d := _delivery(cluster, tries[0]["event"]["id"], "webhook:flaky")) and d.status == "DELIVERED" and d,
        10,
        what="the delivery to be DELIVERED",
    )
    assert delivered.attempts == 3 and delivered.last_error is None
    # And the other machine's executions never reach it (filter by state machine)
    failed = cluster.start(_arn(cluster, FAIL_MACHINE))
    cluster.wait(failed)
    wait_for(lambda: len(receiver.received("/all", failed)) == 2, 30, what="the failed execution's events")
    assert receiver.received("/flaky", failed) == []


def test_a_failure_reaches_its_subscriber_and_a_dead_webhook_becomes_a_replayable_dead_letter(
    cluster: Cluster, receiver: Receiver
) -> None:
    # Given the down webhook (FAILED events of events-fail, 3 attempts) and the failures-to-file subscriber
    arn = cluster.start(_arn(cluster, FAIL_MACHINE))
    assert cluster.wait(arn)["status"] == "FAILED"
    # Then the webhook was tried 3 times, and the delivery is a dead letter
    wait_for(lambda: len(receiver.received("/down", arn)) == 3, 30, what="three tries at /down")
    event_id = receiver.received("/down", arn)[0]["event"]["id"]
    dead = wait_for(
        lambda: (d := _delivery(cluster, event_id, "webhook:down")) and d.status == "DEAD" and d, 10, what="DEAD"
    )
    assert dead.attempts == 3 and dead.last_error.startswith("HTTP 500")
    # which the command line lists
    listed = _cli(cluster, "events", "dead-letters", "--json")
    mine = [d for d in listed if d["deliveryId"] == dead.id]
    assert len(mine) == 1
    assert mine[0]["subscriber"] == "webhook:down" and mine[0]["executionArn"] == arn
    assert mine[0]["executionStatus"] == "FAILED" and mine[0]["attempts"] == 3
    # When the webhook is back and the dead letter is replayed, it is delivered (a 4th request)
    receiver.down = False
    assert _cli(cluster, "events", "replay", str(dead.id), "--json") == {"replayed": [dead.id]}
    wait_for(lambda: len(receiver.received("/down", arn)) == 4, 30, what="the replayed delivery")
    replayed = wait_for(
        lambda: (d := _delivery(cluster, event_id, "webhook:down")) and d.status == "DELIVERED" and d, 10, what="it"
    )
    assert replayed.attempts == 1
    assert all(d["deliveryId"] != dead.id for d in _cli(cluster, "events", "dead-letters", "--json"))
    # And the @subscriber function in the worker got the FAILED event, with the error and cause
    written = Path(cluster.env["TEST_STATUS_EVENTS_FILE"])
    wait_for(lambda: written.exists() and arn in written.read_text(), 30, what="the subscriber's file")
    got = [json.loads(line) for line in written.read_text().splitlines()]
    failure = next(e for e in got if e["detail"]["executionArn"] == arn)
    assert failure["detail"]["status"] == "FAILED"
    assert (failure["detail"]["error"], failure["detail"]["cause"]) == ("Credit.Refused", "too low")
    assert failure["detail"]["redriveStatus"] == "REDRIVABLE" and failure["detail"]["redriveStatusReason"] is None
    assert {e["detail"]["status"] for e in got} == {"FAILED"}  # its filter let nothing else through


def test_stop_timeout_and_redrive_each_send_their_event(cluster: Cluster, receiver: Receiver) -> None:
    # A stopped execution (StopExecution in this process): ABORTED, with the stop's error and cause
    stopped = cluster.start(_arn(cluster, SLOW_MACHINE))
    cluster.service.stop_execution(stopped, error="Ops.Stop", cause="not needed")
    wait_for(lambda: sorted(receiver.statuses("/all", stopped)) == ["ABORTED", "RUNNING"], 30, what="ABORTED")
    aborted = next(e for e in _details(receiver, stopped) if e["status"] == "ABORTED")
    assert (aborted["error"], aborted["cause"]) == ("Ops.Stop", "not needed")
    assert aborted["stopDate"] == _millis(cluster.describe(stopped)["stopDate"])
    # A timed-out one (its TimeoutSeconds, fired by the scheduler): TIMED_OUT
    timed_out = cluster.start(_arn(cluster, SLOW_MACHINE))
    assert cluster.wait(timed_out, timeout=30)["status"] == "TIMED_OUT"
    wait_for(lambda: sorted(receiver.statuses("/all", timed_out)) == ["RUNNING", "TIMED_OUT"], 30, what="TIMED_OUT")
    # A redriven one: RUNNING again, with its redrive count and date, then its new end
    failed = cluster.start(_arn(cluster, FAIL_MACHINE))
    cluster.wait(failed)
    redriven = cluster.service.redrive_execution(failed)
    wait_for(lambda: sorted(receiver.statuses("/all", failed)) == ["FAILED"] * 2 + ["RUNNING"] * 2, 30, what="4")
    again = next(e for e in _details(receiver, failed) if e["status"] == "RUNNING" and e["redriveCount"] == 1)
    assert again["redriveCount"] == 1 and again["redriveDate"] == _millis(redriven["redriveDate"])
    assert again["stopDate"] is None and again["error"] is None


def test_an_event_exists_only_if_its_status_change_committed(cluster: Cluster, receiver: Receiver) -> None:
    # Given a StartExecution whose transaction rolls back after the execution and its event were written
    name = f"rolled-back-{uuid.uuid4().hex[:8]}"
    arn = cluster.service.execution_arn(OK_MACHINE, name)
    with pytest.raises(RuntimeError), session_scope(cluster.settings.database_url) as session:
        machine = catalog.by_name(session, OK_MACHINE)
        assert machine is not None
        _, messages = operations.start(
            session,
            cluster.settings,
            machine=load_machine(session, machine.definition_hash),
            execution={
                "arn": arn,
                "name": name,
                "state_machine_id": machine.id,
                "definition_hash": machine.definition_hash,
                "role_arn": machine.role_arn,
                "input": {},
            },
            now=dt.datetime.now(dt.UTC),
        )
        event_messages = [m for m in messages if m.task == "orchestrator.status_event"]
        assert len(event_messages) == 1 and arn in event_messages[0].args[1]  # written in that transaction
        raise RuntimeError("the caller's transaction fails")
    # Then neither the event nor its message is left behind, and no webhook hears of it
    with session_scope(cluster.settings.database_url) as session:
        assert session.scalar(select(OutboxMessage.id).where(OutboxMessage.id == event_messages[0].outbox_id)) is None
    # (an execution committed after it is heard of: nothing of the rolled-back one came before it)
    later = cluster.start(_arn(cluster, OK_MACHINE))
    cluster.wait(later)
    wait_for(lambda: len(receiver.received("/all", later)) == 2, 30, what="the later execution's events")
    with session_scope(cluster.settings.database_url) as session:
        assert session.scalar(select(func.count()).select_from(StatusEvent).where(StatusEvent.event.contains(arn))) == 0
    assert receiver.received("/all", arn) == []


def _cli(cluster: Cluster, *argv: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *argv],
        env=cluster.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
