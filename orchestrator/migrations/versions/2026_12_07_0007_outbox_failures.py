"""outbox.failures, outbox.last_error: the tries of a message whose step failed, counted durably
(runtime.poison fails the execution after a few)

Revision ID: 7b2d4f6a8c13
Revises: 6a1c0e5f3b27
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7b2d4f6a8c13"
down_revision: str | None = "6a1c0e5f3b27"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("failures", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("last_error")
        batch.drop_column("failures")
