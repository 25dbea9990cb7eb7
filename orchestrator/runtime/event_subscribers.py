"""Who receives status-change events: the webhooks of the events file, and ``@subscriber`` functions.

The events file (ORCHESTRATOR_EVENTS_FILE) is TOML, one ``[[webhook]]`` table per webhook::

    [[webhook]]
    name = "ops-alerts"                        # unique; names its deliveries
    url = "https://ops.example.com/hooks/sfn"
    secret_env = "OPS_ALERTS_SECRET"           # or: secret = "..." (signs every request)
    state_machines = ["CreditApplication"]     # names or ARNs; none: every state machine
    statuses = ["FAILED", "TIMED_OUT", "ABORTED"]  # none: every status
    max_attempts = 8                           # then the delivery is a dead letter
    retry_delay = 1.0                          # seconds before the first retry; doubles each time
    max_retry_delay = 300.0
    timeout = 10.0                             # seconds the webhook has to answer

``@subscriber`` functions live in the handler modules (``tasks/`` or ORCHESTRATOR_HANDLER_MODULES),
so the workers that deliver events have them. The file is read again when it changes.
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.config import Settings

STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
STATUS_CHANGE = "Step Functions Execution Status Change"
EventFunction = Callable[[dict[str, Any]], Any]


class EventsConfigError(ValueError):
    """The events file cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Filter:
    """Which events a subscriber gets: of these state machines (names or ARNs) and statuses, and of
    these sources and detail-types (events put by ``events:putEvents`` Tasks have their own); an
    empty set lets every one through. A status filter lets status-change events alone through."""

    state_machines: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    detail_types: frozenset[str] = frozenset()

    def matches(self, state_machine_arn: str, status: str | None) -> bool:
        if self.statuses and status not in self.statuses:
            return False
        name = state_machine_arn.rsplit(":", 1)[-1]
        return not self.state_machines or bool({state_machine_arn, name} & self.state_machines)

    def accepts(self, event: dict[str, Any]) -> bool:
        """Whether ``event`` (a status change, or an event a Task put) gets through."""
        if self.sources and event.get("source") not in self.sources:
            return False
        if self.detail_types and event.get("detail-type") not in self.detail_types:
            return False
        if is_status_change(event):
            return self.matches(event["detail"]["stateMachineArn"], event["detail"]["status"])
        # A put event's resources end with the execution's and its state machine's ARNs.
        resources = event.get("resources") or [""]
        return self.matches(str(resources[-1]), None)


def is_status_change(event: dict[str, Any]) -> bool:
    """Whether ``event`` is one of the engine's status-change events (not one a Task put)."""
    return event.get("source") == "aws.states" and event.get("detail-type") == STATUS_CHANGE


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_attempts`` tries, waiting ``first_delay`` seconds before the first retry, twice as long
    before each next one, ``max_delay`` at most."""

    max_attempts: int = 8
    first_delay: float = 1.0
    max_delay: float = 300.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the attempt number ``attempts`` (1 for the first) failed."""
        return float(min(self.max_delay, self.first_delay * 2 ** (attempts - 1)))


@dataclass(frozen=True, slots=True)
class Webhook:
    name: str
    url: str
    secret: str = field(repr=False)
    filter: Filter
    retry: RetryPolicy
    timeout: float = 10.0

    @property
    def key(self) -> str:
        return f"webhook:{self.name}"


@dataclass(frozen=True, slots=True)
class FunctionSubscriber:
    name: str
    function: EventFunction
    filter: Filter
    retry: RetryPolicy

    @property
    def key(self) -> str:
        return f"python:{self.name}"


Subscriber = Webhook | FunctionSubscriber
_REGISTRY: dict[str, FunctionSubscriber] = {}


def subscriber(
    function: EventFunction | None = None,
    *,
    name: str | None = None,
    state_machines: Iterable[str] = (),
    statuses: Iterable[str] = (),
    sources: Iterable[str] = (),
    detail_types: Iterable[str] = (),
    max_attempts: int = 8,
    retry_delay: float = 1.0,
    max_retry_delay: float = 300.0,
) -> Any:
    """Register a function to receive status-change events (``@subscriber`` or ``@subscriber(...)``).

    The function is called with the event (a dict in the shape of EventBridge's "Step Functions
    Execution Status Change" event); an exception is a failed attempt, retried with backoff, and a
    dead letter after ``max_attempts``. ``state_machines`` (names or ARNs) and ``statuses`` filter
    the events it gets; ``sources`` and ``detail_types`` too, for events that ``events:putEvents``
    Tasks put (``sources=["aws.states"]`` keeps to status changes). Events are delivered at least
    once: use the event's ``id`` to spot a repeat.
    """

    def register(target: EventFunction) -> EventFunction:
        key = name or f"{target.__module__}.{target.__qualname__}"
        existing = _REGISTRY.get(key)
        if existing is not None and existing.function is not target:
            raise ValueError(f"an event subscriber named {key!r} is already registered ({existing.function!r})")
        chosen = _filter(state_machines, statuses, f"@subscriber {key}", sources, detail_types)
        policy = _policy(max_attempts, retry_delay, max_retry_delay, f"@subscriber {key}")
        _REGISTRY[key] = FunctionSubscriber(key, target, chosen, policy)
        return target

    return register(function) if function is not None else register


