"""``H11Transport``: the transport contract over ``anyio.connect_tcp`` and ``h11``.

The driver loop is httpcore's: h11 owns every byte of HTTP/1.1 framing, and this module only
moves bytes between it and the socket, keeps idle connections for reuse, and translates
failures into ``APIConnectionError`` / ``APITimeoutError``. No tasks are started: everything runs
in the task that calls ``exchange()``.

Pooling. Idle connections are kept per (scheme, host, port), most recently used first. One goes
back to the pool only when its response body was read to the end and h11 says both sides of the
exchange are ``DONE`` (so neither side sent ``Connection: close``); an early exit, an error or a
cancellation closes it instead, in a shielded scope bounded by ``CLOSE_TIMEOUT``. Before reuse a
connection is dropped if it sat idle longer than ``keepalive_expiry`` or its socket is readable
(the server closed it, or sent bytes nobody asked for). A reused connection that fails before a
single byte of response arrives (the server closed it just as we sent) is retried once, on a new
connection; nothing else is retried. ``max_connections_per_host`` bounds the connections to one
origin, idle ones included; a further exchange waits for a free slot.

Timeouts are settings of the transport, applied to each step: connecting (TCP and TLS), each
write of the request, and each read of the response (head and body alike: ``read_timeout`` is the
longest silence tolerated, not a bound on the whole body). Bound a whole exchange with your own
cancel scope.

Content-encoding. Like httpx, the transport asks for ``Accept-Encoding: gzip, deflate`` (unless
the request names its own) and undoes ``gzip`` and ``deflate`` bodies, so both transports hand
the same bytes up. A body in another coding fails at its first read with an
``UnsupportedEncodingError`` naming the coding (it was not asked for); when the request named
its own ``Accept-Encoding``, such a body is passed through untouched. A ``gzip`` or ``deflate``
body that does not decode fails with a ``ContentDecodingError`` naming the coding and the
offset where it failed. Neither is retried against the same endpoint: the server would send
the body so again (see ``anyagent_core.retry``). A compressed read is decoded in pieces of at
most ``DECODE_PIECE`` (64 KiB), one per chunk handed up, with a checkpoint between them: a
compression bomb costs no more memory than a piece, and the caller's size cap and cancel scopes
act between pieces.

TLS. ``https`` URLs are wrapped by anyio's TLS stream with ``ssl_context`` (default: the system's
trust store, ALPN ``http/1.1``). It is created with ``tls_standard_compatible=False``, as httpcore
does: many servers close the socket without a TLS ``close_notify``, which a strict stream reports
as a broken connection, and closing our side then skips the closing handshake (it cannot hang).
Truncation is still detected, because HTTP/1.1 framing (Content-Length or chunked) tells h11
where a body ends; only a body delimited by the connection closing could be cut short unnoticed.
"""

from __future__ import annotations

import select
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import TracebackType
from typing import Any, final
from urllib.parse import urlsplit

import anyio
import anyio.abc
import anyio.lowlevel
import attrs
import h11

from anyagent_core import Request
from anyagent_core.value import Value
from anyagent_core.wire import redact_url
from anyagent_httpx._errors import (
    APIConnectionError,
    APITimeoutError,
    ClientStateError,
    ConfigurationError,
    UnsupportedEncodingError,
)

from ._base import (
    CLOSE_TIMEOUT,
    Decoder,
    ErrorTable,
    TransportFailure,
    TransportResponse,
    decode_pieces,
    decoders_for,
    map_exceptions,
    unasked_coding,
)

__all__ = ["H11Transport", "H11TransportStatistics"]

_DEFAULT_PORTS = {"http": 80, "https": 443}

#: The largest single write of a request body: each write gets its own ``write_timeout``.
_WRITE_SIZE = 65536

#: Request headers the transport writes itself (the framing follows from the body).
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})

#: What failing I/O raises, for ``map_exceptions``: connecting, sending and reading alike.
#: ``TimeoutError`` comes first: it is a subclass of ``OSError`` and maps to ``APITimeoutError``.
_ERRORS: ErrorTable = {
    TimeoutError: APITimeoutError,  # our deadlines (_TimedOut) and the system's
    OSError: APIConnectionError,  # refused, reset, DNS (gaierror), TLS (SSLError), _Disconnected
    anyio.BrokenResourceError: APIConnectionError,
    anyio.ClosedResourceError: APIConnectionError,
    anyio.EndOfStream: APIConnectionError,
    h11.RemoteProtocolError: APIConnectionError,  # the response broke HTTP/1.1 framing
}

