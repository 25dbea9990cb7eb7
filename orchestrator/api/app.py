"""The ASGI application: ``POST /`` for the actions, ``GET /health`` for probes, ``/console/`` for people.

Every action runs in a worker thread (its transaction is synchronous); the long poll of
GetActivityTask waits on the event loop between short checks, holding no thread and no
database connection while it waits.

With access keys configured, a request's headers are checked before its body is read, and the body
is read only up to `MAX_REQUEST_BYTES`: a forger costs the server a few header lines, however much
they send. Anything that is not an action, the health probe or the console is answered in AWS's
error shape (``UnknownOperationException``), as every AWS SDK expects to parse it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from typing import Any

from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

import orchestrator.api.testing_actions  # noqa: F401 - registers the TestState action
from orchestrator import config, logs
from orchestrator.api import auth, metrics, shapes, wire
from orchestrator.api.actions import ACTIONS, ASYNC_ACTIONS
from orchestrator.api.request_ids import RequestIds
from orchestrator.console.app import create_console
from orchestrator.integrations import registry
from orchestrator.runtime import scrape
from orchestrator.service import Service, ServiceError

log = logging.getLogger(__name__)

TARGET_PREFIX = "AWSStepFunctions."
MAX_REQUEST_BYTES = 1_048_576 + 65_536  # a 1 MB definition plus the rest of the request
# Headers a reverse proxy adds: behind one, every peer is the proxy, so the peer's address says nothing.
_FORWARDING = ("forwarded", "x-forwarded-for", "x-real-ip")


def create_app(service: Service | None = None) -> Starlette:
    """The API for ``service`` (by default, one configured from the environment)."""
    service = service or Service()
    settings = service.settings

    async def dispatch(request: Request) -> Response:
        return await metrics.counted(request.headers.get("x-amz-target", ""), lambda: _dispatch(request))

    async def _dispatch(request: Request) -> Response:
        claim = None
        if settings.api_keys:
            checked = auth.check_headers(request.headers, settings.api_keys, now=_now(), region=settings.region)
            if isinstance(checked, auth.Refusal):
                return unread(wire.error(checked.code, checked.message))
            claim = checked
        body = await read_body(request)
        if body is None:
            return unread(too_large())
        if claim is not None:
            url = request.url
            refusal = auth.check_signature(claim, request.method, url.path, url.query, request.headers, body)
            if refusal is not None:
                return wire.error(refusal.code, refusal.message)
        return await answer(service, request.headers.get("x-amz-target", ""), body)

    async def health(request: Request) -> Response:
        report = await run_in_threadpool(service.health)
        view = _health_view(report, await _health_audience(request, settings))
        return JSONResponse(view, status_code=200 if report["status"] == "ok" else 503)

    async def metrics_page(request: Request) -> Response:
        # Guarded like /health's details (orchestrator.api.metrics says why).
        open_to_all = not settings.api_keys or settings.metrics_public
        if not (open_to_all or _from_this_machine(request) or await _health_audience(request, settings) == FULL):
            return wire.error(
                "AccessDeniedException",
                "/metrics from another host needs a signed request, or ORCHESTRATOR_METRICS_PUBLIC=1 on the server",
            )
        body, content_type = await run_in_threadpool(scrape.render, settings.database_url)
        return Response(body, media_type=content_type)

    async def to_console(request: Request) -> Response:
        return RedirectResponse("/console/", 307)

    return Starlette(
        routes=[
            Route("/", dispatch, methods=["POST"]),
            Route("/", to_console, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/metrics", metrics_page, methods=["GET"]),
            # The console is another face of the same service: same process, port, database and keys.
            # It answers its own missing pages, in HTML.
            Mount("/console", create_console(service)),
        ],
        exception_handlers={404: unknown_route, 405: unknown_route, Exception: internal_failure},
        middleware=[Middleware(RequestIds)],
    )


async def answer(service: Service, target: str, body: bytes) -> Response:
    """The response to the action ``target`` names, called with the JSON ``body``."""
    name = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
    handler = ACTIONS.get(name)
    if handler is None:
        return wire.error("UnknownOperationException", f"Unknown operation '{target[:200] or '(no X-Amz-Target)'}'")
    try:
        # Parsed and checked against the action's input shape before any action runs: no action
        # sees a value of the wrong type, JSON it cannot hold, or a value AWS would refuse.
        params = shapes.read_body(body)
        shapes.check(name, params)
        if name in ASYNC_ACTIONS:
            result = await ASYNC_ACTIONS[name](service, params)
        else:
            result = await run_in_threadpool(handler, service, params)
    except ServiceError as exc:
        extra = {"reason": exc.reason} if getattr(exc, "reason", None) else {}
        return wire.error(exc.code, exc.message, **extra)
    except RecursionError:
        # A value the shapes let through but an action walks recursively (a ResultPath of
        # thousands of steps): the request's fault, not the server's.
        log.warning("action %s: input nested too deeply", name)
        return wire.error("ValidationException", "The request holds a value nested too deeply to process")
    except OperationalError as exc:
        # The database is away (restarting, failing over): a retryable 503 that AWS SDKs retry
        # on their own, and one log line rather than a traceback per request.
        log.warning("action %s: database unavailable: %s", name, exc.orig)
        return wire.error("ServiceUnavailable", "The database is unavailable; retry the request")
    except Exception:
        log.exception("action %s failed", name)
        return wire.error("InternalFailure", "The request processing has failed because of an unknown error")
    return wire.respond(result)


async def read_body(request: Request, limit: int = MAX_REQUEST_BYTES) -> bytes | None:
    """The request's body, or None as soon as it is known to exceed ``limit`` (the rest is never read)."""
    try:
        if int(request.headers.get("content-length") or 0) > limit:
            return None
    except ValueError:
        pass  # the HTTP server refuses a malformed Content-Length before we see it
    received = bytearray()
    try:
        async for chunk in request.stream():
            received += chunk
            if len(received) > limit:
                return None
    except ClientDisconnect:
        return None  # nobody is left to answer
    return bytes(received)


