"""The chunk assembler (``_dialects/_openai_chat/_assembler.py``): chunk shapes and server quirks,
errors inside a 200 stream, whole JSON completions, truncation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from anyagent_core import (
    Finished,
    ReasoningDelta,
    RefusalDelta,
    RemoteProtocolError,
    TextBlock,
    TextDelta,
    ThinkingBlock,
    ToolCall,
    ToolUseBlock,
    Truncated,
    Usage,
    decode_response,
    thaw_json,
)
from anyagent_core._dialects._openai_chat._assembler import ResponseAssembler, _Choice
from anyagent_core._dialects._openai_chat._toolcalls import ToolCallAssembler
from anyagent_core._errors import LocalProtocolError
from anyagent_core._events import Event
from tests.core.dialects.openai_chat.helpers import COMPLETION, delta, final, only, sse
from tests.core.dialects.openai_chat.test_toolcalls import _entries
from tests.helpers import run_response

# ---- errors inside a 200 stream ------------------------------------------------------------


def test_midstream_error_wins_over_done_and_keeps_partial_content() -> None:
    body = sse(
        delta({"content": "Once"}), {"error": {"message": "engine died", "type": "InternalServerError", "code": 500}}
    )
    events = run_response([body])
    result = final(events)
    assert result.message.text == "Once"
    assert result.done_received
    assert not result.truncated
    assert result.error is not None
    assert (result.error.message, result.error.source, result.error.status) == ("engine died", "data_event", 200)


def test_flat_error_object_midstream() -> None:
    body = sse(delta({"content": "a"}), {"object": "error", "message": "flat", "type": "BadRequestError", "code": 400})
    error = final(run_response([body])).error
    assert error is not None and (error.message, error.code) == ("flat", 400)


def test_event_error_with_message_only() -> None:
    body = sse(delta({"content": "a"}), done=False) + b'event: error\ndata: {"message":"overloaded"}\n\n'
    result = final(run_response([body]))
    assert result.error is not None and result.error.message == "overloaded"
    assert not result.truncated  # an error explains the end of the stream


def test_event_error_with_plain_text() -> None:
    body = b"event: error\ndata: something broke\n\n"
    result = final(run_response([body]))
    assert result.error is not None and result.error.message == "something broke"


def test_legacy_llamacpp_error_field() -> None:
    body = (
        sse(delta({"content": "a"}), done=False)
        + b'error: {"code":500,"message":"slot unavailable","type":"server_error"}\n\ndata: [DONE]\n\n'
    )
    result = final(run_response([body]))
    assert result.error is not None
    assert (result.error.message, result.error.source) == ("slot unavailable", "sse_error_field")


def test_raw_json_error_line_in_a_stream() -> None:
    body = sse(delta({"content": "a"}), done=False) + b'{"error":"model runner crashed"}\n'
    result = final(run_response([body]))
    assert result.error is not None and result.error.message == "model runner crashed"


def test_raw_json_chunk_line_is_a_protocol_error_with_a_hint() -> None:
    with pytest.raises(RemoteProtocolError, match="without a 'data:' field") as info:
        run_response([b'{"model":"x","message":{"content":"hi"}}\n'])
    assert info.value.hint is not None and "NDJSON" in info.value.hint


def test_openrouter_error_chunk_with_finish_reason_error() -> None:
    body = sse(
        delta({"content": "par"}),
        {
            "error": {"code": "server_error", "message": "Provider disconnected"},
            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
        },
        done=False,
    )
    events = run_response([body])
    result = final(events)
    assert result.error is not None and result.error.code == "server_error"
    assert Finished(reason="error") in events
    assert not result.truncated
    assert result.message.text == "par"


# ---- JSON bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "text/plain", ""])
def test_non_streaming_completion(content_type: str) -> None:
    body = json.dumps(COMPLETION).encode()
    events = run_response([body[:7], body[7:]], content_type=content_type)
    result = final(events)
    message = result.message
    assert message.content[:2] == (ThinkingBlock(thinking="User wants weather."), TextBlock(text="Let me check."))
    tools = [b for b in message.content if type(b) is ToolUseBlock]
    assert [(t.id, t.name, thaw_json(t.input)) for t in tools] == [
        ("c1", "get_weather", {"city": "Oslo"}),
        ("c2", "get_weather", {"city": "Rome"}),
    ]
    assert (message.stop_reason, message.model, message.id) == ("tool_calls", "qwen", "chatcmpl-9")
    assert message.usage is not None and message.usage.total_tokens == 15
    assert not result.done_received and not result.truncated
    assert only(events, TextDelta) == [TextDelta(text="Let me check.")]


def test_streaming_request_answered_with_json_gives_the_same_message() -> None:
    streamed = sse(
        delta({"role": "assistant", "content": "Hi"}),
        delta({"content": " there"}),
        delta({}, "stop"),
    )
    whole = {
        "id": "chatcmpl-1",
        "model": "m1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there"}, "finish_reason": "stop"}],
    }
    a = final(run_response([streamed])).message
    b = final(run_response([json.dumps(whole).encode()], content_type="application/json")).message
    assert a == b


def test_json_body_with_error_and_200_status() -> None:
    result = final(run_response([b'{"error":{"message":"bad key"}}'], content_type="application/json"))
    assert result.error is not None and (result.error.message, result.error.status) == ("bad key", 200)


# ---- chunk quirks --------------------------------------------------------------------------


def test_role_on_every_chunk_is_never_concatenated_and_empty_finish_ignored() -> None:
    body = sse(
        delta({"role": "assistant", "content": ""}, ""),
        delta({"role": "assistant", "content": "a"}, ""),
        delta({"role": "assistant", "content": "b"}, "STOP"),
    )
    events = run_response([body])
    assert final(events).message.text == "ab"
    assert final(events).message.stop_reason == "STOP"


def test_reasoning_in_both_fields_counts_once() -> None:
    body = sse(
        delta({"reasoning_content": "think", "reasoning": "think"}), delta({"reasoning": "ing"}), delta({}, "stop")
    )
    events = run_response([body])
    assert [e.text for e in only(events, ReasoningDelta)] == ["think", "ing"]
    assert final(events).message.content == (ThinkingBlock(thinking="thinking"),)


def test_interleaved_reasoning_and_text_keep_their_order() -> None:
    body = sse(delta({"reasoning": "a"}), delta({"content": "b"}), delta({"reasoning": "c"}), delta({}, "stop"))
    assert final(run_response([body])).message.content == (
        ThinkingBlock(thinking="a"),
        TextBlock(text="b"),
        ThinkingBlock(thinking="c"),
    )


def test_refusal() -> None:
    body = sse(
        delta({"content": None, "refusal": ""}),
        delta({"refusal": "I can't"}),
        delta({"refusal": " help."}),
        delta({}, "stop"),
    )
    events = run_response([body])
    assert [e.text for e in only(events, RefusalDelta)] == ["I can't", " help."]
    assert final(events).message.refusal == "I can't help."


def test_usage_is_sticky_last_non_null_wins() -> None:
    body = sse(
        delta({"content": "a"}, usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}),
        delta({"content": "b"}, usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}),
        delta({}, "stop", usage=None),
        {"choices": []},
    )
    events = run_response([body])
    assert [u.total_tokens for u in only(events, Usage)] == [2, 3]
    usage = final(events).message.usage
    assert usage is not None and usage.completion_tokens == 2


def test_usage_fields_and_vendor_usage() -> None:
    body = sse(
        delta(
            {},
            "stop",
            x_groq={"usage": {"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10, "queue_time": 0.1}},
        ),
        {"choices": [], "usage": None},
    )
    usage = final(run_response([body])).message.usage
    assert usage is not None and (usage.total_tokens, thaw_json(usage.raw)["queue_time"]) == (10, 0.1)
    detailed = Usage.from_json(
        {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12,
         "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 2}}
    )  # fmt: skip
    assert (detailed.cached_tokens, detailed.reasoning_tokens) == (4, 2)
    assert Usage.from_json({"prompt_cache_hit_tokens": 7, "prompt_tokens": "x"}).cached_tokens == 7
    assert Usage.from_json({"prompt_tokens": "x"}).prompt_tokens is None


def test_content_as_a_list_of_parts() -> None:
    body = sse(delta({"content": [{"type": "text", "text": "a"}, "b"]}), delta({}, "stop"))
    assert final(run_response([body])).message.text == "ab"


def test_choices_kept_apart_when_several_were_asked_for() -> None:
    body = sse(
        delta({"content": "zero"}, index=0),
        delta({"content": "one"}, index=1),
        delta({"content": "!"}, "stop", index=0),
        delta({}, "length", index=1),
    )
    events = run_response([body], n=2)
    result = final(events)
    assert [(m.text, m.stop_reason) for m in result.choices] == [("zero!", "stop"), ("one", "length")]
    assert result.message == result.choices[0]
    assert TextDelta(text="one", choice=1) in events
    assert Finished(reason="length", choice=1) in events


def test_one_choice_asked_for_folds_stray_indexes() -> None:
    # TGI once incremented "index" on every token.
    body = sse(delta({"content": "a"}, index=0), delta({"content": "b"}, index=1), delta({}, "stop", index=2))
    result = final(run_response([body]))
    assert len(result.choices) == 1
    assert result.message.text == "ab"


def test_delta_applies_before_finish_in_the_same_chunk() -> None:
    events = run_response([sse(delta({"content": "last"}, "stop"))])
    kinds = [type(e) for e in events]
    assert kinds.index(TextDelta) < kinds.index(Finished)


def test_keepalive_data_and_unknown_keys_are_ignored() -> None:
    body = b"data:\n\ndata:   \n\n" + sse(
        delta({"content": "x", "future_field": {"a": 1}}, "stop", obfuscation="zz", prompt_token_ids=None)
    )
    assert final(run_response([body])).message.text == "x"


@pytest.mark.parametrize(
    ("body", "truncated"),
    [
        (b"", True),  # an empty 200 stream is no answer
        (sse(delta({"content": "a"}), done=False), True),  # cut off
        (sse(delta({"content": "a"}), done=False) + b'data: {"choi', True),  # cut mid-event
        (sse(delta({"content": "a"}, "stop"), done=False), False),  # finished, just no [DONE]
        (sse(delta({"content": "a"}, "stop"), done=False) + b"data: [DONE]", False),
    ],
)
def test_truncation(body: bytes, truncated: bool) -> None:
    events = run_response([body])
    assert final(events).truncated is truncated
    assert bool(only(events, Truncated)) is truncated


# ---- regressions ---------------------------------------------------------------------------


def test_surrogate_pairs_split_across_chunks_are_rejoined() -> None:
    # The JSON escapes of one emoji, cut between two chunks by the server.
    body = b'data: {"choices":[{"index":0,"delta":{"content":"a\\ud83d"}}]}\n\n'
    body += b'data: {"choices":[{"index":0,"delta":{"content":"\\ude00b"},"finish_reason":"stop"}]}\n\n'
    message = final(run_response([body])).message
    assert message.text == "a\U0001f600b"
    message.text.encode("utf-8")


def test_whole_message_tool_calls_are_positional() -> None:
    whole = {
        "choices": [
            {
                "index": 0,
                "message": {
                    "tool_calls": [
                        {"id": "same", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                        {"id": "same", "type": "function", "function": {"name": "g", "arguments": "{}"}},
                        {"index": 0, "type": "function", "function": {"name": "now", "arguments": ""}},
                        {"index": 0, "type": "function", "function": {"name": "now", "arguments": ""}},
                    ]
                },
                "finish_reason": "tool_calls",
            }
        ]
    }
    events = run_response([json.dumps(whole).encode()], content_type="application/json")
    calls = [e for e in events if type(e) is ToolCall]
    assert [(c.index, c.name, c.arguments, c.error) for c in calls] == [
        (0, "f", "{}", None),
        (1, "g", "{}", None),
        (2, "now", "", None),
        (3, "now", "", None),
    ]


def test_folded_choices_of_a_json_body_keep_their_tool_calls_apart() -> None:
    def choice(index: int, call_id: str, value: int) -> dict[str, Any]:
        call = {"id": call_id, "type": "function", "function": {"name": "f", "arguments": json.dumps({"a": value})}}
        return {"index": index, "message": {"tool_calls": [call]}, "finish_reason": "tool_calls"}

    body = json.dumps({"choices": [choice(0, "c0", 1), choice(1, "c1", 2)]}).encode()
    decoded = decode_response(body, content_type="application/json", single_choice=True)
    blocks = [b for b in decoded.message.content if type(b) is ToolUseBlock]
    assert [(b.id, thaw_json(b.input)) for b in blocks] == [("c0", {"a": 1}), ("c1", {"a": 2})]


def test_legacy_function_call_repeating_tool_call_fragments_is_not_added_twice() -> None:
    # llama-cpp-python sends each fragment both in tool_calls and in the legacy function_call.
    def both(args: str, name: str | None = None) -> dict[str, Any]:
        function: dict[str, Any] = {"arguments": args}
        if name:
            function["name"] = name
        call = {"index": 0, "id": "call_0", "type": "function", "function": {"name": "get_weather", **function}}
        return delta({"tool_calls": [call], "function_call": {"name": "get_weather", **function}})

    body = sse(both('{"city": '), both('"Paris"}'), delta({}, finish="tool_calls"))
    events = run_response([body])
    (assembled,) = only(events, ToolCall)
    assert assembled.arguments == '{"city": "Paris"}'
    (call,) = final(events).message.tool_uses
    assert isinstance(call, ToolUseBlock)
    assert dict(call.input) == {"city": "Paris"}


# ---- chunk()'s shortcuts against the general delta reading ------------------------------


def _folded(deltas: list[dict[str, Any]], *, general: bool) -> object:
    asm = ResponseAssembler(status=200, single_choice=True)
    out: list[Event] = []
    try:
        for delta in deltas:
            if general:
                state = asm._choices.get(0) or asm._choices.setdefault(0, _Choice(0))
                asm._delta(state, delta, delta.get("content"), out)
            else:
                asm.chunk({"choices": [{"index": 0, "delta": delta}]}, out, "data_event", "")
    except LocalProtocolError as exc:
        return ("LocalProtocolError", str(exc), out)
    asm.finish(out, truncation=None)
    return out


_HEADER = {"index": 0, "id": "c", "type": "function", "function": {"name": "f", "arguments": ""}}
_delta_values: st.SearchStrategy[object] = st.sampled_from(
    [None, "", "assistant", "hi", 0, 1, False, [], {}, [{"type": "text", "text": "t"}]]
)
_tool_calls: st.SearchStrategy[object] = st.sampled_from(
    [
        [_HEADER],
        [{"index": 0, "function": {"arguments": '{"a":1}'}}],
        [{"index": 1, "id": 5, "type": "function", "function": {"name": "g", "arguments": "{}"}}],
        [_HEADER, {"index": 0, "function": {"arguments": "{}"}}],
        [{"index": None, "function": {"name": "f", "arguments": "{}"}}],
        ["oops"],
        [],
        "oops",
    ]
) | st.lists(_entries, min_size=1, max_size=2)  # the fragment and header shapes and their near misses


@given(
    deltas=st.lists(
        st.dictionaries(
            st.sampled_from(["role", "content", "refusal", "reasoning_content", "reasoning", "name"]), _delta_values
        )
        | st.builds(lambda calls: {"tool_calls": calls}, _tool_calls),
        min_size=1,
        max_size=6,
    )
)
def test_chunk_folds_deltas_as_the_general_reading_does(deltas: list[dict[str, Any]]) -> None:
    # chunk()'s shortcuts (a text-only delta, a delta of one tool_calls entry) agree with
    # _delta, errors included; an empty delta folds nothing either way.
    assert _folded(deltas, general=False) == _folded(deltas, general=True)


def _entries_folded(entries: list[dict[str, Any]], *, through_chunk: bool) -> object:
    out: list[Event] = []
    asm = ResponseAssembler(status=200, single_choice=True)
    tools = ToolCallAssembler(0)
    try:
        for entry in entries:
            if through_chunk:
                asm.chunk({"choices": [{"index": 0, "delta": {"tool_calls": [entry]}}]}, out, "data_event", "")
            else:
                tools.add(entry, out.append)  # type: ignore[arg-type]
    except LocalProtocolError as exc:
        return ("LocalProtocolError", str(exc), out)
    state = asm._choices.get(0)
    folded = tools if not through_chunk else (state.tools if state is not None else None)
    return (out, [] if folded is None else folded.finish(response_id="r", truncated=False))


@given(entries=st.lists(_entries, max_size=12))
@example(  # a name with the fragment: not the fragment shape, so the name is folded too
    entries=[
        {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}},
        {"index": 0, "function": {"name": "g", "arguments": "{}"}},
    ]
)
@example(  # a fragment for an earlier call, then an unindexed one: it continues the call last folded
    entries=[
        {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}},
        {"index": 1, "id": "c2", "type": "function", "function": {"name": "f", "arguments": ""}},
        {"index": 0, "function": {"arguments": '{"a":'}},
        {"index": None, "function": {"arguments": "1}"}},
    ]
)
def test_a_delta_of_one_tool_calls_entry_folds_as_add_does(entries: list[dict[str, Any]]) -> None:
    # chunk()'s inlined fragment path and its header path against ToolCallAssembler.add alone.
    assert _entries_folded(entries, through_chunk=True) == _entries_folded(entries, through_chunk=False)
