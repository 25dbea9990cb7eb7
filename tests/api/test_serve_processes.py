"""``orchestrator serve --workers N``: several server processes on one port, sharing the broker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.api.conftest import Server, client
from tests.runtime.conftest import ROLE, TERMINAL, Cluster, wait_for

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}


def test_two_server_processes_serve_the_api_and_start_executions(cluster: Cluster) -> None:
    with Server(cluster, "--workers", "2") as server:
        assert len(_server_processes(server.process.handle.pid)) == 2
        sfn = client(server.url)
        arn = sfn.create_state_machine(name="served-by-two", definition=json.dumps(PASS), roleArn=ROLE)[
            "stateMachineArn"
        ]
        executions = [sfn.start_execution(stateMachineArn=arn)["executionArn"] for _ in range(6)]
        for execution in executions:
            described: Any = wait_for(
                lambda e=execution: (d := sfn.describe_execution(executionArn=e))["status"] in TERMINAL and d,
                timeout=60,
                what=f"{execution} to end",
            )
            assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", {"ok": True})


def test_more_than_one_process_without_a_broker_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "serve", "--workers", "2"],
        capture_output=True,
        text=True,
        env={"ORCHESTRATOR_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 2
    assert "orchestrator serve: --workers above 1 needs a broker" in done.stderr
    assert "Traceback" not in done.stderr


def _server_processes(pid: int) -> list[int]:
    """The processes ``pid`` spawned to serve (uvicorn's; not multiprocessing's resource tracker)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            parent = next(line for line in status.read_text().splitlines() if line.startswith("PPid:"))
            command = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, StopIteration):
            continue
        if parent.split()[1] == str(pid) and "spawn_main" in command:
            found.append(int(status.parent.name))
    return found
