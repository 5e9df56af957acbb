"""Redaction: what is removed from an exchange before it is kept or written, and every secret
value replaced by ``<redacted>`` wherever it appears. ``redact_exchange`` is the only redaction,
applied to everything recorded; the rules are in its docstring."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import unquote, unquote_plus, urlsplit, urlunsplit

import attrs

from anyagent_httpx._secrets import MIN_SECRET_LENGTH, REDACTED, secret_pattern

from ._json import NOT_JSON, Json, encode_json, json_body

if TYPE_CHECKING:
    from ._cassette import Exchange, Headers

__all__ = ["MIN_DERIVED_SECRET_LENGTH", "REDACTED", "is_secret_query_name", "redact_exchange"]


_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "api-key", "x-api-key"})
_SECRET_HEADER_WORDS = ("key", "token", "secret", "auth", "cookie", "signature", "password")
_SECRET_RESPONSE_HEADERS = frozenset({"set-cookie"})
_SECRET_QUERY_WORDS = ("key", "token", "sig", "secret", "auth", "password")
#: Values of removed headers and parameters shorter than this are not searched for elsewhere:
#: they would match ordinary text ("true", "1"). Secrets passed explicitly are always searched
#: for, a short one as a whole token only (``_secrets``).
MIN_DERIVED_SECRET_LENGTH = MIN_SECRET_LENGTH


#: Headers known to carry no credential: every other header's value is redacted (a gateway's
#: ``X-Portkey-Key`` or a proxy's ``X-Goog-Signature`` need not be named like a key to be one).
_SAFE_REQUEST_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "accept-language",
        "anthropic-version",
        "cache-control",
        "connection",
        "content-encoding",
        "content-length",
        "content-type",
        "host",
        "openai-beta",
        "transfer-encoding",
        "user-agent",
        "x-request-id",
    }
)
_SAFE_RESPONSE_HEADERS = frozenset(
    {
        "access-control-allow-origin",
        "cache-control",
        "cf-ray",
        "connection",
        "content-encoding",
        "content-length",
        "content-type",
        "date",
        "keep-alive",
        "openai-model",
        "openai-processing-ms",
        "openai-version",
        "request-id",
        "retry-after",
        "retry-after-ms",
        "server",
        "transfer-encoding",
        "vary",
        "x-request-id",
    }
)
_SAFE_RESPONSE_PREFIXES = ("x-ratelimit-", "ratelimit-")
#: A value of an unlisted header this long is also searched for elsewhere (a key echoed back);
#: shorter ones ("enabled", "eu-west") would match ordinary text.
_UNLISTED_SECRET_LENGTH = 16


def _is_secret_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_HEADERS or any(word in lowered for word in _SECRET_HEADER_WORDS)


def _is_safe_response_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SAFE_RESPONSE_HEADERS or lowered.startswith(_SAFE_RESPONSE_PREFIXES)


def is_secret_query_name(name: str) -> bool:
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
        if value and is_secret_query_name(name):
            found += [value, unquote_plus(value)]
    return found


def _clean_url(url: str) -> str:
    """``url`` without user info, credential-like query parameters and fragment."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[1] if "@" in parts.netloc else parts.netloc
    query = "&".join(item for item in parts.query.split("&") if item and not is_secret_query_name(item.split("=")[0]))
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class _Secrets:
    """Replaces every occurrence of the secret values, longest first, in text, bytes and JSON
    (a short value only where it stands as a whole token: ``_secrets``)."""

    def __init__(self, values: Iterable[str]) -> None:
        pattern = secret_pattern(values)
        self.active = bool(pattern)
        self._text = re.compile(pattern) if pattern else None
        self._bytes = re.compile(pattern.encode("utf-8")) if pattern else None

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

    def json(self, value: Json) -> Json:
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
        value = json_body(body)
        if value is not NOT_JSON:
            redacted = self.json(value)
            if redacted != value:
                return encode_json(redacted).encode("utf-8")
        return body


def _long_values(value: str) -> list[str]:
    """The parts of an unlisted header's value long enough to be searched for elsewhere."""
    value = value.strip()
    parts = [value, *value.split()]
    return [part for part in parts if len(part) >= _UNLISTED_SECRET_LENGTH and part != REDACTED]


def redact_exchange(exchange: Exchange, secrets: Iterable[str] = ()) -> Exchange:
    """``exchange`` as it may be written: the only redaction, applied to everything recorded.

    Removed: request headers named ``authorization``, ``proxy-authorization``, ``cookie``,
    ``api-key``, ``x-api-key`` or containing ``key``, ``token``, ``secret``, ``auth``, ``cookie``,
    ``signature`` or ``password``; the response's ``set-cookie``; the URL's user info, fragment
    and query parameters whose name contains ``key``, ``token``, ``sig``, ``secret``, ``auth`` or
    ``password``. Every other header not on a list of headers known to be safe (``content-type``,
    ``user-agent``, ``retry-after``, ``x-ratelimit-*``...) keeps its name and has its value
    replaced by ``<redacted>``. Then every secret value (``secrets``, a bearer token, the value of
    a removed header or parameter, a long value of a redacted header) is replaced by
    ``<redacted>`` in the URL, headers, body and chunks (a ``secrets`` value shorter than six
    characters only where it stands as a whole token: ``_secrets``). Applying it twice changes
    nothing more."""
    request, response = exchange.request, exchange.response
    found = [s for s in secrets if s]
    derived = _url_secrets(request.url)
    request_headers: list[tuple[str, str]] = []
    for name, value in request.headers:
        if _is_secret_header(name):
            derived += _header_secrets(name, value)
        elif name.lower() in _SAFE_REQUEST_HEADERS:
            request_headers.append((name, value))
        else:
            request_headers.append((name, REDACTED))
            found += _long_values(value)
    response_headers: list[tuple[str, str]] = []
    for name, value in response.headers:
        if name.lower() in _SECRET_RESPONSE_HEADERS:
            derived += _header_secrets(name, value)
        elif _is_safe_response_header(name):
            response_headers.append((name, value))
        else:
            response_headers.append((name, REDACTED))
            found += _long_values(value)
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
    return attrs.evolve(
        exchange,
        request=attrs.evolve(
            request,
            url=replace.text(_clean_url(request.url)),
            headers=headers(request_headers, len(body) if body_changed else None),
            body=body,
        ),
        response=attrs.evolve(
            response,
            headers=headers(response_headers, sum(map(len, chunks)) if chunks_changed else None),
            chunks=chunks,
        ),
    )
