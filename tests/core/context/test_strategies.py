"""Compaction strategies: hypothesis properties (the request fits by the counter in use, calls and
results stay paired, the run's messages survive, the same view gives the same compaction) and
examples of each strategy."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyagent_core import AssistantMessage, Message, TextBlock, ToolResultBlock, ToolUseBlock, UserMessage
from anyagent_core.context import (
    CalibratedEstimate,
    CharEstimate,
    Compaction,
    ContextView,
    adaptive,
    check_pairs,
    sliding,
    summarize,
    truncate,
    truncate_text,
)


def conversation(items: list[tuple[str, int, int]]) -> list[Message]:
    """Turns: ('text', prompt size, answer size) or ('tools', prompt size, result size)."""
    messages: list[Message] = []
    for number, (kind, prompt, size) in enumerate(items):
        messages.append(UserMessage(content=f"p{number}:" + "x" * prompt))
        if kind == "tools":
            call_id = f"c{number}"
            messages.append(AssistantMessage(content=(ToolUseBlock(id=call_id, name="read", input={"n": number}),)))
            messages.append(UserMessage(content=(ToolResultBlock(tool_use_id=call_id, content="r" * size),)))
            messages.append(AssistantMessage(content=(TextBlock(text="done"),)))
        else:
            messages.append(AssistantMessage(content=(TextBlock(text="a" * size),)))
    return messages


turns = st.lists(
    st.tuples(st.sampled_from(["text", "tools"]), st.integers(0, 400), st.integers(0, 3000)), min_size=1, max_size=12
)
counters = st.sampled_from([CharEstimate(), CharEstimate(chars_per_token=1.5, overhead=7)])


def view_of(messages: list[Message], limit: int, counter: Any, run_turns: int = 1) -> ContextView:
    prompts = [i for i, m in enumerate(messages) if isinstance(m, UserMessage) and isinstance(m.content, str)]
    keep_from = prompts[-run_turns] if len(prompts) >= run_turns else 0
    return ContextView(
        messages=tuple(messages), system_prompt="be brief", tools=(), limit=limit, keep_from=keep_from, counter=counter
    )


@settings(max_examples=150, deadline=None)
@given(
    items=turns, limit=st.integers(1, 4000), counter=counters, name=st.sampled_from(["sliding", "truncate", "adaptive"])
)
def test_compaction_fits_keeps_pairs_and_the_run_s_messages(
    items: list[tuple[str, int, int]], limit: int, counter: Any, name: str
) -> None:
    messages = conversation(items)
    view = view_of(messages, limit, counter)
    strategy = {"sliding": sliding, "truncate": truncate, "adaptive": adaptive}[name]
    plan = strategy(view)
    again = strategy(view)
    assert plan == again  # deterministic
    sent = plan.messages
    assert check_pairs(sent) is None
    # the run's prompt is there, and nothing of the run's was left out
    run = messages[view.keep_from :]
    assert [m for m in sent if isinstance(m, UserMessage) and isinstance(m.content, str)][-1] == run[0]
    assert len(sent) >= len(run)
    if plan.summarize:  # adaptive: what it asks to summarise comes first, the rest follows it
        assert len(plan.summarize) + len(sent) == len(messages)
        assert (plan.summarize[0] == messages[0] and sent[-1] == messages[-1]) or plan.truncated
        return
    # it fits whenever it can: sliding when the run's own messages fit; adaptive when they do once
    # shortened; truncate when everything does once shortened (by half, for the counts' rounding)
    if name == "sliding":
        can = view.tokens(run) <= limit
    else:
        part = run if name == "adaptive" else messages
        shortest = truncate(attrs.evolve(view, messages=tuple(part), keep_from=0, limit=1)).messages
        can = view.tokens(shortest) <= limit // 2
    if can:
        assert view.tokens(sent) <= limit, (view.tokens(sent), limit)
    if name == "sliding":
        assert sent == tuple(messages[plan.dropped :])


@settings(max_examples=80, deadline=None)
@given(items=turns, limit=st.integers(1, 4000))
def test_summarize_hands_back_the_part_sliding_leaves_out(items: list[tuple[str, int, int]], limit: int) -> None:
    messages = conversation(items)
    view = view_of(messages, limit, CharEstimate())
    slide = sliding(view)
    plan = summarize(view)
    assert plan.messages == slide.messages
    assert plan.summarize == tuple(messages[: slide.dropped])
    assert check_pairs(plan.messages) is None


def test_sliding_example() -> None:
    messages = conversation([("text", 400, 400), ("tools", 10, 2000), ("text", 10, 10)])
    view = view_of(messages, 200, CharEstimate())
    plan = sliding(view)
    assert plan.dropped == 6 and plan.messages == tuple(messages[6:])  # the first two turns
    assert sliding(view_of(messages, 100_000, CharEstimate())) == Compaction(messages=tuple(messages))


def test_truncate_shortens_the_largest_result_and_keeps_head_and_tail() -> None:
    messages = conversation([("tools", 10, 8000), ("tools", 10, 3000), ("text", 10, 10)])
    messages[2] = UserMessage(content=(ToolResultBlock(tool_use_id="c0", content="HEAD" + "m" * 7992 + "TAIL"),))
    view = view_of(messages, 1200, CharEstimate())
    plan = truncate(view)
    assert plan.truncated == 1 and plan.dropped == 0 and len(plan.messages) == len(messages)
    block = plan.messages[2].content[0]
    assert isinstance(block, ToolResultBlock) and isinstance(block.content, str)
    assert block.content.startswith("HEAD") and block.content.endswith("TAIL")
    assert "characters cut to fit the context window" in block.content
    assert plan.messages[6] == messages[6]  # the smaller result is untouched
    assert view.tokens(plan.messages) <= 1200


def test_truncate_text() -> None:
    assert truncate_text("abc", 10) == "abc"
    cut = truncate_text("a" * 50 + "z" * 50, 30)
    assert cut.startswith("a" * 20) and cut.endswith("z" * 10) and "[... 70 characters cut" in cut


def test_check_pairs_names_what_is_wrong() -> None:
    messages = conversation([("tools", 1, 1)])
    assert check_pairs(messages) is None
    assert "without their calls" in (check_pairs(messages[2:]) or "")
    assert "without their results" in (check_pairs([messages[1], messages[3]]) or "")


def test_the_calibrated_estimate_learns_a_tokenizer_s_rate() -> None:
    """A tokenizer of 1.5 characters per token and 7 tokens per message: within 10% after three
    reports, from an estimate that was 60% off."""
    estimate = CalibratedEstimate()

    def real(messages: list[Message]) -> int:
        chars = sum(len(m.content) if isinstance(m.content, str) else len(m.content[0].text) for m in messages)  # type: ignore[union-attr,misc]
        return round(chars / 1.5) + 7 * len(messages) + 3

    history: list[Message] = []
    errors = []
    for number in range(5):
        history.append(UserMessage(content="w" * (300 + 97 * number)))
        view = view_of(history, 10**6, estimate)
        errors.append(abs(view.tokens() - real(history)) / real(history))
        estimate.calibrate(history, "be brief", (), real(history) + 4)
        history.append(AssistantMessage(content=(TextBlock(text="v" * (200 + 31 * number)),)))
    assert errors[0] > 0.5
    assert max(errors[3:]) < 0.10, errors
    assert estimate.source == "calibrated" and estimate.observations == 5


def test_the_calibrated_estimate_ignores_implausible_reports() -> None:
    estimate = CalibratedEstimate()
    messages: list[Message] = [UserMessage(content="x" * 4000)]
    estimate.calibrate(messages, None, (), 12)  # a server that cut the prompt to 12 tokens
    assert estimate.observations == 0
    estimate.calibrate(messages, None, (), 0)
    assert estimate.observations == 0


@pytest.mark.parametrize("chars_per_token", [0, -1.0])
def test_the_calibrated_estimate_refuses_a_bad_rate(chars_per_token: float) -> None:
    with pytest.raises(ValueError, match="chars_per_token"):
        CalibratedEstimate(chars_per_token=chars_per_token)
