"""The client in-process on PostgreSQL, joining the caller's transaction: both commit, or neither.

An application's own row and the execution it starts are written in the application's session (its
own engine, as a service has). Rolled back: no execution, no outbox row, no Celery message. Committed:
the message is published only then (not before), and a worker runs the execution to its end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, create_engine, func, insert, select
from sqlalchemy.orm import Session

from orchestrator import Client, ServiceError
from tests.client.conftest import ADD_ONE, new_machine, queued
from tests.runtime.conftest import Cluster, ClusterFactory

metadata = MetaData()
applications = Table(
    "client_test_applications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("applicant", String(100), nullable=False),
    Column("execution_arn", String(256)),
)


@pytest.fixture()
def app_engine(database_url: str) -> Iterator[Engine]:
    """The application's own engine on the engine's database, with its own table."""
    engine = create_engine(database_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture()
def idle(cluster_factory: ClusterFactory) -> Cluster:
    """A cluster with no worker and no scheduler yet: what is published stays in its queue."""
    return cluster_factory()


def rows(engine: Engine, applicant: str) -> int:
    with engine.connect() as connection:
        query = select(func.count()).select_from(applications).where(applications.c.applicant == applicant)
        return int(connection.scalar(query) or 0)


def test_a_rollback_leaves_no_execution_and_no_message(idle: Cluster, app_engine: Engine) -> None:
    client = Client(settings=idle.settings, app=idle.app)
    machine = new_machine(client, ADD_ONE)

    # When the application's transaction fails after it started the execution
    with (
        pytest.raises(RuntimeError, match="the application could not be saved"),
        Session(app_engine) as session,
        session.begin(),
    ):
        session.execute(insert(applications).values(applicant="rolled-back"))
        started = client.start_execution(machine, {"n": 1}, name="rolled-back", session=session)
        raise RuntimeError("the application could not be saved")

    # Then neither its row nor the execution exists, and nothing was published
    assert rows(app_engine, "rolled-back") == 0
    with pytest.raises(ServiceError) as missing:
        client.describe_execution(started["executionArn"])
    assert missing.value.code == "ExecutionDoesNotExist"
    assert client.list_executions(machine)["executions"] == []
    assert idle.outbox_size() == 0
    assert queued(idle) == 0


def test_a_commit_publishes_then_and_a_worker_runs_it_to_the_end(idle: Cluster, app_engine: Engine) -> None:
    client = Client(settings=idle.settings, app=idle.app)
    machine = new_machine(client, ADD_ONE)

    with Session(app_engine) as session, session.begin():
        row_id = session.scalar(insert(applications).values(applicant="committed").returning(applications.c.id))
        started = client.start_execution(machine, {"n": 41}, name="committed", session=session)
        session.execute(
            applications.update().where(applications.c.id == row_id).values(execution_arn=started["executionArn"])
        )
        # Before the commit, another connection sees neither, and the broker holds no message
        assert client.list_executions(machine)["executions"] == []
        assert rows(app_engine, "committed") == 0
        assert queued(idle) == 0

    # After it, the first step's message is in the queue, published by this process
    assert queued(idle) == 1
    assert rows(app_engine, "committed") == 1
    assert client.describe_execution(started["executionArn"])["status"] == "RUNNING"

    # And a worker runs the execution to its end
    idle.start_scheduler()
    idle.start_worker()
    done = client.wait(started["executionArn"], timeout=60)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"n": 42}


def test_a_refused_start_leaves_the_callers_transaction_usable(cluster: Cluster, app_engine: Engine) -> None:
    client = Client(settings=cluster.settings, app=cluster.app)
    machine = new_machine(client, ADD_ONE)

    with Session(app_engine) as session, session.begin():
        first = client.start_execution(machine, {"n": 1}, name="taken", session=session)
        # the same name with another input is refused, in a SAVEPOINT of the caller's transaction
        with pytest.raises(ServiceError) as refused:
            client.start_execution(machine, {"n": 2}, name="taken", session=session)
        assert refused.value.code == "ExecutionAlreadyExists"
        session.execute(insert(applications).values(applicant="after-refusal", execution_arn=first["executionArn"]))

    assert rows(app_engine, "after-refusal") == 1
    done = client.wait(first["executionArn"], timeout=60)
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"n": 2})


def test_a_session_of_the_clients_own(cluster: Cluster) -> None:
    """`Client.transaction` gives a session on the engine's database for the same both-or-neither."""
    client = Client(settings=cluster.settings, app=cluster.app)
    machine = new_machine(client, ADD_ONE)

    with pytest.raises(KeyError), client.transaction() as session:
        client.start_execution(machine, {"n": 1}, name="never", session=session)
        raise KeyError("the caller gave up")
    with client.transaction() as session:
        started = client.start_execution(machine, {"n": 1}, name="kept", session=session)

    assert [e["name"] for e in client.list_executions(machine)["executions"]] == ["kept"]
    assert client.wait(started["executionArn"], timeout=60)["status"] == "SUCCEEDED"
