"""A small JSON Schema validator for tool arguments and structured outputs (pure: no I/O).

It covers the subset that tool and response schemas use: ``type`` (a name or a list; an
integer is never a bool, a number is an int or a float but not a bool), ``enum``, ``const``,
the numeric, string, array and object keywords, ``anyOf`` / ``oneOf`` / ``allOf`` / ``not``,
OpenAPI's ``nullable`` and local ``$ref`` (``#``, ``#/$defs/...``, ``#/definitions/...``).
Annotations (``description``, ``title``, ``default``, ``examples``, ``format``) and unknown
keywords are ignored.

``validate`` returns every error, each with a JSON-path-like location (``$``, ``$.city``,
``$.items[2].name``) and a message meant for a model to act on. Problems with the schema itself
raise: ``TypeError`` for a keyword of the wrong type, ``ValueError`` for an unknown type name,
an unresolvable ``$ref``, an invalid ``pattern`` or a non-finite number. ``check_definition`` finds those problems
in the whole schema at once, before any instance is seen (a tool's or an output schema is
checked when it is defined, so a bad one never fails in the middle of a run).

Validation does bounded work whatever the schema and the instance: ``pattern`` runs on RE2
(linear time; a pattern needing backtracking is refused), comparisons for ``enum``, ``const``
and ``uniqueItems`` stop at ``MAX_DEPTH`` levels of nesting, and one validation visits at most
``MAX_STEPS`` subschemas (``$ref`` and ``anyOf`` can otherwise multiply without end); past a
bound the instance gets an error saying so.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import attrs

from ._json import FrozenDict
from ._regex import LinearPattern, RegexError, compile_linear
from .value import Value

__all__ = ["MAX_DEPTH", "MAX_STEPS", "SchemaError", "SchemaValidationError", "check", "check_definition", "validate"]

MAX_DEPTH = 100
"""How many schema levels one validation may descend (``$ref`` hops and nested instances);
past it an error is reported instead of recursing further."""

MAX_STEPS = 100_000
"""How many subschemas one validation may visit; past it the instance is reported as too
complex to check (so a schema whose ``$ref`` s and ``anyOf`` s multiply cannot run for ever)."""


class _TooDeep(Exception):
    """A value nested past MAX_DEPTH reached a comparison (enum, const, uniqueItems)."""


class _OutOfSteps(Exception):
    """A validation visited MAX_STEPS subschemas."""


_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@attrs.frozen(kw_only=True, repr=False, eq=False)
class SchemaError(Value):
    """One way an instance fails its schema: where (``$``, ``$.city``, ``$.items[2].name``) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SchemaValidationError(ValueError):
    """An instance does not match its schema; ``errors`` holds every problem found."""

    def __init__(self, errors: Sequence[SchemaError]) -> None:
        self.errors: tuple[SchemaError, ...] = tuple(errors)
        count = len(self.errors)
        listed = "; ".join(str(error) for error in self.errors)
        super().__init__(f"{count} schema error{'' if count == 1 else 's'}: {listed}")


def validate(instance: object, schema: Mapping[str, Any]) -> list[SchemaError]:
    """Every way ``instance`` fails ``schema`` (an empty list when it is valid)."""
    if not isinstance(schema, Mapping):
        raise TypeError(f"a JSON schema must be a mapping (a JSON object), not {type(schema).__name__}")
    try:
        found = _Validator(schema).validate(instance, schema, "$", "#", 0)
    except _OutOfSteps:
        found = [_Error("$", f"too complex to check: validation stopped after visiting {MAX_STEPS} subschemas")]
    errors: list[SchemaError] = []
    seen: set[tuple[str, str]] = set()
    for error in found:
        if (error.path, error.message) not in seen:
            seen.add((error.path, error.message))
            errors.append(SchemaError(path=error.path, message=error.message))
    return errors


def check(instance: object, schema: Mapping[str, Any]) -> None:
    """Raise ``SchemaValidationError`` listing every error unless ``instance`` matches ``schema``."""
    errors = validate(instance, schema)
    if errors:
        raise SchemaValidationError(errors)


