"""Parse and validate a definition: JSON text or a dict in, a `model.StateMachine` out.

`validate` finds every problem, each with the JSON pointer of the field at fault, in the spirit of
AWS's ValidateStateMachineDefinition: errors (with AWS's codes, SCHEMA_VALIDATION_FAILED by default)
and the three warnings AWS gives for paths that will be taken literally (NO_DOLLAR, NO_PATH,
PASS_RESULT_IS_STATIC). A warning never makes a definition invalid. `parse` returns the model, or
raises `DefinitionError` carrying the same diagnostics. Parsing is cached per definition text, so
executions of the same definition share one model.

The rules live in tables (`_FIELDS`: which fields each state type accepts in each query language)
and in one small method per state type.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from orchestrator.asl import choice, intrinsics, json_values, jsonata, paths
from orchestrator.asl.errors import ALL, DefinitionError, Diagnostic
from orchestrator.asl.json_values import json_type
from orchestrator.asl.model import (
    ABSENT,
    JSONATA,
    JSONPATH,
    Assign,
    BooleanRule,
    Catcher,
    ChoiceRule,
    ChoiceState,
    DataTest,
    FailState,
    MapState,
    ParallelState,
    PassState,
    Retrier,
    Rule,
    Scope,
    State,
    StateMachine,
    SucceedState,
    TaskState,
    WaitState,
    scope_key,
)
from orchestrator.asl.payload import Template, TemplateProblem, compile_template

MAX_DEFINITION_CHARS = 1_048_576
MAX_NAME_LENGTH = 80
MAX_NESTING = 32  # deeper Parallel/Map nesting is rejected as TOO_DEEPLY_NESTED
MAX_INT = 99_999_999

SCHEMA = "SCHEMA_VALIDATION_FAILED"
# AWS reports a state that nothing reaches with this code too ('State "X" is not reachable.' at
# /States/X, as CloudFormation and ValidateStateMachineDefinition answer); its documented codes have
# no other for it, so we keep AWS's.
TARGET = "MISSING_TRANSITION_TARGET"
MAX_LABEL_LENGTH = 40

# A string a person most likely meant as a path: "$", "$$", or "$", "$$" or "$name" followed by
# "." or "[" or the end. "$5" or "${Name}" are not paths.
_PATH_LIKE = re.compile(r"\$(\$|[^\W\d]\w*)?(?=$|[.\[])")
_ACTIVITY_ARN = re.compile(r"arn:[^:]+:states:[^:]*:[^:]*:activity:")
# Characters AWS refuses in a Map Label: whitespace, brackets, wildcards, punctuation, controls.
_LABEL_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")

_COMMON = {"Type", "Comment", "QueryLanguage"}
_FLOW = {"Next", "End"}
_JSONPATH_IO = {"InputPath", "OutputPath"}
_ERRORS = {"Retry", "Catch"}

# Fields each state type accepts, per query language (the States Language's field tables).
_FIELDS: dict[str, dict[str, set[str]]] = {
    "Task": {
        JSONPATH: _COMMON
        | _FLOW
        | _JSONPATH_IO
        | _ERRORS
        | {
            "Assign",
            "Resource",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
        },
        JSONATA: _COMMON
        | _FLOW
        | _ERRORS
        | {"Assign", "Output", "Resource", "Arguments", "TimeoutSeconds", "HeartbeatSeconds", "Credentials"},
    },
    "Parallel": {
        JSONPATH: _COMMON
        | _FLOW
        | _JSONPATH_IO
        | _ERRORS
        | {"Assign", "Branches", "Parameters", "ResultSelector", "ResultPath"},
        JSONATA: _COMMON | _FLOW | _ERRORS | {"Assign", "Output", "Branches", "Arguments"},
    },
    "Map": {
        JSONPATH: _COMMON
        | _FLOW
        | _JSONPATH_IO
        | _ERRORS
        | {
            "Assign",
            "ItemProcessor",
            "Iterator",
            "ItemsPath",
            "ItemSelector",
            "Parameters",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "Label",
            "ResultSelector",
            "ResultPath",
        },
        JSONATA: _COMMON
        | _FLOW
        | _ERRORS
        | {
            "Assign",
            "Output",
            "ItemProcessor",
            "Iterator",
            "Items",
            "ItemSelector",
            "MaxConcurrency",
            "ToleratedFailurePercentage",
            "ToleratedFailureCount",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "Label",
        },
    },
    "Pass": {
        JSONPATH: _COMMON | _FLOW | _JSONPATH_IO | {"Assign", "Result", "Parameters", "ResultPath"},
        JSONATA: _COMMON | _FLOW | {"Assign", "Output"},
    },
    "Wait": {
        JSONPATH: _COMMON | _FLOW | _JSONPATH_IO | {"Assign", "Seconds", "Timestamp", "SecondsPath", "TimestampPath"},
        JSONATA: _COMMON | _FLOW | {"Assign", "Output", "Seconds", "Timestamp"},
    },
    "Choice": {
        JSONPATH: _COMMON | _JSONPATH_IO | {"Assign", "Choices", "Default"},
        JSONATA: _COMMON | {"Assign", "Output", "Choices", "Default"},
    },
    "Succeed": {JSONPATH: _COMMON | _JSONPATH_IO, JSONATA: _COMMON | {"Output"}},
    "Fail": {
        JSONPATH: _COMMON | {"Error", "Cause", "ErrorPath", "CausePath"},
        JSONATA: _COMMON | {"Error", "Cause"},
    },
}

# Intrinsic functions a Fail state's ErrorPath/CausePath may call.
_FAIL_PATH_INTRINSICS = frozenset(
    {
        "States.Format",
        "States.JsonToString",
        "States.ArrayGetItem",
        "States.Base64Encode",
        "States.Base64Decode",
        "States.Hash",
        "States.UUID",
    }
)

_RETRIER_FIELDS = {
    "ErrorEquals",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "JitterStrategy",
    "Comment",
}
_CATCHER_FIELDS = {
    JSONPATH: {"ErrorEquals", "Next", "ResultPath", "Assign", "Comment"},
    JSONATA: {"ErrorEquals", "Next", "Output", "Assign", "Comment"},
}
_TOP_FIELDS = {"StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"}
_SCOPE_FIELDS = {"StartAt", "States", "Comment", "QueryLanguage"}
_PROCESSOR_FIELDS = _SCOPE_FIELDS | {"ProcessorConfig"}
# Payload templates inside a Map's ItemReader, ItemBatcher and ResultWriter: (field, key).
_MAP_PAYLOADS = (
    ("ItemReader", "Parameters"),
    ("ItemReader", "Arguments"),
    ("ItemBatcher", "BatchInput"),
    ("ResultWriter", "Parameters"),
    ("ResultWriter", "Arguments"),
)
_CHOICE_OPERATORS = set(choice.COMPARATORS) | {f"{op}Path" for op in choice.PATH_OPERATORS} | {"IsPresent"}


def parse(definition: str | dict[str, Any]) -> StateMachine:
    """The model of a valid definition; raises `DefinitionError` listing every problem otherwise."""
    text = definition if isinstance(definition, str) else json.dumps(definition, sort_keys=False)
    return _parse_text(text)


@lru_cache(maxsize=256)
def _parse_text(text: str) -> StateMachine:
    parser = _Parser()
    machine = parser.run(text)
    errors = [d for d in parser.diagnostics if d.severity == "ERROR"]
    if errors or machine is None:
        raise DefinitionError(errors)
    return machine


def validate(definition: str | dict[str, Any], *, state_machine_type: str = "STANDARD") -> list[Diagnostic]:
    """Every problem in the definition: errors first, then warnings. Empty means valid.

    For an ``EXPRESS`` machine, also the integrations Express workflows cannot run (`parse`, which
    knows no type, accepts them).
    """
    text = definition if isinstance(definition, str) else json.dumps(definition)
    parser = _Parser(express=state_machine_type == "EXPRESS")
    parser.run(text)
    return sorted(parser.diagnostics, key=lambda d: d.severity != "ERROR")


def _pointer(*parts: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class _Parser:
    """One pass over a definition, collecting diagnostics while it builds the model."""

    def __init__(self, *, express: bool = False) -> None:
        self.express = express
        self.diagnostics: list[Diagnostic] = []
        self.scopes: dict[tuple[str, int], Scope] = {}
        self.state_locations: dict[str, str] = {}
        self.machine_language = JSONPATH

    # -- reporting ---------------------------------------------------------------------------

    def error(self, location: str, message: str, code: str = SCHEMA) -> None:
        self.diagnostics.append(Diagnostic("ERROR", code, message, location))

    def warning(self, location: str, message: str, code: str) -> None:
        self.diagnostics.append(Diagnostic("WARNING", code, message, location))

    # -- the document ------------------------------------------------------------------------

    def run(self, text: str) -> StateMachine | None:
        if not text.strip():
            self.error("", "The definition is empty", "MISSING_DESCRIPTION")
            return None
        if len(text) > MAX_DEFINITION_CHARS:
            self.error("", f"The definition is {len(text):,} characters long; the limit is 1,048,576 (1 MB)")
            return None
        try:
            document = json_values.loads(text)
        except json.JSONDecodeError as exc:
            self.error(
                "",
                f"The definition is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                "INVALID_JSON_DESCRIPTION",
            )
            return None
        except json_values.NotJsonError as exc:
            self.error("", f"The definition is not valid JSON: {exc}", "INVALID_JSON_DESCRIPTION")
            return None
        if not isinstance(document, dict):
            self.error("", f"The definition must be a JSON object, not {_json_type(document)}")
            return None
        return self.machine(document)

    def machine(self, doc: dict[str, Any]) -> StateMachine | None:
        self.unknown_fields(doc, _TOP_FIELDS, "")
        language = self.machine_language = self.query_language(doc, "", JSONPATH)
        timeout = self.optional_int(doc, "TimeoutSeconds", "", minimum=1, maximum=MAX_INT)
        version = doc.get("Version")
        if version is not None and version != "1.0":
            self.error("/Version", 'Version must be "1.0"')
        self.optional_string(doc, "Comment", "")
        root = self.scope(doc, "", language, depth=0)
        if root is None:
            return None
        return StateMachine(
            root=root,
            timeout_seconds=timeout,
            version=version,
            comment=doc.get("Comment"),
            scopes=self.scopes,
        )

    def scope(self, doc: dict[str, Any], loc: str, language: str, depth: int) -> Scope | None:
        """A ``{StartAt, States}`` block: its states, and the transitions among them."""
        if depth > MAX_NESTING:
            self.error(loc, "The states are nested too deeply", "TOO_DEEPLY_NESTED")
            return None
        start_at = doc.get("StartAt")
        states_doc = doc.get("States")
        if not isinstance(start_at, str):
            self.error(
                f"{loc}/StartAt",
                "StartAt is required and must be a string naming a state"
                if start_at is None
                else "StartAt must be a string",
            )
        if not isinstance(states_doc, dict) or not states_doc:
            self.error(
                f"{loc}/States",
                "States is required and must be a non-empty object"
                if states_doc is None
                else "States must be a non-empty object of states",
            )
            return None
        states: dict[str, State] = {}
        for name, body in states_doc.items():
            state = self.state(name, body, f"{loc}/States{_pointer(name)}", language, depth)
            if state is not None:
                states[name] = state
        if isinstance(start_at, str) and start_at not in states_doc:
            self.error(
                f"{loc}/StartAt",
                f"StartAt names '{start_at}', which is not a state in this block{did_you_mean(start_at, states_doc)}",
                TARGET,
            )
        self.check_transitions(states_doc, states, start_at, loc)
        if not isinstance(start_at, str) or len(states) != len(states_doc):
            return None
        return Scope(start_at=start_at, states=states, query_language=language, comment=doc.get("Comment"))

    def query_language(self, doc: dict[str, Any], loc: str, inherited: str) -> str:
        value = doc.get("QueryLanguage", inherited)
        if value not in (JSONPATH, JSONATA):
            self.error(f"{loc}/QueryLanguage", f'QueryLanguage must be "JSONPath" or "JSONata", not {value!r}')
            return inherited
        if inherited == JSONATA and value == JSONPATH and loc:
            # A JSONata machine cannot hold JSONPath states (the reverse is allowed).
            self.error(
                f"{loc}/QueryLanguage",
                "A state cannot use JSONPath when the state machine's QueryLanguage is JSONata",
            )
        return value

    # -- transitions -------------------------------------------------------------------------

    def check_transitions(self, states_doc: dict[str, Any], states: dict[str, State], start_at: Any, loc: str) -> None:
        # A state that could not be built still says where it goes: its raw fields stand in for it,
        # so that one broken state does not hide (or fake) the problems of the others.
        targets = {
            name: _targets(states[name]) if name in states else _raw_targets(body) for name, body in states_doc.items()
        }
        for name, found in targets.items():
            for target, where in found:
                if target not in states_doc:
                    self.error(
                        f"{loc}/States{_pointer(name)}{where}",
                        f"'{target}' is not a state in this block{did_you_mean(target, states_doc)}",
                        TARGET,
                    )
        if not isinstance(start_at, str) or start_at not in states_doc:
            return
        # Where a state's transitions cannot be read, reachability is unknown: say nothing about it.
        if not any(_transitions_unclear(body) for body in states_doc.values()):
            reachable = _reachable(start_at, targets)
            for name in states_doc:
                if name not in reachable:
                    self.error(f"{loc}/States{_pointer(name)}", f"State '{name}' is not reachable from StartAt", TARGET)
        if not any(_may_be_terminal(body) for body in states_doc.values()):
            self.error(
                f"{loc}/States",
                "No terminal state: a block needs a state with End, or a Succeed or Fail state",
                "MISSING_END_STATE",
            )

    # -- states ------------------------------------------------------------------------------

    def state(self, name: Any, body: Any, loc: str, inherited: str, depth: int) -> State | None:
        if not isinstance(name, str) or not name or len(name) > MAX_NAME_LENGTH:
            self.error(loc, f"A state name must be 1 to {MAX_NAME_LENGTH} characters", "INVALID_STATE_NAME")
            return None
        if any(unicodedata.category(c) == "Cc" for c in name):
            self.error(loc, f"State name {name!r} contains control characters", "INVALID_STATE_NAME")
        if name in self.state_locations:
            self.error(
                loc,
                f"The state name '{name}' is already used at {self.state_locations[name]}; names "
                "must be unique across the whole state machine",
                "DUPLICATE_STATE_NAME",
            )
        else:
            self.state_locations[name] = loc
        if not isinstance(body, dict):
            self.error(loc, f"State '{name}' must be a JSON object, not {_json_type(body)}")
            return None
        kind = body.get("Type")
        if not isinstance(kind, str) or kind not in _FIELDS:
            self.error(
                f"{loc}/Type",
                f"Type is required and must be one of {', '.join(sorted(_FIELDS))}"
                if kind is None
                else f"Unknown state type {json.dumps(kind)}; expected one of {', '.join(sorted(_FIELDS))}",
            )
            return None
        language = self.query_language(body, loc, inherited)
        self.state_fields(body, kind, language, loc)
        common = self.common(name, body, kind, language, loc)
        build: Callable[..., State | None] = getattr(self, f"state_{kind.lower()}")
        return build(body, common, language, loc, depth)

    def state_fields(self, body: dict[str, Any], kind: str, language: str, loc: str) -> None:
        allowed = _FIELDS[kind][language]
        other = _FIELDS[kind][JSONATA if language == JSONPATH else JSONPATH]
        for key in body:
            if key in allowed:
                continue
            if key in other:
                self.error(
                    f"{loc}/{key}",
                    f"The field '{key}' is not supported in {kind} states when QueryLanguage is {language}",
                )
            else:
                self.error(
                    f"{loc}/{key}", f"The field '{key}' is not supported by {kind} states{did_you_mean(key, allowed)}"
                )

    def common(self, name: str, body: dict[str, Any], kind: str, language: str, loc: str) -> dict[str, Any]:
        self.optional_string(body, "Comment", loc)
        fields: dict[str, Any] = {
            "name": name,
            "type": kind,
            "query_language": language,
            "comment": body.get("Comment"),
        }
        if kind not in ("Choice", "Succeed", "Fail"):
            fields.update(self.flow(body, loc))
        if language == JSONPATH and kind != "Fail":
            fields["input_path"] = self.path_field(body, "InputPath", loc, reference=False)
            fields["output_path"] = self.path_field(body, "OutputPath", loc, reference=False)
        if "Assign" in body:
            fields["assign"] = self.assign(body["Assign"], f"{loc}/Assign", language)
        if language == JSONATA and "Output" in body:
            fields["output"] = self.jsonata_template(body["Output"], f"{loc}/Output")
        return fields

    def flow(self, body: dict[str, Any], loc: str) -> dict[str, Any]:
        has_next, end = "Next" in body, body.get("End")
        if has_next and end is not None:
            self.error(loc, "A state cannot have both Next and End")
        elif not has_next and end is not True:
            self.error(
                loc,
                "A state must have Next, or End set to true" if end is None else "End must be true (or use Next)",
            )
        if has_next and not isinstance(body["Next"], str):
            self.error(f"{loc}/Next", "Next must be a string naming a state")
        return {"next": body.get("Next") if isinstance(body.get("Next"), str) else None, "end": end is True}

    def state_pass(self, body: dict[str, Any], common: dict[str, Any], language: str, loc: str, depth: int) -> State:
        if language == JSONATA:
            return PassState(**common)
        if "Result" in body:
            self.static_result(body["Result"], f"{loc}/Result")
        return PassState(
            **common,
            result=body.get("Result", ABSENT),
            parameters=self.template(body, "Parameters", loc),
            result_path=self.path_field(body, "ResultPath", loc, reference=True),
        )

    def static_result(self, value: Any, loc: str) -> None:
        """Warn about paths in a Pass state's Result: Result is copied as it is, never evaluated."""
        if isinstance(value, dict):
            for key, item in value.items():
                here = f"{loc}{_pointer(key)}"
                if key.endswith(".$") or _looks_dynamic(item):
                    self.warning(
                        here,
                        f"Result is static: '{key}' will hold {json.dumps(item)} as it is; to read a "
                        "path or call an intrinsic function, use Parameters instead",
                        "PASS_RESULT_IS_STATIC",
                    )
                else:
                    self.static_result(item, here)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.static_result(item, f"{loc}/{i}")
        elif _looks_dynamic(value):
            self.warning(
                loc,
                f"Result is static: {json.dumps(value)} will be used as it is; to read a path, "
                "use Parameters or InputPath instead",
                "PASS_RESULT_IS_STATIC",
            )

    def state_task(self, body: dict[str, Any], common: dict[str, Any], language: str, loc: str, depth: int) -> State:
        resource = body.get("Resource")
        if not isinstance(resource, str):
            self.error(
                f"{loc}/Resource",
                "Resource is required and must be a string (an ARN)"
                if resource is None
                else "Resource must be a string (an ARN)",
            )
        elif not _looks_like_arn(resource):
            self.error(f"{loc}/Resource", f"Resource {resource!r} is not a valid ARN", "INVALID_RESOURCE")
        elif self.express:
            self.express_resource(resource, f"{loc}/Resource")
        timing = self.task_timing(body, loc, language)
        fields = dict(
            common,
            resource=resource if isinstance(resource, str) else "",
            **timing,
            retry=self.retriers(body, loc),
            catch=self.catchers(body, loc, language),
            credentials=self.credentials(body, loc, language),
        )
        if language == JSONATA:
            return TaskState(
                **fields,
                arguments=self.jsonata_template(body["Arguments"], f"{loc}/Arguments")
                if "Arguments" in body
                else ABSENT,
            )
        return TaskState(
            **fields,
            parameters=self.template(body, "Parameters", loc),
            result_selector=self.template(body, "ResultSelector", loc),
            result_path=self.path_field(body, "ResultPath", loc, reference=True),
        )

    def express_resource(self, resource: str, loc: str) -> None:
        """An Express workflow runs no activity and waits for no job or callback. AWS's words, as
        CreateStateMachine answers them (recorded in LocalStack's
        tests/aws/services/stepfunctions/v2/test_sfn_api_express.snapshot.json); the one for
        .waitForTaskToken ends with a space, hence AWS's "integration  at /States/...")."""
        if _ACTIVITY_ARN.match(resource):
            self.error(loc, "Express state machine does not support Activity ARN")
        elif resource.endswith((".sync", ".sync:2")):
            self.error(loc, "Express state machine does not support '.sync' service integration")
        elif resource.endswith(".waitForTaskToken"):
            self.error(loc, "Express state machine does not support '.waitForTaskToken' service integration ")

    def credentials(self, body: dict[str, Any], loc: str, language: str) -> dict[str, Any] | None:
        value = self.optional_object(body, "Credentials", loc)
        if value is not None:
            self.payload(value, f"{loc}/Credentials", language)
        return value

    def task_timing(self, body: dict[str, Any], loc: str, language: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, key in (("TimeoutSeconds", "timeout_seconds"), ("HeartbeatSeconds", "heartbeat_seconds")):
            if f"{name}Path" in body and name in body:
                self.error(loc, f"{name} and {name}Path cannot be used together")
            out[key] = self.int_or_expression(body, name, loc, language, minimum=1, maximum=MAX_INT)
            out[f"{key}_path"] = self.path_field(body, f"{name}Path", loc, reference=True, default=None)
        timeout, heartbeat = out["timeout_seconds"], out["heartbeat_seconds"]
        if isinstance(timeout, int) and isinstance(heartbeat, int) and heartbeat >= timeout:
            self.error(f"{loc}/HeartbeatSeconds", "HeartbeatSeconds must be smaller than TimeoutSeconds")
        return out

    def state_choice(self, body: dict[str, Any], common: dict[str, Any], language: str, loc: str, depth: int) -> State:
        rules_doc = body.get("Choices")
        rules: list[ChoiceRule] = []
        if not isinstance(rules_doc, list) or not rules_doc:
            self.error(f"{loc}/Choices", "Choices is required and must be a non-empty array of rules")
        else:
            for i, rule_doc in enumerate(rules_doc):
                rule = self.choice_rule(rule_doc, f"{loc}/Choices/{i}", language)
                if rule is not None:
                    rules.append(rule)
        default = body.get("Default")
        if default is not None and not isinstance(default, str):
            self.error(f"{loc}/Default", "Default must be a string naming a state")
            default = None
        return ChoiceState(**common, choices=tuple(rules), default=default)

    def choice_rule(self, doc: Any, loc: str, language: str) -> ChoiceRule | None:
        if not isinstance(doc, dict):
            self.error(loc, "A choice rule must be an object")
            return None
        target = doc.get("Next")
        if not isinstance(target, str):
            self.error(f"{loc}/Next", "Each choice rule needs Next, a string naming a state")
        assign = self.assign(doc["Assign"], f"{loc}/Assign", language) if "Assign" in doc else None
        if language == JSONATA:
            self.unknown_fields(doc, {"Condition", "Next", "Assign", "Output", "Comment"}, loc)
            condition = self.jsonata_template(doc.get("Condition"), f"{loc}/Condition")
            if "Condition" not in doc:
                self.error(f"{loc}/Condition", "A JSONata choice rule needs Condition")
            elif not isinstance(condition, bool) and not jsonata.is_expression(condition):
                self.error(f"{loc}/Condition", "Condition must be true, false or a JSONata expression {% ... %}")
            output = self.jsonata_template(doc["Output"], f"{loc}/Output") if "Output" in doc else ABSENT
            return ChoiceRule(
                next=target if isinstance(target, str) else "",
                condition=condition,
                assign=assign,
                output=output,
            )
        if "Output" in doc or "Condition" in doc:
            field = "Output" if "Output" in doc else "Condition"
            self.error(f"{loc}/{field}", f"The field '{field}' is only supported when QueryLanguage is JSONata")
        rule = self.boolean_rule(doc, loc, top=True)
        return ChoiceRule(next=target if isinstance(target, str) else "", rule=rule, assign=assign)

    def boolean_rule(self, doc: Any, loc: str, top: bool = False) -> Rule | None:
        if not isinstance(doc, dict):
            self.error(loc, "A choice rule must be an object")
            return None
        if not top and "Next" in doc:
            self.error(f"{loc}/Next", "Next is only allowed on top-level choice rules")
        # A nested Next is reported above, not again as an unknown field.
        extra = {"Next", "Comment", "Assign"} if top else {"Next", "Comment"}
        combinators = [k for k in ("And", "Or", "Not") if k in doc]
        if combinators:
            self.unknown_fields(doc, extra | set(combinators), loc)
            if len(combinators) > 1:
                self.error(loc, "A choice rule may use only one of And, Or, Not")
            op = combinators[0]
            return self.combinator(op, doc[op], f"{loc}/{op}")
        return self.data_test(doc, loc, extra)

    def combinator(self, op: str, value: Any, loc: str) -> Rule | None:
        if op == "Not":
            inner = self.boolean_rule(value, loc)
            return BooleanRule(operator="Not", rules=(inner,)) if inner else None
        if not isinstance(value, list) or not value:
            self.error(loc, f"{op} must be a non-empty array of rules")
            return None
        rules = [self.boolean_rule(item, f"{loc}/{i}") for i, item in enumerate(value)]
        if any(r is None for r in rules):
            return None
        return BooleanRule(operator=op, rules=tuple(r for r in rules if r is not None))

    def data_test(self, doc: dict[str, Any], loc: str, extra: set[str]) -> Rule | None:
        operators = [k for k in doc if k in _CHOICE_OPERATORS]
        self.unknown_fields(doc, extra | {"Variable"} | _CHOICE_OPERATORS, loc)
        variable = doc.get("Variable")
        if not isinstance(variable, str):
            self.error(f"{loc}/Variable", "A choice rule needs Variable, a path")
            return None
        problem = _check_reference(variable)
        if problem:
            self.error(f"{loc}/Variable", problem)
        if len(operators) != 1:
            self.error(
                loc,
                "A choice rule needs exactly one comparison operator"
                if not operators
                else f"A choice rule may have only one comparison operator, found {', '.join(operators)}",
            )
            return None
        op = operators[0]
        operand = doc[op]
        is_path = op.endswith("Path") and op != "IsPresent" and op[:-4] in choice.PATH_OPERATORS
        base = op[:-4] if is_path else op
        if is_path:
            if not isinstance(operand, str):
                self.error(f"{loc}/{op}", f"{op} must be a path")
            elif problem := _check_reference(operand):
                self.error(f"{loc}/{op}", problem)
        elif base == "IsPresent" or base.startswith("Is"):
            if not isinstance(operand, bool):
                self.error(f"{loc}/{op}", f"{op} must be true or false")
        else:
            expected = choice.OPERAND_TYPES[base]
            if not isinstance(operand, expected) or (isinstance(operand, bool) and expected is not bool):
                self.error(f"{loc}/{op}", f"{op} needs a {_type_name(expected)} operand, not {_json_type(operand)}")
            elif base.startswith("Timestamp") and choice.parse_timestamp(operand) is None:
                self.error(
                    f"{loc}/{op}",
                    f"{op} needs an RFC 3339 timestamp such as 2016-03-14T01:59:00Z"
                    + (f" (to compare with a path, use {op}Path)" if _looks_like_path(operand) else ""),
                )
            elif isinstance(operand, str) and _looks_like_path(operand):
                alternative = f"use {op}Path" if op in choice.PATH_OPERATORS else "a path cannot be used here"
                self.warning(
                    f"{loc}/{op}",
                    f"{op} compares with the literal text {operand!r}, which looks like a path ({alternative})",
                    "NO_PATH",
                )
        return DataTest(variable=variable, operator=base, operand=operand, operand_is_path=is_path)

    def state_wait(self, body: dict[str, Any], common: dict[str, Any], language: str, loc: str, depth: int) -> State:
        given = [k for k in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if k in body]
        if len(given) != 1:
            self.error(
                loc,
                "A Wait state needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath"
                if not given
                else f"A Wait state may use only one of {', '.join(given)}",
            )
        seconds = self.int_or_expression(body, "Seconds", loc, language, minimum=0, maximum=MAX_INT)
        timestamp = body.get("Timestamp")
        if timestamp is not None:
            if language == JSONATA and jsonata.is_expression(timestamp):
                timestamp = self.jsonata_template(timestamp, f"{loc}/Timestamp")
            elif not isinstance(timestamp, str) or choice.parse_timestamp(timestamp) is None:
                hint = " (to read it from a path, use TimestampPath)" if _looks_like_path(timestamp) else ""
                self.error(
                    f"{loc}/Timestamp",
                    f"Timestamp must be an RFC 3339 timestamp such as 2016-03-14T01:59:00Z{hint}",
                )
        return WaitState(
            **common,
            seconds=seconds,
            timestamp=timestamp,
            seconds_path=self.path_field(body, "SecondsPath", loc, reference=True, default=None),
            timestamp_path=self.path_field(body, "TimestampPath", loc, reference=True, default=None),
        )

    def state_succeed(self, body: dict[str, Any], common: dict[str, Any], language: str, loc: str, depth: int) -> State:
        return SucceedState(**common)

    def state_fail(self, body: dict[str, Any], common: dict[str, Any], language: str, loc: str, depth: int) -> State:
        out: dict[str, Any] = {}
        for name in ("Error", "Cause"):
            if name in body and f"{name}Path" in body:
                self.error(loc, f"{name} and {name}Path cannot be used together")
            value = body.get(name)
            if language == JSONATA and jsonata.is_expression(value):
                value = self.jsonata_template(value, f"{loc}/{name}")
            elif value is not None and not isinstance(value, str):
                self.error(f"{loc}/{name}", f"{name} must be a string")
            elif language == JSONPATH and _looks_dynamic(value):
                self.warning(
                    f"{loc}/{name}",
                    f"{name} is the literal text {value!r}, which looks like a path or an intrinsic "
                    f"function; to read it at run time, use {name}Path",
                    "NO_PATH",
                )
            out[name.lower()] = value
            path = body.get(f"{name}Path")
            if path is not None:
                self.fail_path(path, f"{loc}/{name}Path")
            out[f"{name.lower()}_path"] = path if isinstance(path, str) else None
        return FailState(**common, **out)

    def fail_path(self, path: Any, loc: str) -> None:
        if not isinstance(path, str):
            self.error(loc, "The value must be a path or an intrinsic function")
        elif path.startswith("$"):
            if problem := _check_reference(path):
                self.error(loc, problem)
        elif intrinsics.looks_like_intrinsic(path):
            if problem := intrinsics.check(path):
                self.error(loc, problem)
            elif intrinsics.parse(path).name not in _FAIL_PATH_INTRINSICS:
                self.error(loc, f"Only {', '.join(sorted(_FAIL_PATH_INTRINSICS))} may be used here")
        else:
            self.error(loc, "The value must be a path ($...) or an intrinsic function (States...)")

    def state_parallel(
        self, body: dict[str, Any], common: dict[str, Any], language: str, loc: str, depth: int
    ) -> State:
        branches_doc = body.get("Branches")
        branches: list[Scope] = []
        if not isinstance(branches_doc, list) or not branches_doc:
            self.error(f"{loc}/Branches", "Branches is required and must be a non-empty array")
        else:
            # A branch uses the machine's query language unless it says otherwise: the Parallel
            # state's own QueryLanguage does not cascade into it.
            for i, branch_doc in enumerate(branches_doc):
                branch = self.nested_scope(branch_doc, f"{loc}/Branches/{i}", _SCOPE_FIELDS, depth)
                if branch is not None:
                    branch = dataclasses.replace(branch, is_parallel_branch=True)
                    self.scopes[scope_key(common["name"], i)] = branch
                    branches.append(branch)
        fields = dict(
            common,
            branches=tuple(branches),
            retry=self.retriers(body, loc),
            catch=self.catchers(body, loc, language),
        )
        if language == JSONATA:
            return ParallelState(
                **fields,
                arguments=self.jsonata_template(body["Arguments"], f"{loc}/Arguments")
                if "Arguments" in body
                else ABSENT,
            )
        return ParallelState(
            **fields,
            parameters=self.template(body, "Parameters", loc),
            result_selector=self.template(body, "ResultSelector", loc),
            result_path=self.path_field(body, "ResultPath", loc, reference=True),
        )

    def nested_scope(self, doc: Any, loc: str, allowed: set[str], depth: int) -> Scope | None:
        if not isinstance(doc, dict):
            self.error(loc, "Must be an object with StartAt and States")
            return None
        self.unknown_fields(doc, allowed, loc)
        language = self.query_language(doc, loc, self.machine_language)
        return self.scope(doc, loc, language, depth + 1)

    def state_map(
        self, body: dict[str, Any], common: dict[str, Any], language: str, loc: str, depth: int
    ) -> State | None:
        processor_key = "ItemProcessor" if "ItemProcessor" in body else "Iterator"
        if "ItemProcessor" in body and "Iterator" in body:
            self.error(loc, "Use ItemProcessor or its old name Iterator, not both")
        if processor_key not in body:
            self.error(f"{loc}/ItemProcessor", "A Map state needs ItemProcessor")
            return None
        processor_doc = body[processor_key]
        processor = self.nested_scope(processor_doc, f"{loc}/{processor_key}", _PROCESSOR_FIELDS, depth)
        mode, execution_type = self.processor_config(processor_doc, f"{loc}/{processor_key}")
        if processor is None:
            return None
        processor = Scope(
            start_at=processor.start_at,
            states=processor.states,
            query_language=processor.query_language,
            comment=processor.comment,
            processor_mode=mode,
            execution_type=execution_type,
        )
        self.scopes[scope_key(common["name"])] = processor
        if "ItemSelector" in body and "Parameters" in body:
            self.error(loc, "Use ItemSelector or its old name Parameters, not both")
        fields = dict(
            common,
            processor=processor,
            retry=self.retriers(body, loc),
            catch=self.catchers(body, loc, language),
            label=self.label(body, loc),
            item_reader=self.optional_object(body, "ItemReader", loc),
            item_batcher=self.optional_object(body, "ItemBatcher", loc),
            result_writer=self.optional_object(body, "ResultWriter", loc),
        )
        for holder, key in _MAP_PAYLOADS:
            if isinstance(body.get(holder), dict) and key in body[holder]:
                self.payload(body[holder][key], f"{loc}/{holder}/{key}", language)
        if "ItemBatcher" in body and isinstance(body["ItemBatcher"], dict):
            batcher = body["ItemBatcher"]
            if not any(k.startswith(("MaxItemsPerBatch", "MaxInputBytesPerBatch")) for k in batcher):
                self.error(f"{loc}/ItemBatcher", "ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch")
        for name, key, minimum, maximum in (
            ("MaxConcurrency", "max_concurrency", 0, MAX_INT),
            ("ToleratedFailurePercentage", "tolerated_failure_percentage", 0, 100),
            ("ToleratedFailureCount", "tolerated_failure_count", 0, MAX_INT),
        ):
            if name in body and f"{name}Path" in body:
                self.error(loc, f"{name} and {name}Path cannot be used together")
            value = self.number_or_expression(
                body, name, loc, language, minimum, maximum, integer=name != "ToleratedFailurePercentage"
            )
            fields[key] = (0 if value is None else value) if name == "MaxConcurrency" else value
            fields[f"{key}_path"] = self.path_field(body, f"{name}Path", loc, reference=True, default=None)
        if language == JSONATA:
            items = self.jsonata_template(body["Items"], f"{loc}/Items") if "Items" in body else ABSENT
            selector = (
                self.jsonata_template(body["ItemSelector"], f"{loc}/ItemSelector") if "ItemSelector" in body else ABSENT
            )
            return MapState(**fields, items=items, item_selector_jsonata=selector)
        selector_key = "ItemSelector" if "ItemSelector" in body else "Parameters"
        return MapState(
            **fields,
            items_path=self.path_field(body, "ItemsPath", loc, reference=True) or "$",
            item_selector=self.template(body, selector_key, loc),
            result_selector=self.template(body, "ResultSelector", loc),
            result_path=self.path_field(body, "ResultPath", loc, reference=True),
        )

    def label(self, body: dict[str, Any], loc: str) -> str | None:
        value = body.get("Label")
        if value is None:
            return None
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_LABEL_LENGTH:
            self.error(f"{loc}/Label", f"Label must be a string of 1 to {MAX_LABEL_LENGTH} characters")
            return None
        if bad := _LABEL_FORBIDDEN.search(value):
            self.error(
                f"{loc}/Label",
                f"Label cannot contain {bad.group()!r}: no whitespace, brackets, wildcards or punctuation",
            )
            return None
        return value

    def processor_config(self, doc: Any, loc: str) -> tuple[str, str | None]:
        config = doc.get("ProcessorConfig", {}) if isinstance(doc, dict) else {}
        if not isinstance(config, dict):
            self.error(f"{loc}/ProcessorConfig", "ProcessorConfig must be an object")
            return "INLINE", None
        self.unknown_fields(config, {"Mode", "ExecutionType"}, f"{loc}/ProcessorConfig")
        mode = config.get("Mode", "INLINE")
        if mode not in ("INLINE", "DISTRIBUTED"):
            self.error(f"{loc}/ProcessorConfig/Mode", "Mode must be INLINE or DISTRIBUTED")
            mode = "INLINE"
        execution_type = config.get("ExecutionType")
        if execution_type is not None and execution_type not in ("STANDARD", "EXPRESS"):
            self.error(f"{loc}/ProcessorConfig/ExecutionType", "ExecutionType must be STANDARD or EXPRESS")
        if mode == "DISTRIBUTED" and execution_type is None:
            self.error(f"{loc}/ProcessorConfig", "A DISTRIBUTED Map needs ProcessorConfig.ExecutionType")
        return mode, execution_type

    # -- shared pieces -----------------------------------------------------------------------

    def retriers(self, body: dict[str, Any], loc: str) -> tuple[Retrier, ...]:
        items = self.error_handlers(body, "Retry", loc)
        out = []
        for i, doc in items:
            here = f"{loc}/Retry/{i}"
            self.unknown_fields(doc, _RETRIER_FIELDS, here)
            backoff = doc.get("BackoffRate", 2.0)
            if not _is_number(backoff) or backoff < 1.0:
                self.error(f"{here}/BackoffRate", "BackoffRate must be a number of at least 1.0")
                backoff = 2.0
            jitter = doc.get("JitterStrategy", "NONE")
            if jitter not in ("FULL", "NONE"):
                self.error(f"{here}/JitterStrategy", "JitterStrategy must be FULL or NONE")
            out.append(
                Retrier(
                    error_equals=self.error_equals(doc, here, last=i == len(items) - 1, kind="retrier"),
                    interval_seconds=self.optional_int(doc, "IntervalSeconds", here, 1, MAX_INT, default=1),
                    max_attempts=self.optional_int(doc, "MaxAttempts", here, 0, MAX_INT, default=3),
                    backoff_rate=float(backoff),
                    max_delay_seconds=self.optional_int(doc, "MaxDelaySeconds", here, 1, 31_622_400),
                    jitter_strategy=jitter if jitter in ("FULL", "NONE") else "NONE",
                )
            )
        return tuple(out)

    def catchers(self, body: dict[str, Any], loc: str, language: str) -> tuple[Catcher, ...]:
        items = self.error_handlers(body, "Catch", loc)
        out = []
        for i, doc in items:
            here = f"{loc}/Catch/{i}"
            self.unknown_fields(doc, _CATCHER_FIELDS[language], here)
            target = doc.get("Next")
            if not isinstance(target, str):
                self.error(f"{here}/Next", "A catcher needs Next, a string naming a state")
            out.append(
                Catcher(
                    error_equals=self.error_equals(doc, here, last=i == len(items) - 1, kind="catcher"),
                    next=target if isinstance(target, str) else "",
                    result_path=self.path_field(doc, "ResultPath", here, reference=True)
                    if language == JSONPATH
                    else "$",
                    output=self.jsonata_template(doc["Output"], f"{here}/Output") if "Output" in doc else ABSENT,
                    assign=self.assign(doc["Assign"], f"{here}/Assign", language) if "Assign" in doc else None,
                )
            )
        return tuple(out)

    def error_handlers(self, body: dict[str, Any], key: str, loc: str) -> list[tuple[int, dict[str, Any]]]:
        value = body.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(f"{loc}/{key}", f"{key} must be an array")
            return []
        out = []
        for i, doc in enumerate(value):
            if isinstance(doc, dict):
                out.append((i, doc))
            else:
                self.error(f"{loc}/{key}/{i}", f"Each {key} entry must be an object")
        return out

    def error_equals(self, doc: dict[str, Any], loc: str, last: bool, kind: str) -> tuple[str, ...]:
        names = doc.get("ErrorEquals")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            self.error(f"{loc}/ErrorEquals", "ErrorEquals is required: a non-empty array of error names")
            return ()
        if ALL in names and len(names) > 1:
            self.error(f"{loc}/ErrorEquals", "States.ALL must appear alone in ErrorEquals")
        if ALL in names and not last:
            self.error(f"{loc}/ErrorEquals", f"A {kind} with States.ALL must be the last one")
        return tuple(names)

    def assign(self, value: Any, loc: str, language: str) -> Assign | None:
        if not isinstance(value, dict):
            self.error(loc, "Assign must be an object of variable names and values")
            return None
        for key in value:
            name = key[:-2] if language == JSONPATH and key.endswith(".$") else key
            if problem := _check_variable_name(name):
                self.error(f"{loc}{_pointer(key)}", problem)
        if language == JSONATA:
            return Assign(jsonata=self.jsonata_template(value, loc))
        return Assign(jsonpath=self.compile(value, loc))

    def template(self, body: dict[str, Any], key: str, loc: str) -> Template | None:
        if key not in body:
            return None
        return self.compile(body[key], f"{loc}/{key}")

    def compile(self, value: Any, loc: str) -> Template:
        problems: list[TemplateProblem] = []
        compiled = compile_template(value, problems)
        for problem in problems:
            self.error(f"{loc}{problem.location}", problem.message)
        self.template_keys(value, loc)
        return compiled

    def payload(self, value: Any, loc: str, language: str) -> None:
        """Check a payload the engine reads as it is written (ItemReader Parameters, BatchInput,
        Credentials...): a JSONPath template, or JSON with JSONata expressions."""
        if language == JSONATA:
            self.jsonata_template(value, loc)
        else:
            self.compile(value, loc)

    def template_keys(self, value: Any, loc: str) -> None:
        """What compiling a template does not report: two keys that become one once ``.$`` is
        dropped (an error), and a path or intrinsic under a key without ``.$`` (NO_DOLLAR)."""
        if isinstance(value, list):
            for i, item in enumerate(value):
                self.template_keys(item, f"{loc}/{i}")
        if not isinstance(value, dict):
            return
        seen: set[str] = set()
        for key, item in value.items():
            here = f"{loc}{_pointer(key)}"
            dynamic = key.endswith(".$") and len(key) > 2
            name = key[:-2] if dynamic else key
            if name in seen:
                self.error(here, f"The keys '{name}' and '{name}.$' cannot both be used: both set '{name}'")
            seen.add(name)
            if not dynamic and _looks_dynamic(item):
                self.warning(
                    here,
                    f"'{key}' holds the literal text {item!r}, which looks like a path or an intrinsic "
                    f"function; to evaluate it, name the key '{key}.$'",
                    "NO_DOLLAR",
                )
            self.template_keys(item, here)

    def jsonata_template(self, value: Any, loc: str) -> Any:
        """Check every ``{% %}`` expression inside a JSONata field; returns the value unchanged."""
        if isinstance(value, str):
            if jsonata.is_expression(value):
                problem = jsonata.check(jsonata.expression_body(value))
                if problem:
                    self.error(loc, f"Invalid JSONata expression: {problem}")
        elif isinstance(value, dict):
            for key, item in value.items():
                self.jsonata_template(item, f"{loc}{_pointer(key)}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.jsonata_template(item, f"{loc}/{i}")
        return value

    def path_field(
        self, body: dict[str, Any], key: str, loc: str, *, reference: bool, default: str | None = "$"
    ) -> str | None:
        if key not in body:
            return default
        value = body[key]
        if value is None and key in ("InputPath", "OutputPath", "ResultPath"):
            return None
        if not isinstance(value, str):
            self.error(f"{loc}/{key}", f"{key} must be a path string")
            return default
        if key == "ResultPath" and value.startswith("$$"):
            self.error(f"{loc}/{key}", "ResultPath cannot point into the context object ($$)")
            return default
        if key == "ResultPath" and paths.variable_reference(value) is not None:
            self.error(f"{loc}/{key}", "ResultPath cannot point into a variable")
            return default
        problem = _check_reference(value) if reference else _check_any_path(value)
        if problem:
            self.error(f"{loc}/{key}", problem)
            return default
        return value

    def optional_int(
        self, doc: dict[str, Any], key: str, loc: str, minimum: int, maximum: int, default: int | None = None
    ) -> Any:
        if key not in doc:
            return default
        value = doc[key]
        if not _is_int(value) or not minimum <= value <= maximum:
            self.error(f"{loc}/{key}", f"{key} must be an integer from {minimum} to {maximum:,}")
            return default
        return int(value)

    def int_or_expression(
        self, doc: dict[str, Any], key: str, loc: str, language: str, minimum: int, maximum: int
    ) -> Any:
        return self.number_or_expression(doc, key, loc, language, minimum, maximum, integer=True)

    def number_or_expression(
        self,
        doc: dict[str, Any],
        key: str,
        loc: str,
        language: str,
        minimum: int,
        maximum: int,
        integer: bool,
    ) -> Any:
        if key not in doc:
            return None
        value = doc[key]
        if language == JSONATA and jsonata.is_expression(value):
            return self.jsonata_template(value, f"{loc}/{key}")
        ok = _is_int(value) if integer else _is_number(value)
        if not ok or not minimum <= value <= maximum:
            kind = "an integer" if integer else "a number"
            self.error(f"{loc}/{key}", f"{key} must be {kind} from {minimum} to {maximum:,}")
            return None
        return value

    def optional_string(self, doc: dict[str, Any], key: str, loc: str) -> None:
        if key in doc and not isinstance(doc[key], str):
            self.error(f"{loc}/{key}", f"{key} must be a string")

    def optional_object(self, doc: dict[str, Any], key: str, loc: str) -> dict[str, Any] | None:
        value = doc.get(key)
        if value is not None and not isinstance(value, dict):
            self.error(f"{loc}/{key}", f"{key} must be an object")
            return None
        return value

    def unknown_fields(self, doc: dict[str, Any], allowed: set[str], loc: str) -> None:
        for key in doc:
            if key not in allowed:
                self.error(
                    f"{loc}{_pointer(key)}", f"The field '{key}' is not supported here{did_you_mean(key, allowed)}"
                )


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'First'?"`` when one of ``candidates`` looks like a misspelling of ``word``
    (letter case aside), else nothing."""
    by_folded = {c.casefold(): c for c in candidates if isinstance(c, str)}
    close = difflib.get_close_matches(word.casefold(), list(by_folded), n=1, cutoff=0.6)
    return f"; did you mean '{by_folded[close[0]]}'?" if close else ""


def _targets(state: State) -> list[tuple[str, str]]:
    """Every state name ``state`` may transition to, with the pointer suffix of the field."""
    out = []
    if state.next is not None:
        out.append((state.next, "/Next"))
    if isinstance(state, ChoiceState):
        out.extend((rule.next, f"/Choices/{i}/Next") for i, rule in enumerate(state.choices) if rule.next)
        if state.default is not None:
            out.append((state.default, "/Default"))
    for i, catcher in enumerate(getattr(state, "catch", ())):
        if catcher.next:
            out.append((catcher.next, f"/Catch/{i}/Next"))
    return out


def _raw_targets(body: Any) -> list[tuple[str, str]]:
    """The transitions written in a state document that could not be built (only the string ones)."""
    if not isinstance(body, dict):
        return []
    out = [(body[key], f"/{key}") for key in ("Next", "Default") if isinstance(body.get(key), str)]
    for key in ("Choices", "Catch"):
        items = body.get(key)
        for i, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict) and isinstance(item.get("Next"), str):
                out.append((item["Next"], f"/{key}/{i}/Next"))
    return out


def _reachable(start: str, targets: dict[str, list[tuple[str, str]]]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for target, _ in targets.get(todo.pop(), []):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _may_be_terminal(body: Any) -> bool:
    """Whether a state document is, or was perhaps meant as, a terminal state. A broken one counts
    when it may be one, so that it never adds a MISSING_END_STATE to its own error."""
    if not isinstance(body, dict):
        return True
    return "End" in body or body.get("Type") not in ("Task", "Pass", "Wait", "Choice", "Parallel", "Map")


def _transitions_unclear(body: Any) -> bool:
    """Whether a state document has a transition field whose target cannot be read."""
    if not isinstance(body, dict):
        return True
    if any(key in body and not isinstance(body[key], str) for key in ("Next", "Default")):
        return True
    for key in ("Choices", "Catch"):
        items = body.get(key, [])
        if not isinstance(items, list):
            return True
        if any(not isinstance(item, dict) or not isinstance(item.get("Next"), str) for item in items):
            return True
    return False


def _check_any_path(value: str) -> str | None:
    if value.startswith("$$"):
        return paths.check_path(value[1:])
    variable = paths.variable_reference(value)
    if variable is not None:
        return paths.check_path(variable[1])
    return paths.check_path(value)


def _check_reference(value: str) -> str | None:
    if value.startswith("$$"):
        return paths.check_reference_path(value[1:])
    variable = paths.variable_reference(value)
    if variable is not None:
        return paths.check_reference_path(variable[1])
    return paths.check_reference_path(value)


def _check_variable_name(name: str) -> str | None:
    if not name or len(name) > MAX_NAME_LENGTH:
        return f"A variable name must be 1 to {MAX_NAME_LENGTH} characters"
    if name == "states":
        return "'states' is reserved and cannot be a variable name"
    if not (name[0].isidentifier() and (name[0] + name[1:]).isidentifier()):
        return (
            f"Invalid variable name '{name}': use letters, digits and underscores, not starting with a "
            "digit (a sub-path such as 'a.b' or 'a[0]' cannot be assigned)"
        )
    return None


def _looks_like_path(value: Any) -> bool:
    return isinstance(value, str) and _PATH_LIKE.match(value) is not None


def _looks_dynamic(value: Any) -> bool:
    """A string meant to be evaluated: a path or an intrinsic function call."""
    return isinstance(value, str) and (_looks_like_path(value) or intrinsics.looks_like_intrinsic(value))


def _looks_like_arn(resource: str) -> bool:
    parts = resource.split(":")
    return len(parts) >= 6 and parts[0] == "arn" and bool(parts[2]) and bool(parts[-1])


def _is_int(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_type(value: Any) -> str:
    """The value's JSON type as a message says it: "a string", "an array", "null"."""
    kind = json_type(value)
    return kind if kind == "null" else f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def _type_name(expected: type | tuple[type, ...]) -> str:
    return {str: "string", bool: "boolean"}.get(expected, "number")  # type: ignore[call-overload]
