"""Tests of orchestrator.asl.intrinsics: parsing, validation messages, and all 18 functions.

Values marked "AWS" are results recorded against real AWS Step Functions (the conformance cases under
shared/conformance/cases, or AWS snapshots of the same tests); the case is named next to them.
"""

from __future__ import annotations

import copy
import hashlib
import pickle
import random
import re
from typing import Any

import pytest

from orchestrator.asl import intrinsics
from orchestrator.asl.errors import INTRINSIC_FAILURE, StatesError
from orchestrator.asl.intrinsics import Call, IntrinsicSyntaxError, PathArg, check, evaluate, parse

CONTEXT = {
    "Execution": {"Id": "arn:aws:states:us-east-1:111111111111:execution:machine-x:run1", "Input": {}},
    "StateMachine": {
        "Id": "arn:aws:states:us-east-1:111111111111:stateMachine:machine-x",
        "Name": "machine-x",
    },
}


def _resolver(data: Any, context: Any = None):
    """A tiny dotted-path reader standing in for the engine's resolve."""

    def resolve(path: str) -> Any:
        source = data
        if path.startswith("$$"):
            source, path = context if context is not None else CONTEXT, path[1:]
        value = source
        for part in path[2:].split(".") if path != "$" else []:
            value = value[part]
        return value

    return resolve


def run(text: str, data: Any = None, *, seed: int = 0, context: Any = None) -> Any:
    return evaluate(parse(text), _resolver(data, context), random.Random(seed))


def fails(text: str, data: Any = None) -> StatesError:
    with pytest.raises(StatesError) as info:
        run(text, data)
    assert info.value.error == INTRINSIC_FAILURE
    return info.value


# ---------------------------------------------------------------------------------------------------
# Recorded AWS results