_Origin = tuple[str, str, int]


@final
@attrs.frozen(kw_only=True, repr=False, eq=False)
class H11TransportStatistics(Value):
    """A snapshot of an ``H11Transport``'s connections (``transport.statistics()``)."""

    idle_connections: int
    """Connections kept alive in the pool, waiting for reuse."""
    active_connections: int
    """Connections in use by an exchange."""
    connections_opened: int
    """Connections opened since the transport was created."""
    active_exchanges: int
    """``exchange()`` blocks in progress, including those waiting for a free connection slot."""


@final
class H11Transport:
    """Performs exchanges over its own pool of HTTP/1.1 connections (anyio sockets and h11).

    Use it as ``async with H11Transport() as transport:``, or call ``aclose()`` when done;
    both close every idle connection, and a closed transport refuses new exchanges. See the
    module docstring for pooling, timeouts, content-encoding and TLS.
    """

    def __init__(
        self,
        *,
        connect_timeout: float | None = 10.0,
        read_timeout: float | None = 600.0,
        write_timeout: float | None = 60.0,
        max_connections_per_host: int = 50,
        keepalive_expiry: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        read_size: int = 65536,
    ) -> None:
        for name, value in (
            ("connect_timeout", connect_timeout),
            ("read_timeout", read_timeout),
            ("write_timeout", write_timeout),
        ):
            if value is not None and not value > 0:
                raise ConfigurationError(f"{name} must be positive or None, not {value!r}")
        if max_connections_per_host < 1:
            raise ConfigurationError(f"max_connections_per_host must be at least 1, not {max_connections_per_host}")
        if not keepalive_expiry >= 0:
            raise ConfigurationError(f"keepalive_expiry must not be negative, not {keepalive_expiry!r}")
        if read_size < 1:
            raise ConfigurationError(f"read_size must be at least 1, not {read_size}")
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._max_connections = max_connections_per_host
        self._keepalive_expiry = keepalive_expiry
        self._ssl_context = ssl_context
        self._read_size = read_size
        self._idle: dict[_Origin, list[_Connection]] = {}
        # Created on first use, inside a running event loop.
        self._slots: dict[_Origin, anyio.Semaphore] = {}
        self._closed = False
        self._connections_opened = 0
        self._active_connections = 0
        self._active_exchanges = 0

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<H11Transport {state} idle={self._idle_count()} active={self._active_connections}>"

    def statistics(self) -> H11TransportStatistics:
        """How many connections are idle, in use and opened so far; how many exchanges run."""
        return H11TransportStatistics(
            idle_connections=self._idle_count(),
            active_connections=self._active_connections,
            connections_opened=self._connections_opened,
            active_exchanges=self._active_exchanges,
        )

    def _idle_count(self) -> int:
        return sum(len(idle) for idle in self._idle.values())

    # ---- the contract ----------------------------------------------------------------------

    @asynccontextmanager
    async def exchange(self, request: Request) -> AsyncIterator[TransportResponse]:
        """Send ``request`` and yield the response; see ``anyagent_httpx._transports._base``."""
        if self._closed:
            raise ClientStateError("this H11Transport is closed")
        origin, h11_request, own_accept = self._prepare(request)
        url = redact_url(request.url)
        slot = self._slots.get(origin)
        if slot is None:
            slot = self._slots[origin] = anyio.Semaphore(self._max_connections)
        self._active_exchanges += 1
        try:
            await slot.acquire()
            try:
                if self._closed:
                    raise ClientStateError("this H11Transport was closed while the exchange waited for a connection")
                conn, response = await self._start(origin, h11_request, request.body, url)
                codings = [value.decode("latin-1") for name, value in response.headers if name == b"content-encoding"]
                decoders = decoders_for(codings, url=url)
                body = _Body(conn, url, decoders, None if own_accept else unasked_coding(codings))
                try:
                    yield TransportResponse(
                        status=response.status_code,
                        headers=tuple((_text(name), _text(value)) for name, value in response.headers),
                        stream=body,
                    )
                finally:
                    body.closed = True
                    await self._release(conn)
            finally:
                slot.release()
        finally:
            self._active_exchanges -= 1

    async def aclose(self) -> None:
        """Close every idle connection and refuse new exchanges. Connections still in use are
        closed when their exchange ends."""
        self._closed = True
        idle = [conn for connections in self._idle.values() for conn in connections]
        self._idle.clear()
        for conn in idle:
            await conn.aclose()

    async def __aenter__(self) -> H11Transport:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ---- steps -----------------------------------------------------------------------------

    def _prepare(self, request: Request) -> tuple[_Origin, h11.Request, bool]:
        """The origin to connect to and the h11 request head, validated before any I/O, and
        whether the request names its own ``Accept-Encoding``."""
        try:
            parts = urlsplit(request.url)
            port = parts.port
        except ValueError as exc:
            raise ConfigurationError(f"cannot send to {redact_url(request.url)!r}: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise ConfigurationError(f"H11Transport sends http and https URLs only, not {parts.scheme!r}")
        host = parts.hostname
        if not host:
            raise ConfigurationError(f"the URL {redact_url(request.url)!r} names no host")
        origin = (scheme, host, port or _DEFAULT_PORTS[scheme])
        names = {name.lower() for name, _ in request.headers}
        headers: list[tuple[str, str]] = []
        if "host" not in names:
            headers.append(("Host", parts.netloc.rpartition("@")[2]))
        headers.extend((name, value) for name, value in request.headers if name.lower() not in _FRAMING_HEADERS)
        if "accept-encoding" not in names:
            headers.append(("Accept-Encoding", "gzip, deflate"))
        if request.body or request.method.upper() in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(request.body))))
        try:
            h11_request = h11.Request(
                method=request.method.encode("ascii"),
                target=request.target.partition("#")[0].encode("ascii"),  # a fragment stays with the client
                headers=[(name.encode("latin-1"), value.encode("utf-8")) for name, value in headers],
            )
        except (h11.LocalProtocolError, UnicodeEncodeError):
            # Name the culprit, never show a value: it may be a credential.
            raise ConfigurationError(f"the request cannot be sent over HTTP/1.1: {_culprit(request)}") from None
        return origin, h11_request, "accept-encoding" in names

    async def _start(
        self, origin: _Origin, h11_request: h11.Request, body: bytes, url: str
    ) -> tuple[_Connection, h11.Response]:
        """Send the request on a pooled or a new connection and read the response head.

        A pooled connection that fails before any response byte is replaced once by a new one."""
        conn = await self._take_idle(origin)
        for reused in (conn is not None, False):
            if conn is None:
                conn = await self._connect(origin, url)
            try:
                with map_exceptions(_ERRORS, url=url, response_started=False):
                    response = await conn.send_request(h11_request, body)
            except BaseException as exc:
                await self._discard(conn)
                if (
                    reused
                    and conn.received == 0
                    and isinstance(exc, APIConnectionError)
                    and not isinstance(exc, APITimeoutError)
                ):
                    conn = None
                    continue
                raise
            return conn, response
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def _take_idle(self, origin: _Origin) -> _Connection | None:
        """The most recently used idle connection to ``origin`` still fit for a request (closing
        expired or readable ones on the way), or None."""
        now = anyio.current_time()
        stale: list[_Connection] = []
        found: _Connection | None = None
        for key, idle in self._idle.items():
            fresh = [conn for conn in idle if now - conn.idle_since <= self._keepalive_expiry]
            stale.extend(conn for conn in idle if now - conn.idle_since > self._keepalive_expiry)
            while key == origin and fresh and found is None:
                conn = fresh.pop()
                if conn.is_readable():
                    stale.append(conn)
                else:
                    found = conn
            idle[:] = fresh
        if found is not None:
            self._active_connections += 1
        for conn in stale:
            await conn.aclose()
        return found

    async def _connect(self, origin: _Origin, url: str) -> _Connection:
        scheme, host, port = origin
        with (
            map_exceptions(_ERRORS, url=url, response_started=False),
            _deadline(self._connect_timeout, f"connecting to {host}:{port}"),
        ):
            stream: anyio.abc.ByteStream
            if scheme == "https":
                stream = await anyio.connect_tcp(
                    host,
                    port,
                    tls=True,
                    ssl_context=self._default_ssl_context(),
                    tls_hostname=host,
                    tls_standard_compatible=False,
                )
            else:
                stream = await anyio.connect_tcp(host, port)
        self._connections_opened += 1
        self._active_connections += 1
        return _Connection(
            stream,
            origin,
            read_size=self._read_size,
            read_timeout=self._read_timeout,
            write_timeout=self._write_timeout,
        )

    def _default_ssl_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            context = ssl.create_default_context()
            context.set_alpn_protocols(["http/1.1"])
            self._ssl_context = context
        return self._ssl_context

    async def _release(self, conn: _Connection) -> None:
        """Pool ``conn`` if its exchange ended cleanly, else close it."""
        if not self._closed and conn.finish_cycle():
            self._active_connections -= 1
            conn.idle_since = anyio.current_time()
            self._idle.setdefault(conn.origin, []).append(conn)
        else:
            await self._discard(conn)

    async def _discard(self, conn: _Connection) -> None:
        self._active_connections -= 1
        await conn.aclose()


