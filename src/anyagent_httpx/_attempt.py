"""One request attempt, in three steps: *send* the request, *pump* the response into the core,
*judge* what arrived.

``send`` asks a fresh ``Connection`` for the request bytes and hands them to the transport;
``pump`` feeds the status, headers and body bytes to the connection and passes its events on;
``judge`` is a pure function of what was received (``Received``): the answer, an
``AttemptFailed`` for the agent loop's retry rules to decide on, or the typed ``ResponseError``
to raise when the failure came after output (never retried). The driver runs the three inside
its interruptible awaits and reports the verdict to the loop; nothing here decides to retry.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable
from contextlib import AsyncExitStack
from typing import Protocol, TypeVar

import attrs

from anyagent_core import (
    NEED_DATA,
    PAUSED,
    AssistantMessage,
    Config,
    Connection,
    Endpoint,
    Event,
    Failure,
    MessageComplete,
    ReasoningDelta,
    RefusalDelta,
    RemoteProtocolError,
    ServerError,
    StartTurn,
    TextDelta,
    ToolCall,
    ToolCallDelta,
)
from anyagent_core.wire import redact_url

from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    MalformedResponseError,
    ResponseError,
    ServerStreamError,
    StreamInterruptedError,
    status_error,
)
from ._transports import AsyncTransport

__all__ = ["AttemptFailed", "Cancelled", "Guard", "Interrupted", "Received", "judge", "perform"]

_T = TypeVar("_T")

#: Events that are output: once one was received, the turn is never retried.
_OUTPUT = (TextDelta, ReasoningDelta, RefusalDelta, ToolCallDelta, ToolCall)


class Interrupted(Exception):
    """``interrupt()`` stopped the attempt; ``partial`` is what had arrived (None before output)."""

    def __init__(self, partial: AssistantMessage | None) -> None:
        super().__init__("the turn was interrupted")
        self.partial = partial


class AttemptFailed(Exception):
    """An attempt failed in a way the retry rules judge; ``error`` is what the user gets if no
    retry follows, ``kind``, ``status``, ``headers`` and ``server_error`` what the rules read."""

    def __init__(
        self,
        kind: Failure,
        error: APIError,
        *,
        status: int | None = None,
        headers: tuple[tuple[str, str], ...] = (),
        server_error: ServerError | None = None,
    ) -> None:
        super().__init__(str(error))
        self.kind = kind
        self.error = error
        self.status = status
        self.headers = headers
        self.server_error = server_error

    @property
    def error_text(self) -> tuple[object, ...]:
        """What the server said (message, code, type, body), for the retry rules."""
        e = self.server_error
        return () if e is None else (e.message, e.code, e.type, e.body)


@attrs.define
class Received:
    """What one attempt received: the judge's whole input."""

    url: str
    """The request URL, credentials removed."""
    status: int = 0
    headers: tuple[tuple[str, str], ...] = ()
    output: bool = False
    """An output event (text, reasoning, refusal, a tool call) arrived."""
    received: int = 0
    """Body bytes received."""
    cut: APIConnectionError | None = None
    """The body broke off with this error (the core was told EOF)."""
    complete: MessageComplete | None = None


def judge(received: Received) -> MessageComplete | AttemptFailed | ResponseError:
    """The verdict on a finished attempt (pure): the answer, a failure the retry rules decide on,
    or (after output) the error to raise."""
    complete = received.complete
    assert complete is not None, "judge() needs the attempt's MessageComplete"
    url, cut, output = received.url, received.cut, received.output
    if not 200 <= received.status < 300:
        error = complete.error
        failed = AttemptFailed(
            Failure.STATUS,
            status_error(received.status, error=error, headers=dict(received.headers), url=url),
            status=received.status,
            headers=received.headers,
            server_error=error,
        )
        failed.__cause__ = cut
        return failed
    if complete.error is not None:
        server_error = complete.error
        in_stream = ServerStreamError(
            f"the server reported an error in the response: {server_error.message}",
            partial=complete.message,
            error=server_error,
            url=url,
        )
        return in_stream if output else AttemptFailed(Failure.STREAM_ERROR, in_stream, server_error=server_error)
    if cut is None and not complete.truncated:
        return complete
    when = "mid-answer" if output else "before any output"
    if cut is not None:
        why = f"the connection failed {when} ({cut.message})"
    elif not received.received:
        why = (
            f"the server answered HTTP {received.status} with an empty body (llama.cpp's server "
            "does this when a streamed prompt does not fit its context window)"
        )
    else:
        why = f"the response ended {when}"
    interrupted = StreamInterruptedError(why, partial=complete.message, url=url)
    interrupted.__cause__ = cut
    if output:
        return interrupted
    kind = Failure.EMPTY_RESPONSE
    if cut is not None:
        kind = Failure.TIMEOUT if isinstance(cut, APITimeoutError) else Failure.CONNECTION
    return AttemptFailed(kind, interrupted)


class Cancelled(Exception):
    """An interrupt cancelled the current await (raised by a ``Guard``)."""


class Guard(Protocol):
    """Awaits in a scope ``interrupt()`` can cancel; raises ``Cancelled`` if it did."""

    def __call__(self, awaitable: Awaitable[_T], /) -> Awaitable[_T]: ...


async def perform(
    turn: StartTurn,
    *,
    transport: AsyncTransport,
    endpoint: Endpoint,
    config: Config,
    guard: Guard,
    received: Received,
    partial: bool,
) -> AsyncGenerator[Event]:
    """Send ``turn``, pump the response and judge it: yields the events as they arrive (only
    with ``partial``) and the ``MessageComplete`` last. Raises ``AttemptFailed``, a
    ``ResponseError``, or ``Interrupted``; ``received`` is filled in as it goes."""
    conn = Connection(endpoint, config=config)
    request = conn.send(turn)
    received.url = redact_url(request.url)
    async with AsyncExitStack() as stack:
        # send
        try:
            response = await guard(stack.enter_async_context(transport.exchange(request)))
        except BaseException as exc:
            conn.send_failed()
            if isinstance(exc, Cancelled):
                raise Interrupted(None) from None
            if isinstance(exc, APIConnectionError):
                kind = Failure.TIMEOUT if isinstance(exc, APITimeoutError) else Failure.CONNECTION
                raise AttemptFailed(kind, exc) from exc
            raise
        # pump
        received.status = response.status
        received.headers = response.headers
        conn.receive_head(response.status, response.headers)
        ok = 200 <= response.status < 300
        stream = response.stream
        while True:
            try:
                event = conn.next_event()
            except RemoteProtocolError as exc:
                raise MalformedResponseError(
                    f"the response broke the protocol: {exc}", partial=_partial(conn), url=received.url
                ) from exc
            if event is NEED_DATA:
                try:
                    chunk = await guard(anext(stream, b""))
                except Cancelled:
                    raise Interrupted(_partial(conn) if received.output else None) from None
                except APIConnectionError as exc:
                    received.cut = exc
                    chunk = b""
                received.received += len(chunk)
                conn.receive_data(chunk)
            elif event is PAUSED:
                break
            elif type(event) is MessageComplete:
                received.complete = event
            elif ok:
                if isinstance(event, _OUTPUT):
                    received.output = True
                if partial and type(event) is not ServerError:
                    yield event
    # judge: the exchange is closed (and its connection reusable, the body having been drained)
    verdict = judge(received)
    if isinstance(verdict, Exception):
        raise verdict
    yield verdict


def _partial(conn: Connection) -> AssistantMessage:
    return conn.partial_message() or AssistantMessage()
