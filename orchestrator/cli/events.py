"""``orchestrator events ...``: status-change events' subscribers and deliveries (docs/events.md).

- ``subscribers``: the webhooks of ORCHESTRATOR_EVENTS_FILE and the ``@subscriber`` functions of the
  handler modules, with their filters (reading them checks the file);
- ``dead-letters``: the deliveries given up after their last attempt; ``deliveries`` any of them;
- ``replay``: try dead letters again, from their first attempt.
"""

from __future__ import annotations

import argparse
from typing import Any

from orchestrator.cli.common import ActionError, add_command, open_service, print_json, service_call


def _service() -> Any:
    # Replaying calls @subscriber functions' workers; listing subscribers needs the handler modules.
    return open_service(subscribers=True)


def cmd_subscribers(args: argparse.Namespace) -> int:
    from orchestrator.runtime.event_subscribers import EventsConfigError, Webhook, subscribers

    service = _service()
    try:
        found = subscribers(service.settings)
    except EventsConfigError as exc:
        raise ActionError(str(exc)) from None
    described = [_describe(s, isinstance(s, Webhook)) for s in found]
    if args.json:
        print_json({"eventsOn": service.settings.events, "subscribers": described})
        return 0
    if not service.settings.events:
        print("status-change events are off: set ORCHESTRATOR_EVENTS_FILE (webhooks) or ORCHESTRATOR_EVENTS=1")
    for item in described:
        where = item.get("url") or "Python function"
        machines = ", ".join(item["stateMachines"]) or "every state machine"
        statuses = ", ".join(item["statuses"]) or "every status"
        print(f"{item['subscriber']}  {where}  ({machines}; {statuses}; {item['maxAttempts']} attempts)")
    if not described:
        print("no subscribers (add [[webhook]] tables to ORCHESTRATOR_EVENTS_FILE, or @subscriber functions)")
    return 0


def _describe(target: Any, webhook: bool) -> dict[str, Any]:
    item = {
        "subscriber": target.key,
        "stateMachines": sorted(target.filter.state_machines),
        "statuses": sorted(target.filter.statuses),
        "maxAttempts": target.retry.max_attempts,
    }
    if webhook:
        item["url"] = target.url
    return item


def cmd_deliveries(args: argparse.Namespace) -> int:
    service = _service()
    status = None if args.status == "all" else args.status
    found = service_call(lambda: service.list_event_deliveries(status=status, after=args.after, limit=args.limit))
    if args.json:
        print_json(found)
        return 0
    for d in found:
        print(
            f"{d['deliveryId']}  {d['status']}  {d['subscriber']}  {d['executionStatus']}  {d['executionArn']}  "
            f"attempts: {d['attempts']}" + (f"  last error: {d['lastError']}" if d["lastError"] else "")
        )
    if not found:
        print("no dead letters" if status == "DEAD" else "no deliveries")
    return 0


def cmd_dead_letters(args: argparse.Namespace) -> int:
    args.status = "DEAD"
    return cmd_deliveries(args)


def cmd_replay(args: argparse.Namespace) -> int:
    if not args.ids and not args.all:
        raise ActionError("name the dead letters to replay (their delivery ids), or give --all")
    service = _service()
    revived = service_call(lambda: service.replay_event_deliveries(None if args.all else args.ids))
    if args.json:
        print_json({"replayed": revived})
    else:
        print(f"replaying {len(revived)} dead letter(s)" + (f": {', '.join(map(str, revived))}" if revived else ""))
    return 0


def register(subparsers: Any) -> None:
    """Add ``events`` and its subcommands to the main parser's subcommands."""
    events = subparsers.add_parser(
        "events",
        help="Status-change events: their subscribers, their deliveries, and the dead letters to replay.",
        description="Status-change events (EventBridge's 'Step Functions Execution Status Change') sent to "
        "webhooks and @subscriber functions; see docs/events.md.",
        epilog="example:\n  orchestrator events dead-letters",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = events.add_subparsers(dest="events_command", metavar="COMMAND", required=True)
    listed = add_command(
        commands,
        "subscribers",
        cmd_subscribers,
        "List the subscribers: the webhooks of ORCHESTRATOR_EVENTS_FILE (checking the file) and the @subscriber "
        "functions of the handler modules.",
        "orchestrator events subscribers",
    )
    listed.add_argument("--json", action="store_true", help="print as JSON")
    for name, func, text, example in (
        ("dead-letters", cmd_dead_letters, "List the deliveries given up after their last attempt.", "dead-letters"),
        ("deliveries", cmd_deliveries, "List deliveries of status-change events.", "deliveries --status PENDING"),
    ):
        command = add_command(commands, name, func, text, f"orchestrator events {example}")
        if name == "deliveries":
            command.add_argument(
                "--status",
                choices=("PENDING", "DELIVERED", "DEAD", "all"),
                default="all",
                help="only the deliveries in this state (default: all)",
            )
        command.add_argument("--after", type=int, default=0, metavar="ID", help="only deliveries after this id")
        command.add_argument("--limit", type=int, default=100, help="at most this many (100)")
        command.add_argument("--json", action="store_true", help="print as JSON")
    replay = add_command(
        commands,
        "replay",
        cmd_replay,
        "Deliver dead letters again, from their first attempt (a worker makes the attempts).",
        "orchestrator events replay 17 18",
    )
    replay.add_argument("ids", nargs="*", type=int, metavar="ID", help="delivery ids (see dead-letters)")
    replay.add_argument("--all", action="store_true", help="every dead letter")
    replay.add_argument("--json", action="store_true", help="print as JSON")
