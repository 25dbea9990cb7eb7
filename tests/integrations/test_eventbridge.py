"""events:putEvents: AWS's request and response checks (run_local), and delivery of the events to the
status-change events' subscribers (a webhook of the events file, a ``@subscriber``) on a real cluster."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from orchestrator import run_local
from orchestrator.events import SIGNATURE_HEADER, verify_signature
from orchestrator.runtime.event_subscribers import Filter
from tests.integrations.test_http import Answer, Recorder
from tests.runtime.conftest import REDIS_URL, close_clusters, database_url, new_cluster, wait_for  # noqa: F401

PUT = "arn:aws:states:::events:putEvents"
SECRET = "put-events-secret"


def put_machine(entries: Any) -> dict[str, Any]:
    parameters = {"Entries.$": "$.Entries"} if entries is None else {"Entries": entries}
    return {
        "StartAt": "Put",
        "States": {"Put": {"Type": "Task", "Resource": PUT, "Parameters": parameters, "End": True}},
    }


def test_put_events_answers_an_event_id_per_entry() -> None:
    entries = [
        {"Detail": {"order": 1}, "DetailType": "OrderShipped", "Source": "shop.orders"},
        {"Detail": '{"Message": "string-literal"}', "DetailType": "Note", "Source": "some.source"},
    ]
    result = run_local(put_machine(entries))
    assert result.status == "SUCCEEDED", result.cause
    assert list(result.output) == ["Entries", "FailedEntryCount"]
    assert result.output["FailedEntryCount"] == 0
    ids = [entry["EventId"] for entry in result.output["Entries"]]
    assert len(ids) == 2 and all(uuid.UUID(i) for i in ids) and ids[0] != ids[1]


def test_a_malformed_detail_fails_the_task_with_eventbridge_failed_entry() -> None:
    # AWS's recorded case: a Detail that is JSON text, but not of an object.
    entries = [{"Detail": '"jsonstring"', "DetailType": "detail_type", "Source": "some.source"}]
    result = run_local(put_machine(entries))
    assert result.status == "FAILED"
    assert result.error == "EventBridge.FailedEntry"
    assert json.loads(str(result.cause)) == {
        "Entries": [{"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}],
        "FailedEntryCount": 1,
    }
    missing = run_local(put_machine([{"Detail": "{}", "DetailType": "x"}]))
    assert missing.error == "EventBridge.FailedEntry"
    assert json.loads(str(missing.cause))["Entries"][0]["ErrorCode"] == "InvalidArgument"
    too_many = run_local(put_machine([{"Detail": "{}", "DetailType": "x", "Source": "s"}] * 11))
    assert too_many.error == "EventBridge.AmazonEventBridgeException"


def test_filters_choose_put_events_by_source_and_detail_type() -> None:
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:shop"
    put = {"source": "shop.orders", "detail-type": "OrderShipped", "resources": ["x", "exec", machine], "detail": {}}
    status = {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {"stateMachineArn": machine, "status": "FAILED"},
    }
    assert Filter().accepts(put) and Filter().accepts(status)
    assert Filter(sources=frozenset({"shop.orders"})).accepts(put)
    assert not Filter(sources=frozenset({"shop.orders"})).accepts(status)
    assert not Filter(detail_types=frozenset({"Other"})).accepts(put)
    assert Filter(state_machines=frozenset({"shop"})).accepts(put)
    assert not Filter(state_machines=frozenset({"other"})).accepts(put)
    # A status filter is about status changes: put events do not get through it.
    assert not Filter(statuses=frozenset({"FAILED"})).accepts(put)
    assert Filter(statuses=frozenset({"FAILED"})).accepts(status)


def test_put_events_reach_a_webhook_and_a_subscriber_on_a_real_cluster(
    database_url: str,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    sink = tmp_path / "subscriber.jsonl"
    with Recorder(lambda request, n: Answer(200, "ok")) as server:
        events_file = tmp_path / "events.toml"
        events_file.write_text(
            f"""
[[webhook]]
name = "orders"
url = "{server.url}/orders"
secret = "{SECRET}"
sources = ["shop.orders"]

[[webhook]]
name = "status-changes"
url = "{server.url}/status"
secret = "{SECRET}"
sources = ["aws.states"]
"""
        )
        cluster = new_cluster(
            database_url,
            REDIS_URL,
            tmp_path / "cluster",
            extra_env={
                "ORCHESTRATOR_EVENTS_FILE": str(events_file),
                "ORCHESTRATOR_HANDLER_MODULES": "tests.integrations.put_event_subscribers",
                "TEST_PUT_EVENTS_FILE": str(sink),
            },
        )
        try:
            cluster.start_worker(concurrency=2)
            cluster.start_scheduler()
            name = f"shop-{uuid.uuid4().hex[:8]}"
            entries = [
                {"Detail": {"order.$": "$.order"}, "DetailType": "OrderShipped", "Source": "shop.orders"},
                {"Detail": {"note": "hi"}, "DetailType": "Note", "Source": "shop.notes", "Resources": ["arn:x"]},
            ]
            machine = cluster.state_machine(put_machine(entries), name)
            execution = cluster.start(machine, {"order": 42})
            described = cluster.wait(execution)
            assert described["status"] == "SUCCEEDED", described
            event_ids = [e["EventId"] for e in json.loads(described["output"])["Entries"]]

            (order,) = wait_for(lambda: server.on("/orders"), 30, what="the put event at the webhook")
            verify_signature(SECRET, order.headers[SIGNATURE_HEADER], order.body)
            event = order.json()
            assert event["id"] == event_ids[0]
            assert (event["source"], event["detail-type"], event["detail"]) == (
                "shop.orders",
                "OrderShipped",
                {"order": 42},
            )
            assert event["resources"] == [execution, machine]
            assert (event["account"], event["region"], event["version"]) == ("123456789012", "us-east-1", "0")

            shipped = wait_for(lambda: sink.exists() and sink.read_text().splitlines(), 30, what="the subscriber")
            assert [json.loads(line)["id"] for line in shipped] == [event_ids[0]]
            # The status-change webhook got the execution's status changes and none of the put events.
            statuses = wait_for(
                lambda: (
                    [r.json() for r in server.on("/status") if r.json()["detail"]["executionArn"] == execution]
                    if len(server.on("/status")) >= 2
                    else None
                ),
                30,
                what="the status changes",
            )
            assert sorted(e["detail"]["status"] for e in statuses) == ["RUNNING", "SUCCEEDED"]
            assert all(e["source"] == "aws.states" for e in (r.json() for r in server.on("/status")))
        finally:
            close_clusters([cluster])
