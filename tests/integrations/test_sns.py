"""SNS (arn:aws:states:::sns:publish): local topics, AWS's result and errors, deliveries to webhooks (real
HTTP servers) and Python subscribers, through run_local; and once through the durable runtime (a real
worker on PostgreSQL and Redis), where deliveries are Celery tasks."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator import config, run_local
from orchestrator.integrations import sns
from orchestrator.integrations.subscribers import subscriber
from orchestrator.service import Service
from orchestrator.store.migrate import upgrade
from tests.conformance import corpus
from tests.integrations.test_http import Answer, Received, Recorder
from tests.runtime.conftest import REDIS_URL, close_clusters, database_url, new_cluster, wait_for  # noqa: F401

PUBLISH = "arn:aws:states:::sns:publish"
ASK = "arn:aws:states:::sns:publish.waitForTaskToken"
FAST = json.dumps({"healthyRetryPolicy": {"numRetries": 3, "minDelayTarget": 0.05, "maxDelayTarget": 0.2}})
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture()
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Service:
    """An embedded home of this test's own (a fresh SQLite database), and a Service on it."""
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(tmp_path / "home"))
    for name in ("ORCHESTRATOR_DATABASE_URL", "ORCHESTRATOR_BROKER_URL", "ORCHESTRATOR_REGION", "ORCHESTRATOR_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    settings = config.load()
    upgrade(settings.database_url)
    return Service(settings)


@pytest.fixture()
def webhook() -> Iterator[Recorder]:
    with Recorder(lambda request, n: Answer(200, "ok")) as server:
        yield server


def topic_arn(name: str, account: str = "123456789012") -> str:
    return f"arn:aws:sns:us-east-1:{account}:{name}"


def publish_machine(parameters: dict[str, Any], resource: str = PUBLISH, **state: Any) -> dict[str, Any]:
    return {
        "StartAt": "Publish",
        "States": {"Publish": {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True, **state}},
    }


def sql(service: Service, query: str, *args: Any) -> list[tuple[Any, ...]]:
    """A plain SQL query on the embedded database, as an analyst would run it."""
    path = service.settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        return connection.execute(query, args).fetchall()


# -- publishing -----------------------------------------------------------------------------------------


def test_publish_returns_sns_result_and_stores_the_message(service: Service) -> None:
    service.create_topic("Approvals")
    result = run_local(
        publish_machine(
            {
                "TopicArn": topic_arn("Approvals"),
                "Message": {"applicant": "Jane", "amount": 7000},
                "Subject": "Credit review",
                "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "review"}},
            }
        )
    )
    assert result.status == "SUCCEEDED", result.cause
    output = result.output
    assert UUID.match(output["MessageId"])
    metadata = output["SdkHttpMetadata"]
    request_id = output["SdkResponseMetadata"]["RequestId"]
    assert metadata["HttpStatusCode"] == 200
    assert metadata["HttpHeaders"]["Content-Length"] == "294"  # SNS's XML answer, as recorded on AWS
    assert metadata["HttpHeaders"]["x-amzn-RequestId"] == request_id
    assert metadata["AllHttpHeaders"]["x-amzn-RequestId"] == [request_id]
    assert metadata["AllHttpHeaders"]["Content-Type"] == ["text/xml"]
    assert re.match(r"^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$", metadata["HttpHeaders"]["Date"])
    assert "SequenceNumber" not in output
    rows = sql(
        service,
        "SELECT m.id, t.name, m.subject, m.message, m.message_attributes, m.execution_arn "
        "FROM topic_messages m JOIN topics t ON t.id = m.topic_id",
    )
    assert len(rows) == 1
    message_id, topic, subject, message, attributes, execution_arn = rows[0]
    assert (message_id, topic, subject) == (output["MessageId"], "Approvals", "Credit review")
    assert message == '{"applicant":"Jane","amount":7000}'  # a JSON Message is sent as its JSON text
    assert json.loads(attributes) == {"kind": {"DataType": "String", "StringValue": "review"}}
    assert execution_arn == result.execution_arn


def test_a_topic_arn_is_matched_by_name_whatever_its_account(service: Service) -> None:
    service.create_topic("Approvals")
    result = run_local(publish_machine({"TopicArn": topic_arn("Approvals", "111122223333"), "Message": "hi"}))
    assert result.status == "SUCCEEDED", result.cause
    assert sql(service, "SELECT message FROM topic_messages") == [("hi",)]


def test_an_unknown_topic_fails_as_sns_not_found_and_can_be_caught(service: Service) -> None:
    machine = publish_machine(
        {"TopicArn": topic_arn("Nowhere"), "Message": "hi"},
        Catch=[{"ErrorEquals": ["SNS.NotFoundException"], "ResultPath": "$.error", "Next": "Caught"}],
    )
    del machine["States"]["Publish"]["End"]
    machine["States"]["Publish"]["Next"] = "Caught"
    machine["States"]["Caught"] = {"Type": "Pass", "End": True}
    result = run_local(machine)
    assert result.status == "SUCCEEDED"
    error = result.output["error"]
    assert error["Error"] == "SNS.NotFoundException"
    assert error["Cause"].startswith(
        "Topic does not exist (Service: AmazonSNS; Status Code: 404; Error Code: NotFound;"
    )
    assert error["Cause"].endswith("; Proxy: null)")


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"TopicArn": "not-an-arn", "Message": "hi"}, "Invalid parameter: TopicArn"),
        ({"TopicArn": topic_arn("Approvals")}, "Invalid parameter: Empty message"),
        ({"TopicArn": topic_arn("Approvals"), "Message": ""}, "Invalid parameter: Empty message"),
        ({"TopicArn": topic_arn("Approvals"), "Message": "x" * 262_145}, "Invalid parameter: Message too long"),
        ({"TopicArn": topic_arn("Approvals"), "Message": "hi", "Subject": "two\nlines"}, "Invalid parameter: Subject"),
        (
            {"TopicArn": topic_arn("Approvals"), "Message": '{"http": "x"}', "MessageStructure": "json"},
            "Invalid parameter: Message Structure - No default entry in JSON message body",
        ),
        (
            {"TopicArn": topic_arn("Approvals"), "Message": "{oops", "MessageStructure": "json"},
            "Invalid parameter: Message Structure - JSON message body failed to parse",
        ),
        (
            {"TopicArn": topic_arn("Approvals"), "Message": "hi", "MessageAttributes": {"a": {"DataType": "String"}}},
            "Invalid parameter: The message attribute 'a' must contain non-empty message attribute value for "
            "message attribute type 'String'.",
        ),
    ],
)
def test_invalid_requests_fail_as_sns_invalid_parameter(
    service: Service, parameters: dict[str, Any], message: str
) -> None:
    service.create_topic("Approvals")
    result = run_local(publish_machine(parameters))
    assert result.status == "FAILED"
    assert result.error == "SNS.InvalidParameterException"
    assert result.cause.startswith(f"{message} (Service: AmazonSNS; Status Code: 400; Error Code: InvalidParameter;")
    assert sql(service, "SELECT count(*) FROM topic_messages") == [(0,)]


