"""Tests for orchestrator.asl.paths: AWS's JSONPath dialect (Jayway semantics)."""

from __future__ import annotations

import copy
import re
import warnings
from typing import Any

import jsonpath_ng.jsonpath
import pytest

from orchestrator.asl import paths
from orchestrator.asl.paths import (
    PathNotFound,
    PathSyntaxError,
    PathWriteError,
    check_path,
    check_reference_path,
    is_definite,
    read,
    variable_reference,
    write,
)

STORE = {
    "a": {"b": 1, "n": None, "list": [10, 20, 30]},
    "a b": "spaced",
    "foo@bar": "at",
    "café": "unicode",
    "0": "zero",
    "items": [{"item_key": i} for i in range(11)],
    "users": [{"year": 1997, "status": 0}, {"year": 1998, "status": 1}],
    # The key of the recorded ESCAPE_SEQUENCES_JSONPATH case: Test\""Name"
    'Test\\""Name"': 'Value"\\',
}


# --- read: definite paths ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.a.b", 1),
        ("$.a.n", None),  # a JSON null is a value, not a missing node
        ("$['a']['b']", 1),
        ('$["a"]["b"]', 1),
        ("$['a'].list[0]", 10),
        ("$.a.list[-1]", 30),
        ("$.a.list[ 1 ]", 20),
        ("$['a b']", "spaced"),
        ("$.café", "unicode"),
        ("$.0", "zero"),
        ("$.foo\\@bar", "at"),  # '\' escapes in dot notation (SPEC's reference path example)
        ("$.foo@bar", "at"),
        ("$.[0]", None),  # Jayway reads "$.[0]" as "$[0]"; here on a list, see below
        ("$.items[0]", {"item_key": 0}),  # conformance: test_json_path_array_access [0]
        ("$.items[10]", {"item_key": 10}),  # conformance: test_json_path_array_access [10]
        ('$[\'Test\\""Name"\']', 'Value"\\'),  # conformance: ESCAPE_SEQUENCES_JSONPATH, kept as written
        ("$.items[0]['item_key']", 0),
    ],
)
def test_read_definite(path: str, expected: Any) -> None:
    data = [None] if path == "$.[0]" else STORE
    assert read(path, data) == expected


def test_read_root_returns_the_document_itself() -> None:
    for data in (STORE, [1, 2], "text", 3, None, True):
        assert read("$", data) is data


def test_read_returns_values_from_the_document_without_copying() -> None:
    assert read("$.a", STORE) is STORE["a"]
    assert read("$.a.list", STORE) is STORE["a"]["list"]


def test_multi_name_bracket_as_last_segment_merges_into_an_object() -> None:
    # Jayway: ['a','b'] at the end is definite and yields one object with the names that exist.
    data = {"x": 1, "y": 2, "z": 3}
    assert read("$['x','y']", data) == {"x": 1, "y": 2}
    assert read("$['x','missing']", data) == {"x": 1}
    assert read("$['missing']['p', 'q']", {"missing": {"q": 1}}) == {"q": 1}


# --- read: indefinite paths ----------------------------------------------------------------

SCALARS = {"n": [1, 2, 3, 4, 5]}
PEOPLE = {
    "limit": 30,
    "people": [
        {"name": "ann", "age": 31, "tags": ["x"], "vip": True, "note": None},
        {"name": "bob", "age": 25, "vip": False},
        {"name": "cy", "age": 30, "note": "hi"},
    ],
}


