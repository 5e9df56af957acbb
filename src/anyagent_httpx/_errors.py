"""The errors users catch (transport exceptions are translated into them by
``_transports._base.map_exceptions``).

::

    AnyAgentError
    ├── ClientStateError          the Client was used in the wrong state (not opened, closed, busy)
    ├── ConfigurationError        no model, no base URL, an unknown provider, conflicting options
    ├── CassetteError             a cassette could not be read, or holds no exchange for a request
    └── APIError                  talking to the server failed
        ├── APIConnectionError    no usable response: refused, reset, dropped, DNS, TLS
        │   ├── APITimeoutError   a connect, read, write or pool timeout
        │   ├── UnsupportedEncodingError  the body came in a content-coding not asked for
        │   │                     (zstd, br)
        │   └── ContentDecodingError  the body does not decode in its content-coding (corrupt
        │                         gzip, deflate): ``coding`` and ``offset`` say where
        │                         (neither is retried on the same endpoint: the server would
        │                         send the body so again; a fallback endpoint is tried)
        ├── APIStatusError        an HTTP error status (status, server message, body)
        │   ├── BadRequestError (400)  ├── AuthenticationError (401)  ├── PermissionDeniedError (403)
        │   ├── NotFoundError (404)    ├── UnprocessableEntityError (422) ├── RateLimitError (429)
        │   ├── ContextLengthError     (the prompt does not fit the model's context, any status)
        │   └── InternalServerError (5xx)
        └── ResponseError         the answer started but did not finish; carries ``partial``
            ├── StreamInterruptedError  the connection dropped or the body ended mid-answer
            ├── ServerStreamError       the server reported an error inside a 200 response
            ├── MalformedResponseError  the body broke the protocol (the core's RemoteProtocolError),
            │                           or stopped decoding mid-answer (a ContentDecodingError)
            ├── ResponseTimeoutError    the server stopped making progress, or the request's
            │                           deadline passed (``limit`` names the setting)
            └── ResponseTooLargeError   the response passed a size cap (``limit`` names it)

Transports raise only ``APIConnectionError`` and its subclasses (through ``map_exceptions``);
the driver raises the rest, where it knows the request, the status and what was already received.
"""

from __future__ import annotations

from collections.abc import Mapping

from anyagent_core import AssistantMessage, ServerError, is_context_length_error

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AnyAgentError",
    "AuthenticationError",
    "BadRequestError",
    "CassetteError",
    "ClientStateError",
    "ConfigurationError",
    "ContentDecodingError",
    "ContextLengthError",
    "InternalServerError",
    "MalformedResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseError",
    "ResponseTimeoutError",
    "ResponseTooLargeError",
    "ServerStreamError",
    "StreamInterruptedError",
    "UnprocessableEntityError",
    "UnsupportedEncodingError",
    "status_error",
]


class AnyAgentError(Exception):
    """Base class of every error anyagent raises on purpose."""


class ClientStateError(AnyAgentError, RuntimeError):
    """A ``Client`` method was called in a state that does not allow it."""


class ConfigurationError(AnyAgentError, ValueError):
    """The options cannot work: no model, no base URL, an unknown provider, conflicting settings."""


class CassetteError(AnyAgentError):
    """A cassette file is malformed, or a replayed request has no matching recorded exchange."""


class APIError(AnyAgentError):
    """Talking to the server failed. ``url`` is the request URL with credentials removed."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.url = url


class APIConnectionError(APIError):
    """No usable response: the connection was refused, reset or dropped, or DNS or TLS failed.

    ``response_started`` says whether any of the response (its head) had arrived; a request is
    retried only when nothing had (and nothing is ever retried once output was delivered)."""

    def __init__(self, message: str, *, url: str | None = None, response_started: bool = False) -> None:
        super().__init__(message, url=url)
        self.response_started = response_started


class APITimeoutError(APIConnectionError):
    """A connect, write, read or pool timeout (set on the ``httpx.AsyncClient`` or the transport)."""


class UnsupportedEncodingError(APIConnectionError):
    """The response body came in a content-coding the transport did not ask for and does not
    undo (``coding``: ``"zstd"``, ``"br"``...); read as it is, it would be taken for the
    stream's bytes. The transport raises it at the body's first read (``response_started``).
    Not retried against the same endpoint, nor on a fallback model there: the server would send
    the body the same way again; the turn moves on to a fallback endpoint if there is one."""

    def __init__(self, coding: str, *, url: str | None = None) -> None:
        super().__init__(
            f"the server sent the body in content-coding {coding!r}, which was not asked for "
            "(Accept-Encoding: gzip, deflate) and is not decoded",
            url=url,
            response_started=True,
        )
        self.coding = coding


class ContentDecodingError(APIConnectionError):
    """The response body does not decode in the content-coding it came in (``coding``:
    ``"gzip"``, ``"deflate"``): the server, or something between, sent it corrupt. ``offset``
    is where decoding failed: the index, from 0, of the last byte of that coding's data the
    decoder read (for a body in one coding, of the body as received), or None where httpx did
    the decoding (a coding the request asked for with its own ``Accept-Encoding``).

    Deterministic server misbehaviour, so treated as ``UnsupportedEncodingError`` is: not
    retried against the same endpoint, nor on a fallback model there; the turn moves on to a
    fallback endpoint if there is one. Once output was delivered nothing is retried: the run
    raises a ``MalformedResponseError`` whose ``__cause__`` this is."""

    def __init__(self, coding: str, *, offset: int | None = None, detail: str = "", url: str | None = None) -> None:
        where = "" if offset is None else f" at byte {offset}"
        super().__init__(
            f"the response body is not valid {coding}{where}" + (f" ({detail})" if detail else ""),
            url=url,
            response_started=True,
        )
        self.coding = coding
        self.offset = offset


class APIStatusError(APIError):
    """The server answered with an HTTP error status.

    ``message`` is the server's own message where its body had one; ``body`` is the body as
    received (text); ``error`` is the decoded error object; ``headers`` the response headers."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        body: str = "",
        error: ServerError | None = None,
        headers: Mapping[str, str] | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, url=url)
        self.status = status
        self.body = body
        self.error = error
        self.headers: dict[str, str] = dict(headers or {})

    @property
    def code(self) -> int | str | None:
        """The error code the server gave (``"context_length_exceeded"``, ``429``...), if any."""
        return None if self.error is None else self.error.code

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.message}"


