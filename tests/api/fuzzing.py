"""Requests drawn from the AWS service model, and what an answer to any of them must be.

Shared by the fuzz suite (``tests/api/test_fuzz.py``) and the long campaign (``bench/fuzz.py``).
Every action's body is drawn from its input shape in botocore's model of Step Functions: values
that fit the shape (lengths, enums, ranges), values just outside it, values of the wrong JSON type,
hostile strings (NUL, lone surrogates, digits that are not ASCII), JSON-in-string fields nested far
too deep or holding numbers too long to read, and raw bodies that are not JSON objects at all.
ARNs come from real resources the target made first, so requests get past the lookups.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import botocore.session
import httpx
from hypothesis import strategies as st
from sqlalchemy import func, select

from orchestrator.store.db import session_scope
from orchestrator.store.models import Activity, Execution, StateMachine, StateMachineAlias, StateMachineVersion

MODEL = botocore.session.get_session().get_service_model("stepfunctions")
OPERATIONS = sorted(MODEL.operation_names)
ROLE = "arn:aws:iam::123456789012:role/fuzz"
ERROR_KEYS = {"__type", "message", "reason"}
MAX_ERROR_BYTES = 20_000  # an error names the value it refuses, truncated: never a 1 MB echo
COUNTED = (StateMachine, Execution, Activity, StateMachineAlias, StateMachineVersion)
# Actions whose refusal must leave every table as it was (the others write nothing to count).
WRITERS = {
    "CreateStateMachine",
    "CreateActivity",
    "CreateStateMachineAlias",
    "StartExecution",
    "StartSyncExecution",
    "PublishStateMachineVersion",
    "UpdateStateMachine",
}

HUGE_NUMBER = "1" * 5_000
HOSTILE_STRINGS = (
    "",
    " ",
    "\u0000",
    "a\u0000b",
    "\ud800",
    "x\udfffy",
    "²",
    "\u0661",
    "99999999999999999999999",
    "NaN",
    "-1",
    "\uffff",
    "\U0001d4cd🙂",
    "'; DROP TABLE state_machines; --",
    "%s%n{0}",
    "a:b:c:d:e:f:g:h",
    "x" * 81,
    "y" * 257,
)
WRONG_TYPES = (None, True, False, 0, -1, 1.5, 1e300, "", "x", [], {}, [None], {"a": None}, [[]])


def json_texts() -> st.SearchStrategy[str]:
    """Text for the fields that hold JSON in a string: real JSON, and what breaks parsers."""
    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    )
    depth = st.sampled_from([100, 900, 1_100, 5_000, 100_000])
    return st.one_of(
        values.map(json.dumps),
        depth.map(lambda n: "[" * n + "]" * n),
        depth.map(lambda n: '{"a":' * n + "1" + "}" * n),
        st.sampled_from(
            [
                "NaN",
                "Infinity",
                "-Infinity",
                "1e999",
                '{"n": 1e999}',
                HUGE_NUMBER,
                '{"n": ' + HUGE_NUMBER + "}",
                '"\\ud800"',
                '{"\\ud800": 1}',
                '{"a": "\\u0000"}',
                "{",
                "",
                "nul\u0000",
                "\ud800",
            ]
        ),
    )


@dataclass
class FuzzTarget:
    """A server to fuzz, the resources it was given first (their ARNs feed the requests), and its database."""

    http: httpx.Client
    database_url: str
    machine: str = ""
    version: str = ""
    version2: str = ""
    alias: str = ""
    express: str = ""
    wait_machine: str = ""
    running: str = ""
    activity: str = ""
    role: str = ROLE
    sign: Any = None  # (method, headers, body) -> headers, when the server checks signatures
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    pass_definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    pass_state = json.dumps({"Type": "Pass", "End": True})

    @classmethod
    def prepare(cls, http: httpx.Client, database_url: str, sign: Any = None) -> FuzzTarget:
        t = cls(http, database_url, sign=sign)
        created = t.call("CreateStateMachine", t.create_body(name=f"fuzz-{t.suffix}", publish=True))
        t.machine, t.version = created["stateMachineArn"], created["stateMachineVersionArn"]
        other = json.dumps({"StartAt": "Q", "States": {"Q": {"Type": "Pass", "End": True}}})
        updated = t.call("UpdateStateMachine", {"stateMachineArn": t.machine, "definition": other, "publish": True})
        t.version2 = updated["stateMachineVersionArn"]
        routing = [{"stateMachineVersionArn": t.version, "weight": 100}]
        t.alias = t.call("CreateStateMachineAlias", {"name": "live", "routingConfiguration": routing})[
            "stateMachineAliasArn"
        ]
        t.express = t.call("CreateStateMachine", t.create_body(name=f"fuzz-x-{t.suffix}", type="EXPRESS"))[
            "stateMachineArn"
        ]
        waiting = t.wait_definition("3600")
        t.wait_machine = t.call("CreateStateMachine", t.create_body(name=f"fuzz-w-{t.suffix}", definition=waiting))[
            "stateMachineArn"
        ]
        t.running = t.doomed()
        t.activity = t.call("CreateActivity", {"name": f"fuzz-a-{t.suffix}"})["activityArn"]
        return t

    # -- requests ------------------------------------------------------------------------------------

    def send(self, action: str, body: dict[str, Any] | bytes) -> httpx.Response:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"x-amz-target": f"AWSStepFunctions.{action}", "content-type": "application/x-amz-json-1.0"}
        if self.sign is not None:
            headers = self.sign(headers, data)
        return self.http.post("/", content=data, headers=headers)

    def call(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.send(action, body)
        assert response.status_code == 200, f"{action}: {response.text}"
        return dict(response.json())

    def doomed(self) -> str:
        """A new execution that waits an hour: one to stop."""
        return str(self.call("StartExecution", {"stateMachineArn": self.wait_machine})["executionArn"])

    # -- bodies --------------------------------------------------------------------------------------

    def create_body(self, **members: Any) -> dict[str, Any]:
        return {"name": f"f-{uuid.uuid4().hex[:10]}", "roleArn": self.role, "definition": self.pass_definition} | (
            members
        )

    @staticmethod
    def wait_definition(seconds: str) -> str:
        return '{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": ' + seconds + ', "End": true}}}'

    @staticmethod
    def pass_named(state: str) -> str:
        return json.dumps({"StartAt": state, "States": {state: {"Type": "Pass", "End": True}}})

    @staticmethod
    def result_path_state(depth: int) -> str:
        return json.dumps({"Type": "Pass", "ResultPath": "$" + ".a" * depth, "End": True})

    @property
    def map_run(self) -> str:
        return self.running.replace(":execution:", ":mapRun:", 1) + "/map:" + self.suffix

    def arns(self, action: str) -> list[str]:
        """Real ARNs for ``action`` to name; not for Delete* (the fuzzing would delete its own targets),
        nor the activity for GetActivityTask (a real one long-polls a minute)."""
        if action.startswith("Delete"):
            return []
        real = [self.machine, self.version, self.version2, self.alias, self.express, self.running, self.map_run]
        return real if action == "GetActivityTask" else [*real, self.activity]

    def rows(self) -> tuple[int, ...]:
        with session_scope(self.database_url) as session:
            return tuple(session.scalar(select(func.count()).select_from(model)) or 0 for model in COUNTED)


# -- what an answer must be ------------------------------------------------------------------------


def check_answer(response: httpx.Response) -> str | None:
    """What is wrong with an answer, or None: under 500, JSON, AWS's error shape, short, no traceback."""
    if response.status_code >= 500:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    text = response.text
    if "Traceback" in text or 'File "/' in text:
        return f"a traceback in the answer: {text[:300]}"
    try:
        body = json.loads(response.content)
    except ValueError:
        return f"not JSON: {text[:300]}"
    if not isinstance(body, dict):
        return f"not a JSON object: {text[:300]}"
    if response.status_code == 200:
        return None
    if not isinstance(body.get("__type"), str) or not isinstance(body.get("message"), str) or set(body) - ERROR_KEYS:
        return f"not AWS's error shape: {text[:300]}"
    if len(response.content) > MAX_ERROR_BYTES:
        return f"an error of {len(response.content):,} bytes (a value echoed whole?)"
    return None


