"""Tests for orchestrator.asl.jsonata: the 2.0.6 compatibility layer, AWS's added functions,
undefined versus null, template walking and AWS's recorded error texts.

Values marked "recorded" come from the conformance cases (executions recorded against AWS)."""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any

import pytest

from orchestrator.asl import jsonata
from orchestrator.asl.errors import QUERY_EVALUATION_ERROR, FieldError
from orchestrator.asl.jsonata import (
    UNDEFINED,
    JsonataEvaluationError,
    JsonataSyntaxError,
    check,
    evaluate,
    expression_body,
    is_expression,
    resolve_template,
    unexpected_type_detail,
)
from orchestrator.asl.parse import validate


def run(body: str, data: Any = None, variables: dict[str, Any] | None = None, seed: int = 0) -> Any:
    return evaluate(body, states={"input": data, "context": {}}, variables=variables or {}, rng=random.Random(seed))


def failure(body: str, data: Any = None, variables: dict[str, Any] | None = None) -> JsonataEvaluationError:
    with pytest.raises(JsonataEvaluationError) as caught:
        run(body, data, variables)
    return caught.value


def resolve(template: Any, data: Any = None, field: str = "Output", variables: dict[str, Any] | None = None) -> Any:
    return resolve_template(
        template,
        field=field,
        states={"input": data, "context": {}},
        variables=variables or {},
        rng=random.Random(0),
    )


def cause_of(template: Any, data: Any = None, field: str = "Output") -> str:
    with pytest.raises(FieldError) as caught:
        resolve(template, data, field)
    assert caught.value.error == QUERY_EVALUATION_ERROR
    assert caught.value.cause is not None
    return caught.value.cause


SIGNATURE = 'T0410: Argument {} of function "{}" does not match function signature'

# --- recognising expressions ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["{% $states.input %}", "{%1%}", "{% {'a': 1} %}"])
def test_is_expression_accepts_delimited_strings(value: str) -> None:
    assert is_expression(value)


# " {% states.input %} " is a literal on AWS (recorded: BASE_LAMBDA_LITERALS, BASE_LITERALS).
@pytest.mark.parametrize(
    "value", [" {% states.input %} ", "{% x %} ", "$states.input", "{%}", "%}", 5, None, ["{% 1 %}"]]
)
def test_is_expression_rejects_everything_else(value: Any) -> None:
    assert not is_expression(value)


def test_expression_body_strips_the_delimiters_and_spaces() -> None:
    assert expression_body("{% {'foo': 'bar'} %}") == "{'foo': 'bar'}"
    assert expression_body("{%$x%}") == "$x"


# --- the 2.0.6 compatibility layer ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "symbol"),
    [
        ("$states.input.a ?: 'default'", ":"),
        ("$states.input.a ?? 'default'", "?"),
        ("{'k': $x ?: 1}", ":"),
        ("$f(1) ?? [1, 2]", "?"),
        ("$x ? : 1", ":"),  # spaced: jsonatapy rejects it itself, in its own words; we quote the symbol
        ("($a := 1; $a ?: 2)", ":"),
        ('"a" & $x ?: "b"', ":"),
    ],
)
def test_default_and_coalescing_operators_are_rejected_with_s0211(body: str, symbol: str) -> None:
    message = f'The symbol "{symbol}" cannot be used as a unary operator'
    assert check(body) == f"S0211: {message}"
    with pytest.raises(JsonataSyntaxError) as caught:
        run(body)
    assert (caught.value.code, caught.value.message) == ("S0211", message)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('"?:" & "??"', "?:??"),
        ('"a\\" ?: b"', 'a" ?: b'),
        ("/* ?: and ?? */ 1", 1),
        ("$contains('x?:y', /\\?:/)", True),
        ("$contains('a??', /a\\?\\?/)", True),
        ("{'?:': 1}.`?:`", 1),
        ("$states.input.a ? 1 : 2", 1),
        ("4 / 2 ? 'y' : 'n'", "y"),
        ("$map([1, 2], function($v) { $v * 2 })", [2, 4]),
    ],
)
def test_question_marks_inside_strings_regexes_comments_and_names_are_fine(body: str, expected: Any) -> None:
    assert check(body) is None
    assert run(body, {"a": True}) == expected