AWS_CASES = [
    # test_array_0 / test_array_2
    ("States.Array()", None, []),
    ("States.Array($.f, $.s)", {"f": "", "s": ""}, ["", ""]),
    ("States.Array($.f, $.s)", {"f": 1.1, "s": 1.1}, [1.1, 1.1]),
    ("States.Array($.f, $.s)", {"f": None, "s": None}, [None, None]),
    ("States.Array($.f, $.s)", {"f": {"Arg1": 1, "Arg2": []}, "s": "x"}, [{"Arg1": 1, "Arg2": []}, "x"]),
    ("States.Array('a', 'b', 'c')", None, ["a", "b", "c"]),
    # test_array_contains
    ("States.ArrayContains($.a, $.v)", {"a": [], "v": None}, False),
    ("States.ArrayContains($.a, $.v)", {"a": [], "v": []}, False),
    ("States.ArrayContains($.a, $.v)", {"a": [[1, 2, 3], 2], "v": None}, False),
    ("States.ArrayContains($.a, $.v)", {"a": [[1, 2, 3], 2], "v": [1, 2, 3]}, True),
    ("States.ArrayContains($.a, $.v)", {"a": [{"1": 2, "2": []}], "v": []}, False),
    ("States.ArrayContains($.a, $.v)", {"a": [{"1": 2, "2": []}], "v": {"1": 2, "2": []}}, True),
    ("States.ArrayContains($.a, $.v)", {"a": [True, False], "v": True}, True),
    ("States.ArrayContains($.a, $.v)", {"a": [True, False], "v": False}, True),
    ("States.ArrayContains($.a, 5)", {"a": [1, 2, 3, 4, 5, 6]}, True),
    # test_array_get_item / test_array_length / BASE_ASSIGN_FROM_INTRINSIC_FUNCTION
    ("States.ArrayGetItem($.a, $.i)", {"a": [1, 2, 3, 4, 5, 6, 7, 8, 9], "i": 5}, 6),
    ("States.ArrayGetItem($.a, 2)", {"a": [1, 2, 3, 4, 5, 6]}, 3),
    ("States.ArrayLength($.a)", {"a": [1, 2, 3, 4, 5, 6, 7, 8, 9]}, 9),
    ("States.ArrayUnique($.a)", {"a": [1, 2, 2, 3, 3, 4]}, [1, 2, 3, 4]),
    # test_array_partition
    ("States.ArrayPartition($.a, $.n)", {"a": [], "n": 1}, []),
    ("States.ArrayPartition($.a, $.n)", {"a": [0], "n": 5}, [[0]]),
    ("States.ArrayPartition($.a, $.n)", {"a": [0, 1], "n": 1}, [[0], [1]]),
    ("States.ArrayPartition($.a, $.n)", {"a": [0, 1, 2], "n": 2}, [[0, 1], [2]]),
    ("States.ArrayPartition($.a, $.n)", {"a": [0, 1, 2, 3], "n": 3}, [[0, 1, 2], [3]]),
    ("States.ArrayPartition($.a, $.n)", {"a": [0, 1, 2, 3], "n": 4}, [[0, 1, 2, 3]]),
    ("States.ArrayPartition($.a, 2)", {"a": [1, 2, 3, 4, 5, 6]}, [[1, 2], [3, 4], [5, 6]]),
    # test_array_range; the assign case; map reentrant scenarios
    ("States.ArrayRange($.a, $.b, $.c)", {"a": 0, "b": 9, "c": 3}, [0, 3, 6, 9]),
    ("States.ArrayRange($.a, $.b, $.c)", {"a": 0, "b": 10, "c": 3}, [0, 3, 6, 9]),
    ("States.ArrayRange($.a, $.b, $.c)", {"a": 1, "b": 9, "c": 9}, [1]),
    ("States.ArrayRange($.a, $.b, $.c)", {"a": 1, "b": 9, "c": 2}, [1, 3, 5, 7, 9]),
    ("States.ArrayRange(1, 10, 2)", None, [1, 3, 5, 7, 9]),
    ("States.ArrayRange(0, 3, 1)", None, [0, 1, 2, 3]),
    # test_encode_decode
    ("States.Base64Encode($.s)", {"s": ""}, ""),
    ("States.Base64Encode($.s)", {"s": "Data to encode"}, "RGF0YSB0byBlbmNvZGU="),
    ("States.Base64Decode($.s)", {"s": ""}, ""),
    ("States.Base64Decode($.s)", {"s": "RGF0YSB0byBlbmNvZGU="}, "Data to encode"),
    ("States.Base64Decode($.s)", {"s": "SGVsbG8gV29ybGQ="}, "Hello World"),
    # test_format_1 / test_format_2 / test_state_fail_intrinsic / assign cases
    ("States.Format('Formatting argument {}.', $.v)", {"v": ""}, "Formatting argument ."),
    ("States.Format('Formatting argument {}.', $.v)", {"v": " "}, "Formatting argument  ."),
    ("States.Format('Formatting argument {}.', $.v)", {"v": None}, "Formatting argument null."),
    ("States.Format('Formatting argument {}.', $.v)", {"v": 1}, "Formatting argument 1."),
    ("States.Format('Formatting argument {}.', $.v)", {"v": 1.1}, "Formatting argument 1.1."),
    (
        "States.Format('Formatting argument {}.', $.v)",
        {"v": '{"Arg1": 1, "Arg2": []}'},
        'Formatting argument {"Arg1": 1, "Arg2": []}.',
    ),
    (
        "States.Format('Formatting arguments fst={} and snd={}.', $.f, $.s)",
        {"f": {"Arg1": 1, "Arg2": []}, "s": {"Arg1": 1, "Arg2": []}},
        "Formatting arguments fst={Arg1=1, Arg2=[]} and snd={Arg1=1, Arg2=[]}.",
    ),
    (
        "States.Format('Formatting arguments fst={} and snd={}.', $$.Execution.Id, $$.StateMachine)",
        None,
        "Formatting arguments fst=arn:aws:states:us-east-1:111111111111:execution:machine-x:run1 and "
        "snd={Id=arn:aws:states:us-east-1:111111111111:stateMachine:machine-x, Name=machine-x}.",
    ),
    ("States.Format('{}', $.Error)", {"Error": "error string"}, "error string"),
    (
        "States.Format('Hello {}, welcome to {}!', $.name, $.place)",
        {"name": "John", "place": "LocalStack"},
        "Hello John, welcome to LocalStack!",
    ),
    ("States.Format($.t, $.v)", {"t": "It's {}!", "v": "Pikachu"}, "It's Pikachu!"),
    # test_hash
    ("States.Hash($.d, 'MD5')", {"d": "input data"}, "812f45842bc6d66ee14572ce20db8e86"),
    ("States.Hash($.d, 'SHA-1')", {"d": "input data"}, "aaff4a450a104cd177d28d18d74485e8cae074b7"),
    (
        "States.Hash($.d, 'SHA-256')",
        {"d": "input data"},
        "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3",
    ),
    (
        "States.Hash($.d, 'SHA-384')",
        {"d": "input data"},
        "d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562",
    ),
    (
        "States.Hash($.d, 'SHA-512')",
        {"d": "input data"},
        "6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce"
        "2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4",
    ),
    (
        "States.Hash($.d, 'SHA-256')",
        {"d": "Hash this string"},
        "1cac63f39fd68d8c531f27b807610fb3d50f0fc3f186995767fb6316e7200a3e",
    ),
    # test_json_to_string
    ("States.JsonToString($.v)", {"v": None}, "null"),
    ("States.JsonToString($.v)", {"v": 0}, "0"),
    ("States.JsonToString($.v)", {"v": 1.1}, "1.1"),
    ("States.JsonToString($.v)", {"v": True}, "true"),
    ("States.JsonToString($.v)", {"v": "HelloWorld"}, '"HelloWorld"'),
    ("States.JsonToString($.v)", {"v": [1, 2, "HelloWorld"]}, '[1,2,"HelloWorld"]'),
    ("States.JsonToString($.v)", {"v": {"Arg1": 1, "Arg2": []}}, '{"Arg1":1,"Arg2":[]}'),
    # test_string_to_json
    ("States.StringToJson($.s)", {"s": ""}, None),
    ("States.StringToJson($.s)", {"s": " "}, None),
    ("States.StringToJson($.s)", {"s": "null"}, None),
    ("States.StringToJson($.s)", {"s": "-0"}, 0),
    ("States.StringToJson($.s)", {"s": "1"}, 1),
    ("States.StringToJson($.s)", {"s": "1.1"}, 1.1),
    ("States.StringToJson($.s)", {"s": "true"}, True),
    ("States.StringToJson($.s)", {"s": '"HelloWorld"'}, "HelloWorld"),
    ("States.StringToJson($.s)", {"s": '[1, 2, "HelloWorld"]'}, [1, 2, "HelloWorld"]),
    ("States.StringToJson($.s)", {"s": '{"Arg1": 1, "Arg2": []}'}, {"Arg1": 1, "Arg2": []}),
    # test_json_merge_escaped_argument; the assign case
    (
        'States.JsonMerge(States.StringToJson(\'{"constant_in_literal": "false"}\'), $.i, false)',
        {"i": {"constant_input_field": "constant_value"}},
        {"constant_in_literal": "false", "constant_input_field": "constant_value"},
    ),
    (
        "States.JsonMerge($.a, $.b, false)",
        {"a": {"a": 1, "b": 2}, "b": {"c": 3, "d": 4}},
        {"a": 1, "b": 2, "c": 3, "d": 4},
    ),
    # test_math_add (AWS rounds each argument half up, like Java's Math.round)
    ("States.MathAdd($.a, $.b)", {"a": -9, "b": 3}, -6),
    ("States.MathAdd($.a, $.b)", {"a": 1.49, "b": 1.5}, 3),
    ("States.MathAdd($.a, $.b)", {"a": 1.5, "b": 1.51}, 4),
    ("States.MathAdd($.a, $.b)", {"a": -1.49, "b": -1.5}, -2),
    ("States.MathAdd($.a, $.b)", {"a": -1.5, "b": -1.51}, -3),
    ("States.MathAdd($.a, $.b)", {"a": 1.49, "b": -1.49}, 0),
    ("States.MathAdd($.a, $.b)", {"a": 1.5, "b": 0}, 2),
    ("States.MathAdd($.a, $.b)", {"a": 1.51, "b": 0}, 2),
    ("States.MathAdd($.a, $.b)", {"a": -1.49, "b": 0}, -1),
    ("States.MathAdd($.a, $.b)", {"a": -1.5, "b": 0}, -1),
    ("States.MathAdd($.a, $.b)", {"a": 0.5, "b": 0}, 1),
    ("States.MathAdd($.a, $.b)", {"a": 2.5, "b": 0}, 3),
    ("States.MathAdd($.a, $.b)", {"a": 3.5, "b": 0}, 4),
    ("States.MathAdd($.a, $.b)", {"a": -0.5, "b": 0}, 0),
    ("States.MathAdd($.a, $.b)", {"a": -2.5, "b": 0}, -2),
    ("States.MathAdd($.a, $.b)", {"a": -3.5, "b": 0}, -3),
    ("States.MathAdd($.Iterations, -1)", {"Iterations": 1}, 0),
    ("States.MathAdd($.a, $.b)", {"a": 5, "b": 3}, 8),
    # test_string_split; test_escape_sequence; test_string_split_context_object
    ("States.StringSplit($.s, $.d)", {"s": " ", "d": ","}, [" "]),
    ("States.StringSplit($.s, $.d)", {"s": " , ", "d": ","}, [" ", " "]),
    ("States.StringSplit($.s, $.d)", {"s": ", , ,", "d": ","}, [" ", " "]),
    ("States.StringSplit($.s, $.d)", {"s": "1,2,3,4,5", "d": ","}, ["1", "2", "3", "4", "5"]),
    (
        "States.StringSplit($.s, $.d)",
        {"s": "This.is+a,test=string", "d": ".+,="},
        ["This", "is", "a", "test", "string"],
    ),
    (
        "States.StringSplit($.s, $.d)",
        {"s": "split on T and \nnew line", "d": "T\n"},
        ["split on ", " and ", "new line"],
    ),
    ("States.StringSplit('Hello\nWorld', '\n')", None, ["Hello", "World"]),
    (
        "States.StringSplit($.s, ',')",
        {"s": "Value1,Value2,Value3\nValue4,Value5,Value6\n,,,\ntrue,1,'HelloWorld'\nNull,None,\n   \n"},
        [
            "Value1",
            "Value2",
            "Value3\nValue4",
            "Value5",
            "Value6\n",
            "\ntrue",
            "1",
            "'HelloWorld'\nNull",
            "None",
            "\n   \n",
        ],
    ),
    ("States.StringSplit($.s, ',')", {"s": "a,b,c,d,e"}, ["a", "b", "c", "d", "e"]),
    # test_nested_calls_1
    ("States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), 0)", None, "machine"),
]


