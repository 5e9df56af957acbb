"""One conformance suite for every transport, run against the loopback server (never a mock):
what arrives, how it is framed and encoded, how failures are reported, when connections are reused."""

from __future__ import annotations

import gc
import gzip
import itertools
import json
import pathlib
import ssl
import zlib
from collections.abc import AsyncIterator

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyagent_core import Request
from anyagent_httpx._errors import APIConnectionError, APITimeoutError, ContentDecodingError, UnsupportedEncodingError
from anyagent_httpx.testing import Reply, serve
from tests.runtime.support import (
    KINDS,
    AnyTransport,
    Kind,
    closed_port,
    fetch,
    get,
    head_of,
    kind_of,
    open_transport,
    post,
    read_all,
    read_into,
    self_signed_certificate,
)

pytestmark = pytest.mark.anyio

BODY = b"".join(b'data: {"choices":[{"delta":{"content":"tok%d"}}]}\n\n' % i for i in range(40)) + b"data: [DONE]\n\n"


@pytest.fixture(params=KINDS)
async def transport(request: pytest.FixtureRequest, anyio_backend: str) -> AsyncIterator[AnyTransport]:
    async with open_transport(request.param) as opened:
        yield opened


# ---- what arrives --------------------------------------------------------------------------


async def test_status_headers_and_body_arrive_exactly(transport: AnyTransport) -> None:
    reply = Reply.sse(BODY, chunk_size=100, headers=(("content-type", "text/event-stream"), ("x-request-id", "abc-1")))
    async with serve([reply]) as server, transport.exchange(post(server, b'{"model":"m"}')) as response:
        assert response.status == 200
        assert response.header("Content-Type") == "text/event-stream"
        assert response.header("X-Request-Id") == "abc-1"
        chunks = [chunk async for chunk in response.stream]
    assert b"".join(chunks) == BODY
    assert all(chunks)
    [received] = server.requests
    assert received.method == "POST"
    assert received.target == "/v1/chat/completions"
    assert received.body == b'{"model":"m"}'
    assert received.header("content-length") == "13"
    assert received.header("host") == f"127.0.0.1:{server.port}"
    assert received.header("accept") == "text/event-stream"


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=25)
@given(
    body=st.binary(max_size=3000),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=12),
    content_length=st.booleans(),
)
async def test_any_chunking_reassembles_to_the_same_bytes(
    kind: Kind, body: bytes, cuts: list[int], content_length: bool
) -> None:
    points = sorted({0, len(body), *(cut for cut in cuts if cut < len(body))})
    chunks = [body[a:b] for a, b in itertools.pairwise(points)]
    reply = Reply(chunks=chunks, content_length=content_length)
    async with serve([reply]) as server, open_transport(kind) as transport:
        assert await fetch(transport, post(server)) == (200, body)


@pytest.mark.parametrize("content_length", [False, True], ids=["chunked", "content-length"])
async def test_content_length_and_chunked_bodies(transport: AnyTransport, content_length: bool) -> None:
    reply = Reply.sse(BODY, chunk_size=33, content_length=content_length)
    async with serve([reply]) as server, transport.exchange(post(server)) as response:
        body = await read_all(response)
        framing = response.header("content-length"), response.header("transfer-encoding")
    assert body == BODY
    assert framing == ((str(len(BODY)), None) if content_length else (None, "chunked"))


async def test_a_large_request_body_arrives_intact(transport: AnyTransport) -> None:
    upload = bytes(range(256)) * 8192  # 2 MiB: written in several pieces
    async with serve([Reply.json({"ok": True})]) as server:
        assert await fetch(transport, post(server, upload)) == (200, b'{"ok": true}')
    assert server.requests[0].body == upload


async def test_head_and_get_requests(transport: AnyTransport) -> None:
    async with serve([Reply.json({"data": []}), Reply.json({"data": [{"id": "m"}]})]) as server:
        async with transport.exchange(get(server, method="HEAD")) as response:
            assert response.status == 200
            assert response.header("content-length") == "12"
            assert await read_all(response) == b""
        status, body = await fetch(transport, get(server))
    assert (status, json.loads(body)) == (200, {"data": [{"id": "m"}]})
    assert [(r.method, r.target, r.body) for r in server.requests] == [
        ("HEAD", "/v1/models", b""),
        ("GET", "/v1/models", b""),
    ]
    assert server.connections_opened == 1


# ---- content-encoding ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("coding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data, wbits=-zlib.MAX_WBITS)),  # raw deflate
    ],
    ids=["gzip", "deflate", "raw-deflate"],
)
async def test_compressed_bodies_are_decoded(transport: AnyTransport, coding: str, compress: object) -> None:
    assert callable(compress)
    packed: bytes = compress(BODY)
    headers = (("content-type", "text/event-stream"), ("content-encoding", coding))
    reply = Reply.sse(packed, chunk_size=50, headers=headers)
    async with serve([reply]) as server:
        assert await fetch(transport, post(server)) == (200, BODY)
    assert "gzip" in (server.requests[0].header("accept-encoding") or "")


