"""The credit-application workflow on PostgreSQL and Redis, with a real worker and scheduler, through boto3.

As a user runs it: ``orchestrator serve`` in front of ``orchestrator worker`` and ``scheduler``, the
SNS topic ``TaskTokenTopic`` and the DynamoDB table ``GetCreditBureau`` set up as the demo sets them
up, the state machine created and started with boto3. The person who approves a credit limit is a
webhook subscribed to the topic: it reads the task token from the SNS notification it receives and
answers with boto3's SendTaskSuccess; a rejection takes the token from the message stored for the
topic and answers with SendTaskFailure.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from orchestrator.integrations import dynamodb
from tests.api.conftest import Server, client
from tests.examples.conftest import (
    BRANCHES,
    TABLE,
    TOPIC,
    UNAVAILABLE,
    application,
    assert_inside,
    bureau_names,
    bureaus,
    definition,
    expected_scores,
    iteration,
    root_sequence,
    split,
    state_output,
    unavailable_iteration,
)
from tests.runtime.conftest import (  # noqa: F401 - database_url is a fixture
    REDIS_URL,
    Cluster,
    assert_history_is_sound,
    close_clusters,
    database_url,
    new_cluster,
    wait_for,
)

ROLE = "arn:aws:iam::123456789012:role/credit-application"


class Approver:
    """A webhook subscribed to TaskTokenTopic, as an approver's service would be: keeps every SNS
    notification it is sent."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        received = self.notifications

        class Receive(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append({"headers": dict(self.headers), **json.loads(body)})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Receive)
        self.url = f"http://127.0.0.1:{self.server.server_port}/approvals"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Approver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def request_for(self, execution_arn: str, timeout: float = 30) -> dict[str, Any]:
        """The notification asking to approve ``execution_arn``'s credit limit."""

        def arrived() -> dict[str, Any] | None:
            return next(
                (n for n in list(self.notifications) if json.loads(n["Message"])["ExecutionId"] == execution_arn), None
            )

        return dict(wait_for(arrived, timeout, what=f"the approval request of {execution_arn}"))


@dataclass
class Deployment:
    """The running system as a user reaches it (boto3 on the API), plus the cluster behind it."""

    cluster: Cluster
    sfn: Any  # boto3's stepfunctions client on `orchestrator serve`
    machine: str
    approver: Approver

    def start(self, execution_input: dict[str, Any]) -> str:
        started = self.sfn.start_execution(
            stateMachineArn=self.machine, name=f"application-{uuid.uuid4().hex[:8]}", input=json.dumps(execution_input)
        )
        return str(started["executionArn"])

    def wait(self, execution_arn: str, timeout: float = 60) -> dict[str, Any]:
        def ended() -> dict[str, Any] | None:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            return None if described["status"] == "RUNNING" else dict(described)

        return dict(wait_for(ended, timeout, poll=0.1, what=f"{execution_arn} to end"))

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        pages = self.sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
        events = [event for page in pages for event in page["events"]]
        assert_history_is_sound(events)
        return events