@pytest.mark.parametrize(("text", "data", "expected"), AWS_CASES)
def test_recorded_aws_results(text: str, data: Any, expected: Any) -> None:
    result = run(text, data)
    assert result == expected
    assert type(result) is type(expected)


def test_math_random_with_aws_inputs_returns_integers_in_range() -> None:
    # test_math_random: AWS accepts non-integer bounds (12.5, 44.51) and returns a number.
    for start, end in [(12.5, 44.51), (9999, 99999), (-99999, -9999)]:
        for seed in range(20):
            value = run("States.MathRandom($.a, $.b)", {"a": start, "b": end}, seed=seed)
            assert type(value) is int
            assert round(start + 0.5 - 1e-9) <= value <= int(end + 0.5)


# ---------------------------------------------------------------------------------------------------
# Parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.UUID()", Call("States.UUID", ())),
        ("States.Array()", Call("States.Array", ())),
        ("States.Array( )", Call("States.Array", ())),
        ("States.Array('a b')", Call("States.Array", ("a b",))),
        ("States.Array('')", Call("States.Array", ("",))),
        (r"States.Array('it\'s')", Call("States.Array", ("it's",))),
        (r"States.Array('\{\}')", Call("States.Array", ("{}",))),
        (r"States.Array('a\\b')", Call("States.Array", ("a\\b",))),
        ("States.Array('{\"a\": 1}')", Call("States.Array", ('{"a": 1}',))),
        ("States.Array('a,b)c')", Call("States.Array", ("a,b)c",))),
        ("States.Array(1, -2, 0)", Call("States.Array", (1, -2, 0))),
        ("States.Array(1.5, -0.25, 1e3, 2E-2)", Call("States.Array", (1.5, -0.25, 1000.0, 0.02))),
        ("States.Array(null, true, false)", Call("States.Array", (None, True, False))),
        ("States.Array($)", Call("States.Array", (PathArg("$"),))),
        ("States.Array($.a.b)", Call("States.Array", (PathArg("$.a.b"),))),
        ("States.Array($$.Execution.Id)", Call("States.Array", (PathArg("$$.Execution.Id"),))),
        ("States.Array($myVar.field)", Call("States.Array", (PathArg("$myVar.field"),))),
        ("States.Array($.a[0], $['b,c'])", Call("States.Array", (PathArg("$.a[0]"), PathArg("$['b,c']")))),
        (
            "States.Array($.items[?(@.price > 1)].name)",
            Call("States.Array", (PathArg("$.items[?(@.price > 1)].name"),)),
        ),
        (
            "  States.MathAdd (  $.i ,1 )  ",
            Call("States.MathAdd", (PathArg("$.i"), 1)),
        ),
        ("States.MathAdd($.i,\n\t1)", Call("States.MathAdd", (PathArg("$.i"), 1))),
        (
            "States.ArrayGetItem(States.StringSplit($.s, '-'), 0)",
            Call("States.ArrayGetItem", (Call("States.StringSplit", (PathArg("$.s"), "-")), 0)),
        ),
        (
            "States.JsonMerge($.a, $.b, false)",
            Call("States.JsonMerge", (PathArg("$.a"), PathArg("$.b"), False)),
        ),
    ],
)
def test_parse(text: str, expected: Call) -> None:
    call = parse(text)
    assert call == expected
    for got, want in zip(call.args, expected.args, strict=True):
        assert type(got) is type(want)


