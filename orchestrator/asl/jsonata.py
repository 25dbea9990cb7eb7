"""Step Functions' JSONata query language, evaluated with the ``jsonatapy`` library.

This module holds:

* recognising ``"{% expr %}"`` strings (:func:`is_expression`, :func:`expression_body`) and
  checking that an expression compiles under the rules of JSONata 2.0.6, AWS's version
  (:func:`check`);
* evaluating one expression with ``$states`` and the workflow variables bound (:func:`evaluate`),
  keeping JSONata's *undefined* (:data:`UNDEFINED`) apart from JSON ``null``;
* the six functions Step Functions adds: ``$partition``, ``$range``, ``$hash``, ``$random``,
  ``$uuid`` and ``$parse``;
* walking a JSON template (``Arguments``, ``Output``, ``Assign``, ``Items``, ...) and turning a
  failure into ``States.QueryEvaluationError`` with AWS's wording (:func:`resolve_template`).

**Compatibility with 2.0.6.** jsonatapy follows jsonata-js 2.2 (see
``/work/shared/reference/jsonata.md``). The differences handled here:

* ``?:`` and ``??`` arrived in 2.1. AWS rejects them with S0211, so we do too, before compiling:
  a token scan that skips strings, regexes, comments, back-quoted names and lambda signatures
  (where ``<s?:s>`` marks an optional parameter and the return type).
* ``$encodeUrl`` is replaced by an equivalent of JavaScript's ``encodeURI``, because jsonatapy's
  leaves spaces unencoded.
* ``$eval`` is removed (calling it is T1006). AWS's guidance is to use ``$parse`` instead, and a
  third-party emulator's notes report the T1006 on AWS; no recorded case shows it.
* Error messages: AWS prints ``<CODE>: <jsonata-js message>``. jsonatapy's wording differs, so the
  message is rebuilt from the code where a recorded case shows AWS's text (:data:`_JS_MESSAGES`).

**How the added functions are bound.** A jsonatapy host function cannot return *undefined*, but
several of AWS's functions do (``$range`` with a step that points away from the end, for one).
So each Python function answers ``{"v": value}``, or ``{}`` for undefined, under a private name,
and the expression is wrapped in a block that binds the public name to a JSONata lambda which
unpacks it: ``($range := function($start, $end, $step){ $lookup($__sfn_range(...), 'v') }; body)``.
The block also shadows the built-ins ``$random``, ``$encodeUrl`` and ``$eval``. Only the names an
expression mentions are bound, and a workflow variable of the same name wins, as bindings win over
registered functions in jsonata-js.

Compiled expressions are cached per body (and per set of wrapped names).
"""

from __future__ import annotations

import contextvars
import enum
import functools
import hashlib
import json
import math
import random
import re
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import jsonatapy

from orchestrator.asl.errors import QUERY_EVALUATION_ERROR, FieldError
from orchestrator.asl.json_values import json_type

__all__ = [
    "EVALUATION_TIMEOUT_MS",
    "UNDEFINED",
    "JsonataEvaluationError",
    "JsonataSyntaxError",
    "check",
    "evaluate",
    "expression_body",
    "is_expression",
    "resolve_template",
    "unexpected_type_detail",
]

# An expression is user input; a non-terminating one must not hold a worker forever.
EVALUATION_TIMEOUT_MS = 5000


class _Undefined(enum.Enum):
    UNDEFINED = "UNDEFINED"

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = _Undefined.UNDEFINED
"""JSONata's *undefined* (an expression that selects nothing); JSON ``null`` is ``None``."""


class _CodedError(ValueError):
    """A JSONata error: a code such as ``T1006`` (empty when there is none) and its message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.message = message


class JsonataSyntaxError(_CodedError):
    """An expression that does not compile under JSONata 2.0.6's rules, e.g. code ``S0211``."""


class JsonataEvaluationError(_CodedError):
    """An expression that failed while it ran, e.g. code ``T1006``."""


# --- recognising and checking expressions -----------------------------------------------------


