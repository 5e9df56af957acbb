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
  sees. ``PostToolUseFailure`` runs next when the result is an error, to the same effect.
- ``UserPromptSubmit`` (in ``Client.query()``): ``block`` refuses the prompt
  (``PromptBlockedError``), ``additional_context`` is added to it.
- ``PreCompact`` (a request is about to be compacted to fit the context window): ``block``
  sends it as it is, ``additional_context`` is added to the summary request's instructions.
- ``Stop`` (a run is about to end with success): ``block`` makes the model go on, with ``reason``
  as the next user message (once per run: ``stop_hook_active`` tells the hook it already did).
  ``SubagentStop`` is the same for a subagent's run.
- ``SubagentStart`` (a subagent's task begins; matched on the agent's name):
  ``additional_context`` is added to the task's prompt.
- ``SessionStart`` (the client's first prompt): ``additional_context`` is added to that prompt.
  ``SessionEnd`` (the client closes) and ``Notification`` (the run waits for a permission
  answer): observe only.

Every hook may also return ``system_message`` (shown to the user as a ``SystemMessage`` of
subtype ``hook``) and ``continue_=False`` with a ``stop_reason``: the run stops (after the tool
round, for the tool events; a prompt is refused), its result ``interrupted`` with that reason.

claude-agent-sdk's callback form is accepted beside this one: a hook taking three parameters is
called as ``hook(input_data, tool_use_id, context)`` with the input as a dict of Claude Code's
shape (``hook_event_name``, ``session_id``, ``cwd``, ``permission_mode``, ``tool_name``,
``tool_input``, ``tool_response``, ...) and may return a dict of Claude Code's hook output
(``continue``/``continue_``, ``stopReason``, ``systemMessage``, ``decision``, ``reason``,
``hookSpecificOutput`` with ``permissionDecision``, ``permissionDecisionReason``,
``updatedInput``, ``additionalContext``); ``permissionDecision: "ask"`` is no opinion here
(the permission rules ran already). An output key it does not know is a ``HookError``.

A hook that raises, runs past its matcher's ``timeout`` or returns something unusable stops the
run: the error comes out of ``receive_response()`` as a ``HookError`` naming the event and the
hook, with the original exception as its cause. A matcher's ``on_failure`` changes that, as
claude-agent-sdk's does: ``"continue"`` counts the failure as no decision (a ``SystemMessage`` of
subtype ``hook`` says what failed); ``"block"`` also counts a hook returning None as a failure,
and a failure blocks what the hook guards: the ``PreToolUse`` call is denied, the
``UserPromptSubmit`` prompt refused, the ``PreCompact`` compaction skipped (the other events
have nothing to block, and stop the run as without it). ``Stop`` and ``SubagentStop`` hooks
ignore ``on_failure``.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeAlias

import anyio
import attrs

from anyagent_core import (
    ImageBlock,
    ResultMessage,
    SystemMessage,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserBlock,
    UserMessage,
)
from anyagent_core.json import JSONObject, freeze_object, thaw_json
from anyagent_core.value import Value

from ._errors import AnyAgentError

__all__ = [
    "HOOK_EVENTS",
    "HookCallback",
    "HookContext",
    "HookError",
    "HookEvent",
    "HookFailure",
    "HookInput",
    "HookMatcher",
    "HookEffects",
    "HookResult",
    "NotificationInput",
    "PostToolUseFailureInput",
    "PostToolUseInput",
    "PreCompactInput",
    "PreToolUseInput",
    "PromptBlockedError",
    "SessionEndInput",
    "SessionStartInput",
    "StopInput",
    "SubagentStartInput",
    "UserPromptSubmitInput",
    "notification",
    "post_tool_use",
    "pre_compact",
    "pre_tool_use",
    "run_hooks",
    "session_end",
    "session_start",
    "stop",
    "subagent_start",
    "with_context",
    "user_prompt_submit",
]

