"""``orchestrator buckets ...``: the S3 buckets the engine reads and writes, from the command line.

`register` adds ``buckets create | put | ls | get``. They act on the engine's store
(`orchestrator.integrations.s3.object_store`): the local buckets under ``$ORCHESTRATOR_HOME/buckets``
by default, or the S3 endpoint that ``ORCHESTRATOR_S3_ENDPOINT_URL`` / ``ORCHESTRATOR_S3=aws`` names.
An S3 error is one line on stderr (exit status 1).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.cli.common import add_command, print_json
from orchestrator.integrations.s3 import LocalBuckets, S3Error, iter_objects, object_store


def _s3_call(work: Callable[[], Any], command: str) -> Any:
    try:
        return work()
    except S3Error as exc:
        print(f"{command}: {exc.code}: {exc.message}", file=sys.stderr)
        raise SystemExit(1) from None


def cmd_create(args: argparse.Namespace) -> int:
    store = object_store()
    if isinstance(store, LocalBuckets):
        _s3_call(lambda: store.create_bucket(args.bucket), args.command_name)
    else:
        _s3_call(lambda: store.client.create_bucket(Bucket=args.bucket), args.command_name)  # type: ignore[attr-defined]
    print(f"created bucket {args.bucket}")
    return 0


def cmd_put(args: argparse.Namespace) -> int:
    body = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    info = _s3_call(lambda: object_store().put_object(args.bucket, args.key, body), args.command_name)
    print(f"s3://{args.bucket}/{args.key}  {info.size} bytes  ETag {info.etag}")
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    store = object_store()
    if args.bucket is None:
        names = store.buckets() if isinstance(store, LocalBuckets) else _boto_buckets(store)
        if args.json:
            print_json(names)
        for name in [] if args.json else names:
            print(name)
        if not names and not args.json:
            print("no buckets (create one with: orchestrator buckets create NAME)")
        return 0
    objects = _s3_call(lambda: list(iter_objects(store, args.bucket, args.prefix)), args.command_name)
    if args.json:
        print_json(
            [
                {"Key": o.key, "Size": o.size, "ETag": o.etag, "LastModified": o.last_modified.isoformat()}
                for o in objects
            ]
        )
        return 0
    for o in objects:
        print(f"{o.last_modified:%Y-%m-%d %H:%M:%S}  {o.size:>12}  {o.key}")
    return 0


def _boto_buckets(store: Any) -> list[str]:
    return [b["Name"] for b in _s3_call(lambda: store.client.list_buckets(), "buckets ls").get("Buckets", [])]


def cmd_get(args: argparse.Namespace) -> int:
    stream = _s3_call(lambda: object_store().get_object(args.bucket, args.key), args.command_name)
    try:
        if args.output == "-":
            _copy(stream, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            with open(args.output, "wb") as out:
                _copy(stream, out)
    finally:
        stream.close()
    return 0


def _copy(source: Any, target: Any) -> None:
    while chunk := source.read(64 * 1024):
        target.write(chunk)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "buckets",
        help="S3 buckets for Distributed Map's ItemReader and ResultWriter (local, or an S3 endpoint)",
        description=(
            "The S3 buckets the engine reads (ItemReader, aws-sdk:s3:getObject) and writes (ResultWriter, "
            "putObject). By default they are local, under $ORCHESTRATOR_HOME/buckets; set "
            "ORCHESTRATOR_S3_ENDPOINT_URL (MinIO, Ceph, ...) or ORCHESTRATOR_S3=aws to use S3 itself."
        ),
        epilog=(
            "example:\n  orchestrator buckets create data\n  orchestrator buckets put data rows.csv ./rows.csv\n"
            "  orchestrator buckets ls data\n  orchestrator buckets get data results/manifest.json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="buckets_command", metavar="COMMAND", required=True)
    create = add_command(commands, "create", cmd_create, "Create a bucket.", "orchestrator buckets create data")
    create.add_argument("bucket", help="3 to 63 lowercase letters, digits, dots and hyphens")
    put = add_command(
        commands, "put", cmd_put, "Store a file as an object.", "orchestrator buckets put data rows.csv ./rows.csv"
    )
    put.add_argument("bucket")
    put.add_argument("key", help="the object's key, such as input/rows.csv")
    put.add_argument("file", help="the file to store (- reads stdin)")
    ls = add_command(
        commands,
        "ls",
        cmd_ls,
        "List the buckets, or the objects of a bucket.",
        "orchestrator buckets ls data --prefix in/",
    )
    ls.add_argument("bucket", nargs="?", help="the bucket to list (none: list the buckets)")
    ls.add_argument("--prefix", default="", help="only the keys that begin with this (default: every key)")
    ls.add_argument("--json", action="store_true", help="print as JSON")
    get = add_command(
        commands, "get", cmd_get, "Print an object (or save it).", "orchestrator buckets get data out/manifest.json"
    )
    get.add_argument("bucket")
    get.add_argument("key")
    get.add_argument("--output", "-o", default="-", help="a file to write it to (default: stdout)")
