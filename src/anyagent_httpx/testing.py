"""A loopback HTTP/1.1 server for tests and benchmarks: an anyio TCP listener and h11, no threads.

::

    async with serve([Reply.sse(body, chunk_size=7)]) as server:
        async with H11Transport() as transport:
            ...  # send requests to server.base_url, then look at server.requests

The handler decides what each request gets: a ``Reply`` (status, headers, body chunks, delays,
cuts), a sequence of them served in order (the last one repeating), or a function of the
``ReceivedRequest``, sync or async. Every body chunk is one write on the socket, so a test
controls the chunking a client sees (as far as TCP keeps writes apart; loopback usually does).

The server speaks keep-alive (several requests per connection), reads request bodies framed by
Content-Length or chunked transfer-encoding, answers HEAD without a body, and counts connections
so tests can assert that a client released everything. A client that goes away mid-response
only ends its own connection, silently. An exception raised by a handler is not caught: it ends
the server and the ``async with`` block, loudly, as a bug in a test should.

The session stores' conformance suite lives here too: ``check_session_store(store)`` runs every
check of ``SESSION_STORE_CHECKS`` on an open ``SessionStore``, ours or yours.
"""

from __future__ import annotations

import http
import inspect
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeAlias, final

import anyio
import anyio.abc
import attrs
import h11
from anyio.streams.tls import TLSStream
from attrs.validators import ge, le, optional

from anyagent_core.value import Value

from ._sessions._conformance import SESSION_STORE_CHECKS, check_session_store

__all__ = [
    "SESSION_STORE_CHECKS",
    "Handler",
    "LoopbackServer",
    "ReceivedRequest",
    "Reply",
    "check_session_store",
    "serve",
]

#: Bytes asked of the socket per read.
_READ_SIZE = 65536

#: After the server ends a connection on purpose (``Connection: close``, a cut), how long it
#: waits for the client to close its end, so that nothing written is lost to an early reset.
_LINGER = 1.0

#: How long a client may take over the TLS handshake.
_HANDSHAKE_TIMEOUT = 10.0

#: Exceptions that mean the client went away or broke the protocol: they end that connection only.
_PEER_GONE: tuple[type[BaseException], ...] = (
    anyio.EndOfStream,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    OSError,
    h11.ProtocolError,
)

_ERROR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


def _header_tuple(value: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(name), str(val)) for name, val in value)


