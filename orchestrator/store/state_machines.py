"""Queries on state machines, their versions and aliases, and executions as the API lists them."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, select, tuple_, update
from sqlalchemy.orm import Session

from orchestrator.store import runs
from orchestrator.store.models import Execution, StateMachine, StateMachineAlias, StateMachineVersion


def definition_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def store_definition(session: Session, text: str) -> str:
    digest = definition_hash(text)
    runs.save_definition(session, digest, text)
    return digest


# A DELETED machine's row stays for its executions' sake; to the API it is gone.
LIVE = StateMachine.status != "DELETED"


def by_arn(session: Session, arn: str, *, hold: bool = False) -> StateMachine | None:
    """The live (ACTIVE or DELETING) state machine of this ARN; ``hold``: its row held as `hold`
    holds it, in the same statement."""
    query = select(StateMachine).where(StateMachine.arn == arn, LIVE)
    return session.scalar(query.with_for_update(key_share=True) if hold else query)


def by_name(session: Session, name: str) -> StateMachine | None:
    """The live (ACTIVE or DELETING) state machine of this name."""
    return session.scalar(select(StateMachine).where(StateMachine.name == name, LIVE))


def add(session: Session, machine: StateMachine) -> StateMachine:
    session.add(machine)
    session.flush()
    return machine


def page(session: Session, *, after_id: int, limit: int) -> list[StateMachine]:
    query = select(StateMachine).where(StateMachine.id > after_id, LIVE).order_by(StateMachine.id).limit(limit)
    return list(session.scalars(query))


# -- deleting --------------------------------------------------------------------------------------


def identity(session: Session, machine_id: int) -> tuple[str, str]:
    """The machine's (status, name)."""
    row = session.execute(select(StateMachine.status, StateMachine.name).where(StateMachine.id == machine_id)).one()
    return row[0], row[1]


def hold(session: Session, machine: StateMachine) -> StateMachine:
    """``machine`` read again, its row held (FOR KEY SHARE, as the foreign key of an execution
    inserted next holds it) until the transaction ends: a DeleteStateMachine under way is waited
    for and its status seen, and one coming next waits for this transaction."""
    held = session.get(StateMachine, machine.id, with_for_update={"key_share": True}, populate_existing=True)
    assert held is not None  # the row of a deleted machine stays
    return held


def mark_deleting(session: Session, machine_id: int) -> None:
    session.execute(update(StateMachine).where(StateMachine.id == machine_id).values(status="DELETING"))


def mark_deleted(session: Session, machine_id: int) -> None:
    session.execute(update(StateMachine).where(StateMachine.id == machine_id).values(status="DELETED"))


def remove_versions_and_aliases(session: Session, machine_id: int) -> None:
    session.execute(delete(StateMachineAlias).where(StateMachineAlias.state_machine_id == machine_id))
    session.execute(delete(StateMachineVersion).where(StateMachineVersion.state_machine_id == machine_id))


def lock_running_executions(session: Session, machine_id: int) -> list[int]:
    """The machine's running executions, their rows locked. A transaction stepping one of them holds
    its lock: this waits for it to commit, and then sees whether it ended."""
    return list(
        session.scalars(
            select(Execution.id)
            .where(Execution.state_machine_id == machine_id, Execution.root_id.is_(None), Execution.status == "RUNNING")
            .with_for_update()
        )
    )


def running_executions(session: Session, machine_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Execution)
            .where(
                Execution.state_machine_id == machine_id,
                Execution.root_id.is_(None),
                Execution.status == "RUNNING",
            )
        )
        or 0
    )


def delete_when_idle(session: Session, machine_id: int) -> bool:
    """A DELETING machine none of whose executions runs any more becomes DELETED; True if it did.

    Its row is locked before counting, so that of two executions ending at once in two transactions,
    the second waits for the first and sees it ended (each alone would see the other still running).
    A machine not being deleted is only read, not locked (every StopExecution comes here).
    """
    query = select(StateMachine.status).where(StateMachine.id == machine_id)
    if session.scalar(query) != "DELETING" or session.scalar(query.with_for_update()) != "DELETING":
        return False
    if running_executions(session, machine_id):
        return False
    mark_deleted(session, machine_id)
    return True


def definition_text(session: Session, digest: str) -> str:
    text = runs.definition_text(session, digest)
    assert text is not None, f"definition {digest} is missing"
    return text


# -- versions and aliases ------------------------------------------------------------------------------


def versions(session: Session, machine_id: int) -> list[StateMachineVersion]:
    query = select(StateMachineVersion).where(StateMachineVersion.state_machine_id == machine_id)
    return list(session.scalars(query.order_by(StateMachineVersion.version.desc())))


