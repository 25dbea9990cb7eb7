"""The HTTP/1.1 protocol ``orchestrator serve`` runs: uvicorn's, answering what it refuses in AWS's shape.

uvicorn answers a request it cannot parse (a broken request line, a bad header, a bad chunk size)
itself, before any ASGI application sees it, with a plain-text "Invalid HTTP request received.".
An AWS SDK parses every error body as ``{"__type", "message"}``, so these protocols answer the same
400 as AWS's front end does, ``MalformedHttpRequestException`` (one of AWS's common errors:
"problems with the request at the HTTP level"), and close the connection as uvicorn does.

uvicorn takes a protocol class, or its import path, as its ``http`` setting; the path survives the
trip to the server processes of ``--workers N``.
"""

from __future__ import annotations

import json
import uuid

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from orchestrator.api.wire import CONTENT_TYPE

MALFORMED = "MalformedHttpRequestException"
MALFORMED_MESSAGE = (
    "The request is not well-formed HTTP/1.1 (its request line, a header or the framing of its body); "
    "the connection is closed"
)

# The request line and headers together (a signed request's take about 1 kB). h11 has a bound of
# its own: it holds at most 16 kB of a head not yet finished.
MAX_HEAD_BYTES = 65_536
HEAD_TOO_LARGE_MESSAGE = f"The request line and headers exceed {MAX_HEAD_BYTES:,} bytes; the connection is closed"


def malformed_body(message: str = MALFORMED_MESSAGE) -> bytes:
    return json.dumps({"__type": MALFORMED, "message": message}, separators=(",", ":")).encode()


def _headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"x-amzn-requestid", str(uuid.uuid4()).encode()),
        (b"connection", b"close"),
    ]


class AwsH11Protocol(H11Protocol):
    """uvicorn's h11 protocol (the pure-Python one), with its 400 in AWS's shape."""

    def send_400_response(self, msg: str) -> None:
        body = malformed_body()
        for event in (h11.Response(status_code=400, headers=_headers(body)), h11.Data(data=body), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self.transport.close()


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is optional in uvicorn; without it uvicorn itself runs h11
    HTTP_PROTOCOL = f"{__name__}:AwsH11Protocol"
else:

    class AwsHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol (the one it picks when httptools is installed), its 400 in AWS's
        shape, and a bound on a request's head: httptools sets none, so a client sending header lines
        without end grew the server by every byte (1.6 GB of headers took 1.7 GB).

        The bytes are counted as they arrive, not in the parser's callbacks: httptools gathers a
        header's value whole before it calls ``on_header``, so a value that never ends reached none.
        """

        in_head = True  # between a request's first byte and the end of its headers
        head_bytes = 0

        def data_received(self, data: bytes) -> None:
            if self.in_head:
                self.head_bytes += len(data)
            super().data_received(data)
            if self.in_head and self.head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
                self.send_400_response("request head too large")

        def on_headers_complete(self) -> None:
            self.in_head = False
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self.in_head, self.head_bytes = True, 0

        def send_400_response(self, msg: str) -> None:
            message = HEAD_TOO_LARGE_MESSAGE if self.head_bytes > MAX_HEAD_BYTES else MALFORMED_MESSAGE
            body = malformed_body(message)
            head = b"".join(name + b": " + value + b"\r\n" for name, value in _headers(body))
            self.transport.write(b"HTTP/1.1 400 Bad Request\r\n" + head + b"\r\n" + body)
            self.transport.close()

    HTTP_PROTOCOL = f"{__name__}:AwsHttpToolsProtocol"
