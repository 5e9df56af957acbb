"""The call formats (``_textual/_emulation/_formats.py``): every accepted form and quirk, JSON in
tags, fenced JSON and Qwen3-Coder's XML."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import (
    ParsedCalls,
    TextCall,
    ToolCallTextFilter,
    ToolSpec,
    parse_tool_calls,
    thaw_json,
)
from tests.core.textual.emulation.helpers import (
    TYPED,
    WEATHER,
    XML_WEATHER,
    calls_of,
    split,
    xml_call,
    xml_values,
)
from tests.strategies import json_objects, names

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


# ---- Qwen3-Coder's XML form --------------------------------------------------------------------


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
