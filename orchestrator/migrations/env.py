"""Alembic's environment: the models' metadata, and the URL from Orchestrator's configuration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import context
from sqlalchemy import Connection

from orchestrator import config as settings
from orchestrator.store.db import get_engine
from orchestrator.store.models import Base

target_metadata = Base.metadata


def _url() -> str:
    given = context.get_x_argument(as_dictionary=True).get("url")
    return given or context.config.attributes.get("url") or settings.load().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _url()
    with get_engine(url).connect() as connection, _sqlite_foreign_keys_off(connection):
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=url.startswith("sqlite"),
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """SQLite changes a table by copying it and dropping the original; with foreign keys on, the drop
    would first delete the original's rows and cascade to the rows that refer to them (every
    execution of every state machine, for a change to ``state_machines``). The pragma only takes
    effect outside a transaction, so it is set before the migrations' transaction begins, and set
    back after it ends."""
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys=OFF")
    # The copy is renamed to the table's name, which SQLite refuses while a view (migration 0011's)
    # names a table that is not there; the legacy rule renames without checking the views.
    driver.execute("PRAGMA legacy_alter_table=ON")
    try:
        yield
    finally:
        driver.execute("PRAGMA foreign_keys=ON")
        driver.execute("PRAGMA legacy_alter_table=OFF")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
