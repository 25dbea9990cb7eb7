"""The API tried as an attacker would (issue 13): every bad request gets AWS's error, nothing else.

Against a real ``orchestrator serve`` on PostgreSQL with a worker: the hostile inputs the issue
found as fixed cases, then requests drawn from the AWS service model's input shapes by hypothesis
(derandomized, so a failure in CI is the same failure on a laptop). Each answer must be below 500,
JSON, in AWS's error shape when it is not a 200, short (no value echoed whole), and free of any
traceback; a refused create action must have written no row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import Server
from tests.api.fuzzing import FuzzTarget, check_answer, requests_for, rows_written
from tests.runtime.conftest import Cluster

DEEP = 100_000  # far beyond any recursion limit
HUGE = "1" * 5_000  # beyond Python's 4,300-digit limit on int()


@pytest.fixture(scope="module")
def target(server: Server, cluster: Cluster) -> Iterator[FuzzTarget]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield FuzzTarget.prepare(http, cluster.settings.database_url)


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


def either(action: str, body: Any) -> tuple[str, Any, bool]:
    """A case AWS may accept (valid JSON holding a NUL, say): it only has to be answered well."""
    return action, body, False


def test_the_hostile_inputs_of_the_issue_get_aws_errors(target: FuzzTarget) -> None:
    failures = []
    for case in hostile_cases(target):
        action, body, must_refuse = case if len(case) == 3 else (*case, True)
        before = target.rows()
        response = target.send(action, body)
        problem = check_answer(response) or rows_written(action, response, before, target.rows())
        if problem is None and must_refuse and response.status_code == 200:
            problem = "accepted where AWS refuses"
        if problem:
            failures.append(f"{action} {_shown(body)}: {problem}")
    assert not failures, "\n".join(failures)


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
