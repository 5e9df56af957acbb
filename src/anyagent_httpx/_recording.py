"""Recording HTTP exchanges to a cassette, and replaying them, at the ``httpx`` transport level.

A cassette is a JSON Lines file: a header line, then one line per exchange::

    {"anyagent_cassette":1,"recorded_with":"anyagent 0.1.0"}
    {"request":{"body":{...},"headers":[[name,value],...],"method":"POST","url":"..."},
     "response":{"chunks":["data: ...\\n\\n",{"base64":"..."}],"headers":[...],"status":200,"timings":[0.01]}}

(one exchange per line; wrapped here). ``chunks`` are the raw response bytes exactly as they
arrived, before content decoding, with their boundaries: replaying them reproduces the chunking
the code under test saw live. ``RecordingTransport`` writes them, ``ReplayTransport`` serves them;
both plug in through ``httpx.AsyncClient(transport=...)``. Everything written goes through
``redact_exchange`` first: credentials are removed, and secret values are replaced by
``<redacted>`` wherever they appear. See docs/recording.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
import tempfile
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, unquote_plus, urlsplit, urlunsplit

import anyio
import anyio.lowlevel
import attrs
import httpx

from anyagent_core import __version__

from ._errors import CassetteError

__all__ = [
    "Cassette",
    "Exchange",
    "RecordedRequest",
    "RecordedResponse",
    "RecordingTransport",
    "ReplayTransport",
    "redact_exchange",
]

#: The format version written in the header line; ``Cassette.load`` reads only this one.
CASSETTE_VERSION = 1
#: What every secret value is replaced by.
REDACTED = "<redacted>"

Headers = tuple[tuple[str, str], ...]
_Json = Any  # a value json.loads returns

# --------------------------------------------------------------------------------------------
# Value types


def _headers(value: Iterable[Sequence[str]]) -> Headers:
    pairs = tuple((pair[0], pair[1]) for pair in value)
    for pair in pairs:
        if not (isinstance(pair[0], str) and isinstance(pair[1], str)):
            raise TypeError(f"header names and values must be str, got {pair!r}")
    return pairs


def _chunks(value: Iterable[bytes]) -> tuple[bytes, ...]:
    chunks = tuple(value)
    for chunk in chunks:
        if not isinstance(chunk, bytes):
            raise TypeError(f"chunks must be bytes, got {type(chunk).__name__}")
    return chunks


def _timings(value: Iterable[float]) -> tuple[float, ...]:
    timings = tuple(float(t) for t in value)
    for t in timings:
        if not (math.isfinite(t) and t >= 0):
            raise ValueError(f"timings must be finite and not negative, got {t!r}")
    return timings


@attrs.frozen
class RecordedRequest:
    """A request as recorded (after redaction)."""

    method: str
    url: str
    headers: Headers = attrs.field(converter=_headers)
    body: bytes = attrs.field(repr=lambda body: f"<{len(body)} bytes>")


@attrs.frozen
class RecordedResponse:
    """A response as received: status, headers and the raw body chunks, before content decoding."""

    status: int
    headers: Headers = attrs.field(converter=_headers)
    chunks: tuple[bytes, ...] = attrs.field(converter=_chunks)
    timings: tuple[float, ...] = attrs.field(default=(), converter=_timings)
    """Seconds from sending the request to the arrival of each chunk: one per chunk, or none."""

    @timings.validator
    def _check_timings(self, attribute: attrs.Attribute[tuple[float, ...]], value: tuple[float, ...]) -> None:
        if value and len(value) != len(self.chunks):
            raise ValueError(f"{len(value)} timings for {len(self.chunks)} chunks")

    @property
    def body(self) -> bytes:
        """The raw body: the chunks joined (still content-encoded, as on the wire)."""
        return b"".join(self.chunks)


@attrs.frozen
class Exchange:
    """One request and the response it received."""

    request: RecordedRequest
    response: RecordedResponse


def _exchanges(value: Iterable[Exchange]) -> tuple[Exchange, ...]:
    exchanges = tuple(value)
    for exchange in exchanges:
        if not isinstance(exchange, Exchange):
            raise TypeError(f"a cassette holds Exchange objects, got {type(exchange).__name__}")
    return exchanges


@attrs.frozen
class Cassette:
    """Recorded exchanges, in the order they completed. ``dumps``/``loads`` give the file format."""

    exchanges: tuple[Exchange, ...] = attrs.field(converter=_exchanges)

    @classmethod
    def loads(cls, text: str, *, source: str = "<cassette>") -> Cassette:
        """Parse a cassette's text; a ``CassetteError`` names ``source``, the line and the fault."""
        return cls(tuple(_parse(text, source)))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Cassette:
        """Read and validate a cassette file."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise CassetteError(f"{os.fspath(path)}: cannot read the cassette: {exc}") from exc
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise CassetteError(f"{os.fspath(path)}, line {line}: not valid UTF-8") from exc
        return cls.loads(text, source=os.fspath(path))

    def dumps(self) -> str:
        """The cassette as text: the header line, then one line per exchange (redacted)."""
        header = json.dumps(
            {"anyagent_cassette": CASSETTE_VERSION, "recorded_with": f"anyagent {__version__}"},
            sort_keys=True,
            separators=(",", ":"),
        )
        lines = [header] + [_dump_exchange(redact_exchange(exchange)) for exchange in self.exchanges]
        return "\n".join(lines) + "\n"

    def dump(self, path: str | os.PathLike[str]) -> None:
        """Write the cassette atomically (a temporary file beside ``path``, then ``os.replace``)."""
        target = Path(path)
        data = self.dumps().encode("utf-8")
        try:
            mode = target.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.chmod(temporary, mode)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


# --------------------------------------------------------------------------------------------
# Redaction

_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "api-key", "x-api-key"})
_SECRET_HEADER_WORDS = ("key", "token", "secret", "auth", "cookie", "signature", "password")
_SECRET_RESPONSE_HEADERS = frozenset({"set-cookie"})
_SECRET_QUERY_WORDS = ("key", "token", "sig", "secret", "auth", "password")
#: Values of removed headers and parameters shorter than this are not searched for elsewhere:
#: they would match ordinary text ("true", "1"). Secrets passed explicitly are always searched for.
MIN_DERIVED_SECRET_LENGTH = 6


def _is_secret_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_HEADERS or any(word in lowered for word in _SECRET_HEADER_WORDS)


def _is_secret_query_name(name: str) -> bool:
    lowered = unquote_plus(name).lower()
    return any(word in lowered for word in _SECRET_QUERY_WORDS)


def _header_secrets(name: str, value: str) -> list[str]:
    """The secret values inside a removed header's value: the value itself and its parts."""
    found = [value.strip()]
    lowered = name.lower()
    if lowered in ("authorization", "proxy-authorization"):
        scheme, _, credentials = value.strip().partition(" ")
        found.append(credentials.strip())
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                pass
            else:
                found += [decoded, *decoded.split(":", 1)]
    elif lowered == "set-cookie":
        found.append(value.split(";")[0].partition("=")[2].strip())
    elif "cookie" in lowered:
        found += [part.partition("=")[2].strip() for part in value.split(";")]
    return found


