"""The transport contract: one method, ``exchange(request)``, which the driver calls.

A transport performs one HTTP exchange for a core ``Request`` and knows nothing of the protocol
above it: no SSE, no JSON, no retries. ``HttpxTransport`` and ``H11Transport`` implement it; so
can anything else (aiohttp, a browser fetch, a test double) in one small class::

    class MyTransport:
        @asynccontextmanager
        async def exchange(self, request: Request) -> AsyncIterator[TransportResponse]:
            ...  # send request.method / url / headers / body, read the status and headers
            try:
                yield TransportResponse(status=..., headers=..., stream=body_chunks())
            finally:
                ...  # release the connection; shield any await from cancellation

The contract:

- Entering sends the request and waits for the response head. Failing there raises
  ``APIConnectionError`` (or ``APITimeoutError``) with ``response_started=False``.
- ``stream`` yields the body's bytes as they arrive (content-encoding undone, never ``b""``) and
  ends at the end of the body. Decoding hands up bounded pieces (``decode_pieces``), never one
  unbounded expansion of a read. Failing mid-body raises ``APIConnectionError`` with
  ``response_started=True``. A body in a content-coding the transport did not ask for and
  does not undo raises ``UnsupportedEncodingError`` (an ``APIConnectionError``)
  at its first read, unless the request named its own ``Accept-Encoding``; one that does not
  decode in its coding (corrupt gzip or deflate) raises ``ContentDecodingError`` (an
  ``APIConnectionError`` too, naming the coding and the offset). Neither is retried against
  the same endpoint: the server would send the body so again.
- Exiting releases the connection: kept for reuse only when the body was read to its end,
  closed otherwise (an early exit, an error, a cancellation). Exiting never hangs under
  cancellation: any ``await`` in it runs in a shielded, time-bounded scope.
- No ``timeout=`` arguments: timeouts are the transport's configuration (the ``httpx.AsyncClient``)
  and the caller's cancel scopes.

Failures are translated at the edge by one mapper, ``map_exceptions``, used as a ``with`` around
each step that does I/O; each transport passes its own table of what maps to what.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Protocol, final, runtime_checkable

import attrs

from anyagent_core import Request
from anyagent_core.value import Value
from anyagent_httpx._errors import AnyAgentError, APIConnectionError, ContentDecodingError

__all__ = [
    "CLOSE_TIMEOUT",
    "DECODE_PIECE",
    "OWN_CODINGS",
    "AsyncTransport",
    "Decoder",
    "ErrorTable",
    "TransportFailure",
    "TransportResponse",
    "decode_pieces",
    "decoders_for",
    "map_exceptions",
    "unasked_coding",
]

#: How long closing a connection may take once cancelled (inside a shielded scope).
CLOSE_TIMEOUT = 5.0

#: The most bytes one step of decoding a compressed body produces (then the transport checkpoints).
DECODE_PIECE = 65536

#: The content-codings the transports undo themselves, in bounded pieces (``Decoder``): what they
#: ask for (``Accept-Encoding: gzip, deflate``), and none.
OWN_CODINGS = frozenset({"gzip", "x-gzip", "deflate", "identity", ""})


@attrs.frozen(kw_only=True, repr=False, eq=False)
class TransportResponse(Value):
    """What a transport hands back: the status, the headers and the body as a byte stream."""

    status: int
    headers: tuple[tuple[str, str], ...]
    """Names and values as received (names lower-cased by some transports)."""
    stream: AsyncIterator[bytes] = attrs.field(repr=False)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None


@runtime_checkable
class AsyncTransport(Protocol):
    """Performs one HTTP exchange for a core ``Request``; see the module docstring."""

    def exchange(self, request: Request) -> AbstractAsyncContextManager[TransportResponse]:
        """An async context manager: entering sends ``request`` and yields the response."""
        ...


#: What a transport's failures become: the first key an exception is an instance of picks the error
#: raised (so a subclass, such as ``TimeoutError`` of ``OSError``, is listed before its base).
ErrorTable = Mapping[type[BaseException], type[APIConnectionError]]


class TransportFailure(OSError):
    """A failure a transport detected itself (a deadline passed, the server hung up), with a
    message written for the user: ``map_exceptions`` passes it on as it is."""


@final
class map_exceptions:
    """Translate a transport library's exceptions into ours, at the edge (httpcore's shape).

    An exception that is an instance of a key of ``table`` is raised as
    ``table[key](message, url=url, response_started=response_started) from exc``; the message
    names the library's exception type (a ``TransportFailure``'s message is used as it is).
    Everything else passes through unchanged: cancellation (not an ``Exception``), our own
    errors, ``StopAsyncIteration``. A class rather than a generator-based context manager: it
    is entered around every read of a body."""

    __slots__ = ("_response_started", "_table", "_url")

    def __init__(self, table: ErrorTable, *, url: str | None, response_started: bool) -> None:
        self._table = table
        self._url = url
        self._response_started = response_started

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None or not isinstance(exc, Exception) or isinstance(exc, AnyAgentError):
            return
        for source, target in self._table.items():
            if isinstance(exc, source):
                detail = str(exc) or type(exc).__name__
                message = detail if isinstance(exc, TransportFailure) else f"{type(exc).__name__}: {detail}"
                raise target(message, url=self._url, response_started=self._response_started) from exc


#: The bytes of a zlib header: what tells a zlib-wrapped deflate body from a raw one.
_ZLIB_HEADER = 2


@final
class Decoder:
    """Undoes one content-coding, streaming, in bounded pieces (httpx's ``GZipDecoder`` /
    ``DeflateDecoder``, with a limit on each step's output). Data that does not decode raises
    ``ContentDecodingError`` naming the coding and the offset in its bytes where it failed."""

    __slots__ = ("_coding", "_deflate_fallback", "_held", "_read", "_url", "_zlib")

    def __init__(self, coding: str, *, url: str | None = None) -> None:
        # deflate is zlib-wrapped by the standard, raw in some servers: try wrapped first.
        wbits = zlib.MAX_WBITS | 16 if coding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._zlib = zlib.decompressobj(wbits)
        self._deflate_fallback = coding == "deflate"
        self._held = b""
        """The first byte of a deflate body, until its second comes: the two decide the reading."""
        self._coding = coding
        self._url = url
        self._read = 0
        """Bytes handed to zlib before the current call of ``pieces``."""

    def _decompress(self, data: bytes) -> bytes:
        if not self._deflate_fallback:
            return self._zlib.decompress(data, DECODE_PIECE)
        self._deflate_fallback = False
        wrapped = self._zlib
        try:
            return wrapped.decompress(data, DECODE_PIECE)
        except zlib.error as wrapped_error:
            raw = self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            try:
                return raw.decompress(data, DECODE_PIECE)
            except zlib.error:
                if len(raw.unconsumed_tail) < len(wrapped.unconsumed_tail):
                    raise  # read as raw deflate, the body got further: that reading's error
                self._zlib = wrapped
                raise wrapped_error from None

    def pieces(self, data: bytes, *, final: bool) -> Iterator[bytes]:
        """The decoded bytes of ``data``, in pieces of at most ``DECODE_PIECE`` bytes; with
        ``final``, what the decoder still holds at the end too."""
        if self._deflate_fallback:
            data = self._held + data
            if len(data) < _ZLIB_HEADER and not final:
                self._held = data  # too little to tell a zlib header from raw deflate
                return
            self._held = b""
        read = self._read
        self._read = read + len(data)
        given = data
        try:
            while True:
                out = self._decompress(data)
                tail = self._zlib.unconsumed_tail
                if out:
                    yield out
                elif not tail or tail == data:
                    break
                data = tail
            if final:
                out = self._zlib.flush()
                if out:
                    yield out
        except zlib.error as exc:
            # zlib keeps what it had not read when it failed: the last byte read is the culprit.
            consumed = len(given) - len(self._zlib.unconsumed_tail)
            detail = str(exc).rpartition(": ")[2]
            raise ContentDecodingError(
                self._coding, offset=max(read + consumed - 1, 0), detail=detail, url=self._url
            ) from exc


def unasked_coding(values: Iterable[str]) -> str | None:
    """The first content-coding named by the ``Content-Encoding`` header values ``values`` that
    is not one of ``OWN_CODINGS`` (lower-cased), or None."""
    for value in values:
        for part in value.split(","):
            coding = part.strip().lower()
            if coding not in OWN_CODINGS:
                return coding
    return None


def decoders_for(values: Iterable[str], *, url: str | None = None) -> list[Decoder]:
    """Decoders for the ``Content-Encoding`` header values ``values``, in the order to apply them
    (the reverse of the order the server applied the codings); ``url`` is for their errors.
    Unknown codings are left alone."""
    codings = [part.strip().lower() for value in values for part in value.split(",")]
    return [Decoder(coding, url=url) for coding in reversed(codings) if coding in ("gzip", "x-gzip", "deflate")]


def decode_pieces(decoders: list[Decoder], data: bytes, *, final: bool) -> Iterator[bytes]:
    """``data`` run through ``decoders`` in turn, as bounded pieces (see ``Decoder.pieces``)."""
    if not decoders:
        if data:
            yield data
        return
    head, rest = decoders[0], decoders[1:]
    for piece in head.pieces(data, final=final):
        yield from decode_pieces(rest, piece, final=False)
    if final and rest:
        yield from decode_pieces(rest, b"", final=True)
