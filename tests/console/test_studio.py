"""The workflow studio: design a state machine in the browser, in headless Chromium against the real
server on PostgreSQL (and, first, the server's check without a browser).

The main test builds the credit-application workflow from a blank state machine with the palette
and the form alone (no JSON is typed: names, choices from lists, paths and numbers are filled in),
saves it, compares it with `examples/credit-application/statemachine.asl.json`, and runs it from
the studio.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from orchestrator.console.studio import Place, check, place_of, places
from tests.api.conftest import Server
from tests.console.conftest import CREDIT, credit_input, credit_machine, ended
from tests.console.test_security import csrf_of
from tests.runtime.conftest import ROLE, Cluster

EXAMPLE = json.loads((CREDIT / "statemachine.asl.json").read_text())


# -- the check, without a browser -------------------------------------------------------------------


def test_the_check_places_each_problem_on_its_state_and_its_graph_node() -> None:
    definition = json.loads(json.dumps(EXAMPLE))
    branch = definition["States"]["Verify applicant's identity and address"]["Branches"][1]
    branch["States"]["Verify address"]["Type"] = "Tusk"
    definition["States"]["Get credit limit"]["Next"] = "Nowhere"
    answer = check(json.dumps(definition, indent=2))
    by_state = {d["state"]: d for d in answer["diagnostics"]}
    assert by_state["Verify address"]["node"] == "s7"
    assert answer["nodes"]["s7"] == {
        "name": "Verify address",
        "type": "Tusk",
        "scope": [["Verify applicant's identity and address", 1]],
    }
    assert by_state["Get credit limit"]["node"] == "s0"
    assert by_state["Get credit limit"]["location"] == "/States/Get credit limit/Next"
    assert answer["dot"].startswith('digraph "state machine"')


def test_broken_json_is_reported_at_its_line() -> None:
    answer = check('{\n  "StartAt": "A",\n  "States": {\n}')
    assert answer["dot"] is None
    [problem] = answer["diagnostics"]
    assert problem["code"] == "INVALID_JSON_DESCRIPTION" and problem["line"] == 4


def test_places_follow_the_graphs_order_and_pointers_find_the_innermost_state() -> None:
    found = places(EXAMPLE)
    assert found[6] == Place((("Verify applicant's identity and address", 0),), "Verify identity")
    assert found[-1] == Place((("Get scores from all credit bureaus", "items"),), "Score unavailable")
    pointer = "/States/Get scores from all credit bureaus/ItemProcessor/States/Get all scores/Catch/0/Next"
    assert place_of(pointer, EXAMPLE) == Place((("Get scores from all credit bureaus", "items"),), "Get all scores")
    assert place_of("/States/Get scores from all credit bureaus/ItemProcessor/StartAt", EXAMPLE) == Place(
        (), "Get scores from all credit bureaus"
    )
    assert place_of("/StartAt", EXAMPLE) is None


# -- helpers for the browser ------------------------------------------------------------------------


def settled(page: Page) -> None:
    """Wait until the server has checked the definition as it is now (and the graph is drawn)."""
    page.wait_for_selector("[data-studio][data-started]:not([data-checking])", timeout=15_000)


def form(page: Page) -> Locator:
    return page.locator("[data-form]")


def add(page: Page, kind: str) -> None:
    """Press a palette button: it adds a state and selects it."""
    group = "Flow" if kind in ("Pass", "Choice", "Parallel", "Map", "Wait", "Succeed", "Fail") else "Actions"
    page.get_by_role("group", name=group).get_by_role("button", name=kind, exact=True).click()
    settled(page)


def node(page: Page, name: str) -> Locator:
    return page.locator(f'[data-studio-graph] [data-state="{name}"]')


def select(page: Page, name: str) -> None:
    """Click a state in the graph (a Parallel or a Map on its label: its middle holds its states)."""
    settled(page)
    target = node(page, name)
    if target.get_attribute("data-type") in ("Parallel", "Map"):
        target.locator(":scope > text").first.click()
    else:
        target.click()
    expect(form(page).locator("h2").first).to_contain_text(name)


def rename(page: Page, name: str) -> None:
    field = form(page).get_by_label("State name")
    field.fill(name)
    field.press("Tab")
    expect(form(page).locator("h2").first).to_contain_text(name)
    settled(page)


def choose(page: Page, label: str, option: str, within: Locator | None = None) -> None:
    (within or form(page)).get_by_label(label, exact=True).select_option(label=option)


def add_field(page: Page, editor: Locator, key: str, kind: str, value: str) -> None:
    """Add a field to a fields editor (Parameters, ResultSelector, a message ...) without JSON."""
    editor.get_by_role("button", name="Add field").last.click()
    row = editor.locator(":scope > .field-row").last
    row.get_by_label("Key", exact=True).first.fill(key)
    row.get_by_label("Key", exact=True).first.press("Tab")
    row = editor.get_by_role("group", name=f"Field {key}", exact=True)
    row.get_by_label("Kind", exact=True).select_option(label=kind)
    row.get_by_label("Value", exact=True).fill(value)


def fields(page: Page, name: str) -> Locator:
    return form(page).get_by_role("group", name=name, exact=True).last


def definition_of(page: Page) -> dict[str, Any]:
    return page.evaluate("() => Studio.page.definition")  # type: ignore[no-any-return]


def open_new_studio(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/console/state-machines")
    page.get_by_role("link", name="Create state machine").click()
    expect(page.get_by_role("heading", name="New state machine")).to_be_visible()
    settled(page)


def open_editor(page: Page, server: Server, machine: str) -> None:
    page.goto(f"{server.url}/console/state-machines/{machine}")
    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_role("heading", name=f"Edit {machine}")).to_be_visible()
    settled(page)


def machine_of(cluster: Cluster, definition: dict[str, Any]) -> str:
    name = f"studio-{uuid.uuid4().hex[:8]}"
    cluster.service.create_state_machine(name=name, definition=json.dumps(definition), role_arn=ROLE)
    return name


# -- the credit application, built in the browser ------------------------------------------------


def build_credit_application(page: Page) -> None:
    """The tutorial's steps: each state from the palette, then its form."""
    add(page, "Lambda Invoke")
    rename(page, "Get credit limit")
    choose(page, "Function", "RandomNumberforCredit")
    form(page).get_by_label("OutputPath").fill("")  # Workflow Studio's default for Lambda; this one keeps its input
    add_field(page, fields(page, "ResultSelector"), "limit", "Path", "$.Payload")
    form(page).get_by_label("ResultPath", exact=True).fill("$.credit")

    add(page, "Choice")
    rename(page, "Credit applied >= 5000?")
    add(page, "SNS Publish")  # after a Choice without a default: its default
    build_approval_request(page)
    add(page, "Pass")
    rename(page, "Credit limit approved")
    form(page).get_by_label("Discard the result and keep the input (ResultPath: null)").check()

    select(page, "Credit applied >= 5000?")
    add(page, "Pass")  # after a Choice with a default: the target of a new rule
    rename(page, "Auto-approve limit")
    form(page).get_by_label("Discard the result and keep the input (ResultPath: null)").check()
    build_choice_rules(page)

    select(page, "Credit limit approved")
    add(page, "Parallel")
    rename(page, "Verify applicant's identity and address")
    form(page).get_by_label("ResultPath", exact=True).fill("$.verification")
    add(page, "Lambda Invoke")  # an empty Parallel takes it as its first branch
    build_verification(page, "Verify identity", "check-identity", "$.data.identity")
    select(page, "Verify applicant's identity and address")
    page.get_by_label("Inside it, as a new branch").check()
    add(page, "Lambda Invoke")
    build_verification(page, "Verify address", "check-address", "$.data.address")

    select(page, "Auto-approve limit")  # re-point its Next at the verification
    choose(page, "Next state", "Verify applicant's identity and address")
    select(page, "Verify applicant's identity and address")
    add(page, "DynamoDB Scan")
    rename(page, "Get list of credit bureaus")
    choose(page, "Table", "GetCreditBureau")
    build_scores(page)


