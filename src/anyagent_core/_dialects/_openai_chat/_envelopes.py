"""OpenAI's error envelopes, and the variants servers send: each becomes a ``ServerError``.

``error_from_json`` reads one JSON error value: ``{"message", "type", "code", "param"}``, a bare
string, or FastAPI's ``{"detail": ...}``. ``server_error_from_body`` reads the body of an HTTP
error response, whatever it holds: the JSON envelopes of SERVERS.md §6 (nested, flat, string,
Google's array, FastAPI's ``detail``), an SSE body carrying an error event, or plain text and
HTML. Neither raises for what it is given.
"""

from __future__ import annotations

import json
from typing import Any

from anyagent_core._events import ErrorSource, ServerError
from anyagent_core._sse import SSEDecoder

__all__ = ["error_from_json", "server_error_from_body"]


def _str_or_none(value: object) -> str | None:
    if value is None or value == "":
        return None
    return value if type(value) is str else json.dumps(value)


def error_from_json(err: Any, *, status: int | None, source: ErrorSource, body: str) -> ServerError:
    """A ``ServerError`` from any JSON error shape: ``{"message", "type", "code", ...}``, a bare
    string, or FastAPI's ``{"detail": ...}``."""
    if type(err) is dict:
        message = err.get("message")
        if not message or type(message) is not str:
            inner = err.get("error") or err.get("detail") or err.get("msg")
            if type(inner) is str and inner:
                message = inner
            elif inner is not None:
                message = json.dumps(inner, ensure_ascii=False)
            else:
                message = json.dumps(err, ensure_ascii=False)
        code = err.get("code")
        if code is not None and type(code) not in (int, str):
            code = json.dumps(code)
        kind = err.get("type") or err.get("status")
        return ServerError(
            message=message,
            type=_str_or_none(kind),
            code=code,
            param=_str_or_none(err.get("param")),
            status=status,
            source=source,
            body=body,
        )
    text = err if type(err) is str else json.dumps(err, ensure_ascii=False)
    return ServerError(message=text, status=status, source=source, body=body)


def server_error_from_body(status: int, body: bytes, *, cut: bool = False) -> ServerError:
    """A ``ServerError`` for an HTTP error response, whatever its body: the JSON envelopes of
    SERVERS.md §6 (nested, flat, string, Google's array, FastAPI's ``detail``), an SSE body
    carrying an error event, or plain text and HTML."""
    text = body.decode("utf-8", "replace")
    shown = text if not cut else text + " [...]"
    stripped = text.strip().lstrip("\ufeff")
    value: Any = None
    if stripped[:1] in ("{", "["):
        try:
            value = json.loads(stripped)
        except (ValueError, RecursionError):
            value = None
    elif stripped.startswith(("data:", "event:", "error:")):
        decoder = SSEDecoder(max_event_size=len(body) + 64)
        decoder.feed(body)
        decoder.feed(b"\n\n")
        for message in decoder.messages():
            try:
                value = json.loads(message.data)
            except (ValueError, RecursionError):
                continue
            break
    if type(value) is list and value and type(value[0]) is dict:
        value = value[0]
    if type(value) is dict:
        err = value.get("error")
        if type(err) is dict:
            return error_from_json(err, status=status, source="http", body=shown)
        if type(err) is str and err:
            return ServerError(message=err, status=status, source="http", body=shown)
        return error_from_json(value, status=status, source="http", body=shown)
    text_message = stripped[:500] if stripped else f"HTTP {status} with an empty body"
    return ServerError(message=text_message, status=status, source="http", body=shown)
