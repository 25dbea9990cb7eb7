"""indexes for retention (issue 14 item 7) and views for analysts (item 8)

Retention deletes executions, which makes the database look up the rows that refer to each one
through every foreign key: the three such columns that had no index get one. The views:
``execution_summaries`` (one row per execution: its machine, status, duration, and the state it
failed in) and ``state_visits`` (one row per state entered, with its duration and a Task's attempts).

The views read ``details`` with the JSON operators that both ``json`` and ``jsonb`` have on
PostgreSQL (``->>``), so they do not depend on which of the two the column is. A later migration that
changes a column they read must drop them first and create them again (PostgreSQL refuses to alter a
column a view uses; SQLite refuses to rename a table a view names, which its batch mode does).

Revision ID: b1d2e3f4c011
Revises: a0c1e2f3b010
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "b1d2e3f4c011"
down_revision: str | None = "a0c1e2f3b010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What differs between the two databases: reading a member of a JSON object, and a duration in ms.
_DIALECT = {
    "postgresql": {
        "name": "{0}.details ->> 'name'",
        "ms": "CAST(EXTRACT(EPOCH FROM ({1} - {0})) * 1000 AS double precision)",
    },
    "sqlite": {
        "name": "json_extract({0}.details, '$.name')",
        # times are stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): whole seconds, then the fraction
        # (julianday() would round both to the millisecond)
        "ms": "round((strftime('%s', {1}) - strftime('%s', {0})) * 1000.0"
        " + (CAST(substr({1}, 20) AS REAL) - CAST(substr({0}, 20) AS REAL)) * 1000.0, 3)",
    },
}

# The last state entered is the one the execution was in when it failed, timed out or was aborted.
_EXECUTION_SUMMARIES = """
CREATE VIEW execution_summaries AS
SELECT
    x.id AS execution_id,
    x.arn AS execution_arn,
    x.name AS execution_name,
    m.name AS state_machine_name,
    m.arn AS state_machine_arn,
    m.type AS state_machine_type,
    x.status,
    x.start_date,
    x.stop_date,
    {duration} AS duration_ms,
    CASE WHEN x.status IN ('FAILED', 'TIMED_OUT', 'ABORTED') THEN (
        SELECT {last_name} FROM history_events h
        WHERE h.execution_id = x.id AND h.type LIKE '%StateEntered'
        ORDER BY h.id DESC LIMIT 1
    ) END AS failed_state,
    x.error,
    x.cause,
    x.redrive_count
FROM executions x
JOIN state_machines m ON m.id = x.state_machine_id
WHERE x.root_id IS NULL
"""

# A state's exit is paired with its entry by following the exit's previous_event_id chain back to
# the nearest StateEntered event of the same name: the chain runs through the state's own events
# (its Task's attempts, a Parallel's or Map's last branch), never through another branch or
# iteration, so concurrent iterations of one state pair correctly. State names are unique in a
# state machine, so no state nested in the visited one has its name.
_STATE_VISITS = """
CREATE VIEW state_visits AS
WITH RECURSIVE walk (execution_id, exited_id, name, event_id, scheduled) AS (
    SELECT e.execution_id, e.id, {exited_name}, e.previous_event_id, 0
    FROM history_events e
    WHERE e.type LIKE '%StateExited'
    UNION ALL
    SELECT w.execution_id, w.exited_id, w.name, e.previous_event_id,
           w.scheduled + CASE WHEN e.type LIKE '%Scheduled' THEN 1 ELSE 0 END
    FROM walk w
    JOIN history_events e ON e.execution_id = w.execution_id AND e.id = w.event_id
    WHERE NOT (e.type LIKE '%StateEntered' AND {walked_name} = w.name)
)
SELECT
    entered.execution_id,
    m.name AS state_machine_name,
    {entered_name} AS state_name,
    substr(entered.type, 1, length(entered.type) - length('StateEntered')) AS state_type,
    entered.id AS entered_event_id,
    w.exited_id AS exited_event_id,
    entered.timestamp AS entered_at,
    exited.timestamp AS exited_at,
    {duration} AS duration_ms,
    CASE WHEN entered.type = 'TaskStateEntered' THEN w.scheduled END AS attempts,
    CASE WHEN entered.type = 'TaskStateEntered' THEN w.scheduled - 1 END AS retries
FROM history_events entered
JOIN executions x ON x.id = entered.execution_id
JOIN state_machines m ON m.id = x.state_machine_id
LEFT JOIN walk w
    ON w.execution_id = entered.execution_id AND w.event_id = entered.id AND w.name = {entered_name}
LEFT JOIN history_events exited ON exited.execution_id = w.execution_id AND exited.id = w.exited_id
WHERE entered.type LIKE '%StateEntered'
"""


# Deleting an execution makes the database look up, through each foreign key, the rows that refer to
# it; these columns had no index, so retention read the whole table for every execution it deleted
# (measured: 500 executions deleted in 3 s and more among 20,000).
_FOREIGN_KEY_INDEXES = (
    ("ix_executions_history_id", "executions", "history_id"),
    ("ix_task_tokens_run_id", "task_tokens", "run_id"),
    ("ix_map_runs_run_id", "map_runs", "run_id"),
)


def upgrade() -> None:
    for name, table, column in _FOREIGN_KEY_INDEXES:
        op.create_index(name, table, [column])
    sql = _DIALECT[op.get_bind().dialect.name]
    op.execute(
        _EXECUTION_SUMMARIES.format(
            duration=sql["ms"].format("x.start_date", "x.stop_date"),
            last_name=sql["name"].format("h"),
        )
    )
    op.execute(
        _STATE_VISITS.format(
            exited_name=sql["name"].format("e"),
            walked_name=sql["name"].format("e"),
            entered_name=sql["name"].format("entered"),
            duration=sql["ms"].format("entered.timestamp", "exited.timestamp"),
        )
    )


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS state_visits")
    op.execute("DROP VIEW IF EXISTS execution_summaries")
    for name, table, _column in _FOREIGN_KEY_INDEXES:
        op.drop_index(name, table_name=table)
