"""Leases on outbox messages: which worker process runs a message's work, and until when.

A lease row is keyed by its message; the transaction that consumes the message deletes it (the
foreign key cascades), so a lease never outlives its work. ``worker`` NULL means nobody holds it
(the scheduler gave up on a holder that stopped renewing, or the holder let it go); the row stays
to count the ``attempt``s. Every function takes the caller's `Session` and never commits.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Integer, String, bindparam, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from orchestrator.store.models import Lease, OutboxMessage

L = Lease.__table__
O = OutboxMessage.__table__  # noqa: E741 - the table's initial, as in store.runs


def take(session: Session, outbox_id: int, *, worker: str, now: dt.datetime, seconds: float) -> int | None:
    """Take the lease of message ``outbox_id`` for ``worker`` if the message is unconsumed and nobody
    holds a live lease on it. Returns the attempt (1 for the first holder), or None: the message was
    consumed already, or another process runs it now. If the message is consumed while this looks,
    the foreign key fails the statement (IntegrityError): the caller's transaction is to roll back."""
    expires = now + dt.timedelta(seconds=seconds)
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(L)
    source = select(
        O.c.id,
        literal(worker, String()),
        literal(1, Integer()),
        literal(now, DateTime(timezone=True)),
        literal(expires, DateTime(timezone=True)),
    ).where(O.c.id == outbox_id)
    statement = (
        insert.from_select(["outbox_id", "worker", "attempt", "taken_at", "expires_at"], source)
        .on_conflict_do_update(
            index_elements=["outbox_id"],
            set_={"worker": worker, "attempt": L.c.attempt + 1, "taken_at": now, "expires_at": expires},
            where=L.c.worker.is_(None) | (L.c.expires_at <= now),
        )
        .returning(L.c.attempt)
    )
    return session.execute(statement).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class LeasedRow:
    """An outbox message to write with its first lease (`grant`): ``worker`` holds it from ``now``
    for ``seconds``."""

    row: dict[str, Any]
    worker: str
    now: dt.datetime
    seconds: float

    def parameters(self) -> dict[str, Any]:
        """The bind parameters of `leased_ctes`."""
        expires = self.now + dt.timedelta(seconds=self.seconds)
        return {
            **{f"outbox_{name}": value for name, value in self.row.items()},
            "lease_worker": self.worker,
            "lease_taken_at": self.now,
            "lease_expires_at": expires,
        }


def add_leased(session: Session, leased: LeasedRow) -> int:
    """Write ``leased`` (an outbox message and its first lease); returns its id. One statement on
    PostgreSQL (a data-modifying WITH): a worker's next Task, which it runs itself, costs one round
    trip instead of two."""
    if session.get_bind().dialect.name != "postgresql":
        outbox_id = int(session.execute(O.insert().values(**leased.row).returning(O.c.id)).scalar_one())
        grant(session, outbox_id, worker=leased.worker, now=leased.now, seconds=leased.seconds)
        return outbox_id
    written, lease = leased_ctes(tuple(leased.row))
    return int(session.execute(select(written.c.id).add_cte(lease), leased.parameters()).scalar_one())


# Built once for each set of columns (one in practice): building them anew on every Task state, and
# the cache key of each new statement object, took a quarter of a worker's CPU per Task state.
@functools.lru_cache(maxsize=16)
def leased_ctes(columns: tuple[str, ...]) -> tuple[Any, Any]:
    """The WITH queries that write an outbox row of ``columns`` (``written``, returning its id) and
    its lease; their parameters are `LeasedRow.parameters`."""
    # (named apart from the UPDATE's ``new_*`` parameters, whose statement these queries may join)
    values = {name: bindparam(f"outbox_{name}", type_=O.c[name].type) for name in columns}
    written = O.insert().values(values).returning(O.c.id).cte("written")
    leased = L.insert().from_select(
        ["outbox_id", "worker", "attempt", "taken_at", "expires_at"],
        select(
            written.c.id,
            bindparam("lease_worker", type_=String()),
            literal(1, Integer()),
            bindparam("lease_taken_at", type_=DateTime(timezone=True)),
            bindparam("lease_expires_at", type_=DateTime(timezone=True)),
        ),
    )
    return written, leased.cte("leased")


def grant(session: Session, outbox_id: int, *, worker: str, now: dt.datetime, seconds: float) -> None:
    """The first lease of a message written in this same transaction (nobody else can see it yet)."""
    expires = now + dt.timedelta(seconds=seconds)
    session.execute(
        L.insert(), {"outbox_id": outbox_id, "worker": worker, "attempt": 1, "taken_at": now, "expires_at": expires}
    )


def renew(session: Session, outbox_ids: Collection[int], *, worker: str, now: dt.datetime, seconds: float) -> set[int]:
    """Extend ``worker``'s leases; returns the messages it still holds (the others were consumed, or
    handed to another worker after this one stopped renewing in time).

    A lease whose row is locked is left for the next renewal: the transaction consuming its message
    holds it (it goes with the message), and waiting for that transaction, which may itself wait for
    an execution's lock, would leave this process's other leases unrenewed meanwhile.
    """
    if not outbox_ids:
        return set()
    mine = (
        select(L.c.outbox_id)
        .where(L.c.outbox_id.in_(list(outbox_ids)), L.c.worker == worker)
        .with_for_update(skip_locked=True)
    )
    result = session.execute(
        update(L)
        .where(L.c.outbox_id.in_(mine))
        .values(expires_at=now + dt.timedelta(seconds=seconds))
        .returning(L.c.outbox_id)
    )
    return {int(row[0]) for row in result}


def held_by_others(session: Session, outbox_ids: Collection[int], worker: str) -> set[int]:
    """Of ``outbox_ids``, the messages whose lease is no longer ``worker``'s (given up on, or taken)."""
    if not outbox_ids:
        return set()
    rows = session.execute(
        select(L.c.outbox_id).where(L.c.outbox_id.in_(list(outbox_ids)), L.c.worker.is_(None) | (L.c.worker != worker))
    )
    return {int(row[0]) for row in rows}


def release(session: Session, outbox_id: int) -> None:
    """Let a message's lease go (its try failed and it is to run again): nobody holds it now."""
    session.execute(update(L).where(L.c.outbox_id == outbox_id).values(worker=None))


def give_up(session: Session, outbox_ids: Collection[int], now: dt.datetime) -> None:
    """Leave the leases of ``outbox_ids`` that ran out without a holder: their messages go to others."""
    if outbox_ids:
        session.execute(
            update(L)
            .where(L.c.outbox_id.in_(list(outbox_ids)), L.c.worker.is_not(None), L.c.expires_at <= now)
            .values(worker=None)
        )


def live(now: dt.datetime) -> ColumnElement[bool]:
    """A condition on an outbox row: a worker holds a lease on it that has not run out."""
    return select(L.c.outbox_id).where(L.c.outbox_id == O.c.id, L.c.worker.is_not(None), L.c.expires_at > now).exists()


def expired(now: dt.datetime) -> ColumnElement[bool]:
    """A condition on an outbox row: its holder stopped renewing its lease, and it ran out."""
    return O.c.id.in_(select(L.c.outbox_id).where(L.c.worker.is_not(None), L.c.expires_at <= now))
