"""Hooks: your functions called at fixed points of a run, in order, to observe or steer it.

::

    async def no_rm(input: PreToolUseInput, context: HookContext) -> HookResult | None:
        if "rm -rf" in input.tool_input.get("command", ""):
            return HookResult(decision="deny", reason="rm -rf is not allowed here")
        return None

    options = AgentOptions(hooks={"PreToolUse": [HookMatcher(matcher="bash", hooks=[no_rm])]})

- ``PreToolUse`` (before an approved call runs): ``deny`` stops the call (the model is told
  ``reason``), ``updated_input`` rewrites its arguments; hooks after a denial do not run.
- ``PostToolUse`` (after a call ran): ``additional_context`` is appended to the result the model
  sees.
- ``UserPromptSubmit`` (in ``Client.query()``): ``block`` refuses the prompt
  (``PromptBlockedError``), ``additional_context`` is added to it.
- ``PreCompact`` (a request is about to be compacted to fit the context window): ``block``
  sends it as it is, ``additional_context`` is added to the summary request's instructions.
- ``Stop`` (a run is about to end with success): ``block`` makes the model go on, with ``reason``
  as the next user message (once per run: ``stop_hook_active`` tells the hook it already did).

A hook that raises stops the run: the error comes out of ``receive_response()`` as a
``HookError`` naming the event and the hook, with the original exception as its cause.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, TypeAlias

import attrs

from anyagent_core import ResultMessage, TextBlock, ToolResultBlock, ToolUseBlock, UserBlock, UserMessage
from anyagent_core.json import JSONObject, freeze_object

from ._errors import AnyAgentError

__all__ = [
    "HOOK_EVENTS",
    "HookCallback",
    "HookContext",
    "HookError",
    "HookEvent",
    "HookInput",
    "HookMatcher",
    "HookResult",
    "PostToolUseInput",
    "PreCompactInput",
    "PreToolUseInput",
    "PromptBlockedError",
    "StopInput",
    "UserPromptSubmitInput",
    "post_tool_use",
    "pre_compact",
    "pre_tool_use",
    "run_hooks",
    "stop",
    "user_prompt_submit",
]

HookEvent: TypeAlias = Literal["PreToolUse", "PostToolUse", "UserPromptSubmit", "Stop", "PreCompact"]
HOOK_EVENTS: tuple[HookEvent, ...] = ("PreToolUse", "PostToolUse", "UserPromptSubmit", "Stop", "PreCompact")


@attrs.frozen(kw_only=True)
class PreToolUseInput:
    tool_name: str
    tool_input: JSONObject = attrs.field(converter=freeze_object)
    tool_use_id: str
    session_id: str | None = None
    agent: str | None = None
    hook_event_name: Literal["PreToolUse"] = "PreToolUse"


@attrs.frozen(kw_only=True)
class PostToolUseInput:
    tool_name: str
    tool_input: JSONObject = attrs.field(converter=freeze_object)
    tool_use_id: str
    tool_response: ToolResultBlock
    session_id: str | None = None
    agent: str | None = None
    hook_event_name: Literal["PostToolUse"] = "PostToolUse"


@attrs.frozen(kw_only=True)
class UserPromptSubmitInput:
    prompt: UserMessage
    session_id: str | None = None
    hook_event_name: Literal["UserPromptSubmit"] = "UserPromptSubmit"


@attrs.frozen(kw_only=True)
class StopInput:
    result: ResultMessage
    stop_hook_active: bool
    """True when a Stop hook already made this run go on once."""
    session_id: str | None = None
    hook_event_name: Literal["Stop"] = "Stop"


@attrs.frozen(kw_only=True)
class PreCompactInput:
    trigger: Literal["auto", "reactive"]
    """``auto``: the count says the next request would not fit; ``reactive``: the server refused it."""
    strategy: str
    tokens: int
    """The request's count before compaction."""
    limit: int
    window: int | None
    session_id: str | None = None
    hook_event_name: Literal["PreCompact"] = "PreCompact"


HookInput: TypeAlias = PreToolUseInput | PostToolUseInput | UserPromptSubmitInput | StopInput | PreCompactInput


