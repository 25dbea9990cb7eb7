"""The console's pages: one method per route, each reading through the service and rendering a
template (or, for htmx, the part of it that changed)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from orchestrator.console import progress, readings, views
from orchestrator.console.app import Console, json_script
from orchestrator.service import ServiceError
from orchestrator.service.browse import parse_input_query
from orchestrator.store.browse import ExecutionSearch

STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
PAGE_SIZE = 50
DEFAULT_APPROVAL = '{"approved": true}'


class Pages:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.service = console.service
        self.readings = readings.Readings()

    async def call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(function, *args, **kwargs)

    async def problem(self, request: Request, error: ServiceError) -> HTMLResponse:
        status = 404 if error.code.endswith("DoesNotExist") else 400
        return await self.console.render(request, "problem.html", status_code=status, error=error)

    # -- signing in ------------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/console/state-machines", 303)

    async def sign_in(self, request: Request) -> Response:
        guard = self.console.guard
        target = request.query_params.get("next", "/console/")
        if not target.startswith("/console/"):
            target = "/console/"
        if not guard.needs_sign_in:
            return RedirectResponse(target, 303)
        request.state.session = None
        error = None
        if request.method == "POST":
            form = await request.form()
            key_id, secret = str(form.get("key_id", "")), str(form.get("secret", ""))
            if guard.check_credentials(key_id, secret):
                response = RedirectResponse(target, 303)
                guard.write(request, response, guard.new_session(key_id))
                return response
            error = "That key id and secret do not match a configured access key."
        template = self.console.templates.get_template("signin.html")
        html = template.render(request=request, error=error, target=target, session=None, csrf="")
        return HTMLResponse(html, status_code=401 if error else 200)

    async def sign_out(self, request: Request) -> Response:
        response = RedirectResponse("/console/sign-in", 303)
        self.console.guard.close_session(response)
        return response

    # -- state machines ---------------------------------------------------------------------------

    async def machines(self, request: Request) -> Response:
        machines = await self.call(self.service.machines_overview)
        return await self.console.render(request, "machines.html", machines=machines, statuses=STATUSES)

    async def machine(self, request: Request, *, error: str | None = None, given_input: str | None = None) -> Response:
        name = request.path_params["name"]
        arn = self.service.state_machine_arn(name)
        try:
            described = await self.call(self.service.describe_state_machine, arn)
            versions = await self.call(self.service.list_state_machine_versions, arn)
            aliases = await self.call(self.service.list_state_machine_aliases, arn)
            machine_id = await self.call(self.service.machine_id, name)
        except ServiceError as exc:
            return await self.problem(request, exc)
        found = await self.call(self.service.search_executions, ExecutionSearch(machine_id=machine_id), limit=20)
        graph = views.graph_of(described["definition"])
        return await self.console.render(
            request,
            "machine.html",
            status_code=400 if error else 200,
            machine=described,
            name=name,
            definition=views.pretty(described["definition"]),
            versions=versions.get("stateMachineVersions", []),
            aliases=aliases.get("stateMachineAliases", []),
            executions=found.items,
            graph_data=json_script({"dot": graph.dot, "nodes": views.node_map(graph)}),
            start_input=given_input if given_input is not None else await self._start_input(name, request),
            error=error,
        )

    async def _start_input(self, name: str, request: Request) -> str:
        """The start form's input: ``?input=`` as given, or ``?input_from=`` an execution's (a long
        input does not fit in a link)."""
        params = request.query_params
        if params.get("input_from"):
            try:
                described = await self.call(
                    self.service.describe_execution, self.service.execution_arn(name, params["input_from"])
                )
                return str(described.get("input") or "{}")
            except ServiceError:
                return "{}"
        return params.get("input", "{}")

    async def start(self, request: Request) -> Response:
        name = request.path_params["name"]
        form = await request.form()
        given_input = str(form.get("input") or "{}")
        execution_name = str(form.get("execution_name") or "").strip() or None
        try:
            started = await self.call(
                self.service.start_execution,
                self.service.state_machine_arn(name),
                name=execution_name,
                input=given_input,
            )
        except ServiceError as exc:
            return await self.machine(request, error=exc.message, given_input=given_input)
        execution = started["executionArn"].rsplit(":", 1)[1]
        return RedirectResponse(f"/console/executions/{quote(name, safe='')}/{quote(execution, safe='')}", 303)

    # -- executions -------------------------------------------------------------------------------

    async def executions(self, request: Request) -> Response:
        params = request.query_params
        try:
            search = await self._search(params)
            found = await self.call(
                self.service.search_executions, search, page_token=params.get("page") or None, limit=PAGE_SIZE
            )
        except ServiceError as exc:
            return await self.problem(request, exc)
        names = await self.call(self.service.machine_names)
        context = {
            "executions": found.items,
            "next_page": found.next_token,
            "filters": params,
            "chosen_statuses": params.getlist("status"),
            "statuses": STATUSES,
            "machines": names,
            "query": urlencode([(k, v) for k, v in params.multi_items() if k not in ("page", "fragment")]),
            "first_page": not params.get("page"),
        }
        template = "executions_table.html" if params.get("fragment") else "executions.html"
        return await self.console.render(request, template, **context)

    async def _search(self, params: Any) -> ExecutionSearch:
        statuses = tuple(s for s in params.getlist("status") if s in STATUSES)
        machine = params.get("machine") or None
        machine_id = await self.call(self.service.machine_id, machine) if machine else None
        return ExecutionSearch(
            statuses=statuses,
            machine_id=machine_id,
            name_prefix=params.get("name") or None,
            started_after=_moment(params.get("after")),
            started_before=_moment(params.get("before")),
            input_matches=parse_input_query(params["input"]) if params.get("input") else (),
        )

    def _arn(self, request: Request) -> str:
        return self.service.execution_arn(request.path_params["machine"], request.path_params["name"])

    async def execution(self, request: Request) -> Response:
        arn = self._arn(request)
        params = request.query_params
        try:
            if params.get("fragment") == "event":
                return await self._event(request, arn, _int(params.get("event"), 0))
            outline = await self.call(self.service.execution_outline, arn)
            if params.get("fragment") == "data":
                part = "output" if params.get("part") == "output" else "input"
                text = views.pretty(outline["description"].get(part))
                return await self.console.render(request, "json_text.html", text=text)
            reading = await self.call(self._reading, arn, outline["lastEventId"])
        except ServiceError as exc:
            return await self.problem(request, exc)
        if params.get("fragment") == "step":
            steps = reading.steps
            index = _int(params.get("step"), 0) if "state" not in params else _last_entry(steps, params["state"])
            return await self._step(request, arn, outline, steps, index)
        context = await self.call(self._execution_context, arn, outline, reading, params)
        fragments = {"live": "execution_live.html", "summary": "execution_summary.html"}
        template = fragments.get(params.get("fragment", ""), "execution.html")
        return await self.console.render(request, template, **context)

    async def _event(self, request: Request, arn: str, event_id: int) -> Response:
        """One event's details whole (the event view shows long ones cut)."""
        events = await self.call(self.service.history_events, arn, [event_id])
        if not events:
            return HTMLResponse('<p class="muted">This execution has no such event.</p>')
        details = views.event_details(events[0])[1]
        text = json.dumps(details, indent=2, ensure_ascii=False, default=_json_default)
        return await self.console.render(request, "json_text.html", text=text)

    def _reading(self, arn: str, last_event_id: int) -> readings.Reading:
        return self.readings.get(arn, last_event_id, lambda: self.service.history_to_read(arn, up_to=last_event_id))

    def _execution_context(
        self, arn: str, outline: dict[str, Any], reading: readings.Reading, params: Any
    ) -> dict[str, Any]:
        """Everything the execution page shows: the history's reading, and one page of its events
        (read from the database: the page never holds the whole history's payloads)."""
        event_type = params.get("event_type") or None
        count = reading.type_counts.get(event_type, 0) if event_type else reading.event_count
        pages = views.page_count(count, views.EVENTS_PER_PAGE)
        page = min(max(_int(params.get("events_page"), 1), 1), pages)
        descending = params.get("order") == "desc"
        page_events = self.service.history_page(
            arn,
            event_type=event_type,
            descending=descending,
            offset=(page - 1) * views.EVENTS_PER_PAGE,
            limit=views.EVENTS_PER_PAGE,
        )
        return {
            **_execution_context(outline, reading, params),
            "page_events": page_events,
            "pages": pages,
            "events_page": page,
        }

    async def _step(
        self, request: Request, arn: str, outline: dict[str, Any], steps: Sequence[progress.Step], index: int
    ) -> Response:
        if not 0 <= index < len(steps):
            return HTMLResponse('<p class="muted">This state has not run in this execution.</p>')
        step = steps[index]
        events = await self.call(self.service.history_events, arn, list(step.event_ids))
        by_id = {e["id"]: e for e in events}
        inspection = await self.call(self._inspect, outline, step, by_id)
        return await self.console.render(
            request,
            "step.html",
            step=step,
            index=index,
            events=[by_id[i] for i in step.event_ids if i in by_id],
            inspection=inspection,
            views=views,
        )

    def _inspect(self, outline: dict[str, Any], step: progress.Step, by_id: dict[int, Any]) -> dict[str, Any] | None:
        """The data after each stage of the step's data flow, as TestState's inspection computes it
        from the step's input and (for a Task) the result its handler returned."""
        if step.type not in ("Task", "Pass") or step.input is None or step.lane:
            return None
        mock = None
        if step.type == "Task":
            result = views.task_result(step, by_id)
            if result is None:
                return None
            mock = {"result": result}
        try:
            report = self.service.test_state(
                outline["definition"], state_name=step.name, input=step.input, inspection_level="DEBUG", mock=mock
            )
        except Exception:  # a step TestState cannot replay (for any reason) shows no stages, not an error
            return None
        return report.get("inspectionData")

    async def export(self, request: Request) -> Response:
        try:
            whole = await self.call(self.service.execution_whole, self._arn(request))
        except ServiceError as exc:
            return await self.problem(request, exc)
        document = {
            "execution": whole["description"],
            "stateMachine": whole["machine"],
            "definition": whole["definition"],
            "events": whole["events"],
        }
        name = request.path_params["name"]
        return JSONResponse(
            json.loads(json.dumps(document, default=_json_default)),
            headers={"content-disposition": f'attachment; filename="{quote(name, safe="")}.json"'},
        )

    async def stop(self, request: Request) -> Response:
        form = await request.form()
        return await self._act(
            request,
            self.service.stop_execution,
            error=str(form.get("error") or "") or None,
            cause=str(form.get("cause") or "") or None,
        )

    async def redrive(self, request: Request) -> Response:
        return await self._act(request, self.service.redrive_execution)

    async def _act(self, request: Request, action: Any, **kwargs: Any) -> Response:
        try:
            await self.call(action, self._arn(request), **kwargs)
        except ServiceError as exc:
            return await self.problem(request, exc)
        machine, name = request.path_params["machine"], request.path_params["name"]
        return RedirectResponse(f"/console/executions/{quote(machine, safe='')}/{quote(name, safe='')}", 303)

    # -- approvals ------------------------------------------------------------------------------

    async def approvals(self, request: Request, *, notice: str | None = None, status_code: int = 200) -> Response:
        tasks = await self.call(self.service.open_tasks)
        now = dt.datetime.now(dt.UTC)
        template = "approvals_table.html" if request.query_params.get("fragment") else "approvals.html"
        return await self.console.render(
            request,
            template,
            status_code=status_code,
            tasks=tasks,
            now=now,
            notice=notice or request.query_params.get("notice"),
            default_output=DEFAULT_APPROVAL,
        )

    async def approve(self, request: Request) -> Response:
        form = await request.form()
        output = str(form.get("output") or DEFAULT_APPROVAL)
        return await self._answer(request, "Approved", output=output)

    async def reject(self, request: Request) -> Response:
        form = await request.form()
        error = str(form.get("error") or "Rejected")
        return await self._answer(request, "Rejected", error=error, cause=str(form.get("cause") or "") or None)

    async def _answer(self, request: Request, verb: str, **answer: Any) -> Response:
        try:
            await self.call(self.service.answer_task, request.path_params["digest"], **answer)
        except ServiceError as exc:
            if exc.code in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
                message = "Someone else answered this task first (or it timed out): nothing was sent."
            else:
                message = f"Not sent: {exc.message}"
            return await self.approvals(request, notice=message, status_code=409 if "first" in message else 400)
        return RedirectResponse(f"/console/approvals?{urlencode({'notice': f'{verb}.'})}", 303)


