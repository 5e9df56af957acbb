"""Helpers for the recording tests: a scripted inner transport and exchanges to record."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
import httpx

from anyagent_httpx._recording import Exchange, RecordedRequest, RecordedResponse

URL = "http://127.0.0.1:8020/v1/chat/completions"
SSE = b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\ndata: [DONE]\n\n'


class ChunkStream(httpx.AsyncByteStream):
    """Yields the chosen chunks, then raises ``error`` if one is given; notes whether it was closed."""

    def __init__(self, chunks: Sequence[bytes], error: Exception | None = None) -> None:
        self.chunks = list(chunks)
        self.error = error
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            await anyio.lowlevel.checkpoint()
            yield chunk
        if self.error is not None:
            raise self.error

    async def aclose(self) -> None:
        self.closed = True


def mock(
    chunks: Sequence[bytes] = (SSE,),
    *,
    status: int = 200,
    headers: Sequence[tuple[str, str]] = (("content-type", "text/event-stream"),),
    error: Exception | None = None,
) -> tuple[httpx.MockTransport, list[ChunkStream], list[httpx.Request]]:
    """A MockTransport answering every request with ``chunks``; also the streams it handed out
    and the requests it saw."""
    streams: list[ChunkStream] = []
    requests: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        stream = ChunkStream(chunks, error)
        streams.append(stream)
        return httpx.Response(status, headers=list(headers), stream=stream)

    return httpx.MockTransport(handler), streams, requests


def exchange(
    chunks: Sequence[bytes] = (SSE,),
    *,
    method: str = "POST",
    url: str = URL,
    body: bytes = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}',
    request_headers: Sequence[tuple[str, str]] = (("content-type", "application/json"),),
    status: int = 200,
    headers: Sequence[tuple[str, str]] = (("content-type", "text/event-stream"),),
) -> Exchange:
    return Exchange(
        RecordedRequest(method, url, request_headers, body),
        RecordedResponse(status, headers, tuple(chunks), tuple(0.001 * i for i in range(len(chunks)))),
    )


async def raw_and_decoded(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> tuple[list[bytes], bytes]:
    """The response's raw chunks (as ``aiter_raw`` yields them), and the body decoded by httpx."""
    async with client.stream(method, url, **kwargs) as response:
        raw = [chunk async for chunk in response.aiter_raw()]
    decoder_response = httpx.Response(response.status_code, headers=response.headers, content=b"".join(raw))
    return raw, decoder_response.content