def rows_written(action: str, response: httpx.Response, before: tuple[int, ...], after: tuple[int, ...]) -> str | None:
    if response.status_code == 200 or before == after:
        return None
    names = [model.__tablename__ for model in COUNTED]
    changed = {name: (b, a) for name, b, a in zip(names, before, after, strict=True) if b != a}
    return f"{action} was refused ({response.json().get('__type')}) but wrote rows: {changed}"


# -- requests drawn from the model -----------------------------------------------------------------


def requests_for(target: FuzzTarget) -> st.SearchStrategy[tuple[str, dict[str, Any] | bytes]]:
    """(action, body): a body drawn from the action's input shape, now and then raw bytes instead."""
    return st.sampled_from(OPERATIONS).flatmap(lambda action: st.tuples(st.just(action), _body(action, target)))


def _body(action: str, target: FuzzTarget) -> st.SearchStrategy[Any]:
    """Half the bodies fit the shape (so requests reach the actions), the rest are hostile."""
    shape = MODEL.operation_model(action).input_shape
    clean = _structure(shape, _Context(action, target, dirty=False), top=True)
    dirty = _structure(shape, _Context(action, target, dirty=True), top=True)
    return st.one_of(clean, clean, clean, dirty, dirty, _raw_bodies())


@dataclass(frozen=True)
class _Context:
    action: str
    target: FuzzTarget
    dirty: bool  # whether values may break their shape


