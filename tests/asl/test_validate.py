"""The definition validator: one table row per mistake a person can make in a definition.

Each row takes a small valid base definition, applies a mutation (JSON pointer -> new value, or
`DELETE`), and names the diagnostic it must produce: its code, its location (a JSON pointer) and a
word its message must contain. The bases themselves must validate with no diagnostic at all, so a
row fails for its own mistake and nothing else. The warnings (NO_DOLLAR, NO_PATH,
PASS_RESULT_IS_STATIC) have their own table: they never make a definition invalid.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from orchestrator.asl.errors import DefinitionError, Diagnostic
from orchestrator.asl.parse import MAX_NESTING, parse, validate

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:work"

# Every state type, each field small, so that a mutation touches one thing.
BASE: dict[str, Any] = {
    "Comment": "The JSONPath base",
    "StartAt": "Start",
    "States": {
        "Start": {"Type": "Pass", "Result": {"n": 2}, "ResultPath": "$.start", "Next": "Work"},
        "Work": {
            "Type": "Task",
            "Resource": LAMBDA,
            "Parameters": {"id.$": "$.id", "fixed": 1},
            "TimeoutSeconds": 30,
            "Retry": [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 2, "BackoffRate": 1.5}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
            "Next": "Decide",
        },
        "Decide": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.start.n", "NumericGreaterThan": 1, "Next": "Items"},
                {
                    "And": [
                        {"Variable": "$.name", "IsPresent": True},
                        {"Variable": "$.name", "StringEquals": "fan"},
                    ],
                    "Next": "Fan",
                },
            ],
            "Default": "Pause",
        },
        "Items": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "Each", "States": {"Each": {"Type": "Pass", "End": True}}},
            "Next": "Fan",
        },
        "Fan": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
                {"StartAt": "Right", "States": {"Right": {"Type": "Succeed"}}},
            ],
            "Next": "Pause",
        },
        "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
        "Done": {"Type": "Succeed"},
        "Failed": {"Type": "Fail", "Error": "Broken", "Cause": "it broke"},
    },
}

JSONATA_BASE: dict[str, Any] = {
    "QueryLanguage": "JSONata",
    "StartAt": "Start",
    "States": {
        "Start": {"Type": "Pass", "Output": {"n": "{% $states.input.n + 1 %}"}, "Next": "Work"},
        "Work": {
            "Type": "Task",
            "Resource": LAMBDA,
            "Arguments": {"id": "{% $states.input.id %}"},
            "Assign": {"total": "{% $states.result.total %}"},
            "Output": "{% $states.result %}",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Output": "{% $states.errorOutput %}", "Next": "Failed"}],
            "Next": "Decide",
        },
        "Decide": {
            "Type": "Choice",
            "Choices": [{"Condition": "{% $total > 1 %}", "Next": "Pause"}],
            "Default": "Done",
        },
        "Pause": {"Type": "Wait", "Seconds": "{% $total %}", "Next": "Done"},
        "Done": {"Type": "Succeed", "Output": "{% $total %}"},
        "Failed": {"Type": "Fail", "Error": "Broken", "Cause": "{% $string($total) %}"},
    },
}

DELETE = object()  # as a mutation value: remove the field


def mutated(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with each JSON pointer of ``changes`` set (or removed by `DELETE`)."""
    doc = copy.deepcopy(base)
    for pointer, value in changes.items():
        *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key: Any = int(last) if isinstance(node, list) else last
        if value is DELETE:
            del node[key]
        else:
            node[key] = copy.deepcopy(value)
    return doc


@dataclass(frozen=True)
class Mistake:
    """A mutation of a base definition and the diagnostic it must produce."""

    id: str
    changes: dict[str, Any]
    code: str
    location: str
    word: str
    base: dict[str, Any] = field(default_factory=lambda: BASE)

    def definition(self) -> dict[str, Any]:
        return mutated(self.base, self.changes)


SCHEMA = "SCHEMA_VALIDATION_FAILED"
TARGET = "MISSING_TRANSITION_TARGET"

TASK = "/States/Work"  # the Task state of both bases
CHOICE = "/States/Decide/Choices/0"


def _nested(depth: int) -> dict[str, Any]:
    """A Parallel state with ``depth`` levels of Parallel states below it, names all distinct."""
    inner: dict[str, Any] = {"Type": "Pass", "End": True}
    name = "Leaf"
    for level in range(depth):
        inner = {
            "Type": "Parallel",
            "Branches": [{"StartAt": name, "States": {name: inner}}],
            "End": True,
        }
        name = f"Level{level}"
    return {"StartAt": name, "States": {name: inner}}


