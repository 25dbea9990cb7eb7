"""The credit-application web service (examples/credit-application/service.py) on PostgreSQL and Redis.

Served by a real uvicorn; the credit workflow's Lambda functions (tasks/credit.py) run on the
cluster's worker. An application is saved and its execution started in one transaction: a refused
start saves no application.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select, text

from orchestrator import Client
from tests.api.conftest import free_port
from tests.examples.conftest import EXAMPLE, application
from tests.runtime.conftest import Cluster


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("credit_service", EXAMPLE / "service.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # SQLAlchemy reads its models' annotations in the module's namespace
    spec.loader.exec_module(module)
    return module


example = load_example()


class Served:
    """The example's app under uvicorn, in a thread of this process."""

    def __init__(self, app: Any) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        port = int(self.url.rsplit(":", 1)[1])
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> httpx.Client:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the example service did not start"
            time.sleep(0.02)
        self.http = httpx.Client(base_url=self.url, timeout=30)
        return self.http

    def __exit__(self, *exc: object) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def machine(local: Client) -> str:
    return str(example.set_up(local))  # the topic, the bureaus table and the machine, as demo.py does


@pytest.fixture(scope="module")
def http(local: Client, machine: str) -> Iterator[httpx.Client]:
    with Served(example.create_app(local, machine)) as client:
        yield client


def saved(local: Client) -> int:
    with local.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(example.CreditApplication)) or 0)


def test_an_application_is_saved_and_its_workflow_runs(http: httpx.Client, local: Client, cluster: Cluster) -> None:
    posted = http.post("/applications", json=application("input-auto-approve.json"))
    assert posted.status_code == 201, posted.text
    answer = posted.json()
    assert answer["executionArn"].endswith(f":execution:credit-application:application-{answer['applicationId']}")

    done = local.wait(answer["executionArn"], timeout=120)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["input"]) == application("input-auto-approve.json")
    shown = http.get(f"/applications/{answer['applicationId']}").json()
    assert shown["status"] == "SUCCEEDED" and shown["email"] == "jane.doe@example.com"
    assert shown["creditRequested"] == 3500 and shown["executionArn"] == answer["executionArn"]
    assert {score["bureau"] for score in shown["output"]} == {"Equifax", "Experian", "TransUnion"}


def test_a_refused_start_saves_no_application(local: Client, machine: str) -> None:
    missing = machine.replace("credit-application", "no-such-machine")
    app = example.create_app(local, missing)  # (creates the service's table if no test did before)
    before = saved(local)
    with Served(app) as http:
        posted = http.post("/applications", json=application("input-auto-approve.json"))
    assert posted.status_code == 409
    assert posted.json()["error"] == "StateMachineDoesNotExist"
    assert saved(local) == before


def test_what_is_not_an_application(http: httpx.Client, local: Client) -> None:
    before = saved(local)
    assert http.post("/applications", content=b"{not json").json() == {"error": "the body is not JSON"}
    refused = http.post("/applications", json={"creditRequested": -5, "data": {}})
    assert (refused.status_code, refused.json()) == (400, {"error": "creditRequested must be a whole amount above 0"})
    long = application("input-auto-approve.json")
    long["data"]["identity"]["email"] = "a" * 300 + "@example.com"
    assert http.post("/applications", json=long).json() == {"error": "data.identity.email must be an e-mail address"}
    assert http.get("/applications/999999").status_code == 404
    assert saved(local) == before


@pytest.mark.usefixtures("http")  # the service made its table when it started
def test_its_table_is_in_the_engines_database(local: Client) -> None:
    with local.transaction() as session:
        names = session.execute(text("SELECT to_regclass('credit_applications') IS NOT NULL")).scalar()
    assert names is True
