"""The HTTP API served for real (uvicorn on a local port) in front of a real cluster."""

from __future__ import annotations

import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import uvicorn
from botocore.config import Config

from orchestrator import config
from orchestrator.api.app import create_app
from orchestrator.runtime.app import configure
from orchestrator.service import Service
from tests.runtime.conftest import REDIS_URL, Cluster, Process, database_url  # noqa: F401 - a fixture

REGION = "us-east-1"
API_REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + "/10"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """``orchestrator serve`` as a subprocess, as it runs in production."""

    def __init__(self, cluster: Cluster, *options: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "orchestrator.cli", "serve", "--port", str(self.port), *options]
        self.process = Process("serve", argv, {**cluster.env, **env}, cluster.tmp / f"serve-{self.port}.log")

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 30
        while True:
            try:
                # A degraded server answers /health only after its broker check gives up (seconds).
                if httpx.get(f"{self.url}/health", timeout=10).status_code in (200, 503):
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or not self.process.alive():
                raise AssertionError(f"the API server did not start:\n{self.process.output()}")
            time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        self.process.kill(signal.SIGTERM)


class InProcessServer:
    """uvicorn in a thread of the test process: for tests whose handlers live in the test itself."""

    def __init__(self, service: Service) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(service)
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> InProcessServer:
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
    cluster = Cluster(database_url, API_REDIS_URL, Path(tmp_path_factory.mktemp("api-cluster")))
    isolate(cluster)
    cluster.start_worker(concurrency=4)
    cluster.start_scheduler()
    yield cluster
    cluster.stop()


def isolate(cluster: Cluster) -> None:
    """Queues of this test session's own, so another session on the same Redis cannot take its messages."""
    suffix = uuid.uuid4().hex[:8]
    cluster.env.update(
        ORCHESTRATOR_ENGINE_QUEUE=f"orchestrator-{suffix}", ORCHESTRATOR_HANDLER_QUEUE=f"orchestrator.handlers-{suffix}"
    )
    cluster.settings = config.load(cluster.env)
    configure(cluster.app, cluster.settings)
    cluster.service = Service(cluster.settings, cluster.app)


@pytest.fixture(scope="module")
def server(cluster: Cluster) -> Iterator[Server]:
    with Server(cluster) as running:
        yield running


@pytest.fixture(scope="module")
def sfn(server: Server) -> Any:
    return client(server.url)
