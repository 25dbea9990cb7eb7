"""``orchestrator run``: create (or reuse) a state machine from a file, start it, follow it to its end.

Ctrl-C stops the execution it started (StopExecution: ABORTED, saying it was interrupted at the
terminal) and exits 130, so nothing is left running for a later command to finish unseen; so do
SIGTERM (exit 143) and SIGHUP, the terminal closing (exit 129).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orchestrator.cli.common import (
    ActionError,
    UsageError,
    add_command,
    ensure_schema,
    parse_json_argument,
    print_json,
    quiet_celery,
    read_text,
    service_call,
)

INTERRUPTED_ERROR = "Orchestrator.Interrupted"
INTERRUPTED_CAUSES = {
    signal.SIGINT: "Interrupted by the user at the terminal (Ctrl-C during `orchestrator run`).",
    signal.SIGTERM: "`orchestrator run` was asked to end (SIGTERM).",
    signal.SIGHUP: "The terminal running `orchestrator run` was closed (SIGHUP).",
}


def machine_name(path: str) -> str:
    """The state machine a file makes by default: its name without the extensions, as AWS allows it."""
    name = Path(path).name
    for suffix in (".json", ".asl", ".yaml", ".yml"):
        name = name.removesuffix(suffix)
    return re.sub(r"[^0-9A-Za-z_-]", "-", name)[:80] or "workflow"


def cmd_run(args: argparse.Namespace) -> int:
    from orchestrator import config
    from orchestrator.integrations import registry
    from orchestrator.service import Service

    text = read_text(args.file)
    if not _valid(args.file, text):
        return 1
    execution_input = parse_json_argument(args.input, "--input") if args.input is not None else {}
    settings = config.load()
    registry.load_modules(settings.handler_modules)
    ensure_schema(settings)
    service = Service(settings)
    runtime = None
    if settings.embedded_broker:
        from orchestrator.runtime.app import app
        from orchestrator.runtime.embedded import EmbeddedRuntime

        quiet_celery()
        runtime = EmbeddedRuntime(app, settings).start()
    try:
        with _interruptions_noted() as interruption:
            return _run(service, args, text, execution_input, interruption)
    finally:
        if runtime is not None:
            runtime.stop()


def _valid(path: str, text: str) -> bool:
    from orchestrator.asl.parse import validate

    errors = [d for d in validate(text) if d.severity == "ERROR"]
    if errors:
        print(f"{path}: not a valid state machine:", file=sys.stderr)
        for d in errors:
            print(f"  {d.location or '/'}: {d.message} [{d.code}]", file=sys.stderr)
    return not errors


def _run(service: Any, args: argparse.Namespace, text: str, execution_input: Any, interruption: _Interruption) -> int:
    from orchestrator.follow import Printer, follow

    name = args.state_machine_name or machine_name(args.file)
    arn, said = machine_for(service, name, text, args.file, update=args.update)
    started = service_call(lambda: service.start_execution(arn, name=args.name, input=json.dumps(execution_input)))
    if not args.json:
        print(said)
        print(f"Started {started['executionArn']}")
    printer = None if args.json else Printer(sys.stdout, tokens=service.pending_tokens, definition=text)
    result = follow(service, started["executionArn"], printer, interrupted=interruption)
    if interruption.signum is not None and result["status"] == "RUNNING":
        return _stop_interrupted(service, started["executionArn"], interruption.signum)
    if args.json:
        print_json(result)
    else:
        print_outcome(result)
    return 0 if result["status"] == "SUCCEEDED" else 1


def machine_for(service: Any, name: str, text: str, path: str, *, update: bool) -> tuple[str, str]:
    """The state machine to start, and the line that says which it is.

    A machine of that name with another definition is replaced only when asked (``--update``): it may
    have been made from another file whose name gives the same machine name (``flow.json`` and
    ``flow.asl.json``), or by someone else.
    """
    from orchestrator.service import ServiceError

    arn = service.state_machine_arn(name)
    try:
        existing = service.describe_state_machine(arn)
    except ServiceError as exc:
        if exc.code != "StateMachineDoesNotExist":
            raise ActionError(f"{exc.code}: {exc.message}") from None
        role = f"arn:aws:iam::{service.settings.account}:role/orchestrator"
        created = service_call(lambda: service.create_state_machine(name=name, definition=text, role_arn=role))
        return created["stateMachineArn"], f"Created state machine {name} from {path}"
    if _same_definition(existing["definition"], text):
        return arn, f"Using state machine {name} (its definition is {path}'s)"
    if not update:
        raise UsageError(
            f"a state machine named {name!r} already exists with a different definition than {path}'s.\n"
            f"  To replace its definition with this file's, run again with --update; to keep both, give this one "
            f"another name with --state-machine-name NAME."
        )
    service_call(lambda: service.update_state_machine(arn, definition=text))
    return arn, f"Updated state machine {name} with the definition in {path}"


def _same_definition(stored: str, text: str) -> bool:
    """Equal as JSON: a file only re-indented still names the same machine."""
    try:
        return bool(json.loads(stored) == json.loads(text))
    except json.JSONDecodeError:  # YAML or another text: compare it as written
        return stored == text


class _Interruption:
    """The signal that asked the run to end, if one did: a plain attribute, as a lock taken in a
    signal handler could deadlock the very thread the signal interrupted."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self) -> bool:
        return self.signum is not None


