"""What goes into the client and what comes out: JSON given as values, answers in one shape for both transports.

Answers are the API's (camelCase keys, JSON documents such as ``input`` and ``output`` as JSON
text, as boto3 gives them), with every timestamp a timezone-aware ``datetime`` in UTC: boto3 gives
the machine's local zone, SQLite gives no zone at all, so both are brought to UTC.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any


def json_text(value: Any) -> str:
    """A JSON document given as text (passed on as it is) or as a Python value (serialized)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def params(**values: Any) -> dict[str, Any]:
    """Request parameters, leaving out the ones not given (None), as the wire does."""
    return {name: value for name, value in values.items() if value is not None}


def normalized(value: Any) -> Any:
    """``value`` with its datetimes in UTC and its None members left out (the wire has no nulls)."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value
