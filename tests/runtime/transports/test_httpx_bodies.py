"""``HttpxTransport`` over a client whose responses arrive already read: a mock transport's
(``httpx.MockTransport``, its body given as ``content=``) or one a response hook read
(``await response.aread()``). httpx keeps such a body's decoded content and refuses to stream
it raw again; the transport hands the content on, whatever its coding."""

from __future__ import annotations

import gzip

import httpx
import pytest

from anyagent_core import Request
from anyagent_httpx import ContentDecodingError
from anyagent_httpx._transports import HttpxTransport
from anyagent_httpx.testing import Reply, serve

pytestmark = pytest.mark.anyio

BODY = b"".join(b'data: {"choices":[{"delta":{"content":"tok%d"}}]}\n\n' % i for i in range(20)) + b"data: [DONE]\n\n"

#: (Content-Encoding header or None, the body as sent for it).
CODINGS = [
    pytest.param(None, BODY, id="none"),
    pytest.param("identity", BODY, id="identity"),
    pytest.param("gzip", gzip.compress(BODY), id="gzip"),
]


async def _read(transport: HttpxTransport, url: str) -> tuple[int, bytes]:
    request = Request(method="POST", url=url, headers=(("content-type", "application/json"),), body=b"{}")
    async with transport.exchange(request) as response:
        return response.status, b"".join([chunk async for chunk in response.stream])


@pytest.mark.parametrize(("coding", "sent"), CODINGS)
async def test_a_mock_transport_s_response_arrives_decoded(coding: str | None, sent: bytes) -> None:
    headers = {"content-type": "text/event-stream"}
    if coding is not None:
        headers["content-encoding"] = coding

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers, content=sent)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        transport = HttpxTransport(http_client=client)
        assert await _read(transport, "http://127.0.0.1:1/v1/chat/completions") == (200, BODY)


@pytest.mark.parametrize(("coding", "sent"), CODINGS)
async def test_a_response_a_hook_read_arrives_decoded(coding: str | None, sent: bytes) -> None:
    async def read(response: httpx.Response) -> None:
        await response.aread()

    headers = (("content-type", "text/event-stream"),) + ((("content-encoding", coding),) if coding else ())
    async with (
        serve([Reply(status=200, headers=headers, chunks=(sent[:10], sent[10:]))]) as server,
        httpx.AsyncClient(event_hooks={"response": [read]}) as client,
    ):
        transport = HttpxTransport(http_client=client)
        assert await _read(transport, server.url("/chat/completions")) == (200, BODY)


# httpx raises its decoding error from the top of its chain of body generators and leaves the
# ones below suspended; trio warns as each is collected (encode/httpx#3686).
@pytest.mark.filterwarnings("ignore:Async generator 'http:ResourceWarning")
async def test_a_corrupt_body_httpx_decodes_names_the_coding_without_an_offset() -> None:
    """A coding the request asked for with its own ``Accept-Encoding`` is httpx's to decode."""
    zstandard = pytest.importorskip("zstandard")
    packed = zstandard.ZstdCompressor().compress(BODY)
    corrupt = packed[:20] + bytes(byte ^ 0xFF for byte in packed[20:])
    headers = (("content-type", "text/event-stream"), ("content-encoding", "zstd"))
    async with serve([Reply(status=200, headers=headers, chunks=(corrupt,))]) as server, HttpxTransport() as transport:
        url = server.url("/chat/completions")
        request = Request(method="POST", url=url, headers=(("accept-encoding", "zstd"),), body=b"{}")
        async with transport.exchange(request) as response:
            with pytest.raises(ContentDecodingError, match=r"not valid zstd \(") as caught:
                b"".join([chunk async for chunk in response.stream])
    assert (caught.value.coding, caught.value.offset, caught.value.url) == ("zstd", None, url)
    assert caught.value.response_started