@pytest.mark.parametrize(
    ("path", "data", "expected"),
    [
        ("$.users[*].year", STORE, [1997, 1998]),
        ("$.a.*", {"a": {"x": 1, "y": [2]}}, [1, [2]]),
        ("$.a[*]", {"a": {"x": 1, "y": 2}}, [1, 2]),  # [*] on an object gives its values
        ("$[*]", [3, 4], [3, 4]),
        ("$.n[1:3]", SCALARS, [2, 3]),
        ("$.n[3:]", SCALARS, [4, 5]),
        ("$.n[:2]", SCALARS, [1, 2]),
        ("$.n[-2:]", SCALARS, [4, 5]),
        ("$.n[-1:]", SCALARS, [5]),
        ("$.n[:-3]", SCALARS, [1, 2]),
        ("$.n[1:99]", SCALARS, [2, 3, 4, 5]),
        ("$.n[-2:2]", SCALARS, [4, 5, 1, 2]),  # Jayway walks a negative start up to the end
        ("$.n[0:4:2]", SCALARS, [1, 2, 3, 4]),  # Jayway ignores a step
        ("$.n[0,2]", SCALARS, [1, 3]),
        ("$.n[4,0,9]", SCALARS, [5, 1]),  # out-of-range indexes are skipped
        ("$.n[-1,0]", SCALARS, [5, 1]),
        ("$.users[0,1].year", STORE, [1997, 1998]),
        ("$['a','b'].v", {"a": {"v": 1}, "b": {"v": 2}}, [1, 2]),  # not last: each name in turn
        ("$.items[1:3].item_key", STORE, [1, 2]),
    ],
)
def test_read_indefinite(path: str, data: Any, expected: list[Any]) -> None:
    assert read(path, data) == expected


@pytest.mark.parametrize(
    ("path", "expected_names"),
    [
        ("$.people[?(@.age == 25)]", ["bob"]),
        ("$.people[?(@.age != 25)]", ["ann", "cy"]),
        ("$.people[?(@.age < 30)]", ["bob"]),
        ("$.people[?(@.age <= 30)]", ["bob", "cy"]),
        ("$.people[?(@.age > 30)]", ["ann"]),
        ("$.people[?(@.age >= 30)]", ["ann", "cy"]),
        ("$.people[?(@.name == 'cy')]", ["cy"]),
        ('$.people[?(@.name == "cy")]', ["cy"]),
        ("$.people[?(@.vip == true)]", ["ann"]),
        ("$.people[?(@.vip == false)]", ["bob"]),
        ("$.people[?(@.note == null)]", ["ann"]),
        ("$.people[?(@.note)]", ["ann", "cy"]),  # existence: a null member exists
        ("$.people[?(@.tags)]", ["ann"]),
        ("$.people[?(@.age > 26 && @.age < 31)]", ["cy"]),
        ("$.people[?(@.age == 25 || @.name == 'cy')]", ["bob", "cy"]),
        ("$.people[?((@.age == 25 || @.age == 31) && @.vip == true)]", ["ann"]),
        ("$.people[?(@.age >= $.limit)]", ["ann", "cy"]),  # '$' inside a filter is the document
        ("$.people[?(@.age == 99)]", []),
        ("$.people[?( @.age == 25 )]", ["bob"]),
    ],
)
def test_read_filters(path: str, expected_names: list[str]) -> None:
    assert [person["name"] for person in read(path, PEOPLE)] == expected_names


def test_filter_then_more_path() -> None:
    assert read("$.people[?(@.vip == true)].name", PEOPLE) == ["ann"]
    # conformance: test_state_pass_regex_json_path_base
    assert read("$.users[?(@.status == 0)]", STORE) == [{"year": 1997, "status": 0}]


def test_filter_string_may_hold_brackets_and_parentheses() -> None:
    data = {"v": [{"s": "a)]b"}, {"s": "c"}]}
    assert read("$.v[?(@.s == 'a)]b')]", data) == [{"s": "a)]b"}]


def test_filter_on_scalars_uses_at_for_the_element() -> None:
    assert read("$.n[?(@ > 3)]", SCALARS) == [4, 5]


def test_filter_on_an_object_tests_the_object_itself() -> None:
    # Jayway applies a filter to an object as a whole, not to its members.
    data = {"o": {"k": 1, "j": 2}}
    assert read("$.o[?(@.k == 1)]", data) == [data["o"]]
    assert read("$.o[?(@.k == 2)]", data) == []


