"""Connection end to end: the pull API, state handling, misuse, and malformed input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import (
    NEED_DATA,
    PAUSED,
    Config,
    Connection,
    Endpoint,
    LocalProtocolError,
    MessageComplete,
    ProtocolError,
    RemoteProtocolError,
    StartTurn,
    State,
    StreamDone,
    TextDelta,
    ToolCall,
    UserMessage,
)
from anyagent_core._connection import _content_type
from anyagent_core._util import snippet
from tests.helpers import ENDPOINT, get_all_events, run_response, started_connection
from tests.strategies import ChatStream, Framing, chat_streams, chunkings, encode_stream, framings


def text_stream(*pieces: str, done: bool = True) -> bytes:
    body = b"".join(
        b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": p}}]}).encode() + b"\n\n" for p in pieces
    )
    finish = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    body += b"data: " + json.dumps(finish).encode() + b"\n\n"
    return body + (b"data: [DONE]\n\n" if done else b"")


def states(conn: Connection) -> tuple[State, State]:
    # Read through a function so the type checker does not narrow the properties between calls.
    return conn.our_state, conn.their_state


def test_full_cycle_and_states() -> None:
    conn = Connection(ENDPOINT)
    assert states(conn) == (State.IDLE, State.IDLE)
    request = conn.send(StartTurn(model="m", messages=[UserMessage(content="hi")]))
    assert request.url == "http://127.0.0.1:9/v1/chat/completions"
    assert states(conn) == (State.DONE, State.SEND_RESPONSE)
    conn.receive_head(200, [(b"content-type", b"text/event-stream; charset=utf-8")])
    assert states(conn)[1] is State.SEND_BODY
    assert conn.next_event() is NEED_DATA
    conn.receive_data(text_stream("Hel", "lo"))
    events = get_all_events(conn)
    assert [e.text for e in events if type(e) is TextDelta] == ["Hel", "lo"]
    assert type(events[-1]) is MessageComplete
    assert events[-1].message.text == "Hello"
    # The message is complete but the body is not at EOF: keep draining.
    assert states(conn)[1] is State.MESSAGE_DONE
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b": trailing comment\n\n")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    assert conn.next_event() is PAUSED
    assert conn.next_event() is PAUSED
    assert states(conn) == (State.DONE, State.DONE)
    conn.start_next_cycle()
    assert states(conn) == (State.IDLE, State.IDLE)
    # A second exchange on the same connection.
    conn.send(StartTurn(model="m", messages=[UserMessage(content="again")]))
    conn.receive_head(200, {"Content-Type": "text/event-stream"})
    conn.receive_data(text_stream("2"))
    conn.receive_data(b"")
    assert [e.text for e in get_all_events(conn) if type(e) is TextDelta] == ["2"]
    assert conn.next_event() is PAUSED


def test_events_come_one_at_a_time_before_eof() -> None:
    conn = started_connection()
    conn.receive_head(200, [("Content-Type", "text/event-stream")])
    conn.receive_data(b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\ndata: {"choi')
    assert conn.next_event() == TextDelta(text="a")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b'ces":[{"index":0,"delta":{"content":"b"}}]}\n\n')
    assert conn.next_event() == TextDelta(text="b")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: c.receive_head(200, []), "RESPONSE_HEAD"),
        (lambda c: c.receive_data(b"x"), "before receive_head"),
        (lambda c: c.next_event(), "before a response head"),
        (lambda c: c.start_next_cycle(), "START_NEXT_CYCLE"),
    ],
)
def test_misuse_before_send(call: object, match: str) -> None:
    conn = Connection(ENDPOINT)
    with pytest.raises(LocalProtocolError, match=match):
        call(conn)  # type: ignore[operator]


def test_send_twice_is_misuse_and_sticky() -> None:
    conn = started_connection()
    with pytest.raises(LocalProtocolError, match="SEND_REQUEST"):
        conn.send(StartTurn(model="m", messages=[UserMessage(content="x")]))
    assert states(conn)[0] is State.ERROR
    with pytest.raises(LocalProtocolError, match="ERROR"):
        conn.receive_head(200, [])


def test_send_requires_a_start_turn() -> None:
    with pytest.raises(LocalProtocolError, match="StartTurn"):
        Connection(ENDPOINT).send("hello")  # type: ignore[arg-type]


def test_send_failed_makes_the_connection_unusable() -> None:
    conn = started_connection()
    conn.send_failed()
    assert states(conn)[0] is State.ERROR
    with pytest.raises(LocalProtocolError, match="send failed"):
        conn.receive_head(200, [])


def test_informational_status_is_misuse() -> None:
    conn = started_connection()
    with pytest.raises(LocalProtocolError, match="final HTTP status"):
        conn.receive_head(100, [])
    assert states(conn)[1] is State.ERROR


@pytest.mark.parametrize("status", [600, 999])
def test_a_status_past_599_is_the_server_s_error(status: int) -> None:
    conn = started_connection()
    with pytest.raises(RemoteProtocolError, match=f"status {status}"):
        conn.receive_head(status, [("Content-Type", "text/event-stream")])
    assert states(conn)[1] is State.ERROR
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"data: x\n\n")


def test_data_after_eof_is_misuse() -> None:
    conn = started_connection()
    conn.receive_head(200, [("Content-Type", "text/event-stream")])
    conn.receive_data(b"")
    conn.receive_data(b"")
    with pytest.raises(LocalProtocolError, match="after EOF"):
        conn.receive_data(b"data: x\n\n")


def test_start_next_cycle_before_the_end_is_misuse() -> None:
    conn = started_connection()
    conn.receive_head(200, [("Content-Type", "text/event-stream")])
    conn.receive_data(text_stream("x"))
    get_all_events(conn)
    with pytest.raises(LocalProtocolError, match="START_NEXT_CYCLE"):
        conn.start_next_cycle()
    with pytest.raises(LocalProtocolError, match="ERROR"):
        conn.receive_data(b"data: more\n\n")
    # Our misuse broke it, not the server: the error says so, and the queued events are gone.
    with pytest.raises(LocalProtocolError, match="after a misuse"):
        conn.next_event()


def test_protocol_error_comes_after_the_good_events_and_is_sticky() -> None:
    conn = started_connection()
    conn.receive_head(200, [("Content-Type", "text/event-stream")])
    good = b'data: {"choices":[{"index":0,"delta":{"content":"ok"}}]}\n\n'
    bad = b'data: {"choices": [oops]}\n\n'
    conn.receive_data(good + bad)
    assert conn.next_event() == TextDelta(text="ok")
    with pytest.raises(RemoteProtocolError) as info:
        conn.next_event()
    error = info.value
    assert error.offset == len(good)
    assert error.line == 3
    assert error.snippet is not None and "oops" in error.snippet
    assert "invalid JSON in an SSE data event" in str(error)
    assert f"byte {len(good)}" in str(error)
    assert states(conn)[1] is State.ERROR
    with pytest.raises(RemoteProtocolError):
        conn.next_event()
    with pytest.raises(LocalProtocolError, match="ERROR"):
        conn.receive_data(b"more")


def test_oversized_event_is_a_remote_error() -> None:
    from anyagent_core import Config

    conn = Connection(ENDPOINT, config=Config(max_event_size=1000))
    conn.send(StartTurn(model="m", messages=[UserMessage(content="x")]))
    conn.receive_head(200, [("Content-Type", "text/event-stream")])
    conn.receive_data(b"data: " + b"a" * 5000)
    with pytest.raises(RemoteProtocolError, match="max_event_size"):
        conn.next_event()


def test_oversized_json_body_is_a_remote_error() -> None:
    from anyagent_core import Config

    conn = Connection(ENDPOINT, config=Config(max_body_size=1000))
    conn.send(StartTurn(model="m", messages=[UserMessage(content="x")], stream=False))
    conn.receive_head(200, [("Content-Type", "application/json")])
    conn.receive_data(b"{" + b" " * 5000)
    with pytest.raises(RemoteProtocolError, match="max_body_size"):
        conn.next_event()


def test_protocol_error_is_abstract() -> None:
    with pytest.raises(TypeError):
        ProtocolError("x")


def test_request_never_shows_the_key() -> None:
    conn = Connection(Endpoint(base_url="https://api.example.com/v1/", api_key="sk-secret-123"))
    request = conn.send(StartTurn(model="m", messages=[UserMessage(content="hi")]))
    assert ("Authorization", "Bearer sk-secret-123") in request.headers
    assert "sk-secret-123" not in repr(request)
    assert "sk-secret-123" not in repr(conn)
    assert "sk-secret-123" not in repr(conn.endpoint)
    assert "sk-secret-123" not in str(request.redacted_headers())
    assert request.target == "/v1/chat/completions"


# ---- properties -----------------------------------------------------------------------------


@given(data=st.data(), stream=chat_streams(), framing=framings)
def test_rechunking_yields_identical_events(data: st.DataObject, stream: ChatStream, framing: Framing) -> None:
    """Any re-chunking gives exactly the same events (stronger than equal after merging)."""
    body = encode_stream(stream.chunks, framing)
    whole = run_response([body])
    wrap = data.draw(st.sampled_from([bytes, bytearray, memoryview]), label="read type")
    assert run_response([wrap(r) for r in data.draw(chunkings(body), label="reads")]) == whole
    final = whole[-1]
    assert type(final) is MessageComplete
    assert final.message.text == stream.content
    assert final.message.stop_reason == stream.finish_reason
    assert final.message.refusal == stream.refusal
    calls = [(e.id, e.name, e.arguments) for e in whole if type(e) is ToolCall]
    assert calls == stream.tool_calls
    assert all(e.error is None for e in whole if type(e) is ToolCall)
    assert StreamDone() in whole


def _mutate(body: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    data = bytearray(body)
    for kind, position, piece in edits:
        if not data:
            data += piece
            continue
        at = position % len(data)
        if kind == 0:
            del data[at : at + len(piece) + 1]
        elif kind == 1:
            data[at:at] = piece
        else:
            data[at : at + len(piece)] = piece
    return bytes(data)


def _outcome(reads: list[bytes], status: int, content_type: str) -> object:
    try:
        return run_response(reads, status=status, content_type=content_type)
    except RemoteProtocolError as exc:
        return ("RemoteProtocolError", exc.msg)


statuses = st.sampled_from([200, 200, 200, 400, 429, 500])
content_types = st.sampled_from(["text/event-stream", "application/json", "text/plain", ""])


@given(body=st.binary(max_size=600), status=statuses, content_type=content_types, data=st.data())
def test_arbitrary_bytes_parse_or_raise_remote_protocol_error(
    body: bytes, status: int, content_type: str, data: st.DataObject
) -> None:
    whole = _outcome([body], status, content_type)
    assert _outcome(data.draw(chunkings(body), label="reads"), status, content_type) == whole


@given(
    stream=chat_streams(),
    framing=framings,
    edits=st.lists(
        st.tuples(
            st.integers(0, 2),
            st.integers(0, 10_000),
            st.sampled_from(
                [b"\n", b"\r", b"{", b"}", b'"', b"data: ", b"[DONE]", b"\x00", b"\xff", b"null", b":", b"[", b"0"]
            ),
        ),
        min_size=1,
        max_size=4,
    ),
    status=statuses,
    content_type=content_types,
    data=st.data(),
)
def test_mutated_streams_parse_or_raise_remote_protocol_error(
    stream: ChatStream,
    framing: Framing,
    edits: list[tuple[int, int, bytes]],
    status: int,
    content_type: str,
    data: st.DataObject,
) -> None:
    body = _mutate(encode_stream(stream.chunks, framing), edits)
    whole = _outcome([body], status, content_type)
    assert _outcome(data.draw(chunkings(body), label="reads"), status, content_type) == whole
    if not isinstance(whole, tuple):
        assert isinstance(whole, list)
        assert type(whole[-1]) is MessageComplete


# ---- regressions ----------------------------------------------------------------------------


def test_memoryview_reads_of_a_crlf_stream() -> None:
    body = text_stream("hello").replace(b"\n", b"\r\n")
    events = run_response([memoryview(body)])
    final = events[-1]
    assert type(final) is MessageComplete and final.message.text == "hello" and not final.truncated


def test_runaway_nesting_is_a_remote_error_after_the_good_events() -> None:
    deep = b'{"choices":[],"usage":' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}"
    conn = started_connection()
    conn.receive_head(200, [("Content-Type", "text/event-stream")])
    conn.receive_data(b'data: {"choices":[{"index":0,"delta":{"content":"ok"}}]}\n\ndata: ' + deep + b"\n\n")
    conn.receive_data(b"")
    assert conn.next_event() == TextDelta(text="ok")
    with pytest.raises(RemoteProtocolError, match="too deeply"):
        conn.next_event()
    with pytest.raises(RemoteProtocolError):
        conn.next_event()  # sticky, and never a silent NEED_DATA loop


def test_the_cap_keeps_good_events_of_the_same_read() -> None:
    from anyagent_core import Config

    good = b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
    bad = b"data: " + b"x" * 300 + b"\n\n"
    for reads in ([good + bad], [good, bad]):
        conn = Connection(ENDPOINT, config=Config(max_event_size=200))
        conn.send(StartTurn(model="m", messages=[UserMessage(content="x")]))
        conn.receive_head(200, [("Content-Type", "text/event-stream")])
        for data in reads:
            conn.receive_data(data)
        assert conn.next_event() == TextDelta(text="hi")
        with pytest.raises(RemoteProtocolError, match="longer than max_event_size") as info:
            get_all_events(conn)
        assert info.value.snippet is not None and info.value.snippet.startswith("data: xxx")


def test_misuse_clears_queued_events_and_is_blamed_on_us() -> None:
    conn = started_connection()
    conn.receive_head(200, [("Content-Type", "text/event-stream")])
    conn.receive_data(text_stream("a", "b"))
    assert conn.next_event() == TextDelta(text="a")
    with pytest.raises(LocalProtocolError):
        conn.send(StartTurn(model="m", messages=[UserMessage(content="x")]))
    with pytest.raises(LocalProtocolError, match="after a misuse"):
        conn.next_event()


def test_a_bad_second_head_stops_reading() -> None:
    conn = started_connection()
    conn.receive_head(200, [("Content-Type", "text/event-stream")])
    with pytest.raises(LocalProtocolError):
        conn.receive_head(99, [])
    with pytest.raises(LocalProtocolError, match="ERROR"):
        conn.receive_data(b"data: x\n\n")


@pytest.mark.parametrize("headers", [[("content-type", 5)], [("content-type",)], [3]])
def test_malformed_headers_are_refused_before_the_state_moves(headers: object) -> None:
    conn = started_connection()
    with pytest.raises(LocalProtocolError, match="header"):
        conn.receive_head(200, headers)  # type: ignore[arg-type]
    assert states(conn)[1] is State.ERROR


def test_n_in_extra_body_keeps_choices_apart() -> None:
    conn = Connection(ENDPOINT)
    conn.send(StartTurn(model="m", messages=[UserMessage(content="x")], extra_body={"n": 2}))
    conn.receive_head(200, [("Content-Type", "text/event-stream")])
    chunks = [
        {"choices": [{"index": 0, "delta": {"content": "A"}, "finish_reason": "stop"}]},
        {"choices": [{"index": 1, "delta": {"content": "B"}, "finish_reason": "stop"}]},
    ]
    conn.receive_data(b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks))
    conn.receive_data(b"")
    final = get_all_events(conn)[-1]
    assert type(final) is MessageComplete
    assert [m.text for m in final.choices] == ["A", "B"]


def test_no_credential_in_any_repr() -> None:
    endpoint = Endpoint(
        base_url="https://user:pw-secret@gw.test/v1?key=url-secret",
        api_key="  sk-secret\n",
        headers=[("Ocp-Apim-Subscription-Key", "hdr-secret"), ("Cookie", "s=cookie-secret")],
    )
    assert endpoint.api_key == "sk-secret"
    conn = Connection(endpoint)
    request = conn.send(StartTurn(model="m", messages=[UserMessage(content="hi")]))
    shown = repr(endpoint) + repr(conn) + repr(request) + str(request.redacted_headers())
    for secret in ("pw-secret", "url-secret", "sk-secret", "hdr-secret", "cookie-secret"):
        assert secret not in shown
    assert "gw.test" in shown and "application/json" in shown


@st.composite
def multi_choice_bodies(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, str]]]:
    """Several choices' chunks interleaved at random, as servers do for n>1."""
    from tests.strategies import texts

    count = draw(st.integers(2, 3))
    queues: list[list[dict[str, object]]] = []
    expected = []
    for index in range(count):
        pieces = draw(st.lists(texts, max_size=5))
        finish = draw(st.sampled_from(["stop", "length"]))
        chunks: list[dict[str, object]] = [
            {"choices": [{"index": index, "delta": {"content": piece}, "finish_reason": None}]} for piece in pieces
        ]
        chunks.append({"choices": [{"index": index, "delta": {}, "finish_reason": finish}]})
        queues.append(chunks)
        expected.append(("".join(pieces), finish))
    order = draw(st.permutations([i for i, q in enumerate(queues) for _ in q]))
    body = b"".join(b"data: " + json.dumps(queues[i].pop(0)).encode() + b"\n\n" for i in order)
    return body + b"data: [DONE]\n\n", expected


