"""The analysts' views (``execution_summaries``, ``state_visits``) and every example query of
docs/schema.md's "Views" section, on PostgreSQL and SQLite, after a known workload run by a real
worker (the embedded runtime: a Celery worker and the scheduler in this process).

The workload, one module-wide run per database: a machine whose Task fails twice and succeeds on its
third attempt, then a Parallel and a Map of two; two executions that fail in a Task (Test.Boom), one
that ends in a Fail state, one stopped while it waits.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from sqlalchemy import text

from orchestrator import config
from orchestrator.integrations import registry
from orchestrator.runtime.app import configure
from orchestrator.runtime.embedded import EmbeddedRuntime
from orchestrator.service import Service
from orchestrator.store.db import get_engine
from orchestrator.store.migrate import upgrade
from tests.runtime.conftest import LAMBDA, ROLE, wait_for
from tests.store.conftest import postgresql_database

SCHEMA_DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"


def _flaky(counter: Path) -> dict[str, Any]:
    retry = {"ErrorEquals": ["Test.Flaky"], "IntervalSeconds": 1, "BackoffRate": 1, "MaxAttempts": 3}
    task = {"Type": "Task", "Resource": LAMBDA.format("echo"), "End": True}
    return {
        "StartAt": "Flaky",
        "States": {
            "Flaky": {
                "Type": "Task",
                "Resource": LAMBDA.format("flaky"),
                "Parameters": {"counter": str(counter), "failures": 2},
                "Retry": [retry],
                "ResultPath": "$.flaky",
                "Next": "Both",
            },
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
                    {"StartAt": "Right", "States": {"Right": task}},
                ],
                "ResultPath": "$.both",
                "Next": "Each",
            },
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {"StartAt": "Inc", "States": {"Inc": {**task, "Resource": LAMBDA.format("add")}}},
                "ResultPath": "$.each",
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }


BOOM = {"StartAt": "Boom", "States": {"Boom": {"Type": "Task", "Resource": LAMBDA.format("fail"), "End": True}}}
REJECT = {
    "StartAt": "Check",
    "States": {
        "Check": {"Type": "Pass", "Next": "Reject"},
        "Reject": {"Type": "Fail", "Error": "Credit.Rejected", "Cause": "score too low"},
    },
}
HOLD = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 3600, "End": True}}}


@dataclass(frozen=True)
class Workload:
    url: str
    service: Service
    arns: dict[str, list[str]]  # machine name -> its executions' ARNs

    def rows(self, sql: str) -> list[dict[str, Any]]:
        with get_engine(self.url).connect() as connection:
            return [dict(r._mapping) for r in connection.execute(text(sql))]


def _run(url: str, home: Path) -> Workload:
    settings = config.load(
        {"ORCHESTRATOR_DATABASE_URL": url, "ORCHESTRATOR_HOME": str(home), "ORCHESTRATOR_RETENTION_DAYS": "off"}
    )
    registry.load_modules(("tests.runtime.handlers",))
    app = Celery(f"orchestrator-views-{home.name}")
    configure(app, settings)
    service = Service(settings, app)
    machines = {"views-flaky": _flaky(home / "counter"), "views-boom": BOOM, "views-reject": REJECT, "views-hold": HOLD}
    arns = {}
    for name, definition in machines.items():
        arns[name] = service.create_state_machine(name=name, definition=json.dumps(definition), role_arn=ROLE)[
            "stateMachineArn"
        ]
    started: dict[str, list[str]] = {name: [] for name in machines}
    with EmbeddedRuntime(app, settings, concurrency=2):
        for name, count in (("views-flaky", 1), ("views-boom", 2), ("views-reject", 1), ("views-hold", 1)):
            for _ in range(count):
                started[name].append(
                    service.start_execution(arns[name], input=json.dumps({"items": [{"n": 1}, {"n": 2}]}))[
                        "executionArn"
                    ]
                )
        hold = started["views-hold"][0]
        wait_for(lambda: "WaitStateEntered" in [e["type"] for e in _history(service, hold)], 30, what="the Wait")
        service.stop_execution(hold, error="Test.Stopped", cause="the test stopped it")
        for arns_of_machine in started.values():
            for arn in arns_of_machine:
                wait_for(lambda arn=arn: service.describe_execution(arn)["status"] != "RUNNING", 60, what=arn)
    return Workload(url, service, started)


def _history(service: Service, arn: str) -> list[dict[str, Any]]:
    return list(service.get_execution_history(arn, max_results=1000)["events"])


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def workload(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workload]:
    home = tmp_path_factory.mktemp(f"views-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{home / 'orchestrator.sqlite'}"
        upgrade(url)
        yield _run(url, home)
        get_engine(url).dispose()
        return
    with postgresql_database() as url:
        yield _run(url, home)


def _ms(start: dt.datetime, stop: dt.datetime) -> float:
    return (stop - start) / dt.timedelta(milliseconds=1)


def test_execution_summaries_has_one_row_per_execution(workload: Workload) -> None:
    rows = {r["execution_arn"]: r for r in workload.rows("SELECT * FROM execution_summaries")}
    assert set(rows) == {arn for arns in workload.arns.values() for arn in arns}
    expected = {
        "views-flaky": ("SUCCEEDED", None, None),
        "views-boom": ("FAILED", "Boom", "Test.Boom"),
        "views-reject": ("FAILED", "Reject", "Credit.Rejected"),
        "views-hold": ("ABORTED", "Hold", "Test.Stopped"),
    }
    for machine, arns in workload.arns.items():
        for arn in arns:
            row, described = rows[arn], workload.service.describe_execution(arn)
            assert (row["status"], row["failed_state"], row["error"]) == expected[machine]
            assert row["state_machine_name"] == machine
            assert row["state_machine_type"] == "STANDARD"
            assert row["execution_name"] == described["name"]
            assert row["duration_ms"] == pytest.approx(_ms(described["startDate"], described["stopDate"]), abs=0.01)


def test_state_visits_pairs_each_entry_with_its_exit(workload: Workload) -> None:
    (flaky,) = workload.arns["views-flaky"]
    events = {e["id"]: e for e in _history(workload.service, flaky)}
    execution_id = workload.rows(f"SELECT execution_id FROM execution_summaries WHERE execution_arn = '{flaky}'")[0]
    visits = workload.rows(
        f"SELECT * FROM state_visits WHERE execution_id = {execution_id['execution_id']} ORDER BY entered_event_id"
    )
    assert [(v["state_name"], v["state_type"], v["attempts"], v["retries"]) for v in visits] == [
        ("Flaky", "Task", 3, 2),
        ("Both", "Parallel", None, None),
        ("Left", "Pass", None, None),
        ("Right", "Task", 1, 0),
        ("Each", "Map", None, None),
        ("Inc", "Task", 1, 0),
        ("Inc", "Task", 1, 0),
        ("Done", "Succeed", None, None),
    ]
    for visit in visits:
        entered, exited = events[visit["entered_event_id"]], events[visit["exited_event_id"]]
        assert entered["type"] == f"{visit['state_type']}StateEntered"
        assert exited["type"] == f"{visit['state_type']}StateExited"
        assert entered["stateEnteredEventDetails"]["name"] == exited["stateExitedEventDetails"]["name"]
        assert visit["duration_ms"] == pytest.approx(_ms(entered["timestamp"], exited["timestamp"]), abs=0.01)
    # the two iterations of Inc: each exit is its own iteration's (its input n+1 is its output n)
    for visit in visits[5:7]:
        given = json.loads(events[visit["entered_event_id"]]["stateEnteredEventDetails"]["input"])
        produced = json.loads(events[visit["exited_event_id"]]["stateExitedEventDetails"]["output"])
        assert produced == {"n": given["n"] + 1}
    # the Task retried twice waited a second before each retry
    assert visits[0]["duration_ms"] >= 2000


def test_a_state_the_execution_ended_in_has_no_exit(workload: Workload) -> None:
    rows = workload.rows(
        "SELECT state_name, exited_event_id, duration_ms, attempts FROM state_visits "
        "WHERE state_machine_name IN ('views-boom', 'views-hold') ORDER BY state_name"
    )
    assert rows == [
        {"state_name": "Boom", "exited_event_id": None, "duration_ms": None, "attempts": None},
        {"state_name": "Boom", "exited_event_id": None, "duration_ms": None, "attempts": None},
        {"state_name": "Hold", "exited_event_id": None, "duration_ms": None, "attempts": None},
    ]


# -- the documented queries ---------------------------------------------------------------------------


def documented_queries() -> dict[str, str]:
    """The example queries of the "Views" section, by their title (the first line's comment)."""
    views = SCHEMA_DOC.read_text().split("\n## Views\n", 1)[1]
    blocks = re.findall(r"```sql\n(.*?)```", views, flags=re.S)
    return {block.splitlines()[0].removeprefix("-- ").strip(): block for block in blocks}


def _for(workload: Workload) -> dict[str, str]:
    """The queries that run on this workload's database: the portable ones and its own spelling."""
    mine = "(SQLite)" if workload.url.startswith("sqlite") else "(PostgreSQL)"
    other = "(PostgreSQL)" if mine == "(SQLite)" else "(SQLite)"
    return {
        title.removesuffix(f" {mine}"): sql for title, sql in documented_queries().items() if not title.endswith(other)
    }


def _expected(workload: Workload) -> dict[str, list[tuple[Any, ...]]]:
    """What each documented query must answer, from the views' rows (checked above against the API)."""
    visits = workload.rows("SELECT * FROM state_visits WHERE exited_event_id IS NOT NULL")
    slowest: dict[tuple[str, str], list[float]] = {}
    for v in visits:
        slowest.setdefault((v["state_machine_name"], v["state_name"]), []).append(v["duration_ms"])
    by_state = sorted(
        ((m, s, len(d), sum(d) / len(d), max(d)) for (m, s), d in slowest.items()), key=lambda r: (-r[4], r[0], r[1])
    )
    summaries = workload.rows("SELECT state_machine_name, duration_ms FROM execution_summaries")
    durations = {n: [r["duration_ms"] for r in summaries if r["state_machine_name"] == n] for n in workload.arns}
    return {
        "Failures by error over the last day": [
            ("views-boom", "Test.Boom", "Boom", 2),
            ("views-reject", "Credit.Rejected", "Reject", 1),
        ],
        "Slowest states over the last day": by_state[:10],
        "Task states that needed retries": [("views-flaky", "Flaky", 1, 2, 3)],
        "Executions and their average duration, by state machine and status": [
            (name, status, len(durations[name]), sum(durations[name]) / len(durations[name]))
            for name, status in (
                ("views-boom", "FAILED"),
                ("views-flaky", "SUCCEEDED"),
                ("views-hold", "ABORTED"),
                ("views-reject", "FAILED"),
            )
        ],
        "Where executions stopped without succeeding": [
            ("views-boom", "FAILED", "Boom", 2),
            ("views-hold", "ABORTED", "Hold", 1),
            ("views-reject", "FAILED", "Reject", 1),
        ],
    }


def test_every_documented_query_answers_what_it_should(workload: Workload) -> None:
    queries, expected = _for(workload), _expected(workload)
    assert set(queries) == set(expected), "a query of docs/schema.md has no expected answer here, or the reverse"
    for title, sql in queries.items():
        with get_engine(workload.url).connect() as connection:
            answer = [tuple(row) for row in connection.execute(text(sql))]
        assert answer == [tuple(pytest.approx(v) if isinstance(v, float) else v for v in r) for r in expected[title]], (
            title
        )
