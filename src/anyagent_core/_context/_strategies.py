"""Compaction strategies: what a request sends when the conversation outgrows the window.

A strategy is a pure function of a ``ContextView`` (the messages a request would send, the
system prompt and tools, the token limit, where the run's own messages start, and the counter
in use) returning a ``Compaction``: the messages to send, and what was done to get there.

- ``sliding``: leave out the oldest turns. The kept part starts at a user prompt, so a tool
  call is never separated from its result, and never after the run's prompt.
- ``truncate``: shorten tool results, the largest first (the oldest among equals), keeping
  their head and tail around a marker saying how much was cut.
- ``summarize``: the part ``sliding`` would leave out is handed back in ``summarize``: the agent
  loop asks the model for a summary of it, and the summary takes its place.
- ``adaptive``: ``truncate``; if that is not enough, ``summarize`` what still does not fit
  (the loop slides when the summary fails or does not fit either).

Counts are the counter's, as the sum of a fixed part and one count per message
(``TokenCounter``), so every strategy is one pass over the history plus the work on what it
changes, and the same view always gives the same compaction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final, Literal, TypeAlias

import attrs

from anyagent_core._agent._conversation import is_prompt
from anyagent_core._messages import (
    AssistantMessage,
    Message,
    TextBlock,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    ToolUseError,
    UserMessage,
)
from anyagent_core._util import lazy_names

# ContextView and Compaction (``_plans``) keep this module as their ``__module__``: the names their
# annotations use must be here for ``typing.get_type_hints``.
from ._tokens import CharEstimate, TokenCounter  # noqa: F401

if TYPE_CHECKING:
    from ._plans import Compaction, ContextView

__all__ = [
    "CONTEXT_STRATEGIES",
    "Compaction",
    "ContextStrategy",
    "ContextStrategyName",
    "ContextView",
    "StrategyFunction",
    "adaptive",
    "check_pairs",
    "compact",
    "sliding",
    "strategy_function",
    "summarize",
    "truncate",
    "truncate_text",
]


StrategyFunction: TypeAlias = "Callable[[ContextView], Compaction | Sequence[Message]]"
"""A strategy of your own: the messages to send (or a ``Compaction``) for a view. The loop
checks that calls and results stay paired and that the run's messages are all there."""
ContextStrategyName: TypeAlias = Literal["sliding", "truncate", "summarize", "adaptive"]
ContextStrategy: TypeAlias = ContextStrategyName | StrategyFunction
# A value over StrategyFunction's string (its classes load with the first compaction): a module
# whose annotations name ContextStrategy supplies ContextView, Compaction and Message to
# ``typing.get_type_hints`` (``AgentOptions`` does, see ``anyagent_httpx._options``).

#: The marker put where a tool result was shortened (``{cut}``: characters left out).
TRUNCATION_MARKER: Final = "\n[... {cut} characters cut to fit the context window ...]\n"
#: A shortened tool result keeps at least this many characters of its own.
MIN_KEPT_CHARS: Final = 200


def _slide(view: ContextView, messages: tuple[Message, ...], counts: list[int], fixed: int) -> int:
    """How many leading messages to leave out so that the rest fits (0: none; the last cut point
    when nothing fits)."""
    total = fixed + sum(counts)
    if total <= view.limit:
        return 0
    starts = [i for i, m in enumerate(messages) if is_prompt(m) and 0 < i <= view.keep_from]
    if not starts:
        return 0
    dropped_tokens = 0
    previous = 0
    for start in starts:
        dropped_tokens += sum(counts[previous:start])
        previous = start
        if total - dropped_tokens <= view.limit:
            return start
    return starts[-1]


def sliding(view: ContextView) -> Compaction:
    """Leave out the oldest turns until the rest fits (see the module docstring)."""
    counter = view.counter
    counts = [counter.count_message(m) for m in view.messages]
    fixed = counter.count_fixed(view.system_prompt, view.tools)
    dropped = _slide(view, view.messages, counts, fixed)
    from ._plans import Compaction  # made with the first compaction

    return Compaction(messages=view.messages[dropped:], dropped=dropped)


def truncate_text(text: str, keep: int) -> str:
    """``text`` cut to about ``keep`` characters: two thirds from its head, a third from its tail,
    with a marker between them saying how many were cut. Unchanged if it is not longer."""
    keep = max(keep, 0)
    if len(text) <= keep:
        return text
    head = math.ceil(keep * 2 / 3)
    tail = keep - head
    cut = len(text) - head - tail
    return text[:head] + TRUNCATION_MARKER.format(cut=cut) + (text[len(text) - tail :] if tail else "")


def _result_chars(block: ToolResultBlock) -> int:
    if isinstance(block.content, str):
        return len(block.content)
    return sum(len(part.text) for part in block.content if isinstance(part, TextBlock))


def _result_text(block: ToolResultBlock) -> str:
    if isinstance(block.content, str):
        return block.content
    return "".join(part.text for part in block.content if isinstance(part, TextBlock))


def _shorten_result(block: ToolResultBlock, keep: int) -> ToolResultBlock:
    if isinstance(block.content, str):
        return attrs.evolve(block, content=truncate_text(block.content, keep))
    parts = [part for part in block.content if isinstance(part, TextBlock)]
    others = [part for part in block.content if not isinstance(part, TextBlock)]
    text = truncate_text("".join(part.text for part in parts), keep)
    return attrs.evolve(block, content=(TextBlock(text=text), *others))


