"""Structured output: how an output schema reaches the model, and whether an answer matches it.

``response_format_for`` and ``schema_prompt`` say how the schema is sent (``LoopSettings.output_mode``,
or in the prompt once the server refused ``response_format``), ``rejects_response_format``
recognises that refusal, and ``parse_structured_output`` reads an answer against the schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from anyagent_core._json import JSONObject, freeze_object, loads_finite, thaw_json

from ._settings import OutputMode

__all__ = ["parse_structured_output", "rejects_response_format", "response_format_for", "schema_prompt"]


def parse_structured_output(text: str, schema: Mapping[str, Any]) -> tuple[Any, str | None]:
    """The answer's JSON value and None, or None and what is wrong with it. A surrounding
    Markdown fence (````` ```json `````) is tolerated."""
    body = text.strip()
    if body.startswith("```"):
        first_newline = body.find("\n")
        if first_newline != -1 and body.endswith("```"):
            body = body[first_newline + 1 : -3].strip()
    if not body:
        return None, "the answer is empty; a JSON value was expected"
    try:
        value = loads_finite(body)
    except ValueError as exc:
        return None, f"the answer is not valid JSON ({exc})"
    from anyagent_core._schema import validate  # only for runs with an output schema

    errors = validate(value, schema)
    if errors:
        return None, "; ".join(f"{error.path}: {error.message}" for error in errors)
    return value, None


def schema_prompt(schema: JSONObject) -> str:
    """The instruction that carries the schema in the system prompt."""
    text = json.dumps(thaw_json(schema), ensure_ascii=False, separators=(",", ":"))
    return f"Answer with only a JSON value (no prose, no code fence) that matches this JSON schema:\n{text}"


def response_format_for(schema: JSONObject, mode: OutputMode) -> JSONObject | None:
    """The request's ``response_format`` for ``schema`` in ``mode`` (None: ``prompt`` mode)."""
    if mode == "json_schema":
        return freeze_object({"type": "json_schema", "json_schema": {"name": "output", "schema": thaw_json(schema)}})
    if mode == "json_object":
        return freeze_object({"type": "json_object", "schema": thaw_json(schema)})
    return None


def rejects_response_format(status: int | None, texts: Iterable[object]) -> bool:
    """An error answer, whatever its status, whose message names ``response_format`` (or
    ``json_schema``): llama-cpp-python's server answers a ``json_schema`` it cannot take with
    HTTP 500, others with 400 or 422."""
    if status is None or status < 400:
        return False
    said = " ".join(str(text) for text in texts if text is not None).lower()
    return "response_format" in said or "json_schema" in said or "response format" in said
