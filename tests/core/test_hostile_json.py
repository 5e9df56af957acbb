"""Model output that JSON cannot carry back (numbers that overflow, NaN, deep nesting) is an
unusable call or an invalid answer, never an exception out of the run."""

from __future__ import annotations

import json
import math
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import ToolCall, parse_tool_calls
from anyagent_core.json import MAX_JSON_DEPTH, FrozenDict, freeze_json, freeze_object, loads_finite, thaw_json
from anyagent_core.schema import check_definition, validate
from tests.core.test_loop import SCHEMA, answer, done, drain, make, started
from tests.helpers import run_response

OVERFLOWING = ["1e999", "-1e999", "1" * 400 + ".0", "NaN", "Infinity", "-Infinity"]


def tool_stream(arguments: str) -> bytes:
    delta = {
        "tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}]
    }
    chunks = [
        {"choices": [{"index": 0, "delta": delta}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


@pytest.mark.parametrize("number", OVERFLOWING)
def test_loads_finite_refuses_numbers_json_cannot_write_back(number: str) -> None:
    with pytest.raises(ValueError, match=r"too large|not valid JSON"):
        loads_finite('{"x": ' + number + "}")


def test_loads_finite_refuses_deep_nesting_with_a_value_error() -> None:
    for text in ["[" * 10_000 + "]" * 10_000, "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)]:
        with pytest.raises(ValueError, match="too deeply"):
            loads_finite(text)
    nested = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert freeze_json(loads_finite(nested)) is not None


@given(
    st.recursive(
        st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
        max_leaves=20,
    )
)
def test_loads_finite_reads_what_strict_json_writes(value: Any) -> None:
    text = json.dumps(value, allow_nan=False)
    assert loads_finite(text) == json.loads(text)


@pytest.mark.parametrize("number", OVERFLOWING)
def test_a_native_tool_call_with_an_overflowing_number_is_unusable(number: str) -> None:
    (call,) = [e for e in run_response([tool_stream('{"x": ' + number + "}")]) if type(e) is ToolCall]
    assert call.input is None and call.error is not None
    assert "not valid JSON" in call.error


def test_a_native_tool_call_nested_too_deeply_is_unusable() -> None:
    deep = '{"x": ' + "[" * 900 + "]" * 900 + "}"
    (call,) = [e for e in run_response([tool_stream(deep)]) if type(e) is ToolCall]
    assert call.input is None and call.error is not None and "too deeply" in call.error


@pytest.mark.parametrize("number", ["1e999", "-1e999"])
def test_a_text_tool_call_with_an_overflowing_number_is_unusable(number: str) -> None:
    text = '<tool_call>\n{"name": "f", "arguments": {"x": ' + number + "}}\n</tool_call>"
    (call,) = parse_tool_calls(text).calls
    assert call.input is None and call.error is not None
    fenced = '```json\n{"name": "f", "arguments": {"x": ' + number + "}}\n```"
    for found in parse_tool_calls(fenced).calls:
        assert found.input is None or json.dumps(found.input, allow_nan=False)


def test_a_text_tool_call_nested_too_deeply_is_unusable() -> None:
    text = '<tool_call>\n{"name": "f", "arguments": {"x": ' + "[" * 900 + "]" * 900 + "}}\n</tool_call>"
    (call,) = parse_tool_calls(text).calls
    assert call.input is None and call.error is not None


@pytest.mark.parametrize(
    "body",
    [
        "[" * 10_000 + "]" * 10_000,  # 20 KB of nesting
        '{"answer": ' + "[" * 900 + "]" * 900 + "}",
        '{"answer": 1e999}',
    ],
)
def test_a_structured_answer_that_cannot_be_checked_is_an_invalid_answer(body: str) -> None:
    loop, _ = make(output_schema=SCHEMA)
    started(loop)
    loop.receive_response(answer(body))
    drain(loop)
    loop.receive_response(answer(body))
    final = done(drain(loop))
    assert final.subtype == "error_max_structured_output_retries" and final.structured_output is None


def test_a_deep_value_against_an_enum_is_an_error_not_a_recursion_error() -> None:
    deep: Any = []
    for _ in range(900):
        deep = [deep]
    schemas: list[dict[str, Any]] = [{"enum": [[1], "a"]}, {"const": [[1]]}, {"type": "array", "uniqueItems": True}]
    for schema in schemas:
        errors = validate([deep, deep], schema)
        assert errors and "too deeply" in errors[0].message


def test_an_exponential_schema_is_validated_in_bounded_work() -> None:
    # Each level doubles the work: 2**40 subschema visits without a bound.
    defs: dict[str, Any] = {"d0": {"type": "integer", "minimum": 10}}
    for level in range(1, 41):
        below = {"$ref": f"#/$defs/d{level - 1}"}
        defs[f"d{level}"] = {"anyOf": [below, below]}
    schema = {"$defs": defs, "$ref": "#/$defs/d40"}
    check_definition(schema)
    (error,) = validate(1, schema)
    assert "too complex to check" in error.message
    assert validate(12, schema) == []


def test_a_backtracking_pattern_is_matched_in_linear_time() -> None:
    # With re this takes hours (it doubles per character); RE2 is linear.
    schema = {"type": "string", "pattern": "^(a+)+$"}
    check_definition(schema)
    (error,) = validate("a" * 100_000 + "!", schema)
    assert "does not match" in error.message
    assert validate("a" * 100_000, schema) == []


def test_patterns_needing_backtracking_are_refused_at_definition() -> None:
    schemas: list[dict[str, Any]] = [{"pattern": r"(a)\1"}, {"patternProperties": {"(?=x)": {}}}]
    for schema in schemas:
        with pytest.raises(ValueError, match="backreferences and lookaround"):
            check_definition(schema)


@pytest.mark.parametrize("number", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize("keyword", ["multipleOf", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"])
def test_non_finite_numeric_keywords_are_refused(keyword: str, number: float) -> None:
    with pytest.raises(ValueError, match=f"'{keyword}' must be a finite number"):
        check_definition({keyword: number})
    with pytest.raises(ValueError, match="finite"):
        validate(3, {keyword: number})


def test_a_ref_to_something_that_is_not_a_schema_is_refused_at_definition() -> None:
    # Found by the schema fuzz target: check_definition accepted these, validate raised.
    schemas: list[dict[str, Any]] = [{"required": ["a"], "$ref": "#/required"}, {"enum": [1], "$ref": "#/enum/0"}]
    for schema in schemas:
        with pytest.raises(TypeError, match="not a schema"):
            check_definition(schema)


def _decoded(loads: Any, text: str) -> tuple[str, object]:
    try:
        return ("value", loads(text))
    except ValueError as exc:
        return ("ValueError", str(exc))


_json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8)
)
_json_values = st.recursive(
    _json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12,
)


@given(
    value=_json_values,
    before=st.sampled_from(["", " ", "\n\t", "\ufeff"]),
    after=st.sampled_from(["", " ", "\r\n", " x", "}", ",1", "NaN"]),
    cut=st.integers(0, 40),
    replace=st.sampled_from(["", "NaN", "1e999", "Infinity", "]", "{"]),
)
def test_loads_finite_reads_as_the_strict_decoder_does(
    value: object, before: str, after: str, cut: int, replace: str
) -> None:
    # Valid documents with blanks, garbage or an overflowing number around or inside them:
    # the scanner fast path gives the decoder's value or its exact error.
    text = json.dumps(value)
    text = before + text[:cut] + replace + text[cut:] + after
    reference = json.JSONDecoder(parse_constant=_no_constant_ref, parse_float=_finite_ref)
    expected = _decoded(reference.decode, text) if not text.startswith("\ufeff") else None
    got = _decoded(loads_finite, text)
    if expected is not None:
        assert got == expected
    else:
        assert got[0] == "ValueError"  # json.loads refuses a BOM in a str


def _no_constant_ref(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def _finite_ref(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:40]}{'...' if len(text) > 40 else ''} is too large to represent")
    return number


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    return 0


@given(value=_json_values, max_depth=st.integers(0, 8), spaces=st.booleans())
def test_loads_finite_refuses_exactly_what_nests_deeper_than_max_depth(
    value: object, max_depth: int, spaces: bool
) -> None:
    # Compact texts too: one as short as its brackets allow is where skipping the walk for a
    # text no longer than max_depth must not skip a refusal.
    text = json.dumps(value) if spaces else json.dumps(value, separators=(",", ":"))
    if _depth(value) > max_depth:
        with pytest.raises(ValueError, match="too deeply"):
            loads_finite(text, max_depth=max_depth)
    else:
        assert loads_finite(text, max_depth=max_depth) == value


def _as_mappings(value: object) -> object:
    """``value`` with every dict wrapped in a read-only Mapping that is not a dict: what
    freeze_json reads by its general loop rather than its plain-dict path."""
    if type(value) is dict:
        return MappingProxyType({key: _as_mappings(item) for key, item in value.items()})
    if type(value) is list:
        return [_as_mappings(item) for item in value]
    return value


def _frozen_shape(value: object) -> object:
    """The value with each container's exact type kept, for comparing two frozen values."""
    if isinstance(value, dict):
        return (type(value).__name__, [(key, _frozen_shape(item)) for key, item in value.items()])
    if isinstance(value, tuple | list):
        return (type(value).__name__, [_frozen_shape(item) for item in value])
    return (type(value).__name__, value)


_keys = st.one_of(st.text(max_size=4), st.integers(0, 3), st.none())
_loose_values = st.recursive(
    _json_leaves | st.sets(st.integers(), max_size=1),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=12,
)


@given(value=_json_values)
def test_freeze_json_of_plain_dicts_matches_its_general_reading(value: object) -> None:
    # Plain dicts are frozen by one copy with only their containers replaced; any other
    # Mapping by the general loop: the same frozen value, key order and types included.
    fast = freeze_json(value)
    assert _frozen_shape(fast) == _frozen_shape(freeze_json(_as_mappings(value)))
    assert thaw_json(fast) == value


@given(value=_loose_values)
def test_freeze_json_refuses_what_its_general_reading_refuses(value: object) -> None:
    # Non-str keys and values JSON cannot hold, anywhere: the same TypeError either way.
    def outcome(candidate: object) -> object:
        try:
            return _frozen_shape(freeze_json(candidate))
        except TypeError as exc:
            return ("TypeError", str(exc))

    assert outcome(value) == outcome(_as_mappings(value))


def test_freeze_object_of_a_plain_dict_is_a_frozen_copy() -> None:
    source = {"query": "x", "nested": {"limit": [1, {"a": None}]}}
    frozen = freeze_object(source)
    assert type(frozen) is FrozenDict and type(frozen["nested"]) is FrozenDict
    assert frozen["nested"]["limit"] == (1, FrozenDict(a=None))
    source["query"] = "changed"
    assert frozen["query"] == "x"
    with pytest.raises(TypeError, match="JSON object keys must be str, not int"):
        freeze_object({"a": {1: "b"}})
    with pytest.raises(TypeError, match="expected a JSON object"):
        freeze_object([1])  # type: ignore[arg-type]
