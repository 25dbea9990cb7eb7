"""The API tried as an attacker would (issue 13): every bad request gets AWS's error, nothing else.

Against a real ``orchestrator serve`` on PostgreSQL with a worker: the hostile inputs the issue
found as fixed cases, then requests drawn from the AWS service model's input shapes by hypothesis
(derandomized, so a failure in CI is the same failure on a laptop). Each answer must be below 500,
JSON, in AWS's error shape when it is not a 200, short (no value echoed whole), and free of any
traceback; a refused create action must have written no row.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.store.migrate import upgrade
from tests.api.conftest import API_REDIS_URL, Server, isolate
from tests.api.fuzzing import FuzzTarget, check_answer, requests_for, rows_written
from tests.runtime.conftest import Cluster, close_clusters

DEEP = 100_000  # far beyond any recursion limit
HUGE = "1" * 5_000  # beyond Python's 4,300-digit limit on int()


@pytest.fixture(scope="module")
def target(server: Server, cluster: Cluster) -> Iterator[FuzzTarget]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield FuzzTarget.prepare(http, cluster.settings.database_url)


@pytest.fixture(scope="module")
def sqlite_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    """The same stack on the embedded database: orchestrator serve, a worker and the scheduler on SQLite."""
    tmp = tmp_path_factory.mktemp("fuzz-sqlite")
    url = f"sqlite:///{tmp / 'orchestrator.sqlite'}"
    upgrade(url)
    cluster = Cluster(url, API_REDIS_URL, tmp / "cluster")
    cluster.tmp.mkdir(parents=True)
    isolate(cluster)
    try:
        cluster.start_worker(concurrency=2)
        cluster.start_scheduler()
        with Server(cluster) as server, httpx.Client(base_url=server.url, timeout=30) as http:
            yield FuzzTarget.prepare(http, url)
    finally:
        close_clusters([cluster])


def deep(text: str = "[", close: str = "]", depth: int = DEEP) -> str:
    return text * depth + close * depth


def hostile_cases(t: FuzzTarget) -> list[tuple[str, Any] | tuple[str, Any, bool]]:
    """(action, body), each to be refused: the issue's findings; a body that is ``bytes`` is sent as it is."""
    machine, version, alias, execution, activity = t.machine, t.version, t.alias, t.running, t.activity
    base = t.machine
    weights = lambda *pairs: [{"stateMachineVersionArn": v, "weight": w} for v, w in pairs]  # noqa: E731
    alias_of = lambda routing: {"name": "fuzzed", "routingConfiguration": routing}  # noqa: E731
    raw = lambda action, text: (action, text.encode("utf-8", "surrogatepass"))  # noqa: E731
    return [
        # JSON nested far too deep, and numbers too long, in the body and in JSON-in-string fields
        raw("ListStateMachines", '{"nextToken": ' + deep() + "}"),
        raw("ListStateMachines", '{"maxResults": ' + HUGE + "}"),
        raw("StartExecution", '{"stateMachineArn": "' + machine + '", "input": 1e999}'),
        ("StartExecution", {"stateMachineArn": machine, "input": deep()}),
        ("StartExecution", {"stateMachineArn": machine, "input": deep('{"a":', "}")}),
        ("StartExecution", {"stateMachineArn": machine, "input": HUGE}),
        ("StartExecution", {"stateMachineArn": machine, "input": '{"n": ' + HUGE + "}"}),
        ("StartExecution", {"stateMachineArn": machine, "input": "NaN"}),
        ("StartExecution", {"stateMachineArn": machine, "input": '{"n": 1e999}'}),
        ("StartSyncExecution", {"stateMachineArn": t.express, "input": deep()}),
        ("StartSyncExecution", {"stateMachineArn": t.express, "input": HUGE}),
        ("CreateStateMachine", {"name": "deep", "roleArn": t.role, "definition": deep()}),
        ("CreateStateMachine", {"name": "deep", "roleArn": t.role, "definition": deep('{"a":', "}")}),
        ("CreateStateMachine", {"name": "huge", "roleArn": t.role, "definition": t.wait_definition(HUGE)}),
        ("CreateStateMachine", {"name": "nan", "roleArn": t.role, "definition": t.wait_definition("NaN")}),
        ("UpdateStateMachine", {"stateMachineArn": machine, "definition": deep()}),
        ("ValidateStateMachineDefinition", {"definition": deep()}),
        ("ValidateStateMachineDefinition", {"definition": t.wait_definition(HUGE)}),
        ("TestState", {"definition": deep()}),
        ("TestState", {"definition": t.pass_state, "input": deep()}),
        ("TestState", {"definition": t.pass_state, "input": HUGE}),
        ("TestState", {"definition": t.pass_state, "variables": deep()}),
        ("TestState", {"definition": t.pass_state, "variables": '{"v": ' + HUGE + "}"}),
        ("TestState", {"definition": t.pass_state, "context": deep()}),
        ("TestState", {"definition": t.pass_state, "context": HUGE}),
        ("TestState", {"definition": t.pass_state, "input": "{}", "mock": {"result": deep()}}),
        either("TestState", {"definition": t.result_path_state(5_000)}),
        ("SendTaskSuccess", {"taskToken": "A" * 43, "output": deep()}),
        # NUL in names, ARNs, errors and causes
        ("CreateStateMachine", {"name": "a\u0000b", "roleArn": t.role, "definition": t.pass_definition}),
        ("CreateActivity", {"name": "a\u0000b"}),
        ("DescribeStateMachine", {"stateMachineArn": machine + "\u0000"}),
        ("DescribeExecution", {"executionArn": execution + "\u0000"}),
        ("DescribeActivity", {"activityArn": activity + "\u0000"}),
        ("StartExecution", {"stateMachineArn": machine, "name": "x\u0000"}),
        either("StartExecution", {"stateMachineArn": machine, "input": '{"a": "\\u0000"}'}),
        either("StopExecution", {"executionArn": t.doomed(), "error": "e\u0000", "cause": "c\u0000"}),
        either("SendTaskFailure", {"taskToken": "A" * 43, "error": "\u0000", "cause": "\u0000"}),
        either("TagResource", {"resourceArn": machine, "tags": [{"key": "k\u0000", "value": "v\u0000"}]}),
        ("CreateStateMachine", t.create_body(loggingConfiguration=logging_to(LOG_GROUP + "\u0000"))),
        ("UpdateStateMachine", {"stateMachineArn": machine, "loggingConfiguration": logging_to("\u0000")}),
        # lone surrogates, sent as JSON escapes
        raw("CreateStateMachine", json.dumps({"name": "\ud800", "roleArn": t.role, "definition": t.pass_definition})),
        raw("CreateActivity", json.dumps({"name": "\udfff"})),
        either(*raw("StartExecution", json.dumps({"stateMachineArn": machine, "input": '"\ud800"'}))),
        either("StartExecution", {"stateMachineArn": machine, "input": '"\\ud800"'}),
        raw("StartExecution", json.dumps({"stateMachineArn": machine, "traceHeader": "\ud800"})),
        raw("StartExecution", json.dumps({"stateMachineArn": machine, "name": "\ud800"})),
        raw("DescribeStateMachine", json.dumps({"stateMachineArn": machine + "\ud800"})),
        either(*raw("StopExecution", json.dumps({"executionArn": t.doomed(), "error": "\ud800", "cause": "\udc00"}))),
        raw("CreateStateMachine", json.dumps({"name": "s", "roleArn": t.role, "definition": t.pass_named("\ud800")})),
        raw("TagResource", json.dumps({"resourceArn": machine, "tags": [{"key": "k", "value": "\ud800"}]})),
        raw("CreateStateMachine", json.dumps(t.create_body(loggingConfiguration=logging_to(LOG_GROUP + "\udc00")))),
        # NUL in other text a row keeps (bench/fuzz.py found the trace header)
        ("StartExecution", {"stateMachineArn": machine, "traceHeader": "a\u0000b"}),
        ("CreateStateMachine", t.create_body(versionDescription="\u0000", publish=True)),
        ("GetActivityTask", {"activityArn": activity, "workerName": "w\u0000"}),
        ("PublishStateMachineVersion", {"stateMachineArn": machine, "description": "\u0000"}),
        # NaN, Infinity and 1e999 in the body
        raw("ListStateMachines", '{"maxResults": NaN}'),
        raw("ListStateMachines", '{"maxResults": Infinity}'),
        raw("ListStateMachines", '{"maxResults": -Infinity}'),
        raw("ListStateMachines", '{"maxResults": 1e999}'),
        raw("UpdateMapRun", '{"mapRunArn": "' + t.map_run + '", "toleratedFailurePercentage": NaN}'),
        raw(
            "UpdateStateMachine",
            '{"stateMachineArn": "' + machine + '", "loggingConfiguration": {"level": "ALL", '
            '"includeExecutionData": NaN}}',
        ),
        raw("TagResource", '{"resourceArn": "' + machine + '", "tags": [{"key": "k", "value": Infinity}]}'),
        # non-objects where objects belong, and numbers that are not numbers
        ("CreateStateMachine", {"name": "tags", "roleArn": t.role, "definition": t.pass_definition, "tags": [1]}),
        ("CreateStateMachine", {"name": "tags", "roleArn": t.role, "definition": t.pass_definition, "tags": [None]}),
        ("CreateActivity", {"name": "tags", "tags": ["k"]}),
        ("CreateActivity", {"name": "tags", "tags": [{"key": 1, "value": []}]}),
        ("TagResource", {"resourceArn": machine, "tags": [[]]}),
        ("CreateStateMachineAlias", alias_of([1])),
        ("CreateStateMachineAlias", alias_of([None])),
        ("CreateStateMachineAlias", alias_of(weights((version, "abc")))),
        ("CreateStateMachineAlias", alias_of(weights((version, None)))),
        raw(
            "CreateStateMachineAlias",
            '{"name": "inf", "routingConfiguration": [{"stateMachineVersionArn": "'
            + version
            + '", "weight": Infinity}]}',
        ),
        ("CreateStateMachineAlias", alias_of(weights((None, 100)))),
        ("CreateStateMachineAlias", alias_of(weights((5, 100)))),
        ("UpdateStateMachineAlias", {"stateMachineAliasArn": alias, "routingConfiguration": [1]}),
        ("UpdateStateMachineAlias", {"stateMachineAliasArn": alias, "routingConfiguration": weights((5, 100))}),
        ("UntagResource", {"resourceArn": machine, "tagKeys": [{}]}),
        ("UntagResource", {"resourceArn": machine, "tagKeys": [1]}),
        ("UntagResource", {"resourceArn": machine, "tagKeys": [None]}),
        # version qualifiers that are digits to str.isdigit() only, or too many
        *[
            (action, {key: f"{base}:{qualifier}"})
            for qualifier in ("²", "\u0661", "99999999999999999999999", "-1", "1.0", "")
            for action, key in (
                ("DescribeStateMachine", "stateMachineArn"),
                ("DeleteStateMachineVersion", "stateMachineVersionArn"),
                ("StartExecution", "stateMachineArn"),
                ("ListStateMachineVersions", "stateMachineArn"),
                ("DescribeStateMachineAlias", "stateMachineAliasArn"),
            )
        ],
        ("CreateStateMachineAlias", alias_of(weights((f"{base}:²", 100)))),
        ("CreateStateMachineAlias", alias_of(weights((f"{base}:99999999999999999999999", 100)))),
        # settings AWS refuses
        ("CreateStateMachine", t.create_body(loggingConfiguration={"level": 1})),
        ("CreateStateMachine", t.create_body(loggingConfiguration={"level": "NOPE"})),
        ("CreateStateMachine", t.create_body(loggingConfiguration={"destinations": [1]})),
        ("CreateStateMachine", t.create_body(tracingConfiguration={"enabled": "yes"})),
        ("UpdateStateMachine", {"stateMachineArn": machine, "loggingConfiguration": {"level": "NOPE"}}),
        ("CreateStateMachineAlias", alias_of(weights((version, 100.5)))),
        ("CreateStateMachineAlias", alias_of(weights((version, "100")))),
        ("CreateStateMachineAlias", alias_of(weights((version, 150), (t.version2, -50)))),
        ("CreateStateMachineAlias", alias_of(weights((version, 50), (version, 50)))),
        # a 1 MB value where an enum belongs: refused without being echoed whole
        ("CreateStateMachine", t.create_body(type="E" * 1_000_000)),
        ("ListExecutions", {"stateMachineArn": machine, "statusFilter": "S" * 1_000_000}),
        ("TestState", {"definition": t.pass_state, "inspectionLevel": "I" * 1_000_000}),
        ("ValidateStateMachineDefinition", {"definition": t.pass_definition, "severity": "V" * 1_000_000}),
    ]


