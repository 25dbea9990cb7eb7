"""What monitoring (Flower, `celery events`) shows of a published message: ids, not payloads."""

from __future__ import annotations

from orchestrator.runtime.publish import _args_repr


def test_a_message_shows_its_ids_and_hides_its_payload() -> None:
    payload = {"input": "x" * 100_000}
    assert _args_repr([7, 8, 3, payload, 41]) == "[7, 8, 3, ..., 41]"
    assert _args_repr([7, 8, 3, None, None]) == "[7, 8, 3, None, None]"
    assert _args_repr([]) == "[]"