def build_approval_request(page: Page) -> None:
    rename(page, "Wait for human approval")
    choose(page, "Topic", "TaskTokenTopic")
    form(page).get_by_label("Subject").fill("A credit limit needs your approval")
    form(page).get_by_label("Wait for callback (adds .waitForTaskToken and sends the task token)").check()
    message = fields(page, "Message")
    message.get_by_role("group", name="Field Input").get_by_role("button", name="Remove the field Input").click()
    message = fields(page, "Message")
    add_field(page, message, "Applicant", "Path", "$.data.firstname")
    add_field(page, fields(page, "Message"), "CreditLimit", "Path", "$.credit.limit")
    add_field(page, fields(page, "Message"), "ExecutionId", "Path", "$$.Execution.Id")
    form(page).get_by_label("ResultPath", exact=True).fill("$.approval")


def build_choice_rules(page: Page) -> None:
    select(page, "Credit applied >= 5000?")
    first = form(page).get_by_role("group", name="Rule 1")
    first.get_by_label("Variable").fill("$.credit.limit")
    first.get_by_label("Operator").select_option("NumericLessThan")
    form(page).get_by_role("group", name="Rule 1").get_by_label("Value").fill("5000")
    form(page).get_by_role("button", name="Add rule").click()
    second = form(page).get_by_role("group", name="Rule 2")
    second.get_by_label("Variable").fill("$.credit.limit")
    second.get_by_label("Operator").select_option("NumericGreaterThanEquals")
    form(page).get_by_role("group", name="Rule 2").get_by_label("Value").fill("5000")
    choose(page, "Then go to", "Wait for human approval", form(page).get_by_role("group", name="Rule 2"))
    choose(page, "Default state", "Wait for human approval")


