"""The HTTP Task: ``arn:aws:states:::http:invoke``, calling an HTTP(S) API through httpx.

Parameters as AWS takes them: ``ApiEndpoint`` and ``Method`` (required), ``Headers``,
``QueryParameters``, ``RequestBody`` (a string as is; anything else as JSON, or as a form with
``Transform.RequestBodyEncoding: URL_ENCODED`` and ``RequestEncodingOptions.ArrayFormat`` INDICES
(the default), REPEAT, COMMAS or BRACKETS), and ``Authentication.ConnectionArn``. AWS keeps the
credentials in an EventBridge connection; here a connection is an entry of the JSON file that
``ORCHESTRATOR_CONNECTIONS_FILE`` names, keyed by its ARN or its name (``arn:aws:events:...:
connection/<name>/<id>``)::

    {"Stripe": {"type": "api_key", "name": "Authorization", "value": "Bearer sk_test_..."},
     "Intranet": {"type": "basic", "username": "svc", "password": "..."},
     "Partner": {"type": "oauth_client_credentials", "token_url": "https://auth.example.com/token",
                 "client_id": "...", "client_secret": "...", "scope": "read"},
     "Public": {"type": "none"}}

Any entry may add ``"headers"``, ``"query"`` and ``"body"`` (objects) sent with every call, as a
connection's invocation parameters are; they take precedence over the Task's. An OAuth token is
fetched with the client-credentials grant and kept until shortly before it expires.

The result is ``{"Headers": {name: [values]}, "ResponseBody": <parsed JSON, else the text>,
"StatusCode": 200, "StatusText": "OK"}``. A status outside 2xx fails the task with
``States.Http.StatusCode.<code>`` (the cause is that same result as JSON); a request that times
out (``ORCHESTRATOR_HTTP_TIMEOUT`` seconds, 60 by default, as AWS) or cannot connect fails with
``States.Http.Socket``. Like AWS, every request carries ``User-Agent: Amazon|StepFunctions|
HttpInvoke|<region>`` and ``Range: bytes=0-262144``.
"""

from __future__ import annotations

import atexit
import base64
import functools
import http.cookiejar
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from opentelemetry import propagate

from orchestrator import config
from orchestrator.engine.outcomes import TaskContext, TaskRequest
from orchestrator.engine.resources import Resource
from orchestrator.integrations import services
from orchestrator.integrations.services import IntegrationError

DEFAULT_TIMEOUT = 60.0
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
ARRAY_FORMATS = ("INDICES", "REPEAT", "COMMAS", "BRACKETS")
# Headers a Task may not set (AWS's list: the connection and Step Functions own them).
FORBIDDEN_HEADERS = frozenset(
    {
        "a-im", "accept-charset", "accept-datetime", "accept-encoding", "authorization", "cache-control",
        "connection", "content-encoding", "content-md5", "date", "expect", "forwarded", "from", "host",
        "http2-settings", "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
        "max-forwards", "origin", "pragma", "proxy-authorization", "referer", "server", "te", "trailer",
        "transfer-encoding", "upgrade", "user-agent", "via", "warning",
    }
)  # fmt: skip
FORBIDDEN_PREFIXES = ("x-forwarded", "x-amz", "x-amzn")
CONNECTION_ERROR = "Events.ConnectionResource.InvalidConnectionState"


def _runtime_error(cause: str) -> IntegrationError:
    return IntegrationError("States.Runtime", cause)


# -- the request ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpCall:
    """A validated HTTP Task request."""

    endpoint: str
    method: str
    headers: Mapping[str, str]
    query: tuple[tuple[str, str], ...]
    body: Any  # None, a string, or JSON
    form: bool  # RequestBodyEncoding URL_ENCODED
    array_format: str
    connection: str | None  # the ConnectionArn


def parse_call(parameters: Any) -> HttpCall:
    """Validate an HTTP Task's Parameters."""
    if not isinstance(parameters, dict):
        raise _runtime_error("An HTTP Task's Parameters must be an object with ApiEndpoint and Method")
    endpoint = parameters.get("ApiEndpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        raise _runtime_error(f"ApiEndpoint must be an http:// or https:// URL, not {endpoint!r}")
    method = parameters.get("Method")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise _runtime_error(f"Method must be one of {', '.join(METHODS)}, not {method!r}")
    form, array_format = _transform(parameters.get("Transform"))
    authentication = parameters.get("Authentication") or {}
    connection = authentication.get("ConnectionArn") if isinstance(authentication, dict) else None
    return HttpCall(
        endpoint=endpoint,
        method=method.upper(),
        headers=_headers(parameters.get("Headers")),
        query=tuple(_pairs(parameters.get("QueryParameters"), "QueryParameters")),
        body=parameters.get("RequestBody"),
        form=form,
        array_format=array_format,
        connection=connection if isinstance(connection, str) and connection else None,
    )


def _headers(headers: Any) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, dict):
        raise _runtime_error("Headers must be an object")
    for name in headers:
        lowered = name.lower()
        if lowered in FORBIDDEN_HEADERS or lowered.startswith(FORBIDDEN_PREFIXES):
            raise _runtime_error(f"The header '{name}' is not allowed in an HTTP Task")
    return {name: _scalar(value) for name, value in headers.items()}


