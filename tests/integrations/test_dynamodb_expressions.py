"""DynamoDB's values and expression language (`integrations.dynamodb_expressions`), without a database.

Each test parses an expression as a request would carry it, then evaluates or applies it to an item,
or asserts DynamoDB's ValidationException message for an expression DynamoDB refuses.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.integrations import dynamodb_expressions as ex
from orchestrator.integrations.dynamodb_expressions import DynamoDBError

ITEM: dict[str, Any] = {
    "id": {"S": "order-1"},
    "amount": {"N": "10"},
    "price": {"N": "9.5"},
    "status": {"S": "OPEN"},
    "tags": {"SS": ["red", "blue"]},
    "sizes": {"NS": ["1", "2.5"]},
    "photo": {"B": "aGVsbG8="},  # b"hello"
    "parts": {"L": [{"S": "a"}, {"M": {"sku": {"S": "X1"}}}, {"N": "3"}]},
    "address": {"M": {"city": {"S": "Paris"}, "zip": {"S": "75001"}}},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
}


def refs(values: dict[str, Any] | None = None, names: dict[str, str] | None = None) -> ex.Placeholders:
    return ex.placeholders(names, values)


def holds(text: str, values: dict[str, Any] | None = None, names: dict[str, str] | None = None) -> bool:
    return ex.evaluate(ex.parse_condition(text, refs(values, names)), ITEM)


def refused(call: Any, *args: Any) -> str:
    with pytest.raises(DynamoDBError) as caught:
        call(*args)
    assert caught.value.code == "ValidationException"
    return caught.value.message


# -- values ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("01.50", "1.5"), ("-0", "0"), ("1e2", "100"), ("1.2E-3", "0.0012"), ("+7", "7"), ("100", "100")],
)
def test_numbers_are_stored_in_canonical_form(text: str, canonical: str) -> None:
    assert ex.check_value({"N": text}) == {"N": canonical}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "A value provided cannot be converted into a number"),
        ("1_000", "A value provided cannot be converted into a number"),
        ("NaN", "A value provided cannot be converted into a number"),
        ("1" * 39, "Attempting to store more than 38 significant digits in a Number"),
        ("1e126", "Number overflow. Attempting to store a number with magnitude larger than supported range"),
        ("1e-131", "Number underflow. Attempting to store a number with magnitude smaller than supported range"),
    ],
)
def test_numbers_dynamodb_refuses(text: str, message: str) -> None:
    assert refused(ex.check_value, {"N": text}) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({}, "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"),
        (
            {"S": "a", "N": "1"},
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the "
            "supported datatypes",
        ),
        (
            {"NULL": False},
            "One or more parameter values were invalid: Null attribute value types must have the value of true",
        ),
        ({"SS": []}, "One or more parameter values were invalid: An string set  may not be empty"),
        ({"BS": []}, "One or more parameter values were invalid: Binary sets should not be empty"),
        (
            {"NS": ["1", "1.0"]},
            "One or more parameter values were invalid: Input collection [1, 1.0] contains duplicates.",
        ),
        ({"B": "not base64!"}, "Invalid binary value: 'not base64!' is not base64"),
    ],
)
def test_attribute_values_dynamodb_refuses(value: Any, message: str) -> None:
    assert refused(ex.check_value, value) == message


def test_equality_compares_numbers_as_numbers_and_sets_as_sets() -> None:
    assert ex.equal({"N": "1.0"}, {"N": "1"})
    assert ex.equal({"NS": ["1", "2"]}, {"NS": ["2.0", "1"]})
    assert not ex.equal({"S": "1"}, {"N": "1"})
    assert ex.compare({"N": "10"}, {"N": "9"}) == 1  # not text order
    assert ex.compare({"S": "10"}, {"S": "9"}) == -1
    assert ex.compare({"S": "a"}, {"N": "1"}) is None


def test_plain_json_round_trip() -> None:
    plain = {"name": "Ann", "age": 42, "score": 7.5, "ok": True, "none": None, "list": [1, "x"], "map": {"k": 1}}
    typed = {k: ex.from_plain(v) for k, v in plain.items()}
    assert typed["age"] == {"N": "42"} and typed["score"] == {"N": "7.5"} and typed["none"] == {"NULL": True}
    assert typed["map"] == {"M": {"k": {"N": "1"}}}
    assert ex.plain_item(typed) == plain


# -- conditions -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("amount > :n", {":n": {"N": "9"}}, True),  # 10 > 9 numerically
        ("amount < :n", {":n": {"N": "9"}}, False),
        ("price <= :n", {":n": {"N": "9.50"}}, True),
        ("amount = :s", {":s": {"S": "10"}}, False),  # another type is never equal
        ("amount > :s", {":s": {"S": "1"}}, False),  # nor ordered
        ("absent <> :s", {":s": {"S": "x"}}, True),
        ("absent = :s", {":s": {"S": "x"}}, False),
        ("amount BETWEEN :a AND :b", {":a": {"N": "10"}, ":b": {"N": "11"}}, True),
        ("amount BETWEEN :a AND :b", {":a": {"N": "11"}, ":b": {"N": "12"}}, False),
        ("#s IN (:a, :b)", {":a": {"S": "CLOSED"}, ":b": {"S": "OPEN"}}, True),
        ("address.city = :c", {":c": {"S": "Paris"}}, True),
        ("parts[1].sku = :c", {":c": {"S": "X1"}}, True),
        ("parts[2] = :n", {":n": {"N": "3.0"}}, True),
        ("parts[9] = :n", {":n": {"N": "3"}}, False),
        ("tags = :t", {":t": {"SS": ["blue", "red"]}}, True),
    ],
)
def test_comparisons(text: str, values: dict[str, Any], expected: bool) -> None:
    assert holds(text, values, {"#s": "status"} if "#s" in text else None) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("attribute_exists(address.zip)", True),
        ("attribute_exists(parts[1].sku)", True),
        ("attribute_not_exists(address.country)", True),
        ("attribute_not_exists(id)", False),
        ("attribute_type(tags, :ss)", True),
        ("attribute_type(amount, :ss)", False),
        ("begins_with(id, :order)", True),
        ("begins_with(photo, :he)", True),
        ("contains(id, :der)", True),
        ("contains(tags, :red)", True),
        ("contains(sizes, :two_and_a_half)", True),
        ("contains(parts, :a)", True),
        ("contains(amount, :a)", False),
        ("size(id) = :seven", True),
        ("size(tags) = :two", True),
        ("size(parts) > :two", True),
        ("size(photo) = :five", True),
        ("size(address) = :two", True),
        ("size(absent) = :two", False),
    ],
)
def test_functions(text: str, expected: bool) -> None:
    values = {
        ":ss": {"S": "SS"},
        ":order": {"S": "order-"},
        ":he": {"B": "aGU="},
        ":der": {"S": "der"},
        ":red": {"S": "red"},
        ":two_and_a_half": {"N": "2.50"},
        ":a": {"S": "a"},
        ":seven": {"N": "7"},
        ":two": {"N": "2"},
        ":five": {"N": "5"},
    }
    used = {k: v for k, v in values.items() if k in text}
    assert holds(text, used) is expected


def test_and_binds_tighter_than_or_and_parentheses_change_it() -> None:
    values = {":yes": {"BOOL": True}, ":no": {"BOOL": False}}
    # true OR (true AND false) is true; (true OR true) AND false is false
    assert holds("flag = :yes OR flag = :yes AND flag = :no", values)
    assert not holds("(flag = :yes OR flag = :yes) AND flag = :no", values)
    assert holds("NOT flag = :no", values)
    assert not holds("NOT (flag = :yes AND flag = :yes)", values)


def test_keywords_are_case_insensitive_and_functions_are_not() -> None:
    assert holds("amount between :a and :b", {":a": {"N": "1"}, ":b": {"N": "99"}})
    message = refused(holds, "Attribute_Exists(id)")
    assert message == "Invalid ConditionExpression: Invalid function name; function: Attribute_Exists"


def test_placeholders_name_reserved_words() -> None:
    assert holds("#status = :s", {":s": {"S": "OPEN"}}, {"#status": "status"})
    message = refused(holds, "status = :s", {":s": {"S": "OPEN"}})
    assert message == "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status"


@pytest.mark.parametrize(
    ("text", "values", "names", "message"),
    [
        ("", {}, {}, "Invalid ConditionExpression: The expression can not be empty;"),
        ("amount >", {}, {}, 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: ">"'),
        (
            "amount = = :n",
            {":n": {"N": "1"}},
            {},
            'Invalid ConditionExpression: Syntax error; token: "=", near: "= = :n"',
        ),
        ("amount", {}, {}, 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "amount"'),
        (
            "amount ! :n",
            {":n": {"N": "1"}},
            {},
            'Invalid ConditionExpression: Syntax error; token: "!", near: "amount !"',
        ),
        (
            "amount = :n",
            {},
            {},
            "Invalid ConditionExpression: An expression attribute value used in expression is not defined; "
            "attribute value: :n",
        ),
        (
            "#t = :n",
            {":n": {"N": "1"}},
            {},
            "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; "
            "attribute name: #t",
        ),
        ("nope(amount)", {}, {}, "Invalid ConditionExpression: Invalid function name; function: nope"),
        (
            "begins_with(amount)",
            {},
            {},
            "Invalid ConditionExpression: Incorrect number of operands for operator or function; "
            "operator or function: begins_with, number of operands: 1",
        ),
        (
            "attribute_exists(:v)",
            {":v": {"S": "x"}},
            {},
            "Invalid ConditionExpression: Operator or function requires a document path; "
            "operator or function: attribute_exists",
        ),
        (
            "attribute_exists(id) = :v",
            {":v": {"BOOL": True}},
            {},
            "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; "
            "function: attribute_exists",
        ),
        (
            "size(id)",
            {},
            {},
            "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; "
            "function: size",
        ),
        (
            "if_not_exists(id, :v) = :v",
            {":v": {"S": "x"}},
            {},
            "Invalid ConditionExpression: The function is not allowed in a condition expression; function: "
            "if_not_exists",
        ),
        (
            "attribute_type(id, :t)",
            {":t": {"S": "STRING"}},
            {},
            "Invalid ConditionExpression: Invalid attribute type name found; type: STRING, "
            "valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
        ),
        (
            "begins_with(id, :n)",
            {":n": {"N": "1"}},
            {},
            "Invalid ConditionExpression: Incorrect operand type for operator or function; "
            "operator or function: begins_with, operand type: N",
        ),
        (
            "amount < :l",
            {":l": {"L": []}},
            {},
            "Invalid ConditionExpression: Incorrect operand type for operator or function; "
            "operator or function: <, operand type: L",
        ),
        (
            "amount BETWEEN :b AND :a",
            {":a": {"N": "1"}, ":b": {"N": "5"}},
            {},
            "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to "
            "lower bound; lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {N:1}",
        ),
        (
            "((amount = :n))",
            {":n": {"N": "1"}},
            {},
            "Invalid ConditionExpression: The expression has redundant parentheses;",
        ),
    ],
)
def test_conditions_dynamodb_refuses(text: str, values: dict[str, Any], names: dict[str, str], message: str) -> None:
    assert refused(ex.parse_condition, text, refs(values, names)) == message


def test_unused_placeholders_are_refused() -> None:
    placeholders = refs({":a": {"S": "x"}, ":b": {"S": "y"}}, {"#n": "name"})
    ex.parse_condition("id = :a", placeholders)
    assert refused(placeholders.check_all_used) == (
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:b}"
    )
    placeholders = refs({":a": {"S": "x"}}, {"#n": "name", "#m": "m"})
    ex.parse_condition("#n = :a", placeholders)
    assert refused(placeholders.check_all_used) == (
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#m}"
    )


# -- key conditions -----------------------------------------------------------------------------------------------


def test_key_conditions_parse_into_one_condition_per_key() -> None:
    values = {":p": {"S": "a"}, ":lo": {"N": "1"}, ":hi": {"N": "5"}}
    conditions = ex.parse_key_condition("pk = :p AND sk BETWEEN :lo AND :hi", refs(values))
    assert conditions == [
        ex.KeyCondition("pk", "=", ({"S": "a"},)),
        ex.KeyCondition("sk", "BETWEEN", ({"N": "1"}, {"N": "5"})),
    ]
    flipped = ex.parse_key_condition(":p = pk AND :lo < sk", refs({":p": {"S": "a"}, ":lo": {"N": "1"}}))
    assert flipped[1] == ex.KeyCondition("sk", ">", ({"N": "1"},))
    assert ex.key_condition_matches(flipped[1], {"N": "2"})
    assert not ex.key_condition_matches(flipped[1], {"N": "1"})


@pytest.mark.parametrize(
    ("text", "operator"),
    [
        ("pk = :p OR sk = :p", "OR"),
        ("pk <> :p", "<>"),
        ("pk IN (:p)", "IN"),
        ("attribute_exists(pk)", "attribute_exists"),
    ],
)
def test_key_conditions_refuse_other_operators(text: str, operator: str) -> None:
    message = refused(ex.parse_key_condition, text, refs({":p": {"S": "a"}} if ":p" in text else {}))
    assert message == f"Invalid operator used in KeyConditionExpression: {operator}"


# -- projections -------------------------------------------------------------------------------------------------


def test_projection_selects_nested_paths_and_compacts_lists() -> None:
    paths = ex.parse_projection("id, address.city, parts[2], parts[1].sku, #t", refs(names={"#t": "amount"}))
    assert ex.project(ITEM, paths) == {
        "id": {"S": "order-1"},
        "amount": {"N": "10"},
        "address": {"M": {"city": {"S": "Paris"}}},
        "parts": {"L": [{"M": {"sku": {"S": "X1"}}}, {"N": "3"}]},
    }
    assert ex.project(ITEM, ex.parse_projection("absent, address.country", refs())) == {}


def test_projection_refuses_overlapping_paths() -> None:
    message = refused(ex.parse_projection, "address, address.city", refs())
    assert message == (
        "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of "
        "these paths; path one: [address], path two: [address, city]"
    )


# -- updates -----------------------------------------------------------------------------------------------------


def update(text: str, values: dict[str, Any] | None = None, item: dict[str, Any] | None = None) -> dict[str, Any]:
    return ex.apply_update(ITEM if item is None else item, ex.parse_update(text, refs(values)))


def test_set_with_arithmetic_if_not_exists_and_list_append() -> None:
    new = update(
        "SET amount = amount + :one, price = price - :half, visits = if_not_exists(visits, :zero) + :one, "
        "history = list_append(if_not_exists(history, :empty), :entry), parts = list_append(:entry, parts)",
        {
            ":one": {"N": "1"},
            ":half": {"N": "0.5"},
            ":zero": {"N": "0"},
            ":empty": {"L": []},
            ":entry": {"L": [{"S": "new"}]},
        },
    )
    assert new["amount"] == {"N": "11"}
    assert new["price"] == {"N": "9"}
    assert new["visits"] == {"N": "1"}
    assert new["history"] == {"L": [{"S": "new"}]}
    assert new["parts"]["L"][0] == {"S": "new"} and len(new["parts"]["L"]) == 4
    assert ITEM["amount"] == {"N": "10"}  # the input item is untouched


def test_right_hand_sides_read_the_item_as_it_was() -> None:
    new = update("SET amount = price, price = amount")
    assert (new["amount"], new["price"]) == ({"N": "9.5"}, {"N": "10"})


def test_set_nested_paths_and_past_the_end_of_a_list() -> None:
    new = update(
        "SET address.country = :c, parts[0] = :x, parts[10] = :y",
        {":c": {"S": "FR"}, ":x": {"S": "x"}, ":y": {"S": "y"}},
    )
    assert new["address"]["M"]["country"] == {"S": "FR"}
    assert new["parts"]["L"][0] == {"S": "x"}
    assert new["parts"]["L"][-1] == {"S": "y"} and len(new["parts"]["L"]) == 4  # appended


def test_remove_attributes_and_list_elements_by_their_original_index() -> None:
    new = update("REMOVE flag, parts[0], parts[2], address.zip, absent")
    assert "flag" not in new
    assert new["parts"] == {"L": [{"M": {"sku": {"S": "X1"}}}]}
    assert new["address"] == {"M": {"city": {"S": "Paris"}}}


def test_add_and_delete_on_numbers_and_sets() -> None:
    new = update(
        "ADD amount :five, tags :more, hits :five DELETE sizes :sizes",
        {":five": {"N": "5"}, ":more": {"SS": ["red", "green"]}, ":sizes": {"NS": ["2.50"]}},
    )
    assert new["amount"] == {"N": "15"}
    assert new["hits"] == {"N": "5"}  # ADD on a absent attribute sets it
    assert sorted(new["tags"]["SS"]) == ["blue", "green", "red"]
    assert new["sizes"] == {"NS": ["1"]}
    emptied = update("DELETE tags :all", {":all": {"SS": ["red", "blue"]}})
    assert "tags" not in emptied  # an emptied set is removed


def test_clauses_combine_and_keywords_are_case_insensitive() -> None:
    new = update("set price = :closed remove flag add amount :one", {":closed": {"S": "CLOSED"}, ":one": {"N": "1"}})
    assert new["amount"] == {"N": "11"} and new["price"] == {"S": "CLOSED"} and "flag" not in new


def test_update_runtime_errors() -> None:
    assert refused(update, "SET amount = absent + :one", {":one": {"N": "1"}}) == (
        "The provided expression refers to an attribute that does not exist in the item"
    )
    assert refused(update, "SET amount = id + :one", {":one": {"N": "1"}}) == (
        "An operand in the update expression has an incorrect data type"
    )
    assert refused(update, "ADD id :one", {":one": {"N": "1"}}) == (
        "An operand in the update expression has an incorrect data type"
    )
    assert refused(update, "SET nowhere.deeper = :one", {":one": {"N": "1"}}) == (
        "The document path provided in the update expression is invalid for update"
    )
    assert refused(update, "SET amount = amount + :big", {":big": {"N": "9" * 38}}) == (
        "Attempting to store more than 38 significant digits in a Number"
    )


@pytest.mark.parametrize(
    ("text", "values", "message"),
    [
        (
            "SET a = :v, a.b = :v",
            {":v": {"S": "x"}},
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of "
            "these paths; path one: [a], path two: [a, b]",
        ),
        (
            "SET a = :v SET b = :v",
            {":v": {"S": "x"}},
            'Invalid UpdateExpression: The "SET" section can only be used once in an update expression;',
        ),
        (
            "ADD a :v",
            {":v": {"S": "x"}},
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand "
            "type: STRING",
        ),
        (
            "DELETE a :v",
            {":v": {"N": "1"}},
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, "
            "operand type: NUMBER",
        ),
        (
            "SET a = attribute_exists(b)",
            {},
            "Invalid UpdateExpression: The function is not allowed in an update expression; function: attribute_exists",
        ),
        (
            "SET a = list_append(b, :v)",
            {":v": {"S": "x"}},
            "Invalid UpdateExpression: Incorrect operand type for operator or function; "
            "operator or function: list_append, operand type: S",
        ),
        ("SET a :v", {":v": {"S": "x"}}, 'Invalid UpdateExpression: Syntax error; token: ":v", near: "a :v"'),
        (
            "UPSERT a = :v",
            {":v": {"S": "x"}},
            'Invalid UpdateExpression: Syntax error; token: "UPSERT", near: "UPSERT a"',
        ),
    ],
)
def test_updates_dynamodb_refuses(text: str, values: dict[str, Any], message: str) -> None:
    assert refused(ex.parse_update, text, refs(values)) == message
