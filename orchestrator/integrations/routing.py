"""Which Lambda functions, SNS topics, DynamoDB tables and SQS queues go to AWS (or another endpoint)
through boto3, and which stay on the engine's local stand-ins.

Two settings, read from the environment at each call (docs/integrations.md):

- ``ORCHESTRATOR_ROUTE_TO_AWS``: a comma-separated list of ``service:pattern``, the pattern a name
  or a glob (``fnmatch``: ``*``, ``?``, ``[...]``), matched against the function, topic, table or
  queue *name* (not its ARN or URL): ``lambda:billing-*,sqs:orders,dynamodb:*``. Services:
  ``lambda``, ``sns``, ``dynamodb``, ``sqs``.
- ``ORCHESTRATOR_<SERVICE>_ENDPOINT_URL`` (``ORCHESTRATOR_SQS_ENDPOINT_URL``, ...): every resource of
  that service goes to this endpoint (an SQS-compatible server, say), whatever the routes say.

A routed call uses boto3's standard configuration: credentials and region from the usual
``AWS_*`` variables, ``~/.aws`` files or an instance role, and boto3's own ``AWS_ENDPOINT_URL`` or
``AWS_ENDPOINT_URL_<SERVICE>`` when no ``ORCHESTRATOR_<SERVICE>_ENDPOINT_URL`` is set.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ROUTES_VARIABLE = "ORCHESTRATOR_ROUTE_TO_AWS"
SERVICES = ("lambda", "sns", "dynamodb", "sqs")


class RoutingError(ValueError):
    """ORCHESTRATOR_ROUTE_TO_AWS cannot be read; the message says which entry and why."""


@dataclass(frozen=True, slots=True)
class Route:
    service: str
    pattern: str

    def matches(self, service: str, name: str) -> bool:
        return self.service == service and fnmatch.fnmatchcase(name, self.pattern)


def parse_routes(text: str) -> tuple[Route, ...]:
    """``"lambda:billing-*, sqs:orders"`` as Routes; raises RoutingError naming the wrong entry."""
    routes = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        service, colon, pattern = entry.partition(":")
        if not colon or not pattern.strip():
            raise RoutingError(f"{ROUTES_VARIABLE}: {entry!r} is not service:pattern (example: lambda:billing-*)")
        if service.strip() not in SERVICES:
            raise RoutingError(
                f"{ROUTES_VARIABLE}: unknown service {service!r} in {entry!r}; use {', '.join(SERVICES)}"
            )
        routes.append(Route(service.strip(), pattern.strip()))
    return tuple(routes)


def endpoint_variable(service: str) -> str:
    return f"ORCHESTRATOR_{service.upper()}_ENDPOINT_URL"


def is_remote(service: str, name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the ``service`` resource called ``name`` is reached through boto3 instead of locally."""
    env = os.environ if environ is None else environ
    if env.get(endpoint_variable(service)):
        return True
    return any(route.matches(service, name) for route in _routes(env.get(ROUTES_VARIABLE, "")))


@functools.lru_cache(maxsize=16)
def _routes(text: str) -> tuple[Route, ...]:
    return parse_routes(text)


_clients: dict[tuple[str | None, ...], Any] = {}
_clients_lock = threading.Lock()


def client(service: str, environ: Mapping[str, str] | None = None) -> Any:
    """A boto3 client of ``service`` for the configured endpoint (one per process and endpoint:
    boto3 clients are thread-safe, and making one costs tens of milliseconds)."""
    env = os.environ if environ is None else environ
    endpoint = env.get(endpoint_variable(service)) or None
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or env.get("ORCHESTRATOR_REGION") or "us-east-1"
    # boto3's own endpoint settings are part of the key: a client is for one endpoint.
    boto3_endpoints = (env.get("AWS_ENDPOINT_URL"), env.get(f"AWS_ENDPOINT_URL_{service.upper()}"))
    key = (service, endpoint, region, *boto3_endpoints)
    with _clients_lock:
        if key not in _clients:
            import boto3
            from botocore.config import Config

            _clients[key] = boto3.client(
                service,
                endpoint_url=endpoint,
                region_name=region,
                config=Config(retries={"mode": "standard"}),
            )
        return _clients[key]


def metadata(response: Mapping[str, Any]) -> dict[str, Any]:
    """Step Functions' ``SdkHttpMetadata`` and ``SdkResponseMetadata`` of a boto3 response."""
    meta = response.get("ResponseMetadata", {})
    headers = {str(k): str(v) for k, v in meta.get("HTTPHeaders", {}).items()}
    return {
        "SdkHttpMetadata": {
            "AllHttpHeaders": {name: [value] for name, value in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": meta.get("HTTPStatusCode", 200),
        },
        "SdkResponseMetadata": {"RequestId": meta.get("RequestId", "")},
    }
