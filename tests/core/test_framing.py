"""Body framing (``_framing.py``): JSON bodies and their caps, sniffing, draining after the end,
error bodies kept and drained, and where a malformed chunk is reported."""

from __future__ import annotations

import json

import pytest

from anyagent_core import (
    RemoteProtocolError,
    ServerError,
    StreamDone,
    TextDelta,
    Truncated,
    decode_response,
)
from tests.core.dialects.openai_chat.helpers import COMPLETION, delta, final, only, sse
from tests.helpers import ENDPOINT as ENDPOINT_FOR_CAP
from tests.helpers import run_response

# ---- error bodies --------------------------------------------------------------------------


def test_huge_error_body_is_cut_and_drained() -> None:
    body = b"x" * 200_000
    events = run_response(
        [body[i : i + 4096] for i in range(0, len(body), 4096)], status=500, content_type="text/plain"
    )
    error = only(events, ServerError)[0]
    assert error.body.endswith(" [...]")
    assert len(error.body) < 70_000


# ---- JSON bodies ---------------------------------------------------------------------------


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


# ---- event streams -------------------------------------------------------------------------


def test_data_after_done_is_an_error_not_dropped_unseen() -> None:
    answer = sse(delta({"content": "x"}, "stop"))
    body = answer + sse(delta({"content": "not dropped unseen"}), done=False) + b"data: {bad json\n\n"
    with pytest.raises(RemoteProtocolError, match="data after the end of the response") as info:
        run_response([body])
    assert info.value.offset == len(answer) and str(info.value.snippet).startswith('{"id": "chatcmpl-1"')
    # What carries no data may follow [DONE].
    events = run_response([answer + b": bye\n\n\nevent: ping\n\n"])
    assert final(events).message.text == "x" and events.count(StreamDone()) == 1


def test_truncation_says_how_much_was_discarded() -> None:
    events = run_response([sse(delta({"content": "a"}), done=False) + b'data: {"choi'])
    assert "12 bytes of an incomplete event were discarded" in only(events, Truncated)[0].reason
    events = run_response([sse(delta({"content": "a"}), done=False) + b'data: x\ndata: {"choi'])
    assert "20 bytes of an incomplete event were discarded" in only(events, Truncated)[0].reason


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


# ---- regressions ---------------------------------------------------------------------------


def test_what_follows_done_is_read_within_the_same_cap() -> None:
    from anyagent_core import Config

    answer = sse(delta({"content": "hi"}, "stop"))
    assert decode_response(answer + b": " + b"x" * 150 + b"\n\n", config=Config(max_event_size=200)).done_received
    with pytest.raises(RemoteProtocolError, match="max_event_size"):
        decode_response(answer + b": " + b"x" * 300 + b"\n\n", config=Config(max_event_size=200))
    with pytest.raises(RemoteProtocolError, match="data after the end of the response"):
        decode_response(answer + b"data: {broken\n\n", config=Config(max_event_size=200))


def test_json_body_with_a_bom() -> None:
    body = b"\xef\xbb\xbf" + json.dumps(COMPLETION).encode()
    for content_type in ("application/json", ""):
        assert final(run_response([body], content_type=content_type)).message.text == "Let me check."


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


def test_sniffing_a_long_blank_prefix_is_linear_and_bounded() -> None:
    body = json.dumps(COMPLETION).encode()
    reads = [b"\n"] * 20_000 + [body]
    assert final(run_response(reads, content_type="")).message.text == "Let me check."
    from anyagent_core import Config

    with pytest.raises(RemoteProtocolError, match="max_event_size"):
        decode_response([b" " * 100] * 20, content_type="", config=Config(max_event_size=1000))
