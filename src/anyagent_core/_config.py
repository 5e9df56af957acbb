"""Where requests go (``Endpoint``) and how the protocol machine behaves (``Config``).

Both are frozen values handed to ``Connection``; the core never reads the environment.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import attrs

from .value import Value

__all__ = ["DEFAULT_CONFIG", "DEFAULT_MAX_BODY_SIZE", "DEFAULT_MAX_EVENT_SIZE", "Config", "Endpoint"]

#: Cap on one SSE line and on one SSE event's data, in bytes: it bounds what a server can make
#: the decoder buffer.
#: Chat chunks are a few hundred bytes, but some servers send a whole tool call, arguments and
#: all, in one event (Ollama, Groq, Mistral), and a ``write_file`` call can carry a large file.
DEFAULT_MAX_EVENT_SIZE = 8 * 1024 * 1024

#: Cap on a JSON response body (non-streaming answers and HTTP error bodies).
DEFAULT_MAX_BODY_SIZE = 64 * 1024 * 1024


def _headers(value: Mapping[str, str] | Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    result = tuple((str(name), str(val)) for name, val in items)
    for name, val in result:
        if not name or any(c in name for c in ":\r\n ") or any(c in val for c in "\r\n\0"):
            raise ValueError(f"invalid header {name!r}")
    return result


def _api_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"api_key must be a str, not {type(value).__name__}")
    key = value.strip()
    if any(c in key for c in "\r\n\0"):
        raise ValueError("api_key contains a line break or NUL")
    return key or None


def redact_url(url: str) -> str:
    """``url`` without what may be a credential: user info, the query string, the fragment."""
    return _redact_url(url)


@functools.lru_cache(maxsize=256)
def _redact_url(url: str) -> str:
    # Cached: a run redacts the same few URLs at every request.
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "<redacted>@" + netloc.rsplit("@", 1)[1]
    query = "<redacted>" if parts.query else ""
    fragment = "<redacted>" if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def chat_url(base_url: str, path: str) -> str:
    """``path`` appended to the base URL's path, keeping its query (Azure's ``?api-version=``)."""
    base, sep, query = base_url.partition("?")
    return base.rstrip("/") + path + (sep + query if sep else "")


def _redacted_headers(headers: tuple[tuple[str, str], ...]) -> str:
    return repr([(name, "<redacted>") for name, _ in headers])


def _base_url(value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"base_url must be a str, not {type(value).__name__}")
    url = value.strip()
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must start with http:// or https://, got {redact_url(url)!r}")
    if "#" in url:
        raise ValueError(f"base_url cannot have a fragment: {redact_url(url)!r}")
    base, sep, query = url.partition("?")
    return base.rstrip("/") + sep + query


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Endpoint(Value):
    """An OpenAI-compatible server: its base URL (ending in ``/v1`` for most servers) and key."""

    base_url: str = attrs.field(converter=_base_url, repr=lambda url: repr(redact_url(url)))
    """For example ``http://localhost:1234/v1``; a trailing slash is removed."""
    api_key: str | None = attrs.field(default=None, repr=False, converter=_api_key)
    """Sent as ``Authorization: Bearer ...``; surrounding whitespace (a key read from a file) is
    removed. Never shown in a repr."""
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_headers, repr=_redacted_headers)
    """Extra request headers, in order; they replace ours of the same name. Their values are
    hidden from the repr, since gateways put keys in them."""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Config(Value):
    """Limits and server-quirk switches. No behaviour, no environment."""

    max_event_size: int = attrs.field(default=DEFAULT_MAX_EVENT_SIZE, validator=attrs.validators.ge(64))
    """Longest SSE line, and largest SSE event data, in bytes, before the stream is rejected."""
    max_body_size: int = attrs.field(default=DEFAULT_MAX_BODY_SIZE, validator=attrs.validators.ge(64))
    """Largest JSON or error response body, in bytes."""
    chat_path: str = "/chat/completions"
    """Appended to the endpoint's base URL."""
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    """Which request field carries ``max_tokens``: local servers know ``max_tokens``; OpenAI's
    reasoning models want ``max_completion_tokens``."""
    send_reasoning: bool = False
    """Send earlier turns' reasoning back as ``reasoning_content``. Most servers ignore it and
    some reject it, so it is off by default."""
    user_agent: str | None = attrs.field(default=None)
    """A ``User-Agent`` header; None leaves it to the transport."""

    @user_agent.validator
    def _check_user_agent(self, attribute: attrs.Attribute[str | None], value: str | None) -> None:
        if value is not None and any(c in value for c in "\r\n\0"):
            raise ValueError("user_agent contains a line break or NUL")


DEFAULT_CONFIG = Config()