def check_definition(schema: Mapping[str, Any]) -> None:
    """Check that ``schema`` is a schema ``validate`` can use, everywhere in it (every subschema,
    ``$defs`` included, down to ``MAX_DEPTH`` levels): keyword values of the right types, known
    type names, patterns that compile, local ``$ref`` s that resolve, ``multipleOf`` above 0.
    Raises ``TypeError`` or ``ValueError`` naming the place (``#/properties/when/type``), as
    ``validate`` would on an instance that reaches that place."""
    if not isinstance(schema, Mapping):
        raise TypeError(f"a JSON schema must be a mapping (a JSON object), not {type(schema).__name__}")
    _Definition(schema).check(schema, "#", 0)


_SUBSCHEMA_KEYS = ("additionalProperties", "additionalItems", "contains", "not")
_SCHEMA_MAP_KEYS = ("properties", "patternProperties", "$defs", "definitions")
_SCHEMA_LIST_KEYS = ("prefixItems", "allOf", "anyOf", "oneOf")
_NUMBER_KEYS = ("minimum", "maximum")
_COUNT_KEYS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")


@attrs.frozen(repr=False, eq=False)
class _Error(Value):
    path: str
    message: str
    expected: tuple[str, ...] = ()
    """For a type mismatch: the type names that were allowed (so alternatives can be merged)."""


_KINDS: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    dict: "object",
    FrozenDict: "object",
    list: "array",
    tuple: "array",
}
_NUMERIC_KEYWORDS = frozenset(("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"))


def _kind(value: object) -> str:
    kind = _KINDS.get(type(value))  # the JSON types themselves: one lookup
    if kind is not None:
        return kind
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def _is_type(value: object, kind: str, name: str) -> bool:
    if name == kind:
        return True
    if name == "number":
        return kind == "integer"
    if name == "integer":
        return kind == "number" and math.isfinite(value) and float(value).is_integer()  # type: ignore[arg-type]
    return False


def _render(value: object, budget: list[int]) -> str:
    budget[0] -= 1
    if budget[0] < 0:
        return "..."
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key!r}: {_render(item, budget)}" for key, item in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_render(item, budget) for item in value) + "]"
    return repr(value)


def _show(value: object, limit: int = 80) -> str:
    """A short JSON-like rendering (strings quoted as in Python) for messages."""
    text = _render(value, [20])
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(value: object) -> str:
    kind = _kind(value)
    if kind == "null":
        return "null"
    return f"{kind} {_show(value, 60)}"