def test_parse_is_cached() -> None:
    assert parse("States.MathAdd($.cached, 1)") is parse("States.MathAdd($.cached, 1)")


@pytest.mark.parametrize(
    ("text", "problem", "position"),
    [
        ("States.Foo()", "unknown intrinsic function 'States.Foo'", 0),
        ("States.format('x')", "unknown intrinsic function 'States.format'", 0),
        ("States.Array(States.Nope())", "unknown intrinsic function 'States.Nope'", 13),
        ("States.Array", "expected '(' after States.Array", 12),
        ("States.Array(1", "missing ')' to close States.Array(", 14),
        ("States.Array(1,", "unexpected end of text, expected an argument", 15),
        ("States.Array(1,)", "unexpected ')'", 15),
        ("States.Array(1 2)", "expected ',' or ')'", 15),
        ("States.Array(1) extra", "unexpected 'e' after the end of the call", 16),
        ("States.Array('abc)", "unterminated string literal", 13),
        ('States.Array("abc")', "unexpected '\"'", 13),
        ("States.Array(abc)", "unexpected 'a'", 13),
        ("States.Array(nulls)", "unexpected 'n'", 13),
        (r"States.Array('a\nb')", r"invalid escape sequence \n", 15),
        (r"States.Format('He said \"hi\"')", r"invalid escape sequence \"", 23),
        ("States.Array('a\\", "invalid escape sequence \\ ", 15),
        ("States.Array($.a[0)", "unbalanced ')' in a path", 18),
        ("States.Array($.a[0)]", "unbalanced ')' in a path", 18),
        ("States.Array($.a['x)", "unterminated path", 13),
        ("States.Array($.a[(0)", "unterminated path", 13),
        ("States.MathAdd(1)", "States.MathAdd takes 2 arguments, got 1", 0),
        ("States.MathAdd(1, 2, 3)", "States.MathAdd takes 2 arguments, got 3", 0),
        ("States.UUID(1)", "States.UUID takes 0 arguments, got 1", 0),
        ("States.Format()", "States.Format takes at least 1 argument, got 0", 0),
        ("States.MathRandom(1)", "States.MathRandom takes 2 to 3 arguments, got 1", 0),
        ("States.ArrayRange(1, 2)", "States.ArrayRange takes 3 arguments, got 2", 0),
        ("States.JsonMerge($.a, $.b)", "States.JsonMerge takes 3 arguments, got 2", 0),
        ("States.StringToJson()", "States.StringToJson takes 1 argument, got 0", 0),
        ("$.x", "expected an intrinsic function", 0),
    ],
)
def test_parse_errors_say_what_and_where(text: str, problem: str, position: int) -> None:
    with pytest.raises(IntrinsicSyntaxError) as info:
        parse(text)
    assert problem in info.value.problem
    assert info.value.position == position
    assert f"at position {position}" in str(info.value)
    assert check(text) == str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.Format('x')", True),
        ("States.UUID()", True),
        ("States.MathAdd ($.a, 1)", True),
        ("States.Unknown(1)", True),  # looks like one; parse/check then say it is unknown
        ("$.x", False),
        ("$$.Execution.Id", False),
        ("States.Format", False),
        ("states.format('x')", False),
        ("Hello States.Format('x')", False),
        ("", False),
    ],
)
def test_looks_like_intrinsic(text: str, expected: bool) -> None:
    assert intrinsics.looks_like_intrinsic(text) is expected


