"""``orchestrator executions list | describe | history | stop | redrive``: look at executions, stop
and redrive them.

An execution is named by its ARN or by its name, as ``executions list`` shows both: a name is looked
for among the executions of the state machine given (``--state-machine``) or, without one, of every
state machine, and must then name one execution only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
from typing import Any

from orchestrator.cli.common import (
    ActionError,
    UsageError,
    add_command,
    open_service,
    print_json,
    service_call,
    show_time,
)

EXAMPLE_ARN = "arn:aws:states:us-east-1:123456789012:execution:my-workflow:run-1"


def resolve_execution(service: Any, reference: str, state_machine: str | None) -> str:
    """The ARN of the execution ``reference`` names (an ARN is returned as it is)."""
    from orchestrator.service import ServiceError

    if reference.startswith("arn:"):
        return reference
    if state_machine is not None:
        machine = state_machine.rsplit(":", 1)[-1] if state_machine.startswith("arn:") else state_machine
        return str(service.execution_arn(machine, reference))
    found = []
    for machine in service.machine_names():
        arn = service.execution_arn(machine, reference)
        try:
            service.describe_execution(arn)
        except ServiceError:
            continue
        found.append((machine, arn))
    if not found:
        raise ActionError(
            f"ExecutionDoesNotExist: no state machine has an execution named {reference!r} "
            "(`orchestrator executions list STATE_MACHINE` shows their names)"
        )
    if len(found) > 1:
        machines = ", ".join(machine for machine, _ in found)
        raise UsageError(
            f"{len(found)} executions are named {reference!r}, of the state machines {machines}: "
            "say which with --state-machine NAME, or give the execution's ARN"
        )
    return found[0][1]


def cmd_executions_list(args: argparse.Namespace) -> int:
    service = open_service()
    arn = args.state_machine if args.state_machine.startswith("arn:") else service.state_machine_arn(args.state_machine)
    page = service_call(
        lambda: service.list_executions(
            arn, status_filter=args.status, max_results=args.limit, redrive_filter=args.redrive_filter
        )
    )
    if args.json:
        print_json(page)
        return 0
    for item in page["executions"]:
        stop = item.get("stopDate")
        ended = f"  ended {show_time(stop)}" if stop else ""
        print(f"{item['status']:<10} {show_time(item['startDate'])}{ended}  {item['executionArn']}")
    if not page["executions"]:
        print("no executions")
    return 0


def cmd_executions_describe(args: argparse.Namespace) -> int:
    service = open_service()
    arn = resolve_execution(service, args.execution, args.state_machine)
    result = service_call(lambda: service.describe_execution(arn))
    if args.json:
        print_json(result)
        return 0
    keys = ("executionArn", "stateMachineArn", "status", "startDate", "stopDate", "input", "output", "error", "cause")
    for key in keys:
        if key in result:
            value = result[key]
            print(f"{key:>16}: {show_time(value, 'auto') if isinstance(value, dt.datetime) else value}")
    return 0


def cmd_executions_history(args: argparse.Namespace) -> int:
    service = open_service()
    arn = resolve_execution(service, args.execution, args.state_machine)
    events: list[dict[str, Any]] = []
    token = None
    while True:
        page = service_call(
            functools.partial(
                service.get_execution_history, arn, reverse_order=args.reverse, next_token=token, max_results=1000
            )
        )
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            break
    if args.json:
        print_json({"events": events})
        return 0
    for event in events:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), None)
        summary = ""
        if details:
            summary = details.get("name") or details.get("error") or ""
        print(f"{event['id']:>5} {show_time(event['timestamp'], 'milliseconds')}  {event['type']:<28} {summary}")
    return 0


def cmd_executions_stop(args: argparse.Namespace) -> int:
    service = open_service()
    arn = resolve_execution(service, args.execution, args.state_machine)
    before = service_call(lambda: service.describe_execution(arn))["status"]
    service_call(lambda: service.stop_execution(arn, error=args.error, cause=args.cause))
    if before != "RUNNING":
        print(f"{arn} had already ended: {before}")
    else:
        print(f"stopped {arn} (ABORTED)")
    return 0


def cmd_executions_redrive(args: argparse.Namespace) -> int:
    from orchestrator import config

    service = open_service()
    arn = resolve_execution(service, args.execution, args.state_machine)
    service_call(lambda: service.redrive_execution(arn))
    count = service_call(lambda: service.describe_execution(arn))["redriveCount"]
    print(f"redriven {arn} (redrive {count}): it goes on from the state where it stopped")
    if config.load().embedded_broker:
        print("  On the embedded default it runs when `orchestrator serve` or `orchestrator run` next runs here.")
    return 0


def register(subparsers: Any) -> None:
    """Add ``executions`` and its subcommands to the ``orchestrator`` parser's subcommands."""
    executions = subparsers.add_parser(
        "executions",
        help="List, inspect, stop and redrive executions.",
        description="List, inspect, stop and redrive executions. An execution is named by its ARN, or by its name "
        "(with --state-machine when several state machines have an execution of that name).",
        epilog="example:\n  orchestrator executions list my-workflow --status RUNNING\n"
        "  orchestrator executions describe run-1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = executions.add_subparsers(dest="executions_command", metavar="COMMAND", required=True)
    listing = add_command(
        commands,
        "list",
        cmd_executions_list,
        "List a state machine's executions, newest first.",
        "orchestrator executions list my-workflow --status RUNNING",
    )
    listing.add_argument("state_machine", metavar="STATE_MACHINE", help="its name or ARN")
    listing.add_argument("--status", help="RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED")
    listing.add_argument(
        "--redrive-filter",
        choices=("REDRIVEN", "NOT_REDRIVEN"),
        help="only the executions redriven at least once, or never",
    )
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    listing.add_argument("--json", action="store_true", help="print ListExecutions' result as JSON")

    describe = add_command(
        commands,
        "describe",
        cmd_executions_describe,
        "Show an execution's status and data.",
        f"orchestrator executions describe run-1 --state-machine my-workflow\n  orchestrator executions describe "
        f"{EXAMPLE_ARN}",
    )
    _execution_arguments(describe)
    describe.add_argument("--json", action="store_true", help="print DescribeExecution's result as JSON")

    history = add_command(
        commands,
        "history",
        cmd_executions_history,
        "Show an execution's history events.",
        "orchestrator executions history run-1 --reverse",
    )
    _execution_arguments(history)
    history.add_argument("--reverse", action="store_true", help="newest first")
    history.add_argument("--json", action="store_true", help="print GetExecutionHistory's events as JSON")

    stop = add_command(
        commands,
        "stop",
        cmd_executions_stop,
        "Stop a running execution (StopExecution): it ends ABORTED, with the error and cause given.",
        "orchestrator executions stop run-1 --error Cancelled --cause 'ordered twice'",
    )
    _execution_arguments(stop)
    stop.add_argument("--error", help="the error recorded on the execution (up to 256 characters)")
    stop.add_argument("--cause", help="a longer explanation recorded with it")

    redrive = add_command(
        commands,
        "redrive",
        cmd_executions_redrive,
        "Redrive an execution that failed, timed out or was stopped, within 14 days (RedriveExecution): it "
        "goes on from the state where it stopped; a Parallel or Map reruns only its branches or iterations "
        "that did not succeed.",
        "orchestrator executions redrive run-1 --state-machine my-workflow",
    )
    _execution_arguments(redrive)


def _execution_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("execution", metavar="ARN_OR_NAME", help="the execution's ARN, or its name")
    parser.add_argument(
        "--state-machine",
        metavar="NAME",
        help="the state machine whose execution NAME is (needed only when several have one of that name)",
    )
