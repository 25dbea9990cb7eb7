"""Connecting to the database: engines, sessions, and the SQLite settings the embedded mode needs.

Sessions belong to the caller: every function in `store` takes a `Session` and never commits;
the Celery task, the API request or the CLI command owns ``with session_scope(...) as session``.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.store import encoding


@functools.cache
def get_engine(url: str) -> Engine:
    """One engine (and connection pool) per URL per process."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=10,
        pool_recycle=1800,
        connect_args=postgres_connect_args(os.environ.get("ORCHESTRATOR_DATABASE_SESSION_OPTIONS")),
        # jsonb cannot hold NUL characters, which JSON strings may: see `encoding`
        json_serializer=encoding.dumps,
        json_deserializer=encoding.loads,
    )
    _ping_idle_connections(engine)
    return engine


# A connection back in the pool for longer than this is tested before it is handed out again.
IDLE_PING_SECONDS = 1.0


def _ping_idle_connections(engine: Engine) -> None:
    """Test a pooled connection before use only if it sat idle for `IDLE_PING_SECONDS`.

    A database restart or a network cut leaves the pool holding dead connections; testing every
    one on checkout (``pool_pre_ping``) costs a round trip per transaction, 5% of a busy worker's
    time. A connection in steady use is tested by the work itself: if the database dropped it
    meanwhile, that transaction fails with OperationalError (a worker's task runs again, the API
    answers ServiceUnavailable) and the pool discards every connection it holds.
    """

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _test_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # the pool replaces this connection and tries again (up to three times)
            raise DisconnectionError(f"a pooled connection is dead: {exc}") from exc


# A host that drops off the network mid-transaction must not hold its row locks (an execution's)
# for the hours the kernel's TCP defaults take to notice: the server probes a silent client, gives
# up on unacknowledged data after 30 s, and ends a transaction left idle for 20 s. The engine never
# leaves a transaction idle on purpose; a transaction that waits for a lock is not idle.
DEFAULT_SESSION_OPTIONS = (
    "idle_in_transaction_session_timeout=20s tcp_keepalives_idle=10 tcp_keepalives_interval=5 "
    "tcp_keepalives_count=3 tcp_user_timeout=30000"
)


def postgres_connect_args(options: str | None) -> dict[str, Any]:
    """libpq's keepalives, and the server settings ``options`` names (``NAME=VALUE`` separated by spaces;
    None: `DEFAULT_SESSION_OPTIONS`; empty: none, for a pooler such as PgBouncer that refuses them)."""
    chosen = DEFAULT_SESSION_OPTIONS if options is None else options
    args: dict[str, Any] = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}
    settings = chosen.split()
    if settings:
        args["options"] = " ".join(f"-c {setting}" for setting in settings)
    return args


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, begin transactions, so that every one can take the
        # write lock up front (BEGIN IMMEDIATE): two writers then queue instead of deadlocking.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@functools.cache
def _sessions(url: str) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session in a transaction: committed if the block ends normally, rolled back otherwise."""
    with _sessions(url).begin() as session:
        yield session
