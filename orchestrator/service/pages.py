"""Page tokens: the ``nextToken`` of every list, signed so that only tokens this service issued are read.

A token holds where the next page starts (a row id, an offset, a start date) and when it was
issued, and an HMAC over both and the list it pages (the action and the arguments that choose the
rows). Reading one back checks the HMAC, the age (AWS: "Each pagination token expires after 24
hours. Using an expired pagination token will return an HTTP 400 InvalidToken error") and the type
and range of every field, so a forged, altered, reused-elsewhere or stale token is ``InvalidToken``,
never a query with a value nobody checked.

The key must be the same in every server process, since a client's next call may reach another
one. It is derived from the access keys when they are configured: every process has them, and
only their holders can call the API at all. Without keys the API accepts any caller, so the key
has nothing to keep secret; it is derived from the database URL, which every process serving
that database shares, and the signature's work is then to tell the tokens this service issued from
the others (which the field checks would refuse too).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from orchestrator import config
from orchestrator.service.base import ServiceError, utcnow

LIFETIME = dt.timedelta(hours=24)
MAX_TOKEN = 1024  # nextToken's length limit in AWS's model (ListExecutions allows 3096)
_MAX_INT = 2**63 - 1  # a BIGINT: the largest id or offset a query can take
_MAC_BYTES = 16
CLOCK_SKEW = 900  # seconds another server's clock may be ahead of this one's

# What a position's field may hold: a row id or an offset (int), or a start date (datetime).
Fields = Mapping[str, type]


def issue(settings: config.Settings, scope: str, position: Mapping[str, Any], *, now: dt.datetime | None = None) -> str:
    """The token for the page that starts at ``position`` of the list ``scope`` names."""
    now = now or utcnow()
    body = {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in position.items()}
    payload = json.dumps({"p": body, "t": int(now.timestamp())}, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(_mac(settings, scope, payload))}"


def read(
    settings: config.Settings,
    scope: str,
    token: str,
    fields: Fields,
    *,
    now: dt.datetime | None = None,
    lifetime: dt.timedelta | None = LIFETIME,
) -> dict[str, Any]:
    """The position a token issued for ``scope`` holds, each of ``fields`` checked; InvalidToken otherwise.

    ``lifetime`` None: the token does not expire (the console's page links).
    """
    now = now or utcnow()
    payload = _verified_payload(settings, scope, token)
    try:
        data = json.loads(payload)
        issued = data["t"]
        position = data["p"]
    except (ValueError, TypeError, KeyError):
        raise _invalid() from None
    if not isinstance(issued, int) or isinstance(issued, bool) or not isinstance(position, dict):
        raise _invalid()
    if lifetime is not None and not -CLOCK_SKEW <= now.timestamp() - issued <= lifetime.total_seconds():
        raise ServiceError("InvalidToken", "Invalid Token: 'The nextToken has expired (a token lasts 24 hours)'")
    if set(position) != set(fields):
        raise _invalid()
    return {name: _field(position[name], kind) for name, kind in fields.items()}


def _verified_payload(settings: config.Settings, scope: str, token: str) -> bytes:
    if not isinstance(token, str) or not 1 <= len(token) <= MAX_TOKEN or token.count(".") != 1:
        raise _invalid()
    encoded_payload, encoded_mac = token.split(".")
    payload, mac = _unb64(encoded_payload), _unb64(encoded_mac)
    if not hmac.compare_digest(mac, _mac(settings, scope, payload)):
        raise _invalid()
    return payload


def _field(value: Any, kind: type) -> Any:
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_INT:
            return value
        raise _invalid()
    if kind is dt.datetime and isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise _invalid() from None
        return parsed
    raise _invalid()


def _mac(settings: config.Settings, scope: str, payload: bytes) -> bytes:
    message = scope.encode("utf-8", "surrogatepass") + b"\n" + payload
    return hmac.new(_key(settings), message, hashlib.sha256).digest()[:_MAC_BYTES]


def _key(settings: config.Settings) -> bytes:
    if settings.api_keys:
        material = "\n".join(f"{k}={v}" for k, v in sorted(settings.api_keys.items()))
    else:
        material = settings.database_url
    return hashlib.sha256(b"orchestrator-page-tokens\n" + material.encode("utf-8", "surrogatepass")).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise _invalid() from None


def _invalid() -> ServiceError:
    return ServiceError("InvalidToken", "Invalid Token: 'The nextToken is not one this service issued'")
