"""Choice rules in JSONPath mode: the comparison operators and And/Or/Not.

Every operator is an entry in `COMPARATORS`, a function of (value, operand) -> bool. A ``...Path``
operator is the same entry with its operand read from the input first. As the States Language says,
a value of the wrong type never matches (it is not an error); a ``Variable`` that selects nothing
is an error, except for ``IsPresent``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from orchestrator.asl.model import BooleanRule, DataTest, Rule

# RFC 3339 as the States Language profiles it: uppercase T, Z or an offset, optional fraction.
_TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def parse_timestamp(text: Any) -> dt.datetime | None:
    """The instant an RFC 3339 timestamp names, or None if ``text`` is not one."""
    if not isinstance(text, str):
        return None
    return _parse_timestamp(text)


@lru_cache(maxsize=4096)
def _parse_timestamp(text: str) -> dt.datetime | None:
    match = _TIMESTAMP.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or ".0")[1:7].ljust(6, "0"))
    try:
        offset = dt.UTC
        if zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            offset = dt.timezone(sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        return dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=offset)
    except ValueError:
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _java_order(a: str, b: str) -> int:
    """Compare as Java's String.compareTo does: by UTF-16 code unit."""
    if a == b:
        return 0
    if max(map(ord, a + b), default=0) > 0xFFFF:
        a16, b16 = a.encode("utf-16-be"), b.encode("utf-16-be")
        return -1 if a16 < b16 else 1
    return -1 if a < b else 1


def _strings(test: Callable[[int], bool]) -> Callable[[Any, Any], bool]:
    return lambda v, o: isinstance(v, str) and isinstance(o, str) and test(_java_order(v, o))


def _numbers(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    return lambda v, o: _is_number(v) and _is_number(o) and test(v, o)


def _timestamps(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(value: Any, operand: Any) -> bool:
        left, right = parse_timestamp(value), parse_timestamp(operand)
        return left is not None and right is not None and test(left, right)

    return compare


def _string_matches(value: Any, pattern: Any) -> bool:
    return isinstance(value, str) and isinstance(pattern, str) and _glob(pattern).match(value) is not None


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    """StringMatches: ``*`` is any run of characters; ``\\*`` and ``\\\\`` are literal."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if char == "*" else re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _type_test(test: Callable[[Any], bool]) -> Callable[[Any, Any], bool]:
    return lambda v, expected: isinstance(expected, bool) and test(v) is expected


COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "StringEquals": _strings(lambda c: c == 0),
    "StringLessThan": _strings(lambda c: c < 0),
    "StringGreaterThan": _strings(lambda c: c > 0),
    "StringLessThanEquals": _strings(lambda c: c <= 0),
    "StringGreaterThanEquals": _strings(lambda c: c >= 0),
    "StringMatches": _string_matches,
    "NumericEquals": _numbers(lambda a, b: a == b),
    "NumericLessThan": _numbers(lambda a, b: a < b),
    "NumericGreaterThan": _numbers(lambda a, b: a > b),
    "NumericLessThanEquals": _numbers(lambda a, b: a <= b),
    "NumericGreaterThanEquals": _numbers(lambda a, b: a >= b),
    "BooleanEquals": lambda v, o: isinstance(v, bool) and isinstance(o, bool) and v is o,
    "TimestampEquals": _timestamps(lambda a, b: a == b),
    "TimestampLessThan": _timestamps(lambda a, b: a < b),
    "TimestampGreaterThan": _timestamps(lambda a, b: a > b),
    "TimestampLessThanEquals": _timestamps(lambda a, b: a <= b),
    "TimestampGreaterThanEquals": _timestamps(lambda a, b: a >= b),
    "IsNull": _type_test(lambda v: v is None),
    "IsNumeric": _type_test(_is_number),
    "IsString": _type_test(lambda v: isinstance(v, str)),
    "IsBoolean": _type_test(lambda v: isinstance(v, bool)),
    "IsTimestamp": _type_test(lambda v: parse_timestamp(v) is not None),
}

# Operators whose operand may be given as a reference path instead ("NumericEqualsPath", ...).
PATH_OPERATORS = frozenset(
    name
    for name in COMPARATORS
    if name.startswith(("String", "Numeric", "Boolean", "Timestamp")) and name != "StringMatches"
)

# The operand type each literal operator requires, for the validator.
OPERAND_TYPES: dict[str, type | tuple[type, ...]] = {
    **{name: str for name in COMPARATORS if name.startswith("String")},
    **{name: (int, float) for name in COMPARATORS if name.startswith("Numeric")},
    **{name: str for name in COMPARATORS if name.startswith("Timestamp")},
    "BooleanEquals": bool,
    **{name: bool for name in COMPARATORS if name.startswith("Is")},
}


def evaluate(rule: Rule, read: Callable[[str], tuple[bool, Any]]) -> bool:
    """Whether ``rule`` holds. ``read(path)`` returns (found, value) for a path on the input.

    A missing ``Variable`` is an error for every operator but IsPresent; the caller's ``read``
    decides how to raise it by being called through `read_required`.
    """
    if isinstance(rule, BooleanRule):
        if rule.operator == "And":
            return all(evaluate(r, read) for r in rule.rules)
        if rule.operator == "Or":
            return any(evaluate(r, read) for r in rule.rules)
        return not evaluate(rule.rules[0], read)
    return _evaluate_test(rule, read)


def _evaluate_test(test: DataTest, read: Callable[[str], tuple[bool, Any]]) -> bool:
    found, value = read(test.variable)
    if test.operator == "IsPresent":
        return found is test.operand
    if not found:
        raise MissingVariable(test.variable)
    operand = test.operand
    if test.operand_is_path:
        found_operand, operand = read(operand)
        if not found_operand:
            raise MissingVariable(test.operand)
    return COMPARATORS[test.operator](value, operand)


class MissingVariable(LookupError):
    """A Choice rule's path selects nothing; the engine turns it into States.Runtime."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path
