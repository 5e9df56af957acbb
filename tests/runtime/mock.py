"""Scripted responses for testing the layers above the transport (driver, client, recorder)
through ``httpx.MockTransport``; the transports themselves are tested against a real server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import anyio
import httpx

from anyagent_httpx import AgentOptions, RetryPolicy

FAST_RETRY = RetryPolicy(initial_delay=0.001, max_delay=0.002, max_retry_after=1.0)


def chunk(content: str | None = None, *, finish: str | None = None, **delta: Any) -> bytes:
    """One SSE chat chunk."""
    d: dict[str, Any] = dict(delta)
    if content is not None:
        d["content"] = content
    obj = {"id": "chatcmpl-1", "model": "m", "choices": [{"index": 0, "delta": d, "finish_reason": finish}]}
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"


def text_stream(*pieces: str) -> list[bytes]:
    """A complete streamed text answer, one chunk per piece."""
    chunks = [chunk(p) for p in pieces]
    chunks.append(chunk(finish="stop"))
    chunks.append(DONE)
    return chunks


def tool_stream(call_id: str, name: str, arguments: Sequence[str]) -> list[bytes]:
    """A streamed tool call whose arguments arrive in ``arguments`` fragments."""
    chunks = [chunk(tool_calls=[{"index": 0, "id": call_id, "type": "function", "function": {"name": name}}])]
    chunks += [chunk(tool_calls=[{"index": 0, "function": {"arguments": a}}]) for a in arguments]
    chunks += [chunk(finish="tool_calls"), DONE]
    return chunks


class Chunks(httpx.AsyncByteStream):
    """A response body served as these chunks; ``fail_after`` raises a read error after that many."""

    def __init__(self, chunks: Sequence[bytes], *, fail_after: int | None = None, delay: float = 0.0) -> None:
        self.chunks = list(chunks)
        self.fail_after = fail_after
        self.delay = delay

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for number, data in enumerate(self.chunks):
            if self.fail_after is not None and number >= self.fail_after:
                raise httpx.ReadError("connection reset by peer")
            if self.delay:
                await anyio.sleep(self.delay)
            yield data
        if self.fail_after is not None and self.fail_after >= len(self.chunks):
            raise httpx.ReadError("connection reset by peer")


def sse(chunks: Sequence[bytes], *, status: int = 200, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, headers={"content-type": "text/event-stream"}, stream=Chunks(chunks, **kwargs))


def error(status: int, message: str, *, headers: dict[str, str] | None = None, code: Any = None) -> httpx.Response:
    body = {"error": {"message": message, "type": "error", "code": code}}
    return httpx.Response(status, headers=headers or {}, json=body)


class Script:
    """Serves responses in order (the last one repeats) and keeps the requests it saw."""

    def __init__(self, *responses: httpx.Response | Callable[[], httpx.Response] | BaseException) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(json.loads(request.content))
        index = min(len(self.requests), len(self.responses)) - 1
        item = self.responses[index]
        if isinstance(item, BaseException):
            raise item
        return item() if callable(item) else item

    def options(self, **kwargs: Any) -> AgentOptions:
        kwargs.setdefault("model", "m")
        kwargs.setdefault("base_url", "http://testserver/v1")
        kwargs.setdefault("retry", FAST_RETRY)
        return AgentOptions(http_client=httpx.AsyncClient(transport=httpx.MockTransport(self)), **kwargs)
