"""``orchestrator topics``: creating topics, subscribing, publishing and reading back, through cli.main."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator import config
from orchestrator.cli import main
from tests.integrations.test_http import Answer, Recorder

FAST = '{"healthyRetryPolicy": {"numRetries": 2, "minDelayTarget": 0.05, "maxDelayTarget": 0.1}}'


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An embedded home of the test's own: the commands create its SQLite database themselves."""
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(tmp_path / "home"))
    for name in ("ORCHESTRATOR_DATABASE_URL", "ORCHESTRATOR_BROKER_URL", "ORCHESTRATOR_HANDLER_MODULES"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


@pytest.fixture()
def webhook() -> Iterator[Recorder]:
    with Recorder(lambda request, n: Answer(500 if n == 1 else 200, "ok")) as server:
        yield server


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["topics", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    status, out, err = run(capsys, *argv, "--json")
    assert status == 0, err
    return json.loads(out)


def test_create_list_and_delete_a_topic(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "create", "CreditApprovals")
    assert status == 0
    assert out.strip() == "arn:aws:sns:us-east-1:123456789012:CreditApprovals"
    again = run(capsys, "create", "CreditApprovals")
    assert (again[0], again[1]) == (0, out)  # creating it again is harmless and answers the same ARN
    status, out, _ = run(capsys, "list")
    assert "arn:aws:sns:us-east-1:123456789012:CreditApprovals  subscriptions: 0  messages: 0" in out
    listed = run_json(capsys, "list")
    assert [(t["Name"], t["Subscriptions"], t["Messages"]) for t in listed] == [("CreditApprovals", 0, 0)]
    assert run(capsys, "delete", "CreditApprovals")[0] == 0
    assert run_json(capsys, "list") == []
    assert "no topics" in run(capsys, "list")[1]


def test_subscribe_publish_and_read_back_deliveries(capsys: pytest.CaptureFixture[str], webhook: Recorder) -> None:
    run(capsys, "create", "CreditApprovals")
    status, subscription_arn, err = run(
        capsys, "subscribe", "CreditApprovals", "--url", f"{webhook.url}/hook", "--delivery-policy", FAST
    )
    assert status == 0, err
    assert subscription_arn.startswith("arn:aws:sns:us-east-1:123456789012:CreditApprovals:")
    (subscription,) = run_json(capsys, "subscriptions", "CreditApprovals")
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("http", f"{webhook.url}/hook")
    assert json.loads(subscription["Attributes"]["DeliveryPolicy"])["healthyRetryPolicy"]["numRetries"] == 2

    status, message_id, err = run(
        capsys, "publish", "CreditApprovals", "--message", '{"applicant": "Jane"}', "--subject", "Review"
    )
    assert status == 0, err
    message_id = message_id.strip()
    # Without a worker, the command delivered it: the webhook failed once, then took it.
    assert [r.json()["MessageId"] for r in webhook.requests] == [message_id, message_id]

    status, out, _ = run(capsys, "messages", "CreditApprovals")
    assert message_id in out and "[Review]" in out and '{"applicant": "Jane"}' in out
    assert f"-> DELIVERED after 2 attempt(s)  {webhook.url}/hook" in out
    (message,) = run_json(capsys, "messages", "CreditApprovals")
    assert message["Deliveries"][0]["Status"] == "DELIVERED"
    (delivery,) = run_json(capsys, "deliveries", "CreditApprovals")
    assert (delivery["MessageId"], delivery["Status"], delivery["Attempts"]) == (message_id, "DELIVERED", 2)

    assert run(capsys, "unsubscribe", subscription_arn.strip())[0] == 0
    assert run_json(capsys, "subscriptions", "CreditApprovals") == []


def test_published_messages_are_queryable_in_sql(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    run(capsys, "create", "Audit")
    for text in ("first", "second"):
        assert run(capsys, "publish", "Audit", "--message", text)[0] == 0
    path = config.load().database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT t.name, m.message FROM topic_messages m JOIN topics t ON t.id = m.topic_id ORDER BY m.published_at"
        ).fetchall()
    assert rows == [("Audit", "first"), ("Audit", "second")]


def test_a_message_can_come_from_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run(capsys, "create", "Audit")
    body = tmp_path / "message.json"
    body.write_text('{"from": "file"}')
    assert run(capsys, "publish", "Audit", "--message", f"@{body}")[0] == 0
    (message,) = run_json(capsys, "messages", "Audit")
    assert message["Message"] == '{"from": "file"}'


def test_a_python_subscriber_by_module_and_function(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "create", "Audit")
    status, _, err = run(capsys, "subscribe", "Audit", "--python", "tests.integrations.test_sns:remember")
    assert status == 0, err
    (subscription,) = run_json(capsys, "subscriptions", "Audit")
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("python", "tests.integrations.test_sns:remember")
    status, _, err = run(capsys, "subscribe", "Audit", "--python", "tests.nowhere:nothing")
    assert status == 1
    assert "InvalidParameter" in err and "cannot import 'tests.nowhere'" in err


def test_fifo_topics_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "create", "Orders.fifo")
    status, _, err = run(capsys, "publish", "Orders.fifo", "--message", "m")
    assert status == 1
    assert "InvalidParameter: Invalid parameter: The MessageGroupId parameter is required for FIFO topics" in err
    result = run_json(capsys, "publish", "Orders.fifo", "--message", "m", "--group-id", "g", "--deduplication-id", "d")
    assert len(result["SequenceNumber"]) == 20


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("publish", "Missing", "--message", "m"), "orchestrator topics publish: NotFound: Topic does not exist"),
        (("messages", "Missing"), "orchestrator topics messages: NotFound: Topic does not exist: Missing"),
        (("create", "bad name"), "orchestrator topics create: InvalidParameter: Invalid parameter: Topic Name"),
        (("subscribe", "Audit", "--url", "ftp://x"), "InvalidParameter: Invalid parameter: Protocol 'ftp'"),
        (("create", "Audit", "--delivery-policy", "{oops"), "InvalidParameter: Invalid parameter: DeliveryPolicy"),
        (("unsubscribe", "arn:aws:sns:us-east-1:123456789012:Audit:x"), "NotFound: Subscription does not exist"),
    ],
)
def test_refusals_are_one_line_with_exit_status_1(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], expected: str
) -> None:
    run(capsys, "create", "Audit")
    status, _, err = run(capsys, *argv)
    assert status == 1
    assert expected in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "command",
    ["create", "list", "delete", "subscribe", "unsubscribe", "subscriptions", "publish", "messages", "deliveries"],
)
def test_every_command_has_help_with_an_example(capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["topics", command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "example:\n  orchestrator topics " in out


def test_topics_alone_shows_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["topics", "--help"])
    out = capsys.readouterr().out
    for command in ("create", "subscribe", "publish", "messages"):
        assert command in out
