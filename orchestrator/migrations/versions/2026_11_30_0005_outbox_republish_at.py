"""outbox.republish_at: when the sweeper next republishes a message it already republished

Revision ID: 5d0e7a1b9c42
Revises: c7538c22c656
Create Date: 2026-11-30 01:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d0e7a1b9c42"
down_revision: str | None = "c7538c22c656"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("republish_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_outbox_republish_at"), "outbox", ["republish_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_republish_at"), table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("republish_at")
