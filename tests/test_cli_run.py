"""``orchestrator run`` and the commands around it, as a user runs them: real subprocesses on the
embedded default (a fresh ORCHESTRATOR_HOME with its SQLite file and in-process worker).

Issue 16: Ctrl-C stops the execution (item 10); which state machine a file makes, and not replacing
one silently; executions named by name; listing state machines; a closed pipe (item 14).
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from tests.test_embedded import _command, _definition, _env, _Lines, _run

WAIT = {"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 600, "End": True}}}
PASS = {"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "Result": "hi", "End": True}}}


def _describe(home: Path, *reference: str) -> dict[str, object]:
    described = _run(home, "executions", "describe", *reference, "--json")
    assert described.returncode == 0, described.stdout + described.stderr
    result: dict[str, object] = json.loads(described.stdout)
    return result


@pytest.mark.parametrize(
    ("signum", "status_expected", "said", "why"),
    [
        (signal.SIGINT, 130, "Interrupted", "interrupted by the user at the terminal (ctrl-c"),
        (signal.SIGTERM, 143, "Interrupted (SIGTERM)", "was asked to end (sigterm)"),
    ],
)
def test_ctrl_c_or_sigterm_stops_the_execution_says_so_and_exits(
    tmp_path: Path, signum: int, status_expected: int, said: str, why: str
) -> None:
    # Given `orchestrator run` in a ten-minute Wait
    home = tmp_path / "home"
    runner = subprocess.Popen(
        _command("run", _definition(tmp_path, "nap", WAIT), "--name", "napping"),
        env=_env(home),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = _Lines(runner)
        lines.until(r"^-> Nap \(Wait\)$", timeout=90)
        # (the trace says how long the Wait lasts: issue 16, item 12)
        lines.until(r"^   Waiting 600 s, until \d\d:\d\d:\d\dZ$|^   Waiting 600 s, until \d{4}-\d\d-\d\d ", timeout=30)
        # When the user presses Ctrl-C (or a process manager sends SIGTERM)
        runner.send_signal(signum)
        status = runner.wait(timeout=60)
        output = lines.rest()
    finally:
        if runner.poll() is None:
            runner.kill()
        runner.wait(timeout=30)
        if runner.stdout is not None:
            runner.stdout.close()
    # Then it exits 128 + the signal with one line saying the execution was stopped
    assert status == status_expected, output
    arn = "arn:aws:states:us-east-1:123456789012:execution:nap:napping"
    assert f"{said}: stopped {arn} (ABORTED)" in output.splitlines()
    assert "Traceback" not in output
    # and the execution is ABORTED, saying why
    described = _describe(home, arn)
    assert described["status"] == "ABORTED"
    assert described["error"] == "Orchestrator.Interrupted"
    assert why in str(described["cause"]).lower()
    # and a later run (whose embedded worker would have finished it) leaves it ABORTED
    later = _run(home, "run", _definition(tmp_path, "other", PASS))
    assert later.returncode == 0, later.stdout + later.stderr
    assert _describe(home, "napping")["status"] == "ABORTED"


def test_run_names_its_machine_and_does_not_replace_another_definition(tmp_path: Path) -> None:
    home = tmp_path / "home"
    asl = _definition(tmp_path, "my-flow", PASS)
    other = tmp_path / "my-flow.json"
    other.write_text(json.dumps({**PASS, "States": {"Hello": {"Type": "Pass", "Result": "other", "End": True}}}))

    first = _run(home, "run", asl)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == f"Created state machine my-flow from {asl}"
    again = _run(home, "run", asl)
    assert again.stdout.splitlines()[0] == f"Using state machine my-flow (its definition is {asl}'s)"

    # my-flow.json gives the same machine name with another definition: refused, the machine kept
    refused = _run(home, "run", str(other))
    assert refused.returncode == 2
    assert "a state machine named 'my-flow' already exists with a different definition" in refused.stderr
    assert "--update" in refused.stderr and "--state-machine-name" in refused.stderr
    assert "Started" not in refused.stdout

    updated = _run(home, "run", str(other), "--update")
    assert updated.returncode == 0, updated.stderr
    assert updated.stdout.splitlines()[0] == f"Updated state machine my-flow with the definition in {other}"
    assert '"other"' in updated.stdout


def test_executions_by_name_stop_and_state_machines_list(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _run(home, "run", _definition(tmp_path, "alpha", PASS), "--name", "same").returncode == 0
    assert _run(home, "run", _definition(tmp_path, "beta", PASS), "--name", "same").returncode == 0
    assert _run(home, "run", _definition(tmp_path, "beta", PASS), "--name", "only-beta").returncode == 0

    # A name that one execution has is enough
    assert (
        _describe(home, "only-beta")["executionArn"] == "arn:aws:states:us-east-1:123456789012:execution:beta:only-beta"
    )
    # A name two machines' executions have needs the machine
    ambiguous = _run(home, "executions", "describe", "same")
    assert ambiguous.returncode == 2
    assert "2 executions are named 'same', of the state machines alpha, beta" in ambiguous.stderr
    assert _describe(home, "same", "--state-machine", "alpha")["stateMachineArn"].endswith(":alpha")  # type: ignore[union-attr]
    missing = _run(home, "executions", "history", "nobody")
    assert missing.returncode == 1
    assert "ExecutionDoesNotExist: no state machine has an execution named 'nobody'" in missing.stderr

    # Stopping an execution that already ended says so and changes nothing
    stopped = _run(home, "executions", "stop", "only-beta", "--error", "Cancelled")
    assert stopped.returncode == 0, stopped.stderr
    assert "had already ended: SUCCEEDED" in stopped.stdout
    assert _describe(home, "only-beta")["status"] == "SUCCEEDED"

    listed = _run(home, "state-machines", "list", "--json")
    assert [m["name"] for m in json.loads(listed.stdout)["stateMachines"]] == ["alpha", "beta"]
    text = _run(home, "machines", "list").stdout.splitlines()
    assert [line.split()[0] for line in text] == ["alpha", "beta"]


def test_executions_stop_aborts_a_running_execution(tmp_path: Path) -> None:
    # Given an execution left in a Wait by a run that was killed outright (no chance to stop it)
    home = tmp_path / "home"
    runner = subprocess.Popen(
        _command("run", _definition(tmp_path, "nap", WAIT), "--name", "left"),
        env=_env(home),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _Lines(runner).until(r"^-> Nap \(Wait\)$", timeout=90)
    finally:
        runner.kill()
        runner.wait(timeout=30)
        if runner.stdout is not None:
            runner.stdout.close()
    assert _describe(home, "left")["status"] == "RUNNING"
    # When it is stopped by name
    stopped = _run(home, "executions", "stop", "left", "--error", "Cancelled", "--cause", "ordered twice")
    # Then it is ABORTED with that error and cause
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == "stopped arn:aws:states:us-east-1:123456789012:execution:nap:left (ABORTED)"
    described = _describe(home, "left")
    assert (described["status"], described["error"], described["cause"]) == ("ABORTED", "Cancelled", "ordered twice")


def test_json_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    # Given an execution whose history, as JSON, is far more than a pipe holds
    home = tmp_path / "home"
    many = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "Id", "States": {"Id": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }
    done = _run(
        home, "run", _definition(tmp_path, "many", many), "--input", json.dumps(list(range(300))), "--name", "big"
    )
    assert done.returncode == 0, done.stderr
    # When it is piped into a reader that stops after one line (as `| head -1` does)
    reader = subprocess.Popen(
        _command("executions", "history", "big", "--json"),
        env=_env(home),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout is not None and reader.stderr is not None
    assert reader.stdout.readline().strip() == "{"
    reader.stdout.close()
    status = reader.wait(timeout=60)
    stderr = reader.stderr.read()
    reader.stderr.close()
    # Then it ends with SIGPIPE's status and no traceback
    assert status == 141
    assert stderr == ""
