"""What the console reads: overviews, searches across state machines, one execution whole, the tasks
waiting for a person, and markers that change when something moves (for live pages).

These are not AWS actions; they answer in the same shapes where one exists (an execution's
description is DescribeExecution's, its events GetExecutionHistory's). A task waiting on a token
is named by a digest of its token, so pages never show a token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from orchestrator.engine.history import Event, details_key, to_text
from orchestrator.service import pages
from orchestrator.service.base import ServiceBase, ServiceError, check_arn, utcnow
from orchestrator.store import browse
from orchestrator.store import state_machines as catalog
from orchestrator.store.models import StateMachine

MAX_EVENTS = 25_000  # AWS's limit on an execution's history: the page loads them all, never more
_PAYLOADS = ("input", "output")  # what history_to_read leaves parsed
_SEARCH = "console: search executions"  # what the console's page tokens page
_CONDITION = re.compile(r"^\s*([A-Za-z_$][\w$-]*(?:\.[A-Za-z_$][\w$-]*)*)\s*=\s*(.+?)\s*$")


@dataclass(frozen=True)
class ExecutionsPage:
    items: list[dict[str, Any]]
    next_token: str | None


def token_digest(token: str) -> str:
    """How pages name a waiting task: the token itself never leaves the server."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def parse_input_query(text: str) -> tuple[browse.InputMatch, ...]:
    """``applicant.id = 42 and applicant.country = "FR"``: conditions on the execution's input.
    A value is JSON when it parses as JSON, else a string (``status = approved``)."""
    matches = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        found = _CONDITION.match(part)
        if found is None or found.group(2).startswith("=") or re.search(r"\sand$", part, re.IGNORECASE):
            raise ServiceError(
                "ValidationException", f"Cannot read the input search {part!r}: write it as path = value, e.g. id = 42"
            )
        raw = found.group(2)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        matches.append(browse.InputMatch(tuple(found.group(1).split(".")), value))
    return tuple(matches)


