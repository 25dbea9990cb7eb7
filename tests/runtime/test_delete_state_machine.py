"""DeleteStateMachine as AWS documents it, on PostgreSQL with worker processes (and on the embedded
SQLite default): the machine is DELETING and starts nothing; its versions and aliases go at once;
each running execution ends at its next state transition (ExecutionFailed, States.Runtime, "State
machine <name> has been deleted."); once none runs, the machine is gone for the API and its name
is free, while its executions and their history stay in the tables.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from sqlalchemy import select

from orchestrator import config
from orchestrator.runtime.app import configure
from orchestrator.runtime.embedded import EmbeddedRuntime
from orchestrator.service import Service, ServiceError
from orchestrator.store.db import session_scope
from orchestrator.store.migrate import upgrade
from orchestrator.store.models import Execution, HistoryEvent, StateMachine
from tests.runtime.conftest import CALLBACK, CALLBACK_PARAMETERS, ROLE, Cluster, running_cluster, wait_for

ON_A_TOKEN = {
    "StartAt": "Ask",
    "States": {
        "Ask": {"Type": "Task", "Resource": CALLBACK, "Parameters": CALLBACK_PARAMETERS, "Next": "Approved"},
        "Approved": {"Type": "Pass", "End": True},
    },
}
# waits the input's "seconds", then goes on
ON_A_WAIT = {
    "StartAt": "Park",
    "States": {
        "Park": {"Type": "Wait", "SecondsPath": "$.seconds", "Next": "After"},
        "After": {"Type": "Pass", "End": True},
    },
}
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


@pytest.fixture(scope="module")
def cluster(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(database_url, tmp_path_factory.mktemp("delete")) as made:
        yield made


def _name() -> str:
    return f"deleted-{uuid.uuid4().hex[:10]}"


def _code(call: Callable[[], Any]) -> str | None:
    try:
        call()
    except ServiceError as exc:
        return exc.code
    return None


def _create(service: Service, name: str, definition: dict[str, Any], **options: Any) -> str:
    created = service.create_state_machine(name=name, definition=json.dumps(definition), role_arn=ROLE, **options)
    return str(created["stateMachineArn"])


def _listed(service: Service) -> set[str]:
    return {m["stateMachineArn"] for m in service.list_state_machines(max_results=1000)["stateMachines"]}


def _gone(service: Service, machine: str) -> bool:
    return _code(lambda: service.describe_state_machine(machine)) == "StateMachineDoesNotExist"


def _rows(service: Service, name: str) -> list[tuple[int, str]]:
    """The (id, status) of every ``state_machines`` row of this name, oldest first."""
    with session_scope(service.settings.database_url) as session:
        query = select(StateMachine.id, StateMachine.status).where(StateMachine.name == name)
        return [(r[0], r[1]) for r in session.execute(query.order_by(StateMachine.id))]


def _stored_events(service: Service, execution_arn: str) -> list[str]:
    """The execution's history as SQL sees it (the ``history_events`` rows), oldest first."""
    with session_scope(service.settings.database_url) as session:
        query = (
            select(HistoryEvent.type)
            .join(Execution, Execution.id == HistoryEvent.execution_id)
            .where(Execution.arn == execution_arn)
            .order_by(HistoryEvent.id)
        )
        return list(session.scalars(query))


def _ended(service: Service, execution_arn: str, timeout: float = 30) -> dict[str, Any]:
    return wait_for(
        lambda: (d := service.describe_execution(execution_arn))["status"] != "RUNNING" and d,
        timeout,
        what=f"{execution_arn} to end",
    )


def _assert_terminated(service: Service, execution_arn: str, machine_name: str) -> None:
    """Ended as AWS ends an execution of a deleted state machine, at its next transition."""
    ended = _ended(service, execution_arn)
    cause = f"State machine {machine_name} has been deleted."
    assert (ended["status"], ended.get("error"), ended.get("cause")) == ("FAILED", "States.Runtime", cause)
    events = service.get_execution_history(execution_arn, max_results=1000)["events"]
    assert events[-1]["type"] == "ExecutionFailed"
    assert events[-1]["executionFailedEventDetails"] == {"error": "States.Runtime", "cause": cause}
    assert not any(e["type"] == "PassStateEntered" for e in events)  # the next state was not entered


