"""``ToolContext``: its paths resolved once."""

from __future__ import annotations

import pathlib

import attrs
import pytest

from anyagent_httpx import ToolContext

pytestmark = pytest.mark.anyio


def test_tool_context_resolves_its_paths(tmp_path: pathlib.Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    ctx = ToolContext(cwd=tmp_path / "link")
    assert ctx.cwd == (tmp_path / "real").resolve()
    assert ctx.roots == (ctx.cwd,)
    other = ToolContext(cwd=tmp_path / "real", roots=(tmp_path / "real", tmp_path / "link", tmp_path))
    assert other.roots == ((tmp_path / "real").resolve(), (tmp_path / "real").resolve(), tmp_path.resolve())


def test_a_context_for_a_call_keeps_the_resolved_paths(tmp_path: pathlib.Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    base = ToolContext(cwd=tmp_path / "link", roots=[tmp_path / "link", tmp_path], session_id="s1")
    call = base.for_call("call_7")
    assert call == attrs.evolve(base, tool_use_id="call_7")
    assert call.cwd is base.cwd and call.roots is base.roots  # taken as they are, not resolved again
    assert call.cwd == (tmp_path / "real").resolve()
