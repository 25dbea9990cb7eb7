"""The API's own metrics: requests and their latency by action, and who may read ``/metrics``.

AWS has no ``/metrics`` (its metrics are in CloudWatch), so this endpoint is ours to guard. It is
guarded like ``/health``'s details: a request from this machine reads it, and so does anyone when no
access keys are configured (they can already do anything); with access keys, another host needs a
SigV4-signed request, or ``ORCHESTRATOR_METRICS_PUBLIC=1`` for a Prometheus that cannot sign.
The metrics name state machines and resources, never an execution's data.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import Counter, Histogram
from starlette.responses import Response

from orchestrator.api.actions import ACTIONS

TARGET_PREFIX = "AWSStepFunctions."

REQUESTS = Counter("orchestrator_api_requests", "API requests answered, by action and HTTP status", ["action", "code"])
LATENCY = Histogram(
    "orchestrator_api_request_duration_seconds",
    "Time to answer an API request, by action (body read, signature checked, action run)",
    ["action"],
)


def action_label(target: str) -> str:
    """The action an ``X-Amz-Target`` names, or ``Unknown``: labels stay a small, fixed set whatever
    a client sends."""
    name = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
    return name if name in ACTIONS else "Unknown"


async def counted(target: str, answer: Callable[[], Awaitable[Response]]) -> Response:
    """``answer()``, counted and timed under its action."""
    action = action_label(target)
    started = time.perf_counter()
    code = "500"  # unless an answer comes back
    try:
        response = await answer()
        code = str(response.status_code)
        return response
    finally:
        LATENCY.labels(action).observe(time.perf_counter() - started)
        REQUESTS.labels(action, code).inc()
