"""The driver: performs the agent loop's actions, and makes no decisions.

``Driver.run(loop)`` is the action loop, a ``match`` over what ``AgentLoop.next_action()`` hands
out: a request attempt (``_attempt.perform``: send, pump, judge) reported back with
``receive_response()`` or ``request_failed()``; a back-off ``Wait``; a permission question for
``can_use_tool``; tool runs with their hooks; messages for the user; and the ``Done`` that ends
the response (``Stop`` hooks may make it go on). Retries, fallback models, budgets, permission
rules, doom loops: the loop decides all of them; the driver only reports what happened.

Every ``await`` runs in a cancel scope of its own that ``interrupt()`` cancels, so an interrupt
stops a read, a write, a back-off, a permission question or a tool run at once; no scope is ever
open across a ``yield``. Observers (``_observe.Observer``) are told what happens as it happens.
"""

from __future__ import annotations

import logging
import math
import os
import random as _random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Literal, TypeVar

import anyio
import attrs

from anyagent_core import (
    AgentLoop,
    AskCompaction,
    AskPermission,
    Commit,
    Config,
    Done,
    Emit,
    Endpoint,
    Failure,
    Finished,
    MessageComplete,
    ReasoningDelta,
    RefusalDelta,
    RunMessage,
    RunTools,
    SendRequest,
    StreamEvent,
    SystemMessage,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolResultBlock,
    ToolUseBlock,
    Usage,
    Wait,
)
from anyagent_core.context import estimate_tokens
from anyagent_core.json import JSONObject
from anyagent_core.value import Record
from anyagent_core.wire import redact_url

from ._attempt import AttemptFailed, Cancelled, DeadlinePassed, Interrupted, Received, perform
from ._errors import APIError, ServerStreamError
from ._logging import Scrubber, endpoint_secrets, scrub_error
from ._observe import AttemptInfo, Observer, RunInfo
from ._options import AgentOptions
from ._transports import AsyncTransport

if TYPE_CHECKING:
    from ._hooks import HookSite
    from ._sessions._writer import SessionWriter
    from ._tools import Tool, ToolContext

__all__ = ["Driver", "Toolbox"]

_T = TypeVar("_T")

logger = logging.getLogger("anyagent")

#: The server is asked for its window once a request's plain estimate passes this many tokens
#: (about 4096 characters): a short exchange, tool schemas included, fits any window in use.
#: A small-vocabulary tokenizer may overflow a 2048-token window before that; the server's
#: refusal then compacts the request and tells the window (llama.cpp names it).
DISCOVER_ABOVE = 1024

_PARTIAL = (TextDelta, ReasoningDelta, RefusalDelta, ToolCallDelta, ToolCall, Usage, Finished)


class Toolbox(Record):
    """The tools the driver runs, by name, and the context they run in."""

    __slots__ = ("context", "timeout", "tools")

    def __init__(self, *, timeout: float | None = None) -> None:
        self.tools: dict[str, Tool] = {}
        self.context: ToolContext | None = None
        self.timeout = timeout
        """For tools that set no timeout of their own."""

    def concurrent(self, call: ToolUseBlock) -> bool:
        """Calls of read-only tools (and subagent tasks) run beside each other."""
        found = self.tools.get(call.name)
        return found is not None and (found.read_only or call.name == "task")


class _Failure(Record):
    """The error of the response's last failed attempt: raised if the loop gives up."""

    __slots__ = ("error",)

    def __init__(self) -> None:
        self.error: APIError | None = None


