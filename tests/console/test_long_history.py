"""The execution page of a long history reads only what it shows: one page of events, long data
cut (the rest on demand), the Map iterations picked by number past the first 250; what it reads
of the whole history (for the steps and the graph) says the same as GetExecutionHistory's events.

PostgreSQL, a worker process and ``orchestrator serve``, as in the other console tests.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from orchestrator.console import progress
from tests.api.conftest import Server
from tests.console.conftest import ended, start
from tests.runtime.conftest import Cluster

# Items of every kind of JSON value, and enough of them (300) to pass the picker's 250 and the
# page's 20,000 characters of input.
ITEMS: list[Any] = [["a string", None, 7, True, {"id": i, "note": "n" * 400}][i % 5] for i in range(300)]
DEFINITION = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "Keep", "States": {"Keep": {"Type": "Pass", "End": True}}},
            "Next": "After",
        },
        "After": {"Type": "Pass", "Result": "done", "End": True},
    },
}


@pytest.fixture(scope="module")
def long_run(cluster: Cluster) -> tuple[str, str, str]:
    """(machine name, execution name, execution ARN) of a finished Map over ITEMS."""
    machine_arn = cluster.state_machine(DEFINITION)
    name, arn = start(cluster, machine_arn, {"items": ITEMS})
    assert ended(cluster, arn, timeout=60)["status"] == "SUCCEEDED"
    return machine_arn.rsplit(":", 1)[1], name, arn


def summary(step: progress.Step) -> tuple[Any, ...]:
    return (step.name, step.type, step.status, step.input, step.output, step.lane, step.event_ids, step.error)


def test_the_history_read_for_the_steps_says_what_get_execution_history_says(
    cluster: Cluster, long_run: tuple[str, str, str]
) -> None:
    _, _, arn = long_run
    whole = cluster.service.execution_whole(arn)["events"]
    read = cluster.service.history_to_read(arn, up_to=whole[-1]["id"])
    assert [summary(s) for s in progress.steps(read)] == [summary(s) for s in progress.steps(list(whole))]
    # A string item is JSON text with its quotes, a null one is null: the same as AWS's text.
    inputs = [s.input for s in progress.steps(read) if s.name == "Keep"][:4]
    assert inputs == ['"a string"', "null", "7", "true"]


def test_the_events_are_read_a_page_at_a_time(cluster: Cluster, long_run: tuple[str, str, str]) -> None:
    _, _, arn = long_run
    service = cluster.service
    whole = service.execution_whole(arn)["events"]
    assert service.history_page(arn, offset=250, limit=250) == whole[250:500]
    assert service.history_page(arn, descending=True, offset=10, limit=5) == whole[::-1][10:15]
    succeeded = [e for e in whole if e["type"] == "MapIterationSucceeded"]
    assert service.history_page(arn, event_type="MapIterationSucceeded", offset=20, limit=7) == succeeded[20:27]
    assert service.history_events(arn, [7, 1, 3]) == [e for e in whole if e["id"] in (1, 3, 7)]


def page_of(server: Server, machine: str, name: str, query: str = "") -> str:
    answer = httpx.get(f"{server.url}/console/executions/{machine}/{name}{query}")
    assert answer.status_code == 200, answer.text[:2000]
    return answer.text


def shown_json(fragment: str) -> Any:
    found = re.fullmatch(r'\s*<pre class="code">(.*)</pre>\s*', fragment, re.DOTALL)
    assert found, fragment[:500]
    return json.loads(html.unescape(found.group(1)))


def test_long_data_is_cut_and_given_whole_on_demand(server: Server, long_run: tuple[str, str, str]) -> None:
    machine, name, _ = long_run
    text = page_of(server, machine, name)
    size = len(json.dumps({"items": ITEMS}, separators=(",", ":")))
    assert size > 20_000
    assert text.count("Show all (") >= 2  # the execution's input and output; and long event details
    assert "?fragment=data&amp;part=input" in text and "?fragment=event&amp;event=1" in text
    assert shown_json(page_of(server, machine, name, "?fragment=data&part=input")) == {"items": ITEMS}
    started = shown_json(page_of(server, machine, name, "?fragment=event&event=1"))
    assert json.loads(started["input"]) == {"items": ITEMS}
    assert "no such event" in page_of(server, machine, name, "?fragment=event&event=99999")


def test_an_iteration_past_the_listed_ones_is_picked_by_its_number(
    server: Server, long_run: tuple[str, str, str]
) -> None:
    machine, name, _ = long_run
    text = page_of(server, machine, name)
    picker = text[text.index('<select name="lane"') : text.index("</select>")]
    assert picker.count("<option") == 1 + 250  # "All iterations (300)", then #0 to #249
    assert "All iterations (300)" in picker and 'name="iteration"' in text
    picked = page_of(server, machine, name, "?map=Each&iteration=299")
    assert '<option value="Each#299" selected>' in picked
    statuses = re.search(r'<script type="application/json" id="graph-status">(.*?)</script>', picked).group(1)
    assert "succeeded" in statuses
    assert "300 succeeded" in text


def test_a_new_execution_with_a_long_input_starts_from_it(server: Server, long_run: tuple[str, str, str]) -> None:
    machine, name, _ = long_run
    text = page_of(server, machine, name)
    link = re.search(r'href="(/console/state-machines/[^"]+input_from=[^"]+)"', text)
    assert link is not None  # the input is too long for a link of its own
    form = httpx.get(server.url + html.unescape(link.group(1)))
    assert form.status_code == 200
    given = re.search(r'<textarea[^>]*name="input"[^>]*>(.*?)</textarea>', form.text, re.DOTALL)
    assert given is not None and json.loads(html.unescape(given.group(1))) == {"items": ITEMS}


def test_show_all_in_the_browser(page: Page, server: Server, long_run: tuple[str, str, str]) -> None:
    machine, name, _ = long_run
    page.goto(f"{server.url}/console/executions/{machine}/{name}")
    io = page.locator("section[aria-labelledby='io-heading'] .io > div").first
    expect(io.get_by_role("button", name=re.compile("Show all"))).to_be_visible()
    io.get_by_role("button", name=re.compile("Show all")).click()
    expect(io.get_by_role("button")).to_have_count(0)
    assert json.loads(io.locator("pre").inner_text()) == {"items": ITEMS}
