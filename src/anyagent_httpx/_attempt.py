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

import math
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from contextlib import AsyncExitStack
from typing import Final, Protocol, TypeVar, cast, final

import anyio
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
from anyagent_core.value import Record, Value
from anyagent_core.wire import redact_url

from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ContentDecodingError,
    MalformedResponseError,
    ResponseError,
    ResponseTimeoutError,
    ResponseTooLargeError,
    ServerStreamError,
    StreamInterruptedError,
    UnsupportedEncodingError,
    status_error,
)
from ._transports import AsyncTransport

__all__ = [
    "DRAIN_BYTES",
    "DRAIN_SECONDS",
    "AttemptFailed",
    "Cancelled",
    "DeadlinePassed",
    "Guard",
    "Interrupted",
    "Received",
    "StreamLimits",
    "judge",
    "perform",
]

_T = TypeVar("_T")

#: Events that are output: once one was received, the turn is never retried.
_OUTPUT = (TextDelta, ReasoningDelta, RefusalDelta, ToolCallDelta, ToolCall)

#: After the answer is complete (``[DONE]``), how long the rest of the body may take to end, and
#: how many more bytes it may send, before the connection is closed instead of drained for reuse.
DRAIN_SECONDS: Final = 1.0
DRAIN_BYTES: Final = 65536


@final
@attrs.frozen(kw_only=True, repr=False, eq=False)
class StreamLimits(Value):
    """What one attempt may take from the server (``AgentOptions``' settings of the same
    names): None lifts a limit."""

    stream_idle_timeout: float | None = None
    """Seconds without progress (the head, or an event: keep-alive comments and a trickle of
    bytes that completes no event do not count)."""
    request_timeout: float | None = None
    """Seconds for the whole attempt, from sending the request to the end of the answer."""
    max_response_bytes: int | None = None
    """Body bytes, counted after content-encoding is undone (so a compression bomb stops here)."""
    max_text_chars: int | None = None
    """Characters of text, reasoning and refusal in the answer."""
    max_tool_argument_chars: int | None = None
    """Characters of tool-call arguments in the answer, all calls together."""
    max_tool_calls: int | None = None
    """Tool calls in the answer."""


class _Limit(Exception):
    """A limit of ``StreamLimits`` fired: ``limit`` is its name, the message says what passed it."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.message = message


@final
class _Meter:
    """Counts what the response brought against a ``StreamLimits``; its deadlines bound the
    attempt's awaits (``deadline()``, then ``passed()`` for the ``_Limit`` when one ran out)."""

    __slots__ = ("_calls", "_deadline", "_idle_deadline", "_limits", "_moved", "arguments", "text")

    def __init__(self, limits: StreamLimits) -> None:
        self._limits = limits
        self._deadline = math.inf if limits.request_timeout is None else anyio.current_time() + limits.request_timeout
        self._idle_deadline = math.inf
        self._moved = True
        self.text = 0
        self.arguments = 0
        self._calls: set[int] = set()

    def progress(self) -> None:
        """The server made progress (the head, an event): the idle deadline starts again from
        the next await (read off the clock then, not once per event)."""
        self._moved = True

    def deadline(self) -> float:
        """When the next await must end: the idle or the total deadline, whichever is first."""
        if self._moved:
            self._moved = False
            idle = self._limits.stream_idle_timeout
            if idle is not None:
                self._idle_deadline = anyio.current_time() + idle
        return min(self._deadline, self._idle_deadline)

    def passed(self, doing: str) -> _Limit:
        """The limit whose deadline an await given ``deadline()`` ran past."""
        limits = self._limits
        if self._idle_deadline <= self._deadline:
            return _Limit(
                "stream_idle_timeout",
                f"the server made no progress for {limits.stream_idle_timeout:g} s while {doing} (stream_idle_timeout)",
            )
        return _Limit("request_timeout", f"the request took longer than {limits.request_timeout:g} s (request_timeout)")

    def body(self, received: int, encoded: bool) -> None:
        cap = self._limits.max_response_bytes
        if cap is not None and received > cap:
            what = "decompressed body" if encoded else "body"
            raise _Limit("max_response_bytes", f"the response's {what} passed max_response_bytes ({cap} bytes)")

    def event(self, event: Event) -> None:
        limits = self._limits
        kind = type(event)
        if kind is TextDelta or kind is ReasoningDelta or kind is RefusalDelta:
            self.text += len(cast("TextDelta | ReasoningDelta | RefusalDelta", event).text)
            if limits.max_text_chars is not None and self.text > limits.max_text_chars:
                raise _Limit(
                    "max_text_chars", f"the answer's text passed max_text_chars ({limits.max_text_chars} characters)"
                )
        elif kind is ToolCallDelta:
            delta = cast("ToolCallDelta", event)
            self.arguments += len(delta.arguments)
            cap = limits.max_tool_argument_chars
            if cap is not None and self.arguments > cap:
                raise _Limit(
                    "max_tool_argument_chars",
                    f"the answer's tool-call arguments passed max_tool_argument_chars ({cap} characters)",
                )
            self._calls.add(delta.index)
            if limits.max_tool_calls is not None and len(self._calls) > limits.max_tool_calls:
                raise _Limit(
                    "max_tool_calls", f"the answer has more tool calls than max_tool_calls ({limits.max_tool_calls})"
                )


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


