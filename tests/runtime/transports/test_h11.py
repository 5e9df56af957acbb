"""What is particular to H11Transport: its settings, lifecycle, statistics, the one retry of a
reused connection, keep-alive expiry and the per-host connection limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from anyagent_core import Request
from anyagent_httpx._errors import APIConnectionError, ClientStateError, ConfigurationError
from anyagent_httpx._transports import AsyncTransport, H11Transport, H11TransportStatistics
from anyagent_httpx.testing import ReceivedRequest, Reply, serve
from tests.runtime.support import fetch, get, head_of, post, read_all

pytestmark = pytest.mark.anyio

BODY = b"data: hello\n\n" * 10


@pytest.fixture
async def transport(anyio_backend: str) -> AsyncIterator[H11Transport]:
    async with H11Transport() as opened:
        yield opened


def test_it_implements_the_contract() -> None:
    assert isinstance(H11Transport(), AsyncTransport)


@pytest.mark.parametrize(
    "settings",
    [
        {"connect_timeout": 0},
        {"read_timeout": -1.0},
        {"write_timeout": 0.0},
        {"max_connections_per_host": 0},
        {"keepalive_expiry": -1.0},
        {"read_size": 0},
    ],
)
def test_settings_are_checked(settings: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        H11Transport(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1/v1/chat/completions", "'ftp'"),
        ("http://127.0.0.1:notaport/v1", "Port"),
        ("http:///v1/chat/completions", "no host"),
    ],
)
async def test_urls_it_cannot_send_to(transport: H11Transport, url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        await head_of(transport, Request(method="GET", url=url, headers=(), body=b""))
    assert transport.statistics().active_exchanges == 0


async def test_a_header_http_cannot_carry_is_a_configuration_error(transport: H11Transport) -> None:
    headers = (("Accept", "*/*"), ("Authorization", "Bearer sk-secret\r\nX-Injected: 1"))
    request = Request(method="GET", url="http://127.0.0.1:9/v1/models", headers=headers, body=b"")
    with pytest.raises(ConfigurationError, match="'Authorization'") as caught:
        await head_of(transport, request)
    assert "sk-secret" not in str(caught.value)
    request = Request(method="GET", url="http://127.0.0.1:9/v1/modèles", headers=(), body=b"")
    with pytest.raises(ConfigurationError, match="ASCII"):
        await head_of(transport, request)


async def test_a_closed_transport_refuses_exchanges_and_closes_idle_connections() -> None:
    async with serve([Reply.sse(BODY)]) as server:
        async with H11Transport() as transport:
            assert await fetch(transport, post(server)) == (200, BODY)
            assert transport.statistics().idle_connections == 1
        assert transport.statistics().idle_connections == 0
        with anyio.fail_after(5):
            await server.wait_connections_closed()
        with pytest.raises(ClientStateError):
            await head_of(transport, post(server))
        await transport.aclose()  # closing twice is harmless


async def test_a_connection_in_use_when_the_transport_closes_is_closed_after_its_exchange() -> None:
    async with serve([Reply.sse(BODY)]) as server, H11Transport() as transport:
        async with transport.exchange(post(server)) as response:
            await transport.aclose()
            assert await read_all(response) == BODY
        assert transport.statistics() == H11TransportStatistics(
            idle_connections=0, active_connections=0, connections_opened=1, active_exchanges=0
        )


async def test_statistics(transport: H11Transport) -> None:
    assert transport.statistics() == H11TransportStatistics(
        idle_connections=0, active_connections=0, connections_opened=0, active_exchanges=0
    )
    async with serve([Reply.sse(BODY)]) as server:
        async with transport.exchange(post(server)) as response:
            assert transport.statistics() == H11TransportStatistics(
                idle_connections=0, active_connections=1, connections_opened=1, active_exchanges=1
            )
            await read_all(response)
        assert transport.statistics() == H11TransportStatistics(
            idle_connections=1, active_connections=0, connections_opened=1, active_exchanges=0
        )


async def test_the_request_on_the_wire(transport: H11Transport) -> None:
    request = Request(
        method="POST",
        url="http://placeholder/v1/chat/completions?api-version=1",
        headers=(("Content-Length", "999"), ("Accept-Encoding", "identity"), ("Authorization", "Bearer k")),
        body=b'{"a":1}',
    )
    async with serve([Reply.json({})]) as server:
        request = Request(
            method=request.method,
            url=request.url.replace("placeholder", f"127.0.0.1:{server.port}"),
            headers=request.headers,
            body=request.body,
        )
        assert await fetch(transport, request) == (200, b"{}")
    [received] = server.requests
    assert received.target == "/v1/chat/completions?api-version=1"
    assert received.headers == (
        ("host", f"127.0.0.1:{server.port}"),
        ("accept-encoding", "identity"),  # the request's own choice stands
        ("authorization", "Bearer k"),
        ("content-length", "7"),  # computed from the body, whatever the request said
    )


async def test_a_host_header_in_the_request_wins(transport: H11Transport) -> None:
    async with serve([Reply.json({})]) as server:
        request = Request(method="GET", url=server.url("/models"), headers=(("Host", "api.example"),), body=b"")
        await fetch(transport, request)
    assert server.requests[0].header("host") == "api.example"


async def test_an_unread_empty_body_still_lets_the_connection_be_reused(transport: H11Transport) -> None:
    async with serve([Reply.json({"data": []})]) as server:
        for _ in range(3):
            assert await head_of(transport, get(server, method="HEAD")) == 200
    assert server.connections_opened == 1


async def test_reading_the_body_after_the_exchange_is_an_error(transport: H11Transport) -> None:
    async with serve([Reply.sse(BODY)]) as server:
        async with transport.exchange(post(server)) as response:
            pass
        with pytest.raises(ClientStateError):
            await read_all(response)


# ---- the one retry ---------------------------------------------------------------------------


async def test_a_reused_connection_closed_before_the_response_is_retried_once(transport: H11Transport) -> None:
    async with serve([Reply.sse(BODY), Reply(drop_before_head=True), Reply.sse(BODY)]) as server:
        assert await fetch(transport, post(server)) == (200, BODY)
        assert await fetch(transport, post(server)) == (200, BODY)
    assert [r.connection for r in server.requests] == [1, 1, 2]


async def test_the_retry_happens_once(transport: H11Transport) -> None:
    async with serve([Reply.sse(BODY), Reply(drop_before_head=True)]) as server:
        assert await fetch(transport, post(server)) == (200, BODY)
        with pytest.raises(APIConnectionError) as caught:
            await fetch(transport, post(server))
    assert not caught.value.response_started
    assert [r.connection for r in server.requests] == [1, 1, 2]


async def test_no_retry_once_the_response_has_started(transport: H11Transport) -> None:
    async with serve([Reply.sse(BODY), Reply(chunks=(b"data: x\n\n",), drop_after=0)]) as server:
        assert await fetch(transport, post(server)) == (200, BODY)
        with pytest.raises(APIConnectionError) as caught:
            await fetch(transport, post(server))
    assert caught.value.response_started
    assert len(server.requests) == 2


# ---- keep-alive expiry and the connection limit ------------------------------------------------


async def test_an_idle_connection_past_its_expiry_is_not_reused() -> None:
    async with serve([Reply.sse(BODY)]) as server, H11Transport(keepalive_expiry=0.05) as transport:
        assert await fetch(transport, post(server)) == (200, BODY)
        await anyio.sleep(0.1)
        assert await fetch(transport, post(server)) == (200, BODY)
        assert [r.connection for r in server.requests] == [1, 2]
        stats = transport.statistics()
        assert (stats.connections_opened, stats.idle_connections) == (2, 1)  # the expired one was closed


async def test_connections_per_host_are_bounded() -> None:
    in_flight = 0
    most = 0

    async def slow(request: ReceivedRequest) -> Reply:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await anyio.sleep(0.05)
        in_flight -= 1
        return Reply.sse(BODY)

    async with (
        serve(slow) as server,
        H11Transport(max_connections_per_host=2) as transport,
        anyio.create_task_group() as task_group,
    ):
        for _ in range(6):
            task_group.start_soon(fetch, transport, post(server))
    assert len(server.requests) == 6
    assert most == 2
    assert server.connections_opened == 2