def is_expression(value: Any) -> bool:
    """Whether ``value`` is a JSONata expression string: ``{%`` first and ``%}`` last, nothing
    outside them (AWS treats ``" {% x %} "`` as a literal)."""
    return isinstance(value, str) and len(value) >= 4 and value.startswith("{%") and value.endswith("%}")


def expression_body(value: str) -> str:
    """The expression between ``{%`` and ``%}``, stripped; AWS quotes it this way in causes."""
    return value[2:-2].strip()


def check(body: str) -> str | None:
    """``None`` if ``body`` compiles under our 2.0.6 rules, else a readable ``CODE: message``."""
    try:
        _program(body)
    except JsonataSyntaxError as error:
        return str(error)
    return None


# The token scan for ``?:`` and ``??``. Symbols end a name; ``$`` is part of a variable's name.
_SYMBOLS = frozenset(".[]{}(),:;?+-*/%|=<>!&^~@#\"'`")
_OPERATOR_WORDS = frozenset({"and", "or", "in"})
_CLOSERS = frozenset(")]}")


def _newer_operator(body: str) -> str | None:
    """The second symbol of the first ``?:`` or ``??`` outside strings, regexes, comments and
    back-quoted names, or ``None``. Unterminated ones end the scan; compiling reports them."""
    position, length = 0, len(body)
    after_operand = False  # decides whether "/" divides or starts a regex, as JSONata's lexer does
    while position < length:
        char = body[position]
        if char.isspace():
            position += 1
        elif body.startswith("/*", position):
            position = _skip_past(body, "*/", position + 2)
        elif char in "\"'":
            position, after_operand = _skip_string(body, position), True
        elif char == "`":
            position, after_operand = _skip_past(body, "`", position + 1), True
        elif char == "/" and not after_operand:
            position, after_operand = _skip_regex(body, position), True
        elif char == "?" and body[position + 1 : position + 2] in ("?", ":"):
            return body[position + 1]
        elif char in "*%" and not after_operand:  # a wildcard, descendants or the parent: operands
            position += 2 if body.startswith("**", position) else 1
            after_operand = True
        elif char in _SYMBOLS:
            position += 1
            after_operand = char in _CLOSERS
        else:
            end = position + 1
            while end < length and not body[end].isspace() and body[end] not in _SYMBOLS:
                end += 1
            word = body[position:end]
            after_operand = word not in _OPERATOR_WORDS
            position = _skip_signature(body, end) if word in _LAMBDA_WORDS else end
    return None


# A lambda's signature, ``function($a, $b)<s?n:s>``, uses "?" for an optional parameter and ":" before
# the return type: neither is an operator there.
_LAMBDA_WORDS = frozenset({"function", "λ"})


def _skip_signature(body: str, start: int) -> int:
    """Past the parameters and the ``<...>`` signature of a lambda whose keyword ends at ``start``,
    or ``start`` if none follows. Like JSONata's parser, a signature ends at its matching ``>``."""
    position = _skip_spaces(body, start)
    if not body.startswith("(", position):
        return start
    position = _skip_spaces(body, _skip_past(body, ")", position + 1))
    if not body.startswith("<", position):
        return position
    depth = 0
    while position < len(body) and body[position] != "{":
        depth += {"<": 1, ">": -1}.get(body[position], 0)
        position += 1
        if depth == 0:
            break
    return position


def _skip_spaces(body: str, position: int) -> int:
    while position < len(body) and body[position].isspace():
        position += 1
    return position


def _skip_past(body: str, terminator: str, start: int) -> int:
    end = body.find(terminator, start)
    return len(body) if end < 0 else end + len(terminator)


def _skip_string(body: str, start: int) -> int:
    quote, position = body[start], start + 1
    while position < len(body):
        if body[position] == "\\":
            position += 2
        elif body[position] == quote:
            return position + 1
        else:
            position += 1
    return len(body)


def _skip_regex(body: str, start: int) -> int:
    """Past ``/pattern/flags``; a ``/`` inside brackets or after a backslash does not close it."""
    position, depth = start + 1, 0
    while position < len(body):
        char = body[position]
        if char == "\\":
            position += 2
            continue
        if char == "/" and depth == 0:
            position += 1
            while position < len(body) and body[position].isalpha():
                position += 1
            return position
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        position += 1
    return len(body)


