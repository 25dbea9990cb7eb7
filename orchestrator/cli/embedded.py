"""The embedded default, as the command line explains it: where its state lives, and which commands
cannot work on it alone.

With nothing configured, `orchestrator run` and `orchestrator serve` each hold a worker and a scheduler
inside their own process, over a SQLite file. A separate `orchestrator worker` or `scheduler` would
have an in-process queue of its own that no other process reads: what it published would never be
delivered, so those commands refuse to start there and say what to configure.
"""

from __future__ import annotations

from typing import Any

from orchestrator.cli.common import UsageError, safe_url

FRESH_START = "rm -r ~/.orchestrator"


def state_help() -> str:
    """The ``where state lives`` paragraph of ``orchestrator --help``, naming this environment's database."""
    from orchestrator import config

    try:
        settings = config.load()
        now = str(settings.home / "orchestrator.sqlite") if settings.is_sqlite else safe_url(settings.database_url)
    except ValueError as exc:  # a broken setting is reported by the command that needs it, not by --help
        now = f"unknown ({exc})"
    return (
        "where state lives:\n"
        "  With nothing configured, state machines, executions and their history are kept in\n"
        "  ~/.orchestrator/orchestrator.sqlite (ORCHESTRATOR_HOME moves the folder; ORCHESTRATOR_DATABASE_URL\n"
        f"  names a database server instead). Here: {now}\n"
        "  To start afresh on the embedded default, stop `orchestrator serve` and delete the folder:\n"
        f"    {FRESH_START}"
    )


def refuse_without_broker(command: str, settings: Any) -> None:
    """Stop ``orchestrator worker`` or ``scheduler`` before it starts on the embedded broker, saying why."""
    if not settings.embedded_broker:
        return
    why = {
        "worker": "would wait on a queue of its own that no other process sends to",
        "scheduler": "would send the timers it fires to a queue of its own that no worker reads",
    }[command]
    raise UsageError(
        f"no broker is configured (ORCHESTRATOR_BROKER_URL is not set): on the embedded default a separate {command} "
        f"{why}.\n"
        "  With nothing configured, `orchestrator run` and `orchestrator serve` already run a worker and the "
        "scheduler inside their own process: you need neither command.\n"
        "  To run workers and the scheduler as processes of their own, give every process the same broker and "
        "database, for example:\n"
        "    export ORCHESTRATOR_BROKER_URL=redis://127.0.0.1:6379/0   # or amqp://user:pass@host//\n"
        "    export ORCHESTRATOR_DATABASE_URL=postgresql+psycopg://user@127.0.0.1/orchestrator"
    )