class BadRequestError(APIStatusError):
    """HTTP 400."""


class AuthenticationError(APIStatusError):
    """HTTP 401: the API key is missing or wrong."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403."""


class NotFoundError(APIStatusError):
    """HTTP 404: often an unknown model name, or a base URL without ``/v1``."""


class UnprocessableEntityError(APIStatusError):
    """HTTP 422: the server could not accept the request body."""


class RateLimitError(APIStatusError):
    """HTTP 429, after the retries allowed were spent."""


class ContextLengthError(APIStatusError):
    """The prompt does not fit the model's context window (reported with 400, 413 or 500)."""


class InternalServerError(APIStatusError):
    """HTTP 5xx, after the retries allowed were spent."""


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _is_context_length(error: ServerError | None, body: str) -> bool:
    if error is None:
        return is_context_length_error(body)
    return is_context_length_error(error.message, error.code, error.type, body)


def status_error(
    status: int,
    *,
    error: ServerError | None,
    headers: Mapping[str, str] | None = None,
    url: str | None = None,
) -> APIStatusError:
    """The ``APIStatusError`` subclass for an HTTP error response, carrying what the server said."""
    body = error.body if error is not None else ""
    message = error.message if error is not None and error.message else f"HTTP {status} with no error message"
    cls: type[APIStatusError]
    if _is_context_length(error, body):
        cls = ContextLengthError
    elif status >= 500:
        cls = InternalServerError
    else:
        cls = _STATUS_CLASSES.get(status, APIStatusError)
    return cls(message, status=status, body=body, error=error, headers=headers, url=url)


class ResponseError(APIError):
    """The answer started but did not finish. ``partial`` holds what had arrived (text,
    reasoning, complete tool calls); it was not retried, because output had been delivered."""

    def __init__(self, message: str, *, partial: AssistantMessage, url: str | None = None) -> None:
        super().__init__(message, url=url)
        self.partial = partial


class StreamInterruptedError(ResponseError):
    """The connection dropped, or the body ended without finishing the answer."""


class ServerStreamError(ResponseError):
    """The server reported an error inside a 200 response (``error`` is what it said)."""

    def __init__(self, message: str, *, partial: AssistantMessage, error: ServerError, url: str | None = None) -> None:
        super().__init__(message, partial=partial, url=url)
        self.error = error


class MalformedResponseError(ResponseError):
    """The response body broke the protocol; ``__cause__`` is the core's ``RemoteProtocolError``
    (with byte offset, line and snippet), or the ``ContentDecodingError`` of a body that stopped
    decoding after output was delivered (with coding and offset)."""


class ResponseTimeoutError(ResponseError):
    """The server stopped making progress (``limit == "stream_idle_timeout"``: no head, no
    event, only keep-alives or a trickle of bytes for that long) or the request's whole deadline
    passed (``limit == "request_timeout"``). ``partial`` is what had arrived."""

    def __init__(self, message: str, *, limit: str, partial: AssistantMessage, url: str | None = None) -> None:
        super().__init__(message, partial=partial, url=url)
        self.limit = limit


class ResponseTooLargeError(ResponseError):
    """The response passed one of the size caps of ``AgentOptions``; ``limit`` names it
    (``max_response_bytes``, ``max_text_chars``, ``max_tool_argument_chars``, ``max_tool_calls``).
    Never retried: a server that sends this much would send it again."""

    def __init__(self, message: str, *, limit: str, partial: AssistantMessage, url: str | None = None) -> None:
        super().__init__(message, partial=partial, url=url)
        self.limit = limit