class Driver:
    """Performs the actions of a client's ``AgentLoop`` over ``transport``. ``clock`` (Unix
    time, for ``Retry-After`` dates) and ``random`` (jitter) are injectable; ``scrubber`` (of
    every endpoint's secrets) may be given, the client's, rather than made again."""

    def __init__(
        self,
        transport: AsyncTransport,
        endpoint: Endpoint,
        *,
        config: Config,
        options: AgentOptions,
        observer: Observer,
        session_id: str,
        toolbox: Toolbox | None = None,
        agent: str | None = None,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
        session: SessionWriter | None = None,
        fallback_endpoints: Sequence[Endpoint] = (),
        scrubber: Scrubber | None = None,
    ) -> None:
        self.transport = transport
        self.endpoint = endpoint
        self.endpoints = (endpoint, *fallback_endpoints)
        """Where ``SendRequest.endpoint`` sends: the main endpoint, then the fallback ones."""
        self.config = config
        self.options = options
        self._limits = options.stream_limits()
        self.observer = observer
        self.session_id = session_id
        self.toolbox = toolbox if toolbox is not None else Toolbox()
        self.agent = agent
        self._clock = clock
        self._random = random
        self.session = session
        """Where the commits are written (None: nowhere)."""
        self._scope: anyio.CancelScope | None = None
        self._interrupted = False
        self._probed: set[int] = set()  # the endpoints asked for their window
        from ._hooks import HookEffects  # the hooks load with the first client, not on import

        self.hook_effects = HookEffects()
        """What hooks asked for (system messages to show, a stop), the client's too."""
        self._observer = observer  # the run's (Observer.run_started may name another)
        self.api_seconds = 0.0
        """Time spent in exchanges, summed over every turn."""
        self._cwd: str | None = None
        self._scrubber = scrubber  # of every endpoint's secrets; made on first use if not given

    # ---- interrupting ---------------------------------------------------------------------

    def interrupt(self) -> None:
        """Stop the turn in progress at its current ``await`` (from any task)."""
        self._interrupted = True
        if self._scope is not None:
            self._scope.cancel()

    def reset(self) -> None:
        """Forget an earlier interrupt (a new response begins)."""
        self._interrupted = False

    async def _guard(self, awaitable: Awaitable[_T], deadline: float = math.inf) -> _T:
        """Await in a scope ``interrupt()`` can cancel and that ends at ``deadline``;
        ``Cancelled`` if an interrupt stopped it, ``DeadlinePassed`` if the deadline did. After
        an interrupt nothing more is awaited (even an awaitable that would finish without a
        checkpoint, where a cancelled scope would not stop it)."""
        if self._interrupted:
            close = getattr(awaitable, "close", None)
            if close is not None:
                close()  # never awaited: no "coroutine was never awaited" warning
            raise Cancelled
        with anyio.CancelScope(deadline=deadline) as scope:
            self._scope = scope
            try:
                return await awaitable
            finally:
                self._scope = None
        raise Cancelled if self._interrupted else DeadlinePassed

    async def guard(self, awaitable: Awaitable[_T]) -> _T:
        """Await ``awaitable`` so that ``interrupt()`` stops it; raises ``Interrupted`` if it did."""
        try:
            return await self._guard(awaitable)
        except Cancelled:
            raise Interrupted(None) from None

    # ---- hooks and the init message --------------------------------------------------------

    def cwd(self, loop: AgentLoop) -> str:
        """The tools' working directory, resolved when the client opened: the tools' if a tool
        runs, otherwise the one ``loop``'s permission rules match paths under (no file system
        look-up of its own); every hook and init message of the client names the same one."""
        cwd = self._cwd
        if cwd is None:
            context = self.toolbox.context
            if context is not None:
                cwd = str(context.cwd)
            elif loop.settings.permissions.cwd is not None:
                cwd = loop.settings.permissions.cwd
            else:
                cwd = os.path.realpath(self.options.cwd if self.options.cwd is not None else os.getcwd())
            self._cwd = cwd
        return cwd

    def scrubber(self) -> Scrubber:
        """What takes every endpoint's secrets out of a log line or an error (made once)."""
        scrubber = self._scrubber
        if scrubber is None:
            scrubber = self._scrubber = Scrubber(tuple(s for e in self.endpoints for s in endpoint_secrets(e)))
        return scrubber

    def hook_site(self, loop: AgentLoop) -> HookSite:
        from ._hooks import HookSite

        return HookSite(
            session_id=self.session_id,
            cwd=self.cwd(loop),
            permission_mode=loop.settings.permissions.mode,
            agent=self.agent,
            effects=self.hook_effects,
        )

    def init_message(self, loop: AgentLoop) -> SystemMessage:
        """The ``SystemMessage(subtype="init")`` that starts every response."""
        return SystemMessage(
            subtype="init",
            data={
                "model": loop.settings.template.model,
                "base_url": redact_url(self.endpoint.base_url),
                "tools": [tool.spec.name for tool in loop.settings.tools],
                "permission_mode": loop.settings.permissions.mode,
                "cwd": self.cwd(loop),
                "session_id": self.session_id,
                "agents": sorted(self.options.agents) if self.agent is None else [],
                "agent": self.agent,
            },
        )

    # ---- the action loop ------------------------------------------------------------------

    async def run(self, loop: AgentLoop) -> AsyncGenerator[RunMessage]:
        """Drive ``loop`` through one response: the messages for the user, the ``ResultMessage``
        last. Raises the typed ``APIError`` when a request failed for good (the loop gave up),
        ``HookError`` when a hook raised."""
        from ._hooks import PreCompactInput, pre_compact, stop

        started = anyio.current_time()
        api_before = self.api_seconds
        failure = _Failure()
        stop_hook_active = False
        ended = False
        bound = self.observer.run_started(
            RunInfo(
                model=loop.settings.template.model,
                base_url=redact_url(self.endpoint.base_url),
                session_id=self.session_id,
                agent=self.agent,
                tools=tuple(tool.spec.name for tool in loop.settings.tools),
                provider=self.options.provider,
                scrub=self.scrubber(),
            )
        )
        effects = self.hook_effects
        effects.stop = None
        observer = self._observer = self.observer if bound is None else bound
        try:
            yield self.init_message(loop)
            while True:
                for note in effects.take_messages():
                    yield note
                action = loop.next_action()
                match action:
                    case SendRequest():
                        if self._needs_window(loop, action) and await self.discover(loop, action):
                            continue  # the request did not fit the window found: compacted, it comes again
                        failure.error = None
                        async with aclosing(self._request(loop, action, failure)) as events:
                            async for event in events:
                                yield event
                    case Emit(message=message):
                        if type(message) is SystemMessage and message.subtype == "compact":
                            observer.compaction(message.data)
                            if self.session is not None:
                                self.session.compacted(message.data)
                        elif type(message) is SystemMessage and message.subtype == "fallback_endpoint":
                            url = redact_url(self.endpoints[int(message.data["endpoint"])].base_url)
                            message = SystemMessage(subtype=message.subtype, data={**message.data, "base_url": url})
                        elif type(message) is SystemMessage and message.subtype == "context_truncated":
                            logger.warning(
                                "the server reported %s prompt tokens for a request counted at %s: it may "
                                "have cut the prompt to fit its context window (%s, %s)",
                                message.data.get("reported_prompt_tokens"),
                                message.data.get("expected_prompt_tokens"),
                                message.data.get("window") or "window unknown",
                                message.data.get("window_source"),
                            )
                        yield message
                    case Wait():
                        observer.retry(action, failure.error)
                        yield SystemMessage(
                            subtype="retry",
                            data={
                                "attempt": action.attempt,
                                "model": action.model,
                                "endpoint": action.endpoint,
                                "delay": action.seconds,
                                "reason": action.reason,
                                "fallback_to": action.fallback_to,
                                "gave_up": action.gave_up,
                                "error": str(failure.error) if failure.error is not None else "",
                            },
                        )
                        try:
                            await self.guard(anyio.sleep(action.seconds))
                        except Interrupted:
                            loop.interrupt()
                    case AskPermission():
                        await self._ask(loop, action)
                    case AskCompaction():
                        hook_input = PreCompactInput(
                            trigger=action.trigger,
                            strategy=action.strategy,
                            tokens=action.tokens,
                            limit=action.limit,
                            window=action.window,
                            session_id=self.session_id,
                        )
                        proceed, instructions = await pre_compact(
                            self.options.hooks, hook_input, session_id=self.session_id
                        )
                        loop.compaction(proceed, instructions=instructions)
                    case RunTools(calls=calls):
                        await self._run_tools(loop, calls)
                    case Commit():
                        if self.session is not None:
                            await self.session.commit(action)
                    case Done(result=result):
                        if result.subtype == "error_during_execution" and failure.error is not None:
                            if action.gave_up is not None:
                                failure.error.add_note(action.gave_up)
                            raise scrub_error(failure.error, self.scrubber())
                        if result.subtype == "success" and not result.pending_tool_calls:
                            more = await stop(self.options.hooks, result, self.hook_site(loop), active=stop_hook_active)
                            for note in effects.take_messages():
                                yield note
                            if more is not None:
                                stop_hook_active = True
                                loop.resume(more, new_response=False)
                                yield more
                                continue
                        final = attrs.evolve(
                            result,
                            session_id=self.session_id,
                            duration_ms=round((anyio.current_time() - started) * 1000),
                            duration_api_ms=round((self.api_seconds - api_before) * 1000),
                        )
                        observer.run_ended(final, None)
                        ended = True
                        yield final  # closing the generator here (a caller's break) is no failure
                        return
        except BaseException as exc:
            if not ended:
                observer.run_ended(None, exc)
            raise

    # ---- the context window ---------------------------------------------------------------

    def _needs_window(self, loop: AgentLoop, action: SendRequest) -> bool:
        if action.endpoint in self._probed or not self.options.discover_context or action.side is not None:
            return False
        if action.attempt != 1 and action.endpoint == 0:
            return False
        if loop.context_window[0] is not None:
            return False
        turn = action.turn
        return estimate_tokens(turn.messages, system_prompt=turn.system_prompt, tools=turn.tools) > DISCOVER_ABOVE

    async def discover(self, loop: AgentLoop, action: SendRequest | None = None) -> bool:
        """Ask the server ``action`` goes to (the main one without it) for the window (once per
        driver and endpoint; cached per endpoint and model) and tell the loop; True when the
        request handed out was withdrawn to be compacted."""
        number = 0 if action is None else action.endpoint
        self._probed.add(number)
        model = loop.settings.template.model if action is None else action.turn.model
        endpoint = self.endpoints[number]
        from ._context import discover_window  # only for runs that ask a server for its window

        try:
            found = await self._guard(discover_window(self.transport, endpoint, model, config=self.config))
        except Cancelled:
            return False  # interrupted: the request goes on, and the interrupt stops it
        if found.tokens is None:
            loop.context_window_found(None, note=found.note())
            return False
        return loop.context_window_found(found.tokens, source="server", note=found.note())

    # ---- requests -------------------------------------------------------------------------

    async def _request(self, loop: AgentLoop, action: SendRequest, failure: _Failure) -> AsyncGenerator[RunMessage]:
        """Perform one attempt and report it to the loop; ``failure`` gets the error to raise if
        the loop gives up."""
        partial = self.options.include_partial_messages and action.side is None
        text_filter = loop.answer_filter() if partial else None
        turn = action.turn_number
        wire_reasoning = False  # the server sent reasoning of its own: tagged reasoning is not repeated
        complete: MessageComplete | None = None
        received = Received(url="")
        observer = self._observer
        begun = anyio.current_time()
        endpoint = self.endpoints[action.endpoint]
        observer.attempt_started(action, redact_url(endpoint.base_url))
        try:
            events = perform(
                action.turn,
                transport=self.transport,
                endpoint=endpoint,
                config=self.config,
                guard=self._guard,
                received=received,
                partial=partial,
                limits=self._limits,
            )
            async with aclosing(events) as items:
                async for item in items:
                    if type(item) is MessageComplete:
                        complete = item
                    elif text_filter is not None and type(item) is TextDelta:
                        reasoning, shown = text_filter.feed(item.text)
                        if reasoning and not wire_reasoning:
                            yield StreamEvent(event=ReasoningDelta(text=reasoning), turn=turn)
                        if shown:
                            yield StreamEvent(event=item if shown is item.text else TextDelta(text=shown), turn=turn)
                    elif isinstance(item, _PARTIAL):  # perform() yields them only if asked
                        if type(item) is ReasoningDelta:
                            wire_reasoning = True
                        yield StreamEvent(event=item, turn=turn)
        except AttemptFailed as failed:
            self._ended(action, received, begun, failed.error)
            failure.error = failed.error
            loop.request_failed(
                failed.kind,
                status=failed.status,
                headers=failed.headers,
                error_text=failed.error_text,
                message=str(failed.error),
                now=self._clock(),
                random=self._random(),
            )
            return
        except Interrupted as interrupted:
            self._ended(action, received, begun, interrupted)
            loop.interrupt(interrupted.partial)
            return
        except APIError as exc:
            # Failed after output arrived: never repeated. The loop ends the run; the error is raised.
            self._ended(action, received, begun, exc)
            failure.error = exc
            loop.request_failed(_failure_kind(exc), message=str(exc), retryable=False)
            return
        finally:
            self.api_seconds += anyio.current_time() - begun
        if text_filter is not None:
            reasoning, rest = text_filter.finish()
            if reasoning and not wire_reasoning:
                yield StreamEvent(event=ReasoningDelta(text=reasoning), turn=turn)
            if rest:
                yield StreamEvent(event=TextDelta(text=rest), turn=turn)
        assert complete is not None
        self._ended(action, received, begun, None, complete)
        loop.receive_response(complete.message)

    def _ended(
        self,
        action: SendRequest,
        received: Received,
        begun: float,
        error: BaseException | None,
        complete: MessageComplete | None = None,
    ) -> None:
        message = complete.message if complete is not None else None
        self._observer.attempt_ended(
            action,
            AttemptInfo(
                status=received.status or None,
                usage=message.usage if message is not None else None,
                finish_reason=message.stop_reason if message is not None else None,
                error=error,
                seconds=anyio.current_time() - begun,
                message=message,
            ),
        )

    # ---- permissions and tools ------------------------------------------------------------

    async def _ask(self, loop: AgentLoop, action: AskPermission) -> None:
        from anyagent_core import PermissionDeny

        from ._hooks import notification
        from ._permissions import ToolPermissionContext, ask_permission  # only for runs that ask

        context = ToolPermissionContext(
            tool_use_id=action.call.id,
            reason=action.reason,
            mode=loop.settings.permissions.mode,
            traits=action.traits,
            session_id=self.session_id,
            agent=self.agent,
        )
        try:
            await notification(
                self.options.hooks,
                self.hook_site(loop),
                message=f"The agent needs your permission to use {action.call.name}: {action.reason}",
                notification_type="permission_prompt",
                tool_name=action.call.name,
            )
            answer = await self.guard(ask_permission(self.options.can_use_tool, action.call, context))
        except Interrupted:
            loop.interrupt()
            return
        if self.session is not None:
            if isinstance(answer, PermissionDeny):
                self.session.denied(action.call, f"Permission denied: {answer.message}")
            else:
                self.session.asked(action.call.id)
        loop.permission(action.call.id, answer)

    async def _run_tools(self, loop: AgentLoop, calls: Sequence[ToolUseBlock]) -> None:
        """Run the calls and report every result that came (the calls that finished keep their
        results when an interrupt, a hook error or the caller's cancellation cuts the round)."""
        results: list[ToolResultBlock | None] = [None] * len(calls)
        try:
            await self.guard(self._run_calls(loop, calls, results))
        except Interrupted:
            _report(loop, results)
            loop.interrupt()
        except BaseException:  # a hook error, the caller's cancellation
            _report(loop, results)
            raise
        else:
            _report(loop, results)
            reason, self.hook_effects.stop = self.hook_effects.stop, None
            if reason is not None:
                loop.interrupt(reason=reason)  # a hook said continue=False

    async def _run_calls(
        self, loop: AgentLoop, calls: Sequence[ToolUseBlock], results: list[ToolResultBlock | None]
    ) -> None:
        """Consecutive calls of read-only tools (and subagent tasks) together, the others one at
        a time, in the model's order, each result put at its call's index as it arrives."""
        from ._hooks import HookError

        hook_errors: list[HookError] = []
        toolbox = self.toolbox

        async def run(index: int, call: ToolUseBlock) -> None:
            try:
                results[index] = await self._run_one(loop, call)
            except HookError as exc:  # raised as itself below, not wrapped in an exception group
                hook_errors.append(exc)

        index = 0
        while index < len(calls):
            group = [index]
            if toolbox.concurrent(calls[index]):
                while index + len(group) < len(calls) and toolbox.concurrent(calls[index + len(group)]):
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

    async def _run_one(self, loop: AgentLoop, call: ToolUseBlock) -> ToolResultBlock:
        """One approved call, told to the observers (``tool_failed`` when it ends without a
        result) and written to the session's tool history."""
        observer = self._observer
        observer.tool_started(call)
        begun = anyio.current_time()
        try:
            result, tool_input = await self._perform_call(loop, call)
        except BaseException as exc:  # a hook error, an interrupt, the caller's cancellation
            observer.tool_failed(call, exc, anyio.current_time() - begun)
            raise
        seconds = anyio.current_time() - begun
        if self.session is not None:
            self.session.ran(call, tool_input, result, seconds)
        observer.tool_ended(call, result, seconds)
        return result

    async def _perform_call(self, loop: AgentLoop, call: ToolUseBlock) -> tuple[ToolResultBlock, JSONObject]:
        """Its PreToolUse hooks (an input they rewrite is checked against the permission rules
        again), the tool, its PostToolUse hooks: the result and the input it ran with."""
        from ._hooks import post_tool_use, pre_tool_use
        from ._tools import run_tool

        hooks = self.options.hooks
        site = self.hook_site(loop)
        outcome = await pre_tool_use(hooks, call, site)
        if isinstance(outcome, ToolResultBlock):
            return outcome, call.input
        tool_input = outcome
        if tool_input is not call.input:
            refused = _refused(loop, call, tool_input)
            if refused is not None:
                return refused, tool_input
        toolbox = self.toolbox
        assert toolbox.context is not None
        result = await run_tool(
            toolbox.tools[call.name],
            call.id,
            tool_input,
            toolbox.context.for_call(call.id),
            default_timeout=toolbox.timeout,
        )
        return await post_tool_use(hooks, call, tool_input, result, site), tool_input


def _refused(loop: AgentLoop, call: ToolUseBlock, tool_input: JSONObject) -> ToolResultBlock | None:
    """The error result for an input a PreToolUse hook rewrote into what the rules refuse."""
    found = loop.tool(call.name)
    assert found is not None
    decision = loop.settings.permissions.decide(call.name, tool_input, found.traits, approved=True)
    if decision.behavior == "allow":
        return None
    return ToolResultBlock(
        tool_use_id=call.id,
        content=f"Permission denied: the call as a PreToolUse hook rewrote it is refused: {decision.reason}.",
        is_error=True,
    )


def _report(loop: AgentLoop, results: Sequence[ToolResultBlock | None]) -> None:
    for result in results:
        if result is not None:
            loop.tool_result(result)


def _failure_kind(exc: APIError) -> Literal[Failure.STREAM_ERROR, Failure.CONNECTION]:
    return Failure.STREAM_ERROR if isinstance(exc, ServerStreamError) else Failure.CONNECTION