MISTAKES = [
    # -- the document ------------------------------------------------------------------------------
    Mistake("startat-missing", {"/StartAt": DELETE}, SCHEMA, "/StartAt", "StartAt"),
    Mistake("startat-unknown", {"/StartAt": "Nowhere"}, TARGET, "/StartAt", "Nowhere"),
    Mistake("startat-not-string", {"/StartAt": 3}, SCHEMA, "/StartAt", "string"),
    Mistake("states-missing", {"/States": DELETE}, SCHEMA, "/States", "required"),
    Mistake("states-empty", {"/States": {}}, SCHEMA, "/States", "non-empty"),
    Mistake("states-not-object", {"/States": ["Start"]}, SCHEMA, "/States", "object"),
    Mistake("unknown-top-field", {"/Steps": {}}, SCHEMA, "/Steps", "Steps"),
    Mistake("version-not-1.0", {"/Version": "2.0"}, SCHEMA, "/Version", "1.0"),
    Mistake("machine-timeout-negative", {"/TimeoutSeconds": -1}, SCHEMA, "/TimeoutSeconds", "integer"),
    Mistake("machine-timeout-string", {"/TimeoutSeconds": "60"}, SCHEMA, "/TimeoutSeconds", "integer"),
    Mistake("query-language-unknown", {"/QueryLanguage": "XPath"}, SCHEMA, "/QueryLanguage", "JSONata"),
    Mistake("comment-not-string", {"/Comment": 7}, SCHEMA, "/Comment", "string"),
    # -- states ------------------------------------------------------------------------------------
    Mistake("state-not-object", {"/States/Pause": "Wait"}, SCHEMA, "/States/Pause", "object"),
    Mistake("type-missing", {"/States/Pause/Type": DELETE}, SCHEMA, "/States/Pause/Type", "required"),
    Mistake("type-unknown", {"/States/Pause/Type": "Sleep"}, SCHEMA, "/States/Pause/Type", "Sleep"),
    Mistake("unknown-state-field", {"/States/Pause/Color": "red"}, SCHEMA, "/States/Pause/Color", "Color"),
    Mistake(
        "field-of-another-type",
        {"/States/Start/Resource": LAMBDA},
        SCHEMA,
        "/States/Start/Resource",
        "Pass",
    ),
    Mistake(
        "name-too-long",
        {"/States/" + "x" * 81: {"Type": "Succeed"}, "/States/Pause/Next": "x" * 81},
        "INVALID_STATE_NAME",
        "/States/" + "x" * 81,
        "80",
    ),
    Mistake(
        "name-control-character",
        {"/States/Bad\nName": {"Type": "Succeed"}, "/States/Pause/Next": "Bad\nName"},
        "INVALID_STATE_NAME",
        "/States/Bad\nName",
        "control",
    ),
    Mistake(
        "name-empty",
        {"/States/": {"Type": "Succeed"}, "/States/Pause/Next": ""},
        "INVALID_STATE_NAME",
        "/States/",
        "1 to 80",
    ),
    Mistake("comment-of-state-not-string", {"/States/Done/Comment": []}, SCHEMA, "/States/Done/Comment", "string"),
    # -- transitions -------------------------------------------------------------------------------
    Mistake("next-unknown", {"/States/Pause/Next": "Finish"}, TARGET, "/States/Pause/Next", "Finish"),
    Mistake("next-not-string", {"/States/Pause/Next": 1}, SCHEMA, "/States/Pause/Next", "string"),
    Mistake(
        "unreachable-state",
        {"/States/Orphan": {"Type": "Pass", "End": True}},
        TARGET,
        "/States/Orphan",
        "reachable",
    ),
    Mistake("next-and-end", {"/States/Pause/End": True}, SCHEMA, "/States/Pause", "both"),
    Mistake("neither-next-nor-end", {"/States/Pause/Next": DELETE}, SCHEMA, "/States/Pause", "Next"),
    Mistake(
        "end-false",
        {"/States/Pause/Next": DELETE, "/States/Pause/End": False},
        SCHEMA,
        "/States/Pause",
        "true",
    ),
    Mistake(
        "no-terminal-state",
        {
            "/States": {
                "Ping": {"Type": "Pass", "Next": "Pong"},
                "Pong": {"Type": "Pass", "Next": "Ping"},
            },
            "/StartAt": "Ping",
        },
        "MISSING_END_STATE",
        "/States",
        "terminal",
    ),
    Mistake(
        "next-into-a-branch",
        {"/States/Pause/Next": "Left"},
        TARGET,
        "/States/Pause/Next",
        "Left",
    ),
    Mistake(
        "branch-next-out-of-the-branch",
        {"/States/Fan/Branches/0/States/Left": {"Type": "Pass", "Next": "Done"}},
        TARGET,
        "/States/Fan/Branches/0/States/Left/Next",
        "Done",
    ),
    Mistake(
        "choice-default-unknown",
        {"/States/Decide/Default": "Later"},
        TARGET,
        "/States/Decide/Default",
        "Later",
    ),
    Mistake("catch-next-unknown", {f"{TASK}/Catch/0/Next": "Oops"}, TARGET, f"{TASK}/Catch/0/Next", "Oops"),
    # -- duplicate names across scopes -------------------------------------------------------------
    Mistake(
        "duplicate-across-branches",
        {
            "/States/Fan/Branches/1/States": {"Left": {"Type": "Succeed"}},
            "/States/Fan/Branches/1/StartAt": "Left",
        },
        "DUPLICATE_STATE_NAME",
        "/States/Fan/Branches/1/States/Left",
        "Left",
    ),
    Mistake(
        "duplicate-in-map-processor",
        {
            "/States/Items/ItemProcessor/States": {"Start": {"Type": "Succeed"}},
            "/States/Items/ItemProcessor/StartAt": "Start",
        },
        "DUPLICATE_STATE_NAME",
        "/States/Items/ItemProcessor/States/Start",
        "/States/Start",
    ),
    # -- Task --------------------------------------------------------------------------------------
    Mistake("resource-missing", {f"{TASK}/Resource": DELETE}, SCHEMA, f"{TASK}/Resource", "required"),
    Mistake("resource-not-string", {f"{TASK}/Resource": {"arn": LAMBDA}}, SCHEMA, f"{TASK}/Resource", "string"),
    Mistake("resource-not-arn", {f"{TASK}/Resource": "my-function"}, "INVALID_RESOURCE", f"{TASK}/Resource", "ARN"),
    Mistake(
        "timeout-and-timeout-path",
        {f"{TASK}/TimeoutSecondsPath": "$.timeout"},
        SCHEMA,
        TASK,
        "TimeoutSecondsPath",
    ),
    Mistake(
        "heartbeat-and-heartbeat-path",
        {f"{TASK}/HeartbeatSeconds": 5, f"{TASK}/HeartbeatSecondsPath": "$.beat"},
        SCHEMA,
        TASK,
        "HeartbeatSecondsPath",
    ),
    Mistake(
        "heartbeat-equals-timeout", {f"{TASK}/HeartbeatSeconds": 30}, SCHEMA, f"{TASK}/HeartbeatSeconds", "smaller"
    ),
    Mistake("heartbeat-above-timeout", {f"{TASK}/HeartbeatSeconds": 31}, SCHEMA, f"{TASK}/HeartbeatSeconds", "smaller"),
    Mistake("timeout-zero", {f"{TASK}/TimeoutSeconds": 0}, SCHEMA, f"{TASK}/TimeoutSeconds", "integer"),
    Mistake("timeout-fraction", {f"{TASK}/TimeoutSeconds": 1.5}, SCHEMA, f"{TASK}/TimeoutSeconds", "integer"),
    Mistake(
        "timeout-path-not-reference",
        {f"{TASK}/TimeoutSeconds": DELETE, f"{TASK}/TimeoutSecondsPath": "$..t"},
        SCHEMA,
        f"{TASK}/TimeoutSecondsPath",
        "path",
    ),
    Mistake("credentials-not-object", {f"{TASK}/Credentials": "role"}, SCHEMA, f"{TASK}/Credentials", "object"),
    # -- Retry and Catch ---------------------------------------------------------------------------
    Mistake(
        "retry-all-not-alone",
        {f"{TASK}/Retry/0/ErrorEquals": ["States.ALL", "States.Timeout"]},
        SCHEMA,
        f"{TASK}/Retry/0/ErrorEquals",
        "alone",
    ),
    Mistake(
        "retry-all-not-last",
        {f"{TASK}/Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["States.Timeout"]}]},
        SCHEMA,
        f"{TASK}/Retry/0/ErrorEquals",
        "last",
    ),
    Mistake(
        "catch-all-not-alone",
        {f"{TASK}/Catch/0/ErrorEquals": ["States.TaskFailed", "States.ALL"]},
        SCHEMA,
        f"{TASK}/Catch/0/ErrorEquals",
        "alone",
    ),
    Mistake(
        "catch-all-not-last",
        {
            f"{TASK}/Catch": [
                {"ErrorEquals": ["States.ALL"], "Next": "Failed"},
                {"ErrorEquals": ["States.Timeout"], "Next": "Failed"},
            ]
        },
        SCHEMA,
        f"{TASK}/Catch/0/ErrorEquals",
        "last",
    ),
    Mistake(
        "retry-backoff-below-one",
        {f"{TASK}/Retry/0/BackoffRate": 0.5},
        SCHEMA,
        f"{TASK}/Retry/0/BackoffRate",
        "1.0",
    ),
    Mistake(
        "retry-backoff-string",
        {f"{TASK}/Retry/0/BackoffRate": "2"},
        SCHEMA,
        f"{TASK}/Retry/0/BackoffRate",
        "number",
    ),
    Mistake("retry-attempts-negative", {f"{TASK}/Retry/0/MaxAttempts": -1}, SCHEMA, f"{TASK}/Retry/0/MaxAttempts", "0"),
    Mistake(
        "retry-jitter-unknown",
        {f"{TASK}/Retry/0/JitterStrategy": "PARTIAL"},
        SCHEMA,
        f"{TASK}/Retry/0/JitterStrategy",
        "FULL",
    ),
    Mistake(
        "retry-interval-fraction",
        {f"{TASK}/Retry/0/IntervalSeconds": 1.5},
        SCHEMA,
        f"{TASK}/Retry/0/IntervalSeconds",
        "integer",
    ),
    Mistake(
        "retry-max-delay-negative",
        {f"{TASK}/Retry/0/MaxDelaySeconds": -3},
        SCHEMA,
        f"{TASK}/Retry/0/MaxDelaySeconds",
        "integer",
    ),
    Mistake(
        "retry-error-equals-missing",
        {f"{TASK}/Retry/0/ErrorEquals": DELETE},
        SCHEMA,
        f"{TASK}/Retry/0/ErrorEquals",
        "required",
    ),
    Mistake(
        "retry-error-equals-empty",
        {f"{TASK}/Retry/0/ErrorEquals": []},
        SCHEMA,
        f"{TASK}/Retry/0/ErrorEquals",
        "non-empty",
    ),
    Mistake("retry-unknown-field", {f"{TASK}/Retry/0/Next": "Done"}, SCHEMA, f"{TASK}/Retry/0/Next", "Next"),
    Mistake("retry-not-array", {f"{TASK}/Retry": {"ErrorEquals": ["States.ALL"]}}, SCHEMA, f"{TASK}/Retry", "array"),
    Mistake("retry-entry-not-object", {f"{TASK}/Retry/0": "States.ALL"}, SCHEMA, f"{TASK}/Retry/0", "object"),
    Mistake("catch-next-missing", {f"{TASK}/Catch/0/Next": DELETE}, SCHEMA, f"{TASK}/Catch/0/Next", "Next"),
    Mistake("retry-on-pass", {"/States/Start/Retry": []}, SCHEMA, "/States/Start/Retry", "Pass"),
    # -- JSONPath-only fields in JSONata states, and the reverse -----------------------------------
    *[
        Mistake(
            f"jsonata-{key.lower()}",
            {f"{TASK}/{key}": value},
            SCHEMA,
            f"{TASK}/{key}",
            "JSONata",
            base=JSONATA_BASE,
        )
        for key, value in (
            ("InputPath", "$.x"),
            ("Parameters", {"a.$": "$.a"}),
            ("ResultSelector", {"a.$": "$.a"}),
            ("ResultPath", "$.result"),
            ("OutputPath", "$.x"),
            ("TimeoutSecondsPath", "$.t"),
        )
    ],
    Mistake("jsonpath-arguments", {f"{TASK}/Arguments": {"a": 1}}, SCHEMA, f"{TASK}/Arguments", "JSONPath"),
    Mistake("jsonpath-output", {"/States/Done/Output": {"a": 1}}, SCHEMA, "/States/Done/Output", "JSONPath"),
    Mistake(
        "jsonpath-items",
        {"/States/Items/Items": [1, 2]},
        SCHEMA,
        "/States/Items/Items",
        "JSONPath",
    ),
    Mistake(
        "jsonpath-state-in-jsonata-machine",
        {"/States/Pause/QueryLanguage": "JSONPath"},
        SCHEMA,
        "/States/Pause/QueryLanguage",
        "JSONata",
        base=JSONATA_BASE,
    ),
    Mistake(
        "jsonata-syntax-in-output",
        {"/States/Start/Output": "{% $states.input. %}"},
        SCHEMA,
        "/States/Start/Output",
        "JSONata",
        base=JSONATA_BASE,
    ),
    Mistake(
        "jsonata-syntax-nested-in-arguments",
        {f"{TASK}/Arguments": {"deep": ["{% 1 + %}"]}},
        SCHEMA,
        f"{TASK}/Arguments/deep/0",
        "JSONata",
        base=JSONATA_BASE,
    ),
    Mistake(
        "jsonata-condition-missing",
        {"/States/Decide/Choices/0/Condition": DELETE},
        SCHEMA,
        "/States/Decide/Choices/0/Condition",
        "Condition",
        base=JSONATA_BASE,
    ),
    Mistake(
        "jsonata-condition-not-boolean",
        {"/States/Decide/Choices/0/Condition": "yes"},
        SCHEMA,
        "/States/Decide/Choices/0/Condition",
        "Condition",
        base=JSONATA_BASE,
    ),
    Mistake(
        "jsonata-rule-with-variable",
        {"/States/Decide/Choices/0/Variable": "$.x"},
        SCHEMA,
        "/States/Decide/Choices/0/Variable",
        "Variable",
        base=JSONATA_BASE,
    ),
    Mistake(
        "jsonata-seconds-not-expression",
        {"/States/Pause/Seconds": "ten"},
        SCHEMA,
        "/States/Pause/Seconds",
        "integer",
        base=JSONATA_BASE,
    ),
    # -- payload templates and intrinsic functions -------------------------------------------------
    Mistake(
        "intrinsic-unclosed",
        {f"{TASK}/Parameters/id.$": "States.Format('{}', $.id"},
        SCHEMA,
        f"{TASK}/Parameters/id.$",
        "intrinsic",
    ),
    Mistake(
        "intrinsic-unknown-function",
        {f"{TASK}/Parameters/id.$": "States.Concat($.a, $.b)"},
        SCHEMA,
        f"{TASK}/Parameters/id.$",
        "States.Concat",
    ),
    Mistake(
        "intrinsic-bad-escape",
        {f"{TASK}/Parameters/id.$": "States.Format('say \\\"hi\\\"')"},
        SCHEMA,
        f"{TASK}/Parameters/id.$",
        "intrinsic",
    ),
    Mistake("dollar-key-not-string", {f"{TASK}/Parameters/id.$": 5}, SCHEMA, f"{TASK}/Parameters/id.$", "path"),
    Mistake("dollar-key-bad-path", {f"{TASK}/Parameters/id.$": "$.a["}, SCHEMA, f"{TASK}/Parameters/id.$", "path"),
    Mistake(
        "key-twice-once-dollar-dropped",
        {f"{TASK}/Parameters": {"id": 1, "id.$": "$.id"}},
        SCHEMA,
        f"{TASK}/Parameters/id.$",
        "both",
    ),
    Mistake(
        "nested-key-twice-in-result-selector",
        {f"{TASK}/ResultSelector": {"out": {"a.$": "$.a", "a": 2}}},
        SCHEMA,
        f"{TASK}/ResultSelector/out/a",
        "both",
    ),
    Mistake("dollar-key-plain-text", {f"{TASK}/Parameters/id.$": "hello"}, SCHEMA, f"{TASK}/Parameters/id.$", "path"),
    # -- paths -------------------------------------------------------------------------------------
    Mistake("result-path-wildcard", {f"{TASK}/ResultPath": "$.a[*]"}, SCHEMA, f"{TASK}/ResultPath", "wildcard"),
    Mistake("result-path-filter", {f"{TASK}/ResultPath": "$.a[?(@.b)]"}, SCHEMA, f"{TASK}/ResultPath", "filter"),
    Mistake("result-path-context", {f"{TASK}/ResultPath": "$$.Execution"}, SCHEMA, f"{TASK}/ResultPath", "context"),
    Mistake("result-path-variable", {f"{TASK}/ResultPath": "$total"}, SCHEMA, f"{TASK}/ResultPath", "variable"),
    Mistake("input-path-bad-syntax", {f"{TASK}/InputPath": "$.a[1"}, SCHEMA, f"{TASK}/InputPath", "not closed"),
    Mistake("input-path-not-path", {f"{TASK}/InputPath": "a.b"}, SCHEMA, f"{TASK}/InputPath", "$"),
    Mistake("output-path-number", {f"{TASK}/OutputPath": 3}, SCHEMA, f"{TASK}/OutputPath", "string"),
    Mistake(
        "items-path-wildcard",
        {"/States/Items/ItemsPath": "$..items"},
        SCHEMA,
        "/States/Items/ItemsPath",
        "deep scan",
    ),
    # -- Choice ------------------------------------------------------------------------------------
    Mistake("choices-missing", {"/States/Decide/Choices": DELETE}, SCHEMA, "/States/Decide/Choices", "required"),
    Mistake("choices-empty", {"/States/Decide/Choices": []}, SCHEMA, "/States/Decide/Choices", "non-empty"),
    Mistake("rule-no-operator", {f"{CHOICE}/NumericGreaterThan": DELETE}, SCHEMA, CHOICE, "operator"),
    Mistake("rule-two-operators", {f"{CHOICE}/NumericEquals": 1}, SCHEMA, CHOICE, "NumericEquals"),
    Mistake(
        "rule-misspelt-operator",
        {f"{CHOICE}/NumericGreaterThan": DELETE, f"{CHOICE}/NumericGreater": 1},
        SCHEMA,
        f"{CHOICE}/NumericGreater",
        "NumericGreater",
    ),
    Mistake(
        "rule-wrong-operand-type",
        {f"{CHOICE}/NumericGreaterThan": "1"},
        SCHEMA,
        f"{CHOICE}/NumericGreaterThan",
        "number",
    ),
    Mistake(
        "rule-boolean-operand-for-number",
        {f"{CHOICE}/NumericGreaterThan": True},
        SCHEMA,
        f"{CHOICE}/NumericGreaterThan",
        "boolean",
    ),
    Mistake(
        "rule-bad-timestamp",
        {f"{CHOICE}/NumericGreaterThan": DELETE, f"{CHOICE}/TimestampEquals": "yesterday"},
        SCHEMA,
        f"{CHOICE}/TimestampEquals",
        "timestamp",
    ),
    Mistake(
        "rule-is-null-not-boolean",
        {f"{CHOICE}/NumericGreaterThan": DELETE, f"{CHOICE}/IsNull": "yes"},
        SCHEMA,
        f"{CHOICE}/IsNull",
        "true",
    ),
    Mistake(
        "rule-operator-path-bad",
        {f"{CHOICE}/NumericGreaterThan": DELETE, f"{CHOICE}/NumericEqualsPath": "$.a[*]"},
        SCHEMA,
        f"{CHOICE}/NumericEqualsPath",
        "path",
    ),
    Mistake("rule-variable-missing", {f"{CHOICE}/Variable": DELETE}, SCHEMA, f"{CHOICE}/Variable", "Variable"),
    Mistake("rule-variable-bad-path", {f"{CHOICE}/Variable": "start.n"}, SCHEMA, f"{CHOICE}/Variable", "$"),
    Mistake("rule-next-missing", {f"{CHOICE}/Next": DELETE}, SCHEMA, f"{CHOICE}/Next", "Next"),
    Mistake(
        "nested-rule-with-next",
        {"/States/Decide/Choices/1/And/0/Next": "Fan"},
        SCHEMA,
        "/States/Decide/Choices/1/And/0/Next",
        "top-level",
    ),
    Mistake("and-empty", {"/States/Decide/Choices/1/And": []}, SCHEMA, "/States/Decide/Choices/1/And", "non-empty"),
    Mistake(
        "and-with-or",
        {"/States/Decide/Choices/1/Or": [{"Variable": "$.x", "IsNull": True}]},
        SCHEMA,
        "/States/Decide/Choices/1",
        "one of",
    ),
    Mistake(
        "not-with-array",
        {
            "/States/Decide/Choices/1/And": DELETE,
            "/States/Decide/Choices/1/Not": [{"Variable": "$.x", "IsNull": True}],
        },
        SCHEMA,
        "/States/Decide/Choices/1/Not",
        "object",
    ),
    Mistake("choice-with-next", {"/States/Decide/Next": "Done"}, SCHEMA, "/States/Decide/Next", "Choice"),
    Mistake("choice-with-end", {"/States/Decide/End": True}, SCHEMA, "/States/Decide/End", "Choice"),
    Mistake(
        "choice-with-result-path",
        {"/States/Decide/ResultPath": "$.r"},
        SCHEMA,
        "/States/Decide/ResultPath",
        "Choice",
    ),
    # -- Wait --------------------------------------------------------------------------------------
    Mistake("wait-none", {"/States/Pause/Seconds": DELETE}, SCHEMA, "/States/Pause", "exactly one"),
    Mistake("wait-two", {"/States/Pause/Timestamp": "2016-03-14T01:59:00Z"}, SCHEMA, "/States/Pause", "only one"),
    Mistake("wait-seconds-negative", {"/States/Pause/Seconds": -1}, SCHEMA, "/States/Pause/Seconds", "integer"),
    Mistake(
        "wait-bad-timestamp",
        {"/States/Pause/Seconds": DELETE, "/States/Pause/Timestamp": "2016-03-14 01:59"},
        SCHEMA,
        "/States/Pause/Timestamp",
        "RFC 3339",
    ),
    Mistake(
        "wait-seconds-path-bad",
        {"/States/Pause/Seconds": DELETE, "/States/Pause/SecondsPath": "$.a[*]"},
        SCHEMA,
        "/States/Pause/SecondsPath",
        "path",
    ),
    # -- Map ---------------------------------------------------------------------------------------
    Mistake(
        "map-no-processor",
        {"/States/Items/ItemProcessor": DELETE},
        SCHEMA,
        "/States/Items/ItemProcessor",
        "ItemProcessor",
    ),
    Mistake(
        "map-processor-and-iterator",
        {"/States/Items/Iterator": {"StartAt": "Other", "States": {"Other": {"Type": "Pass", "End": True}}}},
        SCHEMA,
        "/States/Items",
        "Iterator",
    ),
    Mistake(
        "map-distributed-without-execution-type",
        {"/States/Items/ItemProcessor/ProcessorConfig": {"Mode": "DISTRIBUTED"}},
        SCHEMA,
        "/States/Items/ItemProcessor/ProcessorConfig",
        "ExecutionType",
    ),
    Mistake(
        "map-mode-unknown",
        {"/States/Items/ItemProcessor/ProcessorConfig": {"Mode": "PARALLEL"}},
        SCHEMA,
        "/States/Items/ItemProcessor/ProcessorConfig/Mode",
        "DISTRIBUTED",
    ),
    Mistake(
        "map-execution-type-unknown",
        {"/States/Items/ItemProcessor/ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "FAST"}},
        SCHEMA,
        "/States/Items/ItemProcessor/ProcessorConfig/ExecutionType",
        "EXPRESS",
    ),
    Mistake(
        "map-item-selector-and-parameters",
        {"/States/Items/ItemSelector": {"a": 1}, "/States/Items/Parameters": {"a": 1}},
        SCHEMA,
        "/States/Items",
        "Parameters",
    ),
    Mistake(
        "map-tolerated-percentage-above-100",
        {"/States/Items/ToleratedFailurePercentage": 101},
        SCHEMA,
        "/States/Items/ToleratedFailurePercentage",
        "100",
    ),
    Mistake(
        "map-concurrency-and-path",
        {"/States/Items/MaxConcurrency": 2, "/States/Items/MaxConcurrencyPath": "$.c"},
        SCHEMA,
        "/States/Items",
        "MaxConcurrencyPath",
    ),
    Mistake(
        "map-concurrency-negative",
        {"/States/Items/MaxConcurrency": -1},
        SCHEMA,
        "/States/Items/MaxConcurrency",
        "integer",
    ),
    Mistake(
        "map-batcher-without-limit",
        {"/States/Items/ItemBatcher": {"BatchInput": {"a": 1}}},
        SCHEMA,
        "/States/Items/ItemBatcher",
        "MaxItemsPerBatch",
    ),
    Mistake(
        "map-processor-unknown-field",
        {"/States/Items/ItemProcessor/Next": "Done"},
        SCHEMA,
        "/States/Items/ItemProcessor/Next",
        "Next",
    ),
    Mistake(
        "map-processor-startat-missing",
        {"/States/Items/ItemProcessor/StartAt": DELETE},
        SCHEMA,
        "/States/Items/ItemProcessor/StartAt",
        "StartAt",
    ),
    Mistake("map-label-not-string", {"/States/Items/Label": 7}, SCHEMA, "/States/Items/Label", "string"),
    Mistake("map-label-too-long", {"/States/Items/Label": "L" * 41}, SCHEMA, "/States/Items/Label", "40"),
    Mistake("map-label-with-space", {"/States/Items/Label": "my run"}, SCHEMA, "/States/Items/Label", "whitespace"),
    Mistake(
        "map-items-path-in-jsonata",
        {
            "/States/Pause": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {"StartAt": "Each", "States": {"Each": {"Type": "Pass", "End": True}}},
                "Next": "Done",
            }
        },
        SCHEMA,
        "/States/Pause/ItemsPath",
        "JSONata",
        base=JSONATA_BASE,
    ),
    Mistake(
        "map-item-reader-bad-path",
        {
            "/States/Items/ItemReader": {
                "Resource": "arn:aws:states:::s3:getObject",
                "Parameters": {"Key.$": "$.k["},
            }
        },
        SCHEMA,
        "/States/Items/ItemReader/Parameters/Key.$",
        "closed",
    ),
    Mistake(
        "map-batch-input-bad-intrinsic",
        {"/States/Items/ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"at.$": "States.Nope()"}}},
        SCHEMA,
        "/States/Items/ItemBatcher/BatchInput/at.$",
        "States.Nope",
    ),
    Mistake(
        "credentials-bad-jsonata",
        {f"{TASK}/Credentials": {"RoleArn": "{% $role. %}"}},
        SCHEMA,
        f"{TASK}/Credentials/RoleArn",
        "JSONata",
        base=JSONATA_BASE,
    ),
    Mistake(
        "map-processor-not-object",
        {"/States/Items/ItemProcessor": []},
        SCHEMA,
        "/States/Items/ItemProcessor",
        "object",
    ),
    # -- Parallel ----------------------------------------------------------------------------------
    Mistake("branches-missing", {"/States/Fan/Branches": DELETE}, SCHEMA, "/States/Fan/Branches", "required"),
    Mistake("branches-empty", {"/States/Fan/Branches": []}, SCHEMA, "/States/Fan/Branches", "non-empty"),
    Mistake("branch-not-object", {"/States/Fan/Branches/1": "Right"}, SCHEMA, "/States/Fan/Branches/1", "object"),
    Mistake(
        "branch-processor-config",
        {"/States/Fan/Branches/0/ProcessorConfig": {"Mode": "INLINE"}},
        SCHEMA,
        "/States/Fan/Branches/0/ProcessorConfig",
        "ProcessorConfig",
    ),
    Mistake(
        "too-deeply-nested",
        {"/States/Fan/Branches/0": _nested(MAX_NESTING + 8)},
        "TOO_DEEPLY_NESTED",
        # The Fan branch is nesting level 1; the first block past the limit is MAX_NESTING levels below.
        "/States/Fan/Branches/0" + "".join(f"/States/Level{n}/Branches/0" for n in range(MAX_NESTING + 7, 7, -1)),
        "deeply",
    ),
    # -- Fail and Succeed --------------------------------------------------------------------------
    Mistake(
        "fail-error-and-error-path",
        {"/States/Failed/ErrorPath": "$.error"},
        SCHEMA,
        "/States/Failed",
        "ErrorPath",
    ),
    Mistake(
        "fail-cause-and-cause-path",
        {"/States/Failed/CausePath": "$.cause"},
        SCHEMA,
        "/States/Failed",
        "CausePath",
    ),
    Mistake(
        "fail-error-path-other-intrinsic",
        {"/States/Failed/Error": DELETE, "/States/Failed/ErrorPath": "States.MathAdd(1, 2)"},
        SCHEMA,
        "/States/Failed/ErrorPath",
        "States.Format",
    ),
    Mistake(
        "fail-cause-path-plain-text",
        {"/States/Failed/Cause": DELETE, "/States/Failed/CausePath": "cause"},
        SCHEMA,
        "/States/Failed/CausePath",
        "path",
    ),
    Mistake("fail-error-number", {"/States/Failed/Error": 500}, SCHEMA, "/States/Failed/Error", "string"),
    Mistake("fail-with-next", {"/States/Failed/Next": "Done"}, SCHEMA, "/States/Failed/Next", "Fail"),
    Mistake("fail-with-end", {"/States/Failed/End": True}, SCHEMA, "/States/Failed/End", "Fail"),
    Mistake("succeed-with-next", {"/States/Done/Next": "Start"}, SCHEMA, "/States/Done/Next", "Succeed"),
    Mistake(
        "fail-with-input-path",
        {"/States/Failed/InputPath": "$.x"},
        SCHEMA,
        "/States/Failed/InputPath",
        "Fail",
    ),
    # -- variables ---------------------------------------------------------------------------------
    Mistake("variable-sub-path", {"/States/Start/Assign": {"a.b": 1}}, SCHEMA, "/States/Start/Assign/a.b", "a.b"),
    Mistake(
        "variable-reserved",
        {"/States/Start/Assign": {"states": 1}},
        SCHEMA,
        "/States/Start/Assign/states",
        "reserved",
    ),
    Mistake("variable-index", {"/States/Start/Assign": {"a[0]": 1}}, SCHEMA, "/States/Start/Assign/a[0]", "a[0]"),
    Mistake(
        "variable-starts-with-digit",
        {"/States/Start/Assign": {"1st": 1}},
        SCHEMA,
        "/States/Start/Assign/1st",
        "digit",
    ),
    Mistake(
        "variable-too-long",
        {"/States/Start/Assign": {"v" * 81: 1}},
        SCHEMA,
        "/States/Start/Assign/" + "v" * 81,
        "80",
    ),
    Mistake("assign-not-object", {"/States/Start/Assign": ["a"]}, SCHEMA, "/States/Start/Assign", "object"),
    Mistake(
        "variable-sub-path-jsonpath-dollar",
        {"/States/Start/Assign": {"a.b.$": "$.x"}},
        SCHEMA,
        "/States/Start/Assign/a.b.$",
        "a.b",
    ),
    Mistake(
        "variable-reserved-jsonata",
        {f"{TASK}/Assign": {"states": "{% 1 %}"}},
        SCHEMA,
        f"{TASK}/Assign/states",
        "reserved",
        base=JSONATA_BASE,
    ),
    Mistake(
        "catcher-assign-bad-name",
        {f"{TASK}/Catch/0/Assign": {"a-b": 1}},
        SCHEMA,
        f"{TASK}/Catch/0/Assign/a-b",
        "a-b",
    ),
]


def _diagnostics_text(diagnostics: list[Diagnostic]) -> str:
    return "\n".join(f"  {d.severity} {d.code} {d.location!r}: {d.message}" for d in diagnostics)


@pytest.mark.parametrize("base", [BASE, JSONATA_BASE], ids=["jsonpath", "jsonata"])
def test_the_bases_are_valid(base: dict[str, Any]) -> None:
    assert validate(base) == []
    assert parse(base).root.start_at == "Start"


def test_the_mistakes_are_distinct() -> None:
    ids = [m.id for m in MISTAKES]
    assert len(ids) == len(set(ids))
    assert len(MISTAKES) >= 45


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.id for m in MISTAKES])
def test_mistake_is_reported(mistake: Mistake) -> None:
    diagnostics = validate(mistake.definition())
    found = [d for d in diagnostics if d.location == mistake.location and d.code == mistake.code]
    assert found, f"no {mistake.code} at {mistake.location!r}; got:\n{_diagnostics_text(diagnostics)}"
    assert any(mistake.word.lower() in d.message.lower() for d in found), _diagnostics_text(found)
    assert all(d.severity == "ERROR" for d in found)
    # One mistake, said once: no second message about the same field.
    assert len([d for d in diagnostics if d.location == mistake.location]) == 1, _diagnostics_text(diagnostics)


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.id for m in MISTAKES])
def test_parse_refuses_the_mistake(mistake: Mistake) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse(mistake.definition())
    assert any(d.location == mistake.location for d in caught.value.diagnostics)


