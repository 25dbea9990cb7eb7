"""retention of closed executions and the analysts' SQL views (issue 14 items 7 and 8)

Revision ID: b1d2e3f4c011
Revises: a0c1e2f3b010
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "b1d2e3f4c011"
down_revision: str | None = "a0c1e2f3b010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
