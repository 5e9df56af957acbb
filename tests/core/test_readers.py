"""Body readers and the chunk layer: error shapes, JSON bodies, sniffing and server quirks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from anyagent_core import (
    Event,
    Finished,
    MessageComplete,
    ReasoningDelta,
    RefusalDelta,
    RemoteProtocolError,
    ServerError,
    StreamDone,
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
from tests.helpers import ENDPOINT as ENDPOINT_FOR_CAP
from tests.helpers import run_response


def sse(*chunks: Any, done: bool = True) -> bytes:
    body = b"".join(b"data: " + (c if isinstance(c, bytes) else json.dumps(c).encode()) + b"\n\n" for c in chunks)
    return body + (b"data: [DONE]\n\n" if done else b"")


def delta(d: dict[str, Any], finish: str | None = None, index: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "model": "m1",
        "choices": [{"index": index, "delta": d, "finish_reason": finish}],
        **extra,
    }


def final(events: list[Event]) -> MessageComplete:
    last = events[-1]
    assert type(last) is MessageComplete
    return last


def only(events: list[Event], kind: type[Any]) -> list[Any]:
    return [e for e in events if type(e) is kind]


# ---- HTTP error bodies (SERVERS.md §6) ------------------------------------------------------

ERROR_BODIES = [
    (  # OpenAI, vLLM >= 0.10.1, Ollama: nested envelope
        429,
        b'{"error":{"message":"Rate limit reached","type":"tokens","param":null,"code":"rate_limit_exceeded"}}',
        ("Rate limit reached", "tokens", "rate_limit_exceeded"),
    ),
    (  # vLLM < 0.10.1: flat
        400,
        b'{"object":"error","message":"too long","type":"BadRequestError","param":null,"code":400}',
        ("too long", "BadRequestError", 400),
    ),
    (  # llama.cpp, with extra fields
        400,
        b'{"error":{"code":400,"message":"exceeds context","type":"exceed_context_size_error",'
        b'"n_prompt_tokens":9,"n_ctx":8}}',
        ("exceeds context", "exceed_context_size_error", 400),
    ),
    (  # OpenRouter: integer code and metadata
        402,
        b'{"error":{"code":402,"message":"Insufficient credits","metadata":{"x":1}}}',
        ("Insufficient credits", None, 402),
    ),
    (  # Google: an array around the envelope
        503,
        b'[{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}]',
        ("The model is overloaded.", "UNAVAILABLE", 503),
    ),
    (  # Ollama native style: error as a string
        404,
        b'{"error":"model \'x\' not found"}',
        ("model 'x' not found", None, None),
    ),
    (  # FastAPI
        422,
        b'{"detail":"Not authenticated"}',
        ("Not authenticated", None, None),
    ),
    (  # FastAPI validation errors: structured detail is kept as JSON text
        422,
        b'{"detail":[{"loc":["body","model"],"msg":"field required"}]}',
        ('[{"loc": ["body", "model"], "msg": "field required"}]', None, None),
    ),
    (  # a gateway's HTML page
        502,
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        ("<html><body><h1>502 Bad Gateway</h1></body></html>", None, None),
    ),
    (  # broken JSON is shown as text, not a protocol error
        500,
        b'{"error": {"message": "trunc',
        ('{"error": {"message": "trunc', None, None),
    ),
    (  # an error sent as an event stream with a non-200 status
        500,
        b'data: {"error":{"message":"engine dead","type":"server_error","code":500}}\n\n',
        ("engine dead", "server_error", 500),
    ),
    (500, b"", ("HTTP 500 with an empty body", None, None)),
]


@pytest.mark.parametrize(("status", "body", "expected"), ERROR_BODIES)
@pytest.mark.parametrize("content_type", ["application/json", "text/html", ""])
def test_http_error_bodies(status: int, body: bytes, expected: tuple[Any, ...], content_type: str) -> None:
    events = run_response([body], status=status, content_type=content_type)
    errors = only(events, ServerError)
    assert len(errors) == 1
    error = errors[0]
    assert (error.message, error.type, error.code) == expected
    assert error.status == status
    assert error.source == "http"
    assert error.body == body.decode()
    result = final(events)
    assert result.error == error
    assert result.message.content == ()
    assert not result.truncated


def test_huge_error_body_is_cut_and_drained() -> None:
    body = b"x" * 200_000
    events = run_response(
        [body[i : i + 4096] for i in range(0, len(body), 4096)], status=500, content_type="text/plain"
    )
    error = only(events, ServerError)[0]
    assert error.body.endswith(" [...]")
    assert len(error.body) < 70_000


# ---- errors inside a 200 stream -------------------------------------------------------------


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


# ---- JSON bodies ----------------------------------------------------------------------------

COMPLETION = {
    "id": "chatcmpl-9",
    "object": "chat.completion",
    "model": "qwen",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Let me check.",
                "reasoning_content": "User wants weather.",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                    },
                    {
                        "id": "c2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                    },
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
}


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


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b'{"model": "x"}', "not a chat completion"),
        (b'{"choices": [', "invalid JSON response body"),
        (b'{"choices": []}\xff', "not UTF-8"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"choices": "nope"}', "'choices' must be an array"),
    ],
)
def test_bad_json_bodies(body: bytes, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        run_response([body], content_type="application/json")


def test_ndjson_body_gets_a_hint() -> None:
    body = b'{"model":"llama3","message":{"content":"a"},"done":false}\n{"model":"llama3","done":true}\n'
    with pytest.raises(RemoteProtocolError, match="Extra data") as info:
        run_response([body], content_type="application/x-ndjson")
    assert info.value.hint is not None and "NDJSON" in info.value.hint


def test_sniffed_event_stream_without_content_type() -> None:
    body = b"\n\n" + sse(delta({"content": "x"}, "stop"))
    assert final(run_response([body[:1], body[1:]], content_type="")).message.text == "x"


# ---- chunk quirks ---------------------------------------------------------------------------


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


def test_body_after_done_is_drained_and_ignored() -> None:
    body = (
        sse(delta({"content": "x"}, "stop")) + sse(delta({"content": "ignored"}), done=False) + b"data: {bad json\n\n"
    )
    events = run_response([body])
    assert final(events).message.text == "x"
    assert events.count(StreamDone()) == 1


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


def test_truncation_says_how_much_was_discarded() -> None:
    events = run_response([sse(delta({"content": "a"}), done=False) + b'data: {"choi'])
    assert "12 bytes of an incomplete event were discarded" in only(events, Truncated)[0].reason


@pytest.mark.parametrize(
    ("chunk", "message"),
    [
        (b"[1, 2]", "expected a JSON object"),
        (b'"text"', "expected a JSON object"),
        (b'{"choices": {"index": 0}}', "'choices' must be an array"),
        (b'{"choices": [7]}', "'choices' entry must be an object"),
        (b'{"choices": [{"index": "0"}]}', "index must be an integer"),
        (b'{"choices": [{"index": 0, "delta": [1]}]}', "delta must be an object"),
        (b'{"choices": [{"index": 0, "delta": {"content": 5}}]}', "content must be a string"),
        (b'{"choices": [{"index": 0, "delta": {"content": [5]}}]}', "content part must be a text part"),
        (b'{"choices": [{"index": 0, "delta": {"reasoning": 5}}]}', "reasoning must be a string"),
        (b'{"choices": [{"index": 0, "delta": {"refusal": []}}]}', None),
        (b'{"choices": [{"index": 0, "delta": {"refusal": 1}}]}', "refusal must be a string"),
        (b'{"choices": [{"index": 0, "delta": {"tool_calls": {}}}]}', None),
        (b'{"choices": [{"index": 0, "delta": {"tool_calls": 3}}]}', "tool_calls must be an array"),
        (b'{"choices": [], "usage": 5}', "'usage' must be an object"),
        (b"nonsense", "invalid JSON"),
        (b"[" * 50_000, "nested too deeply"),
    ],
)
def test_malformed_chunks_raise_remote_protocol_error_with_location(chunk: bytes, message: str | None) -> None:
    body = sse(delta({"content": "ok"}), done=False) + b"data: " + chunk + b"\n\n"
    if message is None:  # falsy values of the wrong type mean "nothing", like null
        assert final(run_response([body])).message.text == "ok"
        return
    with pytest.raises(RemoteProtocolError, match=message) as info:
        run_response([body])
    first = len(sse(delta({"content": "ok"}), done=False))
    assert info.value.offset == first
    assert info.value.line == 3


def test_decode_response_replays_recorded_chunks() -> None:
    body = sse(delta({"content": "a"}), delta({"content": "b"}, "stop"))
    chunks = [body[:10], b"", body[10:40], body[40:]]
    decoded = decode_response(chunks)
    assert decoded.message.text == "ab"
    assert decoded.done_received and not decoded.truncated and decoded.error is None
    assert decoded.events == decode_response(body).events
    assert [e for e in decoded.events if type(e) is TextDelta] == [TextDelta(text="a"), TextDelta(text="b")]
    error = decode_response(b'{"error":{"message":"nope"}}', status=401, content_type="application/json")
    assert error.error is not None and error.error.status == 401


# ---- regressions ----------------------------------------------------------------------------


def test_nothing_after_done_is_parsed_not_even_for_the_cap() -> None:
    from anyagent_core import Config

    body = sse(delta({"content": "hi"}, "stop")) + b": " + b"x" * 300 + b"\n" + b"data: {broken\n\n"
    conn_events = run_response([body], n=None)
    assert final(conn_events).message.text == "hi"
    decoded = decode_response(body, config=Config(max_event_size=200))
    assert decoded.message.text == "hi" and decoded.done_received


def test_surrogate_pairs_split_across_chunks_are_rejoined() -> None:
    # The JSON escapes of one emoji, cut between two chunks by the server.
    body = b'data: {"choices":[{"index":0,"delta":{"content":"a\\ud83d"}}]}\n\n'
    body += b'data: {"choices":[{"index":0,"delta":{"content":"\\ude00b"},"finish_reason":"stop"}]}\n\n'
    message = final(run_response([body])).message
    assert message.text == "a\U0001f600b"
    message.text.encode("utf-8")


def test_json_body_with_a_bom() -> None:
    body = b"\xef\xbb\xbf" + json.dumps(COMPLETION).encode()
    for content_type in ("application/json", ""):
        assert final(run_response([body], content_type=content_type)).message.text == "Let me check."


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


def test_json_body_past_the_cap_is_not_kept() -> None:
    from anyagent_core import Config, Connection, StartTurn, UserMessage

    conn = Connection(ENDPOINT_FOR_CAP, config=Config(max_body_size=1000))
    conn.send(StartTurn(model="m", messages=[UserMessage(content="x")], stream=False))
    conn.receive_head(200, [("Content-Type", "application/json")])
    for _ in range(50):
        conn.receive_data(b" " * 1000)
    assert len(conn._reader._body) <= 2000  # type: ignore[union-attr]
    with pytest.raises(RemoteProtocolError, match="max_body_size"):
        conn.next_event()


def test_folded_choices_of_a_json_body_keep_their_tool_calls_apart() -> None:
    def choice(index: int, call_id: str, value: int) -> dict[str, Any]:
        call = {"id": call_id, "type": "function", "function": {"name": "f", "arguments": json.dumps({"a": value})}}
        return {"index": index, "message": {"tool_calls": [call]}, "finish_reason": "tool_calls"}

    body = json.dumps({"choices": [choice(0, "c0", 1), choice(1, "c1", 2)]}).encode()
    decoded = decode_response(body, content_type="application/json", single_choice=True)
    blocks = [b for b in decoded.message.content if type(b) is ToolUseBlock]
    assert [(b.id, thaw_json(b.input)) for b in blocks] == [("c0", {"a": 1}), ("c1", {"a": 2})]


def test_error_body_with_a_bom() -> None:
    body = b'\xef\xbb\xbf{"error":{"message":"context too long","type":"invalid_request_error","code":400}}'
    error = final(run_response([body], status=400, content_type="application/json")).error
    assert error is not None and (error.message, error.type, error.code) == (
        "context too long",
        "invalid_request_error",
        400,
    )


def test_sniffing_a_long_blank_prefix_is_linear_and_bounded() -> None:
    body = json.dumps(COMPLETION).encode()
    reads = [b"\n"] * 20_000 + [body]
    assert final(run_response(reads, content_type="")).message.text == "Let me check."
    from anyagent_core import Config

    with pytest.raises(RemoteProtocolError, match="max_event_size"):
        decode_response([b" " * 100] * 20, content_type="", config=Config(max_event_size=1000))


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