def _bytes_tuple(value: Iterable[bytes]) -> tuple[bytes, ...]:
    chunks = tuple(value)
    for chunk in chunks:
        if not isinstance(chunk, bytes):
            raise TypeError(f"chunks must be bytes, not {type(chunk).__name__}")
    return chunks


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Reply(Value):
    """What the server sends for one request."""

    status: int = attrs.field(default=200, validator=[ge(200), le(599)])
    """The status code (no 1xx: those are not final responses)."""
    headers: tuple[tuple[str, str], ...] = attrs.field(
        default=(("content-type", "text/event-stream"),), converter=_header_tuple
    )
    """Response headers. The server adds the framing (``transfer-encoding`` or ``content-length``)
    unless these already name one, and ``connection: close`` when ``keep_alive`` is False."""
    chunks: tuple[bytes, ...] = attrs.field(default=(), converter=_bytes_tuple)
    """The body, written as these separate writes (one chunk of chunked encoding each)."""
    delay: float = attrs.field(default=0.0, validator=ge(0.0))
    """Seconds to wait before each chunk (the first one included)."""
    head_delay: float = attrs.field(default=0.0, validator=ge(0.0))
    """Seconds to wait before sending the head (status line and headers)."""
    drop_after: int | None = attrs.field(default=None, validator=optional(ge(0)))
    """Cut the connection after this many chunks, before the body is complete (0: right after
    the head). None: send the whole body."""
    drop_before_head: bool = False
    """Read the request, then close the connection without answering at all."""
    content_length: bool = False
    """Frame the body with ``Content-Length`` instead of chunked transfer-encoding."""
    keep_alive: bool = True
    """False: send ``Connection: close`` and close the connection after this response."""
    idle_timeout: float | None = attrs.field(default=None, validator=optional(ge(0.0)))
    """After this response, close the connection (without a word) when no new request starts
    within this many seconds: a server whose keep-alive timeout ends an idle connection."""

    @property
    def body(self) -> bytes:
        """The whole body, as the chunks concatenate."""
        return b"".join(self.chunks)

    @classmethod
    def sse(cls, body: bytes, *, chunk_size: int | None = None, **kwargs: Any) -> Reply:
        """A ``text/event-stream`` reply of ``body``, written ``chunk_size`` bytes at a time
        (None: in one write). Other keyword arguments are ``Reply`` fields."""
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
        step = chunk_size or max(len(body), 1)
        chunks = tuple(body[i : i + step] for i in range(0, len(body), step))
        return cls(chunks=chunks, **kwargs)

    @classmethod
    def json(cls, obj: Any, status: int = 200, **kwargs: Any) -> Reply:
        """A JSON reply with ``Content-Length`` (override with keyword arguments)."""
        kwargs.setdefault("headers", (("content-type", "application/json"),))
        kwargs.setdefault("content_length", True)
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        return cls(status=status, chunks=(body,), **kwargs)

    @classmethod
    def error(
        cls,
        status: int,
        message: str,
        *,
        error_type: str | None = None,
        code: str | int | None = None,
        retry_after: str | None = None,
        **kwargs: Any,
    ) -> Reply:
        """An OpenAI-style error response: ``{"error": {"message", "type", "code"}}``, with a
        ``Retry-After`` header when ``retry_after`` is given."""
        if error_type is None:
            error_type = "server_error" if status >= 500 else _ERROR_TYPES.get(status, "invalid_request_error")
        headers = list(kwargs.pop("headers", (("content-type", "application/json"),)))
        if retry_after is not None:
            headers.append(("retry-after", retry_after))
        payload = {"error": {"message": message, "type": error_type, "code": code}}
        return cls.json(payload, status=status, headers=tuple(headers), **kwargs)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ReceivedRequest(Value):
    """A request as the server received it."""

    method: str
    target: str
    """The path and query, as sent."""
    headers: tuple[tuple[str, str], ...]
    """Names lower-cased, in the order received."""
    body: bytes
    connection: int
    """Which connection it came on: 1 for the server's first, 2 for its second, ..."""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        for key, value in self.headers:
            if key == lowered:
                return value
        return None

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


Handler: TypeAlias = "Callable[[ReceivedRequest], Reply | Awaitable[Reply]] | Sequence[Reply] | Reply"
"""A reply for every request, replies in order (the last repeating), or a function choosing one."""