def unread(response: Response) -> Response:
    """``response`` to a request whose body was not read (whole): the connection closes after it, so
    the HTTP server does not go on receiving the rest only to discard it."""
    response.headers["connection"] = "close"
    return response


def too_large() -> Response:
    return wire.error(
        "RequestEntityTooLargeException", f"Request entity too large: the limit is {MAX_REQUEST_BYTES:,} bytes"
    )


async def unknown_route(request: Request, exc: Exception) -> Response:
    """404 and 405 in AWS's shape: an SDK pointed at the wrong path or method can still read the error."""
    assert isinstance(exc, HTTPException)
    where = f"{request.method} {request.url.path}"
    response = wire.respond(
        {
            "__type": "UnknownOperationException",
            "message": f"No operation is served at {where[:200]}: actions are POST / with an X-Amz-Target header",
        },
        exc.status_code,
    )
    response.headers.update(exc.headers or {})
    return response


async def internal_failure(request: Request, exc: Exception) -> Response:
    """An exception no route handled, in AWS's shape rather than Starlette's plain text, and never a
    traceback (Starlette raises it on to uvicorn after this answer, which logs it)."""
    return wire.error("InternalFailure", "The request processing has failed because of an unknown error")


# -- /health: who sees what ------------------------------------------------------------------------------

FULL, SUMMARY, STATUS = "full", "summary", "status"


async def _health_audience(request: Request, settings: config.Settings) -> str:
    """FULL (errors included, which name hosts and ports): a signed request, or a local one without keys;
    SUMMARY (each part's status): another unsigned request from this machine, or any without keys;
    STATUS (up or down only): anyone else, when keys are configured."""
    on_this_machine = _from_this_machine(request)
    if not settings.api_keys:
        return FULL if on_this_machine else SUMMARY
    if "authorization" in request.headers:
        body = await read_body(request)
        url = request.url
        keys, region = settings.api_keys, settings.region
        if body is not None and (
            auth.verify(request.method, url.path, url.query, request.headers, body, keys, _now(), region) is None
        ):
            return FULL
    return SUMMARY if on_this_machine else STATUS


def _health_view(report: dict[str, Any], audience: str) -> dict[str, Any]:
    if audience == FULL:
        return report
    if audience == STATUS:
        return {"status": report["status"]}
    return {
        key: {k: v for k, v in value.items() if k != "error"} if isinstance(value, dict) else value
        for key, value in report.items()
    }


def _from_this_machine(request: Request) -> bool:
    if any(name in request.headers for name in _FORWARDING):
        return False
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def app_factory() -> Starlette:
    """The app for a server process of its own (``orchestrator serve --workers N``, or ``uvicorn --factory
    orchestrator.api.app:app_factory``): the handler modules loaded, the service configured from the
    environment."""
    settings = config.load()
    if settings.log_format == "json":  # a process of its own: nothing set its logging up
        logs.configure("json", logging.INFO)
    registry.load_modules(settings.handler_modules)
    return create_app(Service(settings))
