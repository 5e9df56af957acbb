"""``HttpxTransport``: the transport contract over an ``httpx.AsyncClient``.

It accepts the caller's client (never closing or reconfiguring it) or builds one from the
exported defaults and owns it. Bodies stream through ``aiter_raw()`` (gzip and deflate undone
here; a coding not asked for fails the body) or, for responses httpx has already read and
codings a request asked for with its own ``Accept-Encoding``, ``aiter_bytes()``
(content-encoding undone, never decoded as text); every response is closed, shielded from
cancellation, whatever happens.
"""

from __future__ import annotations

import http.cookiejar
import logging
import ssl
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, final

import anyio
import anyio.lowlevel
import httpx
from httpx._client import ClientState

from anyagent_core import Request
from anyagent_core.wire import redact_url
from anyagent_httpx._errors import (
    APIConnectionError,
    APITimeoutError,
    ContentDecodingError,
    UnsupportedEncodingError,
)

from ._base import (
    CLOSE_TIMEOUT,
    OWN_CODINGS,
    ErrorTable,
    TransportResponse,
    decode_pieces,
    decoders_for,
    map_exceptions,
    unasked_coding,
)

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUT",
    "HttpxTransport",
    "LazyTLSTransport",
    "default_http_client",
    "direct_transport",
]

#: Local models can take minutes before the first token of a long prompt, so reads wait long;
#: connecting to a server that is not there fails fast.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=600.0, write=60.0, pool=60.0)

#: Many concurrent streams to one server are the normal case for agents running tools in parallel.
DEFAULT_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=30.0)

#: httpx's failures, for ``map_exceptions``: sending the request and reading the body alike.
_ERRORS: ErrorTable = {
    httpx.TimeoutException: APITimeoutError,
    httpx.TransportError: APIConnectionError,
    httpx.DecodingError: APIConnectionError,  # outside a body's reads (_Body's are ContentDecodingError)
    OSError: APIConnectionError,
}


#: How many parsed URLs an ``HttpxTransport`` keeps (all are forgotten when it is full).
_KNOWN_URLS = 64

_URLS: dict[str, tuple[httpx.URL, str, bool]] = {}
"""Each URL sent to lately, parsed (see ``HttpxTransport._url``): shared by every transport."""

_HEADERS: dict[tuple[object, ...], tuple[httpx.Headers, bool]] = {}
"""The merged headers for direct sending, by the request's headers and the client's (see
``HttpxTransport._build``): shared by every transport, whichever client it has."""

#: httpx releases whose ``AsyncClient.send`` ``HttpxTransport``'s direct sending was checked
#: against (``direct_transport``): 0.28 and 0.29 send alike.
_DIRECT_SEND = httpx.__version__.startswith(("0.28.", "0.29."))

#: httpx's logger, which ``AsyncClient.send`` tells of every request (so does direct sending).
_httpx_logger = logging.getLogger("httpx")

#: Keyword arguments that shape httpx's own transport: with any of them, ``default_http_client``
#: leaves the transport to httpx.
_TRANSPORT_SETTINGS = frozenset({"transport", "verify", "cert", "http1", "http2"})