@contextmanager
def _interruptions_noted() -> Iterator[_Interruption]:
    """While in the block, the first Ctrl-C (or SIGTERM, or SIGHUP) is noted, for the run to stop its
    execution between two database calls, never inside one; a second one interrupts at once, as
    Ctrl-C usually does."""
    interruption = _Interruption()

    def on_signal(signum: int, frame: Any) -> None:
        if interruption.signum is not None:
            raise KeyboardInterrupt
        interruption.signum = signum

    previous = {signum: signal.signal(signum, on_signal) for signum in INTERRUPTED_CAUSES}
    try:
        yield interruption
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _stop_interrupted(service: Any, execution_arn: str, signum: int) -> int:
    cause = INTERRUPTED_CAUSES[signal.Signals(signum)]
    service_call(lambda: service.stop_execution(execution_arn, error=INTERRUPTED_ERROR, cause=cause))
    status = service_call(lambda: service.describe_execution(execution_arn))["status"]
    said = "Interrupted" if signum == signal.SIGINT else f"Interrupted ({signal.Signals(signum).name})"
    if status == "ABORTED":
        _say(f"{said}: stopped {execution_arn} (ABORTED)")
    else:  # it ended on its own between the signal and the stop
        _say(f"{said}: {execution_arn} had already ended {status}")
    return 128 + signum  # what a shell reports for a command a signal ended


def _say(line: str) -> None:
    # The terminal may be gone (SIGHUP): the execution is stopped all the same.
    with contextlib.suppress(OSError):
        print(line, file=sys.stderr, flush=True)


def print_outcome(result: dict[str, Any]) -> None:
    print(f"{result['status']}")
    if result["status"] == "SUCCEEDED":
        print(json.dumps(json.loads(result["output"]), indent=2))
    else:
        if result.get("error"):
            print(f"error: {result['error']}")
        if result.get("cause"):
            print(f"cause: {result['cause']}")


def register(subparsers: Any) -> None:
    """Add ``run`` to the ``orchestrator`` parser's subcommands."""
    run = add_command(
        subparsers,
        "run",
        cmd_run,
        "Run a state machine definition and follow it to its end (embedded by default: a SQLite file "
        "and an in-process worker; set ORCHESTRATOR_DATABASE_URL and ORCHESTRATOR_BROKER_URL to use a "
        "cluster). The state machine is named after FILE and created on the first run; a machine of that "
        "name with another definition is replaced only with --update. Exits 0 if the execution succeeds, "
        "1 otherwise; Ctrl-C (or SIGTERM, SIGHUP) stops the execution (ABORTED) and exits 130 (143, 129).",
        "orchestrator run workflow.asl.json --input '{\"amount\": 4200}'",
    )
    run.add_argument("file", metavar="FILE", help="the ASL definition (JSON)")
    run.add_argument("--input", help="the execution input: JSON, or @file to read it from a file")
    run.add_argument("--name", help="the execution name (default: a UUID)")
    run.add_argument("--state-machine-name", help="the state machine to create or update (default: from FILE)")
    run.add_argument(
        "--update",
        action="store_true",
        help="replace the definition of an existing state machine of that name with FILE's "
        "(without it, a different definition is refused)",
    )
    run.add_argument("--json", action="store_true", help="print only DescribeExecution's result, as JSON")
