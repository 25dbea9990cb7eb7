"""Poison messages end executions, not workers: what the database cannot store, what nests too
deeply, and a step that fails on every try, on PostgreSQL with worker processes (and on the
embedded SQLite default).

Each execution ends, FAILED with States.Runtime and a cause that says why, or SUCCEEDED with its
data exactly as written; none is left RUNNING waiting for the sweeper.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from sqlalchemy import insert

from orchestrator import config
from orchestrator.asl.parse import parse
from orchestrator.runtime import operations
from orchestrator.runtime.app import configure
from orchestrator.runtime.embedded import EmbeddedRuntime
from orchestrator.runtime.messages import ADVANCE
from orchestrator.runtime.poison import MAX_TRIES
from orchestrator.runtime.publish import publish
from orchestrator.service import Service, ServiceError
from orchestrator.store import state_machines as catalog
from orchestrator.store.db import session_scope
from orchestrator.store.migrate import upgrade
from orchestrator.store.models import OutboxMessage
from tests.runtime.conftest import CALLBACK, CALLBACK_PARAMETERS, ROLE, Cluster, running_cluster, wait_for

# How long a poisoned execution may take to end: MAX_TRIES tries, 2 s and 4 s apart, plus ticks.
ENDS_WITHIN = 30


def _pass(**fields: Any) -> dict[str, Any]:
    return {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True, **fields}}}


NUL_RESULT = _pass(Result="a\u0000b")
NUL_DECODED = _pass(Parameters={"v.$": "States.Base64Decode('AA==')"})
DEEP_RESULT_PATH = _pass(Result=1, ResultPath="$" + ".a" * 5000)
NAN_DEFINITION = '{"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": NaN, "End": true}}}'
# a parked execution, for messages sent to it by hand
PARKED = {"StartAt": "Park", "States": {"Park": {"Type": "Wait", "Seconds": 3600, "End": True}}}


@pytest.fixture(scope="module")
def cluster(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(database_url, tmp_path_factory.mktemp("poison")) as made:
        yield made


def _run(service: Service, definition: dict[str, Any] | str, execution_input: str = "{}") -> dict[str, Any]:
    text = definition if isinstance(definition, str) else json.dumps(definition)
    arn = service.create_state_machine(name=f"sm-{time.monotonic_ns()}", definition=text, role_arn=ROLE)
    return service.start_execution(arn["stateMachineArn"], input=execution_input)


def _ended(service: Service, execution_arn: str, timeout: float = ENDS_WITHIN) -> dict[str, Any]:
    return wait_for(
        lambda: (d := service.describe_execution(execution_arn))["status"] != "RUNNING" and d,
        timeout,
        what=f"{execution_arn} to end",
    )


def _event_types(service: Service, execution_arn: str) -> list[str]:
    return [e["type"] for e in service.get_execution_history(execution_arn, max_results=1000)["events"]]


# -- values the database cannot store ---------------------------------------------------------------


def test_a_nul_character_in_a_pass_result_comes_back_exactly(cluster: Cluster) -> None:
    execution = _run(cluster.service, NUL_RESULT)["executionArn"]
    ended = _ended(cluster.service, execution)
    assert ended["status"] == "SUCCEEDED", ended
    assert json.loads(ended["output"]) == "a\u0000b"
    exited = cluster.history(execution)[-2]
    assert json.loads(exited["stateExitedEventDetails"]["output"]) == "a\u0000b"


def test_a_nul_character_from_base64_decode_comes_back_exactly(cluster: Cluster) -> None:
    execution = _run(cluster.service, NUL_DECODED)["executionArn"]
    ended = _ended(cluster.service, execution)
    assert ended["status"] == "SUCCEEDED", ended
    assert json.loads(ended["output"]) == {"v": "\u0000"}


def test_nul_characters_in_the_input_a_task_result_and_a_cause_come_back_exactly(cluster: Cluster) -> None:
    # Given an execution whose input has NUL characters (a key too), and that waits for a token
    definition = {
        "StartAt": "Ask",
        "States": {
            "Ask": {"Type": "Task", "Resource": CALLBACK, "Parameters": CALLBACK_PARAMETERS, "Next": "Stop"},
            "Stop": {"Type": "Fail", "Error": "Bad\u0000Error", "CausePath": "$.why"},
        },
    }
    started = _run(cluster.service, definition, json.dumps({"k\u0000": "\u0000\ue000"}))["executionArn"]
    # When the token's answer has them too, and the Fail state's error and cause
    cluster.service.send_task_success(cluster.token_for(started), json.dumps({"why": "because\u0000"}))
    # Then everything comes back as it was written
    ended = _ended(cluster.service, started)
    assert json.loads(ended["input"]) == {"k\u0000": "\u0000\ue000"}
    assert (ended["status"], ended["error"], ended["cause"]) == ("FAILED", "Bad\u0000Error", "because\u0000")


def test_a_definition_input_or_task_output_with_nan_is_refused_as_aws_refuses_it(cluster: Cluster) -> None:
    with pytest.raises(ServiceError) as refused:
        _run(cluster.service, NAN_DEFINITION)
    assert refused.value.code == "InvalidDefinition"
    assert "INVALID_JSON_DESCRIPTION" in refused.value.message and "NaN" in refused.value.message
    with pytest.raises(ServiceError) as refused:
        _run(cluster.service, _pass(), '{"x": Infinity}')
    assert refused.value.code == "InvalidExecutionInput"
    with pytest.raises(ServiceError) as refused:
        _run(cluster.service, _pass(), '{"x": 1e999}')
    assert refused.value.code == "InvalidExecutionInput"
    with pytest.raises(ServiceError) as refused:
        cluster.service.send_task_success("A" * 64, '{"x": NaN}')
    assert refused.value.code == "InvalidOutput"


def test_a_result_path_5000_levels_deep_fails_its_execution(cluster: Cluster) -> None:
    execution = _run(cluster.service, DEEP_RESULT_PATH)["executionArn"]
    ended = _ended(cluster.service, execution)
    assert (ended["status"], ended["error"]) == ("FAILED", "States.Runtime"), ended
    assert "nested too deeply" in ended["cause"]


# -- a step that fails on every try -------------------------------------------------------------------


def test_an_execution_of_a_nan_definition_stored_before_fails_after_a_few_tries(cluster: Cluster) -> None:
    # Given an execution started by a version that stored a definition with NaN (as Python's json allowed)
    started = time.monotonic()
    execution = _start_stored(cluster, NAN_DEFINITION)
    # Then each try fails loading it, and the third ends the execution
    ended = _ended(cluster.service, execution)
    took = time.monotonic() - started
    assert (ended["status"], ended["error"]) == ("FAILED", "States.Runtime"), ended
    assert f"failed {MAX_TRIES} times with DefinitionError" in ended["cause"] and "NaN" in ended["cause"]
    assert _event_types(cluster.service, execution) == ["ExecutionStarted", "ExecutionFailed"]
    assert took < ENDS_WITHIN


def test_a_message_the_engine_cannot_read_fails_its_execution_after_a_few_tries(cluster: Cluster) -> None:
    # Given a parked execution, and a message for it that raises on every try (as a bug of ours would)
    execution = _run(cluster.service, PARKED)["executionArn"]
    wait_for(lambda: "WaitStateEntered" in _event_types(cluster.service, execution), 30, what="the Wait")
    root_id = cluster.execution_id(execution)
    outbox_id = _unpublished(cluster, [root_id, root_id, 1, {"kind": "no such delivery"}])
    # When the sweeper publishes it, and it fails
    ended = _ended(cluster.service, execution)
    # Then the execution fails after MAX_TRIES tries, counted on the message, which is gone
    assert (ended["status"], ended["error"]) == ("FAILED", "States.Runtime"), ended
    assert "ValueError: unknown delivery kind 'no such delivery'" in ended["cause"]
    assert _event_types(cluster.service, execution)[-1] == "ExecutionFailed"
    with session_scope(cluster.settings.database_url) as session:
        assert session.get(OutboxMessage, outbox_id) is None
    assert cluster.timers(root_id) == []


def test_a_message_whose_earlier_tries_failed_goes_through_when_a_try_succeeds(cluster: Cluster) -> None:
    # Given a message with MAX_TRIES - 1 failed tries counted, for an execution that is fine
    execution = _run(cluster.service, PARKED)["executionArn"]
    wait_for(lambda: "WaitStateEntered" in _event_types(cluster.service, execution), 30, what="the Wait")
    root_id = cluster.execution_id(execution)
    outbox_id = _unpublished(cluster, [root_id, root_id, 1, {"kind": "timer"}], failures=MAX_TRIES - 1)
    # When it is tried again and goes through (the Wait ends early: the message says its timer fired)
    ended = _ended(cluster.service, execution)
    assert ended["status"] == "SUCCEEDED", ended
    with session_scope(cluster.settings.database_url) as session:
        assert session.get(OutboxMessage, outbox_id) is None


def _start_stored(cluster: Cluster, definition_text: str) -> str:
    """Start an execution of ``definition_text`` the way an older version did: without parsing it
    strictly (its structure is taken from the same text with NaN read as 0)."""
    lenient = parse(definition_text.replace("NaN", "0"))
    name = f"sm-{time.monotonic_ns()}"
    arn = cluster.state_machine(json.loads(definition_text.replace("NaN", "0")), name=name)
    with session_scope(cluster.settings.database_url) as session:
        digest = catalog.store_definition(session, definition_text)
        machine = catalog.by_arn(session, arn)
        assert machine is not None
        execution_arn = arn.replace(":stateMachine:", ":execution:") + ":stored"
        _, messages = operations.start(
            session,
            cluster.settings,
            machine=lenient,
            execution={
                "arn": execution_arn,
                "name": "stored",
                "state_machine_id": machine.id,
                "definition_hash": digest,
                "role_arn": ROLE,
                "input": {},
            },
            now=dt.datetime.now(dt.UTC),
        )
    publish(cluster.app, messages)
    return execution_arn


def _unpublished(cluster: Cluster, args: list[Any], failures: int = 0) -> int:
    """An ADVANCE message in the outbox, never published: the sweeper sends it at once."""
    row = {
        "task": ADVANCE,
        "args": args,
        "queue": cluster.settings.engine_queue,
        "created_at": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5),
        "failures": failures,
    }
    with session_scope(cluster.settings.database_url) as session:
        return int(session.execute(insert(OutboxMessage).returning(OutboxMessage.id), [row]).scalar_one())


# -- the embedded default (SQLite, a worker in this process) ----------------------------------------


@pytest.fixture()
def embedded(tmp_path: Path) -> Iterator[Service]:
    settings = config.load({"ORCHESTRATOR_HOME": str(tmp_path)})
    upgrade(settings.database_url)
    app = Celery("orchestrator-poison-embedded")
    configure(app, settings)
    with EmbeddedRuntime(app, settings):
        yield Service(settings, app)


# (Celery warns that the embedded worker runs as root, as the test does in a container.)
EMBEDDED = pytest.mark.filterwarnings("ignore::celery.exceptions.SecurityWarning")


@EMBEDDED
def test_on_the_embedded_default_nul_round_trips_and_deep_data_fails(embedded: Service) -> None:
    nul = _run(embedded, NUL_DECODED)["executionArn"]
    deep = _run(embedded, DEEP_RESULT_PATH)["executionArn"]
    assert json.loads(_ended(embedded, nul)["output"]) == {"v": "\u0000"}
    assert (_ended(embedded, deep)["status"], _ended(embedded, deep)["error"]) == ("FAILED", "States.Runtime")


@EMBEDDED
def test_on_the_embedded_default_a_message_that_fails_on_every_try_fails_its_execution(embedded: Service) -> None:
    execution = _run(embedded, PARKED)["executionArn"]
    wait_for(lambda: "WaitStateEntered" in _event_types(embedded, execution), 30, what="the Wait")
    with session_scope(embedded.settings.database_url) as session:
        found = catalog.execution_by_arn(session, execution)
        assert found is not None
        root_id = found.id
        session.execute(
            insert(OutboxMessage),
            [
                {
                    "task": ADVANCE,
                    "args": [root_id, root_id, 1, {"kind": "no such delivery"}],
                    "queue": embedded.settings.engine_queue,
                    "created_at": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5),
                }
            ],
        )
    ended = _ended(embedded, execution)
    assert (ended["status"], ended["error"]) == ("FAILED", "States.Runtime"), ended
    assert f"failed {MAX_TRIES} times" in ended["cause"]
