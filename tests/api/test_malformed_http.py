"""Requests that are not HTTP/1.1, sent on raw sockets to ``orchestrator serve`` (issue 13, item 11).

uvicorn refuses them before any application sees them; ``orchestrator/api/protocol.py`` makes that
refusal AWS's ``MalformedHttpRequestException`` in JSON, as every other error of the API is, and
bounds a request's line and headers (httptools sets no bound of its own).
"""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.routing import Route

from orchestrator.api.protocol import MAX_HEAD_BYTES
from tests.api.conftest import InProcessServer, Server
from tests.runtime.conftest import Cluster

JSON_TYPE = "application/x-amz-json-1.0"
HEAD = b"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: AWSStepFunctions.ListActivities\r\n"

MALFORMED = {
    "a request line that is not HTTP": b"GARBAGE\r\n\r\n",
    "a method with a space in it": b"GE T / HTTP/1.1\r\nHost: x\r\n\r\n",
    "an unknown HTTP version": b"POST / HTTP/7.3\r\nHost: x\r\n\r\n",
    "HTTP/2's preface on HTTP/1.1": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "a header line without a colon": HEAD + b"Bad Header\r\n\r\n",
    "a header name with a space": HEAD + b"Bad Name: x\r\n\r\n",
    "a NUL in a header value": HEAD + b"X-Thing: a\x00b\r\n\r\n",
    "a Content-Length that is not a number": HEAD + b"Content-Length: abc\r\n\r\n{}",
    "two different Content-Lengths": HEAD + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "a chunk size that is not hexadecimal": HEAD + b"Transfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n",
    "a chunk without its CRLF": HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n",
    "chunked and a Content-Length (request smuggling)": HEAD
    + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
}


def exchange(url: str, data: bytes) -> bytes:
    """Send ``data`` (a request of a few hundred bytes) on a new connection and read until the server closes it."""
    host, port = url.removeprefix("http://").split(":")
    received = b""
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(data)
        while chunk := connection.recv(65_536):
            received += chunk
    return received


