"""AWS Step Functions' JSONPath dialect: Paths and Reference Paths as AWS evaluates them.

AWS evaluates JSONPath with Jayway JsonPath (Java). This module reproduces the parts of Jayway's
behaviour that show in Step Functions:

* **Definite paths** (only single names and single indexes, e.g. ``$.a[0]['b c']``) select one
  value or fail with Jayway's message (``PathNotFound.message``), which AWS quotes in its causes:

  ========================================  ================================================
  what went wrong                           message
  ========================================  ================================================
  the last name is missing, or an index     ``No results for path: $['a']['b']`` (the whole
  (anywhere) is out of range                path, rendered Jayway style)
  a name before the last is missing         ``Missing property in path $['a']`` (the path up
                                            to and including the first missing name)
  a name applied to a non-object            ``Expected to find an object with property ['b']
                                            in path $['a'] but found 'java.lang.String'. ...``
  an index applied to null / a non-array    ``The path $['a'] is null`` /
                                            ``Filter: [0] can only be applied to arrays. ...``
  ========================================  ================================================

  The first two rows are recorded AWS causes (conformance cases ``INVALID_JSONPATH_IN_OUTPUTPATH``
  and ``test_catch_states_runtime``); the others follow Jayway's source with its default
  JSON provider (json-smart), which no recorded case confirms.
* **Indefinite paths** (wildcards, slices, filters, deep scan, index unions, multi-name
  brackets that are not last) return the list of matches in document order and never fail:
  AWS returns ``[]`` for ``$.item.items[*]`` on ``{}`` (conformance cases
  ``test_json_path_array_wildcard_or_slice_with_no_input``).
* Jayway specifics kept: ``$['a','b']`` as the last segment is *definite* and returns an object
  holding the names that exist; a filter applied to an object tests the object itself; slices
  follow Jayway's three forms (``[a:]``, ``[:b]``, ``[a:b]``; a step is ignored); a backslash in
  a quoted bracket name is kept as written (conformance case ``ESCAPE_SEQUENCES_JSONPATH``).
  Names in dot notation run up to the next ``.`` or ``[``, so ``$.Jobs.sum()`` is a name that
  is not found, as AWS reported it (a public re:Post question); ``\\`` escapes the next
  character there (``$.foo\\@bar``).

Filter expressions (``[?(...)]``) are parsed and evaluated by ``jsonpath_ng.ext``; walking the
rest of the path is done here because jsonpath-ng follows RFC 9535, whose rules differ from
Jayway's on the points above. Parsed paths are cached, and definite paths of names and indexes
are read with a plain loop (the interpreter evaluates several paths per state transition).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonpath_ng import jsonpath as _jp
from jsonpath_ng.ext import filter as _jp_filter
from jsonpath_ng.ext import parse as _jp_ext_parse

__all__ = [
    "PathNotFound",
    "PathSyntaxError",
    "PathWriteError",
    "check_path",
    "check_reference_path",
    "is_definite",
    "read",
    "variable_reference",
    "write",
]

# The JSON provider Jayway names in "not a json object" messages; its default, unconfirmed for AWS.
_JSON_PROVIDER = "com.jayway.jsonpath.spi.json.JsonSmartJsonProvider"


class PathSyntaxError(ValueError):
    """A path that does not parse, e.g. ``Invalid JSONPath '$.a[': '[' is not closed``."""


class PathNotFound(LookupError):
    """A definite path that selects nothing; ``message`` is Jayway's text as AWS quotes it."""

    def __init__(self, path: str, normalized: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.normalized = normalized
        self.message = message


class PathWriteError(ValueError):
    """A Reference Path that cannot be applied to a document (ResultPath into a non-object)."""

    def __init__(self, path: str, step: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.step = step
        self.message = message


# --- parsed form -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Names:
    """``.a``, ``['a']`` or ``['a','b']``."""

    names: tuple[str, ...]
    quote: str = "'"

    def fragment(self) -> str:
        return "[" + ",".join(f"{self.quote}{name}{self.quote}" for name in self.names) + "]"


@dataclass(frozen=True, slots=True)
class _Indexes:
    """``[0]`` or ``[0,-1]``."""

    indexes: tuple[int, ...]

    def fragment(self) -> str:
        return "[" + ",".join(str(index) for index in self.indexes) + "]"


@dataclass(frozen=True, slots=True)
class _Slice:
    """``[a:]``, ``[:b]`` or ``[a:b]``."""

    start: int | None
    stop: int | None

    def fragment(self) -> str:
        start = "" if self.start is None else str(self.start)
        stop = "" if self.stop is None else str(self.stop)
        return f"[{start}:{stop}]"


@dataclass(frozen=True, slots=True)
class _Wildcard:
    """``.*`` or ``[*]``."""

    def fragment(self) -> str:
        return "[*]"


@dataclass(frozen=True, slots=True)
class _Scan:
    """``..``: the next segment applies to the node and to every node below it."""

    def fragment(self) -> str:
        return ".."


@dataclass(frozen=True, slots=True, eq=False)
class _Filter:
    """``[?(...)]``: jsonpath-ng expressions, all of which must match."""

    expressions: tuple[Any, ...]

    def fragment(self) -> str:
        return "[?]"


_Segment = _Names | _Indexes | _Slice | _Wildcard | _Scan | _Filter


@dataclass(frozen=True, slots=True)
class _Path:
    text: str
    variable: str | None  # "name" for "$name...", None for "$..." and "$$..."
    context: bool  # True for "$$..."
    segments: tuple[_Segment, ...]
    definite: bool
    steps: tuple[str | int, ...] | None  # set when definite and only single names / single indexes
    fast_steps: tuple[str | int, ...] | None  # steps, for a path on "$" (read's fast path)
    steps_have_index: bool
    normalized: str
    not_reference: str | None  # why this is not a Reference Path, or None if it is


# --- parsing -----------------------------------------------------------------------------------

# Characters that a Reference Path may not use unescaped in a dot-notation name (SPEC: no
# '@ , : ?' operators; '*' and '(' would be a wildcard and a function).
_REFERENCE_FORBIDDEN = frozenset("@,:?*(")


class _Parser:
    """Turns the text after the root into segments, the way Jayway's PathCompiler reads it."""

    def __init__(self, text: str, start: int) -> None:
        self.text = text
        self.pos = start
        self.not_reference: str | None = None

    def fail(self, problem: str) -> PathSyntaxError:
        return PathSyntaxError(f"Invalid JSONPath '{self.text}': {problem}")

    def note_not_reference(self, why: str) -> None:
        if self.not_reference is None:
            self.not_reference = why

    def parse(self) -> list[_Segment]:
        text, segments = self.text, []
        while self.pos < len(text):
            char = text[self.pos]
            if char == "[":
                segments.append(self.bracket())
            elif char == ".":
                segments.extend(self.dot())
            else:
                raise self.fail(f"unexpected character {char!r} at position {self.pos}")
        return segments

    def dot(self) -> list[_Segment]:
        text = self.text
        scan = text.startswith("..", self.pos)
        self.pos += 2 if scan else 1
        if self.pos >= len(text):
            raise self.fail("a path must not end with '.' or '..'")
        char = text[self.pos]
        head: list[_Segment] = [_Scan()] if scan else []
        if scan:
            self.note_not_reference("deep scan '..' selects many nodes")
        if char == ".":
            raise self.fail(f"unexpected '.' at position {self.pos}")
        if char == "[":  # Jayway reads "$.[0]" and "$..['a']" like "$[0]" and "$..['a']"
            return [*head, self.bracket()]
        if char == "*" and (self.pos + 1 == len(text) or text[self.pos + 1] in ".["):
            self.pos += 1
            self.note_not_reference("wildcard '*' selects many nodes")
            return [*head, _Wildcard()]
        return [*head, _Names((self.dot_name(),))]

    def dot_name(self) -> str:
        text, chars, start = self.text, [], self.pos
        while self.pos < len(text) and text[self.pos] not in ".[":
            char = text[self.pos]
            if char == " ":
                raise self.fail(f"a name with blanks needs brackets, ['a b'] (position {self.pos})")
            if char == "\\":
                self.pos += 1
                if self.pos == len(text):
                    raise self.fail("a path must not end with '\\'")
                char = text[self.pos]
            elif char in _REFERENCE_FORBIDDEN:
                self.note_not_reference(f"{char!r} is not allowed in a Reference Path (escape it with '\\')")
            chars.append(char)
            self.pos += 1
        if self.pos == start:
            raise self.fail(f"empty name at position {start}")
        return "".join(chars)

    def skip_blanks(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def expect_close(self) -> None:
        self.skip_blanks()
        if self.pos >= len(self.text) or self.text[self.pos] != "]":
            raise self.fail(f"expected ']' at position {self.pos}")
        self.pos += 1

    def bracket(self) -> _Segment:
        opened = self.pos
        self.pos += 1
        self.skip_blanks()
        if self.pos >= len(self.text):
            raise self.fail(f"'[' at position {opened} is not closed")
        char = self.text[self.pos]
        if char == "?":
            self.note_not_reference("a filter '[?(...)]' selects many nodes")
            return self.filter()
        if char == "*":
            self.pos += 1
            self.expect_close()
            self.note_not_reference("wildcard '[*]' selects many nodes")
            return _Wildcard()
        if char in "'\"":
            return self.quoted_names()
        return self.indexes_or_slice(opened)

    def quoted_names(self) -> _Names:
        quote, names = self.text[self.pos], []
        while True:
            names.append(self.quoted_string())
            self.skip_blanks()
            if self.pos < len(self.text) and self.text[self.pos] == ",":
                self.pos += 1
                self.skip_blanks()
                if self.pos >= len(self.text) or self.text[self.pos] not in "'\"":
                    raise self.fail(f"expected a quoted name at position {self.pos}")
                continue
            self.expect_close()
            if len(names) > 1:
                self.note_not_reference("a list of names selects many nodes")
            return _Names(tuple(names), quote)

    def quoted_string(self) -> str:
        # A backslash only keeps the next character from closing the string: AWS (an older
        # Jayway) looks the name up as written, backslash included (ESCAPE_SEQUENCES_JSONPATH).
        text, quote = self.text, self.text[self.pos]
        start = pos = self.pos + 1
        while pos < len(text):
            if text[pos] == "\\":
                pos += 2
                continue
            if text[pos] == quote:
                self.pos = pos + 1
                return text[start:pos]
            pos += 1
        raise self.fail(f"the string starting at position {start - 1} is not closed")

    def indexes_or_slice(self, opened: int) -> _Indexes | _Slice:
        close = self.text.find("]", self.pos)
        if close < 0:
            raise self.fail(f"'[' at position {opened} is not closed")
        content = self.text[self.pos : close]
        self.pos = close + 1
        if ":" in content:
            self.note_not_reference("a slice selects many nodes")
            # Jayway reads "from:to" and ignores anything after a second ':'.
            bounds = content.split(":")
            start, stop = self.optional_int(bounds[0]), self.optional_int(bounds[1])
            if start is None and stop is None:
                raise self.fail(f"the slice [{content}] needs a start or an end")
            return _Slice(start, stop)
        indexes = tuple(self.integer(part) for part in content.split(","))
        if len(indexes) > 1:
            self.note_not_reference("a list of indexes selects many nodes")
        return _Indexes(indexes)

    def integer(self, text: str) -> int:
        stripped = text.strip()
        digits = stripped[1:] if stripped[:1] == "-" else stripped
        if not digits.isascii() or not digits.isdigit():
            raise self.fail(f"expected an index, a slice, '*', a quoted name or a filter, not [{text}]")
        return int(stripped)

    def optional_int(self, text: str) -> int | None:
        return None if not text.strip() else self.integer(text)

    def filter(self) -> _Filter:
        self.pos += 1  # past '?'
        self.skip_blanks()
        if self.pos >= len(self.text) or self.text[self.pos] != "(":
            raise self.fail(f"a filter is written [?(...)], expected '(' at position {self.pos}")
        opened = self.pos
        close = _closing_parenthesis(self.text, opened)
        if close < 0:
            raise self.fail(f"'(' at position {opened} is not closed")
        expression = self.text[opened : close + 1]
        self.pos = close + 1
        self.expect_close()
        return _Filter(_compile_filter(expression, self.fail))


def _closing_parenthesis(text: str, opened: int) -> int:
    """Index of the ')' that closes the '(' at ``opened``, skipping quoted strings; -1 if none."""
    depth, pos, quote = 0, opened, ""
    while pos < len(text):
        char = text[pos]
        if quote:
            if char == "\\":
                pos += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return pos
        pos += 1
    return -1


# Filter syntax that jsonpath-ng accepts and Jayway does not ('=' alone, its '=~' takes a quoted
# pattern where Jayway takes /regex/, arithmetic, backquoted named operators): rejected, so that
# a definition we accept means what it means on AWS.
_FILTER_OPERATORS = frozenset({None, "==", "!=", "<", "<=", ">", ">=", "!"})
_FILTER_QUERY_NODES = (_jp.This, _jp.Root, _jp.Child, _jp.Fields, _jp.Index, _jp.Slice, _jp.Wildcard)


def _compile_filter(expression: str, fail: Any) -> tuple[Any, ...]:
    """Parse ``(...)`` of ``[?(...)]`` with jsonpath-ng's extended parser."""
    # jsonpath-ng warns (instead of failing) on syntax it deprecates. Unquoted words
    # (`@.lang==es`) are one: AWS accepts definitions that use them, so they stay string
    # literals here; any other warning is a syntax error. Recording keeps the warnings from
    # reaching the caller's filters.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            tree = _jp_ext_parse(f"$[?{expression}]")
        except Exception as error:  # jsonpath-ng raises lexer, parser and plain exceptions
            raise fail(f"the filter {expression} does not parse: {error}") from None
    caught = [w for w in caught if "unquoted word" not in str(w.message).lower()]
    if caught:
        raise fail(f"the filter {expression} is not supported: {caught[0].message}")
    if not (isinstance(tree, _jp.Child) and isinstance(tree.right, _jp_filter.Filter)):
        raise fail(f"the filter {expression} does not parse")
    expressions = tuple(tree.right.expressions)
    for node in expressions:
        problem = _unsupported_filter_part(node)
        if problem:
            raise fail(f"the filter {expression} is not supported: {problem}")
    return expressions


def _unsupported_filter_part(node: Any) -> str | None:
    if isinstance(node, _jp_filter.And | _jp_filter.Or):
        return next(filter(None, map(_unsupported_filter_part, node.operands)), None)
    if not isinstance(node, _jp_filter.Expression):
        return f"{node} is not a comparison"
    if node.op not in _FILTER_OPERATORS:
        return f"operator {node.op!r}"
    for operand in (node.target, node.value):
        if isinstance(operand, _jp.JSONPath) and not _is_filter_query(operand):
            return f"{operand} is not a path on '@' or '$' (no arithmetic or named operators)"
    return None


def _is_filter_query(node: Any) -> bool:
    if isinstance(node, _jp.Child):
        return _is_filter_query(node.left) and _is_filter_query(node.right)
    return isinstance(node, _FILTER_QUERY_NODES)


def _split_root(text: str) -> tuple[str | None, bool, int]:
    """(variable name or None, is-context, index where the path after the root starts)."""
    if not text.startswith("$"):
        raise PathSyntaxError(f"Invalid JSONPath '{text}': a path must start with '$'")
    if text.startswith("$$"):
        return None, True, 2
    end = 1
    while end < len(text) and text[end] not in ".[":
        end += 1
    if end == 1:
        return None, False, 1
    name = text[1:end]
    if not name.isidentifier():
        raise PathSyntaxError(f"Invalid JSONPath '{text}': '{name}' is not a variable name")
    return name, False, end


@lru_cache(maxsize=4096)
def _compile(text: str) -> _Path:
    variable, context, start = _split_root(text)
    parser = _Parser(text, start)
    segments = tuple(parser.parse())
    last = len(segments) - 1
    definite = all(_segment_definite(segment, k == last) for k, segment in enumerate(segments))
    steps: list[str | int] | None = []
    for segment in segments:
        if isinstance(segment, _Names) and len(segment.names) == 1:
            steps.append(segment.names[0])
        elif isinstance(segment, _Indexes) and len(segment.indexes) == 1:
            steps.append(segment.indexes[0])
        else:
            steps = None
            break
    not_reference = parser.not_reference
    if not_reference is None and steps is None:
        not_reference = "a Reference Path selects a single node"
    return _Path(
        text=text,
        variable=variable,
        context=context,
        segments=segments,
        definite=definite,
        steps=None if steps is None else tuple(steps),
        fast_steps=None if steps is None or variable is not None or context else tuple(steps),
        steps_have_index=steps is not None and any(type(step) is int for step in steps),
        normalized="$" + "".join(segment.fragment() for segment in segments),
        not_reference=not_reference,
    )


def _segment_definite(segment: _Segment, leaf: bool) -> bool:
    # Jayway: a single name or index is definite, and so is a list of names as the last segment
    # (it merges them into one object).
    if isinstance(segment, _Names):
        return len(segment.names) == 1 or leaf
    if isinstance(segment, _Indexes):
        return len(segment.indexes) == 1
    return False


def _compile_input_path(text: str) -> _Path:
    return _on_input(_compile(text))


def _on_input(compiled: _Path) -> _Path:
    """``compiled`` if it is a path on ``$`` (the only kind evaluated here), else PathSyntaxError."""
    if compiled.context or compiled.variable is not None:
        raise PathSyntaxError(
            f"Invalid JSONPath '{compiled.text}': only paths on '$' are evaluated here; "
            "resolve '$$' (context) and '$name' (variables) first"
        )
    return compiled


# --- public checks -----------------------------------------------------------------------------


def check_path(text: str) -> str | None:
    """None if ``text`` is a valid Path (on ``$``, ``$$`` or a ``$variable``), else the problem."""
    try:
        _compile(text)
    except PathSyntaxError as error:
        return str(error)
    return None


def check_reference_path(text: str) -> str | None:
    """None if ``text`` is a valid Reference Path (selects one node), else the problem.

    Accepts ``$$`` and ``$variable`` roots like :func:`check_path`; fields that forbid them
    (ResultPath) check that themselves.
    """
    try:
        compiled = _compile(text)
    except PathSyntaxError as error:
        return str(error)
    if compiled.not_reference is not None:
        return f"Invalid Reference Path '{text}': {compiled.not_reference}"
    return None


def is_definite(text: str) -> bool:
    """Whether the path selects at most one node (Jayway's ``isDefinite``); raises PathSyntaxError."""
    return _compile(text).definite


def variable_reference(path: str) -> tuple[str, str] | None:
    """``("name", "$.a.b")`` for ``"$name.a.b"``; None when the path is not on a variable."""
    if len(path) < 2 or path[0] != "$" or path[1] in "$.[":
        return None
    end = 1
    while end < len(path) and path[end] not in ".[":
        end += 1
    name = path[1:end]
    if not name.isidentifier():
        return None
    return name, "$" + path[end:]


# --- reading -----------------------------------------------------------------------------------


def read(path: str, data: Any) -> Any:
    """Evaluate ``path`` (starting with ``$``) against ``data``.

    A definite path returns its value or raises PathNotFound; an indefinite one returns the
    list of matches (possibly empty). Raises PathSyntaxError for a path that does not parse.
    """
    compiled = _compile(path)
    steps = compiled.fast_steps
    if steps is not None:
        node = data
        try:
            if compiled.steps_have_index:
                for step in steps:
                    # A string would answer an integer index with one of its characters.
                    if type(step) is int and not isinstance(node, list):
                        raise TypeError
                    node = node[step]
            else:
                for step in steps:
                    node = node[step]
        except (KeyError, IndexError, TypeError):
            return _read_definite(compiled, data)
        return node
    if _on_input(compiled).definite:
        return _read_definite(compiled, data)
    found: list[Any] = []
    _collect(compiled.segments, 0, data, _jp.DatumInContext(data), found)
    return found


def _read_definite(compiled: _Path, data: Any) -> Any:
    """Walk a definite path as Jayway does, raising PathNotFound with Jayway's messages."""
    segments = compiled.segments
    node, current = data, "$"
    for k, segment in enumerate(segments):
        leaf = k == len(segments) - 1
        if isinstance(segment, _Names):
            if not isinstance(node, dict):
                raise _not_found(
                    compiled,
                    f"Expected to find an object with property {segment.fragment()} in path {current} "
                    f"but found '{_java_class(node)}'. "
                    f"This is not a json object according to the JsonProvider: '{_JSON_PROVIDER}'.",
                )
            if len(segment.names) > 1:  # definite only as the last segment: merge what exists
                return {name: node[name] for name in segment.names if name in node}
            name = segment.names[0]
            if name not in node:
                if leaf:
                    raise _not_found(compiled, f"No results for path: {compiled.normalized}")
                raise _not_found(compiled, f"Missing property in path {current}['{name}']")
            node, current = node[name], f"{current}['{name}']"
        else:
            assert isinstance(segment, _Indexes)
            if node is None:
                raise _not_found(compiled, f"The path {current} is null")
            if not isinstance(node, list):
                rest = "".join(later.fragment() for later in segments[k:])
                raise _not_found(
                    compiled,
                    f"Filter: {rest} can only be applied to arrays. Current context is: {_java_string(node)}",
                )
            index = segment.indexes[0]
            position = index + len(node) if index < 0 else index
            if not 0 <= position < len(node):
                # Jayway skips an index out of range silently, so the whole path has no result.
                raise _not_found(compiled, f"No results for path: {compiled.normalized}")
            node, current = node[position], f"{current}[{index}]"
    return node


def _not_found(compiled: _Path, message: str) -> PathNotFound:
    return PathNotFound(compiled.text, compiled.normalized, message)


def _java_class(value: Any) -> str:
    """The Java class json-smart would hold ``value`` in (Jayway names it in messages)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, int):
        return "java.lang.Integer" if -(2**31) <= value < 2**31 else "java.lang.Long"
    if isinstance(value, float):
        return "java.lang.Double"
    if isinstance(value, str):
        return "java.lang.String"
    if isinstance(value, list):
        return "net.minidev.json.JSONArray"
    return "net.minidev.json.JSONObject"


def _java_string(value: Any) -> str:
    """``String.valueOf`` of a json-smart value: strings as they are, the rest as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _collect(segments: tuple[_Segment, ...], k: int, node: Any, root: Any, found: list[Any]) -> None:
    """Append to ``found`` what ``segments[k:]`` selects from ``node``, skipping what is missing.

    ``root`` is the document wrapped for jsonpath-ng, so that ``$`` inside a filter finds it.
    """
    if k == len(segments):
        found.append(node)
        return
    segment, after = segments[k], k + 1
    if isinstance(segment, _Names):
        if not isinstance(node, dict):
            return
        if len(segment.names) > 1 and after == len(segments):
            found.append({name: node[name] for name in segment.names if name in node})
            return
        for name in segment.names:
            if name in node:
                _collect(segments, after, node[name], root, found)
    elif isinstance(segment, _Indexes | _Slice):
        if not isinstance(node, list):
            return
        for position in _positions(segment, len(node)):
            _collect(segments, after, node[position], root, found)
    elif isinstance(segment, _Wildcard):
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            _collect(segments, after, child, root, found)
    elif isinstance(segment, _Filter):
        # Jayway tests an object itself, and the elements of an array.
        if isinstance(node, dict):
            if _filter_accepts(segment, node, root):
                _collect(segments, after, node, root, found)
        elif isinstance(node, list):
            for item in node:
                if _filter_accepts(segment, item, root):
                    _collect(segments, after, item, root, found)
    else:
        _scan(segments, after, node, root, found)


def _scan(segments: tuple[_Segment, ...], k: int, node: Any, root: Any, found: list[Any]) -> None:
    """Apply ``segments[k:]`` to ``node`` and every node below it, in document (pre-)order."""
    target, last = segments[k], k == len(segments) - 1
    stack = [node]
    while stack:
        current = stack.pop()
        if _scan_accepts(target, last, current):
            _collect(segments, k, current, root, found)
        if isinstance(current, dict):
            stack.extend(reversed(current.values()))
        elif isinstance(current, list):
            stack.extend(reversed(current))


def _scan_accepts(target: _Segment, last: bool, value: Any) -> bool:
    """Whether a deep scan applies ``target`` to ``value`` (Jayway's scan predicates)."""
    if isinstance(target, _Names):
        if len(target.names) > 1 and last:  # Jayway merges only objects that hold every name
            return isinstance(value, dict) and all(name in value for name in target.names)
        return isinstance(value, dict)
    if isinstance(target, _Indexes | _Slice):
        return isinstance(value, list)
    if isinstance(target, _Filter):  # only objects: an array's elements are visited on their own
        return isinstance(value, dict)
    return isinstance(value, dict | list)


def _positions(segment: _Indexes | _Slice, length: int) -> list[int]:
    """The valid positions an index list or a slice selects, Jayway's way."""
    if isinstance(segment, _Indexes):
        wanted: Iterable[int] = segment.indexes
    else:
        wanted = _slice_indexes(segment.start, segment.stop, length)
    positions = []
    for index in wanted:
        position = index + length if index < 0 else index
        if 0 <= position < length:
            positions.append(position)
    return positions


def _slice_indexes(start: int | None, stop: int | None, length: int) -> range:
    if start is None:  # [:to]
        stop = 0 if stop is None else stop + length if stop < 0 else stop
        return range(0, min(length, stop))
    if stop is None:  # [from:]
        return range(max(0, start + length if start < 0 else start), length)
    # [from:to]: Jayway does not adjust a negative start; each index then counts from the end.
    return range(start, min(length, stop))


def _filter_accepts(segment: _Filter, item: Any, root: Any) -> bool:
    candidate = _jp.DatumInContext(item, context=root)
    return all(expression.find(candidate) for expression in segment.expressions)


# --- writing -----------------------------------------------------------------------------------


def write(data: Any, reference_path: str, value: Any) -> Any:
    """Return a new document: ``data`` with ``value`` placed at ``reference_path`` (ResultPath).

    ``$`` replaces the document. Missing objects along the path are created; containers along
    the path are copied (shallowly), so ``data`` is left as it was and the rest is shared.
    Raises PathWriteError where a step meets a non-object (or, for an index, a non-array or an
    index out of range), and PathSyntaxError for a path that is not a Reference Path on ``$``.
    """
    compiled = _compile_input_path(reference_path)
    if compiled.not_reference is not None:
        raise PathSyntaxError(f"Invalid Reference Path '{reference_path}': {compiled.not_reference}")
    steps = compiled.steps
    assert steps is not None
    if not steps:
        return value
    document = _copy_for(data, steps[0], compiled, data)
    parent = document
    for k in range(len(steps) - 1):
        step, next_step = steps[k], steps[k + 1]
        child = parent.get(step, _MISSING) if isinstance(parent, dict) else parent[step]
        if child is _MISSING:
            if type(next_step) is int:
                raise _write_error(compiled, next_step, data)  # arrays are not created
            child = {}
        else:
            child = _copy_for(child, next_step, compiled, data)
        parent[step] = child
        parent = child
    parent[steps[-1]] = value
    return document


_MISSING = object()


def _copy_for(node: Any, step: str | int, compiled: _Path, data: Any) -> Any:
    """A shallow copy of ``node`` if ``step`` can be applied to it, else PathWriteError."""
    if type(step) is int:
        if isinstance(node, list) and -len(node) <= step < len(node):
            return list(node)
    elif isinstance(node, dict):
        return dict(node)
    raise _write_error(compiled, step, data)


def _write_error(compiled: _Path, step: str | int, data: Any) -> PathWriteError:
    # AWS words this "Unable to apply step "<name>" to input <json>" (seen in a public report of
    # a ResultPath failure); the engine picks the error name and the prefix.
    rendered = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    step_text = str(step) if type(step) is int else step
    return PathWriteError(compiled.text, step_text, f'Unable to apply step "{step_text}" to input {rendered}')
