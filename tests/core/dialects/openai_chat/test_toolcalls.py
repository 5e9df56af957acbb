"""Tool-call assembly: every quirk of the catalogue in SERVERS.md §5, with the project's own streams."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from anyagent_core import (
    Event,
    Finished,
    LocalProtocolError,
    MessageComplete,
    ToolCall,
    ToolCallDelta,
    ToolUseBlock,
    ToolUseError,
    thaw_json,
)
from anyagent_core._dialects._openai_chat._toolcalls import ToolCallAssembler
from tests.helpers import run_response


def stream(*deltas: list[dict[str, Any]], finish: str | None = "tool_calls", done: bool = True) -> bytes:
    chunks = [{"id": "chatcmpl-x", "choices": [{"index": 0, "delta": {"tool_calls": d}}]} for d in deltas]
    if finish is not None:
        chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    body = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)
    return body + (b"data: [DONE]\n\n" if done else b"")


def calls_of(body: bytes) -> list[ToolCall]:
    return [e for e in run_response([body]) if type(e) is ToolCall]


def summary(body: bytes) -> list[tuple[int, str | None, str, str, bool]]:
    return [(c.index, None if c.id_synthesized else c.id, c.name, c.arguments, c.error is None) for c in calls_of(body)]


def fn(name: str | None = None, arguments: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if name is not None:
        out["name"] = name
    if arguments is not None:
        out["arguments"] = arguments
    return out


def test_openai_style_parallel_calls() -> None:
    body = stream(
        [{"index": 0, "id": "a", "type": "function", "function": fn("f", "")}],
        [{"index": 0, "function": fn(arguments='{"x":')}],
        [{"index": 0, "function": fn(arguments="1}")}],
        [{"index": 1, "id": "b", "type": "function", "function": fn("g", "")}],
        [{"index": 1, "function": fn(arguments="{}")}],
    )
    assert summary(body) == [(0, "a", "f", '{"x":1}', True), (1, "b", "g", "{}", True)]


def test_missing_index_new_call_on_new_id_or_name() -> None:
    body = stream(
        [{"id": "a", "function": fn("f", '{"x":')}],
        [{"function": fn(arguments="1}")}],
        [{"id": "b", "function": fn("g", "{}")}],
    )
    assert summary(body) == [(0, "a", "f", '{"x":1}', True), (1, "b", "g", "{}", True)]


def test_null_index_parallel_calls_separated_by_position_with_empty_ids() -> None:
    body = stream(
        [
            {"index": None, "id": "", "function": fn("get_weather", '{"city":"Paris"}')},
            {"index": None, "id": "", "function": fn("get_weather", '{"city":"Rome"}')},
        ],
    )
    calls = calls_of(body)
    assert [(c.index, c.name, c.arguments) for c in calls] == [
        (0, "get_weather", '{"city":"Paris"}'),
        (1, "get_weather", '{"city":"Rome"}'),
    ]
    # No usable id on the wire: ids are made up, distinct, and say so.
    assert all(c.id_synthesized for c in calls)
    assert len({c.id for c in calls}) == 2


def test_duplicate_index_in_one_delta_merges() -> None:
    body = stream(
        [{"index": 0, "id": "k", "type": "function", "function": fn("f", "")}],
        [{"index": 0, "function": fn(arguments='{"a"')}, {"index": 0, "function": fn(arguments=":1}")}],
    )
    assert summary(body) == [(0, "k", "f", '{"a":1}', True)]


def test_repeated_id_and_name_every_chunk() -> None:
    body = stream(
        *[
            [{"index": 0, "id": "same", "type": "function", "function": fn("read_file", piece)}]
            for piece in ['{"p', 'ath":', '"x"}']
        ]
    )
    assert summary(body) == [(0, "same", "read_file", '{"path":"x"}', True)]


def test_repeated_name_without_index_while_streaming() -> None:
    body = stream(*[[{"function": fn("read_file", piece)}] for piece in ['{"p', 'ath":', '"x"}']])
    assert summary(body)[0][2:] == ("read_file", '{"path":"x"}', True)
    assert len(summary(body)) == 1


def test_name_split_across_chunks() -> None:
    body = stream(
        [{"index": 0, "id": "s", "function": fn("edit_ex", "")}],
        [{"index": 0, "function": fn("isting_file", '{"a":1}')}],
    )
    assert summary(body) == [(0, "s", "edit_existing_file", '{"a":1}', True)]


def test_empty_name_fragments_are_ignored() -> None:
    body = stream(
        [{"index": 0, "id": "1", "type": "function", "function": fn("f", "")}],
        [{"index": 0, "type": "function", "function": fn("", '{"q":')}],
        [{"index": 0, "type": "function", "function": fn("", "2}")}],
    )
    assert summary(body) == [(0, "1", "f", '{"q":2}', True)]


def test_numeric_id_becomes_a_string_and_later_ids_are_ignored() -> None:
    body = stream(
        [{"index": 0, "id": 193629320, "function": fn("f", "{}")}],
        [{"index": 0, "id": "other", "function": fn(arguments="")}],
    )
    assert summary(body) == [(0, "193629320", "f", "{}", True)]


def test_whole_call_in_one_delta_with_missing_type() -> None:
    calls = calls_of(stream([{"id": "m", "function": fn("f", '{"z":[1,2]}')}]))
    assert calls[0].type == "function"
    assert calls[0].input is not None and thaw_json(calls[0].input) == {"z": [1, 2]}


def test_arguments_sent_as_an_object() -> None:
    calls = calls_of(stream([{"index": 0, "id": "o", "function": fn("f", {"k": "v"})}]))
    assert calls[0].arguments == '{"k":"v"}'
    assert calls[0].error is None


def test_empty_arguments_mean_no_arguments() -> None:
    calls = calls_of(stream([{"index": 0, "id": "e", "function": fn("ping", "")}]))
    assert calls[0].error is None
    assert calls[0].input == {}


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ('{"a": 1', "not valid JSON"),
        ("[1, 2]", "must be a JSON object, not an array"),
        ('"text"', "must be a JSON object, not a string"),
        ('{"a":1}{"b":2}', "not valid JSON"),
        ('{"a": NaN}', "NaN is not valid JSON"),
        ('{"a": -Infinity}', "-Infinity is not valid JSON"),
    ],
)
def test_unusable_arguments_are_reported_not_dropped(arguments: str, error: str) -> None:
    events = run_response([stream([{"index": 0, "id": "bad", "function": fn("f", arguments)}])])
    call = next(e for e in events if type(e) is ToolCall)
    assert call.arguments == arguments
    assert call.input is None
    assert call.error is not None and error in call.error
    final = events[-1]
    assert type(final) is MessageComplete
    block = final.message.content[-1]
    assert type(block) is ToolUseError
    assert (block.id, block.name, block.arguments) == ("bad", "f", arguments)


def test_call_without_a_name_is_unusable() -> None:
    call = calls_of(stream([{"index": 0, "id": "n", "function": fn(arguments="{}")}]))[0]
    assert call.error == "the tool call has no function name"


def test_truncated_stream_marks_calls_incomplete_even_if_json_is_valid() -> None:
    body = stream([{"index": 0, "id": "t", "function": fn("f", '{"a":1}')}], finish=None, done=False)
    events = run_response([body])
    call = next(e for e in events if type(e) is ToolCall)
    assert call.error is not None and "cut off" in call.error
    final = events[-1]
    assert type(final) is MessageComplete and final.truncated
    assert type(final.message.content[-1]) is ToolUseError


def test_extra_content_is_kept_for_the_next_turn() -> None:
    signature = {"google": {"thought_signature": "abc"}}
    events = run_response([stream([{"id": "g", "function": fn("f", "{}"), "extra_content": signature}], finish="stop")])
    final = events[-1]
    assert type(final) is MessageComplete
    block = final.message.content[0]
    assert type(block) is ToolUseBlock
    assert block.extra_content is not None and thaw_json(block.extra_content) == signature
    # finish_reason "stop" with a tool call is reported as sent.
    assert Finished(reason="stop") in events


def test_deltas_report_what_is_known_so_far() -> None:
    body = stream(
        [{"index": 0, "id": "d", "function": fn("lo", "")}],
        [{"index": 0, "function": fn("okup", '{"q"')}],
        [{"index": 0, "function": fn(arguments=':"x"}')}],
    )
    deltas = [e for e in run_response([body]) if type(e) is ToolCallDelta]
    assert [(d.id, d.name, d.arguments) for d in deltas] == [
        ("d", "lo", ""),
        ("d", "lookup", '{"q"'),
        ("d", "lookup", ':"x"}'),
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("not an object", "a tool_calls entry must be a JSON object, not a string"),
        ({"index": "0", "function": {}}, "index must be an integer or null, not a string"),
        ({"index": [0], "function": {"arguments": "x"}}, "index must be an integer or null, not an array"),
        ({"index": 1.5, "function": {"arguments": "x"}}, "index must be an integer or null, not a number"),
        ({"index": 0, "function": "f"}, "function must be a JSON object"),
        ({"index": 0, "function": {"name": 5}}, "name must be a string"),
        ({"index": 0, "function": {"arguments": [1]}}, "arguments must be a string or an object"),
    ],
)
def test_malformed_entries_raise_with_location(entry: Any, message: str) -> None:
    from anyagent_core import RemoteProtocolError

    with pytest.raises(RemoteProtocolError, match=message) as info:
        run_response([stream([entry])])
    assert info.value.offset == 0
    assert info.value.line == 1


def test_null_index_parallel_parameterless_calls_in_one_delta() -> None:
    body = stream([{"index": None, "id": "", "function": fn("now")}, {"index": None, "id": "", "function": fn("now")}])
    assert [(c.index, c.name, c.arguments, c.error) for c in calls_of(body)] == [
        (0, "now", "", None),
        (1, "now", "", None),
    ]


def test_restated_name_without_index_across_deltas_is_one_call() -> None:
    pieces = ['{"path": "', "a" * 50, '"}']
    body = stream(*[[{"function": fn("write_file", piece)}] for piece in pieces])
    assert summary(body) == [(0, None, "write_file", '{"path": "' + "a" * 50 + '"}', True)]


def test_deeply_nested_arguments_are_unusable_not_fatal() -> None:
    arguments = "[" * 20000 + "]" * 20000
    call = calls_of(stream([{"index": 0, "id": "d", "function": fn("f", arguments)}]))[0]
    assert call.error is not None and "too deeply" in call.error


def test_legacy_function_call_deltas_become_a_tool_call() -> None:
    chunks = [
        {"choices": [{"index": 0, "delta": {"function_call": {"name": "get_weather", "arguments": ""}}}]},
        {"choices": [{"index": 0, "delta": {"function_call": {"arguments": '{"city":'}}}]},
        {"choices": [{"index": 0, "delta": {"function_call": {"arguments": '"Oslo"}'}}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "function_call"}]},
    ]
    body = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    events = run_response([body])
    call = next(e for e in events if type(e) is ToolCall)
    assert (call.name, call.arguments, call.error, call.id_synthesized) == (
        "get_weather",
        '{"city":"Oslo"}',
        None,
        True,
    )
    assert Finished(reason="function_call") in events


def test_a_whitespace_fragment_does_not_glue_the_next_unindexed_call_on() -> None:
    body = stream(
        [{"function": fn("f", '{"a":1}')}], [{"function": fn(arguments="\n")}], [{"function": fn("f", '{"a":2}')}]
    )
    assert [(c.name, c.arguments.strip(), c.error) for c in calls_of(body)] == [
        ("f", '{"a":1}', None),
        ("f", '{"a":2}', None),
    ]


def test_surrogate_pairs_split_across_argument_fragments_are_rejoined() -> None:
    body = stream(
        [{"index": 0, "id": "s", "function": fn("say", '{"t":"\ud83d')}],
        [{"index": 0, "function": fn(arguments='\ude00"}')}],
    )
    call = calls_of(body)[0]
    assert call.input is not None and call.input["t"] == "\U0001f600"


# ---- the argument-fragment fast path --------------------------------------------------------

_fragments = st.text(st.sampled_from('{}":, ab1'), max_size=6)
_entries = st.one_of(
    # The fast path's shape, for a call that may or may not be open yet.
    st.builds(lambda i, a: {"index": i, "function": {"arguments": a}}, st.integers(0, 2), _fragments),
    # Near misses: an extra key, a name, no index, a non-string fragment, a non-object function.
    st.builds(
        lambda i, a: {"index": i, "function": {"arguments": a}, "type": "function"}, st.integers(0, 2), _fragments
    ),
    st.builds(
        lambda i, n, a: {"index": i, "function": {"name": n, "arguments": a}},
        st.integers(0, 2),
        st.sampled_from(["f", "g", ""]),
        _fragments,
    ),
    st.builds(lambda a: {"index": None, "function": {"arguments": a}}, _fragments),
    st.builds(lambda i: {"index": i, "function": {"arguments": {"k": 1}}}, st.integers(0, 2)),
    st.builds(
        lambda i, c: {"index": i, "id": c, "function": {"name": "f", "arguments": ""}},
        st.integers(0, 2),
        st.sampled_from(["c1", "c2"]),
    ),
    st.builds(lambda i: {"index": i, "function": "oops"}, st.integers(0, 2)),
    # The header fast path's shape (an empty id, type or name included), for a call that may
    # or may not be open yet.
    st.builds(
        lambda i, c, k, n, a: {"index": i, "id": c, "type": k, "function": {"name": n, "arguments": a}},
        st.integers(0, 2),
        st.sampled_from(["c1", "c2", ""]),
        st.sampled_from(["function", "custom", ""]),
        st.sampled_from(["f", "g", ""]),
        _fragments,
    ),
    # Its near misses: a non-string id, type, name or arguments, an index not an integer, an
    # extra key, a missing key.
    st.builds(
        lambda i, c, k, n, a: {"index": i, "id": c, "type": k, "function": {"name": n, "arguments": a}},
        st.one_of(st.integers(0, 2), st.none(), st.just("0")),
        st.sampled_from(["c1", "c2", "", 7, None]),
        st.sampled_from(["function", "custom", "", None, 1]),
        st.sampled_from(["f", "g", "", None, 3]),
        st.one_of(_fragments, st.just({"k": 1}), st.none()),
    ),
    st.builds(
        lambda i, c, extra: (
            {"index": i, "id": c, "type": "function", "function": {"name": "f", "arguments": ""}} | extra
        ),
        st.integers(0, 2),
        st.sampled_from(["c1", "c2"]),
        st.sampled_from([{}, {"extra_content": {"x": 1}}, {"extra_content": "x"}]),
    ),
    st.builds(
        lambda i, f: {"index": i, "id": "c3", "type": "function", "function": f},
        st.integers(0, 2),
        st.sampled_from(
            [{"name": "f"}, {"name": "f", "arguments": "", "x": 1}, {"name": "f", "extra": ""}, {"arguments": "{}"}]
        ),
    ),
)


def _fold(entries: list[dict[str, Any]], *, fast: bool) -> object:
    tools = ToolCallAssembler(0)
    out: list[Event] = []
    try:
        for entry in entries:
            if not (fast and (tools.add_fragment(entry, out) or tools.add_header(entry, out))):
                tools.add(entry, out.append)  # type: ignore[arg-type]
    except LocalProtocolError as exc:
        return ("LocalProtocolError", str(exc), out)
    return (out, tools.finish(response_id="r", truncated=False))


@given(before=st.lists(_entries, max_size=6), entry=_entries)
def test_a_fast_path_that_declines_changes_nothing(before: list[dict[str, Any]], entry: dict[str, Any]) -> None:
    tools = ToolCallAssembler(0)
    out: list[Event] = []
    try:
        for earlier in before:
            tools.add(earlier, out.append)  # type: ignore[arg-type]
    except LocalProtocolError:
        return

    def state() -> object:
        calls = [(i, c.id, c.name, c.type, list(c.arguments), c.extra_content) for i, c in tools._calls.items()]
        return (calls, tools._last, list(out))

    for fast in (tools.add_fragment, tools.add_header):
        was = state()
        if not fast(entry, out):
            assert state() == was


@given(entries=st.lists(_entries, max_size=12))
@example(  # a fragment for an earlier call, then an unindexed one: it continues the call last folded
    entries=[
        {"index": 0, "id": "c1", "function": {"name": "f", "arguments": ""}},
        {"index": 1, "id": "c2", "function": {"name": "f", "arguments": ""}},
        {"index": 0, "function": {"arguments": '{"a":'}},
        {"index": None, "function": {"arguments": "1}"}},
    ]
)
@example(  # a header for a call already open goes to add, which merges it
    entries=[
        {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}},
        {"index": 0, "id": "c2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]
)
@example(  # an empty id, type and name in a header: "no id", the default type, no name yet
    entries=[
        {"index": 1, "id": "", "type": "", "function": {"name": "", "arguments": "{"}},
        {"index": 1, "function": {"arguments": "}"}},
    ]
)
def test_the_fragment_fast_path_folds_as_add_does(entries: list[dict[str, Any]]) -> None:
    assert _fold(entries, fast=True) == _fold(entries, fast=False)