@attrs.frozen(kw_only=True)
class HookContext:
    """Where the hook runs."""

    event: HookEvent
    session_id: str | None = None


@attrs.frozen(kw_only=True)
class HookResult:
    """What a hook returns (or None: no opinion)."""

    decision: Literal["allow", "deny", "block"] | None = None
    """``deny`` (PreToolUse) or ``block`` (UserPromptSubmit, Stop); ``allow`` stops later
    PreToolUse hooks from being consulted."""
    reason: str | None = None
    updated_input: JSONObject | None = attrs.field(default=None, converter=attrs.converters.optional(freeze_object))
    """PreToolUse: the arguments to run the call with instead."""
    additional_context: str | None = None
    """PostToolUse: appended to the tool result; UserPromptSubmit: added to the prompt."""


HookCallback: TypeAlias = Callable[[Any, HookContext], Awaitable[HookResult | None] | HookResult | None]


def _hooks(value: Sequence[HookCallback]) -> tuple[HookCallback, ...]:
    hooks = tuple(value)
    for hook in hooks:
        if not callable(hook):
            raise TypeError(f"a hook must be callable, not {type(hook).__name__}")
    return hooks


def _pattern(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid hook matcher {value!r}: {exc}") from None
    return value


@attrs.frozen(kw_only=True)
class HookMatcher:
    """Hooks for the tools whose name fully matches ``matcher`` (a regular expression, e.g.
    ``"write_file|edit_file"``; None or ``"*"``: every tool). Events without a tool ignore it."""

    matcher: str | None = attrs.field(default=None, converter=_pattern)
    hooks: tuple[HookCallback, ...] = attrs.field(default=(), converter=_hooks)

    def applies_to(self, tool_name: str | None) -> bool:
        if tool_name is None or self.matcher in (None, "*", ""):
            return True
        assert self.matcher is not None
        return re.fullmatch(self.matcher, tool_name) is not None


class HookError(AnyAgentError):
    """A hook raised or returned something unusable; the run stopped."""

    def __init__(self, message: str, *, event: HookEvent, hook: str) -> None:
        super().__init__(message)
        self.event = event
        self.hook = hook


class PromptBlockedError(AnyAgentError):
    """A ``UserPromptSubmit`` hook refused the prompt; it was not added to the conversation."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the prompt was blocked by a UserPromptSubmit hook: {reason}")
        self.reason = reason


def _name(hook: object) -> str:
    return getattr(hook, "__qualname__", None) or getattr(hook, "__name__", None) or repr(hook)


async def run_hooks(
    hooks: Mapping[HookEvent, Sequence[HookMatcher]],
    event: HookEvent,
    input: HookInput,
    *,
    tool_name: str | None = None,
    session_id: str | None = None,
) -> list[HookResult]:
    """Call the hooks registered for ``event`` (and ``tool_name``), in order, and return their
    results. Stops after a ``deny``, ``block`` or ``allow``. Raises ``HookError`` if one raises
    or returns something that is not a ``HookResult`` or None."""
    results: list[HookResult] = []
    context = HookContext(event=event, session_id=session_id)
    for matcher in hooks.get(event, ()):
        if not matcher.applies_to(tool_name):
            continue
        for hook in matcher.hooks:
            try:
                outcome = hook(input, context)
                if inspect.isawaitable(outcome):
                    outcome = await outcome
            except Exception as exc:
                raise HookError(
                    f"the {event} hook {_name(hook)} raised {type(exc).__name__}: {exc}", event=event, hook=_name(hook)
                ) from exc
            if outcome is None:
                continue
            if not isinstance(outcome, HookResult):
                raise HookError(
                    f"the {event} hook {_name(hook)} returned {type(outcome).__name__}; return a HookResult or None",
                    event=event,
                    hook=_name(hook),
                )
            results.append(outcome)
            if outcome.decision is not None:
                return results
    return results


# ---- each event's hooks, with their inputs built and their outputs applied ----------------------


async def pre_tool_use(
    hooks: Mapping[HookEvent, Sequence[HookMatcher]],
    call: ToolUseBlock,
    *,
    session_id: str | None,
    agent: str | None,
) -> ToolResultBlock | JSONObject:
    """Run the ``PreToolUse`` hooks for ``call``: the error result to send when one denies it,
    or the input to run it with (the model's, or the last ``updated_input``)."""
    tool_input = call.input
    if "PreToolUse" not in hooks:
        return tool_input
    hook_input = PreToolUseInput(
        tool_name=call.name, tool_input=tool_input, tool_use_id=call.id, session_id=session_id, agent=agent
    )
    for outcome in await run_hooks(hooks, "PreToolUse", hook_input, tool_name=call.name, session_id=session_id):
        if outcome.decision == "deny":
            reason = outcome.reason or "no reason given"
            return ToolResultBlock(tool_use_id=call.id, content=f"Denied by a PreToolUse hook: {reason}", is_error=True)
        if outcome.updated_input is not None:
            tool_input = outcome.updated_input
    return tool_input


async def post_tool_use(
    hooks: Mapping[HookEvent, Sequence[HookMatcher]],
    call: ToolUseBlock,
    tool_input: JSONObject,
    result: ToolResultBlock,
    *,
    session_id: str | None,
    agent: str | None,
) -> ToolResultBlock:
    """Run the ``PostToolUse`` hooks: the result, with their ``additional_context`` appended."""
    if "PostToolUse" not in hooks:
        return result
    hook_input = PostToolUseInput(
        tool_name=call.name,
        tool_input=tool_input,
        tool_use_id=call.id,
        tool_response=result,
        session_id=session_id,
        agent=agent,
    )
    outcomes = await run_hooks(hooks, "PostToolUse", hook_input, tool_name=call.name, session_id=session_id)
    extra = [outcome.additional_context for outcome in outcomes if outcome.additional_context]
    if not extra:
        return result
    note = "\n".join(extra)
    if isinstance(result.content, str):
        return attrs.evolve(result, content=f"{result.content}\n\n{note}" if result.content else note)
    return attrs.evolve(result, content=(*result.content, TextBlock(text=note)))


async def user_prompt_submit(
    hooks: Mapping[HookEvent, Sequence[HookMatcher]], message: UserMessage, *, session_id: str | None
) -> UserMessage:
    """Run the ``UserPromptSubmit`` hooks: the prompt, with their ``additional_context`` added;
    ``PromptBlockedError`` when one blocks it."""
    if "UserPromptSubmit" not in hooks:
        return message
    hook_input = UserPromptSubmitInput(prompt=message, session_id=session_id)
    for outcome in await run_hooks(hooks, "UserPromptSubmit", hook_input, session_id=session_id):
        if outcome.decision == "block":
            raise PromptBlockedError(outcome.reason or "no reason given")
        if outcome.additional_context:
            blocks: tuple[UserBlock, ...]
            blocks = (TextBlock(text=message.content),) if isinstance(message.content, str) else message.content
            message = UserMessage(content=(*blocks, TextBlock(text=outcome.additional_context)))
    return message


async def stop(
    hooks: Mapping[HookEvent, Sequence[HookMatcher]],
    result: ResultMessage,
    *,
    active: bool,
    session_id: str | None,
) -> UserMessage | None:
    """Run the ``Stop`` hooks for a run about to end with ``result``: the user message to go on
    with when one blocks (once per run: never when ``active``), else None."""
    if "Stop" not in hooks:
        return None
    hook_input = StopInput(result=result, stop_hook_active=active, session_id=session_id)
    outcomes = await run_hooks(hooks, "Stop", hook_input, session_id=session_id)
    block = next((outcome for outcome in outcomes if outcome.decision == "block"), None)
    if block is None or active:
        return None
    return UserMessage(content=block.reason or "Continue.")


async def pre_compact(
    hooks: Mapping[HookEvent, Sequence[HookMatcher]], hook_input: PreCompactInput, *, session_id: str | None
) -> tuple[bool, str | None]:
    """Run the ``PreCompact`` hooks: (compact?, instructions for the summary)."""
    outcomes = await run_hooks(hooks, "PreCompact", hook_input, session_id=session_id)
    if any(outcome.decision == "block" for outcome in outcomes):
        return False, None
    extra = [outcome.additional_context for outcome in outcomes if outcome.additional_context]
    return True, "\n".join(extra) or None
