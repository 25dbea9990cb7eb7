"""Storing on PostgreSQL the one character it cannot hold: NUL (U+0000).

JSON allows ``"\\u0000"`` in a string and AWS keeps it in an execution's data, but PostgreSQL
refuses it in ``jsonb`` ("unsupported Unicode escape sequence") and in ``text``. So on PostgreSQL
every string (JSON keys and values, and the ``error`` and ``cause`` columns) is stored with NUL
written as U+E000 followed by ``0``, and U+E000 itself (a private-use character) doubled. This is
reversible, and reading undoes it, so a value comes back exactly as written. Anything without
either character, which is nearly everything, is stored as it is; in SQL a string that had one
shows the escape. SQLite stores NUL as it is and needs none of this.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

ESCAPE = "\ue000"
_ESCAPE_UTF8 = ESCAPE.encode()
_ESCAPED = re.compile(ESCAPE + "(.)", re.DOTALL)


def escape(text: str) -> str:
    if "\x00" not in text and ESCAPE not in text:
        return text
    return text.replace(ESCAPE, ESCAPE + ESCAPE).replace("\x00", ESCAPE + "0")


def unescape(text: str) -> str:
    if ESCAPE not in text:
        return text
    return _ESCAPED.sub(_unescaped, text)


def _unescaped(match: re.Match[str]) -> str:
    follower = match.group(1)
    if follower == "0":
        return "\x00"
    # a lone escape character left by a writer that did not escape: kept as it was
    return ESCAPE if follower == ESCAPE else match.group(0)


def dumps(value: Any) -> str:
    """The JSON text PostgreSQL stores for ``value`` (the engine's ``json_serializer``).

    NaN and Infinity are refused here (ValueError), not by the server, with a clearer message.
    """
    text = json.dumps(value, allow_nan=False)
    # json.dumps writes both characters as escapes (ASCII output); a false alarm costs a walk
    if "\\u0000" in text or "\\ue000" in text:
        text = json.dumps(_walk(value, escape), allow_nan=False)
    return text


def loads(data: str | bytes) -> Any:
    """A JSON value read from PostgreSQL (the engine's ``json_deserializer``), with NUL restored."""
    value = json.loads(data)
    # PostgreSQL writes U+E000 as it is in its JSON output; other writers may use the escape
    if isinstance(data, bytes):
        marked = _ESCAPE_UTF8 in data or b"\\ue000" in data
    else:
        marked = ESCAPE in data or "\\ue000" in data
    return _walk(value, unescape) if marked else value


def _walk(value: Any, change: Any) -> Any:
    """``value`` with ``change`` applied to every string in it, keys included."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {change(key): _walk(item, change) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(item, change) for item in value]
    return value


class SafeText(TypeDecorator[str]):
    """A text column that takes NUL characters on PostgreSQL too (an execution's error and cause)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or dialect.name != "postgresql":
            return value
        return escape(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or dialect.name != "postgresql":
            return value
        return unescape(value)
