"""Immutable JSON values: what messages, schemas and settings hold (``freeze_json``), and a
plain copy back (``thaw_json``), and a strict reader for text a model wrote (``loads_finite``)."""

from __future__ import annotations

from ._json import (
    MAX_JSON_DEPTH,
    FrozenDict,
    FrozenJSON,
    JSONObject,
    freeze_json,
    freeze_object,
    loads_finite,
    thaw_json,
)

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
