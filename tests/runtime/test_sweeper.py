"""The outbox sweeper: what it republishes, and how it backs off from a message it already republished.

A message still in the outbox long after it was published was either lost by the broker or is
waiting behind a long queue. The sweeper cannot tell which, so it republishes it, then waits as
long as the message has existed before doing so again (the waits double), instead of adding a
copy to the queue every visibility timeout.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from orchestrator.runtime.publish import sweep
from orchestrator.store import runs
from orchestrator.store.db import get_engine, session_scope
from orchestrator.store.migrate import upgrade
from tests.runtime.conftest import PG_ADMIN

TIMEOUT = dt.timedelta(seconds=10)


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of the test's own: the sweeper takes the oldest messages first."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'orchestrator.sqlite'}"
        upgrade(url)
        yield url
        return
    name = f"orchestrator_sweeper_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_ADMIN.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    upgrade(url)
    yield url
    get_engine(url).dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_message_left_unconsumed_is_republished_after_ever_longer_waits(url: str) -> None:
    start = dt.datetime.now(dt.UTC)
    message = _message(url, created=start - dt.timedelta(seconds=100), published=start - dt.timedelta(seconds=100))
    swept_at = [s for s in (0, 50, 101, 150, 301, 303) if message in _swept(url, start + dt.timedelta(seconds=s))]
    # 100 s old at 0 s: republished, next after another 100 s; 201 s old at 101 s: next after 201 s.
    assert swept_at == [0, 101, 303]


def test_a_recent_message_waits_for_the_visibility_timeout_and_an_unpublished_one_goes_at_once(url: str) -> None:
    now = dt.datetime.now(dt.UTC)
    published = _message(url, created=now - dt.timedelta(seconds=5), published=now - dt.timedelta(seconds=5))
    never_published = _message(url, created=now - dt.timedelta(seconds=5), published=None)
    assert _swept(url, now) & {published, never_published} == {never_published}
    assert published in _swept(url, now + dt.timedelta(seconds=6))


def test_a_consumed_message_is_never_republished(url: str) -> None:
    now = dt.datetime.now(dt.UTC)
    message = _message(url, created=now - dt.timedelta(seconds=60), published=now - dt.timedelta(seconds=60))
    with session_scope(url) as session:
        runs.consume_message(session, message)
    assert message not in _swept(url, now + dt.timedelta(hours=1))


def _message(url: str, *, created: dt.datetime, published: dt.datetime | None) -> int:
    row = {"task": "t", "args": [], "queue": "q", "countdown": None, "created_at": created, "published_at": published}
    with session_scope(url) as session:
        return runs.add_messages(session, [row])[0]


def _swept(url: str, now: dt.datetime) -> set[int]:
    with session_scope(url) as session:
        return {m.outbox_id for m in sweep(session, now=now, older_than=TIMEOUT) if m.outbox_id is not None}
