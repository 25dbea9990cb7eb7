"""Who may use the console and what a forged request gets: sign-in with access keys, the session
cookie's attributes, CSRF on every change, read-only mode, loopback only without keys, and pages
that answer bad parameters with a clear page instead of a failure."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.api.conftest import Server
from tests.console.conftest import credit_input, credit_machine, ended, start, waiting_for_token
from tests.runtime.conftest import Cluster

KEY, SECRET = "console-key", "console-secret-1234"


@pytest.fixture(scope="module")
def signed_server(cluster: Cluster) -> Iterator[Server]:
    with Server(cluster, ORCHESTRATOR_API_KEYS=f"{KEY}={SECRET}") as running:
        yield running


@pytest.fixture(scope="module")
def read_only_server(cluster: Cluster) -> Iterator[Server]:
    with Server(cluster, ORCHESTRATOR_CONSOLE_READ_ONLY="1") as running:
        yield running


def csrf_of(html: str) -> str:
    """The session's CSRF token as the page carries it (for htmx's requests, on <body>)."""
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@contextmanager
def signed_in(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, follow_redirects=False) as browser:
        answer = browser.post("/console/sign-in?next=/console/state-machines", data={"key_id": KEY, "secret": SECRET})
        assert answer.status_code == 303, answer.text
        yield browser


def test_with_keys_every_page_asks_for_a_sign_in(signed_server: Server) -> None:
    for path in ("/console/state-machines", "/console/executions", "/console/approvals"):
        answer = httpx.get(f"{signed_server.url}{path}")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/console/sign-in?next=")
    assert httpx.get(f"{signed_server.url}/console/live/executions").status_code == 303
    posted = httpx.post(f"{signed_server.url}/console/approvals/abc/approve", data={"output": "{}"})
    assert posted.status_code == 403


def test_a_wrong_secret_is_refused_and_the_right_one_opens_a_strict_session(signed_server: Server) -> None:
    wrong = httpx.post(f"{signed_server.url}/console/sign-in", data={"key_id": KEY, "secret": "guess"})
    assert wrong.status_code == 401
    assert "do not match" in wrong.text
    assert "set-cookie" not in wrong.headers
    right = httpx.post(f"{signed_server.url}/console/sign-in", data={"key_id": KEY, "secret": SECRET})
    cookie = right.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    assert "secure" not in cookie  # plain HTTP here; behind TLS (X-Forwarded-Proto: https) it is Secure
    behind_tls = httpx.post(
        f"{signed_server.url}/console/sign-in",
        data={"key_id": KEY, "secret": SECRET},
        headers={"x-forwarded-proto": "https"},
    )
    assert "secure" in behind_tls.headers["set-cookie"].lower()


def test_a_forged_cookie_is_not_a_session(signed_server: Server) -> None:
    forged = {"orchestrator_console": "eyJrZXkiOiJ4In0.forged"}
    with httpx.Client(base_url=signed_server.url, cookies=forged) as browser:
        assert browser.get("/console/state-machines").status_code == 303


def test_changes_need_the_session_csrf_token(signed_server: Server, cluster: Cluster) -> None:
    machine, arn = credit_machine(cluster)
    with signed_in(signed_server) as browser:
        page = browser.get(f"/console/state-machines/{machine}")
        assert page.status_code == 200
        token = csrf_of(page.text)
        before = cluster.service.list_executions(arn)["executions"]
        start_url = f"/console/state-machines/{machine}/start"
        assert browser.post(start_url, data={"input": "{}"}).status_code == 403
        assert browser.post(start_url, data={"input": "{}", "csrf_token": "not-the-token"}).status_code == 403
        assert cluster.service.list_executions(arn)["executions"] == before
        started = browser.post(start_url, data={"input": '{"creditRequested": 3500}', "csrf_token": token})
        assert started.status_code == 303
        assert len(cluster.service.list_executions(arn)["executions"]) == len(before) + 1
        # The header that htmx sends works as well as the form field.
        started = browser.post(start_url, data={"input": "{}"}, headers={"X-CSRF-Token": token})
        assert started.status_code == 303


def test_sign_in_in_the_browser(page: Page, signed_server: Server) -> None:
    page.goto(f"{signed_server.url}/console/executions")
    page.wait_for_url(re.compile(r".*/console/sign-in.*"))
    page.get_by_label("Access key id").fill(KEY)
    page.get_by_label("Secret access key").fill(SECRET)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/console/executions$"))
    expect(page.locator("header.top")).to_contain_text(KEY)
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{signed_server.url}/console/executions")
    page.wait_for_url(re.compile(r".*/console/sign-in.*"))


def test_read_only_hides_and_refuses_every_change(read_only_server: Server, cluster: Cluster) -> None:
    machine, arn = credit_machine(cluster)
    name, execution = start(cluster, arn, credit_input("input-needs-approval.json"))
    waiting_for_token(cluster, execution)
    with httpx.Client(base_url=read_only_server.url) as browser:
        machine_page = browser.get(f"/console/state-machines/{machine}")
        assert "read-only" in machine_page.text and 'action="/console/state-machines' not in machine_page.text
        execution_page = browser.get(f"/console/executions/{machine}/{name}").text
        assert "/stop" not in execution_page and "/redrive" not in execution_page
        inbox = browser.get("/console/approvals").text
        assert name in inbox and "/approve" not in inbox and "/reject" not in inbox
        token = csrf_of(browser.get(f"/console/state-machines/{machine}").text)  # a valid token: refused all the same
        for path, form in (
            (f"/console/state-machines/{machine}/start", {"input": "{}"}),
            (f"/console/executions/{machine}/{name}/stop", {}),
            (f"/console/executions/{machine}/{name}/redrive", {}),
            ("/console/approvals/any/approve", {"output": "{}"}),
            ("/console/approvals/any/reject", {"error": "No"}),
        ):
            answer = browser.post(path, data={**form, "csrf_token": token}, headers={"X-CSRF-Token": token})
            assert answer.status_code == 403, path
            assert "read-only" in answer.text
    assert cluster.service.describe_execution(execution)["status"] == "RUNNING"
    assert len(cluster.service.list_executions(arn)["executions"]) == 1
    token = next(t for t in cluster.service.pending_tokens() if t["executionArn"] == execution)["token"]
    cluster.service.send_task_success(token, "{}")
    ended(cluster, execution)


def test_without_keys_only_this_machine_is_answered(cluster: Cluster) -> None:
    address = _own_address()
    with Server(cluster, "--host", "0.0.0.0") as open_server:
        assert httpx.get(f"{open_server.url}/console/state-machines").status_code == 200
        from_outside = httpx.get(f"http://{address}:{open_server.port}/console/state-machines")
        assert from_outside.status_code == 403
        assert "only this machine" in from_outside.text


def _own_address() -> str:
    """This machine's address on its network (not loopback): a request to it comes from it."""
    found = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=True).stdout.split()
    addresses = [a for a in found if ":" not in a and not a.startswith("127.")]
    assert addresses, "this test needs a network address besides loopback (hostname -I)"
    return addresses[0]


@pytest.mark.parametrize(
    "path",
    [
        "/console/executions?after=yesterday",
        "/console/executions?input=%3D%3D%3D",
        "/console/executions?page=%%%",
        "/console/executions?machine=no-such-machine",
        "/console/state-machines/no-such-machine",
        "/console/executions/no-such-machine/no-such-execution",
        "/console/executions/x/y?events_page=abc&step=zz&fragment=step",
    ],
)
def test_bad_parameters_get_a_clear_page_not_a_failure(server: Server, path: str) -> None:
    answer = httpx.get(f"{server.url}{path}")
    assert answer.status_code in (400, 404), answer.text
    assert "Traceback" not in answer.text