LOG_GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:fuzz:*"


def logging_to(log_group: str) -> dict[str, Any]:
    destination = {"cloudWatchLogsLogGroup": {"logGroupArn": log_group}}
    return {"level": "ALL", "includeExecutionData": True, "destinations": [destination]}


def either(action: str, body: Any) -> tuple[str, Any, bool]:
    """A case AWS may accept (valid JSON holding a NUL, say): it only has to be answered well."""
    return action, body, False


def test_the_hostile_inputs_of_the_issue_get_aws_errors(target: FuzzTarget) -> None:
    failures = [problem for _, problem in answer_hostile_cases(target) if problem]
    assert not failures, "\n".join(failures)


def test_sqlite_answers_the_hostile_inputs_as_postgresql_does(target: FuzzTarget, sqlite_target: FuzzTarget) -> None:
    # The same checks at the edge whatever the database: no string PostgreSQL refuses is let
    # through on SQLite only to fail later, and none SQLite takes is refused on PostgreSQL only.
    on_sqlite = answer_hostile_cases(sqlite_target)
    failures = [problem for _, problem in on_sqlite if problem]
    assert not failures, "\n".join(failures)
    differences = [
        f"case {index}: PostgreSQL {pg}, SQLite {lite}"
        for index, ((pg, _), (lite, _)) in enumerate(zip(answer_hostile_cases(target), on_sqlite, strict=True))
        if pg != lite
    ]
    assert not differences, "\n".join(differences)


