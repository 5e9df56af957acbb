"""A rule-based state machine over Connection's public API: any sequence of calls either works
or raises a ProtocolError (never anything else), ERROR is sticky, and events only come out of a
response that has a head."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from anyagent_core import (
    NEED_DATA,
    PAUSED,
    Connection,
    MessageComplete,
    ProtocolError,
    RemoteProtocolError,
    StartTurn,
    State,
    UserMessage,
)
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
