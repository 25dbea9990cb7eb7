"""What answers besides the actions: unknown routes and methods in AWS's shape, and /health by audience.

With access keys configured, /health tells anyone only up or down; a request from this machine also
sees each part's status, and only a signed request sees the errors (which name hosts and ports).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.api.conftest import REGION, Server, client
from tests.runtime.conftest import Cluster

KEY, SECRET = "AKIDHEALTHTEST", "health-secret"
JSON_TYPE = "application/x-amz-json-1.0"
UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture(scope="module")
def signed_server(cluster: Cluster) -> Iterator[Server]:
    with Server(cluster, ORCHESTRATOR_API_KEYS=f"{KEY}={SECRET}") as running:
        yield running


@pytest.fixture(scope="module")
def degraded_server(cluster: Cluster) -> Iterator[Server]:
    with Server(
        cluster, ORCHESTRATOR_API_KEYS=f"{KEY}={SECRET}", ORCHESTRATOR_BROKER_URL=UNREACHABLE_BROKER
    ) as running:
        yield running


# -- unknown routes and methods ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nope", 404), ("POST", "/v1/anything", 404), ("PUT", "/", 405), ("DELETE", "/health", 405)],
)
def test_unknown_routes_and_methods_answer_in_aws_shape(server: Server, method: str, path: str, status: int) -> None:
    response = httpx.request(method, server.url + path, content=b"{}")
    assert response.status_code == status
    assert response.headers["content-type"] == JSON_TYPE
    assert response.headers["x-amzn-requestid"]
    error = response.json()
    assert error["__type"] == "UnknownOperationException"
    assert path in error["message"]
    if status == 405:
        assert response.headers["allow"]


def test_boto3_pointed_at_a_wrong_path_reads_the_error(server: Server) -> None:
    with pytest.raises(ClientError) as raised:
        client(server.url + "/wrong/path").list_state_machines()
    assert raised.value.response["Error"]["Code"] == "UnknownOperationException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_the_root_still_leads_to_the_console_which_answers_in_html(server: Server) -> None:
    root = httpx.get(server.url + "/", follow_redirects=False)
    assert (root.status_code, root.headers["location"]) == (307, "/console/")
    assert httpx.get(server.url + "/console/", follow_redirects=True).headers["content-type"].startswith("text/html")
    missing = httpx.get(server.url + "/console/no-such-page")
    assert missing.status_code == 404
    assert not missing.headers["content-type"].startswith(JSON_TYPE)


# -- /health ----------------------------------------------------------------------------------------------


def test_with_keys_an_unsigned_remote_caller_sees_only_the_status(signed_server: Server) -> None:
    # Behind a proxy (it says whom it forwards for) and from another address of this host alike
    forwarded = httpx.get(f"{signed_server.url}/health", headers={"X-Forwarded-For": "203.0.113.9"})
    assert (forwarded.status_code, forwarded.json()) == (200, {"status": "ok"})
    address = non_loopback_address()
    assert address is not None, "this test needs an address of this host besides the loopback"
    remote = httpx.get(f"http://{address}:{signed_server.port}/health")
    assert (remote.status_code, remote.json()) == (200, {"status": "ok"})


def test_with_keys_a_local_caller_sees_each_part_and_a_signed_one_everything(signed_server: Server) -> None:
    local = httpx.get(f"{signed_server.url}/health").json()
    assert local["database"] == {"status": "ok"} and local["broker"]["status"] == "ok"
    signed = signed_get(signed_server, "/health")
    assert signed.status_code == 200
    assert signed.json()["broker"]["transport"]


def test_a_degraded_server_names_its_hosts_only_to_a_signed_request(degraded_server: Server) -> None:
    # Given a server whose broker does not answer
    remote = httpx.get(f"{degraded_server.url}/health", headers={"X-Forwarded-For": "203.0.113.9"})
    local = httpx.get(f"{degraded_server.url}/health")
    signed = signed_get(degraded_server, "/health")
    # Then everyone learns it is degraded (503)
    assert remote.status_code == local.status_code == signed.status_code == 503
    assert remote.json() == {"status": "degraded"}
    # And only the signed request is told why, with the broker's address
    assert local.json()["broker"] == {"status": "unavailable"}
    assert "error" in signed.json()["broker"]
    for unsigned in (remote, local):
        assert "127.0.0.1" not in unsigned.text and "error" not in unsigned.text


def test_a_badly_signed_health_request_is_treated_as_unsigned(signed_server: Server) -> None:
    response = signed_get(signed_server, "/health", secret="wrong", headers={"X-Forwarded-For": "203.0.113.9"})
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def signed_get(server: Server, path: str, *, secret: str = SECRET, headers: dict[str, str] | None = None) -> Any:
    request = AWSRequest(method="GET", url=server.url + path, headers=headers or {})
    SigV4Auth(Credentials(KEY, secret), "states", REGION).add_auth(request)
    return httpx.get(server.url + path, headers=dict(request.headers.items()))


def non_loopback_address() -> str | None:
    """An IPv4 address of this host that is not the loopback (the route to a public address uses it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: UDP connect only picks the route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address
