"""Shared test helpers: feeding a Connection, normalising events, the shared corpus."""

from __future__ import annotations

import itertools
import json
import pathlib
from collections.abc import Iterable, Sequence
from typing import Any

import pytest

from anyagent_core import (
    NEED_DATA,
    PAUSED,
    Config,
    Connection,
    Endpoint,
    Event,
    ReasoningDelta,
    RefusalDelta,
    StartTurn,
    TextDelta,
    ToolCallDelta,
    UserMessage,
)

SHARED = pathlib.Path(__file__).resolve().parents[1].parent / "shared"
STREAMS = SHARED / "streams"

ENDPOINT = Endpoint(base_url="http://127.0.0.1:9/v1")


def corpus_cases() -> list[str]:
    """Names of the shared conformance cases, or [] when ../shared is absent."""
    if not STREAMS.is_dir():
        return []
    return sorted(p.name.removesuffix(".expected.json") for p in STREAMS.glob("*.expected.json"))


def require_corpus() -> None:
    if not STREAMS.is_dir():
        pytest.skip(f"the shared conformance corpus is not at {STREAMS} (it sits beside the project in CI)")


def load_case(name: str) -> tuple[bytes, dict[str, Any]]:
    body = (STREAMS / f"{name}.sse").read_bytes()
    expected = json.loads((STREAMS / f"{name}.expected.json").read_text(encoding="utf-8"))
    return body, expected


def started_connection(*, n: int | None = None, config: Config | None = None) -> Connection:
    """A connection (with ``config``, if given) that has sent a request and waits for the
    response head."""
    conn = Connection(ENDPOINT) if config is None else Connection(ENDPOINT, config=config)
    conn.send(StartTurn(model="m", messages=[UserMessage(content="hi")], n=n))
    return conn


def get_all_events(conn: Connection) -> list[Event]:
    """Drain every event the buffered bytes produce, stopping at NEED_DATA or PAUSED."""
    events: list[Event] = []
    while True:
        event = conn.next_event()
        if event is NEED_DATA or event is PAUSED:
            return events
        events.append(event)


def run_response(
    reads: Iterable[bytes | bytearray | memoryview],
    *,
    status: int = 200,
    content_type: str = "text/event-stream",
    n: int | None = None,
) -> list[Event]:
    """Feed a whole response through a fresh connection, read by read, then EOF."""
    conn = started_connection(n=n)
    conn.receive_head(status, [("Content-Type", content_type)])
    events: list[Event] = []
    for data in reads:
        if data:
            conn.receive_data(data)
            events.extend(get_all_events(conn))
    conn.receive_data(b"")
    events.extend(get_all_events(conn))
    assert conn.next_event() is PAUSED
    return events


def split_at(data: bytes, points: Sequence[int]) -> list[bytes]:
    """``data`` cut at the given offsets (any order, duplicates and out-of-range ignored)."""
    cuts = sorted({p for p in points if 0 < p < len(data)})
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def merge_deltas(events: Sequence[Event]) -> list[Event]:
    """Merge adjacent deltas of the same kind and target (like h11's normalize_data_events)."""
    merged: list[Event] = []
    for event in events:
        last = merged[-1] if merged else None
        if (
            type(event) in (TextDelta, ReasoningDelta, RefusalDelta)
            and type(last) is type(event)
            and last.choice == event.choice  # type: ignore[union-attr]
        ):
            merged[-1] = type(event)(text=last.text + event.text, choice=event.choice)  # type: ignore[union-attr,call-arg]
        elif (
            type(event) is ToolCallDelta
            and type(last) is ToolCallDelta
            and (last.choice, last.index) == (event.choice, event.index)
        ):
            merged[-1] = ToolCallDelta(
                index=event.index,
                id=event.id,
                name=event.name,
                arguments=last.arguments + event.arguments,
                choice=event.choice,
            )
        else:
            merged.append(event)
    return merged