def default_http_client(**kwargs: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with anyagent's defaults (timeouts, limits, no redirects):
    pass your own settings as keyword arguments, for example ``transport=`` or ``verify=``.

    Unless you pass ``transport=``, ``verify=``, ``cert=``, ``http1=`` or ``http2=``, its
    transport is a ``LazyTLSTransport``: requests to ``http://`` URLs never build a TLS context,
    and the ``https://`` pool (verifying as httpx does by default) is built on first use.

    Proxies named in the environment (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, with
    ``NO_PROXY``) apply as in httpx: while one is set (and ``trust_env`` is not false), the
    client is httpx's own, given no transport of ours, since httpx reads the environment's
    proxies only for a client without ``transport=``. A ``proxy=`` or ``mounts=`` you pass
    applies either way."""
    kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
    limits = kwargs.setdefault("limits", DEFAULT_LIMITS)
    trust_env = kwargs.get("trust_env", True)
    if _TRANSPORT_SETTINGS.isdisjoint(kwargs) and not (trust_env and _environment_proxies()):
        kwargs["transport"] = LazyTLSTransport(limits=limits, trust_env=trust_env)
    return httpx.AsyncClient(**kwargs)


def _environment_proxies() -> bool:
    """Whether the environment names a proxy httpx would use (``urllib``'s reading of it, as
    httpx's; ``NO_PROXY`` alone names none)."""
    return any(scheme in ("http", "https", "all") and url for scheme, url in urllib.request.getproxies().items())


@final
class LazyTLSTransport(httpx.AsyncBaseTransport):
    """httpx's ``AsyncHTTPTransport``, one pool for ``http://`` and one for ``https://``; the
    second (and its TLS context) is built on the first ``https://`` request.

    The ``http://`` pool is given a TLS context that verifies against no certificate at all
    (cheap to make, never used: httpcore wraps only ``https://`` origins in TLS); were it ever
    asked for TLS, verification would fail rather than pass. ``limits`` applies to each pool;
    ``trust_env`` is handed to the ``https://`` pool (``SSL_CERT_FILE``, ``SSL_CERT_DIR``).

    Each pool's connections keep their socket at hand (``SocketBackend``): the check httpcore
    makes of every idle connection whenever it hands out a connection costs one ``poll``."""

    def __init__(self, *, limits: httpx.Limits, trust_env: bool = True) -> None:
        self._limits = limits
        self._trust_env = trust_env
        self._plain = _tuned(httpx.AsyncHTTPTransport(verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), limits=limits))
        self._tls: httpx.AsyncHTTPTransport | None = None
        self._closed = False

    @property
    def tls_built(self) -> bool:
        """Whether the ``https://`` pool (and its TLS context) exists yet."""
        return self._tls is not None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "https":
            return await self._plain.handle_async_request(request)
        tls = self._tls
        if tls is None:
            if self._closed:
                raise RuntimeError("the transport is closed")
            tls = self._tls = _tuned(httpx.AsyncHTTPTransport(limits=self._limits, trust_env=self._trust_env))
        return await tls.handle_async_request(request)

    async def aclose(self) -> None:
        self._closed = True
        await self._plain.aclose()
        if self._tls is not None:
            await self._tls.aclose()


def _tuned(transport: httpx.AsyncHTTPTransport) -> httpx.AsyncHTTPTransport:
    """``transport`` with its httpcore pool connecting through a ``SocketBackend`` and, on an
    httpcore whose pool this was checked against, assigning requests as ``LinearPool`` does
    (left as it is if httpx's transport is not built the way this expects: both only save time)."""
    import httpcore  # imported by httpx's transport already, not by ``import anyagent_httpx``

    from ._httpcore import LINEAR_POOL, LinearPool, SocketBackend

    pool = getattr(transport, "_pool", None)
    if type(pool) is httpcore.AsyncConnectionPool:
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.AsyncNetworkBackend):
            pool._network_backend = SocketBackend(backend)
        if LINEAR_POOL:
            pool.__class__ = LinearPool
    return transport


#: An empty base URL (``AsyncClient.base_url`` when none was given).
_NO_BASE_URL = httpx.URL("")


def direct_transport(client: httpx.AsyncClient) -> httpx.AsyncBaseTransport | None:
    """The transport ``client.send()`` hands each request to, when ``HttpxTransport`` may hand
    requests to it itself (None otherwise): ``client`` is an ``httpx.AsyncClient`` on an httpx
    release this was checked against, with no base URL, query parameters, auth, event hooks,
    mounts (a proxy) or redirects followed (nor a negative ``max_redirects``), so that
    ``send()``'s layers for those have nothing to do. It does not look at the cookie jar or
    whether ``send()`` has opened the client: ``send_directly``'s caller vouches for those (the
    default pool's jar refuses every cookie), and ``_plain_now`` checks them for any other."""
    if not _DIRECT_SEND or type(client) is not httpx.AsyncClient:
        return None
    if client.base_url != _NO_BASE_URL or client.params or client.auth is not None or client.follow_redirects:
        return None
    if client.max_redirects < 0:  # send() fails before the first request
        return None
    hooks = client.event_hooks
    if hooks["request"] or hooks["response"] or getattr(client, "_mounts", None) != {}:
        return None
    transport = getattr(client, "_transport", None)
    return transport if isinstance(transport, httpx.AsyncBaseTransport) else None


