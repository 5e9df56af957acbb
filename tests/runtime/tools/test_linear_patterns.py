"""grep's regex and glob's pattern come from the model: they match in linear time, so a pattern
built to backtrack cannot freeze the process (``re`` would hold the GIL past any timeout)."""

from __future__ import annotations

import pathlib

import pytest

from anyagent_httpx import ToolContext
from tests.runtime.tools.test_builtin import error, ok

pytestmark = pytest.mark.anyio

# With re, "(a+)+$" doubles its work per character: 100,000 of them would run for ever.
LONG = 100_000


async def test_grep_with_a_catastrophic_pattern_finishes(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.txt").write_text("a" * LONG + "!\n" + "a" * LONG + "\n")
    ctx = ToolContext(cwd=tmp_path)
    found = await ok("grep", {"pattern": "(a+)+$"}, ctx)
    assert found.startswith("a.txt:2:aaa") and "a.txt:1:" not in found
    nested = await ok("grep", {"pattern": "^(a|aa)*(a|aa)*(a|aa)*b$", "ignore_case": True}, ctx)
    assert nested == "no lines match '^(a|aa)*(a|aa)*(a|aa)*b$'"


async def test_grep_refuses_patterns_that_need_backtracking(tmp_path: pathlib.Path) -> None:
    ctx = ToolContext(cwd=tmp_path)
    for pattern in (r"(a)\1", "(?=a)", "(?<!a)b"):
        message = await error("grep", {"pattern": pattern}, ctx)
        assert "invalid regular expression" in message and "backreferences and lookaround" in message


async def test_a_glob_of_many_stars_finishes(tmp_path: pathlib.Path) -> None:
    # 12 stars over a 250-character name: O(n**12) steps for a backtracking matcher.
    (tmp_path / ("a" * 250)).write_text("x\n")
    ctx = ToolContext(cwd=tmp_path)
    stars = "*a" * 12
    assert await ok("glob", {"pattern": stars + "b"}, ctx) == f"no paths match {stars + 'b'!r}"
    assert await ok("glob", {"pattern": stars}, ctx) == "a" * 250
    assert await ok("grep", {"pattern": "x", "glob": stars + "b"}, ctx) == "no lines match 'x'"
    assert "invalid glob pattern" in await error("glob", {"pattern": "[z-a]"}, ctx)