class Received(Record):
    """What one attempt received: the judge's whole input."""

    __slots__ = ("complete", "cut", "headers", "output", "received", "status", "url")

    def __init__(
        self,
        *,
        url: str,
        status: int = 0,
        headers: tuple[tuple[str, str], ...] = (),
        output: bool = False,
        received: int = 0,
        cut: APIConnectionError | None = None,
        complete: MessageComplete | None = None,
    ) -> None:
        self.url = url
        """The request URL, credentials removed."""
        self.status = status
        self.headers = headers
        self.output = output
        """An output event (text, reasoning, refusal, a tool call) arrived."""
        self.received = received
        """Body bytes received."""
        self.cut = cut
        """The body broke off with this error (the core was told EOF)."""
        self.complete = complete


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
    if isinstance(cut, UnsupportedEncodingError):
        # Refused at the body's first read, before any output: the server would send it so again.
        return AttemptFailed(Failure.UNSUPPORTED_ENCODING, cut, headers=received.headers)
    if isinstance(cut, ContentDecodingError):
        # A corrupt body: the server would send it so again (the retry rules try another one).
        if not output:
            return AttemptFailed(Failure.CORRUPT_ENCODING, cut, headers=received.headers)
        malformed = MalformedResponseError(
            f"the response body stopped decoding mid-answer ({cut.message})", partial=complete.message, url=url
        )
        malformed.__cause__ = cut
        return malformed
    when = "mid-answer" if output else "before any output"
    if cut is not None:
        why = f"the connection failed {when} ({cut.message})"
    elif _is_html(received.headers):
        why = (
            f"the server answered HTTP {received.status} with an HTML page, not an API response "
            "(a login page, a captive portal or a proxy in the way? check the base URL)"
        )
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


def _is_html(headers: tuple[tuple[str, str], ...]) -> bool:
    for name, value in headers:
        if name.lower() == "content-type":
            return value.split(";", 1)[0].strip().lower() in ("text/html", "application/xhtml+xml")
    return False


class Cancelled(Exception):
    """An interrupt cancelled the current await (raised by a ``Guard``)."""


class DeadlinePassed(Exception):
    """The current await ran past the deadline it was given (raised by a ``Guard``)."""


class Guard(Protocol):
    """Awaits in a scope ``interrupt()`` can cancel and that ends at ``deadline`` (in
    ``anyio.current_time()``'s clock); raises ``Cancelled`` if an interrupt stopped it,
    ``DeadlinePassed`` if the deadline did. One scope for both: an await costs one."""

    def __call__(self, awaitable: Awaitable[_T], /, deadline: float = math.inf) -> Awaitable[_T]: ...