def _nested(depth: int) -> str:
    text = "$.s"
    for _ in range(depth):
        text = f"States.Format('{{}}', {text})"
    return text


def test_check_accepts_valid_calls() -> None:
    assert check("States.Format('Hello {}', $.name)") is None
    assert check(_nested(10)) is None
    # The AWS documentation's own example: nine calls in one field.
    assert (
        check(
            "States.Format('{}.{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem("
            "States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem("
            "States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 1))"
        )
        is None
    )


def test_check_rejects_more_than_ten_calls_in_a_field() -> None:
    message = check(_nested(11))
    assert message is not None
    assert "at most 10 intrinsic functions" in message
    assert "uses 11" in message
    siblings = "States.Array(" + ", ".join(["States.UUID()"] * 10) + ")"
    assert "uses 11" in (check(siblings) or "")


def test_format_template_literal_keeps_escaped_braces_apart_from_placeholders() -> None:
    call = parse(r"States.Format('a \{} {} \\{} \'q\'', 1, 2)")
    template = call.args[0]
    assert template == "a {} {} \\{} 'q'"
    assert run(r"States.Format('a \{} {} \\{} \'q\'', 1, 2)") == "a {} 1 \\2 'q'"
    assert run(r"States.Format('\{\}{}', 'x')") == "{}x"


def test_parsed_calls_survive_pickle_and_deepcopy() -> None:
    call = parse("States.Format('Hi {} and {}', $.a, States.MathAdd(1, 2))")
    data = {"a": "Ann"}
    for clone in (pickle.loads(pickle.dumps(call)), copy.deepcopy(call)):
        assert clone == call
        assert evaluate(clone, _resolver(data), random.Random(0)) == "Hi Ann and 3"


