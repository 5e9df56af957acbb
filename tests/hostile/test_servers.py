"""Hostile servers against query(), under both transports and both backends: every scenario ends
in the answer or a typed error naming the limit that fired, within a bound on the work done
(bytes the server got to send, characters the answer held) and on the memory the run took at
its peak (Python's allocations, traced), and never hangs (each run has a guard far above the
limits under test, so load cannot trip it)."""

from __future__ import annotations

import tracemalloc
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest

from anyagent_httpx import (
    AgentOptions,
    APIConnectionError,
    AssistantMessage,
    ContentDecodingError,
    FallbackEndpoint,
    H11Transport,
    MalformedResponseError,
    ResponseTimeoutError,
    ResponseTooLargeError,
    ResultMessage,
    RetryPolicy,
    RunMessage,
    StreamInterruptedError,
    SystemMessage,
    TextBlock,
    UnsupportedEncodingError,
    query,
)
from anyagent_httpx._attempt import DRAIN_BYTES

from .server import ANSWER, DONE, SSE_HEAD, Peer, Scenario, Server, chunk, hostile

pytestmark = pytest.mark.anyio

NO_RETRY = RetryPolicy(max_retries=0)


@pytest.fixture(params=["httpx", "h11", "pool"])
def kind(request: pytest.FixtureRequest) -> str:
    """``httpx``: a user's ``httpx.AsyncClient`` (through ``send()``); ``h11``: an
    ``H11Transport``; ``pool``: neither, so the default pool's direct sending."""
    return str(request.param)


@asynccontextmanager
async def options_for(kind: str, base_url: str, **kwargs: object) -> AsyncIterator[AgentOptions]:
    """Options with a transport of ``kind`` that the test owns; its own timeouts are long, so
    only the limits under test can fire."""
    kwargs.setdefault("retry", NO_RETRY)
    if kind == "h11":
        async with H11Transport() as h11:
            yield AgentOptions(model="m", base_url=base_url, api_key="k", transport=h11, **kwargs)  # type: ignore[arg-type]
    elif kind == "pool":
        yield AgentOptions(model="m", base_url=base_url, api_key="k", **kwargs)  # type: ignore[arg-type]
    else:
        async with httpx.AsyncClient(timeout=600) as client:
            yield AgentOptions(model="m", base_url=base_url, api_key="k", http_client=client, **kwargs)  # type: ignore[arg-type]


HANG_GUARD = 60.0
"""Seconds after which a run counts as hung: the limits under test fire within a second."""
PEAK_BYTES = 8 * 1024 * 1024
"""Memory a run may hold at its peak, the server's included (about 1 MB is seen): the caps
under test are 1 MB and 100,000 characters, the drain after ``[DONE]`` is bounded, and a gzip
body is decoded 64 KiB at a time (one 64 KiB read of the bomb decoded whole is about 32 MB)."""


async def run(options: AgentOptions) -> list[RunMessage]:
    """The run's messages; the test fails if the run takes longer than ``HANG_GUARD`` or holds
    more than ``PEAK_BYTES`` at once."""
    tracemalloc.start()
    try:
        with anyio.fail_after(HANG_GUARD):
            return [m async for m in query(prompt="hi", options=options)]
    finally:
        highest = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert highest < PEAK_BYTES, f"the run peaked at {highest} bytes"


def text_of(messages: list[RunMessage]) -> str:
    (answer,) = [m for m in messages if isinstance(m, AssistantMessage)]
    return "".join(block.text for block in answer.content if isinstance(block, TextBlock))


async def forever() -> None:
    await anyio.sleep_forever()


# ---- after [DONE] the answer is complete ---------------------------------------------------


