"""State machine versions and aliases: publish, list, delete versions; create, describe, update,
delete, list aliases; and resolving a version or alias ARN to what an execution runs."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from orchestrator.service import pages
from orchestrator.service.base import (
    ServiceBase,
    ServiceError,
    check_arn,
    check_name,
    page_size,
    utcnow,
)
from orchestrator.service.unique import answered_by_the_winner
from orchestrator.store import state_machines as catalog
from orchestrator.store.models import StateMachine, StateMachineAlias, StateMachineVersion


@dataclass(frozen=True, slots=True)
class Target:
    """What a StartExecution ARN names: the machine, the definition to run, and how it was named."""

    machine: StateMachine
    definition_hash: str
    role_arn: str
    version_arn: str | None = None
    alias_arn: str | None = None


def split_qualified(arn: str) -> tuple[str, str | None]:
    """``(state machine ARN, qualifier)``: the qualifier is a version number or an alias name."""
    parts = arn.split(":")
    if len(parts) == 8 and parts[5] == "stateMachine":
        return ":".join(parts[:7]), parts[7]
    return arn, None


class VersionActions(ServiceBase):
    # -- versions --------------------------------------------------------------------------------

    @answered_by_the_winner
    def publish_state_machine_version(
        self, arn: str, *, revision_id: str | None = None, description: str | None = None
    ) -> dict[str, Any]:
        with self._transaction() as session:
            machine = lock(session, self._machine(session, arn))  # type: ignore[attr-defined]
            if machine.status == "DELETING":
                raise ServiceError("StateMachineDeleting", f"State machine is being deleted: '{arn}'")
            if revision_id is not None and revision_id != machine.revision_id:
                raise ServiceError(
                    "ConflictException",
                    f"The revisionId does not match the state machine's latest revision ({machine.revision_id})",
                )
            latest = next(iter(catalog.versions(session, machine.id)), None)
            if latest is not None and latest.revision_id == machine.revision_id:
                return {"creationDate": latest.created_at, "stateMachineVersionArn": f"{machine.arn}:{latest.version}"}
            version_arn = self._publish(session, machine, description)  # type: ignore[attr-defined]
            return {"creationDate": utcnow(), "stateMachineVersionArn": version_arn}

    def list_state_machine_versions(
        self, arn: str, *, max_results: int = 0, next_token: str | None = None
    ) -> dict[str, Any]:
        limit = page_size(max_results)
        scope = f"ListStateMachineVersions {arn}"
        skip = pages.read(self.settings, scope, next_token, {"skip": int})["skip"] if next_token else 0
        with self._transaction() as session:
            machine = self._machine(session, arn)  # type: ignore[attr-defined]
            found = catalog.versions(session, machine.id)
        page = found[skip : skip + limit]
        out: dict[str, Any] = {
            "stateMachineVersions": [
                {"stateMachineVersionArn": f"{machine.arn}:{v.version}", "creationDate": v.created_at} for v in page
            ]
        }
        if skip + limit < len(found):
            out["nextToken"] = pages.issue(self.settings, scope, {"skip": skip + limit})
        return out

    def delete_state_machine_version(self, version_arn: str) -> dict[str, Any]:
        check_arn(version_arn, "states", "stateMachineVersionArn")
        base, qualifier = split_qualified(version_arn)
        if qualifier is None or not qualifier.isdigit():
            raise ServiceError("ValidationException", f"Invalid state machine version ARN: '{version_arn}'")
        with self._transaction() as session:
            machine = catalog.by_arn(session, base)
            if machine is None:
                return {}
            version = catalog.version(session, machine.id, int(qualifier))
            if version is None:
                return {}
            for alias in catalog.aliases(session, machine.id):
                if any(route["stateMachineVersionArn"] == version_arn for route in alias.routing):
                    raise ServiceError(
                        "ConflictException",
                        f"Version {version_arn} is used by alias '{alias.name}': update or delete the alias first",
                    )
            session.delete(version)
        return {}

    # -- aliases ---------------------------------------------------------------------------------

    @answered_by_the_winner
    def create_state_machine_alias(
        self, name: str, routing: list[dict[str, Any]], *, description: str | None = None
    ) -> dict[str, Any]:
        check_name(name, "alias")
        if name.isdigit():
            raise ServiceError("ValidationException", "An alias name cannot be only digits (that names a version)")
        with self._transaction() as session:
            machine = self._routed_machine(session, routing)
            existing = catalog.alias(session, machine.id, name)
            arn = f"{machine.arn}:{name}"
            if existing is not None:
                if existing.routing == routing and existing.description == description:
                    return {"stateMachineAliasArn": arn, "creationDate": existing.created_at}
                raise ServiceError("ConflictException", f"Alias '{name}' already exists with another configuration")
            now = utcnow()
            session.add(
                StateMachineAlias(
                    state_machine_id=machine.id,
                    name=name,
                    description=description,
                    routing=routing,
                    created_at=now,
                    updated_at=now,
                )
            )
            return {"stateMachineAliasArn": arn, "creationDate": now}

    def describe_state_machine_alias(self, alias_arn: str) -> dict[str, Any]:
        with self._transaction() as session:
            _, alias = self._alias(session, alias_arn)
            out = {
                "stateMachineAliasArn": alias_arn,
                "name": alias.name,
                "routingConfiguration": alias.routing,
                "creationDate": alias.created_at,
                "updateDate": alias.updated_at,
            }
            if alias.description is not None:
                out["description"] = alias.description
            return out

    def update_state_machine_alias(
        self, alias_arn: str, *, description: str | None = None, routing: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        if description is None and routing is None:
            raise ServiceError(
                "ValidationException",
                "Either the description or the routingConfiguration must be given",
                reason="MISSING_REQUIRED_PARAMETER",
            )
        with self._transaction() as session:
            machine, alias = self._alias(session, alias_arn)
            if routing is not None:
                if self._routed_machine(session, routing).id != machine.id:
                    raise ServiceError(
                        "ValidationException",
                        "The routing names versions of another state machine",
                        reason="INVALID_ROUTING_CONFIGURATION",
                    )
                alias.routing = routing
            if description is not None:
                alias.description = description
            alias.updated_at = now = utcnow()
            return {"updateDate": now}

    def delete_state_machine_alias(self, alias_arn: str) -> dict[str, Any]:
        with self._transaction() as session:
            try:
                _, alias = self._alias(session, alias_arn)
            except ServiceError as exc:
                if exc.code == "ResourceNotFound":
                    return {}
                raise
            session.delete(alias)
        return {}

    def list_state_machine_aliases(
        self, arn: str, *, max_results: int = 0, next_token: str | None = None
    ) -> dict[str, Any]:
        limit = page_size(max_results)
        scope = f"ListStateMachineAliases {arn}"
        skip = pages.read(self.settings, scope, next_token, {"skip": int})["skip"] if next_token else 0
        with self._transaction() as session:
            machine = self._machine(session, arn)  # type: ignore[attr-defined]
            found = catalog.aliases(session, machine.id)
        out: dict[str, Any] = {
            "stateMachineAliases": [
                {"stateMachineAliasArn": f"{machine.arn}:{a.name}", "creationDate": a.created_at}
                for a in found[skip : skip + limit]
            ]
        }
        if skip + limit < len(found):
            out["nextToken"] = pages.issue(self.settings, scope, {"skip": skip + limit})
        return out

    # -- resolving -------------------------------------------------------------------------------

    def resolve_target(self, session: Session, arn: str, *, hold: bool = False) -> Target:
        """The definition StartExecution runs for a state machine, version or alias ARN; ``hold``:
        the machine's row held (`catalog.hold`) by the statement that reads it."""
        base, qualifier = split_qualified(arn)
        machine = self._machine(session, base, hold=hold)  # type: ignore[attr-defined]
        if qualifier is None:
            return Target(machine, machine.definition_hash, machine.role_arn)
        if qualifier.isdigit():
            version = catalog.version(session, machine.id, int(qualifier))
            if version is None:
                raise ServiceError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
            return Target(machine, version.definition_hash, version.role_arn, version_arn=arn)
        alias = catalog.alias(session, machine.id, qualifier)
        if alias is None:
            raise ServiceError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        chosen = _pick(alias.routing)
        version = catalog.version(session, machine.id, int(chosen.rsplit(":", 1)[1]))
        if version is None:
            raise ServiceError("StateMachineDoesNotExist", f"Alias '{qualifier}' routes to a deleted version")
        return Target(machine, version.definition_hash, version.role_arn, version_arn=chosen, alias_arn=arn)

    def _alias(self, session: Session, alias_arn: str) -> tuple[StateMachine, StateMachineAlias]:
        check_arn(alias_arn, "states", "stateMachineAliasArn")
        base, qualifier = split_qualified(alias_arn)
        if qualifier is None or qualifier.isdigit():
            raise ServiceError("ValidationException", f"Invalid state machine alias ARN: '{alias_arn}'")
        machine = catalog.by_arn(session, base)
        alias = catalog.alias(session, machine.id, qualifier) if machine else None
        if machine is None or alias is None:
            raise ServiceError("ResourceNotFound", f"Resource not found: '{alias_arn}'")
        return machine, alias

    def _routed_machine(self, session: Session, routing: list[dict[str, Any]]) -> StateMachine:
        if not 1 <= len(routing) <= 2 or sum(int(r.get("weight", -1)) for r in routing) != 100:
            raise ServiceError(
                "ValidationException",
                "A routing configuration has one or two versions whose weights add up to 100",
                reason="INVALID_ROUTING_CONFIGURATION",
            )
        machines = set()
        for route in routing:
            version_arn = route.get("stateMachineVersionArn", "")
            base, qualifier = split_qualified(version_arn)
            if qualifier is None or not qualifier.isdigit():
                raise ServiceError(
                    "ValidationException", f"Not a version ARN: '{version_arn}'", reason="INVALID_ROUTING_CONFIGURATION"
                )
            machine = catalog.by_arn(session, base)
            if machine is None or catalog.version(session, machine.id, int(qualifier)) is None:
                raise ServiceError("ResourceNotFound", f"Resource not found: '{version_arn}'")
            machines.add(machine.id)
        if len(machines) != 1:
            raise ServiceError(
                "ValidationException",
                "The versions of an alias belong to one state machine",
                reason="INVALID_ROUTING_CONFIGURATION",
            )
        assert machine is not None
        return machine


def lock(session: Session, machine: StateMachine) -> StateMachine:
    """``machine`` read again with its row locked (``FOR UPDATE`` on PostgreSQL) until the transaction ends.

    Publishing reads the latest version, then adds the next: two publishers of one revision must
    take turns, or both would find no version of it and add one each. (SQLite takes the whole
    database's write lock when the transaction begins.)
    """
    locked = session.get(StateMachine, machine.id, with_for_update=True, populate_existing=True)
    if locked is None:  # deleted since it was read
        raise ServiceError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{machine.arn}'")
    return locked


def _pick(routing: list[dict[str, Any]]) -> str:
    if len(routing) == 1:
        return str(routing[0]["stateMachineVersionArn"])
    roll = random.uniform(0, 100)
    first = routing[0]
    return str(first["stateMachineVersionArn"] if roll < first["weight"] else routing[1]["stateMachineVersionArn"])


__all__ = ["StateMachineVersion", "Target", "VersionActions", "lock", "split_qualified"]
