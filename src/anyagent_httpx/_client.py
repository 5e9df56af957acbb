"""``Client`` (a stateful conversation) and ``query()`` (one prompt, one answer).

::

    async with Client(AgentOptions(model="qwen2.5-7b-instruct", tools=["read_file"])) as client:
        await client.query("What does notes.md say?")
        async for message in client.receive_response():  # ends with a ResultMessage
            ...

The client holds the lifecycle and the public methods. The core's ``AgentLoop`` makes every
decision and holds the conversation; the ``Driver`` (``_driver.py``) performs what the loop asks
(requests, permission questions, tool runs, back-off waits) and reports back. The client starts
no background task: the work of a response happens inside ``receive_response()``, in the
caller's task and cancel scopes.

A response is over when its ``ResultMessage`` is handed out: a caller may stop reading there
(``break``) and ``query()`` again, with or without ``contextlib.aclosing``. A caller that stops
reading earlier and drops the iterator abandons the response: the next ``query()`` (or closing
the client) finalizes it, its open tool calls answered as interrupted.
"""

from __future__ import annotations

import base64
import enum
import os
import pathlib
import uuid
import weakref
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from contextlib import aclosing
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.lowlevel
import attrs

from anyagent_core import (
    AgentLoop,
    Commit,
    Done,
    Endpoint,
    ImageBlock,
    LocalProtocolError,
    LoopState,
    Message,
    PermissionMode,
    ResultMessage,
    RunMessage,
    TextBlock,
    ToolResultBlock,
    ToolSpec,
    UserBlock,
    UserMessage,
)
from anyagent_core.settings import PERMISSION_MODES
from anyagent_core.value import Record

from ._driver import Driver, Toolbox
from ._errors import APIError, ClientStateError, ConfigurationError
from ._logging import RunLogger, Scrubber, endpoint_secrets, protect_httpx_logs
from ._observe import observers
from ._options import ENV_API_KEY, AgentOptions, _derived

if TYPE_CHECKING:
    from anyagent_core import LoopTool
    from anyagent_core.context import ContextUsage

    from ._mcp import McpServers
    from ._sessions._writer import SessionWriter
    from ._subagents import Subagents
    from ._tools import Tool, ToolContext
from ._transports import AsyncTransport, HttpxTransport, shared_transport

__all__ = ["Client", "ClientState", "MessageStream", "query"]

PromptItem = str | UserMessage | Sequence[UserBlock] | Mapping[str, Any]
"""One prompt: text, a ``UserMessage``, user blocks, or a dict in the shape claude-agent-sdk
streams (``{"type": "user", "message": {"role": "user", "content": ...}}``)."""
Prompt = PromptItem | AsyncIterable[PromptItem]
"""A prompt, or an async iterable of them (streaming input: one response each, read as the
conversation goes on)."""


class ClientState(enum.Enum):
    """Where a ``Client`` is in its lifecycle: UNOPENED, then OPENED, then CLOSED."""

    UNOPENED = "UNOPENED"
    OPENED = "OPENED"
    CLOSED = "CLOSED"


def _user_message(prompt: PromptItem) -> UserMessage:
    if isinstance(prompt, UserMessage):
        return prompt
    if isinstance(prompt, str):
        return UserMessage(content=prompt)
    if isinstance(prompt, Mapping):
        return _from_dict(prompt)
    return UserMessage(content=tuple(prompt))


def _from_dict(prompt: Mapping[str, Any]) -> UserMessage:
    """A prompt dict: ``{"type": "user", "message": {"role": "user", "content": ...}}`` or the
    inner ``{"role": "user", "content": ...}``; content is text or a list of ``text`` and
    ``image`` blocks (base64 ``source`` or ``url``)."""
    message = prompt.get("message", prompt) if prompt.get("type", "user") == "user" else None
    if not isinstance(message, Mapping) or message.get("role", "user") != "user" or "content" not in message:
        raise ValueError(
            "a prompt dict is {'type': 'user', 'message': {'role': 'user', 'content': ...}}, "
            f"not one with keys {sorted(prompt)}"
        )
    content = message["content"]
    if isinstance(content, str):
        return UserMessage(content=content)
    if not isinstance(content, Sequence):
        raise TypeError(f"a prompt dict's content is text or a list of blocks, not {type(content).__name__}")
    blocks: list[UserBlock] = []
    for index, block in enumerate(content):
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text" and isinstance(block.get("text"), str):
            blocks.append(TextBlock(text=block["text"]))
        elif kind == "image" and isinstance(block.get("source"), Mapping):
            source = block["source"]
            if source.get("type") == "base64":
                blocks.append(ImageBlock.from_bytes(base64.b64decode(source["data"]), source["media_type"]))
            else:
                blocks.append(ImageBlock(url=source["url"]))
        else:
            raise ValueError(f"a prompt dict's content[{index}] is not a text or image block: {block!r}")
    return UserMessage(content=tuple(blocks))


