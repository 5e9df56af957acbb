"""``Tool``: validating the model's arguments and converting them to the annotated types."""

from __future__ import annotations

import pathlib
from typing import Annotated, Literal

import pytest

from anyagent_core import ToolSpec
from anyagent_httpx import Tool, ToolError, ToolInputError, tool
from tests.runtime.tools.support import Address, Box, Level, Point, Positive, Unit, weather, with_context

pytestmark = pytest.mark.anyio


def everything(
    address: Address,
    box: Box,
    unit: Unit,
    level: Level,
    pair: tuple[str, int],
    names: tuple[str, ...],
    tags: set[str],
    where: pathlib.Path,
    ratio: float,
    count: int,
    choice: Literal["a", "b"],
    mapping: dict[str, Point],
    maybe: Point | None = None,
) -> None: ...


def test_validate_converts_to_the_annotated_types() -> None:
    made = tool(everything)
    arguments = made.validate(
        {
            "address": {"street": "Main"},
            "box": {"corner": {"x": 1, "tags": ["a"]}, "sizes": [1, 2]},
            "unit": "f",
            "level": 2,
            "pair": ["a", 1],
            "names": ["x", "y"],
            "tags": ["t", "u"],
            "where": "a/b",
            "ratio": 2,
            "count": 3.0,
            "choice": "b",
            "mapping": {"p": {"x": 1.5, "y": 2}},
            "maybe": {"x": 0},
        }
    )
    assert arguments == {
        "address": {"street": "Main"},
        "box": Box(corner=Point(x=1, tags=("a",)), sizes=[1, 2]),
        "unit": Unit.FAHRENHEIT,
        "level": Level.HIGH,
        "pair": ("a", 1),
        "names": ("x", "y"),
        "tags": {"t", "u"},
        "where": pathlib.Path("a/b"),
        "ratio": 2.0,
        "count": 3,
        "choice": "b",
        "mapping": {"p": Point(x=1.5, y=2.0)},
        "maybe": Point(x=0),
    }
    assert type(arguments["ratio"]) is float
    assert type(arguments["count"]) is int
    assert type(arguments["box"].corner.x) is float
    assert type(arguments["box"].sizes) is list
    assert (
        made.validate(
            {
                "address": {"street": "s", "zip": 1},
                "box": {"corner": {"x": 1}},
                "unit": "c",
                "level": 1,
                "pair": ["a", 1],
                "names": [],
                "tags": [],
                "where": "/",
                "ratio": 1,
                "count": 1,
                "choice": "a",
                "mapping": {},
                "maybe": None,
            }
        )["maybe"]
        is None
    )


def test_validation_errors_name_every_bad_field() -> None:
    made = tool(weather)
    with pytest.raises(ToolInputError) as info:
        made.validate({"cty": "Paris", "unit": "k", "days": "2", "point": {"x": "1"}})
    message = str(info.value)
    assert "missing required property 'city'" in message
    assert "unexpected property 'cty' (allowed: city, unit, days, note, where, point)" in message
    assert "unit: 'k' is not one of ['c', 'f']" in message
    assert "days: expected integer, got string '2'" in message
    assert "point.x: expected number, got string '1'" in message
    assert isinstance(info.value, ToolError)


def test_validation_rejects_the_context_parameter_and_non_objects() -> None:
    made = tool(with_context)
    with pytest.raises(ToolInputError, match="unexpected property 'context'"):
        made.validate({"path": "a", "context": {}})
    with pytest.raises(ToolInputError, match="must be a JSON object, not list"):
        made.validate([])  # type: ignore[arg-type]


def f_positive(x: Positive) -> None: ...


def test_a_class_refusing_its_fields_is_an_input_error() -> None:
    with pytest.raises(ToolInputError, match="x: could not build Positive: 'value' must be > 0"):
        tool(f_positive).validate({"x": {"value": 0}})


def test_a_tool_built_directly_validates_without_converting() -> None:
    from anyagent_core import ToolSpec

    made = Tool(
        spec=ToolSpec(name="raw", parameters={"type": "object", "properties": {"a": {"type": "array"}}}),
        function=lambda **kwargs: kwargs,
    )
    assert made.validate({"a": (1, 2)}) == {"a": [1, 2]}
    with pytest.raises(ToolInputError, match="a: expected array"):
        made.validate({"a": 1})


def test_an_unusable_parameter_schema_fails_when_the_tool_is_made() -> None:
    def bad_bound(x: Annotated[int, {"minimum": "one"}]) -> None: ...

    def bad_type(x: Annotated[str, {"type": "date"}]) -> None: ...

    with pytest.raises(TypeError, match=r"tool 'bad_bound' .* #/properties/x: 'minimum' must be a number"):
        tool(bad_bound)
    with pytest.raises(ValueError, match=r"tool 'bad_type' .* unknown type 'date'"):
        tool(bad_type)
    spec = ToolSpec(name="t", parameters={"type": "object", "properties": {"q": {"pattern": "("}}})
    with pytest.raises(ValueError, match=r"tool 't' .* invalid 'pattern'"):
        Tool(spec=spec, function=lambda q: q)
