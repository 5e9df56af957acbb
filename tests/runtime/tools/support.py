"""Types and helpers shared by the tool tests."""

from __future__ import annotations

import dataclasses
import enum
import pathlib
from typing import Any, NotRequired, Required, TypedDict

import attrs

from anyagent_core import thaw_json
from anyagent_httpx import ToolContext, tool


class Unit(enum.Enum):
    CELSIUS = "c"
    FAHRENHEIT = "f"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(TypedDict):
    street: str
    zip: NotRequired[int]


class Options(TypedDict, total=False):
    name: Required[str]
    verbose: bool


@attrs.frozen
class Point:
    x: float
    y: float = 0.0
    tags: tuple[str, ...] = attrs.field(factory=tuple)


@dataclasses.dataclass
class Box:
    corner: Point
    label: str = "box"
    sizes: list[int] = dataclasses.field(default_factory=list)


@attrs.define
class Positive:
    value: int = attrs.field(validator=attrs.validators.gt(0))


@attrs.frozen
class Node:
    children: list[Node]


def schema_of(function: Any) -> dict[str, Any]:
    made = tool(function)
    schema: dict[str, Any] = thaw_json(made.spec.parameters)
    return schema


def only(function: Any) -> Any:
    """The schema of a one-parameter function's parameter."""
    return schema_of(function)["properties"]["x"]


def context(tmp_path: pathlib.Path) -> ToolContext:
    return ToolContext(cwd=tmp_path)


def weather(
    city: str,
    unit: Unit = Unit.CELSIUS,
    days: int = 1,
    note: str | None = None,
    where: pathlib.Path = pathlib.Path("/tmp"),
    point: Point = Point(x=1),
) -> str:
    """Get the weather."""
    return city


def with_context(path: str, context: ToolContext) -> str:
    return f"{context.cwd}:{path}"
