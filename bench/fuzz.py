#!/usr/bin/env python3
"""A long fuzzing campaign against the HTTP API (issue 13): requests tried, 5xx found, forgeries refused.

    python bench/fuzz.py [--requests 100000] [--seed 1] [--forge-every 10] [--keep-db]

Figures of the last campaign are in bench/FUZZ.md.

It starts the stack production runs, on a database and Redis index of its own: ``orchestrator
serve`` with access keys configured (so every request is signed with SigV4), a worker and the
scheduler, on a fresh PostgreSQL database. Then it sends ``--requests`` requests drawn by hypothesis
from the AWS service model's input shapes (the generator of ``tests/api/fuzzing.py``, the one the
CI suite uses, here with a seed and no example limit), each signed; and every ``--forge-every``-th
request once more as a forger would: unsigned, signed with a wrong secret, signed for another
region, or with its body replaced after signing. It counts:

- answers of 500 or more, and answers that are not AWS's (not JSON, not ``{"__type", "message"}``,
  a traceback, an error of over 20 kB): each one is printed with its request, the first 20 of each;
- refused create actions that wrote a row anyway;
- forgeries refused with a 403, or a 413 for a signed one too large to read (its signature covers
  the body's hash): a forgery is never to be answered otherwise.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench.machine, tests.api.fuzzing

from bench.machine import Process, say, wait_for  # noqa: E402
from tests.api.fuzzing import WRITERS, FuzzTarget, check_answer, requests_for, rows_written  # noqa: E402

PG_ADMIN = os.environ.get("ORCHESTRATOR_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_FUZZ_REDIS_URL", "redis://127.0.0.1:6379/12")
REGION = "us-east-1"
KEY, SECRET = "AKIDFUZZ", "fuzz-secret"
SHOWN = 20  # problems printed of each kind
NOT_AWS = "not AWS's answer"


class Stack:
    """A fresh database, a worker, the scheduler and ``orchestrator serve`` with keys."""

    def __init__(self, logs: Path) -> None:
        import psycopg

        self.database = f"orchestrator_bench_fuzz_{os.getpid()}_{uuid.uuid4().hex[:4]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.database}"')
        self.url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{self.database}".replace("postgresql://", "postgresql+psycopg://")
        suffix = uuid.uuid4().hex[:8]
        self.env = {
            **os.environ,
            "ORCHESTRATOR_DATABASE_URL": self.url,
            "ORCHESTRATOR_BROKER_URL": REDIS_URL,
            "ORCHESTRATOR_ENGINE_QUEUE": f"bench-fuzz-{suffix}",
            "ORCHESTRATOR_HANDLER_QUEUE": f"bench-fuzz.handlers-{suffix}",
            "ORCHESTRATOR_REGION": REGION,
            "ORCHESTRATOR_API_KEYS": f"{KEY}={SECRET}",
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
        }
        cli = [sys.executable, "-m", "orchestrator.cli"]
        subprocess.run([*cli, "db", "upgrade"], env=self.env, cwd=ROOT, check=True, capture_output=True)
        port = _free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.processes = [
            Process("worker", [*cli, "worker", "--loglevel", "WARNING"], self.env, logs / "w.log"),
            Process("scheduler", [*cli, "scheduler"], self.env, logs / "scheduler.log"),
            Process("serve", [*cli, "serve", "--port", str(port)], self.env, logs / "serve.log"),
        ]
        wait_for(lambda: _health(self.base_url) or not self.processes[-1].alive(), 60, "the server")

    def close(self, keep: bool) -> None:
        import psycopg

        for process in reversed(self.processes):
            process.stop()
        if keep:
            say(f"kept the database {self.database}")
            return
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _health(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=10).status_code in (200, 503)
    except httpx.TransportError:
        return False


# -- signing, and forging ------------------------------------------------------------------------------


def signer(base_url: str, secret: str = SECRET, region: str = REGION) -> Callable[[dict[str, str], bytes], Any]:
    """Headers signed with SigV4 as boto3 signs them (the body's hash included)."""

    def sign(headers: dict[str, str], body: bytes) -> dict[str, str]:
        request = AWSRequest(method="POST", url=f"{base_url}/", data=body, headers=headers)
        SigV4Auth(Credentials(KEY, secret), "states", region).add_auth(request)
        return dict(request.headers.items())

    return sign


def forge(target: FuzzTarget, action: str, body: bytes, how: str) -> httpx.Response:
    headers = {"x-amz-target": f"AWSStepFunctions.{action}", "content-type": "application/x-amz-json-1.0"}
    url = str(target.http.base_url).rstrip("/")
    if how == "wrong secret":
        headers = signer(url, secret="not-the-secret")(headers, body)
    elif how == "other region":
        headers = signer(url, region="eu-west-3")(headers, body)
    elif how == "body replaced":
        headers = signer(url)(headers, body)
        body = b'{"name": "attacker-chosen"}' if body != b'{"name": "attacker-chosen"}' else b"{}"
    return target.http.post("/", content=body, headers=headers)


FORGERIES = ("unsigned", "wrong secret", "other region", "body replaced")


# -- the campaign --------------------------------------------------------------------------------------


class Tally:
    def __init__(self) -> None:
        self.tried = 0
        self.statuses: collections.Counter[int] = collections.Counter()
        self.codes: collections.Counter[str] = collections.Counter()
        self.problems: dict[str, list[str]] = collections.defaultdict(list)
        self.forgeries = 0
        self.forgeries_refused = 0
        self.forgeries_too_large = 0

    def problem(self, kind: str, action: str, body: Any, detail: str) -> None:
        found = self.problems[kind]
        found.append(f"{action} {_shown(body)}: {detail}")
        if len(found) <= SHOWN:
            say(f"  {kind}: {found[-1]}")


def campaign(target: FuzzTarget, requests: int, seed: int, forge_every: int) -> Tally:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as with_seed
    from hypothesis import strategies as st

    tally = Tally()
    pick = random.Random(seed)
    started = time.monotonic()

    @with_seed(seed)
    @settings(
        max_examples=requests,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def one(data: st.DataObject) -> None:
        action, body = data.draw(requests_for(target))
        _try(target, tally, action, body)
        if forge_every and tally.tried % forge_every == 0:
            _forge(target, tally, action, body, pick.choice(FORGERIES))
        if tally.tried % 5_000 == 0:
            rate = tally.tried / (time.monotonic() - started)
            # Every figure of the report, so that a campaign cut short still has them
            refused = tally.forgeries_refused + tally.forgeries_too_large
            say(
                f"{tally.tried:,} requests ({rate:.0f}/s), {_count(tally, '5xx')} 5xx, "
                f"{_count(tally, NOT_AWS)} not AWS's answers, "
                f"{_count(tally, 'row written')} rows written by refusals, {_count(tally, 'no answer')} unanswered, "
                f"{tally.forgeries:,} forgeries ({refused:,} refused)"
            )

    one()
    return tally


def _try(target: FuzzTarget, tally: Tally, action: str, body: Any) -> None:
    before = target.rows() if action in WRITERS else None
    try:
        response = target.send(action, body)
    except httpx.HTTPError as exc:
        tally.problem("no answer", action, body, repr(exc))
        return
    tally.tried += 1
    tally.statuses[response.status_code] += 1
    if response.status_code != 200:
        tally.codes[_code(response)] += 1
    problem = check_answer(response)
    if problem is None and before is not None:
        problem = rows_written(action, response, before, target.rows())
        if problem:
            tally.problem("row written", action, body, problem)
            return
    if problem:
        tally.problem("5xx" if response.status_code >= 500 else NOT_AWS, action, body, problem)


def _forge(target: FuzzTarget, tally: Tally, action: str, body: Any, how: str) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    tally.forgeries += 1
    response = forge(target, action, data, how)
    if response.status_code == 403 and check_answer(response) is None:
        tally.forgeries_refused += 1
    elif response.status_code == 413 and how != "unsigned" and check_answer(response) is None:
        # A signature covers the body's hash, so checking it needs the body, which is not read past
        # the limit: a signed forgery too large to read is refused as too large.
        tally.forgeries_too_large += 1
    else:
        tally.problem("forgery not refused", action, body, f"{how}: HTTP {response.status_code} {response.text[:200]}")


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("__type"))
    except ValueError:
        return "(not JSON)"


def _count(tally: Tally, kind: str) -> int:
    return len(tally.problems.get(kind, []))


def _shown(body: Any) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else json.dumps(body)
    return text[:200] + ("..." if len(text) > 200 else "")


def report(tally: Tally, seconds: float) -> dict[str, Any]:
    return {
        "requests": tally.tried,
        "seconds": round(seconds, 1),
        "5xx": _count(tally, "5xx"),
        "not_aws_answers": _count(tally, NOT_AWS),
        "rows_written_by_refusals": _count(tally, "row written"),
        "no_answer": _count(tally, "no answer"),
        "forgeries": tally.forgeries,
        "forgeries_refused_403": tally.forgeries_refused,
        "forgeries_refused_413": tally.forgeries_too_large,
        "statuses": dict(sorted(tally.statuses.items())),
        "error_codes": dict(tally.codes.most_common()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--forge-every", type=int, default=10, help="forge every Nth request too (0: never)")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="bench-fuzz-"))
    say(f"starting the stack (logs in {logs})")
    stack = Stack(logs)
    try:
        with httpx.Client(base_url=stack.base_url, timeout=90) as http:
            target = FuzzTarget.prepare(http, stack.url, sign=signer(stack.base_url))
            started = time.monotonic()
            tally = campaign(target, args.requests, args.seed, args.forge_every)
            figures = report(tally, time.monotonic() - started)
    finally:
        stack.close(args.keep_db)
    print(json.dumps(figures, indent=2))
    bad = figures["5xx"] + figures["not_aws_answers"] + figures["rows_written_by_refusals"]
    refused = figures["forgeries_refused_403"] + figures["forgeries_refused_413"]
    return 1 if bad or refused != figures["forgeries"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
