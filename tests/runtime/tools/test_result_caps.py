"""The output cap applies to a whole tool result, however many blocks it returns."""

from __future__ import annotations

import pathlib

import pytest

from anyagent_core import ImageBlock, TextBlock
from anyagent_httpx import tool
from anyagent_httpx._tools._run import MAX_RESULT_BLOCKS, MAX_RESULT_CHARS, run_tool
from tests.runtime.tools.support import context

pytestmark = pytest.mark.anyio

NOTE_ROOM = 200  # the note saying what was dropped


def text_of(content: object) -> str:
    assert isinstance(content, tuple)
    return "".join(block.text for block in content if isinstance(block, TextBlock))


async def test_many_text_blocks_share_one_cap(tmp_path: pathlib.Path) -> None:
    @tool
    def flood() -> list[TextBlock]:
        return [TextBlock(text=f"{index:04d}" + "x" * 49_996) for index in range(60)]  # 3 MB

    result = await run_tool(flood, "id", {}, context(tmp_path))
    text = text_of(result.content)
    assert len(text) <= MAX_RESULT_CHARS + NOTE_ROOM
    assert text.startswith("0000") and "0001" in text
    assert isinstance(result.content, tuple)
    last = result.content[-1]
    assert isinstance(last, TextBlock) and "58 more content blocks omitted" in last.text


async def test_many_small_blocks_are_capped_in_number(tmp_path: pathlib.Path) -> None:
    image = ImageBlock(url="https://example.com/a.png")

    @tool
    def flood() -> list[TextBlock | ImageBlock]:
        return [TextBlock(text="t"), image] * 10_000

    result = await run_tool(flood, "id", {}, context(tmp_path))
    assert isinstance(result.content, tuple)
    assert len(result.content) == MAX_RESULT_BLOCKS + 1
    last = result.content[-1]
    assert isinstance(last, TextBlock) and f"{20_000 - MAX_RESULT_BLOCKS} more content blocks omitted" in last.text


async def test_results_under_the_cap_are_unchanged(tmp_path: pathlib.Path) -> None:
    blocks = (TextBlock(text="a" * 1000), ImageBlock(url="https://example.com/a.png"), TextBlock(text="b"))

    @tool
    def small() -> list[TextBlock | ImageBlock]:
        return list(blocks)

    assert (await run_tool(small, "id", {}, context(tmp_path))).content == blocks