# -- documents that are not definitions at all ---------------------------------------------------

TEXT_MISTAKES = [
    ("not-json", '{"StartAt": "A", "States": {', "INVALID_JSON_DESCRIPTION", "JSON"),
    ("trailing-comma", '{"StartAt": "A",}', "INVALID_JSON_DESCRIPTION", "line 1"),
    ("empty", "", "MISSING_DESCRIPTION", "empty"),
    ("blank", "  \n\t ", "MISSING_DESCRIPTION", "empty"),
    ("array", json.dumps([BASE]), SCHEMA, "array"),
    ("string", json.dumps("StartAt"), SCHEMA, "string"),
    ("null", "null", SCHEMA, "null"),
    # Over 1 MB: a valid definition padded with a long Comment.
    ("over-1-mb", json.dumps(mutated(BASE, {"/Comment": "x" * 1_048_576})), SCHEMA, "1 MB"),
]


@pytest.mark.parametrize(("text", "code", "word"), [t[1:] for t in TEXT_MISTAKES], ids=[t[0] for t in TEXT_MISTAKES])
def test_text_mistake_is_reported(text: str, code: str, word: str) -> None:
    diagnostics = validate(text)
    assert [(d.severity, d.code, d.location) for d in diagnostics] == [("ERROR", code, "")]
    assert word.lower() in diagnostics[0].message.lower()
    with pytest.raises(DefinitionError):
        parse(text)