@final
class _Connection:
    """One socket and its h11 state machine; reads and writes with the transport's timeouts."""

    __slots__ = (
        "_eof",
        "_read_size",
        "_read_timeout",
        "_write_timeout",
        "h11",
        "idle_since",
        "origin",
        "received",
        "stream",
    )

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        origin: _Origin,
        *,
        read_size: int,
        read_timeout: float | None,
        write_timeout: float | None,
    ) -> None:
        self.stream = stream
        self.origin = origin
        self.h11 = h11.Connection(our_role=h11.CLIENT)
        self.idle_since = 0.0
        self.received = 0
        """Bytes received in the current exchange."""
        self._eof = False
        self._read_size = read_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout

    async def send_request(self, request: h11.Request, body: bytes) -> h11.Response:
        """Write the request and its body; read up to the final response head."""
        self.received = 0
        try:
            data = _sent(self.h11, request)
            if len(body) <= _WRITE_SIZE:
                # One write for a request that fits (the common case: a JSON body).
                await self._write(data + _sent(self.h11, h11.Data(data=body)) if body else data)
            else:
                await self._write(data)
                for start in range(0, len(body), _WRITE_SIZE):
                    await self._write(_sent(self.h11, h11.Data(data=body[start : start + _WRITE_SIZE])))
            tail = _sent(self.h11, h11.EndOfMessage())
            if tail:
                await self._write(tail)
        except BaseException:
            self.h11.send_failed()
            raise
        while True:
            event = await self.next_event("waiting for the response head")
            if isinstance(event, h11.Response):
                return event
            if not isinstance(event, h11.InformationalResponse):  # pragma: no cover - h11 allows nothing else
                raise h11.RemoteProtocolError(f"expected a response head, got {type(event).__name__}")

    async def _write(self, data: bytes) -> None:
        with _deadline(self._write_timeout, "sending the request"):
            await self.stream.send(data)

    async def next_event(self, doing: str) -> Any:
        """The next h11 event, reading from the socket as needed."""
        while True:
            waiting = self.h11.their_state is h11.SEND_RESPONSE  # h11 moves to ERROR as it raises
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                if waiting and self._eof:
                    where = "without sending a response" if self.received == 0 else "in the middle of the response head"
                    raise _Disconnected(f"the server closed the connection {where}") from exc
                raise
            if event is not h11.NEED_DATA:
                return event
            with _deadline(self._read_timeout, doing):
                try:
                    data = await self.stream.receive(self._read_size)
                except anyio.EndOfStream:
                    data = b""
            self.received += len(data)
            self._eof = not data
            self.h11.receive_data(data)

    def finish_cycle(self) -> bool:
        """Whether both sides finished the exchange and the connection can carry another (then
        it is reset for the next one). An unread end of an empty body, already buffered, counts
        as read."""
        if self.h11.their_state is h11.SEND_BODY:
            try:
                if not isinstance(self.h11.next_event(), h11.EndOfMessage):
                    return False
            except h11.ProtocolError:
                return False
        if self.h11.our_state is not h11.DONE or self.h11.their_state is not h11.DONE:
            return False
        self.h11.start_next_cycle()
        return True

    def is_readable(self) -> bool:
        """Whether the idle socket has something to read: EOF (the server closed it) or bytes
        nobody asked for. Either way it must not carry another request."""
        sock = self.stream.extra(anyio.abc.SocketAttribute.raw_socket, None)
        if sock is None:
            return False
        fd = sock.fileno()
        if fd < 0:
            return True
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([fd], [], [], 0)  # pragma: no cover - Windows
        return bool(readable)

    async def aclose(self) -> None:
        """Close the socket: shielded from cancellation, and never for longer than ``CLOSE_TIMEOUT``."""
        with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT):
            await self.stream.aclose()


