"""The search tools' bounds: glob ending its worker thread once its call is stopped (timed out
or cancelled), not walking on."""

from __future__ import annotations

import pathlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, Literal

import anyio
import anyio.to_thread
import attrs
import pytest

from anyagent_httpx import ToolContext, ToolError, builtin_tool, run_tool
from anyagent_httpx._tools._builtin import _search
from anyagent_httpx._tools._builtin._paths import walk

pytestmark = pytest.mark.anyio


@pytest.fixture
def root(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


async def grep(context: ToolContext, **arguments: Any) -> str:
    result = await run_tool(builtin_tool("grep"), "call-1", arguments, context)
    assert not result.is_error, result.content
    assert isinstance(result.content, str)
    return result.content


def write(path: pathlib.Path, size: int, first: bytes = b"needle\n") -> None:
    """A file of ``size`` bytes: ``first`` (as much of it as fits), then a line of ``x``."""
    path.write_bytes((first + b"x" * size)[:size])


# -- stopping ------------------------------------------------------------------------------------


@attrs.define
class Held:
    """A tool's thread held at its first call of one of its module's helpers (``read_bytes``, or
    each entry of ``walk``) until ``release``; ``late`` counts the calls (the entries) it made
    once the test marked the call ``over``, and ``outcome`` records how the tool's function ended."""

    entered: threading.Event = attrs.field(factory=threading.Event)
    released: threading.Event = attrs.field(factory=threading.Event)
    over: threading.Event = attrs.field(factory=threading.Event)
    done: threading.Event = attrs.field(factory=threading.Event)
    late: int = 0
    outcome: list[object] = attrs.field(factory=list)

    def hold(self) -> None:
        if self.over.is_set():
            self.late += 1
        if not self.entered.is_set():
            self.entered.set()
            assert self.released.wait(30)

    def reads(self, real: Callable[..., bytes]) -> Callable[..., bytes]:
        def held_read(*args: Any, **kwargs: Any) -> bytes:
            self.hold()
            return real(*args, **kwargs)

        return held_read

    def walks(self, real: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        def held_walk(*args: Any, **kwargs: Any) -> Iterator[Any]:
            for entry in real(*args, **kwargs):
                self.hold()
                yield entry

        return held_walk

    def watched(self, name: str) -> Any:
        tool = builtin_tool(name)

        def recorded(**arguments: Any) -> Any:
            try:
                value = tool.function(**arguments)
            except BaseException as exc:
                self.outcome.append(exc)
                raise
            else:
                self.outcome.append(value)
                return value
            finally:
                self.done.set()

        return attrs.evolve(tool, function=recorded)


async def stop_while_held(
    patch: Callable[[Held], None],
    name: str,
    arguments: dict[str, Any],
    context: ToolContext,
    how: Literal["timeout", "cancel"],
) -> Held:
    """Run the tool, stop its call (a timeout or a cancellation) while its thread is held, then
    release the thread and wait for the tool's function to end. A timeout that fired before the
    thread was held (a loaded machine) proves nothing about stopping a tool at work: the call is
    made again with a longer one."""
    for timeout in (0.05, 0.5, 5, 30):
        held = Held()
        patch(held)
        tool = held.watched(name)
        if how == "timeout":
            result = await run_tool(tool, "call-1", arguments, context, default_timeout=timeout)
            assert result.content == f"{name} timed out after {timeout:g}s"
        else:
            async with anyio.create_task_group() as group:
                group.start_soon(run_tool, tool, "call-1", arguments, context)
                assert await anyio.to_thread.run_sync(held.entered.wait, 30)
                group.cancel_scope.cancel()
        held.over.set()
        held.released.set()
        assert await anyio.to_thread.run_sync(held.done.wait, 30)
        if held.entered.is_set():
            return held
    pytest.fail(f"{name} never reached its first file within the timeouts tried")


def ended_stopped(held: Held, name: str) -> None:
    assert held.entered.is_set()
    assert held.late == 0
    [outcome] = held.outcome
    assert isinstance(outcome, ToolError)
    assert str(outcome) == f"{name} stopped: its call was cancelled or timed out"


@pytest.mark.parametrize("how", ["timeout", "cancel"])
async def test_a_stopped_glob_walks_no_further(
    root: pathlib.Path, monkeypatch: pytest.MonkeyPatch, how: Literal["timeout", "cancel"]
) -> None:
    for index in range(50):
        (root / f"d{index:02}").mkdir()
        (root / f"d{index:02}" / "x.py").write_text("")
    real = walk  # what _search calls

    def patch(held: Held) -> None:
        monkeypatch.setattr(_search, "walk", held.walks(real))

    held = await stop_while_held(patch, "glob", {"pattern": "**/*.py"}, ToolContext(cwd=root), how)
    ended_stopped(held, "glob")