HookEvent: TypeAlias = Literal[
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "UserPromptSubmit",
    "Stop",
    "SubagentStart",
    "SubagentStop",
    "SessionStart",
    "SessionEnd",
    "PreCompact",
    "Notification",
]
HOOK_EVENTS: tuple[HookEvent, ...] = (
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "UserPromptSubmit",
    "Stop",
    "SubagentStart",
    "SubagentStop",
    "SessionStart",
    "SessionEnd",
    "PreCompact",
    "Notification",
)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class PreToolUseInput(Value):
    """What a ``PreToolUse`` hook is given: the call about to run (after its permission check)."""

    tool_name: str
    tool_input: JSONObject = attrs.field(converter=freeze_object)
    tool_use_id: str
    session_id: str | None = None
    agent: str | None = None
    hook_event_name: Literal["PreToolUse"] = "PreToolUse"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class PostToolUseInput(Value):
    """What a ``PostToolUse`` hook is given: the call that ran and its result."""

    tool_name: str
    tool_input: JSONObject = attrs.field(converter=freeze_object)
    tool_use_id: str
    tool_response: ToolResultBlock
    session_id: str | None = None
    agent: str | None = None
    hook_event_name: Literal["PostToolUse"] = "PostToolUse"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class PostToolUseFailureInput(Value):
    """What a ``PostToolUseFailure`` hook is given: a call whose result is an error (after its
    ``PostToolUse`` hooks ran)."""

    tool_name: str
    tool_input: JSONObject = attrs.field(converter=freeze_object)
    tool_use_id: str
    error: str
    """The error result's text."""
    is_interrupt: bool = False
    session_id: str | None = None
    agent: str | None = None
    hook_event_name: Literal["PostToolUseFailure"] = "PostToolUseFailure"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class SubagentStartInput(Value):
    """What a ``SubagentStart`` hook is given: a subagent's run begins (its task's prompt)."""

    agent: str
    """The agent's name in ``AgentOptions.agents``."""
    session_id: str | None = None
    hook_event_name: Literal["SubagentStart"] = "SubagentStart"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class UserPromptSubmitInput(Value):
    """What a ``UserPromptSubmit`` hook is given: the prompt, before it joins the conversation."""

    prompt: UserMessage
    session_id: str | None = None
    hook_event_name: Literal["UserPromptSubmit"] = "UserPromptSubmit"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class StopInput(Value):
    """``Stop``, or ``SubagentStop`` for a subagent's run (``agent`` names it)."""

    result: ResultMessage
    stop_hook_active: bool
    """True when a Stop hook already made this run go on once."""
    session_id: str | None = None
    agent: str | None = None
    hook_event_name: Literal["Stop", "SubagentStop"] = "Stop"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class SessionStartInput(Value):
    """What a ``SessionStart`` hook is given: the conversation begins (its first prompt)."""

    source: Literal["startup", "resume"] = "startup"
    """``startup`` for a new conversation, ``resume`` for one given a history."""
    session_id: str | None = None
    hook_event_name: Literal["SessionStart"] = "SessionStart"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class SessionEndInput(Value):
    """What a ``SessionEnd`` hook is given: the client closes."""

    reason: str = "other"
    session_id: str | None = None
    hook_event_name: Literal["SessionEnd"] = "SessionEnd"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class PreCompactInput(Value):
    """What a ``PreCompact`` hook is given: a request is about to be compacted to fit the
    context window (``block`` vetoes it; ``additional_context`` instructs a summary)."""

    trigger: Literal["auto", "reactive"]
    """``auto``: the count says the next request would not fit; ``reactive``: the server refused it."""
    strategy: str
    tokens: int
    """The request's count before compaction."""
    limit: int
    window: int | None
    session_id: str | None = None
    hook_event_name: Literal["PreCompact"] = "PreCompact"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class NotificationInput(Value):
    """What a ``Notification`` hook is given: something the user may want to know now."""

    message: str
    notification_type: str
    """``permission_prompt``: the run waits for a permission answer."""
    tool_name: str | None = None
    session_id: str | None = None
    hook_event_name: Literal["Notification"] = "Notification"


