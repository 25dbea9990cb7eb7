"""The live trace of ``orchestrator run`` (issue 16, item 12), read from a real run on the embedded
default: each line names its Map iteration and Parallel branch, a retry is announced with its delay
and attempt, and a Wait says how long it lasts and until when."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from tests.test_embedded import LAMBDA, _definition, _run

NESTED = {
    "StartAt": "Both",
    "States": {
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "End": True}}},
                {
                    "StartAt": "Each",
                    "States": {
                        "Each": {
                            "Type": "Map",
                            "ItemsPath": "$.items",
                            "ItemProcessor": {"StartAt": "Inc", "States": {"Inc": {"Type": "Pass", "End": True}}},
                            "End": True,
                        }
                    },
                },
            ],
            "Next": "Flaky",
        },
        "Flaky": {
            "Type": "Task",
            "Resource": LAMBDA.format("flaky"),
            "Parameters": {"counter.$": "$[0].counter", "failures": 2},
            "Retry": [{"ErrorEquals": ["Test.Flaky"], "IntervalSeconds": 1, "BackoffRate": 1.5, "MaxAttempts": 3}],
            "ResultSelector": {"seconds": 1},
            "Next": "Nap",
        },
        "Nap": {"Type": "Wait", "SecondsPath": "$.seconds", "End": True},
    },
}


def test_iterations_branches_retries_and_waits_are_told(tmp_path: Path) -> None:
    # Given a Parallel whose second branch is a Map, a Task that fails twice before it succeeds, and a Wait
    home = tmp_path / "home"
    execution_input = json.dumps({"items": [1, 2], "counter": str(tmp_path / "calls")})
    # When it runs
    done = _run(home, "run", _definition(tmp_path, "nested", NESTED), "--input", execution_input)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    # Then the lines of each branch and iteration say where they run, outermost first
    assert "[Parallel Both branch 1] -> Hello (Pass)" in lines
    assert "[Parallel Both branch 2] -> Each (Map)" in lines
    assert "[Parallel Both branch 2]    Map iteration 1" in lines
    for index in (0, 1):
        assert f"[Parallel Both branch 2] [Map Each #{index}] -> Inc (Pass)" in lines
        assert f"[Parallel Both branch 2] [Map Each #{index}] <- Inc" in lines
    # and the Parallel's own lines, and what follows it, are outside them
    assert "<- Both" in lines and "-> Flaky (Task)" in lines
    # and each retry is announced with its delay (IntervalSeconds x BackoffRate^n) and attempt
    retries = [line for line in lines if "Retrying" in line]
    assert retries == [
        "   Retrying Flaky in 1.0 s (attempt 2 of 4): Test.Flaky",
        "   Retrying Flaky in 1.5 s (attempt 3 of 4): Test.Flaky",
    ]
    # and the Wait (its SecondsPath read from its input) says how long, and until when
    waiting = next(line for line in lines if line.startswith("   Waiting "))
    found = re.fullmatch(r"   Waiting 1 s, until (\d\d):(\d\d):(\d\d)Z", waiting)
    assert found is not None, waiting
    described = json.loads(_run(home, "executions", "history", "--json", _started(done.stdout)).stdout)
    entered = next(e for e in described["events"] if e["type"] == "WaitStateEntered")["timestamp"]
    expected = dt.datetime.fromisoformat(entered).astimezone(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=1)
    assert (int(found[1]), int(found[2]), int(found[3])) == (expected.hour, expected.minute, expected.second)


def _started(stdout: str) -> str:
    found = re.search(r"^Started (\S+)$", stdout, re.MULTILINE)
    assert found is not None, stdout
    return found.group(1)
