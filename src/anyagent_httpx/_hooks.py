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

from anyagent_core import ResultMessage, ToolResultBlock, UserMessage
from anyagent_core._json import JSONObject, freeze_object

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
    "PreToolUseInput",
    "PromptBlockedError",
    "StopInput",
    "UserPromptSubmitInput",
    "run_hooks",
]

HookEvent: TypeAlias = Literal["PreToolUse", "PostToolUse", "UserPromptSubmit", "Stop"]
HOOK_EVENTS: tuple[HookEvent, ...] = ("PreToolUse", "PostToolUse", "UserPromptSubmit", "Stop")


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


HookInput: TypeAlias = PreToolUseInput | PostToolUseInput | UserPromptSubmitInput | StopInput


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