def _url_secrets(url: str) -> list[str]:
    parts = urlsplit(url)
    found: list[str] = []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        user, _, password = userinfo.partition(":")
        found += [unquote(user), unquote(password), userinfo]
    for item in parts.query.split("&"):
        name, _, value = item.partition("=")
        if value and _is_secret_query_name(name):
            found += [value, unquote_plus(value)]
    return found


def _clean_url(url: str) -> str:
    """``url`` without user info, credential-like query parameters and fragment."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[1] if "@" in parts.netloc else parts.netloc
    query = "&".join(item for item in parts.query.split("&") if item and not _is_secret_query_name(item.split("=")[0]))
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class _Secrets:
    """Replaces every occurrence of the secret values, longest first, in text, bytes and JSON."""

    def __init__(self, values: Iterable[str]) -> None:
        ordered = sorted({v for v in values if v}, key=lambda v: (-len(v), v))
        self.active = bool(ordered)
        self._text = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None
        self._bytes = re.compile(b"|".join(re.escape(v.encode("utf-8")) for v in ordered)) if ordered else None

    def text(self, value: str) -> str:
        return self._text.sub(REDACTED, value) if self._text is not None else value

    def chunks(self, chunks: Sequence[bytes]) -> tuple[bytes, ...]:
        """Replace secrets in the concatenated chunks, keeping every other byte's chunk: a secret
        split across chunks becomes one ``<redacted>`` in the chunk where it started."""
        if self._bytes is None:
            return tuple(chunks)
        joined = b"".join(chunks)
        matches = [m.span() for m in self._bytes.finditer(joined)]
        if not matches:
            return tuple(chunks)
        placeholder = REDACTED.encode()
        out: list[bytes] = []
        pos = index = 0
        for chunk in chunks:
            start, end = pos, pos + len(chunk)
            pos = end
            piece = bytearray()
            cursor = start
            while index < len(matches) and matches[index][0] < end:
                match_start, match_end = matches[index]
                if match_start >= start:
                    piece += joined[cursor:match_start] + placeholder
                cursor = min(match_end, end)
                if match_end > end:
                    break
                index += 1
            piece += joined[cursor:end]
            out.append(bytes(piece))
        return tuple(out)

    def json(self, value: _Json) -> _Json:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, dict):
            return {self.text(key): self.json(item) for key, item in value.items()}
        return value

    def body(self, body: bytes) -> bytes:
        if not self.active:
            return body
        (body,) = self.chunks([body])
        value = _json_body(body)
        if value is not _NOT_JSON:
            redacted = self.json(value)
            if redacted != value:
                return _encode_json(redacted).encode("utf-8")
        return body


def redact_exchange(exchange: Exchange, secrets: Iterable[str] = ()) -> Exchange:
    """``exchange`` as it may be written: the only redaction, applied to everything recorded.

    Removed: request headers named ``authorization``, ``proxy-authorization``, ``cookie``,
    ``api-key``, ``x-api-key`` or containing ``key``, ``token``, ``secret``, ``auth``, ``cookie``,
    ``signature`` or ``password``; the response's ``set-cookie``; the URL's user info, fragment
    and query parameters whose name contains ``key``, ``token``, ``sig``, ``secret``, ``auth`` or
    ``password``. Then every secret value (``secrets``, a bearer token, the value of a removed
    header or parameter) is replaced by ``<redacted>`` in the URL, headers, body and chunks.
    Applying it twice changes nothing more."""
    request, response = exchange.request, exchange.response
    found = [s for s in secrets if s]
    derived = _url_secrets(request.url)
    request_headers: list[tuple[str, str]] = []
    for name, value in request.headers:
        if _is_secret_header(name):
            derived += _header_secrets(name, value)
        else:
            request_headers.append((name, value))
    response_headers: list[tuple[str, str]] = []
    for name, value in response.headers:
        if name.lower() in _SECRET_RESPONSE_HEADERS:
            derived += _header_secrets(name, value)
        else:
            response_headers.append((name, value))
    found += [s for s in derived if len(s) >= MIN_DERIVED_SECRET_LENGTH]
    replace = _Secrets(found)

    body = replace.body(request.body)
    chunks = replace.chunks(response.chunks)

    def headers(pairs: list[tuple[str, str]], length: int | None) -> Headers:
        out: list[tuple[str, str]] = []
        for name, value in pairs:
            if length is not None and name.lower() == "content-length":
                value = str(length)  # redaction changed the body's length: keep the header true
            out.append((replace.text(name), replace.text(value)))
        return tuple(out)

    body_changed = body != request.body
    chunks_changed = chunks != response.chunks
    return Exchange(
        RecordedRequest(
            method=request.method,
            url=replace.text(_clean_url(request.url)),
            headers=headers(request_headers, len(body) if body_changed else None),
            body=body,
        ),
        RecordedResponse(
            status=response.status,
            headers=headers(response_headers, sum(map(len, chunks)) if chunks_changed else None),
            chunks=chunks,
            timings=response.timings,
        ),
    )


# --------------------------------------------------------------------------------------------
# The file format

_NOT_JSON: Any = object()


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: Python reads it as inf, which JSON cannot write back
        raise ValueError(f"{text} is out of range")
    return value


def _loads(text: str) -> _Json:
    """Strict JSON: no NaN or Infinity, no number that overflows a float."""
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)


def _json_body(body: bytes) -> _Json:
    """The body's JSON value, or ``_NOT_JSON``."""
    try:
        return _loads(body.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return _NOT_JSON


def _encode_json(value: _Json, *, sort_keys: bool = False) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys, allow_nan=False)