@pytest.mark.parametrize("coding", ["identity", "Identity, identity", "x-unknown"])
async def test_a_body_with_nothing_to_decode_arrives_as_sent(transport: AnyTransport, coding: str) -> None:
    """``identity`` is read raw; a coding neither transport knows, which the request asked for
    with its own ``Accept-Encoding``, is handed on as it came."""
    headers = (("content-type", "text/event-stream"), ("content-encoding", coding))
    reply = Reply.sse(BODY, chunk_size=50, headers=headers)
    async with serve([reply]) as server:
        plain = post(server)
        request = Request(
            method=plain.method, url=plain.url, headers=(*plain.headers, ("Accept-Encoding", coding)), body=plain.body
        )
        async with transport.exchange(request) as response:
            chunks = [chunk async for chunk in response.stream]
    assert b"".join(chunks) == BODY and all(chunks)


@pytest.mark.parametrize("coding", ["x-unknown", "zstd", "gzip, br"])
async def test_a_body_in_a_coding_not_asked_for_fails_naming_it(transport: AnyTransport, coding: str) -> None:
    """The request asked for gzip and deflate: a body in another coding is not read as the stream."""
    packed = gzip.compress(BODY) if coding.startswith("gzip") else BODY
    headers = (("content-type", "text/event-stream"), ("content-encoding", coding))
    async with serve([Reply.sse(packed, headers=headers)]) as server, transport.exchange(post(server)) as response:
        assert response.status == 200
        with pytest.raises(UnsupportedEncodingError, match=f"content-coding '{coding.split(', ')[-1]}'") as info:
            await anext(response.stream)
    assert isinstance(info.value, APIConnectionError) and info.value.response_started
    assert info.value.coding == coding.split(", ")[-1]


# Decoded by the transport (httpx's chain of body generators is then run to its end, trio warns
# of none left suspended); a body httpx decodes is test_httpx_bodies'.
@pytest.mark.parametrize("coding", ["gzip", "deflate"])
@pytest.mark.parametrize("own_accept", [False, True], ids=["asked-for-us", "asked-for-by-the-request"])
async def test_a_body_that_does_not_decompress_names_its_coding_and_offset(
    transport: AnyTransport, coding: str, own_accept: bool
) -> None:
    """Decoded by the transport whether or not the request named its own ``Accept-Encoding``;
    corrupt in its last bytes (the check of what it decoded to), which the decoder reads last."""
    packed = gzip.compress(BODY) if coding == "gzip" else zlib.compress(BODY)
    corrupt = packed[:-4] + bytes(byte ^ 0xFF for byte in packed[-4:])  # the check at the end
    reply = Reply(chunks=(corrupt[:100], corrupt[100:]), headers=(("content-encoding", coding),))
    async with serve([reply]) as server:
        request = post(server)
        if own_accept:
            headers = (*request.headers, ("Accept-Encoding", coding))
            request = Request(method=request.method, url=request.url, headers=headers, body=request.body)
        async with transport.exchange(request) as response:
            with pytest.raises(ContentDecodingError, match=f"not valid {coding}") as caught:
                await read_all(response)
        error = caught.value
        assert isinstance(error, APIConnectionError) and error.response_started
        assert error.coding == coding and error.url == request.url
        assert error.offset is not None and len(corrupt) - 4 <= error.offset < len(corrupt)
        # Under trio, a body generator of httpx's left suspended warns as it is collected (an
        # error of this test): the traceback holds the body's frames until it goes.
        del caught, error, response
        gc.collect()


# ---- statuses are responses ------------------------------------------------------------------


async def test_error_statuses_are_delivered_as_responses(transport: AnyTransport) -> None:
    replies = [Reply.error(429, "Rate limit reached", retry_after="7"), Reply.error(503, "overloaded")]
    async with serve(replies) as server:
        async with transport.exchange(post(server)) as response:
            assert response.status == 429
            assert response.header("retry-after") == "7"
            error = json.loads(await read_all(response))["error"]
        assert error == {"message": "Rate limit reached", "type": "rate_limit_error", "code": None}
        async with transport.exchange(post(server)) as response:
            assert response.status == 503
            assert json.loads(await read_all(response))["error"]["type"] == "server_error"


# ---- failures ----------------------------------------------------------------------------------


async def test_connection_refused(transport: AnyTransport) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1/chat/completions"
    request = Request(method="POST", url=url, headers=(), body=b"{}")
    with pytest.raises(APIConnectionError) as caught:
        await head_of(transport, request)
    assert not caught.value.response_started
    assert not isinstance(caught.value, APITimeoutError)
    assert caught.value.url == request.url


@pytest.mark.parametrize("content_length", [False, True], ids=["chunked", "content-length"])
async def test_a_connection_dropped_mid_stream(transport: AnyTransport, content_length: bool) -> None:
    chunks = (b"data: one\n\n", b"data: two\n\n", b"data: three\n\n")
    received = bytearray()
    reply = Reply(chunks=chunks, drop_after=2, content_length=content_length)
    async with serve([reply]) as server, transport.exchange(post(server)) as response:
        assert response.status == 200
        with pytest.raises(APIConnectionError) as caught:
            await read_into(response, received)
    assert caught.value.response_started
    assert bytes(received) == b"data: one\n\ndata: two\n\n"