def build_verification(page: Page, name: str, function: str, input_path: str) -> None:
    rename(page, name)
    choose(page, "Function", function)
    form(page).get_by_label("InputPath").fill(input_path)


def build_scores(page: Page) -> None:
    add(page, "Map")
    rename(page, "Get scores from all credit bureaus")
    form(page).get_by_label("Items path").fill("$.Items")
    form(page).get_by_label("Maximum concurrency").fill("3")
    choose(page, "Processing mode", "Inline: iterations run in this execution")
    add(page, "Lambda Invoke")  # an empty Map takes it as the first state run for each item
    rename(page, "Get all scores")
    choose(page, "Function", "get-credit-score")
    form(page).get_by_role("button", name="Add retrier").click()
    retrier = form(page).get_by_role("group", name="Retrier 2")
    retrier.get_by_label("Errors").fill("Bureau.Unavailable")
    retrier.get_by_label("Max attempts").fill("2")

    add(page, "Pass")
    rename(page, "Score unavailable")
    parameters = fields(page, "Parameters")
    add_field(page, parameters, "bureau", "Path", "$.Name.S")
    add_field(page, fields(page, "Parameters"), "score", "Number, true, false, null, list", "null")
    add_field(page, fields(page, "Parameters"), "error", "Path", "$.error.Error")

    select(page, "Get all scores")  # it ends its iteration; a failure goes to "Score unavailable"
    choose(page, "Next state", "End (no next state)")
    form(page).get_by_role("button", name="Add catcher").click()
    catcher = form(page).get_by_role("group", name="Catcher 1")
    catcher.get_by_label("Result path").fill("$.error")
    choose(page, "Then go to", "Score unavailable", catcher)


def test_the_credit_application_built_from_the_palette_and_forms_runs_from_the_studio(
    page: Page, server: Server, cluster: Cluster
) -> None:
    open_new_studio(page, server)
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_disabled()  # nothing to save yet
    build_credit_application(page)
    settled(page)
    expect(page.locator("[data-problem-count]")).to_have_text("0")

    name = f"credit-studio-{uuid.uuid4().hex[:6]}"
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Publish a version").check()
    page.get_by_label("Version description").fill("Built in the studio")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("[data-status]")).to_contain_text(f"Saved “{name}”. Published version 1.")
    expect(page).to_have_url(re.compile(f"/console/state-machines/{name}/edit$"))

    saved = cluster.service.describe_state_machine(cluster.service.state_machine_arn(name))
    built = json.loads(saved["definition"])
    # Everything but the machine's Comment is the example's: states, types, transitions, Choice
    # rules, resources, parameters, Retry and Catch lists, paths.
    assert {k: v for k, v in built.items() if k != "Comment"} == {k: v for k, v in EXAMPLE.items() if k != "Comment"}
    versions = cluster.service.list_state_machine_versions(cluster.service.state_machine_arn(name))
    assert len(versions["stateMachineVersions"]) == 1

    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_label("Input (JSON)", exact=True).fill(json.dumps(credit_input("input-auto-approve.json")))
    page.get_by_role("button", name="Start execution").click()
    expect(page).to_have_url(re.compile(f"/console/executions/{name}/[^/]+$"))
    execution = page.url.rsplit("/", 1)[1]
    assert ended(cluster, cluster.service.execution_arn(name, execution), timeout=60)["status"] == "SUCCEEDED"
    page.reload()
    expect(page.locator("#execution-summary [data-execution-status='SUCCEEDED']").first).to_be_visible()


# -- editing an existing machine ----------------------------------------------------------------------

