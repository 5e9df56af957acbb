"""query() and Client over both transports against the loopback server: the shared corpus bodies
under chosen chunkings and delays, real 429/503 with Retry-After, connections dropped mid-stream,
caller cancellation, and a cassette recorded from the server that replays to identical messages."""

from __future__ import annotations

import json
import pathlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anyagent_core import decode_response
from anyagent_httpx import (
    AgentOptions,
    AssistantMessage,
    Client,
    H11Transport,
    HttpxTransport,
    RateLimitError,
    RecordingTransport,
    ReplayTransport,
    ResultMessage,
    RunMessage,
    StreamInterruptedError,
    SystemMessage,
    query,
)
from anyagent_httpx.testing import Reply, serve
from tests.helpers import STREAMS, corpus_cases, load_case, require_corpus

from .mock import FAST_RETRY, text_stream

pytestmark = pytest.mark.anyio

SECRET = "sk-live-0123456789abcdef"


@pytest.fixture(params=["httpx", "h11"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def options_for(kind: str, base_url: str, **kwargs: object) -> AsyncIterator[AgentOptions]:
    """Options using a transport of ``kind`` that the test owns and closes."""
    if kind == "h11":
        async with H11Transport() as h11:
            yield AgentOptions(model="m", base_url=base_url, transport=h11, retry=FAST_RETRY, **kwargs)  # type: ignore[arg-type]
    else:
        async with httpx.AsyncClient() as client:
            yield AgentOptions(model="m", base_url=base_url, http_client=client, retry=FAST_RETRY, **kwargs)  # type: ignore[arg-type]


async def run(options: AgentOptions, prompt: str = "hi") -> list[RunMessage]:
    return [m async for m in query(prompt=prompt, options=options)]


def answer_of(messages: list[RunMessage]) -> AssistantMessage:
    (answer,) = [m for m in messages if isinstance(m, AssistantMessage)]
    return answer


async def test_corpus_bodies_give_the_core_s_message_whatever_the_chunking(kind: str) -> None:
    require_corpus()
    cases = [c for c in corpus_cases() if not c.startswith("http_error") and "error" not in c]
    assert cases, f"no success cases in {STREAMS}"
    for number, name in enumerate(cases):
        body, _ = load_case(name)
        expected = decode_response(body, single_choice=True)
        if expected.truncated:
            continue
        chunk_size = [1, 7, 64, None][number % 4]
        reply = Reply.sse(body, chunk_size=chunk_size, delay=0.0005 if chunk_size == 64 else 0.0)
        # max_turns=1: the corpus answers call tools nobody offered, and the loop would tell the
        # model so in a second request; one answer is what is compared here.
        async with serve([reply]) as server, options_for(kind, server.base_url, max_turns=1) as options:
            messages = await run(options)
        assert answer_of(messages).content == expected.message.content, name
        assert answer_of(messages).stop_reason == expected.message.stop_reason, name


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunk_size=st.integers(min_value=1, max_value=300), pieces=st.lists(st.text(min_size=1), min_size=1))
async def test_any_chunking_over_the_wire_gives_the_same_message(kind: str, chunk_size: int, pieces: list[str]) -> None:
    body = b"".join(text_stream(*pieces))
    async with serve([Reply.sse(body, chunk_size=chunk_size)]) as server, options_for(kind, server.base_url) as opts:
        messages = await run(opts)
    assert answer_of(messages).text == "".join(pieces)


async def test_real_429_and_503_with_retry_after_then_success(kind: str) -> None:
    replies = [
        Reply.error(429, "rate limited", retry_after="0"),
        Reply.error(503, "loading model", retry_after="0.01"),
        Reply.sse(b"".join(text_stream("ok"))),
    ]
    async with serve(replies) as server, options_for(kind, server.base_url) as options:
        messages = await run(options)
        assert len(server.requests) == 3
    retries = [m for m in messages if isinstance(m, SystemMessage) and m.subtype == "retry"]
    assert [r.data["delay"] for r in retries] == [0.0, 0.01]
    assert answer_of(messages).text == "ok"


async def test_429_past_the_retries_raises_with_the_server_s_message(kind: str) -> None:
    async with serve([Reply.error(429, "quota exceeded", retry_after="0")]) as server:
        async with options_for(kind, server.base_url) as options:
            with pytest.raises(RateLimitError, match="quota exceeded") as info:
                await run(options)
        assert len(server.requests) == 3
    assert info.value.status == 429
    assert info.value.headers.get("retry-after") == "0"


async def test_connection_dropped_mid_stream_raises_with_the_partial_message(kind: str) -> None:
    chunks = text_stream("Hello", " wor", "ld")
    async with serve([Reply(chunks=chunks, drop_after=2)]) as server:
        async with options_for(kind, server.base_url) as options:
            with pytest.raises(StreamInterruptedError, match="mid-answer") as info:
                await run(options)
        assert len(server.requests) == 1
    assert info.value.partial.text == "Hello wor"


async def test_cancelling_mid_read_leaves_no_connection_open(kind: str) -> None:
    chunks = text_stream(*["x"] * 20)
    server_cm = serve([Reply(chunks=chunks, delay=0.05)])
    async with server_cm as server, options_for(kind, server.base_url, include_partial_messages=True) as options:
        with anyio.move_on_after(0.2) as scope:
            await run(options)
        assert scope.cancelled_caught
        with anyio.fail_after(5):
            await server.wait_connections_closed()
        if kind == "h11":
            assert isinstance(options.transport, H11Transport)
            assert options.transport.statistics().idle_connections == 0


async def test_cancelling_mid_write_leaves_no_connection_open(kind: str) -> None:
    # A 50 MB prompt to a server that reads no upload for 1 s: the write stalls, is cancelled,
    # and the server then finds the connection closed.
    server_cm = serve([Reply.sse(b"".join(text_stream("never")))], body_delay=1.0)
    async with server_cm as server, options_for(kind, server.base_url) as options:
        with anyio.move_on_after(0.5) as scope:
            await run(options, prompt="x" * 50_000_000)
        assert scope.cancelled_caught
        with anyio.fail_after(5):
            await server.wait_connections_closed()


async def test_keep_alive_across_a_conversation(kind: str) -> None:
    replies = [Reply.sse(b"".join(text_stream(word))) for word in ("one", "two", "three")]
    async with serve(replies) as server, options_for(kind, server.base_url) as options:
        async with Client(options) as client:
            for prompt in ("a", "b", "c"):
                await client.query(prompt)
                [m async for m in client.receive_response()]
        assert server.connections_opened == 1
    assert [len(r.json()["messages"]) for r in server.requests] == [1, 3, 5]


async def test_recorded_cassette_replays_to_identical_messages_and_holds_no_secret(tmp_path: pathlib.Path) -> None:
    body = b"".join(text_stream("Bonjour", ", ", "le ", "monde"))
    replies = [Reply.error(503, "warming up", retry_after="0"), Reply.sse(body, chunk_size=17)]
    cassette = tmp_path / "run.jsonl"
    async with serve(replies) as server:
        recorder = RecordingTransport()
        async with httpx.AsyncClient(transport=recorder) as client:
            options = AgentOptions(
                model="m",
                base_url=server.base_url + "?api-key=" + SECRET,
                api_key=SECRET,
                extra_headers={"x-api-key": SECRET},
                http_client=client,
                retry=FAST_RETRY,
                include_partial_messages=True,
            )
            live = await run(options)
        recorder.save(cassette)
    raw = cassette.read_bytes()
    assert SECRET.encode() not in raw
    assert b"authorization" not in raw.lower()
    replay = ReplayTransport(cassette, match_body=True)
    async with httpx.AsyncClient(transport=replay) as client:
        options = AgentOptions(
            model="m", base_url="http://elsewhere.invalid/v1", http_client=client, retry=FAST_RETRY,
            include_partial_messages=True,
        )  # fmt: skip
        replayed = await run(options)
    replay.assert_all_played()

    def comparable(messages: list[RunMessage]) -> list[object]:
        out: list[object] = []
        for message in messages:
            if isinstance(message, ResultMessage):
                out.append((message.subtype, message.result, message.num_turns, message.usage))
            elif isinstance(message, SystemMessage) and message.subtype == "init":  # another URL and session
                out.append((message.subtype, message.data["model"], message.data["tools"]))
            else:
                out.append(message)
        return out

    assert comparable(replayed) == comparable(live)
    recorded = [json.loads(line) for line in raw.splitlines()[1:]]
    assert [r["response"]["status"] for r in recorded] == [503, 200]
    assert len(recorded[1]["response"]["chunks"]) > 1


def test_the_shipped_example_cassette_replays() -> None:
    from anyagent_httpx import Cassette

    cassette = Cassette.load(pathlib.Path(__file__).resolve().parents[2] / "examples" / "hello.jsonl")
    (exchange,) = cassette.exchanges
    decoded = decode_response(exchange.response.chunks)
    assert decoded.message.text == "Hello! I am a tiny test model."
    assert decoded.done_received
    header_names = {name.lower() for name, _ in exchange.request.headers}
    assert "authorization" not in header_names


async def test_httpx_transport_never_closes_a_client_it_was_given() -> None:
    async with serve([Reply.sse(b"".join(text_stream("a")))]) as server, httpx.AsyncClient() as client:
        transport = HttpxTransport(http_client=client)
        await transport.aclose()
        messages = await run(AgentOptions(model="m", base_url=server.base_url, transport=transport))
        assert answer_of(messages).text == "a"
        assert not client.is_closed