@given(case=multi_choice_bodies(), data=st.data())
def test_interleaved_choices_are_kept_apart_whatever_the_chunking(
    case: tuple[bytes, list[tuple[str, str]]], data: st.DataObject
) -> None:
    body, expected = case
    whole = run_response([body], n=len(expected))
    assert run_response(data.draw(chunkings(body), label="reads"), n=len(expected)) == whole
    final = whole[-1]
    assert type(final) is MessageComplete
    assert [(m.text, m.stop_reason) for m in final.choices] == expected
    for index, (text, _) in enumerate(expected):
        assert "".join(e.text for e in whole if type(e) is TextDelta and e.choice == index) == text


def test_wrong_argument_types_are_misuse() -> None:
    conn = started_connection()
    with pytest.raises(LocalProtocolError, match="headers"):
        conn.receive_head(200, None)  # type: ignore[arg-type]
    conn = started_connection()
    conn.receive_head(200, [])
    with pytest.raises(LocalProtocolError, match="takes bytes"):
        conn.receive_data(None)  # type: ignore[arg-type]


_header_names = st.sampled_from(["content-type", "Content-Type", "CONTENT-TYPE", "x-request-id", ""])
_header_values = st.sampled_from(["", "text/event-stream", "application/json; charset=utf-8", "x"])
_header_items = st.one_of(
    st.tuples(_header_names, _header_values),
    st.tuples(_header_names.map(str.encode), _header_values.map(str.encode)),
    st.tuples(_header_names, _header_values.map(str.encode)),
    st.lists(_header_names, min_size=2, max_size=2),
    st.tuples(_header_names),
    st.tuples(_header_names, st.integers()),
    st.integers(),
)