LOOP = {
    "StartAt": "Fetch",
    "States": {
        "Fetch": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "check-identity", "Payload.$": "$"},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Fetch"}],
            "Next": "Decide",
        },
        "Decide": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.again", "BooleanEquals": True, "Next": "Fetch"}],
            "Default": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def test_renaming_a_state_updates_every_reference(page: Page, server: Server, cluster: Cluster) -> None:
    machine = machine_of(cluster, LOOP)
    open_editor(page, server, machine)
    select(page, "Fetch")
    rename(page, "Fetch the application")
    edited = definition_of(page)
    assert edited["StartAt"] == "Fetch the application"
    states = edited["States"]
    assert list(states) == ["Fetch the application", "Decide", "Done"]  # in the same place
    assert states["Fetch the application"]["Catch"][0]["Next"] == "Fetch the application"
    assert states["Decide"]["Choices"][0]["Next"] == "Fetch the application"
    expect(page.locator("[data-problem-count]")).to_have_text("0")
    expect(node(page, "Fetch the application")).to_be_visible()
    expect(page.locator(".CodeMirror")).to_contain_text('"StartAt": "Fetch the application"')

    # A name already taken is refused, and nothing changes.
    field = form(page).get_by_label("State name")
    field.fill("Done")
    field.press("Tab")
    expect(form(page)).to_contain_text("There is already a state named “Done”.")
    assert definition_of(page) == edited


def test_deleting_a_state_repairs_what_pointed_at_it_or_reports_it(
    page: Page, server: Server, cluster: Cluster
) -> None:
    machine = machine_of(cluster, LOOP)
    open_editor(page, server, machine)

    # "Decide" went on to "Done" by default: "Fetch", which pointed at it, now goes there.
    select(page, "Decide")
    form(page).get_by_role("button", name="Delete state").click()
    settled(page)
    expect(page.locator("[data-status]")).to_contain_text("“Fetch” now goes to “Done”.")
    assert definition_of(page)["States"]["Fetch"]["Next"] == "Done"
    expect(page.locator("[data-problem-count]")).to_have_text("0")

    # "Done" leads nowhere: what pointed at it is reported, and marked in the graph.
    select(page, "Done")
    page.keyboard.press("Delete")  # the graph's node has the focus: the key deletes it
    settled(page)
    expect(page.locator("[data-status]")).to_contain_text("“Fetch” pointed at it and has nowhere to go")
    expect(node(page, "Fetch")).to_have_attribute("data-invalid", "true")
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_disabled()


def test_an_invalid_edit_in_the_code_marks_its_state_and_blocks_save(
    page: Page, server: Server, cluster: Cluster
) -> None:
    machine, _ = credit_machine(cluster)
    open_editor(page, server, machine)
    save = page.get_by_role("button", name="Save", exact=True)
    expect(save).to_be_enabled()
    expect(node(page, "Get credit limit")).not_to_have_attribute("data-invalid", "true")

    code = json.dumps(EXAMPLE, indent=2).replace('"Next": "Credit applied >= 5000?"', '"Next": "Credit applied?"')
    type_code(page, code)
    expect(node(page, "Get credit limit")).to_have_attribute("data-invalid", "true")
    expect(node(page, "Get credit limit").locator(".problem-mark")).to_be_visible()
    # The states after it are unreachable now: they are problems too, each at its own line.
    assert '"Next": "Credit applied?"' in marked_lines(page)
    assert '"Credit applied >= 5000?": {' in marked_lines(page)
    problems = page.locator("[data-problems]")
    missing = problems.locator("li", has_text="'Credit applied?' is not a state in this block")
    expect(save).to_be_disabled()
    missing.get_by_role("button", name="Show").click()  # selects the state and scrolls to the line
    expect(form(page).locator("h2").first).to_contain_text("Get credit limit")
    expect(page.locator(".CodeMirror .cm-problem-line").first).to_contain_text('"Next": "Credit applied?"')

    # The server refuses it too, whatever the page does.
    refused = page.evaluate(
        """async (definition) => {
            const answer = await fetch("/console/studio/save", {method: "POST",
              headers: {"content-type": "application/json", "x-csrf-token": Studio.page.config.csrf},
              body: JSON.stringify({name: Studio.page.config.machine, existing: true, definition})});
            return [answer.status, await answer.json()];
        }""",
        code,
    )
    assert refused[0] == 400 and refused[1]["diagnostics"][0]["state"] == "Get credit limit"

    # Broken JSON: its line is marked, the graph stays as it was, Save stays off.
    type_code(page, code.replace('"Type": "Choice",', '"Type": "Choice"'))
    expect(problems).to_contain_text("not valid JSON")
    assert marked_lines(page) == ['"Choices": [']  # where the missing comma is found
    expect(save).to_be_disabled()

    type_code(page, json.dumps(EXAMPLE, indent=2))
    expect(save).to_be_enabled()
    expect(node(page, "Get credit limit")).not_to_have_attribute("data-invalid", "true")