def test_a_definition_of_exactly_1_mb_is_accepted() -> None:
    text = json.dumps(mutated(BASE, {"/Comment": ""}))
    padded = json.dumps(mutated(BASE, {"/Comment": "x" * (1_048_576 - len(text))}))
    assert len(padded) == 1_048_576
    assert validate(padded) == []


# -- parse lists every error ---------------------------------------------------------------------


def test_parse_raises_with_every_error() -> None:
    broken = mutated(
        BASE,
        {
            "/States/Pause/Next": "Nowhere",
            f"{TASK}/Retry/0/BackoffRate": 0.1,
            "/States/Failed/ErrorPath": "$.e",
            "/States/Start/Result": {"id.$": "$.id"},  # a warning: not listed by parse
        },
    )
    with pytest.raises(DefinitionError) as caught:
        parse(broken)
    found = {(d.code, d.location) for d in caught.value.diagnostics}
    assert found == {
        (TARGET, "/States/Pause/Next"),
        (TARGET, "/States/Done"),  # only Pause led there
        (SCHEMA, f"{TASK}/Retry/0/BackoffRate"),
        (SCHEMA, "/States/Failed"),
    }
    assert all(d.severity == "ERROR" for d in caught.value.diagnostics)
    # The message names the first problem and counts the others.
    assert "and 3 more problem(s)" in str(caught.value)
    # validate lists the same errors, then the warning.
    diagnostics = validate(broken)
    assert [d.severity for d in diagnostics] == ["ERROR"] * 4 + ["WARNING"]


