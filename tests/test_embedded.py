"""``orchestrator run`` on the embedded default: a fresh ORCHESTRATOR_HOME, a SQLite file and a worker
inside the process, and nothing else (no ORCHESTRATOR_DATABASE_URL, no broker).

Each test runs the real command as a subprocess, as a user would, with handlers from
``tests.runtime.handlers`` (named in ORCHESTRATOR_HANDLER_MODULES).
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:{}"

WORKFLOW: dict[str, Any] = {
    "StartAt": "Add",
    "States": {
        "Add": {
            "Type": "Task",
            "Resource": LAMBDA.format("add"),
            "Parameters": {"n.$": "$.n"},
            "ResultPath": "$.added",
            "Next": "Pause",
        },
        "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Each"},
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemSelector": {"n.$": "$$.Map.Item.Value"},
            "ItemProcessor": {
                "StartAt": "Inc",
                "States": {"Inc": {"Type": "Task", "Resource": LAMBDA.format("add"), "OutputPath": "$.n", "End": True}},
            },
            "ResultPath": "$.incremented",
            "End": True,
        },
    },
}


def _env(home: Path) -> dict[str, str]:
    """The environment of a machine with only the package: no server configured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}
    env.update(
        ORCHESTRATOR_HOME=str(home),
        ORCHESTRATOR_HANDLER_MODULES="tests.runtime.handlers",
        PYTHONPATH=str(ROOT),
    )
    return env


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "orchestrator.cli", *args]


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_command(*args), env=_env(home), cwd=home.parent, capture_output=True, text=True, timeout=120)


def _definition(tmp_path: Path, name: str, definition: dict[str, Any]) -> str:
    path = tmp_path / f"{name}.asl.json"
    path.write_text(json.dumps(definition))
    return str(path)


def _output_after_status(stdout: str, status: str) -> Any:
    """The JSON output ``orchestrator run`` prints after the status line."""
    return json.loads(stdout.split(f"\n{status}\n", 1)[1])


def test_run_a_workflow_with_a_task_a_wait_and_a_map(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = _run(home, "run", _definition(tmp_path, "order", WORKFLOW), "--input", '{"n": 1, "items": [1, 2, 3]}')
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for expected in ("-> Add (Task)", "<- Add", "-> Pause (Wait)", "<- Pause", "-> Each (Map)", "<- Each"):
        assert expected in lines, done.stdout
    assert [line for line in lines if line.strip().startswith("Map iteration")] == [
        f"   Map iteration {i}" for i in range(3)
    ]
    # each iteration's lines name it (issue 16, item 12)
    assert sorted(line for line in lines if line.endswith("-> Inc (Task)")) == [
        f"[Map Each #{i}] -> Inc (Task)" for i in range(3)
    ]
    assert "   Waiting 1 s, until " in done.stdout
    assert _output_after_status(done.stdout, "SUCCEEDED") == {
        "n": 1,
        "items": [1, 2, 3],
        "added": {"n": 2},
        "incremented": [2, 3, 4],
    }
    # Durable: the execution is in the SQLite file, for any later command to read.
    assert (home / "orchestrator.sqlite").is_file()
    arn = re.search(r"^Started (\S+)$", done.stdout, re.MULTILINE)
    assert arn is not None
    described = _run(home, "executions", "describe", arn.group(1), "--json")
    assert described.returncode == 0, described.stderr
    assert json.loads(described.stdout)["status"] == "SUCCEEDED"


def test_a_failing_workflow_exits_1_with_its_error(tmp_path: Path) -> None:
    definition = {
        "StartAt": "Boom",
        "States": {"Boom": {"Type": "Task", "Resource": LAMBDA.format("fail"), "End": True}},
    }
    done = _run(tmp_path / "home", "run", _definition(tmp_path, "broken", definition))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "\nFAILED\n" in done.stdout
    assert "error: Test.Boom" in done.stdout
    assert "failed on purpose" in done.stdout


class _Lines:
    """A subprocess's stdout, line by line, readable with a timeout."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(process,), daemon=True).start()

    def _pump(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def until(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.seen))

    def rest(self) -> str:
        while (line := self.lines.get(timeout=60)) is not None:
            self.seen.append(line)
        return "\n".join(self.seen) + "\n"


def test_a_callback_answered_from_a_second_process(tmp_path: Path) -> None:
    home = tmp_path / "home"
    definition = {
        "StartAt": "Approve",
        "States": {
            "Approve": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "noop", "Payload": {"token.$": "$$.Task.Token"}},
                "ResultPath": "$.decision",
                "End": True,
            }
        },
    }
    path = _definition(tmp_path, "approval", definition)
    runner = subprocess.Popen(
        _command("run", path, "--input", '{"amount": 7000}'),
        env=_env(home),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = _Lines(runner)
        token = lines.until(r"orchestrator send-task-success (\S+) --output", timeout=90).group(1)
        answered = _run(home, "send-task-success", token, "--output", '{"approved": true}')
        assert answered.returncode == 0, answered.stdout + answered.stderr
        assert runner.wait(timeout=90) == 0
        stdout = lines.rest()
    finally:
        if runner.poll() is None:
            runner.kill()
        runner.wait(timeout=30)
        if runner.stdout is not None:
            runner.stdout.close()
    assert "<- Approve" in stdout
    assert _output_after_status(stdout, "SUCCEEDED") == {"amount": 7000, "decision": {"approved": True}}
    # The token is used: a second answer is refused, with AWS's error.
    again = _run(home, "send-task-success", token, "--output", "{}")
    assert again.returncode == 1
    assert "TaskDoesNotExist" in again.stderr