def _truncate(view: ContextView) -> tuple[tuple[Message, ...], int]:
    """The messages with tool results shortened until they fit (or nothing more can be cut), and
    how many results were shortened."""
    counter = view.counter
    messages = list(view.messages)
    counts = [counter.count_message(m) for m in messages]
    fixed = counter.count_fixed(view.system_prompt, view.tools)
    excess = fixed + sum(counts) - view.limit
    if excess <= 0:
        return view.messages, 0
    # (chars, -message index, block index): the largest first, the oldest among equals
    found: list[tuple[int, int, int]] = []
    for index, message in enumerate(messages):
        if type(message) is UserMessage and not isinstance(message.content, str):
            for position, block in enumerate(message.content):
                if type(block) is ToolResultBlock and _result_chars(block) > MIN_KEPT_CHARS:
                    found.append((_result_chars(block), index, position))
    found.sort(key=lambda item: (-item[0], item[1], item[2]))
    shortened = 0
    for chars, index, position in found:
        if excess <= 0:
            break
        message = messages[index]
        assert type(message) is UserMessage and not isinstance(message.content, str)
        block = message.content[position]
        assert type(block) is ToolResultBlock
        per_char = max(counter.count_text(_result_text(block)), 1) / chars
        want = max(MIN_KEPT_CHARS, math.floor(chars - (excess / per_char) * 1.05) - len(TRUNCATION_MARKER) - 8)
        if want >= chars:
            continue
        content = list(message.content)
        content[position] = _shorten_result(block, want)
        new = UserMessage(content=tuple(content))
        new_count = counter.count_message(new)
        excess -= counts[index] - new_count
        messages[index], counts[index] = new, new_count
        shortened += 1
    return tuple(messages), shortened


def truncate(view: ContextView) -> Compaction:
    """Shorten tool results, the largest and oldest first, keeping head and tail (see the module
    docstring). What still does not fit is sent as it is."""
    messages, shortened = _truncate(view)
    from ._plans import Compaction  # made with the first compaction

    return Compaction(messages=messages, truncated=shortened)


def summarize(view: ContextView) -> Compaction:
    """The part ``sliding`` would leave out, to be replaced with a summary (``summarize``)."""
    plan = sliding(view)
    if not plan.dropped:
        return plan
    from ._plans import Compaction  # made with the first compaction

    return Compaction(messages=plan.messages, summarize=view.messages[: plan.dropped])


def adaptive(view: ContextView) -> Compaction:
    """``truncate``, then ``summarize`` what still does not fit."""
    messages, shortened = _truncate(view)
    shortened_view = attrs.evolve(view, messages=messages)
    if shortened_view.tokens() <= view.limit:
        from ._plans import Compaction  # made with the first compaction

        return Compaction(messages=messages, truncated=shortened)
    plan = summarize(shortened_view)
    return attrs.evolve(plan, truncated=shortened)


CONTEXT_STRATEGIES: Final[dict[str, Callable[[ContextView], Compaction]]] = {
    "sliding": sliding,
    "truncate": truncate,
    "summarize": summarize,
    "adaptive": adaptive,
}


def strategy_function(strategy: ContextStrategy) -> StrategyFunction:
    """The function for a strategy's name (or the callable itself)."""
    if callable(strategy):
        return strategy
    return CONTEXT_STRATEGIES[strategy]


def check_pairs(messages: Sequence[Message]) -> str | None:
    """Why ``messages`` break the pairing of calls and results (None when they do not): every
    call of an assistant message is answered in the user message right after it, and every result
    answers a call of the assistant message right before it."""
    for index, message in enumerate(messages):
        if type(message) is AssistantMessage:
            calls = {block.id for block in message.content if isinstance(block, ToolUseBlock | ToolUseError)}
            if not calls:
                continue
            following = messages[index + 1] if index + 1 < len(messages) else None
            answered = _result_ids(following)
            if following is None:
                continue  # the last answer: its calls are being run
            if not calls <= answered:
                return f"message {index}: tool calls without their results ({', '.join(sorted(calls - answered))})"
        elif type(message) is UserMessage:
            results = _result_ids(message)
            if not results:
                continue
            before = messages[index - 1] if index > 0 else None
            calls = set()
            if type(before) is AssistantMessage:
                calls = {block.id for block in before.content if isinstance(block, ToolUseBlock | ToolUseError)}
            if not results <= calls:
                return f"message {index}: tool results without their calls ({', '.join(sorted(results - calls))})"
    return None


def _result_ids(message: Message | None) -> set[str]:
    if type(message) is not UserMessage or isinstance(message.content, str):
        return set()
    return {block.tool_use_id for block in message.content if type(block) is ToolResultBlock}


def compact(
    messages: Sequence[Message], *, limit: int, system_prompt: str | None = None, tools: Sequence[ToolSpec] = ()
) -> tuple[tuple[Message, ...], int]:
    """``sliding`` by the plain character estimate: the messages kept and how many were left out.

    The kept part starts at a user prompt (a tool call is never separated from its result), and
    the last prompt with everything after it is always kept, even if it alone is over the limit.
    Messages that fit are all kept, even when the first is not a prompt."""
    from ._plans import ContextView  # made with the first compaction

    view = ContextView(
        messages=tuple(messages),
        system_prompt=system_prompt,
        tools=tuple(tools),
        limit=limit,
        keep_from=len(messages),
        counter=CharEstimate(),
    )
    plan = sliding(view)
    return plan.messages, plan.dropped


#: Made with the first compaction (``_plans``), which keeps this module their ``__module__``.
__getattr__, __dir__ = lazy_names(globals(), dict.fromkeys(("Compaction", "ContextView"), "._context._plans"))
