"""Immutable JSON values for frozen classes: objects become read-only dicts, arrays tuples."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, NoReturn, TypeAlias, final

__all__ = [
    "MAX_JSON_DEPTH",
    "FrozenDict",
    "FrozenJSON",
    "JSONObject",
    "freeze_json",
    "freeze_object",
    "loads_finite",
    "thaw_json",
]

MAX_JSON_DEPTH = 256
"""How deeply ``loads_finite`` lets arrays and objects nest: past it a value is refused, so that
nothing downstream (freezing, validating, writing it back) can run out of stack."""

FrozenJSON: TypeAlias = Any
"""A JSON value whose objects are ``FrozenDict``s and whose arrays are tuples."""

JSONObject: TypeAlias = Mapping[str, Any]


@final
class FrozenDict(dict[str, Any]):
    """A read-only dict: a JSON object inside a frozen value. Built by ``freeze_json``, which
    freezes its contents too. Being a dict, it serialises with ``json.dumps`` as it is."""

    __slots__ = ()

    def _read_only(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("a frozen JSON object cannot be changed (thaw_json gives a mutable copy)")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _read_only

    def __reduce__(self) -> tuple[type[FrozenDict], tuple[dict[str, Any]]]:
        return (FrozenDict, (dict(self),))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> FrozenDict:
        return self


_dict_set: Final = dict.__setitem__


def freeze_json(value: object) -> FrozenJSON:
    """A deeply immutable copy of a JSON value (already frozen objects are returned as they are).

    Raises ``TypeError`` naming the offending type for anything JSON cannot represent.
    """
    kind = type(value)
    if kind is dict:
        # Parsed JSON's objects: the values that are not scalars replaced in a plain copy, made
        # on the first of them, then one FrozenDict of it (dict's own item assignment, where
        # FrozenDict's is read-only, would be a slot wrapper's call per value).
        plain: dict[str, Any] | None = None
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                raise TypeError(f"JSON object keys must be str, not {type(key).__name__}")
            item_kind = type(item)
            if item_kind is dict:
                # A nested object of scalars (usage's *_tokens_details) frozen here, without a
                # call; anything else in it by freeze_json.
                inner = FrozenDict(item)
                for inner_key, inner_item in item.items():
                    inner_kind = type(inner_item)
                    if type(inner_key) is not str or not (
                        inner_kind is str
                        or inner_kind is int
                        or inner_kind is float
                        or inner_kind is bool
                        or inner_item is None
                    ):
                        inner = freeze_json(item)
                        break
                if plain is None:
                    plain = dict(value)  # type: ignore[call-overload]
                plain[key] = inner
            elif not (item_kind is str or item_kind is int or item_kind is float or item_kind is bool or item is None):
                if plain is None:
                    plain = dict(value)  # type: ignore[call-overload]
                plain[key] = freeze_json(item)
        return FrozenDict(value if plain is None else plain)  # type: ignore[call-overload]
    if kind is str or kind is int or kind is float or kind is bool or value is None or kind is FrozenDict:
        return value
    if isinstance(value, Mapping):
        frozen: dict[str, FrozenJSON] = {}
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"JSON object keys must be str, not {type(key).__name__}")
            item_kind = type(item)
            # Scalars inline: most values in parsed JSON need no call at all.
            if item_kind is str or item_kind is int or item_kind is float or item_kind is bool or item is None:
                frozen[key] = item
            else:
                frozen[key] = freeze_json(item)
        return FrozenDict(frozen)
    if kind is list or kind is tuple:
        return tuple([freeze_json(item) for item in value])  # type: ignore[attr-defined]
    if isinstance(value, str | int | float):  # subclasses: str enums, IntEnum
        return value
    raise TypeError(f"{kind.__name__} is not a JSON value")


def freeze_object(value: Mapping[str, Any]) -> JSONObject:
    """Like ``freeze_json`` but the value must be a JSON object."""
    kind = type(value)
    if kind is FrozenDict:
        return value
    if kind is not dict and not isinstance(value, Mapping):  # a plain dict skips the ABC check
        raise TypeError(f"expected a JSON object (a mapping), not {type(value).__name__}")
    frozen: JSONObject = freeze_json(value)
    return frozen


def thaw_json(value: FrozenJSON) -> Any:
    """The inverse of ``freeze_json``: plain, mutable dicts and lists."""
    if isinstance(value, Mapping):
        return {key: thaw_json(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [thaw_json(item) for item in value]
    return value


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]}{'...' if len(text) > 40 else ''} is too large to represent")
    return value


_STRICT_DECODER: Final = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float)
# Its C scanner (the stubs do not declare it): scan_once(text, index) -> (value, end).
_strict_scan: Final[Callable[[str, int], tuple[Any, int]]] = _STRICT_DECODER.scan_once  # type: ignore[attr-defined]


def loads_finite(text: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` for text a model or a server wrote: ``NaN``/``Infinity`` and numbers that
    overflow a float (``1e999``) are refused, as is nesting deeper than ``max_depth``. Every
    refusal is a ``ValueError`` saying what is wrong (never ``RecursionError``), so a caller
    needs one ``except``; the value, once returned, can be written back as strict JSON."""
    try:
        if type(text) is str and text[:1] != "\ufeff":
            # json.loads with these hooks, minus making a decoder and its whitespace matching:
            # the C scanner directly, and the decoder (for its exact error) when it refuses.
            try:
                value, end = _strict_scan(text, 0)
            except (ValueError, StopIteration):
                value = _STRICT_DECODER.decode(text)
            else:
                if end != len(text) and text[end:].strip(" \t\n\r"):
                    value = _STRICT_DECODER.decode(text)  # raises its "Extra data"
        else:
            value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError(f"the JSON nests arrays and objects too deeply (more than {max_depth} levels)") from None
    if (type(value) is dict or type(value) is list) and len(text) > max_depth:
        # Each level opens with a bracket of its own, so a text no longer than max_depth
        # cannot nest deeper: only a longer one is walked.
        _check_depth(value, max_depth)
    return value


def _check_depth(value: object, max_depth: int) -> None:
    """Raise ValueError if ``value``'s arrays and objects nest deeper than ``max_depth`` (walked
    without recursion, visiting only containers)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise ValueError(f"the JSON nests arrays and objects too deeply (more than {max_depth} levels)")
        children: Iterable[object] = item.values() if isinstance(item, dict) else item  # type: ignore[assignment]
        for child in children:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
