"""ReplayTransport: recorded chunks served in order, requests matched, realtime waits."""

from __future__ import annotations

import gzip
from pathlib import Path

import anyio
import httpx
import pytest

from anyagent_httpx._errors import CassetteError
from anyagent_httpx._recording import (
    Cassette,
    Exchange,
    RecordedRequest,
    RecordedResponse,
    RecordingTransport,
    ReplayTransport,
)
from tests.runtime.recording.support import URL, exchange, mock, raw_and_decoded

pytestmark = pytest.mark.anyio


async def test_replay_reproduces_the_chunking_and_gzip_decoding(tmp_path: Path) -> None:
    text = b"".join(b'data: {"n":%d}\n\n' % i for i in range(50))
    compressed = gzip.compress(text)
    chunks = [compressed[:1], compressed[1:10], compressed[10:-3], compressed[-3:]]
    transport, _, _ = mock(chunks, headers=[("content-type", "text/event-stream"), ("content-encoding", "gzip")])
    recorder = RecordingTransport(transport)
    async with httpx.AsyncClient(transport=recorder) as client:
        live_raw, live_decoded = await raw_and_decoded(client, "POST", URL, json={})
        live = await client.post(URL, json={})
    assert live_raw == chunks
    assert live_decoded == live.content == text
    path = tmp_path / "gzip.jsonl"
    recorder.save(path)

    replay = ReplayTransport(path)
    async with httpx.AsyncClient(transport=replay) as client:
        raw, decoded = await raw_and_decoded(client, "POST", URL, json={})
        response = await client.post(URL, json={})
        assert response.headers["content-encoding"] == "gzip"
    assert raw == chunks
    assert decoded == text
    assert response.content == text
    replay.assert_all_played()


