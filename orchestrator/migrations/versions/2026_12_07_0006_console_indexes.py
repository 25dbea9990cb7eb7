"""the console's indexes: executions newest first (across machines and per machine), by status,
by what ended last, by the Task that started them, and by input (GIN, PostgreSQL only)

Revision ID: 6a1c0e5f3b27
Revises: 5d0e7a1b9c42
Create Date: 2026-12-07 03:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6a1c0e5f3b27"
down_revision: str | None = "5d0e7a1b9c42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROOTS = sa.text("root_id IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_executions_recent", "executions", ["start_date", "id"], postgresql_where=ROOTS, sqlite_where=ROOTS
    )
    op.create_index(
        "ix_executions_machine_recent",
        "executions",
        ["state_machine_id", "start_date", "id"],
        postgresql_where=ROOTS,
        sqlite_where=ROOTS,
    )
    op.create_index(op.f("ix_executions_status_start_date"), "executions", ["status", "start_date"])
    op.create_index(op.f("ix_executions_stop_date"), "executions", ["stop_date"])
    callers = sa.text("caller_id IS NOT NULL")
    op.create_index("ix_executions_caller", "executions", ["caller_id"], postgresql_where=callers, sqlite_where=callers)
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_executions_input_gin",
            "executions",
            ["input"],
            postgresql_using="gin",
            postgresql_ops={"input": "jsonb_path_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_executions_input_gin", table_name="executions")
    op.drop_index("ix_executions_caller", table_name="executions")
    op.drop_index(op.f("ix_executions_stop_date"), table_name="executions")
    op.drop_index(op.f("ix_executions_status_start_date"), table_name="executions")
    op.drop_index("ix_executions_machine_recent", table_name="executions")
    op.drop_index("ix_executions_recent", table_name="executions")
