"""State machines: create, describe, update, delete, list (and publishing a version on the way)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from orchestrator.asl.parse import validate
from orchestrator.service import pages
from orchestrator.service.activities import tags_to_dict
from orchestrator.service.base import (
    ServiceBase,
    ServiceError,
    check_arn,
    check_definition,
    check_name,
    page_size,
    utcnow,
)
from orchestrator.service.unique import answered_by_the_winner
from orchestrator.service.versions import lock, split_qualified
from orchestrator.store import state_machines as catalog
from orchestrator.store.models import StateMachine, StateMachineVersion

_NO_LOGGING = {"level": "OFF", "includeExecutionData": False}
_NO_TRACING = {"enabled": False}


@dataclass(frozen=True, slots=True)
class _Wanted:
    """What makes two CreateStateMachine calls of one name the same call (besides publishing)."""

    definition: str
    type: str
    logging: Any
    tracing: Any

    def __post_init__(self) -> None:
        # Leaving a configuration out asks for its default, which is what DescribeStateMachine shows.
        object.__setattr__(self, "logging", self.logging or _NO_LOGGING)
        object.__setattr__(self, "tracing", self.tracing or _NO_TRACING)

    @classmethod
    def of(cls, session: Session, machine: StateMachine) -> _Wanted:
        definition = catalog.definition_text(session, machine.definition_hash)
        return cls(definition, machine.type, machine.logging_configuration, machine.tracing_configuration)


class StateMachineActions(ServiceBase):
    # -- state machines --------------------------------------------------------------------------

    @answered_by_the_winner
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
        check_name(name, "state machine")
        _check_type(type)
        check_definition(definition, type)
        check_arn(role_arn, "iam", "roleArn")
        arn = self.state_machine_arn(name)
        with self._transaction() as session:
            existing = catalog.by_name(session, name)
            if existing is not None:
                wanted = _Wanted(definition, type, logging_configuration, tracing_configuration)
                return self._created_before(session, existing, wanted, publish_version, version_description)
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
                    tags=tags_to_dict(tags or []),
                    created_at=now,
                    updated_at=now,
                ),
            )
            result: dict[str, Any] = {"stateMachineArn": machine.arn, "creationDate": now}
            if publish_version:
                result["stateMachineVersionArn"] = self._publish(session, machine, version_description)
            return result

    def _created_before(
        self,
        session: Session,
        existing: StateMachine,
        wanted: _Wanted,
        publish_version: bool,
        version_description: str | None,
    ) -> dict[str, Any]:
        """CreateStateMachine of a name already taken. AWS: the call is idempotent when the definition,
        type, logging and tracing configurations, and the publish and versionDescription parameters
        match; a different roleArn or tags are ignored (and not updated)."""
        if existing.status == "DELETING":
            raise ServiceError("StateMachineDeleting", f"State machine is being deleted: '{existing.arn}'")
        result: dict[str, Any] = {"stateMachineArn": existing.arn, "creationDate": existing.created_at}
        version = None
        if publish_version:
            latest = next(iter(catalog.versions(session, existing.id)), None)
            published = latest is not None and latest.revision_id == existing.revision_id
            version = latest if published and latest.description == version_description else None
        if wanted != _Wanted.of(session, existing) or (publish_version and version is None):
            raise ServiceError("StateMachineAlreadyExists", f"State Machine Already Exists: '{existing.arn}'")
        if version is not None:
            result["stateMachineVersionArn"] = f"{existing.arn}:{version.version}"
        return result

    def validate_definition(
        self, definition: str, *, type: str = "STANDARD", severity: str = "ERROR", max_results: int = 100
    ) -> dict[str, Any]:
        """ValidateStateMachineDefinition: every problem, errors first; ``severity`` WARNING adds warnings."""
        if severity not in ("ERROR", "WARNING"):
            raise ServiceError(
                "ValidationException",
                f"Value '{severity}' at 'severity' failed to satisfy constraint: "
                "Member must satisfy enum value set: [ERROR, WARNING]",
            )
        _check_type(type)
        found = validate(definition, state_machine_type=type)
        diagnostics = [d for d in found if severity == "WARNING" or d.severity == "ERROR"]
        failed = any(d.severity == "ERROR" for d in diagnostics)
        limit = max_results or 100
        return {
            "result": "FAIL" if failed else "OK",
            "diagnostics": [d.to_json() for d in diagnostics[:limit]],
            "truncated": len(diagnostics) > limit,
        }

    def describe_state_machine(self, arn: str) -> dict[str, Any]:
        """A state machine, or one of its versions (``arn:...:stateMachine:NAME:3``)."""
        base, qualifier = split_qualified(arn)
        with self._transaction() as session:
            machine = self._machine(session, base)
            described = self._describe_machine(session, machine)
            if qualifier is None:
                return described
            version = catalog.version(session, machine.id, int(qualifier)) if qualifier.isdigit() else None
            if version is None:
                raise ServiceError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
            described.update(
                stateMachineArn=arn,
                definition=catalog.definition_text(session, version.definition_hash),
                roleArn=version.role_arn,
                revisionId=version.revision_id,
                creationDate=version.created_at,
            )
            if version.description is not None:
                described["description"] = version.description
            return described

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
            check_definition(definition)
        if role_arn is not None:
            check_arn(role_arn, "iam", "roleArn")
        with self._transaction() as session:
            # Locked first: a version published on the way must be of this revision, not a concurrent one.
            machine = lock(session, self._machine(session, arn))
            if machine.status == "DELETING":
                raise ServiceError("StateMachineDeleting", f"State machine is being deleted: '{arn}'")
            if definition is not None and machine.type == "EXPRESS":
                check_definition(definition, "EXPRESS")
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
        """DeleteStateMachine as AWS documents it: the machine is DELETING, starts no execution, and
        loses its versions and aliases at once; its running executions end at their next state
        transition (`runtime.ending.end_if_deleted`); once none runs, it is DELETED: gone for the
        API, while its executions and their history stay in the tables. An EXPRESS machine is
        deleted at once (its running executions go on to their end, keeping no history anyway)."""
        check_arn(arn, "states", "stateMachineArn")
        with self._transaction() as session:
            found = catalog.by_arn(session, arn)
            if found is None:
                return {}
            # Locked: a start in flight (its foreign key holds the row) commits first, and is seen below.
            machine = lock(session, found)
            if machine.status == "ACTIVE":
                catalog.mark_deleting(session, machine.id)
                catalog.remove_versions_and_aliases(session, machine.id)
            if machine.type == "EXPRESS" or not catalog.lock_running_executions(session, machine.id):
                catalog.mark_deleted(session, machine.id)
        return {}

    def list_state_machines(self, *, max_results: int = 0, next_token: str | None = None) -> dict[str, Any]:
        limit = page_size(max_results)
        after = pages.read(self.settings, "ListStateMachines", next_token, {"after": int})["after"] if next_token else 0
        with self._transaction() as session:
            machines = catalog.page(session, after_id=after, limit=limit + 1)
        out: dict[str, Any] = {
            "stateMachines": [
                {"stateMachineArn": m.arn, "name": m.name, "type": m.type, "creationDate": m.created_at}
                for m in machines[:limit]
            ]
        }
        if len(machines) > limit:
            out["nextToken"] = pages.issue(self.settings, "ListStateMachines", {"after": machines[limit - 1].id})
        return out

    def _publish(self, session: Session, machine: StateMachine, description: str | None) -> str:
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

    def _machine(self, session: Session, arn: str, *, hold: bool = False) -> StateMachine:
        check_arn(arn, "states", "stateMachineArn")
        if split_qualified(arn)[1] is not None:
            raise ServiceError(
                "ValidationException", f"A state machine ARN is needed here, not a version or alias ARN: '{arn}'"
            )
        machine = catalog.by_arn(session, arn, hold=hold)
        if machine is None:
            raise ServiceError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return machine


def _check_type(type: str) -> None:
    if type not in ("STANDARD", "EXPRESS"):
        raise ServiceError(
            "ValidationException",
            f"Value '{type}' at 'type' failed to satisfy constraint: "
            "Member must satisfy enum value set: [STANDARD, EXPRESS]",
        )
