"""Strict JSON, as a cassette holds it: no NaN or Infinity, no number that overflows a float.

The file format, redaction (which rewrites JSON bodies) and replay's body matching all read and
write JSON through these few functions, so they agree on what a JSON body is."""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["NOT_JSON", "Json", "encode_json", "json_body", "loads"]

Json = Any  # a value json.loads returns

#: What ``json_body`` returns for a body that is not JSON.
NOT_JSON: Any = object()


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: Python reads it as inf, which JSON cannot write back
        raise ValueError(f"{text} is out of range")
    return value


def loads(text: str) -> Json:
    """Strict JSON: no NaN or Infinity, no number that overflows a float."""
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)


def json_body(body: bytes) -> Json:
    """The body's JSON value, or ``NOT_JSON``."""
    try:
        return loads(body.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return NOT_JSON


def encode_json(value: Json, *, sort_keys: bool = False) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys, allow_nan=False)
