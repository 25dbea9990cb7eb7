"""Handlers the runtime tests' workers load (ORCHESTRATOR_HANDLER_MODULES=tests.runtime.handlers)."""

from __future__ import annotations

import os
import time
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
