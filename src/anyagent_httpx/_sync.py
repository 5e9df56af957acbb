"""The blocking facade for scripts: the async API run on an event loop in a helper thread.

Nothing is written twice: ``query_sync`` and ``SyncClient`` hand each call to the async
``query``/``Client`` through an anyio blocking portal (``anyio.from_thread``). Use them from
plain synchronous code only; inside an event loop use the async API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import ExitStack
from types import TracebackType
from typing import Literal

from anyio.from_thread import BlockingPortal, start_blocking_portal

from anyagent_core import Message, RunMessage, TextBlock

from ._client import Client, Prompt, query
from ._errors import ClientStateError
from ._options import AgentOptions

__all__ = ["SyncClient", "query_sync"]

Backend = Literal["asyncio", "trio"]


def _iterate(portal: BlockingPortal, iterator: AsyncIterator[RunMessage]) -> Iterator[RunMessage]:
    """Step an async iterator from this thread; close it if the caller stops early."""
    try:
        while True:
            try:
                message = portal.call(iterator.__anext__)
            except StopAsyncIteration:
                return
            yield message
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            portal.call(aclose)


def query_sync(
    *, prompt: Prompt, options: AgentOptions | None = None, backend: Backend = "asyncio"
) -> Iterator[RunMessage]:
    """``query()`` for synchronous code: the same messages, as a plain iterator.

    ::

        for message in query_sync(prompt="Hello", options=AgentOptions(model="qwen3")):
            print(message)
    """
    with start_blocking_portal(backend) as portal:
        yield from _iterate(portal, query(prompt=prompt, options=options))


class SyncClient:
    """``Client`` for synchronous code (a context manager); each method blocks until done.

    ``interrupt()`` may be called from another thread while ``receive_response()`` iterates.
    """

    def __init__(
        self,
        options: AgentOptions | None = None,
        *,
        backend: Backend = "asyncio",
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._client = Client(options, env=env)
        self._backend = backend
        self._stack: ExitStack | None = None
        self._portal: BlockingPortal | None = None

    @property
    def client(self) -> Client:
        """The async client underneath."""
        return self._client

    @property
    def messages(self) -> tuple[Message, ...]:
        return self._client.messages

    def __enter__(self) -> SyncClient:
        if self._stack is not None:
            raise ClientStateError("the client is already open")
        stack = ExitStack()
        try:
            portal = stack.enter_context(start_blocking_portal(self._backend))
            stack.enter_context(portal.wrap_async_context_manager(self._client))
        except BaseException:
            stack.close()
            raise
        self._stack, self._portal = stack, portal
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        stack, self._stack, self._portal = self._stack, None, None
        if stack is not None:
            stack.__exit__(exc_type, exc, tb)

    def _require_portal(self, what: str) -> BlockingPortal:
        if self._portal is None:
            raise ClientStateError(f"{what}() on a SyncClient that is not open: use 'with SyncClient(...)'")
        return self._portal

    def query(self, prompt: Prompt) -> None:
        self._require_portal("query").call(self._client.query, prompt)

    def receive_response(self) -> Iterator[RunMessage]:
        portal = self._require_portal("receive_response")
        return _iterate(portal, self._client.receive_response())

    def add_tool_result(self, tool_use_id: str, result: str | Sequence[TextBlock], *, is_error: bool = False) -> None:
        self._client.add_tool_result(tool_use_id, result, is_error=is_error)

    def interrupt(self) -> None:
        self._require_portal("interrupt").call(self._client.interrupt)