def answer_hostile_cases(t: FuzzTarget) -> list[tuple[tuple[int, str], str | None]]:
    """Each hostile case's answer (status and error code) and what is wrong with it, if anything."""
    answers = []
    for case in hostile_cases(t):
        action, body, must_refuse = case if len(case) == 3 else (*case, True)
        before = t.rows()
        response = t.send(action, body)
        problem = check_answer(response) or rows_written(action, response, before, t.rows())
        if problem is None and must_refuse and response.status_code == 200:
            problem = "accepted where AWS refuses"
        code = "" if response.status_code == 200 or problem else response.json()["__type"]
        answers.append(((response.status_code, code), f"{action} {_shown(body)}: {problem}" if problem else None))
    return answers


ACTIVITY_MACHINE = {"StartAt": "Ask", "States": {"Ask": {"Type": "Task", "Resource": "", "End": True}}}
# Outputs a real task token may be answered with (issue 13, item 6): refused, each with InvalidOutput...
REFUSED_OUTPUTS = ["NaN", '{"n": Infinity}', '{"n": 1e999}', '"\\ud800"', deep(), '{"n": ' + HUGE + "}"]
# ...or kept: a NUL is JSON (AWS keeps it), and has to come back out of the JSONB column as it went in.
KEPT_OUTPUT = '{"nul": "a\\u0000b"}'


