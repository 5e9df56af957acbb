"""Confinement of the file tools against a hostile workspace: paths outside the roots, a
symlink in the root leading to what a rule denies, hard links to files outside, and a process
swapping a directory for a symlink while 10,000 calls read and write through it."""

from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from anyagent_core import ToolResultBlock
from anyagent_httpx import ToolContext, ToolError, builtin_tool, run_tool

pytestmark = pytest.mark.anyio


@pytest.fixture
def root(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "root"
    path.mkdir()
    (path / "docs").mkdir()
    (path / "docs" / "guide.md").write_text("GUIDE\n")
    (path / "secrets").mkdir()
    (path / "secrets" / "key.txt").write_text("SECRET KEY\n")
    return path


@pytest.fixture
def outside(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret.txt").write_text("SECRET OUTSIDE\n")
    return path


async def call(name: str, arguments: dict[str, Any], context: ToolContext) -> ToolResultBlock:
    return await run_tool(builtin_tool(name), "call-1", arguments, context)


async def text_of(name: str, arguments: dict[str, Any], context: ToolContext) -> tuple[bool, str]:
    result = await call(name, arguments, context)
    assert isinstance(result.content, str)
    return result.is_error, result.content


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("read_file", {"path": "../outside/secret.txt"}),
        ("read_file", {"path": "{outside}/secret.txt"}),
        ("grep", {"pattern": "SECRET", "path": "{outside}"}),
        ("list_dir", {"path": ".."}),
        ("glob", {"pattern": "*", "path": "{outside}"}),
        ("write_file", {"path": "../outside/new.txt", "content": "x"}),
        ("edit_file", {"path": "{outside}/secret.txt", "old_string": "SECRET", "new_string": "x"}),
    ],
)
async def test_static_paths_outside_the_root_are_refused(
    root: pathlib.Path, outside: pathlib.Path, name: str, arguments: dict[str, Any]
) -> None:
    arguments = {key: value.replace("{outside}", str(outside)) for key, value in arguments.items()}
    is_error, text = await text_of(name, arguments, ToolContext(cwd=root))
    assert is_error and "outside the allowed directories" in text, text
    assert "SECRET" not in text
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "SECRET OUTSIDE\n"


async def test_a_symlink_in_the_root_does_not_escape_a_rule(root: pathlib.Path) -> None:
    (root / "docs" / "link").symlink_to(root / "secrets")
    (root / "innocent.txt").symlink_to(root / "secrets" / "key.txt")
    context = ToolContext(cwd=root, denied=("read_file(secrets/*)",))
    for path in ("docs/link/key.txt", "innocent.txt"):
        is_error, text = await text_of("read_file", {"path": path}, context)
        assert is_error and "disallowed by the rule" in text and "SECRET" not in text, text
    assert (await text_of("read_file", {"path": "docs/guide.md"}, context)) == (False, "     1\tGUIDE")


async def test_a_read_rule_hides_files_from_every_file_tool(root: pathlib.Path) -> None:
    (root / "docs" / "link").symlink_to(root / "secrets")
    context = ToolContext(cwd=root, denied=("Read(secrets/**)",))
    for name, arguments in (
        ("grep", {"pattern": "SECRET"}),
        ("grep", {"pattern": "SECRET", "path": "docs"}),
        ("glob", {"pattern": "**/*.txt"}),
        ("list_dir", {"path": "."}),
        ("list_dir", {"path": "docs"}),
        ("read_file", {"path": "docs/link/key.txt"}),
        ("list_dir", {"path": "docs/link"}),
    ):
        is_error, text = await text_of(name, arguments, context)
        assert "SECRET KEY" not in text, (name, arguments, text)
        assert is_error or "key.txt" not in text, (name, arguments, text)
        if name == "list_dir" and arguments["path"] == ".":
            assert "secrets" not in text and "docs/" in text
    _is_error, text = await text_of("grep", {"pattern": "GUIDE"}, context)
    assert "docs/guide.md:1:GUIDE" in text


async def test_a_write_through_a_symlink_to_a_protected_path_is_refused(root: pathlib.Path) -> None:
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    (root / "settings.ini").symlink_to(root / ".git" / "config")
    is_error, text = await text_of(
        "write_file", {"path": "settings.ini", "content": "[core]\nfsmonitor = touch pwned\n"}, ToolContext(cwd=root)
    )
    assert is_error and "protected path" in text, text
    assert (root / ".git" / "config").read_text() == "[core]\n"


@pytest.mark.parametrize("name", ["read_file", "grep", "edit_file"])
async def test_hard_links_to_files_outside_are_not_read(root: pathlib.Path, outside: pathlib.Path, name: str) -> None:
    os.link(outside / "secret.txt", root / "docs" / "notes.txt")
    arguments: dict[str, Any] = {
        "read_file": {"path": "docs/notes.txt"},
        "grep": {"pattern": "SECRET", "path": "docs"},
        "edit_file": {"path": "docs/notes.txt", "old_string": "SECRET", "new_string": "public"},
    }[name]
    _is_error, text = await text_of(name, arguments, ToolContext(cwd=root))
    assert "SECRET OUTSIDE" not in text and "docs/notes.txt:1" not in text, text
    assert (outside / "secret.txt").read_text() == "SECRET OUTSIDE\n"
    if name == "read_file":
        assert "hard links" in text


