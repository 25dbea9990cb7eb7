"""Pooled PostgreSQL connections that the server dropped (a restart, a cut): `store.db`'s idle ping."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from orchestrator.store import db

PG_ADMIN = os.environ.get("ORCHESTRATOR_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture()
def url() -> Iterator[str]:
    # an application_name of its own: a fresh engine (engines are cached by URL), easy to find
    base = PG_ADMIN.replace("postgresql://", "postgresql+psycopg://")
    url = f"{base}?application_name=ping-{uuid.uuid4().hex[:8]}"
    yield url
    db.get_engine(url).dispose()


def backend_pid(url: str) -> int:
    with db.session_scope(url) as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def terminate(pid: int) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


def test_a_dead_connection_that_sat_idle_is_replaced_before_use(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
    dead = backend_pid(url)
    terminate(dead)
    fresh = backend_pid(url)  # no error: the ping found it dead and the pool connected again
    assert fresh != dead


def test_a_dead_connection_in_steady_use_fails_one_transaction_then_the_pool_recovers(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 3600.0)
    dead = backend_pid(url)
    terminate(dead)
    with pytest.raises(OperationalError):
        backend_pid(url)
    assert backend_pid(url) != dead