class BrowseActions(ServiceBase):
    def machines_overview(self) -> list[dict[str, Any]]:
        """Every state machine with its executions of the last 24 hours by status."""
        with self._transaction() as session:
            summaries = browse.machine_summaries(session, since=utcnow() - dt.timedelta(hours=24))
            return [
                {
                    "name": s.machine.name,
                    "arn": s.machine.arn,
                    "type": s.machine.type,
                    "status": s.machine.status,
                    "latestVersion": s.latest_version,
                    "aliases": list(s.aliases),
                    "counts": s.counts,
                    "lastStart": aware(s.last_start) if s.last_start else None,
                    "created": s.machine.created_at,
                }
                for s in summaries
            ]

    def machine_names(self) -> list[str]:
        """The live state machines' names (for a filter's choices): no counting."""
        with self._transaction() as session:
            return browse.machine_names(session)

    def machine_id(self, name: str) -> int:
        with self._transaction() as session:
            machine = catalog.by_arn(session, self.state_machine_arn(name))
            if machine is None:
                raise ServiceError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{name}'")
            return machine.id

    def search_executions(
        self, search: browse.ExecutionSearch, *, page_token: str | None = None, limit: int = 50
    ) -> ExecutionsPage:
        before = None
        if page_token:
            # A console page link may be bookmarked: its token does not expire.
            position = pages.read(self.settings, _SEARCH, page_token, {"start": dt.datetime, "id": int}, lifetime=None)
            before = (position["start"], position["id"])
        with self._transaction() as session:
            rows = browse.search_executions(session, search, before=before, limit=limit + 1)
            items = [_summary(row.Execution, row.machine_name) for row in rows[:limit]]
        next_token = None
        if len(rows) > limit:
            last = rows[limit - 1].Execution
            next_token = pages.issue(self.settings, _SEARCH, {"start": last.start_date, "id": last.id})
        return ExecutionsPage(items, next_token)

    def execution_whole(self, arn: str) -> dict[str, Any]:
        """An execution's outline (`execution_outline`) and its events, all of them, as
        GetExecutionHistory returns them."""
        outline = self.execution_outline(arn)
        with self._transaction() as session:
            rows = browse.whole_history(session, self._facts(session, arn).id, limit=MAX_EVENTS)
        return {**outline, "events": [_api_event(row) for row in rows]}

    def execution_outline(self, arn: str) -> dict[str, Any]:
        """An execution's description, machine, definition, parent, children, Distributed Map Runs
        and the id of its last event: everything of its page but the history."""
        description = _aware_dates(self.describe_execution(arn))  # type: ignore[attr-defined]
        with self._transaction() as session:
            facts = self._facts(session, arn)
            machine = session.get(StateMachine, facts.state_machine_id)
            assert machine is not None
            run_arns = browse.map_run_arns(session, facts.id)
            children = browse.children_of(session, browse.tree_ids(session, facts.id))
            parent = catalog.by_id_execution(session, facts.caller_id) if facts.caller_id else None
            outline = {
                "description": description,
                "machine": {"name": machine.name, "arn": machine.arn, "type": machine.type},
                "definition": catalog.definition_text(session, facts.definition_hash),
                "transitions": facts.state_transitions,
                "lastEventId": facts.last_event_id,
                "parent": _summary(parent, _machine_name(session, parent)) if parent is not None else None,
                "children": [_summary(row.Execution, row.machine_name) for row in children],
            }
        # Distributed Map runs, with their item counts
        outline["mapRuns"] = [self.describe_map_run(run_arn) for run_arn in run_arns]  # type: ignore[attr-defined]
        return outline

    def history_to_read(self, arn: str, *, up_to: int) -> list[dict[str, Any]]:
        """The execution's events up to the id ``up_to``, shaped as GetExecutionHistory's except
        that payloads are left parsed where that is unambiguous (an input or output that is an
        object, an array, a number or a boolean is the value; one that is a string or null is JSON
        text, as on AWS; parameters and the like are values): for reading a whole history in
        Python (the console's progress), where writing 25,000 events' payloads back to text would
        cost more than the rest of the reading."""
        with self._transaction() as session:
            rows = browse.whole_history(session, self._facts(session, arn).id, limit=MAX_EVENTS, up_to=up_to)
        return [_event_to_read(row) for row in rows]

    def history_page(
        self, arn: str, *, event_type: str | None = None, descending: bool = False, offset: int = 0, limit: int = 250
    ) -> list[dict[str, Any]]:
        """One page of the execution's events (of one type, if ``event_type``), as GetExecutionHistory
        returns them."""
        with self._transaction() as session:
            rows = browse.history_page(
                session,
                self._facts(session, arn).id,
                event_type=event_type,
                descending=descending,
                offset=offset,
                limit=limit,
            )
        return [_api_event(row) for row in rows]

    def history_events(self, arn: str, ids: list[int]) -> list[dict[str, Any]]:
        """The execution's events whose ids are ``ids``, oldest first, as GetExecutionHistory returns them."""
        with self._transaction() as session:
            rows = browse.history_events(session, self._facts(session, arn).id, ids)
        return [_api_event(row) for row in rows]

    def _facts(self, session: Any, arn: str) -> Any:
        check_arn(arn, "states", "executionArn")
        facts = browse.execution_facts(session, arn)
        if facts is None:
            raise ServiceError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return facts

    def execution_marker(self, arn: str) -> tuple[int, str]:
        """(last event id, status): changes whenever the execution moves."""
        with self._transaction() as session:
            facts = self._facts(session, arn)
            return facts.last_event_id, facts.status

    def executions_marker(self) -> str:
        with self._transaction() as session:
            return repr(browse.executions_fingerprint(session))

    def tasks_marker(self) -> str:
        with self._transaction() as session:
            return repr(browse.tasks_fingerprint(session))

    def open_task_count(self) -> int:
        with self._transaction() as session:
            return browse.open_task_count(session)

    def open_tasks(self) -> list[dict[str, Any]]:
        """Every task waiting on a token or an activity: where, since when, its deadlines, and the
        message that carried the token (the payload the Task sent)."""
        with self._transaction() as session:
            rows = browse.open_tasks(session)
            deadlines = browse.token_deadlines(session, [row.TaskToken.token for row in rows])
            return [_open_task(row, deadlines.get(row.TaskToken.token, {})) for row in rows]

    def answer_task(
        self, digest: str, *, output: str | None = None, error: str | None = None, cause: str | None = None
    ) -> None:
        """Approve (``output``) or reject (``error``, ``cause``) the waiting task named by ``digest``.
        A task answered already, or no longer waiting, raises TaskTimedOut as SendTask* would."""
        token = self._token_for(digest)
        if output is not None:
            self.send_task_success(token, output)  # type: ignore[attr-defined]
        else:
            self.send_task_failure(token, error=error, cause=cause)  # type: ignore[attr-defined]

    def _token_for(self, digest: str) -> str:
        with self._transaction() as session:
            for row in browse.open_tasks(session, limit=100_000):
                if token_digest(row.TaskToken.token) == digest:
                    return str(row.TaskToken.token)
        raise ServiceError("TaskTimedOut", "This task was already answered, or is no longer waiting")


