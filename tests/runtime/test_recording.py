"""Recording and replay: the cassette format, redaction, and both transports over httpx."""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_httpx._errors import CassetteError
from anyagent_httpx._recording import (
    Cassette,
    Exchange,
    RecordedRequest,
    RecordedResponse,
    RecordingTransport,
    ReplayTransport,
    redact_exchange,
)

pytestmark = pytest.mark.anyio

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


# --------------------------------------------------------------------------------------------
# The file format

header_names = st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,15}\Z").filter(
    lambda name: (
        not any(w in name.lower() for w in ("key", "token", "secret", "auth", "cookie", "signature", "password"))
        and name.lower() != "content-length"
    )
)
header_lists = st.lists(st.tuples(header_names, st.text(max_size=30)), max_size=5)
chunk_lists = st.lists(
    st.one_of(
        st.binary(max_size=40),
        st.binary(min_size=1, max_size=1),
        st.text(max_size=20).map(lambda t: t.encode("utf-8")),
        st.just(b"\xe2\x82"),  # half of a UTF-8 sequence
        st.just(b""),
    ),
    max_size=8,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
canonical_bodies = st.one_of(
    st.just(b""),
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":")).encode("utf-8")),
    st.text().filter(lambda t: not _is_json(t)).map(lambda t: t.encode("utf-8")),
    st.binary().filter(lambda b: not _is_utf8(b)),
)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@st.composite
def exchanges(draw: st.DrawFn, bodies: st.SearchStrategy[bytes] = canonical_bodies) -> Exchange:
    chunks = draw(chunk_lists)
    timings = draw(
        st.just(())
        | st.lists(
            st.floats(min_value=0, max_value=1e4, allow_nan=False, allow_infinity=False),
            min_size=len(chunks),
            max_size=len(chunks),
        )
    )
    return Exchange(
        RecordedRequest(
            draw(st.sampled_from(["GET", "POST", "DELETE"])),
            draw(st.sampled_from([URL, "https://api.example.com/v1/models?api-version=2024-10-01", "http://h/"])),
            draw(header_lists),
            draw(bodies),
        ),
        RecordedResponse(draw(st.integers(100, 599)), draw(header_lists), chunks, timings),
    )


@given(st.lists(exchanges(), max_size=4))
def test_chunks_headers_and_bodies_round_trip_exactly(recorded: list[Exchange]) -> None:
    cassette = Cassette(recorded)
    text = cassette.dumps()
    assert Cassette.loads(text) == cassette
    assert Cassette.loads(text).dumps() == text
    lines = text.split("\n")
    assert lines[-1] == ""
    assert len(lines) == len(recorded) + 2
    for line in lines[1:-1]:
        obj = json.loads(line)
        assert (list(obj), list(obj["request"]), list(obj["response"])) == (
            ["request", "response"],
            ["body", "headers", "method", "url"],
            ["chunks", "headers", "status", "timings"],
        )


@given(st.lists(exchanges(bodies=st.binary(max_size=60)), max_size=3))
def test_any_body_is_written_the_same_way_again(recorded: list[Exchange]) -> None:
    text = Cassette(recorded).dumps()
    again = Cassette.loads(text)
    assert again.dumps() == text
    for before, after in zip(recorded, again.exchanges, strict=True):
        assert after.response == before.response
        assert (after.request.method, after.request.url, after.request.headers) == (
            before.request.method,
            before.request.url,
            before.request.headers,
        )
        if before.request.body and _is_json(before.request.body.decode("utf-8", "replace")):
            assert json.loads(after.request.body) == json.loads(before.request.body)


