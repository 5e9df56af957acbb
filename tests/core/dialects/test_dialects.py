"""The dialect seam (``_dialects``): the table, and a toy second dialect that ``Connection``
drives end to end through the same framing as the OpenAI one.

The toy speaks a tiny Anthropic-Messages-like shape: ``POST {base_url}/messages`` with a JSON
body, answered by SSE events ``message_start``, ``content_block_delta`` (text or thinking),
``message_delta`` (stop reason, usage) and ``message_stop``, with ``ping`` keep-alives and
``event: error`` reports; a non-streaming answer is one JSON message, and an error body is
``{"type": "error", "error": {"type": ..., "message": ...}}``.
"""

from __future__ import annotations

import json
from typing import Any, Final

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import (
    NEED_DATA,
    PAUSED,
    AssistantBlock,
    AssistantMessage,
    Config,
    Connection,
    Endpoint,
    Event,
    Finished,
    LocalProtocolError,
    MessageComplete,
    ReasoningDelta,
    RemoteProtocolError,
    Request,
    ServerError,
    StartTurn,
    State,
    TextBlock,
    TextDelta,
    ThinkingBlock,
    Truncated,
    Usage,
    UserMessage,
    parse_request_body,
)
from anyagent_core._dialects import DEFAULT_DIALECT, DIALECTS, Dialect
from anyagent_core._sse import SSEMessage, encode_sse
from tests.helpers import split_at

# ---- the toy dialect ------------------------------------------------------------------------


class ToyAssembler:
    def __init__(self, *, status: int, single_choice: bool) -> None:
        self.status = status
        self.parts: list[tuple[type[TextBlock | ThinkingBlock], list[str]]] = []
        self.model: str | None = None
        self.stop: str | None = None
        self.usage: Usage | None = None
        self.error: ServerError | None = None

    def _add(self, kind: type[TextBlock | ThinkingBlock], text: str) -> None:
        if self.parts and self.parts[-1][0] is kind:
            self.parts[-1][1].append(text)
        else:
            self.parts.append((kind, [text]))

    def chunk(self, obj: Any, out: list[Event], source: Any, raw: str) -> bool:
        kind = obj.get("type")
        if kind == "message_start":
            self.model = obj["message"]["model"]
        elif kind == "content_block_delta":
            delta = obj["delta"]
            if delta["type"] == "text_delta":
                self._add(TextBlock, delta["text"])
                out.append(TextDelta(text=delta["text"]))
            elif delta["type"] == "thinking_delta":
                self._add(ThinkingBlock, delta["thinking"])
                out.append(ReasoningDelta(text=delta["thinking"]))
            else:
                raise LocalProtocolError(f"unknown delta type {delta['type']!r}")
        elif kind == "message_delta":
            self.stop = obj["delta"]["stop_reason"]
            self.usage = Usage(completion_tokens=obj["usage"]["output_tokens"])
            out.append(self.usage)
        elif kind == "message_stop":
            self._finish(out, truncated=False)
            return True
        return False

    def other_event(self, message: SSEMessage, out: list[Event]) -> bool | None:
        if message.event == "error":
            self._report(json.loads(message.data)["error"], message.data, out)
            return False
        return False if not message.data.strip() else None

    def end_of_stream(self, out: list[Event], *, discarded: int) -> None:
        self._finish(out, truncated=self.error is None)

    def json_body(self, obj: Any, text: str, out: list[Event]) -> None:
        self.model, self.stop = obj["model"], obj["stop_reason"]
        for block in obj["content"]:
            self._add(TextBlock, block["text"])
        self._finish(out, truncated=False)

    def error_body(self, body: bytes, out: list[Event], *, cut: bool) -> None:
        self._report(json.loads(body)["error"], body.decode(), out)
        self._finish(out, truncated=False)

    def _report(self, error: dict[str, str], body: str, out: list[Event]) -> None:
        self.error = ServerError(message=error["message"], type=error["type"], status=self.status, body=body)
        out.append(self.error)

    def partial(self) -> AssistantMessage:
        blocks: list[AssistantBlock] = [
            TextBlock(text="".join(p)) if k is TextBlock else ThinkingBlock(thinking="".join(p)) for k, p in self.parts
        ]
        return AssistantMessage(content=blocks, model=self.model, stop_reason=self.stop, usage=self.usage)

    def _finish(self, out: list[Event], *, truncated: bool) -> None:
        if truncated:
            out.append(Truncated(reason="the stream ended before message_stop"))
        if self.stop is not None:
            out.append(Finished(reason=self.stop))
        message = self.partial()
        out.append(
            MessageComplete(
                message=message, choices=(message,), done_received=not truncated, truncated=truncated, error=self.error
            )
        )


