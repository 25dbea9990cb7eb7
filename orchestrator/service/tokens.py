"""Task tokens: SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat, and the tasks waiting on one."""

from __future__ import annotations

from typing import Any

from orchestrator.asl import json_values
from orchestrator.engine.outcomes import TaskFailed, TaskSucceeded
from orchestrator.runtime import operations
from orchestrator.service.base import MAX_PAYLOAD, ServiceBase, ServiceError, check_token, utcnow
from orchestrator.store import runs


class TaskTokenActions(ServiceBase):
    # -- task tokens -----------------------------------------------------------------------------

    def send_task_success(self, token: str, output: str) -> dict[str, Any]:
        check_token(token)
        try:
            value = json_values.loads(output)
        except (TypeError, ValueError) as exc:  # not JSON, or NaN and the like (AWS refuses them too)
            raise ServiceError("InvalidOutput", f"Invalid Output: '{exc}'") from None
        if len(output.encode()) > MAX_PAYLOAD:
            raise ServiceError("InvalidOutput", "The output exceeds the maximum size of 262144 bytes")
        return self._complete(token, TaskSucceeded(value))

    def send_task_failure(self, token: str, *, error: str | None = None, cause: str | None = None) -> dict[str, Any]:
        check_token(token)
        if error is not None and len(error) > 256:
            raise ServiceError("ValidationException", "error: Member must have length less than or equal to 256")
        if cause is not None and len(cause) > 32768:
            raise ServiceError("ValidationException", "cause: Member must have length less than or equal to 32768")
        return self._complete(token, TaskFailed(error, cause))

    def send_task_heartbeat(self, token: str) -> dict[str, Any]:
        check_token(token)
        with self._transaction() as session:
            try:
                operations.heartbeat(session, token=token, now=utcnow())
            except operations.TaskTokenError as exc:
                raise ServiceError(exc.code, exc.message) from None
        return {}

    def _complete(self, token: str, delivery: TaskSucceeded | TaskFailed) -> dict[str, Any]:
        with self._transaction() as session:
            try:
                messages = operations.complete_task(
                    session, self.settings, token=token, delivery=delivery, now=utcnow(), publishing=self.publishing
                )
            except operations.TaskTokenError as exc:
                raise ServiceError(exc.code, exc.message) from None
        self._publish_after_commit(messages)
        return {}

    def pending_tokens(self) -> list[dict[str, Any]]:
        """Every task waiting on a token: where, since when, and the payload that carried the token."""
        with self._transaction() as session:
            rows = runs.pending_tokens(session)
            out = []
            for row in rows:
                m = row._mapping
                out.append(
                    {
                        "token": m["token"],
                        "executionArn": m["execution_arn"],
                        "stateName": m["state_name"],
                        "resource": m["resource"],
                        "since": m["created_at"],
                        "payload": m["payload"],
                    }
                )
            return out
