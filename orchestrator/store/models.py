"""The tables: SQLAlchemy 2.0 models of everything Orchestrator keeps.

The schema is part of the product (analysts query it): docs/schema.md describes each table. In
short:

- ``definitions``: every definition text ever used, by its SHA-256, so an execution keeps the
  definition it started with when its state machine is updated.
- ``state_machines``, ``state_machine_versions``, ``state_machine_aliases``.
- ``executions``: one row per execution (``root_id`` NULL) and one per Parallel branch or Map
  iteration it runs (``root_id`` = the execution, ``parent_id`` = the run that started it).
- ``history_events``: the execution history, keyed by (execution, event id), as GetExecutionHistory
  returns it.
- ``task_tokens``, ``timers``, ``outbox``: what the runtime waits for and what it must publish.
- ``leases``: which worker process is running an outbox message's work, until when.

JSON columns are ``json`` on PostgreSQL and JSON text on SQLite: both keep a value as written, its
keys in their order (``jsonb`` sorts them; migration 0010). The console's search by input uses a GIN
index on ``(input::jsonb)``. Status columns are strings with a CHECK constraint, so a new status
needs no ALTER TYPE.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    cast,
    column,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from orchestrator.store.encoding import SafeText
from orchestrator.store.timestamps import UtcDateTime

JsonValue = JSON()
# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")

# Indexes built on PostgreSQL only (a GIN index has no SQLite counterpart).
POSTGRESQL_ONLY_INDEXES = frozenset({"ix_executions_input_gin"})
MACHINE_STATUSES = ("ACTIVE", "DELETING", "DELETED")
EXECUTION_STATUSES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
TOKEN_STATUSES = ("PENDING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {
        dict[str, Any]: JsonValue,
        Any: JsonValue,
        dt.datetime: UtcDateTime(),
    }


class MapRun(Base):
    """A Distributed Map state's run: its iterations are child executions of their own."""

    __tablename__ = "map_runs"
    __table_args__ = (CheckConstraint(_in("status", ("RUNNING", "SUCCEEDED", "FAILED", "ABORTED")), name="status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    arn: Mapped[str] = mapped_column(String(1024), unique=True)
    execution_id: Mapped[int] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"), index=True)
    generation: Mapped[int]
    state_name: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default="RUNNING")
    max_concurrency: Mapped[int] = mapped_column(default=0)
    tolerated_failure_count: Mapped[int] = mapped_column(default=0)
    tolerated_failure_percentage: Mapped[float] = mapped_column(default=0.0)
    start_date: Mapped[dt.datetime]
    stop_date: Mapped[dt.datetime | None]


class Definition(Base):
    """A definition's text, stored once and referred to by its SHA-256."""

    __tablename__ = "definitions"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())


class StateMachine(Base):
    """A state machine. DeleteStateMachine marks it DELETING, then DELETED once none of its executions
    runs: the row stays, so that its executions and their history stay (a machine of the same name
    may be created again, so the name and ARN are unique among machines not DELETED only)."""

    __tablename__ = "state_machines"
    __table_args__ = (
        CheckConstraint(_in("type", ("STANDARD", "EXPRESS")), name="type"),
        CheckConstraint(_in("status", MACHINE_STATUSES), name="status"),
        *(
            Index(
                f"uq_state_machines_live_{column}",
                column,
                unique=True,
                postgresql_where=text("status <> 'DELETED'"),
                sqlite_where=text("status <> 'DELETED'"),
            )
            for column in ("arn", "name")
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    arn: Mapped[str] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(80))
    type: Mapped[str] = mapped_column(String(16), default="STANDARD")
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    definition_hash: Mapped[str] = mapped_column(ForeignKey("definitions.hash"))
    role_arn: Mapped[str] = mapped_column(String(256))
    revision_id: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    logging_configuration: Mapped[dict[str, Any] | None]
    tracing_configuration: Mapped[dict[str, Any] | None]
    encryption_configuration: Mapped[dict[str, Any] | None]
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())

    def __repr__(self) -> str:
        return f"<StateMachine {self.name} {self.type} {self.status}>"


