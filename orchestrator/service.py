"""The use cases, shared by the CLI and the HTTP API: AWS Step Functions' actions on our store.

Each method of `Service` is one action: it validates its arguments as AWS does, runs one
transaction, publishes the messages that transaction decided once it has committed, and returns
the action's result in the API's shape (camelCase keys, datetimes for timestamps). Anything a
caller can get wrong raises `ServiceError` with AWS's error code.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery
from sqlalchemy.orm import Session

from orchestrator import config
from orchestrator.asl.errors import DefinitionError
from orchestrator.asl.parse import parse
from orchestrator.engine.history import Event
from orchestrator.engine.outcomes import TaskFailed, TaskSucceeded
from orchestrator.runtime import operations
from orchestrator.runtime.publish import publish
from orchestrator.store import runs
from orchestrator.store import state_machines as catalog
from orchestrator.store.db import session_scope
from orchestrator.store.models import Execution, StateMachine

MAX_PAYLOAD = 262_144
# Characters AWS refuses in names: whitespace, brackets, wildcards, punctuation and controls.
_BAD_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f\ufffe\uffff]")


class ServiceError(Exception):
    """An action refused: ``code`` is AWS's error name (``ExecutionDoesNotExist``, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Service:
    """The actions, bound to a configuration and a Celery app (for publishing)."""

    def __init__(self, settings: config.Settings | None = None, app: Celery | None = None) -> None:
        self.settings = settings or config.load()
        if app is None:
            from orchestrator.runtime.app import app as default_app

            app = default_app
        self.app = app

    @property
    def publishing(self) -> bool:
        """Whether this process can publish: a real broker, or the embedded runtime running here.

        Otherwise the messages stay in the outbox for the scheduler of the process that runs
        the embedded runtime (``orchestrator run`` in another terminal).
        """
        from orchestrator.runtime import embedded

        return not self.settings.embedded_broker or embedded.is_running()

    def _publish_after_commit(self, messages: list[Any]) -> None:
        if self.publishing:
            publish(self.app, messages)

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with session_scope(self.settings.database_url) as session:
            yield session

    # -- ARNs ------------------------------------------------------------------------------------

    @property
    def _prefix(self) -> str:
        return f"arn:aws:states:{self.settings.region}:{self.settings.account}"

    def state_machine_arn(self, name: str) -> str:
        return f"{self._prefix}:stateMachine:{name}"

    def execution_arn(self, machine_name: str, name: str) -> str:
        return f"{self._prefix}:execution:{machine_name}:{name}"

    # -- state machines --------------------------------------------------------------------------

    def create_state_machine(
        self,
        *,
        name: str,
        definition: str,
        role_arn: str,
        type: str = "STANDARD",
        tags: list[dict[str, str]] | None = None,
        logging_configuration: Any = None,
        tracing_configuration: Any = None,
        publish_version: bool = False,
        version_description: str | None = None,
    ) -> dict[str, Any]:
        _check_name(name, "state machine")
        if type not in ("STANDARD", "EXPRESS"):
            raise ServiceError(
                "ValidationException",
                f"Value '{type}' at 'type' failed to satisfy constraint: "
                "Member must satisfy enum value set: [STANDARD, EXPRESS]",
            )
        _check_definition(definition)
        _check_arn(role_arn, "iam", "roleArn")
        arn = self.state_machine_arn(name)
        with self._transaction() as session:
            existing = catalog.by_name(session, name)
            if existing is not None:
                same = (
                    catalog.definition_text(session, existing.definition_hash) == definition
                    and existing.type == type
                    and existing.role_arn == role_arn
                )
                if existing.status == "DELETING":
                    raise ServiceError("StateMachineDeleting", f"State machine is being deleted: '{arn}'")
                if not same:
                    raise ServiceError("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")
                return {"stateMachineArn": existing.arn, "creationDate": existing.created_at}
            now = utcnow()
            machine = catalog.add(
                session,
                StateMachine(
                    arn=arn,
                    name=name,
                    type=type,
                    status="ACTIVE",
                    definition_hash=catalog.store_definition(session, definition),
                    role_arn=role_arn,
                    revision_id=str(uuid.uuid4()),
                    logging_configuration=logging_configuration,
                    tracing_configuration=tracing_configuration,
                    tags={t["key"]: t.get("value", "") for t in tags or []},
                    created_at=now,
                    updated_at=now,
                ),
            )
            result: dict[str, Any] = {"stateMachineArn": machine.arn, "creationDate": now}
            if publish_version:
                result["stateMachineVersionArn"] = self._publish(session, machine, version_description)
            return result

    def describe_state_machine(self, arn: str) -> dict[str, Any]:
        with self._transaction() as session:
            machine = self._machine(session, arn)
            return self._describe_machine(session, machine)

    def _describe_machine(self, session: Session, machine: StateMachine) -> dict[str, Any]:
        return {
            "stateMachineArn": machine.arn,
            "name": machine.name,
            "status": machine.status,
            "definition": catalog.definition_text(session, machine.definition_hash),
            "roleArn": machine.role_arn,
            "type": machine.type,
            "creationDate": machine.created_at,
            "loggingConfiguration": machine.logging_configuration or {"level": "OFF", "includeExecutionData": False},
            "tracingConfiguration": machine.tracing_configuration or {"enabled": False},
            "revisionId": machine.revision_id,
        }

    def update_state_machine(
        self,
        arn: str,
        *,
        definition: str | None = None,
        role_arn: str | None = None,
        logging_configuration: Any = None,
        tracing_configuration: Any = None,
        publish_version: bool = False,
        version_description: str | None = None,
    ) -> dict[str, Any]:
        if definition is None and role_arn is None and logging_configuration is None and tracing_configuration is None:
            raise ServiceError(
                "MissingRequiredParameter",
                "Either the definition, the role ARN, the LoggingConfiguration, or the "
                "TracingConfiguration must be specified",
            )
        if definition is not None:
            _check_definition(definition)
        if role_arn is not None:
            _check_arn(role_arn, "iam", "roleArn")
        with self._transaction() as session:
            machine = self._machine(session, arn)
            if machine.status == "DELETING":
                raise ServiceError("StateMachineDeleting", f"State machine is being deleted: '{arn}'")
            now = utcnow()
            if definition is not None:
                machine.definition_hash = catalog.store_definition(session, definition)
            if role_arn is not None:
                machine.role_arn = role_arn
            if logging_configuration is not None:
                machine.logging_configuration = logging_configuration
            if tracing_configuration is not None:
                machine.tracing_configuration = tracing_configuration
            machine.revision_id = str(uuid.uuid4())
            machine.updated_at = now
            result: dict[str, Any] = {"updateDate": now, "revisionId": machine.revision_id}
            if publish_version:
                result["stateMachineVersionArn"] = self._publish(session, machine, version_description)
            return result

    def delete_state_machine(self, arn: str) -> dict[str, Any]:
        """Executions still running end when they next move (as on AWS, asynchronously)."""
        _check_arn(arn, "states", "stateMachineArn")
        with self._transaction() as session:
            machine = catalog.by_arn(session, arn)
            if machine is None:
                return {}
            running = [
                e for e in catalog.executions_page(session, machine.id, statuses=["RUNNING"], before=None, limit=10_000)
            ]
            for execution in running:
                operations.stop(
                    session,
                    execution_id=execution.id,
                    error="States.Runtime",
                    cause="The state machine was deleted",
                    now=utcnow(),
                )
            catalog.remove(session, machine.id)
        return {}

    def list_state_machines(self, *, max_results: int = 0, next_token: str | None = None) -> dict[str, Any]:
        limit = _page_size(max_results)
        after = int(_decode_token(next_token).get("after", 0)) if next_token else 0
        with self._transaction() as session:
            machines = catalog.page(session, after_id=after, limit=limit + 1)
        out: dict[str, Any] = {
            "stateMachines": [
                {"stateMachineArn": m.arn, "name": m.name, "type": m.type, "creationDate": m.created_at}
                for m in machines[:limit]
            ]
        }
        if len(machines) > limit:
            out["nextToken"] = _encode_token({"after": machines[limit - 1].id})
        return out

    def _publish(self, session: Session, machine: StateMachine, description: str | None) -> str:
        from orchestrator.store.models import StateMachineVersion

        number = catalog.latest_version_number(session, machine.id) + 1
        session.add(
            StateMachineVersion(
                state_machine_id=machine.id,
                version=number,
                definition_hash=machine.definition_hash,
                role_arn=machine.role_arn,
                revision_id=machine.revision_id,
                description=description,
                created_at=utcnow(),
            )
        )
        session.flush()
        return f"{machine.arn}:{number}"

    def _machine(self, session: Session, arn: str) -> StateMachine:
        _check_arn(arn, "states", "stateMachineArn")
        machine = catalog.by_arn(session, arn)
        if machine is None:
            raise ServiceError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return machine

    # -- executions ------------------------------------------------------------------------------

    def start_execution(
        self,
        state_machine_arn: str,
        *,
        name: str | None = None,
        input: str | None = None,
        trace_header: str | None = None,
    ) -> dict[str, Any]:
        name = name if name is not None else str(uuid.uuid4())
        _check_name(name, "execution")
        text = "{}" if input is None else input
        execution_input = _parse_input(text)
        with self._transaction() as session:
            machine = self._machine(session, state_machine_arn)
            if machine.status == "DELETING":
                raise ServiceError("StateMachineDeleting", f"State machine is being deleted: '{state_machine_arn}'")
            if machine.type == "EXPRESS":
                raise ServiceError(
                    "StateMachineTypeNotSupported",
                    "EXPRESS state machines run through StartSyncExecution or the HTTP API",
                )
            arn = self.execution_arn(machine.name, name)
            existing = catalog.execution_by_arn(session, arn)
            if existing is not None:
                if existing.status == "RUNNING" and existing.input == execution_input:
                    return {"executionArn": existing.arn, "startDate": existing.start_date}
                raise ServiceError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
            definition = catalog.definition_text(session, machine.definition_hash)
            now = utcnow()
            _, messages = operations.start(
                session,
                self.settings,
                machine=parse(definition),
                execution={
                    "arn": arn,
                    "name": name,
                    "state_machine_id": machine.id,
                    "definition_hash": machine.definition_hash,
                    "role_arn": machine.role_arn,
                    "input": execution_input,
                    "trace_header": trace_header,
                },
                now=now,
                publishing=self.publishing,
            )
        self._publish_after_commit(messages)
        return {"executionArn": arn, "startDate": now}

    def describe_execution(self, arn: str) -> dict[str, Any]:
        with self._transaction() as session:
            execution = self._execution(session, arn)
            machine = session.get(StateMachine, execution.state_machine_id)
            assert machine is not None
            out: dict[str, Any] = {
                "executionArn": execution.arn,
                "stateMachineArn": machine.arn,
                "name": execution.name,
                "status": execution.status,
                "startDate": execution.start_date,
                "input": _text(execution.input),
                "inputDetails": {"included": True},
                "redriveCount": execution.redrive_count,
                "redriveStatus": "NOT_REDRIVABLE" if execution.status in ("RUNNING", "SUCCEEDED") else "REDRIVABLE",
            }
            if execution.stop_date is not None:
                out["stopDate"] = execution.stop_date
            if execution.status == "SUCCEEDED":
                out["output"] = _text(execution.output)
                out["outputDetails"] = {"included": True}
            if execution.error is not None:
                out["error"] = execution.error
            if execution.cause is not None:
                out["cause"] = execution.cause
            if execution.trace_header:
                out["traceHeader"] = execution.trace_header
            return out

    def list_executions(
        self,
        state_machine_arn: str,
        *,
        status_filter: str | None = None,
        max_results: int = 0,
        next_token: str | None = None,
    ) -> dict[str, Any]:
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
        limit = _page_size(max_results)
        before = None
        if next_token:
            token = _decode_token(next_token)
            before = (dt.datetime.fromisoformat(token["start"]), int(token["id"]))
        with self._transaction() as session:
            machine = self._machine(session, state_machine_arn)
            found = catalog.executions_page(
                session,
                machine.id,
                statuses=[status_filter] if status_filter else None,
                before=before,
                limit=limit + 1,
            )
            items = [_execution_item(e, machine.arn) for e in found[:limit]]
        out: dict[str, Any] = {"executions": items}
        if len(found) > limit:
            last = found[limit - 1]
            out["nextToken"] = _encode_token({"start": last.start_date.isoformat(), "id": last.id})
        return out

    def stop_execution(self, arn: str, *, error: str | None = None, cause: str | None = None) -> dict[str, Any]:
        now = utcnow()
        with self._transaction() as session:
            execution = self._execution(session, arn)
            operations.stop(session, execution_id=execution.id, error=error, cause=cause, now=now)
        return {"stopDate": now}

    def get_execution_history(
        self,
        arn: str,
        *,
        max_results: int = 0,
        reverse_order: bool = False,
        next_token: str | None = None,
        include_execution_data: bool = True,
    ) -> dict[str, Any]:
        limit = _page_size(max_results)
        after = int(_decode_token(next_token)["after"]) if next_token else 0
        with self._transaction() as session:
            execution = self._execution(session, arn)
            rows = runs.history_page(session, execution.id, after=after, limit=limit + 1, reverse=reverse_order)
        events = [
            Event(r.id, r.previous_event_id, r.timestamp, r.type, r.details).to_api(include_execution_data)
            for r in rows[:limit]
        ]
        out: dict[str, Any] = {"events": events}
        if len(rows) > limit:
            out["nextToken"] = _encode_token({"after": rows[limit - 1].id})
        return out

    def history_after(self, arn: str, after: int, *, limit: int = 1000) -> list[dict[str, Any]]:
        """The events after event id ``after``, oldest first (for following a running execution)."""
        with self._transaction() as session:
            execution = self._execution(session, arn)
            rows = runs.history_page(session, execution.id, after=after, limit=limit, reverse=False)
        return [Event(r.id, r.previous_event_id, r.timestamp, r.type, r.details).to_api() for r in rows]

    def _execution(self, session: Session, arn: str) -> Execution:
        _check_arn(arn, "states", "executionArn")
        execution = catalog.execution_by_arn(session, arn)
        if execution is None:
            raise ServiceError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return execution

    # -- task tokens -----------------------------------------------------------------------------

    def send_task_success(self, token: str, output: str) -> dict[str, Any]:
        _check_token(token)
        try:
            value = json.loads(output)
        except (TypeError, json.JSONDecodeError) as exc:
            raise ServiceError("InvalidOutput", f"Invalid Output: '{exc}'") from None
        if len(output.encode()) > MAX_PAYLOAD:
            raise ServiceError("InvalidOutput", "The output exceeds the maximum size of 262144 bytes")
        return self._complete(token, TaskSucceeded(value))

    def send_task_failure(self, token: str, *, error: str | None = None, cause: str | None = None) -> dict[str, Any]:
        _check_token(token)
        if error is not None and len(error) > 256:
            raise ServiceError("ValidationException", "error: Member must have length less than or equal to 256")
        if cause is not None and len(cause) > 32768:
            raise ServiceError("ValidationException", "cause: Member must have length less than or equal to 32768")
        return self._complete(token, TaskFailed(error, cause))

    def send_task_heartbeat(self, token: str) -> dict[str, Any]:
        _check_token(token)
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
                execution = session.get(Execution, m["execution_id"])
                out.append(
                    {
                        "token": m["token"],
                        "executionArn": execution.arn if execution else None,
                        "stateName": m["state_name"],
                        "resource": m["resource"],
                        "since": m["created_at"],
                        "payload": m["payload"],
                    }
                )
            return out


