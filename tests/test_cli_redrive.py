"""``orchestrator executions redrive`` and ``executions list --redrive-filter``, as a user runs them: real
subprocesses on the embedded default (a fresh ORCHESTRATOR_HOME, its SQLite file)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.runtime.test_redrive import FAILS
from tests.test_embedded import _definition, _run

ARN = "arn:aws:states:us-east-1:123456789012:execution:fails:first"


def test_redrive_a_failed_execution_by_name_and_list_it_as_redriven(tmp_path: Path) -> None:
    # Given an execution that failed, and one that did not
    home = tmp_path / "home"
    definition = _definition(tmp_path, "fails", FAILS)
    assert _run(home, "run", definition, "--name", "first", "--input", '{"fail": true}').returncode == 1
    assert _run(home, "run", definition, "--name", "second", "--input", '{"fail": false}').returncode == 0

    # When the failed one is redriven by its name
    redriven = _run(home, "executions", "redrive", "first")

    # Then it is RUNNING again, redriven once, until a process with a worker runs it
    assert redriven.returncode == 0, redriven.stderr
    assert redriven.stdout.splitlines() == [
        f"redriven {ARN} (redrive 1): it goes on from the state where it stopped",
        "  On the embedded default it runs when `orchestrator serve` or `orchestrator run` next runs here.",
    ]
    described = json.loads(_run(home, "executions", "describe", "first", "--json").stdout)
    assert (described["status"], described["redriveCount"]) == ("RUNNING", 1)
    # and it cannot be redriven again while it runs, as AWS says
    again = _run(home, "executions", "redrive", "first")
    assert again.returncode == 1
    assert "ExecutionNotRedrivable: Execution is RUNNING and cannot be redriven." in again.stderr

    # and the list tells the redriven from the others
    def listed(redrive_filter: str) -> list[str]:
        page = _run(home, "executions", "list", "fails", "--redrive-filter", redrive_filter, "--json")
        return [e["executionArn"].rsplit(":", 1)[1] for e in json.loads(page.stdout)["executions"]]

    assert (listed("REDRIVEN"), listed("NOT_REDRIVEN")) == (["first"], ["second"])