def _plain_now(client: httpx.AsyncClient) -> httpx.AsyncBaseTransport | None:
    """``direct_transport(client)`` for a caller's client, checked afresh for each request (its
    settings may change between requests), and only while its cookie jar (a plain
    ``CookieJar``) holds no cookie, so that ``send()`` would add none, and once ``send()`` has
    marked the client opened (its first request goes through ``send()``, which does so)."""
    if getattr(client, "_state", None) is not ClientState.OPENED:
        return None
    jar = client.cookies.jar
    if type(jar) is not http.cookiejar.CookieJar or jar._cookies:  # type: ignore[attr-defined]
        return None
    return direct_transport(client)


class HttpxTransport:
    """Performs exchanges with an ``httpx.AsyncClient``.

    ``HttpxTransport()`` builds and owns a client (closed by ``aclose()`` or ``async with``);
    ``HttpxTransport(http_client=client)`` uses yours and leaves its lifetime to you.
    """

    def __init__(self, *, http_client: httpx.AsyncClient | None = None) -> None:
        self._owns_client = http_client is None
        self._client = default_http_client() if http_client is None else http_client
        self._direct: httpx.AsyncBaseTransport | None = None
        """Where requests go without ``AsyncClient.send()`` (see ``send_directly``)."""
        self._vouched = False
        """Whether ``send_directly`` was called (otherwise the client is checked per request)."""

    def send_directly(self) -> bool:
        """Hand requests to the client's transport without ``AsyncClient.send()``, when
        ``direct_transport`` finds the client fit for it now (the caller vouching for its cookie
        jar and that the client stays as it is): the same request, the same exchange, httpx's
        log line and its redirect bookkeeping, without the layers that have nothing to do for
        such a client. True if it will. Without this call, each request is sent directly while
        ``_plain_now`` finds the client fit for it at that request."""
        self._direct = direct_transport(self._client)
        self._vouched = True
        return self._direct is not None

    def _url(self, url: str) -> tuple[httpx.URL, str, bool]:
        """``url`` parsed (httpx parses a string afresh per request, a ``URL`` it copies),
        redacted, and whether a request to it may be sent directly (an absolute URL without
        credentials, which ``send()`` would turn into basic auth), kept for the next request:
        an agent sends every request to one URL or a few."""
        known = _URLS.get(url)
        if known is None:
            if len(_URLS) >= _KNOWN_URLS:
                _URLS.clear()
            parsed = httpx.URL(url)
            direct = parsed.is_absolute_url and not parsed.userinfo
            known = _URLS[url] = (parsed, redact_url(url), direct)
        return known

    def _build(self, request: Request, parsed: httpx.URL, direct: bool) -> httpx.Request:
        """The ``httpx.Request`` for ``request``: ``client.build_request()``'s, the headers
        merged with the client's (kept per set of headers when sending directly: the merging
        is most of the cost of building), ``Accept-Encoding`` limited to what ``_Body`` decodes."""
        if direct:
            client_headers = self._client.headers
            key = (request.headers, tuple(client_headers._list))  # the client's may change
            known = _HEADERS.get(key)
            if known is None:
                if len(_HEADERS) >= _KNOWN_URLS:
                    _HEADERS.clear()
                headers = httpx.Headers(client_headers)
                headers.update(list(request.headers))
                # Where build_request()'s path puts Accept-Encoding: in its place if the merged
                # headers have it, else after the request's own (set on the request below).
                later = not any(name.lower() == "accept-encoding" for name, _ in request.headers)
                if later and "accept-encoding" in headers:
                    headers["Accept-Encoding"] = "gzip, deflate"
                    later = False
                known = _HEADERS[key] = (headers, later)
            headers, later = known
            http_request = httpx.Request(
                request.method,
                parsed,
                headers=headers,  # copied by the request
                content=request.body,
                extensions={"timeout": self._client.timeout.as_dict()},
            )
            if later:
                http_request.headers["Accept-Encoding"] = "gzip, deflate"
        else:
            http_request = self._client.build_request(
                request.method, parsed, headers=list(request.headers), content=request.body
            )
            if not any(name.lower() == "accept-encoding" for name, _ in request.headers):
                # Only the codings decoded here in bounded pieces (httpx would add br and zstd).
                http_request.headers["Accept-Encoding"] = "gzip, deflate"
        http_request.stream = _RequestBody(request.body)
        return http_request

    async def _send(self, http_request: httpx.Request, transport: httpx.AsyncBaseTransport | None) -> httpx.Response:
        """``client.send(http_request, stream=True)``, or what it does for a client fit for
        direct sending: the exchange, the response tied to its request, httpx's log line, and
        for a redirect the next request (a ``Location`` httpx cannot follow fails as in
        ``send()``), a ``Set-Cookie`` stored in the client's jar as ``send()`` stores it;
        ``send()``'s auth, hooks and redirect loop have nothing to do."""
        client = self._client
        if transport is None or client.is_closed:
            return await client.send(http_request, stream=True)
        try:
            response = await transport.handle_async_request(http_request)
        except httpx.RequestError as exc:
            exc.request = http_request
            raise
        response.request = http_request
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            client.cookies.extract_cookies(response)  # as send() does (it finds nothing to keep otherwise)
        _httpx_logger.info(
            'HTTP Request: %s %s "%s %d %s"',
            http_request.method,
            http_request.url,
            response.http_version,
            response.status_code,
            response.reason_phrase,
        )
        if response.has_redirect_location:
            try:
                response.next_request = client._build_redirect_request(http_request, response)
            except BaseException:
                await response.aclose()
                raise
        return response

    @property
    def http_client(self) -> httpx.AsyncClient:
        return self._client

    def __repr__(self) -> str:
        return f"<HttpxTransport owns_client={self._owns_client}>"

    @asynccontextmanager
    async def exchange(self, request: Request) -> AsyncIterator[TransportResponse]:
        parsed, url, direct = self._url(request.url)
        transport = None
        if direct:
            transport = self._direct if self._vouched else _plain_now(self._client)
        http_request = self._build(request, parsed, transport is not None)
        with map_exceptions(_ERRORS, url=url, response_started=False):
            response = await self._send(http_request, transport)
        body = _Body(response, url, request.headers)
        try:
            yield TransportResponse(status=response.status_code, headers=tuple(response.headers.items()), stream=body)
        finally:
            # httpx closes a response read to its end itself: then there is nothing to await.
            if not (response.is_closed and body._state != "started"):
                with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT):
                    await response.aclose()
                    await body.finish()

    async def aclose(self) -> None:
        """Close the client if this transport built it; a client passed in is left open."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> HttpxTransport:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class _Body:
    """The response body as an async iterator of non-empty chunks, with httpx's errors mapped.

    A class, not an async generator: one left unfinished needs no finalizer (the exchange
    closes the response). A body without a content-coding (or ``identity``) is read raw, as
    httpx's decoding would hand it on unchanged; a gzip or deflate body is read raw and decoded
    here, in pieces of at most ``DECODE_PIECE`` bytes with a checkpoint before each further
    piece (httpx decodes a whole read at once: a compression bomb's read is hundreds of
    megabytes); one that does not decode fails with a ``ContentDecodingError`` naming the
    coding and the offset. A body in another coding fails at its first read
    (``UnsupportedEncodingError``): the request asked for gzip and deflate only, and httpx
    would decode zstd or br unbounded. Left to httpx (``aiter_bytes()``) are a response httpx
    has already read (whose decoded content it keeps) and, when the request named its own
    ``Accept-Encoding``, the codings it asked for (whose decoding errors name the codings,
    without an offset: httpx does not say)."""

    __slots__ = ("_codings", "_decoders", "_done", "_errors", "_iterator", "_pieces", "_refused", "_state", "_url")

    def __init__(self, response: httpx.Response, url: str, request_headers: tuple[tuple[str, str], ...]) -> None:
        codings = response.headers.get_list("content-encoding", split_commas=True)
        # A response already read (a mock transport's, made with its content; one an event hook
        # read) cannot be streamed raw again: httpx hands on the content it decoded and kept.
        own = not response.is_stream_consumed and all(coding.strip().lower() in OWN_CODINGS for coding in codings)
        self._url = url
        self._refused: str | None = None
        if (
            not own
            and not response.is_stream_consumed
            and not any(name.lower() == "accept-encoding" for name, _ in request_headers)
        ):
            self._refused = unasked_coding(codings)
        self._codings = codings
        self._decoders = decoders_for(codings, url=url) if own else []
        self._iterator = response.aiter_raw() if own else response.aiter_bytes()
        self._pieces: Iterator[bytes] | None = None
        self._done = False
        self._errors = map_exceptions(_ERRORS, url=url, response_started=True)  # entered around every read
        self._state = "unstarted"  # then "started", then "finished"

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        self._state = "started"
        try:
            if self._refused is not None:
                raise UnsupportedEncodingError(self._refused, url=self._url)
            with self._errors:
                while True:
                    if self._pieces is not None:
                        piece = next(self._pieces, None)
                        if piece is not None:
                            await anyio.lowlevel.checkpoint()
                            return piece
                        self._pieces = None
                    if self._done:
                        raise StopAsyncIteration
                    try:
                        chunk = await self._iterator.__anext__()
                    except StopAsyncIteration:
                        if not self._decoders:
                            raise
                        self._done = True
                        self._pieces = decode_pieces(self._decoders, b"", final=True)
                        continue
                    except httpx.DecodingError as exc:  # httpx's own decoding (aiter_bytes)
                        coding = ", ".join(self._codings)
                        raise ContentDecodingError(coding, detail=str(exc), url=self._url) from exc
                    if self._decoders:
                        self._pieces = decode_pieces(self._decoders, chunk, final=False)
                    elif chunk:
                        return chunk
        except ContentDecodingError:  # httpx's chain of generators is left suspended: finish() ends it
            raise
        except BaseException:  # the end of the body, a failure or a cancellation
            self._state = "finished"
            raise

    async def finish(self) -> None:
        """Run httpx's body iterator to its end once the response is closed.

        ``aiter_bytes()`` is a chain of async generators (httpx's and httpcore's). One left
        suspended by an early exit is finalized by the event loop when collected, and trio warns
        about each (encode/httpx#3686). With the response closed, the chain yields at most what
        was already buffered and then fails at once, which finishes every generator in it."""
        if self._state != "started":
            return
        self._state = "finished"
        try:
            while True:
                await self._iterator.__anext__()
        except Exception:
            pass


class _RequestBody(httpx.AsyncByteStream):
    """The request body, handed to httpx through a plain iterator.

    httpx's own byte stream iterates through an async generator; an upload cancelled mid-write
    leaves it suspended, and trio warns when it is collected (encode/httpx#3686)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _Once(self._body)


class _Once:
    """An async iterator over one non-empty chunk (or none)."""

    __slots__ = ("_chunk",)

    def __init__(self, chunk: bytes) -> None:
        self._chunk = chunk

    def __aiter__(self) -> _Once:
        return self

    async def __anext__(self) -> bytes:
        chunk, self._chunk = self._chunk, b""
        if not chunk:
            raise StopAsyncIteration
        return chunk