# -- validation ----------------------------------------------------------------------------------------


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 80 or _BAD_NAME.search(name):
        raise ServiceError(
            "InvalidName",
            f"Invalid Name: '{name}' (a {what} name is 1 to 80 characters, without "
            'spaces, brackets, wildcards or the characters " # % \\ ^ | ~ ` $ & , ; : /)',
        )


def _check_definition(text: str) -> None:
    try:
        parse(text)
    except DefinitionError as exc:
        problems = "; ".join(f"{d.code}: {d.message} at {d.location or '/'}" for d in exc.diagnostics[:10])
        raise ServiceError("InvalidDefinition", f"Invalid State Machine Definition: '{problems}'") from None


def _check_arn(arn: str, service: str, field: str) -> None:
    parts = arn.split(":") if isinstance(arn, str) else []
    if len(parts) < 6 or parts[0] != "arn" or parts[2] != service:
        raise ServiceError(
            "InvalidArn",
            f"Invalid Arn: 'Resource type not valid in this context: {arn}'"
            if parts[:1] == ["arn"]
            else f"Invalid Arn: '{arn}' (the {field} must be an ARN)",
        )


def _check_token(token: str) -> None:
    if not isinstance(token, str) or not 1 <= len(token) <= 2048:
        raise ServiceError("InvalidToken", "Invalid Token: a task token is 1 to 2048 characters")


def _parse_input(text: str) -> Any:
    if len(text.encode()) > MAX_PAYLOAD:
        raise ServiceError("InvalidExecutionInput", "The input exceeds the maximum size of 262144 bytes")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ServiceError(
            "InvalidExecutionInput",
            f"Invalid State Machine Execution Input: '{exc.msg} at line {exc.lineno} column {exc.colno}'",
        ) from None


def _page_size(max_results: int) -> int:
    if not 0 <= max_results <= 1000:
        raise ServiceError("ValidationException", "maxResults must be between 0 and 1000")
    return max_results or 100


def _encode_token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _decode_token(token: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(data, dict):
            raise ValueError
        return data
    except (ValueError, TypeError):
        raise ServiceError("InvalidToken", f"Invalid Token: '{token}'") from None


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _execution_item(execution: Execution, machine_arn: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "executionArn": execution.arn,
        "stateMachineArn": machine_arn,
        "name": execution.name,
        "status": execution.status,
        "startDate": execution.start_date,
    }
    if execution.stop_date is not None:
        item["stopDate"] = execution.stop_date
    return item
