"""Signature Version 4 checked as AWS checks it, against `orchestrator serve` with access keys.

The forgeries are the ones a captured request allows (another body, with or without the original
body's hash as X-Amz-Content-Sha256; UNSIGNED-PAYLOAD), signatures made for another region or
service, headers left out of the signature, and bodies too large to read. The expected messages are
AWS's, from the IAM guide's "Troubleshoot signed requests for AWS APIs".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.api.conftest import REGION, Server, client
from tests.runtime.conftest import Cluster

KEY, SECRET = "AKIDSIGV4TEST", "sigv4/secret+key"
ROLE = "arn:aws:iam::123456789012:role/test"
WAIT = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}})
JSON_TYPE = "application/x-amz-json-1.0"
SIXTY_FOUR_MB = 64 * 1024 * 1024


@pytest.fixture(scope="module")
def signed_server(cluster: Cluster) -> Iterator[Server]:
    with Server(cluster, ORCHESTRATOR_API_KEYS=f"{KEY}={SECRET}") as running:
        yield running


@pytest.fixture(scope="module")
def sfn(signed_server: Server) -> Any:
    return client(signed_server.url, key=KEY, secret=SECRET)


def signed_headers(
    url: str,
    action: str,
    body: bytes,
    *,
    service: str = "states",
    region: str = REGION,
    secret: str = SECRET,
    extra: dict[str, str] | None = None,
    signer: type[SigV4Auth] = SigV4Auth,
) -> dict[str, str]:
    """The headers botocore signs a request with (extra headers are signed too)."""
    headers = {"Content-Type": JSON_TYPE, "X-Amz-Target": f"AWSStepFunctions.{action}", **(extra or {})}
    request = AWSRequest(method="POST", url=url + "/", data=body, headers=headers)
    signer(Credentials(KEY, secret), service, region).add_auth(request)
    return dict(request.headers.items())


def refused(response: httpx.Response) -> tuple[str, str]:
    assert response.status_code == 403, response.text
    error = response.json()
    return error["__type"], error["message"]


@pytest.mark.parametrize("with_original_hash", [True, False])
def test_a_captured_start_execution_with_another_body_is_refused(
    signed_server: Server, sfn: Any, with_original_hash: bool
) -> None:
    # Given a StartExecution captured on its way (headers and body, as signed by boto3)
    machine = sfn.create_state_machine(name=f"captured-{uuid.uuid4().hex[:8]}", definition=WAIT, roleArn=ROLE)
    captured = capture(sfn, "StartExecution")
    original = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input='{"amount": 10}')
    sfn.stop_execution(executionArn=original["executionArn"])
    # When it is replayed with the attacker's body (and, the second time, the original body's hash)
    attacker = f"attacker-{uuid.uuid4().hex[:8]}"
    body = json.dumps(
        {"stateMachineArn": machine["stateMachineArn"], "name": attacker, "input": '{"amount": 999999}'}
    ).encode()
    headers = replayable(captured["headers"])
    if with_original_hash:
        headers["X-Amz-Content-Sha256"] = hashlib.sha256(captured["body"]).hexdigest()
    response = httpx.post(signed_server.url, content=body, headers=headers)
    # Then it is refused and nothing was started
    code, message = refused(response)
    assert code == "InvalidSignatureException"
    if with_original_hash:
        assert message == "The provided 'x-amz-content-sha256' header does not match what was computed."
    else:
        assert message.startswith("The request signature we calculated does not match the signature you provided.")
    execution_arn = original["executionArn"].rsplit(":", 1)[0] + f":{attacker}"
    with pytest.raises(ClientError) as missing:
        sfn.describe_execution(executionArn=execution_arn)
    assert missing.value.response["Error"]["Code"] == "ExecutionDoesNotExist"


def test_a_captured_create_state_machine_with_another_definition_is_refused(signed_server: Server, sfn: Any) -> None:
    name = f"captured-{uuid.uuid4().hex[:8]}"
    captured = capture(sfn, "CreateStateMachine")
    sfn.create_state_machine(name=name, definition=WAIT, roleArn=ROLE)
    other = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "pwned", "End": True}}})
    body = json.dumps({"name": name + "-evil", "definition": other, "roleArn": ROLE}).encode()
    headers = {**replayable(captured["headers"]), "X-Amz-Content-Sha256": hashlib.sha256(captured["body"]).hexdigest()}
    assert refused(httpx.post(signed_server.url, content=body, headers=headers))[0] == "InvalidSignatureException"
    assert name + "-evil" not in [m["name"] for m in sfn.list_state_machines(maxResults=1000)["stateMachines"]]


class UnsignedPayload(SigV4Auth):
    """A signer that signs UNSIGNED-PAYLOAD instead of the body's hash, as S3 allows."""

    def payload(self, request: Any) -> str:
        return "UNSIGNED-PAYLOAD"


