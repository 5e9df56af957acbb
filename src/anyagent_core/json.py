"""Immutable JSON values: what messages, schemas and settings hold (``freeze_json``), and a
plain copy back (``thaw_json``)."""

from __future__ import annotations

from ._json import FrozenDict, FrozenJSON, JSONObject, freeze_json, freeze_object, thaw_json

__all__ = ["FrozenDict", "FrozenJSON", "JSONObject", "freeze_json", "freeze_object", "thaw_json"]
