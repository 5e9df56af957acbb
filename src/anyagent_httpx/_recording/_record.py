"""``RecordingTransport``: an ``httpx`` transport that forwards requests to an inner one and
records each exchange, the raw response chunks and their arrival times included."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping

import httpx

from ._cassette import Cassette, Exchange, Headers, RecordedRequest, RecordedResponse
from ._redact import redact_exchange

__all__ = ["RecordingTransport"]


def _decode_headers(headers: httpx.Headers) -> Headers:
    # Raw bytes as ISO-8859-1: lossless, and encoded back the same way on replay.
    return tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in headers.raw)


class _RecordingStream(httpx.AsyncByteStream):
    """Passes the inner stream's chunks through, noting each one and when it arrived."""

    def __init__(
        self, inner: httpx.AsyncByteStream, started: float, finish: Callable[[_RecordingStream], None]
    ) -> None:
        self._inner = inner
        self._started = started
        self._finish = finish
        self._finished = False
        self._iterator: AsyncIterator[bytes] | None = None
        self.chunks: list[bytes] = []
        self.timings: list[float] = []

    # An iterator object rather than an async generator: a response abandoned half-read leaves
    # no generator of ours for the garbage collector to finalise (trio warns about those).
    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._iterator is None:
            self._iterator = aiter(self._inner)
        return self

    async def __anext__(self) -> bytes:
        if self._iterator is None:
            self._iterator = aiter(self._inner)
        try:
            chunk = await anext(self._iterator)
        except StopAsyncIteration:
            raise
        except BaseException:
            self._done()  # record what arrived before the failure, then let it propagate
            raise
        self.chunks.append(bytes(chunk))
        self.timings.append(round(time.perf_counter() - self._started, 6))
        return chunk

    async def aclose(self) -> None:
        try:
            if isinstance(self._iterator, AsyncGenerator):
                await self._iterator.aclose()  # the inner stream's generator, if it is one
            await self._inner.aclose()
        finally:
            self._done()

    def _done(self) -> None:
        if not self._finished:
            self._finished = True
            self._finish(self)


class RecordingTransport(httpx.AsyncBaseTransport):
    """Forwards requests to ``inner`` and records each exchange, raw chunks included.

    An exchange is recorded when its response is closed, whether or not it was read to the end
    (what arrived is recorded; a stream cut by an error is recorded up to the error, which
    propagates). Requests that get no response are not recorded. ``inner`` defaults to a new
    ``httpx.AsyncHTTPTransport``, which ``aclose()`` closes; an ``inner`` passed in is not closed.
    ``secrets`` are replaced by ``<redacted>`` wherever they appear (see ``redact_exchange``)."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None, *, secrets: Iterable[str] = ()) -> None:
        if isinstance(secrets, str):
            raise TypeError("secrets must be an iterable of strings, not a single string")
        self._secrets = tuple(secrets)
        self._owns_inner = inner is None
        self._inner = httpx.AsyncHTTPTransport() if inner is None else inner
        self._exchanges: list[Exchange] = []

    @property
    def exchanges(self) -> tuple[Exchange, ...]:
        """The exchanges recorded so far (redacted), in the order their responses were closed."""
        return tuple(self._exchanges)

    def cassette(self, *, meta: Mapping[str, str] | None = None) -> Cassette:
        """The exchanges so far as a ``Cassette``, with ``meta`` in its header (see ``Cassette.meta``)."""
        return Cassette(self.exchanges, meta=meta or {})

    def save(self, path: str | os.PathLike[str], *, meta: Mapping[str, str] | None = None) -> None:
        """Write the cassette to ``path`` (atomically; the directory must exist), with ``meta``
        in its header (what the run was made with, e.g. ``{"cwd": ...}``; not redacted)."""
        self.cassette(meta=meta).dump(path)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        recorded = RecordedRequest(
            method=request.method,
            url=str(request.url),
            headers=_decode_headers(request.headers),
            body=request.content,
        )
        started = time.perf_counter()
        response = await self._inner.handle_async_request(request)
        status, headers = response.status_code, _decode_headers(response.headers)

        def finish(stream: _RecordingStream) -> None:
            exchange = Exchange(recorded, RecordedResponse(status, headers, stream.chunks, stream.timings))
            self._exchanges.append(redact_exchange(exchange, self._secrets))

        if not isinstance(response.stream, httpx.AsyncByteStream):
            raise TypeError(f"the inner transport returned a response with a sync stream ({response.stream!r})")
        response.stream = _RecordingStream(response.stream, started, finish)
        return response

    async def aclose(self) -> None:
        if self._owns_inner:
            await self._inner.aclose()