async def test_replay_yields_each_recorded_chunk_unchanged() -> None:
    chunks = [b"d", b"ata: \xe2\x82", b"\xac\n", b"\n"]
    replay = ReplayTransport(Cassette([exchange(chunks, headers=[("content-type", "text/event-stream")])]))
    async with httpx.AsyncClient(transport=replay) as client, client.stream("POST", URL, json={}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert [chunk async for chunk in response.aiter_raw()] == chunks


async def test_replay_ignores_scheme_host_and_port_and_serves_in_order() -> None:
    cassette = Cassette(
        [
            exchange([b"models"], method="GET", url="http://127.0.0.1:8020/v1/models", body=b""),
            exchange([b"first"]),
            exchange([b"second"], url=URL + "?api-version=1&api_key=zzzzzz"),
        ]
    )
    replay = ReplayTransport(cassette)
    async with httpx.AsyncClient(transport=replay, base_url="https://gateway.example.com:9443") as client:
        assert (await client.get("/v1/models")).content == b"models"
        assert [e.response.chunks for e in replay.remaining] == [(b"first",), (b"second",)]
        assert (await client.post("/v1/chat/completions", json={})).content == b"first"
        # Query parameters that look like credentials are left out of the comparison.
        response = await client.post("/v1/chat/completions?api_key=other&api-version=1", json={})
        assert response.content == b"second"
    assert not replay.remaining
    replay.assert_all_played()


async def test_a_request_out_of_order_is_refused() -> None:
    cassette = Cassette([exchange(method="GET", url="http://h/v1/models", body=b""), exchange()])
    replay = ReplayTransport(cassette)
    async with httpx.AsyncClient(transport=replay) as client:
        with pytest.raises(CassetteError) as info:
            await client.post(URL, json={})
        assert str(info.value) == (
            "the cassette, exchange 1: request POST /v1/chat/completions does not match the recorded GET /v1/models"
        )
        assert len(replay.remaining) == 2  # nothing was served
        with pytest.raises(CassetteError, match=r"query 'api-version=2', recorded ''"):
            await client.get("http://h/v1/models?api-version=2")


async def test_match_body_names_the_first_differing_key_path() -> None:
    recorded = b'{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}'
    replay = ReplayTransport(Cassette([exchange(body=recorded)] * 3), match_body=True)
    async with httpx.AsyncClient(transport=replay) as client:
        with pytest.raises(CassetteError) as info:
            await client.post(
                URL, json={"model": "m", "messages": [{"role": "user", "content": "bye"}], "stream": True}
            )
        assert str(info.value).endswith("the body differs at messages[0].content: recorded 'hi', sent 'bye'")
        with pytest.raises(CassetteError, match=r"at stream: recorded True, sent 1"):
            await client.post(URL, json={"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": 1})
        with pytest.raises(CassetteError, match=r"at stream: recorded but not sent"):
            await client.post(URL, json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        with pytest.raises(CassetteError, match=r"at messages: recorded 1 items, sent 0"):
            await client.post(URL, json={"model": "m", "messages": [], "stream": True})
        # Key order and formatting do not matter; the values do.
        await client.post(
            URL, content=b'{"stream": true, "messages": [{"content": "hi", "role": "user"}], "model": "m"}'
        )
    without = ReplayTransport(Cassette([exchange(body=recorded)]))
    async with httpx.AsyncClient(transport=without) as client:
        await client.post(URL, json={"anything": "else"})


async def test_past_the_end_says_how_many_exchanges_and_which_request() -> None:
    replay = ReplayTransport(Cassette([exchange()]))
    async with httpx.AsyncClient(transport=replay) as client:
        await client.post(URL, json={})
        with pytest.raises(CassetteError) as info:
            await client.post("http://h/v1/embeddings", json={})
    assert str(info.value) == ("the cassette has 1 exchange, all played: none left for request 2 (POST /v1/embeddings)")


async def test_assert_all_played_reports_what_was_not_served(tmp_path: Path) -> None:
    path = tmp_path / "two.jsonl"
    Cassette([exchange(), exchange(method="GET", url="http://h/v1/models", body=b"")]).dump(path)
    replay = ReplayTransport(path)
    with pytest.raises(CassetteError) as info:
        replay.assert_all_played()
    assert str(info.value) == f"{path}: 2 of 2 exchanges were not played; the first is POST /v1/chat/completions"
    async with httpx.AsyncClient(transport=replay) as client:
        await client.post(URL, json={})
    with pytest.raises(CassetteError, match="1 of 2 exchanges were not played; the first is GET /v1/models"):
        replay.assert_all_played()
    assert [e.request.method for e in replay.remaining] == ["GET"]


async def test_realtime_replay_waits_for_the_recorded_timings() -> None:
    def second_chunk_at(seconds: float) -> Cassette:
        response = RecordedResponse(200, [], [b"a", b"b"], [0.0, seconds])
        return Cassette([Exchange(RecordedRequest("POST", URL, [], b""), response)])

    # Realtime: the second chunk comes no earlier than recorded (a lower bound, which load can
    # only make easier to meet).
    async with httpx.AsyncClient(transport=ReplayTransport(second_chunk_at(0.2), realtime=True)) as client:
        start = anyio.current_time()
        assert (await client.post(URL)).content == b"ab"
        assert anyio.current_time() - start >= 0.2
    # Otherwise the timings are ignored: an hour's wait is served at once. fail_after is only a
    # hang guard, far below the hour and far above what a busy machine needs.
    async with httpx.AsyncClient(transport=ReplayTransport(second_chunk_at(3600.0))) as client:
        with anyio.fail_after(60):
            assert (await client.post(URL)).content == b"ab"


async def test_replay_can_be_cancelled_while_waiting() -> None:
    recorded = Exchange(RecordedRequest("POST", URL, [], b""), RecordedResponse(200, [], [b"a", b"b"], [0.0, 60.0]))
    replay = ReplayTransport(Cassette([recorded]), realtime=True)
    received: list[bytes] = []
    async with httpx.AsyncClient(transport=replay) as client:
        with anyio.move_on_after(0.1) as scope:
            async with client.stream("POST", URL) as response:
                async for chunk in response.aiter_raw():
                    received.append(chunk)
    assert scope.cancelled_caught
    assert received == [b"a"]


async def test_record_then_replay_gives_the_same_responses(tmp_path: Path) -> None:
    transport, _, _ = mock(
        [b"data: 1\n\n", b"data: 2\n\n"], status=201, headers=[("x-ratelimit-a", "1"), ("x-ratelimit-a", "2")]
    )
    recorder = RecordingTransport(transport)
    async with httpx.AsyncClient(transport=recorder) as client:
        live = await client.post(URL, json={"q": 1})
    recorder.save(tmp_path / "c.jsonl")
    async with httpx.AsyncClient(transport=ReplayTransport(tmp_path / "c.jsonl", match_body=True)) as client:
        replayed = await client.post(URL, json={"q": 1})
    assert replayed.status_code == live.status_code == 201
    assert replayed.headers.get_list("x-ratelimit-a") == ["1", "2"]
    assert replayed.content == live.content
