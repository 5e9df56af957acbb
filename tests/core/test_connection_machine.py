"""A rule-based state machine over Connection's public API: any sequence of calls either works
or raises a ProtocolError (never anything else), ERROR is sticky, and events only come out of a
response that has a head."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from anyagent_core import (
    NEED_DATA,
    PAUSED,
    Connection,
    MessageComplete,
    ProtocolError,
    RemoteProtocolError,
    Request,
    StartTurn,
    State,
    UserMessage,
)
from anyagent_core._state import Input
from tests.helpers import ENDPOINT

PIECES = [
    b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n',
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
    b"data: [DONE]\n\n",
    b": ping\n\n",
    b'{"choices":[{"index":0,"message":{"content":"whole"},"finish_reason":"stop"}]}',
    b'{"error":{"message":"nope"}}',
    b"data: {broken\n\n",
    b"\r\n",
    b"data: ",
]


class ConnectionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.conn = Connection(ENDPOINT)
        self.completes = 0
        self.errored = False

    def call(self, fn: object, *args: object) -> object:
        before = (self.conn.our_state, self.conn.their_state)
        try:
            return fn(*args)  # type: ignore[operator]
        except ProtocolError as exc:
            after = (self.conn.our_state, self.conn.their_state)
            if isinstance(exc, RemoteProtocolError) or State.ERROR in after:
                self.errored = True
            else:
                assert after == before, "a refused call must not move the state"
            return exc

    @rule(n=st.sampled_from([None, 1, 2]), stream=st.booleans())
    def send(self, n: int | None, stream: bool) -> None:
        self.call(self.conn.send, StartTurn(model="m", messages=[UserMessage(content="x")], n=n, stream=stream))

    @rule()
    def send_failed(self) -> None:
        self.conn.send_failed()
        self.errored = True

    @rule(
        status=st.sampled_from([100, 200, 204, 404, 429, 500, 99, 600]),
        content_type=st.sampled_from(["text/event-stream", "application/json", "", "text/html"]),
    )
    def receive_head(self, status: int, content_type: str) -> None:
        self.call(self.conn.receive_head, status, [("Content-Type", content_type)])

    @rule(data=st.sampled_from(PIECES) | st.binary(max_size=30))
    def receive_data(self, data: bytes) -> None:
        self.call(self.conn.receive_data, data)

    @rule()
    def eof(self) -> None:
        self.call(self.conn.receive_data, b"")

    @rule()
    def next_event(self) -> None:
        state = self.conn.their_state
        result = self.call(self.conn.next_event)
        if isinstance(result, ProtocolError):
            return
        assert state in (State.SEND_BODY, State.MESSAGE_DONE, State.DONE)
        if state is State.DONE:
            assert result is PAUSED
        if type(result) is MessageComplete:
            self.completes += 1
            assert self.conn.their_state is State.MESSAGE_DONE
        if result is PAUSED:
            assert self.conn.their_state is State.DONE
        if result is NEED_DATA:
            assert self.conn.their_state in (State.SEND_BODY, State.MESSAGE_DONE)

    @rule()
    def start_next_cycle(self) -> None:
        self.call(self.conn.start_next_cycle)

    @precondition(lambda self: self.errored)
    @rule()
    def error_is_sticky(self) -> None:
        for fn, args in (
            (self.conn.send, (StartTurn(model="m", messages=[UserMessage(content="x")]),)),
            (self.conn.receive_head, (200, [])),
            (self.conn.start_next_cycle, ()),
        ):
            try:
                fn(*args)
            except ProtocolError:
                pass
            else:
                raise AssertionError(f"{fn.__name__} worked on a connection in ERROR")

    @invariant()
    def states_are_known(self) -> None:
        assert self.conn.our_state in (State.IDLE, State.DONE, State.ERROR)
        assert self.conn.their_state in tuple(State)


TestConnectionMachine = ConnectionMachine.TestCase


def _reference_next_event(conn: Connection) -> object:
    """next_event() as _read_more alone reads it: the reference for next_event's inlined checks."""
    events = conn._events
    if not events:
        signal = conn._read_more()
        if signal is not None:
            return signal
    event = events.popleft()
    if type(event) is MessageComplete:
        conn._cstate.process_input(Input.MESSAGE_COMPLETE)
    return event


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.sampled_from([None, 2])),
        st.tuples(st.just("send_failed")),
        st.tuples(st.just("receive_head"), st.sampled_from([200, 404, 99]), st.sampled_from(["text/event-stream", ""])),
        st.tuples(st.just("receive_data"), st.lists(st.sampled_from(PIECES), max_size=3).map(b"".join)),
        st.tuples(st.just("next_event")),
        st.tuples(st.just("next_event")),
        st.tuples(st.just("start_next_cycle")),
    ),
    max_size=30,
)


def _run_ops(ops: list[tuple[object, ...]], *, reference: bool) -> list[object]:
    conn = Connection(ENDPOINT)
    seen: list[object] = []
    for op in ops:
        try:
            if op[0] == "send":
                n = op[1]
                assert n is None or isinstance(n, int)
                result: object = conn.send(StartTurn(model="m", messages=[UserMessage(content="x")], n=n))
            elif op[0] == "send_failed":
                conn.send_failed()
                result = None
            elif op[0] == "receive_head":
                status, content_type = op[1], op[2]
                assert isinstance(status, int) and isinstance(content_type, str)
                conn.receive_head(status, [("content-type", content_type)])
                result = None
            elif op[0] == "receive_data":
                data = op[1]
                assert isinstance(data, bytes)
                conn.receive_data(data)
                result = None
            elif op[0] == "next_event":
                result = _reference_next_event(conn) if reference else conn.next_event()
            else:
                conn.start_next_cycle()
                result = None
        except ProtocolError as exc:
            result = (type(exc).__name__, str(exc))
        seen.append((result if not isinstance(result, Request) else "request", conn.our_state, conn.their_state))
    return seen


@given(ops=_OPS)
@example(  # an error after a good event in one read: raised once that event is out
    ops=[
        ("send", None),
        ("receive_head", 200, "text/event-stream"),
        ("receive_data", PIECES[0] + PIECES[6]),
        ("next_event",),
        ("next_event",),
        ("next_event",),
    ]
)
def test_next_event_answers_as_its_reference_reading_does(ops: list[tuple[object, ...]]) -> None:
    assert _run_ops(ops, reference=False) == _run_ops(ops, reference=True)