def test_every_mistake_at_once_is_every_error() -> None:
    # Mistakes in different states do not hide one another.
    changes = {
        "/States/Pause/Seconds": -5,
        "/States/Done/Next": "Start",
        "/States/Decide/Choices/0/NumericGreaterThan": "high",
        "/States/Items/ItemProcessor/ProcessorConfig": {"Mode": "DISTRIBUTED"},
    }
    locations = {d.location for d in validate(mutated(BASE, changes))}
    assert {
        "/States/Pause/Seconds",
        "/States/Done/Next",
        "/States/Decide/Choices/0/NumericGreaterThan",
        "/States/Items/ItemProcessor/ProcessorConfig",
    } <= locations


@pytest.mark.parametrize(
    "changes",
    [
        {"/States/Start": "Pass"},  # where Start went is unknown: no "not reachable" for the rest
        {"/States/Pause/Next": 1},
        {f"{TASK}/Catch/0": "Failed"},
        {"/States/Done/Type": "Finish"},  # perhaps meant as terminal: no MISSING_END_STATE
        {"/States/Failed": []},
    ],
    ids=["state-not-object", "next-not-string", "catcher-not-object", "terminal-of-unknown-type", "fail-not-object"],
)
def test_a_broken_state_does_not_fake_other_problems(changes: dict[str, Any]) -> None:
    diagnostics = validate(mutated(BASE, changes))
    assert len(diagnostics) == 1, _diagnostics_text(diagnostics)


