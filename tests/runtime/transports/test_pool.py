"""The default pool (``_transports/_pool.py``): clients given no transport share one per event
loop, closed when the loop shuts down; plain HTTP never builds a TLS context; a user's own
client is never closed."""

from __future__ import annotations

import pathlib
import ssl
import sys

import anyio
import httpx
import pytest

from anyagent_httpx import (
    AgentOptions,
    APIConnectionError,
    Client,
    ResultMessage,
    RetryPolicy,
    default_http_client,
    query,
)
from anyagent_httpx._transports import HttpxTransport, shared_transport
from anyagent_httpx._transports._httpx import LazyTLSTransport
from anyagent_httpx.testing import Reply, serve
from tests.runtime.mock import text_stream
from tests.runtime.support import self_signed_certificate

pytestmark = pytest.mark.anyio

ANSWER = b"".join(text_stream("Hello", " there"))


async def ask(options: AgentOptions) -> str:
    result = None
    async for message in query(prompt="hi", options=options):
        result = message
    assert isinstance(result, ResultMessage)
    return result.result or ""


async def test_one_shot_queries_share_the_loop_s_pool_and_its_connection() -> None:
    async with serve([Reply.sse(ANSWER)]) as server:
        options = AgentOptions(model="m", base_url=server.base_url)
        for _ in range(3):
            assert await ask(options) == "Hello there"
        async with Client(options) as client:
            await client.query("again")
            async for _ in client.receive_response():
                pass
        assert len(server.requests) == 4
        assert server.connections_opened == 1  # one keep-alive connection, reused
        assert server.open_connections == 1  # still pooled after the clients closed
    first = await shared_transport()
    assert first is not None and first is await shared_transport()
    assert not first.http_client.is_closed


async def test_the_pool_carries_no_cookie_from_one_client_to_the_next() -> None:
    headers = (("content-type", "text/event-stream"), ("set-cookie", "sid=first-client; Path=/"))
    async with serve([Reply.sse(ANSWER, headers=headers)]) as server:
        options = AgentOptions(model="m", base_url=server.base_url)
        for _ in range(3):
            assert await ask(options) == "Hello there"
        assert len(server.requests) == 3
        assert [request.header("cookie") for request in server.requests] == [None, None, None]
        transport = await shared_transport()
        assert transport is not None and len(transport.http_client.cookies.jar) == 0
        # A user's own client keeps its cookies as httpx does: only the shared pool refuses them.
        async with httpx.AsyncClient() as mine:
            mine_options = AgentOptions(model="m", base_url=server.base_url, http_client=mine)
            assert await ask(mine_options) == "Hello there"
            assert await ask(mine_options) == "Hello there"
        assert server.requests[-1].header("cookie") == "sid=first-client"


def _pool_of_a_run(backend: str, base_url: str) -> HttpxTransport:
    async def main() -> HttpxTransport:
        assert await ask(AgentOptions(model="m", base_url=base_url)) == "Hello there"
        transport = await shared_transport()
        assert transport is not None and not transport.http_client.is_closed
        return transport

    return anyio.run(main, backend=backend)


async def test_each_event_loop_has_its_own_pool_closed_at_its_shutdown(anyio_backend: str) -> None:
    async with serve([Reply.sse(ANSWER)]) as server:
        # Each anyio.run in a thread of its own: a new event loop, a new pool.
        first = await anyio.to_thread.run_sync(_pool_of_a_run, anyio_backend, server.base_url)
        second = await anyio.to_thread.run_sync(_pool_of_a_run, anyio_backend, server.base_url)
        assert first is not second
        assert first.http_client.is_closed and second.http_client.is_closed  # closed as each loop ended
        with anyio.fail_after(5):
            await server.wait_connections_closed()
        assert server.connections_opened == 2
    mine = await shared_transport()
    assert mine is not None and mine is not first and mine is not second


