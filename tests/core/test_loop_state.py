"""The agent loop's transition tables (``_agent/_loop_state.py``): complete, and what the loop does."""

from __future__ import annotations

import re
import typing

import pytest

from anyagent_core import Action, AgentLoop, LocalProtocolError, LoopSettings, LoopState, StartTurn, UserMessage
from anyagent_core._agent import _loop
from anyagent_core._agent._loop_state import ACCEPTS, AFTER_ACTION, WAITING_FOR, transition_rows


def test_every_action_type_has_a_next_state() -> None:
    assert set(AFTER_ACTION) == set(typing.get_args(Action))


def test_every_state_accepts_something_and_says_what_it_waits_for() -> None:
    assert set(ACCEPTS) == set(LoopState) == set(WAITING_FOR)
    assert all(ACCEPTS[state] for state in LoopState)


def test_the_module_docstring_table_is_the_tables() -> None:
    doc = _loop.__doc__ or ""
    block = doc.split("<!-- loop-transitions -->")[1].split("<!-- /loop-transitions -->")[0]
    rows = [line for line in block.strip().splitlines() if not line.startswith("=")][1:]
    documented = {re.match(r"``(\w+)``", row).group(1) for row in rows}  # type: ignore[union-attr]
    assert documented == {name for name, _ in transition_rows()}


def test_a_loop_moves_as_the_tables_say() -> None:
    loop = AgentLoop(LoopSettings(template=StartTurn(model="m", messages=())))
    states = [loop.state]
    loop.start(UserMessage(content="hi"))
    action = loop.next_action()
    states.append(loop.state)
    assert states == [LoopState.IDLE, AFTER_ACTION[type(action)]]
    assert AFTER_ACTION[type(action)] is LoopState.AWAITING_RESPONSE
    with pytest.raises(LocalProtocolError, match=re.escape(WAITING_FOR[LoopState.AWAITING_RESPONSE])):
        loop.next_action()