def test_a_broken_state_does_not_hide_other_problems() -> None:
    changes = {
        "/States/Items/ItemProcessor/StartAt": DELETE,  # the Map cannot be built
        "/States/Orphan": {"Type": "Pass", "End": True},
    }
    found = {(d.code, d.location) for d in validate(mutated(BASE, changes))}
    assert found == {(SCHEMA, "/States/Items/ItemProcessor/StartAt"), (TARGET, "/States/Orphan")}


# -- valid definitions -----------------------------------------------------------------------------

VALID = {
    "every-retry-field": {
        f"{TASK}/Retry/0": {
            "ErrorEquals": ["States.Timeout", "Custom.Error"],
            "IntervalSeconds": 2,
            "MaxAttempts": 0,
            "BackoffRate": 1.0,
            "MaxDelaySeconds": 10,
            "JitterStrategy": "FULL",
            "Comment": "retry",
        }
    },
    "timeout-and-heartbeat-paths": {
        f"{TASK}/TimeoutSeconds": DELETE,
        f"{TASK}/TimeoutSecondsPath": "$.timeout",
        f"{TASK}/HeartbeatSecondsPath": "$.beat",
    },
    "heartbeat-below-timeout": {f"{TASK}/HeartbeatSeconds": 29},
    "intrinsics-and-context-in-parameters": {
        f"{TASK}/Parameters": {
            "text.$": "States.Format('{} of {}', $.a, $$.Execution.Name)",
            "nested": {"list.$": "States.Array($.a, 1)", "plain": ["$.not-evaluated-in-a-list"]},
            "var.$": "$total",
        }
    },
    "result-selector-and-paths": {
        f"{TASK}/ResultSelector": {"body.$": "$.Payload"},
        f"{TASK}/ResultPath": "$.out[0].value",
        f"{TASK}/InputPath": "$.in",
        f"{TASK}/OutputPath": None,
    },
    "choice-rules": {
        "/States/Decide/Choices/0": {
            "Not": {
                "Or": [
                    {"Variable": "$.t", "TimestampLessThan": "2016-03-14T01:59:00Z"},
                    {"Variable": "$.s", "StringMatches": "log-*.txt"},
                ]
            },
            "Next": "Items",
        },
        "/States/Decide/Choices/1/And/1": {"Variable": "$.name", "StringEqualsPath": "$.other"},
    },
    "wait-timestamp-path": {"/States/Pause/Seconds": DELETE, "/States/Pause/TimestampPath": "$.when"},
    "wait-timestamp": {
        "/States/Pause/Seconds": DELETE,
        "/States/Pause/Timestamp": "2016-03-14T01:59:00.123+01:00",
    },
    "fail-paths": {
        "/States/Failed/Error": DELETE,
        "/States/Failed/Cause": DELETE,
        "/States/Failed/ErrorPath": "$.error",
        "/States/Failed/CausePath": "States.Format('failed: {}', $.cause)",
    },
    "distributed-map": {
        "/States/Items/ItemProcessor/ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
        "/States/Items/ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket": "b", "Key": "k"},
        },
        "/States/Items/ItemBatcher": {"MaxItemsPerBatch": 10},
        "/States/Items/ToleratedFailurePercentage": 12.5,
        "/States/Items/MaxConcurrency": 0,
        "/States/Items/Label": "nightly-run_2",
    },
    "iterator-old-name": {
        "/States/Items/ItemProcessor": DELETE,
        "/States/Items/Iterator": {"StartAt": "Each", "States": {"Each": {"Type": "Pass", "End": True}}},
        "/States/Items/Parameters": {"item.$": "$$.Map.Item.Value"},
    },
    "assign-jsonpath": {"/States/Start/Assign": {"count": 1, "ref.$": "$.id", "ünicode_name": "ok"}},
    "jsonata-state-in-jsonpath-machine": {
        "/States/Pause": {
            "Type": "Wait",
            "QueryLanguage": "JSONata",
            "Seconds": "{% 1 + 1 %}",
            "Next": "Done",
        }
    },
    "credentials": {f"{TASK}/Credentials": {"RoleArn": "arn:aws:iam::123456789012:role/r"}},
    "machine-fields": {"/Version": "1.0", "/TimeoutSeconds": 3600},
}