def test_deep_scan_in_document_order() -> None:
    tree = {
        "name": "a",
        "kids": [{"name": "b"}, {"name": "c", "kids": [{"name": "d"}]}],
        "z": {"name": "e"},
    }
    assert read("$..name", tree) == ["a", "b", "c", "d", "e"]
    assert read("$..kids[0].name", tree) == ["b", "d"]
    assert read("$..['name']", tree) == ["a", "b", "c", "d", "e"]
    assert read("$..[?(@.name == 'd')]", tree) == [{"name": "d"}]
    assert read("$..*", {"a": {"b": 1}, "c": [2]}) == [{"b": 1}, [2], 1, 2]
    assert read("$..missing", tree) == []


@pytest.mark.parametrize(
    "path",
    [
        # conformance: test_json_path_array_wildcard_or_slice_with_no_input (input {} -> [])
        "$.item.items[*]",
        "$.item.items[1:5]",
        "$.item.items[1:5].itemValue",
        "$.item.items[1:]",
        "$.item.items[:1]",
        "$.items[*]",
        "$.items[*].itemValue",
        "$.items[1:]",
        "$.items[1:].itemValue",
        "$.items[:1]",
        "$.items[:1].itemValue",
        "$[*]",
    ],
)
def test_indefinite_path_on_missing_input_is_an_empty_list(path: str) -> None:
    assert read(path, {}) == []


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("$.a[*].b", "text"),
        ("$..x", 5),
        ("$.a[?(@.x)]", {"a": 5}),
        ("$.a[1:]", {"a": {"k": 1}}),
        ("$.a[0,1]", {"a": "xy"}),  # no characters out of a string
        ("$.a.*", {"a": None}),
        ("$.a[*]", {"a": "xy"}),
    ],
)
def test_indefinite_path_never_raises_on_mismatched_shapes(path: str, data: Any) -> None:
    assert read(path, data) == []


# --- read: what AWS reports for a definite path that finds nothing ------------------------

JSON_SMART = "com.jayway.jsonpath.spi.json.JsonSmartJsonProvider"


@pytest.mark.parametrize(
    ("path", "data", "normalized", "message"),
    [
        # Recorded AWS causes: "Invalid path '<path>' : <message>".
        (
            "$.NoSuchOutputPath",
            {"int-literal": 0},
            "$['NoSuchOutputPath']",
            "No results for path: $['NoSuchOutputPath']",
        ),
        (
            "$.NoSuchTimeoutSecondsPath",
            {"int-literal": 0},
            "$['NoSuchTimeoutSecondsPath']",
            "No results for path: $['NoSuchTimeoutSecondsPath']",
        ),
        (
            "$.no.such.result.path",
            {},
            "$['no']['such']['result']['path']",
            "Missing property in path $['no']",
        ),
        # Rule: the last name missing -> the whole path; an earlier one -> up to the first missing.
        ("$.a.b.c", {"a": {"b": {}}}, "$['a']['b']['c']", "No results for path: $['a']['b']['c']"),
        ("$.a.x.c", {"a": {"b": {}}}, "$['a']['x']['c']", "Missing property in path $['a']['x']"),
        ("$.a[0].x.y", {"a": [{}]}, "$['a'][0]['x']['y']", "Missing property in path $['a'][0]['x']"),
        # An index out of range is skipped silently by Jayway: no result for the whole path.
        ("$.a[5]", {"a": [1]}, "$['a'][5]", "No results for path: $['a'][5]"),
        ("$.a[5].b", {"a": [1]}, "$['a'][5]['b']", "No results for path: $['a'][5]['b']"),
        ("$.a[-2]", {"a": [1]}, "$['a'][-2]", "No results for path: $['a'][-2]"),
        ('$["q"]', {}, '$["q"]', 'No results for path: $["q"]'),
        (
            "$.a.b",
            {"a": "text"},
            "$['a']['b']",
            "Expected to find an object with property ['b'] in path $['a'] but found "
            f"'java.lang.String'. This is not a json object according to the JsonProvider: '{JSON_SMART}'.",
        ),
        (
            "$.x",
            [1],
            "$['x']",
            "Expected to find an object with property ['x'] in path $ but found "
            f"'net.minidev.json.JSONArray'. This is not a json object according to the JsonProvider: "
            f"'{JSON_SMART}'.",
        ),
        (
            "$.a.b",
            {"a": None},
            "$['a']['b']",
            "Expected to find an object with property ['b'] in path $['a'] but found 'null'. "
            f"This is not a json object according to the JsonProvider: '{JSON_SMART}'.",
        ),
        ("$.a[0]", {"a": None}, "$['a'][0]", "The path $['a'] is null"),
        (
            "$.a[0].b",
            {"a": {"k": 1}},
            "$['a'][0]['b']",
            "Filter: [0]['b'] can only be applied to arrays. Current context is: {\"k\":1}",
        ),
        # AWS accepts "$.Jobs.sum()" in a definition and then finds nothing (a public report).
        (
            "$.Jobs.sum()",
            {"Jobs": [0, 1]},
            "$['Jobs']['sum()']",
            "Expected to find an object with property ['sum()'] in path $['Jobs'] but found "
            f"'net.minidev.json.JSONArray'. This is not a json object according to the JsonProvider: "
            f"'{JSON_SMART}'.",
        ),
    ],
)
def test_read_definite_not_found(path: str, data: Any, normalized: str, message: str) -> None:
    with pytest.raises(PathNotFound) as caught:
        read(path, data)
    assert caught.value.path == path
    assert caught.value.normalized == normalized
    assert caught.value.message == message
    assert str(caught.value) == message


