"""DynamoDB's values and expression language, as the DynamoDB API defines them (no I/O here).

Values are DynamoDB JSON: an attribute value is a one-key object naming its type (``{"S": "x"}``,
``{"N": "4.5"}``, ``{"B": "<base64>"}``, ``{"BOOL": true}``, ``{"NULL": true}``, ``{"M": {...}}``,
``{"L": [...]}``, ``{"SS"|"NS"|"BS": [...]}``); an item is an object of attribute values.
`check_item` validates one the way DynamoDB does (numbers are normalized: ``"01.50"`` is stored
as ``"1.5"``), `equal` and `compare` compare values as DynamoDB does (numbers as numbers).

Expressions are parsed by hand (a tokenizer and a recursive-descent parser) into frozen
dataclasses, with ``#name`` and ``:value`` placeholders resolved while parsing:

- `parse_condition`: ConditionExpression, FilterExpression (comparators, BETWEEN, IN, AND/OR/NOT,
  the functions attribute_exists, attribute_not_exists, attribute_type, begins_with, contains, size);
- `parse_key_condition`: KeyConditionExpression (checked against a key schema by the caller);
- `parse_projection`: ProjectionExpression (document paths such as ``a.b[0]``);
- `parse_update`: UpdateExpression (SET with ``+``/``-``, if_not_exists, list_append; REMOVE; ADD; DELETE).

`evaluate`, `project` and `apply_update` run them on an item. Every refusal raises
`DynamoDBError` with DynamoDB's error code and message (``ValidationException``: "Invalid
UpdateExpression: Syntax error; token: ...").
"""

from __future__ import annotations

import base64
import binascii
import copy
import decimal
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

SCALAR_TYPES = ("S", "N", "B")
SET_TYPES = {"SS": "S", "NS": "N", "BS": "B"}
TYPES = ("S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS")
MAX_ITEM_BYTES = 400 * 1024
MAX_DEPTH = 32


class DynamoDBError(Exception):
    """A request DynamoDB refuses: ``code`` is its error code (``ValidationException``, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def invalid(message: str) -> DynamoDBError:
    return DynamoDBError("ValidationException", message)


def constraint(value: Any, member: str, rule: str) -> DynamoDBError:
    """The API's own validation error: a member (``tableName``, ``item``) that breaks a rule of its shape."""
    shown = "null" if value is None else f"'{value}'"
    return invalid(f"1 validation error detected: Value {shown} at '{member}' failed to satisfy constraint: {rule}")


# -- values ------------------------------------------------------------------------------------------

# Arithmetic and normalization need more room than DynamoDB's 38 digits, so that we can tell when a
# result does not fit (and say so) instead of rounding it silently.
_WIDE = decimal.Context(prec=400, Emax=999_999, Emin=-999_999)
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def value_type(value: AttributeValue) -> str:
    return next(iter(value))


def normalize_number(text: Any) -> str:
    """DynamoDB's canonical text of a number: no exponent, no leading or trailing zeros (``"1.5"``)."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise invalid("A value provided cannot be converted into a number")
    text = str(text).strip() if not isinstance(text, str) else text
    if not _NUMBER.fullmatch(text):
        raise invalid("A value provided cannot be converted into a number")
    return number_text(decimal.Decimal(text))


def number_text(number: decimal.Decimal) -> str:
    """The canonical text of ``number``, checked against DynamoDB's precision and range."""
    if number.is_zero():
        return "0"
    reduced = number.normalize(_WIDE)
    if len(reduced.as_tuple().digits) > 38:
        raise invalid("Attempting to store more than 38 significant digits in a Number")
    if reduced.adjusted() > 125:
        raise invalid("Number overflow. Attempting to store a number with magnitude larger than supported range")
    if reduced.adjusted() < -130:
        raise invalid("Number underflow. Attempting to store a number with magnitude smaller than supported range")
    return format(reduced, "f")


def to_number(value: AttributeValue) -> decimal.Decimal:
    return decimal.Decimal(value["N"])


def add_numbers(a: AttributeValue, b: AttributeValue, sign: int = 1) -> AttributeValue:
    total = _WIDE.add(to_number(a), _WIDE.multiply(to_number(b), decimal.Decimal(sign)))
    return {"N": number_text(total)}


