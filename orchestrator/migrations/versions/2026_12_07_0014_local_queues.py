"""local SQS queues for sqs:sendMessage (issue 15 item 4)

Revision ID: e4a5b6c7f014
Revises: d3f4a5b6e013
Create Date: 2026-12-07 06:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "e4a5b6c7f014"
down_revision: str | None = "d3f4a5b6e013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