class StateMachineVersion(Base):
    __tablename__ = "state_machine_versions"
    __table_args__ = (UniqueConstraint("state_machine_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    state_machine_id: Mapped[int] = mapped_column(ForeignKey("state_machines.id", ondelete="CASCADE"))
    version: Mapped[int]
    definition_hash: Mapped[str] = mapped_column(ForeignKey("definitions.hash"))
    role_arn: Mapped[str] = mapped_column(String(256))
    revision_id: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())


class StateMachineAlias(Base):
    __tablename__ = "state_machine_aliases"
    __table_args__ = (UniqueConstraint("state_machine_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    state_machine_id: Mapped[int] = mapped_column(ForeignKey("state_machines.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(Text)
    routing: Mapped[Any]  # [{"stateMachineVersionArn": ..., "weight": ...}]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())


class Execution(Base):
    """An execution (``root_id`` NULL), or a branch or iteration it runs.

    The runtime's view of a run: ``cursor`` (where it is, as `engine.outcomes.Cursor` JSON),
    ``seq`` (bumped by every committed step; a message for another seq is stale), ``variables``
    and, on a Parallel or Map run that is waiting for its children, ``fan`` (the join's counters).
    """

    __tablename__ = "executions"
    __table_args__ = (
        CheckConstraint(_in("status", EXECUTION_STATUSES), name="status"),
        Index(None, "state_machine_id", "status", "start_date"),
        Index(None, "parent_id", "generation", "child_index"),
        Index(None, "root_id"),
        # Deleting an execution (retention) looks up the rows that refer to it through each foreign key:
        # every one of those columns has an index (migration 0011 added the last three).
        Index(None, "history_id"),
        # The console's lists (migration 0006): executions newest first, across state machines or of
        # one, by status, by input (JSONB containment of ``input::jsonb`` on PostgreSQL, migration
        # 0010), and what ended last.
        Index(
            "ix_executions_recent",
            "start_date",
            "id",
            postgresql_where=text("root_id IS NULL"),
            sqlite_where=text("root_id IS NULL"),
        ),
        Index(
            "ix_executions_machine_recent",
            "state_machine_id",
            "start_date",
            "id",
            postgresql_where=text("root_id IS NULL"),
            sqlite_where=text("root_id IS NULL"),
        ),
        Index(None, "status", "start_date"),
        Index(None, "stop_date"),
        Index(
            "ix_executions_caller",
            "caller_id",
            postgresql_where=text("caller_id IS NOT NULL"),
            sqlite_where=text("caller_id IS NOT NULL"),
        ),  # the executions a Task started (an execution's page lists them)
        Index(
            "ix_executions_input_gin",
            cast(column("input"), JSONB).label("input_jsonb"),
            postgresql_using="gin",
            postgresql_ops={"input_jsonb": "jsonb_path_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    arn: Mapped[str | None] = mapped_column(String(512), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    # No cascade: an execution and its history outlive the state machine (docs/schema.md).
    state_machine_id: Mapped[int] = mapped_column(ForeignKey("state_machines.id"))
    state_machine_version_arn: Mapped[str | None] = mapped_column(String(512))
    state_machine_alias_arn: Mapped[str | None] = mapped_column(String(512))
    definition_hash: Mapped[str] = mapped_column(ForeignKey("definitions.hash"))
    role_arn: Mapped[str] = mapped_column(String(256))
    root_id: Mapped[int | None] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"))
    # The run whose history holds this run's events: the execution itself, or for an iteration of a
    # Distributed Map, the iteration (a child execution with a history of its own).
    history_id: Mapped[int | None] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"))
    child_index: Mapped[int | None]
    generation: Mapped[int | None]  # the parent's seq when it started this fan-out (a retry starts another)
    scope_state: Mapped[str | None] = mapped_column(String(80))
    scope_branch: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16), default="RUNNING")
    input: Mapped[Any]
    output: Mapped[Any | None]
    error: Mapped[str | None] = mapped_column(SafeText)  # AWS allows any character; see store.encoding
    cause: Mapped[str | None] = mapped_column(SafeText)
    start_date: Mapped[dt.datetime]
    stop_date: Mapped[dt.datetime | None]
    cursor: Mapped[dict[str, Any] | None]
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    outer_variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    fan: Mapped[dict[str, Any] | None]
    seq: Mapped[int] = mapped_column(default=0)
    last_event_id: Mapped[int] = mapped_column(default=0)
    next_event_id: Mapped[int] = mapped_column(default=1)
    state_transitions: Mapped[int] = mapped_column(default=0)
    redrive_count: Mapped[int] = mapped_column(default=0)
    trace_header: Mapped[str | None] = mapped_column(String(256))
    # An execution started by a Task state (states:startExecution): the run waiting for it, the step
    # of that run's wait, and how it waits ("sync", "sync:2"; NULL when it does not wait).
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("executions.id", ondelete="SET NULL"))
    caller_seq: Mapped[int | None]
    caller_pattern: Mapped[str | None] = mapped_column(String(16))
    map_run_arn: Mapped[str | None] = mapped_column(String(1024), index=True)  # a Distributed Map iteration's run

    def __repr__(self) -> str:
        return f"<Execution {self.id} {self.name} {self.status}>"


class HistoryEvent(Base):
    """One event of an execution's history (its branches' and iterations' included)."""

    __tablename__ = "history_events"

    execution_id: Mapped[int] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    previous_event_id: Mapped[int]
    type: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[dt.datetime]
    details: Mapped[dict[str, Any] | None]


class Activity(Base):
    """An activity: a name workers poll (GetActivityTask) for the Task states that call it."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    arn: Mapped[str] = mapped_column(String(256), unique=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())


class TaskToken(Base):
    """A task waiting for SendTaskSuccess or SendTaskFailure: a ``.waitForTaskToken`` task, or an
    activity task (``resource`` is the activity's ARN; ``claimed_at`` is when a worker got it)."""

    __tablename__ = "task_tokens"
    __table_args__ = (
        CheckConstraint(_in("status", TOKEN_STATUSES), name="status"),
        Index(None, "status", "created_at"),
        Index(None, "execution_id"),
        Index(None, "run_id"),
        Index(None, "resource", "status", "claimed_at"),
    )

    token: Mapped[str] = mapped_column(String(256), primary_key=True)
    execution_id: Mapped[int] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"))
    state_name: Mapped[str] = mapped_column(String(80))
    resource: Mapped[str] = mapped_column(String(512))
    payload: Mapped[Any | None]
    status: Mapped[str] = mapped_column(String(16), default="PENDING")
    heartbeat_seconds: Mapped[int | None]
    timeout_seconds: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())
    claimed_at: Mapped[dt.datetime | None]
    worker_name: Mapped[str | None] = mapped_column(String(80))
    completed_at: Mapped[dt.datetime | None]


class Timer(Base):
    """Something due at ``fire_at``: a Wait, a Retry backoff, a timeout or a heartbeat deadline."""

    __tablename__ = "timers"
    __table_args__ = (
        CheckConstraint(_in("kind", ("wait", "retry", "task_timeout", "heartbeat", "execution_timeout")), name="kind"),
        Index(None, "fire_at"),
        Index(None, "run_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(24))
    fire_at: Mapped[dt.datetime]
    token: Mapped[str | None] = mapped_column(String(256))


class OutboxMessage(Base):
    """A message to publish once its transaction commits; deleted by the task that consumes it.

    ``republish_at`` is set when the sweeper republishes it: if still unconsumed then, it is
    republished again, each time waiting as long as the message has existed (queues can be long).
    ``failures`` counts the tries whose transaction failed (rolled back), with the ``last_error``:
    after a few, its execution fails (`runtime.poison`).
    """

    __tablename__ = "outbox"
    __table_args__ = (Index(None, "published_at"), Index(None, "republish_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(String(128))
    args: Mapped[Any]
    queue: Mapped[str] = mapped_column(String(128))
    countdown: Mapped[float | None]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())
    published_at: Mapped[dt.datetime | None]
    republish_at: Mapped[dt.datetime | None]
    failures: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)


class Lease(Base):
    """A worker process running an outbox message's work (a handler call and the step that records
    its result), for as long as it renews the lease.

    Keyed by the message: the transaction that consumes the message deletes it, and its lease goes
    with it (the foreign key cascades). ``worker`` is the holder (``host:pid``), NULL once the
    scheduler gave up on a holder that stopped renewing, or a holder let it go; ``attempt`` counts the
    holders the message has had. The scheduler republishes the message of a lease not renewed by
    ``expires_at``, and never one whose lease is alive (`runtime.leases`).
    """

    __tablename__ = "leases"
    __table_args__ = (Index(None, "expires_at"),)

    outbox_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    worker: Mapped[str | None] = mapped_column(String(200))
    attempt: Mapped[int]
    taken_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]


# -- the local services the integrations provide -----------------------------------------------------


class Topic(Base):
    """A local SNS topic: ``arn:aws:sns:<region>:<account>:<name>`` names it in a TopicArn."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    arn: Mapped[str] = mapped_column(String(256), unique=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())


class Subscription(Base):
    """Where a topic's messages go: an HTTP(S) webhook, or a Python subscriber registered in ``tasks/``."""

    __tablename__ = "subscriptions"
    __table_args__ = (CheckConstraint(_in("protocol", ("http", "https", "python")), name="protocol"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    arn: Mapped[str] = mapped_column(String(512), unique=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), index=True)
    protocol: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())


class TopicMessage(Base):
    """Every message published to a topic (by a Task state or the API)."""

    __tablename__ = "topic_messages"
    __table_args__ = (Index(None, "topic_id", "published_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the MessageId
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    subject: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    message_attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    execution_arn: Mapped[str | None] = mapped_column(String(512))
    published_at: Mapped[dt.datetime]


class Delivery(Base):
    """One message to one subscription: retried with backoff until delivered or given up."""

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint(_in("status", ("PENDING", "DELIVERED", "FAILED")), name="status"),
        Index(None, "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("topic_messages.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="PENDING")
    attempts: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[dt.datetime | None]


class Table(Base):
    """A local DynamoDB table: its name and key schema."""

    __tablename__ = "dynamodb_tables"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    arn: Mapped[str] = mapped_column(String(512), unique=True)
    key_schema: Mapped[Any]  # [{"AttributeName": ..., "KeyType": "HASH" | "RANGE"}]
    attribute_definitions: Mapped[Any]  # [{"AttributeName": ..., "AttributeType": "S" | "N" | "B"}]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())


class Item(Base):
    """One item of a local DynamoDB table, in DynamoDB JSON (typed attribute values)."""

    __tablename__ = "dynamodb_items"

    table_id: Mapped[int] = mapped_column(ForeignKey("dynamodb_tables.id", ondelete="CASCADE"), primary_key=True)
    partition_key: Mapped[str] = mapped_column(String(2048), primary_key=True)  # the key value, canonical text
    sort_key: Mapped[str] = mapped_column(String(2048), primary_key=True, default="")  # "" when the table has none
    item: Mapped[dict[str, Any]]
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())


# -- status-change events (docs/events.md) -------------------------------------------------------------

EVENT_DELIVERY_STATUSES = ("PENDING", "DELIVERED", "DEAD")


class StatusEvent(Base):
    """An execution's status change, as the EventBridge event AWS sends for it (``event``, JSON text
    kept as written), recorded in the transaction that changed the status; only while events are on
    (ORCHESTRATOR_EVENTS_FILE or ORCHESTRATOR_EVENTS)."""

    __tablename__ = "status_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the event's ``id`` (a UUID)
    execution_id: Mapped[int] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    time: Mapped[dt.datetime]
    event: Mapped[str] = mapped_column(Text)


class EventDelivery(Base):
    """One status-change event to one subscriber (a webhook, a ``@subscriber`` function): retried with
    backoff until DELIVERED, or DEAD (a dead letter) after the subscriber's last attempt."""

    __tablename__ = "event_deliveries"
    __table_args__ = (
        CheckConstraint(_in("status", EVENT_DELIVERY_STATUSES), name="status"),
        UniqueConstraint("event_id", "subscriber"),
        Index(None, "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("status_events.id", ondelete="CASCADE"))
    subscriber: Mapped[str] = mapped_column(String(200))  # ``webhook:<name>`` or ``python:<name>``
    status: Mapped[str] = mapped_column(String(16), default="PENDING")
    attempts: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]


class Queue(Base):
    """A local SQS queue: a QueueUrl or queue ARN names it by its last part (``.fifo`` for a FIFO queue)."""

    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    # VisibilityTimeout, DelaySeconds, MessageRetentionPeriod, FifoQueue, ContentBasedDeduplication (SQS's names)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_sequence: Mapped[int] = mapped_column(BigInteger, default=0)  # a FIFO queue's last SequenceNumber
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())


class QueueMessage(Base):
    """A message in a local queue, until a consumer deletes it: hidden from other receivers until
    ``visible_at`` (its delay, then each receive's visibility timeout)."""

    __tablename__ = "queue_messages"
    __table_args__ = (Index(None, "queue_id", "visible_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)  # the order it was sent in
    message_id: Mapped[str] = mapped_column(String(36), unique=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(SafeText())
    message_attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    md5_of_body: Mapped[str] = mapped_column(String(32))
    group_id: Mapped[str | None] = mapped_column(String(128))
    deduplication_id: Mapped[str | None] = mapped_column(String(128))
    sequence_number: Mapped[str | None] = mapped_column(String(20))
    execution_arn: Mapped[str | None] = mapped_column(String(512))
    sent_at: Mapped[dt.datetime]
    visible_at: Mapped[dt.datetime]
    receive_count: Mapped[int] = mapped_column(default=0)
    receipt_handle: Mapped[str | None] = mapped_column(String(64), unique=True)
    first_received_at: Mapped[dt.datetime | None]