class _Open(Record):
    """A receive, for the client: the generator of the response it is in (None between
    responses), whether a caller is inside one of its steps, and whether the iterator handed
    out was dropped."""

    __slots__ = ("abandoned", "busy", "gen")

    def __init__(self) -> None:
        self.gen: AsyncGenerator[RunMessage] | None = None
        self.busy = False
        self.abandoned = False


class MessageStream(AsyncIterator[RunMessage]):
    """What ``receive_response()`` and ``receive_messages()`` return: an async iterator of the
    messages, with ``aclose()``. A response's work is closed when its ``ResultMessage`` is
    handed out, so stopping there (a ``break``) leaves nothing behind; a stream dropped in the
    middle of a response is finalized by the next ``query()`` or when the client closes."""

    def __init__(self, client: Client, *, follow: bool) -> None:
        self._client = client
        self._follow = follow  # receive_messages(): response after response
        self._open = _Open()
        self._started = False
        self._done = False
        weakref.finalize(self, _mark_abandoned, self._open)

    def __aiter__(self) -> MessageStream:
        return self

    async def __anext__(self) -> RunMessage:
        open_ = self._open
        if self._done:
            raise StopAsyncIteration
        open_.busy = True
        try:
            while True:
                if open_.gen is None:
                    if self._follow:
                        if not await self._client._await_prompt():
                            self._done = True
                            raise StopAsyncIteration
                    elif self._started:
                        self._done = True
                        raise StopAsyncIteration
                    self._started = True
                    open_.gen = self._client._response(open_)
                gen = open_.gen
                try:
                    message = await gen.__anext__()
                except StopAsyncIteration:
                    open_.gen = None
                    continue
                except BaseException:
                    open_.gen = None
                    self._done = not self._follow
                    raise
                if type(message) is ResultMessage:
                    open_.gen = None
                    await gen.aclose()  # the response is over: nothing is left open
                return message
        finally:
            open_.busy = False

    async def aclose(self) -> None:
        """Stop receiving: a response cut short ends as interrupted."""
        self._done = True
        gen, self._open.gen = self._open.gen, None
        if gen is not None:
            await gen.aclose()


def _mark_abandoned(open_: _Open) -> None:
    open_.abandoned = True


