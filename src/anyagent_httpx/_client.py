"""``Client`` (a stateful conversation) and ``query()`` (one prompt, one answer).

::

    async with Client(AgentOptions(model="qwen2.5-7b-instruct", tools=["read_file"])) as client:
        await client.query("What does notes.md say?")
        async for message in client.receive_response():  # ends with a ResultMessage
            ...

The client is the driver of the core's ``AgentLoop``: it asks the loop for the next action and
performs it (a request through the transport, a permission question, tool runs, a back-off
wait), then reports back. The loop makes every decision; the client holds no conversation state
of its own. It starts no background task: the work of a response happens inside
``receive_response()``, in the caller's task and cancel scopes.
"""

from __future__ import annotations

import enum
import os
import pathlib
import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from types import TracebackType
from typing import Literal

import anyio
import anyio.lowlevel
import attrs

from anyagent_core import (
    AgentLoop,
    AskPermission,
    Done,
    Emit,
    Failure,
    Finished,
    LocalProtocolError,
    LoopState,
    LoopTool,
    Message,
    MessageComplete,
    ReasoningDelta,
    RefusalDelta,
    ResultMessage,
    RunMessage,
    RunTools,
    SendRequest,
    StreamEvent,
    SystemMessage,
    TextBlock,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolResultBlock,
    ToolSpec,
    ToolTraits,
    ToolUseBlock,
    Usage,
    UserBlock,
    UserMessage,
    Wait,
)

