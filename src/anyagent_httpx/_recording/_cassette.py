"""What a cassette holds (``RecordedRequest``, ``RecordedResponse``, ``Exchange``, ``Cassette``)
and its file format, JSON Lines: a header line, then one line per exchange::

    {"anyagent_cassette":1,"recorded_with":"anyagent 0.1.0","meta":{"cwd":"/home/me/project"}}
    {"request":{"body":{...},"headers":[[name,value],...],"method":"POST","url":"..."},
     "response":{"chunks":["data: ...\\n\\n",{"base64":"..."}],"headers":[...],"status":200,"timings":[0.01]}}

(one exchange per line; wrapped here). ``chunks`` are the raw response bytes exactly as they
arrived, before content decoding, with their boundaries. Writing redacts every exchange
(``redact_exchange``); reading validates every field, and a ``CassetteError`` names the file, the
line and the fault. The header's optional ``meta`` says what the run was made with (the CLI
writes the tools' working directory, ``cwd``), so a replay can warn when it differs.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import attrs

from anyagent_core import __version__
from anyagent_core.value import Value
from anyagent_httpx._errors import CassetteError

from ._json import NOT_JSON, Json, encode_json, json_body, loads
from ._redact import redact_exchange

__all__ = ["CASSETTE_VERSION", "Cassette", "Exchange", "Headers", "RecordedRequest", "RecordedResponse"]

#: The format version written in the header line; ``Cassette.load`` reads only this one.
CASSETTE_VERSION = 1

Headers = tuple[tuple[str, str], ...]

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


@attrs.frozen(repr=False, eq=False)
class RecordedRequest(Value):
    """A request as recorded (after redaction)."""

    method: str
    url: str
    headers: Headers = attrs.field(converter=_headers)
    body: bytes = attrs.field(repr=lambda body: f"<{len(body)} bytes>")


@attrs.frozen(repr=False, eq=False)
class RecordedResponse(Value):
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


@attrs.frozen(repr=False, eq=False)
class Exchange(Value):
    """One request and the response it received."""

    request: RecordedRequest
    response: RecordedResponse


def _meta(value: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise TypeError(f"a cassette's meta is a mapping of strings to strings, got {type(value).__name__}")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise TypeError(f"a cassette's meta maps strings to strings, got {key!r}: {type(item).__name__}")
    return dict(value)


def _exchanges(value: Iterable[Exchange]) -> tuple[Exchange, ...]:
    exchanges = tuple(value)
    for exchange in exchanges:
        if not isinstance(exchange, Exchange):
            raise TypeError(f"a cassette holds Exchange objects, got {type(exchange).__name__}")
    return exchanges


@attrs.frozen(repr=False, eq=False)
class Cassette(Value):
    """Recorded exchanges, in the order they completed. ``dumps``/``loads`` give the file format."""

    exchanges: tuple[Exchange, ...] = attrs.field(converter=_exchanges)
    meta: dict[str, str] = attrs.field(factory=dict, kw_only=True, converter=_meta, hash=False)
    """What the run was made with, by name (strings only: the CLI writes ``cwd``); in the
    header line, not redacted, so put no secret in it."""

    @classmethod
    def loads(cls, text: str, *, source: str = "<cassette>") -> Cassette:
        """Parse a cassette's text; a ``CassetteError`` names ``source``, the line and the fault."""
        meta: dict[str, str] = {}
        exchanges = tuple(_parse(text, source, meta))
        return cls(exchanges, meta=meta)

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
        head: dict[str, object] = {"anyagent_cassette": CASSETTE_VERSION, "recorded_with": f"anyagent {__version__}"}
        if self.meta:
            head["meta"] = self.meta
        header = json.dumps(head, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
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
# The file format


def _body_to_json(body: bytes) -> Json:
    """A request body as written: ``null`` when empty, the JSON value when it is JSON (its keys
    in the order sent), else ``{"text": ...}``, or ``{"base64": ...}`` when it is not UTF-8."""
    if not body:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode("ascii")}
    value = json_body(body)
    # JSON null and objects shaped like the two wrappers are kept as text, so loading is unambiguous.
    ambiguous = value is None or (
        isinstance(value, dict) and len(value) == 1 and ("text" in value or "base64" in value)
    )
    if value is NOT_JSON or ambiguous:
        return {"text": text}
    return value