async def test_a_connection_dropped_before_the_head(transport: AnyTransport) -> None:
    async with serve([Reply(drop_before_head=True)]) as server:
        with pytest.raises(APIConnectionError) as caught:
            await head_of(transport, post(server))
    assert not caught.value.response_started
    assert len(server.requests) == 1  # a new connection that fails is not retried


@pytest.mark.parametrize("where", ["head", "body"])
async def test_a_read_timeout(transport: AnyTransport, where: str) -> None:
    reply = Reply(chunks=(b"late",), head_delay=5.0) if where == "head" else Reply(chunks=(b"late",), delay=5.0)
    async with serve([reply]) as server, open_transport(kind_of(transport), read_timeout=0.2) as impatient:
        # fail_after: a hang guard 20 times the timeout under test, which load cannot trip.
        with anyio.fail_after(4), pytest.raises(APITimeoutError) as caught:
            async with impatient.exchange(post(server)) as response:
                await read_all(response)
    assert caught.value.response_started is (where == "body")


async def test_a_write_timeout(transport: AnyTransport) -> None:
    upload = bytes(50 * 2**20)  # far more than socket buffers hold while the server reads nothing
    async with serve([Reply.json({})], body_delay=3.0) as server:
        async with open_transport(kind_of(transport), write_timeout=0.2) as impatient:
            # fail_after: a hang guard 20 times the timeout under test, which load cannot trip.
            with anyio.fail_after(4), pytest.raises(APITimeoutError) as caught:
                await fetch(impatient, post(server, upload))
        assert not caught.value.response_started
        assert server.requests == []


# ---- connection reuse ----------------------------------------------------------------------------


async def test_sequential_exchanges_reuse_one_connection(transport: AnyTransport) -> None:
    async with serve([Reply.sse(BODY, chunk_size=64)]) as server:
        for _ in range(5):
            assert await fetch(transport, post(server)) == (200, BODY)
    assert server.connections_opened == 1
    assert [r.connection for r in server.requests] == [1] * 5


async def test_each_exchange_goes_to_its_own_url_among_many(transport: AnyTransport) -> None:
    # More URLs than a transport keeps parsed, then the first ones again.
    paths = [f"/chat/completions?n={i}" for i in range(100)] + ["/chat/completions?n=0", "/models"]
    async with serve([Reply.sse(BODY, chunk_size=64)]) as server:
        for path in paths:
            assert await fetch(transport, post(server, path=path)) == (200, BODY)
    assert [r.target for r in server.requests] == [f"/v1{path}" for path in paths]
    assert server.connections_opened == 1


async def test_a_body_not_read_to_the_end_is_not_reused(transport: AnyTransport) -> None:
    first = Reply(chunks=(b"data: a\n\n", b"data: b\n\n"), delay=0.05)
    async with serve([first, Reply.sse(BODY)]) as server:
        async with transport.exchange(post(server)) as response:
            assert await response.stream.__anext__() == b"data: a\n\n"
        assert await fetch(transport, post(server)) == (200, BODY)
    assert server.connections_opened == 2
    assert [r.connection for r in server.requests] == [1, 2]


async def test_a_connection_the_server_said_to_close_is_not_reused(transport: AnyTransport) -> None:
    async with serve([Reply.sse(BODY, keep_alive=False), Reply.sse(BODY)]) as server:
        assert await fetch(transport, post(server)) == (200, BODY)
        assert await fetch(transport, post(server)) == (200, BODY)
    assert [r.connection for r in server.requests] == [1, 2]


async def test_an_idle_connection_closed_by_the_server_is_replaced(transport: AnyTransport) -> None:
    async with serve([Reply.sse(BODY, idle_timeout=0.05), Reply.sse(BODY)]) as server:
        assert await fetch(transport, post(server)) == (200, BODY)
        with anyio.fail_after(5):
            await server.wait_connections_closed()  # the server ended the idle connection
        assert await fetch(transport, post(server)) == (200, BODY)
    assert [r.connection for r in server.requests] == [1, 2]


# ---- TLS ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, pathlib.Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


async def test_https(transport: AnyTransport, certificate: tuple[pathlib.Path, pathlib.Path]) -> None:
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))
    async with (
        serve([Reply.sse(BODY, chunk_size=200)], ssl_context=server_context) as server,
        open_transport(kind_of(transport), ssl_context=client_context) as secure,
    ):
        assert server.base_url.startswith("https://")
        for _ in range(3):
            assert await fetch(secure, post(server)) == (200, BODY)
    assert server.connections_opened == 1


async def test_https_with_an_untrusted_certificate(
    transport: AnyTransport, certificate: tuple[pathlib.Path, pathlib.Path]
) -> None:
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    async with serve([Reply.sse(BODY)], ssl_context=server_context) as server:
        with pytest.raises(APIConnectionError) as caught:
            await head_of(transport, post(server))  # the system's trust store knows nothing of it
    assert not caught.value.response_started
    assert server.requests == []