HookInput: TypeAlias = (
    PreToolUseInput
    | PostToolUseInput
    | PostToolUseFailureInput
    | SubagentStartInput
    | UserPromptSubmitInput
    | StopInput
    | SessionStartInput
    | SessionEndInput
    | PreCompactInput
    | NotificationInput
)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class HookContext(Value):
    """Where the hook runs."""

    event: HookEvent
    session_id: str | None = None
    cwd: str | None = None
    """The working directory of the run's tools."""
    permission_mode: str | None = None
    agent: str | None = None
    """The subagent whose run it is (None for the main agent)."""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class HookResult(Value):
    """What a hook returns (or None: no opinion)."""

    decision: Literal["allow", "deny", "block"] | None = None
    """``deny`` (PreToolUse) or ``block`` (UserPromptSubmit, Stop); ``allow`` stops later
    PreToolUse hooks from being consulted."""
    reason: str | None = None
    updated_input: JSONObject | None = attrs.field(default=None, converter=attrs.converters.optional(freeze_object))
    """PreToolUse: the arguments to run the call with instead."""
    additional_context: str | None = None
    """PostToolUse: appended to the tool result; UserPromptSubmit and SessionStart: added to
    the prompt."""
    system_message: str | None = None
    """Shown to the user: a ``SystemMessage(subtype="hook", data={"event", "message"})`` in the
    response's messages."""
    continue_: bool = True
    """False: stop the run (after the tool round, for the tool events; the prompt is refused,
    for UserPromptSubmit and SessionStart); ``stop_reason`` says why."""
    stop_reason: str | None = None


HookCallback: TypeAlias = Callable[..., Any]
"""``hook(input, context) -> HookResult | None`` (sync or async), or claude-agent-sdk's
``hook(input_data: dict, tool_use_id: str | None, context) -> dict``."""


def _hooks(value: Sequence[HookCallback]) -> tuple[HookCallback, ...]:
    hooks = tuple(value)
    for hook in hooks:
        if not callable(hook):
            raise TypeError(f"a hook must be callable, not {type(hook).__name__}")
    return hooks


def _pattern(value: str | None) -> str | None:
    if value not in (None, "*", ""):  # "*" and "": every tool, as in Claude Code
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid hook matcher {value!r}: {exc}") from None
    return value


HookFailure: TypeAlias = Literal["continue", "block"]
"""What a hook's failure does, when not the default ``HookError`` (see ``HookMatcher.on_failure``)."""


def _on_failure(instance: object, attribute: attrs.Attribute[HookFailure | None], value: object) -> None:
    if value not in (None, "continue", "block"):
        raise ValueError(f"HookMatcher.on_failure must be 'continue', 'block' or None, not {value!r}")


def _timeout(instance: object, attribute: attrs.Attribute[float | None], value: float | None) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 or math.isinf(value)
    ):
        raise ValueError(f"HookMatcher.timeout must be a positive number of seconds or None, not {value!r}")


@attrs.frozen(kw_only=True, repr=False, eq=False)
class HookMatcher(Value):
    """Hooks for the tools whose name fully matches ``matcher`` (a regular expression, e.g.
    ``"write_file|edit_file"``; None or ``"*"``: every tool). Events without a tool ignore it."""

    matcher: str | None = attrs.field(default=None, converter=_pattern)
    hooks: tuple[HookCallback, ...] = attrs.field(default=(), converter=_hooks)
    timeout: float | None = attrs.field(default=None, validator=_timeout)
    """Seconds each of these hooks may take (a failure past it); None: no limit."""
    on_failure: HookFailure | None = attrs.field(default=None, validator=_on_failure)
    """What a failure of one of these hooks does: None, a ``HookError`` stops the run;
    ``"continue"``, no decision; ``"block"``, the call, prompt or compaction is refused (see the
    module's docstring)."""

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


