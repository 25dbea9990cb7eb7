"""The embedded broker's transport: a consumer's wait for messages ends when its connection closes.

kombu's memory transport waited out its whole timeout after the worker closed the connection, which
made every embedded ``orchestrator run`` exit about 2 s after its execution ended (issue 16, item 11).
The waits here have no timeout at all, so only the closing can end them.
"""

from __future__ import annotations

import threading

from kombu import Connection, Exchange, Queue

from orchestrator.runtime.inprocess import TRANSPORT


def _drain_forever(connection: Connection, outcome: list[BaseException | None]) -> None:
    try:
        connection.drain_events(timeout=None)
        outcome.append(None)
    except BaseException as exc:  # what ended the wait, for the test to look at
        outcome.append(exc)


def test_a_wait_without_timeout_ends_when_the_connection_closes() -> None:
    # Given a consumer waiting, with no timeout, on an empty in-process queue
    connection = Connection("memory://", transport=TRANSPORT)
    queue = Queue("inprocess-test-empty", Exchange("inprocess-test"), routing_key="empty")
    consumer = connection.Consumer([queue], callbacks=[lambda body, message: message.ack()])
    consumer.consume()
    outcome: list[BaseException | None] = []
    waiter = threading.Thread(target=_drain_forever, args=(connection, outcome), daemon=True)
    waiter.start()
    # When its worker closes the connection
    connection.close()
    # Then the wait ends, with the timeout Celery's consume loop expects
    waiter.join(timeout=60)
    assert not waiter.is_alive(), "the wait went on after the connection was closed"
    assert len(outcome) == 1 and isinstance(outcome[0], TimeoutError)


def test_messages_still_arrive_through_it() -> None:
    # Given a message published on the in-process transport
    exchange = Exchange("inprocess-test")
    queue = Queue("inprocess-test-full", exchange, routing_key="full")
    received: list[object] = []
    with Connection("memory://", transport=TRANSPORT) as connection:
        connection.Producer().publish({"n": 1}, exchange=exchange, routing_key="full", declare=[queue])
        # When a consumer waits for it (no timeout)
        with connection.Consumer([queue], callbacks=[lambda body, message: (received.append(body), message.ack())]):
            connection.drain_events(timeout=None)
    # Then it is delivered
    assert received == [{"n": 1}]