def _body_to_json(body: bytes) -> _Json:
    """A request body as written: ``null`` when empty, the JSON value when it is JSON (its keys
    in the order sent), else ``{"text": ...}``, or ``{"base64": ...}`` when it is not UTF-8."""
    if not body:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode("ascii")}
    value = _json_body(body)
    # JSON null and objects shaped like the two wrappers are kept as text, so loading is unambiguous.
    ambiguous = value is None or (
        isinstance(value, dict) and len(value) == 1 and ("text" in value or "base64" in value)
    )
    if value is _NOT_JSON or ambiguous:
        return {"text": text}
    return value


def _chunk_to_json(chunk: bytes) -> _Json:
    try:
        return chunk.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(chunk).decode("ascii")}


def _dump_exchange(exchange: Exchange) -> str:
    """One line; the cassette's own keys sorted, a JSON body's keys in the order they were sent."""
    request, response = exchange.request, exchange.response

    def enc(value: _Json) -> str:
        return _encode_json(value, sort_keys=True)

    return (
        '{"request":{'
        f'"body":{_encode_json(_body_to_json(request.body))},'
        f'"headers":{enc([list(pair) for pair in request.headers])},'
        f'"method":{enc(request.method)},'
        f'"url":{enc(request.url)}'
        '},"response":{'
        f'"chunks":{enc([_chunk_to_json(chunk) for chunk in response.chunks])},'
        f'"headers":{enc([list(pair) for pair in response.headers])},'
        f'"status":{enc(response.status)},'
        f'"timings":{enc(list(response.timings))}'
        "}}"
    )


