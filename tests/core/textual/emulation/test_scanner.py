"""Finding calls in text (``_textual/_emulation/_scanner.py``): the streaming filter, the
whitespace rule, and generated texts however they are split."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from anyagent_core import (
    LocalProtocolError,
    ParsedCalls,
    ToolCallTextFilter,
    parse_tool_calls,
    thaw_json,
)
from anyagent_core._util import WHITESPACE
from tests.core.textual.emulation.helpers import (
    WEATHER,
    filtered,
    prose,
    shown,
    split,
    xml_values,
)
from tests.strategies import json_objects, names

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


def test_filter_holds_an_xml_call_while_it_streams() -> None:
    stream = ToolCallTextFilter()
    assert stream.feed("Checking.\n<tool_call>\n<function=get_weather>\n") == "Checking."
    assert stream.feed("<parameter=city>\nParis\n</parameter>\n") == ""
    assert stream.feed("</function>\n</tool_call>\nDone.") == "\nDone."
    assert stream.finish() == ""
    assert [(c.name, c.input) for c in stream.calls] == [("get_weather", {"city": "Paris"})]


# ---- generated texts -------------------------------------------------------------------------


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
