"""Who may use the console, and proof that a change came from its own pages.

- With access keys configured (``ORCHESTRATOR_API_KEYS``), a person signs in with a key id and its
  secret; the session is a signed cookie (HttpOnly, SameSite=Strict, Secure behind TLS) that names
  the key and carries the CSRF token.
- Without keys, as the API, the console answers only clients on this machine (loopback); the cookie
  still carries a CSRF token, so another site open in the same browser cannot make it act.
- Every request that changes something must carry the session's CSRF token (a form field, or the
  ``X-CSRF-Token`` header that the pages' scripts send).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from orchestrator.config import Settings

COOKIE = "orchestrator_console"
SESSION_SECONDS = 12 * 3600  # a working day: sign in again the next morning
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Session:
    key_id: str | None  # the access key signed in with; None without keys
    csrf: str


class Guard:
    """Reads and writes the console's session cookie for one server's settings."""

    def __init__(self, settings: Settings) -> None:
        self.keys = dict(settings.api_keys)
        self._serializer = URLSafeTimedSerializer(_secret(settings), salt="orchestrator-console")

    @property
    def needs_sign_in(self) -> bool:
        return bool(self.keys)

    def session(self, request: Request) -> Session | None:
        """The request's valid session, or None (no cookie, bad signature, expired, key removed)."""
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return None
        key_id = data.get("key")
        if self.needs_sign_in and key_id not in self.keys:
            return None
        return Session(key_id if isinstance(key_id, str) else None, data["csrf"])

    def check_credentials(self, key_id: str, secret: str) -> bool:
        expected = self.keys.get(key_id)
        return expected is not None and hmac.compare_digest(expected.encode(), secret.encode())

    @staticmethod
    def new_session(key_id: str | None) -> Session:
        return Session(key_id, secrets.token_urlsafe(24))

    def write(self, request: Request, response: Response, session: Session) -> None:
        """Set ``session`` as the browser's cookie on ``response``."""
        response.set_cookie(
            COOKIE,
            self._serializer.dumps({"key": session.key_id, "csrf": session.csrf}),
            max_age=SESSION_SECONDS,
            path="/console",
            httponly=True,
            samesite="strict",
            secure=behind_tls(request),
        )

    @staticmethod
    def close_session(response: Response) -> None:
        response.delete_cookie(COOKIE, path="/console")


def csrf_ok(session: Session, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf.encode(), str(submitted).encode())


def behind_tls(request: Request) -> bool:
    """Whether the browser reached us over HTTPS (directly, or through a proxy that says so)."""
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


def from_this_machine(request: Request) -> bool:
    host = request.client.host if request.client else ""
    if host in ("localhost", "testclient"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _secret(settings: Settings) -> str:
    """The cookie-signing key: configured, or derived from the access keys so that every server
    process agrees, or (no keys, one process on loopback) random for this process."""
    if settings.console_secret:
        return settings.console_secret
    if settings.api_keys:
        material = "\n".join(f"{k}={v}" for k, v in sorted(settings.api_keys.items()))
        return hashlib.sha256(b"orchestrator-console\n" + material.encode()).hexdigest()
    return secrets.token_hex(32)
