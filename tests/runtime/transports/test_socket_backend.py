"""``SocketBackend``: the default client's connections answer httpcore's readability question
from the socket they looked up once, with the same answers as httpcore's own streams."""

from __future__ import annotations

import socket
from typing import Any

import anyio
import httpcore
import httpx
import pytest

from anyagent_httpx import AgentOptions, ResultMessage, default_http_client, query
from anyagent_httpx._transports._httpx import LazyTLSTransport, SocketBackend, SocketStream
from anyagent_httpx.testing import Reply, serve
from tests.runtime.mock import text_stream

ANSWER = b"".join(text_stream("Hello", " there"))


class CountingStream(httpcore.AsyncNetworkStream):
    """An httpcore stream over ``sock`` that counts the extra-info look-ups asked of it."""

    def __init__(self, sock: socket.socket | None) -> None:
        self.sock = sock
        self.asked: list[str] = []

    def get_extra_info(self, info: str) -> Any:
        self.asked.append(info)
        if info == "socket":
            return self.sock
        return f"info {info}"


def test_readability_is_answered_from_the_socket_looked_up_once() -> None:
    left, right = socket.socketpair()
    with left, right:
        inner = CountingStream(left)
        stream = SocketStream(inner)
        for _ in range(100):
            assert stream.get_extra_info("is_readable") is False  # idle: nothing to read
        assert inner.asked == ["socket"]  # one look-up, not one per question
        right.send(b"x")
        assert stream.get_extra_info("is_readable") is True
        assert left.recv(1) == b"x"
        assert stream.get_extra_info("is_readable") is False
        right.close()  # the server hung up: a read would return b"" at once
        assert stream.get_extra_info("is_readable") is True
        assert stream.get_extra_info("server_addr") == "info server_addr"  # the rest is the stream's
        assert inner.asked == ["socket", "server_addr"]


def test_a_stream_without_a_usable_socket_counts_as_readable() -> None:
    assert SocketStream(CountingStream(None)).get_extra_info("is_readable") is True
    closed = socket.socket()
    closed.close()  # fileno() is -1 now
    assert SocketStream(CountingStream(closed)).get_extra_info("is_readable") is True


def _pool_of(client: httpx.AsyncClient) -> httpcore.AsyncConnectionPool:
    lazy = client._transport
    assert isinstance(lazy, LazyTLSTransport)
    pool = lazy._plain._pool
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    return pool


def test_the_lazy_transport_s_pools_connect_through_the_socket_backend() -> None:
    lazy = LazyTLSTransport(limits=httpx.Limits())
    pool = lazy._plain._pool
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    assert isinstance(pool._network_backend, SocketBackend)


async def ask(options: AgentOptions) -> str:
    result = None
    async for message in query(prompt="hi", options=options):
        result = message
    assert isinstance(result, ResultMessage)
    return result.result or ""


@pytest.mark.anyio
async def test_an_idle_connection_is_reused_and_one_the_server_ended_is_replaced() -> None:
    replies = [Reply.sse(ANSWER), Reply.sse(ANSWER, idle_timeout=0.0), Reply.sse(ANSWER)]
    async with default_http_client() as client, serve(replies) as server:
        options = AgentOptions(model="m", base_url=server.base_url, http_client=client)
        assert await ask(options) == "Hello there"
        (connection,) = _pool_of(client).connections
        assert connection.is_idle() and not connection.has_expired()  # alive: kept for the next request
        assert await ask(options) == "Hello there"
        assert server.connections_opened == 1
        with anyio.fail_after(5):
            await server.wait_connections_closed()  # the server ended the idle connection
        assert connection.has_expired()  # noticed without a read
        assert await ask(options) == "Hello there"  # on a new connection, no error
        assert server.connections_opened == 2
