"""The default client's httpcore pools: their connections answer the readability question from
the socket they looked up once (``SocketBackend``), with the answers httpcore's own streams give;
requests are assigned to connections as httpcore's own pool assigns them, in linear time
(``LinearPool``)."""

from __future__ import annotations

import pathlib
import socket
import ssl
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import anyio
import attrs
import httpcore
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_httpx import AgentOptions, default_http_client
from anyagent_httpx._transports._httpcore import LINEAR_POOL, LinearPool, SocketBackend, SocketStream
from anyagent_httpx._transports._httpx import LazyTLSTransport
from anyagent_httpx.testing import Reply, serve
from tests.runtime.mock import text_stream
from tests.runtime.support import self_signed_certificate
from tests.runtime.transports.test_pool import ask

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
            # Noticed without a read, once the kernel has handed the server's FIN to the client's
            # socket (on a busy machine that can come a little after the server's close returns):
            # expired, or closed where the FIN came with the end of the answer.
            while not (connection.is_closed() or connection.has_expired()):  # noqa: ASYNC110 (no event tells of a FIN)
                await anyio.sleep(0.005)
        assert await ask(options) == "Hello there"  # on a new connection, no error
        assert server.connections_opened == 2


# ---- LinearPool: httpcore's assignment of requests to connections, in linear time ----------


@attrs.define(eq=False)
class FakeConnection:
    """A connection of a pool, in a fixed state (a stand-in for httpcore's, whose pool is tested)."""

    number: int
    origin: str
    closed: bool = False
    expired: bool = False
    idle: bool = False
    available: bool = False

    def is_closed(self) -> bool:
        return self.closed

    def has_expired(self) -> bool:
        return self.expired

    def is_idle(self) -> bool:
        return self.idle

    def is_available(self) -> bool:
        return self.available

    def can_handle_request(self, origin: str) -> bool:
        return origin == self.origin


@attrs.define(eq=False)
class FakeRequest:
    number: int
    origin: str
    queued: bool
    assigned: list[int] = attrs.Factory(list)

    @property
    def request(self) -> Any:
        return SimpleNamespace(url=SimpleNamespace(origin=self.origin))

    def is_queued(self) -> bool:
        return self.queued

    def assign_to_connection(self, connection: FakeConnection) -> None:
        self.assigned.append(connection.number)


ORIGINS = st.sampled_from(["http://a", "http://b"])
CONNECTIONS = st.lists(st.tuples(ORIGINS, st.booleans(), st.booleans(), st.booleans(), st.booleans()), max_size=12)
REQUESTS = st.lists(st.tuples(ORIGINS, st.booleans()), max_size=12)


def _assign(
    cls: type[httpcore.AsyncConnectionPool],
    connections: list[tuple[str, bool, bool, bool, bool]],
    requests: list[tuple[str, bool]],
    max_connections: int,
    max_keepalive: int,
) -> tuple[list[int], list[int], list[list[int]]]:
    """What ``cls``'s assignment does to a pool in this state: the connections it closes, those
    it keeps (new ones numbered from 100) and each request's assignments."""
    pool: Any = object.__new__(cls)
    pool._connections = [
        FakeConnection(i, origin, closed, expired, idle, available)
        for i, (origin, closed, expired, idle, available) in enumerate(connections)
    ]
    pool._requests = [FakeRequest(i, origin, queued) for i, (origin, queued) in enumerate(requests)]
    pool._max_connections = max_connections
    pool._max_keepalive_connections = max_keepalive
    made = iter(range(100, 200))
    pool.create_connection = lambda origin: FakeConnection(next(made), origin, idle=False, available=False)
    closing = pool._assign_requests_to_connections()
    return (
        [c.number for c in closing],
        [c.number for c in pool._connections],
        [r.assigned for r in pool._requests],
    )


@pytest.mark.skipif(not LINEAR_POOL, reason="LinearPool is held to httpcore 1.0's pool")
@given(CONNECTIONS, REQUESTS, st.integers(1, 14), st.integers(0, 14))
def test_the_linear_pool_assigns_and_closes_as_httpcore_s_own(
    connections: list[tuple[str, bool, bool, bool, bool]],
    requests: list[tuple[str, bool]],
    max_connections: int,
    max_keepalive: int,
) -> None:
    ours = _assign(LinearPool, connections, requests, max_connections, max_keepalive)
    theirs = _assign(httpcore.AsyncConnectionPool, connections, requests, max_connections, max_keepalive)
    assert ours == theirs


class CountingConnection(FakeConnection):
    calls = 0

    def is_idle(self) -> bool:
        CountingConnection.calls += 1
        return self.idle


def test_the_linear_pool_asks_each_idle_connection_once() -> None:
    pool: Any = object.__new__(LinearPool)
    pool._connections = [CountingConnection(i, "http://a", idle=True) for i in range(50)]
    pool._requests = []
    pool._max_connections = 200
    pool._max_keepalive_connections = 50
    CountingConnection.calls = 0
    assert pool._assign_requests_to_connections() == []
    assert CountingConnection.calls == 50  # httpcore's own asks 50 x 51 times
    assert len(pool._connections) == 50


def test_the_lazy_transport_s_pools_are_linear_pools_on_httpcore_1_0() -> None:
    pool = LazyTLSTransport(limits=httpx.Limits())._plain._pool
    assert (type(pool) is LinearPool) == LINEAR_POOL


def test_importing_the_package_loads_no_httpcore() -> None:
    """httpx imports httpcore when it builds a transport; ``import anyagent_httpx`` does not."""
    script = (
        "import sys\nfrom anyagent_httpx import AgentOptions, query\nbefore = 'httpcore' in sys.modules\n"
        "from anyagent_httpx import default_http_client\ndefault_http_client()\n"
        "print(before, 'anyagent_httpx._transports._httpcore' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.split() == ["False", "True"]


# ---- https:// through SocketStream.start_tls ----------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, pathlib.Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.mark.anyio
async def test_over_tls_an_idle_connection_is_reused_and_one_the_server_ended_is_replaced(
    certificate: tuple[pathlib.Path, pathlib.Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the https:// pool trusts the environment's
    replies = [Reply.sse(ANSWER), Reply.sse(ANSWER, idle_timeout=0.0), Reply.sse(ANSWER)]
    async with default_http_client() as client, serve(replies, ssl_context=server_context) as server:
        assert server.base_url.startswith("https://")
        options = AgentOptions(model="m", base_url=server.base_url, http_client=client)
        assert await ask(options) == "Hello there"
        lazy = client._transport
        assert isinstance(lazy, LazyTLSTransport) and lazy._tls is not None
        pool = lazy._tls._pool
        (connection,) = pool.connections
        stream = connection._connection._network_stream  # type: ignore[attr-defined]
        assert isinstance(stream, SocketStream)  # the stream start_tls gave back
        assert stream.get_extra_info("ssl_object") is not None
        assert connection.is_idle() and not connection.has_expired()  # a TLS session alive and quiet
        assert stream.get_extra_info("is_readable") is False
        assert stream._stream.get_extra_info("is_readable") is False  # httpcore's own stream agrees
        assert await ask(options) == "Hello there"
        assert server.connections_opened == 1
        with anyio.fail_after(5):
            await server.wait_connections_closed()  # the server ended the idle connection
            # Noticed without a read (once the server's FIN has reached the client's socket):
            # expired (asyncio), or already closed by trio's TLS stream, as with httpcore's own.
            while not (connection.is_closed() or connection.has_expired()):  # noqa: ASYNC110
                await anyio.sleep(0.005)
        assert await ask(options) == "Hello there"
        assert server.connections_opened == 2