def _content_type_or_error(headers: object) -> tuple[str, str]:
    try:
        return ("value", _content_type(headers))  # type: ignore[arg-type]
    except LocalProtocolError as exc:
        return ("error", str(exc))


@given(items=st.lists(_header_items, max_size=5), as_tuple=st.booleans())
def test_header_pairs_are_read_as_the_general_loop_reads_them(items: list[object], as_tuple: bool) -> None:
    # A list (or tuple) of (str, str) pairs is read by a loop of its own; any other form of
    # item sends it to the general loop. An iterator of the same items always takes the
    # general loop: both give the same value, or the same error.
    headers = tuple(items) if as_tuple else items
    fast = _content_type_or_error(headers)
    general = _content_type_or_error(iter(items))
    assert fast == general


def test_the_first_non_empty_content_type_is_the_one_read() -> None:
    headers = [("Content-Type", ""), ("x", "y"), ("content-type", "text/event-stream"), ("CONTENT-TYPE", "a/b")]
    assert _content_type(headers) == "text/event-stream"
    assert _content_type([("x", "y")]) == ""
    with pytest.raises(LocalProtocolError, match="str or bytes"):
        _content_type([("content-type", "text/event-stream"), ("x", 5)])  # type: ignore[list-item]


# ---- after the end of the response ([DONE]) ----------------------------------------------