def test_a_real_task_token_answered_with_hostile_outputs(target: FuzzTarget) -> None:
    # Given an execution waiting on an activity task, and its task token
    activity = target.call("CreateActivity", {"name": f"fuzz-out-{target.suffix}"})["activityArn"]
    definition = json.dumps(ACTIVITY_MACHINE).replace('"Resource": ""', f'"Resource": "{activity}"')
    machine = target.call("CreateStateMachine", target.create_body(definition=definition))["stateMachineArn"]
    execution = target.call("StartExecution", {"stateMachineArn": machine})["executionArn"]
    token = poll_task(target, activity)
    # When it is answered with outputs no JSON column can hold, each is refused as AWS refuses them
    for output in REFUSED_OUTPUTS:
        response = target.send("SendTaskSuccess", {"taskToken": token, "output": output})
        assert check_answer(response) is None, f"{output[:60]}: {response.text[:300]}"
        assert (response.status_code, response.json()["__type"]) == (400, "InvalidOutput"), output[:60]
    # And the token still stands: an output with an escaped NUL is taken, and read back as it was sent
    target.call("SendTaskSuccess", {"taskToken": token, "output": KEPT_OUTPUT})
    described = wait_until_done(target, execution)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"nul": "a\u0000b"}
    history = target.call("GetExecutionHistory", {"executionArn": execution})["events"]
    outputs = [d["output"] for e in history for k, d in e.items() if k.endswith("EventDetails") and "output" in d]
    assert {"nul": "a\u0000b"} in [json.loads(output) for output in outputs]


def poll_task(target: FuzzTarget, activity: str) -> str:
    for _ in range(5):  # each poll holds up to a minute while the worker schedules the task
        response = target.http.post(
            "/",
            content=json.dumps({"activityArn": activity}).encode(),
            headers={"x-amz-target": "AWSStepFunctions.GetActivityTask", "content-type": "application/x-amz-json-1.0"},
            timeout=90,
        )
        token = response.json().get("taskToken")
        if token:
            return str(token)
    raise AssertionError("the activity task was never scheduled")


def wait_until_done(target: FuzzTarget, execution: str) -> dict[str, Any]:
    for _ in range(600):
        described = target.call("DescribeExecution", {"executionArn": execution})
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    raise AssertionError(f"{execution} still runs")


def _shown(body: Any) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else json.dumps(body)
    return text[:160] + ("..." if len(text) > 160 else "")


@settings(
    max_examples=700,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_requests_drawn_from_the_service_model_get_aws_answers(target: FuzzTarget, data: st.DataObject) -> None:
    action, body = data.draw(requests_for(target))
    before = target.rows() if action.startswith("Create") else None
    response = target.send(action, body)
    problem = check_answer(response)
    if problem is None and before is not None:
        problem = rows_written(action, response, before, target.rows())
    assert problem is None, f"{action} {_shown(body)}: {problem}"
