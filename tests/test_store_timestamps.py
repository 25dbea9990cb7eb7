"""Times read back from the store are UTC-aware on PostgreSQL and on SQLite (`store.timestamps`):
what the CLI and the API print always carries its timezone, and a time written with another offset
is the same instant when read back and when compared in a query."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from orchestrator.store.db import get_engine
from orchestrator.store.migrate import upgrade
from orchestrator.store.models import Topic, TopicMessage
from tests.runtime.conftest import database_url  # noqa: F401 - a fixture

PARIS_SUMMER = dt.timezone(dt.timedelta(hours=2))


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        chosen = f"sqlite:///{tmp_path / 'timestamps.sqlite'}"
        upgrade(chosen)
    else:
        chosen = request.getfixturevalue("database_url")
    yield chosen


def test_times_come_back_in_utc_with_their_timezone(url: str) -> None:
    written = dt.datetime(2026, 7, 1, 3, 4, 5, 678000, tzinfo=PARIS_SUMMER)
    name = f"t{written.timestamp():.0f}-{id(url)}"
    with Session(get_engine(url)) as session, session.begin():
        topic = Topic(arn=f"arn:aws:sns:us-east-1:123456789012:{name}", name=name)
        session.add(topic)
        session.flush()
        session.add(TopicMessage(id=name, topic_id=topic.id, message="m", published_at=written))
    with Session(get_engine(url)) as session:
        message = session.scalars(select(TopicMessage).where(TopicMessage.id == name)).one()
        created = session.scalars(select(Topic.created_at).where(Topic.name == name)).one()
        # the same instant, in UTC: 03:04 at +02:00 is 01:04 UTC
        assert message.published_at == written
        assert message.published_at.tzinfo == dt.UTC and message.published_at.hour == 1
        # a server default (CURRENT_TIMESTAMP) too
        assert created.tzinfo == dt.UTC
        # a bound time in another offset compares as the instant it is
        just_before = dt.datetime(2026, 7, 1, 1, 4, 5, tzinfo=dt.UTC).astimezone(PARIS_SUMMER)
        later = select(TopicMessage.id).where(TopicMessage.id == name, TopicMessage.published_at > just_before)
        assert session.scalars(later).all() == [name]


def test_an_interval_can_be_added_on_postgresql(database_url: str) -> None:  # noqa: F811 - the fixture
    """``column - timedelta`` binds an interval, not a time (tests move timers so)."""
    name = "interval"
    with Session(get_engine(database_url)) as session, session.begin():
        topic = Topic(arn=f"arn:aws:sns:us-east-1:123456789012:{name}", name=name)
        session.add(topic)
        session.flush()
        session.add(
            TopicMessage(id=name, topic_id=topic.id, message="m", published_at=dt.datetime(2026, 7, 1, tzinfo=dt.UTC))
        )
        session.execute(
            update(TopicMessage)
            .where(TopicMessage.id == name)
            .values(published_at=TopicMessage.published_at - dt.timedelta(hours=1))
        )
        moved = session.scalar(select(TopicMessage.published_at).where(TopicMessage.id == name))
    assert moved == dt.datetime(2026, 6, 30, 23, tzinfo=dt.UTC)