def _raw_bodies() -> st.SearchStrategy[bytes]:
    deep = st.sampled_from([1_000, 100_000]).map(lambda n: ('{"a":' + "[" * n + "]" * n + "}").encode())
    return st.one_of(
        deep,
        st.sampled_from(
            [
                b"",
                b"{",
                b"[]",
                b"null",
                b'"x"',
                b"1",
                b"\xff\xfe{}",
                b'{"a": 1}{',
                b'{"maxResults": ' + HUGE_NUMBER.encode() + b"}",
                b'{"maxResults": NaN}',
                b'{"maxResults": 1e999}',
                b'{"\\ud800": "\\udc00"}',
                b'{"name": "\xed\xa0\x80"}',  # a surrogate encoded in UTF-8: not UTF-8
            ]
        ),
        st.binary(max_size=64),
    )


def _value(shape: Any, member: str, context: _Context) -> st.SearchStrategy[Any]:
    """A value for ``member``: mostly of its shape, sometimes hostile, sometimes of another type."""
    fitting = _fitting(shape, member, context)
    if not context.dirty:
        return fitting
    return st.one_of(fitting, fitting, fitting, st.sampled_from(WRONG_TYPES))


def _fitting(shape: Any, member: str, context: _Context) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape, context)
    if kind == "list":
        limit = shape.metadata.get("max", 4) + 1
        return st.lists(_value(shape.member, member, context), max_size=min(limit, 6))
    if kind == "map":
        return st.dictionaries(st.text(max_size=8), _value(shape.value, member, context), max_size=3)
    if kind == "boolean":
        return st.booleans()
    if kind in ("integer", "long"):
        return _numbers(shape, integral=True, dirty=context.dirty)
    if kind in ("float", "double"):
        return _numbers(shape, integral=False, dirty=context.dirty)
    if kind == "string":
        return _string(shape, member, context)
    return st.sampled_from(WRONG_TYPES)