def _canonical(value: object, depth: int = 0) -> object:
    """A hashable key equal for equal JSON values (1 == 1.0, but true != 1). Raises _TooDeep
    for a value nested more than MAX_DEPTH levels."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    if depth >= MAX_DEPTH:
        raise _TooDeep
    if isinstance(value, Mapping):
        return ("object", frozenset((key, _canonical(item, depth + 1)) for key, item in value.items()))
    if isinstance(value, list | tuple):
        return ("array", tuple(_canonical(item, depth + 1) for item in value))
    return ("other", type(value).__name__, repr(value))


_TOO_DEEP_TO_COMPARE = f"nested too deeply to compare (more than {MAX_DEPTH} levels)"


def _child(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    name = str(key)
    if _IDENTIFIER.fullmatch(name):
        return f"{path}.{name}"
    return f"{path}[{json.dumps(name, ensure_ascii=False)}]"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _compile(pattern: str) -> LinearPattern:
    return compile_linear(pattern)


class _Validator:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.steps = 0

    # -- keyword values, checked so a malformed schema fails clearly ---------------------------

    @staticmethod
    def _number(schema: Mapping[str, Any], key: str, loc: str) -> float | int | None:
        value = schema.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"schema at {loc}: {key!r} must be a number, not {type(value).__name__}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"schema at {loc}: {key!r} must be a finite number, not {value!r}")
        return value

    @staticmethod
    def _count(schema: Mapping[str, Any], key: str, loc: str) -> int | None:
        value = schema.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise TypeError(f"schema at {loc}: {key!r} must be a non-negative integer, not {_show(value)}")
        return value

    @staticmethod
    def _schemas(schema: Mapping[str, Any], key: str, loc: str) -> Sequence[Any]:
        value = schema[key]
        if not isinstance(value, list | tuple) or not value:
            raise TypeError(f"schema at {loc}: {key!r} must be a non-empty array of schemas")
        return value

    @staticmethod
    def _mapping(schema: Mapping[str, Any], key: str, loc: str) -> Mapping[str, Any]:
        value = schema.get(key, {})
        if not isinstance(value, Mapping):
            raise TypeError(f"schema at {loc}: {key!r} must be an object, not {type(value).__name__}")
        return value

    @staticmethod
    def _types(value: object, loc: str) -> tuple[str, ...]:
        names = (value,) if isinstance(value, str) else value
        if not isinstance(names, list | tuple) or not all(isinstance(name, str) for name in names):
            raise TypeError(f"schema at {loc}: 'type' must be a type name or an array of them, not {_show(value)}")
        for name in names:
            if name not in _TYPES:
                raise ValueError(f"schema at {loc}: unknown type {name!r} (known: {', '.join(_TYPES)})")
        return tuple(names)

    def _resolve(self, ref: object, loc: str) -> tuple[Any, str]:
        if not isinstance(ref, str):
            raise TypeError(f"schema at {loc}: '$ref' must be a string, not {type(ref).__name__}")
        if ref == "#":
            return self.root, "#"
        if not ref.startswith("#/"):
            raise ValueError(f"schema at {loc}: only local references ('#/...') are supported, not {ref!r}")
        target: Any = self.root
        for raw in ref[2:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(target, Mapping) and part in target:
                target = target[part]
            elif isinstance(target, list | tuple) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                raise ValueError(f"schema at {loc}: cannot resolve '$ref' {ref!r}")
        return target, ref

    # -- validation ------------------------------------------------------------------------

    def validate(self, instance: object, schema: object, path: str, loc: str, depth: int) -> list[_Error]:
        if schema is True:
            return []
        if schema is False:
            return [_Error(path, "no value is allowed here")]
        if not isinstance(schema, dict) and not isinstance(schema, Mapping):  # dict first: no ABC check
            raise TypeError(f"schema at {loc} must be an object or a boolean, not {type(schema).__name__}")
        if depth > MAX_DEPTH:
            return [_Error(path, f"nested too deeply: validation stopped after {MAX_DEPTH} levels of schema")]
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _OutOfSteps
        if instance is None and schema.get("nullable") is True:
            return []
        errors: list[_Error] = []
        if "$ref" in schema:
            target, target_loc = self._resolve(schema["$ref"], loc)
            errors += self.validate(instance, target, path, target_loc, depth + 1)
        kind = _kind(instance)
        if "type" in schema:
            names = self._types(schema["type"], f"{loc}/type")
            if not any(_is_type(instance, kind, name) for name in names):
                errors.append(_type_error(path, names, instance))
                return errors
        if "enum" in schema:
            options = schema["enum"]
            if not isinstance(options, list | tuple):
                raise TypeError(f"schema at {loc}: 'enum' must be an array, not {type(options).__name__}")
            try:
                key = _canonical(instance)
                if not any(_canonical(option) == key for option in options):
                    errors.append(_Error(path, f"{_show(instance)} is not one of {_show(list(options), 200)}"))
            except _TooDeep:
                errors.append(_Error(path, _TOO_DEEP_TO_COMPARE))
        if "const" in schema:
            try:
                if _canonical(instance) != _canonical(schema["const"]):
                    errors.append(_Error(path, f"expected {_show(schema['const'])}, got {_show(instance)}"))
            except _TooDeep:
                errors.append(_Error(path, _TOO_DEEP_TO_COMPARE))
        if kind in ("integer", "number"):
            errors += self._numeric(instance, schema, path, loc)  # type: ignore[arg-type]
        elif kind == "string":
            errors += self._string(instance, schema, path, loc)  # type: ignore[arg-type]
        elif kind == "array":
            errors += self._array(instance, schema, path, loc, depth)  # type: ignore[arg-type]
        elif kind == "object":
            errors += self._object(instance, schema, path, loc, depth)  # type: ignore[arg-type]
        errors += self._combinators(instance, schema, path, loc, depth)
        return errors

    def _numeric(self, value: float, schema: Mapping[str, Any], path: str, loc: str) -> list[_Error]:
        errors: list[_Error] = []
        if _NUMERIC_KEYWORDS.isdisjoint(schema):
            return errors
        shown = _show(value)
        minimum = self._number(schema, "minimum", loc)
        maximum = self._number(schema, "maximum", loc)
        exclusive_min = schema.get("exclusiveMinimum")
        exclusive_max = schema.get("exclusiveMaximum")
        # Draft 4 spelled the exclusive bounds as booleans modifying minimum and maximum.
        if exclusive_min is True and minimum is not None:
            exclusive_min, minimum = minimum, None
        if exclusive_max is True and maximum is not None:
            exclusive_max, maximum = maximum, None
        if isinstance(exclusive_min, bool):
            exclusive_min = None
        if isinstance(exclusive_max, bool):
            exclusive_max = None
        exclusive_min = self._number({"exclusiveMinimum": exclusive_min}, "exclusiveMinimum", loc)
        exclusive_max = self._number({"exclusiveMaximum": exclusive_max}, "exclusiveMaximum", loc)
        if minimum is not None and value < minimum:
            errors.append(_Error(path, f"{shown} is less than the minimum of {_show(minimum)}"))
        if maximum is not None and value > maximum:
            errors.append(_Error(path, f"{shown} is greater than the maximum of {_show(maximum)}"))
        if exclusive_min is not None and value <= exclusive_min:
            errors.append(_Error(path, f"{shown} must be greater than {_show(exclusive_min)}"))
        if exclusive_max is not None and value >= exclusive_max:
            errors.append(_Error(path, f"{shown} must be less than {_show(exclusive_max)}"))
        step = self._number(schema, "multipleOf", loc)
        if step is not None:
            if step <= 0:
                raise TypeError(f"schema at {loc}: 'multipleOf' must be greater than 0, not {_show(step)}")
            if not _is_multiple(value, step):
                errors.append(_Error(path, f"{shown} is not a multiple of {_show(step)}"))
        return errors

    def _string(self, value: str, schema: Mapping[str, Any], path: str, loc: str) -> list[_Error]:
        errors: list[_Error] = []
        low = self._count(schema, "minLength", loc)
        high = self._count(schema, "maxLength", loc)
        if low is not None and len(value) < low:
            errors.append(_Error(path, f"expected at least {_plural(low, 'character')}, got {len(value)}"))
        if high is not None and len(value) > high:
            errors.append(_Error(path, f"expected at most {_plural(high, 'character')}, got {len(value)}"))
        pattern = schema.get("pattern")
        if pattern is not None:
            if not isinstance(pattern, str):
                raise TypeError(f"schema at {loc}: 'pattern' must be a string, not {type(pattern).__name__}")
            try:
                compiled = _compile(pattern)
            except RegexError as exc:
                raise ValueError(f"schema at {loc}: invalid 'pattern' {pattern!r}: {exc}") from None
            if compiled.search(value) is None:
                errors.append(_Error(path, f"{_show(value)} does not match the pattern {pattern!r}"))
        return errors

    def _array(self, value: Sequence[Any], schema: Mapping[str, Any], path: str, loc: str, depth: int) -> list[_Error]:
        errors: list[_Error] = []
        low = self._count(schema, "minItems", loc)
        high = self._count(schema, "maxItems", loc)
        if low is not None and len(value) < low:
            errors.append(_Error(path, f"expected at least {_plural(low, 'item')}, got {len(value)}"))
        if high is not None and len(value) > high:
            errors.append(_Error(path, f"expected at most {_plural(high, 'item')}, got {len(value)}"))
        prefix: Sequence[Any] = ()
        prefix_key = "prefixItems"
        rest: object = schema.get("items", True)
        rest_key = "items"
        if "prefixItems" in schema:
            prefix = self._schemas(schema, "prefixItems", loc)
        elif isinstance(rest, list | tuple):  # the older drafts' tuple form of "items"
            prefix, prefix_key = rest, "items"
            rest, rest_key = schema.get("additionalItems", True), "additionalItems"
        for index, item in enumerate(value):
            if index < len(prefix):
                sub, sub_loc = prefix[index], f"{loc}/{prefix_key}/{index}"
            else:
                sub, sub_loc = rest, f"{loc}/{rest_key}"
            if sub is False:
                errors.append(_Error(_child(path, index), f"unexpected item: at most {_plural(len(prefix), 'item')}"))
            elif sub is not True:
                errors += self.validate(item, sub, _child(path, index), sub_loc, depth + 1)
        if schema.get("uniqueItems") is True:
            first: dict[object, int] = {}
            for index, item in enumerate(value):
                try:
                    key = _canonical(item)
                except _TooDeep:
                    errors.append(_Error(_child(path, index), _TOO_DEEP_TO_COMPARE))
                    break
                if key in first:
                    errors.append(_Error(path, f"items {first[key]} and {index} are equal ({_show(item)})"))
                else:
                    first[key] = index
        if "contains" in schema:
            sub = schema["contains"]
            if not any(not self.validate(item, sub, path, f"{loc}/contains", depth + 1) for item in value):
                errors.append(_Error(path, "no item matches the schema under 'contains'"))
        return errors

    def _object(
        self, value: Mapping[Any, Any], schema: Mapping[str, Any], path: str, loc: str, depth: int
    ) -> list[_Error]:
        errors: list[_Error] = []
        properties = self._mapping(schema, "properties", loc)
        patterns = self._mapping(schema, "patternProperties", loc)
        required = schema.get("required", ())
        if not isinstance(required, list | tuple) or not all(isinstance(name, str) for name in required):
            raise TypeError(f"schema at {loc}: 'required' must be an array of property names")
        for name in required:
            if name not in value:
                errors.append(_Error(path, f"missing required property {name!r}"))
        low = self._count(schema, "minProperties", loc)
        high = self._count(schema, "maxProperties", loc)
        if low is not None and len(value) < low:
            errors.append(_Error(path, f"expected at least {_plural(low, 'property')}, got {len(value)}"))
        if high is not None and len(value) > high:
            errors.append(_Error(path, f"expected at most {_plural(high, 'property')}, got {len(value)}"))
        additional = schema.get("additionalProperties", True)
        for name, item in value.items():
            child = _child(path, name)
            matched = False
            if name in properties:
                matched = True
                errors += self.validate(item, properties[name], child, f"{loc}/properties/{name}", depth + 1)
            for pattern, sub in patterns.items():
                try:
                    hit = _compile(pattern).search(str(name)) is not None
                except RegexError as exc:
                    raise ValueError(f"schema at {loc}: invalid patternProperties key {pattern!r}: {exc}") from None
                if hit:
                    matched = True
                    errors += self.validate(item, sub, child, f"{loc}/patternProperties/{pattern}", depth + 1)
            if matched:
                continue
            if additional is False:
                allowed = ", ".join(properties) if properties else "none"
                errors.append(_Error(path, f"unexpected property {str(name)!r} (allowed: {allowed})"))
            elif additional is not True:
                errors += self.validate(item, additional, child, f"{loc}/additionalProperties", depth + 1)
        return errors

    def _combinators(self, value: object, schema: Mapping[str, Any], path: str, loc: str, depth: int) -> list[_Error]:
        errors: list[_Error] = []
        if "allOf" in schema:
            for index, sub in enumerate(self._schemas(schema, "allOf", loc)):
                errors += self.validate(value, sub, path, f"{loc}/allOf/{index}", depth + 1)
        for keyword in ("anyOf", "oneOf"):
            if keyword not in schema:
                continue
            subs = self._schemas(schema, keyword, loc)
            results = []
            for index, sub in enumerate(subs):
                results.append(self.validate(value, sub, path, f"{loc}/{keyword}/{index}", depth + 1))
                if keyword == "anyOf" and not results[-1]:
                    break  # one match settles anyOf
            passed = [index for index, result in enumerate(results) if not result]
            if not passed:
                errors += _no_alternative(results, path, value, keyword)
            elif keyword == "oneOf" and len(passed) > 1:
                which = ", ".join(str(index) for index in passed)
                errors.append(
                    _Error(path, f"{_show(value)} matches {len(passed)} of the oneOf alternatives ({which}), not one")
                )
        if "not" in schema and not self.validate(value, schema["not"], path, f"{loc}/not", depth + 1):
            errors.append(_Error(path, f"{_show(value)} must not match {_show(schema['not'])}"))
        return errors


class _Definition(_Validator):
    """Walks a whole schema checking its keywords, with the validator's own checks."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        super().__init__(root)
        self.referenced: set[str] = set()

    def check(self, schema: object, loc: str, depth: int) -> None:
        if isinstance(schema, bool) or depth > MAX_DEPTH:
            return
        if not isinstance(schema, Mapping):
            raise TypeError(f"schema at {loc} must be an object or a boolean, not {type(schema).__name__}")
        if "$ref" in schema:
            target, target_loc = self._resolve(schema["$ref"], loc)
            if not isinstance(target, Mapping | bool):
                raise TypeError(
                    f"schema at {loc}: '$ref' {schema['$ref']!r} leads to {type(target).__name__}, not a schema"
                )
            if target_loc not in self.referenced:  # a target outside the keywords walked: check it too
                self.referenced.add(target_loc)
                self.check(target, target_loc, depth + 1)
        if "type" in schema:
            self._types(schema["type"], f"{loc}/type")
        if "enum" in schema and not isinstance(schema["enum"], list | tuple):
            raise TypeError(f"schema at {loc}: 'enum' must be an array, not {type(schema['enum']).__name__}")
        for key in _NUMBER_KEYS:
            self._number(schema, key, loc)
        for key in ("exclusiveMinimum", "exclusiveMaximum"):
            if not isinstance(schema.get(key), bool):
                self._number(schema, key, loc)
        step = self._number(schema, "multipleOf", loc)
        if step is not None and step <= 0:
            raise TypeError(f"schema at {loc}: 'multipleOf' must be greater than 0, not {_show(step)}")
        for key in _COUNT_KEYS:
            self._count(schema, key, loc)
        pattern = schema.get("pattern")
        if pattern is not None:
            if not isinstance(pattern, str):
                raise TypeError(f"schema at {loc}: 'pattern' must be a string, not {type(pattern).__name__}")
            try:
                _compile(pattern)
            except RegexError as exc:
                raise ValueError(f"schema at {loc}: invalid 'pattern' {pattern!r}: {exc}") from None
        required = schema.get("required", ())
        if not isinstance(required, list | tuple) or not all(isinstance(name, str) for name in required):
            raise TypeError(f"schema at {loc}: 'required' must be an array of property names")
        for key in _SCHEMA_MAP_KEYS:
            for name, sub in self._mapping(schema, key, loc).items():
                if key == "patternProperties":
                    try:
                        _compile(name)
                    except RegexError as exc:
                        raise ValueError(f"schema at {loc}: invalid patternProperties key {name!r}: {exc}") from None
                self.check(sub, f"{loc}/{key}/{name}", depth + 1)
        for key in _SCHEMA_LIST_KEYS:
            if key in schema:
                for index, sub in enumerate(self._schemas(schema, key, loc)):
                    self.check(sub, f"{loc}/{key}/{index}", depth + 1)
        items = schema.get("items", True)
        if isinstance(items, list | tuple):  # the older drafts' tuple form
            if "prefixItems" in schema:
                raise ValueError(f"schema at {loc}: 'items' must be a schema beside 'prefixItems', not an array")
            for index, sub in enumerate(items):
                self.check(sub, f"{loc}/items/{index}", depth + 1)
        else:
            self.check(items, f"{loc}/items", depth + 1)
        for key in _SUBSCHEMA_KEYS:
            if key in schema:
                self.check(schema[key], f"{loc}/{key}", depth + 1)


