"""The shared conformance corpus, fed whole, one byte at a time and in random reads."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import (
    Event,
    MessageComplete,
    ServerError,
    StreamDone,
    ThinkingBlock,
    ToolCall,
    Truncated,
    thaw_json,
)
from tests.helpers import STREAMS, corpus_cases, load_case, require_corpus, run_response, split_at

CASES: list[Any] = corpus_cases() or [
    pytest.param("absent", marks=pytest.mark.skip(reason=f"the shared conformance corpus is not at {STREAMS}"))
]


def summarize(events: list[Event]) -> dict[str, Any]:
    """The corpus sidecar's ``expect`` fields, from a response's events."""
    final = events[-1]
    assert type(final) is MessageComplete
    assert sum(type(e) is MessageComplete for e in events) == 1
    message = final.message
    calls = [e for e in events if type(e) is ToolCall and e.choice == 0]
    error = final.error
    return {
        "content": message.text,
        "reasoning": "".join(b.thinking for b in message.content if type(b) is ThinkingBlock),
        "refusal": message.refusal,
        "tool_calls": [
            {
                "index": c.index,
                "id": None if c.id_synthesized else c.id,
                "type": c.type,
                "name": c.name,
                "arguments": c.arguments,
                "arguments_valid_json": c.error is None,
            }
            for c in calls
        ],
        "finish_reason": message.stop_reason,
        "usage": None if message.usage is None else thaw_json(message.usage.raw),
        "done_received": final.done_received,
        "truncated": final.truncated,
        "error": None
        if error is None
        else {"message": error.message, "type": error.type, "code": error.code, "source": error.source},
    }


def check(name: str, reads: list[bytes]) -> list[Event]:
    body, sidecar = load_case(name)
    assert b"".join(reads) == body
    events = run_response(reads, status=sidecar["http_status"], content_type=sidecar["content_type"])
    expect = sidecar["expect"]
    got = summarize(events)
    assert got == {key: expect[key] for key in got}
    # The events agree with the final message.
    assert (StreamDone() in events) == expect["done_received"]
    assert any(type(e) is Truncated for e in events) == expect["truncated"]
    assert any(type(e) is ServerError for e in events) == (expect["error"] is not None)
    return events


@pytest.fixture(autouse=True)
def _corpus() -> None:
    require_corpus()


def test_corpus_present() -> None:
    assert len(corpus_cases()) >= 25


@pytest.mark.parametrize("name", CASES)
def test_whole(name: str) -> None:
    body, _ = load_case(name)
    check(name, [body])


@pytest.mark.parametrize("name", CASES)
def test_byte_by_byte_gives_identical_events(name: str) -> None:
    body, _ = load_case(name)
    whole = check(name, [body])
    assert check(name, [body[i : i + 1] for i in range(len(body))]) == whole


@pytest.mark.parametrize("name", CASES)
@given(data=st.data())
def test_random_reads_give_identical_events(name: str, data: st.DataObject) -> None:
    body, sidecar = load_case(name)
    points = data.draw(st.lists(st.integers(1, max(1, len(body) - 1)), max_size=60), label="cuts")
    whole = run_response([body], status=sidecar["http_status"], content_type=sidecar["content_type"])
    assert check(name, split_at(body, points)) == whole


@pytest.mark.parametrize("name", CASES)
@given(size=st.integers(1, 64))
def test_fixed_size_reads(name: str, size: int) -> None:
    body, _ = load_case(name)
    check(name, [body[i : i + size] for i in range(0, len(body), size)])