@final
class LoopbackServer:
    """A running server: where it listens, and what it has seen (for assertions)."""

    def __init__(self, handler: Handler, *, port: int, body_delay: float, ssl_context: ssl.SSLContext | None) -> None:
        self._handler = handler
        self._body_delay = body_delay
        self._ssl_context = ssl_context
        self.port = port
        self.requests: list[ReceivedRequest] = []
        """Every request received, in order."""
        self.connections_opened = 0
        """Connections accepted since the server started."""
        self.open_connections = 0
        """Connections currently open on the server's side."""
        self._all_closed: anyio.Event | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (``https`` with TLS): what a client's ``base_url`` should be."""
        scheme = "http" if self._ssl_context is None else "https"
        return f"{scheme}://127.0.0.1:{self.port}/v1"

    def url(self, path: str = "") -> str:
        """``base_url`` followed by ``path`` (``server.url("/chat/completions")``)."""
        return self.base_url + path

    def __repr__(self) -> str:
        return (
            f"<LoopbackServer port={self.port} requests={len(self.requests)} "
            f"connections_opened={self.connections_opened} open_connections={self.open_connections}>"
        )

    async def wait_connections_closed(self) -> None:
        """Return once no connection is open on the server's side. Bound it with a cancel scope
        (``with anyio.fail_after(5): await server.wait_connections_closed()``)."""
        while self.open_connections:
            if self._all_closed is None or self._all_closed.is_set():
                self._all_closed = anyio.Event()  # shared by every waiter until it is set
            await self._all_closed.wait()

    # ---- one connection ------------------------------------------------------------------

    async def _handle(self, stream: anyio.abc.ByteStream) -> None:
        self.connections_opened += 1
        self.open_connections += 1
        number = self.connections_opened
        try:
            if self._ssl_context is not None:
                with anyio.fail_after(_HANDSHAKE_TIMEOUT):
                    stream = await TLSStream.wrap(
                        stream, server_side=True, ssl_context=self._ssl_context, standard_compatible=False
                    )
            await self._serve_connection(stream, number)
        except _HandlerFailed as failed:
            raise failed.error from None  # the handler's own error, loudly
        except _PEER_GONE:
            pass  # the client went away or spoke nonsense: end this connection, quietly
        finally:
            # Shielded: were the server's own scope cancelled meanwhile, trio would raise
            # Cancelled here and so lose the exception on its way out (a handler's, say).
            with anyio.CancelScope(shield=True):
                await stream.aclose()
            self.open_connections -= 1
            if not self.open_connections and self._all_closed is not None:
                self._all_closed.set()

    async def _serve_connection(self, stream: anyio.abc.ByteStream, number: int) -> None:
        conn = h11.Connection(our_role=h11.SERVER)
        idle_timeout: float | None = None
        while True:
            with anyio.move_on_after(idle_timeout) as idle:
                event = await _next_event(conn, stream)
            if idle.cancelled_caught or isinstance(event, h11.ConnectionClosed):
                return
            if not isinstance(event, h11.Request):
                raise h11.RemoteProtocolError(f"expected a request, got {type(event).__name__}")
            head = event
            if self._body_delay:
                await anyio.sleep(self._body_delay)  # a server slow to read uploads
            body = bytearray()
            while not isinstance(event, h11.EndOfMessage):
                event = await _next_event(conn, stream)
                if isinstance(event, h11.Data):
                    body += event.data
            request = ReceivedRequest(
                method=head.method.decode("latin-1"),
                target=head.target.decode("latin-1"),
                headers=tuple((_text(k), _text(v)) for k, v in head.headers),
                body=bytes(body),
                connection=number,
            )
            self.requests.append(request)
            try:
                reply = await self._reply_for(request)
            except Exception as exc:
                # Not to be taken for the client going away (an OSError, say) and swallowed.
                raise _HandlerFailed(exc) from None
            if reply.drop_before_head or not await _send_reply(conn, stream, reply, head.method):
                await _close_gracefully(stream)
                return
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                await _close_gracefully(stream)  # someone said Connection: close
                return
            conn.start_next_cycle()
            idle_timeout = reply.idle_timeout

    async def _reply_for(self, request: ReceivedRequest) -> Reply:
        handler = self._handler
        if isinstance(handler, Reply):
            return handler
        if callable(handler):
            result = handler(request)
            if inspect.isawaitable(result):
                result = await result
            if not isinstance(result, Reply):
                raise TypeError(f"the handler must return a Reply, not {type(result).__name__}")
            return result
        return handler[min(len(self.requests), len(handler)) - 1]


class _HandlerFailed(Exception):
    """Carries an exception raised by the handler past ``_PEER_GONE``."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


def _text(value: bytes) -> str:
    """A header as text: UTF-8 where it is, Latin-1 otherwise."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


async def _next_event(conn: h11.Connection, stream: anyio.abc.ByteStream) -> Any:
    """The next h11 event, reading from the socket as needed (EOF becomes ``receive_data(b"")``)."""
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        try:
            data = await stream.receive(_READ_SIZE)
        except anyio.EndOfStream:
            data = b""
        conn.receive_data(data)


