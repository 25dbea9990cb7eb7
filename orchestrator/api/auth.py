"""AWS Signature Version 4, checked on the server as AWS checks it.

With access keys configured (``ORCHESTRATOR_API_KEYS`` or ``ORCHESTRATOR_API_KEYS_FILE``), every
request must be signed with one of them, as every AWS SDK signs: service ``states``, the server's
region (``ORCHESTRATOR_REGION``), ``host`` and ``x-amz-date`` among the signed headers, and the
payload hash computed from the body itself. With no keys configured (development), any credentials
are accepted.

The check runs in two steps so that a server never reads a large body for a forger:
`check_headers` needs only the headers (the Authorization header's form, the date and its skew, the
credential's scope, the key id), and `check_signature` then recomputes the signature over the body.
Refusals carry AWS's error codes and, where AWS's wording is known, its messages (the IAM guide's
"Troubleshoot signed requests for AWS APIs", and what AWS's JSON services answer).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "states"
TERMINATOR = "aws4_request"
MAX_SKEW = dt.timedelta(minutes=15)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_SHOWN = 128  # at most this much of a caller's value is echoed in a refusal


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused: an AWS error code and message."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Claim:
    """A request whose headers passed: what is left is to recompute its signature over the body."""

    secret: str
    amz_date: str
    scope: str
    signed_headers: tuple[str, ...]
    signature: str


def verify(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    keys: Mapping[str, str],
    now: dt.datetime,
    region: str,
) -> Refusal | None:
    """None if the request is signed with one of ``keys`` for ``region``, else why it is refused.

    ``headers`` must be case-insensitive (Starlette's are).
    """
    claim = check_headers(headers, keys, now=now, region=region)
    if isinstance(claim, Refusal):
        return claim
    return check_signature(claim, method, path, query, headers, body)


def check_headers(
    headers: Mapping[str, str], keys: Mapping[str, str], *, now: dt.datetime, region: str
) -> Claim | Refusal:
    """Everything about a signature that the headers alone tell, in the order AWS checks it."""
    authorization = headers.get("authorization")
    if not authorization:
        return Refusal("MissingAuthenticationTokenException", "Missing Authentication Token")
    params = _authorization_params(authorization)
    if isinstance(params, Refusal):
        return params
    amz_date = headers.get("x-amz-date", "")
    missing = _missing_parts(params, amz_date, "date" in headers)
    if missing:
        return Refusal("IncompleteSignatureException", missing)
    signed_at = _signed_at(amz_date)
    if isinstance(signed_at, Refusal):
        return signed_at
    stale = _skew(amz_date, signed_at, now)
    signed_headers = tuple(params["SignedHeaders"].lower().split(";"))
    refusal = stale or _signed_header_refusal(signed_headers) or _scope_refusal(params["Credential"], amz_date, region)
    if refusal is not None:
        return refusal
    access_key, date = params["Credential"].split("/")[:2]
    secret = keys.get(access_key)
    if secret is None:
        return Refusal("UnrecognizedClientException", "The security token included in the request is invalid.")
    refusal = _payload_claim_refusal(headers.get("x-amz-content-sha256"))
    if refusal is not None:
        return refusal
    scope = f"{date}/{region}/{SERVICE}/{TERMINATOR}"
    return Claim(secret, amz_date, scope, signed_headers, params["Signature"])


def check_signature(
    claim: Claim, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
) -> Refusal | None:
    """None if ``claim``'s signature is the one its secret makes for this request and this body."""
    payload_hash = _sha256(body)
    declared = headers.get("x-amz-content-sha256")
    if declared is not None and declared.lower() != payload_hash:
        # The signature may well cover the header: it must still describe the body that came.
        return Refusal(
            "InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    canonical = canonical_request(method, path, query, headers, list(claim.signed_headers), payload_hash)
    to_sign = "\n".join([ALGORITHM, claim.amz_date, claim.scope, _sha256(canonical.encode())])
    date, region, service, _ = claim.scope.split("/")
    expected = hmac.new(signing_key(claim.secret, date, region, service), to_sign.encode(), hashlib.sha256).hexdigest()
    # Headers arrive decoded as Latin-1: compare bytes, which any string encodes to.
    if not hmac.compare_digest(expected.encode(), claim.signature.encode()):
        return Refusal(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS "
            "Secret Access Key and signing method. Consult the service documentation for details.",
        )
    return None


def canonical_request(
    method: str, path: str, query: str, headers: Mapping[str, str], signed_headers: list[str], payload_hash: str
) -> str:
    lines = [
        method.upper(),
        _canonical_path(path),
        _canonical_query(query),
        "".join(f"{name}:{_canonical_value(headers, name)}\n" for name in signed_headers),
        ";".join(signed_headers),
        payload_hash,
    ]
    return "\n".join(lines)


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


# -- the header checks, one concern each -------------------------------------------------------------


def _authorization_params(authorization: str) -> dict[str, str] | Refusal:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        return Refusal(
            "IncompleteSignatureException",
            f"Unsupported AWS 'algorithm': '{_shown(algorithm)}' (only {ALGORITHM} for now). ",
        )
    params: dict[str, str] = {}
    for part in rest.split(","):
        key, equals, value = part.strip().partition("=")
        if not equals:
            return Refusal(
                "IncompleteSignatureException",
                f"'{_shown(part.strip())}' not a valid key=value pair (missing equal-sign) in Authorization header",
            )
        params[key.strip()] = value.strip()
    return params


def _missing_parts(params: Mapping[str, str], amz_date: str, has_date: bool) -> str:
    missing = [
        f"Authorization header requires '{name}' parameter. "
        for name in ("Credential", "Signature", "SignedHeaders")
        if not params.get(name)
    ]
    if not amz_date and not has_date:
        missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
    elif not amz_date:
        # AWS would take the Date header instead; this service signs and checks X-Amz-Date only.
        missing.append("This service requires an 'X-Amz-Date' header (the Date header is not used). ")
    return "".join(missing).rstrip()


def _signed_at(amz_date: str) -> dt.datetime | Refusal:
    try:
        return dt.datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=dt.UTC)
    except ValueError:
        return Refusal(
            "IncompleteSignatureException",
            f"Date must be in ISO-8601 'basic format'. Got '{_shown(amz_date)}'. See http://en.wikipedia.org/wiki/ISO_8601",
        )


def _skew(amz_date: str, signed_at: dt.datetime, now: dt.datetime) -> Refusal | None:
    if now - signed_at > MAX_SKEW:
        return Refusal(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than {_stamp(now - MAX_SKEW)} ({_stamp(now)} - 15 min.)",
        )
    if signed_at - now > MAX_SKEW:
        return Refusal(
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than {_stamp(now + MAX_SKEW)} "
            f"({_stamp(now)} + 15 min.)",
        )
    return None


def _signed_header_refusal(signed_headers: tuple[str, ...]) -> Refusal | None:
    # A signature that does not cover the host could be replayed on another server; one that does
    # not cover the date header relies on the string to sign alone for its freshness.
    if "host" not in signed_headers:
        return Refusal(
            "InvalidSignatureException", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    if "x-amz-date" not in signed_headers:
        return Refusal("InvalidSignatureException", "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
    return None


def _scope_refusal(credential: str, amz_date: str, region: str) -> Refusal | None:
    parts = credential.split("/")
    if len(parts) != 5:
        return Refusal(
            "IncompleteSignatureException",
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{_shown(credential)}'",
        )
    _, date, scoped_region, service, terminator = parts
    problems = []
    if scoped_region != region:
        problems.append(f"Credential should be scoped to a valid region, not '{_shown(scoped_region)}'. ")
    if service != SERVICE:
        problems.append(f"Credential should be scoped to correct service: '{SERVICE}'. ")
    if terminator != TERMINATOR:
        problems.append(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{_shown(terminator)}'. "
        )
    if date != amz_date[:8]:
        problems.append(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{_shown(date)}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    return Refusal("InvalidSignatureException", "".join(problems).rstrip()) if problems else None


def _payload_claim_refusal(declared: str | None) -> Refusal | None:
    """An unsigned or streamed payload is S3's; here the signature must cover the body itself."""
    if declared is None or (len(declared) == 64 and all(c in "0123456789abcdefABCDEF" for c in declared)):
        return None
    return Refusal(
        "InvalidSignatureException",
        f"X-Amz-Content-Sha256 '{_shown(declared)}' is not supported by this service: "
        "the payload must be signed (its SHA-256, in hexadecimal)",
    )


# -- canonical forms -------------------------------------------------------------------------------------


def _canonical_path(path: str) -> str:
    return urllib.parse.quote(path or "/", safe="/-_.~")


def _canonical_query(query: str) -> str:
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    return "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}" for k, v in sorted(pairs)
    )


def _canonical_value(headers: Mapping[str, str], name: str) -> str:
    """A header's values, each trimmed with inner runs of spaces folded, joined by commas (as SigV4 says)."""
    getlist = getattr(headers, "getlist", None)
    values = getlist(name) if getlist is not None else [headers.get(name, "")]
    return ",".join(" ".join(value.strip().split()) for value in values)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime(_AMZ_DATE)


def _shown(value: str) -> str:
    return value if len(value) <= _SHOWN else value[:_SHOWN] + "..."
