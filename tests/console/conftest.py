"""The console for real: ``orchestrator serve`` in front of PostgreSQL, Redis and worker processes (or
on the embedded default), and Debian's Chromium driven by Playwright.

Playwright never downloads a browser here: it launches the system's ``chromium`` by its path. When
that package is missing and the tests run as root on Debian, they install it as ``.ci/run`` does;
otherwise they fail and say how to install it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.api.conftest import API_REDIS_URL, Server, isolate
from tests.runtime.conftest import ROLE, TERMINAL, Cluster, database_url, wait_for  # noqa: F401 - a fixture

ROOT = Path(__file__).resolve().parents[2]
CREDIT = ROOT / "examples" / "credit-application"
# The suite runs on three processes on two cores: what a page shows within a second when the machine
# is idle can take several when the other processes are busy. Assertions wait up to 20 s (not
# Playwright's 5); a test that means a deadline says so with its own timeout.
expect.set_options(timeout=20_000)

CHROMIUM_FLAGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",  # this machine has no network: no update checks, no lookups
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    """Debian's chromium, installed with apt-get if it is missing and we may."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        # The suite's parallel test processes may all get here at once: one installs, the others wait.
        with open("/tmp/orchestrator-tests-chromium.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            found = shutil.which("chromium")
            if not found:
                env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
                subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
                subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env, timeout=900)
                found = shutil.which("chromium")
    if not found:
        pytest.fail("The console's browser tests need Debian's chromium: apt-get install chromium")
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context; the test fails if the page raised a script error."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("dialog", lambda dialog: _answer(dialog, errors))
    yield opened
    context.close()
    assert errors == [], errors


def _answer(dialog: Any, errors: list[str]) -> None:
    """The console asks before Stop and Redrive (accepted here); any other dialog is a failure (an
    alert() would mean a script got in)."""
    if dialog.type == "confirm":
        dialog.accept()
    else:
        errors.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()


@pytest.fixture(scope="module")
def cluster(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:  # noqa: F811
    """PostgreSQL and Redis with one worker process and the scheduler; the credit workflow's topic,
    table and state machine."""
    made = Cluster(database_url, API_REDIS_URL, Path(tmp_path_factory.mktemp("console-cluster")))
    isolate(made)
    made.start_worker(concurrency=2)
    made.start_scheduler()
    made.service.create_topic("TaskTokenTopic")
    made.service.load_tables(json.loads((CREDIT / "bureaus.json").read_text()))
    yield made
    made.stop()


@pytest.fixture(scope="module")
def server(cluster: Cluster) -> Iterator[Server]:
    with Server(cluster) as running:
        yield running


def credit_machine(cluster: Cluster) -> tuple[str, str]:
    """A credit-application state machine of its own: (name, ARN)."""
    name = f"credit-{uuid.uuid4().hex[:8]}"
    created = cluster.service.create_state_machine(
        name=name, definition=(CREDIT / "statemachine.asl.json").read_text(), role_arn=ROLE
    )
    return name, created["stateMachineArn"]


def credit_input(file: str, **changes: Any) -> dict[str, Any]:
    application = json.loads((CREDIT / file).read_text())
    application.update(changes)
    return application


def start(cluster: Cluster, machine_arn: str, execution_input: Any) -> tuple[str, str]:
    """Start an execution: (its name, its ARN)."""
    name = f"run-{uuid.uuid4().hex[:8]}"
    return name, cluster.start(machine_arn, execution_input, name=name)


def wait_until(cluster: Cluster, arn: str, predicate: Any, timeout: float = 30) -> dict[str, Any]:
    return wait_for(  # type: ignore[no-any-return]
        lambda: (d := cluster.service.describe_execution(arn)) and predicate(d) and d, timeout, what=f"{arn}"
    )


def ended(cluster: Cluster, arn: str, timeout: float = 30) -> dict[str, Any]:
    return wait_until(cluster, arn, lambda d: d["status"] in TERMINAL, timeout)


def waiting_for_token(cluster: Cluster, arn: str, timeout: float = 30) -> None:
    wait_for(
        lambda: any(t["executionArn"] == arn for t in cluster.service.open_tasks()), timeout, what="a waiting task"
    )


def graph_ready(page: Page, timeout_ms: float = 20_000) -> None:
    page.wait_for_selector("[data-graph-canvas][data-ready='true']", timeout=timeout_ms)


def node_status(page: Page, state: str) -> str | None:
    return page.evaluate(
        "name => { const n = [...document.querySelectorAll('[data-graph-canvas] [data-state]')]"
        ".find(e => e.dataset.state === name); return n ? n.dataset.status : null; }",
        state,
    )
