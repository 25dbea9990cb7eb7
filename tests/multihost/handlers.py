"""The handlers the multi-host workers load (ORCHESTRATOR_HANDLER_MODULES=tests.multihost.handlers).

They take a little time (``seconds``) so that work is in a worker's hands when its host is cut,
and answer deterministically, so that `orchestrator.run_local` gives the same history.
"""

from __future__ import annotations

import time
from typing import Any

from orchestrator import handler


@handler("multihost-step")
def step(payload: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sleeps ``seconds`` and returns ``value`` + 1."""
    time.sleep(float(payload.get("seconds", 0)))
    return answer(payload)


def answer(payload: dict[str, Any]) -> dict[str, Any]:
    """What `step` returns (without its sleep: what run_local is given to compare with)."""
    return {"value": int(payload.get("value", 0)) + 1}
