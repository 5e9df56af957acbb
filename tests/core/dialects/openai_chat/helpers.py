"""Chat-completions bodies for tests: chunks, SSE framing of them, a whole completion."""

from __future__ import annotations

import json
from typing import Any

from anyagent_core import (
    Event,
    MessageComplete,
)


def sse(*chunks: Any, done: bool = True) -> bytes:
    body = b"".join(b"data: " + (c if isinstance(c, bytes) else json.dumps(c).encode()) + b"\n\n" for c in chunks)
    return body + (b"data: [DONE]\n\n" if done else b"")


def delta(d: dict[str, Any], finish: str | None = None, index: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "model": "m1",
        "choices": [{"index": index, "delta": d, "finish_reason": finish}],
        **extra,
    }


def final(events: list[Event]) -> MessageComplete:
    last = events[-1]
    assert type(last) is MessageComplete
    return last


def only(events: list[Event], kind: type[Any]) -> list[Any]:
    return [e for e in events if type(e) is kind]


COMPLETION = {
    "id": "chatcmpl-9",
    "object": "chat.completion",
    "model": "qwen",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Let me check.",
                "reasoning_content": "User wants weather.",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                    },
                    {
                        "id": "c2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                    },
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
}
