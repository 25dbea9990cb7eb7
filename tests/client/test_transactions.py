"""The client in-process on PostgreSQL, joining the caller's transaction: both commit, or neither.

An application's own row and the execution it starts are written in the application's session (its
own engine, as a service has). Rolled back: no execution, no outbox row, no Celery message. Committed:
the message is published only then (not before), and a worker runs the execution to its end; if the
process dies between its commit and the publishing, the scheduler's sweeper publishes it.
"""

from __future__ import annotations

import json
import subprocess
import sys
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


# The caller's process dies right after its commit, before the client publishes: an after_commit
# listener registered ahead of the client's own ends the process (on the outermost commit only).
CRASH_AFTER_COMMIT = """
import os, sys
from sqlalchemy import event
from orchestrator import Client

client = Client()
with client.transaction() as session:
    event.listen(session, "after_commit", lambda s: s.get_nested_transaction() is None and os._exit(0))
    client.start_execution(sys.argv[1], {"n": 9}, name="crashed-after-commit", session=session)
"""


def test_a_commit_whose_process_dies_before_publishing_is_run_all_the_same(cluster_factory: ClusterFactory) -> None:
    # leases of 2 s: the sweeper republishes an unleased message 2 s after it was published
    lost = cluster_factory(extra_env={"ORCHESTRATOR_LEASE_SECONDS": "2", "ORCHESTRATOR_LEASE_RENEW_SECONDS": "0.5"})
    client = Client(settings=lost.settings, app=lost.app)
    machine = new_machine(client, ADD_ONE)

    ran = subprocess.run(
        [sys.executable, "-c", CRASH_AFTER_COMMIT, machine], env=lost.env, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    arn = machine.replace(":stateMachine:", ":execution:") + ":crashed-after-commit"
    assert client.describe_execution(arn)["status"] == "RUNNING"  # committed
    assert (lost.outbox_size(), queued(lost)) == (1, 0)  # its first step is in the outbox, never published

    lost.start_scheduler()
    lost.start_worker()
    done = client.wait(arn, timeout=60)
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"n": 10})
