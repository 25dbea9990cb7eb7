"""Data comes back with its keys in the order the states produced them, as AWS gives it, on PostgreSQL
and on SQLite (issue 16 item 1): examples/hello's output is ``greeting``, ``name``, ``verdict`` in
DescribeExecution, in GetExecutionHistory and on the console's execution page.

Each database runs behind ``orchestrator serve``, a worker and the scheduler, and is used through boto3
and HTTP, as a user would."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from orchestrator.store.migrate import upgrade
from tests.api.conftest import API_REDIS_URL, Server, client
from tests.runtime.conftest import Cluster, close_clusters, database_url, wait_for  # noqa: F401 - a fixture

HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello" / "hello.asl.json"
ROLE = "arn:aws:iam::123456789012:role/any"
# Keys in an order that sorting (PostgreSQL's jsonb sorts them, shortest first) would change.
INPUT = '{"name": "Ada Lovelace", "zz": 1, "a": 2}'
OUTPUT_KEYS = ["greeting", "name", "verdict"]


@pytest.fixture(params=["sqlite", "postgresql"])
def sfn_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'orchestrator.sqlite'}"
        upgrade(url)
    else:
        url = request.getfixturevalue("database_url")
    cluster = Cluster(url, API_REDIS_URL, tmp_path / "cluster")
    cluster.tmp.mkdir(parents=True)
    try:
        cluster.start_worker(concurrency=2)
        cluster.start_scheduler()
        with Server(cluster) as server:
            yield server.url
    finally:
        close_clusters([cluster])


def _keys(text: str) -> list[str]:
    return list(json.loads(text))


def test_the_hello_output_keeps_its_key_order(sfn_url: str, request: pytest.FixtureRequest) -> None:
    sfn = client(sfn_url)
    name = f"hello-{request.node.callspec.id}"
    machine = sfn.create_state_machine(name=name, definition=HELLO.read_text(), roleArn=ROLE)["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, name="ada", input=INPUT)["executionArn"]
    described = wait_for(
        lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d, 60, what="hello to end"
    )
    assert described["status"] == "SUCCEEDED"
    assert _keys(described["input"]) == ["name", "zz", "a"]
    assert _keys(described["output"]) == OUTPUT_KEYS

    events = sfn.get_execution_history(executionArn=arn)["events"]
    details = {e["type"]: next(v for k, v in e.items() if k.endswith("EventDetails")) for e in events}
    assert _keys(details["ExecutionStarted"]["input"]) == ["name", "zz", "a"]
    greeted = next(e["stateExitedEventDetails"] for e in events if e["type"] == "PassStateExited")
    assert _keys(greeted["output"]) == ["greeting", "name"]
    assert _keys(details["ExecutionSucceeded"]["output"]) == OUTPUT_KEYS

    page = httpx.get(f"{sfn_url}/console/executions/{name}/ada", timeout=30)
    assert page.status_code == 200
    shown = re.search(r"<h3>Output</h3><pre[^>]*>(.*?)</pre>", page.text, re.DOTALL)
    assert shown is not None, page.text
    assert _keys(html.unescape(shown.group(1))) == OUTPUT_KEYS
