"""The driver: performs one model turn with a transport and the core, and makes no decisions.

For each attempt it asks a ``Connection`` for the request, hands it to the transport, feeds the
response head and bytes back, and passes the events on. When an attempt fails it reports the
failure to the core's ``RetryState`` and does what it says: sleep and retry (perhaps with a
fallback model), or raise the typed error. It yields the turn's events as they arrive, a
``SystemMessage("retry")`` before each retry, and the ``MessageComplete`` last.

Every ``await`` runs in a cancel scope of its own that ``interrupt()`` cancels, so an interrupt
stops a read, a write or a back-off at once; no scope is ever open across a ``yield``.
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, aclosing
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
    GiveUp,
    MessageComplete,
    ReasoningDelta,
    RefusalDelta,
    RemoteProtocolError,
    Retry,
    RetryPolicy,
    RetryState,
    ServerError,
    StartTurn,
    SystemMessage,
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
from ._transport import AsyncTransport, TransportResponse

__all__ = ["Driver", "Interrupted"]

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
    """Runs turns over ``transport`` for ``endpoint``. ``clock`` (Unix time, for ``Retry-After``
    dates) and ``random`` (jitter) are injectable; ``sleep`` is ``anyio.sleep``."""

    def __init__(
        self,
        transport: AsyncTransport,
        endpoint: Endpoint,
        *,
        config: Config,
        retry: RetryPolicy,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.transport = transport
        self.endpoint = endpoint
        self.config = config
        self.retry = retry
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
        """Await in a scope ``interrupt()`` can cancel; ``_Cancelled`` if it did."""
        with anyio.CancelScope() as scope:
            self._scope = scope
            if self._interrupted:
                scope.cancel()
            try:
                return await awaitable
            finally:
                self._scope = None
        raise _Cancelled

    # ---- a turn ---------------------------------------------------------------------------

    async def turn(
        self, turn: StartTurn, models: Sequence[str], *, partial: bool = True
    ) -> AsyncGenerator[Event | SystemMessage]:
        """Perform ``turn`` (its model replaced by ``models[0]``, then the fallbacks): yields its
        events as they arrive (only with ``partial``), ``SystemMessage("retry")`` before each
        retry, and ``MessageComplete`` last. Raises an ``APIError`` subclass when it fails for
        good, ``Interrupted`` when interrupted."""
        self._interrupted = False
        state = RetryState(self.retry, models)
        while True:
            attempt = _Attempt(conn=Connection(self.endpoint, config=self.config), url="")
            begun = anyio.current_time()
            started: float | None = begun
            try:
                this_turn = turn if turn.model == state.model else attrs.evolve(turn, model=state.model)
                async with aclosing(self._attempt(attempt, this_turn, partial)) as items:
                    async for item in items:
                        yield item
                return
            except _Failed as failed:
                self.api_seconds += anyio.current_time() - begun
                started = None  # the back-off below is not time spent in an exchange
                decision = self._decide(state, failed)
                if isinstance(decision, GiveUp):
                    failed.error.add_note(f"not retried: {decision.reason}")
                    raise failed.error from failed.error.__cause__
                yield SystemMessage(
                    subtype="retry",
                    data={
                        "attempt": decision.attempt,
                        "model": decision.model,
                        "delay": decision.delay,
                        "reason": decision.reason,
                        "error": str(failed.error),
                    },
                )
                try:
                    await self._guard(anyio.sleep(decision.delay))
                except _Cancelled:
                    raise Interrupted(None) from None
            finally:
                if started is not None:
                    self.api_seconds += anyio.current_time() - started

    def _decide(self, state: RetryState, failed: _Failed) -> Retry | GiveUp:
        texts: tuple[object, ...] = ()
        if failed.server_error is not None:
            e = failed.server_error
            texts = (e.message, e.code, e.type, e.body)
        return state.failed(
            failed.kind,
            status=failed.status,
            headers=failed.headers,
            error_text=texts,
            now=self._clock(),
            random=self._random(),
        )

    async def _attempt(self, attempt: _Attempt, turn: StartTurn, partial: bool) -> AsyncGenerator[Event]:
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
                    raise _Failed(kind, exc) from exc
                raise
            attempt.status = response.status
            attempt.headers = response.headers
            conn.receive_head(response.status, response.headers)
            ok = 200 <= response.status < 300
            stream = response.stream
            complete: MessageComplete | None = None
            cut: APIConnectionError | None = None
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
            raise _Failed(
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
            raise _Failed(Failure.STREAM_ERROR, exc_stream, server_error=server_error)
        if cut is not None or complete.truncated:
            when = "mid-answer" if attempt.output else "before any output"
            why = f"the connection failed {when} ({cut.message})" if cut else f"the response ended {when}"
            interrupted = StreamInterruptedError(why, partial=complete.message, url=url)
            if attempt.output:
                raise interrupted from cut
            kind = Failure.EMPTY_RESPONSE
            if cut is not None:
                kind = Failure.TIMEOUT if isinstance(cut, APITimeoutError) else Failure.CONNECTION
            interrupted.__cause__ = cut
            raise _Failed(kind, interrupted)
        yield complete


class _Failed(Exception):
    """An attempt failed in a way the retry rules judge; ``error`` is what the user would get."""

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


def _partial(conn: Connection) -> AssistantMessage:
    return conn.partial_message() or AssistantMessage()
