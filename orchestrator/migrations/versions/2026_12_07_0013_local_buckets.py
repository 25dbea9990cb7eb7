"""no change: reserved for local S3 buckets, which live on disk instead (docs/s3.md)

Kept so that the chain of revisions of databases already upgraded through it holds.

Revision ID: d3f4a5b6e013
Revises: c2e3f4a5d012
Create Date: 2026-12-07 06:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "d3f4a5b6e013"
down_revision: str | None = "c2e3f4a5d012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
