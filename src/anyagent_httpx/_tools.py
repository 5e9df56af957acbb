"""Tools: typed Python functions offered to the model, their arguments validated and converted,
run without blocking the event loop and without ever raising into the agent loop.

::

    @tool
    def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
        '''The current weather in a city.

        Args:
            city: The city's name, in English.
            unit: Celsius or Fahrenheit.
        '''

The JSON schema comes from the signature (``typing.get_type_hints``), the descriptions from the
docstring (Google, NumPy or Sphinx style). ``run_tool`` validates the model's arguments against the
schema with the core validator, converts them to the annotated Python types, runs the function
(async functions awaited, sync ones in a worker thread) under the tool's timeout, and turns
whatever happens into a ``ToolResultBlock``.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import functools
import inspect
import json
import os
import pathlib
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Literal, NotRequired, Required, TypeVar, Union, overload

import anyio
import anyio.to_thread
import attrs

from anyagent_core import (
    ImageBlock,
    TextBlock,
    ToolResultBlock,
    ToolSpec,
    check_schema_definition,
    thaw_json,
    validate_schema,
)

__all__ = [
    "MAX_RESULT_CHARS",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolInputError",
    "run_tool",
    "tool",
    "truncate_middle",
]

MAX_RESULT_CHARS = 100_000
"""Longer result texts are cut in the middle, keeping their start and end."""

_F = TypeVar("_F", bound=Callable[..., Any])


class ToolError(Exception):
    """Raised by a tool for a clean error result: the model sees the message only, no traceback."""


class ToolInputError(ToolError):
    """The arguments failed validation; the message names every bad field."""


def _resolved(path: str | os.PathLike[str]) -> pathlib.Path:
    return pathlib.Path(os.path.realpath(path))


def _resolved_all(paths: Iterable[str | os.PathLike[str]]) -> tuple[pathlib.Path, ...]:
    return tuple(_resolved(path) for path in paths)


@attrs.frozen(kw_only=True)
class ToolContext:
    """Given to a tool that declares a parameter annotated ``ToolContext`` (that parameter is not
    in the schema). Paths are made absolute and resolved (symlinks followed) on construction."""

    cwd: pathlib.Path = attrs.field(converter=_resolved)
    """The working directory relative paths are taken from."""
    roots: tuple[pathlib.Path, ...] = attrs.field(
        converter=_resolved_all, default=attrs.Factory(lambda self: (self.cwd,), takes_self=True)
    )
    """The directories file tools may touch: the working directory first, then any others allowed."""
    tool_use_id: str = ""
    session_id: str | None = None

    def for_call(self, tool_use_id: str) -> ToolContext:
        """This context for the call ``tool_use_id``: the paths as they are, not resolved again
        (``attrs.evolve`` would run the converters, touching the file system, for every call)."""
        context = object.__new__(ToolContext)
        for field in attrs.fields(ToolContext):
            object.__setattr__(context, field.name, getattr(self, field.name))
        object.__setattr__(context, "tool_use_id", tool_use_id)
        return context


def _positive_or_none(instance: object, attribute: attrs.Attribute[float | None], value: float | None) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"{attribute.name} must be a positive number of seconds or None, not {value!r}")


@attrs.frozen
class _Shape:
    """A supported annotation: its JSON schema, and how a valid JSON value becomes the Python value."""

    schema: dict[str, Any]
    convert: Callable[[Any], Any]


@attrs.frozen
class _Signature:
    parameters: Mapping[str, _Shape]
    context_parameter: str | None


@attrs.frozen(kw_only=True)
class Tool:
    """A tool the model may call: its spec (name, description, JSON schema) and the function run.

    Build one with ``@tool``; constructing it directly takes the spec as given, and ``validate``
    then checks arguments against the schema without converting them.
    """

    spec: ToolSpec
    function: Callable[..., Any] = attrs.field(repr=False)
    """Called with the validated arguments as keywords; sync or async."""
    timeout: float | None = attrs.field(default=None, validator=_positive_or_none)
    """Seconds a call may take; None means no limit."""
    read_only: bool = False
    """It changes nothing: it may run in plan mode, and concurrently with other read-only calls."""
    edits_files: bool = False
    """It changes files under the roots (the acceptEdits permission mode allows it without asking)."""
    needs_permission: bool = False
    """In the default permission mode, ask before running it (shell commands, writes)."""
    rule_argument: str | None = None
    """The argument permission rules match against: ``command`` for bash, ``path`` for file tools."""
    _signature: _Signature | None = attrs.field(default=None, repr=False, eq=False, alias="signature")

    def __attrs_post_init__(self) -> None:
        try:
            check_schema_definition(self.spec.parameters)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"the parameters of tool {self.spec.name!r} are not a usable JSON schema: {exc}") from None

    @property
    def name(self) -> str:
        """The tool's name, as the model calls it."""
        return self.spec.name

    def validate(self, input: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments checked against ``spec.parameters`` and converted to the annotated Python
        types (TypedDict, attrs and dataclass instances, enums, tuples, paths...), as keywords for
        the function. Raises ``ToolInputError`` naming every bad field."""
        if not isinstance(input, Mapping):
            raise ToolInputError(f"the arguments must be a JSON object, not {type(input).__name__}")
        errors = validate_schema(input, self.spec.parameters)
        if errors:
            raise ToolInputError("; ".join(_field_message(error.path, error.message) for error in errors))
        if self._signature is None:
            arguments: dict[str, Any] = thaw_json(input)
            return arguments
        converted: dict[str, Any] = {}
        for key, value in input.items():
            shape = self._signature.parameters.get(key)
            try:
                converted[key] = thaw_json(value) if shape is None else shape.convert(value)
            except Exception as exc:
                raise ToolInputError(f"{key}: {exc}") from exc
        return converted


def _field_message(path: str, message: str) -> str:
    if path == "$":
        return message
    return f"{path.removeprefix('$').removeprefix('.')}: {message}"


# -- schemas from annotations ----------------------------------------------------------------------


class _Unsupported(Exception):
    pass


def _type_name(annotation: object) -> str:
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "")


def _identity(value: Any) -> Any:
    return value


def _jsonable(value: object) -> tuple[bool, Any]:
    """Whether a default can be shown in the schema, and its JSON form."""
    if isinstance(value, enum.Enum):
        value = value.value
    elif isinstance(value, pathlib.PurePath):
        value = str(value)
    try:
        return True, json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return False, None


_JSON_TYPES: dict[type, str] = {str: "string", bool: "boolean", int: "integer", float: "number", type(None): "null"}


def _enum_schema(values: list[Any], where: str) -> dict[str, Any]:
    kinds = set()
    for value in values:
        if type(value) not in _JSON_TYPES:
            raise _Unsupported(f"{where} value {value!r} is not a JSON string, number, boolean or null")
        kinds.add(_JSON_TYPES[type(value)])
    schema: dict[str, Any] = {}
    if len(kinds) == 1:
        schema["type"] = kinds.pop()
    schema["enum"] = values
    return schema


_SEQUENCES: dict[object, Callable[[Iterable[Any]], Any]] = {
    list: list,
    collections.abc.Sequence: list,
    collections.abc.MutableSequence: list,
    collections.abc.Iterable: list,
    collections.abc.Collection: list,
    set: set,
    frozenset: frozenset,
    collections.abc.Set: frozenset,
    collections.abc.MutableSet: set,
}
_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def _shape(annotation: Any, seen: tuple[type, ...]) -> _Shape:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        base = _shape(args[0], seen)
        schema = dict(base.schema)
        for meta in args[1:]:
            if isinstance(meta, str):
                schema.setdefault("description", meta)
            elif isinstance(meta, Mapping):
                schema.update(meta)
        return _Shape(schema, base.convert)
    if annotation is Any:
        return _Shape({}, thaw_json)
    if annotation is None or annotation is type(None):
        return _Shape({"type": "null"}, _identity)
    if annotation is str or annotation is bool:
        return _Shape({"type": _JSON_TYPES[annotation]}, _identity)
    if annotation is int:
        return _Shape({"type": "integer"}, int)
    if annotation is float:
        return _Shape({"type": "number"}, float)
    if isinstance(annotation, type) and issubclass(annotation, pathlib.PurePath):
        return _Shape({"type": "string"}, annotation)
    if origin is Literal:
        values = list(args)
        schema = _enum_schema(values, "Literal")

        def literal(value: Any) -> Any:
            for option in values:
                if option == value and isinstance(option, bool) == isinstance(value, bool):
                    return option
            return value

        return _Shape(schema, literal)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _Shape(_enum_schema([member.value for member in annotation], annotation.__qualname__), annotation)
    if origin is Union or origin is types.UnionType:
        members = [_shape(arg, seen) for arg in args]

        def union(value: Any) -> Any:
            for member in members:
                if not validate_schema(value, member.schema):
                    return member.convert(value)
            return thaw_json(value)

        return _Shape({"anyOf": [member.schema for member in members]}, union)
    if origin is tuple or annotation is tuple:
        return _tuple_shape(args, seen)
    if annotation in _SEQUENCES or origin in _SEQUENCES:
        build = _SEQUENCES[origin if origin is not None else annotation]
        schema = {"type": "array"}
        if build is set or build is frozenset:
            schema["uniqueItems"] = True
        if not args:
            return _Shape(schema, lambda value: build(thaw_json(value)))
        item = _shape(args[0], seen)
        return _Shape({"type": "array", "items": item.schema, **schema}, lambda value: build(map(item.convert, value)))
    if annotation in _MAPPINGS or origin in _MAPPINGS:
        if not args:
            return _Shape({"type": "object"}, thaw_json)
        if args[0] is not str:
            raise _Unsupported(f"JSON object keys are strings, not {_type_name(args[0])}")
        values_shape = _shape(args[1], seen)
        return _Shape(
            {"type": "object", "additionalProperties": values_shape.schema},
            lambda value: {key: values_shape.convert(item) for key, item in value.items()},
        )
    if isinstance(annotation, type):
        if annotation in seen:
            raise _Unsupported(f"{annotation.__qualname__} refers to itself, and recursive types are not supported")
        if typing.is_typeddict(annotation):
            return _typeddict_shape(annotation, (*seen, annotation))
        if attrs.has(annotation) or dataclasses.is_dataclass(annotation):
            return _class_shape(annotation, (*seen, annotation))
    raise _Unsupported("it has no JSON schema equivalent")


def _tuple_shape(args: tuple[Any, ...], seen: tuple[type, ...]) -> _Shape:
    if not args:
        return _Shape({"type": "array"}, lambda value: tuple(thaw_json(value)))
    if len(args) == 2 and args[1] is Ellipsis:
        item = _shape(args[0], seen)
        return _Shape({"type": "array", "items": item.schema}, lambda value: tuple(map(item.convert, value)))
    if args == ((),):
        args = ()
    members = [_shape(arg, seen) for arg in args]
    schema = {
        "type": "array",
        "prefixItems": [member.schema for member in members],
        "items": False,
        "minItems": len(members),
        "maxItems": len(members),
    }
    return _Shape(schema, lambda value: tuple(m.convert(v) for m, v in zip(members, value, strict=True)))


def _hints(owner: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(owner, include_extras=True)
    except Exception as exc:
        raise _Unsupported(f"the annotations of {_type_name(owner)} cannot be resolved ({exc})") from None


def _unwrap_required(annotation: Any) -> Any:
    while typing.get_origin(annotation) in (Required, NotRequired):
        annotation = typing.get_args(annotation)[0]
    return annotation


def _object_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def _typeddict_shape(cls: type, seen: tuple[type, ...]) -> _Shape:
    hints = _hints(cls)
    required_keys: frozenset[str] = getattr(cls, "__required_keys__", frozenset())
    shapes: dict[str, _Shape] = {}
    required: list[str] = []
    for key, annotation in hints.items():
        # Required / NotRequired are read from the resolved hints too: with postponed annotations
        # (PEP 563) Python 3.11's __required_keys__ does not see them.
        marker = typing.get_origin(annotation)
        if marker is Required or (marker is not NotRequired and key in required_keys):
            required.append(key)
        shapes[key] = _shape(_unwrap_required(annotation), seen)
    schema = _object_schema({key: shape.schema for key, shape in shapes.items()}, required)

    def build(value: Mapping[str, Any]) -> dict[str, Any]:
        return {key: shapes[key].convert(item) for key, item in value.items()}

    return _Shape(schema, build)


def _class_shape(cls: type, seen: tuple[type, ...]) -> _Shape:
    hints = _hints(cls)
    fields: list[tuple[str, str, bool, object]] = []  # (attribute, keyword, has default, default)
    if attrs.has(cls):
        for field in attrs.fields(cls):
            if field.init:
                has_default = field.default is not attrs.NOTHING
                fields.append((field.name, field.alias or field.name, has_default, field.default))
    else:
        for dc_field in dataclasses.fields(cls):
            if dc_field.init:
                has_default = (
                    dc_field.default is not dataclasses.MISSING or dc_field.default_factory is not dataclasses.MISSING
                )
                fields.append((dc_field.name, dc_field.name, has_default, dc_field.default))
    shapes: dict[str, _Shape] = {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for attribute, keyword, has_default, default in fields:
        if attribute not in hints:
            raise _Unsupported(f"field {cls.__qualname__}.{attribute} has no type annotation")
        shape = _shape(hints[attribute], seen)
        shapes[keyword] = shape
        schema = dict(shape.schema)
        if not has_default:
            required.append(keyword)
        elif not isinstance(default, attrs.Factory) and default is not dataclasses.MISSING:  # type: ignore[arg-type]
            ok, value = _jsonable(default)
            if ok:
                schema["default"] = value
        properties[keyword] = schema

    def build(value: Mapping[str, Any]) -> Any:
        keywords = {key: shapes[key].convert(item) for key, item in value.items()}
        try:
            return cls(**keywords)
        except Exception as exc:
            raise ValueError(f"could not build {cls.__qualname__}: {exc}") from exc

    return _Shape(_object_schema(properties, required), build)


# -- docstrings ------------------------------------------------------------------------------------

_GOOGLE_PARAMS = {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments", "other parameters"}
_GOOGLE_HEADER = re.compile(r"^\s*([A-Za-z][A-Za-z ]*):\s*$")
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_NUMPY_RULE = re.compile(r"^\s*-{3,}\s*$")
_NUMPY_ENTRY = re.compile(r"^([\w\s,*]+?)\s*(?::.*)?$")
_SPHINX_FIELD = re.compile(r"^:(\w+)(?:\s+([^:]*))?:\s*(.*)$")
_SECTION_NAMES = _GOOGLE_PARAMS | {
    "returns", "return", "yields", "yield", "raises", "raise", "examples", "example", "notes", "note",
    "attributes", "see also", "warnings", "warning", "references", "todo", "methods",
}  # fmt: skip


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """The description (the text before the first section) and each parameter's description,
    from a Google-, NumPy- or Sphinx-style docstring."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    params: dict[str, str] = {}
    description: list[str] = []
    index = 0
    in_description = True
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        header = _GOOGLE_HEADER.match(line)
        next_line = lines[index + 1] if index + 1 < len(lines) else ""
        if stripped and _NUMPY_RULE.match(next_line) and stripped.lower() in _SECTION_NAMES:
            in_description = False
            index = _numpy_section(lines, index + 2, params if stripped.lower() in _GOOGLE_PARAMS else {})
            continue
        if header and header.group(1).strip().lower() in _SECTION_NAMES:
            in_description = False
            target = params if header.group(1).strip().lower() in _GOOGLE_PARAMS else {}
            index = _google_section(lines, index + 1, _indent(line), target)
            continue
        field = _SPHINX_FIELD.match(stripped)
        if field:
            in_description = False
            index = _sphinx_field(lines, index, field, params)
            continue
        if in_description:
            description.append(line)
        index += 1
    return "\n".join(description).strip(), params


def _continuation(lines: list[str], index: int, deeper_than: int) -> tuple[list[str], int]:
    parts: list[str] = []
    while index < len(lines) and (not lines[index].strip() or _indent(lines[index]) > deeper_than):
        if lines[index].strip():
            parts.append(lines[index].strip())
        elif index + 1 < len(lines) and lines[index + 1].strip() and _indent(lines[index + 1]) <= deeper_than:
            break
        index += 1
    return parts, index


def _google_section(lines: list[str], index: int, header_indent: int, params: dict[str, str]) -> int:
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        if _indent(line) <= header_indent:
            return index
        entry_indent = _indent(line)
        match = _GOOGLE_ENTRY.match(line.strip())
        rest, index = _continuation(lines, index + 1, entry_indent)
        if match:
            params[match.group(1)] = " ".join([match.group(2).strip(), *rest]).strip()
    return index


def _numpy_section(lines: list[str], index: int, params: dict[str, str]) -> int:
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        if index + 1 < len(lines) and _NUMPY_RULE.match(lines[index + 1]):
            return index  # the next section's header
        entry_indent = _indent(line)
        match = _NUMPY_ENTRY.match(line.strip())
        rest, index = _continuation(lines, index + 1, entry_indent)
        if match:
            for name in match.group(1).split(","):
                params[name.strip().lstrip("*")] = " ".join(rest)
    return index


def _sphinx_field(lines: list[str], index: int, field: re.Match[str], params: dict[str, str]) -> int:
    rest, end = _continuation(lines, index + 1, _indent(lines[index]))
    if field.group(1) in ("param", "parameter", "arg", "argument", "key", "keyword") and field.group(2):
        name = field.group(2).split()[-1]
        params[name] = " ".join([field.group(3).strip(), *rest]).strip()
    return end


# -- the decorator ---------------------------------------------------------------------------------


def _is_context(annotation: Any) -> bool:
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation is ToolContext


def _build_tool(
    func: Callable[..., Any],
    *,
    name: str | None,
    description: str | None,
    timeout: float | None,
    read_only: bool,
    edits_files: bool,
    needs_permission: bool,
    rule_argument: str | None,
) -> Tool:
    if not callable(func):
        raise TypeError(f"@tool needs a function, not {type(func).__name__}")
    label = getattr(func, "__qualname__", None) or repr(func)
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot make a tool of {label}: {exc}") from None
    target = func.func if isinstance(func, functools.partial) else func
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception as exc:
        raise TypeError(f"cannot resolve the annotations of {label}: {exc}") from None
    summary, param_docs = parse_docstring(inspect.getdoc(func))
    shapes: dict[str, _Shape] = {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    context_parameter: str | None = None
    for parameter in signature.parameters.values():
        where = f"tool {label}: parameter {parameter.name!r}"
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            star = "*" if parameter.kind is parameter.VAR_POSITIONAL else "**"
            raise TypeError(f"{where} ({star}{parameter.name}) is not supported: tools take named arguments only")
        if parameter.kind is parameter.POSITIONAL_ONLY:
            raise TypeError(f"{where} is positional-only, but tools are called with keyword arguments")
        if parameter.name not in hints:
            raise TypeError(f"{where} has no type annotation")
        annotation = hints[parameter.name]
        if _is_context(annotation):
            context_parameter = parameter.name
            continue
        try:
            shape = _shape(annotation, ())
        except _Unsupported as exc:
            raise TypeError(f"{where} has an unsupported type {_type_name(annotation)}: {exc}") from None
        schema = dict(shape.schema)
        if "description" not in schema and param_docs.get(parameter.name):
            schema["description"] = param_docs[parameter.name]
        if parameter.default is parameter.empty:
            required.append(parameter.name)
        else:
            ok, value = _jsonable(parameter.default)
            if ok:
                schema["default"] = value
        shapes[parameter.name] = shape
        properties[parameter.name] = schema
    if rule_argument is not None and rule_argument not in properties:
        raise ValueError(f"rule_argument {rule_argument!r} is not a parameter of {label}")
    spec = ToolSpec(
        name=name if name is not None else getattr(target, "__name__", ""),
        description=description if description is not None else summary,
        parameters=_object_schema(properties, required),
    )
    return Tool(
        spec=spec,
        function=func,
        timeout=timeout,
        read_only=read_only,
        edits_files=edits_files,
        needs_permission=needs_permission,
        rule_argument=rule_argument,
        signature=_Signature(parameters=shapes, context_parameter=context_parameter),
    )


@overload
def tool(func: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    func: None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    read_only: bool = False,
    edits_files: bool = False,
    needs_permission: bool = False,
    rule_argument: str | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    read_only: bool = False,
    edits_files: bool = False,
    needs_permission: bool = False,
    rule_argument: str | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a ``Tool`` of a typed function, as ``@tool`` or ``@tool(name=..., timeout=...)``.

    The name defaults to the function's, the description to its docstring's text before the first
    section; parameter descriptions come from the docstring's Args / Parameters / ``:param:``
    entries or from ``Annotated[X, "description"]`` (a mapping in ``Annotated`` adds schema
    keywords, such as ``{"minimum": 1}``). Parameters with defaults are not required. A parameter
    annotated ``ToolContext`` is filled in when the tool runs and is not part of the schema.

    Raises ``TypeError`` naming the function, the parameter and the type for ``*args``,
    ``**kwargs``, a missing annotation or a type with no JSON schema equivalent.
    """
    options = {
        "name": name,
        "description": description,
        "timeout": timeout,
        "read_only": read_only,
        "edits_files": edits_files,
        "needs_permission": needs_permission,
        "rule_argument": rule_argument,
    }
    if func is not None:
        return _build_tool(func, **options)  # type: ignore[arg-type]
    return lambda function: _build_tool(function, **options)  # type: ignore[arg-type]


# -- running ---------------------------------------------------------------------------------------


def truncate_middle(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters (when ``limit`` leaves room for the marker),
    keeping its start and end around a ``[... N characters omitted ...]`` marker."""
    if len(text) <= limit:
        return text
    omitted = len(text) - limit
    while True:
        marker = f"\n[... {omitted} characters omitted ...]\n"
        keep = max(limit - len(marker), 0)
        if len(text) - keep == omitted:
            break
        omitted = len(text) - keep
    head = keep - keep // 2
    tail = keep // 2
    return text[:head] + marker + (text[len(text) - tail :] if tail else "")


def _json_fallback(value: object) -> object:
    if attrs.has(type(value)):
        return attrs.asdict(value)  # type: ignore[arg-type]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return list(value)
    return str(value)


def _content(value: object, name: str) -> tuple[str | tuple[TextBlock | ImageBlock, ...], bool]:
    if isinstance(value, ToolResultBlock):
        return value.content, value.is_error
    if isinstance(value, str):
        return value, False
    if value is None:
        return "", False
    if isinstance(value, TextBlock | ImageBlock):
        return (value,), False
    if isinstance(value, list | tuple) and value and all(isinstance(item, TextBlock | ImageBlock) for item in value):
        return tuple(value), False
    if isinstance(value, bytes | bytearray | memoryview):
        return f"{name} returned {type(value).__name__}, but tools must return text", True
    try:
        return json.dumps(value, ensure_ascii=False, default=_json_fallback), False
    except (TypeError, ValueError):
        return str(value), False


def _result(call_id: str, content: str | tuple[TextBlock | ImageBlock, ...], is_error: bool) -> ToolResultBlock:
    if isinstance(content, str):
        content = truncate_middle(content, MAX_RESULT_CHARS)
    else:
        content = tuple(
            TextBlock(text=truncate_middle(block.text, MAX_RESULT_CHARS)) if isinstance(block, TextBlock) else block
            for block in content
        )
    return ToolResultBlock(tool_use_id=call_id, content=content, is_error=is_error)


def _is_async(function: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(function):
        return True
    call = getattr(function, "__call__", None)  # noqa: B004 - an object whose __call__ is async
    return call is not None and inspect.iscoroutinefunction(call)


async def _call(function: Callable[..., Any], arguments: dict[str, Any]) -> Any:
    if _is_async(function):
        value = await function(**arguments)
    else:
        value = await anyio.to_thread.run_sync(functools.partial(function, **arguments), abandon_on_cancel=True)
    if inspect.isawaitable(value):
        value = await value
    return value


def _seconds(value: float) -> str:
    return f"{value:g}"


async def run_tool(
    tool: Tool, call_id: str, input: Mapping[str, Any], context: ToolContext, *, default_timeout: float | None = None
) -> ToolResultBlock:
    """Run one tool call and return its result; never raises, except for cancellation.

    The arguments are validated first (``Invalid arguments for <name>: ...``). Async functions are
    awaited; sync ones run in a worker thread so the event loop is not blocked (on timeout or
    cancellation the thread is abandoned and finishes on its own). ``ToolError`` becomes an error
    result with its message; any other exception (``SystemExit`` too) ``<name> failed: ExcType: message``; running past
    ``tool.timeout`` (``default_timeout`` for a tool without one) ``<name> timed out after Xs``.
    Return values: ``str`` as is, ``None`` as
    ``""``, text and image blocks as blocks, a ``ToolResultBlock``'s content and error flag, and
    anything else as JSON (attrs and dataclass instances as objects). Texts over
    ``MAX_RESULT_CHARS`` are cut in the middle.
    """
    name = tool.name
    try:
        arguments = tool.validate(input)
    except ToolInputError as exc:
        return _result(call_id, f"Invalid arguments for {name}: {exc}", True)
    signature = tool._signature
    if signature is not None and signature.context_parameter is not None:
        arguments[signature.context_parameter] = context
    timeout = tool.timeout if tool.timeout is not None else default_timeout
    try:
        with anyio.move_on_after(timeout) as scope:
            value = await _call(tool.function, arguments)
        if scope.cancelled_caught:
            assert timeout is not None
            return _result(call_id, f"{name} timed out after {_seconds(timeout)}s", True)
        content, is_error = _content(value, name)
    except ToolError as exc:
        return _result(call_id, str(exc) or f"{name} failed: {type(exc).__name__}", True)
    except (Exception, SystemExit) as exc:  # SystemExit: a wrapped command-line entry point (argparse)
        detail = str(exc)
        text = f"{name} failed: {type(exc).__name__}: {detail}" if detail else f"{name} failed: {type(exc).__name__}"
        return _result(call_id, text, True)
    return _result(call_id, content, is_error)
