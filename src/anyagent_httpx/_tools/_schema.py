"""JSON schemas from Python annotations, and descriptions from docstrings.

``shape_of(annotation)`` gives a ``Shape``: the JSON schema a supported annotation stands for, and
how a value valid against it becomes the Python value (TypedDict, attrs and dataclass instances,
enums, tuples, paths...); ``Unsupported`` says why an annotation has none. ``parse_docstring``
reads the description and each parameter's text from a Google-, NumPy- or Sphinx-style docstring."""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import inspect
import json
import pathlib
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Literal, NotRequired, Required, Union

import attrs

from anyagent_core import thaw_json
from anyagent_core.value import Value

__all__ = ["Shape", "Signature", "Unsupported", "jsonable", "object_schema", "parse_docstring", "shape_of", "type_name"]


@attrs.frozen(repr=False, eq=False)
class Shape(Value):
    """A supported annotation: its JSON schema, and how a valid JSON value becomes the Python value."""

    schema: dict[str, Any]
    convert: Callable[[Any], Any]


@attrs.frozen(repr=False, eq=False)
class Signature(Value):
    """What ``@tool`` read from a function: each parameter's shape, and the parameter (if any)
    that receives the ``ToolContext``."""

    parameters: Mapping[str, Shape]
    context_parameter: str | None


# -- schemas from annotations ----------------------------------------------------------------------


class Unsupported(Exception):
    pass


def type_name(annotation: object) -> str:
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "")


def _identity(value: Any) -> Any:
    return value


def jsonable(value: object) -> tuple[bool, Any]:
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
            raise Unsupported(f"{where} value {value!r} is not a JSON string, number, boolean or null")
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


def shape_of(annotation: Any, seen: tuple[type, ...]) -> Shape:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        base = shape_of(args[0], seen)
        schema = dict(base.schema)
        for meta in args[1:]:
            if isinstance(meta, str):
                schema.setdefault("description", meta)
            elif isinstance(meta, Mapping):
                schema.update(meta)
        return Shape(schema, base.convert)
    if annotation is Any:
        return Shape({}, thaw_json)
    if annotation is None or annotation is type(None):
        return Shape({"type": "null"}, _identity)
    if annotation is str or annotation is bool:
        return Shape({"type": _JSON_TYPES[annotation]}, _identity)
    if annotation is int:
        return Shape({"type": "integer"}, int)
    if annotation is float:
        return Shape({"type": "number"}, float)
    if isinstance(annotation, type) and issubclass(annotation, pathlib.PurePath):
        return Shape({"type": "string"}, annotation)
    if origin is Literal:
        values = list(args)
        schema = _enum_schema(values, "Literal")

        def literal(value: Any) -> Any:
            for option in values:
                if option == value and isinstance(option, bool) == isinstance(value, bool):
                    return option
            return value

        return Shape(schema, literal)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return Shape(_enum_schema([member.value for member in annotation], annotation.__qualname__), annotation)
    if origin is Union or origin is types.UnionType:
        members = [shape_of(arg, seen) for arg in args]
        from anyagent_core.schema import validate as validate_schema  # loaded with the first tool

        def union(value: Any) -> Any:
            for member in members:
                if not validate_schema(value, member.schema):
                    return member.convert(value)
            return thaw_json(value)

        return Shape({"anyOf": [member.schema for member in members]}, union)
    if origin is tuple or annotation is tuple:
        return _tuple_shape(args, seen)
    if annotation in _SEQUENCES or origin in _SEQUENCES:
        build = _SEQUENCES[origin if origin is not None else annotation]
        schema = {"type": "array"}
        if build is set or build is frozenset:
            schema["uniqueItems"] = True
        if not args:
            return Shape(schema, lambda value: build(thaw_json(value)))
        item = shape_of(args[0], seen)
        return Shape({"type": "array", "items": item.schema, **schema}, lambda value: build(map(item.convert, value)))
    if annotation in _MAPPINGS or origin in _MAPPINGS:
        if not args:
            return Shape({"type": "object"}, thaw_json)
        if args[0] is not str:
            raise Unsupported(f"JSON object keys are strings, not {type_name(args[0])}")
        values_shape = shape_of(args[1], seen)
        return Shape(
            {"type": "object", "additionalProperties": values_shape.schema},
            lambda value: {key: values_shape.convert(item) for key, item in value.items()},
        )
    if isinstance(annotation, type):
        if annotation in seen:
            raise Unsupported(f"{annotation.__qualname__} refers to itself, and recursive types are not supported")
        if typing.is_typeddict(annotation):
            return _typeddict_shape(annotation, (*seen, annotation))
        if attrs.has(annotation) or dataclasses.is_dataclass(annotation):
            return _class_shape(annotation, (*seen, annotation))
    raise Unsupported("it has no JSON schema equivalent")


