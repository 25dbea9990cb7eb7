"""What kind of JSON value a Python value is, in the words AWS's error messages use; and JSON
text read as AWS reads it."""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn


class NotJsonError(ValueError):
    """Text that Python's json module reads but AWS's parser does not (NaN, Infinity, a number
    beyond a double's range), or nested too deeply to read at all."""


def loads(text: str | bytes) -> Any:
    """Parse JSON text strictly: NaN, Infinity and numbers that overflow a double are refused, as
    AWS refuses them and as PostgreSQL's jsonb cannot hold them.

    Raises:
        json.JSONDecodeError: the text is not JSON.
        NotJsonError: it is JSON only to Python, or nests deeper than Python can parse.
    """
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=finite_float)
    except RecursionError:
        raise NotJsonError("The JSON text is nested too deeply") from None


def _refuse_constant(name: str) -> NoReturn:
    raise NotJsonError(f"Non-standard token '{name}': NaN and Infinity are not JSON numbers")


def finite_float(digits: str) -> float:
    """A JSON number with a fraction or an exponent, as a float (``parse_float``); refuses overflow."""
    value = float(digits)
    if math.isinf(value):
        raise NotJsonError(f"The number {digits} is out of a double's range")
    return value


def json_type(value: Any) -> str:
    """``null``, ``boolean``, ``number``, ``string``, ``array`` or ``object`` (else the Python type)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def is_integer(value: Any) -> bool:
    """A JSON integer: AWS reads 1.5 and true as "not a long value"."""
    return isinstance(value, int) and not isinstance(value, bool)
