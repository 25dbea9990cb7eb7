"""no change: reserved for issue 17's storage changes, none of which needed the schema changed

Kept so that the chain of revisions of databases already upgraded through it holds.

Revision ID: f5b6c7d8a015
Revises: e4a5b6c7f014
Create Date: 2026-12-07 06:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "f5b6c7d8a015"
down_revision: str | None = "e4a5b6c7f014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
