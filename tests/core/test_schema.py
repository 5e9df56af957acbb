"""The core's JSON Schema validator: each keyword, messages, paths, and properties over generated schemas."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import (
    SchemaError,
    SchemaValidationError,
    check_schema,
    check_schema_definition,
    freeze_json,
    validate_schema,
)
from anyagent_core._schema import MAX_DEPTH


def messages(instance: object, schema: dict[str, Any]) -> list[str]:
    return [str(error) for error in validate_schema(instance, schema)]


# -- type ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("string", ["", "x"], [1, None, True, [], {}]),
        ("integer", [0, -3, 2**70, 3.0], [True, False, 1.5, "1", None, math.inf, math.nan]),
        ("number", [0, 1.5, -2, 2**70], [True, "1", None, []]),
        ("boolean", [True, False], [0, 1, "true", None]),
        ("null", [None], [0, "", False, []]),
        ("array", [[], [1], (1, 2)], [{}, "ab", None]),
        ("object", [{}, {"a": 1}, freeze_json({"a": 1})], [[], "x", None]),
    ],
)
def test_type(name: str, good: list[object], bad: list[object]) -> None:
    for value in good:
        assert validate_schema(value, {"type": name}) == [], value
    for value in bad:
        assert len(validate_schema(value, {"type": name})) == 1, value


def test_type_messages() -> None:
    assert messages("x", {"type": "integer"}) == ["$: expected integer, got string 'x'"]
    assert messages(True, {"type": "number"}) == ["$: expected number, got boolean true"]
    assert messages(None, {"type": "string"}) == ["$: expected string, got null"]
    assert messages(3, {"type": ["string", "null"]}) == ["$: expected string or null, got integer 3"]
    assert messages([1, 2], {"type": "object"}) == ["$: expected object, got array [1, 2]"]
    assert messages(b"x", {"type": "string"}) == ["$: expected string, got bytes b'x'"]


def test_type_mismatch_skips_the_other_keywords() -> None:
    assert messages(5, {"type": "string", "minLength": 10, "enum": ["a"]}) == ["$: expected string, got integer 5"]


# -- enum, const ---------------------------------------------------------------------------------


def test_enum() -> None:
    schema = {"enum": ["Paris", "London"]}
    assert validate_schema("Paris", schema) == []
    assert messages("Lyon", schema) == ["$: 'Lyon' is not one of ['Paris', 'London']"]


def test_enum_and_const_use_json_equality() -> None:
    assert validate_schema(1.0, {"enum": [1, 2]}) == []
    assert validate_schema(True, {"enum": [1]}) != []
    assert validate_schema(1, {"enum": [True]}) != []
    assert validate_schema(None, {"enum": [None]}) == []
    assert validate_schema({"a": [1, 2]}, {"const": {"a": [1, 2]}}) == []
    assert validate_schema((1, 2), {"const": [1, 2]}) == []
    assert messages({"a": [1]}, {"const": {"a": [2]}}) == ["$: expected {'a': [2]}, got {'a': [1]}"]
    assert messages(False, {"const": 0}) == ["$: expected 0, got false"]


# -- numbers -------------------------------------------------------------------------------------


def test_numeric_bounds() -> None:
    schema = {"minimum": 1, "maximum": 10}
    assert validate_schema(1, schema) == []
    assert validate_schema(10.0, schema) == []
    assert messages(0, schema) == ["$: 0 is less than the minimum of 1"]
    assert messages(10.5, schema) == ["$: 10.5 is greater than the maximum of 10"]
    exclusive = {"exclusiveMinimum": 0, "exclusiveMaximum": 1}
    assert validate_schema(0.5, exclusive) == []
    assert messages(0, exclusive) == ["$: 0 must be greater than 0"]
    assert messages(1, exclusive) == ["$: 1 must be less than 1"]


def test_draft4_boolean_exclusive_bounds() -> None:
    schema = {"minimum": 0, "exclusiveMinimum": True, "maximum": 5, "exclusiveMaximum": False}
    assert messages(0, schema) == ["$: 0 must be greater than 0"]
    assert validate_schema(5, schema) == []


def test_bounds_ignore_other_types() -> None:
    assert validate_schema("a", {"minimum": 5, "maxLength": 3, "minItems": 2}) == []


def test_multiple_of() -> None:
    assert validate_schema(9, {"multipleOf": 3}) == []
    assert messages(10, {"multipleOf": 3}) == ["$: 10 is not a multiple of 3"]
    assert validate_schema(0.3, {"multipleOf": 0.1}) == []
    assert validate_schema(0.35, {"multipleOf": 0.1}) != []
    assert validate_schema(math.inf, {"multipleOf": 2}) != []


# -- strings -------------------------------------------------------------------------------------


def test_string_length_counts_characters() -> None:
    schema = {"minLength": 2, "maxLength": 3}
    assert validate_schema("h\u00e9", schema) == []
    assert validate_schema("\U0001f600\U0001f600", schema) == []
    assert messages("a", schema) == ["$: expected at least 2 characters, got 1"]
    assert messages("abcd", schema) == ["$: expected at most 3 characters, got 4"]
    assert messages("", {"minLength": 1}) == ["$: expected at least 1 character, got 0"]


def test_pattern_searches() -> None:
    assert validate_schema("abc123", {"pattern": "[0-9]+"}) == []
    assert validate_schema("abc", {"pattern": "^b"}) != []
    assert messages("abc", {"pattern": "^[0-9]+$"}) == ["$: 'abc' does not match the pattern '^[0-9]+$'"]


def test_annotations_and_unknown_keywords_are_ignored() -> None:
    schema = {
        "type": "string",
        "format": "email",
        "description": "d",
        "title": "t",
        "default": 3,
        "examples": [1],
        "x-vendor": {"anything": True},
    }
    assert validate_schema("not an email", schema) == []


# -- arrays --------------------------------------------------------------------------------------


def test_items_paths() -> None:
    schema = {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}
    assert messages([{"name": "a"}, {"name": "b"}, {"name": 3}], schema) == [
        "$[2].name: expected string, got integer 3"
    ]


def test_item_counts_and_uniqueness() -> None:
    schema = {"minItems": 1, "maxItems": 3, "uniqueItems": True}
    assert validate_schema([1, 2, 3], schema) == []
    assert messages([], schema) == ["$: expected at least 1 item, got 0"]
    assert messages([1, 2, 3, 4], schema) == ["$: expected at most 3 items, got 4"]
    assert messages([1, "a", 1.0], schema) == ["$: items 0 and 2 are equal (1.0)"]
    assert validate_schema([1, True], schema) == []
    assert validate_schema([{"a": [1]}, {"a": [1]}], schema) != []
    assert validate_schema([1, 1], {"uniqueItems": False}) == []


def test_prefix_items() -> None:
    schema = {"prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False}
    assert validate_schema(["a", 1], schema) == []
    assert validate_schema(["a"], schema) == []
    assert messages([1, 1], schema) == ["$[0]: expected string, got integer 1"]
    assert messages(["a", 1, 2], schema) == ["$[2]: unexpected item: at most 2 items"]
    open_ended = {"prefixItems": [{"type": "string"}], "items": {"type": "boolean"}}
    assert messages(["a", True, 3], open_ended) == ["$[2]: expected boolean, got integer 3"]


def test_draft7_tuple_items() -> None:
    schema = {"items": [{"type": "string"}], "additionalItems": {"type": "integer"}}
    assert validate_schema(["a", 1, 2], schema) == []
    assert messages(["a", "b"], schema) == ["$[1]: expected integer, got string 'b'"]


def test_contains() -> None:
    assert validate_schema([1, "a"], {"contains": {"type": "string"}}) == []
    assert messages([1, 2], {"contains": {"type": "string"}}) == ["$: no item matches the schema under 'contains'"]


# -- objects -------------------------------------------------------------------------------------

WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
    "required": ["city"],
    "additionalProperties": False,
}


def test_required_and_additional_properties() -> None:
    assert validate_schema({"city": "Paris"}, WEATHER) == []
    assert messages({"cty": "Paris"}, WEATHER) == [
        "$: missing required property 'city'",
        "$: unexpected property 'cty' (allowed: city, unit)",
    ]
    assert messages({"city": 1, "unit": "k"}, WEATHER) == [
        "$.city: expected string, got integer 1",
        "$.unit: 'k' is not one of ['c', 'f']",
    ]


def test_additional_properties_schema_and_pattern_properties() -> None:
    schema = {"additionalProperties": {"type": "integer"}, "patternProperties": {"^s_": {"type": "string"}}}
    assert validate_schema({"a": 1, "s_x": "y"}, schema) == []
    assert messages({"a": "1", "s_x": 2}, schema) == [
        "$.a: expected integer, got string '1'",
        "$.s_x: expected string, got integer 2",
    ]
    assert messages({"a": 1}, {"additionalProperties": False}) == ["$: unexpected property 'a' (allowed: none)"]


def test_property_counts() -> None:
    assert messages({}, {"minProperties": 1}) == ["$: expected at least 1 property, got 0"]
    assert messages({"a": 1, "b": 2}, {"maxProperties": 1}) == ["$: expected at most 1 property, got 2"]


def test_paths_quote_names_that_are_not_identifiers() -> None:
    schema = {"properties": {"my key": {"type": "string"}, "a.b": {"type": "string"}}}
    assert [e.path for e in validate_schema({"my key": 1, "a.b": 2}, schema)] == ['$["my key"]', '$["a.b"]']


# -- combinators ---------------------------------------------------------------------------------


def test_any_of_merges_type_mismatches() -> None:
    schema = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert validate_schema(None, schema) == []
    assert messages(3, schema) == ["$: expected string or null, got integer 3"]


def test_any_of_reports_the_alternative_of_the_right_type() -> None:
    schema = {
        "anyOf": [
            {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
            {"type": "null"},
        ]
    }
    assert messages({"n": "x"}, schema) == ["$.n: expected integer, got string 'x'"]


def test_any_of_lists_every_alternative_when_several_fit() -> None:
    schema = {"anyOf": [{"type": "string", "minLength": 5}, {"type": "string", "pattern": "^a"}]}
    (message,) = messages("bc", schema)
    assert message.startswith("$: matches none of the anyOf alternatives: (0) ")
    assert "at least 5 characters" in message
    assert "does not match the pattern '^a'" in message


def test_one_of() -> None:
    schema = {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 10}]}
    assert validate_schema(3, schema) == []
    assert validate_schema(10.5, schema) == []
    assert messages(12, schema) == ["$: 12 matches 2 of the oneOf alternatives (0, 1), not one"]
    assert messages("x", schema) == ["$: expected integer or number, got string 'x'"]


def test_all_of_reports_every_failure() -> None:
    schema = {"allOf": [{"minimum": 5}, {"multipleOf": 2}]}
    assert validate_schema(6, schema) == []
    assert messages(3, schema) == ["$: 3 is less than the minimum of 5", "$: 3 is not a multiple of 2"]


def test_not() -> None:
    assert validate_schema(1, {"not": {"type": "string"}}) == []
    assert messages("a", {"not": {"type": "string"}}) == ["$: 'a' must not match {'type': 'string'}"]


def test_nullable() -> None:
    schema = {"type": "string", "nullable": True, "minLength": 2}
    assert validate_schema(None, schema) == []
    assert validate_schema("ab", schema) == []
    assert validate_schema(3, schema) != []
    assert validate_schema(None, {"type": "string", "nullable": False}) != []


def test_boolean_subschemas() -> None:
    assert validate_schema({"a": 1}, {"properties": {"a": True}}) == []
    assert messages({"a": 1}, {"properties": {"a": False}}) == ["$.a: no value is allowed here"]


# -- $ref ----------------------------------------------------------------------------------------


def test_local_refs() -> None:
    schema = {
        "$defs": {"city": {"type": "string", "minLength": 1}},
        "definitions": {"unit": {"enum": ["c", "f"]}},
        "properties": {"city": {"$ref": "#/$defs/city"}, "unit": {"$ref": "#/definitions/unit"}},
    }
    assert validate_schema({"city": "Oslo", "unit": "c"}, schema) == []
    assert messages({"city": "", "unit": "k"}, schema) == [
        "$.city: expected at least 1 character, got 0",
        "$.unit: 'k' is not one of ['c', 'f']",
    ]


def test_recursive_ref_follows_the_instance() -> None:
    tree = {
        "type": "object",
        "properties": {"value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#"}}},
    }
    instance = {"value": 1, "children": [{"value": 2, "children": [{"value": "x", "children": []}]}]}
    assert messages(instance, tree) == ["$.children[0].children[0].value: expected integer, got string 'x'"]


def test_ref_cycles_stop_at_the_depth_limit() -> None:
    loop = {"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}}
    (error,) = validate_schema(1, loop)
    assert error.path == "$"
    assert "nested too deeply" in error.message
    nest = {"type": "array", "items": {"$ref": "#"}}
    deep: list[Any] = []
    for _ in range(MAX_DEPTH * 5):
        deep = [deep]
    (error,) = validate_schema(deep, nest)
    assert "nested too deeply" in error.message
    shallow: list[Any] = [[[]]]
    assert validate_schema(shallow, nest) == []


def test_cyclic_python_instance_stops_too() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    errors = validate_schema(cycle, {"items": {"$ref": "#"}})
    assert len(errors) == 1
    assert "nested too deeply" in errors[0].message


# -- check and bad schemas -----------------------------------------------------------------------


def test_check_raises_with_every_error() -> None:
    check_schema({"city": "x"}, WEATHER)
    with pytest.raises(SchemaValidationError) as info:
        check_schema({"city": 1, "extra": 2}, WEATHER)
    assert isinstance(info.value, ValueError)
    assert info.value.errors == (
        SchemaError(path="$.city", message="expected string, got integer 1"),
        SchemaError(path="$", message="unexpected property 'extra' (allowed: city, unit)"),
    )
    assert str(info.value) == (
        "2 schema errors: $.city: expected string, got integer 1; $: unexpected property 'extra' (allowed: city, unit)"
    )


@pytest.mark.parametrize(
    ("schema", "instance", "error", "match"),
    [
        ([], 1, TypeError, "a JSON schema must be a mapping .* not list"),
        ("string", 1, TypeError, "not str"),
        ({"type": 3}, 1, TypeError, "'type' must be a type name"),
        ({"type": "str"}, 1, ValueError, "unknown type 'str'"),
        ({"properties": {"a": 1}}, {"a": 1}, TypeError, "schema at #/properties/a must be an object or a boolean"),
        ({"minimum": "1"}, 1, TypeError, "'minimum' must be a number, not str"),
        ({"multipleOf": 0}, 1, TypeError, "'multipleOf' must be greater than 0"),
        ({"required": "a"}, {}, TypeError, "'required' must be an array"),
        ({"anyOf": []}, 1, TypeError, "'anyOf' must be a non-empty array"),
        ({"$ref": "#/$defs/missing"}, 1, ValueError, "cannot resolve '\\$ref' '#/\\$defs/missing'"),
        ({"$ref": "other.json#/a"}, 1, ValueError, "only local references"),
        ({"pattern": "("}, "x", ValueError, "invalid 'pattern'"),
        ({"maxLength": -1}, "x", TypeError, "'maxLength' must be a non-negative integer"),
    ],
)
def test_bad_schemas_raise_clearly(schema: Any, instance: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        validate_schema(instance, schema)
    with pytest.raises(error, match=match):  # found before any instance is seen
        check_schema_definition(schema)


@pytest.mark.parametrize(
    ("schema", "match"),
    [
        ({"properties": {"when": {"type": "date"}}}, "schema at #/properties/when/type: unknown type 'date'"),
        ({"$defs": {"x": {"minLength": -1}}}, "schema at #/\\$defs/x: 'minLength'"),
        ({"items": [{"type": "string"}, {"pattern": "["}]}, "schema at #/items/1: invalid 'pattern'"),
        ({"anyOf": [{"type": "string"}, {"multipleOf": -2}]}, "schema at #/anyOf/1: 'multipleOf'"),
        ({"patternProperties": {"(": {}}}, "invalid patternProperties key '\\('"),
        ({"additionalProperties": {"required": [1]}}, "schema at #/additionalProperties: 'required'"),
        ({"not": {"enum": "a"}}, "schema at #/not: 'enum' must be an array"),
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/b"}}}, "cannot resolve '\\$ref' '#/\\$defs/b'"),
    ],
)
def test_definition_problems_anywhere_are_found_with_their_place(schema: dict[str, Any], match: str) -> None:
    """A problem in a part that few instances reach is found all the same."""
    with pytest.raises((TypeError, ValueError), match=match):
        check_schema_definition(schema)


def test_good_definitions_pass() -> None:
    recursive = {"$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}}}
    for schema in (
        {},
        WEATHER,
        recursive,
        {"type": ["string", "null"], "exclusiveMinimum": True, "minimum": 0, "items": False},
        {"prefixItems": [True, {"type": "integer", "multipleOf": 0.5}], "contains": {"const": 1}},
    ):
        check_schema_definition(schema)


def test_multiple_of_with_integers_too_large_for_a_float() -> None:
    huge = 10**400
    assert messages(huge, {"type": "integer", "multipleOf": 0.5}) == []
    assert messages(huge + 1, {"multipleOf": 2.0}) == [f"$: {str(huge + 1)[:77]}... is not a multiple of 2.0"]
    assert messages(1.5, {"multipleOf": huge}) != []


# -- properties over generated schemas -----------------------------------------------------------

names = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
scalar_schemas = st.sampled_from(
    [
        {"type": "string"},
        {"type": "string", "minLength": 1, "maxLength": 5},
        {"type": "string", "enum": ["a", "b"]},
        {"type": "integer", "minimum": -5, "maximum": 5},
        {"type": "integer"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
    ]
)


def _extend(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    objects = st.dictionaries(names, inner, max_size=4).flatmap(
        lambda props: st.builds(
            lambda required, closed: {
                "type": "object",
                "properties": props,
                "required": required,
                "additionalProperties": not closed,
            },
            st.lists(st.sampled_from(sorted(props)), unique=True) if props else st.just([]),
            st.booleans(),
        )
    )
    arrays = st.builds(lambda items, low: {"type": "array", "items": items, "minItems": low}, inner, st.integers(0, 2))
    optional = st.builds(lambda sub: {"anyOf": [sub, {"type": "null"}]}, inner)
    refs = st.builds(lambda sub: {"$ref": "#/$defs/", "definition": sub}, inner)  # named by hoisted()
    return objects | arrays | optional | refs


def hoisted(schema: Any) -> dict[str, Any]:
    """The schema with every referenced definition moved to the root's ``$defs`` under its own name."""
    defs: dict[str, Any] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "definition" in node:
            name = f"d{len(defs)}"
            defs[name] = None
            defs[name] = walk(node["definition"])
            return {"$ref": f"#/$defs/{name}"}
        return {
            key: walk(value) if key != "properties" else {k: walk(v) for k, v in value.items()}
            for key, value in node.items()
        }

    return {**walk(schema), "$defs": defs}