from ._driver import AttemptFailed, Driver, Interrupted
from ._errors import APIError, ClientStateError, ConfigurationError, MalformedResponseError, ServerStreamError
from ._hooks import (
    HookError,
    HookResult,
    PostToolUseInput,
    PreToolUseInput,
    PromptBlockedError,
    StopInput,
    UserPromptSubmitInput,
    run_hooks,
)
from ._options import AgentOptions
from ._permissions import ToolPermissionContext, ask_permission
from ._tools import Tool, ToolContext, ToolError, run_tool, tool
from ._transports import AsyncTransport, HttpxTransport

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
        self._tools: dict[str, Tool] = {}
        self._context: ToolContext | None = None
        self._pending = False  # a response awaits receiving
        self._resume = False  # ... and it continues the conversation as it is (no new prompt)
        self._receiving = False
        self._wakeup: anyio.Event | None = None
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
        self._models = (options.resolved_model(self._env), *options.fallback_models)
        loop_tools = self._setup_tools()
        if self._tools:  # only tools that run need a working directory
            self._context = _tool_context(options, self.session_id)
        self._loop = AgentLoop(
            options.loop_settings(self._models[0], loop_tools),
            history=self._initial_history,
        )
        if options.transport is not None:
            transport: AsyncTransport = options.transport
        else:
            transport = HttpxTransport(http_client=options.http_client)
            if options.http_client is None:
                self._owned_transport = transport
        self._transport = transport
        self._driver = Driver(transport, endpoint, config=options.config)
        self._state = ClientState.OPENED
        await anyio.lowlevel.checkpoint()

    def _setup_tools(self) -> list[LoopTool]:
        options = self.options
        loop_tools: list[LoopTool] = []
        items: list[Tool | ToolSpec] = list(options.resolved_tools())
        if options.agents and self._agent is None:
            if any(item.name == "task" for item in items):
                raise ConfigurationError("a tool is named 'task', the name of the subagents' tool")
            items.append(self._task_tool())
        for item in items:
            if isinstance(item, ToolSpec):
                loop_tools.append(LoopTool(spec=item, external=True))
                continue
            self._tools[item.name] = item  # tool_timeout is applied when it runs (no copy per client)
            traits = ToolTraits(
                read_only=item.read_only,
                edits_files=item.edits_files,
                needs_permission=item.needs_permission,
                rule_argument=item.rule_argument,
            )
            loop_tools.append(LoopTool(spec=item.spec, traits=traits))
        return loop_tools

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
        message = _user_message(prompt)
        for outcome in await run_hooks(
            self.options.hooks,
            "UserPromptSubmit",
            UserPromptSubmitInput(prompt=message, session_id=self.session_id),
            session_id=self.session_id,
        ):
            if outcome.decision == "block":
                raise PromptBlockedError(outcome.reason or "no reason given")
            if outcome.additional_context:
                message = _with_context(message, outcome.additional_context)
        if self._pending:
            self._abandon()  # an earlier response was never received: it ends here
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
        try:
            if self._resume:
                loop.resume()
                self._resume = False
            async with aclosing(self._respond(driver, loop)) as messages:
                async for message in messages:
                    yield message
        finally:
            self._receiving = False
            driver.reset()  # an interrupt stops one response
            if loop.state not in (LoopState.IDLE, LoopState.AWAITING_EXTERNAL):
                self._abandon()

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
            if type(loop.next_action()) is Done:
                break

    async def _respond(self, driver: Driver, loop: AgentLoop) -> AsyncGenerator[RunMessage]:
        options = self.options
        partial = options.include_partial_messages
        started = anyio.current_time()
        api_before = driver.api_seconds
        failure: APIError | None = None
        stop_hook_active = False
        while True:
            action = loop.next_action()
            kind = type(action)
            if kind is SendRequest:
                assert isinstance(action, SendRequest)
                failure = None
                async with aclosing(self._request(driver, loop, action, partial)) as events:
                    async for event in events:
                        yield event
                failure = self._failure
            elif kind is Emit:
                assert isinstance(action, Emit)
                yield action.message
            elif kind is Wait:
                assert isinstance(action, Wait)
                yield SystemMessage(
                    subtype="retry",
                    data={
                        "attempt": action.attempt,
                        "model": action.model,
                        "delay": action.seconds,
                        "reason": action.reason,
                        "error": str(failure) if failure is not None else "",
                    },
                )
                try:
                    await driver.guard(anyio.sleep(action.seconds))
                except Interrupted:
                    loop.interrupt()
            elif kind is AskPermission:
                assert isinstance(action, AskPermission)
                await self._ask(driver, loop, action)
            elif kind is RunTools:
                assert isinstance(action, RunTools)
                results: list[ToolResultBlock | None] = [None] * len(action.calls)
                try:
                    await driver.guard(self._run_tools(action.calls, results))
                except Interrupted:
                    self._report(loop, results)  # the calls that finished keep their results
                    loop.interrupt()
                except BaseException:  # a hook error, the caller's cancellation
                    self._report(loop, results)
                    raise
                else:
                    self._report(loop, results)
            else:
                assert isinstance(action, Done)
                result = action.result
                if result.subtype == "error_during_execution" and failure is not None:
                    self._resume = True  # the conversation ends with the user's message: try again
                    for error in result.errors:
                        failure.add_note("not retried: " + error.rpartition("; not retried: ")[2])
                    raise failure
                self._pending = False  # the response is over, even if a Stop hook raises
                if result.subtype == "success" and not result.pending_tool_calls and "Stop" in options.hooks:
                    outcomes = await run_hooks(
                        options.hooks,
                        "Stop",
                        StopInput(result=result, stop_hook_active=stop_hook_active, session_id=self.session_id),
                        session_id=self.session_id,
                    )
                    block = next((o for o in outcomes if o.decision == "block"), None)
                    if block is not None and not stop_hook_active:
                        stop_hook_active = True
                        self._pending = True
                        more = UserMessage(content=block.reason or "Continue.")
                        loop.resume(more, new_response=False)
                        yield more
                        continue
                yield attrs.evolve(
                    result,
                    session_id=self.session_id,
                    duration_ms=round((anyio.current_time() - started) * 1000),
                    duration_api_ms=round((driver.api_seconds - api_before) * 1000),
                )
                return

    _failure: APIError | None = None

    async def _request(
        self, driver: Driver, loop: AgentLoop, action: SendRequest, partial: bool
    ) -> AsyncGenerator[RunMessage]:
        """Perform one attempt and report it to the loop; sets ``_failure`` to the error to
        raise if the loop gives up."""
        self._failure = None
        text_filter = loop.answer_filter() if partial else None
        turn = action.turn_number
        wire_reasoning = False  # the server sent reasoning of its own: tagged reasoning is not repeated
        complete: MessageComplete | None = None
        try:
            async with aclosing(driver.exchange(action.turn, partial=partial)) as items:
                async for item in items:
                    if type(item) is MessageComplete:
                        complete = item
                    elif text_filter is not None and type(item) is TextDelta:
                        reasoning, shown = text_filter.feed(item.text)
                        if reasoning and not wire_reasoning:
                            yield StreamEvent(event=ReasoningDelta(text=reasoning), turn=turn)
                        if shown:
                            yield StreamEvent(event=item if shown is item.text else TextDelta(text=shown), turn=turn)
                    elif isinstance(item, _PARTIAL):  # the driver yields them only if asked
                        if type(item) is ReasoningDelta:
                            wire_reasoning = True
                        yield StreamEvent(event=item, turn=turn)
        except AttemptFailed as failed:
            self._failure = failed.error
            loop.request_failed(
                failed.kind,
                status=failed.status,
                headers=failed.headers,
                error_text=failed.error_text,
                message=str(failed.error),
                now=driver.clock(),
                random=driver.random(),
            )
            return
        except Interrupted as interrupted:
            loop.interrupt(interrupted.partial)
            return
        except (ServerStreamError, MalformedResponseError, APIError) as exc:
            # Failed after output arrived: never repeated. The loop ends the run; the error is raised.
            self._failure = exc
            loop.request_failed(_failure_kind(exc), message=str(exc), retryable=False)
            return
        if text_filter is not None:
            reasoning, rest = text_filter.finish()
            if reasoning and not wire_reasoning:
                yield StreamEvent(event=ReasoningDelta(text=reasoning), turn=turn)
            if rest:
                yield StreamEvent(event=TextDelta(text=rest), turn=turn)
        assert complete is not None
        loop.receive_response(complete.message)

    # ---- permissions and tools ------------------------------------------------------------

    async def _ask(self, driver: Driver, loop: AgentLoop, action: AskPermission) -> None:
        context = ToolPermissionContext(
            tool_use_id=action.call.id,
            reason=action.reason,
            mode=self.options.permission_mode,
            traits=action.traits,
            session_id=self.session_id,
            agent=self._agent,
        )
        try:
            answer = await driver.guard(ask_permission(self.options.can_use_tool, action.call, context))
        except Interrupted:
            loop.interrupt()
            return
        loop.permission(action.call.id, answer)

    @staticmethod
    def _report(loop: AgentLoop, results: Sequence[ToolResultBlock | None]) -> None:
        for tool_result in results:
            if tool_result is not None:
                loop.tool_result(tool_result)

    async def _run_tools(self, calls: Sequence[ToolUseBlock], results: list[ToolResultBlock | None]) -> None:
        """Run the calls: consecutive calls of read-only tools (and subagent tasks) together,
        the others one at a time, in the model's order, each result put at its call's index
        in ``results`` as it arrives."""
        hook_errors: list[HookError] = []

        async def run(index: int, call: ToolUseBlock) -> None:
            try:
                results[index] = await self._run_one(call)
            except HookError as exc:  # raised as itself below, not wrapped in an exception group
                hook_errors.append(exc)

        index = 0
        while index < len(calls):
            group = [index]
            if self._concurrent(calls[index]):
                while index + len(group) < len(calls) and self._concurrent(calls[index + len(group)]):
                    group.append(index + len(group))
            if len(group) == 1:
                await run(index, calls[index])
            else:
                async with anyio.create_task_group() as tg:
                    for i in group:
                        tg.start_soon(run, i, calls[i])
            if hook_errors:
                raise hook_errors[0]
            index += len(group)

    def _concurrent(self, call: ToolUseBlock) -> bool:
        tool_ = self._tools.get(call.name)
        return tool_ is not None and (tool_.read_only or call.name == "task")

    async def _run_one(self, call: ToolUseBlock) -> ToolResultBlock:
        hooks = self.options.hooks
        tool_input = call.input
        for outcome in await run_hooks(
            hooks,
            "PreToolUse",
            PreToolUseInput(
                tool_name=call.name,
                tool_input=tool_input,
                tool_use_id=call.id,
                session_id=self.session_id,
                agent=self._agent,
            ),
            tool_name=call.name,
            session_id=self.session_id,
        ):
            if outcome.decision == "deny":
                reason = outcome.reason or "no reason given"
                return ToolResultBlock(
                    tool_use_id=call.id, content=f"Denied by a PreToolUse hook: {reason}", is_error=True
                )
            if outcome.updated_input is not None:
                tool_input = outcome.updated_input
        assert self._context is not None
        context = self._context.for_call(call.id)
        result = await run_tool(
            self._tools[call.name], call.id, tool_input, context, default_timeout=self.options.tool_timeout
        )
        if "PostToolUse" in hooks:
            outcomes = await run_hooks(
                hooks,
                "PostToolUse",
                PostToolUseInput(
                    tool_name=call.name,
                    tool_input=tool_input,
                    tool_use_id=call.id,
                    tool_response=result,
                    session_id=self.session_id,
                    agent=self._agent,
                ),
                tool_name=call.name,
                session_id=self.session_id,
            )
            result = _with_post_context(result, outcomes)
        return result

    # ---- subagents ------------------------------------------------------------------------

    def _task_tool(self) -> Tool:
        options = self.options
        agents = options.agents
        names = sorted(agents)
        listing = "\n".join(f"- {name}: {agents[name].description}" for name in names)

        async def task(agent: str, prompt: str, context: ToolContext) -> str:
            return await self._run_subagent(agent, prompt)

        made = tool(
            name="task",
            description="Hand a self-contained task to a subagent and get its final answer. "
            f"The prompt must say everything it needs to know. Agents:\n{listing}",
            read_only=all(_read_only(definition.tools, options) for definition in agents.values()),
        )(task)
        parameters = {
            "type": "object",
            "properties": {
                "agent": {"type": "string", "enum": names, "description": "Which agent runs the task."},
                "prompt": {"type": "string", "description": "The task, with everything the agent needs to know."},
            },
            "required": ["agent", "prompt"],
            "additionalProperties": False,
        }
        return attrs.evolve(made, spec=attrs.evolve(made.spec, parameters=parameters))

    async def _run_subagent(self, name: str, prompt: str) -> str:
        options = self.options
        definition = options.agents.get(name)
        if definition is None:
            raise ToolError(f"there is no agent named {name!r}; agents: {', '.join(sorted(options.agents))}")
        loop = self._loop
        assert loop is not None
        tokens_left, usd_left = loop.budget_left()
        if tokens_left == 0 or usd_left == 0.0:
            raise ToolError(f"the {name} agent was not started: the run's budget is spent")
        child_options = attrs.evolve(
            options,
            max_total_tokens=tokens_left,
            max_budget_usd=usd_left,
            model=definition.model or self._models[0],
            system_prompt=definition.prompt,
            tools=definition.tools if definition.tools is not None else options.tools,
            max_turns=definition.max_turns if definition.max_turns is not None else options.max_turns,
            agents={},
            output_schema=None,
            include_partial_messages=False,
            http_client=None,
            transport=self._transport,
        )
        result: ResultMessage | None = None
        async with Client(child_options, env=self._env, _agent=name) as child:
            await child.query(prompt)
            async with aclosing(child.receive_response()) as messages:
                async for message in messages:
                    if isinstance(message, ResultMessage):
                        result = message
        assert result is not None
        loop.add_usage(result.usage, cost_usd=result.total_cost_usd)  # the run pays for its subagents
        if result.pending_tool_calls:
            names = ", ".join(sorted({call.name for call in result.pending_tool_calls}))
            raise ToolError(
                f"the {name} agent did not finish: it called {names}, which only the caller answers, "
                "and a subagent cannot wait for that"
            )
        if result.is_error or result.subtype != "success":
            why = "; ".join(result.errors) or result.subtype
            raise ToolError(f"the {name} agent did not finish ({why}); its last answer: {result.result or '(none)'}")
        return result.result or "(the agent finished without a text answer)"


