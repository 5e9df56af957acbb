"""``AgentLoop.set_tools``: the tools offered from the next run on, replaced between runs (a tool
server's list changed), never during one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import AgentLoop, LoopTool, ToolSpec
from tests.core.test_loop import answer, drain, make, started

NAMES = st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True), unique=True, max_size=6)


def tools(names: list[str]) -> list[LoopTool]:
    return [LoopTool(spec=ToolSpec(name=name)) for name in names]


def finish(loop: AgentLoop) -> None:
    loop.receive_response(answer("done"))
    drain(loop)


@given(before=NAMES, after=NAMES)
def test_the_next_run_offers_the_new_tools_and_only_them(before: list[str], after: list[str]) -> None:
    loop, _ = make(tools=tools(before))
    started(loop)
    finish(loop)
    loop.set_tools(tools(after))
    request = started(loop, "again")
    assert [spec.name for spec in request.turn.tools] == after
    assert all(loop.tool(name) is not None for name in after)
    assert all(loop.tool(name) is None for name in set(before) - set(after))


def test_tools_cannot_change_during_a_run_and_names_stay_unique() -> None:
    loop, _ = make(tools=tools(["a"]))
    started(loop)
    with pytest.raises(RuntimeError, match="between runs only"):
        loop.set_tools(tools(["b"]))
    finish(loop)
    with pytest.raises(ValueError, match="two tools are named 'b'"):
        loop.set_tools(tools(["b", "b"]))
    assert loop.tool("a") is not None  # a refused change changes nothing
