"""Tracing (issue 14, item 6) from a real cluster (PostgreSQL, Redis, a worker, the scheduler): an
execution of a state machine with tracingConfiguration enabled is exported, when it ends, as a span
for the execution, one per state and one per Task, in the trace its StartExecution traceHeader names;
the Task's handler runs in the context of the Task's span (W3C traceparent), and an HTTP Task sends it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.integrations import http
from orchestrator.runtime import tracing
from tests.runtime.conftest import LAMBDA, ROLE, Cluster, running_cluster, wait_for

SCORING = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": {"amount": 1200}, "Next": "Score"},
        "Score": {"Type": "Task", "Resource": LAMBDA.format("traced"), "End": True},
    },
}
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tracing")
    return {"spans": folder / "spans.jsonl", "traceparents": folder / "traceparents.jsonl", "folder": folder}


@pytest.fixture(scope="module")
def cluster(database_url: str, files: dict[str, Path]) -> Iterator[Cluster]:
    env = {
        "ORCHESTRATOR_HANDLER_MODULES": "tests.runtime.handlers,tests.runtime.tracing_capture",
        "TEST_SPANS_FILE": str(files["spans"]),
        "TEST_TRACEPARENT_FILE": str(files["traceparents"]),
        "OTEL_TRACES_EXPORTER": "none",  # only the test's file: no collector to send to here
    }
    with running_cluster(database_url, files["folder"], extra_env=env) as running:
        yield running


def _machine(cluster: Cluster, name: str, enabled: bool) -> str:
    created = cluster.service.create_state_machine(
        name=name, definition=json.dumps(SCORING), role_arn=ROLE, tracing_configuration={"enabled": enabled}
    )
    return str(created["stateMachineArn"])


def _spans(files: dict[str, Path], trace_id: str) -> list[dict[str, Any]]:
    if not files["spans"].exists():
        return []
    found = [json.loads(line) for line in files["spans"].read_text().splitlines()]
    return [s for s in found if s["context"]["trace_id"] == f"0x{trace_id}"]


def _run(cluster: Cluster, machine: str, trace_header: str | None) -> str:
    started = cluster.service.start_execution(machine, input='{"applicant": "Ada"}', trace_header=trace_header)
    assert cluster.wait(started["executionArn"])["status"] == "SUCCEEDED"
    return str(started["executionArn"])


def test_a_traced_execution_is_one_span_per_execution_state_and_task_in_the_callers_trace(
    cluster: Cluster, files: dict[str, Path]
) -> None:
    # Given a traced machine, started with a W3C traceHeader
    arn = _run(cluster, _machine(cluster, "traced-scoring", True), f"00-{TRACE}-{PARENT}-01")
    # Then its spans are exported when it ends, all in the caller's trace
    wait_for(lambda: len(_spans(files, TRACE)) == 4, 30, what="4 spans")
    spans = {s["name"]: s for s in _spans(files, TRACE)}
    task_name = f"Task {LAMBDA.format('traced')}"
    assert set(spans) == {"traced-scoring", "Prepare", "Score", task_name}
    execution, prepare, score, task = (spans[n] for n in ("traced-scoring", "Prepare", "Score", task_name))
    # the execution under the caller's span, the states under the execution, the Task under its state
    assert execution["parent_id"] == f"0x{PARENT}"
    assert prepare["parent_id"] == score["parent_id"] == execution["context"]["span_id"]
    assert task["parent_id"] == score["context"]["span_id"]
    assert execution["attributes"]["aws.step_functions.execution.arn"] == arn
    assert execution["attributes"]["aws.step_functions.status"] == "Succeeded"
    assert score["attributes"] == {"aws.step_functions.state.name": "Score", "aws.step_functions.state.type": "Task"}
    assert task["attributes"]["aws.step_functions.task.outcome"] == "LambdaFunctionSucceeded"
    assert all(s["status"]["status_code"] == "UNSET" for s in spans.values())
    # with the history's times: each span within its parent's
    history = cluster.history(arn)
    assert execution["start_time"].startswith(history[0]["timestamp"].strftime("%Y-%m-%dT%H:%M:%S"))
    for child, parent in ((prepare, execution), (score, execution), (task, score)):
        assert parent["start_time"] <= child["start_time"] <= child["end_time"] <= parent["end_time"]
    # And the handler ran in the Task span's context: the traceparent it would send on names it
    seen = [json.loads(line) for line in files["traceparents"].read_text().splitlines()]
    mine = [s for s in seen if s["executionArn"] == arn]
    assert len(mine) == 1
    assert mine[0]["traceparent"] == f"00-{TRACE}-{task['context']['span_id'][2:]}-01"


def test_an_xray_trace_header_names_the_trace_and_an_untraced_machine_exports_nothing(
    cluster: Cluster, files: dict[str, Path]
) -> None:
    xray_trace = "5759e988bd862e3fe1be46a994272793"
    header = f"Root=1-{xray_trace[:8]}-{xray_trace[8:]};Parent=53995c3f42cd8ad8;Sampled=1"
    arn = _run(cluster, _machine(cluster, "xray-scoring", True), header)
    wait_for(lambda: len(_spans(files, xray_trace)) == 4, 30, what="the X-Ray trace's spans")
    execution = next(s for s in _spans(files, xray_trace) if s["name"] == "xray-scoring")
    assert execution["parent_id"] == "0x53995c3f42cd8ad8"
    # An untraced machine's execution: its handler runs with no trace context, and no span is made
    untraced = _run(cluster, _machine(cluster, "untraced-scoring", False), f"00-{'1' * 32}-{PARENT}-01")
    traced_after = _run(cluster, _machine(cluster, "traced-after", True), None)  # exported after it
    wait_for(
        lambda: any(
            s["attributes"].get("aws.step_functions.execution.arn") == traced_after
            for s in map(json.loads, files["spans"].read_text().splitlines())
        ),
        30,
        what="a later traced execution's spans",
    )
    assert _spans(files, "1" * 32) == []
    seen = [json.loads(line) for line in files["traceparents"].read_text().splitlines()]
    assert [s for s in seen if s["executionArn"] == untraced] == [{"executionArn": untraced}]
    assert arn != untraced


def test_without_a_trace_header_the_trace_is_derived_from_the_execution() -> None:
    arn = "arn:aws:states:us-east-1:123456789012:execution:scoring:app-1"
    trace_id, parent = tracing.trace_context(arn, None)
    assert parent is None and trace_id == tracing.trace_context(arn, "")[0] != tracing.trace_context(arn + "2", None)[0]
    assert tracing.traceparent(arn, None, "task", "5").startswith(f"00-{trace_id:032x}-")


def test_an_http_task_sends_the_task_span_s_traceparent() -> None:
    call = http.HttpCall(
        endpoint="https://api.example.com/score", method="POST", headers={}, query=(), body=None, form=False,
        array_format="INDICES", connection=None,
    )  # fmt: skip
    header = f"00-{TRACE}-{PARENT}-01"
    with tracing.activated(header):
        request = http.build_request(call, "us-east-1", 5.0)
    assert request.headers["traceparent"] == header
    assert "traceparent" not in http.build_request(call, "us-east-1", 5.0).headers