class Client:
    """A conversation with one endpoint, over many prompts.

    Lifecycle: UNOPENED → (``async with`` or ``await client.open()``) → OPENED → CLOSED; a
    closed client cannot be reopened. ``model``, ``base_url`` and ``api_key`` are resolved
    when it opens (``ConfigurationError`` if there is no model or base URL), and so are the
    tools and the working directory.
    """

    _driver_class: type[Driver] = Driver
    """What performs the loop's actions (a durable run's checkpoints its steps)."""

    def __init__(
        self,
        options: AgentOptions | None = None,
        *,
        env: Mapping[str, str] | None = None,
        history: Sequence[Message] = (),
        _agent: str | None = None,
    ) -> None:
        self.options = options if options is not None else AgentOptions()
        self._env = env
        self._initial_history = tuple(history)
        self._agent = _agent
        self._state = ClientState.UNOPENED
        self._loop: AgentLoop | None = None
        self._pending = False  # a response awaits receiving
        self._resume = False  # ... and it continues the conversation as it is (no new prompt)
        self._receiving = False
        self._wakeup: anyio.Event | None = None
        self._driver: Driver | None = None
        self._owned_transport: HttpxTransport | None = None
        self._session: SessionWriter | None = None
        self._open_receive: _Open | None = None  # the receive inside a response, if any
        self._inbox: AsyncIterator[PromptItem] | None = None  # streaming input not read yet
        self._started = False  # the first prompt came (SessionStart ran)
        self._log_protection: Callable[[], None] | None = None
        self._system_prompt: str | None = None  # before memories are put in it
        self._mcp: McpServers | None = None  # the MCP servers' connections (mcp_servers=)
        self._mcp_names: frozenset[str] = frozenset()
        self._toolbox: Toolbox | None = None
        self.session_id = str(uuid.uuid4())
        """The session's id: the stored session's with a ``session_store`` (known once open)."""

    # ---- lifecycle ------------------------------------------------------------------------

    @property
    def state(self) -> ClientState:
        return self._state

    @property
    def messages(self) -> tuple[Message, ...]:
        """The conversation so far (user and assistant messages, tool results included)."""
        if self._loop is None:
            return self._initial_history
        return self._loop.messages

    async def open(self) -> None:
        """Resolve the configuration and set up the transport and tools (``async with`` does
        this); the MCP servers of ``mcp_servers`` start here (``McpServerError`` for one that
        does not), in this task: open and close the client in the same task."""
        await self._start()
        await anyio.lowlevel.checkpoint()

    async def _start(self) -> None:
        """``open()`` without its checkpoint of its own (for ``query()``, whose request is one)."""
        if self._state is not ClientState.UNOPENED:
            raise ClientStateError(
                "the client is already open" if self._state is ClientState.OPENED else "a closed client cannot reopen"
            )
        try:
            await self._open()
        except BaseException:
            mcp, self._mcp = self._mcp, None
            if mcp is not None:
                await mcp.aclose()
            raise

    async def _open(self) -> None:
        options = self.options
        endpoint = options.endpoint(self._env)
        model = options.resolved_model(self._env)
        transport: AsyncTransport | None = options.transport
        if transport is None:
            if options.http_client is not None:
                transport = HttpxTransport(http_client=options.http_client)
            else:
                transport = await shared_transport()  # the event loop's pool (_transports/_pool.py)
                if transport is None:
                    transport = self._owned_transport = HttpxTransport()
        toolbox = Toolbox(timeout=options.tool_timeout)  # tool_timeout applies when a tool runs
        items: list[Tool | ToolSpec] = list(options.resolved_tools())
        if options.mcp_servers and self._agent is None:
            from ._mcp import McpServers  # the mcp package, only for clients with servers

            self._mcp = McpServers(options.mcp_servers, strict=options.mcp_strict)
            await self._mcp.start()
            served = self._mcp.tools()
            _check_unique(items, served)
            items += served
            self._mcp_names = frozenset(item.name for item in served)
        if options.agents and self._agent is None:
            from ._subagents import TASK_TOOL, Subagents  # only for clients with subagents

            if any(item.name == TASK_TOOL for item in items):
                raise ConfigurationError(f"a tool is named {TASK_TOOL!r}, the name of the subagents' tool")
            subagents = Subagents(
                options=options,
                env=self._env,
                transport=transport,
                model=model,
                loop=self._the_loop,
                client=Client,
                served=self._served,
            )
            items.append(self._subagents_tool(subagents))
        if options.skills or options.skill_dirs:
            items += _skill_tools(options, items, self._env)
        if options.memory is not None and options.memory_tools and self._agent is None:
            items += options.memory.tools()
        loop_tools = _loop_tools(items, toolbox)
        self._toolbox = toolbox
        history = self._initial_history
        summary = None
        if options.session_store is not None and self._agent is None:
            from ._sessions._writer import attach  # only for clients with a session store

            self._session, history, summary = await attach(options, model=model, history=history)
            self.session_id = self._session.session_id
        fallbacks = options.fallback_endpoint_list()
        secrets, scrubber = _log_secrets(options, endpoint, fallbacks)  # out of every log line
        if toolbox.tools:  # only tools that run need a working directory
            toolbox.context = _tool_context(options, self.session_id, secrets)
        settings = options.loop_settings(model, loop_tools)
        if self._session is not None:
            settings = attrs.evolve(settings, commits=True, session_id=self.session_id)
        self._loop = AgentLoop(settings, history=history, summary=summary)
        self._system_prompt = settings.template.system_prompt
        self._driver = self._driver_class(
            transport,
            endpoint,
            config=options.config,
            options=options,
            observer=observers((*options.observers, RunLogger(scrubber))),
            session_id=self.session_id,
            toolbox=toolbox,
            agent=self._agent,
            session=self._session,
            fallback_endpoints=fallbacks,
            scrubber=scrubber,
        )
        self._log_protection = protect_httpx_logs(secrets).release
        self._state = ClientState.OPENED

    def _subagents_tool(self, subagents: Subagents) -> Tool:
        """The tool the model hands subagents their tasks with (``task``; a subclass may offer
        it in another form)."""
        return subagents.tool()

    def _served(self) -> list[Tool]:
        return self._mcp.tools() if self._mcp is not None else []

    def _the_loop(self) -> AgentLoop:
        assert self._loop is not None
        return self._loop

    async def connect(self, prompt: Prompt | None = None) -> None:
        """``open()``, then ``query(prompt)`` if a prompt is given (claude-agent-sdk's name)."""
        await self.open()
        if prompt is not None:
            await self.query(prompt)

    async def disconnect(self) -> None:
        """``aclose()`` (claude-agent-sdk's name)."""
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client. A receive left unfinished is finalized (a turn the caller stopped
        reading is kept in the session), and ``SessionEnd`` hooks run if a prompt was ever sent.
        The connections it used stay pooled for the next client on this event loop (without
        ``http_client=`` or ``transport=``), until the loop shuts down; an ``http_client`` or
        ``transport`` you passed in is never closed."""
        if self._state is ClientState.CLOSED:
            return
        was_open = self._state is ClientState.OPENED
        self._state = ClientState.CLOSED
        if self._log_protection is not None:
            self._log_protection()
            self._log_protection = None
        try:
            open_ = self._open_receive
            if open_ is not None and not open_.busy and open_.gen is not None:
                gen, open_.gen = open_.gen, None
                with anyio.CancelScope(shield=True):
                    await gen.aclose()  # a response left midway ends as interrupted
            inbox, self._inbox = self._inbox, None
            close_inbox = getattr(inbox, "aclose", None)
            if close_inbox is not None:
                with anyio.CancelScope(shield=True):
                    await close_inbox()  # a streaming input not read to its end
            if self._driver is not None:
                self._driver.interrupt()
            if self._wakeup is not None:
                self._wakeup.set()
            if self._session is not None:
                if self._loop is not None and not self._receiving:
                    self._abandon()
                await self._session.flush()  # a turn the caller stopped reading is kept
            if (
                was_open
                and self._started
                and self.options.hooks
                and self._driver is not None
                and self._loop is not None
            ):
                from ._hooks import session_end

                await session_end(self.options.hooks, self._driver.hook_site(self._loop), reason="other")
        finally:
            mcp, self._mcp = self._mcp, None
            if mcp is not None:
                await mcp.aclose()  # the servers' subprocesses and connections end here
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

    def _check_open(self, what: str) -> tuple[Driver, AgentLoop]:
        if self._state is ClientState.UNOPENED:
            raise ClientStateError(f"{what}() on a client that is not open: use 'async with Client(...)'")
        if self._state is ClientState.CLOSED:
            raise ClientStateError(f"{what}() on a closed client")
        assert self._driver is not None and self._loop is not None
        return self._driver, self._loop

    # ---- input ----------------------------------------------------------------------------

    async def query(self, prompt: Prompt) -> None:
        """Add a user prompt; the answer comes from ``receive_response()``. ``SessionStart``
        (the first prompt) and ``UserPromptSubmit`` hooks run here: one that blocks raises
        ``PromptBlockedError``.

        ``prompt`` may be an async iterable of prompts (streaming input): the first is sent
        now, and each next one when the response before it has ended, as ``receive_response()``
        or ``receive_messages()`` come to it. A response left midway by a caller that dropped
        its iterator is finalized here (ended as interrupted)."""
        await self._ask(prompt)
        await anyio.lowlevel.checkpoint()

    async def _ask(self, prompt: Prompt) -> None:
        """``query()`` without its checkpoint of its own (for the module's ``query()``)."""
        _, loop = self._check_open("query")
        await self._finalize_abandoned("query")
        if self._mcp is not None and self._mcp.stale:
            await self._refresh_mcp_tools(loop)
        pending = loop.pending_tool_calls
        if pending:
            ids = ", ".join(sorted(call.id for call in pending))
            raise ClientStateError(f"query() with tool calls unanswered ({ids}): answer them with add_tool_result()")
        if isinstance(prompt, AsyncIterable):
            self._inbox = aiter(prompt)
            await self._next_from_inbox()
        else:
            self._inbox = None
            await self._submit(prompt)

    async def _refresh_mcp_tools(self, loop: AgentLoop) -> None:
        """Offer the MCP servers' tools as they are now (a server said its list changed)."""
        assert self._mcp is not None and self._toolbox is not None
        await self._mcp.refresh()
        served = self._mcp.tools()
        for name in self._mcp_names:
            self._toolbox.tools.pop(name, None)
        kept = [item for item in loop.settings.tools if item.spec.name not in self._mcp_names]
        _check_unique([item.spec for item in kept], served)
        fresh = _loop_tools(served, self._toolbox)
        self._mcp_names = frozenset(item.name for item in served)
        loop.set_tools((*kept, *fresh))

    async def _finalize_abandoned(self, what: str) -> None:
        open_ = self._open_receive
        if open_ is None:
            return
        if open_.abandoned and not open_.busy:
            gen, open_.gen = open_.gen, None
            if gen is not None:
                await gen.aclose()  # its finally ends the response (see _response)
            self._open_receive = None
            return
        if what == "receive_response":
            raise ClientStateError("receive_response() while another receive is in progress")
        raise ClientStateError(f"{what}() while a response is being received; wait for its ResultMessage")

    async def _next_from_inbox(self) -> bool:
        """Send the next prompt of the streaming input; False when there is none."""
        inbox = self._inbox
        if inbox is None:
            return False
        try:
            item = await anext(inbox)
        except StopAsyncIteration:
            self._inbox = None
            return False
        await self._submit(item)
        return True

    def _more_input(self) -> bool:
        """A streaming input may hold more prompts."""
        return self._inbox is not None

    async def _submit(self, prompt: PromptItem) -> None:
        driver, loop = self._check_open("query")
        message = _user_message(prompt)
        if self.options.hooks:
            message = await self._prompt_hooks(driver, loop, message)
        self._started = True
        if self._pending:
            self._abandon()  # an earlier response was never received: it ends here
        if self._session is not None:
            await self._session.flush()
        await self._inject_memories(loop, message)
        driver.reset()  # an interrupt of an earlier response does not stop this one
        loop.start(message)
        self._resume = False
        self._set_pending()

    async def _prompt_hooks(self, driver: Driver, loop: AgentLoop, message: UserMessage) -> UserMessage:
        """``message`` through the ``SessionStart`` (the first prompt; ``SubagentStart`` for a
        subagent's task) and ``UserPromptSubmit`` hooks, with the context they add."""
        from ._hooks import session_start, subagent_start, user_prompt_submit, with_context

        site = driver.hook_site(loop)
        session_context: tuple[str, ...] = ()
        if not self._started:
            source: Literal["startup", "resume"] = "resume" if self._initial_history else "startup"
            if self._agent is None:
                session_context = await session_start(self.options.hooks, site, source=source)
            else:  # a subagent's task: the parent's session goes on
                session_context = await subagent_start(self.options.hooks, site)
            self._started = True
        given = 1 if isinstance(message.content, str) else len(message.content)
        message = await user_prompt_submit(self.options.hooks, message, site)
        return with_context(message, session_context, after=given)

    async def _inject_memories(self, loop: AgentLoop, message: UserMessage) -> None:
        """Put the memories most relevant to ``message`` in the system prompt of the requests
        of its response (``inject_memories``); the prompt of the client's options otherwise."""
        memory, count = self.options.memory, self.options.inject_memories
        if memory is None or not count or self._agent is not None:
            return
        from ._memories import memory_prompt  # only for clients with a memory

        content = message.content
        text = content if isinstance(content, str) else " ".join(b.text for b in content if type(b) is TextBlock)
        found = await memory.relevant(text, count)
        settings = loop.settings
        prompt = memory_prompt(self._system_prompt, found)
        if prompt != settings.template.system_prompt:
            loop.settings = attrs.evolve(settings, template=attrs.evolve(settings.template, system_prompt=prompt))

    def add_tool_result(self, tool_use_id: str, result: str | Sequence[TextBlock], *, is_error: bool = False) -> None:
        """Answer a tool call handed to you (``ResultMessage.pending_tool_calls``: calls of the
        ``ToolSpec`` tools). Once every call is answered, ``receive_response()`` sends the
        results on."""
        _, loop = self._check_open("add_tool_result")
        content = result if isinstance(result, str) else tuple(result)
        try:
            loop.tool_result(ToolResultBlock(tool_use_id=tool_use_id, content=content, is_error=is_error))
        except LocalProtocolError as exc:
            raise ClientStateError(str(exc)) from None
        if not loop.pending_tool_calls:
            self._resume = True
            self._set_pending()

    async def interrupt(self) -> None:
        """Stop the response in progress, or the one asked for and not yet received:
        ``receive_response()`` ends with what had arrived and a ``ResultMessage`` of subtype
        ``interrupted``. With no response to stop it does nothing. Safe to call from another
        task."""
        driver, _ = self._check_open("interrupt")
        if self._pending or self._receiving:
            driver.interrupt()
        await anyio.lowlevel.checkpoint()

    def _set_pending(self) -> None:
        self._pending = True
        if self._wakeup is not None:
            self._wakeup.set()

    async def get_context_usage(self) -> ContextUsage:
        """What the next request would take of the context window: tokens of the system prompt,
        the tools and the messages (by the counter in use: ``ContextUsage.counter``), the
        window and where it comes from (``user``, ``server``, ``error``: a context error named
        it, ``unknown``). Asks the server for its window first when none is known
        (``discover_context``)."""
        driver, loop = self._check_open("get_context_usage")
        if loop.context_window[0] is None and self.options.discover_context and 0 not in driver._probed:
            await driver.discover(loop)
        return loop.context_usage()

    # ---- output ---------------------------------------------------------------------------

    def receive_messages(self) -> MessageStream:
        """Every message of every response, waiting for the next prompt in between (and
        sending the next one of a streaming input); ends when the client closes."""
        return MessageStream(self, follow=True)

    async def _await_prompt(self) -> bool:
        """Wait until there is a response to receive (False: the client closed)."""
        self._check_open("receive_messages")
        while self._state is ClientState.OPENED:
            if self._pending or await self._next_from_inbox():
                return True
            self._wakeup = anyio.Event()
            await self._wakeup.wait()
            self._wakeup = None
        return False

    def receive_response(self) -> MessageStream:
        """The answer to the last prompt (or to the tool results just given): a
        ``SystemMessage(subtype="init")`` first, ``StreamEvent`` pieces when
        ``include_partial_messages``, other ``SystemMessage``s, the ``AssistantMessage``s, the
        tool results sent back (``UserMessage``), and a ``ResultMessage`` last. With streaming
        input, and nothing asked yet, the next prompt of it is sent first.

        Raises ``APIError`` subclasses when the server fails for good; the conversation keeps
        the prompt, and calling ``receive_response()`` again tries once more. A hook that
        raises stops the run with ``HookError``."""
        return MessageStream(self, follow=False)

    async def _response(self, open_: _Open) -> AsyncGenerator[RunMessage]:
        driver, loop = self._check_open("receive_response")
        if self._open_receive is not None and self._open_receive is not open_:
            await self._finalize_abandoned("receive_response")
        if not self._pending:
            streaming = self._inbox is not None
            if not await self._next_from_inbox():
                if streaming:
                    return  # the streaming input ended: nothing more to answer
                raise ClientStateError("nothing to receive: call query() (or answer the tool calls) first")
        self._receiving = True
        self._open_receive = open_
        settled = False
        failed = False
        try:
            if self._resume:
                loop.resume()
                self._resume = False
            async with aclosing(driver.run(loop)) as messages:
                async for message in messages:
                    if type(message) is ResultMessage:
                        self._settle(open_, failed=False)  # the response is over: query() may come
                        settled = True
                    yield message
        except APIError:
            failed = True  # the conversation ends with the user's message: receiving again tries again
            raise
        finally:
            if not settled:
                self._settle(open_, failed=failed)
                if self._session is not None:
                    await self._session.flush()  # shielded: the interrupted turn is kept

    def _settle(self, open_: _Open, *, failed: bool) -> None:
        """The response received through ``open_`` is over (or left midway: it ends here)."""
        driver, loop = self._driver, self._loop
        assert driver is not None and loop is not None
        if self._open_receive is open_:
            self._open_receive = None
        self._receiving = False
        driver.reset()  # an interrupt stops one response
        if loop.state not in (LoopState.IDLE, LoopState.AWAITING_EXTERNAL):
            self._abandon()
        elif failed:
            self._resume = True
        else:
            self._pending = False  # the response is over (even if a Stop hook raised)

    # ---- steering -------------------------------------------------------------------------

    def set_model(self, model: str | None = None) -> None:
        """Use ``model`` for the requests from now on (None: the model the client opened
        with); the fallback models stay as they are."""
        _, loop = self._check_open("set_model")
        if model is not None and (not isinstance(model, str) or not model):
            raise ConfigurationError(f"set_model() takes a model name or None, not {model!r}")
        name = model if model is not None else self.options.resolved_model(self._env)
        settings = loop.settings
        loop.settings = attrs.evolve(settings, template=attrs.evolve(settings.template, model=name))

    def set_permission_mode(self, mode: PermissionMode) -> None:
        """Use the permission mode ``mode`` for the calls from now on (the run in progress too)."""
        _, loop = self._check_open("set_permission_mode")
        if mode not in PERMISSION_MODES:
            raise ConfigurationError(f"unknown permission mode {mode!r}; known: {', '.join(PERMISSION_MODES)}")
        settings = loop.settings
        loop.settings = attrs.evolve(settings, permissions=attrs.evolve(settings.permissions, mode=mode))

    @property
    def model(self) -> str:
        """The model the next request goes to."""
        _, loop = self._check_open("model")
        return loop.settings.template.model

    @property
    def permission_mode(self) -> PermissionMode:
        _, loop = self._check_open("permission_mode")
        return loop.settings.permissions.mode

    async def get_server_info(self) -> dict[str, Any]:
        """What the client runs with, as a response's ``init`` message says it: model, base URL
        (without credentials), tools, permission mode, working directory, session id, agents."""
        driver, loop = self._check_open("get_server_info")
        await anyio.lowlevel.checkpoint()
        return dict(driver.init_message(loop).data)

    def _abandon(self) -> None:
        """End a run that will not be driven further (the caller stopped reading, or an error
        left it midway): the loop answers its open tool calls, so the conversation stays valid."""
        loop = self._loop
        assert loop is not None
        self._pending = False
        self._resume = False
        if loop.state is LoopState.IDLE or loop.state is LoopState.AWAITING_EXTERNAL:
            return
        loop.interrupt()
        while loop.state is LoopState.ACTING:
            action = loop.next_action()
            if type(action) is Commit and self._session is not None:
                self._session.defer(action)  # written by the next flush()
            if type(action) is Done:
                break


def _log_secrets(
    options: AgentOptions, endpoint: Endpoint, fallbacks: tuple[Endpoint, ...]
) -> tuple[tuple[str, ...], Scrubber]:
    """The secrets of ``endpoint`` and ``fallbacks``, and the ``Scrubber`` of them: found again
    only when the endpoints are other objects than last time for these options (they are kept
    per options, see ``AgentOptions.endpoint``)."""
    derived = _derived(options)
    kept = derived.scrubber  # one read: the endpoints, their secrets and scrubber together
    if kept is not None and kept[0] is endpoint and kept[1] is fallbacks:
        return kept[2], kept[3]
    secrets = tuple(s for e in (endpoint, *fallbacks) for s in endpoint_secrets(e))
    scrubber = Scrubber(secrets)
    derived.scrubber = (endpoint, fallbacks, secrets, scrubber)
    return secrets, scrubber


def _check_unique(items: Sequence[Tool | ToolSpec], served: Sequence[Tool]) -> None:
    names = {item.name for item in items}
    for item in served:
        if item.name in names:
            raise ConfigurationError(f"two tools are named {item.name!r} (one from mcp_servers)")
        names.add(item.name)


def _loop_tools(items: Sequence[Tool | ToolSpec], toolbox: Toolbox) -> list[LoopTool]:
    """The tools as the loop sees them; the ones that run go into ``toolbox``."""
    loop_tools: list[LoopTool] = []
    if not items:
        return loop_tools
    from anyagent_core import LoopTool, ToolTraits  # loaded with the first tool

    for item in items:
        if isinstance(item, ToolSpec):
            loop_tools.append(LoopTool(spec=item, external=True))
            continue
        toolbox.tools[item.name] = item
        traits = ToolTraits(
            read_only=item.read_only,
            edits_files=item.edits_files,
            needs_permission=item.needs_permission,
            rule_argument=item.rule_argument,
        )
        loop_tools.append(LoopTool(spec=item.spec, traits=traits))
    return loop_tools


def _skill_tools(options: AgentOptions, items: Sequence[Tool | ToolSpec], env: Mapping[str, str] | None) -> list[Tool]:
    """The ``skill`` tool, if there are skills to offer."""
    from ._skills import SKILL_TOOL, discover_skills, skill_tool  # only for clients with skills

    if any(item.name == SKILL_TOOL for item in items):
        raise ConfigurationError(f"a tool is named {SKILL_TOOL!r}, the name of the skills' tool")
    on = options.skills
    found = discover_skills(options.cwd, project=on, user=on, extra=options.skill_dirs, env=env)
    return [skill_tool(found)] if found else []


def _secret_variables(secrets: Sequence[str], environ: Mapping[str, str]) -> frozenset[str]:
    """The names of ``environ``'s variables a command must not see: ``ANY_AGENT_API_KEY``, and
    each whose value holds one of the endpoints' ``secrets`` (``OPENAI_API_KEY`` named by a
    settings file's ``api_key_env``, a token the base URL was built from...)."""
    hidden = {ENV_API_KEY}
    for name, value in environ.items():
        if any(secret in value for secret in secrets):
            hidden.add(name)
    return frozenset(hidden)


def _tool_context(options: AgentOptions, session_id: str, secrets: Sequence[str] = ()) -> ToolContext:
    from ._tools import ToolContext  # only for clients with tools that run

    cwd = pathlib.Path(options.cwd if options.cwd is not None else os.getcwd()).resolve()
    if not cwd.is_dir():
        raise ConfigurationError(f"cwd {options.cwd!r} is not a directory")
    roots = [cwd]
    for directory in options.allowed_dirs:
        path = (cwd / directory).resolve()
        if not path.is_dir():
            raise ConfigurationError(f"allowed directory {directory!r} is not a directory (resolved: {path})")
        roots.append(path)
    return ToolContext(
        cwd=cwd,
        roots=tuple(roots),
        session_id=session_id,
        denied=options.disallowed_tools,
        sandbox=options.sandbox,
        network=options.sandbox_network,
        hidden_environment=_secret_variables(secrets, os.environ),
    )


async def query(*, prompt: Prompt, options: AgentOptions | None = None) -> AsyncGenerator[RunMessage]:
    """One prompt, one answer: the messages of ``Client.receive_response()``, with a client
    opened and closed around them (with streaming input, the answers to every prompt, in
    turn). An async generator: wrap it in ``contextlib.aclosing`` if you may stop before the
    end, so the connection is released at once."""
    client = Client(options)
    # Opened and asked without the checkpoints of open() and Client.query(): a one-shot call
    # goes on to its request, which is one (each costs a turn of the event loop).
    await client._start()
    try:
        await client._ask(prompt)
        while True:
            async with aclosing(client.receive_response()) as messages:
                async for message in messages:
                    yield message
            if not client._more_input():
                return
    finally:
        await client.aclose()