@pytest.fixture(scope="module")
def deployment(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:  # noqa: F811
    # Only the top-level `tasks` package's handlers: tests.runtime.handlers (the cluster's default) would
    # answer sns:publish.waitForTaskToken itself.
    cluster = new_cluster(
        database_url,
        REDIS_URL,
        tmp_path_factory.mktemp("credit-cluster"),
        extra_env={"ORCHESTRATOR_HANDLER_MODULES": ""},
    )
    try:
        worker = cluster.start_worker(concurrency=4, wait=False)
        cluster.start_scheduler()
        with Server(cluster) as server, Approver() as approver:  # the API starts while the worker does
            cluster.service.create_topic(TOPIC)
            cluster.service.subscribe(TOPIC, protocol="http", endpoint=approver.url)
            cluster.service.load_tables(bureaus())
            sfn = client(server.url)
            machine = sfn.create_state_machine(
                name=f"credit-application-{uuid.uuid4().hex[:6]}", definition=definition(), roleArn=ROLE
            )["stateMachineArn"]
            cluster.wait_ready(worker)
            yield Deployment(cluster, sfn, machine, approver)
    finally:
        close_clusters([cluster])


@dataclass(frozen=True)
class Ended:
    """An execution that ended: as DescribeExecution and GetExecutionHistory tell it."""

    arn: str
    described: dict[str, Any]
    history: list[dict[str, Any]]

    @property
    def output(self) -> Any:
        return json.loads(self.described["output"])


def bad_email() -> dict[str, Any]:
    execution_input = application("input-auto-approve.json")
    execution_input["data"]["identity"]["email"] = "jane.doe-at-example.com"
    return execution_input


@pytest.fixture(scope="module")
def started(deployment: Deployment) -> dict[str, str]:
    """The module's applications, started at once so they run side by side (the unavailable bureau's
    run comes later: it needs a bureau in the table that the others must not see)."""
    inputs = {
        "auto": application("input-auto-approve.json"),
        "approval": application("input-needs-approval.json"),
        "rejection": {**application("input-needs-approval.json"), "creditRequested": 9000},
        "bad email": bad_email(),
    }
    return {path: deployment.start(execution_input) for path, execution_input in inputs.items()}


@pytest.fixture(scope="module")
def both_paths(deployment: Deployment, started: dict[str, str]) -> dict[str, Ended]:
    """The application of each kind; the larger one approved by the webhook's owner."""
    request = deployment.approver.request_for(started["approval"])
    token = json.loads(request["Message"])["TaskToken"]
    deployment.sfn.send_task_success(taskToken=token, output=json.dumps({"approved": True, "by": "approver"}))
    return {
        path: Ended(arn, deployment.wait(arn), deployment.history(arn))
        for path, arn in started.items()
        if path in ("auto", "approval")
    }


def scanned(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list(state_output(events, "Get list of credit bureaus")["Items"])


@pytest.mark.parametrize("path", ["auto", "approval"])
def test_both_paths_succeed_with_every_bureaus_score(both_paths: dict[str, Ended], path: str) -> None:
    ended = both_paths[path]
    assert ended.described["status"] == "SUCCEEDED", ended.described
    items = scanned(ended.history)
    assert {item["Name"]["S"] for item in items} == bureau_names()
    assert ended.output == expected_scores(ended.arn, items)
    limit = 3500 if path == "auto" else 7500
    assert state_output(ended.history, "Get credit limit")["credit"] == {"limit": limit}


def test_the_approval_request_reaches_the_subscriber_and_send_task_success_answers_it(
    deployment: Deployment, both_paths: dict[str, Ended]
) -> None:
    asked, auto = both_paths["approval"], both_paths["auto"]
    request = deployment.approver.request_for(asked.arn)
    assert request["Type"] == "Notification"
    assert request["TopicArn"] == "arn:aws:sns:us-east-1:123456789012:TaskTokenTopic"
    assert request["Subject"] == "A credit limit needs your approval"
    assert request["headers"]["x-amz-sns-message-type"] == "Notification"
    message = json.loads(request["Message"])
    assert {k: v for k, v in message.items() if k != "TaskToken"} == {
        "Applicant": "John",
        "CreditLimit": 7500,
        "ExecutionId": asked.arn,
    }
    # The publish's answer (TaskSubmitted) names the message the subscriber got; the approval is the result.
    submitted = next(e for e in asked.history if e["type"] == "TaskSubmitted")
    assert json.loads(submitted["taskSubmittedEventDetails"]["output"])["MessageId"] == request["MessageId"]
    succeeded = next(
        e for e in asked.history if e["type"] == "TaskSucceeded" and e["id"] > submitted["id"]
    )  # the approval task's own TaskSucceeded comes right after its TaskSubmitted
    assert succeeded["previousEventId"] == submitted["id"]
    assert json.loads(succeeded["taskSucceededEventDetails"]["output"]) == {"approved": True, "by": "approver"}
    assert state_output(asked.history, "Wait for human approval")["approval"] == {"approved": True, "by": "approver"}
    # Only the application of 5000 or more asked anyone.
    stored = deployment.cluster.service.list_messages(TOPIC)
    assert [m["MessageId"] for m in stored if m["ExecutionArn"] == asked.arn] == [request["MessageId"]]
    assert not [m for m in stored if m["ExecutionArn"] == auto.arn]


@pytest.mark.parametrize("path", ["auto", "approval"])
def test_the_history_is_the_sequence_aws_records(both_paths: dict[str, Ended], path: str) -> None:
    events = both_paths[path].history
    pieces = split(events)
    assert pieces.root == root_sequence(approved_by_a_person=path == "approval")
    assert pieces.branches == BRANCHES
    assert pieces.iterations == {i: iteration(i) for i in range(3)}
    assert_inside(events, pieces)


def test_a_rejection_through_send_task_failure_fails_the_execution(
    deployment: Deployment, started: dict[str, str]
) -> None:
    arn = started["rejection"]

    def stored_request() -> dict[str, Any] | None:
        mine = [m for m in deployment.cluster.service.list_messages(TOPIC) if m["ExecutionArn"] == arn]
        return mine[0] if mine else None

    message = json.loads(wait_for(stored_request, 30, what="the approval request on TaskTokenTopic")["Message"])
    assert message["CreditLimit"] == 9000
    cause = "An income of 40000 does not support a limit of 9000"
    deployment.sfn.send_task_failure(taskToken=message["TaskToken"], error="Credit.Rejected", cause=cause)

    described = deployment.wait(arn)
    assert (described["status"], described.get("error"), described.get("cause")) == ("FAILED", "Credit.Rejected", cause)
    events = deployment.history(arn)
    assert [e["type"] for e in events][-3:] == ["TaskSubmitted", "TaskFailed", "ExecutionFailed"]
    failed = events[-2]["taskFailedEventDetails"]
    assert (failed["resourceType"], failed["resource"]) == ("sns", "publish.waitForTaskToken")
    assert (failed["error"], failed["cause"]) == ("Credit.Rejected", cause)
    assert not any(e["type"] == "ParallelStateEntered" for e in events)


def test_an_invalid_email_fails_the_verification(deployment: Deployment, started: dict[str, str]) -> None:
    arn = started["bad email"]

    described = deployment.wait(arn)
    assert (described["status"], described.get("error")) == ("FAILED", "Applicant.InvalidEmail")
    cause = json.loads(described["cause"])  # Lambda's cause: a JSON document
    assert cause["errorType"] == "Applicant.InvalidEmail"
    assert cause["errorMessage"] == "'jane.doe-at-example.com' is not an email address"
    events = deployment.history(arn)
    assert [e["type"] for e in events][-2:] == ["ParallelStateFailed", "ExecutionFailed"]
    pieces = split(events)
    assert pieces.branches["Verify identity"][:4] == [
        "TaskStateEntered Verify identity",
        "TaskScheduled lambda:invoke",
        "TaskStarted lambda:invoke",
        "TaskFailed lambda:invoke",
    ]
    failed = next(e for e in events if e["type"] == "TaskFailed")
    assert failed["taskFailedEventDetails"]["error"] == "Applicant.InvalidEmail"
    entered = {e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e}
    assert "Get list of credit bureaus" not in entered


def test_an_unavailable_bureau_is_retried_then_caught(deployment: Deployment, both_paths: dict[str, Ended]) -> None:
    # both_paths: the other applications have scanned the table (or failed before) when the bureau is added
    deployment.cluster.service.put_item(TABLE, UNAVAILABLE)
    try:
        arn = deployment.start(application("input-auto-approve.json"))
        described = deployment.wait(arn)
    finally:
        key = {"TableName": TABLE, "Key": {"Name": UNAVAILABLE["Name"]}}
        dynamodb.execute("deleteItem", key, deployment.cluster.settings.database_url)
    assert described["status"] == "SUCCEEDED", described
    events = deployment.history(arn)
    items = scanned(events)
    down = next(i for i, item in enumerate(items) if item == UNAVAILABLE)
    output = json.loads(described["output"])
    assert output[down] == {"bureau": "Unreachable Bureau", "score": None, "error": "Bureau.Unavailable"}
    assert output[:down] + output[down + 1 :] == expected_scores(arn, items[:down] + items[down + 1 :])

    pieces = split(events)
    assert pieces.root == root_sequence(approved_by_a_person=False, bureaus=4)
    assert pieces.iterations == {i: unavailable_iteration(i) if i == down else iteration(i) for i in range(4)}
    # Three attempts, each failing as Bureau.Unavailable, the retries after 1 s and then 2 s.
    by_id = {e["id"]: e for e in events}
    attempts = [by_id[i] for i in pieces.ids[down]]
    failed = [e for e in attempts if e["type"] == "TaskFailed"]
    scheduled = [e for e in attempts if e["type"] == "TaskScheduled"]
    assert len(scheduled) == len(failed) == 3
    assert {e["taskFailedEventDetails"]["error"] for e in failed} == {"Bureau.Unavailable"}
    waited = [scheduled[n + 1]["timestamp"] - failed[n]["timestamp"] for n in range(2)]
    slack = dt.timedelta(milliseconds=10)  # history timestamps are kept to the millisecond
    assert waited[0] >= dt.timedelta(seconds=1) - slack and waited[1] >= dt.timedelta(seconds=2) - slack, waited
