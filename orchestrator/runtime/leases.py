"""Leases: a worker process holds the work it runs, and the scheduler hands on what a lost one held.

A handler call (``orchestrator.invoke``, and a Task run by follow-on) holds a lease on its outbox
message from before the handler starts until the transaction that records the handler's answer
consumes the message (and the lease with it). A thread of the worker process, the `Keeper`, renews
every lease the process holds every ``lease_renew_seconds``; the handler's code has no part in it.
When a process dies or its host drops off the network, its leases run out ``lease_seconds`` later
at most, and the scheduler republishes their messages (`runtime.publish.sweep`): another worker
takes the lease (its ``attempt`` is the next one) and runs the Task again. If the old holder answers
after all, its answer changes nothing once the new one's has been recorded (the run's ``seq`` has
moved on), and the new one's changes nothing if the old one's came first. A copy of a message whose
lease is alive, or whose message is consumed, is dropped without running anything: a handler on a
live worker runs once, however long it takes and however often the broker delivers its message.

An engine step (``orchestrator.advance``, ``orchestrator.time_out``) needs no lease row: its work is
one transaction whose first statement deletes its outbox message, so the row is locked (the
sweeper skips it) exactly as long as the worker's database session lives, and a lost worker's
transaction rolls back with the message still there. The sweeper republishes it like a message
no worker took.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError, OperationalError

from orchestrator.config import Settings
from orchestrator.runtime.messages import Message
from orchestrator.store import leases
from orchestrator.store.db import session_scope

log = logging.getLogger(__name__)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def holder() -> str:
    """This process, as a lease names its holder: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease this process holds: on outbox message ``outbox_id``, its ``attempt``-th holder."""

    outbox_id: int
    attempt: int


@dataclass(frozen=True, slots=True)
class FollowOnLease:
    """Asks the transaction that writes a step's messages to lease the one ``pick`` chooses (the
    next Task, which this worker runs itself) to this process, as it writes it (`driver.queue_messages`)."""

    pick: Callable[[list[Message]], Message | None]
    worker: str
    seconds: float

    @classmethod
    def of(cls, settings: Settings, pick: Callable[[list[Message]], Message | None]) -> FollowOnLease | None:
        return cls(pick, holder(), settings.lease_seconds) if settings.leases else None


def take(settings: Settings, outbox_id: int | None) -> Lease | None:
    """Take the lease of a message before running its work, in a transaction of its own.

    Returns the lease, or None when the work must not run here: the message was consumed (this is
    a late copy) or another process holds a live lease on it. Without leases (or a message without
    an outbox row), returns a lease of attempt 0 that nothing renews.
    """
    if not settings.leases or outbox_id is None:
        return Lease(outbox_id or 0, 0)
    try:
        with session_scope(settings.database_url) as session:
            attempt = leases.take(session, outbox_id, worker=holder(), now=utcnow(), seconds=settings.lease_seconds)
    except IntegrityError:
        attempt = None  # consumed while we looked
    if attempt is None:
        log.info("outbox message %s: consumed, or running elsewhere; this copy does nothing", outbox_id)
        return None
    if attempt > 1:
        log.warning("outbox message %s: taking over its work (attempt %d)", outbox_id, attempt)
    return Lease(outbox_id, attempt)


@contextlib.contextmanager
def holding(settings: Settings, lease: Lease) -> Iterator[None]:
    """Keep ``lease`` renewed while the block runs."""
    if lease.attempt == 0:
        yield
        return
    keeper = Keeper.of(settings)
    keeper.hold(lease.outbox_id)
    try:
        yield
    finally:
        keeper.drop(lease.outbox_id)


class Keeper:
    """Renews the leases this process holds, from a thread of its own, every ``lease_renew_seconds``.

    One per process and database (`of`): a prefork pool process gets its own on its first lease
    (threads do not survive a fork), and one statement renews all the leases of a threads pool.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.worker = holder()
        self._held: set[int] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="orchestrator-leases", daemon=True)
        self._thread.start()

    @classmethod
    def of(cls, settings: Settings) -> Keeper:
        key = (os.getpid(), settings.database_url)
        with _KEEPERS_LOCK:
            keeper = _KEEPERS.get(key)
            if keeper is None:
                keeper = _KEEPERS[key] = cls(settings)
            return keeper

    def hold(self, outbox_id: int) -> None:
        with self._lock:
            self._held.add(outbox_id)

    def drop(self, outbox_id: int) -> None:
        with self._lock:
            self._held.discard(outbox_id)

    def held(self) -> set[int]:
        with self._lock:
            return set(self._held)

    def _run(self) -> None:
        wait = threading.Event()
        while not wait.wait(self.settings.lease_renew_seconds):
            try:
                self.renew()
            except OperationalError as exc:
                # The leases run out if this lasts: the work goes to others, as for a lost worker.
                log.warning("could not renew leases (%s); retrying", exc.orig)
            except Exception:
                log.exception("could not renew leases; retrying")

    def renew(self) -> None:
        """Extend every lease held; forget those this process lost to another worker."""
        held = self.held()
        if not held:
            return
        with session_scope(self.settings.database_url) as session:
            now = utcnow()
            kept = leases.renew(session, held, worker=self.worker, now=now, seconds=self.settings.lease_seconds)
            # (a lease not renewed is usually one whose work has just ended: consumed with its message)
            lost = leases.held_by_others(session, held - kept, self.worker)
        for outbox_id in lost:
            self.drop(outbox_id)
            log.warning(
                "outbox message %s: lease lost (not renewed in time); another worker runs its work too", outbox_id
            )


_KEEPERS: dict[tuple[int, str], Keeper] = {}  # by process and database
_KEEPERS_LOCK = threading.Lock()
