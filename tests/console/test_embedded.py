"""The console on the embedded default: ``orchestrator serve`` with nothing configured (a SQLite file
and the worker inside the server), as a newcomer first meets it."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.api.conftest import client, free_port
from tests.runtime.conftest import Process

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Process]]:
    home = tmp_path_factory.mktemp("embedded-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}
    env["HOME"] = str(home)
    port = free_port()
    argv = [sys.executable, "-m", "orchestrator.cli", "serve", "--port", str(port)]
    process = Process("serve", argv, env, home / "serve.log")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline and process.alive(), process.output()
        time.sleep(0.1)
    yield url, process
    process.kill(signal.SIGTERM)


def test_serve_prints_where_the_console_is(embedded: tuple[str, Process]) -> None:
    url, process = embedded
    assert f"the console is at {url}/console/" in process.output()
    assert httpx.get(url).headers.get("location") == "/console/"


def test_a_newcomer_starts_an_execution_from_the_console(page: Page, embedded: tuple[str, Process]) -> None:
    url, _ = embedded
    sfn = client(url)
    definition = (ROOT / "examples" / "hello" / "hello.asl.json").read_text()
    sfn.create_state_machine(name="hello", definition=definition, roleArn="arn:aws:iam::123456789012:role/any")
    page.goto(f"{url}/console/")
    page.get_by_role("link", name="hello").click()
    page.locator("#start-input").fill('{"name": "Ada"}')
    page.get_by_role("button", name="Start execution").click()
    page.wait_for_url(re.compile(r".*/console/executions/hello/.+"))
    # The Wait of one second passes on the embedded worker; the page follows it live.
    expect(page.locator("#execution-summary [data-execution-status='SUCCEEDED']").first).to_be_visible(timeout=15_000)
    expect(page.locator("#execution-live")).to_contain_text("Hello, Ada!")
    page.get_by_role("link", name="Executions").click()
    expect(page.locator("tr[data-execution]")).to_have_count(1)