def aware(moment: dt.datetime) -> dt.datetime:
    """A stored time as UTC: SQLite gives times back without their zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _event_to_read(row: tuple[int, int, dt.datetime, str, Any]) -> dict[str, Any]:
    event_id, previous, moment, kind, details = row
    event = {"id": event_id, "previousEventId": previous, "timestamp": aware(moment), "type": kind}
    if details is not None:
        for key in _PAYLOADS:
            # A payload that parsed to a string or null goes back to JSON text (a few characters), so
            # that a string payload always is JSON text and any other is the value itself.
            if key in details and (details[key] is None or isinstance(details[key], str)):
                details[key] = to_text(details[key])
        event[details_key(kind)] = details
    return event


def _api_event(row: tuple[int, int, dt.datetime, str, Any]) -> dict[str, Any]:
    event_id, previous, moment, kind, details = row
    return Event(event_id, previous, aware(moment), kind, details).to_api()


def _aware_dates(description: dict[str, Any]) -> dict[str, Any]:
    return {k: aware(v) if isinstance(v, dt.datetime) else v for k, v in description.items()}


def _machine_name(session: Any, execution: Any) -> str:
    machine = session.get(StateMachine, execution.state_machine_id)
    return machine.name if machine is not None else ""


def _summary(execution: Any, machine_name: str) -> dict[str, Any]:
    return {
        "arn": execution.arn,
        "name": execution.name,
        "machine": machine_name,
        "status": execution.status,
        "startDate": aware(execution.start_date),
        "stopDate": aware(execution.stop_date) if execution.stop_date else None,
        "error": execution.error,
    }


def _hidden(value: Any, token: str) -> Any:
    """``value`` with the token replaced wherever it appears whole: pages never show a token."""
    if isinstance(value, dict):
        return {k: _hidden(v, token) for k, v in value.items()}
    if isinstance(value, list):
        return [_hidden(v, token) for v in value]
    return "(the task token, hidden)" if value == token else value


def _open_task(row: Any, deadlines: dict[str, dt.datetime]) -> dict[str, Any]:
    task = row.TaskToken
    payload = _hidden(task.payload, task.token)
    message = payload.get("Message") if isinstance(payload, dict) and "Message" in payload else payload
    return {
        "digest": token_digest(task.token),
        "executionArn": row.execution_arn,
        "executionName": row.execution_name,
        "machine": row.machine_name,
        "stateName": task.state_name,
        "resource": task.resource,
        "activity": task.resource.startswith("arn:") and ":activity:" in task.resource,
        "since": aware(task.created_at),
        "timeoutAt": aware(deadlines["task_timeout"]) if "task_timeout" in deadlines else None,
        "heartbeatAt": aware(deadlines["heartbeat"]) if "heartbeat" in deadlines else None,
        "timeoutSeconds": task.timeout_seconds,
        "heartbeatSeconds": task.heartbeat_seconds,
        "subject": payload.get("Subject") if isinstance(payload, dict) else None,
        "message": message,
    }
