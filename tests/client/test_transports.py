"""The client's actions, in-process and over HTTP (SigV4-signed, to a real ``orchestrator serve``), on PostgreSQL.

Every behaviour is checked on both transports, and the same calls give the same answers from both:
the same dictionaries, the same datetimes (UTC), the same errors.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from orchestrator import Client, ServiceError, WaitTimeout
from tests.api.conftest import Server
from tests.client.conftest import ACCESS_KEY, ADD_ONE, CALLBACK_MACHINE, new_machine
from tests.runtime.conftest import Cluster

PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}


@pytest.fixture(params=["local", "remote"])
def client(request: pytest.FixtureRequest) -> Client:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def test_start_is_idempotent_by_name(client: Client, cluster: Cluster) -> None:
    machine = new_machine(client, CALLBACK_MACHINE)
    first = client.start_execution(machine, {"applicant": "Ada", "amount": 3500}, name="application-1")

    # the same input, as a dict in another order or as JSON text, while it runs: the first answer again
    assert client.start_execution(machine, {"amount": 3500, "applicant": "Ada"}, name="application-1") == first
    assert client.start_execution(machine, '{"applicant": "Ada", "amount": 3500}', name="application-1") == first
    assert [e["name"] for e in client.list_executions(machine)["executions"]] == ["application-1"]

    # another input under that name is refused
    with pytest.raises(ServiceError) as refused:
        client.start_execution(machine, {"applicant": "Ada", "amount": 9999}, name="application-1")
    assert refused.value.code == "ExecutionAlreadyExists"

    # and once it has ended, the same input too (as on AWS)
    client.send_task_success(cluster.token_for(first["executionArn"]), {})
    client.wait(first["executionArn"], timeout=60)
    with pytest.raises(ServiceError) as ended:
        client.start_execution(machine, {"applicant": "Ada", "amount": 3500}, name="application-1")
    assert ended.value.code == "ExecutionAlreadyExists"


def test_wait_gives_up_at_its_timeout_and_task_tokens_answer(client: Client, cluster: Cluster) -> None:
    machine = new_machine(client, CALLBACK_MACHINE)
    approved = client.start_execution(machine, {"amount": 7500})["executionArn"]
    rejected = client.start_execution(machine, {"amount": 9500})["executionArn"]
    token = cluster.token_for(approved)

    with pytest.raises(WaitTimeout) as waited:
        client.wait(approved, timeout=0.3)
    assert waited.value.description["status"] == "RUNNING"
    assert isinstance(waited.value, TimeoutError)

    assert client.send_task_heartbeat(token) == {}
    assert client.send_task_success(token, {"approved": True, "by": "Grace"}) == {}
    done = client.wait(approved, timeout=60)
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"approved": True, "by": "Grace"})

    assert client.send_task_failure(cluster.token_for(rejected), error="Rejected", cause="too much") == {}
    failed = client.wait(rejected, timeout=60)
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Rejected", "too much")

    with pytest.raises(ServiceError) as used:
        client.send_task_success(token, {})
    assert used.value.code == "TaskDoesNotExist"  # answered already


def test_stop_execution(client: Client) -> None:
    machine = new_machine(client, CALLBACK_MACHINE)
    arn = client.start_execution(machine)["executionArn"]
    stopped = client.stop_execution(arn, error="Withdrawn", cause="the applicant withdrew")
    assert isinstance(stopped["stopDate"], dt.datetime)
    done = client.wait(arn, timeout=5)
    assert (done["status"], done["error"], done["cause"]) == ("ABORTED", "Withdrawn", "the applicant withdrew")
    assert done["stopDate"] == stopped["stopDate"]


def test_history_every_page_and_lazily(client: Client) -> None:
    machine = new_machine(client, ADD_ONE)
    arn = client.start_execution(machine, {"n": 1})["executionArn"]
    client.wait(arn, timeout=60)

    events = client.history(arn)
    assert [e["type"] for e in events] == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    assert list(client.iter_history(arn, page_size=2)) == events  # four requests of two events
    assert client.history(arn, reverse_order=True) == events[::-1]
    hidden = client.history(arn, include_execution_data=False)[0]["executionStartedEventDetails"]
    assert hidden["inputDetails"] == {"truncated": False} and "input" not in hidden


def test_list_executions_pages_and_filters(client: Client) -> None:
    machine = new_machine(client, CALLBACK_MACHINE)
    arns = [client.start_execution(machine, name=f"e{i}")["executionArn"] for i in range(3)]
    client.stop_execution(arns[0])

    first = client.list_executions(machine, max_results=2)
    rest = client.list_executions(machine, max_results=2, next_token=first["nextToken"])
    assert [e["name"] for e in first["executions"] + rest["executions"]] == ["e2", "e1", "e0"]
    assert "nextToken" not in rest
    assert [e["name"] for e in client.list_executions(machine, status_filter="ABORTED")["executions"]] == ["e0"]
    for arn in arns[1:]:
        client.stop_execution(arn)


def test_start_sync_execution(client: Client) -> None:
    machine = new_machine(client, PASS, type="EXPRESS")
    done = client.start_sync_execution(machine, {"x": 1}, name="sync")
    assert (done["status"], json.loads(done["output"]), done["input"]) == ("SUCCEEDED", {"ok": True}, '{"x":1}')
    assert done["executionArn"].startswith(machine.replace(":stateMachine:", ":express:") + ":sync:")
    assert done["startDate"].tzinfo is dt.UTC and done["stopDate"] >= done["startDate"]


def test_both_transports_give_the_same_answers(local: Client, remote: Client, cluster: Cluster) -> None:
    machine = new_machine(remote, CALLBACK_MACHINE)
    assert local.describe_state_machine(machine) == remote.describe_state_machine(machine)

    # the same start from each: the second answers as the first did (idempotent by name)
    started = remote.start_execution(machine, {"amount": 3500}, name="same")
    assert local.start_execution(machine, {"amount": 3500}, name="same") == started
    arn = started["executionArn"]
    assert local.describe_execution(arn) == remote.describe_execution(arn)

    local.send_task_success(cluster.token_for(arn), {"approved": True})
    described = remote.wait(arn, timeout=60)
    assert local.wait(arn, timeout=60) == described
    assert described["startDate"] == started["startDate"] and described["startDate"].tzinfo is dt.UTC
    assert local.history(arn) == remote.history(arn)
    assert local.list_executions(machine) == remote.list_executions(machine)

    updated = {"definition": ADD_ONE, "role_arn": "arn:aws:iam::123456789012:role/other"}
    assert sorted(local.update_state_machine(machine, **updated)) == sorted(
        remote.update_state_machine(machine, **updated)
    )

    errors = []
    for client in (local, remote):
        with pytest.raises(ServiceError) as refused:
            client.describe_execution(arn + "-missing")
        errors.append((refused.value.code, refused.value.message))
    assert errors[0] == errors[1] and errors[0][0] == "ExecutionDoesNotExist"


def test_requests_are_signed(server: Server, remote: Client) -> None:
    forged = Client(endpoint_url=server.url, access_key=ACCESS_KEY, secret_key="not-the-secret")
    with pytest.raises(ServiceError) as refused:
        forged.list_executions("arn:aws:states:us-east-1:123456789012:stateMachine:anything")
    assert refused.value.code == "InvalidSignatureException"

    with pytest.raises(TypeError, match="session= joins a database transaction"):
        remote.describe_execution("arn:aws:states:us-east-1:123456789012:execution:a:b", session=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="without endpoint_url"), remote.transaction():
        pass


def test_a_server_without_access_keys_needs_none(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    with Server(cluster) as open_server:
        client = Client(endpoint_url=open_server.url)
        machine = new_machine(client, PASS)
        assert client.list_executions(machine) == {"executions": []}
