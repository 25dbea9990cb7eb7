"""``orchestrator state-machines list`` (or ``machines list``): the state machines there are."""

from __future__ import annotations

import argparse
import functools
from typing import Any

from orchestrator.cli.common import add_command, open_service, print_json, service_call, show_time


def cmd_state_machines_list(args: argparse.Namespace) -> int:
    service = open_service()
    machines: list[dict[str, Any]] = []
    token = None
    while True:
        page = service_call(functools.partial(service.list_state_machines, max_results=1000, next_token=token))
        machines.extend(page["stateMachines"])
        token = page.get("nextToken")
        if not token:
            break
    if args.json:
        print_json({"stateMachines": machines})
        return 0
    if not machines:
        print("no state machines (`orchestrator run FILE` creates one from a definition file)")
    width = max((len(m["name"]) for m in machines), default=0)
    for machine in machines:
        print(f"{machine['name']:<{width}}  {machine['type']:<8} {show_time(machine['creationDate'])}  ", end="")
        print(machine["stateMachineArn"])
    return 0


def register(subparsers: Any) -> None:
    """Add ``state-machines`` (alias ``machines``) and its subcommand to the parser's subcommands."""
    machines = subparsers.add_parser(
        "state-machines",
        aliases=["machines"],
        help="List state machines.",
        description="The state machines in the database (`orchestrator run FILE` creates one per file name).",
        epilog="example:\n  orchestrator state-machines list",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = machines.add_subparsers(dest="state_machines_command", metavar="COMMAND", required=True)
    listing = add_command(
        commands,
        "list",
        cmd_state_machines_list,
        "List every state machine: name, type, creation date and ARN, oldest first.",
        "orchestrator state-machines list --json",
    )
    listing.add_argument("--json", action="store_true", help="print ListStateMachines' result as JSON")
