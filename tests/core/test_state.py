"""The transition table: every (state, input) pair transitions as the table says or raises."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import LocalProtocolError
from anyagent_core._state import EVENT_TRIGGERED_TRANSITIONS, INPUT_SIDES, ConnectionState, Input, Side, State

CLIENT_STATES = list(EVENT_TRIGGERED_TRANSITIONS[Side.CLIENT])
SERVER_STATES = list(EVENT_TRIGGERED_TRANSITIONS[Side.SERVER])


@given(client=st.sampled_from(CLIENT_STATES), server=st.sampled_from(SERVER_STATES), inp=st.sampled_from(Input))
def test_every_state_input_pair_transitions_or_raises(client: State, server: State, inp: Input) -> None:
    cs = ConnectionState()
    cs.states = {Side.CLIENT: client, Side.SERVER: server}
    before = dict(cs.states)
    expected = {side: EVENT_TRIGGERED_TRANSITIONS[side][before[side]].get(inp) for side in INPUT_SIDES[inp]}
    if all(state is not None for state in expected.values()):
        cs.process_input(inp)
        for side in Side:
            assert cs.states[side] is expected.get(side, before[side])
    else:
        with pytest.raises(LocalProtocolError, match=inp.value):
            cs.process_input(inp)
        refusing = next(side for side in INPUT_SIDES[inp] if expected[side] is None)
        assert cs.states[refusing] is State.ERROR
        # Nothing else moved.
        for side in Side:
            if side is not refusing:
                assert cs.states[side] is before[side]


@given(inputs=st.lists(st.sampled_from(Input), max_size=30))
def test_error_is_sticky(inputs: list[Input]) -> None:
    cs = ConnectionState()
    for inp in inputs:
        try:
            cs.process_input(inp)
        except LocalProtocolError:
            errored = [side for side in Side if cs.states[side] is State.ERROR]
            assert errored
            for later in Input:
                with contextlib.suppress(LocalProtocolError):
                    cs.process_input(later)
                for side in errored:
                    assert cs.states[side] is State.ERROR
            return


def test_happy_path_is_a_cycle() -> None:
    cs = ConnectionState()
    for inp in (
        Input.SEND_REQUEST,
        Input.RESPONSE_HEAD,
        Input.MESSAGE_COMPLETE,
        Input.END_OF_BODY,
        Input.START_NEXT_CYCLE,
    ):
        cs.process_input(inp)
    assert cs.states == {Side.CLIENT: State.IDLE, Side.SERVER: State.IDLE}


def test_error_state_has_no_way_out() -> None:
    for side in Side:
        assert EVENT_TRIGGERED_TRANSITIONS[side][State.ERROR] == {}
