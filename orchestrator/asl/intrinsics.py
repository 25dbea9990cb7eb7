"""The intrinsic functions of the States Language (JSONPath states only).

An intrinsic is the value of a ``.$`` key such as ``States.Format('Hi {}', $.name)``. This module
parses that text once into a `Call` tree (`parse`, cached), reports what is wrong with it for the
definition validator (`check`), and evaluates a tree against the running state (`evaluate`).

Argument grammar: single-quoted strings (escapes ``\\'``, ``\\{``, ``\\}``, ``\\\\``; any other backslash
is an error), numbers (Python ``int`` unless written with a fraction or exponent), ``null``, ``true``,
``false``, paths starting with ``$`` (``$.x``, ``$$.Execution.Id``, ``$var.x``) and nested
``States.X(...)`` calls; at most 10 calls in one field.

Evaluation reads nothing by itself: path arguments are read through the engine's ``resolve``, and
randomness (States.UUID, unseeded States.MathRandom) comes from the engine's seeded ``rng``, so the
layer is pure. Every evaluation failure raises ``StatesError("States.IntrinsicFailure", cause)``.

AWS behaviours reproduced here (from the recorded conformance cases and AWS's own snapshots):

- States.Format renders strings raw, ``null``/``true``/``false`` as words, and objects and arrays the
  way Java prints maps and lists: ``{Arg1=1, Arg2=[]}``, ``[a, b]``.
- States.JsonToString writes compact JSON (no spaces): ``{"Arg1":1,"Arg2":[]}``.
- States.StringSplit splits on *each character* of the delimiter and drops empty pieces
  (``"This.is+a,test=string"`` split on ``".+,="`` gives five words; ``", , ,"`` on ``","`` gives two).
- States.MathAdd (and every other integer argument) rounds a non-integer half up, like Java's
  ``Math.round``: 2.5 -> 3, -2.5 -> -2, -1.51 -> -2.
- States.StringToJson of an empty or blank string is ``null``.
- States.JsonMerge is shallow (keys of the second object win, nested objects are replaced); AWS only
  supports shallow merging, so ``true`` for the deep flag fails with States.IntrinsicFailure.
- A backslash before anything but ``' { } \\`` in a string literal is rejected (AWS rejects
  ``'He said \\"hi\\"'``).

Choices no recorded AWS result settles (kept simple and documented here): States.MathRandom includes
both bounds; States.Base64Encode writes one line (no MIME line breaks); States.Hash of a non-string
hashes its compact JSON text; a Format template read at run time (from a path or a call) has no escape
sequences; ArrayContains/ArrayUnique treat 1 and 1.0 as equal but never true and 1.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import math
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn

from orchestrator.asl.errors import INTRINSIC_FAILURE, StatesError
from orchestrator.asl.json_values import finite_float, json_type

MAX_CALLS_PER_FIELD = 10  # "You can nest up to 10 intrinsic functions within a field" (AWS docs)
MAX_INPUT_CHARS = 10_000  # Base64Encode, Base64Decode and Hash inputs
MAX_RANGE_ITEMS = 1000  # States.ArrayRange


class IntrinsicSyntaxError(ValueError):
    """Text that is not a valid intrinsic function call; the message says what and where."""

    def __init__(self, text: str, position: int, problem: str) -> None:
        super().__init__(f"Invalid intrinsic function call: {problem} at position {position} of {text}")
        self.text = text
        self.position = position
        self.problem = problem


@dataclass(frozen=True, slots=True)
class PathArg:
    """A path argument (``$.x``, ``$$.Execution.Id``, ``$var.x``), read through ``resolve``."""

    path: str


@dataclass(frozen=True, slots=True)
class Call:
    """One call, e.g. ``Call("States.MathAdd", (PathArg("$.i"), 1))``."""

    name: str
    args: tuple[Arg, ...]


Arg = str | int | float | bool | None | PathArg | Call


class _Template(str):
    """The literal first argument of States.Format: its text, plus the pieces between ``{}``.

    The pieces are worked out from the escaped source text, where ``\\{}`` is not a placeholder;
    the unescaped text alone could not tell them apart.
    """

    pieces: tuple[str, ...]

    def __new__(cls, text: str, pieces: tuple[str, ...] = ()) -> _Template:
        self = super().__new__(cls, text)
        self.pieces = pieces
        return self

    def __getnewargs__(self) -> tuple[str, tuple[str, ...]]:  # type: ignore[override]
        return (str(self), self.pieces)


# ---------------------------------------------------------------------------------------------------
# Parsing

# Fixed arities (min, max); None = any number.
_ARITY: dict[str, tuple[int, int | None]] = {
    "States.Format": (1, None),
    "States.StringToJson": (1, 1),
    "States.JsonToString": (1, 1),
    "States.Array": (0, None),
    "States.ArrayPartition": (2, 2),
    "States.ArrayContains": (2, 2),
    "States.ArrayRange": (3, 3),
    "States.ArrayGetItem": (2, 2),
    "States.ArrayLength": (1, 1),
    "States.ArrayUnique": (1, 1),
    "States.Base64Encode": (1, 1),
    "States.Base64Decode": (1, 1),
    "States.Hash": (2, 2),
    "States.JsonMerge": (3, 3),
    "States.MathRandom": (2, 3),
    "States.MathAdd": (2, 2),
    "States.StringSplit": (2, 2),
    "States.UUID": (0, 0),
}
FUNCTION_NAMES = frozenset(_ARITY)

_LOOKS_LIKE = re.compile(r"\s*States\.[A-Za-z0-9_.]+\s*\(")
_NAME = re.compile(r"States\.[A-Za-z0-9_.]+")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_KEYWORD = re.compile(r"(null|true|false)(?![A-Za-z0-9_.$])")
_KEYWORDS: dict[str, Any] = {"null": None, "true": True, "false": False}
_ESCAPABLE = "'{}\\"
_WHITESPACE = " \t\r\n"


def looks_like_intrinsic(text: str) -> bool:
    """Whether ``text`` is meant as an intrinsic call: ``States.<name>(`` at its start."""
    return _LOOKS_LIKE.match(text) is not None


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> Call:
    """Parse an intrinsic call; raises `IntrinsicSyntaxError` (bad syntax, unknown function, wrong
    number of arguments, more than 10 calls in the field)."""
    return _Parser(text).parse()


def check(text: str) -> str | None:
    """None if ``text`` is a valid intrinsic call, else a readable message saying what is wrong."""
    try:
        parse(text)
    except IntrinsicSyntaxError as exc:
        return str(exc)
    return None


class _Parser:
    """A recursive-descent parser over one intrinsic text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.calls = 0

    def parse(self) -> Call:
        self._skip_space()
        call = self._call()
        self._skip_space()
        if self.pos != len(self.text):
            self._fail(f"unexpected {self.text[self.pos]!r} after the end of the call")
        if self.calls > MAX_CALLS_PER_FIELD:
            self._fail(
                f"a field may use at most {MAX_CALLS_PER_FIELD} intrinsic functions, this one uses {self.calls}",
                0,
            )
        return call

    def _fail(self, problem: str, position: int | None = None) -> NoReturn:
        raise IntrinsicSyntaxError(self.text, self.pos if position is None else position, problem)

    def _skip_space(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in _WHITESPACE:
            pos += 1
        self.pos = pos

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _call(self) -> Call:
        start = self.pos
        match = _NAME.match(self.text, start)
        if match is None:
            self._fail("expected an intrinsic function such as States.Format(...)")
        name = match.group()
        if name not in _ARITY:
            self._fail(f"unknown intrinsic function {name!r}", start)
        self.calls += 1
        self.pos = match.end()
        self._skip_space()
        if self._peek() != "(":
            self._fail(f"expected '(' after {name}")
        self.pos += 1
        args = self._arguments(name)
        self._check_arity(name, len(args), start)
        return Call(name, tuple(args))

    def _arguments(self, name: str) -> list[Arg]:
        args: list[Arg] = []
        self._skip_space()
        if self._peek() == ")":
            self.pos += 1
            return args
        while True:
            self._skip_space()
            args.append(self._argument(as_template=name == "States.Format" and not args))
            self._skip_space()
            char = self._peek()
            self.pos += 1
            if char == ")":
                return args
            if char != ",":
                self.pos -= 1
                self._fail("expected ',' or ')'" if char else f"missing ')' to close {name}(")

    def _check_arity(self, name: str, count: int, start: int) -> None:
        low, high = _ARITY[name]
        if low <= count and (high is None or count <= high):
            return
        if high is None:
            wanted = f"at least {low} argument{'s' if low != 1 else ''}"
        elif low == high:
            wanted = f"{low} argument{'s' if low != 1 else ''}"
        else:
            wanted = f"{low} to {high} arguments"
        self._fail(f"{name} takes {wanted}, got {count}", start)

    def _argument(self, *, as_template: bool) -> Arg:
        char = self._peek()
        if char == "'":
            return self._string_literal(as_template=as_template)
        if char == "$":
            return self._path()
        if char == "S" and self.text.startswith("States.", self.pos):
            return self._call()
        number = _NUMBER.match(self.text, self.pos)
        if number is not None:
            self.pos = number.end()
            text = number.group()
            return float(text) if number.group(1) or number.group(2) else int(text)
        keyword = _KEYWORD.match(self.text, self.pos)
        if keyword is not None:
            self.pos = keyword.end()
            return _KEYWORDS[keyword.group(1)]
        if not char:
            self._fail("unexpected end of text, expected an argument")
        self._fail(
            f"unexpected {char!r}; an argument is a 'string', a number, null, true, false, "
            "a path ($...) or an intrinsic function"
        )

    def _string_literal(self, *, as_template: bool) -> str:
        text, start = self.text, self.pos
        self.pos += 1
        chars: list[str] = []
        while True:
            if self.pos >= len(text):
                self._fail("unterminated string literal", start)
            char = text[self.pos]
            if char == "'":
                break
            if char == "\\":
                escaped = text[self.pos + 1 : self.pos + 2]
                if escaped == "" or escaped not in _ESCAPABLE:
                    sequence = "\\" + escaped
                    self._fail(
                        f"invalid escape sequence {sequence} in a string literal "
                        "(only \\', \\{, \\} and \\\\ are allowed)"
                    )
                chars.append(escaped)
                self.pos += 2
                continue
            chars.append(char)
            self.pos += 1
        raw = text[start + 1 : self.pos]
        self.pos += 1
        value = "".join(chars)
        return _Template(value, _template_pieces(raw)) if as_template else value

    def _path(self) -> PathArg:
        # A path runs to the next top-level ',' or ')' (or blank); brackets, parentheses (filters)
        # and quoted names inside brackets may hold any of those.
        text, start = self.text, self.pos
        open_brackets: list[str] = []
        quote = ""
        pos = start
        while pos < len(text):
            char = text[pos]
            if quote:
                if char == "\\":
                    pos += 2
                    continue
                if char == quote:
                    quote = ""
            elif char in "'\"" and open_brackets:
                quote = char
            elif char in "[(":
                open_brackets.append("]" if char == "[" else ")")
            elif char in "])":
                if not open_brackets:
                    break
                if open_brackets.pop() != char:
                    self._fail(f"unbalanced {char!r} in a path", pos)
            elif not open_brackets and (char == "," or char in _WHITESPACE):
                break
            pos += 1
        if quote or open_brackets:
            self._fail("unterminated path", start)
        self.pos = pos
        return PathArg(text[start:pos])


def _template_pieces(raw: str) -> tuple[str, ...]:
    """Split the escaped text of a Format literal at its unescaped ``{}`` placeholders."""
    pieces: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char == "\\":
            current.append(raw[i + 1])
            i += 2
        elif char == "{" and raw[i + 1 : i + 2] == "}":
            pieces.append("".join(current))
            current = []
            i += 2
        else:
            current.append(char)
            i += 1
    pieces.append("".join(current))
    return tuple(pieces)


# ---------------------------------------------------------------------------------------------------
# Evaluation


def evaluate(call: Call, resolve: Callable[[str], Any], rng: random.Random) -> Any:
    """Evaluate ``call``; path arguments are read with ``resolve`` (its errors propagate).

    Raises ``StatesError("States.IntrinsicFailure", cause)`` when a function cannot be applied to
    its arguments. The result may share nested values with what ``resolve`` returned.
    """
    values = [_value(arg, resolve, rng) for arg in call.args]
    return _FUNCTIONS[call.name](values, rng)


def _value(arg: Arg, resolve: Callable[[str], Any], rng: random.Random) -> Any:
    if isinstance(arg, PathArg):
        return resolve(arg.path)
    if isinstance(arg, Call):
        return evaluate(arg, resolve, rng)
    return arg


def _fail(function: str, detail: str) -> NoReturn:
    raise StatesError(INTRINSIC_FAILURE, f"{function}: {detail}")


def _ordinal(index: int) -> str:
    return ("first", "second", "third")[index] if index < 3 else f"argument {index + 1}"


def _string_arg(function: str, args: list[Any], index: int) -> str:
    value = args[index]
    if not isinstance(value, str):
        _fail(function, f"the {_ordinal(index)} argument must be a string, got {json_type(value)}")
    return value


def _array_arg(function: str, args: list[Any], index: int) -> list[Any]:
    value = args[index]
    if not isinstance(value, list):
        _fail(function, f"the {_ordinal(index)} argument must be an array, got {json_type(value)}")
    return value


def _object_arg(function: str, args: list[Any], index: int) -> dict[str, Any]:
    value = args[index]
    if not isinstance(value, dict):
        _fail(function, f"the {_ordinal(index)} argument must be an object, got {json_type(value)}")
    return value


def _integer_arg(function: str, args: list[Any], index: int) -> int:
    """An integer argument; a non-integer number is rounded half up, as AWS does (Java Math.round)."""
    value = args[index]
    if type(value) is int:
        return value
    if type(value) is float and math.isfinite(value):
        return _java_round(value)
    _fail(function, f"the {_ordinal(index)} argument must be an integer, got {json_type(value)}")


def _java_round(value: float) -> int:
    # floor(x + 0.5) without the float error of the addition (0.49999999999999994 must give 0).
    floor = math.floor(value)
    return floor + 1 if value - floor >= 0.5 else floor


def _limited(function: str, text: str) -> str:
    if len(text) > MAX_INPUT_CHARS:
        _fail(function, f"the input is {len(text)} characters long; the limit is {MAX_INPUT_CHARS}")
    return text


# --- rendering -------------------------------------------------------------------------------------

_JSON_ESCAPES = {code: f"\\u{code:04X}" for code in range(0x20)} | {
    ord('"'): '\\"',
    ord("\\"): "\\\\",
    ord("\b"): "\\b",
    ord("\t"): "\\t",
    ord("\n"): "\\n",
    ord("\f"): "\\f",
    ord("\r"): "\\r",
}


def json_text(value: Any) -> str:
    """Compact JSON text as AWS (Jackson) writes it: no spaces, non-ASCII kept, Java doubles."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return '"' + value.translate(_JSON_ESCAPES) + '"'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, list):
        return "[" + ",".join(map(json_text, value)) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(json_text(str(k)) + ":" + json_text(v) for k, v in value.items()) + "}"
    raise TypeError(f"not a JSON value: {value!r}")


def format_text(value: Any) -> str:
    """A value as States.Format prints it: strings raw, containers as Java prints maps and lists."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(format_text, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={format_text(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"not a JSON value: {value!r}")


def java_double(value: float) -> str:
    """A float as Java's Double.toString prints it: ``1.0``, ``0.001``, ``1.0E7``, ``1.0E-4``."""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    assert isinstance(exponent, int)
    # Position of the first significant digit: value = 0.d1d2... * 10**(point + 1)
    point = len("".join(map(str, digit_tuple))) + exponent - 1
    prefix = "-" if sign else ""
    if -3 <= point < 7:
        if point >= 0:
            whole = digits[: point + 1].ljust(point + 1, "0")
            fraction = digits[point + 1 :] or "0"
            return f"{prefix}{whole}.{fraction}"
        return f"{prefix}0.{'0' * (-point - 1)}{digits}"
    return f"{prefix}{digits[0]}.{digits[1:] or '0'}E{point}"


def _identity(value: Any) -> Any:
    """A hashable stand-in for a JSON value with JSON equality: 1 == 1.0, true != 1, key order ignored."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, list):
        return ("array", tuple(map(_identity, value)))
    if isinstance(value, dict):
        return ("object", frozenset((k, _identity(v)) for k, v in value.items()))
    return value


# --- the functions ---------------------------------------------------------------------------------
# Each takes the evaluated argument values (their number is checked by the parser) and the rng.


def _format(args: list[Any], rng: random.Random) -> str:
    template = _string_arg("States.Format", args, 0)
    # A runtime template (from a path or a call) is data, not source text: no escapes apply to it.
    pieces = template.pieces if isinstance(template, _Template) else tuple(template.split("{}"))
    values = args[1:]
    if len(pieces) - 1 != len(values):
        _fail(
            "States.Format",
            f"the template has {len(pieces) - 1} placeholder(s) but {len(values)} value(s) were given",
        )
    out = [pieces[0]]
    for value, piece in zip(values, pieces[1:], strict=True):
        out.append(format_text(value))
        out.append(piece)
    return "".join(out)


def _string_to_json(args: list[Any], rng: random.Random) -> Any:
    text = _string_arg("States.StringToJson", args, 0).strip(_WHITESPACE)
    if not text:
        return None  # AWS: "" -> null
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=finite_float)
    except ValueError as exc:
        _fail("States.StringToJson", f"the argument is not valid JSON text ({exc})")


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON value")


def _json_to_string(args: list[Any], rng: random.Random) -> str:
    return json_text(args[0])


def _array_of(args: list[Any], rng: random.Random) -> list[Any]:
    return list(args)


def _array_partition(args: list[Any], rng: random.Random) -> list[list[Any]]:
    items = _array_arg("States.ArrayPartition", args, 0)
    size = _integer_arg("States.ArrayPartition", args, 1)
    if size <= 0:
        _fail("States.ArrayPartition", f"the chunk size must be a positive integer, got {size}")
    return [items[i : i + size] for i in range(0, len(items), size)]


def _array_contains(args: list[Any], rng: random.Random) -> bool:
    items = _array_arg("States.ArrayContains", args, 0)
    wanted = _identity(args[1])
    return any(_identity(item) == wanted for item in items)


def _array_range(args: list[Any], rng: random.Random) -> list[int]:
    start = _integer_arg("States.ArrayRange", args, 0)
    end = _integer_arg("States.ArrayRange", args, 1)
    step = _integer_arg("States.ArrayRange", args, 2)
    if step == 0:
        _fail("States.ArrayRange", "the step must not be 0")
    count = max(0, (end - start) // step + 1)
    if count > MAX_RANGE_ITEMS:
        _fail("States.ArrayRange", f"the range has {count} items; the limit is {MAX_RANGE_ITEMS}")
    return list(range(start, start + count * step, step))


def _array_get_item(args: list[Any], rng: random.Random) -> Any:
    items = _array_arg("States.ArrayGetItem", args, 0)
    index = _integer_arg("States.ArrayGetItem", args, 1)
    if not 0 <= index < len(items):
        _fail("States.ArrayGetItem", f"index {index} is out of bounds for an array of {len(items)} item(s)")
    return items[index]


def _array_length(args: list[Any], rng: random.Random) -> int:
    return len(_array_arg("States.ArrayLength", args, 0))


def _array_unique(args: list[Any], rng: random.Random) -> list[Any]:
    seen: set[Any] = set()
    unique = []
    for item in _array_arg("States.ArrayUnique", args, 0):
        key = _identity(item)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _base64_encode(args: list[Any], rng: random.Random) -> str:
    text = _limited("States.Base64Encode", _string_arg("States.Base64Encode", args, 0))
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]")


def _base64_decode(args: list[Any], rng: random.Random) -> str:
    text = _limited("States.Base64Decode", _string_arg("States.Base64Decode", args, 0))
    # MIME decoding skips characters outside the alphabet (line breaks); padding is optional.
    body = _NOT_BASE64.sub("", text).rstrip("=")
    if "=" in body or len(body) % 4 == 1:
        _fail("States.Base64Decode", "the argument is not valid Base64")
    try:
        data = base64.b64decode(body + "=" * (-len(body) % 4))
    except binascii.Error as exc:
        _fail("States.Base64Decode", f"the argument is not valid Base64 ({exc})")
    return data.decode("utf-8", errors="replace")


_HASH_ALGORITHMS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def _hash(args: list[Any], rng: random.Random) -> str:
    data = args[0]
    text = _limited("States.Hash", data if isinstance(data, str) else json_text(data))
    algorithm = _string_arg("States.Hash", args, 1)
    if algorithm not in _HASH_ALGORITHMS:
        _fail(
            "States.Hash",
            f"unsupported algorithm {algorithm!r}; use one of {', '.join(_HASH_ALGORITHMS)}",
        )
    return hashlib.new(_HASH_ALGORITHMS[algorithm], text.encode("utf-8")).hexdigest()


def _json_merge(args: list[Any], rng: random.Random) -> dict[str, Any]:
    first = _object_arg("States.JsonMerge", args, 0)
    second = _object_arg("States.JsonMerge", args, 1)
    deep = args[2]
    if not isinstance(deep, bool):
        _fail("States.JsonMerge", f"the deep-merge flag must be a boolean, got {json_type(deep)}")
    if deep:
        _fail("States.JsonMerge", "only shallow merging is supported; the third argument must be false")
    return {**first, **second}


def _math_random(args: list[Any], rng: random.Random) -> int:
    start = _integer_arg("States.MathRandom", args, 0)
    end = _integer_arg("States.MathRandom", args, 1)
    if start > end:
        _fail("States.MathRandom", f"the start ({start}) must not be greater than the end ({end})")
    source = random.Random(_integer_arg("States.MathRandom", args, 2)) if len(args) == 3 else rng
    return source.randint(start, end)


def _math_add(args: list[Any], rng: random.Random) -> int:
    return _integer_arg("States.MathAdd", args, 0) + _integer_arg("States.MathAdd", args, 1)


def _string_split(args: list[Any], rng: random.Random) -> list[str]:
    text = _string_arg("States.StringSplit", args, 0)
    delimiters = _string_arg("States.StringSplit", args, 1)
    if not delimiters:
        return [text] if text else []
    if len(delimiters) > 1:
        # Every character of the delimiter splits (like Java's StringTokenizer).
        text = text.translate(_same_delimiter(delimiters))
    return [piece for piece in text.split(delimiters[0]) if piece]


@functools.lru_cache(maxsize=256)
def _same_delimiter(delimiters: str) -> dict[int, str]:
    return {ord(char): delimiters[0] for char in delimiters}


def _uuid(args: list[Any], rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


_FUNCTIONS: dict[str, Callable[[list[Any], random.Random], Any]] = {
    "States.Format": _format,
    "States.StringToJson": _string_to_json,
    "States.JsonToString": _json_to_string,
    "States.Array": _array_of,
    "States.ArrayPartition": _array_partition,
    "States.ArrayContains": _array_contains,
    "States.ArrayRange": _array_range,
    "States.ArrayGetItem": _array_get_item,
    "States.ArrayLength": _array_length,
    "States.ArrayUnique": _array_unique,
    "States.Base64Encode": _base64_encode,
    "States.Base64Decode": _base64_decode,
    "States.Hash": _hash,
    "States.JsonMerge": _json_merge,
    "States.MathRandom": _math_random,
    "States.MathAdd": _math_add,
    "States.StringSplit": _string_split,
    "States.UUID": _uuid,
}
assert set(_FUNCTIONS) == set(_ARITY)