def test_a_deleted_machine_starts_nothing_and_its_parked_execution_ends_at_its_next_transition(
    cluster: Cluster,
) -> None:
    service = cluster.service
    name = _name()
    machine = _create(service, name, ON_A_TOKEN)
    version = service.publish_state_machine_version(machine)["stateMachineVersionArn"]
    alias = service.create_state_machine_alias("live", [{"stateMachineVersionArn": version, "weight": 100}])
    execution = cluster.start(machine, {"n": 1})
    token = cluster.token_for(execution)
    wait_for(lambda: "TaskSubmitted" in _stored_events(service, execution), 30, what="the task to wait")

    # When the machine is deleted while its execution waits for a task token
    assert service.delete_state_machine(machine) == {}

    # Then it is DELETING: it starts nothing, and its versions and aliases are gone already
    assert service.describe_state_machine(machine)["status"] == "DELETING"
    assert machine in _listed(service)
    assert _code(lambda: cluster.start(machine)) == "StateMachineDeleting"
    assert _code(lambda: _create(service, name, ON_A_TOKEN)) == "StateMachineDeleting"
    assert _code(lambda: service.update_state_machine(machine, definition=json.dumps(PASS))) == "StateMachineDeleting"
    assert _code(lambda: service.publish_state_machine_version(machine)) == "StateMachineDeleting"
    assert service.list_state_machine_versions(machine)["stateMachineVersions"] == []
    assert _code(lambda: service.describe_state_machine_alias(alias["stateMachineAliasArn"])) == "ResourceNotFound"
    assert _code(lambda: cluster.start(version)) == "StateMachineDoesNotExist"
    # and its execution waits on: nothing moved it
    time.sleep(1)
    assert cluster.describe(execution)["status"] == "RUNNING"

    # When its next transition comes (the task's answer)
    service.send_task_success(token, json.dumps({"approved": True}))

    # Then the execution ends there, and with it the machine
    _assert_terminated(service, execution, name)
    assert _gone(service, machine)
    assert machine not in _listed(service)
    # while the execution and its history stay, for the API and in SQL
    history = [e["type"] for e in cluster.history(execution)]
    assert _stored_events(service, execution) == history
    assert history[:2] == ["ExecutionStarted", "TaskStateEntered"]
    assert cluster.describe(execution)["stateMachineArn"] == machine
    assert [status for _, status in _rows(service, name)] == ["DELETED"]

    # When a machine of the same name is created
    again = _create(service, name, PASS)

    # Then it is a new machine under the same ARN, whose executions run
    assert again == machine and service.describe_state_machine(again)["status"] == "ACTIVE"
    (old_id, _), (new_id, _) = _rows(service, name)
    assert _rows(service, name) == [(old_id, "DELETED"), (new_id, "ACTIVE")]
    assert cluster.wait(cluster.start(again))["status"] == "SUCCEEDED"
    assert _stored_events(service, execution) == history


def test_executions_parked_on_waits_end_at_their_timers_and_the_machine_goes_with_the_last(cluster: Cluster) -> None:
    service = cluster.service
    name = _name()
    machine = _create(service, name, ON_A_WAIT)
    soon = cluster.start(machine, {"seconds": 1})
    later = cluster.start(machine, {"seconds": 4})
    wait_for(lambda: "WaitStateEntered" in _stored_events(service, later), 30, what="the Waits")

    # When the machine is deleted while both wait
    service.delete_state_machine(machine)

    # Then each ends when its Wait ends; the machine is DELETING until the second has
    _assert_terminated(service, soon, name)
    assert cluster.describe(later)["status"] == "RUNNING"
    assert service.describe_state_machine(machine)["status"] == "DELETING"
    _assert_terminated(service, later, name)
    wait_for(lambda: _gone(service, machine), 10, what="the machine to go")
    assert _rows(service, name) == [(_rows(service, name)[0][0], "DELETED")]


def test_stopping_the_last_running_execution_finishes_the_deletion(cluster: Cluster) -> None:
    service = cluster.service
    name = _name()
    machine = _create(service, name, ON_A_WAIT)
    execution = cluster.start(machine, {"seconds": 3600})
    wait_for(lambda: "WaitStateEntered" in _stored_events(service, execution), 30, what="the Wait")
    service.delete_state_machine(machine)
    assert service.describe_state_machine(machine)["status"] == "DELETING"

    # When the execution that holds the deletion up is stopped (AWS's advice for a machine stuck DELETING)
    service.stop_execution(execution, error="Ops.Cleanup")

    # Then the machine is gone, and the execution recorded as stopped
    assert _gone(service, machine)
    assert cluster.describe(execution)["status"] == "ABORTED"
    assert _stored_events(service, execution)[-1] == "ExecutionAborted"


def test_a_machine_with_nothing_running_and_an_express_machine_go_at_once(cluster: Cluster) -> None:
    service = cluster.service
    idle = _create(service, _name(), PASS)
    done = cluster.start(idle)
    assert cluster.wait(done)["status"] == "SUCCEEDED"
    express = _create(service, _name(), PASS, type="EXPRESS")

    service.delete_state_machine(idle)
    service.delete_state_machine(express)

    assert _gone(service, idle) and _gone(service, express)
    assert not {idle, express} & _listed(service)
    assert _code(lambda: cluster.start(idle)) == "StateMachineDoesNotExist"
    assert cluster.describe(done)["status"] == "SUCCEEDED"  # its execution stays
    assert service.delete_state_machine(idle) == {}  # deleting again is no error, as on AWS


# -- the embedded default (SQLite, a worker in this process) ----------------------------------------


@pytest.fixture()
def embedded(tmp_path: Path) -> Iterator[Service]:
    settings = config.load({"ORCHESTRATOR_HOME": str(tmp_path)})
    upgrade(settings.database_url)
    app = Celery("orchestrator-delete-embedded")
    configure(app, settings)
    with EmbeddedRuntime(app, settings):
        yield Service(settings, app)


@pytest.mark.filterwarnings("ignore::celery.exceptions.SecurityWarning")  # the embedded worker runs as root here
def test_on_the_embedded_default_a_deleted_machine_keeps_its_executions(embedded: Service) -> None:
    name = _name()
    machine = _create(embedded, name, ON_A_WAIT)
    execution = embedded.start_execution(machine, input=json.dumps({"seconds": 1}))["executionArn"]
    wait_for(lambda: "WaitStateEntered" in _stored_events(embedded, execution), 30, what="the Wait")

    embedded.delete_state_machine(machine)

    assert embedded.describe_state_machine(machine)["status"] == "DELETING"
    _assert_terminated(embedded, execution, name)
    assert _gone(embedded, machine)
    assert _create(embedded, name, PASS) == machine
    history = [e["type"] for e in embedded.get_execution_history(execution, max_results=1000)["events"]]
    assert _stored_events(embedded, execution) == history
    assert history[-1] == "ExecutionFailed"
    assert [status for _, status in _rows(embedded, name)] == ["DELETED", "ACTIVE"]
