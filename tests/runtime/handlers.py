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
