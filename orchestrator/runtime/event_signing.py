"""Signing a webhook's body, so its receiver can tell it came from us and was not replayed.

The ``X-Orchestrator-Signature`` header reads ``t=<unix seconds>,v1=<hex>``: the hex is the
HMAC-SHA256, keyed with the webhook's shared secret, of the timestamp, a dot and the body's bytes
(``b"1765090000." + body``). The timestamp is signed with the body, so a receiver that refuses old
timestamps refuses a captured request sent again later. Each attempt is signed anew.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Orchestrator-Signature"
DEFAULT_TOLERANCE = 300.0  # seconds a receiver accepts between the signature's time and its own


class SignatureError(ValueError):
    """A webhook request whose signature is missing, malformed, wrong or too old."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>`` keyed with ``secret``."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The ``X-Orchestrator-Signature`` header's value for ``body``, signed now (or at ``timestamp``)."""
    moment = int(time.time()) if timestamp is None else timestamp
    return f"t={moment},v1={signature(secret, moment, body)}"


def verify_signature(
    secret: str, header: str | None, body: bytes, *, tolerance: float = DEFAULT_TOLERANCE, now: float | None = None
) -> int:
    """Check a webhook request: ``header`` is its ``X-Orchestrator-Signature``, ``body`` the raw bytes
    received (before any JSON parsing). Returns the signed timestamp.

    Raises SignatureError if the header is missing or malformed, no ``v1`` signature matches, or the
    timestamp is more than ``tolerance`` seconds away from ``now`` (default: the current time).
    """
    if not header:
        raise SignatureError(f"the request has no {SIGNATURE_HEADER} header")
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        raise SignatureError(f"the {SIGNATURE_HEADER} header has no timestamp (t=...)") from None
    expected = signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, given) for given in fields.get("v1", [])):
        raise SignatureError("the signature does not match the body (wrong secret, or the body was changed)")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError(
            f"the signature is {abs(current - timestamp):.0f} s old; at most {tolerance:.0f} s is accepted"
        )
    return timestamp