async def test_a_loop_that_cannot_close_a_pool_gets_none_and_the_client_owns_its_transport(
    anyio_backend: str,
) -> None:
    hooks = sys.get_asyncgen_hooks()
    sys.set_asyncgen_hooks(firstiter=None, finalizer=hooks.finalizer)
    try:
        assert await shared_transport() is None
        async with serve([Reply.sse(ANSWER)]) as server:
            client = Client(AgentOptions(model="m", base_url=server.base_url))
            async with client:
                owned = client._owned_transport
                assert owned is not None
                await client.query("hi")
                async for _ in client.receive_response():
                    pass
            assert owned.http_client.is_closed  # closed with the client, as no loop hook would
    finally:
        sys.set_asyncgen_hooks(*hooks)


async def test_a_user_s_http_client_is_used_and_never_closed() -> None:
    async with serve([Reply.sse(ANSWER)]) as server, httpx.AsyncClient() as mine:
        assert await ask(AgentOptions(model="m", base_url=server.base_url, http_client=mine)) == "Hello there"
        assert not mine.is_closed
        assert server.connections_opened == 1
        pool = await shared_transport()
        assert pool is not None and pool.http_client is not mine


async def test_plain_http_never_builds_a_tls_context() -> None:
    async with serve([Reply.sse(ANSWER)]) as server:
        assert await ask(AgentOptions(model="m", base_url=server.base_url)) == "Hello there"
    pool = await shared_transport()
    assert pool is not None
    lazy = pool.http_client._transport
    assert isinstance(lazy, LazyTLSTransport)
    assert not lazy.tls_built


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, pathlib.Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


async def test_https_builds_a_verifying_pool_on_first_use(certificate: tuple[pathlib.Path, pathlib.Path]) -> None:
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    async with default_http_client() as client:
        lazy = client._transport
        assert isinstance(lazy, LazyTLSTransport) and not lazy.tls_built
        async with serve([Reply.sse(ANSWER)], ssl_context=server_context) as server:
            once = RetryPolicy(max_retries=0)
            with pytest.raises(APIConnectionError):  # verified: the default trust store knows nothing of it
                await ask(AgentOptions(model="m", base_url=server.base_url, http_client=client, retry=once))
            assert server.requests == []
        assert lazy.tls_built


async def test_default_http_client_leaves_a_configured_transport_to_httpx() -> None:
    context = ssl.create_default_context()
    async with default_http_client(verify=context) as verified, default_http_client(http1=True) as plain:
        assert isinstance(verified._transport, httpx.AsyncHTTPTransport)
        assert isinstance(plain._transport, httpx.AsyncHTTPTransport)
    own = httpx.AsyncHTTPTransport()
    async with default_http_client(transport=own) as custom:
        assert custom._transport is own


async def test_the_lazy_transport_refuses_https_once_closed() -> None:
    lazy = LazyTLSTransport(limits=httpx.Limits())
    await lazy.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await lazy.handle_async_request(httpx.Request("GET", "https://127.0.0.1:1/"))
    assert not lazy.tls_built


@pytest.mark.anyio
async def test_a_proxy_named_in_the_environment_carries_the_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx sends an ``http://`` request for a proxy to it, the whole URL as the target."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with serve([Reply.sse(b"".join(text_stream("via the proxy")))]) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.base_url.removesuffix("/v1"))
        async with default_http_client() as client:
            options = AgentOptions(model="m", base_url="http://model.invalid:8000/v1", http_client=client)
            said = [m async for m in query(prompt="hi", options=options)]
        (request,) = proxy.requests
        assert request.target == "http://model.invalid:8000/v1/chat/completions"
        assert isinstance(said[-1], ResultMessage) and said[-1].result == "via the proxy"


def test_without_a_proxy_in_the_environment_the_client_keeps_its_lazy_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")  # names no proxy
    assert isinstance(default_http_client()._transport, LazyTLSTransport)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    assert not isinstance(default_http_client()._transport, LazyTLSTransport)
    assert isinstance(default_http_client(trust_env=False)._transport, LazyTLSTransport)
