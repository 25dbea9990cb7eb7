"""Take the console's screenshots in docs/console/: ``python docs/console/screenshots.py``.

It runs the credit application on the embedded default in a fresh home (an automatic approval, one
waiting for a person, one that failed), serves the console, and photographs the main pages in
Debian's chromium (``apt-get install chromium``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CREDIT = ROOT / "examples" / "credit-application"
PORT = 8093
URL = f"http://127.0.0.1:{PORT}"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def main() -> None:
    with served():
        names = run_applications()
        photograph(names)


@contextmanager
def served() -> Iterator[None]:
    """``orchestrator serve`` on the embedded default in a fresh home, with the credit application's
    SNS topic and DynamoDB table (``studio_screenshots.py`` uses it too)."""
    home = Path(tempfile.mkdtemp(prefix="console-shots-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")} | {"HOME": str(home)}
    cli = [sys.executable, "-m", "orchestrator.cli"]
    for command in (["topics", "create", "TaskTokenTopic"], ["tables", "load", str(CREDIT / "bureaus.json")]):
        subprocess.run([*cli, *command], env=env, cwd=ROOT, check=True, capture_output=True)
    server = subprocess.Popen([*cli, "serve", "--port", str(PORT)], env=env, cwd=ROOT)
    try:
        wait_for_server()
        yield
    finally:
        server.terminate()
        server.wait(timeout=10)


def api() -> Any:
    """boto3's Step Functions client for the server the screenshots are taken of."""
    return boto3.client(
        "stepfunctions",
        endpoint_url=URL,
        region_name="us-east-1",
        aws_access_key_id="any",
        aws_secret_access_key="any",
        config=Config(inject_host_prefix=False),
    )


def create_credit_machine() -> str:
    """The credit application's state machine, created through the API as a user would; its ARN."""
    sfn = api()
    created = sfn.create_state_machine(
        name="credit-application",
        definition=(CREDIT / "statemachine.asl.json").read_text(),
        roleArn="arn:aws:iam::123456789012:role/credit-application",
    )
    return str(created["stateMachineArn"])


def wait_for_server() -> None:
    for _ in range(100):
        try:
            httpx.get(f"{URL}/health", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def run_applications() -> dict[str, str]:
    machine = create_credit_machine()
    sfn = api()
    application = json.loads((CREDIT / "input-auto-approve.json").read_text())
    runs = {
        "approved": application,
        "waiting": json.loads((CREDIT / "input-needs-approval.json").read_text()),
        "failed": {**application, "creditRequested": 25_000},
    }
    for name, given in runs.items():
        sfn.start_execution(stateMachineArn=machine, name=f"application-{name}", input=json.dumps(given))
    time.sleep(3)
    return {name: f"application-{name}" for name in runs}


def photograph(names: dict[str, str]) -> None:
    pages = {
        "state-machine.png": "/console/state-machines/credit-application",
        "execution.png": f"/console/executions/credit-application/{names['approved']}",
        "execution-failed.png": f"/console/executions/credit-application/{names['failed']}",
        "approvals.png": "/console/approvals",
        "executions.png": "/console/executions",
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        for file, path in pages.items():
            page.goto(URL + path)
            if page.locator("[data-graph-canvas]").count():
                page.wait_for_selector("[data-graph-canvas][data-ready='true']")
            if file == "execution-failed.png":
                page.locator("[data-show-state]").first.click()
                page.wait_for_selector(".step-details")
                page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(HERE / file), full_page=False)
            print(f"docs/console/{file}")
        browser.close()


if __name__ == "__main__":
    main()
