"""What the client's tests share: a cluster on PostgreSQL and Redis, clients of both transports, machines.

The cluster's workers are real processes (``orchestrator worker``) with the runtime tests' handlers;
`Client` in-process uses the cluster's settings and Celery app (its queues of its own), over HTTP a
real ``orchestrator serve`` that requires signed requests.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from orchestrator import Client
from tests.api.conftest import Server
from tests.runtime.conftest import (  # noqa: F401 - database_url and cluster_factory are fixtures
    CALLBACK,
    CALLBACK_PARAMETERS,
    LAMBDA,
    REDIS_URL,
    ROLE,
    Cluster,
    ClusterFactory,
    close_clusters,
    cluster_factory,
    database_url,
    new_cluster,
)

ACCESS_KEY = "client-test-key"
SECRET_KEY = "client-test-secret"

# One Task (the "add" handler adds 1 to n), so an execution goes through a worker.
ADD_ONE = {
    "StartAt": "Add",
    "States": {"Add": {"Type": "Task", "Resource": LAMBDA.format("add"), "End": True}},
}
# Waits for a task token (the "noop" handler is handed it), then passes the answer on.
CALLBACK_MACHINE = {
    "StartAt": "Ask",
    "States": {"Ask": {"Type": "Task", "Resource": CALLBACK, "Parameters": CALLBACK_PARAMETERS, "End": True}},
}


@pytest.fixture(scope="module")
def cluster(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:  # noqa: F811
    """A worker and a scheduler, shared by a module's tests."""
    running = new_cluster(database_url, REDIS_URL, Path(tmp_path_factory.mktemp("client-cluster")))
    try:
        running.start_scheduler()
        running.start_worker(concurrency=2)
        yield running
    finally:
        close_clusters([running])


@pytest.fixture(scope="module")
def local(cluster: Cluster) -> Client:
    """The client in this process, on the cluster's database and broker."""
    return Client(settings=cluster.settings, app=cluster.app)


@pytest.fixture(scope="module")
def server(cluster: Cluster) -> Iterator[Server]:
    with Server(cluster, ORCHESTRATOR_API_KEYS=f"{ACCESS_KEY}={SECRET_KEY}") as running:
        yield running


@pytest.fixture(scope="module")
def remote(server: Server) -> Client:
    """The client over HTTP, signing with the server's access key."""
    return Client(endpoint_url=server.url, access_key=ACCESS_KEY, secret_key=SECRET_KEY)


def new_machine(client: Client, definition: dict[str, Any], **options: Any) -> str:
    created = client.create_state_machine(f"client-{uuid.uuid4().hex[:10]}", definition, ROLE, **options)
    return str(created["stateMachineArn"])


def queued(cluster: Cluster) -> int:
    """Messages waiting in the cluster's engine queue in Redis (kombu keeps one list per priority step)."""
    queue = cluster.settings.engine_queue
    total = 0
    with redis.Redis.from_url(cluster.settings.broker_url) as broker:
        for key in broker.scan_iter(match=f"{queue}*"):
            name = key.decode(errors="replace")
            if name == queue or name.startswith(f"{queue}\x06\x16"):
                with contextlib.suppress(redis.ResponseError):  # a key of another type is no queue
                    total += int(broker.llen(key))
    return total