def test_the_file_shows_bodies_and_chunks_readably(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    Cassette(
        [
            exchange([b"data: x\n\n", b"\xff\x00", b""], body=b'{"b":1,"a":[true,null]}'),
            exchange(body=b"not json"),
            exchange(body=b"", method="GET"),
            exchange(body=b'{"text":"x"}'),
            exchange(body=b"null"),
        ]
    ).dump(path)
    header, *lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(header) == {"anyagent_cassette": 1, "recorded_with": "anyagent 0.1.0"}
    first = json.loads(lines[0])
    assert first["request"]["body"] == {"b": 1, "a": [True, None]}
    assert '"body":{"b":1,"a":[true,null]}' in lines[0]  # the body's own key order is kept
    assert first["response"]["chunks"] == ["data: x\n\n", {"base64": base64.b64encode(b"\xff\x00").decode()}, ""]
    assert list(first) == ["request", "response"]
    assert list(first["request"]) == ["body", "headers", "method", "url"]
    assert list(first["response"]) == ["chunks", "headers", "status", "timings"]
    assert [json.loads(line)["request"]["body"] for line in lines[1:]] == [
        {"text": "not json"},
        None,
        {"text": '{"text":"x"}'},  # shaped like the wrapper: kept as text, so it loads back the same
        {"text": "null"},
    ]
    loaded = Cassette.load(path)
    assert [e.request.body for e in loaded.exchanges] == [
        b'{"b":1,"a":[true,null]}',
        b"not json",
        b"",
        b'{"text":"x"}',
        b"null",
    ]


@pytest.mark.parametrize("body", [b'{"t":1e400}', b'{"t":NaN}', b"[" * 100_000, b'{"t":-Infinity}'])
def test_bodies_json_cannot_write_back_are_kept_as_text(body: bytes) -> None:
    text = Cassette([exchange(body=body)]).dumps()
    assert json.loads(text.split("\n")[1])["request"]["body"] == {"text": body.decode()}
    assert Cassette.loads(text).exchanges[0].request.body == body


def test_load_then_dump_is_byte_for_byte(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    Cassette([exchange([b"a", b"\x80b", "é".encode()]), exchange(body=b"x\xffy")]).dump(first)
    Cassette.load(first).dump(second)
    assert second.read_bytes() == first.read_bytes()
    assert not [p.name for p in tmp_path.iterdir() if p.name not in ("a.jsonl", "b.jsonl")]  # no temp files


@pytest.mark.parametrize(
    ("lines", "line", "fault"),
    [
        ([], None, "empty, expected the header line"),
        (["{not json"], 1, "not valid JSON"),
        (['{"hello": 1}'], 1, "not a cassette"),
        (['{"anyagent_cassette": 2, "recorded_with": "x"}'], 1, "unsupported cassette version 2"),
        (['{"anyagent_cassette": "1", "recorded_with": "x"}'], 1, "must be an integer version"),
        (['{"anyagent_cassette": 1}'], 1, "the header has no 'recorded_with'"),
        (["HEADER", "[1, 2]"], 2, "an exchange must be a JSON object"),
        (["HEADER", '{"request": {}}'], 2, "the exchange has no 'response'"),
        (["HEADER", "GOOD", "GOOD", '{"request": {}, "response": {}}'], 4, "request has no 'body'"),
        (["HEADER", 'REPLACE:status="200"'], 2, 'response.status must be an integer, got "200"'),
        (["HEADER", "REPLACE:status=true"], 2, "response.status must be an integer, got true"),
        (["HEADER", 'REPLACE:chunks=["a", 1]'], 2, 'response.chunks[1] must be a string or {"base64": ...}, got 1'),
        (["HEADER", 'REPLACE:chunks=[{"base64": "!!"}]'], 2, "response.chunks[0].base64 is not valid base64"),
        (["HEADER", "REPLACE:timings=[0.1, 0.2]"], 2, "response has 1 chunks but 2 timings"),
        (["HEADER", "REPLACE:timings=[-1]"], 2, "response.timings[0] must be a non-negative number"),
        (["HEADER", 'REPLACE:headers=[["a"]]'], 2, "response.headers[0] must be a [name, value] pair"),
        (["HEADER", 'REPLACE:extra="x"'], 2, "response has unknown key(s) 'extra'"),
        (["HEADER", "GOOD", "\u2028not json"], 3, "not valid JSON"),
        (["HEADER", 'SUB:"status":200=>"status":1e400'], 2, "not valid JSON: 1e400 is out of range"),
        (["HEADER", "[" * 100_000], 2, "not valid JSON"),
    ],
)
def test_malformed_cassettes_name_the_file_line_and_fault(
    tmp_path: Path, lines: list[str], line: int | None, fault: str
) -> None:
    good = Cassette([exchange()]).dumps().split("\n")
    resolved = []
    for text in lines:
        if text == "HEADER":
            text = good[0]
        elif text == "GOOD":
            text = good[1]
        elif text.startswith("SUB:"):
            old, _, new = text.removeprefix("SUB:").partition("=>")
            text = good[1].replace(old, new)
        elif text.startswith("REPLACE:"):
            key, _, value = text.removeprefix("REPLACE:").partition("=")
            obj = json.loads(good[1])
            obj["response"][key] = json.loads(value)
            text = json.dumps(obj)
        resolved.append(text)
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(resolved) + "\n", encoding="utf-8")
    with pytest.raises(CassetteError) as info:
        Cassette.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}, line {line}: " if line is not None else f"{path}: ")
    assert fault in message


