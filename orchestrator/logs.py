"""Log lines as text (the default) or as one JSON object per line (``ORCHESTRATOR_LOG_FORMAT=json``).

A JSON line holds ``timestamp`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``, then what is
known about the work that wrote it: ``requestId`` in the API, ``executionArn``, ``stateName`` and
``attempt`` in a worker. Those come from a record's ``extra``, from `bound` (a context variable),
or from the context providers a process adds (`add_context`), and only under the names in
`CONTEXT_FIELDS`: Celery puts a task's arguments, which carry executions' data, in its records'
``extra``, and a log line must not carry an execution's input or output.

Standard library only, so every process (serve, worker, scheduler, the CLI) can set it up first.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# The names a line may carry besides its four own, in this order; snake_case spellings in a record's
# ``extra`` are accepted for the three an engine step knows.
CONTEXT_FIELDS = ("requestId", "executionArn", "stateName", "attempt", "task", "taskId")
_ALIASES = {"request_id": "requestId", "execution_arn": "executionArn", "state_name": "stateName"}

_NOTHING: Mapping[str, Any] = MappingProxyType({})
_BOUND: ContextVar[Mapping[str, Any]] = ContextVar("orchestrator_log_fields", default=_NOTHING)
_PROVIDERS: list[Callable[[], Mapping[str, Any]]] = []


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Log lines written inside the block (in this thread or task) carry ``fields``."""
    token = _BOUND.set({**_BOUND.get(), **fields})
    try:
        yield
    finally:
        _BOUND.reset(token)


def add_context(provider: Callable[[], Mapping[str, Any]]) -> None:
    """Ask ``provider`` for fields at each JSON line (a worker's current execution, state and attempt)."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def context_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The context a line carries: providers', then bound, then the record's own (the most specific)."""
    found: dict[str, Any] = {}
    for provider in _PROVIDERS:
        try:
            found.update(provider())
        except Exception:  # a provider must not cost the line
            continue
    found.update(_BOUND.get())
    for name, value in vars(record).items():
        key = _ALIASES.get(name, name)
        if key in CONTEXT_FIELDS:
            found[key] = value
    return {key: found[key] for key in CONTEXT_FIELDS if found.get(key) is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **context_fields(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure(log_format: str, level: int | str = logging.INFO) -> None:
    """Send every logger's records to stderr in ``log_format`` (``text`` or ``json``), replacing the
    handlers the root logger had; loggers that keep their own handlers (uvicorn's, Celery's) are
    pointed at the root in `route_to_root`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Python's warnings (a library's, Celery's) become log records, so they are lines like the rest.
    logging.captureWarnings(log_format == "json")


def route_to_root(*names: str) -> None:
    """Make the named loggers write through the root's handler (and so in its format)."""
    for name in names:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
