"""Which of a transaction's messages a worker goes on with itself (`runtime.tasks._follow_on`)."""

from __future__ import annotations

from orchestrator import config
from orchestrator.runtime.messages import ADVANCE, INVOKE, Message
from orchestrator.runtime.tasks import _follow_on

CONSUMED = frozenset({"engine", "handlers"})  # the queues a worker takes messages from


def invoke(queue: str, **fields: object) -> Message:
    return Message(INVOKE, [1, 2, 3, {"resource": "r"}, 9], queue, **fields)  # type: ignore[arg-type]


def test_the_first_task_bound_for_the_same_queue_is_taken() -> None:
    first, second = invoke("handlers"), invoke("handlers")
    assert _follow_on([Message(ADVANCE, [1, 2, 3, None, 8], "engine"), first, second], CONSUMED) is first


def test_a_task_for_another_queue_goes_through_the_broker() -> None:
    assert _follow_on([invoke("billing")], CONSUMED) is None
    assert _follow_on([invoke("handlers")], frozenset()) is None


def test_a_delayed_or_timer_message_is_never_taken() -> None:
    assert _follow_on([invoke("handlers", countdown=1.0)], CONSUMED) is None
    assert _follow_on([invoke("handlers", durable=False)], CONSUMED) is None
    assert _follow_on([Message(ADVANCE, [1, 2, 3, None, 8], "handlers")], CONSUMED) is None


def test_follow_on_is_on_by_default_on_every_broker() -> None:
    """A Task run by follow-on holds a lease like one from the broker: a lost worker's Tasks come back
    as soon either way, on RabbitMQ (which requeues a lost consumer's messages at once) too."""

    def seconds(**env: str) -> float:
        return config.load({"ORCHESTRATOR_HOME": "/nonexistent", **env}).follow_on_seconds

    assert seconds(ORCHESTRATOR_BROKER_URL="redis://127.0.0.1:6379/0") == 0.25
    assert seconds() == 0.25  # the embedded broker
    assert seconds(ORCHESTRATOR_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//") == 0.25
    assert seconds(ORCHESTRATOR_BROKER_URL="amqp://h//", ORCHESTRATOR_FOLLOW_ON_SECONDS="0.5") == 0.5
    assert seconds(ORCHESTRATOR_BROKER_URL="redis://h/0", ORCHESTRATOR_FOLLOW_ON_SECONDS="0") == 0.0
