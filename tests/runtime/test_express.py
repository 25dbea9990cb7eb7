"""Express executions in the durable runtime, on PostgreSQL with worker processes (and on the
embedded SQLite default): a Distributed Map's ``ExecutionType: EXPRESS`` iterations run as Express
child executions (in memory, keeping no history), and an Express execution runs for a limited
time (five minutes; shortened here through `runtime.express.EXPRESS_TIMEOUT_SECONDS`, which the
in-process runtime reads).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from sqlalchemy import func, select

from orchestrator import config
from orchestrator.runtime import express
from orchestrator.runtime.app import configure
from orchestrator.runtime.embedded import EmbeddedRuntime
from orchestrator.service import Service
from orchestrator.store.db import session_scope
from orchestrator.store.migrate import upgrade
from orchestrator.store.models import Execution, HistoryEvent
from tests.runtime.conftest import LAMBDA, ROLE, Cluster, running_cluster, wait_for


def _distributed_map(execution_type: str, *states: tuple[str, dict[str, Any]], **map_fields: Any) -> dict[str, Any]:
    """A machine whose Distributed Map runs ``states`` (in order) for each item of ``$.items``."""
    chain = {name: {**body, **_follow(states, i, body)} for i, (name, body) in enumerate(states)}
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
        "StartAt": states[0][0],
        "States": chain,
    }
    each = {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": processor, "End": True, **map_fields}
    return {"StartAt": "Each", "States": {"Each": each}}


def _follow(states: tuple[tuple[str, dict[str, Any]], ...], i: int, body: dict[str, Any]) -> dict[str, Any]:
    """The transition of state ``i``: to the next one, or the end (a Choice has its own)."""
    if body["Type"] == "Choice":
        return {}
    return {"Next": states[i + 1][0]} if i + 1 < len(states) else {"End": True}


ADD = ("Add", {"Type": "Task", "Resource": LAMBDA.format("add")})
PASS = ("Done", {"Type": "Pass"})
# -> Fail for item 3, -> Ok for the others (the test adds both states)
FAILS_ON_3 = {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 3, "Next": "Fail"}], "Default": "Ok"}


@pytest.fixture(scope="module")
def cluster(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(database_url, tmp_path_factory.mktemp("express")) as made:
        yield made


def _iterations(service: Service, execution_arn: str) -> list[dict[str, Any]]:
    runs = service.list_map_runs(execution_arn)["mapRuns"]
    assert len(runs) == 1
    return service.list_executions("", map_run_arn=runs[0]["mapRunArn"], max_results=1000)["executions"]


def _stored_events(service: Service, execution_arns: list[str]) -> int:
    """How many ``history_events`` rows these executions have."""
    with session_scope(service.settings.database_url) as session:
        ids = select(Execution.id).where(Execution.arn.in_(execution_arns))
        return int(session.scalar(select(func.count()).where(HistoryEvent.execution_id.in_(ids))) or 0)


def test_express_iterations_run_as_express_child_executions_with_no_history(cluster: Cluster) -> None:
    items = [{"n": n} for n in range(1, 6)]
    express_machine = cluster.state_machine(_distributed_map("EXPRESS", ADD, PASS, MaxConcurrency=2))
    standard_machine = cluster.state_machine(_distributed_map("STANDARD", ADD, PASS, MaxConcurrency=2))

    by_express = cluster.start(express_machine, {"items": items})
    by_standard = cluster.start(standard_machine, {"items": items})

    # Both produce the same result, the iterations' outputs in order
    for execution in (by_express, by_standard):
        ended = cluster.wait(execution)
        assert ended["status"] == "SUCCEEDED", ended
        assert json.loads(ended["output"]) == [{"n": n + 1} for n in range(1, 6)]
    # but Express children are Express executions that keep no history, and Standard ones keep theirs
    express_children = _iterations(cluster.service, by_express)
    standard_children = _iterations(cluster.service, by_standard)
    assert len(express_children) == len(standard_children) == 5
    assert all(":express:" in c["executionArn"] and c["status"] == "SUCCEEDED" for c in express_children)
    assert all(":execution:" in c["executionArn"] for c in standard_children)
    assert _stored_events(cluster.service, [c["executionArn"] for c in express_children]) == 0
    assert _stored_events(cluster.service, [c["executionArn"] for c in standard_children]) >= 5 * 4
    # the parent's own history is the same shape either way
    shape = [e["type"] for e in cluster.history(by_express)]
    assert shape == [e["type"] for e in cluster.history(by_standard)]
    assert "MapRunSucceeded" in shape


def test_a_failed_express_iteration_fails_its_map_with_its_error(cluster: Cluster) -> None:
    machine = _distributed_map("EXPRESS", ("Check", FAILS_ON_3))
    machine["States"]["Each"]["ItemProcessor"]["States"].update(
        Fail={"Type": "Fail", "Error": "Item.Bad", "Cause": "three"}, Ok={"Type": "Pass", "End": True}
    )
    execution = cluster.start(cluster.state_machine(machine), {"items": [{"n": n} for n in range(1, 6)]})
    ended = cluster.wait(execution)
    assert (ended["status"], ended["error"], ended["cause"]) == ("FAILED", "Item.Bad", "three")
    failed = [c for c in _iterations(cluster.service, execution) if c["status"] == "FAILED"]
    assert len(failed) == 1 and ":express:" in failed[0]["executionArn"]


# -- the embedded default, with the Express time limit shortened ------------------------------------


@pytest.fixture()
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    monkeypatch.setattr(express, "EXPRESS_TIMEOUT_SECONDS", 1.0)
    settings = config.load({"ORCHESTRATOR_HOME": str(tmp_path)})
    upgrade(settings.database_url)
    app = Celery("orchestrator-express-embedded")
    configure(app, settings)
    with EmbeddedRuntime(app, settings):
        yield Service(settings, app)


EMBEDDED = pytest.mark.filterwarnings("ignore::celery.exceptions.SecurityWarning")  # its worker runs as root here
WAITS = {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.seconds", "End": True}}}


def _express(service: Service, definition: dict[str, Any], machine_type: str = "EXPRESS") -> str:
    name = f"express-{time.monotonic_ns()}"
    created = service.create_state_machine(
        name=name, definition=json.dumps(definition), role_arn=ROLE, type=machine_type
    )
    return str(created["stateMachineArn"])


@EMBEDDED
def test_an_express_execution_past_its_time_limit_ends_timed_out(embedded: Service) -> None:
    machine = _express(embedded, WAITS)

    started = time.monotonic()
    synchronous = embedded.start_sync_execution(machine, input=json.dumps({"seconds": 30}))
    assert time.monotonic() - started < 10
    assert synchronous["status"] == "TIMED_OUT"
    assert not {"output", "error", "cause"} & synchronous.keys()

    arn = embedded.start_execution(machine, input=json.dumps({"seconds": 30}))["executionArn"]
    ended = wait_for(lambda: (d := embedded.describe_execution(arn))["status"] != "RUNNING" and d, 10, what="the end")
    assert ended["status"] == "TIMED_OUT"
    within = embedded.start_sync_execution(machine, input=json.dumps({"seconds": 0}))
    assert within["status"] == "SUCCEEDED"


@EMBEDDED
def test_an_express_iteration_past_the_limit_fails_its_map_with_states_timeout(embedded: Service) -> None:
    machine = _express(embedded, _distributed_map("EXPRESS", ("W", WAITS["States"]["W"])), "STANDARD")
    arn = embedded.start_execution(machine, input=json.dumps({"items": [{"seconds": 0}, {"seconds": 30}]}))
    execution = arn["executionArn"]
    ended = wait_for(lambda: (d := embedded.describe_execution(execution))["status"] != "RUNNING" and d, 20, what="end")
    assert (ended["status"], ended.get("error")) == ("FAILED", "States.Timeout")
    statuses = sorted(c["status"] for c in _iterations(embedded, execution))
    assert statuses == ["SUCCEEDED", "TIMED_OUT"]