@attrs.define
class HookEffects:
    """What hooks asked for beyond their event's own output, collected for the driver: the
    ``system_message``s to show and a ``continue_=False``'s reason."""

    messages: list[SystemMessage] = attrs.Factory(list)
    stop: str | None = None

    def take_messages(self) -> list[SystemMessage]:
        messages, self.messages = self.messages, []
        return messages


def _claude_form(hook: object) -> bool:
    """Whether ``hook`` takes claude-agent-sdk's three arguments (input, tool_use_id, context)."""
    try:
        signature = inspect.signature(hook)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    positional = [p for p in signature.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3 or (
        len(positional) < 2 and any(p.kind is p.VAR_POSITIONAL for p in signature.parameters.values())
    )


async def run_hooks(
    hooks: Mapping[HookEvent, Sequence[HookMatcher]],
    event: HookEvent,
    input: HookInput,
    *,
    tool_name: str | None = None,
    session_id: str | None = None,
    context: HookContext | None = None,
    effects: HookEffects | None = None,
) -> list[HookResult]:
    """Call the hooks registered for ``event`` (and ``tool_name``), in order, and return their
    results. Stops after a ``deny``, ``block`` or ``allow``, or a ``continue_=False``. Raises
    ``HookError`` if one raises, runs past its matcher's timeout, or returns something that is
    not a ``HookResult`` or None (a dict of Claude Code's hook output, for the three-argument
    form), unless its matcher's ``on_failure`` makes that a result. ``effects`` collects system
    messages and a request to stop."""
    results: list[HookResult] = []
    if context is None:
        context = HookContext(event=event, session_id=session_id)
    for matcher in hooks.get(event, ()):
        if not matcher.applies_to(tool_name):
            continue
        policy = None if event in ("Stop", "SubagentStop") else matcher.on_failure
        for hook in matcher.hooks:
            try:
                outcome = await _call(hook, event, input, context, matcher.timeout)
                if outcome is None and policy == "block":
                    raise HookError(
                        f"the {event} hook {_name(hook)} returned None (with on_failure='block', a hook "
                        "with no opinion returns {} or HookResult())",
                        event=event,
                        hook=_name(hook),
                    )
            except HookError as error:
                outcome = _failed(error, event, policy)
            if outcome is None:
                continue
            results.append(outcome)
            if effects is not None:
                if outcome.system_message:
                    effects.messages.append(
                        SystemMessage(subtype="hook", data={"event": event, "message": outcome.system_message})
                    )
                if not outcome.continue_ and effects.stop is None:
                    effects.stop = outcome.stop_reason or f"a {event} hook stopped the run"
            if outcome.decision is not None or not outcome.continue_:
                return results
    return results


#: What ``on_failure="block"`` makes of a failure, for the events with something to block.
_BLOCKS: Mapping[str, Literal["deny", "block"]] = {
    "PreToolUse": "deny",
    "UserPromptSubmit": "block",
    "PreCompact": "block",
}


def _failed(error: HookError, event: HookEvent, policy: HookFailure | None) -> HookResult:
    """A hook's failure under its matcher's ``on_failure``; raises ``error`` where it stops the run."""
    if policy == "continue":
        return HookResult(system_message=f"{error}; with on_failure='continue' that is no decision")
    decision = _BLOCKS.get(event) if policy == "block" else None
    if decision is None:
        raise error
    return HookResult(decision=decision, reason=f"{error} (on_failure='block')")


async def _call(
    hook: HookCallback, event: HookEvent, input: HookInput, context: HookContext, limit: float | None
) -> HookResult | None:
    claude = _claude_form(hook)
    outcome: Any = None
    try:
        with anyio.move_on_after(limit) as scope:
            if claude:
                outcome = hook(claude_input(input, context), getattr(input, "tool_use_id", None), {"signal": None})
            else:
                outcome = hook(input, context)
            if inspect.isawaitable(outcome):
                outcome = await outcome
    except Exception as exc:
        raise HookError(
            f"the {event} hook {_name(hook)} raised {type(exc).__name__}: {exc}", event=event, hook=_name(hook)
        ) from exc
    if scope.cancelled_caught:
        raise HookError(
            f"the {event} hook {_name(hook)} took longer than its timeout ({limit:g}s)", event=event, hook=_name(hook)
        )
    if outcome is None or isinstance(outcome, HookResult):
        return outcome
    if claude and isinstance(outcome, Mapping):
        try:
            return from_claude_output(event, outcome)
        except ValueError as exc:
            raise HookError(f"the {event} hook {_name(hook)} returned {exc}", event=event, hook=_name(hook)) from None
    expected = "a dict of Claude Code's hook output or None" if claude else "a HookResult or None"
    raise HookError(
        f"the {event} hook {_name(hook)} returned {type(outcome).__name__}; return {expected}",
        event=event,
        hook=_name(hook),
    )


# ---- claude-agent-sdk's form: dicts in, dicts out --------------------------------------------


def _response_of(result: ToolResultBlock) -> Any:
    """A tool result as Claude Code hands it to hooks: its text, or its content blocks as dicts."""
    if isinstance(result.content, str):
        return result.content
    blocks: list[dict[str, Any]] = []
    for block in result.content:
        if isinstance(block, TextBlock):
            blocks.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            blocks.append({"type": "image", "url": block.url})
    return blocks


def _prompt_text(message: UserMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    return "\n".join(block.text for block in message.content if isinstance(block, TextBlock))


def claude_input(input: HookInput, context: HookContext) -> dict[str, Any]:
    """``input`` as the dict a claude-agent-sdk hook is given (Claude Code's field names)."""
    data: dict[str, Any] = {
        "hook_event_name": input.hook_event_name,
        "session_id": context.session_id or "",
        "transcript_path": "",
        "cwd": context.cwd or "",
    }
    if context.permission_mode is not None:
        data["permission_mode"] = context.permission_mode
    if context.agent is not None:
        data["agent_id"] = context.agent
        data["agent_type"] = context.agent
    if isinstance(input, PreToolUseInput | PostToolUseInput | PostToolUseFailureInput):
        data.update(tool_name=input.tool_name, tool_input=thaw_json(input.tool_input), tool_use_id=input.tool_use_id)
        if isinstance(input, PostToolUseInput):
            data["tool_response"] = _response_of(input.tool_response)
        elif isinstance(input, PostToolUseFailureInput):
            data.update(error=input.error, is_interrupt=input.is_interrupt)
    elif isinstance(input, SubagentStartInput):
        data.update(agent_id=input.agent, agent_type=input.agent)
    elif isinstance(input, UserPromptSubmitInput):
        data["prompt"] = _prompt_text(input.prompt)
    elif isinstance(input, StopInput):
        data["stop_hook_active"] = input.stop_hook_active
        if input.hook_event_name == "SubagentStop":
            data.update(agent_id=input.agent or "", agent_type=input.agent or "", agent_transcript_path="")
    elif isinstance(input, SessionStartInput):
        data["source"] = input.source
    elif isinstance(input, SessionEndInput):
        data["reason"] = input.reason
    elif isinstance(input, PreCompactInput):
        data.update(trigger="auto", custom_instructions=None)  # ours are all automatic
    else:
        data.update(message=input.message, notification_type=input.notification_type)
    return data


_OUTPUT_KEYS = frozenset(
    {
        "continue",
        "continue_",
        "suppressOutput",
        "stopReason",
        "decision",
        "systemMessage",
        "reason",
        "hookSpecificOutput",
        "async",
        "async_",
        "asyncTimeout",
    }
)
_SPECIFIC_KEYS = frozenset(
    {
        "hookEventName",
        "permissionDecision",
        "permissionDecisionReason",
        "updatedInput",
        "additionalContext",
        "updatedMCPToolOutput",
        "decision",
    }
)


def _optional_str(output: Mapping[str, Any], key: str, where: str) -> str | None:
    value = output.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{where}{key} as {type(value).__name__}: it must be a string")
    return value


def from_claude_output(event: HookEvent, output: Mapping[str, Any]) -> HookResult | None:
    """A claude-agent-sdk hook's dict output as a ``HookResult`` (None for ``{}``); raises
    ``ValueError`` naming a key it does not know or a value of the wrong type."""
    unknown = sorted(set(output) - _OUTPUT_KEYS)
    if unknown:
        raise ValueError(
            f"an unknown key {unknown[0]!r} (Claude Code's hook output has {', '.join(sorted(_OUTPUT_KEYS))})"
        )
    if output.get("async_") or output.get("async"):
        return None  # a deferred hook: Claude Code does not wait for it, nor read what it decides
    specific = output.get("hookSpecificOutput") or {}
    if not isinstance(specific, Mapping):
        raise ValueError(f"hookSpecificOutput as {type(specific).__name__}: it must be a dict")
    unknown = sorted(set(specific) - _SPECIFIC_KEYS)
    if unknown:
        raise ValueError(f"an unknown hookSpecificOutput key {unknown[0]!r}")
    carry_on = output.get("continue_", output.get("continue", True))
    if not isinstance(carry_on, bool):
        raise ValueError(f"continue as {type(carry_on).__name__}: it must be a boolean")
    decision: Literal["allow", "deny", "block"] | None = None
    reason = _optional_str(output, "reason", "")
    permission = specific.get("permissionDecision")
    old = output.get("decision")
    if permission is not None:
        if permission not in ("allow", "deny", "ask"):
            raise ValueError(f"permissionDecision {permission!r}: it must be 'allow', 'deny' or 'ask'")
        decision = None if permission == "ask" else permission
        reason = _optional_str(specific, "permissionDecisionReason", "hookSpecificOutput.") or reason
    elif old is not None:
        if old not in ("block", "approve"):
            raise ValueError(f"decision {old!r}: it must be 'block' (or the old 'approve')")
        if event == "PreToolUse":
            decision = "deny" if old == "block" else "allow"
        elif old == "block":
            decision = "block"
    context = _optional_str(specific, "additionalContext", "hookSpecificOutput.")
    if event == "PostToolUse" and decision == "block":
        decision = None  # Claude Code tells the model the reason: here it joins the result
        context = "\n".join(part for part in (reason, context) if part)
    updated = specific.get("updatedInput")
    if updated is not None and not isinstance(updated, Mapping):
        raise ValueError(f"hookSpecificOutput.updatedInput as {type(updated).__name__}: it must be a dict")
    result = HookResult(
        decision=decision,
        reason=reason,
        updated_input=updated,
        additional_context=context or None,
        system_message=_optional_str(output, "systemMessage", ""),
        continue_=carry_on,
        stop_reason=_optional_str(output, "stopReason", ""),
    )
    return None if result == HookResult() else result


# ---- each event's hooks, with their inputs built and their outputs applied ----------------------


@attrs.frozen(kw_only=True, repr=False, eq=False)
class HookSite(Value):
    """Where hooks run, for their ``HookContext``: the session, the tools' working directory,
    the permission mode, the subagent; and ``effects``, where their side requests go."""

    session_id: str | None = None
    cwd: str | None = None
    permission_mode: str | None = None
    agent: str | None = None
    effects: HookEffects = attrs.field(factory=HookEffects, eq=False)

    def context(self, event: HookEvent) -> HookContext:
        return HookContext(
            event=event,
            session_id=self.session_id,
            cwd=self.cwd,
            permission_mode=self.permission_mode,
            agent=self.agent,
        )


async def _run(
    hooks: Mapping[HookEvent, Sequence[HookMatcher]],
    event: HookEvent,
    input: HookInput,
    site: HookSite,
    tool_name: str | None = None,
) -> list[HookResult]:
    return await run_hooks(
        hooks,
        event,
        input,
        tool_name=tool_name,
        session_id=site.session_id,
        context=site.context(event),
        effects=site.effects,
    )


async def pre_tool_use(
    hooks: Mapping[HookEvent, Sequence[HookMatcher]], call: ToolUseBlock, site: HookSite
) -> ToolResultBlock | JSONObject:
    """Run the ``PreToolUse`` hooks for ``call``: the error result to send when one denies it
    (or stops the run), or the input to run it with (the model's, or the last
    ``updated_input``)."""
    tool_input = call.input
    if "PreToolUse" not in hooks:
        return tool_input
    hook_input = PreToolUseInput(
        tool_name=call.name, tool_input=tool_input, tool_use_id=call.id, session_id=site.session_id, agent=site.agent
    )
    for outcome in await _run(hooks, "PreToolUse", hook_input, site, call.name):
        if outcome.decision == "deny":
            reason = outcome.reason or "no reason given"
            return ToolResultBlock(tool_use_id=call.id, content=f"Denied by a PreToolUse hook: {reason}", is_error=True)
        if not outcome.continue_:
            why = outcome.stop_reason or "no reason given"
            return ToolResultBlock(
                tool_use_id=call.id, content=f"Not run: a PreToolUse hook stopped the run: {why}", is_error=True
            )
        if outcome.updated_input is not None:
            tool_input = outcome.updated_input
    return tool_input


async def post_tool_use(
    hooks: Mapping[HookEvent, Sequence[HookMatcher]],
    call: ToolUseBlock,
    tool_input: JSONObject,
    result: ToolResultBlock,
    site: HookSite,
) -> ToolResultBlock:
    """Run the ``PostToolUse`` hooks, then for an error result the ``PostToolUseFailure`` ones:
    the result, with their ``additional_context`` appended."""
    if "PostToolUse" not in hooks and not (result.is_error and "PostToolUseFailure" in hooks):
        return result
    hook_input = PostToolUseInput(
        tool_name=call.name,
        tool_input=tool_input,
        tool_use_id=call.id,
        tool_response=result,
        session_id=site.session_id,
        agent=site.agent,
    )
    outcomes = await _run(hooks, "PostToolUse", hook_input, site, call.name) if "PostToolUse" in hooks else []
    if result.is_error and "PostToolUseFailure" in hooks:
        failure = PostToolUseFailureInput(
            tool_name=call.name,
            tool_input=tool_input,
            tool_use_id=call.id,
            error=_result_text(result),
            session_id=site.session_id,
            agent=site.agent,
        )
        outcomes += await _run(hooks, "PostToolUseFailure", failure, site, call.name)
    return _with_context(result, [outcome.additional_context for outcome in outcomes if outcome.additional_context])


def _result_text(result: ToolResultBlock) -> str:
    if isinstance(result.content, str):
        return result.content
    return "\n".join(block.text for block in result.content if isinstance(block, TextBlock))


def _with_context(result: ToolResultBlock, extra: Sequence[str]) -> ToolResultBlock:
    if not extra:
        return result
    note = "\n".join(extra)
    if isinstance(result.content, str):
        return attrs.evolve(result, content=f"{result.content}\n\n{note}" if result.content else note)
    return attrs.evolve(result, content=(*result.content, TextBlock(text=note)))


def _add_text(message: UserMessage, text: str) -> UserMessage:
    blocks: tuple[UserBlock, ...]
    blocks = (TextBlock(text=message.content),) if isinstance(message.content, str) else message.content
    return UserMessage(content=(*blocks, TextBlock(text=text)))


async def user_prompt_submit(
    hooks: Mapping[HookEvent, Sequence[HookMatcher]], message: UserMessage, site: HookSite
) -> UserMessage:
    """Run the ``UserPromptSubmit`` hooks: the prompt, with their ``additional_context`` added;
    ``PromptBlockedError`` when one blocks it or stops the run."""
    if "UserPromptSubmit" not in hooks:
        return message
    hook_input = UserPromptSubmitInput(prompt=message, session_id=site.session_id)
    for outcome in await _run(hooks, "UserPromptSubmit", hook_input, site):
        if outcome.decision == "block":
            raise PromptBlockedError(outcome.reason or "no reason given")
        if not outcome.continue_:
            raise PromptBlockedError(outcome.stop_reason or "no reason given")
        if outcome.additional_context:
            message = _add_text(message, outcome.additional_context)
    return message


async def session_start(
    hooks: Mapping[HookEvent, Sequence[HookMatcher]],
    site: HookSite,
    *,
    source: Literal["startup", "resume"] = "startup",
) -> tuple[str, ...]:
    """Run the ``SessionStart`` hooks before the client's first prompt: their
    ``additional_context``, for that prompt; ``PromptBlockedError`` when one stops the run."""
    if "SessionStart" not in hooks:
        return ()
    hook_input = SessionStartInput(source=source, session_id=site.session_id)
    extra: list[str] = []
    for outcome in await _run(hooks, "SessionStart", hook_input, site):
        if not outcome.continue_:
            raise PromptBlockedError(outcome.stop_reason or "no reason given")
        if outcome.additional_context:
            extra.append(outcome.additional_context)
    return tuple(extra)


async def subagent_start(hooks: Mapping[HookEvent, Sequence[HookMatcher]], site: HookSite) -> tuple[str, ...]:
    """Run the ``SubagentStart`` hooks before a subagent's task prompt (matched on the agent's
    name): their ``additional_context``, for that prompt; ``PromptBlockedError`` when one stops
    the task."""
    if "SubagentStart" not in hooks or site.agent is None:
        return ()
    hook_input = SubagentStartInput(agent=site.agent, session_id=site.session_id)
    extra: list[str] = []
    for outcome in await _run(hooks, "SubagentStart", hook_input, site, site.agent):
        if not outcome.continue_:
            raise PromptBlockedError(outcome.stop_reason or "no reason given")
        if outcome.additional_context:
            extra.append(outcome.additional_context)
    return tuple(extra)


def with_context(message: UserMessage, extra: Sequence[str], *, after: int) -> UserMessage:
    """``message`` with texts ``extra`` put after its first ``after`` blocks (a string counts
    as one)."""
    if not extra:
        return message
    blocks: tuple[UserBlock, ...]
    blocks = (TextBlock(text=message.content),) if isinstance(message.content, str) else message.content
    added = tuple(TextBlock(text=text) for text in extra)
    return UserMessage(content=(*blocks[:after], *added, *blocks[after:]))


async def session_end(hooks: Mapping[HookEvent, Sequence[HookMatcher]], site: HookSite, *, reason: str) -> None:
    """Run the ``SessionEnd`` hooks (the client closes); what they return is not used."""
    if "SessionEnd" in hooks:
        await _run(hooks, "SessionEnd", SessionEndInput(reason=reason, session_id=site.session_id), site)


async def notification(
    hooks: Mapping[HookEvent, Sequence[HookMatcher]],
    site: HookSite,
    *,
    message: str,
    notification_type: str,
    tool_name: str | None = None,
) -> None:
    """Run the ``Notification`` hooks (observe only)."""
    if "Notification" not in hooks:
        return
    hook_input = NotificationInput(
        message=message, notification_type=notification_type, tool_name=tool_name, session_id=site.session_id
    )
    await _run(hooks, "Notification", hook_input, site, tool_name)


async def stop(
    hooks: Mapping[HookEvent, Sequence[HookMatcher]],
    result: ResultMessage,
    site: HookSite,
    *,
    active: bool,
) -> UserMessage | None:
    """Run the ``Stop`` hooks (``SubagentStop`` in a subagent's run) for a run about to end
    with ``result``: the user message to go on with when one blocks (once per run: never when
    ``active``, nor when one stops the run), else None."""
    event: Literal["Stop", "SubagentStop"] = "Stop" if site.agent is None else "SubagentStop"
    if event not in hooks:
        return None
    hook_input = StopInput(
        result=result, stop_hook_active=active, session_id=site.session_id, agent=site.agent, hook_event_name=event
    )
    outcomes = await _run(hooks, event, hook_input, site)
    block = next((outcome for outcome in outcomes if outcome.decision == "block"), None)
    if block is None or active or not all(outcome.continue_ for outcome in outcomes):
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
