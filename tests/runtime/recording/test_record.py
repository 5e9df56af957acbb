"""RecordingTransport: the raw chunks, timings and request of each exchange."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import aclosing

import httpx
import pytest

from anyagent_httpx._recording import Cassette, RecordingTransport
from tests.runtime.recording.support import URL, mock, raw_and_decoded

pytestmark = pytest.mark.anyio


async def test_records_the_raw_chunks_timings_and_request() -> None:
    chunks = [b"data: {", b'"a":1}\n', b"\n", b"data: [DONE]\n\n"]
    transport, streams, _ = mock(chunks)
    recorder = RecordingTransport(transport)
    async with httpx.AsyncClient(transport=recorder) as client:
        raw, _ = await raw_and_decoded(client, "POST", URL, json={"model": "m"}, headers={"X-Trace": "1"})
        response = await client.get("http://127.0.0.1:8020/v1/models")
        assert response.content == b"".join(chunks)
    assert raw == chunks
    first, second = recorder.exchanges
    assert first.request.method == "POST"
    assert first.request.url == URL
    assert ("X-Trace", "<redacted>") in first.request.headers  # not known to be safe
    assert json.loads(first.request.body) == {"model": "m"}
    assert first.response.status == 200
    assert first.response.chunks == tuple(chunks)
    assert len(first.response.timings) == len(chunks)
    assert list(first.response.timings) == sorted(first.response.timings)
    assert second.request.method == "GET"
    assert second.request.body == b""
    assert recorder.cassette() == Cassette([first, second])
    assert all(stream.closed for stream in streams)


async def test_a_stream_closed_early_records_what_arrived() -> None:
    chunks = [b"one", b"two", b"three"]
    transport, streams, _ = mock(chunks)
    recorder = RecordingTransport(transport)
    # Straight to the transport: httpx's client wraps the stream in a generator of its own, which
    # trio reports when a response is abandoned half-read.
    response = await recorder.handle_async_request(httpx.Request("POST", URL, content=b"x"))
    raw = response.aiter_raw()
    assert isinstance(raw, AsyncGenerator)
    async with aclosing(raw):
        assert await anext(raw) == b"one"
    assert not recorder.exchanges  # recorded when the response is closed
    await response.aclose()
    (recorded,) = recorder.exchanges
    assert recorded.response.chunks == (b"one",)
    assert len(recorded.response.timings) == 1
    assert recorded.request.body == b"x"
    assert streams[0].closed
    await response.aclose()
    assert len(recorder.exchanges) == 1


async def read_raw(client: httpx.AsyncClient, received: list[bytes]) -> None:
    async with client.stream("POST", URL, content=b"x") as response:
        async for chunk in response.aiter_raw():
            received.append(chunk)


async def test_a_stream_cut_by_an_error_records_what_arrived_and_reraises() -> None:
    transport, streams, _ = mock([b"one", b"two"], error=httpx.ReadError("connection reset"))
    recorder = RecordingTransport(transport)
    received: list[bytes] = []
    async with httpx.AsyncClient(transport=recorder) as client:
        with pytest.raises(httpx.ReadError, match="connection reset"):
            await read_raw(client, received)
    assert received == [b"one", b"two"]
    (recorded,) = recorder.exchanges
    assert recorded.response.chunks == (b"one", b"two")
    assert streams[0].closed


async def test_a_request_that_gets_no_response_is_not_recorded() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    recorder = RecordingTransport(httpx.MockTransport(handler))
    async with httpx.AsyncClient(transport=recorder) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post(URL, json={})
    assert recorder.exchanges == ()


class ClosingTracker(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise NotImplementedError

    async def aclose(self) -> None:
        self.closed = True


async def test_an_inner_transport_passed_in_is_not_closed() -> None:
    inner = ClosingTracker()
    async with RecordingTransport(inner):
        pass
    assert not inner.closed
    owned = RecordingTransport()
    await owned.aclose()
    with pytest.raises(TypeError, match="single string"):
        RecordingTransport(inner, secrets="one-string")