class ToyMessages:
    name: Final = "toy-messages"
    assembler = ToyAssembler

    def write_request(self, turn: StartTurn, endpoint: Endpoint, config: Config) -> Request:
        messages = [{"role": "user", "content": m.content} for m in turn.messages if type(m) is UserMessage]
        payload = {"model": turn.model, "max_tokens": turn.max_tokens or 1024, "messages": messages}
        payload["stream"] = turn.stream
        headers = (("content-type", "application/json"), ("x-api-key", endpoint.api_key or ""))
        body = json.dumps(payload, separators=(",", ":")).encode()
        return Request(method="POST", url=endpoint.base_url + "/messages", headers=headers, body=body)

    def parse_request_body(self, body: bytes | str, *, config: Config | None = None) -> StartTurn:
        payload = json.loads(body)
        messages = [UserMessage(content=m["content"]) for m in payload["messages"]]
        return StartTurn(
            model=payload["model"], messages=messages, max_tokens=payload["max_tokens"], stream=payload["stream"]
        )

    def single_choice(self, turn: StartTurn) -> bool:
        return True


TOY: Dialect = ToyMessages()
ENDPOINT = Endpoint(base_url="http://toy.invalid/v1", api_key="k")
TURN = StartTurn(model="toy-1", messages=[UserMessage(content="hi")], max_tokens=64)


def event(kind: str, **fields: Any) -> bytes:
    return encode_sse(json.dumps({"type": kind, **fields}), event=kind)


