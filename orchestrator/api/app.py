"""The ASGI application: ``POST /`` for the actions, ``GET /health`` for probes, ``/console/`` for people.

Every action runs in a worker thread (its transaction is synchronous); the long poll of
GetActivityTask waits on the event loop between short checks, holding no thread and no
database connection while it waits.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

import orchestrator.api.testing_actions  # noqa: F401 - registers the TestState action
from orchestrator import config
from orchestrator.api import auth, wire
from orchestrator.api.actions import ACTIONS, ASYNC_ACTIONS
from orchestrator.console.app import create_console
from orchestrator.integrations import registry
from orchestrator.service import Service, ServiceError

log = logging.getLogger(__name__)

TARGET_PREFIX = "AWSStepFunctions."
MAX_REQUEST_BYTES = 1_048_576 + 65_536  # a 1 MB definition plus the rest of the request


def create_app(service: Service | None = None) -> Starlette:
    """The API for ``service`` (by default, one configured from the environment)."""
    service = service or Service()

    async def dispatch(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_REQUEST_BYTES:
            return wire.error("ValidationException", f"The request is {len(body):,} bytes; the limit is 1 MB")
        if service.settings.api_keys:
            refusal = auth.verify(
                request.method,
                request.url.path,
                request.url.query,
                request.headers,
                body,
                service.settings.api_keys,
                dt.datetime.now(dt.UTC),
            )
            if refusal is not None:
                return wire.error(refusal.code, refusal.message)
        target = request.headers.get("x-amz-target", "")
        name = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
        handler = ACTIONS.get(name)
        if handler is None:
            return wire.error("UnknownOperationException", f"Unknown operation '{target or '(no X-Amz-Target)'}'")
        try:
            params = json.loads(body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return wire.error("SerializationException", f"The request body is not JSON: {exc}")
        if not isinstance(params, dict):
            return wire.error("SerializationException", "The request body must be a JSON object")
        try:
            if name in ASYNC_ACTIONS:
                result = await ASYNC_ACTIONS[name](service, params)
            else:
                result = await run_in_threadpool(handler, service, params)
        except ServiceError as exc:
            extra = {"reason": exc.reason} if getattr(exc, "reason", None) else {}
            return wire.error(exc.code, exc.message, **extra)
        except OperationalError as exc:
            # The database is away (restarting, failing over): a retryable 503 that AWS SDKs retry
            # on their own, and one log line rather than a traceback per request.
            log.warning("action %s: database unavailable: %s", name, exc.orig)
            return wire.error("ServiceUnavailable", "The database is unavailable; retry the request")
        except Exception:
            log.exception("action %s failed", name)
            return wire.error("InternalFailure", "The request processing has failed because of an unknown error")
        return wire.respond(result)

    async def health(request: Request) -> Response:
        report = await run_in_threadpool(service.health)
        return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)

    async def to_console(request: Request) -> Response:
        return RedirectResponse("/console/", 307)

    return Starlette(
        routes=[
            Route("/", dispatch, methods=["POST"]),
            Route("/", to_console, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            # The console is another face of the same service: same process, port, database and keys.
            Mount("/console", create_console(service)),
        ]
    )


def app_factory() -> Starlette:
    """The app for a server process of its own (``orchestrator serve --workers N``, or ``uvicorn --factory
    orchestrator.api.app:app_factory``): the handler modules loaded, the service configured from the
    environment."""
    settings = config.load()
    registry.load_modules(settings.handler_modules)
    return create_app(Service(settings))
