"""Databases for the store's tests: ``database_url`` runs a test on a fresh PostgreSQL database and on a
SQLite file; ``postgresql_url`` on PostgreSQL alone (for what only it has, such as row locks).

A PostgreSQL database is created for the test (``orchestrator_store_<pid>_<id>``) with the migrations
applied, and dropped after it; a missing server is a failure, not a skip.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from orchestrator.store.db import get_engine
from orchestrator.store.migrate import upgrade

PG_ADMIN = os.environ.get("ORCHESTRATOR_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def postgresql_database() -> Iterator[str]:
    name = f"orchestrator_store_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_ADMIN.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        get_engine(url).dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgresql":
        with postgresql_database() as url:
            yield url
        return
    url = f"sqlite:///{tmp_path / 'orchestrator.sqlite'}"
    upgrade(url)
    yield url
    get_engine(url).dispose()


@pytest.fixture()
def postgresql_url() -> Iterator[str]:
    with postgresql_database() as url:
        yield url
