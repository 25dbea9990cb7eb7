"""Live pages: Server-Sent Events that say "changed" when what a page shows has moved.

The browser then fetches the changed part of the page (htmx, ``hx-trigger="sse:changed"``). The
stream looks at the database twice a second (one indexed query, outside any long transaction),
so a change reaches the page within about a second; it works the same with the embedded worker
and with separate worker processes, since both write the same tables. An ended execution's
stream answers 204, which tells the browser's EventSource not to reconnect.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from orchestrator.service import Service, ServiceError

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
STREAM_SECONDS = 600.0  # the browser reconnects by itself; a bounded stream frees its slot now and then
ENDED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class Streams:
    def __init__(self, service: Service) -> None:
        self.service = service

    async def execution(self, request: Request) -> Response:
        arn = self.service.execution_arn(request.path_params["machine"], request.path_params["name"])
        seen = _int(request.headers.get("last-event-id") or request.query_params.get("after"))
        try:
            last, status = await run_in_threadpool(self.service.execution_marker, arn)
        except ServiceError:
            return Response(status_code=204)
        if status in ENDED and last <= seen:
            return Response(status_code=204)

        async def marker() -> Any:
            return await run_in_threadpool(self.service.execution_marker, arn)

        return _stream(request, marker, initial=(seen, None), ends=lambda m: m[1] in ENDED, event_id=lambda m: m[0])

    async def executions(self, request: Request) -> Response:
        return await self._list(request, self.service.executions_marker)

    async def approvals(self, request: Request) -> Response:
        return await self._list(request, self.service.tasks_marker)

    async def _list(self, request: Request, read: Callable[[], Any]) -> Response:
        first = await run_in_threadpool(read)

        async def marker() -> Any:
            return await run_in_threadpool(read)

        return _stream(request, marker, initial=first, ends=lambda _: False, event_id=lambda _: None)


def _stream(
    request: Request,
    marker: Callable[[], Any],
    *,
    initial: Any,
    ends: Callable[[Any], bool],
    event_id: Callable[[Any], Any],
) -> StreamingResponse:
    async def events() -> AsyncIterator[str]:
        previous = initial
        quiet = 0.0
        elapsed = 0.0
        yield "retry: 1000\n\n"
        while elapsed < STREAM_SECONDS and not await request.is_disconnected():
            current = await marker()
            if _moved(previous, current):
                identity = event_id(current)
                yield (f"id: {identity}\n" if identity is not None else "") + "event: changed\ndata: changed\n\n"
                previous, quiet = current, 0.0
                if ends(current):
                    return
            elif quiet >= KEEPALIVE_SECONDS:
                yield ": still here\n\n"
                quiet = 0.0
            await asyncio.sleep(POLL_SECONDS)
            quiet += POLL_SECONDS
            elapsed += POLL_SECONDS

    return StreamingResponse(events(), media_type="text/event-stream", headers=HEADERS)


def _moved(previous: Any, current: Any) -> bool:
    if isinstance(previous, tuple) and previous[1] is None:  # an execution: (events seen, no status yet)
        return bool(current[0] > previous[0])
    return bool(current != previous)


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0
