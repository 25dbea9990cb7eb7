"""The console's ASGI app, mounted by the API at ``/console``: its routes, templates and guard.

Every page goes through `Console.guarded`: sign-in (with access keys) or loopback only (without),
the CSRF check on every POST, and read-only mode. Pages read through the service; changes go
through the same service actions as the API, so they leave the same history.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from orchestrator.console import security, views
from orchestrator.service import Service

HERE = Path(__file__).resolve().parent
log = logging.getLogger(__name__)
FAILURE_PAGE = (
    "<!doctype html><title>Console error</title><h1>Something went wrong</h1>"
    "<p>The console could not show this page; the server's log says why. "
    "<a href='/console/'>Back to the console</a></p>"
)
Handler = Callable[[Request], Awaitable[Response]]
# No inline script anywhere: scripts come from /console/static; the graph's Graphviz runs as WebAssembly.
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
WRITE_ROUTES = ("start", "stop", "redrive", "approve", "reject")


class Console:
    """The service, the templates and the guard that every page shares."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.guard = security.Guard(service.settings)
        self.read_only = service.settings.console_read_only
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,  # everything shown is escaped: a state named <script> is text
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters.update(
            when=when, duration=views.duration_text, pretty=views.pretty, q=lambda s: quote(str(s), safe="")
        )
        self.templates.globals.update(status_labels=views.STATUS_LABELS)

    async def render(self, request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        session: security.Session | None = request.state.session
        waiting = await run_in_threadpool(self.service.open_task_count)
        html = self.templates.get_template(template).render(
            request=request,
            session=session,
            csrf=session.csrf if session else "",
            read_only=self.read_only,
            signed_in=self.guard.needs_sign_in,
            waiting_count=waiting,
            **context,
        )
        return HTMLResponse(html, status_code=status_code)

    def guarded(self, handler: Handler, *, writes: bool = False) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                refusal = await self._refusal(request, writes)
                if refusal is not None:
                    return _secured(refusal)
                response = await handler(request)
            except Exception:
                log.exception("console: %s %s failed", request.method, request.url.path)
                return _secured(HTMLResponse(FAILURE_PAGE, status_code=500))
            if getattr(request.state, "new_session", False):
                self.guard.write(request, response, request.state.session)
            return _secured(response)

        return endpoint

    async def _refusal(self, request: Request, writes: bool) -> Response | None:
        if not self.guard.needs_sign_in and not security.from_this_machine(request):
            return HTMLResponse(
                "The console answers only this machine while no access keys are configured (ORCHESTRATOR_API_KEYS).",
                status_code=403,
            )
        session = self.guard.session(request)
        if session is None and self.guard.needs_sign_in:
            if request.method != "GET" or request.headers.get("hx-request"):
                return HTMLResponse("Your session has ended: sign in again.", status_code=403)
            return RedirectResponse(f"/console/sign-in?next={quote(str(request.url.path), safe='/')}", 303)
        request.state.session = session
        if request.method == "POST":
            if writes and self.read_only:
                return HTMLResponse("The console is read-only (ORCHESTRATOR_CONSOLE_READ_ONLY).", status_code=403)
            form = await request.form()
            submitted = request.headers.get(security.CSRF_HEADER) or form.get(security.CSRF_FIELD)
            if session is None or not security.csrf_ok(session, str(submitted) if submitted else None):
                return HTMLResponse("This form has expired: reload the page and try again.", status_code=403)
        elif session is None:
            # Without keys, a first visit gets a session: its cookie carries the CSRF token.
            request.state.session = self.guard.new_session(None)
            request.state.new_session = True
        return None


def _secured(response: Response) -> Response:
    response.headers.setdefault("content-security-policy", CSP)
    response.headers.setdefault("x-content-type-options", "nosniff")
    response.headers.setdefault("referrer-policy", "same-origin")
    return response


def when(moment: dt.datetime | None) -> str:
    """A time as the console shows it: UTC, to the millisecond."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def create_console(service: Service) -> Starlette:
    """The console app for ``service``; the API mounts it at ``/console``."""
    from orchestrator.console import live, pages
    from orchestrator.console.studio import Studio

    console = Console(service)
    page = pages.Pages(console)
    studio = Studio(console)
    stream = live.Streams(service)
    g = console.guarded
    routes = [
        Route("/", g(page.home)),
        Route("/sign-in", page.sign_in, methods=["GET", "POST"]),
        Route("/sign-out", page.sign_out, methods=["POST"]),
        Route("/state-machines", g(page.machines)),
        Route("/state-machines/{name}", g(page.machine)),
        Route("/state-machines/{name}/start", g(page.start, writes=True), methods=["POST"]),
        Route("/executions", g(page.executions)),
        Route("/executions/{machine}/{name}", g(page.execution)),
        Route("/executions/{machine}/{name}/export", g(page.export)),
        Route("/executions/{machine}/{name}/stop", g(page.stop, writes=True), methods=["POST"]),
        Route("/executions/{machine}/{name}/redrive", g(page.redrive, writes=True), methods=["POST"]),
        Route("/approvals", g(page.approvals)),
        Route("/approvals/{digest}/approve", g(page.approve, writes=True), methods=["POST"]),
        Route("/approvals/{digest}/reject", g(page.reject, writes=True), methods=["POST"]),
        Route("/live/executions", g(stream.executions)),
        Route("/live/approvals", g(stream.approvals)),
        Route("/live/execution/{machine}/{name}", g(stream.execution)),
        Route("/studio", g(studio.new)),
        Route("/studio/palette", g(studio.palette)),
        Route("/studio/check", g(studio.check), methods=["POST"]),
        Route("/studio/save", g(studio.save, writes=True), methods=["POST"]),
        Route("/studio/test-state", g(studio.test_state, writes=True), methods=["POST"]),
        Route("/state-machines/{name}/edit", g(studio.edit)),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes)


def json_script(value: Any) -> str:
    """JSON safe to place inside <script type="application/json"> (no closing tag, no comment)."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