JSONATA_VALID = {
    "map-items-and-selector": {
        "/States/Pause": {
            "Type": "Map",
            "Items": "{% $states.input.list %}",
            "ItemSelector": {"value": "{% $states.context.Map.Item.Value %}"},
            "MaxConcurrency": "{% $total %}",
            "ItemProcessor": {"StartAt": "Each", "States": {"Each": {"Type": "Pass", "End": True}}},
            "Next": "Done",
        }
    },
    "parallel-arguments": {
        "/States/Pause": {
            "Type": "Parallel",
            "Arguments": {"a": "{% $states.input.a %}"},
            "Branches": [{"StartAt": "One", "States": {"One": {"Type": "Succeed"}}}],
            "Output": "{% $states.result[0] %}",
            "Next": "Done",
        }
    },
    "choice-rule-assign-and-output": {
        "/States/Decide/Choices/0/Assign": {"picked": True},
        "/States/Decide/Choices/0/Output": {"why": "{% 'total' %}"},
        "/States/Decide/Output": "{% $states.input %}",
    },
    "task-timeouts-as-expressions": {
        f"{TASK}/TimeoutSeconds": "{% $total + 10 %}",
        f"{TASK}/HeartbeatSeconds": "{% 5 %}",
        f"{TASK}/Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        f"{TASK}/Retry": [{"ErrorEquals": ["States.ALL"], "JitterStrategy": "NONE"}],
    },
    "wait-timestamp-expression": {"/States/Pause/Seconds": DELETE, "/States/Pause/Timestamp": "{% $now() %}"},
    "fail-without-error-or-cause": {"/States/Failed/Error": DELETE, "/States/Failed/Cause": DELETE},
    "jsonpath-looking-text-is-text": {f"{TASK}/Arguments": {"price": "$5", "path": "$.not.a.path.here"}},
}


@pytest.mark.parametrize(
    ("changes", "base"),
    [(c, BASE) for c in VALID.values()] + [(c, JSONATA_BASE) for c in JSONATA_VALID.values()],
    ids=list(VALID) + [f"jsonata-{name}" for name in JSONATA_VALID],
)
def test_valid_definition_has_no_diagnostic(changes: dict[str, Any], base: dict[str, Any]) -> None:
    definition = mutated(base, changes)
    assert validate(definition) == [], _diagnostics_text(validate(definition))
    assert parse(definition).root.states


