"""Execution logging's rules that need no cluster: which events each level writes, the record's shape,
and the destinations (a file shared by appends, a stream, an HTTP endpoint); tests/runtime/
test_execution_logs.py runs them through a real cluster."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from orchestrator.engine.history import Event
from orchestrator.runtime.execution_logs import LoggingConfiguration, record, records_for
from orchestrator.runtime.log_destinations import File, Http, Stream, open_destination

ARN = "arn:aws:states:us-east-1:123456789012:execution:CreditApplication:app-1"
TYPES = [
    "ExecutionStarted", "PassStateEntered", "TaskStateEntered", "LambdaFunctionFailed", "TaskFailed",
    "TaskTimedOut", "ActivityScheduleFailed", "MapIterationAborted", "ParallelStateAborted", "MapRunFailed",
    "FailStateEntered", "ExecutionRedriven", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut",
    "ExecutionSucceeded",
]  # fmt: skip
FATAL = ["ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"]


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("ALL", TYPES),
        ("ERROR", [t for t in TYPES if t.endswith(("Failed", "TimedOut", "Aborted")) or t == "FailStateEntered"]),
        ("FATAL", FATAL),
        ("OFF", []),
        ("off", []),
    ],
)
def test_each_level_lets_through_the_events_aws_lists(level: str, expected: list[str]) -> None:
    configuration = LoggingConfiguration.of({"level": level, "includeExecutionData": False})
    assert [t for t in TYPES if configuration is not None and configuration.logs(t)] == expected


def test_no_configuration_or_an_unknown_level_logs_nothing() -> None:
    assert LoggingConfiguration.of(None) is None and LoggingConfiguration.of({"level": "DEBUG"}) is None


def test_a_record_is_aws_s_cloudwatch_record_with_data_only_when_asked() -> None:
    moment = dt.datetime(2026, 12, 7, 5, 0, 0, 123999, tzinfo=dt.UTC)
    entered = Event(
        3, 2, moment, "TaskStateEntered", {"name": "Score", "input": {"a": 1}, "inputDetails": {"truncated": False}}
    )
    with_data = record(entered, ARN, 2, True)
    assert with_data == {
        "id": "3",
        "type": "TaskStateEntered",
        "details": {"name": "Score", "input": '{"a":1}', "inputDetails": {"truncated": False}},
        "previous_event_id": "2",
        "event_timestamp": "1796619600123",
        "execution_arn": ARN,
        "redrive_count": "2",
    }
    assert record(entered, ARN, 2, False)["details"] == {"name": "Score", "inputDetails": {"truncated": False}}
    started = Event(1, 0, moment, "LambdaFunctionStarted")
    assert record(started, ARN, 0, True)["details"] == {}
    assert records_for({"level": "FATAL"}, [entered, started], ARN) == []


def test_a_file_destination_appends_lines_and_makes_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "executions.jsonl"
    destination = open_destination(f"file://{path}")
    assert isinstance(destination, File)
    destination.write([{"id": "1"}, {"id": "2"}])
    open_destination(f"file://{path}").write([{"id": "3"}])  # another process's writer, the same file
    assert [json.loads(line)["id"] for line in path.read_text().splitlines()] == ["1", "2", "3"]


def test_a_stream_destination_writes_one_line_per_record() -> None:
    sink = io.StringIO()
    Stream("stdout", sink).write([{"id": "1", "type": "ExecutionStarted"}])
    assert sink.getvalue() == '{"id":"1","type":"ExecutionStarted"}\n'
    assert isinstance(open_destination("stderr"), Stream)


@pytest.fixture()
def collector() -> Iterator[tuple[str, list[Any]]]:
    received: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(
                (self.headers["Content-Type"], json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/logs", received
    server.shutdown()
    server.server_close()


def test_an_http_destination_posts_each_batch_as_a_json_array_from_its_thread(
    collector: tuple[str, list[Any]],
) -> None:
    url, received = collector
    destination = open_destination(url)
    assert isinstance(destination, Http)
    destination.write([{"id": "1"}, {"id": "2"}])
    destination.write([{"id": "3"}])
    destination.close()  # waits for what was handed over
    assert received == [("application/json", [{"id": "1"}, {"id": "2"}]), ("application/json", [{"id": "3"}])]


@pytest.mark.parametrize("url", ["syslog", "file://", "ftp://logs.example.com/x", "http://"])
def test_a_destination_it_cannot_be_is_refused_saying_what_it_can(url: str) -> None:
    with pytest.raises(ValueError, match="stdout, stderr, file:///path"):
        open_destination(url)