def after_done(
    tail: bytes,
    reads: list[int] | None = None,
    *,
    eof_with_last_read: bool = False,
    answer: bytes | None = None,
    config: Config | None = None,
    repeated_eofs: int = 0,
) -> tuple[list[object], RemoteProtocolError | None]:
    """The events of an answer (``text_stream("Hello")`` unless given) followed by ``tail``
    (fed cut at ``reads``), and the error. With ``eof_with_last_read`` the EOF is fed right
    after the last read, before its events are pulled; ``repeated_eofs`` more follow it."""
    body = (text_stream("Hello") if answer is None else answer) + tail
    conn = started_connection(config=config)
    conn.receive_head(200, [("Content-Type", "text/event-stream")])
    events: list[object] = []
    pieces = [body[a:b] for a, b in zip([0, *(reads or [])], [*(reads or []), len(body)], strict=True)]
    try:
        for number, piece in enumerate([*pieces, b""]):
            conn.receive_data(piece)
            if eof_with_last_read and number == len(pieces) - 1:
                conn.receive_data(b"")
            if number == len(pieces):
                for _ in range(repeated_eofs):
                    conn.receive_data(b"")
            while (event := conn.next_event()) is not NEED_DATA and event is not PAUSED:
                events.append(event)
    except RemoteProtocolError as exc:
        assert states(conn)[1] is State.ERROR
        return events, exc
    assert conn.next_event() is PAUSED and conn.next_event() is PAUSED
    return events, None


