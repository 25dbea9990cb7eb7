"""The Alembic migrations build exactly the schema the models describe, on PostgreSQL and on SQLite.

On a fresh PostgreSQL database and a fresh SQLite file: the migration chain applies from nothing,
and Alembic's autogenerate (``compare_metadata``, with type comparison) then finds no difference
between the database and `orchestrator.store.models`. A model changed without its migration, or
a migration that drifts from the models, fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from orchestrator.store.db import get_engine
from orchestrator.store.migrate import alembic_config, is_current, upgrade
from orchestrator.store.models import POSTGRESQL_ONLY_INDEXES, Base

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("ORCHESTRATOR_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture()
def empty_postgres() -> Iterator[str]:
    name = f"orchestrator_migrations_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    url = f"{base}/{name}"
    yield url
    get_engine(url).dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _differences(url: str) -> list[Any]:
    with get_engine(url).connect() as connection:
        dialect = connection.dialect.name

        def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
            # An index the models declare for PostgreSQL alone (a GIN index) is not built on SQLite.
            return not (dialect != "postgresql" and type_ == "index" and name in POSTGRESQL_ONLY_INDEXES)

        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": include})
        with warnings.catch_warnings():
            # SQLite cannot reflect an expression index; those the models declare are PostgreSQL's alone
            for name in POSTGRESQL_ONLY_INDEXES:
                warnings.filterwarnings("ignore", f".*skipping metadata-specified expression-based index '{name}'")
            return list(compare_metadata(context, Base.metadata))


def _tables(url: str) -> set[str]:
    return set(inspect(get_engine(url)).get_table_names())


def test_the_migration_chain_is_one_line_to_a_single_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert revisions[-1].down_revision is None  # one root
    assert len({r.revision for r in revisions}) == len(revisions)


def test_migrations_on_an_empty_postgresql_match_the_models(empty_postgres: str) -> None:
    assert not is_current(empty_postgres)
    upgrade(empty_postgres)
    assert is_current(empty_postgres)
    assert set(Base.metadata.tables) <= _tables(empty_postgres)
    assert _differences(empty_postgres) == []
    upgrade(empty_postgres)  # again: nothing to do, no error
    assert _differences(empty_postgres) == []


def test_migrations_on_a_fresh_sqlite_file_match_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'orchestrator.sqlite'}"
    upgrade(url)
    assert is_current(url)
    assert set(Base.metadata.tables) <= _tables(url)
    assert _differences(url) == []


def test_orchestrator_db_upgrade_applies_them_too(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    env = {**os.environ, "ORCHESTRATOR_DATABASE_URL": url, "ORCHESTRATOR_HOME": str(tmp_path / "home")}

    def db_upgrade() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "orchestrator.cli", "db", "upgrade"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    first = db_upgrade()
    revisions = sorted((ROOT / "orchestrator" / "migrations" / "versions").glob("*.py"))
    assert f"applied {len(revisions)} migration(s)" in first
    assert is_current(url)
    assert _differences(url) == []
    assert "already up to date" in db_upgrade()
