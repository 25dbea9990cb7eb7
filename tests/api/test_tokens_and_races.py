"""Page tokens that were never issued are InvalidToken; ten identical creations at once give AWS's answers.

Against `orchestrator serve` on PostgreSQL: the races run in threads, through two server processes,
and every answer is checked (no 5xx) along with what was written (exactly one row).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from orchestrator import config
from orchestrator.service import ServiceError, pages
from tests.api.conftest import Server, client
from tests.runtime.conftest import Cluster

ROLE = "arn:aws:iam::123456789012:role/test"
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
WAIT = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}})
RACERS = 10


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


# Tokens an attacker can make: base64 JSON of every wrong shape, and things that are not base64 at all.
FORGED = [
    "e30=",  # {}
    b64('{"after": "abc"}'),
    b64('{"after": 1.5}'),
    b64('{"after": 1e999}'),
    b64('{"after": 9223372036854775808}'),  # 2**63
    b64('{"after": -1}'),
    b64('{"skip": 5}'),
    b64('{"start": "not a date", "id": 1}'),
    b64("[1, 2]"),
    b64('{"p": {"after": 5}, "t": 0}') + ".AAAAAAAAAAAAAAAAAAAAAA",  # our format, a made-up signature
    "!!",
    "a.b",
    "....",
    "\u00e9t\u00e9",
    "e30=" * 256,  # 1024 characters
]


def call(url: str, action: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = httpx.post(
        url,
        content=json.dumps(body),
        headers={"X-Amz-Target": f"AWSStepFunctions.{action}", "Content-Type": "application/x-amz-json-1.0"},
        timeout=60,
    )
    return response.status_code, response.json()


@pytest.fixture(scope="module")
def lists(server: Server, cluster: Cluster) -> dict[str, dict[str, Any]]:
    """One list of each kind with at least two pages, and the arguments that choose it."""
    sfn = client(server.url)
    suffix = uuid.uuid4().hex[:8]
    machine = sfn.create_state_machine(name=f"pages-{suffix}", definition=WAIT, roleArn=ROLE)["stateMachineArn"]
    sfn.create_state_machine(name=f"pages-{suffix}-other", definition=WAIT, roleArn=ROLE)
    sfn.publish_state_machine_version(stateMachineArn=machine)
    sfn.update_state_machine(stateMachineArn=machine, definition=PASS)
    version = sfn.publish_state_machine_version(stateMachineArn=machine)["stateMachineVersionArn"]
    for alias in ("a", "b"):
        routing = [{"stateMachineVersionArn": version, "weight": 100}]
        sfn.create_state_machine_alias(name=f"{alias}{suffix}", routingConfiguration=routing)
    executions = [sfn.start_execution(stateMachineArn=machine)["executionArn"] for _ in range(2)]
    # Until the worker runs them the history holds one event, ExecutionStarted: too few for two pages
    assert set(cluster.wait_all(executions, timeout=120).values()) == {"SUCCEEDED"}
    for index in range(2):
        sfn.create_activity(name=f"pages-{suffix}-{index}")
    return {
        "GetExecutionHistory": {"executionArn": executions[0]},
        "ListStateMachines": {},
        "ListExecutions": {"stateMachineArn": machine},
        "ListActivities": {},
        "ListStateMachineVersions": {"stateMachineArn": machine},
        "ListStateMachineAliases": {"stateMachineArn": machine},
        "ListMapRuns": {"executionArn": executions[0]},
    }


@pytest.mark.parametrize("token", FORGED, ids=range(len(FORGED)))
@pytest.mark.parametrize(
    "action",
    [
        "GetExecutionHistory",
        "ListStateMachines",
        "ListExecutions",
        "ListActivities",
        "ListStateMachineVersions",
        "ListStateMachineAliases",
        "ListMapRuns",
    ],
)
def test_a_forged_page_token_is_invalid_token(
    server: Server, lists: dict[str, dict[str, Any]], action: str, token: str
) -> None:
    status, error = call(server.url, action, {**lists[action], "nextToken": token})
    assert (status, error["__type"]) == (400, "InvalidToken"), error
    assert error["message"].startswith("Invalid Token: ")


@pytest.mark.parametrize(
    "action",
    [
        "GetExecutionHistory",
        "ListStateMachines",
        "ListExecutions",
        "ListActivities",
        "ListStateMachineVersions",
        "ListStateMachineAliases",
    ],
)
def test_a_real_token_pages_and_an_altered_one_does_not(
    server: Server, lists: dict[str, dict[str, Any]], action: str
) -> None:
    # Given the first page of one item, and its token
    first_status, first = call(server.url, action, {**lists[action], "maxResults": 1})
    token = first.get("nextToken")
    assert first_status == 200 and token, first
    # Then the token reads the second page
    status, second = call(server.url, action, {**lists[action], "maxResults": 1, "nextToken": token})
    assert status == 200 and second != first
    # But the token with one character changed, or given to another list, is refused
    payload, mac = token.split(".")
    altered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + mac
    assert call(server.url, action, {**lists[action], "nextToken": altered})[1]["__type"] == "InvalidToken"
    other = "ListActivities" if action != "ListActivities" else "ListStateMachines"
    assert call(server.url, other, {**lists[other], "nextToken": token})[1]["__type"] == "InvalidToken"


def test_a_history_token_of_one_execution_is_refused_for_another(server: Server, lists: dict[str, Any]) -> None:
    arn = lists["GetExecutionHistory"]["executionArn"]
    token = call(server.url, "GetExecutionHistory", {"executionArn": arn, "maxResults": 1})[1]["nextToken"]
    machine = lists["ListExecutions"]["stateMachineArn"]
    other = next(
        e["executionArn"]
        for e in call(server.url, "ListExecutions", {"stateMachineArn": machine})[1]["executions"]
        if e["executionArn"] != arn
    )
    status, error = call(server.url, "GetExecutionHistory", {"executionArn": other, "nextToken": token})
    assert (status, error["__type"]) == (400, "InvalidToken")


def test_a_token_expires_after_24_hours_and_binds_to_the_server_keys(tmp_path: Any) -> None:
    settings = config.load({"ORCHESTRATOR_HOME": str(tmp_path), "ORCHESTRATOR_API_KEYS": "K=S"})
    issued = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    token = pages.issue(settings, "ListActivities", {"after": 7}, now=issued)
    later = issued + dt.timedelta(hours=23)
    assert pages.read(settings, "ListActivities", token, {"after": int}, now=later) == {"after": 7}
    with pytest.raises(ServiceError, match="expired"):
        pages.read(settings, "ListActivities", token, {"after": int}, now=issued + dt.timedelta(hours=25))
    # Another server with the same keys reads it; a server with other keys does not
    same = config.load({"ORCHESTRATOR_HOME": str(tmp_path / "b"), "ORCHESTRATOR_API_KEYS": "K=S"})
    other = config.load({"ORCHESTRATOR_HOME": str(tmp_path), "ORCHESTRATOR_API_KEYS": "K=T"})
    assert pages.read(same, "ListActivities", token, {"after": int}, now=later) == {"after": 7}
    with pytest.raises(ServiceError) as refused:
        pages.read(other, "ListActivities", token, {"after": int}, now=later)
    assert refused.value.code == "InvalidToken"


# -- races ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_processes(cluster: Cluster) -> Iterator[Server]:
    """Two server processes behind one port, so the racers also race across processes."""
    with Server(cluster, "--workers", "2") as running:
        yield running


def race(action: Callable[[int], tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    """``action(i)`` for i in 0..RACERS-1, all released at the same moment."""
    start = threading.Barrier(RACERS)

    def one(index: int) -> tuple[int, dict[str, Any]]:
        start.wait()
        return action(index)

    with ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(one, range(RACERS)))
    assert all(status < 500 for status, _ in answers), answers
    return answers


def codes(answers: list[tuple[int, dict[str, Any]]]) -> list[str]:
    return sorted(body.get("__type", "200") for _, body in answers)


def new_machine(url: str, definition: str = WAIT) -> str:
    status, body = call(
        url, "CreateStateMachine", {"name": f"race-{uuid.uuid4().hex[:8]}", "definition": definition, "roleArn": ROLE}
    )
    assert status == 200, body
    return str(body["stateMachineArn"])


@pytest.mark.parametrize("round_", range(3))
def test_identical_start_executions_at_once_give_one_execution(two_processes: Server, round_: int) -> None:
    url = two_processes.url
    machine = new_machine(url)
    request = {"stateMachineArn": machine, "name": "same", "input": '{"amount": 10}'}
    answers = race(lambda _: call(url, "StartExecution", request))
    assert {status for status, _ in answers} == {200}
    assert len({body["executionArn"] for _, body in answers}) == 1
    assert len(call(url, "ListExecutions", {"stateMachineArn": machine})[1]["executions"]) == 1


@pytest.mark.parametrize("round_", range(3))
def test_start_executions_of_one_name_with_other_inputs_at_once(two_processes: Server, round_: int) -> None:
    url = two_processes.url
    machine = new_machine(url)
    answers = race(
        lambda i: call(url, "StartExecution", {"stateMachineArn": machine, "name": "same", "input": f'{{"i": {i}}}'})
    )
    assert codes(answers) == ["200"] + ["ExecutionAlreadyExists"] * (RACERS - 1)
    assert len(call(url, "ListExecutions", {"stateMachineArn": machine})[1]["executions"]) == 1


def test_identical_create_state_machines_at_once_give_one_machine(two_processes: Server) -> None:
    url = two_processes.url
    name = f"race-{uuid.uuid4().hex[:8]}"
    request = {"name": name, "definition": WAIT, "roleArn": ROLE, "publish": True, "versionDescription": "v"}
    answers = race(lambda _: call(url, "CreateStateMachine", request))
    assert {status for status, _ in answers} == {200}
    assert len({(body["stateMachineArn"], body["stateMachineVersionArn"]) for _, body in answers}) == 1
    machine = answers[0][1]["stateMachineArn"]
    versions = call(url, "ListStateMachineVersions", {"stateMachineArn": machine})[1]["stateMachineVersions"]
    assert len(versions) == 1


def test_create_state_machines_of_one_name_with_other_definitions_at_once(two_processes: Server) -> None:
    url = two_processes.url
    name = f"race-{uuid.uuid4().hex[:8]}"

    def create(i: int) -> tuple[int, dict[str, Any]]:
        definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": i, "End": True}}})
        return call(url, "CreateStateMachine", {"name": name, "definition": definition, "roleArn": ROLE})

    assert codes(race(create)) == ["200"] + ["StateMachineAlreadyExists"] * (RACERS - 1)


def test_identical_create_activities_at_once_give_one_activity(two_processes: Server) -> None:
    url = two_processes.url
    name = f"race-{uuid.uuid4().hex[:8]}"
    answers = race(lambda i: call(url, "CreateActivity", {"name": name, "tags": [{"key": "i", "value": str(i)}]}))
    assert {status for status, _ in answers} == {200}
    assert len({body["activityArn"] for _, body in answers}) == 1


def test_create_state_machine_aliases_at_once(two_processes: Server) -> None:
    url = two_processes.url
    machine = new_machine(url)
    version = call(url, "PublishStateMachineVersion", {"stateMachineArn": machine})[1]["stateMachineVersionArn"]
    routing = [{"stateMachineVersionArn": version, "weight": 100}]
    same = race(lambda _: call(url, "CreateStateMachineAlias", {"name": "live", "routingConfiguration": routing}))
    assert {status for status, _ in same} == {200}
    assert len({body["stateMachineAliasArn"] for _, body in same}) == 1
    others = race(
        lambda i: call(
            url, "CreateStateMachineAlias", {"name": "next", "routingConfiguration": routing, "description": str(i)}
        )
    )
    assert codes(others) == ["200"] + ["ConflictException"] * (RACERS - 1)
    aliases = call(url, "ListStateMachineAliases", {"stateMachineArn": machine})[1]["stateMachineAliases"]
    assert len(aliases) == 2


@pytest.mark.parametrize("round_", range(3))
def test_publishing_one_revision_at_once_makes_one_version(two_processes: Server, round_: int) -> None:
    url = two_processes.url
    machine = new_machine(url)
    answers = race(lambda _: call(url, "PublishStateMachineVersion", {"stateMachineArn": machine}))
    assert {status for status, _ in answers} == {200}
    assert {body["stateMachineVersionArn"] for _, body in answers} == {f"{machine}:1"}
    versions = call(url, "ListStateMachineVersions", {"stateMachineArn": machine})[1]["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in versions] == [f"{machine}:1"]
