"""status-change events (issue 14 item 5): the events written with each execution status change, and
their deliveries to subscribers (the DEAD ones are the dead letters)

Revision ID: c2e3f4a5d012
Revises: b1d2e3f4c011
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c2e3f4a5d012"
down_revision: str | None = "b1d2e3f4c011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "status_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("execution_id", BIG_ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_status_events_execution_id_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_events")),
    )
    op.create_index(op.f("ix_status_events_execution_id"), "status_events", ["execution_id"], unique=False)
    op.create_table(
        "event_deliveries",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("subscriber", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('PENDING', 'DELIVERED', 'DEAD')", name=op.f("ck_event_deliveries_status")),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["status_events.id"],
            name=op.f("fk_event_deliveries_event_id_status_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_deliveries")),
        sa.UniqueConstraint("event_id", "subscriber", name=op.f("uq_event_deliveries_event_id_subscriber")),
    )
    op.create_index(op.f("ix_event_deliveries_status_id"), "event_deliveries", ["status", "id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_event_deliveries_status_id"), table_name="event_deliveries")
    op.drop_table("event_deliveries")
    op.drop_index(op.f("ix_status_events_execution_id"), table_name="status_events")
    op.drop_table("status_events")