def test_fifo_topics_need_a_group_and_return_a_sequence_number(service: Service) -> None:
    service.create_topic("Orders.fifo")
    arn = topic_arn("Orders.fifo")
    missing = run_local(publish_machine({"TopicArn": arn, "Message": "m"}))
    assert missing.error == "SNS.InvalidParameterException"
    assert missing.cause.startswith("Invalid parameter: The MessageGroupId parameter is required for FIFO topics")
    no_dedup = run_local(publish_machine({"TopicArn": arn, "Message": "m", "MessageGroupId": "g"}))
    assert "ContentBasedDeduplication enabled or MessageDeduplicationId" in no_dedup.cause
    parameters = {"TopicArn": arn, "Message": "m", "MessageGroupId": "g", "MessageDeduplicationId": "d1"}
    first = run_local(publish_machine(parameters)).output
    second = run_local(publish_machine({**parameters, "MessageDeduplicationId": "d2"})).output
    assert re.match(r"^\d{20}$", first["SequenceNumber"])
    assert int(second["SequenceNumber"]) > int(first["SequenceNumber"])
    assert first["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"] == "352"  # as recorded on AWS


def test_content_based_deduplication_makes_the_deduplication_id_optional(service: Service) -> None:
    service.create_topic("Events.fifo", content_based_deduplication=True)
    result = run_local(publish_machine({"TopicArn": topic_arn("Events.fifo"), "Message": "m", "MessageGroupId": "g"}))
    assert result.status == "SUCCEEDED", result.cause


