"""Executions: start, describe, list, stop, and their history."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from orchestrator.engine.history import Event
from orchestrator.runtime import operations
from orchestrator.runtime.driver import load_machine
from orchestrator.runtime.redrive import NotRedrivable, redrivability, redrive
from orchestrator.service import pages
from orchestrator.service.base import (
    ServiceBase,
    ServiceError,
    check_arn,
    check_name,
    json_text,
    map_run_machine_arn,
    page_size,
    parse_input,
    utcnow,
)
from orchestrator.service.unique import answered_by_the_winner
from orchestrator.store import runs
from orchestrator.store import state_machines as catalog
from orchestrator.store.models import Execution, StateMachine


class ExecutionActions(ServiceBase):
    # -- executions ------------------------------------------------------------------------------

    @answered_by_the_winner
    def start_execution(
        self,
        state_machine_arn: str,
        *,
        name: str | None = None,
        input: str | None = None,
        trace_header: str | None = None,
    ) -> dict[str, Any]:
        name = name if name is not None else str(uuid.uuid4())
        check_name(name, "execution")
        text = "{}" if input is None else input
        execution_input = parse_input(text)
        if "/" in state_machine_arn.rsplit(":", 1)[-1]:
            raise ServiceError(
                "ValidationException",
                "This operation does not support a Map Run's labelled ARN",
                reason="API_DOES_NOT_SUPPORT_LABELED_ARNS",
            )
        # One transaction: resolving the target, the idempotency check and the start itself.
        with self._transaction() as session:
            # (its row held against a DeleteStateMachine meanwhile, as `catalog.hold` holds it)
            target = self.resolve_target(session, state_machine_arn, hold=True)  # type: ignore[attr-defined]
            machine = target.machine
            if machine.status != "ACTIVE":
                raise _not_startable(machine, state_machine_arn)
            if machine.type != "EXPRESS":
                arn = self.execution_arn(machine.name, name)
                existing = catalog.started_as(session, arn)
                if existing is not None:
                    return _started_before(existing, execution_input)
                now = utcnow()
                _, messages = operations.start(
                    session,
                    self.settings,
                    machine=load_machine(session, target.definition_hash),
                    execution={
                        "arn": arn,
                        "name": name,
                        "state_machine_id": machine.id,
                        "definition_hash": target.definition_hash,
                        "role_arn": target.role_arn,
                        "state_machine_version_arn": target.version_arn,
                        "state_machine_alias_arn": target.alias_arn,
                        "input": execution_input,
                        "trace_header": trace_header,
                    },
                    now=now,
                    publishing=self.publishing,
                )
        if machine.type == "EXPRESS":  # no idempotency, no history: a worker runs it in memory
            return self._start_express(target, name, execution_input, trace_header)  # type: ignore[attr-defined]
        self._publish_after_commit(messages)
        return {"executionArn": arn, "startDate": now}

    def describe_execution(self, arn: str) -> dict[str, Any]:
        check_arn(arn, "states", "executionArn")
        with self._transaction() as session:
            execution = catalog.execution_described(session, arn)
            if execution is None:
                raise ServiceError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
            out: dict[str, Any] = {
                "executionArn": execution.arn,
                "stateMachineArn": execution.machine_arn,
                "name": _name(execution),
                "status": execution.status,
                "startDate": execution.start_date,
                "input": json_text(execution.input),
                "inputDetails": {"included": True},
                "redriveCount": execution.redrive_count,
                **_redrive_fields(session, execution, execution.machine_status),
            }
            if execution.stop_date is not None:
                out["stopDate"] = execution.stop_date
            if execution.status == "SUCCEEDED":
                out["output"] = json_text(execution.output)
                out["outputDetails"] = {"included": True}
            if execution.error is not None:
                out["error"] = execution.error
            if execution.cause is not None:
                out["cause"] = execution.cause
            if execution.trace_header:
                out["traceHeader"] = execution.trace_header
            if execution.state_machine_version_arn:
                out["stateMachineVersionArn"] = execution.state_machine_version_arn
            if execution.state_machine_alias_arn:
                out["stateMachineAliasArn"] = execution.state_machine_alias_arn
            if execution.map_run_arn is not None:  # a Distributed Map's child, as AWS describes one
                out["stateMachineArn"] = map_run_machine_arn(execution.map_run_arn)
                out["mapRunArn"] = execution.map_run_arn
            return out

    def list_executions(
        self,
        state_machine_arn: str,
        *,
        status_filter: str | None = None,
        max_results: int = 0,
        next_token: str | None = None,
        map_run_arn: str | None = None,
        redrive_filter: str | None = None,
    ) -> dict[str, Any]:
        if redrive_filter is not None and redrive_filter not in ("REDRIVEN", "NOT_REDRIVEN"):
            raise ServiceError(
                "ValidationException",
                f"Value '{redrive_filter}' at 'redriveFilter' failed to satisfy "
                "constraint: Member must satisfy enum value set: [REDRIVEN, NOT_REDRIVEN]",
            )
        if map_run_arn is not None:
            return self.list_map_run_executions(  # type: ignore[attr-defined]
                map_run_arn,
                status_filter=status_filter,
                max_results=max_results,
                next_token=next_token,
                redrive_filter=redrive_filter,
            )
        if status_filter is not None and status_filter not in (
            "RUNNING",
            "SUCCEEDED",
            "FAILED",
            "TIMED_OUT",
            "ABORTED",
            "PENDING_REDRIVE",
        ):
            raise ServiceError(
                "ValidationException",
                f"Value '{status_filter}' at 'statusFilter' failed to satisfy "
                "constraint: Member must satisfy enum value set",
            )
        limit = page_size(max_results)
        scope = f"ListExecutions {state_machine_arn} {status_filter or ''} {redrive_filter or ''}"
        before = None
        if next_token:
            position = pages.read(self.settings, scope, next_token, {"start": dt.datetime, "id": int})
            before = (position["start"], position["id"])
        with self._transaction() as session:
            machine = self._machine(session, state_machine_arn)
            found = catalog.executions_page(
                session,
                machine.id,
                statuses=[status_filter] if status_filter else None,
                before=before,
                limit=limit + 1,
                redriven=None if redrive_filter is None else redrive_filter == "REDRIVEN",
            )
            page = found[:limit]
            redriven = runs.redrive_dates(session, [e.id for e in page if e.redrive_count])
            items = [_execution_item(e, machine.arn, redriven.get(e.id)) for e in page]
        out: dict[str, Any] = {"executions": items}
        if len(found) > limit:
            last = found[limit - 1]
            out["nextToken"] = pages.issue(self.settings, scope, {"start": last.start_date, "id": last.id})
        return out

    def stop_execution(self, arn: str, *, error: str | None = None, cause: str | None = None) -> dict[str, Any]:
        now = utcnow()
        with self._transaction() as session:
            execution = self._execution(session, arn)
            messages = operations.stop(
                session, self.settings, execution_id=execution.id, error=error, cause=cause, now=now
            )
            # the date recorded: ``now`` if this call stopped it, or when it ended before (a second
            # StopExecution answers the same stopDate as DescribeExecution)
            session.refresh(execution, ["stop_date"])
            stopped = execution.stop_date or now
        self._publish_after_commit(messages)
        return {"stopDate": stopped}

    def get_execution_history(
        self,
        arn: str,
        *,
        max_results: int = 0,
        reverse_order: bool = False,
        next_token: str | None = None,
        include_execution_data: bool = True,
    ) -> dict[str, Any]:
        limit = page_size(max_results)
        scope = f"GetExecutionHistory {arn} {reverse_order}"
        after = pages.read(self.settings, scope, next_token, {"after": int})["after"] if next_token else 0
        with self._transaction() as session:
            execution = self._execution(session, arn)
            rows = runs.history_page(session, execution.id, after=after, limit=limit + 1, reverse=reverse_order)
        events = [
            Event(r.id, r.previous_event_id, r.timestamp, r.type, r.details).to_api(include_execution_data)
            for r in rows[:limit]
        ]
        out: dict[str, Any] = {"events": events}
        if len(rows) > limit:
            out["nextToken"] = pages.issue(self.settings, scope, {"after": rows[limit - 1].id})
        return out

    def describe_state_machine_for_execution(self, arn: str) -> dict[str, Any]:
        """The definition the execution runs (a later UpdateStateMachine does not change it)."""
        with self._transaction() as session:
            execution = self._execution(session, arn)
            machine = session.get(StateMachine, execution.state_machine_id)
            assert machine is not None
            return {
                "stateMachineArn": machine.arn,
                "name": machine.name,
                "definition": catalog.definition_text(session, execution.definition_hash),
                "roleArn": execution.role_arn,
                "updateDate": machine.updated_at,
                "loggingConfiguration": machine.logging_configuration
                or {"level": "OFF", "includeExecutionData": False},
                "tracingConfiguration": machine.tracing_configuration or {"enabled": False},
                "revisionId": machine.revision_id,
            }

    def redrive_execution(self, arn: str, *, client_token: str | None = None) -> dict[str, Any]:
        """RedriveExecution: a failed, timed-out or aborted execution goes on from the state where it
        stopped; a Parallel or Map state reruns only its branches or iterations that did not succeed
        (`runtime.redrive`)."""
        now = utcnow()
        with self._transaction() as session:
            execution = self._execution(session, arn)
            if execution.map_run_arn is not None:
                raise ServiceError(
                    "ExecutionNotRedrivable",
                    f"Execution '{arn}' is an iteration of the Map Run '{execution.map_run_arn}': "
                    "redrive the execution that runs it",
                )
            if execution.root_id is not None or execution.cursor is None:
                raise ServiceError("ExecutionNotRedrivable", f"Execution cannot be redriven: '{arn}'")
            machine = session.get(StateMachine, execution.state_machine_id)
            if machine is not None and machine.type == "EXPRESS":
                raise ServiceError("ExecutionNotRedrivable", "Express executions cannot be redriven")
            try:
                redriven = redrive(
                    session, self.settings, execution_id=execution.id, now=now, publishing=self.publishing
                )
            except NotRedrivable as exc:
                raise ServiceError("ExecutionNotRedrivable", f"{exc}.") from None
        self._publish_after_commit(redriven.messages)
        return {"redriveDate": redriven.date}

    def history_after(self, arn: str, after: int, *, limit: int = 1000) -> list[dict[str, Any]]:
        """The events after event id ``after``, oldest first (for following a running execution)."""
        with self._transaction() as session:
            execution = self._execution(session, arn)
            rows = runs.history_page(session, execution.id, after=after, limit=limit, reverse=False)
        return [Event(r.id, r.previous_event_id, r.timestamp, r.type, r.details).to_api() for r in rows]

    def _execution(self, session: Session, arn: str) -> Execution:
        check_arn(arn, "states", "executionArn")
        execution = catalog.execution_by_arn(session, arn)
        if execution is None:
            raise ServiceError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return execution


def _not_startable(machine: StateMachine, arn: str) -> ServiceError:
    if machine.status == "DELETING":
        return ServiceError("StateMachineDeleting", f"State machine is being deleted: '{arn}'")
    return ServiceError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")


def _started_before(existing: Row[Any], execution_input: Any) -> dict[str, Any]:
    """StartExecution of a name already taken: AWS answers as the first call did while that execution
    runs with the same input, and ExecutionAlreadyExists once it has ended or for another input."""
    if existing.status == "RUNNING" and _same_json(existing.input, execution_input):
        return {"executionArn": existing.arn, "startDate": existing.start_date}
    raise ServiceError("ExecutionAlreadyExists", f"Execution Already Exists: '{existing.arn}'")


def _same_json(stored: Any, given: Any) -> bool:
    """Equal as JSON: ``1``, ``1.0`` and ``true`` differ (Python's ``==`` says they do not); key order
    does not matter (an input stored on PostgreSQL before migration 0010 has its keys sorted)."""
    return json.dumps(stored, sort_keys=True) == json.dumps(given, sort_keys=True)


def _redrive_fields(session: Session, execution: Row[Any], machine_status: str) -> dict[str, Any]:
    """DescribeExecution's redriveDate (once redriven), redriveStatus and redriveStatusReason."""
    verdict = redrivability(
        {c: getattr(execution, c) for c in ("status", "next_event_id", "start_date", "stop_date", "map_run_arn")},
        machine_status,
        utcnow(),
    )
    out: dict[str, Any] = {}
    if execution.redrive_count:
        out["redriveDate"] = runs.redrive_dates(session, [execution.id]).get(execution.id)
    out["redriveStatus"] = verdict.status
    if verdict.reason is not None:
        out["redriveStatusReason"] = verdict.reason
    return out


def _name(execution: Execution | Row[Any]) -> str:
    """The execution's name as AWS gives it: its ARN's last part (a Distributed Map's child is named
    ``<uuid>-<index>`` there; its row keeps ``<parent's name>/<index>`` for the engine's own use)."""
    return execution.arn.rsplit(":", 1)[1] if execution.arn else execution.name


def _execution_item(execution: Execution, machine_arn: str, redriven_at: dt.datetime | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "executionArn": execution.arn,
        "stateMachineArn": machine_arn,
        "name": _name(execution),
        "status": execution.status,
        "startDate": execution.start_date,
    }
    if execution.stop_date is not None:
        item["stopDate"] = execution.stop_date
    if execution.redrive_count:
        item["redriveCount"] = execution.redrive_count
        if redriven_at is not None:
            item["redriveDate"] = redriven_at
    return item