@pytest.mark.parametrize(
    "tail",
    [
        b"",
        b"\n",
        b"\r\n\r\n",
        b": keep-alive\n\n",
        b"event: ping\n\n",
        b"id: 7\nretry: 5\n\n",
        b"data:\n\n",
        b"data: [DONE]\n\n",
        b"data: [DONE]\n\n: ping\n\ndata: [DONE]\n\n",
    ],
)
def test_what_carries_no_data_or_repeats_the_end_after_done_is_ignored(tail: bytes) -> None:
    events, error = after_done(tail)
    assert error is None and type(events[-1]) is MessageComplete


@pytest.mark.parametrize(
    ("tail", "named"),
    [  # what follows [DONE] and what the error names (at the first event of the tail but a repeated end)
        (b'data: {"choices":[{"index":0,"delta":{"content":" more"}}]}\n\n', '{"choices":[{"index":0,"delta"'),
        (b"data: [DONE]\n\ndata: late\n\n", "late"),
        (b"event: done\ndata: [DONE]\n\n", "[DONE]"),
        (b"data: bye\n\n", "bye"),
        (b'event: error\ndata: {"error":{"message":"late"}}\n\n', '{"error":{"message":"late"}}'),
        (b'error: {"message":"late"}\n\n', '{"message":"late"}'),
        (b'{"choices":[]}\n\n', '{"choices":[]}'),
    ],
)
def test_data_after_done_is_a_protocol_error_naming_it(tail: bytes, named: str) -> None:
    events, error = after_done(tail)
    # The complete answer came first; then the error, naming what followed and where.
    assert [e.text for e in events if type(e) is TextDelta] == ["Hello"]
    assert type(events[-1]) is MessageComplete and events[-1].message.text == "Hello"
    assert error is not None and "after the end of the response" in str(error)
    assert error.snippet is not None and named in error.snippet
    repeated_end = b"data: [DONE]\n\n"
    skipped = len(repeated_end) if tail.startswith(repeated_end) and named != "[DONE]" else 0
    assert error.offset == len(text_stream("Hello")) + skipped


