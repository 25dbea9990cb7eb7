"""What every command shares: how it reads its arguments, reports errors and prints results.

A command raises `UsageError` for a mistake in what was asked (exit status 2) and `ActionError` when
the engine refuses the action (exit status 1); `orchestrator.cli.main` prints either as one line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any


class UsageError(Exception):
    """A problem with what the user asked for; printed without a traceback, exit status 2."""


def read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8") if path != "-" else sys.stdin.read()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a definition file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None


def parse_json_argument(value: str, what: str) -> Any:
    """A JSON value given inline, or as ``@file`` (``@-`` reads stdin)."""
    text = read_text(value[1:]) if value.startswith("@") else value
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None


def open_service(*, subscribers: bool = False) -> Any:
    """The Service over the configured database, its schema checked (the embedded one is created).

    ``subscribers`` loads the handler modules too, for commands whose action calls `@subscriber`s.
    """
    from orchestrator import config
    from orchestrator.service import Service

    settings = config.load()
    ensure_schema(settings)
    if subscribers:
        from orchestrator.integrations import registry

        registry.load_modules(settings.handler_modules)
    return Service(settings)


def service_call(call: Callable[[], Any]) -> Any:
    """Run a service action; its AWS error becomes a one-line message (exit status 1)."""
    from orchestrator.service import ServiceError

    try:
        return call()
    except ServiceError as exc:
        raise ActionError(f"{exc.code}: {exc.message}") from None


class ActionError(Exception):
    """The engine refused an action (an AWS-style error); printed without a traceback, exit status 1."""


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=json_default))


def json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return show_time(value, "auto")
    raise TypeError(f"{type(value).__name__} is not JSON")


def show_time(moment: dt.datetime, timespec: str = "seconds") -> str:
    """A time as the CLI prints it, in JSON and in tables alike: ISO 8601 in UTC with its offset,
    ``2026-12-07T05:37:47+00:00`` (a naive time is UTC: the store keeps every time in UTC)."""
    utc = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    return utc.isoformat(timespec=timespec)


def silence_stdout() -> None:
    """Send what is still to be written to stdout nowhere: its reader has gone (a closed pipe), and
    Python would otherwise fail again flushing it at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def quiet_celery() -> None:
    """The embedded worker's start-up chatter is not for a person running a workflow."""
    warnings.filterwarnings("ignore", module="celery.platforms")
    for name in ("celery", "kombu", "amqp"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # A handler's exception is in the trace already (its error and cause); the traceback the worker
    # logs with it is for a worker's log, not for this terminal.
    logging.getLogger("orchestrator.runtime.tasks").setLevel(logging.ERROR)


def ensure_schema(settings: Any) -> None:
    from orchestrator.store.migrate import is_current, upgrade

    if settings.is_sqlite:
        upgrade(settings.database_url)
    elif not is_current(settings.database_url):
        raise UsageError("the database schema is not up to date: run `orchestrator db upgrade` first")


def safe_url(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


Command = Callable[[argparse.Namespace], int]


def add_command(subparsers: Any, name: str, func: Command, help_text: str, example: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # The full name ("orchestrator topics create") prefixes the command's error messages.
    parser.set_defaults(func=func, command_name=parser.prog)
    return parser