def marked_lines(page: Page) -> list[str]:
    """The lines of the code marked as problems (CodeMirror draws only the lines in view)."""
    return page.evaluate(  # type: ignore[no-any-return]
        """() => { const editor = Studio.page.editor; const found = [];
            for (let line = 0; line < editor.lineCount(); line += 1) {
              const marked = (editor.lineInfo(line).wrapClass || "").includes("cm-problem-line");
              if (marked) found.push(editor.getLine(line).trim());
            }
            return found; }"""
    )


def type_code(page: Page, text: str) -> None:
    """Replace the code as a person would: select all in the editor, then type (paste) the text."""
    page.locator(".CodeMirror").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)
    settled(page)


def test_undo_and_redo_with_buttons_and_keys(page: Page, server: Server) -> None:
    open_new_studio(page, server)
    add(page, "Pass")
    add(page, "Wait")
    assert list(definition_of(page)["States"]) == ["Pass", "Wait"]

    page.get_by_role("button", name="Undo").click()
    assert list(definition_of(page)["States"]) == ["Pass"]
    assert definition_of(page)["States"]["Pass"] == {"Type": "Pass", "End": True}
    page.locator("[data-studio-graph]").click(position={"x": 5, "y": 5})  # focus off any field
    page.keyboard.press("Control+z")
    assert definition_of(page)["States"] == {}
    expect(page.get_by_role("button", name="Undo")).to_be_disabled()

    page.keyboard.press("Control+Shift+z")
    assert list(definition_of(page)["States"]) == ["Pass"]
    page.get_by_role("button", name="Redo").click()
    assert list(definition_of(page)["States"]) == ["Pass", "Wait"]
    settled(page)
    expect(node(page, "Wait")).to_be_visible()
    expect(page.locator(".CodeMirror")).to_contain_text('"Wait": {')

    # Typing in one field is one step of Undo, not one per key.
    select(page, "Wait")
    seconds = form(page).get_by_label("Seconds", exact=True)
    seconds.fill("")
    seconds.press_sequentially("30")
    seconds.press("Tab")
    assert definition_of(page)["States"]["Wait"]["Seconds"] == 30
    page.get_by_role("button", name="Undo").click()
    assert definition_of(page)["States"]["Wait"]["Seconds"] == 5


def test_test_state_shows_each_stage(page: Page, server: Server, cluster: Cluster) -> None:
    machine, _ = credit_machine(cluster)
    open_editor(page, server, machine)
    select(page, "Get credit limit")
    form(page).get_by_label("Test input (JSON)").fill(json.dumps(credit_input("input-auto-approve.json")))
    form(page).get_by_role("button", name="Test state").click()
    result = form(page).locator("#test-result")
    expect(result.locator("[data-test-status]")).to_have_attribute("data-test-status", "SUCCEEDED")
    expect(result).to_contain_text("After ResultSelector")
    expect(result).to_contain_text("then “Credit applied >= 5000?”")
    after_path = result.locator("dt", has_text="After ResultPath").locator("xpath=following-sibling::dd[1]")
    assert json.loads(after_path.inner_text())["credit"] == {"limit": 3500}


def unlabelled(page: Page) -> list[str]:
    """The studio's controls that have no label (Playwright's get_by_label could not find them)."""
    return page.evaluate(  # type: ignore[no-any-return]
        """() => [...document.querySelectorAll("[data-studio] :is(input, select, textarea)")]
            .filter((c) => c.type !== "hidden" && !c.closest(".CodeMirror"))
            .filter((c) => !c.labels.length && !c.getAttribute("aria-label"))
            .map((c) => c.outerHTML)"""
    )