# Lambda signatures with an optional parameter, as in the JSONata test suite's function-signatures
# cases 011-018: "?" marks the optional parameter and ":" starts the return type, no operator.
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('function($a)<s?:s>{$a}("x")', "x"),
        ('λ($a)<s?:s>{$a}("x")', "x"),
        ('λ($list, $sep)<a<s>s?:s>{$join($list, $sep)}(["a", "b"], "-")', "a-b"),
        ('λ($list, $sep)<a<s>s?:s>{$join($list, $sep)}(["a", "b"])', "ab"),
        ('λ($list, $sep)<a<s>s?:s>{$join($list, $sep)}("a")', "a"),
        ("$map(['a', 'b'], function ($v, $i) <sn?:s> {$v & $i})", ["a0", "b1"]),
        ('($f := function($a)<s?:s>{$exists($a) ? $a : "none"}; $f())', "none"),
        ("function($n, $m)<nn?:n>{$n + ($exists($m) ? $m : 10)}(1)", 11),
    ],
)
def test_optional_parameters_in_lambda_signatures_are_fine(body: str, expected: Any) -> None:
    assert check(body) is None
    assert run(body) == expected


def test_a_machine_using_an_optional_parameter_validates() -> None:
    output = '{% function($a)<s?:s>{$a}("x") %}'
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Output": output, "End": True}},
    }
    assert validate(definition) == []


@pytest.mark.parametrize(
    "body",
    ['function($a)<s?:s>{$a ?: "none"}("x")', 'function($a)<s:s>{$a}("x") ?: "none"', "function($a){$a}(1) ?: 2"],
)
def test_default_operator_next_to_a_signature_is_still_rejected(body: str) -> None:
    assert check(body) == 'S0211: The symbol ":" cannot be used as a unary operator'


def test_check_reports_other_syntax_errors_with_their_code() -> None:
    assert check("1 +") == "S0207: Unexpected end of expression"
    assert check("$states.input.a + 1") is None


def test_encode_url_is_javascript_encode_uri() -> None:
    # jsonatapy's own $encodeUrl leaves the space alone; jsonata-js 2.0.6 gives %20.
    assert run("$encodeUrl('a b')") == "a%20b"
    assert run("$encodeUrl($states.input)", "https://x.org/p q?a=1&b=ä#frag;,/:@=+$!~*'()") == (
        "https://x.org/p%20q?a=1&b=%C3%A4#frag;,/:@=+$!~*'()"
    )
    assert run("$encodeUrl('[x]{y}|\"<>%')") == "%5Bx%5D%7By%7D%7C%22%3C%3E%25"


def test_encode_url_errors_and_undefined() -> None:
    assert str(failure("$encodeUrl(1)")) == SIGNATURE.format(1, "encodeUrl")
    assert run("$encodeUrl($states.input.nothing)", {}) is UNDEFINED


def test_eval_is_not_a_function() -> None:
    assert str(failure("$eval('1 + 1')")) == "T1006: Attempted to invoke a non-function"


def test_a_workflow_variable_wins_over_a_function_of_the_same_name() -> None:
    assert run("$range", variables={"range": [7]}) == [7]
    assert run("$eval", variables={"eval": "mine"}) == "mine"
    assert run("$hash('a', 'MD5') & $range", variables={"range": "!"}) == hashlib.md5(b"a").hexdigest() + "!"


# --- $partition ----------------------------------------------------------------------------------

# Recorded: test_array_partition (JSONata), executions 1-20 as stored.
RECORDED_PARTITIONS = [
    ([0], 1, [[0]]),
    ([0], 2, [[0]]),
    ([0], 3, [[0]]),
    ([0], 4, [[0]]),
    ([0, 1], 1, [[0], [1]]),
    ([0, 1], 2, [[0, 1]]),
    ([0, 1], 3, [[0, 1]]),
    ([0, 1, 2], 1, [[0], [1], [2]]),
    ([0, 1, 2], 2, [[0, 1], [2]]),
    ([0, 1, 2], 4, [[0, 1, 2]]),
    ([0, 1, 2], 5, [[0, 1, 2]]),
    ([0, 1, 2, 3], 1, [[0], [1], [2], [3]]),
    ([0, 1, 2, 3], 3, [[0, 1, 2], [3]]),
    ([0, 1, 2, 3], 4, [[0, 1, 2, 3]]),
    ([0, 1, 2, 3], 5, [[0, 1, 2, 3]]),
]


@pytest.mark.parametrize(("array", "size", "expected"), RECORDED_PARTITIONS)
def test_partition_recorded(array: list[int], size: int, expected: list[list[int]]) -> None:
    template = "{% $partition($states.input.FunctionInput.fst, $states.input.FunctionInput.snd) %}"
    assert resolve(template, {"FunctionInput": {"fst": array, "snd": size}}) == expected


