"""status-change event subscribers and deliveries (issue 14 item 5)

Revision ID: c2e3f4a5d012
Revises: b1d2e3f4c011
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "c2e3f4a5d012"
down_revision: str | None = "b1d2e3f4c011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