def test_integer_index_does_not_read_a_character_of_a_string() -> None:
    with pytest.raises(PathNotFound, match=r"^Filter: \[0\] can only be applied to arrays"):
        read("$.s[0]", {"s": "text"})


def test_read_rejects_context_and_variable_paths() -> None:
    # The engine resolves "$$" and "$name" roots itself (variable_reference) before reading.
    for path in ("$$.Execution.Id", "$var.x", "$var"):
        with pytest.raises(PathSyntaxError, match="resolve"):
            read(path, {})


def test_read_rejects_invalid_syntax() -> None:
    with pytest.raises(PathSyntaxError, match=r"^Invalid JSONPath '\$\.a\[': "):
        read("$.a[", {})


# --- syntax checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "$",
        "$.a",
        "$.a.b[0].c",
        "$['a b']",
        '$["a"]',
        "$.a[*]",
        "$.*",
        "$.a[1:2]",
        "$.a[-1:]",
        "$..x",
        "$..[0]",
        "$.a[?(@.b == 1)]",
        "$.a[?(@.b)]",
        "$.a[?(@.b == 'x' && (@.c > 1 || @.d != null))]",
        "$.a[0,1]",
        "$['a','b']",
        "$.foo\\@bar",
        "$.[0]",
        "$.Jobs.sum()",
        "$$",
        "$$.Execution.Input",
        "$var",
        "$var.x[0]",
        "$['']",
    ],
)
def test_check_path_accepts(text: str) -> None:
    assert check_path(text) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "must start with '\\$'"),
        ("a.b", "must start with '\\$'"),
        ("$.", "must not end with"),
        ("$..", "must not end with"),
        ("$...a", "unexpected '.'"),
        ("$.a[", "is not closed"),
        ("$['a'", "expected '\\]'"),
        ("$['a", "is not closed"),
        ("$[]", "expected an index"),
        ("$[abc]", "expected an index"),
        ("$[1.5]", "expected an index"),
        ("$[:]", "needs a start or an end"),
        ("$.a b", "needs brackets"),
        ("$.a\\", "must not end with"),
        ("$ .a", "not a variable name"),
        ("$a-b", "not a variable name"),
        ("$[?@.a]", "\\[\\?\\(\\.\\.\\.\\)\\]"),
        ("$[?(@.a]", "is not closed"),
        ("$[?(@.a == )]", "does not parse"),
        ("$[?(@.a = 1)]", "not supported"),
        ("$[?(@.a =~ 'x')]", "not supported"),  # Jayway's regex is =~ /x/, not jsonpath-ng's
        ("$[?(@.a + 1 > 2)]", "not supported"),
        ("$[?(@.a > 1 & @.b)]", "not supported"),
        ("$['a','b' x]", "expected '\\]'"),
    ],
)
def test_check_path_rejects(text: str, problem: str) -> None:
    message = check_path(text)
    assert message is not None
    assert message.startswith(f"Invalid JSONPath '{text}': ")
    assert re.search(problem, message), message