def test_partition_edges() -> None:
    assert run("$partition([1, 2, 3, 4, 5], 2.9)") == [[1, 2], [3, 4], [5]]
    assert run("$partition('solo', 3)") == [["solo"]]
    assert run("$partition([{'a': 1}, 2], 1)") == [[{"a": 1}], [2]]
    assert run("$partition([], 2)") is UNDEFINED
    assert run("$partition([1], 0)") is UNDEFINED
    assert run("$partition([1], -1)") is UNDEFINED
    assert run("$partition($states.input.none, 1)", {}) is UNDEFINED


@pytest.mark.parametrize(
    ("body", "index"),
    [("$partition([1], '2')", 2), ("$partition([1], true)", 2), ("$partition([1], [2])", 2)],
)
def test_partition_bad_arguments(body: str, index: int) -> None:
    assert str(failure(body)) == SIGNATURE.format(index, "partition")


# --- $range --------------------------------------------------------------------------------------


# Recorded: test_array_range (JSONata), executions 1-4. A single value is not wrapped in an array.
@pytest.mark.parametrize(
    ("start", "end", "step", "expected"),
    [(0, 9, 3, [0, 3, 6, 9]), (0, 10, 3, [0, 3, 6, 9]), (1, 9, 9, 1), (1, 9, 2, [1, 3, 5, 7, 9])],
)
def test_range_recorded(start: int, end: int, step: int, expected: Any) -> None:
    arguments = "$states.input.FunctionInput.fst, $states.input.FunctionInput.snd, $states.input.FunctionInput.trd"
    template = "{% $range(" + arguments + ") %}"
    assert resolve(template, {"FunctionInput": {"fst": start, "snd": end, "trd": step}}) == expected


def test_range_edges() -> None:
    assert run("$range(0, 10, 2)") == [0, 2, 4, 6, 8, 10]
    assert run("$range(5, 1, -2)") == [5, 3, 1]
    assert run("$range(-1.7, 2, 1)") == [-1, 0, 1, 2]
    assert run("$range(3, 3, 1)") == 3
    assert run("$range(5, 1, 1)") is UNDEFINED
    assert run("$range(1, 5, -1)") is UNDEFINED
    assert run("$range(1, 5, 0)") is UNDEFINED
    assert run("$range(1, 5)") is UNDEFINED
    assert run("{'r': $range(1, 5, 0), 'n': $count($range(1, 4, 1))}") == {"n": 4}


def test_range_bad_arguments() -> None:
    assert str(failure("$range('0', 5, 1)")) == SIGNATURE.format(1, "range")
    assert str(failure("$range(0, {}, 1)")) == SIGNATURE.format(2, "range")
    assert str(failure("$range(0, 5, false)")) == SIGNATURE.format(3, "range")
    too_long = failure("$range(0, 10000000, 1)")
    assert too_long.code == "D3150"
    assert "10000001" in too_long.message


# --- $hash ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "library"),
    [("MD5", "md5"), ("SHA-1", "sha1"), ("SHA-256", "sha256"), ("SHA-384", "sha384"), ("SHA-512", "sha512")],
)
def test_hash_algorithms(algorithm: str, library: str) -> None:
    expected = hashlib.new(library, "héllo".encode()).hexdigest()
    assert run(f"$hash($states.input, '{algorithm}')", "héllo") == expected


def test_hash_known_digest_and_edges() -> None:
    sha256_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert run("$hash('abc', 'SHA-256')") == sha256_abc
    # An unpaired surrogate (valid in JSON text) cannot reach jsonatapy; it is read as U+FFFD.
    assert run("$hash($states.input, 'MD5')", "a\ud800") == hashlib.md5("a\ufffd".encode()).hexdigest()
    assert run("$hash('abc')") is UNDEFINED
    assert run("$hash($states.input.none, 'MD5')", {}) is UNDEFINED


def test_hash_bad_arguments() -> None:
    assert str(failure("$hash(1, 'MD5')")) == SIGNATURE.format(1, "hash")
    assert str(failure("$hash('a', 256)")) == SIGNATURE.format(2, "hash")
    unknown = failure("$hash('a', 'sha-256')")  # the names are case-sensitive
    assert unknown.code == "D3150"
    assert '"sha-256"' in unknown.message