# ---------------------------------------------------------------------------------------------------
# Evaluation: each function beyond the recorded values


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        # Format
        ("States.Format('no placeholders')", None, "no placeholders"),
        ("States.Format('{}{}', true, false)", None, "truefalse"),
        ("States.Format('{} {}', 10, -2.5)", None, "10 -2.5"),
        ("States.Format('{}', $.v)", {"v": 1.0}, "1.0"),
        ("States.Format('{}', $.v)", {"v": 1e7}, "1.0E7"),
        ("States.Format('{}', $.v)", {"v": [1, "a", None, [True]]}, "[1, a, null, [true]]"),
        ("States.Format('{}', $.v)", {"v": {}}, "{}"),
        ("States.Format('{}', $.v)", {"v": {"k": {"n": "x y"}}}, "{k={n=x y}}"),
        ("States.Format($.t, 1, 2)", {"t": "{}+{}"}, "1+2"),
        ("States.Format(States.Format('{}{}', '{', '}'), 'x')", None, "x"),
        ("States.Format('{}', States.Array(1, 2))", None, "[1, 2]"),
        # StringToJson / JsonToString
        ("States.StringToJson($.s)", {"s": '  {"a": [1, {"b": null}]}\n'}, {"a": [1, {"b": None}]}),
        ("States.StringToJson('[]')", None, []),
        (
            "States.JsonToString($.v)",
            {"v": {"s": 'é\n\t"\\\u0001', "f": 1e-4}},
            '{"s":"é\\n\\t\\"\\\\\\u0001","f":1.0E-4}',
        ),
        ("States.JsonToString($.v)", {"v": {"b": 1, "a": 2}}, '{"b":1,"a":2}'),
        ("States.StringToJson(States.JsonToString($.v))", {"v": {"x": [1, 2.5, "y"]}}, {"x": [1, 2.5, "y"]}),
        # Array family
        ("States.Array(States.Array(), null)", None, [[], None]),
        ("States.ArrayPartition($.a, 2.5)", {"a": [1, 2, 3, 4, 5]}, [[1, 2, 3], [4, 5]]),
        ("States.ArrayContains($.a, 1)", {"a": [1.0]}, True),
        ("States.ArrayContains($.a, 1)", {"a": [True]}, False),
        ("States.ArrayContains($.a, true)", {"a": [1]}, False),
        ("States.ArrayContains($.a, '1')", {"a": [1]}, False),
        ("States.ArrayContains($.a, $.v)", {"a": [{"x": 1, "y": 2}], "v": {"y": 2, "x": 1}}, True),
        ("States.ArrayRange(5, 1, -2)", None, [5, 3, 1]),
        ("States.ArrayRange(1, 5, -1)", None, []),
        ("States.ArrayRange(5, 1, 1)", None, []),
        ("States.ArrayRange(-3, 3, 3)", None, [-3, 0, 3]),
        ("States.ArrayRange(1, 1000, 1)", None, list(range(1, 1001))),
        ("States.ArrayRange(0.5, 2.4, 1)", None, [1, 2]),
        ("States.ArrayGetItem($.a, 0)", {"a": [{"k": "v"}]}, {"k": "v"}),
        ("States.ArrayLength($.a)", {"a": []}, 0),
        (
            "States.ArrayUnique($.a)",
            {
                "a": [
                    None,
                    None,
                    True,
                    True,
                    False,
                    1,
                    1,
                    1.0,
                    0,
                    "HelloWorld",
                    "HelloWorld",
                    [],
                    [],
                    [None],
                    [None],
                    {"a": 1, "b": 2},
                    {"b": 2, "a": 1},
                    {"a": 1, "b": 1},
                ]
            },
            [None, True, False, 1, 0, "HelloWorld", [], [None], {"a": 1, "b": 2}, {"a": 1, "b": 1}],
        ),
        ("States.ArrayUnique($.a)", {"a": [1, True, "1"]}, [1, True, "1"]),
        # Encoding and hashing
        ("States.Base64Encode('héllo ✓')", None, "aMOpbGxvIOKckw=="),
        ("States.Base64Decode('aMOpbGxvIOKckw==')", None, "héllo ✓"),
        ("States.Base64Decode('SGVsbG8')", None, "Hello"),  # padding is optional
        ("States.Base64Decode('SGVs\r\nbG8=')", None, "Hello"),  # MIME line breaks are skipped
        ("States.Base64Decode(States.Base64Encode($.s))", {"s": "x" * 7000}, "x" * 7000),
        ("States.Hash('', 'MD5')", None, "d41d8cd98f00b204e9800998ecf8427e"),
        # JsonMerge
        (
            "States.JsonMerge($.a, $.b, false)",
            {"a": {"a": {"a1": 1, "a2": 2}, "b": 2, "d": 3}, "b": {"a": {"a3": 1, "a4": 2}, "c": 3, "d": 4}},
            {"a": {"a3": 1, "a4": 2}, "b": 2, "d": 4, "c": 3},
        ),
        ("States.JsonMerge($.a, $.b, false)", {"a": {}, "b": {}}, {}),
        # MathAdd
        ("States.MathAdd(2147483647, 1)", None, 2147483648),
        ("States.MathAdd(States.MathAdd(1, 2), $.n)", {"n": -10}, -7),
        ("States.MathAdd(0.49999999999999994, 0)", None, 0),
        # StringSplit
        ("States.StringSplit('', ',')", None, []),
        ("States.StringSplit(',,,', ',')", None, []),
        ("States.StringSplit('abc', '')", None, ["abc"]),
        ("States.StringSplit('a--b', '--')", None, ["a", "b"]),
        ("States.StringSplit('a-b+c', '+-')", None, ["a", "b", "c"]),
    ],
)
def test_functions(text: str, data: Any, expected: Any) -> None:
    result = run(text, data)
    assert result == expected
    assert type(result) is type(expected)


def test_hash_of_non_string_hashes_its_compact_json_text() -> None:
    assert run("States.Hash($.v, 'MD5')", {"v": {"a": 1}}) == hashlib.md5(b'{"a":1}').hexdigest()
    assert run("States.Hash($.s, 'SHA-1')", {"s": "x" * 10000}) == hashlib.sha1(b"x" * 10000).hexdigest()


def test_format_of_runtime_template_uses_plain_placeholders() -> None:
    # A template read from the data is data: a backslash in it is just a character.
    assert run("States.Format($.t, 'v')", {"t": "C:\\dir\\{}"}) == "C:\\dir\\v"


