"""``run_tool``: worker threads, timeouts, cancellation, errors as results, result conversion and caps."""

from __future__ import annotations

import dataclasses
import pathlib
import threading
import time
from typing import Any

import anyio
import anyio.lowlevel
import attrs
import pytest

from anyagent_core import ImageBlock, TextBlock, ToolResultBlock
from anyagent_httpx import ToolContext, ToolError, run_tool, tool
from anyagent_httpx._tools._run import MAX_RESULT_CHARS, truncate_middle
from tests.runtime.tools.support import Unit, context

pytestmark = pytest.mark.anyio


async def test_sync_tool_runs_in_a_worker_thread_without_blocking(tmp_path: pathlib.Path) -> None:
    loop_thread = threading.get_ident()
    release = threading.Event()
    seen: list[int] = []

    @tool
    def blocking() -> str:
        seen.append(threading.get_ident())
        release.wait(10)
        return "done"

    results: list[ToolResultBlock] = []

    async def call() -> None:
        results.append(await run_tool(blocking, "c1", {}, context(tmp_path)))

    async with anyio.create_task_group() as group:
        group.start_soon(call)
        ticks = 0
        while not seen:  # the loop keeps running while the tool blocks its thread
            await anyio.sleep(0.01)
            ticks += 1
        await anyio.sleep(0.05)
        assert not results
        release.set()
    assert seen[0] != loop_thread
    assert results == [ToolResultBlock(tool_use_id="c1", content="done")]


async def test_async_tool_is_awaited_with_its_context(tmp_path: pathlib.Path) -> None:
    @tool
    async def where(path: str, context: ToolContext) -> str:
        await anyio.lowlevel.checkpoint()
        return f"{context.cwd}|{context.tool_use_id}|{path}"

    ctx = ToolContext(cwd=tmp_path, tool_use_id="c9")
    result = await run_tool(where, "c9", {"path": "x"}, ctx)
    assert result == ToolResultBlock(tool_use_id="c9", content=f"{ctx.cwd}|c9|x")


async def test_async_timeout_is_prompt(tmp_path: pathlib.Path) -> None:
    cancelled = False

    @tool(timeout=0.2)
    async def slow() -> str:
        nonlocal cancelled
        try:
            await anyio.sleep(30)
        except anyio.get_cancelled_exc_class():
            cancelled = True
            raise
        return "late"

    result = await run_tool(slow, "c1", {}, context(tmp_path))
    assert result == ToolResultBlock(tool_use_id="c1", content="slow timed out after 0.2s", is_error=True)
    assert cancelled  # stopped by the timeout, not left to finish its 30 s


async def test_sync_timeout_is_prompt(tmp_path: pathlib.Path) -> None:
    stop = threading.Event()
    finished = threading.Event()

    @tool(timeout=0.2)
    def slow_sync() -> str:
        for _ in range(3000):  # small steps, so the abandoned thread ends once the test is over
            if stop.is_set():
                break
            time.sleep(0.01)
        finished.set()
        return "late"

    result = await run_tool(slow_sync, "c1", {}, context(tmp_path))
    still_running = not finished.is_set()
    stop.set()
    assert result == ToolResultBlock(tool_use_id="c1", content="slow_sync timed out after 0.2s", is_error=True)
    assert still_running  # the result came while the thread still ran: it was abandoned, not awaited


@pytest.mark.parametrize("how", ["timeout", "cancel"])
async def test_a_stopped_call_tells_its_sync_tool(tmp_path: pathlib.Path, how: str) -> None:
    started = threading.Event()
    ended = threading.Event()
    seen: list[str] = []

    @tool(timeout=0.05 if how == "timeout" else None)
    def patient(context: ToolContext) -> str:
        started.set()
        try:
            for _ in range(100_000):  # small steps, each asking whether the call is still wanted
                if context.stopped:
                    seen.append("stopped")
                    context.check_stopped("patient")
                time.sleep(0.001)
            return "late"
        except ToolError as exc:
            seen.append(str(exc))
            raise
        finally:
            ended.set()

    if how == "timeout":
        result = await run_tool(patient, "c1", {}, context(tmp_path))
        assert result == ToolResultBlock(tool_use_id="c1", content="patient timed out after 0.05s", is_error=True)
    else:
        async with anyio.create_task_group() as group:
            group.start_soon(run_tool, patient, "c1", {}, context(tmp_path))
            assert await anyio.to_thread.run_sync(started.wait, 30)
            group.cancel_scope.cancel()
    assert await anyio.to_thread.run_sync(ended.wait, 60)
    assert seen == ["stopped", "patient stopped: its call was cancelled or timed out"]


async def test_a_call_that_ends_is_not_stopped(tmp_path: pathlib.Path) -> None:
    given: list[ToolContext] = []

    @tool
    def keeps(context: ToolContext) -> str:
        given.append(context)
        return "kept"

    @tool
    def fails(context: ToolContext) -> str:
        given.append(context)
        raise ToolError("no")

    ctx = context(tmp_path)
    assert (await run_tool(keeps, "c1", {}, ctx)).content == "kept"
    assert (await run_tool(fails, "c2", {}, ctx)).content == "no"
    assert [call.stopped for call in given] == [False, False]
    assert given[0] is not ctx and given[0] == ctx  # a context of its own, with the same fields
    given[0].check_stopped("keeps")  # does not raise


