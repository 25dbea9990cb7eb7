"""``orchestrator topics ...``: local SNS topics from the command line.

`register` adds the ``topics`` command and its subcommands to the main parser (`orchestrator.cli`):
create, list, delete, subscribe, unsubscribe, subscriptions, publish, messages, deliveries. Each
prints a readable line per item, or ``--json``; an SNS error is one line on stderr (exit status 1).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Command = Callable[[argparse.Namespace], int]


def _service() -> Any:
    """The Service, with the embedded database's schema in place and the user's subscribers loaded."""
    from orchestrator import config
    from orchestrator.integrations import registry
    from orchestrator.service import Service
    from orchestrator.store.migrate import is_current, upgrade

    settings = config.load()
    if settings.is_sqlite:
        upgrade(settings.database_url)
    elif not is_current(settings.database_url):
        raise _Refused("the database schema is not up to date: run `orchestrator db upgrade` first", 2)
    registry.load_modules(settings.handler_modules)
    return Service(settings)


class _Refused(Exception):
    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _command(function: Command) -> Command:
    """Print a refused action as one line on stderr with its exit status, never a traceback."""

    @functools.wraps(function)
    def run(args: argparse.Namespace) -> int:
        from orchestrator.service import ServiceError

        try:
            return function(args)
        except ServiceError as exc:
            print(f"orchestrator topics {args.topics_command}: {exc.code}: {exc.message}", file=sys.stderr)
            return 1
        except _Refused as exc:
            print(f"orchestrator topics {args.topics_command}: {exc}", file=sys.stderr)
            return exc.status

    return run


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _text(value: str) -> str:
    """A message given inline, or as @file (@- reads stdin)."""
    if not value.startswith("@"):
        return value
    try:
        return sys.stdin.read() if value == "@-" else Path(value[1:]).read_text(encoding="utf-8")
    except OSError as exc:
        raise _Refused(f"{value[1:]}: {exc.strerror}", 2) from None


# -- commands --------------------------------------------------------------------------------------


@_command
def cmd_create(args: argparse.Namespace) -> int:
    result = _service().create_topic(
        args.name, content_based_deduplication=args.content_based_deduplication, delivery_policy=args.delivery_policy
    )
    print(result["TopicArn"])
    return 0


@_command
def cmd_list(args: argparse.Namespace) -> int:
    found = _service().list_topics()
    if args.json:
        _print_json(found)
        return 0
    for topic in found:
        print(f"{topic['TopicArn']}  subscriptions: {topic['Subscriptions']}  messages: {topic['Messages']}")
    if not found:
        print("no topics (create one with: orchestrator topics create NAME)")
    return 0


@_command
def cmd_delete(args: argparse.Namespace) -> int:
    _service().delete_topic(args.name)
    print(f"deleted {args.name}")
    return 0


@_command
def cmd_subscribe(args: argparse.Namespace) -> int:
    if args.url:
        protocol, endpoint = args.url.split(":", 1)[0].lower(), args.url
    else:
        protocol, endpoint = "python", args.python
    result = _service().subscribe(
        args.name,
        protocol=protocol,
        endpoint=endpoint,
        raw_message_delivery=args.raw,
        delivery_policy=args.delivery_policy,
    )
    print(result["SubscriptionArn"])
    return 0


@_command
def cmd_unsubscribe(args: argparse.Namespace) -> int:
    _service().unsubscribe(args.subscription_arn)
    print("unsubscribed")
    return 0


@_command
def cmd_subscriptions(args: argparse.Namespace) -> int:
    found = _service().list_subscriptions(args.name)
    if args.json:
        _print_json(found)
        return 0
    for subscription in found:
        print(f"{subscription['Protocol']:<6} {subscription['Endpoint']}  {subscription['SubscriptionArn']}")
    if not found:
        print("no subscriptions")
    return 0


@_command
def cmd_publish(args: argparse.Namespace) -> int:
    service = _service()
    result = service.publish(
        args.name,
        _text(args.message),
        subject=args.subject,
        message_group_id=args.group_id,
        message_deduplication_id=args.deduplication_id,
    )
    if args.json:
        _print_json(result)
        return 0
    print(result["MessageId"])
    return 0


@_command
def cmd_messages(args: argparse.Namespace) -> int:
    found = _service().list_messages(args.name, limit=args.limit)
    if args.json:
        _print_json(found)
        return 0
    for message in found:
        subject = f"  [{message['Subject']}]" if message["Subject"] else ""
        print(f"{message['PublishedAt']:%Y-%m-%d %H:%M:%S}  {message['MessageId']}{subject}")
        print(f"    {message['Message'][:300]}")
        for delivery in message["Deliveries"]:
            print(f"    -> {delivery['Status']:<9} after {delivery['Attempts']} attempt(s)  {delivery['Endpoint']}")
    if not found:
        print("no messages")
    return 0


@_command
def cmd_deliveries(args: argparse.Namespace) -> int:
    found = _service().list_deliveries(args.name)
    if args.json:
        _print_json(found)
        return 0
    for delivery in found:
        error = f"  last error: {delivery['LastError']}" if delivery["LastError"] else ""
        print(
            f"{delivery['Status']:<9} attempts: {delivery['Attempts']}  {delivery['MessageId']}  "
            f"{delivery['Endpoint']}{error}"
        )
    if not found:
        print("no deliveries")
    return 0


# -- the parser ------------------------------------------------------------------------------------------


def _add(subparsers: Any, name: str, func: Command, help_text: str, example: str) -> argparse.ArgumentParser:
    # cli._add's twin: importing orchestrator.cli from here would load it twice under `python -m`.
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=func)
    return parser


def register(subparsers: Any) -> None:
    """Add ``topics`` and its subcommands to the main parser's subcommands."""
    topics = subparsers.add_parser(
        "topics",
        help="Local SNS topics: create them, subscribe webhooks or Python functions, see what was published.",
        description="Local SNS topics: what arn:aws:states:::sns:publish publishes to (a TopicArn names a topic "
        "by its name).",
        epilog="example:\n  orchestrator topics create CreditApprovals",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = topics.add_subparsers(dest="topics_command", metavar="COMMAND", required=True)
    policy_help = (
        'SNS DeliveryPolicy JSON, e.g. \'{"healthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 1, '
        '"maxDelayTarget": 30, "backoffFunction": "exponential"}}\''
    )

    create = _add(
        commands,
        "create",
        cmd_create,
        "Create a topic (a name ending in .fifo makes a FIFO topic); prints its ARN. Creating it again is harmless.",
        "orchestrator topics create CreditApprovals",
    )
    create.add_argument("name", metavar="NAME")
    create.add_argument(
        "--content-based-deduplication", action="store_true", help="FIFO topics: deduplicate by the message's hash"
    )
    create.add_argument("--delivery-policy", help=f"retries for the topic's webhooks: {policy_help}")

    listing = _add(commands, "list", cmd_list, "List the topics.", "orchestrator topics list --json")
    listing.add_argument("--json", action="store_true", help="print as JSON")

    delete = _add(
        commands,
        "delete",
        cmd_delete,
        "Delete a topic with its subscriptions and messages.",
        "orchestrator topics delete CreditApprovals",
    )
    delete.add_argument("name", metavar="NAME", help="the topic's name or ARN")

    subscribe = _add(
        commands,
        "subscribe",
        cmd_subscribe,
        "Subscribe a webhook (an http(s) URL, POSTed SNS's JSON notification) or a Python function "
        "(an @subscriber name or module:function) to a topic; prints the subscription's ARN.",
        "orchestrator topics subscribe CreditApprovals --url https://reviews.example.com/sns",
    )
    subscribe.add_argument("name", metavar="NAME", help="the topic's name or ARN")
    target = subscribe.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="the webhook's URL")
    target.add_argument("--python", metavar="FUNCTION", help="an @subscriber name, or module:function")
    subscribe.add_argument("--raw", action="store_true", help="POST the message itself, not SNS's JSON around it")
    subscribe.add_argument("--delivery-policy", help=f"retries for this subscription: {policy_help}")

    unsubscribe = _add(
        commands,
        "unsubscribe",
        cmd_unsubscribe,
        "Remove a subscription.",
        "orchestrator topics unsubscribe arn:aws:sns:us-east-1:123456789012:CreditApprovals:0b6d...",
    )
    unsubscribe.add_argument("subscription_arn", metavar="SUBSCRIPTION_ARN")

    subscriptions = _add(
        commands,
        "subscriptions",
        cmd_subscriptions,
        "List a topic's subscriptions.",
        "orchestrator topics subscriptions CreditApprovals",
    )
    subscriptions.add_argument("name", metavar="NAME", help="the topic's name or ARN")
    subscriptions.add_argument("--json", action="store_true", help="print as JSON")

    publish = _add(
        commands,
        "publish",
        cmd_publish,
        "Publish a message to a topic (as SNS's Publish); prints its MessageId. Without a worker running, "
        "the deliveries are made before the command returns.",
        'orchestrator topics publish CreditApprovals --message \'{"applicant": "Jane"}\' --subject Review',
    )
    publish.add_argument("name", metavar="NAME", help="the topic's name or ARN")
    publish.add_argument("--message", required=True, help="the message text, or @file (@- reads stdin)")
    publish.add_argument("--subject", help="the subject (up to 100 characters)")
    publish.add_argument("--group-id", help="MessageGroupId (FIFO topics)")
    publish.add_argument("--deduplication-id", help="MessageDeduplicationId (FIFO topics)")
    publish.add_argument("--json", action="store_true", help="print Publish's result as JSON")

    messages = _add(
        commands,
        "messages",
        cmd_messages,
        "Show a topic's messages, newest first, with how each delivery went.",
        "orchestrator topics messages CreditApprovals --limit 10",
    )
    messages.add_argument("name", metavar="NAME", help="the topic's name or ARN")
    messages.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    messages.add_argument("--json", action="store_true", help="print as JSON")

    deliveries = _add(
        commands,
        "deliveries",
        cmd_deliveries,
        "Show every delivery of a topic's messages: status, attempts, last error.",
        "orchestrator topics deliveries CreditApprovals --json",
    )
    deliveries.add_argument("name", metavar="NAME", help="the topic's name or ARN")
    deliveries.add_argument("--json", action="store_true", help="print as JSON")
