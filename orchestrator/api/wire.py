"""How values and errors look on the wire (AWS JSON 1.0).

Timestamps are epoch seconds; errors are ``{"__type": "<Code>", "message": "..."}`` with AWS's HTTP
status; every response carries ``x-amzn-RequestId``.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from contextvars import ContextVar
from typing import Any

from starlette.responses import Response

CONTENT_TYPE = "application/x-amz-json-1.0"
# The id of the request being answered (set by the API's dispatch, which also logs with it).
REQUEST_ID: ContextVar[str | None] = ContextVar("orchestrator_request_id", default=None)

# Errors that are not HTTP 400.
STATUS = {
    "UnrecognizedClientException": 403,
    "InvalidSignatureException": 403,
    "MissingAuthenticationTokenException": 403,
    "AccessDeniedException": 403,
    "IncompleteSignatureException": 403,
    "RequestEntityTooLargeException": 413,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
}


def to_wire(value: Any) -> Any:
    """Datetimes become epoch seconds; everything else is already JSON."""
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    return value


def respond(body: dict[str, Any], status: int = 200) -> Response:
    return Response(
        json.dumps(to_wire(body), separators=(",", ":")),
        status_code=status,
        media_type=CONTENT_TYPE,
        headers={"x-amzn-RequestId": REQUEST_ID.get() or str(uuid.uuid4())},
    )


def error(code: str, message: str, **extra: Any) -> Response:
    return respond({"__type": code, "message": message, **extra}, STATUS.get(code, 400))