def _type_error(path: str, names: Sequence[str], value: object) -> _Error:
    expected = tuple(dict.fromkeys(names))
    return _Error(path, f"expected {' or '.join(expected)}, got {_describe(value)}", expected)


def _no_alternative(results: list[list[_Error]], path: str, value: object, keyword: str) -> list[_Error]:
    """Report an instance matching none of the alternatives as plainly as the failures allow."""
    mismatched = [len(result) == 1 and result[0].path == path and bool(result[0].expected) for result in results]
    if all(mismatched):
        # No alternative accepts this type at all: one message naming the types that would do.
        return [_type_error(path, [name for result in results for name in result[0].expected], value)]
    fitting = [result for result, wrong_type in zip(results, mismatched, strict=True) if not wrong_type]
    if len(fitting) == 1:
        # Only one alternative accepts this type: its errors are the ones that matter.
        return fitting[0]
    details = " | ".join(
        f"({index}) " + "; ".join(str(SchemaError(path=e.path, message=e.message)) for e in result)
        for index, result in enumerate(results)
    )
    return [_Error(path, f"matches none of the {keyword} alternatives: {details}")]


def _is_multiple(value: float, step: float) -> bool:
    if isinstance(value, int) and isinstance(step, int):
        return value % step == 0
    if isinstance(value, float) and not math.isfinite(value):
        return False
    try:
        quotient = value / step
    except OverflowError:  # an integer too large for a float: exact, with the step as written
        return (Fraction(value) / Fraction(repr(step))).denominator == 1
    if not math.isfinite(quotient):
        return False
    return abs(quotient - round(quotient)) <= 1e-9 * max(1.0, abs(quotient))
