"""Tool-call emulation: the prompt, every accepted form and quirk, the streaming filter, history."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from anyagent_core import (
    AssistantMessage,
    ImageBlock,
    LocalProtocolError,
    Message,
    ParsedCalls,
    TextBlock,
    TextCall,
    ThinkingBlock,
    ToolCallTextFilter,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    ToolUseError,
    Usage,
    UserMessage,
    emulated_history,
    parse_tool_calls,
    render_tool_prompt,
    thaw_json,
    to_tool_uses,
)
from anyagent_core._util import WHITESPACE
from tests.strategies import json_objects, names

WEATHER = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


def calls_of(text: str) -> list[tuple[str, Any, str | None]]:
    return [(c.name, None if c.input is None else thaw_json(c.input), c.error) for c in parse_tool_calls(text).calls]


def split(text: str, points: Sequence[int]) -> list[str]:
    cuts = sorted({p for p in points if 0 < p < len(text)})
    return [text[a:b] for a, b in itertools.pairwise([0, *cuts, len(text)])]


def filtered(pieces: Sequence[str]) -> tuple[list[str], str]:
    """Every ``feed`` result in order, and the final ``finish`` result."""
    stream = ToolCallTextFilter()
    return [stream.feed(piece) for piece in pieces], stream.finish()


def shown(pieces: Sequence[str]) -> str:
    fed, rest = filtered(pieces)
    return "".join(fed) + rest


# ---- render_tool_prompt ------------------------------------------------------------------------


def test_prompt_lists_each_tool_as_one_json_line_inside_tools_tags() -> None:
    tools = [
        ToolSpec(
            name="get_weather",
            description="Météo d'une ville",
            parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        ),
        ToolSpec(name="now"),
    ]
    prompt = render_tool_prompt(tools)
    assert prompt.startswith("# Tools\n")
    inside = prompt.split("<tools>\n")[1].split("</tools>")[0]
    lines = inside.splitlines()
    assert [json.loads(line) for line in lines] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Météo d'une ville",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        },
        {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}},
    ]
    assert "Météo" in lines[0]  # ensure_ascii=False
    assert '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>' in prompt
    assert "without these tags" in prompt
    assert render_tool_prompt(tools) == prompt
    assert len(prompt) < 1200


def test_prompt_for_no_tools_is_empty() -> None:
    assert render_tool_prompt([]) == ""


# ---- parse_tool_calls: the <tool_call> form ------------------------------------------------------


def test_hermes_block_with_prose_around() -> None:
    parsed = parse_tool_calls(f"Let me check.\n{WEATHER}\nOne moment.")
    assert parsed == ParsedCalls(
        text="Let me check.\nOne moment.",
        calls=(TextCall(name="get_weather", arguments='{"city":"Paris"}', input={"city": "Paris"}),),
    )


def test_several_blocks_in_order_and_blank_lines_tidied() -> None:
    text = (
        "I'll look both up.\n\n"
        '<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n'
        '<tool_call>{"name":"b","arguments":{}}</tool_call>\n\n\n'
        "Done."
    )
    parsed = parse_tool_calls(text)
    assert [(c.name, c.input) for c in parsed.calls] == [("a", {"x": 1}), ("b", {})]
    assert parsed.text == "I'll look both up.\n\nDone."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{WEATHER}", ""),
        (f"\n\n{WEATHER}\n\nAnswer.\n", "Answer."),
        (f"Before.{WEATHER}After.", "Before.After."),
        (f"Before. {WEATHER}After.", "Before. After."),
        (f"Before.\t{WEATHER}  After.", "Before. After."),
        (f"Before.\n{WEATHER} After.", "Before.\nAfter."),
        (f"Before.  \n{WEATHER}\n\n\n\nAfter.", "Before.\n\nAfter."),
        (f"Before.\n{WEATHER}\n{WEATHER}\nAfter.", "Before.\nAfter."),
        # Whitespace that is not next to a removed call is kept as written.
        ("Para one.\n\n\n\nPara two.  \n", "Para one.\n\n\n\nPara two."),
    ],
)
def test_whitespace_around_removed_calls(text: str, expected: str) -> None:
    assert parse_tool_calls(text).text == expected


def test_parameters_is_an_alias_of_arguments() -> None:
    text = '<tool_call>\n{"name": "search", "parameters": {"q": "attrs"}}\n</tool_call>'
    assert calls_of(text) == [("search", {"q": "attrs"}, None)]


def test_double_encoded_arguments_keep_the_raw_string() -> None:
    text = '<tool_call>{"name": "search", "arguments": "{\\"q\\": \\"attrs\\"}"}</tool_call>'
    (call,) = parse_tool_calls(text).calls
    assert call == TextCall(name="search", arguments='{"q": "attrs"}', input={"q": "attrs"})


def test_missing_or_empty_arguments_mean_no_arguments() -> None:
    assert calls_of('<tool_call>{"name": "now"}</tool_call>') == [("now", {}, None)]
    assert calls_of('<tool_call>{"name": "now", "arguments": ""}</tool_call>') == [("now", {}, None)]


def test_unclosed_final_block_with_complete_json_is_a_call() -> None:
    parsed = parse_tool_calls('Checking.\n<tool_call>\n{"name": "f", "arguments": {"a": [1, 2]}}\n')
    assert parsed.text == "Checking."
    assert [(c.name, c.input, c.error) for c in parsed.calls] == [("f", {"a": (1, 2)}, None)]


def test_unclosed_final_block_with_incomplete_json_is_a_call_with_an_error() -> None:
    parsed = parse_tool_calls('Checking.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Pa')
    assert parsed.text == "Checking."
    (call,) = parsed.calls
    assert call.name == "get_weather"
    assert call.input is None
    assert call.error is not None
    assert "incomplete" in call.error
    assert call.arguments == '{"city": "Pa'


def test_an_opening_tag_ends_an_unclosed_block() -> None:
    text = '<tool_call>{"name": "a", "arguments": {}}\n<tool_call>{"name": "b", "arguments": {}}</tool_call>'
    assert calls_of(text) == [("a", {}, None), ("b", {}, None)]


@pytest.mark.parametrize(
    ("block", "name", "arguments", "error"),
    [
        ('{"name": "f", "arguments": {"a": 1,}}', "f", '{"a": 1,}', "not valid JSON"),
        ('{"arguments": {"a": 1}}', "", '{"a":1}', "no name"),
        ('{"name": "", "arguments": {}}', "", "{}", "no name"),
        ('{"name": 3, "arguments": {}}', "", "{}", "no name"),
        ('{"name": "f", "arguments": [1, 2]}', "f", "[1,2]", "an array"),
        ('{"name": "f", "arguments": null}', "f", "null", "null"),
        ('{"name": "f", "arguments": "not json"}', "f", "not json", "does not hold a JSON object"),
        ('{"name": "f", "arguments": "[1]"}', "f", "[1]", "does not hold a JSON object"),
        ('["f", {}]', "", '["f",{}]', "must be a JSON object"),
        ('{"name": "f", "arguments": {"x": NaN}}', "f", '{"x": NaN}', "not valid JSON"),
        ("", "", "", "empty"),
        ("   \n ", "", "", "empty"),
        ("get_weather(city='Paris')", "", "get_weather(city='Paris')", "not valid JSON"),
    ],
)
def test_unusable_calls_are_reported_not_dropped(block: str, name: str, arguments: str, error: str) -> None:
    parsed = parse_tool_calls(f"Hi.\n<tool_call>\n{block}\n</tool_call>")
    assert parsed.text == "Hi."
    (call,) = parsed.calls
    assert (call.name, call.arguments, call.input) == (name, arguments, None)
    assert call.error is not None
    assert error in call.error


def test_runaway_nesting_is_an_error_not_an_exception() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    (call,) = parse_tool_calls(f'<tool_call>{{"name": "f", "arguments": {deep}}}</tool_call>').calls
    assert call.input is None
    assert call.error is not None
    (call,) = parse_tool_calls(f"<tool_call>{deep}</tool_call>").calls
    assert call.error is not None
    assert parse_tool_calls(f"```json\n{deep}\n```").calls == ()


def test_stray_closing_tag_and_lookalike_tags_are_text() -> None:
    text = "a </tool_call> b <tool_calls> c <tool_cal d <Tool_Call>"
    assert parse_tool_calls(text) == ParsedCalls(text=text)


def test_unicode_in_names_arguments_and_prose() -> None:
    text = 'Voilà — 天气:\n<tool_call>\n{"name": "météo", "arguments": {"ville": "Zürich 🌧"}}\n</tool_call>\nMerci 🙏'
    parsed = parse_tool_calls(text)
    assert parsed.text == "Voilà — 天气:\nMerci 🙏"
    assert parsed.calls == (TextCall(name="météo", arguments='{"ville":"Zürich 🌧"}', input={"ville": "Zürich 🌧"}),)


# ---- parse_tool_calls: fenced blocks ---------------------------------------------------------


@pytest.mark.parametrize("info", ["json", "", "tool_call", "JSON", " json "])
def test_fenced_call(info: str) -> None:
    text = f'Calling it.\n```{info}\n{{\n  "name": "get_weather",\n  "arguments": {{"city": "Paris"}}\n}}\n```\nThere.'
    parsed = parse_tool_calls(text)
    assert parsed.text == "Calling it.\nThere."
    assert parsed.calls == (TextCall(name="get_weather", arguments='{"city":"Paris"}', input={"city": "Paris"}),)


def test_fenced_call_with_parameters_and_longer_fence() -> None:
    text = '````json\n{"name": "f", "parameters": {"a": "```"}}\n`````'
    call = TextCall(name="f", arguments='{"a":"```"}', input={"a": "```"})
    assert parse_tool_calls(text) == ParsedCalls(text="", calls=(call,))
    # A shorter run of backticks does not close a fence.
    sample = f"````md\n```\n{WEATHER}\n```\n````"
    assert parse_tool_calls(sample) == ParsedCalls(text=sample)


def test_fenced_list_is_several_calls() -> None:
    text = '```json\n[{"name": "a", "arguments": {"x": 1}}, {"name": "b", "parameters": {}}]\n```'
    assert calls_of(text) == [("a", {"x": 1}, None), ("b", {}, None)]


@pytest.mark.parametrize(
    "content",
    [
        '{"name": "Alice", "age": 3}',
        '{"name": "f", "arguments": {}, "id": "x"}',
        '{"name": "f", "description": "d", "parameters": {"type": "object"}}',
        '{"name": "f", "arguments": "{}"}',
        '{"name": "", "arguments": {}}',
        '{"name": "f", "arguments": [1]}',
        '{"arguments": {}, "parameters": {}}',
        '[{"name": "a", "arguments": {}}, {"name": "b"}]',
        "[]",
        '{"name": "f", "arguments": {}',
        "42",
    ],
)
def test_fenced_json_that_is_not_exactly_call_shaped_stays_text(content: str) -> None:
    text = f"Here is an example:\n\n```json\n{content}\n```\n\nThat's it."
    assert parse_tool_calls(text) == ParsedCalls(text=text)


def test_code_fences_are_opaque() -> None:
    text = f'Use this format:\n```xml\n{WEATHER}\n```\nor in Python:\n```python\nprint("<tool_call>")\n```'
    assert parse_tool_calls(text) == ParsedCalls(text=text)


def test_backticks_not_at_a_line_start_open_no_fence() -> None:
    text = 'Inline ```json {"name": "f", "arguments": {}} ``` here'
    assert parse_tool_calls(text) == ParsedCalls(text=text)
    # Indentation before the fence is allowed; an info string with backticks is no fence.
    assert calls_of('  ```json\n{"name": "f", "arguments": {}}\n  ```') == [("f", {}, None)]
    no_fence = f"```a`b {WEATHER}"
    assert parse_tool_calls(no_fence).text == "```a`b"
    assert calls_of(no_fence)[0][0] == "get_weather"


def test_unclosed_fence_at_the_end() -> None:
    assert calls_of('Now:\n```json\n{"name": "f", "arguments": {"a": 1}}\n') == [("f", {"a": 1}, None)]
    sample = 'Now:\n```json\n{"name": "f", "arguments": {"a": 1}'
    assert parse_tool_calls(sample) == ParsedCalls(text=sample)
    assert parse_tool_calls("```json") == ParsedCalls(text="```json")


def test_bare_json_outside_a_fence_is_text() -> None:
    text = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    assert parse_tool_calls(text) == ParsedCalls(text=text)


# ---- ToolCallTextFilter ----------------------------------------------------------------------


def test_filter_releases_prose_at_once_and_holds_a_call() -> None:
    stream = ToolCallTextFilter()
    assert stream.feed("Let me check") == "Let me check"
    assert stream.feed(" the weather.\n<too") == " the weather."
    assert stream.feed('l_call>\n{"name": "get_weather", ') == ""
    assert stream.feed('"arguments": {}}\n</tool_call>') == ""
    assert stream.feed("\n\nIt is sunny.") == "\n\nIt is sunny."
    assert stream.finish() == ""


def test_filter_holds_partial_markers_and_whitespace_then_releases_them() -> None:
    stream = ToolCallTextFilter()
    assert stream.feed("a <") == "a"
    assert stream.feed("b") == " <b"
    assert stream.feed("\n``") == ""
    assert stream.feed("x") == "\n``x"
    assert stream.feed("<tool_cal") == ""
    assert stream.finish() == "<tool_cal"


def test_filter_releases_a_code_sample_when_it_closes() -> None:
    stream = ToolCallTextFilter()
    assert stream.feed("Example:\n```json\n") == "Example:"
    assert stream.feed('{"a": 1}\n') == ""
    assert stream.feed("```\nok") == '\n```json\n{"a": 1}\n```\nok'
    assert stream.finish() == ""


def test_filter_streams_a_fence_that_cannot_be_a_call() -> None:
    stream = ToolCallTextFilter()
    assert stream.feed("```python\nx = 1\n") == "```python\nx = 1"
    assert stream.feed("<tool_call>\n```\n") == "\n<tool_call>\n```"
    assert stream.feed("<tool_call>{}") == ""
    assert stream.finish() == ""


TRICKY = [
    '```json\n{"name": "f", "arguments": {}}\n````\nok',
    '```json\n{"name": "f", "arguments": {}}\n  ```',
    "```python\nx\n```` <tool_call>{}</tool_call> y",
    'a\n  ```tool_call\n[{"name": "f", "arguments": {}}]\n```b',
    f"x <tool_cal <tool_call>{WEATHER}</tool_call> </tool_cal",
    "```a`b\n```json\n{}\n```",
    "\n \t``` \n```\n\n<tool_call>",
]


@pytest.mark.parametrize("text", TRICKY)
def test_every_two_piece_split_gives_the_parsed_text(text: str) -> None:
    expected = parse_tool_calls(text).text
    for cut in range(1, len(text)):
        assert shown([text[:cut], text[cut:]]) == expected, cut
    assert shown(list(text)) == expected


def test_a_closing_fence_split_before_more_backticks_waits_for_them() -> None:
    stream = ToolCallTextFilter()
    assert stream.feed('```json\n{"name": "f", "arguments": {}}\n```') == ""
    assert stream.feed("`\nok") == "ok"
    assert stream.finish() == ""


def test_filter_after_finish() -> None:
    stream = ToolCallTextFilter()
    assert stream.feed("x <") == "x"
    assert stream.finish() == " <"
    assert stream.finish() == ""
    with pytest.raises(LocalProtocolError):
        stream.feed("y")


def test_filter_is_linear_on_a_long_held_block_fed_one_character_at_a_time() -> None:
    # A rescanning filter would copy the held block on every feed: ~10^10 character copies here.
    text = '<tool_call>{"name": "f", "arguments": {"s": "' + "x" * 200_000 + '"}}</tool_call>done'
    assert shown(list(text)) == "done"
    fence = '```json\n{"name": "f", "arguments": {"s": "' + "x\\n" * 100_000 + '"}}\n```\ndone'
    assert shown(list(fence)) == "done"


def test_parsing_a_long_text_with_many_blocks_in_one_piece_is_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each block used to copy the rest of the piece: ~10^12 character copies for 4 MB, minutes of
    # work. Counted, not timed: the characters handed to the scanner's states (each copies or
    # searches what it is handed) grow with the text's length, not with its square.
    handed = [0]
    for name in ("_prose", "_tag", "_fence_info", "_fence_body"):
        step = getattr(ToolCallTextFilter, name)

        def counted(self: ToolCallTextFilter, piece: str, step: Callable[[ToolCallTextFilter, str], str] = step) -> str:
            handed[0] += len(piece)
            return step(self, piece)

        monkeypatch.setattr(ToolCallTextFilter, name, counted)
    unit = "```\n```\n" * 20 + "```python\nx\n```\n" * 10 + f"<tool_call>\n{WEATHER}\n" * 2
    work = []
    for units in (2_500, 5_000):  # 1.3 and 2.5 MB
        handed[0] = 0
        parsed = parse_tool_calls(unit * units)
        work.append(handed[0])
        assert len(parsed.calls) == 4 * units  # an unclosed block ends at the next one
        assert parsed.text.count("```python") == 10 * units
    assert work[1] <= 2.05 * work[0]  # twice the text, twice the work (quadratic work would be 4x)


# ---- generated texts -------------------------------------------------------------------------

_prose_chars = st.characters(exclude_categories=["Cs"], exclude_characters="<`")
prose = st.one_of(
    st.text(_prose_chars, min_size=1, max_size=30),
    st.sampled_from(["a < b", "use `x`", "1 <= 2", '{"name": "f"}', "é 🌍", "x\n\n\ny", "  \t "]),
)


# A value ending in "\r" is the one a writer cannot round-trip: with the layout line break after
# it, it reads as a value ending in a "\r\n" line break.
xml_values = st.text(st.characters(exclude_categories=["Cs"]), max_size=20).filter(
    lambda value: (
        not value.endswith("\r") and not any(tag in value for tag in ("</parameter>", "<tool_call>", "</tool_call>"))
    )
) | st.sampled_from(["", "\n", "line one\nline two", "  indented\n\n", "<b>bold</b>", '{"a": 1}', "42"])


@attrs.frozen
class Written:
    """A call as a model might write it, and what parsing must find."""

    text: str
    calls: list[tuple[str, Any, str]]  # name, input, arguments text
    fence: bool  # must stand on its own lines


@st.composite
def written_calls(draw: st.DrawFn, *, final: bool = False) -> Written:
    def one() -> tuple[str, dict[str, Any]]:
        return draw(names), draw(json_objects)

    compact = ",", ":"
    form = draw(
        st.sampled_from(
            ["hermes", "parameters", "double", "fence", "fence_list", "xml"] + (["open", "xml_open"] if final else [])
        )
    )
    if form in ("xml", "xml_open"):
        name = draw(names)
        values = draw(st.dictionaries(names, xml_values, max_size=3))
        gap = draw(st.sampled_from(["\n", "", "  \n"]))
        body = "".join(f"<parameter={key}>\n{value}\n</parameter>{gap}" for key, value in values.items())
        close = "" if form == "xml_open" else f"{gap}</tool_call>"
        text = f"<tool_call>\n<function={name}>{gap}{body}</function>{close}"
        return Written(text, [(name, values, json.dumps(values, separators=(",", ":"), ensure_ascii=False))], False)
    ascii_ = draw(st.booleans())
    indent = draw(st.sampled_from([None, 2]))
    name, args = one()
    if form in ("hermes", "parameters", "open"):
        key = "parameters" if form == "parameters" else "arguments"
        body = json.dumps({"name": name, key: args}, ensure_ascii=ascii_, indent=indent)
        space = draw(st.sampled_from(["", "\n", " \n  "]))
        close = "" if form == "open" else space + "</tool_call>"
        return Written(
            f"<tool_call>{space}{body}{close}",
            [(name, args, json.dumps(args, separators=compact, ensure_ascii=False))],
            False,
        )
    if form == "double":
        raw = json.dumps(args, ensure_ascii=ascii_)
        body = json.dumps({"name": name, "arguments": raw}, ensure_ascii=ascii_, indent=indent)
        return Written(f"<tool_call>\n{body}\n</tool_call>", [(name, args, raw)], False)
    info = draw(st.sampled_from(["json", "", "tool_call"]))
    items = [(name, args)] if form == "fence" else [(name, args), *[one() for _ in range(draw(st.integers(0, 2)))]]
    value: Any = [{"name": n, "arguments": a} for n, a in items]
    if form == "fence":
        value = value[0]
    body = json.dumps(value, ensure_ascii=ascii_, indent=indent)
    expected = [(n, a, json.dumps(a, separators=compact, ensure_ascii=False)) for n, a in items]
    return Written(f"```{info}\n{body}\n```", expected, True)


@st.composite
def samples(draw: st.DrawFn) -> str:
    """A fenced block that is not a call."""
    kind = draw(st.sampled_from(["code", "json", "almost"]))
    if kind == "code":
        lang = draw(st.sampled_from(["python", "xml", "text"]))
        code = draw(st.lists(prose | st.just(WEATHER) | st.just("<tool_call>"), max_size=3))
        return f"```{lang}\n" + "\n".join(code) + "\n```"
    if kind == "json":
        obj = draw(json_objects)
        assume(set(obj) not in ({"name", "arguments"}, {"name", "parameters"}))
        return "```json\n" + json.dumps(obj, indent=draw(st.sampled_from([None, 2]))) + "\n```"
    name, args = draw(names), draw(json_objects)
    return "```\n" + json.dumps({"name": name, "arguments": args, "id": "call_1"}) + "\n```"


inline_gaps = st.sampled_from(["", " ", "\n", "\n\n", " \n", "\n\n\n"])
line_gaps = st.sampled_from(["\n", "\n\n", " \n", "\n \n\n"])


def join(pieces: Sequence[tuple[str, bool]], draw: Callable[[st.SearchStrategy[str]], str]) -> str:
    """Pieces joined by drawn whitespace; fenced pieces always on their own lines."""
    out = ""
    for index, (piece, fenced) in enumerate(pieces):
        if index:
            near_fence = fenced or pieces[index - 1][1]
            out += draw(line_gaps if near_fence else inline_gaps)
        out += piece
    return out


@st.composite
def answers(draw: st.DrawFn) -> tuple[str, list[tuple[str, Any, str]], str]:
    """Prose mixed with calls and code samples: the text, its calls and its visible characters."""
    pieces: list[tuple[str, bool]] = []
    calls: list[tuple[str, Any, str]] = []
    visible = ""
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["prose", "call", "sample"]))
        if kind == "prose":
            piece = draw(prose)
            pieces.append((piece, False))
            visible += piece
        elif kind == "call":
            written = draw(written_calls())
            pieces.append((written.text, written.fence))
            calls.extend(written.calls)
        else:
            piece = draw(samples())
            pieces.append((piece, True))
            visible += piece
    if draw(st.booleans()):
        written = draw(written_calls(final=True))
        pieces.append((written.text, written.fence))
        calls.extend(written.calls)
    text = join(pieces, draw)
    return text, calls, "".join(visible.split())


_markers = st.sampled_from(
    ["<tool_call>", "</tool_call>", "<tool", "_call>", "```", "```json", "````", "`", "``", "<", "\n", " ", "\t",
     "{", "}", "[", "]", ",", ":", '"name"', '"arguments"', '"parameters"', '"f"', "{}", '"{}"', "x", "é", "\n```\n"]
)  # fmt: skip
adversarial = st.lists(_markers | st.text(max_size=5), max_size=40).map("".join)


@given(text=st.text() | adversarial)
def test_parsing_never_raises_and_each_call_has_input_or_error(text: str) -> None:
    parsed = parse_tool_calls(text)
    for call in parsed.calls:
        assert (call.input is None) != (call.error is None)
    assert parsed.text == parsed.text.strip(WHITESPACE)


@given(text=st.text())
def test_text_without_markers_is_only_stripped(text: str) -> None:
    assume("<tool_call>" not in text and "```" not in text)
    assert parse_tool_calls(text) == ParsedCalls(text=text.strip(WHITESPACE))


@given(text=adversarial | st.builds(lambda a: a[0], answers()), data=st.data())
def test_filter_output_is_the_parsed_text_however_it_is_split(text: str, data: st.DataObject) -> None:
    expected = parse_tool_calls(text).text
    points = data.draw(st.lists(st.integers(1, max(1, len(text) - 1)), max_size=12), label="cuts")
    fed, rest = filtered(split(text, points))
    assert "".join(fed) + rest == expected
    assert shown(list(text)) == expected
    assert shown([text]) == expected


_nasty = st.sampled_from(
    ["<tool_call>", "</tool_call>", "<tool_", "<tool_call", "tool_call>", "</", "<", "```", "```json", "```JSON ",
     "```tool_call\n", "```python\n", "````", "`", "``", "\n  ```", "\n```\n", "\n", "\r\n", "\r", " ", "\t",
     "{", "}", "[", "]", ",", ":", '"', "\\", '"name"', '"arguments"', '"parameters"', '"f"', "{}", '"{}"',
     '{"name": "f", "arguments": {}}', '{"name": "f", "arguments": {"s": "</tool_call>"}}',
     '{"name": "f", "arguments": "{\\"a\\": 1}"}', "<think>", "</think>", "x", "é", "🌍",
     "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1e", "\u3000",
     "<function=f>", "<function=", "</function>", "<parameter=a>", "<parameter=", "</parameter>",
     "\n<parameter=b>\n1\n</parameter>\n"]
)  # fmt: skip
nasty = st.lists(_nasty | st.text(max_size=3), max_size=40).map("".join)


@given(text=nasty | adversarial, data=st.data())
def test_filter_output_and_calls_do_not_depend_on_the_split(text: str, data: st.DataObject) -> None:
    # parse_tool_calls scans a long text in slices: its calls must not depend on where they fall.
    whole = ToolCallTextFilter()
    expected = whole.feed(text) + whole.finish(), whole._calls
    points = data.draw(st.lists(st.integers(1, max(1, len(text) - 1)), max_size=len(text)), label="cuts")
    for pieces in (split(text, points), list(text)):
        stream = ToolCallTextFilter()
        out = "".join(stream.feed(piece) for piece in pieces) + stream.finish()
        assert (out, stream._calls) == expected


@given(lead=st.lists(st.sampled_from(WHITESPACE), max_size=6).map("".join), text=nasty | adversarial)
def test_leading_whitespace_never_changes_the_calls(lead: str, text: str) -> None:
    # What is stripped from the ends of a text (after </think>, say) is what may stand before a
    # fence on its line: trimming a text never turns a block into a call or a call into text.
    assert parse_tool_calls(lead + text).calls == parse_tool_calls(text).calls
    assert parse_tool_calls(lead + text).text == parse_tool_calls(text).text


@given(answer=answers())
def test_calls_embedded_in_prose_round_trip(answer: tuple[str, list[tuple[str, Any, str]], str]) -> None:
    text, calls, visible = answer
    parsed = parse_tool_calls(text)
    assert [(c.name, None if c.input is None else thaw_json(c.input), c.arguments) for c in parsed.calls] == calls
    # Tidying changes whitespace only: the prose and the code samples are all there, in order.
    assert "".join(parsed.text.split()) == visible


@given(
    pieces=st.lists(st.tuples(prose, st.just(False)) | st.tuples(samples(), st.just(True)), max_size=6), data=st.data()
)
def test_text_without_calls_is_shown_whole(pieces: list[tuple[str, bool]], data: st.DataObject) -> None:
    text = join(pieces, data.draw)
    assert parse_tool_calls(text) == ParsedCalls(text=text.strip(WHITESPACE))


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


# ---- Qwen3-Coder's XML form --------------------------------------------------------------------

XML_WEATHER = (
    "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n"
    "<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>"
)
TYPED = ToolSpec(
    name="f",
    parameters={
        "type": "object",
        "properties": {
            "s": {"type": "string"},
            "i": {"type": "integer"},
            "n": {"type": "number"},
            "b": {"type": "boolean"},
            "o": {"type": "object"},
            "a": {"type": "array", "items": {"type": "integer"}},
            "maybe": {"type": ["integer", "null"]},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "any": {},
        },
    },
)


def xml_call(**values: str) -> str:
    body = "".join(f"<parameter={key}>\n{value}\n</parameter>\n" for key, value in values.items())
    return f"<tool_call>\n<function=f>\n{body}</function>\n</tool_call>"


def test_xml_call_with_prose_around() -> None:
    parsed = parse_tool_calls(f"Let me check.\n{XML_WEATHER}\nDone.")
    assert parsed.text == "Let me check.\nDone."
    assert calls_of(XML_WEATHER) == [("get_weather", {"city": "Paris", "days": "3"}, None)]
    assert parsed.calls[0].arguments == '{"city":"Paris","days":"3"}'


def test_xml_values_are_raw_text_over_several_lines() -> None:
    code = "def f():\n    return '<b>' + \"{}\"\n\n"
    text = (
        "<tool_call><function=write>  <parameter=path>a.py</parameter>"
        f"<parameter=content>\n{code}\n</parameter></function></tool_call>"
    )
    assert calls_of(text) == [("write", {"path": "a.py", "content": code}, None)]
    crlf = "<tool_call>\r\n<function=w>\r\n<parameter=x>\r\nl1\r\nl2\r\n</parameter>\r\n</function>\r\n</tool_call>"
    assert calls_of(crlf) == [("w", {"x": "l1\r\nl2"}, None)]
    assert calls_of("<tool_call>\n<function=now>\n</function>\n</tool_call>") == [("now", {}, None)]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"s": "42", "i": "42", "n": "2.5", "b": "true"}, {"s": "42", "i": 42, "n": 2.5, "b": True}),
        ({"o": '{"k": [1, 2]}', "a": "[1, 2]"}, {"o": {"k": [1, 2]}, "a": [1, 2]}),
        ({"maybe": "null", "either": "7", "any": "[1]"}, {"maybe": None, "either": "7", "any": "[1]"}),
        ({"i": " 7 ", "n": "3"}, {"i": 7, "n": 3}),
        # what does not parse as an allowed type stays the text, for the tool's validation to report
        ({"i": "seven", "b": "True", "a": "{}", "i2": "1"}, {"i": "seven", "b": "True", "a": "{}", "i2": "1"}),
        ({"i": "2.0", "n": "NaN", "o": "[]"}, {"i": "2.0", "n": "NaN", "o": "[]"}),
    ],
)
def test_xml_values_take_the_type_the_tool_schema_gives(values: dict[str, str], expected: dict[str, Any]) -> None:
    [call] = parse_tool_calls(xml_call(**values), tools=[TYPED]).calls
    assert call.input is not None and thaw_json(call.input) == expected
    assert json.loads(call.arguments) == expected


def test_xml_values_stay_strings_without_the_tool() -> None:
    assert calls_of(xml_call(i="42", b="true")) == [("f", {"i": "42", "b": "true"}, None)]
    other = ToolSpec(name="g", parameters={"type": "object", "properties": {"i": {"type": "integer"}}})
    [call] = parse_tool_calls(xml_call(i="42"), tools=[other]).calls
    assert call.input == {"i": "42"}


@pytest.mark.parametrize(
    ("block", "name", "error"),
    [
        ("<tool_call><function=f><parameter=a>1</function></tool_call>", "f",
         "the parameter 'a' is not closed with </parameter>"),
        ("<tool_call><function=f><parameter=a>1</parameter><parameter=a>2</parameter></function></tool_call>", "f",
         "the parameter 'a' is given twice"),
        ("<tool_call><function=f>a=1</function></tool_call>", "f",
         "unexpected text 'a=1</function>' where <parameter=...> or </function> was expected"),
        ("<tool_call><function=f><parameter=a>1</parameter></tool_call>", "f", "the tool call has no </function>"),
        ("<tool_call><function=f><parameter=a>1</parameter></function>and more</tool_call>", "f",
         "unexpected text 'and more' after </function>"),
        ("<tool_call><function=><parameter=a>1</parameter></function></tool_call>", "",
         "the tool call has no name (<function=>)"),
        ("<tool_call><function=f><parameter=>1</parameter></function></tool_call>", "f",
         "a parameter has no name (<parameter=>)"),
        ("<tool_call><function=f\n<parameter=a>1</parameter></function></tool_call>", "",
         "the tool call's <function=...> tag is not closed with '>'"),
        ("<tool_call><function=f><parameter=a>1", "f", "the parameter 'a' was cut off before </parameter>"),
        ("<tool_call><function=f><parameter=a>1</parameter>", "f", "the tool call was cut off before </function>"),
    ],
)  # fmt: skip
def test_malformed_xml_calls_are_reported_not_dropped(block: str, name: str, error: str) -> None:
    parsed = parse_tool_calls(f"Before. {block}")
    assert parsed.text == "Before."
    [call] = parsed.calls
    assert (call.name, call.error, call.input) == (name, error, None)
    assert call.arguments == block.removeprefix("<tool_call>").removesuffix("</tool_call>").strip()


def test_an_unclosed_block_with_a_whole_xml_call_is_a_call() -> None:
    text = "<tool_call>\n<function=f>\n<parameter=i>\n5\n</parameter>\n</function>"
    [call] = parse_tool_calls(text, tools=[TYPED]).calls
    assert (call.input, call.error) == ({"i": 5}, None)


def test_xml_in_a_code_sample_is_text() -> None:
    text = f"The format:\n```xml\n{XML_WEATHER}\n```"
    assert parse_tool_calls(text) == ParsedCalls(text=text)


def test_filter_holds_an_xml_call_while_it_streams() -> None:
    stream = ToolCallTextFilter()
    assert stream.feed("Checking.\n<tool_call>\n<function=get_weather>\n") == "Checking."
    assert stream.feed("<parameter=city>\nParis\n</parameter>\n") == ""
    assert stream.feed("</function>\n</tool_call>\nDone.") == "\nDone."
    assert stream.finish() == ""
    assert [(c.name, c.input) for c in stream.calls] == [("get_weather", {"city": "Paris"})]


def test_to_tool_uses_types_xml_values_with_the_tools() -> None:
    message = AssistantMessage(content=[TextBlock(text=xml_call(i="3", s="x", a="[1"))])
    converted = to_tool_uses(message, id_prefix="t", tools=[TYPED])
    assert converted.content == (ToolUseBlock(id="t0", name="f", input={"i": 3, "s": "x", "a": "[1"}),)


_typed_values = st.one_of(
    st.tuples(st.just("string"), xml_values),
    st.tuples(st.just("integer"), st.integers(-(2**70), 2**70)),
    st.tuples(st.just("number"), st.floats(allow_nan=False, allow_infinity=False) | st.integers()),
    st.tuples(st.just("boolean"), st.booleans()),
    st.tuples(st.just("object"), json_objects),
    st.tuples(st.just("array"), st.lists(st.integers() | names, max_size=3)),
)


@given(values=st.dictionaries(names, _typed_values, max_size=5), indent=st.sampled_from([None, 2]), data=st.data())
def test_typed_xml_values_read_back(
    values: dict[str, tuple[str, Any]], indent: int | None, data: st.DataObject
) -> None:
    spec = ToolSpec(
        name="f",
        parameters={"type": "object", "properties": {key: {"type": kind} for key, (kind, _) in values.items()}},
    )
    written = {key: v if kind == "string" else json.dumps(v, indent=indent) for key, (kind, v) in values.items()}
    text = "Calling.\n" + xml_call(**written) + "\nok"
    expected = {key: v for key, (_, v) in values.items()}
    points = data.draw(st.lists(st.integers(1, max(1, len(text) - 1)), max_size=12), label="cuts")
    stream = ToolCallTextFilter(tools=[spec])
    out = "".join(stream.feed(piece) for piece in split(text, points)) + stream.finish()
    assert out == "Calling.\nok"
    [call] = stream.calls
    assert call.input is not None and thaw_json(call.input) == expected


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