def test_a_file_that_cannot_be_read_is_a_cassette_error(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match="cannot read the cassette"):
        Cassette.load(tmp_path / "absent.jsonl")
    (tmp_path / "latin.jsonl").write_bytes(b'{"anyagent_cassette":1,"recorded_with":"x"}\n\xff\n')
    with pytest.raises(CassetteError, match=r"latin\.jsonl, line 2: not valid UTF-8"):
        Cassette.load(tmp_path / "latin.jsonl")


def test_value_types_refuse_wrong_types() -> None:
    with pytest.raises(TypeError):
        RecordedResponse(200, [], ["text"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="2 timings for 1 chunks"):
        RecordedResponse(200, [], [b"x"], [0.0, 1.0])
    with pytest.raises(ValueError, match="not negative"):
        RecordedResponse(200, [], [b"x"], [-0.5])
    with pytest.raises(TypeError):
        Cassette([object()])  # type: ignore[list-item]


# --------------------------------------------------------------------------------------------
# Redaction

SECRET = "sk-live-0123456789abcdef"
EXTRA = "hunter2-extra-secret"
COOKIE = "session-cookie-value-42"
GOOG = "AIzaGoogleKey987654321"
QUERY_KEY = "query-key-value-777"
SIG = "signature-value-555"
SET_COOKIE = "server-session-abc123"


async def test_no_secret_reaches_the_file(tmp_path: Path) -> None:
    body = f'data: {{"echo":"{SECRET}","other":"{EXTRA}"}}\n\n'.encode()
    cut = body.index(SECRET.encode()) + 5
    chunks = [body[:cut], body[cut:], b"\xff" + EXTRA.encode() + b"\xfe"]  # split inside a secret; not UTF-8
    transport, _, _ = mock(
        chunks,
        headers=[
            ("content-type", "text/event-stream"),
            ("set-cookie", f"sid={SET_COOKIE}; Path=/; HttpOnly"),
            ("content-length", str(sum(map(len, chunks)))),
        ],
    )
    recorder = RecordingTransport(transport, secrets=[EXTRA])
    async with httpx.AsyncClient(transport=recorder) as client:
        raw, _ = await raw_and_decoded(
            client,
            "POST",
            f"{URL}?api-version=2024-10-01&key={QUERY_KEY}&sig={SIG}",
            json={"messages": [{"role": "user", "content": f"my key is {SECRET} and {EXTRA}"}]},
            headers={
                "Authorization": f"Bearer {SECRET}",
                "Cookie": f"sid={COOKIE}",
                "x-goog-api-key": GOOG,
                "X-Request-Id": "req-1",
            },
        )
    assert raw == chunks  # the code under test saw the real bytes
    path = tmp_path / "c.jsonl"
    recorder.save(path)
    data = path.read_bytes()
    for secret in (SECRET, EXTRA, COOKIE, GOOG, QUERY_KEY, SIG, SET_COOKIE):
        assert secret.encode() not in data
        assert base64.b64encode(secret.encode()) not in data
    lowered = data.lower()
    for name in (b"authorization", b"cookie", b"x-goog-api-key", b"set-cookie"):
        assert b'"' + name + b'"' not in lowered
    (recorded,) = Cassette.load(path).exchanges
    assert recorded.request.url == f"{URL}?api-version=2024-10-01"
    assert ("X-Request-Id", "req-1") in recorded.request.headers
    assert json.loads(recorded.request.body) == {
        "messages": [{"role": "user", "content": "my key is <redacted> and <redacted>"}]
    }
    # The secret split across two chunks becomes one placeholder, in the chunk where it began.
    assert recorded.response.chunks[0].endswith(b'"echo":"<redacted>')
    assert recorded.response.chunks[1].startswith(b'","other":"<redacted>"}')
    assert recorded.response.chunks[2] == b"\xff<redacted>\xfe"
    assert ("content-length", str(len(recorded.response.body))) in recorded.response.headers


def test_redaction_rules() -> None:
    recorded = exchange(
        [b"x"],
        url="https://user:pass-word-99@gw.example.com/v1/chat?api-version=1&access_token=tok-123456&Signature=s&x=1#frag",
        request_headers=[
            ("Proxy-Authorization", "Basic " + base64.b64encode(b"alice:open-sesame").decode()),
            ("api-key", "azure-key-000"),
            ("X-Secret-Thing", "s"),
            ("X-Password", "p"),
            ("Ocp-Apim-Subscription-Key", "apim-key-111"),
            ("Accept", "text/event-stream"),
        ],
        headers=[("Set-Cookie", "a=b"), ("x-ratelimit-remaining", "9")],
        body=b'{"note":"open-sesame, pass-word-99, apim-key-111, azure-key-000","short":"s"}',
    )
    redacted = redact_exchange(recorded)
    assert redacted.request.url == "https://gw.example.com/v1/chat?api-version=1&x=1"
    assert redacted.request.headers == (("Accept", "text/event-stream"),)
    assert redacted.response.headers == (("x-ratelimit-remaining", "9"),)
    # Values of removed headers are replaced elsewhere too; too short ones ("s") would hit ordinary text.
    assert json.loads(redacted.request.body) == {
        "note": "<redacted>, <redacted>, <redacted>, <redacted>",
        "short": "s",
    }
    assert redact_exchange(redacted) == redacted


@given(
    st.binary(max_size=60),
    st.from_regex(r"\A[a-z0-9-]{1,10}\Z"),
    st.lists(st.integers(0, 100), max_size=3),
    st.lists(st.integers(0, 100), max_size=6),
)
def test_secrets_split_anywhere_across_chunks_are_replaced(
    data: bytes, secret: str, insert_at: list[int], cut_at: list[int]
) -> None:
    body = bytearray(data)
    for position in insert_at:
        where = position % (len(body) + 1)
        body[where:where] = secret.encode()
    joined = bytes(body)
    cuts = sorted({c % (len(joined) + 1) for c in cut_at} | {len(joined)})
    chunks = [joined[a:b] for a, b in zip([0, *cuts], cuts, strict=False)]
    redacted = redact_exchange(exchange(chunks, headers=[]), [secret]).response.chunks
    assert len(redacted) == len(chunks)
    assert b"".join(redacted) == joined.replace(secret.encode(), b"<redacted>")
    # A chunk that holds no byte of any occurrence is left exactly as it was.
    spans = [m.span() for m in re.finditer(re.escape(secret.encode()), joined)]
    position = 0
    for before, after in zip(chunks, redacted, strict=True):
        start, end = position, position + len(before)
        position = end
        if not any(s < end and e > start for s, e in spans):
            assert after == before


def test_secrets_escaped_in_json_are_redacted_too() -> None:
    escaped = json.dumps({"content": SECRET}).replace("s", "\\u0073").encode()  # valid JSON, secret hidden
    redacted = redact_exchange(exchange(body=escaped), [SECRET])
    assert json.loads(redacted.request.body) == {"content": "<redacted>"}


# --------------------------------------------------------------------------------------------
# RecordingTransport


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
    assert ("X-Trace", "1") in first.request.headers
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


# --------------------------------------------------------------------------------------------
# ReplayTransport


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
    recorded = Exchange(
        RecordedRequest("POST", URL, [], b""),
        RecordedResponse(200, [], [b"a", b"b"], [0.0, 0.2]),
    )
    for realtime, at_least, at_most in ((True, 0.2, None), (False, None, 0.2)):
        replay = ReplayTransport(Cassette([recorded]), realtime=realtime)
        async with httpx.AsyncClient(transport=replay) as client:
            start = anyio.current_time()
            assert (await client.post(URL)).content == b"ab"
            elapsed = anyio.current_time() - start
        if at_least is not None:
            assert elapsed >= at_least
        if at_most is not None:
            assert elapsed < at_most


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
    transport, _, _ = mock([b"data: 1\n\n", b"data: 2\n\n"], status=201, headers=[("x-a", "1"), ("x-a", "2")])
    recorder = RecordingTransport(transport)
    async with httpx.AsyncClient(transport=recorder) as client:
        live = await client.post(URL, json={"q": 1})
    recorder.save(tmp_path / "c.jsonl")
    async with httpx.AsyncClient(transport=ReplayTransport(tmp_path / "c.jsonl", match_body=True)) as client:
        replayed = await client.post(URL, json={"q": 1})
    assert replayed.status_code == live.status_code == 201
    assert replayed.headers.get_list("x-a") == ["1", "2"]
    assert replayed.content == live.content


def test_the_documented_example_is_a_cassette() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "recording.md").read_text(encoding="utf-8")
    example = text.split("<!-- example -->\n```json\n")[1].split("```\n<!-- /example -->")[0]
    (recorded,) = Cassette.loads(example).exchanges
    assert recorded.response.chunks[1] == "data: €".encode()[:-1]  # a chunk ending inside a UTF-8 sequence
    # What dump writes for it is the example, line for line (the header names the running version).
    assert Cassette.loads(example).dumps().split("\n")[1:] == example.split("\n")[1:]
