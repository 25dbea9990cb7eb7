"""A worker's log names what each task worked on, and shows a handler's exception with its traceback
(issue 16, item 13). Real worker and scheduler processes on PostgreSQL and Redis; their log files read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.runtime.conftest import LAMBDA, Cluster, ClusterFactory


def _machine(tmp_path: Path) -> dict[str, object]:
    """A Task that fails once and is retried, then one whose failure is caught."""
    return {
        "StartAt": "Flaky",
        "States": {
            "Flaky": {
                "Type": "Task",
                "Resource": LAMBDA.format("flaky"),
                "Parameters": {"counter": str(tmp_path / "calls"), "failures": 1},
                "Retry": [{"ErrorEquals": ["Test.Flaky"], "IntervalSeconds": 1}],
                "Next": "Boom",
            },
            "Boom": {
                "Type": "Task",
                "Resource": LAMBDA.format("fail"),
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}],
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        },
    }


def _run(cluster: Cluster, tmp_path: Path) -> tuple[str, str]:
    worker = cluster.start_worker()
    cluster.start_scheduler()
    arn = cluster.start(cluster.state_machine(_machine(tmp_path)))
    assert cluster.wait(arn)["status"] == "SUCCEEDED"
    cluster.stop()
    return arn, worker.output()


def test_the_log_names_execution_state_and_attempt(redis_cluster: Cluster, tmp_path: Path) -> None:
    # When an execution's Task fails once, is retried, and a second Task's failure is caught
    arn, log = _run(redis_cluster, tmp_path)
    # Then Celery's line for each task says which execution, states and attempts it worked on
    done = re.findall(r"Task orchestrator\.(invoke|advance)\[[0-9a-f-]+\] succeeded in [\d.]+s: '(.*)'", log)
    said = "; ".join(words for _, words in done)
    for attempt in ("state Flaky, attempt 1", "state Flaky, attempt 2", "state Boom, attempt 1"):
        assert attempt in said, log
    assert all(words.startswith(f"execution {arn}, ") for _, words in done), log
    # (which tasks ran the handlers depends on follow-on: an advance may run the next Task itself)
    # And each handler's exception is in the log, where it happened, with the handler's traceback
    raised = (("Flaky", "Flaky", "call 1 fails", "flaky"), ("Boom", "Boom", "failed on purpose", "fail"))
    for state, error, message, function in raised:
        line = f"handler raised {error} in execution {arn}, state {state}, attempt 1: {message}"
        assert line in log, log
        traceback = log.split(line, 1)[1].split("\n[", 1)[0]
        assert "Traceback (most recent call last):" in traceback
        assert re.search(rf'tests/runtime/handlers\.py", line \d+, in {function}\n', traceback), traceback


def test_json_lines_carry_the_fields(cluster_factory: ClusterFactory, tmp_path: Path) -> None:
    # Given a worker that logs JSON
    cluster = cluster_factory(extra_env={"ORCHESTRATOR_LOG_FORMAT": "json"})
    arn, log = _run(cluster, tmp_path)
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    # Then the handler's exception is a line with the execution, the state, the attempt and the traceback
    raised = [line for line in lines if line["message"].startswith("handler raised Boom")]
    assert len(raised) == 1, log
    assert (raised[0]["executionArn"], raised[0]["stateName"], raised[0]["attempt"]) == (arn, "Boom", 1)
    assert "in fail\n" in raised[0]["exception"]
    # And the lines a step writes while it runs carry them too: Celery's lines for the tasks name them
    done = [line for line in lines if "succeeded in" in line["message"] and arn in line["message"]]
    assert done, log
