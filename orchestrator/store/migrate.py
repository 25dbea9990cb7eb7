"""Applying the Alembic migrations (``orchestrator db upgrade``), and checking a schema is current."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from orchestrator.store.db import get_engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """The revision the database's schema is at (None before the first migration)."""
    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(url: str) -> bool:
    """Whether the database is at the newest migration."""
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    return current_revision(url) == head


def pending(url: str) -> list[tuple[str, str]]:
    """The migrations `upgrade` would apply, oldest first: (revision, its one-line description)."""
    scripts = ScriptDirectory.from_config(alembic_config(url))
    newer = scripts.iterate_revisions(scripts.get_current_head(), current_revision(url))
    return [(script.revision, _summary(script.doc)) for script in reversed(list(newer))]


def _summary(doc: str | None) -> str:
    lines = (doc or "").strip().splitlines()
    return lines[0] if lines else ""