# -- webhooks ------------------------------------------------------------------------------------------------


def test_a_webhook_gets_sns_notification_with_its_headers(service: Service, webhook: Recorder) -> None:
    service.create_topic("Approvals")
    subscription = service.subscribe("Approvals", protocol="http", endpoint=f"{webhook.url}/sns")["SubscriptionArn"]
    result = run_local(
        publish_machine(
            {
                "TopicArn": topic_arn("Approvals"),
                "Message": "please review",
                "Subject": "Review",
                "MessageAttributes": {"amount": {"DataType": "Number", "StringValue": "7000"}},
            }
        )
    )
    assert result.status == "SUCCEEDED", result.cause
    (received,) = webhook.requests
    assert received.method == "POST" and received.path == "/sns"
    message_id = result.output["MessageId"]
    assert received.headers["x-amz-sns-message-type"] == "Notification"
    assert received.headers["x-amz-sns-message-id"] == message_id
    assert received.headers["x-amz-sns-topic-arn"] == topic_arn("Approvals")
    assert received.headers["x-amz-sns-subscription-arn"] == subscription
    assert received.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert received.headers["User-Agent"] == "Amazon Simple Notification Service Agent"
    body = received.json()
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", body.pop("Timestamp"))
    assert body == {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": topic_arn("Approvals"),
        "Subject": "Review",
        "Message": "please review",
        "SignatureVersion": "1",
        "MessageAttributes": {"amount": {"Type": "Number", "Value": "7000"}},
    }
    deliveries = service.list_deliveries("Approvals")
    assert [(d["Status"], d["Attempts"], d["LastError"]) for d in deliveries] == [("DELIVERED", 1, None)]


def test_a_failing_webhook_is_retried_until_it_succeeds(service: Service) -> None:
    with Recorder(lambda request, n: Answer(500 if n <= 2 else 200, "busy" if n <= 2 else "ok")) as flaky:
        service.create_topic("Approvals")
        service.subscribe("Approvals", protocol="http", endpoint=f"{flaky.url}/sns", delivery_policy=FAST)
        result = run_local(publish_machine({"TopicArn": topic_arn("Approvals"), "Message": "hello"}))
        assert result.status == "SUCCEEDED", result.cause
        assert len(flaky.requests) == 3
        assert {r.json()["MessageId"] for r in flaky.requests} == {result.output["MessageId"]}
    (delivery,) = service.list_deliveries("Approvals")
    assert (delivery["Status"], delivery["Attempts"], delivery["LastError"]) == ("DELIVERED", 3, None)
    assert delivery["DeliveredAt"] is not None
    assert sql(service, "SELECT status, attempts FROM deliveries") == [("DELIVERED", 3)]


def test_a_webhook_that_keeps_failing_is_given_up_without_failing_the_task(service: Service) -> None:
    with Recorder(lambda request, n: Answer(500, "down")) as down:
        service.create_topic("Approvals")
        service.subscribe("Approvals", protocol="http", endpoint=f"{down.url}/sns", delivery_policy=FAST)
        result = run_local(publish_machine({"TopicArn": topic_arn("Approvals"), "Message": "hello"}))
        assert result.status == "SUCCEEDED"
        # In-process delivery is bounded: LOCAL_MAX_ATTEMPTS, fewer than the policy's 4.
        assert len(down.requests) == sns.LOCAL_MAX_ATTEMPTS == 3
    (delivery,) = service.list_deliveries("Approvals")
    assert (delivery["Status"], delivery["Attempts"]) == ("FAILED", 3)
    assert delivery["LastError"].startswith("HTTP 500 Internal Server Error: down")


def test_raw_message_delivery_posts_the_message_itself(service: Service, webhook: Recorder) -> None:
    service.create_topic("Approvals")
    service.subscribe("Approvals", protocol="http", endpoint=f"{webhook.url}/raw", raw_message_delivery=True)
    run_local(publish_machine({"TopicArn": topic_arn("Approvals"), "Message": {"a": 1}}))
    (received,) = webhook.requests
    assert received.body == b'{"a":1}'
    assert received.headers["x-amz-sns-rawdelivery"] == "true"