# --- error text ---------------------------------------------------------------------------------

# jsonata-js 2.0.6's message for codes whose AWS text is recorded (jsonatapy words them otherwise):
# T1006 in conformance case test_math_random_seeded.
_JS_MESSAGES: Final = {"T1006": "Attempted to invoke a non-function"}

# jsonatapy's texts: "Parse error: S0207: ...", "T1006: ...: $f", "host function raised X: T0410: ...".
_ERROR_TEXT = re.compile(
    r"(?:Parse error: )?(?:Invalid syntax: )?(?:host function raised \w+: (?=[A-Z]\d{4}: ))?"
    r"(?:(?P<code>[A-Z]\d{4}): )?(?P<message>.*)",
    re.DOTALL,
)
# jsonatapy names the symbol in S0211 by its token kind ("Colon"); jsonata-js quotes the symbol.
_UNARY_SYMBOL = re.compile(r"The symbol (\w+) cannot be used as a unary operator")
_TOKEN_SYMBOLS: Final = {
    "Colon": ":", "Question": "?", "Comma": ",", "Semicolon": ";", "Dot": ".", "DotDot": "..",
    "RightParen": ")", "RightBracket": "]", "RightBrace": "}", "Plus": "+", "Star": "*",
    "Slash": "/", "Percent": "%", "Equal": "=", "NotEqual": "!=", "LessThan": "<",
    "LessThanOrEqual": "<=", "GreaterThan": ">", "GreaterThanOrEqual": ">=", "Ampersand": "&",
    "ColonEqual": ":=", "Tilde": "~", "Arrow": "~>", "Caret": "^", "At": "@", "Hash": "#",
    "Pipe": "|", "And": "and", "Or": "or", "In": "in",
}  # fmt: skip


def _coded(error: Exception) -> tuple[str, str]:
    """Split a jsonatapy error into (code, message), with jsonata-js's wording where known."""
    match = _ERROR_TEXT.fullmatch(str(error))
    assert match is not None  # the pattern matches any text
    code, message = match["code"] or "", match["message"]
    if code in _JS_MESSAGES:
        return code, _JS_MESSAGES[code]
    if code == "S0211":
        message = _UNARY_SYMBOL.sub(_quote_symbol, message)
    return code, message


def _quote_symbol(match: re.Match[str]) -> str:
    symbol = _TOKEN_SYMBOLS.get(match[1], match[1])
    return f"The symbol {json.dumps(symbol)} cannot be used as a unary operator"


# --- the functions Step Functions adds ----------------------------------------------------------


class _FunctionError(Exception):
    """Raised by our host functions; jsonatapy reports it as "host function raised ...: <str>"."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")


# Our code for a bad argument *value* to an AWS-added function; AWS's is not recorded.
_BAD_VALUE = "D3150"
# Past this many elements $range fails instead of building the array.
_MAX_RANGE_LENGTH: Final = 1_000_000
_I64 = 1 << 63

# The random generator of the evaluation in progress ($random, $uuid): the engine passes one per
# call so that replaying an execution draws the same values.
_RNG: contextvars.ContextVar[random.Random] = contextvars.ContextVar("jsonata_rng")


def _signature_error(function: str, index: int) -> _FunctionError:
    # jsonata-js's text for an argument that its function's signature refuses.
    return _FunctionError("T0410", f'Argument {index} of function "{function}" does not match function signature')


def _integer(value: Any, function: str, index: int) -> int:
    """A number argument, truncated towards zero (a third-party emulator reports AWS does so)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _signature_error(function, index)
    return int(value)


def _string(value: Any, function: str, index: int) -> str:
    if not isinstance(value, str):
        raise _signature_error(function, index)
    return value


def _partition(array: Any, size: Any) -> Any:
    """``$partition(array, size)``: consecutive chunks of ``size``, the last one shorter.

    A scalar counts as a one-element array (JSONata's ``a`` signature type). An empty array or a
    size below 1 gives undefined, as a third-party emulator reports of AWS (LocalStack's tests
    only note, untested, that AWS fails on an empty array; either way the field fails)."""
    if array is None or size is None:
        return UNDEFINED
    items = array if isinstance(array, list) else [array]
    chunk = _integer(size, "partition", 2)
    if not items or chunk < 1:
        return UNDEFINED
    return [items[start : start + chunk] for start in range(0, len(items), chunk)]