def test_a_signed_unsigned_payload_is_refused(signed_server: Server) -> None:
    body = json.dumps({"name": f"unsigned-{uuid.uuid4().hex[:8]}"}).encode()
    headers = signed_headers(
        signed_server.url,
        "CreateActivity",
        b"anything at all",
        extra={"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"},
        signer=UnsignedPayload,
    )
    code, message = refused(httpx.post(signed_server.url, content=body, headers=headers))
    assert code == "InvalidSignatureException"
    assert "UNSIGNED-PAYLOAD" in message and "is not supported by this service" in message


@pytest.mark.parametrize(
    ("service", "region", "expected"),
    [
        ("states", "us-west-2", "Credential should be scoped to a valid region, not 'us-west-2'."),
        ("states", "nowhere-1", "Credential should be scoped to a valid region, not 'nowhere-1'."),
        ("s3", REGION, "Credential should be scoped to correct service: 'states'."),
        ("lambda", REGION, "Credential should be scoped to correct service: 'states'."),
        ("x", REGION, "Credential should be scoped to correct service: 'states'."),
        (
            "s3",
            "us-west-2",
            "Credential should be scoped to a valid region, not 'us-west-2'. "
            "Credential should be scoped to correct service: 'states'.",
        ),
    ],
)
def test_signatures_scoped_to_another_region_or_service_are_refused(
    signed_server: Server, service: str, region: str, expected: str
) -> None:
    # A signature that is right for its own scope: only the scope is wrong
    headers = signed_headers(signed_server.url, "ListStateMachines", b"{}", service=service, region=region)
    assert refused(httpx.post(signed_server.url, content=b"{}", headers=headers)) == (
        "InvalidSignatureException",
        expected,
    )


def test_a_credential_dated_another_day_than_x_amz_date_is_refused(signed_server: Server) -> None:
    headers = signed_headers(signed_server.url, "ListStateMachines", b"{}")
    amz_date = headers["X-Amz-Date"]
    yesterday = (dt.datetime.strptime(amz_date[:8], "%Y%m%d") - dt.timedelta(days=1)).strftime("%Y%m%d")
    headers["Authorization"] = headers["Authorization"].replace(f"/{amz_date[:8]}/", f"/{yesterday}/")
    assert refused(httpx.post(signed_server.url, content=b"{}", headers=headers)) == (
        "InvalidSignatureException",
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        f"'{yesterday}' != '{amz_date[:8]}', from '{amz_date}'.",
    )


@pytest.mark.parametrize(
    ("signed", "expected"),
    [
        (
            "content-type;x-amz-date;x-amz-target",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ),
        ("content-type;host;x-amz-target", "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."),
    ],
)
def test_host_and_x_amz_date_must_be_signed(signed_server: Server, signed: str, expected: str) -> None:
    headers = manual_headers(signed_headers=signed)
    assert refused(httpx.post(signed_server.url, content=b"{}", headers=headers)) == (
        "InvalidSignatureException",
        expected,
    )


@pytest.mark.parametrize(
    ("authorization", "code", "start"),
    [
        ("Bearer abc", "IncompleteSignatureException", "Unsupported AWS 'algorithm': 'Bearer'"),
        (
            f"AWS4-HMAC-SHA256 Credential={KEY}/20240101/us-east-1/states/aws4_request",
            "IncompleteSignatureException",
            "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders'",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host;x-amz-date, Signature=00",
            "IncompleteSignatureException",
            "Credential must have exactly 5 slash-delimited elements",
        ),
        ("AWS4-HMAC-SHA256 Credential", "IncompleteSignatureException", "'Credential' not a valid key=value pair"),
    ],
)
def test_malformed_authorization_headers_are_incomplete_signatures(
    signed_server: Server, authorization: str, code: str, start: str
) -> None:
    headers = {**manual_headers(), "Authorization": authorization}
    got_code, message = refused(httpx.post(signed_server.url, content=b"{}", headers=headers))
    assert (got_code, message[: len(start)]) == (code, start)


def test_an_unknown_key_a_bad_signature_and_a_non_ascii_signature_are_403s(signed_server: Server) -> None:
    unknown = manual_headers(key="AKIDNOBODY")
    assert refused(httpx.post(signed_server.url, content=b"{}", headers=unknown)) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    for signature in ("0" * 64, "é" * 64):
        headers = manual_headers(signature=signature)
        encoded = [(k.encode(), v.encode("latin-1")) for k, v in headers.items()]
        response = httpx.post(signed_server.url, content=b"{}", headers=encoded)
        assert refused(response)[0] == "InvalidSignatureException"


@pytest.mark.parametrize(("minutes", "start"), [(-20, "Signature expired: "), (20, "Signature not yet current: ")])
def test_a_date_out_of_the_fifteen_minutes_is_refused(signed_server: Server, minutes: int, start: str) -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    headers = manual_headers(amz_date=when.strftime("%Y%m%dT%H%M%SZ"))
    code, message = refused(httpx.post(signed_server.url, content=b"{}", headers=headers))
    assert code == "InvalidSignatureException" and message.startswith(start + headers["X-Amz-Date"])


