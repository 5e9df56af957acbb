"""httpcore's pool and streams as ``default_http_client`` builds them: ``SocketBackend`` (streams
that keep their socket for httpcore's readability check) and ``LinearPool`` (httpcore 1.0's
assignment of requests to connections in linear time). Imported when the first
``LazyTLSTransport`` is made, with httpx's transport (which imports httpcore itself)."""

from __future__ import annotations

import select
import socket
import ssl
import sys
from collections.abc import Iterable
from typing import Final, final

import httpcore

__all__ = ["LINEAR_POOL", "LinearPool", "SocketBackend", "SocketStream"]


#: Whether the installed httpcore's pool is the one ``LinearPool`` is held to (httpcore 1.0.x).
LINEAR_POOL: Final = httpcore.__version__.startswith("1.0.")


class LinearPool(httpcore.AsyncConnectionPool):
    """httpcore 1.0's connection pool, its bookkeeping in time linear in the connections.

    httpcore reassigns requests to connections whenever a request starts or ends
    (``_assign_requests_to_connections``). Its test of whether an idle connection is surplus
    builds a list of one entry per open connection just to take its length, once per idle
    connection: with 50 connections open, 2,500 ``is_idle`` calls each time. This pool makes
    the same decisions (a property test holds it to httpcore's own pool on generated pool
    states) keeping that count as it goes:

    * a closed connection is dropped; an expired one is closed; an idle one is closed while the
      pool, counting the connections still in it at that point, holds more than
      ``max_keepalive_connections``;
    * each queued request, in order, gets the first connection able to serve its origin that is
      available; else a new connection when the pool is below ``max_connections``; else a new
      one in place of the first idle connection, which is closed; else it stays queued.
    """

    def _assign_requests_to_connections(self) -> list[httpcore.AsyncConnectionInterface]:
        pool = self._connections
        keepalive = self._max_keepalive_connections
        closing: list[httpcore.AsyncConnectionInterface] = []
        kept: list[httpcore.AsyncConnectionInterface] = []
        left = len(pool)  # connections in the pool as each one is looked at
        for connection in pool:
            if connection.is_closed():
                left -= 1
            elif connection.has_expired() or (connection.is_idle() and left > keepalive):
                left -= 1
                closing.append(connection)
            else:
                kept.append(connection)
        pool[:] = kept

        for waiting in [request for request in self._requests if request.is_queued()]:
            origin = waiting.request.url.origin
            chosen = next((c for c in pool if c.can_handle_request(origin) and c.is_available()), None)
            if chosen is None:
                if len(pool) >= self._max_connections:
                    spare = next((c for c in pool if c.is_idle()), None)
                    if spare is None:
                        continue  # the pool is full and busy: the request waits its turn
                    pool.remove(spare)
                    closing.append(spare)
                chosen = self.create_connection(origin)
                pool.append(chosen)
            waiting.assign_to_connection(chosen)
        return closing


def _readable(sock: object) -> bool:
    """httpcore's ``is_socket_readable``: whether a read would return at once (data, or the
    ``b""`` of a server that hung up); a socket that is gone counts as readable."""
    fileno = getattr(sock, "fileno", None)
    fd = fileno() if callable(fileno) else -1
    if not isinstance(fd, int) or fd < 0:
        return True
    if sys.platform == "win32" or not hasattr(select, "poll"):  # pragma: no cover
        ready, _, _ = select.select([fd], [], [], 0)
        return bool(ready)
    poll = select.poll()
    poll.register(fd, select.POLLIN)
    return bool(poll.poll(0))


#: httpcore's ``SOCKET_OPTION``.
_SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


@final
class SocketBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend (``backend``) with streams that keep their socket.

    httpcore asks every idle connection of a pool whether its socket is readable (a server
    that hung up) each time it hands a connection out, so with many connections open the
    question is asked many times per request; anyio's streams answer it by building their
    whole table of socket attributes (``getpeername()`` included) each time. ``SocketStream``
    looks the socket up once and answers with one ``poll``."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self._backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return SocketStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_unix_socket(path, timeout=timeout, socket_options=socket_options)
        return SocketStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


@final
class SocketStream(httpcore.AsyncNetworkStream):
    """A stream of httpcore's that answers ``get_extra_info("is_readable")`` from the socket it
    looked up when it was made; everything else is the stream's own."""

    __slots__ = ("_socket", "_stream")

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._socket: socket.socket | None = stream.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        return SocketStream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> object:
        if info == "is_readable":
            return _readable(self._socket)
        return self._stream.get_extra_info(info)