class _LineError(Exception):
    """What is wrong with one line; ``_parse`` adds the file and line number."""


_T = TypeVar("_T")


_KIND_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "an object"}


def _field(obj: dict[str, _Json], key: str, kind: type[_T], where: str) -> _T:
    if key not in obj:
        raise _LineError(f"{where} has no {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _LineError(f"{where}.{key} must be {_KIND_NAMES.get(kind, kind.__name__)}, got {_describe(value)}")
    return value


def _describe(value: _Json) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_keys(obj: dict[str, _Json], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise _LineError(f"{where} has unknown key(s) {', '.join(map(repr, unknown))}")


def _headers_from_json(value: list[_Json], where: str) -> Headers:
    pairs: list[tuple[str, str]] = []
    for i, pair in enumerate(value):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise _LineError(f"{where}[{i}] must be a [name, value] pair of strings, got {_describe(pair)}")
        pairs.append((pair[0], pair[1]))
    return tuple(pairs)


def _base64(value: _Json, where: str) -> bytes:
    if not isinstance(value, str):
        raise _LineError(f"{where}.base64 must be str, got {_describe(value)}")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise _LineError(f"{where}.base64 is not valid base64 ({exc})") from None


def _body_from_json(value: _Json) -> bytes:
    if value is None:
        return b""
    if isinstance(value, dict) and len(value) == 1 and "text" in value:
        if not isinstance(value["text"], str):
            raise _LineError(f"request.body.text must be str, got {_describe(value['text'])}")
        return value["text"].encode("utf-8")
    if isinstance(value, dict) and len(value) == 1 and "base64" in value:
        return _base64(value["base64"], "request.body")
    return _encode_json(value).encode("utf-8")


def _chunk_from_json(value: _Json, where: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and set(value) == {"base64"}:
        return _base64(value["base64"], where)
    raise _LineError(f'{where} must be a string or {{"base64": ...}}, got {_describe(value)}')


def _exchange_from_json(obj: _Json) -> Exchange:
    if not isinstance(obj, dict):
        raise _LineError(f"an exchange must be a JSON object, got {_describe(obj)}")
    _check_keys(obj, ("request", "response"), "the exchange")
    request = _field(obj, "request", dict, "the exchange")
    response = _field(obj, "response", dict, "the exchange")
    _check_keys(request, ("method", "url", "headers", "body"), "request")
    _check_keys(response, ("status", "headers", "chunks", "timings"), "response")
    if "body" not in request:
        raise _LineError("request has no 'body'")
    status = _field(response, "status", int, "response")
    if not 100 <= status <= 999:
        raise _LineError(f"response.status must be an HTTP status, got {status}")
    chunks = tuple(
        _chunk_from_json(c, f"response.chunks[{i}]") for i, c in enumerate(_field(response, "chunks", list, "response"))
    )
    timings: list[_Json] = _field(response, "timings", list, "response") if "timings" in response else []
    for i, t in enumerate(timings):
        if isinstance(t, bool) or not isinstance(t, int | float) or not (math.isfinite(t) and t >= 0):
            raise _LineError(f"response.timings[{i}] must be a non-negative number, got {_describe(t)}")
    if timings and len(timings) != len(chunks):
        raise _LineError(f"response has {len(chunks)} chunks but {len(timings)} timings")
    return Exchange(
        RecordedRequest(
            method=_field(request, "method", str, "request"),
            url=_field(request, "url", str, "request"),
            headers=_headers_from_json(_field(request, "headers", list, "request"), "request.headers"),
            body=_body_from_json(request["body"]),
        ),
        RecordedResponse(
            status=status,
            headers=_headers_from_json(_field(response, "headers", list, "response"), "response.headers"),
            chunks=chunks,
            timings=tuple(float(t) for t in timings),
        ),
    )


def _check_header(obj: _Json) -> None:
    if not isinstance(obj, dict) or "anyagent_cassette" not in obj:
        raise _LineError(
            'not a cassette: the first line must be a header like {"anyagent_cassette": 1, "recorded_with": ...}'
        )
    version = obj["anyagent_cassette"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise _LineError(f"anyagent_cassette must be an integer version, got {_describe(version)}")
    if version != CASSETTE_VERSION:
        raise _LineError(f"unsupported cassette version {version} (this anyagent reads version {CASSETTE_VERSION})")
    _field(obj, "recorded_with", str, "the header")
    _check_keys(obj, ("anyagent_cassette", "recorded_with"), "the header")


def _parse(text: str, source: str) -> Iterable[Exchange]:
    exchanges: list[Exchange] = []
    header_seen = False
    # Split on "\n" only: str.splitlines() would also split on characters JSON strings may hold.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            try:
                obj = _loads(line)
            except ValueError as exc:
                raise _LineError(f"not valid JSON: {exc}") from None
            except RecursionError:
                raise _LineError("not valid JSON: nested too deeply") from None
            if header_seen:
                exchanges.append(_exchange_from_json(obj))
            else:
                _check_header(obj)
                header_seen = True
        except _LineError as exc:
            raise CassetteError(f"{source}, line {number}: {exc}") from None
    if not header_seen:
        raise CassetteError(f"{source}: empty, expected the header line")
    return exchanges


# --------------------------------------------------------------------------------------------
# Recording


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

    def cassette(self) -> Cassette:
        return Cassette(self.exchanges)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the cassette to ``path`` (atomically; the directory must exist)."""
        self.cassette().dump(path)

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


# --------------------------------------------------------------------------------------------
# Replay


def _encode_header(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _path(url: str) -> str:
    return unquote(urlsplit(url).path) or "/"


def _query_items(url: httpx.URL | str) -> list[str]:
    query = urlsplit(str(url)).query
    return sorted(item for item in query.split("&") if item and not _is_secret_query_name(item.split("=")[0]))


def _short(value: _Json) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _same_json(a: _Json, b: _Json) -> bool:
    """JSON equality: ``1`` equals ``1.0`` but ``true`` equals neither."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _first_difference(recorded: _Json, sent: _Json, path: str = "") -> tuple[str, str] | None:
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
        sent_body, recorded_body = _json_body(request.content), _json_body(recorded.body)
        if sent_body is _NOT_JSON or recorded_body is _NOT_JSON:
            if request.content != recorded.body:
                raise CassetteError(f"{prefix}: the bodies differ (not both JSON, compared as bytes)")
            return
        difference = _first_difference(recorded_body, sent_body)
        if difference is not None:
            raise CassetteError(f"{prefix}: the body differs at {difference[0]}: {difference[1]}")

    async def aclose(self) -> None:
        pass
