"""``orchestrator prune``: remove closed executions older than an age, with their history, now.

The scheduler does this on its own every few minutes for ``ORCHESTRATOR_RETENTION_DAYS`` (90 by
default); this command is for doing it at once, for another age, or for seeing first what would go.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from typing import Any

from orchestrator.cli.common import UsageError, add_command, open_service, print_json, service_call, show_time

_AGE = re.compile(r"(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>[smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# What the report lists, in this order: (the count's key, its name in a sentence).
_COUNTS = (
    ("historyEvents", "history events"),
    ("childRuns", "branch and iteration runs"),
    ("taskTokens", "task tokens"),
    ("timers", "timers"),
    ("mapRuns", "map runs"),
    ("outboxMessages", "outbox messages"),
    ("statusEvents", "status-change events"),
)


def parse_age(text: str) -> dt.timedelta:
    """``30d``, ``12h``, ``90m``, ``45s``, ``2w`` (or ``1.5d``) as a timedelta."""
    match = _AGE.fullmatch(text.strip().lower())
    if match is None:
        raise UsageError(
            f"--older-than takes an age such as 30d, 12h, 90m, 45s or 2w (days, hours, minutes, seconds, "
            f"weeks), not {text!r}"
        )
    return dt.timedelta(seconds=float(match["amount"]) * _UNIT_SECONDS[match["unit"]])


def cmd_prune(args: argparse.Namespace) -> int:
    service = open_service()
    if args.older_than is not None:
        age = parse_age(args.older_than)
    elif service.settings.retention_days is not None:
        age = dt.timedelta(days=service.settings.retention_days)
    else:
        raise UsageError("ORCHESTRATOR_RETENTION_DAYS is off: say how old with --older-than, such as 90d")
    report = service_call(lambda: service.prune_executions(age, dry_run=args.dry_run))
    if args.json:
        print_json(report)
    else:
        print(_sentence(report))
    return 0


def _sentence(report: dict[str, Any]) -> str:
    removed = report["removed"]
    verb = "would remove" if report["dryRun"] else "removed"
    stopped = show_time(report["stoppedBefore"])
    head = f"{verb} {removed['executions']:,} closed execution(s) that stopped before {stopped}"
    if not removed["executions"]:
        return f"nothing to remove: no closed execution stopped before {stopped}"
    details = ", ".join(f"{removed[key]:,} {name}" for key, name in _COUNTS if removed[key])
    return f"{head}, with {details}" if details else head


def register(subparsers: Any) -> None:
    """Add ``prune`` to the ``orchestrator`` parser's subcommands."""
    prune = add_command(
        subparsers,
        "prune",
        cmd_prune,
        "Remove closed executions (succeeded, failed, timed out, aborted) that stopped longer ago than "
        "an age, with their history events, branches, iterations, task tokens and timers. Running "
        "executions are never touched. The scheduler does this by itself for ORCHESTRATOR_RETENTION_DAYS "
        "(90 by default); a removed execution cannot be described or redriven any more.",
        "orchestrator prune --older-than 30d --dry-run   # see what would go, then without --dry-run",
    )
    prune.add_argument(
        "--older-than",
        metavar="AGE",
        help="how long ago they stopped: 30d, 12h, 90m, 45s or 2w (default: ORCHESTRATOR_RETENTION_DAYS days)",
    )
    prune.add_argument("--dry-run", action="store_true", help="count what would be removed; remove nothing")
    prune.add_argument("--json", action="store_true", help="print the report as JSON")