@pytest.mark.parametrize(
    "tail",
    [  # an incomplete event: a line cut off, or whole lines but not the blank line that ends it
        b'data: {"choices":[{"index":0,"delta":{"content":"cut',
        b"data: x\n",
        b"event: e\ndata: x\n: ping\ndata: y\r\n",
        b"event: e\nda",
    ],
)
@pytest.mark.parametrize("eof_with_last_read", [False, True])
@pytest.mark.parametrize("reads", [None, [3]])
def test_an_incomplete_event_after_done_is_a_protocol_error(
    tail: bytes, reads: list[int] | None, eof_with_last_read: bool
) -> None:
    events, error = after_done(tail, reads, eof_with_last_read=eof_with_last_read)
    assert type(events[-1]) is MessageComplete
    assert error is not None and "incomplete" in str(error) and "after the end of the response" in str(error)
    assert f"{len(tail)} bytes cut off" in str(error) and error.offset == len(text_stream("Hello"))
    # Named as the other errors after the end are: its line, and what it held.
    assert error.line == 7 and error.snippet == snippet(tail)


@given(data=st.data())
def test_data_after_done_is_reported_however_the_bytes_were_split(data: st.DataObject) -> None:
    tail = b": ping\n\ndata: late\n\n"
    size = len(text_stream("Hello")) + len(tail)
    reads = sorted(set(data.draw(st.lists(st.integers(1, size - 1), max_size=6))))
    events, error = after_done(tail, reads, eof_with_last_read=data.draw(st.booleans()))
    assert [type(e) for e in events][-1] is MessageComplete and "Hello" in events[-1].message.text  # type: ignore[attr-defined]
    assert error is not None and error.snippet == "late" and error.line == 9