def _pairs(values: Any, what: str) -> list[tuple[str, str]]:
    """Query parameters: an array value repeats its name."""
    if values is None:
        return []
    if not isinstance(values, dict):
        raise _runtime_error(f"{what} must be an object")
    pairs = []
    for name, value in values.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, _scalar(item)))
    return pairs


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _transform(transform: Any) -> tuple[bool, str]:
    if transform is None:
        return False, "INDICES"
    if not isinstance(transform, dict):
        raise _runtime_error("Transform must be an object")
    encoding = transform.get("RequestBodyEncoding", "NONE")
    if encoding not in ("NONE", "URL_ENCODED"):
        raise _runtime_error(f"RequestBodyEncoding must be NONE or URL_ENCODED, not {encoding!r}")
    options = transform.get("RequestEncodingOptions") or {}
    array_format = options.get("ArrayFormat", "INDICES") if isinstance(options, dict) else None
    if array_format not in ARRAY_FORMATS:
        raise _runtime_error(f"ArrayFormat must be one of {', '.join(ARRAY_FORMATS)}, not {array_format!r}")
    return encoding == "URL_ENCODED", array_format


def form_encode(body: Mapping[str, Any], array_format: str) -> str:
    """An object as ``application/x-www-form-urlencoded`` text; nested objects as ``a[b]=...``."""
    pairs: list[tuple[str, str]] = []
    for name, value in body.items():
        _flatten(name, value, array_format, pairs)
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def _flatten(key: str, value: Any, array_format: str, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            _flatten(f"{key}[{name}]", item, array_format, out)
    elif isinstance(value, list):
        if array_format == "COMMAS":
            out.append((key, ",".join(_scalar(item) for item in value)))
            return
        for index, item in enumerate(value):
            name = {"INDICES": f"{key}[{index}]", "BRACKETS": f"{key}[]"}.get(array_format, key)
            _flatten(name, item, array_format, out)
    else:
        out.append((key, _scalar(value)))


# -- connections ---------------------------------------------------------------------------------------


def connections_file() -> Path | None:
    path = os.environ.get("ORCHESTRATOR_CONNECTIONS_FILE")
    return Path(path).expanduser() if path else None


def find_connection(arn: str) -> dict[str, Any]:
    """The configured connection an ARN (or bare name) names."""
    path = connections_file()
    if path is None:
        raise IntegrationError(
            CONNECTION_ERROR,
            f"The connection '{arn}' is not configured: set ORCHESTRATOR_CONNECTIONS_FILE to a JSON file of "
            'connections ({"<name or ARN>": {"type": "basic" | "api_key" | "oauth_client_credentials" | "none", ...}})',
        )
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise IntegrationError(CONNECTION_ERROR, f"Cannot read the connections file {path}: {exc}") from None
    name = _connection_name(arn)
    entry = entries.get(arn, entries.get(name)) if isinstance(entries, dict) else None
    if not isinstance(entry, dict):
        raise IntegrationError(CONNECTION_ERROR, f"The connection '{arn}' is not in the connections file {path}")
    return entry


def _connection_name(arn: str) -> str:
    """``arn:aws:events:<region>:<account>:connection/<name>/<id>`` names ``<name>``."""
    if ":connection/" in arn:
        return arn.split(":connection/", 1)[1].split("/", 1)[0]
    return arn


class _TokenCache:
    """OAuth access tokens by connection, kept until shortly before they expire."""

    MARGIN = 30.0  # seconds before expiry a token is fetched anew

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}

    def get(self, key: str, fetch: Any) -> str:
        with self._lock:
            cached = self._tokens.get(key)
            if cached and cached[1] > time.monotonic():
                return cached[0]
            token, lifetime = fetch()
            self._tokens[key] = (token, time.monotonic() + max(lifetime - self.MARGIN, 0.0))
            return token

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


TOKENS = _TokenCache()


def authorize(connection: dict[str, Any], key: str, timeout: float) -> dict[str, str]:
    """The headers a connection's credentials add to a request."""
    kind = connection.get("type")
    if kind == "basic":
        pair = f"{connection.get('username', '')}:{connection.get('password', '')}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
    if kind == "api_key":
        return {str(connection.get("name", "x-api-key")): str(connection.get("value", ""))}
    if kind == "oauth_client_credentials":
        token = TOKENS.get(key, lambda: _fetch_token(connection, timeout))
        return {"Authorization": f"Bearer {token}"}
    if kind == "none":
        return {}
    raise IntegrationError(
        CONNECTION_ERROR, f"Unknown connection type {kind!r} (basic, api_key, oauth_client_credentials, none)"
    )


