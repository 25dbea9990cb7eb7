"""How strings with NUL characters are stored on PostgreSQL (`orchestrator.store.encoding`): the
escape is reversible for every string, and a JSON value comes back as it was written, whether the
text read has U+E000 as it is (PostgreSQL's output) or escaped (json.dumps's)."""

from __future__ import annotations

import itertools
import json

import pytest

from orchestrator.store.encoding import ESCAPE, dumps, escape, loads, unescape


def test_every_short_string_of_the_awkward_characters_round_trips() -> None:
    for length in range(6):
        for chars in itertools.product(["a", "0", "\x00", ESCAPE], repeat=length):
            text = "".join(chars)
            assert "\x00" not in escape(text)
            assert unescape(escape(text)) == text


def test_a_json_value_with_nul_in_keys_and_values_comes_back_exactly() -> None:
    value = {"k\x00": ["a\x00b", ESCAPE + "0", {"x": ESCAPE}], "n": 1.5, "plain": "é"}
    text = dumps(value)
    assert "\\u0000" not in text  # what PostgreSQL would refuse
    as_postgresql_writes_it = json.dumps(json.loads(text), ensure_ascii=False)
    for stored in (text, text.encode(), as_postgresql_writes_it, as_postgresql_writes_it.encode()):
        assert loads(stored) == value


def test_a_value_without_them_is_stored_as_json_dumps_writes_it() -> None:
    value = {"a": [1, "two", None, True]}
    assert dumps(value) == json.dumps(value)
    assert loads(dumps(value)) == value


def test_nan_is_refused_before_it_reaches_the_database() -> None:
    with pytest.raises(ValueError):
        dumps({"x": float("nan")})