schemas = st.recursive(scalar_schemas, _extend, max_leaves=10).map(hoisted)


def target(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rpartition("/")[2]]
    return schema


def instances(schema: dict[str, Any], root: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Values valid for a schema drawn from ``schemas``."""
    root = schema if root is None else root
    schema = target(schema, root)
    if "anyOf" in schema:
        return st.one_of([instances(sub, root) for sub in schema["anyOf"]])
    kind = schema["type"]
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength", 8))
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(allow_nan=False) | st.integers()
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(instances(schema["items"], root), min_size=schema["minItems"], max_size=3)
    properties = schema["properties"]
    optional = [name for name in properties if name not in schema["required"]]
    return st.fixed_dictionaries(
        {name: instances(properties[name], root) for name in schema["required"]},
        optional={name: instances(properties[name], root) for name in optional},
    )


WRONG_VALUES: list[Any] = [None, True, 12345, 1.5, "zz", [], {}]


def places(
    value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "$", keys: tuple[Any, ...] = ()
) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """Every place in a valid instance: (its path as the validator writes it, its keys, its schema)."""
    found = [(path, keys, {**schema, "$defs": root["$defs"]})]
    schema = target(schema, root)
    while "anyOf" in schema:
        fitting = [sub for sub in schema["anyOf"] if validate_schema(value, {**sub, "$defs": root["$defs"]}) == []]
        schema = target(fitting[0], root)
    if isinstance(value, dict):
        for name, item in value.items():
            found += places(item, schema["properties"][name], root, f"{path}.{name}", (*keys, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += places(item, schema["items"], root, f"{path}[{index}]", (*keys, index))
    return found


def replaced(value: Any, keys: tuple[Any, ...], new: Any) -> Any:
    if not keys:
        return new
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[keys[0]] = replaced(value[keys[0]], keys[1:], new)
    return copy


@given(st.data())
def test_generated_instances_validate(data: st.DataObject) -> None:
    schema = data.draw(schemas)
    instance = data.draw(instances(schema))
    assert validate_schema(instance, schema) == []
    assert validate_schema(freeze_json(instance), schema) == []


@given(st.data())
def test_a_wrong_type_is_reported_at_its_place(data: st.DataObject) -> None:
    schema = data.draw(schemas)
    instance = data.draw(instances(schema))
    path, keys, sub = data.draw(st.sampled_from(places(instance, schema, schema)))
    wrong = [value for value in WRONG_VALUES if validate_schema(value, sub) != []]
    new = data.draw(st.sampled_from(wrong))
    errors = validate_schema(replaced(instance, keys, new), schema)
    assert path in {error.path for error in errors}, (path, errors)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=10,
)


@given(schemas)
def test_generated_schemas_are_good_definitions(schema: dict[str, Any]) -> None:
    check_schema_definition(schema)


@given(schemas, json_values)
def test_validation_never_raises_on_good_schemas(schema: dict[str, Any], instance: Any) -> None:
    errors = validate_schema(instance, schema)
    assert all(isinstance(error, SchemaError) and error.path.startswith("$") and error.message for error in errors)
