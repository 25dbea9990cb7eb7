"""Distributed Map runs: ListMapRuns, DescribeMapRun, UpdateMapRun, and listing a run's iterations."""

from __future__ import annotations

from typing import Any

from orchestrator.runtime import map_runs as runtime
from orchestrator.service import pages
from orchestrator.service.base import (
    ServiceBase,
    ServiceError,
    check_arn,
    map_run_machine_arn,
    page_size,
    utcnow,
)
from orchestrator.store import map_runs as store
from orchestrator.store import runs
from orchestrator.store import state_machines as catalog
from orchestrator.store.models import MapRun

_COUNTED = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def _histories(session: Any, run: MapRun) -> list[int]:
    """The histories that may hold the Map Run's MapRunRedriven events: the execution's, and that of
    the run whose state started it when that run is a Distributed Map iteration of its own."""
    state_run = runs.load_run(session, run.run_id)
    history_id = state_run._mapping["history_id"] if state_run is not None else None
    return sorted({run.execution_id, history_id or run.execution_id})


class MapRunActions(ServiceBase):
    def list_map_runs(
        self, execution_arn: str, *, max_results: int = 0, next_token: str | None = None
    ) -> dict[str, Any]:
        limit = page_size(max_results)
        scope = f"ListMapRuns {execution_arn}"
        skip = pages.read(self.settings, scope, next_token, {"skip": int})["skip"] if next_token else 0
        with self._transaction() as session:
            execution = self._execution(session, execution_arn)  # type: ignore[attr-defined]
            found = store.of_execution(session, execution.id)
            machine = catalog.by_id(session, execution.state_machine_id)
        page = found[skip : skip + limit]
        out: dict[str, Any] = {
            "mapRuns": [
                {
                    "executionArn": execution_arn,
                    "mapRunArn": r.arn,
                    "stateMachineArn": machine.arn if machine else "",
                    "startDate": r.start_date,
                    **({"stopDate": r.stop_date} if r.stop_date else {}),
                }
                for r in page
            ]
        }
        if skip + limit < len(found):
            out["nextToken"] = pages.issue(self.settings, scope, {"skip": skip + limit})
        return out

    def describe_map_run(self, arn: str) -> dict[str, Any]:
        with self._transaction() as session:
            run = self._map_run(session, arn)
            counts = store.iteration_counts(session, arn)
            execution = catalog.by_id_execution(session, run.execution_id)
            redriven = store.redrive_dates(session, _histories(session, run), arn)
        items = {status.lower().replace("timed_out", "timedOut"): counts.get(status, 0) for status in _COUNTED}
        items.update(
            total=sum(counts.values()),
            resultsWritten=counts.get("SUCCEEDED", 0),
            failuresNotRedrivable=0,
            pendingRedrive=0,
        )
        out: dict[str, Any] = {
            "mapRunArn": arn,
            "executionArn": execution.arn if execution else "",
            "status": run.status,
            "startDate": run.start_date,
            "maxConcurrency": run.max_concurrency,
            "toleratedFailurePercentage": run.tolerated_failure_percentage,
            "toleratedFailureCount": run.tolerated_failure_count,
            "itemCounts": items,
            "executionCounts": dict(items),
            "redriveCount": len(redriven),
        }
        if run.stop_date is not None:
            out["stopDate"] = run.stop_date
        if redriven:
            out["redriveDate"] = redriven[-1]
        return out

    def update_map_run(
        self,
        arn: str,
        *,
        max_concurrency: int | None = None,
        tolerated_failure_percentage: float | None = None,
        tolerated_failure_count: int | None = None,
    ) -> dict[str, Any]:
        if max_concurrency is None and tolerated_failure_percentage is None and tolerated_failure_count is None:
            raise ServiceError(
                "ValidationException",
                "Give maxConcurrency, toleratedFailurePercentage or toleratedFailureCount",
                reason="MISSING_REQUIRED_PARAMETER",
            )
        if tolerated_failure_percentage is not None and not 0 <= tolerated_failure_percentage <= 100:
            raise ServiceError("ValidationException", "toleratedFailurePercentage must be between 0 and 100")
        with self._transaction() as session:
            self._map_run(session, arn)
            try:
                messages = runtime.update(
                    session,
                    self.settings,
                    arn=arn,
                    max_concurrency=max_concurrency,
                    tolerated_count=tolerated_failure_count,
                    tolerated_percentage=tolerated_failure_percentage,
                    now=utcnow(),
                )
            except runtime.MapRunNotUpdatable:
                raise ServiceError(
                    "ValidationException",
                    f"Map Run {arn} has ended and cannot be updated",
                    reason="CANNOT_UPDATE_COMPLETED_MAP_RUN",
                ) from None
        self._publish_after_commit(messages)
        return {}

    def list_map_run_executions(
        self,
        arn: str,
        *,
        status_filter: str | None = None,
        max_results: int = 0,
        next_token: str | None = None,
        redrive_filter: str | None = None,
    ) -> dict[str, Any]:
        limit = page_size(max_results)
        scope = f"ListExecutions {arn} {status_filter or ''} {redrive_filter or ''}"
        after = pages.read(self.settings, scope, next_token, {"after": int})["after"] if next_token else 0
        with self._transaction() as session:
            run = self._map_run(session, arn)
            found = store.iterations_page(
                session,
                arn,
                statuses=[status_filter] if status_filter else None,
                after_id=after,
                limit=limit + 1,
                redriven=None if redrive_filter is None else redrive_filter == "REDRIVEN",
            )
            machine_arn = map_run_machine_arn(arn)
        del run
        out: dict[str, Any] = {
            "executions": [
                {
                    "executionArn": e.arn,
                    "stateMachineArn": machine_arn,
                    "name": e.name,
                    "status": e.status,
                    "startDate": e.start_date,
                    "mapRunArn": arn,
                    **({"stopDate": e.stop_date} if e.stop_date else {}),
                    **({"redriveCount": e.redrive_count} if e.redrive_count else {}),
                }
                for e in found[:limit]
            ]
        }
        if len(found) > limit:
            out["nextToken"] = pages.issue(self.settings, scope, {"after": found[limit - 1].id})
        return out

    def _map_run(self, session: Any, arn: str) -> MapRun:
        check_arn(arn, "states", "mapRunArn")
        found = store.by_arn(session, arn)
        if found is None:
            raise ServiceError("ResourceNotFound", f"Resource not found: '{arn}'")
        return found
