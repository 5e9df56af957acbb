"""Immutable JSON values for frozen classes: mappings become read-only, lists become tuples."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeAlias

__all__ = ["FrozenJSON", "JSONObject", "freeze_json", "freeze_object", "thaw_json"]

FrozenJSON: TypeAlias = Any
"""A JSON value whose objects are read-only mappings and whose arrays are tuples."""

JSONObject: TypeAlias = Mapping[str, Any]


def freeze_json(value: object) -> FrozenJSON:
    """Return a deeply immutable copy of a JSON value.

    Raises ``TypeError`` naming the offending type for anything JSON cannot represent.
    """
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Mapping):
        frozen: dict[str, FrozenJSON] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be str, not {type(key).__name__}")
            frozen[key] = freeze_json(item)
        return MappingProxyType(frozen)
    if isinstance(value, list | tuple):
        return tuple(freeze_json(item) for item in value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def freeze_object(value: Mapping[str, Any]) -> JSONObject:
    """Like ``freeze_json`` but the value must be a JSON object."""
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a JSON object (a mapping), not {type(value).__name__}")
    frozen: JSONObject = freeze_json(value)
    return frozen


def thaw_json(value: FrozenJSON) -> Any:
    """The inverse of ``freeze_json``: plain dicts and lists, ready for ``json.dumps``."""
    if isinstance(value, Mapping):
        return {key: thaw_json(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [thaw_json(item) for item in value]
    return value