async def test_cancellation_propagates(tmp_path: pathlib.Path) -> None:
    @tool
    async def forever() -> str:
        await anyio.sleep(30)
        return "never"

    with anyio.move_on_after(0.1) as scope:
        await run_tool(forever, "c1", {}, context(tmp_path))
        pytest.fail("run_tool returned although it was cancelled")
    assert scope.cancelled_caught


@tool
def fails_cleanly(reason: str) -> str:
    raise ToolError(f"no such city: {reason}")


@tool
def crashes(value: int) -> str:
    return str(1 // value)


@tool
async def crashes_async() -> str:
    raise KeyError("k")


async def test_exceptions_become_error_results(tmp_path: pathlib.Path) -> None:
    ctx = context(tmp_path)
    assert await run_tool(fails_cleanly, "a", {"reason": "Atlantis"}, ctx) == ToolResultBlock(
        tool_use_id="a", content="no such city: Atlantis", is_error=True
    )
    assert await run_tool(crashes, "b", {"value": 0}, ctx) == ToolResultBlock(
        tool_use_id="b", content="crashes failed: ZeroDivisionError: integer division or modulo by zero", is_error=True
    )
    assert await run_tool(crashes_async, "c", {}, ctx) == ToolResultBlock(
        tool_use_id="c", content="crashes_async failed: KeyError: 'k'", is_error=True
    )
    result = await run_tool(crashes, "d", {"value": "x"}, ctx)
    assert result == ToolResultBlock(
        tool_use_id="d", content="Invalid arguments for crashes: value: expected integer, got string 'x'", is_error=True
    )
    assert "Traceback" not in str(result.content)


@tool
def exits(code: int) -> str:
    raise SystemExit(code)  # what argparse does on bad arguments


@tool
async def exits_async() -> str:
    raise SystemExit(2)


async def test_system_exit_becomes_an_error_result(tmp_path: pathlib.Path) -> None:
    ctx = context(tmp_path)
    assert await run_tool(exits, "a", {"code": 2}, ctx) == ToolResultBlock(
        tool_use_id="a", content="exits failed: SystemExit: 2", is_error=True
    )
    assert await run_tool(exits_async, "b", {}, ctx) == ToolResultBlock(
        tool_use_id="b", content="exits_async failed: SystemExit: 2", is_error=True
    )


@attrs.frozen
class Reading:
    city: str
    unit: Unit


@dataclasses.dataclass
class Pair:
    a: int
    b: list[str]


class Opaque:
    def __str__(self) -> str:
        return "opaque!"


@pytest.mark.parametrize(
    ("value", "content", "is_error"),
    [
        ("text", "text", False),
        (None, "", False),
        (TextBlock(text="t"), (TextBlock(text="t"),), False),
        (
            [TextBlock(text="t"), ImageBlock(url="data:image/png;base64,AA==")],
            (TextBlock(text="t"), ImageBlock(url="data:image/png;base64,AA==")),
            False,
        ),
        (ToolResultBlock(tool_use_id="other", content="bad", is_error=True), "bad", True),
        (b"raw", "r returned bytes, but tools must return text", True),
        ({"a": [1, "é"]}, '{"a": [1, "é"]}', False),
        (42, "42", False),
        (Reading(city="Oslo", unit=Unit.CELSIUS), '{"city": "Oslo", "unit": "c"}', False),
        (Pair(a=1, b=["x"]), '{"a": 1, "b": ["x"]}', False),
        ([Opaque()], '["opaque!"]', False),
        (Opaque(), '"opaque!"', False),
    ],
)
async def test_return_value_conversion(tmp_path: pathlib.Path, value: object, content: Any, is_error: bool) -> None:
    @tool(name="r")
    async def returns() -> object:
        return value

    assert await run_tool(returns, "id", {}, context(tmp_path)) == ToolResultBlock(
        tool_use_id="id", content=content, is_error=is_error
    )


async def test_long_results_are_cut_in_the_middle(tmp_path: pathlib.Path) -> None:
    text = "a" * 60_000 + "MIDDLE" + "z" * 60_000

    @tool
    def big() -> str:
        return text

    result = await run_tool(big, "id", {}, context(tmp_path))
    assert isinstance(result.content, str)
    assert len(result.content) <= MAX_RESULT_CHARS
    assert result.content.startswith("a" * 49_000)
    assert result.content.endswith("z" * 49_000)
    assert "MIDDLE" not in result.content
    head, _, rest = result.content.partition("\n[... ")
    count, _, tail = rest.partition(" characters omitted ...]\n")
    assert len(head) + int(count) + len(tail) == len(text)


@pytest.mark.parametrize("length", [0, 10, 99, 100, 101, 1000, 123_456])
def test_truncate_middle_bounds(length: int) -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(length))
    cut = truncate_middle(text, 100)
    if length <= 100:
        assert cut == text
    else:
        assert len(cut) <= 100
        head, _, rest = cut.partition("\n[... ")
        count, _, tail = rest.partition(" characters omitted ...]\n")
        assert text.startswith(head)
        assert text.endswith(tail)
        assert len(head) + int(count) + len(tail) == length