async def perform(
    turn: StartTurn,
    *,
    transport: AsyncTransport,
    endpoint: Endpoint,
    config: Config,
    guard: Guard,
    received: Received,
    partial: bool,
    limits: StreamLimits = StreamLimits(),
) -> AsyncGenerator[Event]:
    """Send ``turn``, pump the response and judge it: yields the events as they arrive (only
    with ``partial``) and the ``MessageComplete`` last. Raises ``AttemptFailed``, a
    ``ResponseError``, or ``Interrupted``; ``received`` is filled in as it goes.

    ``limits`` bound what the server may take or send; once the answer is complete the rest of
    the body gets ``DRAIN_SECONDS`` and ``DRAIN_BYTES`` to end, then the connection is closed."""
    conn = Connection(endpoint, config=config)
    request = conn.send(turn)
    received.url = redact_url(request.url)
    meter = _Meter(limits)
    async with AsyncExitStack() as stack:
        # send
        try:
            response = await guard(stack.enter_async_context(transport.exchange(request)), meter.deadline())
        except BaseException as exc:
            conn.send_failed()
            if isinstance(exc, Cancelled):
                raise Interrupted(None) from None
            if isinstance(exc, DeadlinePassed):
                hit = meter.passed("waiting for the response head")
                timeout = ResponseTimeoutError(
                    hit.message, limit=hit.limit, partial=AssistantMessage(), url=received.url
                )
                raise AttemptFailed(Failure.TIMEOUT, timeout) from None
            if isinstance(exc, APIConnectionError):
                kind = Failure.TIMEOUT if isinstance(exc, APITimeoutError) else Failure.CONNECTION
                raise AttemptFailed(kind, exc) from exc
            raise
        # pump
        meter.progress()
        received.status = response.status
        received.headers = response.headers
        try:
            conn.receive_head(response.status, response.headers)
        except RemoteProtocolError as exc:
            raise MalformedResponseError(
                f"the response broke the protocol: {exc}", partial=AssistantMessage(), url=received.url
            ) from exc
        ok = 200 <= response.status < 300
        encoded = response.header("content-encoding") not in (None, "", "identity")
        stream = response.stream
        drain_until: float | None = None  # set once the answer is complete
        drained = 0
        while True:
            try:
                event = conn.next_event()
            except RemoteProtocolError as exc:
                raise MalformedResponseError(
                    f"the response broke the protocol: {exc}", partial=_partial(conn), url=received.url
                ) from exc
            if event is NEED_DATA:
                if drain_until is not None:
                    # The answer is complete: what follows may only end the body (the core
                    # checks it, the end included: data after the end is a protocol error).
                    drain = await _drain_some(stream, drain_until, guard)
                    if drain is None:
                        break  # broke off or lingered: the exchange closes the connection
                    drained += len(drain)
                    if drained > DRAIN_BYTES:
                        break  # chattered: the exchange closes the connection
                    conn.receive_data(drain)  # b"" at the end of the body
                    continue
                try:
                    chunk = await guard(anext(stream, b""), meter.deadline())
                except Cancelled:
                    raise Interrupted(_partial(conn) if received.output else None) from None
                except DeadlinePassed:
                    raise _limit_error(meter.passed("reading the response body"), conn, received) from None
                except APIConnectionError as exc:
                    received.cut = exc
                    chunk = b""
                received.received += len(chunk)
                try:
                    meter.body(received.received, encoded)
                except _Limit as hit:
                    raise _limit_error(hit, conn, received) from None
                conn.receive_data(chunk)
            elif event is PAUSED:
                break
            else:
                meter.progress()
                if type(event) is MessageComplete:
                    received.complete = event
                    if ok and event.error is None and not event.truncated:
                        drain_until = anyio.current_time() + DRAIN_SECONDS
                elif ok:
                    if not received.output and isinstance(event, _OUTPUT):
                        received.output = True
                    try:
                        meter.event(event)
                    except _Limit as hit:
                        raise _limit_error(hit, conn, received) from None
                    if partial and type(event) is not ServerError:
                        yield event
    # judge: the exchange is closed (and its connection reusable, the body having been drained)
    verdict = judge(received)
    if isinstance(verdict, Exception):
        raise verdict
    yield verdict


async def _drain_some(stream: AsyncIterator[bytes], until: float, guard: Guard) -> bytes | None:
    """The next chunk of a body whose answer is complete, b"" when it ends, None when it breaks
    off or lingers past ``until``; an interrupt stops the draining alike."""
    try:
        return await guard(anext(stream, b""), until)
    except (Cancelled, DeadlinePassed, APIConnectionError):
        return None


def _limit_error(hit: _Limit, conn: Connection, received: Received) -> ResponseError:
    error_type = (
        ResponseTimeoutError if hit.limit in ("stream_idle_timeout", "request_timeout") else ResponseTooLargeError
    )
    return error_type(hit.message, limit=hit.limit, partial=_partial(conn), url=received.url)


def _partial(conn: Connection) -> AssistantMessage:
    return conn.partial_message() or AssistantMessage()