async def _pause(conn: h11.Connection, stream: anyio.abc.ByteStream, seconds: float) -> None:
    """Sleep ``seconds``, noticing meanwhile if the client hangs up (``EndOfStream`` or a reset
    ends the connection) rather than only at the next write. Anything the client sends (a
    pipelined request) is kept for later."""
    with anyio.move_on_after(seconds):
        while True:
            conn.receive_data(await stream.receive(_READ_SIZE))


async def _send_reply(conn: h11.Connection, stream: anyio.abc.ByteStream, reply: Reply, method: bytes) -> bool:
    """Send ``reply``; False if it was cut on purpose (``drop_after``) and the connection must end."""
    if reply.head_delay:
        await _pause(conn, stream, reply.head_delay)
    headers = list(reply.headers)
    names = {name.lower() for name, _ in headers}
    bodyless = method == b"HEAD" or reply.status in (204, 304)
    if reply.status not in (204, 304) and not names & {"content-length", "transfer-encoding"}:
        if reply.content_length:
            headers.append(("content-length", str(sum(len(chunk) for chunk in reply.chunks))))
        else:
            headers.append(("transfer-encoding", "chunked"))
    if not reply.keep_alive:
        headers.append(("connection", "close"))
    try:
        reason = http.HTTPStatus(reply.status).phrase.encode("ascii")
    except ValueError:
        reason = b""
    response = h11.Response(
        status_code=reply.status,
        headers=[(name.encode("utf-8"), value.encode("utf-8")) for name, value in headers],
        reason=reason,
    )
    await stream.send(_sent(conn, response))
    chunks = () if bodyless else reply.chunks
    for index, chunk in enumerate(chunks):
        if reply.drop_after is not None and index >= reply.drop_after:
            return False
        if reply.delay:
            await _pause(conn, stream, reply.delay)
        if chunk:
            await stream.send(_sent(conn, h11.Data(data=chunk)))
    if reply.drop_after is not None and not bodyless:
        return False
    tail = _sent(conn, h11.EndOfMessage())
    if tail:
        await stream.send(tail)
    return True


def _sent(conn: h11.Connection, event: h11.Response | h11.Data | h11.EndOfMessage) -> bytes:
    data = conn.send(event)
    assert data is not None
    return data


async def _close_gracefully(stream: anyio.abc.ByteStream) -> None:
    """End our side (after everything written has gone out), then give the client a moment to
    close its own, so the kernel has no reason to reset the connection under unread data."""
    with anyio.move_on_after(_LINGER):
        try:
            # TLS has no half-close of its own: end the TCP stream under it (we skip close_notify,
            # as servers often do; clients must cope with that, and ours do).
            await (stream.transport_stream if isinstance(stream, TLSStream) else stream).send_eof()
            while True:
                await stream.receive(_READ_SIZE)
        except _PEER_GONE:
            pass


@asynccontextmanager
async def serve(
    handler: Handler, *, body_delay: float = 0.0, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[LoopbackServer]:
    """Run a ``LoopbackServer`` on 127.0.0.1 (an ephemeral port) for the ``async with`` block.

    ``handler`` chooses each reply (see ``Handler``). ``body_delay`` makes the server wait that
    many seconds after a request's head before reading its body: a server slow to take an
    upload, so that a large request body stalls in the client's writes. ``ssl_context`` (a server
    context holding a certificate for 127.0.0.1) serves ``https``; a failed handshake only ends
    that connection.

    On exit the server stops accepting, closes every connection still open and waits for its
    tasks, under asyncio and trio alike.
    """
    if isinstance(handler, Sequence) and not handler:
        raise ValueError("the handler sequence holds no Reply")
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    server = LoopbackServer(handler, port=port, body_delay=body_delay, ssl_context=ssl_context)
    error: Exception | None = None
    async with listener, anyio.create_task_group() as task_group:
        task_group.start_soon(listener.serve, server._handle, task_group)
        try:
            yield server
        except Exception as exc:
            # Raised again below, outside the task group, so it is not wrapped in a group.
            error = exc
        finally:
            task_group.cancel_scope.cancel()
    if error is not None:
        raise error