def test_filter_parsing_leaks_no_warning() -> None:
    # jsonpath-ng warns about unquoted words; the warning must not reach the caller.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_path("$[?(@.x == otherword)]") is None


@pytest.mark.parametrize(
    "text",
    [
        "$",
        "$.a.b",
        "$['store'][0]['book']",
        "$.foo\\@bar",
        "$.a[-1]",
        "$['a,b']",
        "$['a@b']",
        "$$.Execution.Input",
        "$var.a",
    ],
)
def test_check_reference_path_accepts(text: str) -> None:
    assert check_reference_path(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "$.a[*]",
        "$.*",
        "$.a[1:2]",
        "$..a",
        "$.a[?(@.b)]",
        "$.a[0,1]",
        "$['a','b']",
        "$.foo@bar",
        "$.a,b",
        "$.a:b",
        "$.a?",
        "$.length()",
        "$.a*",
        "$.a[",
    ],
)
def test_check_reference_path_rejects(text: str) -> None:
    message = check_reference_path(text)
    assert message is not None
    assert text in message


@pytest.mark.parametrize(
    ("text", "definite"),
    [
        ("$", True),
        ("$.a.b", True),
        ("$.a[0].b", True),
        ("$['a']", True),
        ("$['a','b']", True),  # merged into one object
        ("$['a','b'].c", False),
        ("$.a[*]", False),
        ("$.*", False),
        ("$.a[0,1]", False),
        ("$.a[1:]", False),
        ("$..a", False),
        ("$.a[?(@.b)]", False),
        ("$$.Map.Item.Value", True),
        ("$var.a[0]", True),
    ],
)
def test_is_definite(text: str, definite: bool) -> None:
    assert is_definite(text) is definite


def test_is_definite_raises_on_invalid_syntax() -> None:
    with pytest.raises(PathSyntaxError):
        is_definite("$.a[")


# --- variables -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$name.a.b", ("name", "$.a.b")),
        ("$name", ("name", "$")),
        ("$name[0].x", ("name", "$[0].x")),
        ("$_x1", ("_x1", "$")),
        ("$größe.a", ("größe", "$.a")),
        ("$", None),
        ("$.x", None),
        ("$[0]", None),
        ("$$.x", None),
        ("$$", None),
        ("$-x", None),
        ("name", None),
    ],
)
def test_variable_reference(path: str, expected: tuple[str, str] | None) -> None:
    assert variable_reference(path) == expected


# --- write (ResultPath) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path", "value", "expected"),
    [
        ({"a": 1}, "$", {"r": 1}, {"r": 1}),
        ("foo", "$", 5, 5),
        ({"a": 1}, "$.b", 2, {"a": 1, "b": 2}),
        ({"a": 1}, "$.a", {"x": 1}, {"a": {"x": 1}}),
        ({"a": None}, "$.a", 1, {"a": 1}),
        ({}, "$.a.b.c", 1, {"a": {"b": {"c": 1}}}),
        ({"a": {"k": 0}}, "$.a.b", None, {"a": {"k": 0, "b": None}}),
        ({"a": [1, 2]}, "$.a[1]", 9, {"a": [1, 9]}),
        ({"a": [{}, {"y": 1}]}, "$.a[-1].x", 3, {"a": [{}, {"y": 1, "x": 3}]}),
        ([{"a": 1}], "$[0].b", 2, [{"a": 1, "b": 2}]),
        ({}, "$['a b']", 1, {"a b": 1}),
        ({}, "$.foo\\@bar", 1, {"foo@bar": 1}),
    ],
)
def test_write(data: Any, path: str, value: Any, expected: Any) -> None:
    before = copy.deepcopy(data)
    assert write(data, path, value) == expected
    assert data == before  # the input is left as it was


