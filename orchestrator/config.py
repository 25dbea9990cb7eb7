"""Configuration: environment variables, with defaults that need nothing installed.

- ``ORCHESTRATOR_HOME`` (``~/.orchestrator``): where the embedded defaults keep their files.
- ``ORCHESTRATOR_DATABASE_URL`` (a SQLite file in the home): a SQLAlchemy URL, such as
  ``postgresql+psycopg://user@host/db`` in production.
- ``ORCHESTRATOR_BROKER_URL`` (``memory://``, in-process): the Celery broker, ``redis://...`` or
  ``amqp://...``.
- ``ORCHESTRATOR_HANDLER_MODULES``: extra modules of ``@handler`` functions, comma-separated, found in the
  current directory or on the Python path (`integrations.registry.load_modules`).
- ``ORCHESTRATOR_HANDLER_QUEUE`` (``orchestrator.handlers``): the queue handlers run on unless they
  name their own.
- ``ORCHESTRATOR_ENGINE_QUEUE`` (``orchestrator``): the queue of the engine's own tasks.
- ``ORCHESTRATOR_VISIBILITY_TIMEOUT`` (``3600``): seconds before an unacknowledged message is
  delivered again (Redis) and an unconsumed outbox message that no lease covers is published again
  (messages of other kinds than an execution's steps and Tasks, and every message with leases off):
  a safety net, far above the lease.
- ``ORCHESTRATOR_LEASE_SECONDS`` (``15``): how long a worker process's lease on the work it runs
  (a handler call and the step recording its result) lasts unless renewed; the scheduler hands the
  work of a lease that ran out to another worker, and republishes an execution's message that no
  worker has held for this long after it was published. ``0`` turns leases off (recovery then
  waits for the visibility timeout). Ignored with the embedded broker (one process holds it all).
- ``ORCHESTRATOR_LEASE_RENEW_SECONDS`` (``3``): how often a worker process renews its leases.
- ``ORCHESTRATOR_PREFETCH`` (``1``): messages a worker process reserves ahead.
- ``ORCHESTRATOR_FOLLOW_ON_SECONDS`` (``0.25``): how long a worker may go on with an execution's next
  Tasks itself, without the broker, when it takes their queue; ``0`` sends every one through it. A
  Task run so is leased like any other, so a lost worker's Tasks come back as soon on either broker.
- ``ORCHESTRATOR_DATABASE_SESSION_OPTIONS`` (see `store.db.DEFAULT_SESSION_OPTIONS`): PostgreSQL settings
  for every session, ``NAME=VALUE`` separated by spaces; empty for a pooler that refuses them.
- ``ORCHESTRATOR_API_KEYS`` / ``ORCHESTRATOR_API_KEYS_FILE``: the access keys the HTTP API accepts
  (``KEY=SECRET`` pairs, comma- or line-separated). None: any credentials are accepted and
  ``orchestrator serve`` binds to 127.0.0.1 only.
- ``ORCHESTRATOR_SCHEDULER_HEARTBEAT`` (``$ORCHESTRATOR_HOME/scheduler.heartbeat``): the file the
  scheduler touches after every tick; ``orchestrator health --scheduler`` checks it is fresh.
- ``ORCHESTRATOR_AWS_SDK`` (``boto3`` to enable) / ``ORCHESTRATOR_AWS_ENDPOINT_URL``: let
  ``aws-sdk:`` Task states that no local integration serves call AWS (or that endpoint) through boto3.
- ``ORCHESTRATOR_AWS_SDK_SFN`` (``boto3`` to enable): send ``aws-sdk:sfn:`` Task states to AWS too;
  by default they call this engine's own Step Functions.
- ``ORCHESTRATOR_ROUTE_TO_AWS``: the Lambda functions, SNS topics, DynamoDB tables and SQS queues
  that go to AWS through boto3 instead of the local stand-ins, as ``service:glob`` pairs
  (``lambda:billing-*,sqs:orders``); ``ORCHESTRATOR_<SERVICE>_ENDPOINT_URL``
  (``ORCHESTRATOR_SQS_ENDPOINT_URL``, ...) sends a whole service to that endpoint
  (`integrations.routing`, docs/integrations.md).
- ``ORCHESTRATOR_S3_ENDPOINT_URL`` / ``ORCHESTRATOR_S3`` (``aws`` to enable) / ``ORCHESTRATOR_S3_ROOT``
  (``$ORCHESTRATOR_HOME/buckets``): where Distributed Map's ItemReader and ResultWriter and
  ``aws-sdk:s3`` Tasks read and write: an S3-compatible endpoint, AWS S3, or else local buckets in
  that folder (`integrations.s3`, docs/s3.md).
- ``ORCHESTRATOR_CONNECTIONS_FILE``: the HTTP Task's named connections (credentials), JSON.
- ``ORCHESTRATOR_HTTP_TIMEOUT`` (``60``): seconds before an HTTP Task fails with States.Http.Socket.
- ``ORCHESTRATOR_CONSOLE_READ_ONLY`` (``1`` to enable): the console (``/console/``) shows everything and
  changes nothing: no Start, Stop, Redrive, nor answers in the approvals inbox.
- ``ORCHESTRATOR_CONSOLE_SECRET``: the key that signs the console's session cookies. By default it is
  derived from the access keys (so every server process agrees); without access keys, a random one
  per process (set it when several processes serve the console without keys).
- ``ORCHESTRATOR_EVENTS_FILE``: a TOML file of webhooks that receive every execution's status-change
  events (docs/events.md); setting it turns the events on.
- ``ORCHESTRATOR_EVENTS`` (``1`` to enable): write status-change events with no webhooks file, for
  ``@subscriber`` functions alone.
- ``ORCHESTRATOR_EXECUTION_LOG``: where the log records of state machines with a ``loggingConfiguration``
  go, in the shape of AWS's CloudWatch Logs records (docs/execution-logs.md): ``stdout``, ``stderr``,
  ``file:///var/log/orchestrator/executions.jsonl`` or an ``http(s)://`` URL. Unset: none are written.
- ``ORCHESTRATOR_RETENTION_DAYS`` (``90``, AWS's): the scheduler removes closed executions that stopped
  longer ago than this, with their history (docs/operations.md, "Retention"); ``off`` (or ``0``) keeps
  them for ever. Fractions are allowed (``0.5``: twelve hours).
- ``ORCHESTRATOR_REGION`` / ``ORCHESTRATOR_ACCOUNT`` (``us-east-1`` / ``123456789012``): what ARNs say.
- ``ORCHESTRATOR_METRICS_PUBLIC`` (``1`` to enable): serve ``/metrics`` to anyone, unsigned, even with
  access keys (for a Prometheus on another host; by default it is for this machine and signed requests).
- ``ORCHESTRATOR_LOG_FORMAT`` (``text`` or ``json``): ``json`` writes one JSON object per log line.
- ``ORCHESTRATOR_MAP_PAGE_ITEMS`` (``10000``): a Distributed Map's ItemReader is asked for this many
  items at a time (and at most 8 MiB of them), each page's children written before the next is read,
  so that a process holds a page of the items, never all of them.

Everything reads the environment when asked (`load`), so tests and subprocesses can set it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HANDLER_QUEUE = "orchestrator.handlers"
DEFAULT_ENGINE_QUEUE = "orchestrator"


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    database_url: str
    broker_url: str
    handler_modules: tuple[str, ...]
    handler_queue: str
    engine_queue: str
    visibility_timeout: float
    prefetch: int
    follow_on_seconds: float
    region: str
    account: str
    api_keys: dict[str, str]
    scheduler_heartbeat: Path
    console_read_only: bool = False
    console_secret: str = ""
    lease_seconds: float = 15.0
    lease_renew_seconds: float = 3.0
    retention_days: float | None = 90.0  # None: closed executions are kept for ever
    metrics_public: bool = False  # /metrics for anyone, unsigned
    log_format: str = "text"  # or "json": one JSON object per line (orchestrator.logs)
    events_file: Path | None = None  # status-change webhooks (docs/events.md)
    events: bool = False  # write status-change events
    execution_log: str = ""  # where execution log records go (docs/execution-logs.md)
    map_page_items: int = 10_000  # a Distributed Map's items are read this many at a time

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url.startswith("memory://")

    @property
    def leases(self) -> bool:
        """Whether workers hold leases on their work (not with the embedded broker: its one process
        holds the worker and the scheduler, and dies with both)."""
        return self.lease_seconds > 0 and not self.embedded_broker

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    home = Path(env.get("ORCHESTRATOR_HOME") or Path.home() / ".orchestrator").expanduser()
    broker_url = env.get("ORCHESTRATOR_BROKER_URL") or "memory://"
    modules = tuple(m.strip() for m in env.get("ORCHESTRATOR_HANDLER_MODULES", "").split(",") if m.strip())
    return Settings(
        home=home,
        database_url=env.get("ORCHESTRATOR_DATABASE_URL") or f"sqlite:///{home / 'orchestrator.sqlite'}",
        broker_url=broker_url,
        handler_modules=modules,
        handler_queue=env.get("ORCHESTRATOR_HANDLER_QUEUE") or DEFAULT_HANDLER_QUEUE,
        engine_queue=env.get("ORCHESTRATOR_ENGINE_QUEUE") or DEFAULT_ENGINE_QUEUE,
        visibility_timeout=float(env.get("ORCHESTRATOR_VISIBILITY_TIMEOUT") or 3600),
        prefetch=int(env.get("ORCHESTRATOR_PREFETCH") or 1),
        follow_on_seconds=float(env.get("ORCHESTRATOR_FOLLOW_ON_SECONDS") or 0.25),
        region=env.get("ORCHESTRATOR_REGION") or "us-east-1",
        account=env.get("ORCHESTRATOR_ACCOUNT") or "123456789012",
        api_keys=_api_keys(env),
        scheduler_heartbeat=Path(env.get("ORCHESTRATOR_SCHEDULER_HEARTBEAT") or home / "scheduler.heartbeat"),
        console_read_only=env.get("ORCHESTRATOR_CONSOLE_READ_ONLY", "").strip().lower() in ("1", "true", "yes"),
        console_secret=env.get("ORCHESTRATOR_CONSOLE_SECRET", ""),
        retention_days=_retention_days(env.get("ORCHESTRATOR_RETENTION_DAYS")),
        metrics_public=env.get("ORCHESTRATOR_METRICS_PUBLIC", "").strip().lower() in ("1", "true", "yes"),
        log_format=(env.get("ORCHESTRATOR_LOG_FORMAT") or "text").strip().lower(),
        map_page_items=max(1, int(env.get("ORCHESTRATOR_MAP_PAGE_ITEMS") or 10_000)),
        **_lease_settings(env),
        **_event_settings(env),
        execution_log=env.get("ORCHESTRATOR_EXECUTION_LOG", "").strip(),
    )


def _retention_days(value: str | None) -> float | None:
    text = (value or "").strip().lower()
    if not text:
        return 90.0
    if text in ("off", "never", "none"):
        return None
    try:
        days = float(text)
    except ValueError:
        days = -1.0
    if not 0 <= days < 1e6:
        raise ValueError(f"ORCHESTRATOR_RETENTION_DAYS must be a number of days (such as 90) or off, not {value!r}")
    return days or None


def _lease_settings(env: Mapping[str, str]) -> dict[str, float]:
    seconds = float(env.get("ORCHESTRATOR_LEASE_SECONDS") or 15)
    renew = float(env.get("ORCHESTRATOR_LEASE_RENEW_SECONDS") or 3)
    if seconds > 0 and not 0 < renew < seconds:
        raise ValueError(
            f"ORCHESTRATOR_LEASE_RENEW_SECONDS={renew:g} must be above 0 "
            f"and below ORCHESTRATOR_LEASE_SECONDS={seconds:g}"
        )
    return {"lease_seconds": seconds, "lease_renew_seconds": renew}


def _event_settings(env: Mapping[str, str]) -> dict[str, Path | bool | None]:
    events_file = env.get("ORCHESTRATOR_EVENTS_FILE")
    switched_on = env.get("ORCHESTRATOR_EVENTS", "").strip().lower() in ("1", "true", "yes", "on")
    return {
        "events_file": Path(events_file).expanduser() if events_file else None,
        "events": bool(events_file) or switched_on,
    }


def _api_keys(env: Mapping[str, str]) -> dict[str, str]:
    keys = parse_keys(env.get("ORCHESTRATOR_API_KEYS", ""))
    path = env.get("ORCHESTRATOR_API_KEYS_FILE")
    if path:
        try:
            keys.update(parse_keys(Path(path).expanduser().read_text()))
        except OSError as exc:
            raise ValueError(f"ORCHESTRATOR_API_KEYS_FILE={path}: {exc.strerror}") from None
    return keys


def parse_keys(text: str) -> dict[str, str]:
    """``AKID=SECRET`` pairs separated by commas or new lines (``AKID SECRET`` works too); # comments."""
    keys = {}
    for raw in re.split(r"[,\n]", text):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        key, _, secret = entry.replace("=", " ", 1).partition(" ")
        if not key or not secret.strip():
            raise ValueError(f"an access key entry must be KEY=SECRET, not {entry!r}")
        keys[key.strip()] = secret.strip()
    return keys
