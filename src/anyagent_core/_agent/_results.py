"""What a run reports besides the conversation: ``SystemMessage``, ``ResultMessage`` and the
``StreamEvent`` partials, as ``query()`` and ``Client`` yield them (all frozen)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

import attrs

from anyagent_core._events import Finished, ReasoningDelta, RefusalDelta, TextDelta, ToolCall, ToolCallDelta
from anyagent_core._json import JSONObject, freeze_object
from anyagent_core._messages import AssistantMessage, ToolUseBlock, ToolUseError, Usage, UserMessage
from anyagent_core.value import Value

__all__ = [
    "PartialEvent",
    "ResultMessage",
    "ResultSubtype",
    "RunMessage",
    "StreamEvent",
    "SystemMessage",
    "add_usage",
]


@attrs.frozen(kw_only=True, repr=False, eq=False)
class SystemMessage(Value):
    """Something the SDK reports about the run rather than the conversation.

    Subtypes: ``init`` (first in every response: ``data`` has the model, base URL, tools,
    permission mode, working directory and session id), ``retry`` (an attempt failed and
    another follows: attempt, model, delay, reason), ``compact`` (older messages were left out
    of a request), ``hook`` (a hook's ``system_message`` for the user: event and message)."""

    subtype: str
    data: JSONObject = attrs.field(factory=dict, converter=freeze_object)


PartialEvent: TypeAlias = TextDelta | ReasoningDelta | RefusalDelta | ToolCallDelta | ToolCall | Usage | Finished


@attrs.frozen(kw_only=True, repr=False, eq=False)
class StreamEvent(Value):
    """A piece of the answer as it arrives (only with ``include_partial_messages``): ``event``
    is the core's event (``TextDelta``, ``ReasoningDelta``, ``ToolCallDelta``, ...)."""

    event: PartialEvent
    turn: int = 1
    """Which model turn of the run it belongs to (1-based)."""


ResultSubtype: TypeAlias = Literal[
    "success",
    "interrupted",
    "error_during_execution",
    "error_max_turns",
    "error_max_budget_tokens",
    "error_max_budget_usd",
    "error_doom_loop",
    "error_max_structured_output_retries",
]
"""Why the run ended: ``success`` (an answer without tool calls, or external calls pending),
``interrupted``, or an error: a request failed for good, ``max_turns`` was reached, the token or
cost budget was spent, a tool call repeated in a doom loop, or the answer never matched the
output schema."""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ResultMessage(Value):
    """The last message of every response: how the run ended and what it cost."""

    subtype: ResultSubtype
    result: str | None
    """The final assistant text (None when there was none)."""
    is_error: bool
    num_turns: int
    """Model requests that returned an answer in this response."""
    duration_ms: int
    """Wall time of the response, retries and waits included."""
    duration_api_ms: int
    """Time spent in HTTP exchanges."""
    usage: Usage | None
    """Token counts summed over the turns; ``usage.estimated`` when some of them were counted
    by the loop because the server reported none (None only when no answer arrived)."""
    stop_reason: str | None = None
    """The last answer's ``finish_reason``."""
    model: str | None = None
    """The model that gave the last answer (a fallback model, if one was used)."""
    pending_tool_calls: tuple[ToolUseBlock | ToolUseError, ...] = ()
    """Tool calls waiting for ``Client.add_tool_result``: the run continues once all are answered."""
    errors: tuple[str, ...] = ()
    """What went wrong, for the error subtypes; for ``interrupted``, why the run was stopped
    when something said so (a hook's ``stop_reason``)."""
    session_id: str | None = None
    total_cost_usd: float = 0.0
    """What the response cost at ``pricing``; 0.0 without pricing (nothing was priced)."""
    structured_output: Any = None
    endpoint: int = 0
    """The endpoint that gave the last answer: 0 the main one, ``n`` the ``n``-th of the
    fallback endpoints."""


def add_usage(total: Usage | None, more: Usage | None) -> Usage | None:
    """The two counts summed field by field (a field missing on one side keeps the other)."""
    if more is None:
        return total
    if total is None:
        return more

    def plus(a: int | None, b: int | None) -> int | None:
        return b if a is None else a if b is None else a + b

    raw: Mapping[str, Any] = {}
    return Usage(
        prompt_tokens=plus(total.prompt_tokens, more.prompt_tokens),
        completion_tokens=plus(total.completion_tokens, more.completion_tokens),
        total_tokens=plus(total.total_tokens, more.total_tokens),
        reasoning_tokens=plus(total.reasoning_tokens, more.reasoning_tokens),
        cached_tokens=plus(total.cached_tokens, more.cached_tokens),
        raw=raw,
        estimated=total.estimated or more.estimated,
    )


RunMessage: TypeAlias = UserMessage | AssistantMessage | SystemMessage | ResultMessage | StreamEvent