SWAPPER = """
import os, random, select, shutil, sys
root, outside = sys.argv[1], sys.argv[2]
link, real = os.path.join(root, "d"), os.path.join(root, "real")
sys.stdout.write("ready\\n"); sys.stdout.flush()

def hold():
    # The test writes a byte as each of its calls ends. Those written before now are dropped;
    # two more, and at least one call ran whole in the state just set (the second), whatever
    # the scheduling of the two processes. Then the state changes at some point of a call.
    while select.select([0], [], [], 0)[0]:
        if not os.read(0, 4096):
            sys.exit(0)
    for _ in range(2):
        if not os.read(0, 1):
            sys.exit(0)
    for _ in range(random.randrange(5000)):
        pass

while True:
    # d is the real directory, then a symlink to the outside, back and forth
    try:
        os.rename(real, link)
    except OSError:
        pass
    hold()
    try:
        os.rename(link, real)
    except OSError:
        pass
    try:
        os.symlink(outside, link)
    except OSError:
        pass
    hold()
    if os.path.islink(link):
        os.unlink(link)
    elif os.path.isdir(link):  # made by write_file while d was missing
        shutil.rmtree(link, ignore_errors=True)
"""

CALLS = 10_000


@contextlib.contextmanager
def _swapping(root: pathlib.Path, outside: pathlib.Path) -> Iterator[Callable[[], None]]:
    """A process swapping ``root/d`` between the real directory and a symlink to ``outside``
    while the body runs, at a random point of a call each time; the body calls what it is given
    as each of its calls ends: the swapper keeps each state until a call has run whole in it, so
    both are seen however the machine schedules them. Checked still swapping at the end, killed
    either way."""
    swapper = subprocess.Popen(
        [sys.executable, "-c", SWAPPER, str(root), str(outside)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert swapper.stdin is not None
    ended = swapper.stdin.fileno()

    def call_ended() -> None:
        os.write(ended, b".")

    try:
        assert swapper.stdout is not None and swapper.stdout.readline() == "ready\n"
        yield call_ended
        assert swapper.poll() is None, "the swapping process stopped early"
    finally:
        swapper.kill()
        swapper.wait()
        swapper.stdin.close()
        if swapper.stdout is not None:
            swapper.stdout.close()


def test_a_racing_process_swapping_a_directory_for_a_symlink_gets_nothing_outside(
    root: pathlib.Path, outside: pathlib.Path
) -> None:
    (root / "real").mkdir()
    (root / "real" / "secret.txt").write_text("inside\n")
    with _swapping(root, outside) as call_ended:
        context = ToolContext(cwd=root)
        # The tools' own functions, called directly: the calls are synchronous, and many.
        read, write = builtin_tool("read_file").function, builtin_tool("write_file").function
        leaked_reads = inside_reads = refused = 0
        for index in range(CALLS):
            try:
                if index % 2:
                    text = read(path="d/secret.txt", context=context)
                    leaked_reads += "SECRET OUTSIDE" in text
                    inside_reads += "inside" in text
                else:
                    write(path=f"d/w{index}.txt", content="x", context=context)
            except ToolError:  # the swap was caught, or the path was missing at that moment
                refused += 1
            finally:
                call_ended()
    written_outside = sorted(name for name in os.listdir(outside) if name != "secret.txt")
    assert leaked_reads == 0
    assert written_outside == []
    assert (outside / "secret.txt").read_text() == "SECRET OUTSIDE\n"
    assert inside_reads > 0 and refused > 0, (inside_reads, refused)  # the race did run both ways


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("list_dir", {"path": "d/sub"}),
        ("glob", {"pattern": "**", "path": "d/sub"}),
        ("grep", {"pattern": "SECRET|inside", "path": "d/sub"}),
    ],
)
def test_a_racing_process_swapping_a_directory_shows_no_name_from_outside(
    root: pathlib.Path, outside: pathlib.Path, name: str, arguments: dict[str, Any]
) -> None:
    # list_dir, glob and grep open the directory they walk from the root's descriptor, so a
    # directory above it swapped for a symlink after the path was checked shows nothing outside.
    (root / "real" / "sub").mkdir(parents=True)
    (root / "real" / "sub" / "inside.txt").write_text("inside\n")
    (outside / "sub").mkdir()
    (outside / "sub" / "outside-only.txt").write_text("SECRET OUTSIDE\n")
    with _swapping(root, outside) as call_ended:
        context = ToolContext(cwd=root)
        function = builtin_tool(name).function
        leaked: list[str] = []
        inside = refused = 0
        for _index in range(CALLS // 2):
            try:
                text = function(**arguments, context=context)
            except ToolError:  # the swap was caught, or the path was missing at that moment
                refused += 1
                continue
            finally:
                call_ended()
            if "outside-only" in text or "SECRET OUTSIDE" in text:
                leaked.append(text)
            inside += "inside.txt" in text
    assert leaked == []
    assert inside > 0 and refused > 0, (inside, refused)  # the race did run both ways