def test_results_are_fresh_containers() -> None:
    data = {"a": {"x": 1}, "b": {"y": 2}, "l": [1, 2, 3]}
    merged = run("States.JsonMerge($.a, $.b, false)", data)
    merged["z"] = 3
    assert data["a"] == {"x": 1}
    chunks = run("States.ArrayPartition($.l, 5)", data)
    chunks[0].append(4)
    assert data["l"] == [1, 2, 3]


# ---------------------------------------------------------------------------------------------------
# Failures: States.IntrinsicFailure with a clear cause


@pytest.mark.parametrize(
    ("text", "data", "cause"),
    [
        ("States.Format($.t)", {"t": 1}, "States.Format: the first argument must be a string, got number"),
        ("States.Format('{} {}', 1)", None, "the template has 2 placeholder(s) but 1 value(s) were given"),
        ("States.Format('{}', 1, 2)", None, "the template has 1 placeholder(s) but 2 value(s) were given"),
        ("States.Format('{ }{', 'x')", None, "the template has 0 placeholder(s) but 1 value(s) were given"),
        (
            "States.StringToJson($.v)",
            {"v": {"a": 1}},
            "States.StringToJson: the first argument must be a string, got object",
        ),
        ("States.StringToJson('{bad')", None, "States.StringToJson: the argument is not valid JSON text"),
        ("States.StringToJson('NaN')", None, "not valid JSON text"),
        ("States.StringToJson('1 2')", None, "not valid JSON text"),
        (
            "States.ArrayPartition($.v, 2)",
            {"v": "abc"},
            "States.ArrayPartition: the first argument must be an array, got string",
        ),
        ("States.ArrayPartition($.v, 0)", {"v": [1]}, "the chunk size must be a positive integer, got 0"),
        ("States.ArrayPartition($.v, -1)", {"v": [1]}, "the chunk size must be a positive integer, got -1"),
        ("States.ArrayPartition($.v, '2')", {"v": [1]}, "the second argument must be an integer, got string"),
        (
            "States.ArrayContains($.v, 1)",
            {"v": {"a": 1}},
            "States.ArrayContains: the first argument must be an array, got object",
        ),
        ("States.ArrayRange(1, 5, 0)", None, "States.ArrayRange: the step must not be 0"),
        ("States.ArrayRange(0, 1000, 1)", None, "the range has 1001 items; the limit is 1000"),
        ("States.ArrayRange(0, 100000000000, 1)", None, "the limit is 1000"),
        ("States.ArrayRange(1, null, 1)", None, "the second argument must be an integer, got null"),
        ("States.ArrayRange(1, 5, true)", None, "the third argument must be an integer, got boolean"),
        (
            "States.ArrayGetItem($.a, 3)",
            {"a": [1, 2, 3]},
            "index 3 is out of bounds for an array of 3 item(s)",
        ),
        ("States.ArrayGetItem($.a, -1)", {"a": [1, 2, 3]}, "index -1 is out of bounds"),
        ("States.ArrayGetItem($.a, 0)", {"a": None}, "the first argument must be an array, got null"),
        (
            "States.ArrayLength($.a)",
            {"a": "abc"},
            "States.ArrayLength: the first argument must be an array, got string",
        ),
        (
            "States.ArrayUnique($.a)",
            {"a": {}},
            "States.ArrayUnique: the first argument must be an array, got object",
        ),
        (
            "States.Base64Encode($.s)",
            {"s": 12},
            "States.Base64Encode: the first argument must be a string, got number",
        ),
        (
            "States.Base64Encode($.s)",
            {"s": "x" * 10001},
            "the input is 10001 characters long; the limit is 10000",
        ),
        (
            "States.Base64Decode($.s)",
            {"s": "A" * 10004},
            "the input is 10004 characters long; the limit is 10000",
        ),
        ("States.Base64Decode('abcde')", None, "States.Base64Decode: the argument is not valid Base64"),
        ("States.Base64Decode('ab=c')", None, "the argument is not valid Base64"),
        ("States.Base64Decode($.s)", {"s": None}, "the first argument must be a string, got null"),
        (
            "States.Hash('x', 'SHA256')",
            None,
            "unsupported algorithm 'SHA256'; use one of MD5, SHA-1, SHA-256",
        ),
        ("States.Hash('x', 'md5')", None, "unsupported algorithm 'md5'"),
        ("States.Hash('x', 1)", None, "the second argument must be a string, got number"),
        ("States.Hash($.s, 'MD5')", {"s": "x" * 10001}, "States.Hash: the input is 10001 characters long"),
        (
            "States.JsonMerge($.a, $.b, false)",
            {"a": [], "b": {}},
            "the first argument must be an object, got array",
        ),
        (
            "States.JsonMerge($.a, $.b, false)",
            {"a": {}, "b": "x"},
            "the second argument must be an object, got string",
        ),
        (
            "States.JsonMerge($.a, $.b, 'no')",
            {"a": {}, "b": {}},
            "the deep-merge flag must be a boolean, got string",
        ),
        ("States.JsonMerge($.a, $.b, true)", {"a": {}, "b": {}}, "only shallow merging is supported"),
        ("States.MathRandom(10, 1)", None, "the start (10) must not be greater than the end (1)"),
        (
            "States.MathRandom('a', 1)",
            None,
            "States.MathRandom: the first argument must be an integer, got string",
        ),
        ("States.MathRandom(1, 5, 'seed')", None, "the third argument must be an integer, got string"),
        (
            "States.MathAdd($.a, 1)",
            {"a": "1"},
            "States.MathAdd: the first argument must be an integer, got string",
        ),
        ("States.MathAdd(1, $.b)", {"b": True}, "the second argument must be an integer, got boolean"),
        ("States.MathAdd(1, $.b)", {"b": None}, "the second argument must be an integer, got null"),
        (
            "States.StringSplit($.s, ',')",
            {"s": ["a"]},
            "States.StringSplit: the first argument must be a string, got array",
        ),
        ("States.StringSplit('a', 1)", None, "the second argument must be a string, got number"),
    ],
)
def test_failures_raise_intrinsic_failure(text: str, data: Any, cause: str) -> None:
    error = fails(text, data)
    assert error.cause is not None
    assert cause in error.cause