def _fetch_token(connection: dict[str, Any], timeout: float) -> tuple[str, float]:
    """A client-credentials grant (RFC 6749 4.4): the access token and its lifetime in seconds."""
    form = {"grant_type": "client_credentials"}
    if connection.get("scope"):
        form["scope"] = str(connection["scope"])
    auth = httpx.BasicAuth(str(connection.get("client_id", "")), str(connection.get("client_secret", "")))
    try:
        response = client().post(str(connection.get("token_url")), data=form, auth=auth, timeout=timeout)
        document = response.json() if response.is_success else None
    except (httpx.HTTPError, ValueError) as exc:
        raise IntegrationError(CONNECTION_ERROR, f"The OAuth token request failed: {exc}") from None
    token = document.get("access_token") if isinstance(document, dict) else None
    if not isinstance(token, str) or not token:
        raise IntegrationError(
            CONNECTION_ERROR, f"The OAuth token endpoint answered {response.status_code} without an access_token"
        )
    lifetime = document.get("expires_in", 3600)
    return token, float(lifetime) if isinstance(lifetime, int | float) else 3600.0


# -- calling -------------------------------------------------------------------------------------------


@functools.cache
def client() -> httpx.Client:
    """One client (and connection pool) per process: making one costs a tenth of a second. It keeps
    no cookies: one execution's calls must not carry what another's were given."""
    shared = httpx.Client(follow_redirects=True, cookies=no_cookies())
    atexit.register(shared.close)  # close the pooled connections instead of leaving them to the collector
    return shared


def no_cookies() -> http.cookiejar.CookieJar:
    """A cookie jar that refuses every cookie."""
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def timeout_seconds() -> float:
    value = os.environ.get("ORCHESTRATOR_HTTP_TIMEOUT")
    return float(value) if value else DEFAULT_TIMEOUT


def build_request(call: HttpCall, region: str, timeout: float) -> httpx.Request:
    connection = find_connection(call.connection) if call.connection else {}
    headers = {
        **call.headers,
        **{str(k): _scalar(v) for k, v in (connection.get("headers") or {}).items()},
        "User-Agent": f"Amazon|StepFunctions|HttpInvoke|{region}",
        "Range": "bytes=0-262144",
    }
    if call.connection:
        headers.update(authorize(connection, call.connection, timeout))
    if not any(name.lower() == "traceparent" for name in headers):
        propagate.inject(headers)  # the Task's span when its execution is traced (W3C traceparent)
    query = [*call.query, *_pairs(connection.get("query"), "the connection's query")]
    content = _content(call, connection.get("body"), headers)
    url = httpx.URL(call.endpoint)
    if query:
        url = url.copy_merge_params(query)
    timeouts = httpx.Timeout(timeout).as_dict()
    return httpx.Request(call.method, url, headers=headers, content=content, extensions={"timeout": timeouts})


def _content(call: HttpCall, extra: Any, headers: dict[str, str]) -> bytes | None:
    body = call.body
    if isinstance(extra, dict) and extra:
        if body is not None and not isinstance(body, dict):
            raise _runtime_error("A RequestBody that is not an object cannot take the connection's body parameters")
        body = {**(body or {}), **extra}
    if body is None:
        return None
    has_type = any(name.lower() == "content-type" for name in headers)
    if isinstance(body, str):
        return body.encode()
    if call.form and isinstance(body, dict):
        if not has_type:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return form_encode(body, call.array_format).encode()
    if not has_type:
        headers["Content-Type"] = "application/json; charset=UTF-8"
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def result_of(response: httpx.Response) -> dict[str, Any]:
    """AWS's result shape: Headers (every value a list), ResponseBody, StatusCode, StatusText."""
    headers: dict[str, list[str]] = {}
    for raw_name, raw_value in response.headers.raw:
        headers.setdefault(raw_name.decode("latin-1"), []).append(raw_value.decode("latin-1"))
    return {
        "Headers": headers,
        "ResponseBody": _body(response),
        "StatusCode": response.status_code,
        "StatusText": response.reason_phrase,
    }


def _body(response: httpx.Response) -> Any:
    text = response.text
    content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def invoke(call: HttpCall, region: str, timeout: float) -> dict[str, Any]:
    """Make the call; returns the result, or raises IntegrationError as AWS names the failure."""
    request = build_request(call, region, timeout)
    try:
        response = client().send(request)
    except httpx.TimeoutException:
        raise IntegrationError(
            "States.Http.Socket", f"The request to {call.endpoint} timed out after {timeout:g} seconds"
        ) from None
    except httpx.TransportError as exc:
        raise IntegrationError("States.Http.Socket", f"The request to {call.endpoint} failed: {exc}") from None
    result = result_of(response)
    if not response.is_success:
        raise IntegrationError(f"States.Http.StatusCode.{response.status_code}", json.dumps(result))
    return result


class HttpInvoke:
    """``arn:aws:states:::http:invoke``."""

    name = "http"

    def handles(self, resource: Resource) -> bool:
        return resource.service == "http" and resource.action == "invoke"

    def call(self, request: TaskRequest, context: TaskContext) -> Any:
        region = context.execution_arn.split(":")[3] if context.execution_arn.count(":") >= 3 else ""
        return invoke(parse_call(request.payload), region or config.load().region, timeout_seconds())


services.register(HttpInvoke())
