"""``orchestrator queues ...``: local SQS queues from the command line.

`register` adds the ``queues`` command and its subcommands to the main parser (`orchestrator.cli`):
create, ls, send, receive, delete-message, purge, delete. Each prints a readable line per item, or
``--json``; an SQS error is one line on stderr (exit status 1).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from orchestrator.cli.common import add_command, open_service, print_json, read_text, service_call


def _text(value: str) -> str:
    """A message given inline, or as @file (@- reads stdin)."""
    return read_text(value[1:]) if value.startswith("@") else value


def cmd_create(args: argparse.Namespace) -> int:
    service = open_service()
    result = service_call(
        lambda: service.create_queue(
            args.name,
            visibility_timeout=args.visibility_timeout,
            delay_seconds=args.delay_seconds,
            retention_seconds=args.retention_seconds,
            content_based_deduplication=args.content_based_deduplication,
        )
    )
    print(result["QueueUrl"])
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    found = service_call(lambda: open_service().list_queues(args.prefix))
    if args.json:
        print_json(found)
        return 0
    for queue in found:
        print(
            f"{queue['QueueUrl']}  messages: {queue['ApproximateNumberOfMessages']}  "
            f"in flight: {queue['ApproximateNumberOfMessagesNotVisible']}"
        )
    if not found:
        print("no queues (create one with: orchestrator queues create NAME)")
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    service, body = open_service(), _text(args.body)
    optional = {
        "DelaySeconds": args.delay_seconds,
        "MessageGroupId": args.group_id,
        "MessageDeduplicationId": args.deduplication_id,
    }
    result = service_call(
        lambda: service.send_message(args.queue, body, **{k: v for k, v in optional.items() if v is not None})
    )
    if args.json:
        print_json(result)
    else:
        print(result["MessageId"])
    return 0


def cmd_receive(args: argparse.Namespace) -> int:
    service = open_service()
    result = service_call(
        lambda: service.receive_messages(
            args.queue,
            max_messages=args.max,
            visibility_timeout=args.visibility_timeout,
            wait_seconds=args.wait,
        )
    )
    messages = result["Messages"]
    if args.delete:
        for message in messages:
            service_call(lambda m=message: service.delete_message(args.queue, m["ReceiptHandle"]))
    if args.json:
        print_json(result)
        return 0
    for message in messages:
        print(f"{message['MessageId']}  receipt handle: {message['ReceiptHandle']}")
        print(f"    {message['Body'][:2000]}")
        token = _task_token(message["Body"])
        if token is not None:
            print(f"    task token: {token}")
    if not messages:
        print("no messages")
    return 0


def _task_token(body: str) -> str | None:
    """The task token a ``.waitForTaskToken`` message carries at its top level, if any (a convenience)."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if isinstance(document, dict):
        for key in ("TaskToken", "taskToken", "token", "Token"):
            if isinstance(document.get(key), str):
                return str(document[key])
    return None


def cmd_delete_message(args: argparse.Namespace) -> int:
    result = service_call(lambda: open_service().delete_message(args.queue, args.receipt_handle))
    print("deleted" if result["Deleted"] else "nothing deleted (already deleted, or received again since)")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    result = service_call(lambda: open_service().purge_queue(args.queue))
    print(f"purged {result['Purged']} message(s)")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    service_call(lambda: open_service().delete_queue(args.queue))
    print(f"deleted {args.queue}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``queues`` and its subcommands to the main parser's subcommands."""
    queues = subparsers.add_parser(
        "queues",
        help="Local SQS queues: create them, send, receive and delete messages (sqs:sendMessage sends to them).",
        description="Local SQS queues: what arn:aws:states:::sqs:sendMessage sends to (a QueueUrl names a queue "
        "by its last part). A consumer receives a message, does the work, and deletes it; for a "
        ".waitForTaskToken message it answers with orchestrator send-task-success.",
        epilog="example:\n  orchestrator queues create orders\n  orchestrator queues receive orders --wait 20",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = queues.add_subparsers(dest="queues_command", metavar="COMMAND", required=True)
    queue_help = "the queue's name, URL or ARN"

    create = add_command(
        commands,
        "create",
        cmd_create,
        "Create a queue (a name ending in .fifo makes a FIFO queue); prints its URL. Creating it again is harmless.",
        "orchestrator queues create orders --visibility-timeout 60",
    )
    create.add_argument("name", metavar="NAME")
    create.add_argument(
        "--visibility-timeout", type=int, default=30, help="seconds a received message stays hidden (default 30)"
    )
    create.add_argument(
        "--delay-seconds", type=int, default=0, help="seconds a new message stays hidden, 0-900 (default 0)"
    )
    create.add_argument(
        "--retention-seconds", type=int, default=345_600, help="seconds a message is kept (default four days)"
    )
    create.add_argument(
        "--content-based-deduplication", action="store_true", help="FIFO queues: deduplicate by the body's hash"
    )

    listing = add_command(
        commands, "ls", cmd_list, "List the queues and their message counts.", "orchestrator queues ls"
    )
    listing.add_argument("--prefix", default="", help="only queues whose name starts with this (default: every queue)")
    listing.add_argument("--json", action="store_true", help="print as JSON")

    send = add_command(
        commands,
        "send",
        cmd_send,
        "Send a message to a queue; prints its MessageId.",
        "orchestrator queues send orders '{\"order\": 42}'",
    )
    send.add_argument("queue", metavar="QUEUE", help=queue_help)
    send.add_argument("body", metavar="BODY", help="the message body, or @FILE (@- reads stdin)")
    send.add_argument("--delay-seconds", type=int, help="hide it this many seconds (standard queues)")
    send.add_argument("--group-id", help="FIFO queues: the MessageGroupId")
    send.add_argument("--deduplication-id", help="FIFO queues: the MessageDeduplicationId")
    send.add_argument("--json", action="store_true", help="print SQS's answer as JSON")

    receive = add_command(
        commands,
        "receive",
        cmd_receive,
        "Receive messages: each is hidden from other receivers for the visibility timeout; delete it "
        "(delete-message, or --delete) once handled, or it comes back.",
        "orchestrator queues receive orders --wait 20 --json",
    )
    receive.add_argument("queue", metavar="QUEUE", help=queue_help)
    receive.add_argument("--max", type=int, default=1, help="at most this many messages, 1-10 (default 1)")
    receive.add_argument("--wait", type=int, default=0, help="wait up to this many seconds for one, 0-20 (default 0)")
    receive.add_argument("--visibility-timeout", type=int, help="hide them this long instead of the queue's")
    receive.add_argument("--delete", action="store_true", help="delete the messages once printed")
    receive.add_argument("--json", action="store_true", help="print ReceiveMessage's answer as JSON")

    delete_message = add_command(
        commands,
        "delete-message",
        cmd_delete_message,
        "Delete a received message by the receipt handle of its latest receive.",
        "orchestrator queues delete-message orders 3f6c...",
    )
    delete_message.add_argument("queue", metavar="QUEUE", help=queue_help)
    delete_message.add_argument("receipt_handle", metavar="RECEIPT_HANDLE")

    purge = add_command(
        commands, "purge", cmd_purge, "Delete every message of a queue.", "orchestrator queues purge orders"
    )
    purge.add_argument("queue", metavar="QUEUE", help=queue_help)

    delete = add_command(
        commands, "delete", cmd_delete, "Delete a queue and its messages.", "orchestrator queues delete orders"
    )
    delete.add_argument("queue", metavar="QUEUE", help=queue_help)
