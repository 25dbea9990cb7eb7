"""The API when its database cannot be reached: a retryable 503, never a 500 or a traceback."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from orchestrator import config
from orchestrator.api.app import create_app
from orchestrator.service import Service


def test_an_unreachable_database_is_a_retryable_service_unavailable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Port 1 on the loopback: nothing listens there, so every connection is refused at once.
    settings = config.load(
        {
            "ORCHESTRATOR_HOME": str(tmp_path),
            "ORCHESTRATOR_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2",
        }
    )
    app = create_app(Service(settings))
    with caplog.at_level(logging.WARNING, logger="orchestrator.api.app"):
        response = asyncio.run(_post(app, "ListStateMachines"))
    assert response.status_code == 503
    assert response.json() == {
        "__type": "ServiceUnavailable",
        "message": "The database is unavailable; retry the request",
    }
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert not any(r.exc_info for r in caplog.records)


async def _post(app: object, action: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return await client.post(
            "/",
            headers={"X-Amz-Target": f"AWSStepFunctions.{action}", "Content-Type": "application/x-amz-json-1.0"},
            content=b"{}",
        )
