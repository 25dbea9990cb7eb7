"""UpdateMapRun: a running Distributed Map takes new limits; more iterations start if there is room."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from orchestrator.config import Settings
from orchestrator.runtime.driver import Tree
from orchestrator.runtime.messages import Message
from orchestrator.store import map_runs, runs


class MapRunNotUpdatable(Exception):
    """The Map Run has ended (AWS: CANNOT_UPDATE_COMPLETED_MAP_RUN)."""


def update(
    session: Session,
    settings: Settings,
    *,
    arn: str,
    max_concurrency: int | None,
    tolerated_count: int | None,
    tolerated_percentage: float | None,
    now: dt.datetime,
) -> list[Message]:
    found = map_runs.by_arn(session, arn)
    if found is None:
        raise LookupError(arn)
    root = runs.lock_execution(session, found.execution_id)
    if found.status != "RUNNING" or root is None or root._mapping["status"] != "RUNNING":
        raise MapRunNotUpdatable(arn)
    limits = {}
    if max_concurrency is not None:
        limits["max_concurrency"] = max_concurrency
    if tolerated_count is not None:
        limits["tolerated_failure_count"] = tolerated_count
    if tolerated_percentage is not None:
        limits["tolerated_failure_percentage"] = tolerated_percentage
    map_runs.set_limits(session, arn, **limits)
    tree = Tree(session, settings, root, now)
    parent = tree.row(found.run_id)
    if parent is None or parent.fan is None or parent.fan.get("mapRunArn") != arn:
        return tree.flush()
    fan = dict(parent.fan)
    if max_concurrency is not None:
        fan["concurrency"] = max_concurrency
    if tolerated_count is not None:
        fan["toleratedCount"] = tolerated_count
    if tolerated_percentage is not None:
        fan["toleratedPercentage"] = tolerated_percentage
    parent.set(fan=fan)
    return tree.settle(lambda: tree.start_children(parent))
