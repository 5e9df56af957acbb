"""The transport contract: one method, ``exchange(request)``, which the driver calls.

A transport performs one HTTP exchange for a core ``Request`` and knows nothing of the protocol
above it: no SSE, no JSON, no retries. ``HttpxTransport`` and ``H11Transport`` implement it; so
can anything else (aiohttp, a browser fetch, a test double) in one small class::

    class MyTransport:
        @asynccontextmanager
        async def exchange(self, request: Request) -> AsyncIterator[TransportResponse]:
            ...  # send request.method / url / headers / body, read the status and headers
            try:
                yield TransportResponse(status=..., headers=..., stream=body_chunks())
            finally:
                ...  # release the connection; shield any await from cancellation

The contract:

- Entering sends the request and waits for the response head. Failing there raises
  ``APIConnectionError`` (or ``APITimeoutError``) with ``response_started=False``.
- ``stream`` yields the body's bytes as they arrive (content-encoding undone, never ``b""``) and
  ends at the end of the body. Failing mid-body raises ``APIConnectionError`` with
  ``response_started=True``.
- Exiting releases the connection: kept for reuse only when the body was read to its end,
  closed otherwise (an early exit, an error, a cancellation). Exiting never hangs under
  cancellation: any ``await`` in it runs in a shielded, time-bounded scope.
- No ``timeout=`` arguments: timeouts are the transport's configuration (the ``httpx.AsyncClient``)
  and the caller's cancel scopes.

Failures are translated at the edge by one mapper, ``map_exceptions``, used as a ``with`` around
each step that does I/O; each transport passes its own table of what maps to what.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Protocol, runtime_checkable

import attrs

from anyagent_core import Request
from anyagent_httpx._errors import AnyAgentError, APIConnectionError

__all__ = ["CLOSE_TIMEOUT", "AsyncTransport", "ErrorTable", "TransportFailure", "TransportResponse", "map_exceptions"]

#: How long closing a connection may take once cancelled (inside a shielded scope).
CLOSE_TIMEOUT = 5.0


@attrs.frozen(kw_only=True)
class TransportResponse:
    """What a transport hands back: the status, the headers and the body as a byte stream."""

    status: int
    headers: tuple[tuple[str, str], ...]
    """Names and values as received (names lower-cased by some transports)."""
    stream: AsyncIterator[bytes] = attrs.field(repr=False)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None


@runtime_checkable
class AsyncTransport(Protocol):
    """Performs one HTTP exchange for a core ``Request``; see the module docstring."""

    def exchange(self, request: Request) -> AbstractAsyncContextManager[TransportResponse]:
        """An async context manager: entering sends ``request`` and yields the response."""
        ...


#: What a transport's failures become: the first key an exception is an instance of picks the error
#: raised (so a subclass, such as ``TimeoutError`` of ``OSError``, is listed before its base).
ErrorTable = Mapping[type[BaseException], type[APIConnectionError]]


class TransportFailure(OSError):
    """A failure a transport detected itself (a deadline passed, the server hung up), with a
    message written for the user: ``map_exceptions`` passes it on as it is."""


@contextmanager
def map_exceptions(table: ErrorTable, *, url: str | None, response_started: bool) -> Iterator[None]:
    """Translate a transport library's exceptions into ours, at the edge (httpcore's shape).

    An exception that is an instance of a key of ``table`` is raised as
    ``table[key](message, url=url, response_started=response_started) from exc``; the message
    names the library's exception type (a ``TransportFailure``'s message is used as it is).
    Everything else passes through unchanged: cancellation (not an ``Exception``), our own
    errors, ``StopAsyncIteration``."""
    try:
        yield
    except AnyAgentError:
        raise
    except Exception as exc:
        for source, target in table.items():
            if isinstance(exc, source):
                detail = str(exc) or type(exc).__name__
                message = detail if isinstance(exc, TransportFailure) else f"{type(exc).__name__}: {detail}"
                raise target(message, url=url, response_started=response_started) from exc
        raise
