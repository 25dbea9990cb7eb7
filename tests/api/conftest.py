"""The HTTP API served for real (uvicorn on a local port) in front of a real cluster."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis
import uvicorn
from botocore.config import Config

from orchestrator.api.app import create_app
from orchestrator.service import Service
from tests.runtime import handlers  # noqa: F401 - StartSyncExecution runs handlers in the API process
from tests.runtime.conftest import REDIS_URL, Cluster, database_url  # noqa: F401 - a fixture

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """uvicorn in a thread, serving the API for one Service."""

    def __init__(self, service: Service) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(service), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise AssertionError("the API server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def client(url: str, **credentials: Any) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=credentials.get("key", "test-key"),
        aws_secret_access_key=credentials.get("secret", "test-secret"),
        config=Config(retries={"max_attempts": 1}, inject_host_prefix=False, read_timeout=90),
    )


@pytest.fixture(scope="module")
def cluster(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:  # noqa: F811
    redis.Redis.from_url(REDIS_URL).flushdb()
    cluster = Cluster(database_url, REDIS_URL, Path(tmp_path_factory.mktemp("api-cluster")))
    cluster.start_worker(concurrency=4)
    cluster.start_scheduler()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def server(cluster: Cluster) -> Iterator[Server]:
    with Server(cluster.service) as running:
        yield running


@pytest.fixture(scope="module")
def sfn(server: Server) -> Any:
    return client(server.url)
