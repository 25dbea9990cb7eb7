"""The ``orchestrator`` command: a thin shell over the library and `service`.

Each subcommand is one function ``cmd_<name>(args) -> int`` (its exit status) registered in
`build_parser`, with an example in its ``--help``. Errors a user can cause are printed as one
readable line on stderr with a non-zero exit, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from orchestrator import __version__


class UsageError(Exception):
    """A problem with what the user asked for; printed without a traceback, exit status 2."""


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8") if path != "-" else sys.stdin.read()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a definition file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None


def parse_json_argument(value: str, what: str) -> Any:
    """A JSON value given inline, or as ``@file`` (``@-`` reads stdin)."""
    text = _read_text(value[1:]) if value.startswith("@") else value
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None


# -- validate --------------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    from orchestrator.asl.parse import validate

    reports = []
    failed = False
    for path in args.files:
        diagnostics = validate(_read_text(path))
        errors = [d for d in diagnostics if d.severity == "ERROR"]
        failed = failed or bool(errors)
        reports.append((path, diagnostics, errors))
    if args.json:
        out = [
            {
                "file": path,
                "result": "FAIL" if errors else "OK",
                "diagnostics": [d.to_json() for d in diagnostics],
            }
            for path, diagnostics, errors in reports
        ]
        print(json.dumps(out[0] if len(out) == 1 else out, indent=2))
        return 1 if failed else 0
    for path, diagnostics, errors in reports:
        if not diagnostics:
            print(f"{path}: OK")
            continue
        verdict = f"{len(errors)} error(s)" if errors else "OK with warnings"
        print(f"{path}: {verdict}")
        for d in diagnostics:
            where = d.location or "/"
            print(f"  {d.severity:<7} {where}: {d.message} [{d.code}]")
    return 1 if failed else 0


# -- the parser ------------------------------------------------------------------------------------


Command = Callable[[argparse.Namespace], int]


def _add(subparsers: Any, name: str, func: Command, help_text: str, example: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=func)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orchestrator",
        description="A durable, AWS Step Functions-compatible workflow engine.",
        epilog="example:\n  orchestrator validate workflow.asl.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"orchestrator {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")

    validate = _add(
        subparsers,
        "validate",
        cmd_validate,
        "Check state machine definitions and print every problem with its location.",
        "orchestrator validate workflow.asl.json other.asl.json --json",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="ASL definition files (JSON); - reads stdin")
    validate.add_argument(
        "--json",
        action="store_true",
        help="print ValidateStateMachineDefinition's result shape instead of text",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"orchestrator {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