def parse(raw: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_request_is_answered_in_aws_shape(server: Server, data: bytes) -> None:
    status, headers, error = parse(exchange(server.url, data))
    assert status == 400
    assert headers["content-type"] == JSON_TYPE
    assert headers["connection"] == "close"
    assert headers["x-amzn-requestid"]
    assert int(headers["content-length"]) == len(json.dumps(error, separators=(",", ":")))
    assert error["__type"] == "MalformedHttpRequestException"
    assert "not well-formed HTTP/1.1" in error["message"]


@pytest.mark.parametrize(
    "head",
    [
        HEAD + b"X-Filler: " + b"a" * 200_000,
        HEAD + b"".join(b"X-Filler-%d: %s\r\n" % (n, b"a" * 1000) for n in range(200)),
        b"POST /" + b"a" * 200_000,
    ],
    ids=["one long header", "many headers", "a long path"],
)
def test_a_request_head_over_the_bound_is_refused(server: Server, head: bytes) -> None:
    # Given a client sending a request head of 200 kB, which never ends
    answer, sent = flood(server.url, head)
    # Then it is cut off once past the bound, not buffered whole
    assert MAX_HEAD_BYTES < sent <= MAX_HEAD_BYTES + CHUNK
    status, headers, error = parse(answer)
    assert (status, headers["content-type"]) == (400, JSON_TYPE)
    assert error == {
        "__type": "MalformedHttpRequestException",
        "message": f"The request line and headers exceed {MAX_HEAD_BYTES:,} bytes; the connection is closed",
    }


CHUNK = 8_192
H11_BOUND = 16 * 1024  # h11's DEFAULT_MAX_INCOMPLETE_EVENT_SIZE, which uvicorn keeps


def flood(url: str, data: bytes, bound: int = MAX_HEAD_BYTES) -> tuple[bytes, int]:
    """Send ``data`` in chunks until the server answers; its answer and how much was sent.

    Past the bound each chunk waits for the answer, so the server has read all that was sent when it
    closes (a close with unread bytes is a reset, which would discard the answer before it is read).
    """
    host, port = url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        for start in range(0, len(data), CHUNK):
            connection.sendall(data[start : start + CHUNK])
            sent += len(data[start : start + CHUNK])
            if sent > bound:
                select.select([connection], [], [], 30)
                break
            if select.select([connection], [], [], 0)[0]:
                break  # answered before the bound: the test reads it and fails
        received = b""
        while chunk := connection.recv(65_536):
            received += chunk
    return received, sent


def test_headers_under_the_bound_and_chunked_bodies_still_work(server: Server) -> None:
    # Given a well-formed request with 40 kB of headers and its body sent in chunks
    filler = b"".join(b"X-Filler-%d: %s\r\n" % (n, b"a" * 1000) for n in range(40))
    data = HEAD + filler + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n1\r\n{\r\n1\r\n}\r\n0\r\n\r\n"
    # Then the action answers
    status, headers, body = parse(exchange(server.url, data))
    assert (status, headers["content-type"]) == (200, JSON_TYPE)
    assert isinstance(body["activities"], list)
    # And the server goes on serving after all the refusals above
    assert httpx.get(f"{server.url}/health").status_code == 200


def test_an_upgrade_request_is_served_as_plain_http(server: Server) -> None:
    # No WebSocket is spoken here: the upgrade header is ignored and the request reaches the API
    data = b"GET /nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\n\r\n"
    status, headers, error = parse(exchange(server.url, data))
    assert (status, headers["content-type"], error["__type"]) == (404, JSON_TYPE, "UnknownOperationException")


def test_an_exception_no_route_handles_is_an_internal_failure_without_a_traceback(cluster: Cluster) -> None:
    # Given the API app with one more route, which fails as a bug would
    async def explode(request: Request) -> None:
        raise RuntimeError("a bug, with a secret in its message")

    served = InProcessServer(cluster.service)
    served.server.config.app.router.routes.insert(0, Route("/explode", explode, methods=["POST"]))
    with served:
        response = httpx.post(f"{served.url}/explode", content=b"{}")
    # Then the answer is AWS's InternalFailure, and says nothing of the exception
    assert (response.status_code, response.headers["content-type"]) == (500, JSON_TYPE)
    assert response.json() == {
        "__type": "InternalFailure",
        "message": "The request processing has failed because of an unknown error",
    }


@pytest.fixture(scope="module")
def h11_server(cluster: Cluster) -> Iterator[str]:
    """The API on uvicorn's pure-Python h11 protocol, which orchestrator serve runs without httptools."""
    served = InProcessServer(cluster.service)
    served.server.config.http = "orchestrator.api.protocol:AwsH11Protocol"
    with served:
        yield served.url


@pytest.mark.parametrize(
    "data", [MALFORMED["a request line that is not HTTP"], MALFORMED["a chunk size that is not hexadecimal"]]
)
def test_without_httptools_h11_refuses_in_aws_shape_too(h11_server: str, data: bytes) -> None:
    status, headers, error = parse(exchange(h11_server, data))
    assert (status, headers["content-type"], headers["connection"]) == (400, JSON_TYPE, "close")
    assert error["__type"] == "MalformedHttpRequestException"


def test_without_httptools_a_head_that_never_ends_is_cut_off_at_h11s_bound(h11_server: str) -> None:
    # h11 bounds the head it holds unfinished (16 kB), not a whole one: that is the bound that matters
    answer, sent = flood(h11_server, HEAD + b"X-Filler: " + b"a" * 200_000, bound=H11_BOUND)
    assert sent <= H11_BOUND + CHUNK
    status, headers, error = parse(answer)
    assert (status, headers["content-type"], error["__type"]) == (400, JSON_TYPE, "MalformedHttpRequestException")