def test_valid_text_with_unicode_state_names() -> None:
    text = json.dumps({"StartAt": "Étape ✓", "States": {"Étape ✓": {"Type": "Succeed"}}}, ensure_ascii=False)
    assert validate(text) == []


# -- warnings --------------------------------------------------------------------------------------

WARNINGS = [
    Mistake("no-dollar-path", {f"{TASK}/Parameters/fixed": "$.id"}, "NO_DOLLAR", f"{TASK}/Parameters/fixed", "fixed.$"),
    Mistake(
        "no-dollar-context",
        {f"{TASK}/Parameters/nested": {"name": "$$.Execution.Name"}},
        "NO_DOLLAR",
        f"{TASK}/Parameters/nested/name",
        "name.$",
    ),
    Mistake(
        "no-dollar-intrinsic",
        {f"{TASK}/ResultSelector": {"text": "States.Format('{}', $.a)"}},
        "NO_DOLLAR",
        f"{TASK}/ResultSelector/text",
        "intrinsic",
    ),
    Mistake(
        "no-dollar-variable-in-assign",
        {"/States/Start/Assign": {"copy": "$total"}},
        "NO_DOLLAR",
        "/States/Start/Assign/copy",
        "copy.$",
    ),
    Mistake(
        "no-dollar-batch-input",
        {"/States/Items/ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"run": "$$.Execution.Id"}}},
        "NO_DOLLAR",
        "/States/Items/ItemBatcher/BatchInput/run",
        "run.$",
    ),
    Mistake(
        "no-dollar-credentials",
        {f"{TASK}/Credentials": {"RoleArn": "$.role"}},
        "NO_DOLLAR",
        f"{TASK}/Credentials/RoleArn",
        "RoleArn.$",
    ),
    Mistake(
        "no-dollar-item-selector",
        {"/States/Items/ItemSelector": {"i": "$$.Map.Item.Index"}},
        "NO_DOLLAR",
        "/States/Items/ItemSelector/i",
        "i.$",
    ),
    Mistake(
        "no-path-string-equals",
        {"/States/Decide/Choices/1/And/1/StringEquals": "$.expected"},
        "NO_PATH",
        "/States/Decide/Choices/1/And/1/StringEquals",
        "StringEqualsPath",
    ),
    Mistake(
        "no-path-fail-error",
        {"/States/Failed/Error": "$.error"},
        "NO_PATH",
        "/States/Failed/Error",
        "ErrorPath",
    ),
    Mistake(
        "no-path-fail-cause-intrinsic",
        {"/States/Failed/Cause": "States.Format('{}', $.c)"},
        "NO_PATH",
        "/States/Failed/Cause",
        "CausePath",
    ),
    Mistake(
        "pass-result-dollar-key",
        {"/States/Start/Result": {"n.$": "$.n"}},
        "PASS_RESULT_IS_STATIC",
        "/States/Start/Result/n.$",
        "static",
    ),
    Mistake(
        "pass-result-nested-path",
        {"/States/Start/Result": {"a": [{"b": "$$.Execution.Id"}]}},
        "PASS_RESULT_IS_STATIC",
        "/States/Start/Result/a/0/b",
        "Parameters",
    ),
    Mistake(
        "pass-result-is-a-path",
        {"/States/Start/Result": "$.n"},
        "PASS_RESULT_IS_STATIC",
        "/States/Start/Result",
        "static",
    ),
]


@pytest.mark.parametrize("warning", WARNINGS, ids=[w.id for w in WARNINGS])
def test_warning_is_reported_and_definition_stays_valid(warning: Mistake) -> None:
    definition = warning.definition()
    diagnostics = validate(definition)
    assert [(d.severity, d.code, d.location) for d in diagnostics] == [("WARNING", warning.code, warning.location)]
    assert warning.word.lower() in diagnostics[0].message.lower()
    assert parse(definition).root.states  # a warning never makes a definition invalid


@pytest.mark.parametrize(
    ("changes", "base"),
    [
        # Not path-like: a price, a placeholder, a word.
        ({f"{TASK}/Parameters/fixed": "$5.00"}, BASE),
        ({f"{TASK}/Parameters/fixed": "${Name}"}, BASE),
        ({f"{TASK}/Parameters/fixed": "States are fun"}, BASE),
        ({"/States/Decide/Choices/1/And/1/StringEquals": "$"}, None),
        # JSONata has no paths: "$.x" is plain text there.
        ({f"{TASK}/Arguments": {"a": "$.x"}}, JSONATA_BASE),
        ({"/States/Failed/Error": "$.error"}, JSONATA_BASE),
    ],
    ids=["price", "placeholder", "prose", "string-equals-dollar", "jsonata-arguments", "jsonata-fail-error"],
)
def test_no_warning_for_what_is_not_a_path(changes: dict[str, Any], base: dict[str, Any] | None) -> None:
    diagnostics = validate(mutated(base or BASE, changes))
    if base is None:
        # A lone "$" compared as text does look like a path (the whole input): warned, not refused.
        assert [d.code for d in diagnostics] == ["NO_PATH"]
    else:
        assert diagnostics == []


def test_timestamp_operand_that_looks_like_a_path_suggests_the_path_operator() -> None:
    changes = {f"{CHOICE}/NumericGreaterThan": DELETE, f"{CHOICE}/TimestampLessThan": "$.deadline"}
    [diagnostic] = validate(mutated(BASE, changes))
    assert diagnostic.severity == "ERROR"
    assert "TimestampLessThanPath" in diagnostic.message


# -- whatever a field holds, the validator answers -----------------------------------------------


def _pointers(value: Any, pointer: str = "") -> list[str]:
    """Every JSON pointer inside ``value`` (not the root)."""
    children: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        children = [(key.replace("~", "~0").replace("/", "~1"), item) for key, item in value.items()]
    elif isinstance(value, list):
        children = [(str(i), item) for i, item in enumerate(value)]
    out = []
    for part, item in children:
        out.append(f"{pointer}/{part}")
        out.extend(_pointers(item, f"{pointer}/{part}"))
    return out


@pytest.mark.parametrize("base", [BASE, JSONATA_BASE], ids=["jsonpath", "jsonata"])
def test_any_value_anywhere_gives_diagnostics_not_a_crash(base: dict[str, Any]) -> None:
    # Every field of the base replaced by values of every JSON type (and by nothing): validate
    # answers with diagnostics, and parse agrees with it on whether the definition is valid.
    for pointer in _pointers(base):
        for value in (DELETE, None, 0, -1, 2.5, "", "$.a[", "{% 1 + %}", [], [None], {}, {"a": 1}, True):
            definition = mutated(base, {pointer: value})
            diagnostics = validate(definition)
            assert all(d.location == "" or d.location.startswith("/") for d in diagnostics)
            if any(d.severity == "ERROR" for d in diagnostics):
                with pytest.raises(DefinitionError):
                    parse(definition)
            else:
                parse(definition)
