"""Fuzz targets: each takes any bytes and either returns or raises ``AssertionError`` (a broken
property). Every other exception escaping a target is a bug: the pieces under test take text a
model or a server wrote, and must answer anything with values or their own typed errors.

The targets are run three ways: by the hypothesis tests beside this file (bounded examples, in
the ordinary suite), by ``python -m tests.fuzz.run`` for a bounded time (``nox -s fuzz``; with
atheris's coverage-guided engine when it is installed, otherwise a mutation loop over the seed
corpus in ``tests/fuzz/corpus/<target>/``), and on the corpus itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from anyagent_core import (
    NEED_DATA,
    PAUSED,
    Connection,
    Endpoint,
    Event,
    RemoteProtocolError,
    StartTurn,
    ToolCall,
    ToolCallTextFilter,
    UserMessage,
    parse_tool_calls,
)
from anyagent_core.json import loads_finite, thaw_json
from anyagent_core.schema import SchemaError, check_definition, validate
from anyagent_core.think import ThinkTagFilter, split_think

__all__ = ["TARGETS", "connection", "emulation", "schema", "think"]

_ENDPOINT = Endpoint(base_url="http://127.0.0.1:9/v1")
_HEADS = (
    (200, "text/event-stream"),
    (200, "application/json"),
    (200, "text/plain"),
    (200, "text/html"),
    (400, "application/json"),
    (429, "text/event-stream"),
    (500, "text/plain"),
    (200, ""),
)


def _pieces(data: bytes, cuts: int) -> Iterator[bytes]:
    """``data`` cut into pieces at offsets chosen by its own first byte (so the same input is
    always cut the same way, and the fuzzer can vary both)."""
    if not data:
        return
    step = max(1, len(data) // (1 + cuts % 7))
    for start in range(0, len(data), step):
        yield data[start : start + step]


def _strict(value: Any) -> None:
    """``value`` is JSON that can be written back strictly (no NaN, no infinity)."""
    json.dumps(thaw_json(value), allow_nan=False)


def connection(data: bytes) -> None:
    """A response's head (chosen by the first byte) and body fed through a ``Connection``:
    events or ``RemoteProtocolError``, the connection ending paused, and every tool call's
    input strict JSON that the next request can carry."""
    if not data:
        return
    selector, body = data[0], data[1:]
    status, content_type = _HEADS[selector % len(_HEADS)]
    conn = Connection(_ENDPOINT)
    conn.send(StartTurn(model="m", messages=[UserMessage(content="hi")], n=2 if selector & 0x80 else None))
    conn.receive_head(status, [("Content-Type", content_type)] if content_type else [])
    events: list[Event] = []
    try:
        for piece in [*_pieces(body, selector >> 3), b""]:
            conn.receive_data(piece)
            while True:
                event = conn.next_event()
                if event is NEED_DATA or event is PAUSED:
                    break
                events.append(event)
        assert conn.next_event() is PAUSED, "the connection did not end paused after EOF"
    except RemoteProtocolError:
        return
    for event in events:
        if type(event) is ToolCall and event.input is not None:
            _strict(event.input)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def emulation(data: bytes) -> None:
    """Text parsed for tool calls written as text, whole and streamed in pieces: the same calls
    both ways, each with an input (strict JSON) or an error, never both."""
    text = _text(data)
    whole = parse_tool_calls(text)
    for call in whole.calls:
        assert (call.input is None) != (call.error is None), "a call has both or neither of input and error"
        if call.input is not None:
            _strict(call.input)
    stream = ToolCallTextFilter()
    shown = "".join(stream.feed(piece) for piece in _split(text, data[:1])) + stream.finish()
    assert [c.name for c in stream.calls] == [c.name for c in whole.calls], "streamed calls differ from whole"
    assert shown == whole.text, "streamed text differs from the whole text's"


def _split(text: str, seed: bytes) -> list[str]:
    size = 1 + (seed[0] % 13 if seed else 5)
    return [text[i : i + size] for i in range(0, len(text), size)]


def think(data: bytes) -> None:
    """A ``<think>`` filter fed in pieces says exactly what ``split_think`` says of the whole."""
    text = _text(data)
    expected = split_think(text)
    stream = ThinkTagFilter()
    reasoning: list[str] = []
    shown: list[str] = []
    for piece in _split(text, data[:1]):
        r, t = stream.feed(piece)
        reasoning.append(r)
        shown.append(t)
    r, t = stream.finish()
    reasoning.append(r)
    shown.append(t)
    assert "".join(reasoning) == (expected.reasoning or ""), "streamed reasoning differs from split_think"
    assert "".join(shown) == expected.text, "streamed text differs from split_think"


def schema(data: bytes) -> None:
    """JSON ``[schema, instance]`` (or any JSON, as the schema of itself): a schema that
    ``check_definition`` accepts is one ``validate`` finishes on, returning errors, never raising."""
    try:
        value = loads_finite(_text(data))
    except ValueError:
        return
    if isinstance(value, list) and len(value) == 2:
        subject, instance = value
    else:
        subject, instance = value, value
    if not isinstance(subject, dict):
        return
    try:
        check_definition(subject)
    except (TypeError, ValueError):
        return
    errors = validate(instance, subject)
    assert all(type(error) is SchemaError for error in errors)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "connection": connection,
    "emulation": emulation,
    "think": think,
    "schema": schema,
}