def version(session: Session, machine_id: int, number: int) -> StateMachineVersion | None:
    return session.scalar(
        select(StateMachineVersion).where(
            StateMachineVersion.state_machine_id == machine_id, StateMachineVersion.version == number
        )
    )


def latest_version_number(session: Session, machine_id: int) -> int:
    return int(
        session.scalar(
            select(func.max(StateMachineVersion.version)).where(StateMachineVersion.state_machine_id == machine_id)
        )
        or 0
    )


def aliases(session: Session, machine_id: int) -> list[StateMachineAlias]:
    query = select(StateMachineAlias).where(StateMachineAlias.state_machine_id == machine_id)
    return list(session.scalars(query.order_by(StateMachineAlias.name)))


def alias(session: Session, machine_id: int, name: str) -> StateMachineAlias | None:
    return session.scalar(
        select(StateMachineAlias).where(
            StateMachineAlias.state_machine_id == machine_id, StateMachineAlias.name == name
        )
    )


# -- executions as the API sees them ---------------------------------------------------------------


def execution_by_arn(session: Session, arn: str) -> Execution | None:
    return session.scalar(select(Execution).where(Execution.arn == arn))


_E = Execution.__table__
_SM = StateMachine.__table__

# What DescribeExecution answers with: the execution's columns it shows and its state machine's ARN
# and status, in one query built once. Table columns, not the ORM's attributes, keep it off the ORM's
# execution path, and a bind parameter keeps it from being built again on every call: together they
# were half of the action's CPU (`bench/README.md`).
_DESCRIBING = (
    select(
        *(
            _E.c[name]
            for name in (
                "id", "arn", "name", "status", "start_date", "stop_date", "input", "output", "error", "cause",
                "trace_header", "state_machine_version_arn", "state_machine_alias_arn", "map_run_arn",
                "redrive_count", "next_event_id",
            )
        ),
        _SM.c.arn.label("machine_arn"),
        _SM.c.status.label("machine_status"),
    )
    .join_from(_E, _SM, _SM.c.id == _E.c.state_machine_id)
    .where(_E.c.arn == bindparam("arn"))
)  # fmt: skip

# StartExecution's idempotency check, built once as `_DESCRIBING` is.
_STARTED_AS = select(_E.c.arn, _E.c.status, _E.c.input, _E.c.start_date).where(_E.c.arn == bindparam("arn"))


def execution_described(session: Session, arn: str) -> Row[Any] | None:
    """The execution ``arn`` as DescribeExecution shows it (`_DESCRIBING`), or None."""
    return session.execute(_DESCRIBING, {"arn": arn}).first()


def started_as(session: Session, arn: str) -> Row[Any] | None:
    """The execution ``arn`` as StartExecution's idempotency check needs it (arn, status, input,
    start_date), or None."""
    return session.execute(_STARTED_AS, {"arn": arn}).first()


def executions_page(
    session: Session,
    machine_id: int,
    *,
    statuses: Sequence[str] | None,
    before: tuple[Any, int] | None,
    limit: int,
    redriven: bool | None = None,
) -> list[Execution]:
    """Executions of a state machine, newest first; ``before`` is (start_date, id) of the previous page's last.
    ``redriven``: only those redriven at least once (True), or never (False)."""
    query = select(Execution).where(Execution.state_machine_id == machine_id, Execution.root_id.is_(None))
    if statuses:
        query = query.where(Execution.status.in_(list(statuses)))
    if redriven is not None:
        query = query.where(Execution.redrive_count > 0 if redriven else Execution.redrive_count == 0)
    if before is not None:
        # A row comparison, not "a < x OR (a = x AND b < y)": PostgreSQL starts the index scan at the
        # previous page's end instead of at the newest execution (all 300 pages of 1,000 of 300,000
        # executions: 30.7 s the other way, 14.9 s this way; bench/README.md).
        query = query.where(tuple_(Execution.start_date, Execution.id) < tuple_(*before))
    return list(session.scalars(query.order_by(Execution.start_date.desc(), Execution.id.desc()).limit(limit)))


def by_id(session: Session, machine_id: int) -> StateMachine | None:
    return session.get(StateMachine, machine_id)


def started_by(session: Session, run_ids: Sequence[int]) -> list[int]:
    """Executions still running that a Task of one of ``run_ids`` started and waits for."""
    if not run_ids:
        return []
    return list(
        session.scalars(
            select(Execution.id).where(Execution.caller_id.in_(list(run_ids)), Execution.status == "RUNNING")
        )
    )


def by_id_execution(session: Session, execution_id: int) -> Execution | None:
    return session.get(Execution, execution_id)