def test_message_structure_json_gives_each_protocol_its_message(service: Service, webhook: Recorder) -> None:
    service.create_topic("Approvals")
    service.subscribe("Approvals", protocol="http", endpoint=f"{webhook.url}/sns")
    message = json.dumps({"default": "for everyone", "http": "for webhooks"})
    run_local(publish_machine({"TopicArn": topic_arn("Approvals"), "Message": message, "MessageStructure": "json"}))
    assert webhook.requests[0].json()["Message"] == "for webhooks"


def test_every_subscriber_of_the_topic_gets_the_message_and_others_do_not(service: Service, webhook: Recorder) -> None:
    service.create_topic("Approvals")
    service.create_topic("Other")
    service.subscribe("Approvals", protocol="http", endpoint=f"{webhook.url}/one")
    service.subscribe("Approvals", protocol="http", endpoint=f"{webhook.url}/two")
    service.subscribe("Other", protocol="http", endpoint=f"{webhook.url}/other")
    run_local(publish_machine({"TopicArn": topic_arn("Approvals"), "Message": "m"}))
    assert sorted(r.path for r in webhook.requests) == ["/one", "/two"]


# -- Python subscribers ---------------------------------------------------------------------------------------

RECEIVED: list[dict[str, Any]] = []


@subscriber("PySubscribed")
def remember(notification: dict[str, Any]) -> None:
    RECEIVED.append(notification)


@subscriber("PyFailing")
def refuse(notification: dict[str, Any]) -> None:
    raise RuntimeError("mailbox full")


def test_a_registered_python_subscriber_is_subscribed_and_called(service: Service) -> None:
    RECEIVED.clear()
    service.create_topic("PySubscribed")
    result = run_local(publish_machine({"TopicArn": topic_arn("PySubscribed"), "Message": "hello", "Subject": "S"}))
    assert result.status == "SUCCEEDED", result.cause
    (notification,) = RECEIVED
    assert notification["MessageId"] == result.output["MessageId"]
    assert (notification["Type"], notification["Message"], notification["Subject"]) == ("Notification", "hello", "S")
    (subscription,) = service.list_subscriptions("PySubscribed")
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("python", f"{__name__}.remember")
    # Publishing again reuses the subscription the first publication made.
    run_local(publish_machine({"TopicArn": topic_arn("PySubscribed"), "Message": "again"}))
    assert len(service.list_subscriptions("PySubscribed")) == 1
    assert [d["Status"] for d in service.list_deliveries("PySubscribed")] == ["DELIVERED", "DELIVERED"]


def test_a_failing_python_subscriber_is_retried_then_recorded_as_failed(service: Service) -> None:
    service.create_topic("PyFailing")
    result = run_local(publish_machine({"TopicArn": topic_arn("PyFailing"), "Message": "hello"}))
    assert result.status == "SUCCEEDED"
    (delivery,) = service.list_deliveries("PyFailing")
    assert (delivery["Status"], delivery["Attempts"]) == ("FAILED", sns.LOCAL_MAX_ATTEMPTS)
    assert delivery["LastError"] == "RuntimeError: mailbox full"


def test_a_subscription_can_name_any_importable_function(service: Service) -> None:
    RECEIVED.clear()
    service.create_topic("Approvals")
    service.subscribe("Approvals", protocol="python", endpoint=f"{__name__}:remember")
    run_local(publish_machine({"TopicArn": topic_arn("Approvals"), "Message": "by path"}))
    assert [n["Message"] for n in RECEIVED] == ["by path"]


# -- waiting for a token ------------------------------------------------------------------------------------


