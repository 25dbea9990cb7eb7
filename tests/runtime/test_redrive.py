"""RedriveExecution on the embedded default (SQLite, a worker in this process), where the times read
back from the database carry no zone: a failed execution goes on from the state it failed in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from orchestrator import config
from orchestrator.runtime.app import configure
from orchestrator.runtime.embedded import EmbeddedRuntime
from orchestrator.service import Service
from orchestrator.store.migrate import upgrade
from tests.runtime.conftest import ROLE, wait_for

# Fails while the input's "fail" is true; a redrive runs the failed state again with its input.
FAILS = {
    "StartAt": "Start",
    "States": {
        "Start": {"Type": "Pass", "Next": "Check"},
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Fail"}],
            "Default": "Done",
        },
        "Fail": {"Type": "Fail", "Error": "Test.Failed"},
        "Done": {"Type": "Succeed"},
    },
}


@pytest.fixture()
def embedded(tmp_path: Path) -> Iterator[Service]:
    settings = config.load({"ORCHESTRATOR_HOME": str(tmp_path)})
    upgrade(settings.database_url)
    app = Celery("orchestrator-redrive-embedded")
    configure(app, settings)
    with EmbeddedRuntime(app, settings):
        yield Service(settings, app)


def _ended(service: Service, execution_arn: str, redrives: int) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        described = service.describe_execution(execution_arn)
        return described if described["status"] != "RUNNING" and described["redriveCount"] == redrives else None

    return wait_for(ended, 30, what=f"{execution_arn} to end after {redrives} redrive(s)")


@pytest.mark.filterwarnings("ignore::celery.exceptions.SecurityWarning")  # its worker runs as root here
def test_on_the_embedded_default_a_failed_execution_is_redriven(embedded: Service) -> None:
    machine = embedded.create_state_machine(name="redriven", definition=json.dumps(FAILS), role_arn=ROLE)
    execution = embedded.start_execution(machine["stateMachineArn"], input=json.dumps({"fail": True}))["executionArn"]
    assert _ended(embedded, execution, 0)["status"] == "FAILED"

    redriven = embedded.redrive_execution(execution)

    assert redriven["redriveDate"]
    again = _ended(embedded, execution, 1)
    assert (again["status"], again["error"]) == ("FAILED", "Test.Failed")
    events = [e["type"] for e in embedded.get_execution_history(execution, max_results=1000)["events"]]
    assert events.count("ExecutionFailed") == 2 and "ExecutionRedriven" in events
    assert events.count("PassStateEntered") == 1  # it went on from Fail, not from the start