def _execution_context(outline: dict[str, Any], reading: readings.Reading, params: Any) -> dict[str, Any]:
    """What the execution page shows from its outline and the reading of its history (all but
    the page of events)."""
    description = outline["description"]
    start, stop = description["startDate"], description.get("stopDate")
    end = stop or dt.datetime.now(dt.UTC)
    graph = views.graph_of(outline["definition"])
    maps = {node.name: reading.iterations.get(node.name, ()) for node in graph.nodes if node.type == "Map"}
    lane = params.get("lane") or None
    if params.get("map") in maps and params.get("iteration"):  # an iteration picked by its number
        lane = views.iteration_lane(maps[params["map"]], _int(params["iteration"], -1)) or lane
    return {
        "whole": outline,
        "execution": description,
        "status": views.execution_status(description["status"]),
        "live": description["status"] == "RUNNING",  # an ended execution's page needs no stream
        "failure": reading.failure,
        "graph_data": json_script({"dot": graph.dot, "nodes": views.node_map(graph)}),
        "graph_status": json_script(views.node_statuses(graph, reading.statuses(lane))),
        "duration": views.duration_text((end - start).total_seconds()),
        **_steps_page(reading.steps, start, end, _int(params.get("steps_page"), 1)),
        "maps": maps,
        "lane": lane,
        "event_type": params.get("event_type") or None,
        "event_types": sorted(reading.type_counts),
        "order": params.get("order") or "asc",
        "event_count": reading.event_count,
        "last_event_id": outline["lastEventId"],
        "views": views,
    }


def _steps_page(steps: Sequence[progress.Step], start: dt.datetime, end: dt.datetime, page: int) -> dict[str, Any]:
    """One page of the table view: a Map of thousands of iterations has thousands of steps, and a
    page that drew them all would take seconds to send and to show."""
    pages = max(1, -(-len(steps) // views.STEPS_PER_PAGE))
    page = min(max(page, 1), pages)
    first = (page - 1) * views.STEPS_PER_PAGE
    chosen = steps[first : first + views.STEPS_PER_PAGE]
    rows = views.step_rows(chosen, start, end, first=first)
    return {"rows": rows, "steps_page": page, "steps_pages": pages, "step_count": len(steps)}


def _last_entry(steps: Sequence[progress.Step], state: str) -> int:
    """The index of the latest step of the state named ``state``; -1 if it never ran."""
    return next((i for i in range(len(steps) - 1, -1, -1) if steps[i].name == state), -1)


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


def _moment(text: str | None) -> dt.datetime | None:
    """A time from a filter field (``2026-12-07T10:30``, read as UTC)."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ServiceError(
            "ValidationException", f"Cannot read the time {text!r}: write it as 2026-12-07T10:30"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")