def test_write_copies_only_along_the_written_path() -> None:
    data = {"a": {"x": 1, "deep": {"k": [1]}}, "other": {"big": [1, 2, 3]}}
    result = write(data, "$.a.y", 2)
    assert result["other"] is data["other"]
    assert result["a"]["deep"] is data["a"]["deep"]
    assert result is not data and result["a"] is not data["a"]
    assert "y" not in data["a"]


@pytest.mark.parametrize(
    ("data", "path", "step", "rendered_input"),
    [
        ("foo", "$.x", "x", '"foo"'),
        (5, "$.x", "x", "5"),
        (None, "$.x", "x", "null"),
        ([1], "$.x", "x", "[1]"),
        ({"a": 5}, "$.a.b", "b", '{"a":5}'),
        ({"a": "s"}, "$.a.b", "b", '{"a":"s"}'),
        ({"a": None}, "$.a.b", "b", '{"a":null}'),
        ({"a": [1]}, "$.a.b", "b", '{"a":[1]}'),
        ({"a": [1]}, "$.a[3]", "3", '{"a":[1]}'),
        ({"a": {}}, "$.a[0]", "0", '{"a":{}}'),
        ({}, "$.a[0]", "0", "{}"),  # arrays are not created
    ],
)
def test_write_errors(data: Any, path: str, step: str, rendered_input: str) -> None:
    with pytest.raises(PathWriteError) as caught:
        write(data, path, 1)
    assert caught.value.path == path
    assert caught.value.step == step
    assert caught.value.message == f'Unable to apply step "{step}" to input {rendered_input}'


@pytest.mark.parametrize("path", ["$.a[*]", "$..a", "$['a','b']", "$$.a", "$var.a", "$.a["])
def test_write_takes_only_a_reference_path_on_the_input(path: str) -> None:
    with pytest.raises(PathSyntaxError):
        write({}, path, 1)


# --- library use and caching ---------------------------------------------------------------


def test_error_types() -> None:
    assert issubclass(PathSyntaxError, ValueError)
    assert issubclass(PathNotFound, LookupError)
    assert issubclass(PathWriteError, ValueError)


def test_simple_paths_do_not_go_through_jsonpath_ng(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("jsonpath-ng used for a simple path")

    monkeypatch.setattr(jsonpath_ng.jsonpath, "DatumInContext", forbidden)
    monkeypatch.setattr(paths, "_jp_ext_parse", forbidden)
    assert read("$.a.list[1]", STORE) == 20
    assert read("$['a']['b']", STORE) == 1
    assert read("$", STORE) is STORE
    assert write({}, "$.x.y", 1) == {"x": {"y": 1}}


def test_parsed_paths_are_cached() -> None:
    path = "$.cache_probe[?(@.v == 1)]"
    read(path, {"cache_probe": []})
    hits = paths._compile.cache_info().hits
    read(path, {"cache_probe": [{"v": 1}]})
    assert paths._compile.cache_info().hits == hits + 1


def test_jsonpath_ng_auto_id_is_left_off() -> None:
    read("$.people[?(@.id)]", {"people": [{"x": 1}]})
    assert jsonpath_ng.jsonpath.auto_id_field is None
    assert read("$.people[?(@.id)]", {"people": [{"x": 1}, {"id": 2}]}) == [{"id": 2}]


def test_unquoted_filter_word_is_a_string_as_aws_accepts_it() -> None:
    # AWS accepts definitions with `[?(@.lang==es)]` (real samples use it); the word is a string.
    assert check_path("$[?(@.lang==es)].text") is None
    assert read("$[?(@.lang==es)].text", [{"lang": "es", "text": "hola"}, {"lang": "fr", "text": "salut"}]) == ["hola"]
