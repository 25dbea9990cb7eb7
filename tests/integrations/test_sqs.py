"""sqs:sendMessage on local queues (run_local, the CLI, a real worker cluster answering
.waitForTaskToken through the Client and the CLI) and on an SQS endpoint (moto's server) through boto3."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from orchestrator import config, run_local
from orchestrator.client import Client
from orchestrator.integrations import sqs
from orchestrator.service import Service, ServiceError
from orchestrator.store.migrate import upgrade
from tests.runtime.conftest import REDIS_URL, close_clusters, database_url, new_cluster  # noqa: F401

SEND = "arn:aws:states:::sqs:sendMessage"
ASK = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
ATTRIBUTES = {
    "kind": {"DataType": "String", "StringValue": "order"},
    "amount": {"DataType": "Number", "StringValue": "42"},
    "blob": {"DataType": "Binary", "BinaryValue": "AAEC"},
}


@pytest.fixture()
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Service:
    """An embedded home of this test's own (a fresh SQLite database), and a Service on it."""
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(tmp_path / "home"))
    for name in ("ORCHESTRATOR_DATABASE_URL", "ORCHESTRATOR_BROKER_URL", "ORCHESTRATOR_ROUTE_TO_AWS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ORCHESTRATOR_SQS_ENDPOINT_URL", raising=False)
    settings = config.load()
    upgrade(settings.database_url)
    return Service(settings)


def send_machine(parameters: dict[str, Any], resource: str = SEND, **state: Any) -> dict[str, Any]:
    return {
        "StartAt": "Send",
        "States": {"Send": {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True, **state}},
    }


def url(name: str, account: str = "111111111111") -> str:
    return f"https://sqs.us-east-1.amazonaws.com/{account}/{name}"


# -- local queues through run_local ------------------------------------------------------------------


