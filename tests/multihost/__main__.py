"""Run the multi-host test alone: ``python -m tests.multihost [--runs N] [--keep-logs DIR] ...``.

Prints each run's figures; exits 1 if any run found a problem. See bench/MULTIHOST.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import traceback
from pathlib import Path

from tests.multihost.deployment import Options, deploy
from tests.multihost.scenario import run_all


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.multihost", description=__doc__)
    parser.add_argument("--runs", type=int, default=1, help="how many times to run the whole scenario (default 1)")
    parser.add_argument("--keep-logs", type=Path, help="copy every process's log here (one folder per run)")
    parser.add_argument(
        "--only",
        choices=("cut", "outage", "baseline"),
        action="append",
        help="run only this part (repeatable; default: cut and outage; baseline: a run with nothing done to it)",
    )
    for option in dataclasses.fields(Options):
        flag = "--" + option.name.replace("_", "-")
        parser.add_argument(flag, type=type(option.default), default=option.default, help=f"default {option.default}")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    options = Options(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Options)})
    failed = 0
    for number in range(1, args.runs + 1):
        began = time.monotonic()
        logs = args.keep_logs / f"run{number}" if args.keep_logs else None
        print(f"== scenario {number} of {args.runs}", flush=True)
        try:
            with deploy(options, keep_logs=logs) as deployment:
                print(f"hosts and processes up in {time.monotonic() - began:.0f}s", flush=True)
                outcomes = run_all(deployment, tuple(args.only or ("cut", "outage")))
        except Exception:
            traceback.print_exc()
            failed += 1
            continue
        for outcome in outcomes:
            print("\n".join(outcome.lines()))
        failed += any(outcome.failures for outcome in outcomes)
        print(f"took {time.monotonic() - began:.0f}s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
