"""Times stored and read back in UTC, with their timezone, on every backend.

PostgreSQL's ``timestamptz`` hands back aware datetimes, but SQLite has no such type: SQLAlchemy
stores the text of the time without its offset and reads it back naive, so a time read from the
embedded database printed without a timezone. `UtcDateTime` converts every time to UTC before
storing it (SQLite would otherwise drop a non-UTC offset silently) and attaches UTC to every time
read back, so callers always get ``datetime`` objects with ``tzinfo`` UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A ``timestamp with time zone`` column whose values are always UTC-aware in Python.

    A naive datetime given to it is taken to be UTC already (``datetime.utcnow()`` style)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        utc = as_utc(value)
        # SQLite keeps the text of the time: without the offset, all in UTC, as it always was stored
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else as_utc(value)

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        # ``fire_at - timedelta(...)``: the interval is an interval, not a time to convert
        return self if isinstance(value, dt.datetime) else self.impl_instance.coerce_compared_value(op, value)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC, aware; a naive one is taken to be UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)
