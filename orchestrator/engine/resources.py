"""What a Task state's ``Resource`` names, and the shapes AWS gives the events and results of each kind.

Three kinds of resource:

- ``arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]``: a Lambda function called
  directly; history records ``LambdaFunction*`` events.
- ``arn:aws:states:<region>:<account>:activity:<name>``: an activity polled by workers.
- ``arn:aws:states:::<service>:<action>[.sync|.sync:2|.waitForTaskToken]``: a service integration
  (optimized, ``aws-sdk:<service>:<action>``, or ``http:invoke``); history records ``Task*`` events.

The handler name a resource calls: the function name for Lambda (from the ARN, or from
Parameters.FunctionName for ``lambda:invoke``), and the whole resource ARN otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"

Kind = Literal["lambda", "activity", "service"]
Pattern = Literal["request-response", "sync", "sync:2", "callback"]

_SUFFIXES: tuple[tuple[str, Pattern], ...] = (
    (".waitForTaskToken", "callback"),
    (".sync:2", "sync:2"),
    (".sync", "sync"),
)


@dataclass(frozen=True, slots=True)
class Resource:
    """A parsed Task resource."""

    arn: str
    kind: Kind
    pattern: Pattern
    service: str  # "lambda", "sns", "aws-sdk:dynamodb", "states", "http", ... ("" for activities)
    action: str  # "invoke", "publish", "scan", ... (the function or activity name for direct ARNs)
    region: str

    @property
    def resource_type(self) -> str:
        """``resourceType`` of Task* events: the service part."""
        return self.service

    @property
    def resource_name(self) -> str:
        """``resource`` of Task* events: the action, with its pattern suffix."""
        return self.arn.rsplit(":", 1)[-1] if self.service.startswith("aws-sdk") else self.arn.split(":", 6)[-1]


def parse_resource(arn: str) -> Resource:
    """Classify a Task resource ARN (already validated to look like an ARN)."""
    parts = arn.split(":")
    region = parts[3] or DEFAULT_REGION
    if parts[2] == "lambda" and len(parts) >= 7 and parts[5] == "function":
        return Resource(arn, "lambda", "request-response", "lambda", parts[6], region)
    if parts[2] == "states" and len(parts) >= 7 and parts[5] == "activity":
        return Resource(arn, "activity", "request-response", "", parts[6], region)
    pattern: Pattern = "request-response"
    rest = arn.split(":::", 1)[1] if ":::" in arn else ":".join(parts[5:])
    for suffix, name in _SUFFIXES:
        if rest.endswith(suffix):
            pattern = name
            rest = rest[: -len(suffix)]
            break
    if rest.startswith("aws-sdk:"):
        _, service, action = [*rest.split(":", 2), "", ""][:3]
        return Resource(arn, "service", pattern, f"aws-sdk:{service}", action, region)
    service, _, action = rest.partition(":")
    return Resource(arn, "service", pattern, service, action, region)


def function_name(reference: str) -> str:
    """The function a Lambda reference names: a bare name, a partial or full ARN, with a qualifier.

    ``my-fn``, ``my-fn:$LATEST``, ``123456789012:function:my-fn:prod`` and
    ``arn:aws:lambda:us-east-1:123456789012:function:my-fn:3`` all name ``my-fn``.
    """
    parts = reference.split(":")
    if "function" in parts:
        return parts[parts.index("function") + 1]
    return parts[0]


def handler_name(resource: Resource, payload: Any) -> str:
    """The name of the handler that does a Task's work."""
    if resource.kind == "lambda":
        return function_name(resource.action)
    if resource.service == "lambda" and resource.action == "invoke" and isinstance(payload, dict):
        name = payload.get("FunctionName")
        if isinstance(name, str):
            return function_name(name)
    return resource.arn
