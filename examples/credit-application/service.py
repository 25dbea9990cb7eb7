"""A bank's web service that takes credit applications over HTTP and runs the workflow for each.

    python examples/credit-application/service.py            # http://127.0.0.1:8000

``POST /applications`` with an application as JSON (``input-auto-approve.json`` is one) saves it in
the service's own table, ``credit_applications``, and starts its execution of the
``credit-application`` state machine through `orchestrator.Client`, in the same database
transaction: the application is saved and its workflow started, or neither (a refused start rolls
the row back; a failed commit leaves no execution). It answers ``201`` with the application's id and its
execution's ARN. ``GET /applications/{id}`` shows the application and how its execution is doing.

It uses the configuration the CLI uses: the embedded SQLite file and an in-process worker by
default, or ``ORCHESTRATOR_DATABASE_URL`` and ``ORCHESTRATOR_BROKER_URL`` (then run ``orchestrator
worker`` and ``orchestrator scheduler`` beside it). Its table lives in the engine's database, which is
what lets one transaction hold both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from orchestrator import Client, ServiceError

HERE = Path(__file__).resolve().parent
MACHINE = "credit-application"


class Base(DeclarativeBase):
    pass


class CreditApplication(Base):
    """The service's own record of an application (the engine's tables hold its execution)."""

    __tablename__ = "credit_applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    credit_requested: Mapped[int] = mapped_column(Integer)
    document: Mapped[str] = mapped_column(Text)  # the application as it was posted
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    execution_arn: Mapped[str | None] = mapped_column(String(256))


def create_app(client: Client, machine_arn: str) -> Starlette:
    """The web service: ``client`` starts the executions of ``machine_arn``."""
    with client.transaction() as session:
        Base.metadata.create_all(session.connection())

    async def submit(request: Request) -> JSONResponse:
        try:
            application = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        problem = _problem(application)
        if problem:
            return JSONResponse({"error": problem}, status_code=400)
        try:
            saved = await run_in_threadpool(save_and_start, client, machine_arn, application)
        except ServiceError as exc:  # the start was refused: the application was not saved either
            return JSONResponse({"error": exc.code, "message": exc.message}, status_code=409)
        return JSONResponse(saved, status_code=201)

    async def show(request: Request) -> JSONResponse:
        found = await run_in_threadpool(describe, client, int(request.path_params["id"]))
        return JSONResponse(found) if found else JSONResponse({"error": "no such application"}, status_code=404)

    return Starlette(
        routes=[
            Route("/applications", submit, methods=["POST"]),
            Route("/applications/{id:int}", show, methods=["GET"]),
        ]
    )


def save_and_start(client: Client, machine_arn: str, application: dict[str, Any]) -> dict[str, Any]:
    """Save the application and start its execution in one transaction; both commit, or neither."""
    with client.transaction() as session:
        row = CreditApplication(
            email=application["data"]["identity"]["email"],
            credit_requested=application["creditRequested"],
            document=json.dumps(application),
            received_at=dt.datetime.now(dt.UTC),
        )
        session.add(row)
        session.flush()  # the row's id names the execution
        started = client.start_execution(machine_arn, application, name=f"application-{row.id}", session=session)
        row.execution_arn = started["executionArn"]
    return {"applicationId": row.id, "executionArn": started["executionArn"]}


def describe(client: Client, application_id: int) -> dict[str, Any] | None:
    with client.transaction() as session:
        row = session.get(CreditApplication, application_id)
        if row is None:
            return None
        found = {"applicationId": row.id, "email": row.email, "creditRequested": row.credit_requested}
        arn = row.execution_arn
    execution = client.describe_execution(arn) if arn else {}
    found.update(executionArn=arn, status=execution.get("status"), output=json.loads(execution.get("output", "null")))
    return found


def _problem(application: Any) -> str | None:
    """What is wrong with a posted application, in a sentence; None if nothing."""
    if not isinstance(application, dict):
        return "an application is a JSON object"
    amount = application.get("creditRequested")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return "creditRequested must be a whole amount above 0"
    email = ((application.get("data") or {}).get("identity") or {}).get("email")
    if not isinstance(email, str) or "@" not in email or len(email) > 254:
        return "data.identity.email must be an e-mail address"
    return None


def set_up(client: Client) -> str:
    """What the workflow calls (the SNS topic, the bureaus table) and its state machine, as demo.py sets them up."""
    sys.path.insert(0, str(HERE))
    import demo  # beside this file (the folder is no package)

    from orchestrator.service import Service

    return str(demo.set_up(Service(client.settings)))


def main() -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description="The credit-application web service (see the module's doc).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    with Client() as client:
        machine_arn = set_up(client)
        uvicorn.run(create_app(client, machine_arn), host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