def _range(start: Any, end: Any, step: Any) -> Any:
    """``$range(start, end, step)``: from ``start`` to ``end`` inclusive, by ``step``.

    Recorded on AWS: ``$range(0, 9, 3)`` and ``$range(0, 10, 3)`` are ``[0, 3, 6, 9]``, and a
    one-element range is the bare number (``$range(1, 9, 9)`` is ``1``), as a JSONata sequence
    is. A missing or zero step, or one pointing away from ``end``, gives undefined."""
    if start is None or end is None or step is None:
        return UNDEFINED
    first, last, stride = _integer(start, "range", 1), _integer(end, "range", 2), _integer(step, "range", 3)
    if stride == 0 or (last - first) * stride < 0:
        return UNDEFINED
    count = (last - first) // stride + 1
    if count > _MAX_RANGE_LENGTH:
        raise _FunctionError(_BAD_VALUE, f"$range would hold {count} numbers; at most {_MAX_RANGE_LENGTH} are allowed")
    values = list(range(first, first + count * stride, stride))
    return values[0] if count == 1 else values


_HASH_ALGORITHMS: Final = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def _hash(data: Any, algorithm: Any) -> Any:
    """``$hash(data, algorithm)``: the lower-case hex digest of ``data`` encoded in UTF-8."""
    if data is None or algorithm is None:
        return UNDEFINED
    text, name = _string(data, "hash", 1), _string(algorithm, "hash", 2)
    if name not in _HASH_ALGORITHMS:
        supported = ", ".join(_HASH_ALGORITHMS)
        raise _FunctionError(
            _BAD_VALUE, f"The hash algorithm {json.dumps(name)} is not supported; use one of {supported}"
        )
    return hashlib.new(_HASH_ALGORITHMS[name], text.encode("utf-8")).hexdigest()


def _random(seed: Any) -> float:
    """``$random([seed])``: a number in [0, 1); the same for the same seed.

    Unseeded, it draws from the evaluation's generator. Seeded, it is the first ``nextDouble()``
    of ``java.util.Random(seed)``: AWS runs on the JVM, so that is our best guess at its values
    (none is recorded). A fractional seed is truncated, as Java's ``(long)`` cast does."""
    if seed is None:
        return _RNG.get().random()
    return _java_random_double(max(-_I64, min(_I64 - 1, _integer(seed, "random", 1))))


_JAVA_MULTIPLIER = 0x5DEECE66D
_JAVA_MASK = (1 << 48) - 1


def _java_random_double(seed: int) -> float:
    """``new java.util.Random(seed).nextDouble()``: a 48-bit linear congruential generator."""
    state = (seed ^ _JAVA_MULTIPLIER) & _JAVA_MASK
    state = (state * _JAVA_MULTIPLIER + 0xB) & _JAVA_MASK
    high = state >> (48 - 26)
    state = (state * _JAVA_MULTIPLIER + 0xB) & _JAVA_MASK
    low = state >> (48 - 27)
    return ((high << 27) + low) / (1 << 53)


def _uuid() -> str:
    """``$uuid()``: a version 4 UUID made from the evaluation's generator."""
    return str(uuid.UUID(int=_RNG.get().getrandbits(128), version=4))


def _parse(text: Any) -> Any:
    """``$parse(json)``: the value a JSON text denotes. Integers that fit a 64-bit long stay exact
    and larger ones become floats; ``NaN`` and ``Infinity`` are not JSON."""
    if text is None:
        return UNDEFINED
    source = _string(text, "parse", 1)
    try:
        value = json.loads(source, parse_int=_json_integer, parse_constant=_refuse_constant)
    except ValueError as error:
        raise _FunctionError(_BAD_VALUE, f"The argument of $parse is not valid JSON: {error}") from None
    # A \\u escape may denote an unpaired surrogate, which jsonatapy cannot take back.
    return _portable(value) if "\\u" in source else value


