"""Activities: create, describe, delete, list, and GetActivityTask (one claim; the API polls)."""

from __future__ import annotations

from typing import Any

from orchestrator.runtime.activities import claim
from orchestrator.service import pages
from orchestrator.service.base import (
    ServiceBase,
    ServiceError,
    check_arn,
    check_name,
    json_text,
    page_size,
    utcnow,
)
from orchestrator.service.unique import answered_by_the_winner
from orchestrator.store import activities as store
from orchestrator.store.models import Activity


class ActivityActions(ServiceBase):
    def activity_arn(self, name: str) -> str:
        return f"{self._prefix}:activity:{name}"

    @answered_by_the_winner
    def create_activity(self, name: str, *, tags: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """Idempotent by name, as on AWS (other tags are ignored, not applied)."""
        check_name(name, "activity")
        with self._transaction() as session:
            existing = store.by_name(session, name)
            if existing is not None:
                return {"activityArn": existing.arn, "creationDate": existing.created_at}
            now = utcnow()
            activity = store.add(
                session, Activity(arn=self.activity_arn(name), name=name, created_at=now, tags=tags_to_dict(tags or []))
            )
            return {"activityArn": activity.arn, "creationDate": now}

    def describe_activity(self, arn: str) -> dict[str, Any]:
        with self._transaction() as session:
            activity = self._activity(session, arn)
            return {"activityArn": activity.arn, "name": activity.name, "creationDate": activity.created_at}

    def delete_activity(self, arn: str) -> dict[str, Any]:
        check_arn(arn, "states", "activityArn")
        with self._transaction() as session:
            activity = store.by_arn(session, arn)
            if activity is not None:
                store.remove(session, activity.id)
        return {}

    def list_activities(self, *, max_results: int = 0, next_token: str | None = None) -> dict[str, Any]:
        limit = page_size(max_results)
        after = pages.read(self.settings, "ListActivities", next_token, {"after": int})["after"] if next_token else 0
        with self._transaction() as session:
            found = store.page(session, after_id=after, limit=limit + 1)
        out: dict[str, Any] = {
            "activities": [{"activityArn": a.arn, "name": a.name, "creationDate": a.created_at} for a in found[:limit]]
        }
        if len(found) > limit:
            out["nextToken"] = pages.issue(self.settings, "ListActivities", {"after": found[limit - 1].id})
        return out

    def claim_activity_task(self, arn: str, worker_name: str | None = None) -> dict[str, Any] | None:
        """One try at GetActivityTask: ``{taskToken, input}``, or None when no task waits."""
        with self._transaction() as session:
            self._activity(session, arn)
            claimed = claim(session, self.settings, activity_arn=arn, worker_name=worker_name, now=utcnow())
        if claimed is None:
            return None
        self._publish_after_commit(claimed.messages)
        return {"taskToken": claimed.token, "input": json_text(claimed.input)}

    def _activity(self, session: Any, arn: str) -> Activity:
        check_arn(arn, "states", "activityArn")
        activity = store.by_arn(session, arn)
        if activity is None:
            raise ServiceError("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'")
        return activity


def tags_to_dict(tags: list[dict[str, str]]) -> dict[str, str]:
    if len(tags) > 50:
        raise ServiceError("TooManyTags", "A resource can have at most 50 tags")
    out = {}
    for tag in tags:
        key = tag.get("key")
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.startswith("aws:"):
            raise ServiceError("ValidationException", f"Invalid tag key: {key!r}")
        value = tag.get("value", "")
        if not isinstance(value, str) or len(value) > 256:
            raise ServiceError("ValidationException", f"Invalid tag value for {key!r}")
        out[key] = value
    return out