def test_nested_failure_surfaces_unchanged() -> None:
    error = fails("States.Format('{}', States.ArrayGetItem($.a, 5))", {"a": []})
    assert error.cause is not None
    assert error.cause.startswith("States.ArrayGetItem: index 5")


def test_resolve_errors_propagate() -> None:
    class Missing(Exception):
        pass

    def resolve(path: str) -> Any:
        raise Missing(path)

    with pytest.raises(Missing, match=r"\$\.nowhere"):
        evaluate(parse("States.MathAdd($.nowhere, 1)"), resolve, random.Random(0))


def test_resolve_receives_each_path_as_written() -> None:
    seen: list[str] = []

    def resolve(path: str) -> Any:
        seen.append(path)
        return 1

    evaluate(
        parse("States.Array($.a, $$.Execution.Id, $var.x[0], States.MathAdd($.b, 1))"),
        resolve,
        random.Random(0),
    )
    assert seen == ["$.a", "$$.Execution.Id", "$var.x[0]", "$.b"]


# ---------------------------------------------------------------------------------------------------
# Randomness: drawn from the engine's seeded rng, so runs repeat under a seed

UUID_V4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_uuid_is_v4_and_repeats_under_a_seed() -> None:
    first = run("States.UUID()", seed=42)
    assert UUID_V4.match(first)
    assert run("States.UUID()", seed=42) == first
    assert run("States.UUID()", seed=43) != first
    rng = random.Random(7)
    values = {evaluate(parse("States.UUID()"), _resolver(None), rng) for _ in range(50)}
    assert len(values) == 50
    assert all(UUID_V4.match(value) for value in values)


def test_math_random_draws_from_the_rng_inclusive_of_both_bounds() -> None:
    rng = random.Random(3)
    call = parse("States.MathRandom(1, 3)")
    values = [evaluate(call, _resolver(None), rng) for _ in range(300)]
    assert set(values) == {1, 2, 3}
    assert run("States.MathRandom(0, 999)", seed=5) == run("States.MathRandom(0, 999)", seed=5)
    assert run("States.MathRandom(7, 7)") == 7


def test_seeded_math_random_ignores_the_engine_rng() -> None:
    results = {run("States.MathRandom(0, 1000000, 3)", seed=seed) for seed in range(10)}
    assert len(results) == 1
    assert results == {random.Random(3).randint(0, 1000000)}
    assert run("States.MathRandom(0, 1000000, $.s)", {"s": 4}) != results.pop()


# ---------------------------------------------------------------------------------------------------
# Rendering helpers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "1.0"),
        (-1.0, "-1.0"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1.1, "1.1"),
        (100.0, "100.0"),
        (1234567.0, "1234567.0"),
        (9999999.5, "9999999.5"),
        (1e7, "1.0E7"),
        (12345678.9, "1.23456789E7"),
        (0.001, "0.001"),
        (0.0001, "1.0E-4"),
        (-2.5e-10, "-2.5E-10"),
        (1e16, "1.0E16"),
        (1.7976931348623157e308, "1.7976931348623157E308"),
    ],
)
def test_java_double(value: float, expected: str) -> None:
    assert intrinsics.java_double(value) == expected


def test_json_text_and_format_text() -> None:
    value = {"a": [1, 2.0, None, True, "x"], "b": {}}
    assert intrinsics.json_text(value) == '{"a":[1,2.0,null,true,"x"],"b":{}}'
    assert intrinsics.format_text(value) == "{a=[1, 2.0, null, true, x], b={}}"
    with pytest.raises(TypeError):
        intrinsics.json_text({1, 2})