def _tuple_shape(args: tuple[Any, ...], seen: tuple[type, ...]) -> Shape:
    if not args:
        return Shape({"type": "array"}, lambda value: tuple(thaw_json(value)))
    if len(args) == 2 and args[1] is Ellipsis:
        item = shape_of(args[0], seen)
        return Shape({"type": "array", "items": item.schema}, lambda value: tuple(map(item.convert, value)))
    if args == ((),):
        args = ()
    members = [shape_of(arg, seen) for arg in args]
    schema = {
        "type": "array",
        "prefixItems": [member.schema for member in members],
        "items": False,
        "minItems": len(members),
        "maxItems": len(members),
    }
    return Shape(schema, lambda value: tuple(m.convert(v) for m, v in zip(members, value, strict=True)))


def _hints(owner: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(owner, include_extras=True)
    except Exception as exc:
        raise Unsupported(f"the annotations of {type_name(owner)} cannot be resolved ({exc})") from None


def _unwrap_required(annotation: Any) -> Any:
    while typing.get_origin(annotation) in (Required, NotRequired):
        annotation = typing.get_args(annotation)[0]
    return annotation


def object_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def _typeddict_shape(cls: type, seen: tuple[type, ...]) -> Shape:
    hints = _hints(cls)
    required_keys: frozenset[str] = getattr(cls, "__required_keys__", frozenset())
    shapes: dict[str, Shape] = {}
    required: list[str] = []
    for key, annotation in hints.items():
        # Required / NotRequired are read from the resolved hints too: with postponed annotations
        # (PEP 563) Python 3.11's __required_keys__ does not see them.
        marker = typing.get_origin(annotation)
        if marker is Required or (marker is not NotRequired and key in required_keys):
            required.append(key)
        shapes[key] = shape_of(_unwrap_required(annotation), seen)
    schema = object_schema({key: shape.schema for key, shape in shapes.items()}, required)

    def build(value: Mapping[str, Any]) -> dict[str, Any]:
        return {key: shapes[key].convert(item) for key, item in value.items()}

    return Shape(schema, build)


def _class_shape(cls: type, seen: tuple[type, ...]) -> Shape:
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
    shapes: dict[str, Shape] = {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for attribute, keyword, has_default, default in fields:
        if attribute not in hints:
            raise Unsupported(f"field {cls.__qualname__}.{attribute} has no type annotation")
        shape = shape_of(hints[attribute], seen)
        shapes[keyword] = shape
        schema = dict(shape.schema)
        if not has_default:
            required.append(keyword)
        elif not isinstance(default, attrs.Factory) and default is not dataclasses.MISSING:  # type: ignore[arg-type]
            ok, value = jsonable(default)
            if ok:
                schema["default"] = value
        properties[keyword] = schema

    def build(value: Mapping[str, Any]) -> Any:
        keywords = {key: shapes[key].convert(item) for key, item in value.items()}
        try:
            return cls(**keywords)
        except Exception as exc:
            raise ValueError(f"could not build {cls.__qualname__}: {exc}") from exc

    return Shape(object_schema(properties, required), build)


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
