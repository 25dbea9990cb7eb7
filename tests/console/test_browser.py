"""The console in a real browser, in front of PostgreSQL, Redis and a worker process: the credit
application's graph, its executions' statuses, the approvals inbox, failures, live updates.

Each test starts its own executions on a state machine of its own, so the tests do not see each
other's work.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.api.conftest import Server
from tests.console.conftest import (
    credit_input,
    credit_machine,
    ended,
    graph_ready,
    node_status,
    start,
    waiting_for_token,
)
from tests.runtime.conftest import Cluster

CREDIT_STATES = {
    "Get credit limit",
    "Credit applied >= 5000?",
    "Wait for human approval",
    "Credit limit approved",
    "Auto-approve limit",
    "Verify applicant's identity and address",
    "Verify identity",
    "Verify address",
    "Get list of credit bureaus",
    "Get scores from all credit bureaus",
    "Get all scores",
    "Score unavailable",
}


def execution_url(server: Server, machine: str, name: str) -> str:
    return f"{server.url}/console/executions/{machine}/{name}"


def states_in_graph(page: Page) -> set[str]:
    return set(page.eval_on_selector_all("[data-graph-canvas] [data-state]", "ns => ns.map(n => n.dataset.state)"))


def test_the_credit_graph_has_a_node_for_each_state(page: Page, server: Server, cluster: Cluster) -> None:
    machine, _ = credit_machine(cluster)
    page.goto(f"{server.url}/console/state-machines/{machine}")
    graph_ready(page)
    assert states_in_graph(page) == CREDIT_STATES
    # The Choice's rules label its edges.
    assert "$.credit.limit >= 5000" in page.inner_text("[data-graph-canvas]")


def test_an_automatic_approval_shows_which_path_ran(page: Page, server: Server, cluster: Cluster) -> None:
    machine, arn = credit_machine(cluster)
    name, execution = start(cluster, arn, credit_input("input-auto-approve.json"))
    assert ended(cluster, execution)["status"] == "SUCCEEDED"
    page.goto(execution_url(server, machine, name))
    graph_ready(page)
    assert node_status(page, "Auto-approve limit") == "succeeded"
    assert node_status(page, "Wait for human approval") == "not-run"
    assert node_status(page, "Get all scores") == "succeeded"
    expect(page.locator("#execution-summary [data-execution-status='SUCCEEDED']").first).to_be_visible()


def _waiting_application(cluster: Cluster) -> tuple[str, str, str]:
    machine, arn = credit_machine(cluster)
    name, execution = start(cluster, arn, credit_input("input-needs-approval.json"))
    waiting_for_token(cluster, execution)
    return machine, name, execution


def test_approve_in_the_inbox_ends_the_application_succeeded(page: Page, server: Server, cluster: Cluster) -> None:
    _, name, execution = _waiting_application(cluster)
    page.goto(f"{server.url}/console/approvals")
    task = page.locator(f"article.task[data-execution='{name}']")
    expect(task).to_contain_text("Wait for human approval")
    expect(task).to_contain_text("CreditLimit")  # the SNS message that carried the token
    task.locator("textarea[name=output]").fill('{"approved": true, "by": "console"}')
    task.get_by_role("button", name="Approve").click()
    expect(page.locator(".banner")).to_contain_text("Approved")
    described = ended(cluster, execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["input"])["creditRequested"] == 7500
    assert page.locator(f"article.task[data-execution='{name}']").count() == 0


def test_reject_in_the_inbox_fails_the_application_with_the_error(page: Page, server: Server, cluster: Cluster) -> None:
    _, name, execution = _waiting_application(cluster)
    page.goto(f"{server.url}/console/approvals")
    task = page.locator(f"article.task[data-execution='{name}']")
    task.locator("input[name=error]").fill("Credit.Denied")
    task.locator("input[name=cause]").fill("Income not verified")
    task.get_by_role("button", name="Reject").click()
    described = ended(cluster, execution)
    assert (described["status"], described["error"], described["cause"]) == (
        "FAILED",
        "Credit.Denied",
        "Income not verified",
    )


def test_a_task_answered_elsewhere_leaves_the_inbox_and_a_second_answer_is_told(
    page: Page, server: Server, cluster: Cluster
) -> None:
    _, name, execution = _waiting_application(cluster)
    # A page that has not heard of the answer yet: without its live stream (which
    # test_the_inbox_shows_a_new_waiting_task_without_a_reload covers), the inbox cannot drop the
    # task before the click, as it did once the answer ended the execution before the stream's next look.
    page.route("**/console/live/**", lambda route: route.abort())
    page.goto(f"{server.url}/console/approvals")
    task = page.locator(f"article.task[data-execution='{name}']")
    expect(task).to_be_visible()
    token = next(t for t in cluster.service.pending_tokens() if t["executionArn"] == execution)["token"]
    assert token not in page.content()  # the message carried it; the page shows it hidden
    expect(task).to_contain_text("(the task token, hidden)")
    cluster.service.send_task_success(token, '{"approved": true, "by": "another approver"}')
    # The page did not reload: the Approve button is still there, and answers too late.
    task.get_by_role("button", name="Approve").click()
    expect(page.locator(".banner")).to_contain_text("Someone else answered this task first")
    assert ended(cluster, execution)["status"] == "SUCCEEDED"
    expect(page.locator(f"article.task[data-execution='{name}']")).to_have_count(0)


def test_a_failed_execution_shows_the_banner_and_marks_the_failed_step(
    page: Page, server: Server, cluster: Cluster
) -> None:
    machine, arn = credit_machine(cluster)
    application = credit_input("input-auto-approve.json", creditRequested=-5)
    name, execution = start(cluster, arn, application)
    described = ended(cluster, execution)
    assert described["status"] == "FAILED"
    page.goto(execution_url(server, machine, name))
    graph_ready(page)
    banner = page.locator("#failure-banner")
    expect(banner).to_contain_text("Applicant.InvalidCreditRequested")
    assert node_status(page, "Get credit limit") == "failed"
    assert node_status(page, "Auto-approve limit") == "not-run"
    banner.get_by_text("Show step: Get credit limit").click()
    expect(page.locator("#step-panel")).to_contain_text("Applicant.InvalidCreditRequested")
    expect(page.locator("tr.step-row.selected")).to_have_attribute("data-step", "Get credit limit")


def test_a_running_execution_updates_live(page: Page, server: Server, cluster: Cluster) -> None:
    machine, name, execution = _waiting_application(cluster)
    page.goto(execution_url(server, machine, name))
    graph_ready(page)
    assert node_status(page, "Wait for human approval") == "waiting"
    assert node_status(page, "Credit limit approved") == "not-run"
    token = next(t for t in cluster.service.pending_tokens() if t["executionArn"] == execution)["token"]
    cluster.service.send_task_success(token, '{"approved": true}')
    # No reload: the stream says the execution moved and the page fetches what changed.
    expect(page.locator("#execution-summary [data-execution-status='SUCCEEDED']").first).to_be_visible(timeout=10_000)
    assert node_status(page, "Wait for human approval") == "succeeded"
    assert node_status(page, "Credit limit approved") == "succeeded"


def test_start_execution_checks_the_json_then_opens_the_execution(page: Page, server: Server, cluster: Cluster) -> None:
    machine, _ = credit_machine(cluster)
    page.goto(f"{server.url}/console/state-machines/{machine}")
    editor = page.locator("#start-input")
    editor.fill('{"creditRequested": 3500,')
    expect(page.locator(".json-error")).to_contain_text("Not valid JSON")
    expect(page.get_by_role("button", name="Start execution")).to_be_disabled()
    editor.fill(json.dumps(credit_input("input-auto-approve.json")))
    page.locator("input[name=execution_name]").fill("from-the-console")
    page.get_by_role("button", name="Start execution").click()
    page.wait_for_url(re.compile(r".*/console/executions/.+/from-the-console$"))
    arn = cluster.service.execution_arn(machine, "from-the-console")
    assert ended(cluster, arn)["status"] == "SUCCEEDED"


def test_the_executions_list_shows_a_new_execution_without_a_reload(
    page: Page, server: Server, cluster: Cluster
) -> None:
    machine, arn = credit_machine(cluster)
    page.goto(f"{server.url}/console/executions?machine={machine}")
    expect(page.locator(".empty")).to_contain_text("No execution matches")
    name, execution = start(cluster, arn, credit_input("input-auto-approve.json"))
    expect(page.locator(f"tr[data-execution='{name}']")).to_be_visible(timeout=10_000)
    ended(cluster, execution)


def test_the_executions_list_filters_by_status_name_and_input(server: Server, cluster: Cluster, page: Page) -> None:
    machine, arn = credit_machine(cluster)
    small, first = start(cluster, arn, credit_input("input-auto-approve.json"))
    bad, second = start(cluster, arn, credit_input("input-auto-approve.json", creditRequested=-1))
    ended(cluster, first), ended(cluster, second)

    def names(query: str) -> set[str]:
        page.goto(f"{server.url}/console/executions?machine={machine}&{query}")
        return set(page.eval_on_selector_all("tr[data-execution]", "rs => rs.map(r => r.dataset.execution)"))

    assert names("status=FAILED") == {bad}
    assert names("status=SUCCEEDED") == {small}
    assert names("name=run-") == {small, bad}
    assert names(f"name={small}") == {small}
    assert names("input=creditRequested+%3D+-1") == {bad}
    assert names("input=data.firstname+%3D+Jane") == {small, bad}
    assert names("input=data.firstname+%3D+Nobody") == set()


def test_a_hostile_state_name_is_shown_as_text(page: Page, server: Server, cluster: Cluster) -> None:
    hostile = "<script>alert(1)</script>"
    definition: dict[str, Any] = {
        "StartAt": hostile,
        "States": {hostile: {"Type": "Pass", "Result": {"x": '"><img src=x onerror=alert(2)>'}, "End": True}},
    }
    machine_arn = cluster.state_machine(definition)
    machine = machine_arn.rsplit(":", 1)[1]
    name, execution = start(cluster, machine_arn, {"note": "<b>bold</b>"})
    ended(cluster, execution)
    page.goto(execution_url(server, machine, name))
    graph_ready(page)
    assert states_in_graph(page) == {hostile}
    assert node_status(page, hostile) == "succeeded"
    assert hostile in page.inner_text("table.steps")
    assert page.locator("script:has-text('alert(1)')").count() == 0
    assert page.locator("img[src=x]").count() == 0  # the page fixture also fails on any dialog


def test_a_map_iteration_can_be_picked(page: Page, server: Server, cluster: Cluster) -> None:
    machine, arn = credit_machine(cluster)
    name, execution = start(cluster, arn, credit_input("input-auto-approve.json"))
    ended(cluster, execution)
    page.goto(execution_url(server, machine, name))
    picker = page.locator("select[name=lane]")
    options = picker.locator("option")
    expect(options).to_have_count(4)  # all iterations, then #0, #1, #2 (three bureaus)
    picker.select_option(index=2)
    page.wait_for_url(re.compile(r".*lane=.*%231"))
    graph_ready(page)
    assert node_status(page, "Get all scores") == "succeeded"


def test_a_step_shows_the_data_after_each_stage(page: Page, server: Server, cluster: Cluster) -> None:
    machine, arn = credit_machine(cluster)
    name, execution = start(cluster, arn, credit_input("input-auto-approve.json"))
    ended(cluster, execution)
    page.goto(execution_url(server, machine, name))
    page.locator("tr.step-row[data-step='Get credit limit'] [data-open-step]").click()
    panel = page.locator("#step-panel")
    expect(panel).to_contain_text("After Parameters")
    expect(panel).to_contain_text("After ResultSelector")
    expect(panel).to_contain_text("After ResultPath")
    # ResultSelector {"limit.$": "$.Payload"} over the function's result 3500; ResultPath $.credit.
    stages = panel.locator("dl.stages")
    expect(stages).to_contain_text('"limit": 3500')
    expect(panel.locator("ol.attempts li")).to_have_count(1)


def test_stop_then_redrive_from_the_execution_page(page: Page, server: Server, cluster: Cluster) -> None:
    machine, name, execution = _waiting_application(cluster)
    page.goto(execution_url(server, machine, name))
    page.get_by_role("button", name="Stop").click()  # the page asks first; the test's browser accepts
    stopped = ended(cluster, execution)
    assert stopped["status"] == "ABORTED"
    expect(page.locator("#execution-summary [data-execution-status='ABORTED']").first).to_be_visible()
    graph_ready(page)
    assert node_status(page, "Wait for human approval") == "cancelled"
    page.get_by_role("button", name="Redrive").click()
    waiting_for_token(cluster, execution)
    assert cluster.service.describe_execution(execution)["redriveCount"] == 1


def test_export_gives_the_execution_and_its_history(server: Server, cluster: Cluster) -> None:
    machine, arn = credit_machine(cluster)
    name, execution = start(cluster, arn, credit_input("input-auto-approve.json"))
    ended(cluster, execution)
    answer = httpx.get(f"{execution_url(server, machine, name)}/export")
    assert answer.headers["content-disposition"] == f'attachment; filename="{name}.json"'
    document = answer.json()
    assert document["execution"]["status"] == "SUCCEEDED"
    history = cluster.service.get_execution_history(execution, max_results=1000)["events"]
    assert [e["type"] for e in document["events"]] == [e["type"] for e in history]


def test_the_inbox_shows_a_new_waiting_task_without_a_reload(page: Page, server: Server, cluster: Cluster) -> None:
    page.goto(f"{server.url}/console/approvals")
    _, name, execution = _waiting_application(cluster)
    # (30 s: the page polls every few seconds, and the suite's other processes may load the machine)
    expect(page.locator(f"article.task[data-execution='{name}']")).to_be_visible(timeout=30_000)
    token = next(t for t in cluster.service.pending_tokens() if t["executionArn"] == execution)["token"]
    cluster.service.send_task_success(token, "{}")
    expect(page.locator(f"article.task[data-execution='{name}']")).to_have_count(0, timeout=30_000)


def test_a_graph_too_slow_to_lay_out_is_drawn_without_its_catch_edges(
    page: Page, server: Server, cluster: Cluster
) -> None:
    # Many states that Catch to one state make Graphviz lay out long edges across every layer, which
    # takes it minutes at this size; the page gives up on them after its deadline (here one second).
    states: dict[str, Any] = {
        f"Step {i}": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "nothing"},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handle"}],
            "Next": f"Step {i + 1}" if i < 119 else "Done",
        }
        for i in range(120)
    }
    states["Handle"] = {"Type": "Fail", "Error": "Handled"}
    states["Done"] = {"Type": "Succeed"}
    machine_arn = cluster.state_machine({"StartAt": "Step 0", "States": states})
    page.add_init_script("window.consoleLayoutSeconds = 1")
    page.goto(f"{server.url}/console/state-machines/{machine_arn.rsplit(':', 1)[1]}")
    # the layout without the Catch edges still takes seconds, over 20 on a machine busy with other work
    graph_ready(page, timeout_ms=90_000)
    expect(page.locator(".graph-note")).to_contain_text("without its Catch edges")
    assert len(states_in_graph(page)) == 122


def test_a_distributed_map_shows_its_map_run_counts(page: Page, server: Server, cluster: Cluster) -> None:
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Work",
        "States": {"Work": {"Type": "Pass", "End": True}},
    }
    definition = {
        "StartAt": "Each",
        "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": processor, "End": True}},
    }
    machine_arn = cluster.state_machine(definition)
    name, execution = start(cluster, machine_arn, {"items": [1, 2, 3]})
    assert ended(cluster, execution)["status"] == "SUCCEEDED"
    page.goto(execution_url(server, machine_arn.rsplit(":", 1)[1], name))
    row = page.locator("section.map-runs tr[data-map-run]")
    expect(row).to_have_count(1)
    cells = row.locator("td")
    expect(cells.nth(3)).to_have_text("3")  # total
    expect(cells.nth(4)).to_have_text("3")  # succeeded


def test_a_long_table_is_paged_and_the_graph_still_opens_any_step(page: Page, server: Server, cluster: Cluster) -> None:
    processor = {"StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": True}}}
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": processor, "Next": "After"},
            "After": {"Type": "Pass", "Result": "done", "End": True},
        },
    }
    machine_arn = cluster.state_machine(definition)
    name, execution = start(cluster, machine_arn, {"items": list(range(300))})
    assert ended(cluster, execution)["status"] == "SUCCEEDED"
    page.goto(execution_url(server, machine_arn.rsplit(":", 1)[1], name))
    expect(page.locator("tr.step-row")).to_have_count(250)
    expect(page.get_by_text("302 steps; page 1 of 2")).to_be_visible()
    graph_ready(page)
    # "After" is on the table's second page; its node opens its step all the same.
    page.locator("[data-graph-canvas] [data-state='After']").click()
    expect(page.locator("#step-panel .step-details")).to_have_attribute("data-step", "After")
    page.get_by_role("link", name="Next steps").click()
    expect(page.locator("tr.step-row[data-step='After']")).to_have_count(1)