def _chunk_to_json(chunk: bytes) -> Json:
    try:
        return chunk.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(chunk).decode("ascii")}


def _dump_exchange(exchange: Exchange) -> str:
    """One line; the cassette's own keys sorted, a JSON body's keys in the order they were sent."""
    request, response = exchange.request, exchange.response

    def enc(value: Json) -> str:
        return encode_json(value, sort_keys=True)

    return (
        '{"request":{'
        f'"body":{encode_json(_body_to_json(request.body))},'
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


def _field(obj: dict[str, Json], key: str, kind: type[_T], where: str) -> _T:
    if key not in obj:
        raise _LineError(f"{where} has no {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _LineError(f"{where}.{key} must be {_KIND_NAMES.get(kind, kind.__name__)}, got {_describe(value)}")
    return value


def _describe(value: Json) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_keys(obj: dict[str, Json], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise _LineError(f"{where} has unknown key(s) {', '.join(map(repr, unknown))}")


def _headers_from_json(value: list[Json], where: str) -> Headers:
    pairs: list[tuple[str, str]] = []
    for i, pair in enumerate(value):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise _LineError(f"{where}[{i}] must be a [name, value] pair of strings, got {_describe(pair)}")
        pairs.append((pair[0], pair[1]))
    return tuple(pairs)


def _base64(value: Json, where: str) -> bytes:
    if not isinstance(value, str):
        raise _LineError(f"{where}.base64 must be str, got {_describe(value)}")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise _LineError(f"{where}.base64 is not valid base64 ({exc})") from None


def _body_from_json(value: Json) -> bytes:
    if value is None:
        return b""
    if isinstance(value, dict) and len(value) == 1 and "text" in value:
        if not isinstance(value["text"], str):
            raise _LineError(f"request.body.text must be str, got {_describe(value['text'])}")
        return value["text"].encode("utf-8")
    if isinstance(value, dict) and len(value) == 1 and "base64" in value:
        return _base64(value["base64"], "request.body")
    return encode_json(value).encode("utf-8")


def _chunk_from_json(value: Json, where: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and set(value) == {"base64"}:
        return _base64(value["base64"], where)
    raise _LineError(f'{where} must be a string or {{"base64": ...}}, got {_describe(value)}')


def _exchange_from_json(obj: Json) -> Exchange:
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
    timings: list[Json] = _field(response, "timings", list, "response") if "timings" in response else []
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


def _check_header(obj: Json, meta: dict[str, str]) -> None:
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
    _check_keys(obj, ("anyagent_cassette", "meta", "recorded_with"), "the header")
    if "meta" in obj:
        found = _field(obj, "meta", dict, "the header")
        for key, value in found.items():
            if not isinstance(value, str):
                raise _LineError(f"the header.meta.{key} must be a string, got {_describe(value)}")
            meta[key] = value


def _parse(text: str, source: str, meta: dict[str, str]) -> Iterable[Exchange]:
    """The exchanges of ``text``; the header's ``meta`` goes into ``meta``."""
    exchanges: list[Exchange] = []
    header_seen = False
    # Split on "\n" only: str.splitlines() would also split on characters JSON strings may hold.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            try:
                obj = loads(line)
            except ValueError as exc:
                raise _LineError(f"not valid JSON: {exc}") from None
            except RecursionError:
                raise _LineError("not valid JSON: nested too deeply") from None
            if header_seen:
                exchanges.append(_exchange_from_json(obj))
            else:
                _check_header(obj, meta)
                header_seen = True
        except _LineError as exc:
            raise CassetteError(f"{source}, line {number}: {exc}") from None
    if not header_seen:
        raise CassetteError(f"{source}: empty, expected the header line")
    return exchanges