# --- $random and $uuid ---------------------------------------------------------------------------


def test_random_unseeded_draws_from_the_callers_generator() -> None:
    first = run("$random()", seed=7)
    assert first == random.Random(7).random()
    assert 0 <= first < 1
    generator = random.Random(7)
    assert run("[$random(), $random()]", seed=7) == [generator.random(), generator.random()]


def test_random_seeded_is_java_util_random() -> None:
    # new java.util.Random(42).nextDouble() and new java.util.Random(0).nextDouble()
    assert run("$random(42)", seed=1) == 0.7275636800328681
    assert run("$random(42)", seed=2) == 0.7275636800328681
    assert run("$random(0)") == 0.730967787376657
    assert run("$random(42.9)") == run("$random(42)")
    assert 0 <= run("$random(-123456789)") < 1


def test_random_bad_seed() -> None:
    assert str(failure("$random('seed')")) == SIGNATURE.format(1, "random")


def test_uuid_is_version_4_and_follows_the_generator() -> None:
    value = run("$uuid()", seed=3)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", value)
    assert run("$uuid()", seed=3) == value
    assert run("$uuid()", seed=4) != value
    pair = run("[$uuid(), $uuid()]", seed=3)
    assert pair[0] == value
    assert pair[1] != value


def test_random_and_uuid_in_higher_order_functions() -> None:
    values = run("$map([1, 2, 3], function($v) { $random() })", seed=5)
    generator = random.Random(5)
    assert values == [generator.random() for _ in range(3)]


# --- $parse --------------------------------------------------------------------------------------


# Recorded: test_parse (JSONata), executions 1, 3, 4, 6.
@pytest.mark.parametrize(
    ("text", "expected"),
    [("-0", 0), ("1.1", 1.1), ("true", True), ('[1, 2, "HelloWorld"]', [1, 2, "HelloWorld"])],
)
def test_parse_recorded(text: str, expected: Any) -> None:
    result = resolve("{% $parse($states.input.FunctionInput) %}", {"FunctionInput": text})
    assert result == expected
    assert type(result) is type(expected)


def test_parse_edges() -> None:
    assert run('$parse(\'{"a": {"b": null}}\')') == {"a": {"b": None}}
    assert run("$parse('null')") is None
    assert run("$parse($states.input)", "123456789012345678901234") == 1.2345678901234568e23
    assert run("$parse($states.input.none)", {}) is UNDEFINED
    assert run("$parse($states.input)", '["\\ud800", "\\u00e9"]') == ["\ufffd", "é"]


@pytest.mark.parametrize("text", ["{bad", "NaN", "Infinity", "", "[1,]"])
def test_parse_invalid_json(text: str) -> None:
    assert failure("$parse($states.input)", text).code == "D3150"


def test_parse_bad_argument() -> None:
    assert str(failure("$parse(12)")) == SIGNATURE.format(1, "parse")


# --- undefined, null and numbers -----------------------------------------------------------------


def test_undefined_and_null_stay_distinct() -> None:
    data = {"present": None}
    assert run("$states.input.present", data) is None
    assert run("$states.input.absent", data) is UNDEFINED
    assert run("null") is None
    assert run("$nothing") is UNDEFINED
    assert run("$v", variables={"v": None}) is None
    assert resolve({"k": "{% $states.input.present %}"}, data) == {"k": None}


def test_integral_results_are_ints() -> None:
    for body in ["1.5 * 2", "$sum([1, 2, 3])", "$states.input.a + 1", "6 / 3"]:
        value = run(body, {"a": 2.0})
        assert type(value) is int, body
    assert run("1 / 4") == 0.25
    assert run("$states.input", {"x": [1, 2.5]}) == {"x": [1, 2.5]}


def test_integers_beyond_64_bits_are_read_as_doubles() -> None:
    assert run("$states.input.big + 1", {"big": 2**70}) == float(2**70)


def test_workflow_variables_and_states_are_bound() -> None:
    states = {"input": {"a": 1}, "context": {"State": {"Name": "S"}}, "result": {"r": 2}}
    value = evaluate(
        "$states.input.a + $states.result.r + $v & $states.context.State.Name",
        states=states,
        variables={"v": 3},
        rng=random.Random(0),
    )
    assert value == "6S"


def test_runtime_errors_carry_code_and_message() -> None:
    error = failure("1 + 'a'")
    assert (error.code, error.message) == (
        "T2002",
        "The right side of the + operator must evaluate to a number",
    )
    assert str(failure("$nope()")) == "T1006: Attempted to invoke a non-function"


