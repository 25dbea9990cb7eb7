"""JSON values keep their key order on PostgreSQL (issue 16 item 1)

``jsonb`` stores an object with its keys sorted (shortest first), so an execution's output came back
``{"name", "verdict", "greeting"}`` where the state produced ``{"greeting", "name", "verdict"}``, as
AWS and SQLite give it. Every JSON column becomes ``json``, which keeps the text as written. The
console's search by input keeps its GIN index, now on the expression ``(input::jsonb)``, which the
search's condition names. SQLite stores JSON as text already: nothing changes there.

Values written before this migration keep the order ``jsonb`` gave them; new ones keep theirs.

Revision ID: a0c1e2f3b010
Revises: 9e4f6a8c0b35
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "a0c1e2f3b010"
down_revision: str | None = "9e4f6a8c0b35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every JSON column at revision 9e4f6a8c0b35.
JSON_COLUMNS = {
    "state_machines": ("logging_configuration", "tracing_configuration", "encryption_configuration", "tags"),
    "state_machine_aliases": ("routing",),
    "executions": ("input", "output", "cursor", "variables", "outer_variables", "fan"),
    "history_events": ("details",),
    "activities": ("tags",),
    "task_tokens": ("payload",),
    "outbox": ("args",),
    "topics": ("attributes",),
    "subscriptions": ("attributes",),
    "topic_messages": ("message_attributes",),
    "dynamodb_tables": ("key_schema", "attribute_definitions"),
    "dynamodb_items": ("item",),
}
INPUT_INDEX = "ix_executions_input_gin"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(INPUT_INDEX, table_name="executions")
    _retype("json")
    op.execute(f"CREATE INDEX {INPUT_INDEX} ON executions USING gin ((input::jsonb) jsonb_path_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(INPUT_INDEX, table_name="executions")
    _retype("jsonb")
    op.execute(f"CREATE INDEX {INPUT_INDEX} ON executions USING gin (input jsonb_path_ops)")


def _retype(sql_type: str) -> None:
    """Every JSON column to ``sql_type``: one ALTER TABLE (one rewrite) per table."""
    for table, columns in JSON_COLUMNS.items():
        changes = ", ".join(f"ALTER COLUMN {c} TYPE {sql_type} USING {c}::{sql_type}" for c in columns)
        op.execute(f"ALTER TABLE {table} {changes}")
