"""The client on the embedded default (a SQLite file, a worker inside this process), as README shows it.

No server: the client creates the database, and runs a worker and the scheduler in this process
from its first start until it is closed. Its own sessions join the same transaction as on PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from orchestrator import Client, ServiceError, config
from orchestrator.runtime import embedded
from tests.client.conftest import ADD_ONE


def test_the_embedded_default(tmp_path: Path) -> None:
    home = str(tmp_path)
    settings = config.load({"ORCHESTRATOR_HOME": home, "ORCHESTRATOR_HANDLER_MODULES": "tests.runtime.handlers"})
    with Client(settings=settings) as client:
        created = client.create_state_machine("adder", ADD_ONE, "arn:aws:iam::123456789012:role/test")
        machine = created["stateMachineArn"]
        assert not embedded.is_running()  # nothing to run yet
        with client.transaction() as session:
            session.execute(text("CREATE TABLE orders (id INTEGER PRIMARY KEY, execution_arn TEXT)"))

        with pytest.raises(ValueError), client.transaction() as session:
            client.start_execution(machine, {"n": 1}, name="undone", session=session)
            session.execute(text("INSERT INTO orders (execution_arn) VALUES ('undone')"))
            raise ValueError("the order was refused")
        with client.transaction() as session:
            started = client.start_execution(machine, {"n": 1}, name="order-1", session=session)
            session.execute(text("INSERT INTO orders (execution_arn) VALUES (:arn)"), {"arn": started["executionArn"]})

        assert embedded.is_running()
        done = client.wait(started["executionArn"], timeout=30)
        assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"n": 2})
        with pytest.raises(ServiceError, match="Execution Does Not Exist"):
            client.describe_execution(started["executionArn"].replace("order-1", "undone"))
        with client.transaction() as session:
            orders = session.execute(text("SELECT execution_arn FROM orders")).scalars().all()
        assert orders == [started["executionArn"]]
    assert not embedded.is_running()  # closed with the client
    assert (tmp_path / "orchestrator.sqlite").exists()