def test_an_unsigned_64_mb_request_is_refused_before_its_body_is_read(signed_server: Server) -> None:
    # Given a request that announces 64 MB and sends only its first 64 KB
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{signed_server.port}\r\nContent-Type: {JSON_TYPE}\r\n"
        f"X-Amz-Target: AWSStepFunctions.ListStateMachines\r\nContent-Length: {SIXTY_FOUR_MB}\r\n\r\n"
    )
    # When the server answers, Then it is a 403 that did not wait for the rest
    status, body = raw_exchange(signed_server.port, head.encode(), b"{" + b" " * 65_535)
    assert status == 403
    assert json.loads(body)["__type"] == "MissingAuthenticationTokenException"


def test_a_signed_request_too_large_is_refused_before_its_body_is_read(signed_server: Server) -> None:
    headers = signed_headers(signed_server.url, "ListStateMachines", b"{}")
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "content-length")
    head = f"POST / HTTP/1.1\r\n{lines}Content-Length: {SIXTY_FOUR_MB}\r\n\r\n"
    status, body = raw_exchange(signed_server.port, head.encode(), b"{" + b" " * 65_535)
    assert status == 413
    assert json.loads(body)["__type"] == "RequestEntityTooLargeException"


def test_a_64_mb_unsigned_upload_leaves_the_server_memory_alone(signed_server: Server) -> None:
    rss_before = rss_kb(signed_server)
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{signed_server.port}\r\nContent-Type: {JSON_TYPE}\r\n"
        f"Content-Length: {SIXTY_FOUR_MB}\r\n\r\n"
    )
    sent = send_while_open(signed_server.port, head.encode(), SIXTY_FOUR_MB)
    assert sent < SIXTY_FOUR_MB  # the server answered and closed before taking it all
    assert rss_kb(signed_server) - rss_before < 16 * 1024


def test_without_keys_a_chunked_body_past_the_limit_is_refused(server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"{"
        for _ in range(40):
            yield b" " * 65_536

    response = httpx.post(
        server.url,
        content=chunks(),
        headers={"Content-Type": JSON_TYPE, "X-Amz-Target": "AWSStepFunctions.ListStateMachines"},
    )
    assert response.status_code == 413
    assert response.json()["__type"] == "RequestEntityTooLargeException"


# -- helpers ---------------------------------------------------------------------------------------------


def capture(sfn: Any, operation: str) -> dict[str, Any]:
    """The next ``operation`` request ``sfn`` sends, as it went on the wire (it is still sent)."""
    seen: dict[str, Any] = {}

    def record(request: Any, **_: Any) -> None:
        seen.update(headers=dict(request.headers.items()), body=request.body or b"")

    sfn.meta.events.register(f"before-send.sfn.{operation}", record)
    return seen


def replayable(headers: dict[str, Any]) -> dict[str, str]:
    return {
        k: v.decode() if isinstance(v, bytes) else v
        for k, v in headers.items()
        if k.lower() not in ("content-length", "user-agent", "amz-sdk-invocation-id", "amz-sdk-request")
    }


def manual_headers(
    *,
    key: str = KEY,
    signed_headers: str = "content-type;host;x-amz-date;x-amz-target",
    signature: str = "0" * 64,
    amz_date: str | None = None,
) -> dict[str, str]:
    """Headers with an Authorization header written by hand (refused before its signature matters)."""
    amz_date = amz_date or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    credential = f"{key}/{amz_date[:8]}/{REGION}/states/aws4_request"
    return {
        "Content-Type": JSON_TYPE,
        "X-Amz-Target": "AWSStepFunctions.ListStateMachines",
        "X-Amz-Date": amz_date,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed_headers}, "
        f"Signature={signature}",
    }


def raw_exchange(port: int, head: bytes, first_part: bytes) -> tuple[int, bytes]:
    """Send ``head`` and the start of a body, then read the response without sending more."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head + first_part)
        response = b""
        while b"\r\n\r\n" not in response or len(response.split(b"\r\n\r\n", 1)[1]) < content_length(response):
            chunk = conn.recv(65_536)
            if not chunk:
                break
            response += chunk
    status_line, _, rest = response.partition(b"\r\n")
    return int(status_line.split()[1]), rest.split(b"\r\n\r\n", 1)[1]


def content_length(response: bytes) -> int:
    for line in response.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def send_while_open(port: int, head: bytes, total: int) -> int:
    """Send ``head`` then up to ``total`` bytes of body for as long as the server takes them."""
    sent = 0
    block = b" " * 65_536
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head)
        try:
            while sent < total:
                sent += conn.send(block)
        except OSError:
            pass  # reset or broken pipe: the server stopped reading
    return sent


def rss_kb(server: Server) -> int:
    status = Path(f"/proc/{server.process.handle.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