# Lines that may follow [DONE]: nothing, keep-alives, fields without data, the end marker again
# (also as another event or with other spacing), data, errors, raw JSON, a BOM that is no longer
# at the start, and lines long enough to break a small max_event_size.
_LINES_AFTER_DONE = st.one_of(
    st.sampled_from(
        [
            b"",
            b":",
            b": ping",
            b"data: [DONE]",
            b"data:[DONE]",
            b"data: [DONE] ",
            b"event: done",
            b"event: error",
            b"id: 7",
            b"retry: 5",
            b"data:",
            b"data",
            b"data: late",
            b"error: boom",
            b"error:",
            b'{"choices":[]}',
            b"x: y",
            b"\xef\xbb\xbf",
        ]
    ),
    st.integers(0, 200).map(lambda n: b"data: " + b"x" * n),
    st.integers(0, 200).map(lambda n: b":" + b"c" * n),
)
_NEWLINES = st.sampled_from([b"\n", b"\r\n", b"\r"])


def _read_alike(
    result: tuple[list[object], RemoteProtocolError | None],
) -> tuple[list[object], tuple[str, int | None, int | None, str | None, str | None] | None]:
    """What must not depend on the reads: the events, and the error as it is reported."""
    events, error = result
    if error is None:
        return events, None
    return events, (str(error), error.offset, error.line, error.snippet, error.hint)


@given(
    lines=st.lists(st.tuples(_LINES_AFTER_DONE, _NEWLINES), max_size=8),
    newline=_NEWLINES,
    bom=st.booleans(),
    cap=st.integers(100, 400),
    data=st.data(),
)
def test_what_follows_done_reads_alike_however_split_and_whenever_the_eof_comes(
    lines: list[tuple[bytes, bytes]], newline: bytes, bom: bool, cap: int, data: st.DataObject
) -> None:
    # The reference: the whole body and its EOF in one go, which leaves nothing for a later
    # read (the reads after [DONE] return early when nothing new came; this is the path that
    # never does). Any split, with the EOF in the last read or after it and repeated, and
    # one byte at a time, must give the same events and the same error.
    tail = b"".join(line + end for line, end in lines)
    if data.draw(st.booleans(), label="cut"):
        tail = tail[: data.draw(st.integers(0, len(tail)), label="cut at")]  # an event cut at any byte
    answer = (b"\xef\xbb\xbf" if bom else b"") + text_stream("Hello").replace(b"\n", newline)
    size = len(answer) + len(tail)
    config = Config(max_event_size=cap)
    whole = _read_alike(after_done(tail, answer=answer, config=config, eof_with_last_read=True))
    reads = sorted(set(data.draw(st.lists(st.integers(1, size - 1), max_size=8), label="reads")))
    split = after_done(
        tail,
        reads,
        answer=answer,
        config=config,
        eof_with_last_read=data.draw(st.booleans(), label="eof with the last read"),
        repeated_eofs=data.draw(st.integers(0, 2), label="repeated eofs"),
    )
    assert _read_alike(split) == whole
    assert _read_alike(after_done(tail, list(range(1, size)), answer=answer, config=config)) == whole
    last = whole[0][-1]
    assert type(last) is MessageComplete and last.message.text == "Hello"