def test_wait_for_task_token_publishes_the_token_and_run_local_says_it_cannot_answer(service: Service) -> None:
    RECEIVED.clear()
    service.create_topic("PySubscribed")
    # No handler: the one tests.runtime.handlers registers for this resource (imported by other test
    # modules in the same process) would answer the token.
    result = run_local(
        publish_machine({"TopicArn": topic_arn("PySubscribed"), "Message": {"TaskToken.$": "$$.Task.Token"}}, ASK),
        handlers={},
    )
    assert result.status == "FAILED"
    assert "waits for a task token in Publish" in result.cause
    submitted = next(e for e in result.history if e["type"] == "TaskSubmitted")
    details = submitted["taskSubmittedEventDetails"]
    assert details["resource"] == "publish.waitForTaskToken"
    assert json.loads(details["output"])["MessageId"] == RECEIVED[0]["MessageId"]
    scheduled = next(e for e in result.history if e["type"] == "TaskScheduled")
    token = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])["Message"]["TaskToken"]
    assert json.loads(RECEIVED[0]["Message"]) == {"TaskToken": token}


# -- the delivery policy ---------------------------------------------------------------------------------


def test_the_default_policy_backs_off_exponentially() -> None:
    policy = sns.RetryPolicy()
    assert policy.max_attempts == 4
    assert [policy.delay(k) for k in range(1, 7)] == [1, 2, 4, 8, 16, 20]


def test_a_delivery_policy_sets_retries_delays_and_backoff() -> None:
    policy = sns.parse_delivery_policy(
        {
            "healthyRetryPolicy": {
                "numRetries": 5,
                "minDelayTarget": 2,
                "maxDelayTarget": 10,
                "backoffFunction": "linear",
            }
        }
    )
    assert (policy.max_attempts, policy.delay(1), policy.delay(5)) == (6, 2, 10)
    for bad in (
        '{"healthyRetryPolicy": {"numRetries": -1}}',
        '{"healthyRetryPolicy": {"backoffFunction": "geometric"}}',
    ):
        with pytest.raises(ValueError):
            sns.parse_delivery_policy(bad)


# -- AWS's recorded executions ----------------------------------------------------------------------------


def _sns_cases(*, callback: bool) -> list[dict[str, Any]]:
    folder = corpus.corpus_dir()
    cases = [json.loads(p.read_text()) for p in sorted((folder / "cases").glob("*.json"))]
    wanted = ["sns", "test-driver:task-token-callback"] if callback else ["sns"]
    return [c for c in cases if c.get("needs") == wanted]


def _masked_like_the_recording(case: dict[str, Any], output: Any) -> Any:
    """Our output with the recording's masks applied: values at ``masking.masked_paths`` and values the
    recording replaced by their key's name (its request ids) are taken from the expected output."""
    expected = case["expected"]["output"]
    if not isinstance(output, dict) or not isinstance(expected, dict):
        return output
    output = json.loads(json.dumps(output))
    for path in case["masking"].get("masked_paths", []):
        keys = path.split(".")[1:]
        source, target = expected, output
        for key in keys[:-1]:
            source, target = source.get(key, {}), target.get(key, {})
        if keys and keys[-1] in target and keys[-1] in source:
            target[keys[-1]] = source[keys[-1]]

    def by_key_name(e: Any, a: Any) -> None:
        if isinstance(e, dict) and isinstance(a, dict):
            for key, value in e.items():
                if value == key and key in a:
                    a[key] = value
                else:
                    by_key_name(value, a.get(key))

    by_key_name(expected, output)
    return output


def _judge(case: dict[str, Any], status: str, output: Any, error: Any, cause: Any) -> tuple[str, Any]:
    actual = {
        "phase": "run",
        "status": status,
        "output": _masked_like_the_recording(case, output),
        "error": error,
        "cause": cause,
    }
    verdict, _category, details = corpus._runner().judge(case, actual)
    return verdict, details


@pytest.mark.parametrize("case", _sns_cases(callback=False), ids=lambda c: c["id"])
def test_the_recorded_sns_cases_pass_through_run_local(service: Service, case: dict[str, Any]) -> None:
    for name in ("topic-00000001", "topic-00000001.fifo"):
        service.create_topic(name)
    result = run_local(case["definition"], case["input"])
    verdict, details = _judge(case, result.status, result.output, result.error, result.cause)
    assert verdict == "pass", details


# -- the durable runtime: a real worker -------------------------------------------------------------------


def sink(notification: dict[str, Any]) -> None:
    """A Python subscriber for the worker: appends what it gets to the file ORCHESTRATOR_TEST_SNS_SINK names."""
    with open(os.environ["ORCHESTRATOR_TEST_SNS_SINK"], "a") as out:
        out.write(json.dumps(notification) + "\n")


