"""Handlers the runtime tests' workers load (ORCHESTRATOR_HANDLER_MODULES=tests.runtime.handlers)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

from orchestrator import handler


@handler("noop")
def noop(payload: Any, context: Any) -> dict[str, Any]:
    return {}


@handler("echo")
def echo(payload: Any, context: Any) -> Any:
    return payload


@handler("add")
def add(payload: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"n": payload["n"] + 1}


@handler("sleep")
def sleep(payload: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sleeps; with ``marker``, creates that file first (so a test knows the handler is running)."""
    if payload.get("marker"):
        Path(payload["marker"]).write_text(str(os.getpid()))
    time.sleep(float(payload.get("seconds", 1)))
    return {"slept": payload.get("seconds", 1)}


class Boom(Exception):
    error = "Test.Boom"


@handler("fail")
def fail(payload: Any, context: Any) -> None:
    raise Boom("failed on purpose")


@handler("arn:aws:states:::sns:publish.waitForTaskToken")
def publish_with_token(payload: Any, context: Any) -> dict[str, Any]:
    return {"MessageId": "test-message"}


@handler("flaky")
def flaky(payload: dict[str, Any], context: Any) -> dict[str, Any]:
    """Fails (Test.Flaky) its first ``failures`` calls, counted in the file ``counter``."""
    counter = Path(payload["counter"])
    calls = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(calls))
    if calls <= int(payload["failures"]):
        raise Flaky(f"call {calls} fails")
    return {"calls": calls, "retryCount": payload.get("retryCount")}


class Flaky(Exception):
    error = "Test.Flaky"


@handler("tally")
def tally(payload: dict[str, Any], context: Any) -> dict[str, Any]:
    """Appends a line to the file ``file`` (one per call), then sleeps ``seconds``."""
    with Path(payload["file"]).open("a") as out:
        out.write(f"{os.getpid()}\n")
    time.sleep(float(payload.get("seconds", 0)))
    return {"tallied": True}


class FirstTry(Exception):
    error = "Test.FirstTry"


@handler("fails_once")
def fails_once(payload: dict[str, Any], context: Any) -> dict[str, Any]:
    """Counts its calls, a file ``<item>.<id>.call`` each in the folder ``dir``. With ``fail``, its first
    call for an item fails (Test.FirstTry), once ``after`` branches or iterations of its execution
    have succeeded (so that those end first); every other call succeeds and returns the item."""
    folder, item = Path(payload["dir"]), str(payload["item"])
    (folder / f"{item}.{uuid.uuid4().hex}.call").touch()
    failed_before = folder / f"{item}.failed"
    if payload.get("fail") and not failed_before.exists():
        failed_before.touch()
        deadline = time.monotonic() + 60
        while _succeeded_children(context.execution_arn) < int(payload.get("after", 0)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{payload.get('after')} children of {context.execution_arn} never succeeded")
            time.sleep(0.05)
        raise FirstTry(f"item {item} fails its first call")
    return {"item": payload["item"]}


def _succeeded_children(execution_arn: str) -> int:
    """How many branches or iterations of the execution's tree have succeeded (read from its database)."""
    from sqlalchemy import func, select

    from orchestrator import config
    from orchestrator.store.db import session_scope
    from orchestrator.store.models import Execution

    with session_scope(config.load(dict(os.environ)).database_url) as session:
        # (a Distributed Map iteration is an execution of its own, in its parent's tree)
        tree = func.coalesce(Execution.root_id, Execution.id)
        root = select(tree).where(Execution.arn == execution_arn).scalar_subquery()
        query = select(func.count()).where(Execution.root_id == root, Execution.status == "SUCCEEDED")
        return int(session.scalar(query) or 0)