def subscribers(settings: Settings) -> list[Subscriber]:
    """Every subscriber this process knows: the events file's webhooks, then the registered functions."""
    found: list[Subscriber] = list(webhooks(settings))
    found.extend(_REGISTRY[key] for key in sorted(_REGISTRY))
    return found


def by_key(settings: Settings, key: str) -> Subscriber | None:
    return next((s for s in subscribers(settings) if s.key == key), None)


def webhooks(settings: Settings) -> tuple[Webhook, ...]:
    """The webhooks of the events file (none without one); raises EventsConfigError."""
    if settings.events_file is None:
        return ()
    try:
        modified = settings.events_file.stat().st_mtime_ns
    except OSError as exc:
        raise EventsConfigError(f"ORCHESTRATOR_EVENTS_FILE={settings.events_file}: {exc.strerror}") from None
    return _read(settings.events_file, modified)


@functools.lru_cache(maxsize=8)
def _read(path: Path, modified: int) -> tuple[Webhook, ...]:
    where = f"ORCHESTRATOR_EVENTS_FILE={path}"
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise EventsConfigError(f"{where}: {exc}") from None
    unknown = set(document) - {"webhook"}
    if unknown:
        raise EventsConfigError(f"{where}: unknown table(s) {sorted(unknown)}; only [[webhook]] is read")
    tables = document.get("webhook", [])
    if not isinstance(tables, list):
        raise EventsConfigError(f"{where}: write each webhook as a [[webhook]] table")
    found = [_webhook(table, f"{where}, webhook #{n}") for n, table in enumerate(tables, 1)]
    names = [w.name for w in found]
    if len(set(names)) != len(names):
        raise EventsConfigError(f"{where}: two webhooks have the same name ({names})")
    return tuple(found)


_WEBHOOK_KEYS = {"name", "url", "secret", "secret_env", "state_machines", "statuses", "sources", "detail_types"}
_WEBHOOK_KEYS |= {"max_attempts", "retry_delay", "max_retry_delay", "timeout"}


def _webhook(table: dict[str, Any], where: str) -> Webhook:
    unknown = set(table) - _WEBHOOK_KEYS
    if unknown:
        raise EventsConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(_WEBHOOK_KEYS)}")
    name, url = table.get("name"), table.get("url")
    if not isinstance(name, str) or not name or len(name) > 150:
        raise EventsConfigError(f"{where}: name must be a text of 1 to 150 characters")
    where = f"{where} ({name})"
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise EventsConfigError(f"{where}: url must be an http:// or https:// URL")
    secret = table.get("secret")
    if "secret_env" in table:
        secret = os.environ.get(str(table["secret_env"]))
        if not secret:
            raise EventsConfigError(f"{where}: the environment variable {table['secret_env']} is empty or unset")
    if not isinstance(secret, str) or not secret:
        raise EventsConfigError(f"{where}: give it a secret (secret or secret_env): every request is signed with it")
    timeout = table.get("timeout", 10.0)
    if not _positive(timeout):
        raise EventsConfigError(f"{where}: timeout must be a number of seconds above 0")
    policy = _policy(
        table.get("max_attempts", 8), table.get("retry_delay", 1.0), table.get("max_retry_delay", 300.0), where
    )
    chosen = _filter(
        table.get("state_machines", ()),
        table.get("statuses", ()),
        where,
        table.get("sources", ()),
        table.get("detail_types", ()),
    )
    return Webhook(name, url, secret, chosen, policy, float(timeout))


def _filter(
    state_machines: Iterable[str],
    statuses: Iterable[str],
    where: str,
    sources: Iterable[str] = (),
    detail_types: Iterable[str] = (),
) -> Filter:
    if any(isinstance(chosen, str) for chosen in (state_machines, statuses, sources, detail_types)):
        raise EventsConfigError(f"{where}: state_machines, statuses, sources and detail_types are lists")
    wrong = sorted(set(statuses) - set(STATUSES))
    if wrong:
        raise EventsConfigError(f"{where}: unknown status(es) {wrong}; the statuses are {', '.join(STATUSES)}")
    return Filter(frozenset(state_machines), frozenset(statuses), frozenset(sources), frozenset(detail_types))


def _policy(max_attempts: Any, first_delay: Any, max_delay: Any, where: str) -> RetryPolicy:
    if not isinstance(max_attempts, int) or isinstance(max_attempts, bool) or not 1 <= max_attempts <= 100:
        raise EventsConfigError(f"{where}: max_attempts must be a whole number from 1 to 100")
    if not _positive(first_delay) or not _positive(max_delay) or first_delay > max_delay:
        raise EventsConfigError(f"{where}: retry_delay and max_retry_delay are seconds, 0 < retry_delay <= max")
    return RetryPolicy(max_attempts, float(first_delay), float(max_delay))


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0