def test_a_non_terminating_expression_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonata, "EVALUATION_TIMEOUT_MS", 100)
    assert failure("($f := function($n) { $f($n + 1) }; $f(0))").code == "D1012"


# --- templates and AWS's messages ----------------------------------------------------------------


def test_template_walks_objects_and_arrays_and_keeps_literals() -> None:
    # Recorded: test_base_output_any_non_dict LIST_RICH.
    template = [
        None,
        0,
        0.1,
        True,
        "string",
        [],
        "$nosuchvar",
        "$.no.such.path",
        "{% $states.input %}",
        {"key": "{% true %}"},
    ]
    data = {"input_value": "stringliteral"}
    assert resolve(template, data) == [
        None,
        0,
        0.1,
        True,
        "string",
        [],
        "$nosuchvar",
        "$.no.such.path",
        data,
        {"key": True},
    ]


def test_template_literals_are_copied_not_shared() -> None:
    template = {"a": {"b": [1]}}
    result = resolve(template)
    assert result == template
    result["a"]["b"].append(2)
    assert template == {"a": {"b": [1]}}


def test_template_scalars_pass_through() -> None:
    for literal in [None, True, 0, 0.1, "plain", " {% states.input %} "]:
        assert resolve(literal) == literal


# Recorded causes, after the engine's "An error occurred while executing the state ..." prefix.
def test_recorded_undefined_messages() -> None:
    assert cause_of({"result": "{% $doesNotExist %}"}) == (
        "The JSONata expression '$doesNotExist' specified for the field 'Output/result' returned nothing (undefined)."
    )
    assert cause_of("{% $doesNotExist %}", field="Arguments") == (
        "The JSONata expression '$doesNotExist' specified for the field 'Arguments' returned nothing (undefined)."
    )
    assert cause_of({"FunctionName": "{% $doesNotExist %}"}, field="Arguments") == (
        "The JSONata expression '$doesNotExist' specified for the field 'Arguments/FunctionName' "
        "returned nothing (undefined)."
    )


def test_recorded_error_message() -> None:
    template = {"FunctionResult": "{% $randomSeeded($states.input.FunctionInput.fst) %}"}
    assert cause_of(template, {"FunctionInput": "fst"}) == (
        "The JSONata expression '$randomSeeded($states.input.FunctionInput.fst)' specified for the field "
        "'Output/FunctionResult' threw an error during evaluation. T1006: Attempted to invoke a non-function"
    )


def test_undefined_deep_inside_objects_and_arrays_names_the_path() -> None:
    assert "for the field 'Output/a/b' returned nothing" in cause_of({"a": {"b": "{% $states.input.x %}"}}, {})
    assert "for the field 'Output/list[1]' returned nothing" in cause_of({"list": [1, "{% $nope %}"]})
    assert "for the field 'Items[0]/k' returned nothing" in cause_of([{"k": "{% $nope %}"}], field="Items")


def test_a_syntax_error_in_a_template_is_reported_as_an_evaluation_error() -> None:
    assert cause_of({"v": "{% $x ?: 1 %}"}) == (
        "The JSONata expression '$x ?: 1' specified for the field 'Output/v' threw an error during "
        'evaluation. S0211: The symbol ":" cannot be used as a unary operator'
    )


def test_the_first_failing_field_is_reported() -> None:
    assert "'Output/b'" in cause_of({"a": "{% 1 %}", "b": "{% $nope %}", "c": "{% 1 + 'x' %}"})


# Recorded: test_map_state_items_eval_jsonata_fail (boolean, number, object, string) and
# test_map_state_items_variable_sampling (null).
@pytest.mark.parametrize(
    ("template", "found", "rendered"),
    [
        ("{% true %}", "boolean", "true"),
        ("{% 1 %}", "number", "1"),
        ("{% {'foo': 'bar'} %}", "object", '{"foo":"bar"}'),
        ("{% 'string' %}", "string", '"string"'),
        ("{% null %}", "null", "null"),
    ],
)
def test_unexpected_type_detail_recorded(template: str, found: str, rendered: str) -> None:
    body = expression_body(template)
    expected = (
        f"The JSONata expression '{body}' specified for the field 'Items' returned an unexpected result "
        f"type. Expected 'array', but was '{found}' for value: {rendered}"
    )
    assert unexpected_type_detail(body, "Items", "array", resolve(template, field="Items")) == expected
