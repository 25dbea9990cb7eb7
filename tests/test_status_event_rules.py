"""The rules of status-change events that need no server: the events file, filters, backoff, the
signature a receiver checks, and the event's size limits (tests/runtime/test_status_events.py runs
them through a real cluster)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import config
from orchestrator.events import SignatureError, sign, verify_signature
from orchestrator.runtime.event_subscribers import EventsConfigError, Filter, RetryPolicy, webhooks
from orchestrator.runtime.status_events import MAX_DATA_BYTES, build_event

ROOT = Path(__file__).resolve().parents[1]
ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:CreditApplication"


def _settings(tmp_path: Path, text: str) -> config.Settings:
    path = tmp_path / "events.toml"
    path.write_text(text)
    return config.load({"ORCHESTRATOR_HOME": str(tmp_path), "ORCHESTRATOR_EVENTS_FILE": str(path)})


def test_events_are_off_unless_a_file_or_the_switch_says_so(tmp_path: Path) -> None:
    assert not config.load({"ORCHESTRATOR_HOME": str(tmp_path)}).events
    assert config.load({"ORCHESTRATOR_HOME": str(tmp_path), "ORCHESTRATOR_EVENTS": "1"}).events
    assert _settings(tmp_path, "").events


def test_a_webhook_is_read_with_its_defaults(tmp_path: Path) -> None:
    settings = _settings(tmp_path, '[[webhook]]\nname = "ops"\nurl = "https://ops.example.com/sfn"\nsecret = "s"\n')
    (hook,) = webhooks(settings)
    assert (hook.name, hook.url, hook.secret, hook.key) == ("ops", "https://ops.example.com/sfn", "s", "webhook:ops")
    assert hook.retry == RetryPolicy(max_attempts=8, first_delay=1.0, max_delay=300.0)
    assert hook.filter == Filter() and hook.timeout == 10.0
    assert "secret=" not in repr(hook)  # a log line never shows it


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[webhook]]\nurl = "https://x"\nsecret = "s"\n', "name must be"),
        ('[[webhook]]\nname = "a"\nurl = "ftp://x"\nsecret = "s"\n', "url must be an http"),
        ('[[webhook]]\nname = "a"\nurl = "https://x"\n', "give it a secret"),
        ('[[webhook]]\nname = "a"\nurl = "https://x"\nsecret_env = "NO_SUCH_VARIABLE_X1"\n', "NO_SUCH_VARIABLE_X1"),
        ('[[webhook]]\nname = "a"\nurl = "https://x"\nsecret = "s"\nstatuses = ["DONE"]\n', "unknown status"),
        ('[[webhook]]\nname = "a"\nurl = "https://x"\nsecret = "s"\nmax_attempts = 0\n', "max_attempts"),
        ('[[webhook]]\nname = "a"\nurl = "https://x"\nsecret = "s"\nretries = 3\n', "unknown key(s) ['retries']"),
        ('[[webhook]]\nname = "a"\nurl = "https://x"\nsecret = "s"\n' * 2, "same name"),
        ("[[hooks]]\n", "only [[webhook]] is read"),
        ("[[webhook]\n", "ORCHESTRATOR_EVENTS_FILE="),
    ],
)
def test_a_wrong_events_file_is_refused_saying_what_to_fix(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(EventsConfigError) as raised:
        webhooks(_settings(tmp_path, body))
    assert message in str(raised.value)
    assert str(tmp_path / "events.toml") in str(raised.value)


def test_filters_take_names_or_arns_and_statuses() -> None:
    assert Filter().matches(ARN, "RUNNING")
    by_name = Filter(frozenset({"CreditApplication"}), frozenset({"FAILED", "TIMED_OUT"}))
    assert by_name.matches(ARN, "FAILED") and by_name.matches(ARN, "TIMED_OUT")
    assert not by_name.matches(ARN, "SUCCEEDED")
    assert not by_name.matches(ARN.replace("CreditApplication", "Other"), "FAILED")
    assert Filter(frozenset({ARN})).matches(ARN, "SUCCEEDED")


def test_the_backoff_doubles_up_to_its_maximum() -> None:
    policy = RetryPolicy(max_attempts=8, first_delay=1.0, max_delay=10.0)
    assert [policy.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_a_signature_covers_the_body_and_its_time() -> None:
    body = b'{"id":"1"}'
    header = sign("secret", body, timestamp=1_800_000_000)
    assert header.startswith("t=1800000000,v1=") and len(header.split("v1=")[1]) == 64
    assert verify_signature("secret", header, body, now=1_800_000_100) == 1_800_000_000
    for wrong_secret, wrong_body, now, reason in (
        ("other", body, 1_800_000_000, "does not match"),
        ("secret", body + b" ", 1_800_000_000, "does not match"),
        ("secret", body, 1_800_000_301, "s old"),
    ):
        with pytest.raises(SignatureError, match=reason):
            verify_signature(wrong_secret, header, wrong_body, now=now)
    forged = header.replace("t=1800000000", "t=1800000999")  # a newer time on an old signature
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature("secret", forged, body, now=1_800_000_999)
    for missing in (None, "", "v1=abc"):
        with pytest.raises(SignatureError):
            verify_signature("secret", missing, body)


def _execution(status: str, execution_input: object, output: object) -> dict[str, object]:
    start = dt.datetime(2026, 12, 7, 5, 0, 0, 123456, tzinfo=dt.UTC)
    return {
        "arn": "arn:aws:states:us-east-1:123456789012:execution:CreditApplication:a1",
        "name": "a1",
        "status": status,
        "start_date": start,
        "stop_date": None if status == "RUNNING" else start + dt.timedelta(seconds=2),
        "input": execution_input,
        "output": output,
        "error": None,
        "cause": None,
        "redrive_count": 0,
        "state_machine_version_arn": f"{ARN}:3",
        "state_machine_alias_arn": None,
    }


def test_an_event_carries_epoch_milliseconds_and_the_version_it_ran() -> None:
    settings = config.load({"ORCHESTRATOR_HOME": "/tmp/x", "ORCHESTRATOR_REGION": "eu-west-1"})
    now = dt.datetime(2026, 12, 7, 5, 0, 2, 999999, tzinfo=dt.UTC)
    event = build_event(_execution("SUCCEEDED", {"a": 1}, [1]), ARN, settings, event_id="e1", now=now)
    assert event["time"] == "2026-12-07T05:00:02Z" and event["region"] == "eu-west-1"
    detail = event["detail"]
    assert (detail["startDate"], detail["stopDate"]) == (1796619600123, 1796619602123)
    assert (detail["input"], detail["output"]) == ('{"a":1}', "[1]")
    assert detail["stateMachineVersionArn"] == f"{ARN}:3" and "stateMachineAliasArn" not in detail


def test_past_eventbridge_s_limit_the_output_then_the_input_are_left_out() -> None:
    settings = config.load({"ORCHESTRATOR_HOME": "/tmp/x"})
    now = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    half = "x" * (MAX_DATA_BYTES // 2)
    # Both fit alone but not together: the input goes, the output stays
    detail = build_event(_execution("SUCCEEDED", half, half), ARN, settings, event_id="e", now=now)["detail"]
    assert (detail["input"], detail["inputDetails"]) == (None, {"included": False})
    assert json.loads(detail["output"]) == half and detail["outputDetails"] == {"included": True}
    # An output over the limit goes; then the input fits
    big = "y" * MAX_DATA_BYTES
    detail = build_event(_execution("SUCCEEDED", "small", big), ARN, settings, event_id="e", now=now)["detail"]
    assert (detail["output"], detail["outputDetails"]) == (None, {"included": False})
    assert (detail["input"], detail["inputDetails"]) == ('"small"', {"included": True})
    # A failed execution has no output at all
    detail = build_event(_execution("FAILED", "small", big), ARN, settings, event_id="e", now=now)["detail"]
    assert (detail["output"], detail["outputDetails"]) == (None, None)


def _cli(tmp_path: Path, events_file: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ORCHESTRATOR_HOME": str(tmp_path / "home"),
        "ORCHESTRATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}",
        "ORCHESTRATOR_EVENTS_FILE": str(events_file),
        "ORCHESTRATOR_HANDLER_MODULES": "tests.runtime.status_subscribers",
    }
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "events", *argv],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_command_line_lists_the_subscribers_or_says_what_is_wrong_with_the_file(tmp_path: Path) -> None:
    events_file = tmp_path / "events.toml"
    events_file.write_text(
        '[[webhook]]\nname = "ops"\nurl = "https://ops.example.com/sfn"\nsecret = "s"\nstatuses = ["FAILED"]\n'
    )
    listed = _cli(tmp_path, events_file, "subscribers", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {
        "eventsOn": True,
        "subscribers": [
            {"subscriber": "webhook:ops", "stateMachines": [], "statuses": ["FAILED"], "maxAttempts": 8,
             "url": "https://ops.example.com/sfn"},
            {"subscriber": "python:failures-to-file", "stateMachines": [], "statuses": ["FAILED"], "maxAttempts": 8},
        ],
    }  # fmt: skip
    assert _cli(tmp_path, events_file, "dead-letters").stdout.strip() == "no dead letters"
    events_file.write_text('[[webhook]]\nname = "ops"\nurl = "https://ops.example.com/sfn"\n')
    broken = _cli(tmp_path, events_file, "subscribers")
    assert broken.returncode == 1
    assert "give it a secret" in broken.stderr and "Traceback" not in broken.stderr
    refused = _cli(tmp_path, events_file, "replay")
    assert refused.returncode != 0 and "--all" in refused.stderr
