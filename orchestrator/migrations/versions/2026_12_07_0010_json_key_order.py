"""JSON values keep their key order on PostgreSQL (issue 16 item 1)

Revision ID: a0c1e2f3b010
Revises: 9e4f6a8c0b35
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "a0c1e2f3b010"
down_revision: str | None = "9e4f6a8c0b35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