def test_every_control_has_a_label_and_the_graph_works_from_the_keyboard(
    page: Page, server: Server, cluster: Cluster
) -> None:
    machine, _ = credit_machine(cluster)
    open_editor(page, server, machine)
    assert unlabelled(page) == []
    for name in [
        "Get credit limit",
        "Credit applied >= 5000?",
        "Wait for human approval",
        "Credit limit approved",
        "Verify applicant's identity and address",
        "Get list of credit bureaus",
        "Get scores from all credit bureaus",
        "Get all scores",
        "Score unavailable",
    ]:
        node(page, name).focus()
        page.keyboard.press("Enter")
        expect(form(page).locator("h2").first).to_contain_text(name)
        assert unlabelled(page) == [], name

    # Alt+Up moves the focused state earlier in the code; the graph keeps the keyboard on it.
    node(page, "Credit limit approved").focus()
    page.keyboard.press("Alt+ArrowUp")
    settled(page)
    assert list(definition_of(page)["States"])[2:4] == ["Credit limit approved", "Wait for human approval"]
    assert page.evaluate("() => document.activeElement.dataset.state") == "Credit limit approved"


def test_the_palette_offers_handlers_topics_and_tables(page: Page, server: Server) -> None:
    open_new_studio(page, server)
    offered = page.evaluate("() => fetch('/console/studio/palette').then(r => r.json())")
    assert {"RandomNumberforCredit", "check-identity"} <= {f["name"] for f in offered["functions"]}
    assert "TaskTokenTopic" in {t["name"] for t in offered["topics"]}
    assert "GetCreditBureau" in offered["tables"]
    add(page, "SNS Publish")
    definition = definition_of(page)
    assert definition["States"]["SNS Publish"]["Resource"] == "arn:aws:states:::sns:publish"
    add(page, "Step Functions StartExecution")
    add(page, "HTTP Task")
    add(page, "DynamoDB GetItem")
    resources = [s["Resource"] for s in definition_of(page)["States"].values()]
    assert resources == [
        "arn:aws:states:::sns:publish",
        "arn:aws:states:::states:startExecution",
        "arn:aws:states:::http:invoke",
        "arn:aws:states:::dynamodb:getItem",
    ]


@pytest.fixture(scope="module")
def read_only_server(cluster: Cluster) -> Iterator[Server]:
    with Server(cluster, ORCHESTRATOR_CONSOLE_READ_ONLY="1") as running:
        yield running


def test_read_only_the_studio_checks_but_refuses_to_save_or_test(read_only_server: Server, cluster: Cluster) -> None:
    machine, _ = credit_machine(cluster)
    with httpx.Client(base_url=read_only_server.url) as browser:
        assert "Create state machine" not in browser.get("/console/state-machines").text
        studio = browser.get(f"/console/state-machines/{machine}/edit")
        assert studio.status_code == 200 and "The console is read-only" in studio.text
        headers = {"x-csrf-token": csrf_of(studio.text)}
        body = {"definition": json.dumps(EXAMPLE), "name": machine, "existing": True}
        checked = browser.post("/console/studio/check", json=body, headers=headers)
        assert checked.status_code == 200 and checked.json()["diagnostics"] == []
        for path in ("/console/studio/save", "/console/studio/test-state"):
            refused = browser.post(path, json={**body, "state": "Get credit limit"}, headers=headers)
            assert refused.status_code == 403, path
    described = cluster.service.describe_state_machine(cluster.service.state_machine_arn(machine))
    assert json.loads(described["definition"]) == EXAMPLE


def test_a_change_without_the_session_token_is_refused(server: Server) -> None:
    with httpx.Client(base_url=server.url) as browser:
        browser.get("/console/studio")
        body = {"definition": json.dumps(EXAMPLE), "name": "forged", "existing": False}
        assert browser.post("/console/studio/save", json=body).status_code == 403
        assert browser.post("/console/studio/check", json=body, headers={"x-csrf-token": "nope"}).status_code == 403


def test_in_a_jsonata_machine_new_states_take_arguments_and_output(page: Page, server: Server) -> None:
    open_new_studio(page, server)
    form(page).get_by_label("Query language").select_option("JSONata")
    add(page, "Lambda Invoke")
    add(page, "SNS Publish")
    form(page).get_by_label("Wait for callback (adds .waitForTaskToken and sends the task token)").check()
    settled(page)
    expect(page.locator("[data-problem-count]")).to_have_text("0")
    states = definition_of(page)["States"]
    assert states["Lambda Invoke"]["Arguments"]["Payload"] == "{% $states.input %}"
    assert states["Lambda Invoke"]["Output"] == "{% $states.result.Payload %}"
    assert states["SNS Publish"]["Resource"] == "arn:aws:states:::sns:publish.waitForTaskToken"
    message = states["SNS Publish"]["Arguments"]["Message"]
    assert message == {"Input": "{% $states.input %}", "TaskToken": "{% $states.context.Task.Token %}"}
