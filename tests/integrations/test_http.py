"""The HTTP Task (arn:aws:states:::http:invoke) against real HTTP servers on localhost, through run_local."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from orchestrator import run_local
from orchestrator.integrations import http as http_task

# -- a real server that records what it receives and answers as told ----------------------------------


@dataclass
class Received:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    wait_for: threading.Event | None = None


Responder = Callable[[Received, int], Answer]


class Recorder:
    """A ThreadingHTTPServer on 127.0.0.1 that records every request; ``respond(request, n)`` decides the
    answer to the n-th request (from 1) of its path."""

    def __init__(self, respond: Responder | None = None) -> None:
        self.requests: list[Received] = []
        self.respond: Responder = respond or (lambda request, n: Answer(200, {"ok": True}))
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Received(
                    self.command,
                    parts.path,
                    parse_qsl(parts.query, keep_blank_values=True),
                    {k: v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                with recorder._lock:
                    recorder.requests.append(request)
                    n = recorder._counts[parts.path] = recorder._counts.get(parts.path, 0) + 1
                answer = recorder.respond(request, n)
                if answer.wait_for is not None:
                    answer.wait_for.wait(30)
                if answer.delay:
                    time.sleep(answer.delay)
                body = answer.body
                headers = dict(answer.headers)
                if not isinstance(body, bytes | str):
                    body = json.dumps(body)
                    headers.setdefault("Content-Type", "application/json")
                data = body.encode() if isinstance(body, str) else body
                try:
                    self.send_response(answer.status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Recorder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def on(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path]


@pytest.fixture()
def server() -> Iterator[Recorder]:
    with Recorder() as running:
        yield running


@pytest.fixture()
def connections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Any]], None]:
    """Write the connections file and point ORCHESTRATOR_CONNECTIONS_FILE at it."""
    path = tmp_path / "connections.json"
    monkeypatch.setenv("ORCHESTRATOR_CONNECTIONS_FILE", str(path))
    http_task.TOKENS.clear()

    def write(entries: dict[str, Any]) -> None:
        path.write_text(json.dumps(entries))

    write({"Public": {"type": "none"}})
    return write


CONNECTION = "arn:aws:events:us-east-1:123456789012:connection/Public/0b6d4c1e-4a1b-4e61-b7a4-1b2a3c4d5e6f"


def http_task_machine(parameters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    state = {"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "Parameters": parameters, "End": True}
    state.update(extra)
    return {"StartAt": "Call", "States": {"Call": state}}


def call(url: str, **parameters: Any) -> dict[str, Any]:
    return {"ApiEndpoint": url, "Method": "GET", "Authentication": {"ConnectionArn": CONNECTION}, **parameters}


# -- requests --------------------------------------------------------------------------------------------


def test_a_get_sends_query_parameters_and_headers_and_returns_aws_result_shape(server: Recorder, connections) -> None:
    server.respond = lambda request, n: Answer(200, {"customers": [1, 2]}, {"X-Request-Id": "abc"})
    result = run_local(
        http_task_machine(
            call(
                f"{server.url}/v1/customers?limit=2",
                Headers={"Accept": "application/json", "X-Tenant": 7},
                QueryParameters={"expand": ["a", "b"], "active": True},
            )
        )
    )
    assert result.status == "SUCCEEDED", result.cause
    output = result.output
    assert output["StatusCode"] == 200
    assert output["StatusText"] == "OK"
    assert output["ResponseBody"] == {"customers": [1, 2]}
    assert output["Headers"]["X-Request-Id"] == ["abc"]
    assert output["Headers"]["Content-Type"] == ["application/json"]
    (received,) = server.requests
    assert received.method == "GET"
    assert received.path == "/v1/customers"
    assert received.query == [("limit", "2"), ("expand", "a"), ("expand", "b"), ("active", "true")]
    assert received.headers["Accept"] == "application/json"
    assert received.headers["X-Tenant"] == "7"
    assert received.headers["User-Agent"] == "Amazon|StepFunctions|HttpInvoke|us-east-1"
    assert received.headers["Range"] == "bytes=0-262144"
    assert received.body == b""


def test_an_object_request_body_is_sent_as_json(server: Recorder, connections) -> None:
    result = run_local(
        http_task_machine(call(f"{server.url}/orders", Method="POST", RequestBody={"item": "book", "qty": 2}))
    )
    assert result.status == "SUCCEEDED", result.cause
    (received,) = server.requests
    assert received.method == "POST"
    assert received.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert received.body == b'{"item":"book","qty":2}'


def test_a_string_body_is_sent_as_is_and_a_text_answer_is_returned_as_text(server: Recorder, connections) -> None:
    server.respond = lambda request, n: Answer(201, "created", {"Content-Type": "text/plain"})
    result = run_local(
        http_task_machine(
            call(f"{server.url}/notes", Method="PUT", RequestBody="plain words", Headers={"Content-Type": "text/plain"})
        )
    )
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["StatusCode"] == 201
    assert result.output["StatusText"] == "Created"
    assert result.output["ResponseBody"] == "created"
    assert server.requests[0].body == b"plain words"
    assert server.requests[0].headers["Content-Type"] == "text/plain"


@pytest.mark.parametrize(
    ("array_format", "expected"),
    [
        ("INDICES", [("name", "Ann"), ("tags[0]", "a"), ("tags[1]", "b"), ("address[city]", "Oslo")]),
        ("REPEAT", [("name", "Ann"), ("tags", "a"), ("tags", "b"), ("address[city]", "Oslo")]),
        ("COMMAS", [("name", "Ann"), ("tags", "a,b"), ("address[city]", "Oslo")]),
        ("BRACKETS", [("name", "Ann"), ("tags[]", "a"), ("tags[]", "b"), ("address[city]", "Oslo")]),
    ],
)
def test_url_encoded_bodies_follow_the_array_format(
    server: Recorder, connections, array_format: str, expected: list[tuple[str, str]]
) -> None:
    parameters = call(
        f"{server.url}/form",
        Method="POST",
        RequestBody={"name": "Ann", "tags": ["a", "b"], "address": {"city": "Oslo"}},
        Transform={"RequestBodyEncoding": "URL_ENCODED", "RequestEncodingOptions": {"ArrayFormat": array_format}},
    )
    result = run_local(http_task_machine(parameters))
    assert result.status == "SUCCEEDED", result.cause
    (received,) = server.requests
    assert received.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qsl(received.body.decode()) == expected


def test_cookies_one_call_is_given_are_not_sent_by_the_next(server: Recorder, connections) -> None:
    server.respond = lambda request, n: Answer(200, "ok", {"Set-Cookie": "session=abc; Path=/"})
    for _ in range(2):
        assert run_local(http_task_machine(call(f"{server.url}/login"))).status == "SUCCEEDED"
    assert [r.headers.get("Cookie") for r in server.requests] == [None, None]


def test_url_encoding_defaults_to_indices(server: Recorder, connections) -> None:
    parameters = call(
        f"{server.url}/form",
        Method="POST",
        RequestBody={"ids": [5, 6]},
        Transform={"RequestBodyEncoding": "URL_ENCODED"},
    )
    assert run_local(http_task_machine(parameters)).status == "SUCCEEDED"
    assert parse_qsl(server.requests[0].body.decode()) == [("ids[0]", "5"), ("ids[1]", "6")]


# -- failures -------------------------------------------------------------------------------------------


def test_a_status_outside_2xx_fails_with_the_status_code_error(server: Recorder, connections) -> None:
    server.respond = lambda request, n: Answer(404, {"message": "no such customer"})
    result = run_local(http_task_machine(call(f"{server.url}/v1/customers/9")))
    assert result.status == "FAILED"
    assert result.error == "States.Http.StatusCode.404"
    cause = json.loads(result.cause)
    assert cause["StatusCode"] == 404
    assert cause["StatusText"] == "Not Found"
    assert cause["ResponseBody"] == {"message": "no such customer"}


def test_a_status_error_is_retried_and_caught_by_its_name(server: Recorder, connections) -> None:
    server.respond = lambda request, n: Answer(503 if n < 3 else 500, "busy")
    machine = http_task_machine(
        call(f"{server.url}/flaky"),
        Retry=[{"ErrorEquals": ["States.Http.StatusCode.503"], "IntervalSeconds": 1, "MaxAttempts": 5}],
        Catch=[{"ErrorEquals": ["States.Http.StatusCode.500"], "Next": "Caught"}],
        End=None,
    )
    del machine["States"]["Call"]["End"]
    machine["States"]["Call"]["Next"] = "Done"
    machine["States"]["Done"] = {"Type": "Succeed"}
    machine["States"]["Caught"] = {"Type": "Pass", "Result": "caught", "End": True}
    result = run_local(machine)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == "caught"
    assert len(server.requests) == 3  # two 503s retried, then a 500 caught


def test_a_request_that_times_out_fails_with_states_http_socket(
    server: Recorder, connections, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    server.respond = lambda request, n: Answer(200, "late", wait_for=release)
    monkeypatch.setenv("ORCHESTRATOR_HTTP_TIMEOUT", "0.3")
    started = time.monotonic()
    try:
        result = run_local(http_task_machine(call(f"{server.url}/slow")))
    finally:
        release.set()
    assert result.status == "FAILED"
    assert result.error == "States.Http.Socket"
    assert "timed out after 0.3 seconds" in result.cause
    assert time.monotonic() - started < 5


def test_the_timeout_defaults_to_60_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORCHESTRATOR_HTTP_TIMEOUT", raising=False)
    assert http_task.timeout_seconds() == 60.0


def test_a_refused_connection_fails_with_states_http_socket(connections) -> None:
    with Recorder() as closed:
        url = closed.url
    result = run_local(http_task_machine(call(f"{url}/nobody")))
    assert result.error == "States.Http.Socket"
    assert url in result.cause


def test_a_header_aws_forbids_fails_the_task_before_any_request(server: Recorder, connections) -> None:
    result = run_local(http_task_machine(call(f"{server.url}/x", Headers={"Host": "evil.example.com"})))
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert "'Host' is not allowed" in result.cause
    assert server.requests == []


def test_a_bad_method_fails_the_task(server: Recorder, connections) -> None:
    result = run_local(http_task_machine(call(f"{server.url}/x", Method="FETCH")))
    assert result.error == "States.Runtime"
    assert "Method must be one of" in result.cause


# -- connections ----------------------------------------------------------------------------------------


def test_a_basic_connection_sends_basic_credentials(server: Recorder, connections) -> None:
    connections({"Intranet": {"type": "basic", "username": "svc", "password": "s3cret"}})
    arn = "arn:aws:events:us-east-1:123456789012:connection/Intranet/1234"
    result = run_local(http_task_machine(call(f"{server.url}/x", Authentication={"ConnectionArn": arn})))
    assert result.status == "SUCCEEDED", result.cause
    expected = "Basic " + base64.b64encode(b"svc:s3cret").decode()
    assert server.requests[0].headers["Authorization"] == expected


def test_an_api_key_connection_found_by_its_full_arn_sends_its_header(server: Recorder, connections) -> None:
    arn = "arn:aws:events:us-east-1:123456789012:connection/Stripe/5678"
    connections({arn: {"type": "api_key", "name": "X-Api-Key", "value": "k-123"}})
    result = run_local(http_task_machine(call(f"{server.url}/x", Authentication={"ConnectionArn": arn})))
    assert result.status == "SUCCEEDED", result.cause
    assert server.requests[0].headers["X-Api-Key"] == "k-123"


def test_a_connection_adds_its_invocation_parameters(server: Recorder, connections) -> None:
    connections(
        {
            "Partner": {
                "type": "none",
                "headers": {"X-Partner": "p1"},
                "query": {"tenant": "t9"},
                "body": {"source": "orchestrator"},
            }
        }
    )
    parameters = call(
        f"{server.url}/x",
        Method="POST",
        RequestBody={"item": 1, "source": "task"},
        Authentication={"ConnectionArn": "Partner"},
    )
    assert run_local(http_task_machine(parameters)).status == "SUCCEEDED"
    (received,) = server.requests
    assert received.headers["X-Partner"] == "p1"
    assert received.query == [("tenant", "t9")]
    assert received.json() == {"item": 1, "source": "orchestrator"}


def _oauth_server(expires_in: int) -> Recorder:
    def respond(request: Received, n: int) -> Answer:
        if request.path == "/token":
            form = dict(parse_qsl(request.body.decode()))
            assert form == {"grant_type": "client_credentials", "scope": "read"}
            assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"cid:csecret").decode()
            return Answer(200, {"access_token": f"token-{n}", "token_type": "bearer", "expires_in": expires_in})
        return Answer(200, {"auth": request.headers.get("Authorization")})

    return Recorder(respond)


def _oauth_connection(url: str) -> dict[str, Any]:
    return {
        "Partner": {
            "type": "oauth_client_credentials",
            "token_url": f"{url}/token",
            "client_id": "cid",
            "client_secret": "csecret",
            "scope": "read",
        }
    }


def test_an_oauth_connection_fetches_a_token_once_and_reuses_it_until_it_expires(connections) -> None:
    with _oauth_server(expires_in=3600) as oauth:
        connections(_oauth_connection(oauth.url))
        parameters = call(f"{oauth.url}/api", Authentication={"ConnectionArn": "Partner"})
        first = run_local(http_task_machine(parameters))
        second = run_local(http_task_machine(parameters))
        assert first.output["ResponseBody"] == {"auth": "Bearer token-1"}
        assert second.output["ResponseBody"] == {"auth": "Bearer token-1"}
        assert len(oauth.on("/token")) == 1


def test_an_expired_oauth_token_is_fetched_again(connections) -> None:
    # A token living 30 s is within the refresh margin: it is never reused.
    with _oauth_server(expires_in=30) as oauth:
        connections(_oauth_connection(oauth.url))
        parameters = call(f"{oauth.url}/api", Authentication={"ConnectionArn": "Partner"})
        run_local(http_task_machine(parameters))
        second = run_local(http_task_machine(parameters))
        assert second.output["ResponseBody"] == {"auth": "Bearer token-2"}
        assert len(oauth.on("/token")) == 2


def test_a_failing_token_endpoint_fails_the_task_with_the_connection_error(connections) -> None:
    with Recorder(lambda request, n: Answer(401, {"error": "invalid_client"})) as oauth:
        connections(_oauth_connection(oauth.url))
        result = run_local(http_task_machine(call(f"{oauth.url}/api", Authentication={"ConnectionArn": "Partner"})))
        assert result.error == "Events.ConnectionResource.InvalidConnectionState"
        assert "401" in result.cause
        assert oauth.on("/api") == []


def test_an_unknown_connection_fails_the_task_naming_it(server: Recorder, connections) -> None:
    result = run_local(http_task_machine(call(f"{server.url}/x", Authentication={"ConnectionArn": "Nobody"})))
    assert result.error == "Events.ConnectionResource.InvalidConnectionState"
    assert "'Nobody' is not in the connections file" in result.cause
    assert server.requests == []


def test_without_a_connections_file_the_error_says_how_to_configure_one(
    server: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORCHESTRATOR_CONNECTIONS_FILE", raising=False)
    result = run_local(http_task_machine(call(f"{server.url}/x")))
    assert result.error == "Events.ConnectionResource.InvalidConnectionState"
    assert "ORCHESTRATOR_CONNECTIONS_FILE" in result.cause
