"""One id per HTTP request: in its answer's ``x-amzn-RequestId`` header, as AWS sends it, and in every
log line written while it is answered (uvicorn's access line included, written as the answer starts)."""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator import logs
from orchestrator.api import wire

HEADER = b"x-amzn-requestid"


class RequestIds:
    """ASGI middleware: give each request an id, and its answer the header if it has none yet."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == HEADER for name, _ in headers):
                    headers.append((HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        token = wire.REQUEST_ID.set(request_id)
        try:
            with logs.bound(requestId=request_id):
                await self.app(scope, receive, send_with_id)
        finally:
            wire.REQUEST_ID.reset(token)
