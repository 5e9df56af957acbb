"""``ReplayTransport``: an ``httpx`` transport that answers requests from a cassette, in order,
without any network, streaming the recorded raw chunks unchanged."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from urllib.parse import unquote, urlsplit

import anyio
import anyio.lowlevel
import httpx

from anyagent_httpx._errors import CassetteError

from ._cassette import Cassette, Exchange, RecordedRequest, RecordedResponse
from ._json import NOT_JSON, Json, json_body
from ._redact import is_secret_query_name

__all__ = ["ReplayTransport"]


def _encode_header(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _path(url: str) -> str:
    return unquote(urlsplit(url).path) or "/"


def _query_items(url: httpx.URL | str) -> list[str]:
    query = urlsplit(str(url)).query
    return sorted(item for item in query.split("&") if item and not is_secret_query_name(item.split("=")[0]))


def _short(value: Json) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _same_json(a: Json, b: Json) -> bool:
    """JSON equality: ``1`` equals ``1.0`` but ``true`` equals neither."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _first_difference(recorded: Json, sent: Json, path: str = "") -> tuple[str, str] | None:
    """``(key path, what differs)`` for the first difference between two JSON values, or None."""
    where = path or "the whole body"
    if isinstance(recorded, dict) and isinstance(sent, dict):
        for key in [*recorded, *(k for k in sent if k not in recorded)]:
            child = f"{path}.{key}" if path else str(key)
            if key not in sent:
                return child, "recorded but not sent"
            if key not in recorded:
                return child, f"sent ({_short(sent[key])}) but not recorded"
            found = _first_difference(recorded[key], sent[key], child)
            if found is not None:
                return found
        return None
    if isinstance(recorded, list) and isinstance(sent, list):
        for i, (r, s) in enumerate(zip(recorded, sent, strict=False)):
            found = _first_difference(r, s, f"{path}[{i}]")
            if found is not None:
                return found
        if len(recorded) != len(sent):
            return where, f"recorded {len(recorded)} items, sent {len(sent)}"
        return None
    if isinstance(recorded, dict | list) or isinstance(sent, dict | list) or not _same_json(recorded, sent):
        return where, f"recorded {_short(recorded)}, sent {_short(sent)}"
    return None


class _ReplayStream(httpx.AsyncByteStream):
    """The recorded chunks, one by one (an iterator object, for the reason given above)."""

    def __init__(self, response: RecordedResponse, started: float | None) -> None:
        self._response = response
        self._started = started  # anyio's clock when the request arrived; None: no delays
        self._next = 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        chunks, timings, i = self._response.chunks, self._response.timings, self._next
        if i >= len(chunks):
            raise StopAsyncIteration
        delay = 0.0
        if self._started is not None and timings:
            delay = self._started + timings[i] - anyio.current_time()
        if delay > 0:
            await anyio.sleep(delay)
        else:
            await anyio.lowlevel.checkpoint()
        self._next = i + 1  # only now: a chunk whose wait was cancelled is not skipped
        return chunks[i]


class ReplayTransport(httpx.AsyncBaseTransport):
    """Answers requests from a cassette, in order, without any network.

    Each request must match the next exchange: the same method and URL path (scheme, host and
    port are ignored) and the same query apart from credential-like parameters; with
    ``match_body=True`` also an equal JSON body. The response streams the recorded raw chunks
    unchanged, headers included (``content-encoding`` too, so httpx decodes as it did live);
    with ``realtime=True`` each chunk arrives at its recorded time. A request that does not
    match, or comes after the last exchange, raises ``CassetteError``."""

    def __init__(
        self,
        cassette: Cassette | str | os.PathLike[str],
        *,
        match_body: bool = False,
        realtime: bool = False,
    ) -> None:
        if isinstance(cassette, Cassette):
            self._cassette, self._name = cassette, "the cassette"
        else:
            self._cassette, self._name = Cassette.load(cassette), os.fspath(cassette)
        self._match_body = match_body
        self._realtime = realtime
        self._next = 0

    @property
    def cassette(self) -> Cassette:
        return self._cassette

    @property
    def remaining(self) -> tuple[Exchange, ...]:
        """The exchanges not served yet, in order."""
        return self._cassette.exchanges[self._next :]

    def assert_all_played(self) -> None:
        """Raise ``CassetteError`` unless every exchange was served."""
        remaining = self.remaining
        if remaining:
            total = len(self._cassette.exchanges)
            first = remaining[0].request
            raise CassetteError(
                f"{self._name}: {len(remaining)} of {total} exchanges were not played; "
                f"the first is {first.method} {_path(first.url)}"
            )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        exchanges = self._cassette.exchanges
        what = f"{request.method} {request.url.path}"
        if self._next >= len(exchanges):
            raise CassetteError(
                f"{self._name} has {len(exchanges)} exchange{'s' if len(exchanges) != 1 else ''}, "
                f"all played: none left for request {self._next + 1} ({what})"
            )
        exchange = exchanges[self._next]
        self._check(request, exchange.request, what)
        self._next += 1
        response = exchange.response
        started = anyio.current_time() if self._realtime else None
        return httpx.Response(
            status_code=response.status,
            headers=[(_encode_header(name), _encode_header(value)) for name, value in response.headers],
            stream=_ReplayStream(response, started),
        )

    def _check(self, request: httpx.Request, recorded: RecordedRequest, what: str) -> None:
        number = self._next + 1
        expected = f"{recorded.method} {_path(recorded.url)}"
        prefix = f"{self._name}, exchange {number}: request {what} does not match the recorded {expected}"
        if request.method != recorded.method or request.url.path != _path(recorded.url):
            raise CassetteError(prefix)
        sent_query, recorded_query = _query_items(request.url), _query_items(recorded.url)
        if sent_query != recorded_query:
            raise CassetteError(f"{prefix}: query {'&'.join(sent_query)!r}, recorded {'&'.join(recorded_query)!r}")
        if not self._match_body:
            return
        sent_body, recorded_body = json_body(request.content), json_body(recorded.body)
        if sent_body is NOT_JSON or recorded_body is NOT_JSON:
            if request.content != recorded.body:
                raise CassetteError(f"{prefix}: the bodies differ (not both JSON, compared as bytes)")
            return
        difference = _first_difference(recorded_body, sent_body)
        if difference is not None:
            raise CassetteError(f"{prefix}: the body differs at {difference[0]}: {difference[1]}")

    async def aclose(self) -> None:
        pass
