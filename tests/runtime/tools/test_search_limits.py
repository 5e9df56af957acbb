"""The search tools' bounds: grep's budget of bytes read in one call, glob's walk ending once it
has the paths it lists (and going no deeper than its pattern reaches), the walk's order, and
glob and grep ending their worker thread once their call is stopped (timed out or cancelled),
not walking on."""

from __future__ import annotations

import pathlib
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any, Literal

import anyio
import anyio.to_thread
import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyagent_core.regex import compile_linear
from anyagent_httpx import ToolContext, ToolError, builtin_tool, run_tool
from anyagent_httpx._tools._builtin import _paths, _search
from anyagent_httpx._tools._builtin._paths import MAX_FILE_BYTES, read_bytes, walk

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


# -- the budget ----------------------------------------------------------------------------------


async def test_grep_stops_at_its_budget_and_says_what_it_searched(
    root: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_search, "MAX_GREP_BYTES", 350)
    for name in "abcde":
        write(root / f"{name}.txt", 100)
    found = await grep(ToolContext(cwd=root), pattern="needle")
    assert found.split("\n") == [
        "a.txt:1:needle",
        "b.txt:1:needle",
        "c.txt:1:needle",
        "[stopped at the 350-byte limit grep reads in one call, after searching 3 files (300 bytes read); "
        "narrow 'path' or 'glob' to search the rest]",
    ]
    # With nothing found, the answer says so, and still that the search stopped.
    assert (await grep(ToolContext(cwd=root), pattern="nothing")).split("\n") == [
        "no lines match 'nothing' in the 3 files searched",
        "[stopped at the 350-byte limit grep reads in one call, after searching 3 files (300 bytes read); "
        "narrow 'path' or 'glob' to search the rest]",
    ]
    # A budget the files fit in exactly is not a stop.
    monkeypatch.setattr(_search, "MAX_GREP_BYTES", 500)
    assert await grep(ToolContext(cwd=root), pattern="needle", glob="[ab].txt") == "a.txt:1:needle\nb.txt:1:needle"
    assert "[stopped" not in await grep(ToolContext(cwd=root), pattern="needle")


async def test_binary_files_count_as_read_and_files_over_the_cap_do_not(
    root: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_search, "MAX_GREP_BYTES", 250)
    write(root / "a.txt", 100)
    (root / "b.bin").write_bytes(b"needle\x00" + b"x" * 93)  # read (100 bytes), not searched
    with (root / "c.huge").open("wb") as file:  # skipped unread, as without a budget
        file.truncate(MAX_FILE_BYTES + 1)
    write(root / "d.txt", 50)
    write(root / "e.txt", 100)  # past the budget
    assert (await grep(ToolContext(cwd=root), pattern="needle")).split("\n") == [
        "a.txt:1:needle",
        "d.txt:1:needle",
        "[stopped at the 250-byte limit grep reads in one call, after searching 2 files (250 bytes read); "
        "narrow 'path' or 'glob' to search the rest]",
    ]


async def test_a_single_file_past_the_budget_is_a_stop_not_silence(
    root: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_search, "MAX_GREP_BYTES", 99)
    write(root / "a.txt", 100)
    assert (await grep(ToolContext(cwd=root), pattern="needle", path="a.txt")).split("\n") == [
        "no lines match 'needle' in the 0 files searched",
        "[stopped at the 99-byte limit grep reads in one call, after searching 0 files (0 bytes read); "
        "narrow 'path' or 'glob' to search the rest]",
    ]


def test_the_default_budget() -> None:
    assert _search.MAX_GREP_BYTES == 64 * 1024 * 1024


@settings(max_examples=40)
@given(sizes=st.lists(st.integers(min_value=0, max_value=300), max_size=6), budget=st.integers(0, 1200))
async def test_grep_searches_the_files_that_fit_its_budget_in_order(sizes: list[int], budget: int) -> None:
    """Files are searched in walk order while their sizes add up to at most the budget; the first
    that does not fit ends the search, and the answer names how many were searched and read."""
    fits = 0
    while fits < len(sizes) and sum(sizes[: fits + 1]) <= budget:
        fits += 1
    with tempfile.TemporaryDirectory() as directory, pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(_search, "MAX_GREP_BYTES", budget)
        root = pathlib.Path(directory)
        for index, size in enumerate(sizes):
            write(root / f"f{index}.txt", size, b"N\n")
        lines = (await grep(ToolContext(cwd=root), pattern="^N$")).split("\n")
    matched = [f"f{index}.txt:1:N" for index, size in enumerate(sizes[:fits]) if size >= 1]
    if fits == len(sizes):
        assert lines == (matched or ["no lines match '^N$'"])
    else:
        files = f"{fits} file{'' if fits == 1 else 's'}"
        assert lines == [
            *(matched or [f"no lines match '^N$' in the {files} searched"]),
            f"[stopped at the {budget}-byte limit grep reads in one call, after searching {files} "
            f"({sum(sizes[:fits])} bytes read); narrow 'path' or 'glob' to search the rest]",
        ]


