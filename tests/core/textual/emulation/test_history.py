"""Calls between text and blocks (``_textual/_emulation/_history.py``): ``to_tool_uses`` and
``emulated_history``."""

from __future__ import annotations

import itertools

import attrs
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import (
    AssistantMessage,
    ImageBlock,
    Message,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    ToolUseError,
    Usage,
    UserMessage,
    emulated_history,
    parse_tool_calls,
    to_tool_uses,
)
from anyagent_core._util import WHITESPACE
from tests.core.textual.emulation.helpers import (
    TYPED,
    WEATHER,
    calls_of,
    prose,
    xml_call,
)
from tests.strategies import json_objects, names

# ---- to_tool_uses ----------------------------------------------------------------------------


def test_to_tool_uses_converts_text_calls_and_keeps_the_rest() -> None:
    usage = Usage(prompt_tokens=3, completion_tokens=5)
    message = AssistantMessage(
        content=(
            TextBlock(text="Let me check.\n<tool_call>\n"),
            ThinkingBlock(thinking="The user wants weather."),
            TextBlock(text='{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'),
            TextBlock(text='<tool_call>{"name": "bad", "arguments": {"x": }</tool_call>'),
        ),
        model="qwen2.5",
        id="chatcmpl-1",
        stop_reason="stop",
        usage=usage,
        refusal=None,
    )
    converted = to_tool_uses(message, id_prefix="call_emu_")
    assert attrs.evolve(converted, content=()) == attrs.evolve(message, content=())
    assert converted.content[:3] == (
        ThinkingBlock(thinking="The user wants weather."),
        TextBlock(text="Let me check."),
        ToolUseBlock(id="call_emu_0", name="get_weather", input={"city": "Paris"}),
    )
    error = converted.content[3]
    assert isinstance(error, ToolUseError)
    assert (error.id, error.name, error.arguments) == ("call_emu_1", "bad", '{"x": }')
    assert "not valid JSON" in error.error
    assert len(converted.content) == 4


def test_to_tool_uses_without_remaining_text_has_no_text_block() -> None:
    message = AssistantMessage(content=(TextBlock(text=WEATHER),))
    assert to_tool_uses(message, id_prefix="t").content == (
        ToolUseBlock(id="t0", name="get_weather", input={"city": "Paris"}),
    )


def test_to_tool_uses_returns_the_message_itself_when_there_is_nothing_to_convert() -> None:
    plain = AssistantMessage(content=(TextBlock(text='```json\n{"a": 1}\n```'),))
    assert to_tool_uses(plain, id_prefix="x") is plain
    native = AssistantMessage(content=(TextBlock(text=WEATHER), ToolUseBlock(id="c", name="f")))
    assert to_tool_uses(native, id_prefix="x") is native
    empty = AssistantMessage()
    assert to_tool_uses(empty, id_prefix="x") is empty


def test_to_tool_uses_types_xml_values_with_the_tools() -> None:
    message = AssistantMessage(content=[TextBlock(text=xml_call(i="3", s="x", a="[1"))])
    converted = to_tool_uses(message, id_prefix="t", tools=[TYPED])
    assert converted.content == (ToolUseBlock(id="t0", name="f", input={"i": 3, "s": "x", "a": "[1"}),)


# ---- emulated_history ------------------------------------------------------------------------


def test_history_writes_calls_and_results_as_text() -> None:
    system_free = UserMessage(content="Weather in Paris and Rome?")
    assistant = AssistantMessage(
        content=(
            ThinkingBlock(thinking="two calls"),
            TextBlock(text="Checking."),
            ToolUseBlock(id="a", name="get_weather", input={"city": "Paris"}),
            ToolUseError(id="b", name="get_weather", arguments='{"city": "Ro', error="cut off"),
        ),
        model="m",
        usage=Usage(total_tokens=9),
    )
    image = ImageBlock(url="https://example.com/map.png")
    results = UserMessage(
        content=(
            ToolResultBlock(tool_use_id="a", content="18°C"),
            ToolResultBlock(tool_use_id="b", content="invalid arguments", is_error=True),
        )
    )
    more = UserMessage(
        content=(ToolResultBlock(tool_use_id="c", content=(TextBlock(text="map "), image, TextBlock(text="attached"))),)
    )
    error_already = UserMessage(content=(ToolResultBlock(tool_use_id="d", content="Error: boom", is_error=True),))
    final = AssistantMessage(content=(TextBlock(text="Sunny."),))
    history = emulated_history([system_free, assistant, results, more, error_already, final])
    assert history[0] is system_free
    assert history[-1] is final
    assert history[1] == AssistantMessage(
        content=(
            ThinkingBlock(thinking="two calls"),
            TextBlock(
                text='Checking.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
                '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Ro}\n</tool_call>'
            ),
        ),
        model="m",
        usage=Usage(total_tokens=9),
    )
    assert history[2] == UserMessage(
        content=(
            TextBlock(
                text="<tool_response>\n18°C\n</tool_response>\n"
                "<tool_response>\nError: invalid arguments\n</tool_response>\n"
                "<tool_response>\nmap attached\n</tool_response>"
            ),
            image,
            TextBlock(text="<tool_response>\nError: boom\n</tool_response>"),
        )
    )
    assert len(history) == 4


