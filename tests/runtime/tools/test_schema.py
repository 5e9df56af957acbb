"""JSON schemas from annotations and descriptions from docstrings, as ``@tool`` builds them."""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Optional, Union

import pytest

from anyagent_core import thaw_json
from anyagent_httpx import Tool, tool
from anyagent_httpx._tools._schema import parse_docstring
from tests.runtime.tools.support import (
    Address,
    Box,
    Level,
    Node,
    Options,
    Point,
    Unit,
    only,
    schema_of,
    weather,
    with_context,
)

pytestmark = pytest.mark.anyio


def f_str(x: str) -> None: ...
def f_int(x: int) -> None: ...
def f_float(x: float) -> None: ...
def f_bool(x: bool) -> None: ...
def f_none(x: None) -> None: ...
def f_any(x: Any) -> None: ...
def f_path(x: pathlib.Path) -> None: ...
def f_literal(x: Literal["a", "b"]) -> None: ...
def f_mixed_literal(x: Literal["a", 1]) -> None: ...
def f_enum(x: Unit) -> None: ...
def f_int_enum(x: Level) -> None: ...
def f_list(x: list[int]) -> None: ...
def f_tuple(x: tuple[str, ...]) -> None: ...
def f_pair(x: tuple[str, int]) -> None: ...
def f_sequence(x: Sequence[float]) -> None: ...
def f_set(x: set[str]) -> None: ...
def f_frozenset(x: frozenset[int]) -> None: ...
def f_bare_list(x: list) -> None: ...  # type: ignore[type-arg]
def f_dict(x: dict[str, int]) -> None: ...
def f_bare_dict(x: dict) -> None: ...  # type: ignore[type-arg]
def f_optional(x: Optional[str]) -> None: ...  # noqa: UP045 - the typing spelling is what is tested
def f_union(x: Union[int, str]) -> None: ...  # noqa: UP007
def f_pipe_union(x: int | list[str] | None) -> None: ...
def f_typeddict(x: Address) -> None: ...
def f_total_false(x: Options) -> None: ...
def f_attrs(x: Point) -> None: ...
def f_dataclass(x: Box) -> None: ...
def f_annotated(x: Annotated[int, "How many.", {"minimum": 1}]) -> None: ...


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        (f_str, {"type": "string"}),
        (f_int, {"type": "integer"}),
        (f_float, {"type": "number"}),
        (f_bool, {"type": "boolean"}),
        (f_none, {"type": "null"}),
        (f_any, {}),
        (f_path, {"type": "string"}),
        (f_literal, {"type": "string", "enum": ["a", "b"]}),
        (f_mixed_literal, {"enum": ["a", 1]}),
        (f_enum, {"type": "string", "enum": ["c", "f"]}),
        (f_int_enum, {"type": "integer", "enum": [1, 2]}),
        (f_list, {"type": "array", "items": {"type": "integer"}}),
        (f_tuple, {"type": "array", "items": {"type": "string"}}),
        (
            f_pair,
            {
                "type": "array",
                "prefixItems": [{"type": "string"}, {"type": "integer"}],
                "items": False,
                "minItems": 2,
                "maxItems": 2,
            },
        ),
        (f_sequence, {"type": "array", "items": {"type": "number"}}),
        (f_set, {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
        (f_frozenset, {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}),
        (f_bare_list, {"type": "array"}),
        (f_dict, {"type": "object", "additionalProperties": {"type": "integer"}}),
        (f_bare_dict, {"type": "object"}),
        (f_optional, {"anyOf": [{"type": "string"}, {"type": "null"}]}),
        (f_union, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        (
            f_pipe_union,
            {"anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "string"}}, {"type": "null"}]},
        ),
        (
            f_typeddict,
            {
                "type": "object",
                "properties": {"street": {"type": "string"}, "zip": {"type": "integer"}},
                "required": ["street"],
                "additionalProperties": False,
            },
        ),
        (
            f_total_false,
            {
                "type": "object",
                "properties": {"name": {"type": "string"}, "verbose": {"type": "boolean"}},
                "required": ["name"],
                "additionalProperties": False,
            },
        ),
        (
            f_attrs,
            {
                "type": "object",
                "properties": {
                    "x": {"type": "number"},
                    "y": {"type": "number", "default": 0.0},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["x"],
                "additionalProperties": False,
            },
        ),
        (
            f_dataclass,
            {
                "type": "object",
                "properties": {
                    "corner": {
                        "type": "object",
                        "properties": {
                            "x": {"type": "number"},
                            "y": {"type": "number", "default": 0.0},
                            "tags": {"type": "array", "items": {"type": "string"}},
                        },
                        "required": ["x"],
                        "additionalProperties": False,
                    },
                    "label": {"type": "string", "default": "box"},
                    "sizes": {"type": "array", "items": {"type": "integer"}},
                },
                "required": ["corner"],
                "additionalProperties": False,
            },
        ),
        (f_annotated, {"type": "integer", "description": "How many.", "minimum": 1}),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_schema_for_each_annotation(function: Any, expected: dict[str, Any]) -> None:
    assert only(function) == expected


def test_whole_schema_with_defaults() -> None:
    made = tool(weather)
    assert made.name == "weather"
    assert made.spec.description == "Get the weather."
    assert thaw_json(made.spec.parameters) == {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["c", "f"], "default": "c"},
            "days": {"type": "integer", "default": 1},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "where": {"type": "string", "default": "/tmp"},
            "point": {
                "type": "object",
                "properties": {
                    "x": {"type": "number"},
                    "y": {"type": "number", "default": 0.0},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["x"],
                "additionalProperties": False,
            },
        },
        "required": ["city"],
        "additionalProperties": False,
    }


def no_parameters() -> str:
    return "x"


def test_no_parameters() -> None:
    assert schema_of(no_parameters) == {"type": "object", "properties": {}, "additionalProperties": False}


def test_context_parameter_is_not_in_the_schema() -> None:
    assert schema_of(with_context) == {
        "type": "object",
        "properties": {"path": {"type": "string"}},
        "required": ["path"],
        "additionalProperties": False,
    }


def test_decorator_options() -> None:
    @tool(name="lookup", description="Look it up.", timeout=3, read_only=True, rule_argument="x")
    def f(x: str) -> str:
        """Ignored because a description is given."""
        return x

    assert isinstance(f, Tool)
    assert (f.name, f.spec.description, f.timeout, f.read_only, f.rule_argument) == (
        "lookup",
        "Look it up.",
        3,
        True,
        "x",
    )
    assert (f.edits_files, f.needs_permission) == (False, False)
    with pytest.raises(ValueError, match="rule_argument 'y' is not a parameter"):
        tool(rule_argument="y")(f_str)
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        tool(timeout=0)(f_str)


def f_recursive(x: Node) -> None: ...
def f_bad_key(x: dict[int, str]) -> None: ...
def f_object(x: object) -> None: ...
def f_bytes(x: bytes) -> None: ...
def f_args(*args: int) -> None: ...
def f_kwargs(**kwargs: int) -> None: ...
def f_unannotated(x) -> None: ...  # type: ignore[no-untyped-def]
def f_positional(x: int, /) -> None: ...
def f_nested_bad(x: list[bytes]) -> None: ...


@pytest.mark.parametrize(
    ("function", "match"),
    [
        (f_object, r"tool f_object: parameter 'x' has an unsupported type object"),
        (f_bytes, r"parameter 'x' has an unsupported type bytes"),
        (f_nested_bad, r"parameter 'x' has an unsupported type list\[bytes\]"),
        (f_bad_key, r"JSON object keys are strings, not int"),
        (f_recursive, r"Node refers to itself"),
        (f_args, r"parameter 'args' \(\*args\) is not supported"),
        (f_kwargs, r"parameter 'kwargs' \(\*\*kwargs\) is not supported"),
        (f_unannotated, r"tool f_unannotated: parameter 'x' has no type annotation"),
        (f_positional, r"parameter 'x' is positional-only"),
    ],
)
def test_unsupported_signatures_fail_at_decoration(function: Any, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        tool(function)


# -- docstrings ----------------------------------------------------------------------------------


def google(city: str, unit: str, days: int) -> None:
    """Get the forecast.

    It covers the next days.

    Args:
        city: The city's name.
        unit (str): Celsius or
            Fahrenheit.
        days: How many days.

    Returns:
        The forecast.
    """


def numpy_style(city: str, unit: str) -> None:
    """Get the forecast.

    Parameters
    ----------
    city : str
        The city's name.
    unit : str, optional
        Celsius or
        Fahrenheit.

    Returns
    -------
    str
        The forecast.
    """


def sphinx(city: str, unit: str) -> None:
    """Get the forecast.

    :param city: The city's name.
    :param str unit: Celsius or
        Fahrenheit.
    :returns: The forecast.
    """


@pytest.mark.parametrize("function", [google, numpy_style, sphinx])
def test_docstring_styles(function: Any) -> None:
    made = tool(function)
    properties = made.spec.parameters["properties"]
    assert properties["city"] == {"type": "string", "description": "The city's name."}
    assert properties["unit"] == {"type": "string", "description": "Celsius or Fahrenheit."}
    assert made.spec.description.startswith("Get the forecast.")
    assert "Returns" not in made.spec.description
    assert "forecast." in made.spec.description


def test_google_description_keeps_the_text_before_the_sections() -> None:
    assert parse_docstring(google.__doc__) == (
        "Get the forecast.\n\nIt covers the next days.",
        {"city": "The city's name.", "unit": "Celsius or Fahrenheit.", "days": "How many days."},
    )
    assert parse_docstring(None) == ("", {})


def annotated_wins(x: Annotated[str, "From Annotated."]) -> None:
    """Doc.

    Args:
        x: From the docstring.
    """


def test_annotated_description_wins_over_the_docstring() -> None:
    assert schema_of(annotated_wins)["properties"]["x"] == {
        "type": "string",
        "description": "From Annotated.",
    }
