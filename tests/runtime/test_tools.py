"""Tools from typed functions: schemas, docstrings, validation and conversion, and run_tool."""

from __future__ import annotations

import dataclasses
import enum
import pathlib
import threading
import time
from collections.abc import Sequence
from typing import Annotated, Any, Literal, NotRequired, Optional, Required, TypedDict, Union

import anyio
import anyio.lowlevel
import attrs
import pytest

from anyagent_core import ImageBlock, TextBlock, ToolResultBlock, ToolSpec, thaw_json
from anyagent_httpx import Tool, ToolContext, ToolError, ToolInputError, run_tool, tool
from anyagent_httpx._tools import MAX_RESULT_CHARS, parse_docstring, truncate_middle

pytestmark = pytest.mark.anyio


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


# -- schemas -------------------------------------------------------------------------------------


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


def with_context(path: str, context: ToolContext) -> str:
    return f"{context.cwd}:{path}"


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


# -- validation and conversion -------------------------------------------------------------------


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


# -- run_tool ------------------------------------------------------------------------------------


async def test_sync_tool_runs_in_a_worker_thread_without_blocking(tmp_path: pathlib.Path) -> None:
    loop_thread = threading.get_ident()
    release = threading.Event()
    seen: list[int] = []

    @tool
    def blocking() -> str:
        seen.append(threading.get_ident())
        release.wait(10)
        return "done"

    results: list[ToolResultBlock] = []

    async def call() -> None:
        results.append(await run_tool(blocking, "c1", {}, context(tmp_path)))

    async with anyio.create_task_group() as group:
        group.start_soon(call)
        ticks = 0
        while not seen:  # the loop keeps running while the tool blocks its thread
            await anyio.sleep(0.01)
            ticks += 1
        await anyio.sleep(0.05)
        assert not results
        release.set()
    assert seen[0] != loop_thread
    assert results == [ToolResultBlock(tool_use_id="c1", content="done")]


async def test_async_tool_is_awaited_with_its_context(tmp_path: pathlib.Path) -> None:
    @tool
    async def where(path: str, context: ToolContext) -> str:
        await anyio.lowlevel.checkpoint()
        return f"{context.cwd}|{context.tool_use_id}|{path}"

    ctx = ToolContext(cwd=tmp_path, tool_use_id="c9")
    result = await run_tool(where, "c9", {"path": "x"}, ctx)
    assert result == ToolResultBlock(tool_use_id="c9", content=f"{ctx.cwd}|c9|x")


async def test_async_timeout_is_prompt(tmp_path: pathlib.Path) -> None:
    @tool(timeout=0.2)
    async def slow() -> str:
        await anyio.sleep(30)
        return "late"

    start = time.monotonic()
    result = await run_tool(slow, "c1", {}, context(tmp_path))
    assert time.monotonic() - start < 5
    assert result == ToolResultBlock(tool_use_id="c1", content="slow timed out after 0.2s", is_error=True)


async def test_sync_timeout_is_prompt(tmp_path: pathlib.Path) -> None:
    stop = threading.Event()

    @tool(timeout=0.2)
    def slow_sync() -> str:
        for _ in range(3000):  # small steps, so the abandoned thread ends once the test is over
            if stop.is_set():
                break
            time.sleep(0.01)
        return "late"

    start = time.monotonic()
    result = await run_tool(slow_sync, "c1", {}, context(tmp_path))
    stop.set()
    assert time.monotonic() - start < 5
    assert result == ToolResultBlock(tool_use_id="c1", content="slow_sync timed out after 0.2s", is_error=True)


async def test_cancellation_propagates(tmp_path: pathlib.Path) -> None:
    @tool
    async def forever() -> str:
        await anyio.sleep(30)
        return "never"

    with anyio.move_on_after(0.1) as scope:
        await run_tool(forever, "c1", {}, context(tmp_path))
        pytest.fail("run_tool returned although it was cancelled")
    assert scope.cancelled_caught


@tool
def fails_cleanly(reason: str) -> str:
    raise ToolError(f"no such city: {reason}")