def _structure(shape: Any, context: _Context, top: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    members = {name: _value(member, name, context) for name, member in shape.members.items()}
    required = {name: members[name] for name in shape.required_members}
    optional = {name: value for name, value in members.items() if name not in required}
    complete = st.fixed_dictionaries(required, optional=optional)
    # Without a required member now and then; at the top, with a member the model does not know.
    loose = st.fixed_dictionaries({}, optional=members)
    stray = st.fixed_dictionaries(required, optional={**optional, "unknownMember": st.sampled_from(WRONG_TYPES)})
    if not context.dirty:
        return complete
    return st.one_of(complete, complete, complete, loose, stray) if top else st.one_of(complete, loose)


def _numbers(shape: Any, *, integral: bool, dirty: bool) -> st.SearchStrategy[Any]:
    low, high = shape.metadata.get("min", -(2**31)), shape.metadata.get("max", 2**31)
    edges = [low - 1, low, high, high + 1, 2**63, -(2**63) - 1, 10**30]
    inside = st.integers(low, high) if integral else st.floats(low, high)
    if not dirty:
        return inside
    odd = st.sampled_from([0.5, 100.5, -0.0, 1e300, "1", "abc"])
    return st.one_of(inside, inside, st.sampled_from(edges), odd)


def _string(shape: Any, member: str, context: _Context) -> st.SearchStrategy[str]:
    low, high = shape.metadata.get("min", 0), shape.metadata.get("max", 300)
    over = st.sampled_from("xé\U0001d4cd").map(lambda char: char * (high + 1))  # one character too many
    texts = st.text(min_size=low, max_size=min(high, 300))
    if not context.dirty:
        return _clean_string(shape, member, context, texts)
    texts = texts | over
    hostile = st.sampled_from(HOSTILE_STRINGS)
    if shape.enum:
        return st.sampled_from(shape.enum) | st.sampled_from(shape.enum) | hostile | st.just("E" * (high + 10**4))
    if member in ("definition",):
        target = context.target
        return st.sampled_from([target.pass_definition, target.pass_state]) | json_texts() | hostile
    if member in ("input", "output", "variables", "context", "result"):
        return json_texts() | hostile
    if member.lower().endswith("arn"):
        return _arns(context) | hostile | texts
    return texts | hostile


def _clean_string(shape: Any, member: str, context: _Context, texts: Any) -> st.SearchStrategy[str]:
    """A string as a well-meaning client sends it: an enum's value, a real ARN, JSON, a plain name."""
    target = context.target
    if shape.enum:
        return st.sampled_from(shape.enum)
    if member == "definition":
        return st.sampled_from([target.pass_definition, target.pass_state])
    if member in ("input", "output", "variables", "context", "result"):
        return st.sampled_from(['{"a": 1}', "{}", "[1, 2]", '"text"'])
    if member.lower().endswith("arn"):
        real = target.arns(context.action)
        return st.sampled_from(real) if real else _arns(context)
    if member == "name" or shape.name in ("Name", "CharacterRestrictedName"):
        return st.text("abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=80)
    return texts


def _arns(context: _Context) -> st.SearchStrategy[str]:
    target = context.target
    real = target.arns(context.action)
    base = target.machine
    made_up = st.sampled_from(
        [
            f"{base}:²",
            f"{base}:\u0661",
            f"{base}:99999999999999999999999",
            f"{base}:0",
            f"{base}:live\u0000",
            f"{base}\ud800",
            f"{base}-gone",
            base.replace(":stateMachine:", ":activity:"),
            base.replace(":stateMachine:", ":execution:") + ":nope",
            "arn:aws:states:us-east-1:123456789012:mapRun:x/y:z",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            "arn",
            "arn:" * 30,
        ]
    )
    if not real:
        return made_up
    suffixed = st.tuples(st.sampled_from(real), st.sampled_from(HOSTILE_STRINGS)).map(lambda pair: pair[0] + pair[1])
    return st.one_of(st.sampled_from(real), st.sampled_from(real), suffixed, made_up)
