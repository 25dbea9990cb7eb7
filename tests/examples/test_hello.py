"""examples/hello, the README's first workflow: each of its Choice's branches is taken, in memory and
through ``orchestrator run`` on the embedded default, as the README runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import run_local

ROOT = Path(__file__).resolve().parents[2]
HELLO = ROOT / "examples" / "hello" / "hello.asl.json"


@pytest.mark.parametrize(
    ("name", "branch", "verdict"),
    [("Ada Lovelace", "Full name", "a full name"), ("Ada", "One name", "a single name")],
)
def test_each_branch_is_taken(name: str, branch: str, verdict: str) -> None:
    result = run_local(HELLO.read_text(), {"name": name})
    assert result.status == "SUCCEEDED"
    entered = [e["stateEnteredEventDetails"]["name"] for e in result.history if e["type"].endswith("StateEntered")]
    assert entered == ["Greet", "Pause", "Full name?", branch]
    assert result.output == {"greeting": f"Hello, {name}!", "name": name, "verdict": verdict}


@pytest.mark.parametrize(("name", "verdict"), [("Ada Lovelace", "a full name"), ("Ada", "a single name")])
def test_orchestrator_run_takes_each_branch(tmp_path: Path, name: str, verdict: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}
    env["ORCHESTRATOR_HOME"] = str(tmp_path / "home")
    command = [sys.executable, "-m", "orchestrator.cli", "run", str(HELLO), "--input", json.dumps({"name": name})]
    done = subprocess.run([*command, "--json"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    described = json.loads(done.stdout)
    # times carry their timezone (the embedded SQLite database gave them none), in JSON and in tables
    assert described["startDate"].endswith("+00:00") and described["stopDate"].endswith("+00:00")
    cli = [sys.executable, "-m", "orchestrator.cli", "executions"]
    for command in (["list", "hello"], ["history", described["executionArn"]]):
        shown = subprocess.run([*cli, *command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        times = re.findall(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(\S*)", shown.stdout)
        assert times and set(times) == {"+00:00"}, shown.stdout
    # the keys in the order the states produced them: Greet's two, then the verdict
    assert list(json.loads(described["output"]).items()) == [
        ("greeting", f"Hello, {name}!"),
        ("name", name),
        ("verdict", verdict),
    ]