class _Disconnected(TransportFailure):
    """EOF where a response head should have been (mapped to ``APIConnectionError``)."""


class _TimedOut(TransportFailure, TimeoutError):
    """A connect, write or read deadline passed (mapped to ``APITimeoutError``)."""


@final
class _Body:
    """The response body as an async iterator of non-empty chunks, decoded, errors mapped.

    A class, not an async generator: one left unfinished needs no finalizer (the exchange
    closes or pools the connection). A compressed read is decoded in pieces of at most
    ``DECODE_PIECE`` bytes, one per ``__anext__`` with a checkpoint before each further piece:
    a compression bomb arrives as many small chunks the caller can count, cap and cancel."""

    __slots__ = ("_conn", "_decoders", "_done", "_pieces", "_refused", "_url", "closed")

    def __init__(self, conn: _Connection, url: str, decoders: list[Decoder], refused: str | None) -> None:
        self._conn = conn
        self._url = url
        self._decoders = decoders
        self._refused = refused
        """A content-coding not asked for (``UnsupportedEncodingError`` at the first read), or None."""
        self._done = False
        self._pieces: Iterator[bytes] | None = None
        self.closed = False

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        if self.closed:
            raise ClientStateError("the response body was read after its exchange ended")
        if self._refused is not None:
            raise UnsupportedEncodingError(self._refused, url=self._url)
        while True:
            if self._pieces is not None:
                piece = next(self._pieces, None)  # a corrupt body raises ContentDecodingError
                if piece is not None:
                    await anyio.lowlevel.checkpoint()
                    return piece
                self._pieces = None
            if self._done:
                raise StopAsyncIteration
            with map_exceptions(_ERRORS, url=self._url, response_started=True):
                event = await self._conn.next_event("reading the response body")
            if isinstance(event, h11.Data):
                data = bytes(event.data)
                if not self._decoders:
                    if data:
                        return data
                    continue
                self._pieces = decode_pieces(self._decoders, data, final=False)
            elif isinstance(event, h11.EndOfMessage):
                self._done = True
                if self._decoders:
                    self._pieces = decode_pieces(self._decoders, b"", final=True)
            else:  # pragma: no cover - h11 sends nothing else inside a body
                raise APIConnectionError(
                    f"unexpected {type(event).__name__} in the response body", url=self._url, response_started=True
                )


def _culprit(request: Request) -> str:
    """What h11 refused in ``request``, described without any header value."""
    for name, value in request.headers:
        try:
            h11.Request(method=b"GET", target=b"/", headers=[(b"Host", b"x"), (name.encode("latin-1"), value.encode())])
        except (h11.LocalProtocolError, UnicodeEncodeError):
            return f"header {name!r} has a name or value HTTP/1.1 does not allow"
    return f"the method {request.method!r} or the path is not plain ASCII, or not valid HTTP"


def _text(value: bytes) -> str:
    """A header name or value as text: UTF-8 where it is, Latin-1 otherwise."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _sent(conn: h11.Connection, event: h11.Request | h11.Data | h11.EndOfMessage) -> bytes:
    data = conn.send(event)
    assert data is not None
    return data


@contextmanager
def _deadline(seconds: float | None, doing: str) -> Iterator[None]:
    """Like ``anyio.fail_after``, with a ``TimeoutError`` (``_TimedOut``) that says what took too long."""
    if seconds is None:
        yield
        return
    with anyio.move_on_after(seconds) as scope:
        yield
    if scope.cancelled_caught:
        raise _TimedOut(f"timed out {doing} (after {seconds:g} s)")
