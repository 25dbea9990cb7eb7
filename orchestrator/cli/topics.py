"""``orchestrator topics ...``: local SNS topics from the command line.

`register` adds the ``topics`` command and its subcommands to the main parser (`orchestrator.cli`):
create, list, delete, subscribe, unsubscribe, subscriptions, publish, messages, deliveries. Each
prints a readable line per item, or ``--json``; an SNS error is one line on stderr (exit status 1).
"""

from __future__ import annotations

import argparse
from typing import Any

from orchestrator.cli.common import add_command, open_service, print_json, read_text, service_call, show_time


def _service() -> Any:
    # Publishing may call Python subscribers, which live in the handler modules.
    return open_service(subscribers=True)


def _text(value: str) -> str:
    """A message given inline, or as @file (@- reads stdin)."""
    return read_text(value[1:]) if value.startswith("@") else value


# -- commands --------------------------------------------------------------------------------------


def cmd_create(args: argparse.Namespace) -> int:
    service = _service()
    result = service_call(
        lambda: service.create_topic(
            args.name,
            content_based_deduplication=args.content_based_deduplication,
            delivery_policy=args.delivery_policy,
        )
    )
    print(result["TopicArn"])
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    service = _service()
    found = service_call(service.list_topics)
    if args.json:
        print_json(found)
        return 0
    for topic in found:
        print(f"{topic['TopicArn']}  subscriptions: {topic['Subscriptions']}  messages: {topic['Messages']}")
    if not found:
        print("no topics (create one with: orchestrator topics create NAME)")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    service = _service()
    service_call(lambda: service.delete_topic(args.name))
    print(f"deleted {args.name}")
    return 0


def cmd_subscribe(args: argparse.Namespace) -> int:
    if args.url:
        protocol, endpoint = args.url.split(":", 1)[0].lower(), args.url
    else:
        protocol, endpoint = "python", args.python
    service = _service()
    result = service_call(
        lambda: service.subscribe(
            args.name,
            protocol=protocol,
            endpoint=endpoint,
            raw_message_delivery=args.raw,
            delivery_policy=args.delivery_policy,
        )
    )
    print(result["SubscriptionArn"])
    return 0


def cmd_unsubscribe(args: argparse.Namespace) -> int:
    service = _service()
    service_call(lambda: service.unsubscribe(args.subscription_arn))
    print("unsubscribed")
    return 0


def cmd_subscriptions(args: argparse.Namespace) -> int:
    service = _service()
    found = service_call(lambda: service.list_subscriptions(args.name))
    if args.json:
        print_json(found)
        return 0
    for subscription in found:
        print(f"{subscription['Protocol']:<6} {subscription['Endpoint']}  {subscription['SubscriptionArn']}")
    if not found:
        print("no subscriptions")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    service, message = _service(), _text(args.message)
    result = service_call(
        lambda: service.publish(
            args.name,
            message,
            subject=args.subject,
            message_group_id=args.group_id,
            message_deduplication_id=args.deduplication_id,
        )
    )
    if args.json:
        print_json(result)
        return 0
    print(result["MessageId"])
    return 0


def cmd_messages(args: argparse.Namespace) -> int:
    service = _service()
    found = service_call(lambda: service.list_messages(args.name, limit=args.limit))
    if args.json:
        print_json(found)
        return 0
    for message in found:
        subject = f"  [{message['Subject']}]" if message["Subject"] else ""
        print(f"{show_time(message['PublishedAt'])}  {message['MessageId']}{subject}")
        print(f"    {message['Message'][:300]}")
        for delivery in message["Deliveries"]:
            print(f"    -> {delivery['Status']:<9} after {delivery['Attempts']} attempt(s)  {delivery['Endpoint']}")
    if not found:
        print("no messages")
    return 0


def cmd_deliveries(args: argparse.Namespace) -> int:
    service = _service()
    found = service_call(lambda: service.list_deliveries(args.name))
    if args.json:
        print_json(found)
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

    create = add_command(
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

    listing = add_command(commands, "list", cmd_list, "List the topics.", "orchestrator topics list --json")
    listing.add_argument("--json", action="store_true", help="print as JSON")

    delete = add_command(
        commands,
        "delete",
        cmd_delete,
        "Delete a topic with its subscriptions and messages.",
        "orchestrator topics delete CreditApprovals",
    )
    delete.add_argument("name", metavar="NAME", help="the topic's name or ARN")

    subscribe = add_command(
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

    unsubscribe = add_command(
        commands,
        "unsubscribe",
        cmd_unsubscribe,
        "Remove a subscription.",
        "orchestrator topics unsubscribe arn:aws:sns:us-east-1:123456789012:CreditApprovals:0b6d...",
    )
    unsubscribe.add_argument("subscription_arn", metavar="SUBSCRIPTION_ARN")

    subscriptions = add_command(
        commands,
        "subscriptions",
        cmd_subscriptions,
        "List a topic's subscriptions.",
        "orchestrator topics subscriptions CreditApprovals",
    )
    subscriptions.add_argument("name", metavar="NAME", help="the topic's name or ARN")
    subscriptions.add_argument("--json", action="store_true", help="print as JSON")

    publish = add_command(
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

    messages = add_command(
        commands,
        "messages",
        cmd_messages,
        "Show a topic's messages, newest first, with how each delivery went.",
        "orchestrator topics messages CreditApprovals --limit 10",
    )
    messages.add_argument("name", metavar="NAME", help="the topic's name or ARN")
    messages.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    messages.add_argument("--json", action="store_true", help="print as JSON")

    deliveries = add_command(
        commands,
        "deliveries",
        cmd_deliveries,
        "Show every delivery of a topic's messages: status, attempts, last error.",
        "orchestrator topics deliveries CreditApprovals --json",
    )
    deliveries.add_argument("name", metavar="NAME", help="the topic's name or ARN")
    deliveries.add_argument("--json", action="store_true", help="print as JSON")