def binary(text: Any) -> bytes:
    if not isinstance(text, str):
        raise invalid("Invalid binary value: a B value is base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"Invalid binary value: {text[:40]!r} is not base64") from None


def check_value(value: Any, depth: int = 0) -> AttributeValue:
    """A validated copy of an attribute value, numbers normalized (raises ValidationException)."""
    if not isinstance(value, dict) or not value:
        raise invalid("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
    if len(value) > 1:
        raise invalid(
            "Supplied AttributeValue has more than one datatypes set, "
            "must contain exactly one of the supported datatypes"
        )
    kind, raw = next(iter(value.items()))
    if kind not in TYPES:
        raise invalid("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
    if depth > MAX_DEPTH:
        raise invalid("Nesting Levels have exceeded supported limits")
    return {kind: _check_payload(kind, raw, depth)}


def _check_payload(kind: str, raw: Any, depth: int) -> Any:
    if kind == "S":
        if not isinstance(raw, str):
            raise invalid("Invalid attribute value: an S value must be a string")
        return raw
    if kind == "N":
        return normalize_number(raw)
    if kind == "B":
        binary(raw)
        return raw
    if kind in ("BOOL", "NULL"):
        if not isinstance(raw, bool):
            raise invalid(f"Invalid attribute value: a {kind} value must be true or false")
        if kind == "NULL" and raw is not True:
            raise invalid(
                "One or more parameter values were invalid: Null attribute value types must have the value of true"
            )
        return raw
    if kind == "M":
        if not isinstance(raw, dict):
            raise invalid("Invalid attribute value: an M value must be an object")
        return {str(k): check_value(v, depth=depth + 1) for k, v in raw.items()}
    if kind == "L":
        if not isinstance(raw, list):
            raise invalid("Invalid attribute value: an L value must be an array")
        return [check_value(v, depth=depth + 1) for v in raw]
    return _check_set(kind, raw)


_SET_NAMES = {"SS": "string", "NS": "number", "BS": "binary"}


def _check_set(kind: str, raw: Any) -> list[Any]:
    if not isinstance(raw, list):
        raise invalid(f"Invalid attribute value: an {kind} value must be an array")
    if not raw:
        if kind == "BS":
            raise invalid("One or more parameter values were invalid: Binary sets should not be empty")
        raise invalid(f"One or more parameter values were invalid: An {_SET_NAMES[kind]} set  may not be empty")
    element = SET_TYPES[kind]
    members = [_check_payload(element, m, 0) for m in raw]
    keys = [_set_key(element, m) for m in members]
    if len(set(keys)) != len(keys):
        raise invalid(
            "One or more parameter values were invalid: "
            f"Input collection [{', '.join(map(str, raw))}] contains duplicates."
        )
    return members


def _set_key(element: str, member: Any) -> Any:
    if element == "N":
        return decimal.Decimal(member)
    if element == "B":
        return binary(member)
    return member


def check_item(item: Any, what: str = "item") -> Item:
    if item is None:
        raise constraint(None, what, "Member must not be null")
    if not isinstance(item, dict):
        raise invalid(f"Invalid {what}: expected an object of attribute values")
    checked = {}
    for name, value in item.items():
        if not name:
            raise invalid("One or more parameter values were invalid: An attribute name may not be empty")
        checked[name] = check_value(value)
    return checked


def equal(a: AttributeValue | None, b: AttributeValue | None) -> bool:
    if a is None or b is None:
        return False
    kind = value_type(a)
    if kind != value_type(b):
        return False
    x, y = a[kind], b[kind]
    if kind == "N":
        return decimal.Decimal(x) == decimal.Decimal(y)
    if kind == "B":
        return binary(x) == binary(y)
    if kind in SET_TYPES:
        return {_set_key(SET_TYPES[kind], m) for m in x} == {_set_key(SET_TYPES[kind], m) for m in y}
    if kind == "L":
        return len(x) == len(y) and all(equal(p, q) for p, q in zip(x, y, strict=True))
    if kind == "M":
        return x.keys() == y.keys() and all(equal(x[k], y[k]) for k in x)
    return bool(x == y)


def order_key(value: AttributeValue) -> Any:
    """What a scalar sorts by: numbers numerically, strings and binaries by their (UTF-8) bytes."""
    kind = value_type(value)
    if kind == "N":
        return decimal.Decimal(value["N"])
    if kind == "B":
        return binary(value["B"])
    return value["S"].encode("utf-8", "surrogatepass")


def compare(a: AttributeValue | None, b: AttributeValue | None) -> int | None:
    """-1, 0 or 1 for two scalars of one type (S, N or B); None if they cannot be ordered."""
    if a is None or b is None or value_type(a) != value_type(b) or value_type(a) not in SCALAR_TYPES:
        return None
    x, y = order_key(a), order_key(b)
    return (x > y) - (x < y)


def key_text(value: AttributeValue) -> str:
    """The canonical text of a key value (the column our primary key is made of)."""
    kind = value_type(value)
    if kind == "B":
        return base64.b64encode(binary(value["B"])).decode()
    return str(value[kind])


def item_size(item: Mapping[str, AttributeValue]) -> int:
    """An item's size as DynamoDB counts it (names plus values), near enough for its 400 KB limit."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: AttributeValue) -> int:
    kind, raw = next(iter(value.items()))
    if kind == "S":
        return len(raw.encode("utf-8", "surrogatepass"))
    if kind == "N":
        return len(raw.replace("-", "").replace(".", "")) // 2 + 1
    if kind == "B":
        return len(binary(raw))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in raw.items())
    return sum(_value_size({SET_TYPES[kind]: m}) for m in raw)


def to_plain(value: AttributeValue) -> Any:
    """An attribute value as plain JSON: numbers as ints or floats, sets as arrays, B as base64 text."""
    kind, raw = next(iter(value.items()))
    if kind == "N":
        return _plain_number(raw)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: to_plain(v) for k, v in raw.items()}
    if kind == "L":
        return [to_plain(v) for v in raw]
    if kind == "NS":
        return [_plain_number(m) for m in raw]
    return list(raw) if kind in SET_TYPES else raw


def _plain_number(text: str) -> int | float:
    number = decimal.Decimal(text)
    return int(number) if number == number.to_integral_value() else float(number)


def from_plain(value: Any) -> AttributeValue:
    """Plain JSON as an attribute value: strings S, numbers N, booleans BOOL, null NULL, arrays L, objects M."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": normalize_number(repr(value) if isinstance(value, float) else str(value))}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [from_plain(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {str(k): from_plain(v) for k, v in value.items()}}
    raise invalid(f"{type(value).__name__} is not JSON")


def plain_item(item: Mapping[str, AttributeValue]) -> dict[str, Any]:
    return {name: to_plain(value) for name, value in item.items()}


# -- the syntax tree -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Path:
    """A document path: attribute names (str) and list indexes (int), e.g. ``a.b[0]``."""

    elements: tuple[str | int, ...]

    def __str__(self) -> str:
        return "[" + ", ".join(f"[{e}]" if isinstance(e, int) else e for e in self.elements) + "]"

    def overlaps(self, other: Path) -> bool:
        shorter = min(len(self.elements), len(other.elements))
        return self.elements[:shorter] == other.elements[:shorter]


@dataclass(frozen=True, slots=True)
class Value:
    """An expression attribute value (``:v``), resolved."""

    value: AttributeValue
    placeholder: str


@dataclass(frozen=True, slots=True)
class Call:
    """A function call: attribute_exists, begins_with, size, if_not_exists, list_append, ..."""

    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Arithmetic:
    op: str  # "+" or "-"
    left: Any
    right: Any


@dataclass(frozen=True, slots=True)
class Comparison:
    op: str  # = <> < <= > >=
    left: Any
    right: Any


@dataclass(frozen=True, slots=True)
class Between:
    operand: Any
    low: Any
    high: Any


@dataclass(frozen=True, slots=True)
class In:
    operand: Any
    options: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Logical:
    op: str  # "AND" or "OR"
    left: Any
    right: Any


@dataclass(frozen=True, slots=True)
class Not:
    operand: Any


@dataclass(frozen=True, slots=True)
class Parenthesized:
    inner: Any


@dataclass(frozen=True, slots=True)
class Update:
    """A parsed UpdateExpression: its actions by clause."""

    set: tuple[tuple[Path, Any], ...] = ()
    remove: tuple[Path, ...] = ()
    add: tuple[tuple[Path, Value], ...] = ()
    delete: tuple[tuple[Path, Value], ...] = ()

    def paths(self) -> list[Path]:
        return [p for p, _ in self.set] + list(self.remove) + [p for p, _ in self.add] + [p for p, _ in self.delete]


BOOLEAN_FUNCTIONS = ("attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains")
CONDITION_FUNCTIONS = (*BOOLEAN_FUNCTIONS, "size")
UPDATE_FUNCTIONS = ("if_not_exists", "list_append")
_ARITY = {
    "attribute_exists": 1,
    "attribute_not_exists": 1,
    "attribute_type": 2,
    "begins_with": 2,
    "contains": 2,
    "size": 1,
    "if_not_exists": 2,
    "list_append": 2,
}
_COMPARATORS = ("=", "<>", "<", "<=", ">", ">=")


# -- tokens ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "name", "#name", ":value", "number", "op", "eof"
    text: str
    start: int
    end: int

    def keyword(self, *words: str) -> bool:
        return self.kind == "name" and self.text.upper() in words


_TOKEN = re.compile(
    r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<hash>#[A-Za-z0-9_]+)|(?P<colon>:[A-Za-z0-9_]+)"
    r"|(?P<number>\d+)|(?P<op><>|<=|>=|[=<>()\[\],.+\-]))"
)
_KINDS = {"name": "name", "hash": "#name", "colon": ":value", "number": "number", "op": "op"}


def tokenize(text: str, what: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            tokens.append(Token("eof", "<EOF>", len(text), len(text)))
            return tokens
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            bad = Token("op", text[position], position, position + 1)
            raise _syntax_error(text, what, [*tokens, bad], len(tokens))
        tokens.append(
            Token(_KINDS[match.lastgroup], match.group(match.lastgroup), match.start(match.lastgroup), match.end())
        )
        position = match.end()


def _syntax_error(text: str, what: str, tokens: list[Token], index: int) -> DynamoDBError:
    """DynamoDB's syntax error: the offending token, and the text from the token before to the one after."""
    token = tokens[index]
    start = tokens[index - 1].start if index > 0 else token.start
    end = tokens[index + 1].end if index + 1 < len(tokens) and tokens[index + 1].kind != "eof" else token.end
    return invalid(f'Invalid {what}: Syntax error; token: "{token.text}", near: "{text[start:end]}"')


# -- RESERVED: DynamoDB's reserved words, which an expression must name through #placeholders ----------

_RESERVED_WORDS = """
ABORT ABSOLUTE ACTION ADD AFTER AGENT AGGREGATE ALL ALLOCATE ALTER ANALYZE AND ANY ARCHIVE ARE ARRAY AS ASC
ASCII ASENSITIVE ASSERTION ASYMMETRIC AT ATOMIC ATTACH ATTRIBUTE AUTH AUTHORIZATION AUTHORIZE AUTO AVG BACK
BACKUP BASE BATCH BEFORE BEGIN BETWEEN BIGINT BINARY BIT BLOB BLOCK BOOLEAN BOTH BREADTH BUCKET BULK BY BYTE
CALL CALLED CALLING CAPACITY CASCADE CASCADED CASE CAST CATALOG CHAR CHARACTER CHECK CLASS CLOB CLOSE CLUSTER
CLUSTERED CLUSTERING CLUSTERS COALESCE COLLATE COLLATION COLLECTION COLUMN COLUMNS COMBINE COMMENT COMMIT
COMPACT COMPILE COMPRESS CONDITION CONFLICT CONNECT CONNECTION CONSISTENCY CONSISTENT CONSTRAINT CONSTRAINTS
CONSTRUCTOR CONSUMED CONTINUE CONVERT COPY CORRESPONDING COUNT COUNTER CREATE CROSS CUBE CURRENT CURSOR CYCLE
DATA DATABASE DATE DATETIME DAY DEALLOCATE DEC DECIMAL DECLARE DEFAULT DEFERRABLE DEFERRED DEFINE DEFINED
DEFINITION DELETE DELIMITED DEPTH DEREF DESC DESCRIBE DESCRIPTOR DETACH DETERMINISTIC DIAGNOSTICS DIRECTORIES
DISABLE DISCONNECT DISTINCT DISTRIBUTE DO DOMAIN DOUBLE DROP DUMP DURATION DYNAMIC EACH ELEMENT ELSE ELSEIF
EMPTY ENABLE END EQUAL EQUALS ERROR ESCAPE ESCAPED EVAL EVALUATE EXCEEDED EXCEPT EXCEPTION EXCEPTIONS EXCLUSIVE
EXEC EXECUTE EXISTS EXIT EXPLAIN EXPLODE EXPORT EXPRESSION EXTENDED EXTERNAL EXTRACT FAIL FALSE FAMILY FETCH
FIELDS FILE FILTER FILTERING FINAL FINISH FIRST FIXED FLATTERN FLOAT FOR FORCE FOREIGN FORMAT FORWARD FOUND
FREE FROM FULL FUNCTION FUNCTIONS GENERAL GENERATE GET GLOB GLOBAL GO GOTO GRANT GREATER GROUP GROUPING HANDLER
HASH HAVE HAVING HEAP HIDDEN HOLD HOUR IDENTIFIED IDENTITY IF IGNORE IMMEDIATE IMPORT IN INCLUDING INCLUSIVE
INCREMENT INCREMENTAL INDEX INDEXED INDEXES INDICATOR INFINITE INITIALLY INLINE INNER INNTER INOUT INPUT
INSENSITIVE INSERT INSTEAD INT INTEGER INTERSECT INTERVAL INTO INVALIDATE IS ISOLATION ITEM ITEMS ITERATE JOIN
KEY KEYS LAG LANGUAGE LARGE LAST LATERAL LEAD LEADING LEAVE LEFT LENGTH LESS LEVEL LIKE LIMIT LIMITED LINES
LIST LOAD LOCAL LOCALTIME LOCALTIMESTAMP LOCATION LOCATOR LOCK LOCKS LOG LOGED LONG LOOP LOWER MAP MATCH
MATERIALIZED MAX MAXLEN MEMBER MERGE METHOD METRICS MIN MINUS MINUTE MISSING MOD MODE MODIFIES MODIFY MODULE
MONTH MULTI MULTISET NAME NAMES NATIONAL NATURAL NCHAR NCLOB NEW NEXT NO NONE NOT NULL NULLIF NUMBER NUMERIC
OBJECT OF OFFLINE OFFSET OLD ON ONLINE ONLY OPAQUE OPEN OPERATOR OPTION OR ORDER ORDINALITY OTHER OTHERS OUT
OUTER OUTPUT OVER OVERLAPS OVERRIDE OWNER PAD PARALLEL PARAMETER PARAMETERS PARTIAL PARTITION PARTITIONED
PARTITIONS PATH PERCENT PERCENTILE PERMISSION PERMISSIONS PIPE PIPELINED PLAN POOL POSITION PRECISION PREPARE
PRESERVE PRIMARY PRIOR PRIVATE PRIVILEGES PROCEDURE PROCESSED PROJECT PROJECTION PROPERTY PROVISIONING PUBLIC
PUT QUERY QUIT QUORUM RAISE RANDOM RANGE RANK RAW READ READS REAL REBUILD RECORD RECURSIVE REDUCE REF REFERENCE
REFERENCES REFERENCING REGEXP REGION REINDEX RELATIVE RELEASE REMAINDER RENAME REPEAT REPLACE REQUEST RESET
RESIGNAL RESOURCE RESPONSE RESTORE RESTRICT RESULT RETURN RETURNING RETURNS REVERSE REVOKE RIGHT ROLE ROLES
ROLLBACK ROLLUP ROUTINE ROW ROWS RULE RULES SAMPLE SATISFIES SAVE SAVEPOINT SCAN SCHEMA SCOPE SCROLL SEARCH
SECOND SECTION SEGMENT SEGMENTS SELECT SELF SEMI SENSITIVE SEPARATE SEQUENCE SERIALIZABLE SESSION SET SETS
SHARD SHARE SHARED SHORT SHOW SIGNAL SIMILAR SIZE SKEWED SMALLINT SNAPSHOT SOME SOURCE SPACE SPACES SPARSE
SPECIFIC SPECIFICTYPE SPLIT SQL SQLCODE SQLERROR SQLEXCEPTION SQLSTATE SQLWARNING START STATE STATIC STATUS
STORAGE STORE STORED STREAM STRING STRUCT STYLE SUB SUBMULTISET SUBPARTITION SUBSTRING SUBTYPE SUM SUPER
SYMMETRIC SYNONYM SYSTEM TABLE TABLESAMPLE TEMP TEMPORARY TERMINATED TEXT THAN THEN THROUGHPUT TIME TIMESTAMP
TIMEZONE TINYINT TO TOKEN TOTAL TOUCH TRAILING TRANSACTION TRANSFORM TRANSLATE TRANSLATION TREAT TRIGGER TRIM
TRUE TRUNCATE TTL TUPLE TYPE UNDER UNDO UNION UNIQUE UNIT UNKNOWN UNLOGGED UNNEST UNPROCESSED UNSIGNED UNTIL
UPDATE UPPER URL USAGE USE USER USERS USING UUID VACUUM VALUE VALUED VALUES VARCHAR VARIABLE VARIANCE VARINT
VARYING VIEW VIEWS VIRTUAL VOID WAIT WHEN WHENEVER WHERE WHILE WINDOW WITH WITHIN WITHOUT WORK WRAPPED WRITE
YEAR ZONE
"""
RESERVED = frozenset(_RESERVED_WORDS.split())


# -- the parser ------------------------------------------------------------------------------------


@dataclass
class Placeholders:
    """A request's ExpressionAttributeNames and ExpressionAttributeValues, and which ones its expressions use."""

    names: Mapping[str, str]
    values: Mapping[str, AttributeValue]
    used_names: set[str] = field(default_factory=set)
    used_values: set[str] = field(default_factory=set)

    def check_all_used(self) -> None:
        unused_values = sorted(set(self.values) - self.used_values)
        if unused_values:
            raise invalid(
                "Value provided in ExpressionAttributeValues unused in expressions: "
                f"keys: {{{', '.join(unused_values)}}}"
            )
        unused_names = sorted(set(self.names) - self.used_names)
        if unused_names:
            raise invalid(
                f"Value provided in ExpressionAttributeNames unused in expressions: keys: {{{', '.join(unused_names)}}}"
            )


def placeholders(names: Any, values: Any) -> Placeholders:
    """Validate a request's ExpressionAttributeNames and ExpressionAttributeValues."""
    names = {} if names is None else names
    values = {} if values is None else values
    if not isinstance(names, dict) or not all(isinstance(v, str) for v in names.values()):
        raise invalid("ExpressionAttributeNames must be an object of strings")
    if not isinstance(values, dict):
        raise invalid("ExpressionAttributeValues must be an object of attribute values")
    for name in names:
        if not name.startswith("#"):
            raise invalid(f'ExpressionAttributeNames contains invalid key: Syntax error; key: "{name}"')
    checked = {}
    for key, value in values.items():
        if not key.startswith(":"):
            raise invalid(f'ExpressionAttributeValues contains invalid key: Syntax error; key: "{key}"')
        try:
            checked[key] = check_value(value)
        except DynamoDBError as exc:
            raise invalid(f"ExpressionAttributeValues contains invalid value: {exc.message} for key {key}") from None
    return Placeholders(names, checked)


class _Parser:
    """Recursive descent over one expression's tokens."""

    def __init__(self, text: Any, what: str, refs: Placeholders) -> None:
        if not isinstance(text, str):
            raise invalid(f"Invalid {what}: the expression must be a string")
        if not text.strip():
            raise invalid(f"Invalid {what}: The expression can not be empty;")
        self.text = text
        self.what = what
        self.refs = refs
        self.tokens = tokenize(text, what)
        self.index = 0

    # -- token handling

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.token
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def error(self) -> DynamoDBError:
        return _syntax_error(self.text, self.what, self.tokens, self.index)

    def expect(self, text: str) -> Token:
        if self.token.kind != "op" or self.token.text != text:
            raise self.error()
        return self.advance()

    def at(self, text: str) -> bool:
        return self.token.kind == "op" and self.token.text == text

    def end(self) -> None:
        if self.token.kind != "eof":
            raise self.error()

    def fail(self, message: str) -> DynamoDBError:
        return invalid(f"Invalid {self.what}: {message}")

    def wrong_type(self, function: str, kind: str, label: str = "operator or function") -> DynamoDBError:
        return self.fail(f"Incorrect operand type for operator or function; {label}: {function}, operand type: {kind}")

    # -- operands

    def path(self) -> Path:
        elements: list[str | int] = [self.path_name()]
        while True:
            if self.at("."):
                self.advance()
                elements.append(self.path_name())
            elif self.at("["):
                self.advance()
                if self.token.kind != "number":
                    raise self.error()
                elements.append(int(self.advance().text))
                self.expect("]")
            else:
                break
        if len(elements) > MAX_DEPTH:
            raise self.fail(f"The document path has too many nesting levels; nesting levels: {len(elements)}")
        return Path(tuple(elements))

    def path_name(self) -> str:
        token = self.token
        if token.kind == "#name":
            self.advance()
            if token.text not in self.refs.names:
                raise self.fail(
                    "An expression attribute name used in the document path is not defined; "
                    f"attribute name: {token.text}"
                )
            self.refs.used_names.add(token.text)
            return self.refs.names[token.text]
        if token.kind != "name":
            raise self.error()
        if token.text.upper() in RESERVED:
            raise self.fail(f"Attribute name is a reserved keyword; reserved keyword: {token.text}")
        self.advance()
        return token.text

    def value(self) -> Value:
        token = self.advance()
        if token.text not in self.refs.values:
            raise self.fail(
                f"An expression attribute value used in expression is not defined; attribute value: {token.text}"
            )
        self.refs.used_values.add(token.text)
        return Value(self.refs.values[token.text], token.text)

    def call(self, allowed: tuple[str, ...], context: str) -> Call:
        name = self.advance().text
        if name not in _ARITY:
            raise self.fail(f"Invalid function name; function: {name}")
        if name not in allowed:
            raise self.fail(f"The function is not allowed in {context}; function: {name}")
        self.expect("(")
        args = [self.function_argument(allowed, context)]
        while self.at(","):
            self.advance()
            args.append(self.function_argument(allowed, context))
        self.expect(")")
        if len(args) != _ARITY[name]:
            raise self.fail(
                "Incorrect number of operands for operator or function; "
                f"operator or function: {name}, number of operands: {len(args)}"
            )
        return Call(name, tuple(args))

    def function_argument(self, allowed: tuple[str, ...], context: str) -> Any:
        if self.is_call():
            inner = self.call(allowed, context)
            if inner.name in BOOLEAN_FUNCTIONS:
                raise self.fail(
                    f"The function is not allowed to be used this way in an expression; function: {inner.name}"
                )
            return inner
        return self.operand()

    def is_call(self) -> bool:
        return (
            self.token.kind == "name"
            and not self.token.keyword("AND", "OR", "NOT", "BETWEEN", "IN")
            and self.peek().kind == "op"
            and self.peek().text == "("
        )

    @property
    def context(self) -> str:
        """How DynamoDB names this kind of expression when it refuses a function in it."""
        return {"UpdateExpression": "an update expression", "FilterExpression": "a filter expression"}.get(
            self.what, "a condition expression"
        )

    def operand(self) -> Path | Value:
        if self.token.kind == ":value":
            return self.value()
        if self.token.kind in ("name", "#name"):
            return self.path()
        raise self.error()


# -- conditions -------------------------------------------------------------------------------------


class _ConditionParser(_Parser):
    def parse(self) -> Any:
        condition = self.disjunction()
        self.end()
        return condition

    def disjunction(self) -> Any:
        left = self.conjunction()
        while self.token.keyword("OR"):
            self.advance()
            left = Logical("OR", left, self.conjunction())
        return left

    def conjunction(self) -> Any:
        left = self.negation()
        while self.token.keyword("AND"):
            self.advance()
            left = Logical("AND", left, self.negation())
        return left

    def negation(self) -> Any:
        if self.token.keyword("NOT"):
            self.advance()
            return Not(self.negation())
        return self.primary()

    def primary(self) -> Any:
        if self.at("("):
            self.advance()
            inner = self.disjunction()
            self.expect(")")
            if isinstance(inner, Parenthesized):
                raise self.fail("The expression has redundant parentheses;")
            return Parenthesized(inner)
        if self.is_call():
            call = self.call(CONDITION_FUNCTIONS, self.context)
            _check_call(self, call)
            if call.name in BOOLEAN_FUNCTIONS:
                if self.token.kind == "op" and self.token.text in _COMPARATORS:
                    raise self.fail(
                        f"The function is not allowed to be used this way in an expression; function: {call.name}"
                    )
                return call
            return self.predicate(call)
        return self.predicate(self.comparable())

    def comparable(self) -> Any:
        if self.is_call():
            call = self.call(CONDITION_FUNCTIONS, self.context)
            if call.name != "size":
                raise self.fail(
                    f"The function is not allowed to be used this way in an expression; function: {call.name}"
                )
            _check_call(self, call)
            return call
        return self.operand()

    def predicate(self, left: Any) -> Any:
        token = self.token
        if token.kind == "op" and token.text in _COMPARATORS:
            self.advance()
            right = self.comparable()
            if token.text not in ("=", "<>"):
                _check_ordered(self, token.text, left, right)
            return Comparison(token.text, left, right)
        if token.keyword("BETWEEN"):
            self.advance()
            low = self.comparable()
            if not self.token.keyword("AND"):
                raise self.error()
            self.advance()
            high = self.comparable()
            _check_between(self, left, low, high)
            return Between(left, low, high)
        if token.keyword("IN"):
            self.advance()
            self.expect("(")
            options = [self.comparable()]
            while self.at(","):
                self.advance()
                options.append(self.comparable())
            self.expect(")")
            if len(options) > 100:
                raise self.fail(
                    f"The IN operator is provided with too many operands; number of operands: {len(options)}"
                )
            return In(left, tuple(options))
        if isinstance(left, Call):
            raise self.fail(f"The function is not allowed to be used this way in an expression; function: {left.name}")
        raise self.error()


_TYPE_NAMES = "{B,NULL,SS,BOOL,L,BS,N,NS,S,M}"


def _check_call(parser: _Parser, call: Call) -> None:
    """What DynamoDB checks before it reads any item: paths where paths belong, operand types."""
    first = call.args[0]
    if call.name in CONDITION_FUNCTIONS and not isinstance(first, Path):
        raise parser.fail(f"Operator or function requires a document path; operator or function: {call.name}")
    if call.name == "attribute_type":
        kind = call.args[1]
        if not isinstance(kind, Value):
            raise parser.fail(
                "Operator or function requires an expression attribute value; operator or function: attribute_type"
            )
        if value_type(kind.value) != "S":
            raise parser.wrong_type("attribute_type", value_type(kind.value))
        if kind.value["S"] not in TYPES:
            raise parser.fail(f"Invalid attribute type name found; type: {kind.value['S']}, valid types: {_TYPE_NAMES}")
    if (
        call.name == "begins_with"
        and isinstance(call.args[1], Value)
        and value_type(call.args[1].value) not in ("S", "B")
    ):
        raise parser.wrong_type("begins_with", value_type(call.args[1].value))
    if call.name == "contains" and call.args[0] == call.args[1]:
        raise parser.fail(
            "The first operand must be distinct from the remaining operands for this operator or function; "
            f"operator: contains, first operand: {first}"
        )


def _check_ordered(parser: _Parser, op: str, *operands: Any) -> None:
    for operand in operands:
        if isinstance(operand, Value) and value_type(operand.value) not in SCALAR_TYPES:
            raise parser.wrong_type(op, value_type(operand.value))


def _check_between(parser: _Parser, operand: Any, low: Any, high: Any) -> None:
    _check_ordered(parser, "BETWEEN", operand, low, high)
    if isinstance(low, Value) and isinstance(high, Value):
        order = compare(low.value, high.value)
        if order is None or order > 0:
            raise parser.fail(
                "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; "
                f"lower bound operand: AttributeValue: {_brief(low.value)}, "
                f"upper bound operand: AttributeValue: {_brief(high.value)}"
            )


def _brief(value: AttributeValue) -> str:
    kind = value_type(value)
    return f"{{{kind}:{value[kind]}}}"


def parse_condition(text: Any, refs: Placeholders, what: str = "ConditionExpression") -> Any:
    """A ConditionExpression or FilterExpression (``what`` names it in errors)."""
    return _ConditionParser(text, what, refs).parse()


# -- key conditions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyCondition:
    """One condition on one key attribute: ``=``, ``<``..., ``BETWEEN`` or ``begins_with``."""

    attribute: str
    op: str  # = < <= > >= BETWEEN begins_with
    values: tuple[AttributeValue, ...]


_FLIPPED = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def parse_key_condition(text: Any, refs: Placeholders) -> list[KeyCondition]:
    """A KeyConditionExpression: one or two conditions joined by AND, each on a top-level attribute."""
    tree = _ConditionParser(text, "KeyConditionExpression", refs).parse()
    conditions: list[KeyCondition] = []
    _collect_key_conditions(tree, conditions)
    return conditions


def _collect_key_conditions(node: Any, out: list[KeyCondition]) -> None:
    if isinstance(node, Parenthesized):
        _collect_key_conditions(node.inner, out)
    elif isinstance(node, Logical) and node.op == "AND":
        _collect_key_conditions(node.left, out)
        _collect_key_conditions(node.right, out)
    elif isinstance(node, Comparison) and node.op != "<>":
        path, value, op = node.left, node.right, node.op
        if isinstance(path, Value) and isinstance(value, Path):
            path, value, op = value, path, _FLIPPED[op]
        out.append(KeyCondition(_key_attribute(path), op, (_key_value(value),)))
    elif isinstance(node, Between):
        out.append(KeyCondition(_key_attribute(node.operand), "BETWEEN", (_key_value(node.low), _key_value(node.high))))
    elif isinstance(node, Call) and node.name == "begins_with":
        out.append(KeyCondition(_key_attribute(node.args[0]), "begins_with", (_key_value(node.args[1]),)))
    else:
        raise invalid(f"Invalid operator used in KeyConditionExpression: {_operator_name(node)}")


def _operator_name(node: Any) -> str:
    if isinstance(node, Logical):
        return node.op
    if isinstance(node, Not):
        return "NOT"
    if isinstance(node, In):
        return "IN"
    if isinstance(node, Comparison):
        return node.op
    return node.name if isinstance(node, Call) else type(node).__name__


def _key_attribute(operand: Any) -> str:
    if not isinstance(operand, Path) or len(operand.elements) != 1:
        raise invalid("Invalid KeyConditionExpression: a key condition compares a top-level key attribute with a value")
    return str(operand.elements[0])


def _key_value(operand: Any) -> AttributeValue:
    if not isinstance(operand, Value):
        raise invalid("Invalid KeyConditionExpression: a key condition compares a top-level key attribute with a value")
    return operand.value


def key_condition_matches(condition: KeyCondition, value: AttributeValue | None) -> bool:
    if condition.op == "begins_with":
        return _begins_with(value, condition.values[0])
    if condition.op == "BETWEEN":
        low, high = (compare(value, v) for v in condition.values)
        return low is not None and high is not None and low >= 0 and high <= 0
    return _compare_op(condition.op, value, condition.values[0])


# -- projections ------------------------------------------------------------------------------------


class _ProjectionParser(_Parser):
    def parse(self) -> list[Path]:
        paths = [self.path()]
        while self.at(","):
            self.advance()
            paths.append(self.path())
        self.end()
        check_no_overlap(paths, self.what)
        return paths


def check_no_overlap(paths: list[Path], what: str) -> None:
    for i, one in enumerate(paths):
        for two in paths[i + 1 :]:
            if one.overlaps(two):
                raise invalid(
                    f"Invalid {what}: Two document paths overlap with each other; must remove or rewrite one of "
                    f"these paths; path one: {one}, path two: {two}"
                )


def parse_projection(text: Any, refs: Placeholders) -> list[Path]:
    return _ProjectionParser(text, "ProjectionExpression", refs).parse()


def project(item: Item, paths: Iterable[Path]) -> Item:
    """The parts of ``item`` that ``paths`` select (list elements keep their order, compacted)."""
    tree: dict[Any, Any] = {}
    for path in paths:
        node = tree
        for element in path.elements[:-1]:
            node = node.setdefault(element, {})
        node[path.elements[-1]] = None  # a leaf: the whole value
    return {name: v for name, sub in tree.items() if (v := _select(item.get(str(name)), sub)) is not None}


def _select(value: AttributeValue | None, tree: dict[Any, Any] | None) -> AttributeValue | None:
    if value is None or tree is None:
        return value
    if "M" in value:
        picked = {
            k: v for k, sub in tree.items() if isinstance(k, str) and (v := _select(value["M"].get(k), sub)) is not None
        }
        return {"M": picked} if picked else None
    if "L" in value:
        items = value["L"]
        indexes = sorted(k for k in tree if isinstance(k, int) and k < len(items))
        chosen = [v for i in indexes if (v := _select(items[i], tree[i])) is not None]
        return {"L": chosen} if chosen else None
    return None


# -- updates ---------------------------------------------------------------------------------------


class _UpdateParser(_Parser):
    def parse(self) -> Update:
        clauses: dict[str, list[Any]] = {}
        while self.token.kind != "eof":
            if not self.token.keyword("SET", "REMOVE", "ADD", "DELETE"):
                raise self.error()
            clause = self.advance().text.upper()
            if clause in clauses:
                raise self.fail(f'The "{clause}" section can only be used once in an update expression;')
            clauses[clause] = self.actions(clause)
        update = Update(
            set=tuple(clauses.get("SET", ())),
            remove=tuple(clauses.get("REMOVE", ())),
            add=tuple(clauses.get("ADD", ())),
            delete=tuple(clauses.get("DELETE", ())),
        )
        check_no_overlap(update.paths(), self.what)
        return update

    def actions(self, clause: str) -> list[Any]:
        actions = [self.action(clause)]
        while self.at(","):
            self.advance()
            actions.append(self.action(clause))
        return actions

    def action(self, clause: str) -> Any:
        path = self.path()
        if clause == "REMOVE":
            return path
        if clause == "SET":
            self.expect("=")
            return (path, self.set_value())
        if self.token.kind != ":value":
            raise self.error()
        value = self.value()
        kind = value_type(value.value)
        allowed = ("N", "SS", "NS", "BS") if clause == "ADD" else ("SS", "NS", "BS")
        if kind not in allowed:
            raise self.wrong_type(clause, _LONG_TYPES[kind], "operator")
        return (path, value)

    def set_value(self) -> Any:
        left = self.set_operand()
        if self.at("+") or self.at("-"):
            op = self.advance().text
            right = self.set_operand()
            for operand in (left, right):
                if isinstance(operand, Value) and value_type(operand.value) != "N":
                    raise self.wrong_type(op, _LONG_TYPES[value_type(operand.value)], "operator")
            return Arithmetic(op, left, right)
        return left

    def set_operand(self) -> Any:
        if self.is_call():
            call = self.call(UPDATE_FUNCTIONS, self.context)
            if call.name == "if_not_exists" and not isinstance(call.args[0], Path):
                raise self.fail("Operator or function requires a document path; operator or function: if_not_exists")
            if call.name == "list_append":
                for arg in call.args:
                    if isinstance(arg, Value) and value_type(arg.value) != "L":
                        raise self.wrong_type("list_append", value_type(arg.value))
            return call
        return self.operand()


_LONG_TYPES = {
    "S": "STRING",
    "N": "NUMBER",
    "B": "BINARY",
    "BOOL": "BOOLEAN",
    "NULL": "NULL",
    "M": "MAP",
    "L": "LIST",
    "SS": "STRING_SET",
    "NS": "NUMBER_SET",
    "BS": "BINARY_SET",
}


def parse_update(text: Any, refs: Placeholders) -> Update:
    return _UpdateParser(text, "UpdateExpression", refs).parse()


def apply_update(item: Item, update: Update) -> Item:
    """The item after ``update`` (every right-hand side is read from the item as it was)."""
    new = copy.deepcopy(item)
    sets = [(path, _set_value(item, value)) for path, value in update.set]
    for path, value in sets:
        _assign(new, path, value)
    for path, value in update.add:
        _assign(new, path, _added(resolve(item, path), value.value))
    for path, value in update.delete:
        remaining = _deleted(resolve(item, path), value.value)
        if remaining is None:
            _remove(new, [path])
        else:
            _assign(new, path, remaining)
    _remove(new, list(update.remove))
    return new


_WRONG_TYPE = "An operand in the update expression has an incorrect data type"
_MISSING = "The provided expression refers to an attribute that does not exist in the item"
_BAD_PATH = "The document path provided in the update expression is invalid for update"


def _set_value(item: Item, node: Any) -> AttributeValue:
    if isinstance(node, Value):
        return node.value
    if isinstance(node, Path):
        found = resolve(item, node)
        if found is None:
            raise invalid(_MISSING)
        return found
    if isinstance(node, Arithmetic):
        left, right = _set_value(item, node.left), _set_value(item, node.right)
        if value_type(left) != "N" or value_type(right) != "N":
            raise invalid(_WRONG_TYPE)
        return add_numbers(left, right, 1 if node.op == "+" else -1)
    if node.name == "if_not_exists":
        found = resolve(item, node.args[0])
        return found if found is not None else _set_value(item, node.args[1])
    first, second = (_set_value(item, arg) for arg in node.args)  # list_append
    if value_type(first) != "L" or value_type(second) != "L":
        raise invalid(_WRONG_TYPE)
    return {"L": first["L"] + second["L"]}


def _added(existing: AttributeValue | None, value: AttributeValue) -> AttributeValue:
    if existing is None:
        return value
    kind = value_type(value)
    if value_type(existing) != kind:
        raise invalid(_WRONG_TYPE)
    if kind == "N":
        return add_numbers(existing, value)
    element = SET_TYPES[kind]
    have = {_set_key(element, m) for m in existing[kind]}
    return {kind: existing[kind] + [m for m in value[kind] if _set_key(element, m) not in have]}


def _deleted(existing: AttributeValue | None, value: AttributeValue) -> AttributeValue | None:
    kind = value_type(value)
    if existing is None:
        return None
    if value_type(existing) != kind:
        raise invalid(_WRONG_TYPE)
    element = SET_TYPES[kind]
    drop = {_set_key(element, m) for m in value[kind]}
    left = [m for m in existing[kind] if _set_key(element, m) not in drop]
    return {kind: left} if left else None


def _container(item: Item, path: Path) -> Any:
    """The map (dict of values) or list that holds the last element of ``path``, or None."""
    if len(path.elements) == 1:
        return item
    parent = resolve(item, Path(path.elements[:-1]))
    if parent is None:
        return None
    last = path.elements[-1]
    if isinstance(last, str) and "M" in parent:
        return parent["M"]
    if isinstance(last, int) and "L" in parent:
        return parent["L"]
    raise invalid(_BAD_PATH)


def _assign(item: Item, path: Path, value: AttributeValue) -> None:
    holder = _container(item, path)
    if holder is None:
        raise invalid(_BAD_PATH)
    last = path.elements[-1]
    if isinstance(holder, list):
        assert isinstance(last, int)
        if last >= len(holder):
            holder.append(value)  # past the end: DynamoDB appends
        else:
            holder[last] = value
    else:
        holder[str(last)] = value


def _remove(item: Item, paths: list[Path]) -> None:
    # List elements go last to first, so that each index still means what it meant in the request.
    ordered = sorted(paths, key=lambda p: -p.elements[-1] if isinstance(p.elements[-1], int) else 1)
    for path in ordered:
        holder = _container(item, path)
        last = path.elements[-1]
        if isinstance(holder, list):
            if isinstance(last, int) and last < len(holder):
                del holder[last]
        elif holder is not None:
            holder.pop(str(last), None)


# -- evaluation --------------------------------------------------------------------------------------


def resolve(item: Mapping[str, AttributeValue], path: Path) -> AttributeValue | None:
    """The value at ``path`` in ``item``, or None if there is none."""
    first, *rest = path.elements
    current = item.get(str(first))
    for element in rest:
        if current is None:
            return None
        if isinstance(element, int):
            items = current.get("L")
            current = items[element] if items is not None and element < len(items) else None
        else:
            members = current.get("M")
            current = members.get(element) if members is not None else None
    return current


def evaluate(node: Any, item: Mapping[str, AttributeValue]) -> bool:
    """Whether a parsed condition holds for ``item`` (an empty mapping when there is no item)."""
    if isinstance(node, Parenthesized):
        return evaluate(node.inner, item)
    if isinstance(node, Logical):
        if node.op == "AND":
            return evaluate(node.left, item) and evaluate(node.right, item)
        return evaluate(node.left, item) or evaluate(node.right, item)
    if isinstance(node, Not):
        return not evaluate(node.operand, item)
    if isinstance(node, Comparison):
        return _compare_op(node.op, _operand(node.left, item), _operand(node.right, item))
    if isinstance(node, Between):
        value = _operand(node.operand, item)
        low, high = compare(value, _operand(node.low, item)), compare(value, _operand(node.high, item))
        return low is not None and high is not None and low >= 0 and high <= 0
    if isinstance(node, In):
        value = _operand(node.operand, item)
        return any(equal(value, _operand(option, item)) for option in node.options)
    return _function(node, item)


def _compare_op(op: str, left: AttributeValue | None, right: AttributeValue | None) -> bool:
    if op == "=":
        return equal(left, right)
    if op == "<>":
        # An absent attribute is not equal to anything.
        return not equal(left, right) if left is not None and right is not None else True
    order = compare(left, right)
    if order is None:
        return False
    return {"<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0}[op]


def _operand(node: Any, item: Mapping[str, AttributeValue]) -> AttributeValue | None:
    if isinstance(node, Value):
        return node.value
    if isinstance(node, Path):
        return resolve(item, node)
    return _size(resolve(item, node.args[0]))  # size(path): the only function that is an operand


def _size(value: AttributeValue | None) -> AttributeValue | None:
    if value is None:
        return None
    kind, raw = next(iter(value.items()))
    if kind == "S":
        return {"N": str(len(raw))}
    if kind == "B":
        return {"N": str(len(binary(raw)))}
    if kind in ("M", "L", "SS", "NS", "BS"):
        return {"N": str(len(raw))}
    return None


def _function(call: Call, item: Mapping[str, AttributeValue]) -> bool:
    found = resolve(item, call.args[0])
    if call.name == "attribute_exists":
        return found is not None
    if call.name == "attribute_not_exists":
        return found is None
    if call.name == "attribute_type":
        return found is not None and value_type(found) == call.args[1].value["S"]
    other = _operand(call.args[1], item)
    if call.name == "begins_with":
        return _begins_with(found, other)
    return _contains(found, other)


def _begins_with(value: AttributeValue | None, prefix: AttributeValue | None) -> bool:
    if value is None or prefix is None or value_type(value) != value_type(prefix):
        return False
    if "S" in value:
        return bool(value["S"].startswith(prefix["S"]))
    if "B" in value:
        return binary(value["B"]).startswith(binary(prefix["B"]))
    return False


def _contains(value: AttributeValue | None, operand: AttributeValue | None) -> bool:
    if value is None or operand is None:
        return False
    kind = value_type(value)
    if kind == "S" and "S" in operand:
        return bool(operand["S"] in value["S"])
    if kind == "B" and "B" in operand:
        return binary(operand["B"]) in binary(value["B"])
    if kind in SET_TYPES:
        element = SET_TYPES[kind]
        if value_type(operand) != element:
            return False
        return _set_key(element, operand[element]) in {_set_key(element, m) for m in value[kind]}
    if kind == "L":
        return any(equal(member, operand) for member in value["L"])
    return False


def condition_paths(node: Any) -> list[Path]:
    """Every document path a parsed condition reads."""
    if isinstance(node, Path):
        return [node]
    if isinstance(node, Parenthesized):
        return condition_paths(node.inner)
    if isinstance(node, Logical | Comparison):
        return condition_paths(node.left) + condition_paths(node.right)
    if isinstance(node, Not):
        return condition_paths(node.operand)
    if isinstance(node, Between):
        return [p for part in (node.operand, node.low, node.high) for p in condition_paths(part)]
    if isinstance(node, In):
        return [p for part in (node.operand, *node.options) for p in condition_paths(part)]
    if isinstance(node, Call):
        return [p for part in node.args for p in condition_paths(part)]
    return []
