"""``orchestrator tables ...``: the local DynamoDB tables that Task states read and write.

`register` adds the ``tables`` command group to the ``orchestrator`` parser. Each subcommand is a
``cmd_tables_<name>(args) -> int`` over `service.TableActions`; DynamoDB's refusals print as one
line (``ResourceNotFoundException: ...``, exit status 1), unreadable input as another (exit 2).
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from orchestrator.cli.common import (
    ActionError,
    UsageError,
    add_command,
    open_service,
    parse_json_argument,
    print_json,
    service_call,
    show_time,
)

_ATTRIBUTE = re.compile(r"(?P<name>[^:]+):(?P<type>[SNB])")


def _key_attribute(text: str, option: str) -> tuple[str, str]:
    match = _ATTRIBUTE.fullmatch(text)
    if match is None:
        raise UsageError(f"{option} takes NAME:TYPE with TYPE S, N or B (such as Name:S), not {text!r}")
    return match["name"], match["type"]


def _items(value: Any, plain: bool, what: str) -> list[Any]:
    """An item, or an array of items, in DynamoDB JSON (or plain JSON)."""
    from orchestrator.integrations.dynamodb_expressions import DynamoDBError, from_plain

    items = value if isinstance(value, list) else [value]
    if not all(isinstance(i, dict) for i in items):
        raise UsageError(f"{what} must be a JSON object (or an array of them)")
    if not plain:
        return items
    try:
        return [{name: from_plain(v) for name, v in item.items()} for item in items]
    except DynamoDBError as exc:
        raise UsageError(f"{what}: {exc.message}") from None


def cmd_tables_create(args: argparse.Namespace) -> int:
    keys = [_key_attribute(args.key, "--key")]
    if args.sort_key:
        keys.append(_key_attribute(args.sort_key, "--sort-key"))
    schema = [{"AttributeName": n, "KeyType": k} for (n, _), k in zip(keys, ("HASH", "RANGE"), strict=False)]
    definitions = [{"AttributeName": n, "AttributeType": t} for n, t in keys]
    service = open_service()
    table = service_call(lambda: service.create_table(args.name, schema, definitions))["TableDescription"]
    print(f"created table {table['TableName']} ({_describe_key(table)})")
    return 0


def _describe_key(table: dict[str, Any]) -> str:
    types = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
    role = {"HASH": "partition key", "RANGE": "sort key"}
    return ", ".join(
        f"{role[k['KeyType']]} {k['AttributeName']}:{types[k['AttributeName']]}" for k in table["KeySchema"]
    )


def cmd_tables_put(args: argparse.Namespace) -> int:
    items = _items(parse_json_argument(args.item, "ITEM"), args.plain, "ITEM")
    service = open_service()
    for item in items:
        service_call(lambda item=item: service.put_item(args.name, item))
    print(f"put {len(items)} item(s) in {args.name}")
    return 0


def cmd_tables_get(args: argparse.Namespace) -> int:
    key = _items(parse_json_argument(args.key, "KEY"), args.plain, "KEY")[0]
    service = open_service()
    result = service_call(lambda: service.get_item(args.name, key))
    if args.json:
        print_json(result)
        return 0
    if "Item" not in result:
        raise ActionError(f"no item in {args.name} has the key {json.dumps(key)}")
    print(json.dumps(_plain(result["Item"])))
    return 0


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    from orchestrator.integrations.dynamodb_expressions import plain_item

    return plain_item(item)


def cmd_tables_scan(args: argparse.Namespace) -> int:
    service = open_service()
    if args.limit is not None:
        result = service_call(lambda: service.scan_table(args.name, limit=args.limit))
    else:
        result = service_call(lambda: service.scan_all(args.name))
    if args.json:
        print_json(result)
        return 0
    for item in result["Items"]:
        print(json.dumps(_plain(item)))
    more = " (more: use --json to see LastEvaluatedKey)" if "LastEvaluatedKey" in result else ""
    print(f"{result['Count']} item(s){more}")
    return 0


def cmd_tables_load(args: argparse.Namespace) -> int:
    document = parse_json_argument(f"@{args.file}", args.file)
    service = open_service()
    loaded = service_call(lambda: service.load_tables(document, plain=args.plain))
    for entry in loaded:
        verb = "created" if entry["Created"] else "updated"
        print(f"{verb} table {entry['TableName']}: put {entry['Items']} item(s)")
    return 0


def cmd_tables_describe(args: argparse.Namespace) -> int:
    service = open_service()
    table = service_call(lambda: service.describe_table(args.name))["Table"]
    if args.json:
        print_json({"Table": table})
        return 0
    print(f"{table['TableName']}: {_describe_key(table)}")
    print(f"  arn: {table['TableArn']}")
    print(f"  items: {table['ItemCount']} ({table['TableSizeBytes']} bytes)")
    print(f"  created: {show_time(table['CreationDateTime'])}")
    return 0


def cmd_tables_list(args: argparse.Namespace) -> int:
    names = open_service().list_tables()["TableNames"]
    if args.json:
        print_json({"TableNames": names})
    elif not names:
        print("no tables")
    else:
        print("\n".join(names))
    return 0


def cmd_tables_delete(args: argparse.Namespace) -> int:
    service = open_service()
    table = service_call(lambda: service.delete_table(args.name))["TableDescription"]
    print(f"deleted table {table['TableName']} and its {table['ItemCount']} item(s)")
    return 0


def register(subparsers: Any) -> None:
    """Add ``tables`` and its subcommands to the ``orchestrator`` parser's subcommands."""
    tables = subparsers.add_parser(
        "tables",
        help="Local DynamoDB tables (what dynamodb: and aws-sdk:dynamodb: Task states use).",
        description="Local DynamoDB tables, kept in the orchestrator's database: what Task states with "
        "arn:aws:states:::dynamodb:* and arn:aws:states:::aws-sdk:dynamodb:* resources read and write.",
        epilog="example:\n  orchestrator tables create Orders --key CustomerId:S\n  orchestrator tables scan Orders",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = tables.add_subparsers(dest="tables_command", metavar="COMMAND", required=True)

    create = add_command(
        commands,
        "create",
        cmd_tables_create,
        "Create a table with a partition key and an optional sort key (types S, N or B).",
        "orchestrator tables create Orders --key CustomerId:S --sort-key OrderDate:N",
    )
    create.add_argument("name", metavar="NAME", help="the table name (3 to 255 of a-z A-Z 0-9 _ . -)")
    create.add_argument("--key", required=True, metavar="NAME:TYPE", help="the partition key, such as Name:S")
    create.add_argument("--sort-key", metavar="NAME:TYPE", help="the sort key, such as Date:S")

    put = add_command(
        commands,
        "put",
        cmd_tables_put,
        "Put an item (or a JSON array of items) in a table, replacing any item with the same key.",
        'orchestrator tables put GetCreditBureau \'{"Name": {"S": "Experian"}}\'\n'
        '  orchestrator tables put GetCreditBureau --plain \'{"Name": "Equifax", "Score": 700}\'',
    )
    put.add_argument("name", metavar="NAME", help="the table")
    put.add_argument("item", metavar="ITEM", help="the item in DynamoDB JSON; @file reads it from a file")
    put.add_argument("--plain", action="store_true", help="ITEM is plain JSON (strings S, numbers N, ...)")

    get = add_command(
        commands,
        "get",
        cmd_tables_get,
        "Show the item with a key (as plain JSON; --json for GetItem's response).",
        'orchestrator tables get GetCreditBureau --plain \'{"Name": "Experian"}\'',
    )
    get.add_argument("name", metavar="NAME", help="the table")
    get.add_argument("key", metavar="KEY", help="the key in DynamoDB JSON; @file reads it from a file")
    get.add_argument("--plain", action="store_true", help="KEY is plain JSON")
    get.add_argument("--json", action="store_true", help="print GetItem's response (DynamoDB JSON)")

    scan = add_command(
        commands,
        "scan",
        cmd_tables_scan,
        "Print a table's items, one plain JSON object a line (--json: Scan's response in DynamoDB JSON).",
        "orchestrator tables scan GetCreditBureau --json",
    )
    scan.add_argument("name", metavar="NAME", help="the table")
    scan.add_argument("--limit", type=int, help="one page of at most this many items (default: all)")
    scan.add_argument("--json", action="store_true", help="print Scan's response (Items, Count, ScannedCount)")

    load = add_command(
        commands,
        "load",
        cmd_tables_load,
        'Load items from a JSON file: {"TableName", "KeySchema", "AttributeDefinitions", "Items": [...]} '
        "(the table is created if need be), an array of those, or BatchWriteItem's RequestItems "
        '({"Table": [{"PutRequest": {"Item": ...}}]}). All or nothing.',
        "orchestrator tables load examples/credit-application/bureaus.json",
    )
    load.add_argument("file", metavar="FILE", help="the JSON file (- reads stdin)")
    load.add_argument("--plain", action="store_true", help="the items are plain JSON, not DynamoDB JSON")

    describe = add_command(
        commands,
        "describe",
        cmd_tables_describe,
        "Show a table's key schema, ARN and item count.",
        "orchestrator tables describe GetCreditBureau",
    )
    describe.add_argument("name", metavar="NAME", help="the table")
    describe.add_argument("--json", action="store_true", help="print DescribeTable's response")

    listing = add_command(commands, "list", cmd_tables_list, "List the tables.", "orchestrator tables list --json")
    listing.add_argument("--json", action="store_true", help="print ListTables' response")

    delete = add_command(
        commands,
        "delete",
        cmd_tables_delete,
        "Delete a table and all its items.",
        "orchestrator tables delete GetCreditBureau",
    )
    delete.add_argument("name", metavar="NAME", help="the table")