def test_send_message_returns_sqs_answer_with_sdk_metadata_and_the_consumer_gets_it(service: Service) -> None:
    service.create_queue("orders")
    parameters = {"QueueUrl": url("orders"), "MessageBody.$": "$.order", "MessageAttributes": ATTRIBUTES}
    result = run_local(send_machine(parameters), {"order": {"id": 7, "items": ["a"]}})
    assert result.status == "SUCCEEDED", result.cause
    output = result.output
    body = '{"id":7,"items":["a"]}'  # a JSON body is sent as its JSON text
    assert list(output) == [
        "MD5OfMessageAttributes",
        "MD5OfMessageBody",
        "MessageId",
        "SdkHttpMetadata",
        "SdkResponseMetadata",
    ]
    assert output["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    headers = output["SdkHttpMetadata"]["HttpHeaders"]
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert headers["Content-Length"] == "166"  # as AWS's recorded answer with attributes
    assert output["SdkResponseMetadata"]["RequestId"] == headers["x-amzn-RequestId"]

    (message,) = service.receive_messages("orders")["Messages"]
    assert message["Body"] == body
    assert message["MessageId"] == output["MessageId"]
    assert message["MessageAttributes"] == ATTRIBUTES
    assert message["MD5OfMessageAttributes"] == output["MD5OfMessageAttributes"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"


def test_a_received_message_is_hidden_until_its_visibility_timeout_and_gone_once_deleted(service: Service) -> None:
    service.create_queue("work", visibility_timeout=0)
    service.send_message("work", "first")
    (taken,) = service.receive_messages("work", visibility_timeout=600)["Messages"]
    assert service.receive_messages("work")["Messages"] == []  # in flight
    assert service.list_queues()[0]["ApproximateNumberOfMessagesNotVisible"] == 1
    service.send_message("work", "second")
    (again,) = service.receive_messages("work", visibility_timeout=0)["Messages"]
    assert again["Body"] == "second"
    (second_time,) = service.receive_messages("work")["Messages"]  # visible again at once (timeout 0)
    assert second_time["Attributes"]["ApproximateReceiveCount"] == "2"
    # The handle of the earlier receive deletes nothing; the latest one deletes it.
    assert service.delete_message("work", again["ReceiptHandle"]) == {"Deleted": False}
    assert service.delete_message("work", second_time["ReceiptHandle"]) == {"Deleted": True}
    assert service.delete_message("work", taken["ReceiptHandle"]) == {"Deleted": True}
    assert service.receive_messages("work", max_messages=10)["Messages"] == []


def test_a_delayed_message_is_not_received_before_its_delay(service: Service) -> None:
    service.create_queue("later")
    run_local(send_machine({"QueueUrl": url("later"), "MessageBody": "x", "DelaySeconds": 900}))
    assert service.receive_messages("later")["Messages"] == []
    assert service.list_queues()[0]["ApproximateNumberOfMessagesNotVisible"] == 1


def test_fifo_queues_number_messages_deduplicate_and_keep_a_group_in_order(service: Service) -> None:
    service.create_queue("steps.fifo", content_based_deduplication=True)
    parameters = {"QueueUrl": url("steps.fifo"), "MessageBody.$": "$.body", "MessageGroupId": "g1"}
    first = run_local(send_machine(parameters), {"body": "one"}).output
    repeat = run_local(send_machine(parameters), {"body": "one"}).output
    second = run_local(send_machine(parameters), {"body": "two"}).output
    assert first["SequenceNumber"] == "00000000000000000001"
    assert (repeat["MessageId"], repeat["SequenceNumber"]) == (first["MessageId"], first["SequenceNumber"])
    assert second["SequenceNumber"] == "00000000000000000002"
    (head,) = service.receive_messages("steps.fifo")["Messages"]
    assert head["Body"] == "one"
    assert service.receive_messages("steps.fifo")["Messages"] == []  # its group has a message in flight
    service.delete_message("steps.fifo", head["ReceiptHandle"])
    assert [m["Body"] for m in service.receive_messages("steps.fifo", max_messages=10)["Messages"]] == ["two"]

    no_group = run_local(send_machine({"QueueUrl": url("steps.fifo"), "MessageBody": "x"}))
    assert no_group.error == "SQS.AmazonSQSException"
    assert "Error Code: MissingParameter" in str(no_group.cause)


def test_sqs_errors_are_named_as_step_functions_names_them(service: Service) -> None:
    missing = run_local(send_machine({"QueueUrl": url("nowhere"), "MessageBody": "x"}))
    assert missing.error == "SQS.QueueDoesNotExistException"
    assert "Error Code: AWS.SimpleQueueService.NonExistentQueue" in str(missing.cause)
    service.create_queue("q")
    # AWS's recorded case: a null MessageBody.
    empty = run_local(send_machine({"QueueUrl": url("q"), "MessageBody": None}))
    assert empty.error == "SQS.AmazonSQSException"
    assert str(empty.cause).startswith(
        "The request must contain the parameter MessageBody. (Service: AmazonSQS; Status Code: 400; "
        "Error Code: MissingParameter; Request ID: "
    )
    too_late = run_local(send_machine({"QueueUrl": url("q"), "MessageBody": "x", "DelaySeconds": 901}))
    assert too_late.error == "SQS.AmazonSQSException" and "InvalidParameterValue" in str(too_late.cause)
    bad_type = {"a": {"DataType": "Date", "StringValue": "x"}}
    wrong = run_local(send_machine({"QueueUrl": url("q"), "MessageBody": "x", "MessageAttributes": bad_type}))
    assert wrong.error == "SQS.AmazonSQSException"
    with pytest.raises(ServiceError) as refused:
        service.receive_messages("q", max_messages=11)
    assert refused.value.code == "InvalidParameterValue"


def test_the_cli_creates_sends_receives_and_deletes(service: Service) -> None:
    env = {**os.environ, "ORCHESTRATOR_HOME": os.environ["ORCHESTRATOR_HOME"]}

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "orchestrator.cli", "queues", *args], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert cli("create", "jobs").strip() == "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"
    message_id = cli("send", "jobs", '{"TaskToken": "abc", "n": 1}').strip()
    assert service.list_queues()[0]["ApproximateNumberOfMessages"] == 1
    received = cli("receive", "jobs", "--wait", "1")
    assert message_id in received and "task token: abc" in received
    handle = received.split("receipt handle: ")[1].split()[0]
    assert cli("delete-message", "jobs", handle).strip() == "deleted"
    assert service.receive_messages("jobs")["Messages"] == []


# -- a real cluster: .waitForTaskToken answered by consumers ---------------------------------------------


def test_wait_for_task_token_is_answered_by_a_consumer_of_the_queue_on_a_real_cluster(
    database_url: str,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    cluster = new_cluster(database_url, REDIS_URL, tmp_path / "cluster")
    name = f"approvals-{uuid.uuid4().hex[:8]}"
    machine_definition = send_machine(
        {"QueueUrl": url(name), "MessageBody": {"TaskToken.$": "$$.Task.Token", "order.$": "$.order"}},
        resource=ASK,
        ResultPath="$.decision",
    )
    try:
        cluster.service.create_queue(name)
        cluster.start_worker(concurrency=2)
        cluster.start_scheduler()
        machine = cluster.state_machine(machine_definition)

        # A consumer with the Python client.
        first = cluster.start(machine, {"order": 1})
        with Client(settings=cluster.settings) as client:
            (message,) = client.receive_messages(url(name), wait_seconds=20)["Messages"]
            body = json.loads(message["Body"])
            assert body["order"] == 1
            client.send_task_success(body["TaskToken"], {"approved": True})
            assert client.delete_message(url(name), message["ReceiptHandle"]) == {"Deleted": True}
        described = cluster.wait(first)
        assert described["status"] == "SUCCEEDED", described
        assert json.loads(described["output"]) == {"order": 1, "decision": {"approved": True}}
        submitted = next(e for e in cluster.history(first) if e["type"] == "TaskSubmitted")
        sent = json.loads(submitted["taskSubmittedEventDetails"]["output"])
        assert sent["MessageId"] == message["MessageId"]

        # A consumer with the CLI.
        second = cluster.start(machine, {"order": 2})
        env = {**cluster.env, "ORCHESTRATOR_HANDLER_MODULES": ""}
        received = subprocess.run(
            [sys.executable, "-m", "orchestrator.cli", "queues", "receive", name, "--wait", "20", "--json", "--delete"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert received.returncode == 0, received.stderr
        token = json.loads(json.loads(received.stdout)["Messages"][0]["Body"])["TaskToken"]
        answered = subprocess.run(
            [sys.executable, "-m", "orchestrator.cli", "send-task-success", token, "--output", '{"approved": false}'],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert answered.returncode == 0, answered.stderr
        assert json.loads(cluster.wait(second)["output"])["decision"] == {"approved": False}
        assert cluster.service.list_queues(name)[0]["ApproximateNumberOfMessages"] == 0
        assert cluster.service.receive_messages(name)["Messages"] == []  # --delete deleted it
    finally:
        close_clusters([cluster])


# -- an SQS endpoint through boto3 (moto's server) ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture()
def moto_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    try:
        yield endpoint
    finally:
        server.stop()


def test_an_sqs_endpoint_gets_the_messages_through_boto3(
    service: Service, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_SQS_ENDPOINT_URL", moto_endpoint)
    remote = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    queue_url = remote.create_queue(QueueName="remote-orders")["QueueUrl"]
    parameters = {"QueueUrl": queue_url, "MessageBody.$": "$", "MessageAttributes": ATTRIBUTES}
    result = run_local(send_machine(parameters), {"id": 9})
    assert result.status == "SUCCEEDED", result.cause
    output = result.output
    assert output["MD5OfMessageBody"] == hashlib.md5(b'{"id":9}').hexdigest()
    # moto computes the attributes' MD5 on its own: the local service's must be the same.
    assert output["MD5OfMessageAttributes"] == sqs.md5_of_attributes(ATTRIBUTES)
    assert output["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert set(output) >= {"MessageId", "SdkResponseMetadata"}

    (message,) = Client().receive_messages(queue_url, wait_seconds=1)["Messages"]
    assert (message["MessageId"], message["Body"]) == (output["MessageId"], '{"id":9}')
    assert Client().delete_message(queue_url, message["ReceiptHandle"]) == {"Deleted": True}
    assert remote.receive_message(QueueUrl=queue_url).get("Messages", []) == []

    missing = run_local(send_machine({"QueueUrl": f"{moto_endpoint}/123456789012/nowhere", "MessageBody": "x"}))
    assert missing.error == "SQS.QueueDoesNotExistException", missing.cause


def test_routes_send_only_the_named_queues_to_the_endpoint(
    service: Service, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto_endpoint)  # boto3's own setting for the endpoint
    monkeypatch.setenv("ORCHESTRATOR_ROUTE_TO_AWS", "sqs:billing-*")
    remote = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    remote_url = remote.create_queue(QueueName="billing-eu")["QueueUrl"]
    service.create_queue("shipping")
    assert run_local(send_machine({"QueueUrl": remote_url, "MessageBody": "to aws"})).status == "SUCCEEDED"
    assert run_local(send_machine({"QueueUrl": url("shipping"), "MessageBody": "local"})).status == "SUCCEEDED"
    assert [m["Body"] for m in remote.receive_message(QueueUrl=remote_url)["Messages"]] == ["to aws"]
    assert [m["Body"] for m in service.receive_messages("shipping")["Messages"]] == ["local"]


def test_queues_are_created_once_purged_and_deleted_and_http_clients_are_told_where_to_read(service: Service) -> None:
    url_of = service.create_queue("jobs", visibility_timeout=10)["QueueUrl"]
    assert service.create_queue("jobs", visibility_timeout=10) == {"QueueUrl": url_of}  # idempotent, as SQS
    with pytest.raises(ServiceError) as different:
        service.create_queue("jobs", visibility_timeout=20)
    assert different.value.code == "QueueAlreadyExists"
    for n in range(3):
        service.send_message(url_of, {"n": n})
    assert service.purge_queue("jobs") == {"Purged": 3}
    service.send_message("jobs", "left")
    service.delete_queue(url_of)
    assert service.list_queues() == []
    with pytest.raises(ServiceError) as gone:
        service.send_message("jobs", "x")
    assert gone.value.code == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(TypeError, match="local queues are read in-process"):
        Client(endpoint_url="http://127.0.0.1:9").receive_messages(url_of)


def test_concurrent_receivers_on_postgresql_never_take_the_same_message(
    database_url: str,  # noqa: F811 - the fixture
) -> None:
    settings = config.load({"ORCHESTRATOR_DATABASE_URL": database_url})
    pg = Service(settings)
    name = f"fanout-{uuid.uuid4().hex[:8]}"
    pg.create_queue(name, visibility_timeout=600)
    sent = {pg.send_message(name, {"n": n})["MessageId"] for n in range(200)}
    taken: list[str] = []
    lock = threading.Lock()

    def receiver() -> None:
        while True:
            batch = pg.receive_messages(name, max_messages=10)["Messages"]
            if not batch:
                return
            with lock:
                taken.extend(m["MessageId"] for m in batch)

    threads = [threading.Thread(target=receiver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == len(set(taken)) == 200  # each message went to one receiver only
    assert set(taken) == sent