# -- glob's walk ---------------------------------------------------------------------------------


async def glob(context: ToolContext, **arguments: Any) -> str:
    result = await run_tool(builtin_tool("glob"), "call-1", arguments, context)
    assert not result.is_error, result.content
    assert isinstance(result.content, str)
    return result.content


@attrs.define
class Counted:
    """What a walk did: the entries glob took from it, the directories it listed, and the
    entries in those listings."""

    taken: int = 0
    listed: int = 0
    listed_entries: int = 0

    def patch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_walk, real_listing = walk, _paths._listing

        def counted_walk(*args: Any, **kwargs: Any) -> Iterator[Any]:
            for entry in real_walk(*args, **kwargs):
                self.taken += 1
                yield entry

        def counted_listing(*args: Any, **kwargs: Any) -> Any:
            entries = real_listing(*args, **kwargs)
            self.listed += 1
            self.listed_entries += len(entries)
            return entries

        monkeypatch.setattr(_search, "walk", counted_walk)
        monkeypatch.setattr(_paths, "_listing", counted_listing)


async def test_glob_stops_walking_once_it_has_the_paths_it_lists(
    root: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 40 directories of 60 files: 2,440 paths match, 1,000 are listed, the first in sorted order.
    for folder in range(40):
        (root / f"d{folder:02}").mkdir()
        for index in range(60):
            (root / f"d{folder:02}" / f"f{index:02}.txt").write_text("")
    everything = sorted(
        [f"d{folder:02}/" for folder in range(40)]
        + [f"d{folder:02}/f{index:02}.txt" for folder in range(40) for index in range(60)]
    )
    counted = Counted()
    counted.patch(monkeypatch)
    lines = (await glob(ToolContext(cwd=root), pattern="**")).split("\n")
    assert lines == [
        *everything[: _search.MAX_GLOB_RESULTS],
        f"[... more paths match; the first {_search.MAX_GLOB_RESULTS} are listed: narrow 'pattern' or 'path']",
    ]
    # The walk ended at the first path past the limit: 1,001 of 2,440 entries taken, 18 of the
    # 41 directories listed (the root, and d00 to d16, whose entries come in order).
    assert counted.taken == _search.MAX_GLOB_RESULTS + 1
    assert counted.listed == 18 and counted.listed_entries == 40 + 17 * 60


async def test_glob_goes_no_deeper_than_its_pattern_reaches(
    root: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder in range(5):
        deep = root / f"d{folder}" / "sub" / "deeper"
        deep.mkdir(parents=True)
        (root / f"d{folder}" / "a.txt").write_text("")
        for index in range(50):
            (deep / f"f{index:02}.txt").write_text("")
    counted = Counted()
    counted.patch(monkeypatch)
    context = ToolContext(cwd=root)
    assert await glob(context, pattern="*/*.txt") == "\n".join(f"d{folder}/a.txt" for folder in range(5))
    # The 5 directories, and their a.txt and sub/: sub/ is not listed.
    assert counted.taken == 15 and counted.listed == 6
    # grep's path pattern too (a file name pattern matches at any depth).
    (root / "d0" / "a.txt").write_text("needle\n")
    (root / "d1" / "sub" / "deeper" / "f00.txt").write_text("needle\n")
    assert await grep(context, pattern="needle", glob="*/*.txt") == "d0/a.txt:1:needle"
    assert counted.listed == 6 + 6
    assert await grep(context, pattern="needle", glob="*.txt") == "d0/a.txt:1:needle\nd1/sub/deeper/f00.txt:1:needle"
    # A set may match a "/" (the range .-0 holds it): that pattern can reach any depth.
    assert await glob(context, pattern="d0[.-0]a.txt") == "d0/a.txt"
    assert (await glob(context, pattern="d0/sub/deeper/f4?.txt")).split("\n") == [
        f"d0/sub/deeper/f{index}.txt" for index in range(40, 50)
    ]


_NAME = st.text(alphabet="ab-.! ~", min_size=1, max_size=3).filter(lambda name: name not in (".", ".."))


@settings(max_examples=60, deadline=None)
@given(paths=st.lists(st.lists(_NAME, min_size=1, max_size=3), max_size=12), depth=st.none() | st.integers(1, 3))
def test_the_walk_yields_every_entry_in_the_order_glob_lists(paths: list[list[str]], depth: int | None) -> None:
    """Depth first, in the order of the relative paths sorted with a "/" after a directory's
    (a "-" or "." sorts before "/"), whatever the names; ``max_depth`` leaves out what is deeper."""
    directories = {"/".join(path[:end]) for path in paths for end in range(1, len(path))}
    files = {"/".join(path) for path in paths} - directories
    with tempfile.TemporaryDirectory() as directory:
        root = pathlib.Path(directory)
        for name in sorted(directories, key=len):
            (root / name).mkdir()
        for name in files:
            (root / name).write_text("")
        context = ToolContext(cwd=root)
        walked = [relative + ("/" if is_dir else "") for _, relative, is_dir in walk(root, context, max_depth=depth)]
    shown = [name + "/" for name in directories] + list(files)
    expected = sorted(name for name in shown if depth is None or name.rstrip("/").count("/") < depth)
    assert walked == expected


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

    def matches(self, real: Callable[..., Any]) -> Callable[..., Any]:
        held = self

        class HeldPattern:
            def __init__(self, pattern: Any) -> None:
                self.pattern = pattern

            def search(self, text: str) -> Any:
                held.hold()
                return self.pattern.search(text)

        def held_compile(*args: Any, **kwargs: Any) -> Any:
            return HeldPattern(real(*args, **kwargs))

        return held_compile

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


def ended_stopped(held: Held, name: str, *, late: int = 0) -> None:
    """The call was stopped while the tool was at work, and the tool then made at most ``late``
    more calls of the held helper before it ended with the stop's error."""
    assert held.entered.is_set()
    assert held.late <= late
    [outcome] = held.outcome
    assert isinstance(outcome, ToolError)
    assert str(outcome) == f"{name} stopped: its call was cancelled or timed out"


def reads(monkeypatch: pytest.MonkeyPatch) -> Callable[[Held], None]:
    """Holds grep at its first ``read_bytes``."""
    real = read_bytes  # what _search calls

    def patch(held: Held) -> None:
        monkeypatch.setattr(_search, "read_bytes", held.reads(real))

    return patch


@pytest.mark.parametrize("how", ["timeout", "cancel"])
async def test_a_stopped_grep_reads_no_more_files(
    root: pathlib.Path, monkeypatch: pytest.MonkeyPatch, how: Literal["timeout", "cancel"]
) -> None:
    for index in range(50):
        (root / f"f{index:02}.txt").write_text("needle\n")
    held = await stop_while_held(reads(monkeypatch), "grep", {"pattern": "needle"}, ToolContext(cwd=root), how)
    ended_stopped(held, "grep")


@pytest.mark.parametrize("how", ["timeout", "cancel"])
async def test_a_stopped_grep_leaves_the_file_it_is_matching(
    root: pathlib.Path, monkeypatch: pytest.MonkeyPatch, how: Literal["timeout", "cancel"]
) -> None:
    (root / "big.txt").write_text("hay\n" * 100_000)
    real = compile_linear  # what _search calls

    def patch(held: Held) -> None:  # held at its first line, counting the lines matched after
        monkeypatch.setattr(_search, "compile_linear", held.matches(real))

    arguments = {"pattern": "needle", "path": "big.txt"}
    held = await stop_while_held(patch, "grep", arguments, ToolContext(cwd=root), how)
    # It matched on to the end of its run of lines, not to the file's end, and gave up there
    # (not "no lines match").
    ended_stopped(held, "grep", late=_search._LINES_BETWEEN_CHECKS - 1)


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


async def test_the_same_context_serves_the_next_call_after_a_stop(
    root: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (root / "a.txt").write_text("needle\n")
    (root / "b.txt").write_text("needle\n")
    context = ToolContext(cwd=root)
    with monkeypatch.context() as patched:
        held = await stop_while_held(reads(patched), "grep", {"pattern": "needle"}, context, "timeout")
    ended_stopped(held, "grep")
    assert not context.stopped  # each call was given a stop signal of its own
    assert await grep(context, pattern="needle") == "a.txt:1:needle\nb.txt:1:needle"