def test_history_keeps_user_text_next_to_results_and_passes_plain_messages_through() -> None:
    plain: list[Message] = [UserMessage(content="hi"), AssistantMessage(content=(TextBlock(text="hello"),))]
    history = emulated_history(plain)
    assert history == plain
    assert all(a is b for a, b in zip(history, plain, strict=True))
    mixed = UserMessage(content=(ToolResultBlock(tool_use_id="a", content="1"), TextBlock(text="and now?")))
    assert emulated_history([mixed]) == [
        UserMessage(content=(TextBlock(text="<tool_response>\n1\n</tool_response>"), TextBlock(text="and now?")))
    ]


@st.composite
def conversations(draw: st.DrawFn) -> list[Message]:
    """What a run leaves: prompts, answers with or without calls, results, runs cut short."""
    history: list[Message] = []
    for index in range(draw(st.integers(1, 8))):
        if not history or isinstance(history[-1], AssistantMessage) or draw(st.booleans()):
            history.append(UserMessage(content=draw(st.sampled_from(["go on", "and now?"]))))
        uses = draw(st.lists(tool_uses, max_size=2))
        text = draw(st.sampled_from(["", "Checking."]))
        history.append(AssistantMessage(content=(TextBlock(text=text), *uses) if text or not uses else tuple(uses)))
        if uses:
            blocks = [ToolResultBlock(tool_use_id=f"{index}", content="ok") for _ in uses]
            cut = draw(st.integers(1, len(blocks)))  # results may arrive in several messages
            history.append(UserMessage(content=tuple(blocks[:cut])))
            if blocks[cut:]:
                history.append(UserMessage(content=tuple(blocks[cut:])))
    return history


@given(history=conversations())
def test_emulated_history_alternates_roles_and_holds_no_tool_blocks(history: list[Message]) -> None:
    # Strict chat templates (Gemma, Mistral) reject two user messages in a row.
    rewritten = emulated_history(history)
    roles = [type(message) for message in rewritten]
    assert all(a is not b for a, b in itertools.pairwise(roles)), roles
    for message in rewritten:
        blocks = () if isinstance(message.content, str) else message.content
        assert not any(isinstance(b, ToolUseBlock | ToolUseError | ToolResultBlock) for b in blocks)


def test_a_prompt_after_tool_results_joins_their_message() -> None:
    results = UserMessage(content=(ToolResultBlock(tool_use_id="a", content="1"),))
    asked = AssistantMessage(content=(ToolUseBlock(id="a", name="f"),))
    history = emulated_history([UserMessage(content="go"), asked, results, UserMessage(content="and now?")])
    assert history[2:] == [
        UserMessage(content=(TextBlock(text="<tool_response>\n1\n</tool_response>"), TextBlock(text="and now?")))
    ]


def test_history_escapes_tags_inside_arguments_so_they_read_back() -> None:
    tricky = {"html": "</tool_call> then <tool_call>", "n": 1}
    message = AssistantMessage(content=(ToolUseBlock(id="a", name="f", input=tricky),))
    (written,) = emulated_history([message])
    assert isinstance(written, AssistantMessage)
    assert written.text.count("</tool_call>") == 1
    assert calls_of(written.text) == [("f", tricky, None)]


tool_uses = st.builds(
    lambda name, args, raw, usable: (
        ToolUseBlock(id="i", name=name, input=args)
        if usable
        else ToolUseError(id="i", name=name, arguments=raw, error="e")
    ),
    names,
    json_objects | st.builds(lambda s: {"s": s}, st.sampled_from(["<tool_call>", "</tool_call>", "<\\/", "```"])),
    st.sampled_from(['{"city": "Pa', "[1, 2]", "not json", '"x"']),
    st.booleans(),
)


@given(text=st.just("") | prose, uses=st.lists(tool_uses, min_size=1, max_size=3))
def test_history_text_parses_back_to_the_same_calls(text: str, uses: list[ToolUseBlock | ToolUseError]) -> None:
    message = AssistantMessage(content=(TextBlock(text=text), *uses) if text else tuple(uses))
    (written,) = emulated_history([message])
    assert isinstance(written, AssistantMessage)
    parsed = parse_tool_calls(written.text)
    assert parsed.text == text.strip(WHITESPACE)
    assert [(c.name, c.input) for c in parsed.calls] == [
        (u.name, u.input if isinstance(u, ToolUseBlock) else None) for u in uses
    ]
    back = to_tool_uses(written, id_prefix="i")
    assert [type(u) for u in back.tool_uses] == [type(u) for u in uses]