def answer_with_empty_output(notification: dict[str, Any]) -> None:
    """A Python subscriber that approves: SendTaskSuccess with ``{}`` for the token in the message."""
    token = json.loads(notification["Message"])["TaskToken"]
    Service().send_task_success(token, "{}")


def _isolate(cluster: Any) -> None:
    """Queues of this test's own, so no other test session's worker takes its messages."""
    from orchestrator.runtime.app import configure

    suffix = uuid.uuid4().hex[:8]
    cluster.env.update(
        ORCHESTRATOR_ENGINE_QUEUE=f"orchestrator-{suffix}", ORCHESTRATOR_HANDLER_QUEUE=f"orchestrator.handlers-{suffix}"
    )
    cluster.settings = config.load(cluster.env)
    configure(cluster.app, cluster.settings)
    cluster.service = Service(cluster.settings, cluster.app)


def _durable_machine(topic: str, api: str) -> dict[str, Any]:
    return {
        "StartAt": "Notify",
        "States": {
            "Notify": {
                "Type": "Task",
                "Resource": PUBLISH,
                "Parameters": {"TopicArn": topic_arn(topic), "Subject": "Received", "Message.$": "$.applicant"},
                "ResultPath": "$.notified",
                "Next": "Score",
            },
            "Score": {
                "Type": "Task",
                "Resource": "arn:aws:states:::http:invoke",
                "Parameters": {
                    "ApiEndpoint": f"{api}/score",
                    "Method": "GET",
                    "QueryParameters": {"name.$": "$.applicant.name"},
                    "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:123456789012:connection/Bureau/1"},
                },
                "ResultSelector": {"score.$": "$.ResponseBody.score"},
                "ResultPath": "$.bureau",
                "Next": "Approval",
            },
            "Approval": {
                "Type": "Task",
                "Resource": ASK,
                "Parameters": {
                    "TopicArn": topic_arn(topic),
                    "Message": {"TaskToken.$": "$$.Task.Token", "name.$": "$.applicant.name"},
                },
                "ResultPath": "$.decision",
                "End": True,
            },
        },
    }


