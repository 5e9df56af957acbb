"""The driver: performs one request attempt with a transport and the core, and makes no decisions.

It asks a ``Connection`` for the request, hands it to the transport, feeds the response head and
bytes back, and passes the events on, ``MessageComplete`` last. A failure the retry rules judge
is raised as ``AttemptFailed`` for the agent loop to decide on (wait and retry, fall back to
another model, or give up); a failure after output is raised as the typed ``APIError``.

Every ``await`` runs in a cancel scope of its own that ``interrupt()`` cancels, so an interrupt
stops a read, a write or a back-off at once; no scope is ever open across a ``yield``.
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TypeVar

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
from anyagent_core._config import redact_url

from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    MalformedResponseError,
    ServerStreamError,
    StreamInterruptedError,
    status_error,
)
from ._transports import AsyncTransport, TransportResponse

__all__ = ["AttemptFailed", "Driver", "Interrupted"]

_T = TypeVar("_T")

#: Events that are output: once one was received, the turn is never retried.
_OUTPUT = (TextDelta, ReasoningDelta, RefusalDelta, ToolCallDelta, ToolCall)


class Interrupted(Exception):
    """Raised by the driver when ``interrupt()`` stopped the turn; ``partial`` is what had arrived."""

    def __init__(self, partial: AssistantMessage | None) -> None:
        super().__init__("the turn was interrupted")
        self.partial = partial


class _Cancelled(Exception):
    """An interrupt cancelled the current await."""


@attrs.define
class _Attempt:
    """What one attempt received."""

    conn: Connection
    url: str
    output: bool = False
    status: int = 0
    headers: tuple[tuple[str, str], ...] = ()


class Driver:
    """Runs attempts over ``transport`` for ``endpoint``. ``clock`` (Unix time, for ``Retry-After``
    dates) and ``random`` (jitter) are injectable; ``sleep`` is ``anyio.sleep``."""

    def __init__(
        self,
        transport: AsyncTransport,
        endpoint: Endpoint,
        *,
        config: Config,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.transport = transport
        self.endpoint = endpoint
        self.config = config
        self._clock = clock
        self._random = random
        self._scope: anyio.CancelScope | None = None
        self._interrupted = False
        self.api_seconds = 0.0
        """Time spent in exchanges, summed over every turn."""

    # ---- interrupting ---------------------------------------------------------------------

    def interrupt(self) -> None:
        """Stop the turn in progress at its current ``await`` (from any task)."""
        self._interrupted = True
        if self._scope is not None:
            self._scope.cancel()

    async def _guard(self, awaitable: Awaitable[_T]) -> _T:
        """Await in a scope ``interrupt()`` can cancel; ``_Cancelled`` if it did. After an
        interrupt nothing more is awaited (even an awaitable that would finish without a
        checkpoint, where a cancelled scope would not stop it)."""
        if self._interrupted:
            close = getattr(awaitable, "close", None)
            if close is not None:
                close()  # never awaited: no "coroutine was never awaited" warning
            raise _Cancelled
        with anyio.CancelScope() as scope:
            self._scope = scope
            try:
                return await awaitable
            finally:
                self._scope = None
        raise _Cancelled

    # ---- one attempt ----------------------------------------------------------------------

    async def guard(self, awaitable: Awaitable[_T]) -> _T:
        """Await ``awaitable`` so that ``interrupt()`` stops it; raises ``Interrupted`` if it did."""
        try:
            return await self._guard(awaitable)
        except _Cancelled:
            raise Interrupted(None) from None

    def reset(self) -> None:
        """Forget an earlier interrupt (a new response begins)."""
        self._interrupted = False

    def clock(self) -> float:
        """The current Unix time (for ``Retry-After`` dates)."""
        return self._clock()

    def random(self) -> float:
        """A number in [0, 1) for retry jitter."""
        return self._random()

    async def exchange(self, turn: StartTurn, *, partial: bool = True) -> AsyncGenerator[Event]:
        """Perform one attempt of ``turn``: yields its events as they arrive (only with
        ``partial``) and ``MessageComplete`` last. Raises ``AttemptFailed`` when the attempt
        failed in a way the retry rules judge, another ``APIError`` when it failed after
        output (never retried), ``Interrupted`` when interrupted."""
        begun = anyio.current_time()
        try:
            attempt = _Attempt(conn=Connection(self.endpoint, config=self.config), url="")
            conn = attempt.conn
            request = conn.send(turn)
            attempt.url = url = redact_url(request.url)
            async with AsyncExitStack() as stack:
                try:
                    response: TransportResponse = await self._guard(
                        stack.enter_async_context(self.transport.exchange(request))
                    )
                except BaseException as exc:
                    conn.send_failed()
                    if isinstance(exc, _Cancelled):
                        raise Interrupted(None) from None
                    if isinstance(exc, APIConnectionError):
                        kind = Failure.TIMEOUT if isinstance(exc, APITimeoutError) else Failure.CONNECTION
                        raise AttemptFailed(kind, exc) from exc
                    raise
                attempt.status = response.status
                attempt.headers = response.headers
                conn.receive_head(response.status, response.headers)
                ok = 200 <= response.status < 300
                stream = response.stream
                complete: MessageComplete | None = None
                cut: APIConnectionError | None = None
                received = 0
                while True:
                    try:
                        event = conn.next_event()
                    except RemoteProtocolError as exc:
                        raise MalformedResponseError(
                            f"the response broke the protocol: {exc}", partial=_partial(conn), url=url
                        ) from exc
                    if event is NEED_DATA:
                        try:
                            chunk = await self._guard(anext(stream, b""))
                        except _Cancelled:
                            raise Interrupted(_partial(conn) if attempt.output else None) from None
                        except APIConnectionError as exc:
                            cut = exc
                            chunk = b""
                        received += len(chunk)
                        conn.receive_data(chunk)
                    elif event is PAUSED:
                        break
                    elif type(event) is MessageComplete:
                        complete = event
                    elif ok:
                        if isinstance(event, _OUTPUT):
                            attempt.output = True
                        if partial and type(event) is not ServerError:
                            yield event
                assert complete is not None
            # The exchange is closed (and its connection reusable, the body having been drained).
            if not ok:
                error = complete.error
                raise AttemptFailed(
                    Failure.STATUS,
                    status_error(attempt.status, error=error, headers=dict(attempt.headers), url=url),
                    status=attempt.status,
                    headers=attempt.headers,
                    server_error=error,
                ) from cut
            if complete.error is not None:
                server_error = complete.error
                exc_stream = ServerStreamError(
                    f"the server reported an error in the response: {server_error.message}",
                    partial=complete.message,
                    error=server_error,
                    url=url,
                )
                if attempt.output:
                    raise exc_stream
                raise AttemptFailed(Failure.STREAM_ERROR, exc_stream, server_error=server_error)
            if cut is not None or complete.truncated:
                when = "mid-answer" if attempt.output else "before any output"
                if cut is not None:
                    why = f"the connection failed {when} ({cut.message})"
                elif not received:
                    why = (
                        f"the server answered HTTP {attempt.status} with an empty body (llama.cpp's server "
                        "does this when a streamed prompt does not fit its context window)"
                    )
                else:
                    why = f"the response ended {when}"
                interrupted = StreamInterruptedError(why, partial=complete.message, url=url)
                if attempt.output:
                    raise interrupted from cut
                kind = Failure.EMPTY_RESPONSE
                if cut is not None:
                    kind = Failure.TIMEOUT if isinstance(cut, APITimeoutError) else Failure.CONNECTION
                interrupted.__cause__ = cut
                raise AttemptFailed(kind, interrupted)
            yield complete

        finally:
            self.api_seconds += anyio.current_time() - begun


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


def _partial(conn: Connection) -> AssistantMessage:
    return conn.partial_message() or AssistantMessage()
