"""Every state transition of a ``Connection`` lives here, as data.

Theory of operation
-------------------
A connection carries one request/response exchange at a time, like an HTTP/1.1 connection
under h11. It tracks two sides: the CLIENT (us: the request) and the SERVER (them: the response).

* ``SEND_REQUEST`` (``Connection.send``) moves CLIENT IDLE -> DONE and SERVER IDLE ->
  SEND_RESPONSE: the request has been handed out and we wait for the response head.
* ``RESPONSE_HEAD`` (``receive_head``) moves SERVER SEND_RESPONSE -> SEND_BODY; the status and
  content type chose the body reader.
* ``MESSAGE_COMPLETE`` (the reader delivered ``MessageComplete``) moves SEND_BODY -> MESSAGE_DONE.
  The rest of the body is still drained, so a keep-alive connection can be reused.
* ``END_OF_BODY`` (EOF reached after the message) moves MESSAGE_DONE -> DONE.
* ``START_NEXT_CYCLE`` moves both sides from DONE back to IDLE.

Anything else is a misuse: the side named goes to ``ERROR`` and ``LocalProtocolError`` is
raised. ``ERROR`` is sticky. This file does not know about bytes, JSON or SSE.
"""

from __future__ import annotations

import enum
from typing import Final, final

from ._errors import LocalProtocolError

__all__ = [
    "EVENT_TRIGGERED_TRANSITIONS",
    "INPUT_SIDES",
    "ConnectionState",
    "Input",
    "Side",
    "State",
]


class Side(enum.Enum):
    CLIENT = "CLIENT"
    SERVER = "SERVER"

    def __repr__(self) -> str:
        return self.value

    # Members are singletons compared by identity, and Enum's own __hash__ is slow Python code:
    # these are the keys of every transition-table lookup.
    __hash__ = object.__hash__


class State(enum.Enum):
    """Where one side of a ``Connection`` is in its exchange (``Connection.our_state``, ``their_state``)."""

    IDLE = "IDLE"
    SEND_RESPONSE = "SEND_RESPONSE"
    SEND_BODY = "SEND_BODY"
    MESSAGE_DONE = "MESSAGE_DONE"
    DONE = "DONE"
    ERROR = "ERROR"

    def __repr__(self) -> str:
        return self.value

    # Members are singletons compared by identity, and Enum's own __hash__ is slow Python code:
    # these are the keys of every transition-table lookup.
    __hash__ = object.__hash__


class Input(enum.Enum):
    SEND_REQUEST = "SEND_REQUEST"
    RESPONSE_HEAD = "RESPONSE_HEAD"
    MESSAGE_COMPLETE = "MESSAGE_COMPLETE"
    END_OF_BODY = "END_OF_BODY"
    START_NEXT_CYCLE = "START_NEXT_CYCLE"

    def __repr__(self) -> str:
        return self.value

    # Members are singletons compared by identity, and Enum's own __hash__ is slow Python code:
    # these are the keys of every transition-table lookup.
    __hash__ = object.__hash__


#: EVENT_TRIGGERED_TRANSITIONS[side][state][input] -> new state.
EVENT_TRIGGERED_TRANSITIONS: Final[dict[Side, dict[State, dict[Input, State]]]] = {
    Side.CLIENT: {
        State.IDLE: {Input.SEND_REQUEST: State.DONE},
        State.DONE: {Input.START_NEXT_CYCLE: State.IDLE},
        State.ERROR: {},
    },
    Side.SERVER: {
        State.IDLE: {Input.SEND_REQUEST: State.SEND_RESPONSE},
        State.SEND_RESPONSE: {Input.RESPONSE_HEAD: State.SEND_BODY},
        State.SEND_BODY: {Input.MESSAGE_COMPLETE: State.MESSAGE_DONE},
        State.MESSAGE_DONE: {Input.END_OF_BODY: State.DONE},
        State.DONE: {Input.START_NEXT_CYCLE: State.IDLE},
        State.ERROR: {},
    },
}

#: Which sides an input moves. Every side listed must accept it, or nothing moves.
INPUT_SIDES: Final[dict[Input, tuple[Side, ...]]] = {
    Input.SEND_REQUEST: (Side.CLIENT, Side.SERVER),
    Input.RESPONSE_HEAD: (Side.SERVER,),
    Input.MESSAGE_COMPLETE: (Side.SERVER,),
    Input.END_OF_BODY: (Side.SERVER,),
    Input.START_NEXT_CYCLE: (Side.CLIENT, Side.SERVER),
}


def _combined() -> dict[tuple[State, State, Input], tuple[State, State]]:
    """The tables above folded into one lookup: (client, server, input) -> (client, server).
    Derived data: the tables stay the one source of truth."""
    combined = {}
    for client in EVENT_TRIGGERED_TRANSITIONS[Side.CLIENT]:
        for server in EVENT_TRIGGERED_TRANSITIONS[Side.SERVER]:
            for inp in Input:
                now = {Side.CLIENT: client, Side.SERVER: server}
                moved = dict(now)
                for side in INPUT_SIDES[inp]:
                    new_state = EVENT_TRIGGERED_TRANSITIONS[side][now[side]].get(inp)
                    if new_state is None:
                        break
                    moved[side] = new_state
                else:
                    combined[(client, server, inp)] = (moved[Side.CLIENT], moved[Side.SERVER])
    return combined


_COMBINED: Final = _combined()
_IDLE: Final = State.IDLE  # read from the class, a member is a descriptor call (~90 ns)


@final
class ConnectionState:
    """The two sides' states and the table-driven transitions between them."""

    __slots__ = ("client", "server")

    def __init__(self) -> None:
        self.client = self.server = _IDLE

    @property
    def states(self) -> dict[Side, State]:
        return {Side.CLIENT: self.client, Side.SERVER: self.server}

    @states.setter
    def states(self, value: dict[Side, State]) -> None:
        self.client = value[Side.CLIENT]
        self.server = value[Side.SERVER]

    def process_input(self, inp: Input) -> None:
        """Apply ``inp`` to every side it concerns, or raise and put the first refusing side in ERROR."""
        moved = _COMBINED.get((self.client, self.server, inp))
        if moved is not None:
            self.client, self.server = moved
            return
        for side in INPUT_SIDES[inp]:
            state = self.client if side is Side.CLIENT else self.server
            if EVENT_TRIGGERED_TRANSITIONS[side][state].get(inp) is None:
                self.process_error(side)
                raise LocalProtocolError(
                    f"can't handle {inp.value} when the {side.value} side is in state {state.value}"
                )
        raise AssertionError("unreachable: the combined table disagrees with the tables")  # pragma: no cover

    def process_error(self, side: Side) -> None:
        """Something failed on ``side``: it goes to ERROR for good."""
        if side is Side.CLIENT:
            self.client = State.ERROR
        else:
            self.server = State.ERROR