def _json_integer(digits: str) -> int | float:
    value = int(digits)
    return value if -_I64 <= value < _I64 else float(digits)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


# JavaScript's encodeURI leaves letters, digits and these unescaped (quote() always keeps "_.-~").
_ENCODE_URI_SAFE = ";,/?:@&=+$!*'()#"


def _encode_url(text: Any) -> Any:
    """``$encodeUrl(str)`` as jsonata-js has it: JavaScript's ``encodeURI``."""
    if text is None:
        return UNDEFINED
    return urllib.parse.quote(_string(text, "encodeUrl", 1), safe=_ENCODE_URI_SAFE, encoding="utf-8")


def _host(function: Callable[..., Any]) -> Callable[..., dict[str, Any]]:
    """Adapt a function for jsonatapy: ``{"v": result}``, or ``{}`` for undefined."""

    def call(*args: Any) -> dict[str, Any]:
        result = function(*args)
        return {} if result is UNDEFINED else {"v": result}

    return call


@dataclass(frozen=True, slots=True)
class _Binding:
    parameters: str  # the JSONata lambda's parameter list
    host: Callable[..., Any] | None  # None: the name is bound to undefined, so calling it is T1006


_BINDINGS: Final = {
    "partition": _Binding("$array, $size", _partition),
    "range": _Binding("$start, $end, $step", _range),
    "hash": _Binding("$data, $algorithm", _hash),
    "random": _Binding("$seed", _random),
    "uuid": _Binding("", _uuid),
    "parse": _Binding("$json", _parse),
    "encodeUrl": _Binding("$str", _encode_url),
    "eval": _Binding("", None),
}
_USES_RNG = frozenset({"random", "uuid"})


def _binding_text(name: str) -> str:
    binding = _BINDINGS[name]
    if binding.host is None:
        return f"${name} := ()"
    arguments = binding.parameters
    return f"${name} := function({arguments}){{ $lookup($__sfn_{name}({arguments}), 'v') }}"


# --- compiling ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Program:
    names: frozenset[str]  # the names of _BINDINGS the body mentions
    expression: Any  # jsonatapy.JsonataExpression with all of ``names`` bound


def _per_thread_cache(function: Any) -> Any:
    """Like lru_cache, but one cache per thread: a jsonatapy expression may only be used by the
    thread that compiled it (PyO3 "unsendable"; another thread's call panics)."""
    local = threading.local()

    @functools.wraps(function)
    def cached(*args: Any) -> Any:
        cache = getattr(local, "cache", None)
        if cache is None:
            cache = local.cache = {}
        try:
            return cache[args]
        except KeyError:
            if len(cache) >= 4096:
                cache.clear()
            value = cache[args] = function(*args)
            return value

    return cached


@_per_thread_cache
def _program(body: str) -> _Program:
    """Check ``body`` against the 2.0.6 rules and compile it; raises JsonataSyntaxError."""
    symbol = _newer_operator(body)
    if symbol is not None:
        raise JsonataSyntaxError("S0211", f"The symbol {json.dumps(symbol)} cannot be used as a unary operator")
    try:
        plain = jsonatapy.compile(body)
    except ValueError as error:
        raise JsonataSyntaxError(*_coded(error)) from None
    # A name in a string or a longer name also matches; that only binds a lambda nobody calls.
    names = frozenset(name for name in _BINDINGS if f"${name}" in body)
    return _Program(names, _compile_bound(body, names) if names else plain)


@_per_thread_cache
def _bound(body: str, names: frozenset[str]) -> Any:
    """``body`` with only ``names`` bound (the others are workflow variables); rarely needed."""
    return _compile_bound(body, names)


def _compile_bound(body: str, names: frozenset[str]) -> Any:
    if not names:
        return jsonatapy.compile(body)
    prelude = "; ".join(_binding_text(name) for name in sorted(names))
    expression = jsonatapy.compile(f"({prelude};\n{body}\n)")
    for name in names:
        host = _BINDINGS[name].host
        if host is not None:
            expression.register(f"__sfn_{name}", _host(host))
    return expression