class _Webhook:
    """The webhook of the durable test: the Notify state's notification (the one without a task token)
    hangs on its first attempt until released and fails, fails its second, succeeds on its third; every
    other notification succeeds at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.notify_message: str | None = None
        self.attempts = 0  # of the first message
        self.lock = threading.Lock()

    def __call__(self, request: Received, n: int) -> Answer:
        if request.path == "/score":
            return Answer(200, {"score": 710})
        notification = request.json()
        if "TaskToken" in notification["Message"]:
            return Answer(200, "ok")
        with self.lock:
            self.notify_message = notification["MessageId"]
            self.attempts += 1
            attempt = self.attempts
        if attempt == 1:
            return Answer(500, "not yet", wait_for=self.release)
        return Answer(500 if attempt == 2 else 200, "again" if attempt == 2 else "ok")


def test_the_durable_runtime_delivers_on_workers_with_retries_and_waits_for_the_token(
    database_url: str,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    topic = f"Reviews-{uuid.uuid4().hex[:8]}"
    connections = tmp_path / "connections.json"
    connections.write_text(json.dumps({"Bureau": {"type": "api_key", "name": "X-Api-Key", "value": "k1"}}))
    received_by_sink = tmp_path / "sink.jsonl"
    cluster = new_cluster(
        database_url,
        REDIS_URL,
        tmp_path / "cluster",
        extra_env={
            # Not tests.runtime.handlers: it registers a handler for sns:publish.waitForTaskToken.
            "ORCHESTRATOR_HANDLER_MODULES": "",
            "ORCHESTRATOR_CONNECTIONS_FILE": str(connections),
            "ORCHESTRATOR_TEST_SNS_SINK": str(received_by_sink),
        },
    )
    _isolate(cluster)
    hook = _Webhook()
    try:
        with Recorder(hook) as server:
            service = cluster.service
            service.create_topic(topic)
            service.subscribe(topic, protocol="http", endpoint=f"{server.url}/sns", delivery_policy=FAST)
            service.subscribe(topic, protocol="python", endpoint=f"{__name__}:sink")
            cluster.start_worker(concurrency=4)
            cluster.start_scheduler()
            machine = cluster.state_machine(_durable_machine(topic, server.url))
            execution = cluster.start(machine, {"applicant": {"name": "Jane", "amount": 7000}})

            # The execution moves on while the first webhook delivery hangs: it now waits for a token.
            wait_for(lambda: hook.notify_message, 30, what="the Notify notification")
            token = cluster.token_for(execution)
            hanging = [d for d in service.list_deliveries(topic) if d["MessageId"] == hook.notify_message]
            assert [(d["Protocol"], d["Status"]) for d in hanging if d["Protocol"] == "http"] == [("http", "PENDING")]
            assert len([r for r in server.on("/sns") if r.json()["MessageId"] == hook.notify_message]) == 1
            approval = wait_for(
                lambda: [r.json() for r in server.on("/sns") if "TaskToken" in r.json()["Message"]], 30, what="approval"
            )[0]
            assert json.loads(approval["Message"]) == {"TaskToken": token, "name": "Jane"}
            service.send_task_success(token, json.dumps({"approved": True}))
            described = cluster.wait(execution)
            assert described["status"] == "SUCCEEDED", described
            output = json.loads(described["output"])
            assert output["decision"] == {"approved": True}
            assert output["bureau"] == {"score": 710}
            assert output["notified"]["MessageId"] == hook.notify_message

            hook.release.set()
            deliveries = wait_for(
                lambda: (d := service.list_deliveries(topic)) and all(x["Status"] != "PENDING" for x in d) and d,
                60,
                what="every delivery to end",
            )
        (score_call,) = server.on("/score")
        assert score_call.headers["X-Api-Key"] == "k1"
        assert score_call.query == [("name", "Jane")]
        by_target = {(d["MessageId"], d["Protocol"]): d for d in deliveries}
        notified = by_target[(hook.notify_message, "http")]
        assert (notified["Status"], notified["Attempts"], notified["LastError"]) == ("DELIVERED", 3, None)
        assert all(d["Status"] == "DELIVERED" for d in deliveries)
        assert len(deliveries) == 4  # two messages, two subscriptions
        sunk = [json.loads(line) for line in received_by_sink.read_text().splitlines()]
        assert {n["MessageId"] for n in sunk} == {d["MessageId"] for d in deliveries}
        assert _no_delivery_left_in_outbox(cluster)
        submitted = next(e for e in cluster.history(execution) if e["type"] == "TaskSubmitted")
        stored = service.list_messages(topic)
        approval_id = next(m["MessageId"] for m in stored if "TaskToken" in m["Message"])
        assert json.loads(submitted["taskSubmittedEventDetails"]["output"])["MessageId"] == approval_id
        assert {m["ExecutionArn"] for m in stored} == {execution}

        # AWS's recorded callback case, answered by a Python subscriber calling SendTaskSuccess.
        for case in _sns_cases(callback=True):
            service.delete_topic("topic-00000001")
            service.create_topic("topic-00000001")
            service.subscribe("topic-00000001", protocol="python", endpoint=f"{__name__}:answer_with_empty_output")
            recorded = cluster.start(cluster.state_machine(case["definition"]), case["input"])
            ended = cluster.wait(recorded)
            verdict, details = _judge(
                case,
                ended["status"],
                json.loads(ended["output"]) if ended.get("output") else None,
                ended.get("error"),
                ended.get("cause"),
            )
            assert verdict == "pass", details
    finally:
        hook.release.set()
        close_clusters([cluster])


def _no_delivery_left_in_outbox(cluster: Any) -> bool:
    """Every delivery message was consumed (other tests' messages may remain in the shared database)."""
    from sqlalchemy import select

    from orchestrator.runtime.deliveries import DELIVER
    from orchestrator.store.db import session_scope
    from orchestrator.store.models import OutboxMessage

    with session_scope(cluster.settings.database_url) as session:
        return not list(session.scalars(select(OutboxMessage.id).where(OutboxMessage.task == DELIVER)))


def test_delivery_timestamps_are_utc_milliseconds() -> None:
    moment = dt.datetime(2026, 11, 30, 8, 5, 9, 123456)  # naive, as SQLite returns it
    assert sns._timestamp(moment) == "2026-11-30T08:05:09.123Z"
