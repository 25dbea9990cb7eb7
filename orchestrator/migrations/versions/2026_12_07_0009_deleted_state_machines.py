"""deleted state machines keep their row (status DELETED) and their executions: the name and ARN are
unique among live machines only, and deleting a machine no longer cascades to its executions

Revision ID: 9e4f6a8c0b35
Revises: 8c3e5a7b9d24
Create Date: 2026-12-07 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9e4f6a8c0b35"
down_revision: str | None = "8c3e5a7b9d24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("status <> 'DELETED'")
EXECUTIONS_MACHINE = "fk_executions_state_machine_id_state_machines"
DELETED = "SELECT id FROM state_machines WHERE status = 'DELETED'"
# What refers to an execution, by the column that does.
_REFERRING = (
    ("history_events", "execution_id"),
    ("task_tokens", "execution_id"),
    ("timers", "run_id"),
    ("map_runs", "execution_id"),
    ("map_runs", "run_id"),
)


def upgrade() -> None:
    # (SQLite copies both tables; env.py turns its foreign keys off meanwhile, or dropping the old
    # copy of state_machines would delete every execution through the very cascade removed here.)
    with op.batch_alter_table("executions") as batch:
        batch.drop_constraint(op.f(EXECUTIONS_MACHINE), type_="foreignkey")
        batch.create_foreign_key(op.f(EXECUTIONS_MACHINE), "state_machines", ["state_machine_id"], ["id"])
    with op.batch_alter_table("state_machines") as batch:
        batch.drop_constraint(op.f("uq_state_machines_arn"), type_="unique")
        batch.drop_constraint(op.f("uq_state_machines_name"), type_="unique")
        batch.drop_constraint(op.f("ck_state_machines_status"), type_="check")
        batch.create_check_constraint(op.f("ck_state_machines_status"), "status IN ('ACTIVE', 'DELETING', 'DELETED')")
    for column in ("arn", "name"):
        op.create_index(
            op.f(f"uq_state_machines_live_{column}"),
            "state_machines",
            [column],
            unique=True,
            postgresql_where=LIVE,
            sqlite_where=LIVE,
        )


def downgrade() -> None:
    # Deleted machines cannot come back under names that live machines may hold now: they go, with
    # their executions and what refers to those (spelled out: SQLite's foreign keys are off here).
    executions = f"SELECT id FROM executions WHERE state_machine_id IN ({DELETED})"
    for table, column in _REFERRING:
        op.execute(f"DELETE FROM {table} WHERE {column} IN ({executions})")
    op.execute(f"UPDATE executions SET caller_id = NULL WHERE caller_id IN ({executions})")
    op.execute(f"DELETE FROM executions WHERE state_machine_id IN ({DELETED})")
    op.execute(f"DELETE FROM state_machines WHERE id IN ({DELETED})")
    for column in ("arn", "name"):
        op.drop_index(op.f(f"uq_state_machines_live_{column}"), table_name="state_machines")
    with op.batch_alter_table("state_machines") as batch:
        batch.drop_constraint(op.f("ck_state_machines_status"), type_="check")
        batch.create_check_constraint(op.f("ck_state_machines_status"), "status IN ('ACTIVE', 'DELETING')")
        batch.create_unique_constraint(op.f("uq_state_machines_arn"), ["arn"])
        batch.create_unique_constraint(op.f("uq_state_machines_name"), ["name"])
    with op.batch_alter_table("executions") as batch:
        batch.drop_constraint(op.f(EXECUTIONS_MACHINE), type_="foreignkey")
        batch.create_foreign_key(
            op.f(EXECUTIONS_MACHINE), "state_machines", ["state_machine_id"], ["id"], ondelete="CASCADE"
        )
