"""Python subscribers of local SNS topics: ``@subscriber("TopicName")`` functions, and finding one by name.

A subscriber is called with the SNS notification a webhook would receive (a dict with ``Type``,
``MessageId``, ``TopicArn``, ``Subject``, ``Message``, ``Timestamp``, ``MessageAttributes``). An
exception is a failed delivery, retried like a webhook's. Subscribers live in the ``tasks/``
package (or a module named in ORCHESTRATOR_HANDLER_MODULES), so the worker that delivers a
message has them; a decorated function receives every message its topic gets from then on.

Example::

    @subscriber("CreditApprovals")
    def notify_reviewer(notification):
        send_mail("credit@example.com", notification["Subject"], notification["Message"])

A subscription can also name any importable function (``orchestrator topics subscribe
CreditApprovals --python tasks.mail:notify_reviewer``), decorated or not.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Subscriber = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Registration:
    topic: str  # the topic's name
    name: str  # what a subscription's endpoint says: ``module.function`` unless named
    function: Subscriber


_REGISTRY: dict[str, Registration] = {}


def subscriber(topic: str, *, name: str | None = None) -> Callable[[Subscriber], Subscriber]:
    """Subscribe a function to the local topic named ``topic`` (its name, not its ARN)."""

    def register(function: Subscriber) -> Subscriber:
        key = name or f"{function.__module__}.{function.__qualname__}"
        existing = _REGISTRY.get(key)
        if existing is not None and existing.function is not function:
            raise ValueError(f"a subscriber named {key!r} is already registered ({existing.function!r})")
        _REGISTRY[key] = Registration(topic, key, function)
        return function

    return register


def subscribers_for(topic: str) -> list[Registration]:
    """The registered subscribers of the topic named ``topic``, by name."""
    return sorted((r for r in _REGISTRY.values() if r.topic == topic), key=lambda r: r.name)


def resolve(endpoint: str) -> Subscriber:
    """The function a ``python`` subscription names: a registered subscriber, or ``module:function``
    (or ``module.function``) to import.

    Raises LookupError with a message saying what was looked for.
    """
    registered = _REGISTRY.get(endpoint)
    if registered is not None:
        return registered.function
    module_name, _, attribute = endpoint.partition(":") if ":" in endpoint else endpoint.rpartition(".")
    if not module_name or not attribute:
        raise LookupError(f"no Python subscriber named {endpoint!r} is registered (use @subscriber or module:function)")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LookupError(f"no Python subscriber named {endpoint!r}: cannot import {module_name!r} ({exc})") from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise LookupError(f"no Python subscriber named {endpoint!r}: {module_name!r} has no function {attribute!r}")
    return function  # type: ignore[no-any-return]
