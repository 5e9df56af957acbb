"""``Client`` (a stateful conversation) and ``query()`` (one prompt, one answer).

::

    async with Client(AgentOptions(model="qwen2.5-7b-instruct")) as client:
        await client.query("What is the capital of France?")
        async for message in client.receive_response():  # ends with a ResultMessage
            ...

The client holds the conversation and hands each turn to the driver; the protocol and the retry
rules stay in the core. It starts no background task: the work of a response happens inside
``receive_response()``, in the caller's task and cancel scopes.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from types import TracebackType

import anyio
import anyio.lowlevel

from anyagent_core import (
    AssistantMessage,
    Finished,
    Message,
    MessageComplete,
    ReasoningDelta,
    RefusalDelta,
    ResultMessage,
    ResultSubtype,
    RunMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolResultBlock,
    ToolUseBlock,
    ToolUseError,
    Usage,
    UserBlock,
    UserMessage,
    add_usage,
)

from ._driver import Driver, Interrupted
from ._errors import ClientStateError
from ._httpx import HttpxTransport
from ._options import AgentOptions
from ._transport import AsyncTransport

__all__ = ["Client", "ClientState", "query"]

_PARTIAL = (TextDelta, ReasoningDelta, RefusalDelta, ToolCallDelta, ToolCall, Usage, Finished)

Prompt = str | UserMessage | Sequence[UserBlock]


class ClientState(enum.Enum):
    UNOPENED = "UNOPENED"
    OPENED = "OPENED"
    CLOSED = "CLOSED"


def _user_message(prompt: Prompt) -> UserMessage:
    if isinstance(prompt, UserMessage):
        return prompt
    if isinstance(prompt, str):
        return UserMessage(content=prompt)
    return UserMessage(content=tuple(prompt))


class Client:
    """A conversation with one endpoint, over many prompts.

    Lifecycle: UNOPENED → (``async with`` or ``await client.open()``) → OPENED → CLOSED; a
    closed client cannot be reopened. ``model``, ``base_url`` and ``api_key`` are resolved
    when it opens (``ConfigurationError`` if there is no model or base URL).
    """

    def __init__(self, options: AgentOptions | None = None, *, env: Mapping[str, str] | None = None) -> None:
        self.options = options if options is not None else AgentOptions()
        self._env = env
        self._state = ClientState.UNOPENED
        self._history: list[Message] = []
        self._pending = False  # a query or the answers to tool calls await a response
        self._unanswered: dict[str, ToolUseBlock | ToolUseError] = {}
        self._answers: dict[str, ToolResultBlock] = {}
        self._receiving = False
        self._wakeup: anyio.Event | None = None
        self._run_turns = 0  # model turns since the last query(), tool round trips included
        self._driver: Driver | None = None
        self._transport: AsyncTransport | None = None
        self._owned_transport: HttpxTransport | None = None
        self._models: tuple[str, ...] = ()
        self.session_id = str(uuid.uuid4())

    # ---- lifecycle ------------------------------------------------------------------------

    @property
    def state(self) -> ClientState:
        return self._state

    @property
    def messages(self) -> tuple[Message, ...]:
        """The conversation so far (user and assistant messages, tool results included)."""
        return tuple(self._history)

    async def open(self) -> None:
        """Resolve the configuration and set up the transport (``async with`` does this)."""
        if self._state is not ClientState.UNOPENED:
            raise ClientStateError(
                "the client is already open" if self._state is ClientState.OPENED else "a closed client cannot reopen"
            )
        options = self.options
        endpoint = options.endpoint(self._env)
        self._models = (options.resolved_model(self._env), *options.fallback_models)
        if options.transport is not None:
            transport: AsyncTransport = options.transport
        else:
            transport = HttpxTransport(http_client=options.http_client)
            if options.http_client is None:
                self._owned_transport = transport
        self._transport = transport
        self._driver = Driver(transport, endpoint, config=options.config, retry=options.retry)
        self._state = ClientState.OPENED
        await anyio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        """Close the client (and the HTTP client it built, never one you passed in)."""
        if self._state is ClientState.CLOSED:
            return
        self._state = ClientState.CLOSED
        if self._driver is not None:
            self._driver.interrupt()
        if self._wakeup is not None:
            self._wakeup.set()
        if self._owned_transport is not None:
            with anyio.CancelScope(shield=True):
                await self._owned_transport.aclose()

    async def __aenter__(self) -> Client:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _check_open(self, what: str) -> Driver:
        if self._state is ClientState.UNOPENED:
            raise ClientStateError(f"{what}() on a client that is not open: use 'async with Client(...)'")
        if self._state is ClientState.CLOSED:
            raise ClientStateError(f"{what}() on a closed client")
        assert self._driver is not None
        return self._driver

    # ---- input ----------------------------------------------------------------------------

    async def query(self, prompt: Prompt) -> None:
        """Add a user prompt; the answer comes from ``receive_response()``."""
        self._check_open("query")
        if self._receiving:
            raise ClientStateError("query() while a response is being received; wait for its ResultMessage")
        if self._unanswered:
            ids = ", ".join(sorted(self._unanswered))
            raise ClientStateError(f"query() with tool calls unanswered ({ids}): answer them with add_tool_result()")
        self._history.append(_user_message(prompt))
        self._run_turns = 0
        self._set_pending()
        await anyio.lowlevel.checkpoint()

    def add_tool_result(self, tool_use_id: str, result: str | Sequence[TextBlock], *, is_error: bool = False) -> None:
        """Answer a tool call the model made (a ``ToolUseBlock`` or ``ToolUseError`` of the last
        answer). Once every call is answered, ``receive_response()`` sends the results on."""
        self._check_open("add_tool_result")
        call = self._unanswered.pop(tool_use_id, None)
        if call is None:
            known = ", ".join(sorted(self._unanswered)) or "none"
            if tool_use_id in self._answers:
                raise ClientStateError(f"tool call {tool_use_id!r} already has a result")
            raise ClientStateError(f"no tool call {tool_use_id!r} awaits a result (waiting: {known})")
        content = result if isinstance(result, str) else tuple(result)
        self._answers[tool_use_id] = ToolResultBlock(tool_use_id=tool_use_id, content=content, is_error=is_error)
        if not self._unanswered:
            blocks = tuple(self._answers.values())
            self._answers = {}
            self._history.append(UserMessage(content=blocks))
            self._set_pending()

    async def interrupt(self) -> None:
        """Stop the response in progress: ``receive_response()`` ends with what had arrived and
        a ``ResultMessage`` of subtype ``interrupted``. Safe to call from another task."""
        self._check_open("interrupt").interrupt()
        await anyio.lowlevel.checkpoint()

    def _set_pending(self) -> None:
        self._pending = True
        if self._wakeup is not None:
            self._wakeup.set()

    # ---- output ---------------------------------------------------------------------------

    async def receive_messages(self) -> AsyncGenerator[RunMessage]:
        """Every message of every response, waiting for the next prompt in between; ends when
        the client closes."""
        self._check_open("receive_messages")
        while self._state is ClientState.OPENED:
            if self._pending:
                async with aclosing(self.receive_response()) as messages:
                    async for message in messages:
                        yield message
            else:
                self._wakeup = anyio.Event()
                await self._wakeup.wait()
                self._wakeup = None

    async def receive_response(self) -> AsyncGenerator[RunMessage]:
        """The answer to the last prompt (or to the tool results just given): ``StreamEvent``
        pieces when ``include_partial_messages``, ``SystemMessage``s, the ``AssistantMessage``,
        and a ``ResultMessage`` last.

        Raises ``APIError`` subclasses when the server fails for good; the prompt stays in the
        conversation, and calling ``receive_response()`` again tries once more."""
        driver = self._check_open("receive_response")
        if self._receiving:
            raise ClientStateError("receive_response() while another receive is in progress")
        if not self._pending:
            raise ClientStateError("nothing to receive: call query() (or answer the tool calls) first")
        self._receiving = True
        try:
            async with aclosing(self._respond(driver)) as messages:
                async for message in messages:
                    yield message
        finally:
            self._receiving = False

    async def _respond(self, driver: Driver) -> AsyncGenerator[RunMessage]:
        options = self.options
        started = anyio.current_time()
        api_before = driver.api_seconds
        usage: Usage | None = None
        turn_number = 0
        answer: AssistantMessage | None = None
        while True:
            if options.max_turns is not None and self._run_turns >= options.max_turns:
                self._pending = False
                yield self._result(
                    "error_max_turns", answer, turn_number, started, driver, api_before, usage,
                    errors=(f"max_turns ({options.max_turns}) reached",),
                )  # fmt: skip
                return
            turn_number += 1
            self._run_turns += 1
            turn = options.start_turn(self._models[0], self._history, after_tools=self._run_turns > 1)
            complete: MessageComplete | None = None
            try:
                async with aclosing(driver.turn(turn, self._models, partial=options.include_partial_messages)) as items:
                    async for item in items:
                        if type(item) is MessageComplete:
                            complete = item
                        elif type(item) is SystemMessage:
                            yield item
                        elif isinstance(item, _PARTIAL):  # the driver yields them only if asked
                            yield StreamEvent(event=item, turn=turn_number)
            except Interrupted as interrupted:
                self._pending = False
                partial = interrupted.partial
                if partial is not None and partial.content:
                    kept = AssistantMessage(
                        content=tuple(b for b in partial.content if not isinstance(b, ToolUseBlock | ToolUseError)),
                        model=partial.model,
                        id=partial.id,
                        stop_reason="interrupted",
                        usage=partial.usage,
                    )
                    if kept.content:
                        self._history.append(kept)
                        yield kept
                        answer = kept
                yield self._result("interrupted", answer, turn_number - 1, started, driver, api_before, usage)
                return
            assert complete is not None
            answer = complete.message
            usage = add_usage(usage, answer.usage)
            self._history.append(answer)
            yield answer
            calls = answer.tool_uses
            if calls:
                # No tool runs here: every call is the caller's to answer.
                self._unanswered = {call.id: call for call in calls}
                self._answers = {}
            self._pending = False
            yield self._result("success", answer, turn_number, started, driver, api_before, usage, pending=calls)
            return

    def _result(
        self,
        subtype: ResultSubtype,
        answer: AssistantMessage | None,
        turns: int,
        started: float,
        driver: Driver,
        api_before: float,
        usage: Usage | None,
        *,
        errors: tuple[str, ...] = (),
        pending: tuple[ToolUseBlock | ToolUseError, ...] = (),
    ) -> ResultMessage:
        text = answer.text if answer is not None else ""
        return ResultMessage(
            subtype=subtype,
            result=text or None,
            is_error=subtype.startswith("error"),
            num_turns=turns,
            duration_ms=round((anyio.current_time() - started) * 1000),
            duration_api_ms=round((driver.api_seconds - api_before) * 1000),
            usage=usage,
            stop_reason=answer.stop_reason if answer is not None else None,
            model=answer.model if answer is not None else None,
            pending_tool_calls=pending,
            errors=errors,
            session_id=self.session_id,
        )


async def query(*, prompt: Prompt, options: AgentOptions | None = None) -> AsyncGenerator[RunMessage]:
    """One prompt, one answer: the messages of ``Client.receive_response()``, with a client
    opened and closed around them. An async generator: wrap it in ``contextlib.aclosing`` if
    you may stop before the end, so the connection is released at once."""
    async with Client(options) as client:
        await client.query(prompt)
        async with aclosing(client.receive_response()) as messages:
            async for message in messages:
                yield message
