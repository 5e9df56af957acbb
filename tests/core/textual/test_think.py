"""Reasoning written as ``<think>...</think>`` in the answer's text: the whole-text rule, the
streaming filters (alone and with the tool-call filter), messages, and the agent loop."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import (
    DEFAULT_CONFIG,
    AgentLoop,
    AnswerFilter,
    AssistantMessage,
    Done,
    LocalProtocolError,
    LoopSettings,
    LoopState,
    LoopTool,
    RunTools,
    SendRequest,
    StartTurn,
    TextBlock,
    ThinkingBlock,
    ThinkSplit,
    ThinkTagFilter,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    UserMessage,
    parse_tool_calls,
    split_think,
    think_to_blocks,
)
from anyagent_core._dialects._openai_chat._writer import request_payload
from anyagent_core._util import WHITESPACE

WEATHER = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
FENCED = '```json\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n```'


def split(text: str, points: Sequence[int]) -> list[str]:
    cuts = sorted({p for p in points if 0 < p < len(text)})
    return [text[a:b] for a, b in itertools.pairwise([0, *cuts, len(text)])]


def think_stream(pieces: Sequence[str]) -> tuple[str, str]:
    stream = ThinkTagFilter()
    reasoning, text = [], []
    for piece in pieces:
        r, t = stream.feed(piece)
        reasoning.append(r)
        text.append(t)
    r, t = stream.finish()
    return "".join(reasoning) + r, "".join(text) + t


def answer_stream(pieces: Sequence[str], *, think_tags: bool = True, calls: bool = True) -> tuple[str, str, list[Any]]:
    stream = AnswerFilter(think_tags=think_tags, calls=calls)
    reasoning, text = [], []
    for piece in pieces:
        r, t = stream.feed(piece)
        reasoning.append(r)
        text.append(t)
    r, t = stream.finish()
    return "".join(reasoning) + r, "".join(text) + t, list(stream.calls)


# ---- the rule ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>\nLet me see.\n</think>\n\nHello.", ThinkSplit(reasoning="Let me see.", text="Hello.", closed=True)),
        ("  \n<think>a</think>b", ThinkSplit(reasoning="a", text="b", closed=True)),
        ("<think>\r\nwhy\r\n</think>\r\n\r\nHi\r\n", ThinkSplit(reasoning="why", text="Hi\r\n", closed=True)),
        ("<think>\n\n</think>\n\nHi", ThinkSplit(reasoning="", text="Hi", closed=True)),  # Qwen3 /no_think
        ("<think>still thinking when it ended", ThinkSplit(reasoning="still thinking when it ended", text="")),
        ("<think>", ThinkSplit(reasoning="", text="")),
        ("<think>a</think>b</think>c", ThinkSplit(reasoning="a", text="b</think>c", closed=True)),
        ("<think><think>a</think>b", ThinkSplit(reasoning="<think>a", text="b", closed=True)),
        ("Hi <think>no</think>", ThinkSplit(reasoning=None, text="Hi <think>no</think>")),
        ("x\n<think>no</think>", ThinkSplit(reasoning=None, text="x\n<think>no</think>")),
        ("reasoning\n</think>\n\nanswer", ThinkSplit(reasoning=None, text="reasoning\n</think>\n\nanswer")),
        ("<thinking>no</thinking>", ThinkSplit(reasoning=None, text="<thinking>no</thinking>")),
        ("<Think>no</Think>", ThinkSplit(reasoning=None, text="<Think>no</Think>")),
        ("  <thi", ThinkSplit(reasoning=None, text="  <thi")),
        ("", ThinkSplit(reasoning=None, text="")),
        (" \n ", ThinkSplit(reasoning=None, text=" \n ")),
    ],
)  # fmt: skip
def test_split_think(text: str, expected: ThinkSplit) -> None:
    assert split_think(text) == expected
    assert think_stream([text]) == (expected.reasoning or "", expected.text)
    assert think_stream(list(text)) == (expected.reasoning or "", expected.text)


def test_think_filter_streams_reasoning_as_it_comes_and_passes_text_through() -> None:
    stream = ThinkTagFilter()
    assert stream.feed("\n <thi") == ("", "")
    assert stream.feed("nk>\nFirst, ") == ("First,", "")
    assert stream.feed("the city.  \n</thi") == (" the city.", "")
    assert stream.feed("nk>\n\n") == ("", "")
    assert stream.feed("It is ") == ("", "It is ")
    piece = "sunny."
    assert stream.feed(piece)[1] is piece
    assert stream.finish() == ("", "")


def test_think_filter_without_a_block_passes_every_piece_through_as_it_is() -> None:
    stream = ThinkTagFilter()
    pieces = ["Hello", " <think>", " world"]
    for piece in pieces:
        reasoning, text = stream.feed(piece)
        assert (reasoning, text) == ("", piece) and text is piece
    assert stream.finish() == ("", "")


def test_think_filter_releases_held_text_that_opens_no_block() -> None:
    stream = ThinkTagFilter()
    assert stream.feed("  <th") == ("", "")
    assert stream.feed("e answer>") == ("", "  <the answer>")
    late = ThinkTagFilter()
    assert late.feed("\n<thin") == ("", "")
    assert late.finish() == ("", "\n<thin")


def test_think_filter_after_finish() -> None:
    stream = ThinkTagFilter()
    assert stream.feed("<think>a </th") == ("a", "")
    assert stream.finish() == (" </th", "")  # an unclosed block runs to the end of the answer
    assert stream.finish() == ("", "")
    with pytest.raises(LocalProtocolError):
        stream.feed("x")


def test_think_filter_is_linear_fed_one_character_at_a_time() -> None:
    text = " " * 100_000 + "<think>" + "why " * 50_000 + " " * 100_000 + "</think>" + "ok"
    assert think_stream(list(text)) == (("why " * 50_000).strip(), "ok")


# ---- with the tool-call filter -----------------------------------------------------------------


def test_calls_inside_the_reasoning_are_not_calls_and_a_call_after_it_is() -> None:
    text = f"<think>\nI could write {WEATHER} but\n{FENCED}\n</think>\n\nChecking.\n{WEATHER}"
    reasoning, shown, calls = answer_stream(list(text))
    assert WEATHER in reasoning and FENCED in reasoning
    assert shown == "Checking."
    assert [(call.name, dict(call.input or {})) for call in calls] == [("get_weather", {"city": "Paris"})]
    assert answer_stream([text]) == (reasoning, shown, calls)


def test_unclosed_reasoning_holding_a_call_gives_no_call() -> None:
    reasoning, shown, calls = answer_stream([f"<think>I will call {WEATHER}"])
    assert (reasoning, shown, calls) == (f"I will call {WEATHER}", "", [])


def test_without_think_tags_the_block_is_text_and_calls_in_it_are_read() -> None:
    reasoning, shown, calls = answer_stream([f"<think>{WEATHER}</think>ok"], think_tags=False)
    assert (reasoning, shown, len(calls)) == ("", "<think></think>ok", 1)


def test_answer_filter_for_reasoning_only() -> None:
    stream = AnswerFilter(calls=False)
    assert stream.feed("<think>hm</think>") == ("hm", "")
    piece = f"\n{WEATHER}"
    assert stream.feed(piece) == ("", WEATHER)
    assert stream.finish() == ("", "")
    assert stream.calls == ()


# ---- properties ------------------------------------------------------------------------------

_pieces = st.sampled_from(
    ["<think>", "</think>", "<think", "</thi", "think>", "<", "</", ">", "<tool_call>", "</tool_call>", "<tool_",
     WEATHER, FENCED, "```", "```json\n", "\n```\n", '{"name": "f", "arguments": {}}', "\n", "\r\n", " ", "\t",
     "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\u3000", "\r", "x", "é", "🌍", "<thinking>"]
)  # fmt: skip
think_texts = st.lists(_pieces | st.text(max_size=3), max_size=30).map("".join)
leading = st.sampled_from(["", " ", "\n", "\r\n", " \t\n\n"])
answers = st.builds(lambda lead, text: lead + text, leading, think_texts) | st.builds(
    lambda lead, body, rest: f"{lead}<think>{body}</think>{rest}", leading, think_texts, think_texts
)


@given(text=answers, data=st.data())
def test_think_filter_output_is_split_think_however_the_text_is_split(text: str, data: st.DataObject) -> None:
    expected = split_think(text)
    points = data.draw(st.lists(st.integers(1, max(1, len(text) - 1)), max_size=12), label="cuts")
    for pieces in (split(text, points), list(text), [text]):
        assert think_stream(pieces) == (expected.reasoning or "", expected.text)


@given(text=answers, data=st.data(), think_tags=st.booleans())
def test_answer_filter_does_not_depend_on_the_split(text: str, data: st.DataObject, think_tags: bool) -> None:
    after = split_think(text).text if think_tags else text
    parsed = parse_tool_calls(after)
    expected = ((split_think(text).reasoning or "") if think_tags else "", parsed.text, list(parsed.calls))
    points = data.draw(st.lists(st.integers(1, max(1, len(text) - 1)), max_size=len(text)), label="cuts")
    for pieces in (split(text, points), list(text), [text]):
        assert answer_stream(pieces, think_tags=think_tags) == expected


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\u3000"])
def test_a_unicode_separator_after_the_reasoning_is_text_on_both_paths(separator: str) -> None:
    # Only ASCII whitespace is stripped after </think> and only LF ends a line: a fence after
    # U+2028 is not at a line start, streamed or parsed whole.
    rest = separator + FENCED
    text = f"<think></think>{rest}"
    assert split_think(text).text == rest
    assert parse_tool_calls(rest).calls == ()
    assert answer_stream([text]) == ("", parse_tool_calls(rest).text, [])
    assert answer_stream(list(text)) == ("", parse_tool_calls(rest).text, [])


@given(lead=leading, body=think_texts, rest=think_texts, closed=st.booleans(), data=st.data())
def test_calls_inside_the_reasoning_never_come_out(
    lead: str, body: str, rest: str, closed: bool, data: st.DataObject
) -> None:
    while "</think>" in body:
        body = body.replace("</think>", "")
    inner = body + WEATHER + FENCED + body
    text = f"{lead}<think>{inner}</think>{rest}" if closed else f"{lead}<think>{inner}"
    points = data.draw(st.lists(st.integers(1, max(1, len(text) - 1)), max_size=12), label="cuts")
    reasoning, _, calls = answer_stream(split(text, points))
    assert WEATHER in reasoning
    expected = parse_tool_calls(rest).calls if closed else ()
    assert calls == list(expected)
    message = think_to_blocks(AssistantMessage(content=[TextBlock(text=text)]))
    assert message.text == (rest.lstrip(WHITESPACE) if closed else "")
    assert WEATHER in "".join(block.thinking for block in message.content if isinstance(block, ThinkingBlock))


# ---- messages ----------------------------------------------------------------------------------


def test_think_to_blocks_puts_the_reasoning_first_and_keeps_the_rest() -> None:
    native = ToolUseBlock(id="c1", name="f", input={"a": 1})
    message = AssistantMessage(
        content=[TextBlock(text="<think>\nhm\n</think>\n\nHello"), native], model="m", id="x", stop_reason="tool_calls"
    )
    converted = think_to_blocks(message)
    assert converted.content == (ThinkingBlock(thinking="hm"), TextBlock(text="Hello"), native)
    assert (converted.model, converted.id, converted.stop_reason) == ("m", "x", "tool_calls")


def test_think_to_blocks_returns_the_message_itself_without_a_block() -> None:
    for text in ["Hello", " <thinking>", "a <think>b</think>", ""]:
        message = AssistantMessage(content=[TextBlock(text=text)] if text else [])
        assert think_to_blocks(message) is message


def test_an_empty_block_leaves_no_thinking_block_and_no_empty_text() -> None:
    assert think_to_blocks(AssistantMessage(content=[TextBlock(text="<think>\n\n</think>\n\n")])).content == ()
    converted = think_to_blocks(AssistantMessage(content=[TextBlock(text="<think>\n\n</think>\n\nHi")]))
    assert converted.content == (TextBlock(text="Hi"),)


def test_reasoning_the_server_also_sent_is_not_repeated() -> None:
    # llama.cpp's --reasoning-format deepseek-legacy fills reasoning_content and keeps the tags
    message = AssistantMessage(content=[ThinkingBlock(thinking="hm"), TextBlock(text="<think>hm</think>Hi")])
    assert think_to_blocks(message).content == (ThinkingBlock(thinking="hm"), TextBlock(text="Hi"))


# ---- the loop ----------------------------------------------------------------------------------

GET_WEATHER = LoopTool(spec=ToolSpec(name="get_weather"))


def loop_with(**settings: Any) -> AgentLoop:
    return AgentLoop(LoopSettings(template=StartTurn(model="m", messages=()), **settings))


def drain(loop: AgentLoop) -> list[Any]:
    actions = []
    while loop.state is LoopState.ACTING:
        actions.append(loop.next_action())
    return actions


def respond(loop: AgentLoop, text: str) -> list[Any]:
    loop.start(UserMessage(content="go"))
    assert type(drain(loop)[-1]) is SendRequest
    loop.receive_response(AssistantMessage(content=[TextBlock(text=text)], stop_reason="stop"))
    return drain(loop)


@pytest.mark.parametrize("mode", ["native", "emulated", "auto"])
@pytest.mark.parametrize("tools", [(), (GET_WEATHER,)])
def test_the_loop_reads_reasoning_and_never_runs_calls_written_in_it(mode: str, tools: tuple[LoopTool, ...]) -> None:
    loop = loop_with(tool_mode=mode, tools=tools)
    actions = respond(loop, f"<think>\nMaybe {WEATHER}\n</think>\n\nIt is sunny.")
    assert not [a for a in actions if type(a) is RunTools]
    assert type(actions[-1]) is Done and actions[-1].result.subtype == "success"
    assert actions[-1].result.result == "It is sunny."
    assistant = loop.messages[-1]
    assert isinstance(assistant, AssistantMessage)
    assert assistant.content == (ThinkingBlock(thinking=f"Maybe {WEATHER}"), TextBlock(text="It is sunny."))


@pytest.mark.parametrize("mode", ["emulated", "auto"])
def test_a_call_after_the_reasoning_runs_and_the_reasoning_is_not_sent_back_as_content(mode: str) -> None:
    loop = loop_with(tool_mode=mode, tools=(GET_WEATHER,))
    actions = respond(loop, f"<think>\nI need the weather.\n</think>\n\n{WEATHER}")
    runs = [a for a in actions if type(a) is RunTools]
    assert [(c.name, dict(c.input)) for c in runs[0].calls] == [("get_weather", {"city": "Paris"})]
    assistant = loop.messages[-1]
    assert isinstance(assistant, AssistantMessage)
    assert isinstance(assistant.content[0], ThinkingBlock) and assistant.content[0].thinking == "I need the weather."
    loop.tool_result(ToolResultBlock(tool_use_id=runs[0].calls[0].id, content="sunny"))
    send = [loop.next_action() for _ in range(2)][-1]  # the results (Emit), then the request
    assert type(send) is SendRequest
    payload = request_payload(send.turn, DEFAULT_CONFIG)
    written = [m for m in payload["messages"] if m["role"] == "assistant"]
    assert written and all("think" not in str(m.get("content", "")) for m in written)
    assert all("reasoning_content" not in m for m in written)


def test_without_think_tags_the_loop_keeps_the_text() -> None:
    loop = loop_with(tool_mode="native", think_tags=False)
    assert loop.answer_filter() is None
    actions = respond(loop, "<think>hm</think>Hi")
    assert type(actions[-1]) is Done and actions[-1].result.result == "<think>hm</think>Hi"


def test_the_answer_filter_reads_reasoning_in_a_plain_chat_too() -> None:
    stream = loop_with(tool_mode="native").answer_filter()
    assert stream is not None
    assert stream.feed("<think>hm</think>") == ("hm", "")
    assert stream.feed(WEATHER) == ("", WEATHER)  # native mode: text calls are text


def test_an_interrupted_answer_keeps_its_reasoning_as_reasoning() -> None:
    loop = loop_with(tool_mode="auto", tools=(GET_WEATHER,))
    loop.start(UserMessage(content="go"))
    drain(loop)
    loop.interrupt(AssistantMessage(content=[TextBlock(text=f"<think>first {WEATHER} then")]))
    action = drain(loop)[-1]
    assert type(action) is Done and action.result.subtype == "interrupted"
    kept = loop.messages[-1]
    assert isinstance(kept, AssistantMessage)
    assert kept.content == (ThinkingBlock(thinking=f"first {WEATHER} then"),)
