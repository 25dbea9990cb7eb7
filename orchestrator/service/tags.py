"""Tags on state machines and activities: TagResource, UntagResource, ListTagsForResource."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from orchestrator.service.activities import tags_to_dict
from orchestrator.service.base import ServiceBase, ServiceError, check_arn
from orchestrator.store import activities
from orchestrator.store import state_machines as catalog
from orchestrator.store.models import Activity, StateMachine

MAX_TAGS = 50


class TagActions(ServiceBase):
    def tag_resource(self, arn: str, tags: list[dict[str, str]]) -> dict[str, Any]:
        added = tags_to_dict(tags)
        with self._transaction() as session:
            resource = self._taggable(session, arn)
            merged = {**(resource.tags or {}), **added}
            if len(merged) > MAX_TAGS:
                raise ServiceError("TooManyTags", f"A resource can have at most {MAX_TAGS} tags")
            resource.tags = merged
        return {}

    def untag_resource(self, arn: str, keys: list[str]) -> dict[str, Any]:
        with self._transaction() as session:
            resource = self._taggable(session, arn)
            resource.tags = {k: v for k, v in (resource.tags or {}).items() if k not in set(keys)}
        return {}

    def list_tags_for_resource(self, arn: str) -> dict[str, Any]:
        with self._transaction() as session:
            resource = self._taggable(session, arn)
            return {"tags": [{"key": k, "value": v} for k, v in sorted((resource.tags or {}).items())]}

    def _taggable(self, session: Session, arn: str) -> StateMachine | Activity:
        check_arn(arn, "states", "resourceArn")
        found: StateMachine | Activity | None = None
        if ":stateMachine:" in arn:
            found = catalog.by_arn(session, arn)
        elif ":activity:" in arn:
            found = activities.by_arn(session, arn)
        if found is None:
            raise ServiceError("ResourceNotFound", f"Resource not found: '{arn}'")
        return found
