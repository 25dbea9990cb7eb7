"""The starter of the test servers (scripts/services.sh, tests/services.py; issue 16, item 17).

Starting a stopped server cannot be tested here without stopping what other runs use: these tests
check that the starter leaves running servers alone and names one that is down.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

from tests.services import SCRIPT, closed, ensure_services


def a_closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # free once the probe is closed: nothing listens on it


def services(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False
    )


def test_with_every_server_running_it_does_nothing() -> None:
    assert closed() == []  # the servers of this machine, which the other tests use

    run = services()

    assert run.returncode == 0, run.stderr
    assert run.stdout == run.stderr == ""
    assert ensure_services() is None


def test_a_server_that_is_down_is_named_with_what_would_start_it() -> None:
    port = a_closed_port()

    run = services("--dry-run", REDIS_PORT=str(port))

    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [f"services: Redis is not running on 127.0.0.1:{port}: would start it"]
    assert closed({"Redis": port}) == ["Redis"]  # a dry run starts nothing


def test_a_server_that_is_not_installed_is_named_with_its_package(tmp_path: Path) -> None:
    """A PATH with the shell's tools and no server: nothing to start, the package to install is named."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "ls", "sort", "tail", "seq", "sleep", "dirname"):
        (tools / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    port = a_closed_port()

    run = services(REDIS_PORT=str(port), PATH=str(tools))

    assert run.returncode == 1
    assert run.stdout == f"services: starting Redis (nothing answers on 127.0.0.1:{port})\n"
    assert run.stderr.splitlines() == [
        f"services: Redis is not installed: apt-get install redis-server (or start it yourself on 127.0.0.1:{port})",
        "services: still not running: Redis (install: apt-get install redis-server)",
    ]