STREAM: Final = b"".join(
    [
        event("message_start", message={"id": "msg_1", "model": "toy-1"}),
        b"event: ping\ndata:\n\n",
        event("content_block_delta", index=0, delta={"type": "thinking_delta", "thinking": "Greet "}),
        event("content_block_delta", index=0, delta={"type": "thinking_delta", "thinking": "back."}),
        event("content_block_delta", index=1, delta={"type": "text_delta", "text": "Hel"}),
        event("content_block_delta", index=1, delta={"type": "text_delta", "text": "lo 🌍"}),
        event("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 5}),
        event("message_stop"),
        b": after the end\n\nevent: ping\n\n",  # after the end: what carries no data is drained
    ]
)


def exchange(
    conn: Connection, body: bytes, cuts: list[int], *, status: int = 200, content_type: str = "text/event-stream"
) -> list[Event]:
    """One full cycle: the body fed in the pieces ``cuts`` make, every event pulled, to PAUSED."""
    conn.receive_head(status, [("Content-Type", content_type)])
    pieces = iter([*split_at(body, cuts), b""])
    events: list[Event] = []
    while True:
        got = conn.next_event()
        if got is NEED_DATA:
            conn.receive_data(next(pieces))
        elif got is PAUSED:
            return events
        else:
            events.append(got)


# ---- the table ------------------------------------------------------------------------------


def test_the_table_holds_the_default_dialect_under_its_name() -> None:
    assert DIALECTS == {"openai-chat": DEFAULT_DIALECT}
    assert DEFAULT_DIALECT.name == "openai-chat"
    assert Connection(ENDPOINT).dialect is DEFAULT_DIALECT
    assert Connection(ENDPOINT, config=Config(max_body_size=100)).dialect is DEFAULT_DIALECT
    assert DEFAULT_DIALECT.parse_request_body is parse_request_body
    with pytest.raises(TypeError):
        DIALECTS["toy"] = TOY  # type: ignore[index]


def test_the_default_dialect_round_trips_a_request() -> None:
    request = Connection(ENDPOINT).send(TURN)
    assert request.url == "http://toy.invalid/v1/chat/completions"
    assert DEFAULT_DIALECT.parse_request_body(request.body) == TURN


# ---- a second dialect, end to end -----------------------------------------------------------


def test_a_second_dialect_drives_the_connection_end_to_end() -> None:
    conn = Connection(ENDPOINT, dialect=TOY)
    request = conn.send(TURN)
    assert (request.method, request.url) == ("POST", "http://toy.invalid/v1/messages")
    assert json.loads(request.body) == {
        "model": "toy-1",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
    }
    assert ("x-api-key", "k") in request.headers
    assert TOY.parse_request_body(request.body) == TURN
    events = exchange(conn, STREAM, [])
    assert events[:5] == [
        ReasoningDelta(text="Greet "),
        ReasoningDelta(text="back."),
        TextDelta(text="Hel"),
        TextDelta(text="lo 🌍"),
        Usage(completion_tokens=5),
    ]
    assert events[5] == Finished(reason="end_turn")
    complete = events[6]
    assert type(complete) is MessageComplete
    assert len(events) == 7
    assert complete.message == AssistantMessage(
        content=[ThinkingBlock(thinking="Greet back."), TextBlock(text="Hello 🌍")],
        model="toy-1",
        stop_reason="end_turn",
        usage=Usage(completion_tokens=5),
    )
    assert (complete.done_received, complete.truncated, complete.error) == (True, False, None)
    assert (conn.our_state, conn.their_state) == (State.DONE, State.DONE)
    conn.start_next_cycle()
    assert (conn.our_state, conn.their_state) == (State.IDLE, State.IDLE)
    conn.send(TURN)
    assert exchange(conn, STREAM, [1, 2, 3])[-1] == complete  # the next cycle, byte by byte at first


def test_data_after_the_second_dialects_end_is_a_protocol_error() -> None:
    # The framing's rule, whatever the dialect's end marker: nothing with data may follow it.
    conn = Connection(ENDPOINT, dialect=TOY)
    conn.send(TURN)
    with pytest.raises(RemoteProtocolError, match="data after the end of the response") as info:
        exchange(conn, STREAM + b"event: ping\ndata: {not even json\n\n", [])
    assert info.value.snippet == "{not even json"


@given(cuts=st.lists(st.integers(0, len(STREAM)), max_size=40))
def test_the_second_dialect_does_not_depend_on_the_chunking(cuts: list[int]) -> None:
    whole = Connection(ENDPOINT, dialect=TOY)
    whole.send(TURN)
    chunked = Connection(ENDPOINT, dialect=TOY)
    chunked.send(TURN)
    assert exchange(chunked, STREAM, cuts) == exchange(whole, STREAM, [])


@given(cut=st.integers(0, len(STREAM)), pieces=st.lists(st.integers(0, len(STREAM)), max_size=10))
def test_a_cut_off_toy_stream_is_truncated_however_it_was_chunked(cut: int, pieces: list[int]) -> None:
    body = STREAM[: STREAM.index(b"event: message_stop")][:cut]
    conn = Connection(ENDPOINT, dialect=TOY)
    conn.send(TURN)
    events = exchange(conn, body, [p for p in pieces if p < cut])
    complete = events[-1]
    assert type(complete) is MessageComplete and complete.truncated
    assert Truncated(reason="the stream ended before message_stop") in events


def test_the_second_dialect_reads_json_bodies_error_bodies_and_error_events() -> None:
    conn = Connection(ENDPOINT, dialect=TOY)
    conn.send(attrs.evolve(TURN, stream=False))
    body = json.dumps({"model": "toy-1", "stop_reason": "end_turn", "content": [{"type": "text", "text": "ok"}]})
    events = exchange(conn, body.encode(), [3], content_type="application/json")
    assert events[-1] == MessageComplete(
        message=AssistantMessage(content=[TextBlock(text="ok")], model="toy-1", stop_reason="end_turn"),
        choices=(AssistantMessage(content=[TextBlock(text="ok")], model="toy-1", stop_reason="end_turn"),),
        done_received=True,
        truncated=False,
        error=None,
    )
    conn.start_next_cycle()
    conn.send(TURN)
    error = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    events = exchange(conn, error, [10], status=529, content_type="application/json")
    assert events[0] == ServerError(message="Overloaded", type="overloaded_error", status=529, body=error.decode())
    conn.start_next_cycle()
    conn.send(TURN)
    midstream = STREAM[: STREAM.index(b"event: message_delta")] + encode_sse(
        json.dumps({"error": {"type": "api_error", "message": "boom"}}), event="error"
    )
    events = exchange(conn, midstream, [61])
    assert [type(e) for e in events][-2:] == [ServerError, MessageComplete]
    last = events[-1]
    assert type(last) is MessageComplete and last.error is not None and last.error.message == "boom"
    assert not last.truncated


def test_the_second_dialect_reports_malformed_chunks_where_they_are() -> None:
    conn = Connection(ENDPOINT, dialect=TOY)
    conn.send(TURN)
    bad = event("content_block_delta", index=0, delta={"type": "image_delta"})
    conn.receive_head(200, [("content-type", "text/event-stream")])
    conn.receive_data(STREAM[: STREAM.index(b"event: content_block_delta")] + bad)
    with pytest.raises(RemoteProtocolError, match="unknown delta type 'image_delta'") as caught:
        conn.next_event()
    assert caught.value.line is not None and caught.value.line > 1
    assert conn.partial_message() == AssistantMessage(model="toy-1")