async def test_an_answer_whose_body_never_ends_is_yielded(kind: str) -> None:
    async def scenario(peer: Peer) -> None:
        await peer.send(SSE_HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
        await peer.send_chunk(ANSWER)  # and never the final zero-length chunk
        await forever()

    async with hostile(scenario) as server, options_for(kind, server.url) as options:
        assert text_of(await run(options)) == "Hello"


async def test_keep_alives_after_done_are_not_waited_for(kind: str) -> None:
    async def scenario(peer: Peer) -> None:
        await peer.send(SSE_HEAD + b"\r\n" + ANSWER)  # a body delimited by closing, which never comes
        while True:
            await peer.send(b": keep-alive\n\n")
            await anyio.sleep(0.001)

    async with hostile(scenario) as server, options_for(kind, server.url) as options:
        assert text_of(await run(options)) == "Hello"
        # What was read after [DONE] is bounded by the drain; the socket buffers hold the rest.
        assert server.sent < len(ANSWER) + 300 + DRAIN_BYTES + 16 * 1024 * 1024


async def test_a_content_length_lie_after_a_complete_answer_keeps_the_answer(kind: str) -> None:
    async def scenario(peer: Peer) -> None:
        await peer.send(SSE_HEAD + b"Content-Length: 100000\r\n\r\n" + ANSWER)
        # ... and closes, 100,000 bytes short

    async with hostile(scenario) as server, options_for(kind, server.url) as options:
        assert text_of(await run(options)) == "Hello"


LATE = b'data: {"choices":[{"index":0,"delta":{"content":" and more"}}]}\n\n'


@pytest.mark.parametrize("pause", [False, True], ids=["same-read", "later-read"])
async def test_data_after_done_is_a_malformed_response_naming_it(kind: str, pause: bool) -> None:
    async def scenario(peer: Peer) -> None:
        await peer.send(SSE_HEAD + b"Connection: close\r\n\r\n" + ANSWER + (b"" if pause else LATE))
        if pause:
            await anyio.sleep(0.05)
            await peer.send(b": keep-alive\n\n" + LATE)

    retry = RetryPolicy(max_retries=2, initial_delay=0.0)
    async with hostile(scenario) as server, options_for(kind, server.url, retry=retry) as options:
        with pytest.raises(MalformedResponseError, match="data after the end of the response") as info:
            await run(options)
    assert "and more" in str(info.value)  # what came after is named
    assert info.value.partial.text == "Hello"
    assert len(server.requests) == 1  # the answer had arrived: not repeated


async def test_an_event_cut_off_after_done_is_a_malformed_response(kind: str) -> None:
    async def scenario(peer: Peer) -> None:
        await peer.send(SSE_HEAD + b"Connection: close\r\n\r\n" + ANSWER + LATE[:30])  # and closes

    async with hostile(scenario) as server, options_for(kind, server.url) as options:
        with pytest.raises(MalformedResponseError, match="incomplete SSE event after the end") as info:
            await run(options)
    assert info.value.partial.text == "Hello"


# ---- time limits ------------------------------------------------------------------------------


async def test_a_head_never_sent_is_an_idle_timeout(kind: str) -> None:
    async def scenario(peer: Peer) -> None:
        await forever()

    async with hostile(scenario) as server, options_for(kind, server.url, stream_idle_timeout=0.2) as options:
        with pytest.raises(ResponseTimeoutError, match="no progress") as info:
            await run(options)
    assert info.value.limit == "stream_idle_timeout"


async def test_keep_alive_comments_for_ever_are_an_idle_timeout(kind: str) -> None:
    async def scenario(peer: Peer) -> None:
        await peer.send(SSE_HEAD + b"\r\n")
        while True:
            await peer.send(b": keep-alive\n\n")
            await anyio.sleep(0.005)

    async with hostile(scenario) as server, options_for(kind, server.url, stream_idle_timeout=0.3) as options:
        with pytest.raises(ResponseTimeoutError) as info:
            await run(options)
    assert info.value.limit == "stream_idle_timeout"


async def test_a_line_dripped_a_byte_at_a_time_is_an_idle_timeout(kind: str) -> None:
    async def scenario(peer: Peer) -> None:
        await peer.send(SSE_HEAD + b"\r\n" + chunk("Hel"))
        for byte in chunk("lo" * 100_000):
            await peer.send(bytes([byte]))
            await anyio.sleep(0.002)

    async with hostile(scenario) as server, options_for(kind, server.url, stream_idle_timeout=0.3) as options:
        with pytest.raises(ResponseTimeoutError) as info:
            await run(options)
    assert info.value.limit == "stream_idle_timeout"
    assert info.value.partial.content == (TextBlock(text="Hel"),)


async def test_an_endless_slow_answer_meets_the_request_deadline(kind: str) -> None:
    async def scenario(peer: Peer) -> None:
        await peer.send(SSE_HEAD + b"\r\n")
        while True:
            await peer.send(chunk("x"))
            await anyio.sleep(0.005)

    async with hostile(scenario) as server, options_for(kind, server.url, request_timeout=0.5) as options:
        with pytest.raises(ResponseTimeoutError, match="request_timeout") as info:
            await run(options)
    assert info.value.limit == "request_timeout"


# ---- size caps --------------------------------------------------------------------------------


async def endless(peer: Peer, piece: bytes) -> None:
    await peer.send(SSE_HEAD + b"\r\n")
    block = piece * max(1, 65536 // len(piece))
    while True:
        await peer.send(block)


async def test_endless_text_meets_max_text_chars(kind: str) -> None:
    async def scenario(peer: Peer) -> None:
        await endless(peer, chunk("x" * 100))

    async with hostile(scenario) as server, options_for(kind, server.url, max_text_chars=100_000) as options:
        with pytest.raises(ResponseTooLargeError, match="max_text_chars") as info:
            await run(options)
    assert info.value.limit == "max_text_chars"
    (block,) = info.value.partial.content
    # The cap, and at most the rest of the read that crossed it (parsed by then, none of it kept).
    assert isinstance(block, TextBlock) and 100_000 < len(block.text) <= 100_000 + 65536
    assert server.sent < 64 * 1024 * 1024  # stopped, not endless (socket buffers hold a few MB)


async def test_endless_empty_chunks_meet_max_response_bytes(kind: str) -> None:
    async def scenario(peer: Peer) -> None:
        await endless(peer, chunk())

    limit = 1024 * 1024
    async with hostile(scenario) as server, options_for(kind, server.url, max_response_bytes=limit) as options:
        with pytest.raises(ResponseTooLargeError, match="max_response_bytes") as info:
            await run(options)
    assert info.value.limit == "max_response_bytes"
    assert server.sent < 64 * 1024 * 1024


async def test_endless_tool_calls_meet_max_tool_calls(kind: str) -> None:
    index = 0

    async def scenario(peer: Peer) -> None:
        nonlocal index
        await peer.send(SSE_HEAD + b"\r\n")
        while True:
            call = {"index": index, "id": f"c{index}", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            await peer.send(chunk(tool_calls=[call]))
            index += 1

    async with hostile(scenario) as server, options_for(kind, server.url, max_tool_calls=8) as options:
        with pytest.raises(ResponseTooLargeError, match="max_tool_calls") as info:
            await run(options)
    assert info.value.limit == "max_tool_calls"


async def test_endless_arguments_meet_max_tool_argument_chars(kind: str) -> None:
    async def scenario(peer: Peer) -> None:
        head = {"index": 0, "id": "c0", "type": "function", "function": {"name": "f", "arguments": '{"a": "'}}
        await peer.send(SSE_HEAD + b"\r\n" + chunk(tool_calls=[head]))
        await endless(peer, chunk(tool_calls=[{"index": 0, "function": {"arguments": "y" * 100}}]))

    async with (
        hostile(scenario) as server,
        options_for(kind, server.url, max_tool_argument_chars=50_000) as options,
    ):
        with pytest.raises(ResponseTooLargeError, match="max_tool_argument_chars") as info:
            await run(options)
    assert info.value.limit == "max_tool_argument_chars"


async def test_a_gzip_bomb_meets_max_response_bytes_in_little_memory(kind: str) -> None:
    # 16 MB of comment lines compress to about 33 KB, sent for ever: the decoded
    # body would grow without end (and one 64 KiB read decoded whole is about 32 MB).
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    lines = b": " + b"a" * 1021 + b"\n"
    first = compressor.compress(lines * 16384) + compressor.flush(zlib.Z_SYNC_FLUSH)
    # The same 16 MB again, continuing the stream: repeated, it stays a valid gzip body for ever.
    more = compressor.compress(lines * 16384) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert len(first) < 64 * 1024 and len(more) < 64 * 1024

    async def scenario(peer: Peer) -> None:
        await peer.send(SSE_HEAD + b"Content-Encoding: gzip\r\n\r\n" + first)
        while True:
            await peer.send(more)

    limit = 40 * 1024 * 1024  # past the first 16 MB piece: the stream's continuation is decoded too
    async with hostile(scenario) as server, options_for(kind, server.url, max_response_bytes=limit) as options:
        with pytest.raises(ResponseTooLargeError, match="decompressed") as info:
            await run(options)
    assert info.value.limit == "max_response_bytes"
    assert server.sent < 64 * 1024 * 1024  # and run() checked the memory it took


# ---- what the server is --------------------------------------------------------------------


async def test_a_200_html_page_says_the_server_sent_html(kind: str) -> None:
    page = b"<html><body><form>Sign in</form></body></html>"

    async def scenario(peer: Peer) -> None:
        await peer.send(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s"
            % (len(page), page)
        )

    async with hostile(scenario) as server, options_for(kind, server.url) as options:
        with pytest.raises(StreamInterruptedError, match="HTML page"):
            await run(options)


async def test_a_server_that_closes_without_answering_says_so(kind: str) -> None:
    async def scenario(peer: Peer) -> None:
        return  # reads the request, then closes

    async with hostile(scenario) as server, options_for(kind, server.url) as options:
        with pytest.raises(APIConnectionError, match="without sending a response") as info:
            await run(options)
    assert "state=" not in str(info.value)  # no HTTP library's state machine in the message


@pytest.mark.parametrize("status", [600, 999])
async def test_a_status_http_does_not_have_is_a_malformed_response(kind: str, status: int) -> None:
    async def scenario(peer: Peer) -> None:
        await peer.send(b"HTTP/1.1 %d Odd\r\nContent-Type: text/event-stream\r\n\r\n%s" % (status, ANSWER))

    async with hostile(scenario) as server, options_for(kind, server.url) as options:
        with pytest.raises(MalformedResponseError, match=f"status {status}"):
            await run(options)


@pytest.mark.parametrize("coding", ["zstd", "br", "compress"])
async def test_a_body_in_a_coding_not_asked_for_is_refused_by_name(kind: str, coding: str) -> None:
    async def scenario(peer: Peer) -> None:
        # Not the coding's bytes: nothing may read this body as if it were decoded.
        await peer.send(SSE_HEAD + b"Content-Encoding: %s\r\n\r\n%s" % (coding.encode(), ANSWER))

    # Retries on: the server would send the same body again, so none is made.
    retry = RetryPolicy(max_retries=3, initial_delay=0.0)
    async with hostile(scenario) as server, options_for(kind, server.url, retry=retry) as options:
        with pytest.raises(UnsupportedEncodingError, match=f"content-coding '{coding}'") as info:
            await run(options)
    assert isinstance(info.value, APIConnectionError) and info.value.response_started
    assert info.value.coding == coding
    assert "not retried" in str(info.value.__notes__)
    assert len(server.requests) == 1
    assert b"accept-encoding: gzip, deflate" in server.requests[0].lower()


async def test_a_zstd_bomb_is_refused_in_little_memory(kind: str) -> None:
    # 64 MB of comment lines in about 6 KB of zstd, sent for ever: httpx decodes a zstd read
    # whole (where the zstandard package is installed), so one read of it is all 64 MB.
    zstandard = pytest.importorskip("zstandard")
    lines = b": " + b"a" * 1021 + b"\n"
    bomb = zstandard.ZstdCompressor(level=19).compress(lines * 65536)
    assert len(bomb) < 64 * 1024

    async def scenario(peer: Peer) -> None:
        await peer.send(SSE_HEAD + b"Content-Encoding: zstd\r\n\r\n" + bomb)
        await forever()

    async with hostile(scenario) as server, options_for(kind, server.url) as options:
        with pytest.raises(UnsupportedEncodingError, match="content-coding 'zstd'"):
            await run(options)  # and run() checked the memory it took


# ---- bodies that do not decode ---------------------------------------------------------------

RETRIES = RetryPolicy(max_retries=3, initial_delay=0.0)
"""Retries on: a body the server would send the same way again is not asked for again."""
GARBAGE = b"\xff" * 16
"""Not deflate data: the block header in its first byte names a block type there is none of."""
LINES = b": " + b"a" * 1021 + b"\n"


def compressor(coding: str) -> zlib._Compress:
    return zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16 if coding == "gzip" else zlib.MAX_WBITS)


def corrupt(coding: str, decoded: bytes = b": keep-alive\n\n") -> tuple[bytes, bytes]:
    """A body in ``coding`` that decodes to ``decoded`` and then stops decoding: the valid
    part, and the garbage after it."""
    packer = compressor(coding)
    return packer.compress(decoded) + packer.flush(zlib.Z_SYNC_FLUSH), GARBAGE


def bad_body(coding: str, decoded: bytes = b": keep-alive\n\n") -> Scenario:
    """Serves a body in ``coding`` (a coding not asked for as it is) that is not valid after
    ``decoded``: the valid part and the rest sent apart, as a server streams them."""

    async def scenario(peer: Peer) -> None:
        if coding in ("gzip", "deflate"):
            valid, rest = corrupt(coding, decoded)
        else:
            valid, rest = ANSWER, b""
        head = b"Content-Encoding: %s\r\nContent-Length: %d\r\n\r\n" % (coding.encode(), len(valid) + len(rest))
        await peer.send(SSE_HEAD + head + valid)
        if rest:
            await peer.send(rest)

    return scenario


async def answer(peer: Peer) -> None:
    await peer.send(SSE_HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(ANSWER), ANSWER))


def chats(server: Server) -> int:
    return sum(request.startswith(b"POST /v1/chat/completions ") for request in server.requests)


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_a_corrupt_body_names_its_coding_and_offset_and_is_not_asked_for_again(kind: str, coding: str) -> None:
    # Retries on and a fallback model on the same server: the server would send it so again.
    valid, _ = corrupt(coding)
    async with (
        hostile(bad_body(coding)) as server,
        options_for(kind, server.url, retry=RETRIES, fallback_models=["small"]) as options,
    ):
        with pytest.raises(ContentDecodingError, match=f"not valid {coding} at byte {len(valid)}") as info:
            await run(options)
    error = info.value
    assert isinstance(error, APIConnectionError) and error.response_started
    assert (error.coding, error.offset) == (coding, len(valid))  # the first garbage byte
    assert "not retried" in str(error.__notes__)
    assert chats(server) == 1


@pytest.mark.parametrize("coding", ["gzip", "deflate", "zstd", "br"])
async def test_a_body_that_does_not_decode_falls_over_to_the_next_endpoint(kind: str, coding: str) -> None:
    # A corrupt body, or one in a coding not asked for: not retried on its server, nor on the
    # fallback model there, but the fallback endpoint's server is another server.
    async with (
        hostile(bad_body(coding)) as failing,
        hostile(answer) as good,
        options_for(
            kind,
            failing.url,
            retry=RETRIES,
            fallback_models=["small"],
            fallback_endpoints=[FallbackEndpoint(base_url=good.url, model="tiny")],
        ) as options,
    ):
        messages = await run(options)
    assert text_of(messages) == "Hello"
    result = messages[-1]
    assert isinstance(result, ResultMessage) and result.subtype == "success" and result.endpoint == 1
    notices = [m for m in messages if isinstance(m, SystemMessage)]
    retries = [(m.data["model"], m.data["endpoint"]) for m in notices if m.subtype == "retry"]
    assert retries == [("tiny", 1)]  # at once, neither "m" again nor "small" on the same server
    assert [m.data["model"] for m in notices if m.subtype == "fallback_endpoint"] == ["tiny"]
    assert (chats(failing), chats(good)) == (1, 1)


async def test_a_body_that_stops_decoding_mid_answer_is_not_retried_anywhere(kind: str) -> None:
    # More than one 64 KiB piece decoded: the text is delivered before the garbage is reached,
    # however the reads fall.
    decoded = chunk("Hello") + LINES * 70
    valid, _ = corrupt("gzip", decoded)
    async with (
        hostile(bad_body("gzip", decoded)) as failing,
        hostile(answer) as good,
        options_for(
            kind,
            failing.url,
            retry=RETRIES,
            include_partial_messages=True,
            fallback_endpoints=[FallbackEndpoint(base_url=good.url, model="tiny")],
        ) as options,
    ):
        with pytest.raises(MalformedResponseError, match="mid-answer") as info:
            await run(options)
    assert info.value.partial.text == "Hello"
    cause = info.value.__cause__
    assert isinstance(cause, ContentDecodingError) and (cause.coding, cause.offset) == ("gzip", len(valid))
    assert "not retried" in str(info.value.__notes__)
    assert (chats(failing), chats(good)) == (1, 0)


def test_the_answer_chunks_are_well_formed() -> None:
    assert ANSWER.endswith(DONE) and ANSWER.count(b"data: ") == 3
