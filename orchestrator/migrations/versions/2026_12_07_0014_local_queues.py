"""local SQS queues for sqs:sendMessage (issue 15 item 4)

Revision ID: e4a5b6c7f014
Revises: d3f4a5b6e013
Create Date: 2026-12-07 06:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e4a5b6c7f014"
down_revision: str | None = "d3f4a5b6e013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "queues",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queues")),
        sa.UniqueConstraint("name", name=op.f("uq_queues_name")),
    )
    op.create_table(
        "queue_messages",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("queue_id", BigId, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("message_attributes", sa.JSON(), nullable=False),
        sa.Column("md5_of_body", sa.String(length=32), nullable=False),
        sa.Column("group_id", sa.String(length=128), nullable=True),
        sa.Column("deduplication_id", sa.String(length=128), nullable=True),
        sa.Column("sequence_number", sa.String(length=20), nullable=True),
        sa.Column("execution_arn", sa.String(length=512), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("visible_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("receive_count", sa.Integer(), nullable=False),
        sa.Column("receipt_handle", sa.String(length=64), nullable=True),
        sa.Column("first_received_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["queues.id"], name=op.f("fk_queue_messages_queue_id_queues"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_queue_messages_message_id")),
        sa.UniqueConstraint("receipt_handle", name=op.f("uq_queue_messages_receipt_handle")),
    )
    op.create_index(
        op.f("ix_queue_messages_queue_id_visible_at_id"), "queue_messages", ["queue_id", "visible_at", "id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_queue_messages_queue_id_visible_at_id"), table_name="queue_messages")
    op.drop_table("queue_messages")
    op.drop_table("queues")