# --- evaluating -----------------------------------------------------------------------------------


def evaluate(body: str, *, states: dict, variables: Mapping[str, Any], rng: random.Random) -> Any:
    """Evaluate one expression; a JSON value (integers as ``int``) or :data:`UNDEFINED`.

    ``states`` is bound as ``$states`` and each workflow variable as ``$name``. Raises
    JsonataSyntaxError if ``body`` does not compile, JsonataEvaluationError if it fails."""
    program = _program(body)
    expression, names = program.expression, program.names
    if names:
        unshadowed = frozenset(name for name in names if name not in variables)
        if unshadowed != names:
            expression, names = _bound(body, unshadowed), unshadowed
    bindings = {**variables, "states": states}
    token = _RNG.set(rng) if names & _USES_RNG else None
    try:
        text = _run(expression, bindings)
    finally:
        if token is not None:
            _RNG.reset(token)
    return UNDEFINED if text is None else json.loads(text)


def _run(expression: Any, bindings: dict[str, Any]) -> str | None:
    try:
        try:
            return expression.evaluate_json_or_none(None, bindings, timeout=EVALUATION_TIMEOUT_MS)
        except (OverflowError, UnicodeEncodeError):
            # jsonatapy takes neither integers beyond 64 bits nor unpaired surrogates ("\\ud800" is
            # valid JSON); JavaScript holds the first as doubles, so convert, and replace the second.
            return expression.evaluate_json_or_none(None, _portable(bindings), timeout=EVALUATION_TIMEOUT_MS)
    except ValueError as error:
        raise JsonataEvaluationError(*_coded(error)) from None


def _portable(value: Any) -> Any:
    if isinstance(value, dict):
        return {_portable(key): _portable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_portable(item) for item in value]
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, int) and not isinstance(value, bool) and not -_I64 <= value < _I64:
        return float(value)
    return value


# --- templates ------------------------------------------------------------------------------------


def resolve_template(
    template: Any, *, field: str, states: dict, variables: Mapping[str, Any], rng: random.Random
) -> Any:
    """A copy of ``template`` with every ``{% %}`` string replaced by its value.

    ``field`` names the field for error causes; an object key extends it with ``/key`` (AWS
    writes ``Output/result``) and an array element with ``[index]`` (not recorded; a third-party
    emulator reports this form). An expression that fails or returns undefined, at any depth,
    raises FieldError(States.QueryEvaluationError, detail)."""
    if isinstance(template, str):
        if is_expression(template):
            return _resolve_expression(template, field, states, variables, rng)
        return template
    if isinstance(template, dict):
        return {
            key: resolve_template(value, field=f"{field}/{key}", states=states, variables=variables, rng=rng)
            for key, value in template.items()
        }
    if isinstance(template, list):
        return [
            resolve_template(item, field=f"{field}[{index}]", states=states, variables=variables, rng=rng)
            for index, item in enumerate(template)
        ]
    return template


def _resolve_expression(
    template: str, field: str, states: dict, variables: Mapping[str, Any], rng: random.Random
) -> Any:
    body = expression_body(template)
    try:
        value = evaluate(body, states=states, variables=variables, rng=rng)
    except _CodedError as error:
        detail = _detail(body, field, f"threw an error during evaluation. {error}")
        raise FieldError(QUERY_EVALUATION_ERROR, detail) from error
    if value is UNDEFINED:
        raise FieldError(QUERY_EVALUATION_ERROR, _detail(body, field, "returned nothing (undefined)."))
    return value


def _detail(body: str, field: str, outcome: str) -> str:
    return f"The JSONata expression '{body}' specified for the field '{field}' {outcome}"


def unexpected_type_detail(body: str, field: str, expected: str, value: Any) -> str:
    """AWS's detail for an expression whose value has the wrong JSON type, for the engine to raise
    (recorded for ``Items``): "The JSONata expression '1' specified for the field 'Items' returned
    an unexpected result type. Expected 'array', but was 'number' for value: 1"."""
    rendered = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    outcome = f"returned an unexpected result type. Expected '{expected}', but was '{json_type(value)}'"
    return _detail(body, field, f"{outcome} for value: {rendered}")
