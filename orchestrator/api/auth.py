"""AWS Signature Version 4, checked on the server.

With access keys configured (``ORCHESTRATOR_API_KEYS`` or ``ORCHESTRATOR_API_KEYS_FILE``), every
request must be signed with one of them, as every AWS SDK signs (service name ``states``). The
check recomputes the signature from the request as received: method, path, query, the headers the
client says it signed, and the body's SHA-256. With no keys configured (development), any
credentials are accepted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = dt.timedelta(minutes=15)
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused: an AWS error code and message."""

    code: str
    message: str


def verify(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    keys: Mapping[str, str],
    now: dt.datetime,
) -> Refusal | None:
    """None if the request is signed with one of ``keys``, else why it is refused.

    ``headers`` must be case-insensitive (Starlette's are).
    """
    authorization = headers.get("authorization")
    if not authorization:
        return Refusal(
            "UnrecognizedClientException",
            "The request is not signed: an Authorization header (AWS Signature Version 4) is required",
        )
    match = _AUTH.match(authorization)
    if match is None:
        return Refusal("InvalidSignatureException", "The Authorization header is not an AWS Signature Version 4 header")
    credential = match["credential"].split("/")
    if len(credential) != 5 or credential[4] != "aws4_request":
        return Refusal("InvalidSignatureException", "The Credential in the Authorization header is malformed")
    access_key, date, region, service, _ = credential
    secret = keys.get(access_key)
    if secret is None:
        return Refusal("UnrecognizedClientException", "The security token included in the request is invalid.")
    amz_date = headers.get("x-amz-date", "")
    try:
        signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return Refusal("InvalidSignatureException", "The request has no valid X-Amz-Date header")
    if abs(now - signed_at) > MAX_SKEW or not amz_date.startswith(date):
        return Refusal(
            "InvalidSignatureException", f"Signature expired: {amz_date} is not within 15 minutes of the server's time"
        )
    signed_headers = match["signed"].split(";")
    if "host" not in signed_headers:
        return Refusal("InvalidSignatureException", "The Host header must be signed")
    canonical = canonical_request(method, path, query, headers, signed_headers, body)
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, _sha256(canonical.encode())])
    expected = hmac.new(signing_key(secret, date, region, service), to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match["signature"]):
        return Refusal(
            "InvalidSignatureException",
            "The request signature we calculated does not match the "
            "signature you provided. Check your AWS Secret Access Key and signing method.",
        )
    return None


def canonical_request(
    method: str, path: str, query: str, headers: Mapping[str, str], signed_headers: list[str], body: bytes
) -> str:
    lines = [
        method.upper(),
        _canonical_path(path),
        _canonical_query(query),
        "".join(f"{name}:{_canonical_value(headers.get(name, ''))}\n" for name in signed_headers),
        ";".join(signed_headers),
        headers.get("x-amz-content-sha256") or _sha256(body),
    ]
    return "\n".join(lines)


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _canonical_path(path: str) -> str:
    return urllib.parse.quote(path or "/", safe="/-_.~")


def _canonical_query(query: str) -> str:
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    return "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}" for k, v in sorted(pairs)
    )


def _canonical_value(value: str) -> str:
    return " ".join(value.strip().split())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