def _failure_kind(exc: APIError) -> Literal[Failure.STREAM_ERROR, Failure.CONNECTION]:
    return Failure.STREAM_ERROR if isinstance(exc, ServerStreamError) else Failure.CONNECTION


def _read_only(tools: Sequence[str | Tool | ToolSpec] | None, options: AgentOptions) -> bool:
    items = options.resolved_tools() if tools is None else attrs.evolve(options, tools=tools).resolved_tools()
    return all(isinstance(item, Tool) and item.read_only for item in items)


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


def _with_context(message: UserMessage, context: str) -> UserMessage:
    blocks: tuple[UserBlock, ...]
    if isinstance(message.content, str):
        blocks = (TextBlock(text=message.content),)
    else:
        blocks = message.content
    return UserMessage(content=(*blocks, TextBlock(text=context)))


def _with_post_context(result: ToolResultBlock, outcomes: Sequence[HookResult]) -> ToolResultBlock:
    extra = [outcome.additional_context for outcome in outcomes if outcome.additional_context]
    if not extra:
        return result
    note = "\n".join(extra)
    if isinstance(result.content, str):
        return attrs.evolve(result, content=f"{result.content}\n\n{note}" if result.content else note)
    return attrs.evolve(result, content=(*result.content, TextBlock(text=note)))


async def query(*, prompt: Prompt, options: AgentOptions | None = None) -> AsyncGenerator[RunMessage]:
    """One prompt, one answer: the messages of ``Client.receive_response()``, with a client
    opened and closed around them. An async generator: wrap it in ``contextlib.aclosing`` if
    you may stop before the end, so the connection is released at once."""
    async with Client(options) as client:
        await client.query(prompt)
        async with aclosing(client.receive_response()) as messages:
            async for message in messages:
                yield message
