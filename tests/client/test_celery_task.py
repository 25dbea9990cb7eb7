"""``orchestrator.start_execution``: a service that runs Celery starts executions with ``send_task``.

The service has a Celery app of its own (only the broker in common); a real engine worker runs the
task through the service layer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from celery import Celery

from orchestrator import Client, ServiceError
from tests.client.conftest import ADD_ONE, new_machine
from tests.runtime.conftest import Cluster, wait_for


@pytest.fixture(scope="module")
def bank(cluster: Cluster) -> Iterator[Celery]:
    """The calling service's own Celery app, on the same broker."""
    app = Celery("bank", broker=cluster.settings.broker_url)
    yield app
    app.close()


def started(client: Client, arn: str) -> dict[str, object] | None:
    try:
        return client.describe_execution(arn)
    except ServiceError as exc:
        if exc.code != "ExecutionDoesNotExist":
            raise
        return None


def send(bank: Celery, cluster: Cluster, task_id: str | None = None, **kwargs: object) -> str:
    result = bank.send_task(
        "orchestrator.start_execution", kwargs=kwargs, queue=cluster.settings.engine_queue, task_id=task_id
    )
    return str(result.id)


def test_send_task_starts_an_execution(bank: Celery, cluster: Cluster, local: Client) -> None:
    machine = new_machine(local, ADD_ONE)
    send(bank, cluster, state_machine_arn=machine, input={"n": 6}, name="from-celery")

    arn = machine.replace(":stateMachine:", ":execution:") + ":from-celery"
    wait_for(lambda: started(local, arn), 30, what="the execution to start")
    done = local.wait(arn, timeout=60)
    assert (done["status"], json.loads(done["output"]), done["input"]) == ("SUCCEEDED", {"n": 7}, '{"n":6}')


def test_the_same_message_twice_starts_one_execution(bank: Celery, cluster: Cluster, local: Client) -> None:
    machine = new_machine(local, ADD_ONE)
    task_id = str(uuid.uuid4())
    # no name: the task's id names the execution, so a copy of the message names the same one
    send(bank, cluster, task_id, state_machine_arn=machine, input='{"n": 1}')
    arn = machine.replace(":stateMachine:", ":execution:") + f":{task_id}"
    wait_for(lambda: started(local, arn), 30, what="the execution to start")
    local.wait(arn, timeout=60)

    send(bank, cluster, task_id, state_machine_arn=machine, input='{"n": 1}')  # delivered again, after its end
    log = cluster.processes[-1]
    wait_for(lambda: log.output().count(f"orchestrator.start_execution[{task_id}] succeeded") == 2, 30)
    assert [e["name"] for e in local.list_executions(machine)["executions"]] == [task_id]


def test_a_refused_start_fails_the_task(bank: Celery, cluster: Cluster, local: Client) -> None:
    missing = "arn:aws:states:us-east-1:123456789012:stateMachine:no-such-machine"
    task_id = send(bank, cluster, state_machine_arn=missing, name="never")
    log = cluster.processes[-1]
    wait_for(lambda: f"orchestrator.start_execution[{task_id}] raised" in log.output(), 30, what="the task's end")
    assert "StateMachineDoesNotExist" in log.output()
    assert "Traceback" not in log.output()  # an expected refusal: one line

    # a name another input has taken
    machine = new_machine(local, ADD_ONE)
    local.start_execution(machine, {"n": 1}, name="taken")
    task_id = send(bank, cluster, state_machine_arn=machine, input={"n": 2}, name="taken")
    wait_for(lambda: f"orchestrator.start_execution[{task_id}] raised" in log.output(), 30, what="the task's end")
    taken = machine.replace(":stateMachine:", ":execution:") + ":taken"
    assert f"ExecutionAlreadyExists: Execution Already Exists: '{taken}'" in log.output()
    assert [e["name"] for e in local.list_executions(machine)["executions"]] == ["taken"]