@tool
def crashes(value: int) -> str:
    return str(1 // value)


@tool
async def crashes_async() -> str:
    raise KeyError("k")


async def test_exceptions_become_error_results(tmp_path: pathlib.Path) -> None:
    ctx = context(tmp_path)
    assert await run_tool(fails_cleanly, "a", {"reason": "Atlantis"}, ctx) == ToolResultBlock(
        tool_use_id="a", content="no such city: Atlantis", is_error=True
    )
    assert await run_tool(crashes, "b", {"value": 0}, ctx) == ToolResultBlock(
        tool_use_id="b", content="crashes failed: ZeroDivisionError: integer division or modulo by zero", is_error=True
    )
    assert await run_tool(crashes_async, "c", {}, ctx) == ToolResultBlock(
        tool_use_id="c", content="crashes_async failed: KeyError: 'k'", is_error=True
    )
    result = await run_tool(crashes, "d", {"value": "x"}, ctx)
    assert result == ToolResultBlock(
        tool_use_id="d", content="Invalid arguments for crashes: value: expected integer, got string 'x'", is_error=True
    )
    assert "Traceback" not in str(result.content)


@tool
def exits(code: int) -> str:
    raise SystemExit(code)  # what argparse does on bad arguments


@tool
async def exits_async() -> str:
    raise SystemExit(2)


async def test_system_exit_becomes_an_error_result(tmp_path: pathlib.Path) -> None:
    ctx = context(tmp_path)
    assert await run_tool(exits, "a", {"code": 2}, ctx) == ToolResultBlock(
        tool_use_id="a", content="exits failed: SystemExit: 2", is_error=True
    )
    assert await run_tool(exits_async, "b", {}, ctx) == ToolResultBlock(
        tool_use_id="b", content="exits_async failed: SystemExit: 2", is_error=True
    )


@attrs.frozen
class Reading:
    city: str
    unit: Unit


@dataclasses.dataclass
class Pair:
    a: int
    b: list[str]


class Opaque:
    def __str__(self) -> str:
        return "opaque!"


@pytest.mark.parametrize(
    ("value", "content", "is_error"),
    [
        ("text", "text", False),
        (None, "", False),
        (TextBlock(text="t"), (TextBlock(text="t"),), False),
        (
            [TextBlock(text="t"), ImageBlock(url="data:image/png;base64,AA==")],
            (TextBlock(text="t"), ImageBlock(url="data:image/png;base64,AA==")),
            False,
        ),
        (ToolResultBlock(tool_use_id="other", content="bad", is_error=True), "bad", True),
        (b"raw", "r returned bytes, but tools must return text", True),
        ({"a": [1, "é"]}, '{"a": [1, "é"]}', False),
        (42, "42", False),
        (Reading(city="Oslo", unit=Unit.CELSIUS), '{"city": "Oslo", "unit": "c"}', False),
        (Pair(a=1, b=["x"]), '{"a": 1, "b": ["x"]}', False),
        ([Opaque()], '["opaque!"]', False),
        (Opaque(), '"opaque!"', False),
    ],
)
async def test_return_value_conversion(tmp_path: pathlib.Path, value: object, content: Any, is_error: bool) -> None:
    @tool(name="r")
    async def returns() -> object:
        return value

    assert await run_tool(returns, "id", {}, context(tmp_path)) == ToolResultBlock(
        tool_use_id="id", content=content, is_error=is_error
    )


async def test_long_results_are_cut_in_the_middle(tmp_path: pathlib.Path) -> None:
    text = "a" * 60_000 + "MIDDLE" + "z" * 60_000

    @tool
    def big() -> str:
        return text

    result = await run_tool(big, "id", {}, context(tmp_path))
    assert isinstance(result.content, str)
    assert len(result.content) <= MAX_RESULT_CHARS
    assert result.content.startswith("a" * 49_000)
    assert result.content.endswith("z" * 49_000)
    assert "MIDDLE" not in result.content
    head, _, rest = result.content.partition("\n[... ")
    count, _, tail = rest.partition(" characters omitted ...]\n")
    assert len(head) + int(count) + len(tail) == len(text)


@pytest.mark.parametrize("length", [0, 10, 99, 100, 101, 1000, 123_456])
def test_truncate_middle_bounds(length: int) -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(length))
    cut = truncate_middle(text, 100)
    if length <= 100:
        assert cut == text
    else:
        assert len(cut) <= 100
        head, _, rest = cut.partition("\n[... ")
        count, _, tail = rest.partition(" characters omitted ...]\n")
        assert text.startswith(head)
        assert text.endswith(tail)
        assert len(head) + int(count) + len(tail) == length


def test_tool_context_resolves_its_paths(tmp_path: pathlib.Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    ctx = ToolContext(cwd=tmp_path / "link")
    assert ctx.cwd == (tmp_path / "real").resolve()
    assert ctx.roots == (ctx.cwd,)
    other = ToolContext(cwd=tmp_path / "real", roots=(tmp_path / "real", tmp_path / "link", tmp_path))
    assert other.roots == ((tmp_path / "real").resolve(), (tmp_path / "real").resolve(), tmp_path.resolve())


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


def test_a_context_for_a_call_keeps_the_resolved_paths(tmp_path: pathlib.Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    base = ToolContext(cwd=tmp_path / "link", roots=[tmp_path / "link", tmp_path], session_id="s1")
    call = base.for_call("call_7")
    assert call == attrs.evolve(base, tool_use_id="call_7")
    assert call.cwd is base.cwd and call.roots is base.roots  # taken as they are, not resolved again
    assert call.cwd == (tmp_path / "real").resolve()
    assert (call.tool_use_id, call.session_id, base.tool_use_id) == ("call_7", "s1", "")
