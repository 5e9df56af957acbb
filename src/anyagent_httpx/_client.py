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
"""

from __future__ import annotations

import enum
import os
import pathlib
import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from types import TracebackType

import anyio
import anyio.lowlevel
import attrs

from anyagent_core import (
    AgentLoop,
    Commit,
    Done,
    LocalProtocolError,
    LoopState,
    LoopTool,
    Message,
    RunMessage,
    TextBlock,
    ToolResultBlock,
    ToolSpec,
    ToolTraits,
    UserBlock,
    UserMessage,
)
from anyagent_core.context import ContextUsage

from ._driver import Driver, Toolbox
from ._errors import APIError, ClientStateError, ConfigurationError
from ._hooks import user_prompt_submit
from ._observe import observers
from ._options import AgentOptions
from ._sessions._writer import SessionWriter, attach
from ._subagents import TASK_TOOL, Subagents
from ._tools import Tool, ToolContext
from ._transports import AsyncTransport, HttpxTransport, shared_transport

__all__ = ["Client", "ClientState", "query"]

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
    when it opens (``ConfigurationError`` if there is no model or base URL), and so are the
    tools and the working directory.
    """

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
        """Resolve the configuration and set up the transport and tools (``async with`` does this)."""
        if self._state is not ClientState.UNOPENED:
            raise ClientStateError(
                "the client is already open" if self._state is ClientState.OPENED else "a closed client cannot reopen"
            )
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
        if options.agents and self._agent is None:
            if any(item.name == TASK_TOOL for item in items):
                raise ConfigurationError(f"a tool is named {TASK_TOOL!r}, the name of the subagents' tool")
            subagents = Subagents(
                options=options, env=self._env, transport=transport, model=model, loop=self._the_loop, client=Client
            )
            items.append(subagents.tool())
        loop_tools = _loop_tools(items, toolbox)
        history = self._initial_history
        if options.session_store is not None and self._agent is None:
            self._session, history = await attach(options, model=model, history=history)
            self.session_id = self._session.session_id
        if toolbox.tools:  # only tools that run need a working directory
            toolbox.context = _tool_context(options, self.session_id)
        settings = options.loop_settings(model, loop_tools)
        if self._session is not None:
            settings = attrs.evolve(settings, commits=True, session_id=self.session_id)
        self._loop = AgentLoop(settings, history=history)
        self._driver = Driver(
            transport,
            endpoint,
            config=options.config,
            options=options,
            observer=observers(options.observers),
            session_id=self.session_id,
            toolbox=toolbox,
            agent=self._agent,
            session=self._session,
        )
        self._state = ClientState.OPENED
        await anyio.lowlevel.checkpoint()

    def _the_loop(self) -> AgentLoop:
        assert self._loop is not None
        return self._loop

    async def aclose(self) -> None:
        """Close the client. The connections it used stay pooled for the next client on this
        event loop (without ``http_client=`` or ``transport=``), until the loop shuts down; an
        ``http_client`` or ``transport`` you passed in is never closed."""
        if self._state is ClientState.CLOSED:
            return
        self._state = ClientState.CLOSED
        if self._driver is not None:
            self._driver.interrupt()
        if self._wakeup is not None:
            self._wakeup.set()
        if self._session is not None:
            if self._loop is not None and not self._receiving:
                self._abandon()
            await self._session.flush()  # a turn the caller stopped reading is kept
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
        """Add a user prompt; the answer comes from ``receive_response()``. ``UserPromptSubmit``
        hooks run here: one that blocks raises ``PromptBlockedError``."""
        driver, loop = self._check_open("query")
        if self._receiving:
            raise ClientStateError("query() while a response is being received; wait for its ResultMessage")
        pending = loop.pending_tool_calls
        if pending:
            ids = ", ".join(sorted(call.id for call in pending))
            raise ClientStateError(f"query() with tool calls unanswered ({ids}): answer them with add_tool_result()")
        message = await user_prompt_submit(self.options.hooks, _user_message(prompt), session_id=self.session_id)
        if self._pending:
            self._abandon()  # an earlier response was never received: it ends here
        if self._session is not None:
            await self._session.flush()
        driver.reset()  # an interrupt of an earlier response does not stop this one
        loop.start(message)
        self._resume = False
        self._set_pending()
        await anyio.lowlevel.checkpoint()

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
        if loop.context_window[0] is None and self.options.discover_context and not driver._probed:
            await driver.discover(loop)
        return loop.context_usage()

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
        pieces when ``include_partial_messages``, ``SystemMessage``s, the ``AssistantMessage``s,
        the tool results sent back (``UserMessage``), and a ``ResultMessage`` last.

        Raises ``APIError`` subclasses when the server fails for good; the conversation keeps
        the prompt, and calling ``receive_response()`` again tries once more. A hook that
        raises stops the run with ``HookError``."""
        driver, loop = self._check_open("receive_response")
        if self._receiving:
            raise ClientStateError("receive_response() while another receive is in progress")
        if not self._pending:
            raise ClientStateError("nothing to receive: call query() (or answer the tool calls) first")
        self._receiving = True
        failed = False
        try:
            if self._resume:
                loop.resume()
                self._resume = False
            async with aclosing(driver.run(loop)) as messages:
                async for message in messages:
                    yield message
        except APIError:
            failed = True  # the conversation ends with the user's message: receiving again tries again
            raise
        finally:
            self._receiving = False
            driver.reset()  # an interrupt stops one response
            if loop.state not in (LoopState.IDLE, LoopState.AWAITING_EXTERNAL):
                self._abandon()
                if self._session is not None:
                    await self._session.flush()  # shielded: the interrupted turn is kept
            elif failed:
                self._resume = True
            else:
                self._pending = False  # the response is over (even if a Stop hook raised)

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


def _loop_tools(items: Sequence[Tool | ToolSpec], toolbox: Toolbox) -> list[LoopTool]:
    """The tools as the loop sees them; the ones that run go into ``toolbox``."""
    loop_tools: list[LoopTool] = []
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


def _tool_context(options: AgentOptions, session_id: str) -> ToolContext:
    cwd = pathlib.Path(options.cwd if options.cwd is not None else os.getcwd()).resolve()
    if not cwd.is_dir():
        raise ConfigurationError(f"cwd {options.cwd!r} is not a directory")
    roots = [cwd]
    for directory in options.allowed_dirs:
        path = (cwd / directory).resolve()
        if not path.is_dir():
            raise ConfigurationError(f"allowed directory {directory!r} is not a directory (resolved: {path})")
        roots.append(path)
    return ToolContext(cwd=cwd, roots=tuple(roots), session_id=session_id)


async def query(*, prompt: Prompt, options: AgentOptions | None = None) -> AsyncGenerator[RunMessage]:
    """One prompt, one answer: the messages of ``Client.receive_response()``, with a client
    opened and closed around them. An async generator: wrap it in ``contextlib.aclosing`` if
    you may stop before the end, so the connection is released at once."""
    async with Client(options) as client:
        await client.query(prompt)
        async with aclosing(client.receive_response()) as messages:
            async for message in messages:
                yield message
