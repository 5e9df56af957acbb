"""The built-in tools on a temporary directory: behaviour, errors, and confinement to the roots."""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import sys
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from anyagent_core import ToolResultBlock
from anyagent_httpx import BUILTIN_TOOLS, ToolContext, ToolError, builtin_tool, run_tool
from anyagent_httpx._tools._builtin import resolve_in_roots
from anyagent_httpx._tools._builtin._paths import MAX_FILE_BYTES

pytestmark = pytest.mark.anyio


@pytest.fixture
def root(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret.txt").write_text("SECRET DATA\n")
    (path / "dir").mkdir()
    (path / "dir" / "inner.txt").write_text("SECRET INNER\n")
    return path


@pytest.fixture
def ctx(root: pathlib.Path) -> ToolContext:
    return ToolContext(cwd=root)


async def call(name: str, arguments: dict[str, Any], context: ToolContext) -> ToolResultBlock:
    return await run_tool(builtin_tool(name), "call-1", arguments, context)


async def ok(name: str, arguments: dict[str, Any], context: ToolContext) -> str:
    result = await call(name, arguments, context)
    assert not result.is_error, result.content
    assert isinstance(result.content, str)
    return result.content


async def error(name: str, arguments: dict[str, Any], context: ToolContext) -> str:
    result = await call(name, arguments, context)
    assert result.is_error, result.content
    assert isinstance(result.content, str)
    return result.content


def snapshot(*directories: pathlib.Path) -> dict[str, object]:
    """Everything under some directories: file bytes, directory markers, link targets."""
    found: dict[str, object] = {}
    for directory in directories:
        for dirpath, dirnames, filenames in os.walk(directory):
            for name in dirnames + filenames:
                path = pathlib.Path(dirpath, name)
                if path.is_symlink():
                    found[str(path)] = ("link", os.readlink(path))
                elif path.is_dir():
                    found[str(path)] = "dir"
                else:
                    found[str(path)] = path.read_bytes()
    return found


def test_registry() -> None:
    assert sorted(BUILTIN_TOOLS) == ["bash", "edit_file", "glob", "grep", "list_dir", "read_file", "write_file"]
    assert builtin_tool("bash") is BUILTIN_TOOLS["bash"]
    with pytest.raises(ValueError, match="unknown built-in tool 'nope'; known: read_file, write_file"):
        builtin_tool("nope")
    traits = {
        name: (t.read_only, t.edits_files, t.needs_permission, t.rule_argument) for name, t in BUILTIN_TOOLS.items()
    }
    assert traits == {
        "read_file": (True, False, False, "path"),
        "list_dir": (True, False, False, "path"),
        "glob": (True, False, False, "pattern"),
        "grep": (True, False, False, "path"),
        "write_file": (False, True, True, "path"),
        "edit_file": (False, True, True, "path"),
        "bash": (False, False, True, "command"),
    }
    for made in BUILTIN_TOOLS.values():
        assert "context" not in made.spec.parameters["properties"]
        assert made.spec.description


# -- read_file -----------------------------------------------------------------------------------


async def test_read_file_numbers_lines(root: pathlib.Path, ctx: ToolContext) -> None:
    (root / "a.txt").write_text("first\nsecond\r\n\nlast")
    assert await ok("read_file", {"path": "a.txt"}, ctx) == "     1\tfirst\n     2\tsecond\n     3\t\n     4\tlast"
    assert await ok("read_file", {"path": str(root / "a.txt")}, ctx) == (
        "     1\tfirst\n     2\tsecond\n     3\t\n     4\tlast"
    )


async def test_read_file_offset_and_limit(root: pathlib.Path, ctx: ToolContext) -> None:
    (root / "n.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    assert await ok("read_file", {"path": "n.txt", "offset": 3, "limit": 2}, ctx) == (
        "     3\tline 3\n     4\tline 4\n[... 6 more lines; continue with offset=5]"
    )
    assert await ok("read_file", {"path": "n.txt", "offset": 10}, ctx) == "    10\tline 10"
    assert "offset 11 is past the end of 'n.txt', which has 10 lines" in await error(
        "read_file", {"path": "n.txt", "offset": 11}, ctx
    )
    assert "offset: 0 is less than the minimum of 1" in await error("read_file", {"path": "n.txt", "offset": 0}, ctx)


async def test_read_file_cuts_long_lines(root: pathlib.Path, ctx: ToolContext) -> None:
    (root / "long.txt").write_text("x" * 2500 + "\nshort\n")
    text = await ok("read_file", {"path": "long.txt"}, ctx)
    first, second = text.split("\n")
    assert first == "     1\t" + "x" * 2000 + " [... line cut: 500 more characters]"
    assert second == "     2\tshort"


async def test_read_file_refusals(root: pathlib.Path, ctx: ToolContext) -> None:
    (root / "bin.dat").write_bytes(b"abc\x00def")
    assert "binary file" in await error("read_file", {"path": "bin.dat"}, ctx)
    with (root / "huge.txt").open("wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)
    assert f"is {MAX_FILE_BYTES + 1} bytes, over the {MAX_FILE_BYTES}-byte limit" in await error(
        "read_file", {"path": "huge.txt"}, ctx
    )
    (root / "sub").mkdir()
    assert "'sub' is a directory" in await error("read_file", {"path": "sub"}, ctx)
    assert "'missing.txt' does not exist" in await error("read_file", {"path": "missing.txt"}, ctx)
    (root / "empty.txt").write_text("")
    assert await ok("read_file", {"path": "empty.txt"}, ctx) == "(the file is empty)"
    (root / "latin.txt").write_bytes(b"caf\xe9\n")
    assert await ok("read_file", {"path": "latin.txt"}, ctx) == "     1\tcaf\ufffd"


# -- write_file and edit_file --------------------------------------------------------------------


async def test_write_file_creates_parents(root: pathlib.Path, ctx: ToolContext) -> None:
    assert await ok("write_file", {"path": "a/b/c.txt", "content": "h\u00e9llo\n"}, ctx) == (
        "wrote 7 bytes to a/b/c.txt"
    )
    assert (root / "a" / "b" / "c.txt").read_text() == "h\u00e9llo\n"
    assert await ok("write_file", {"path": "a/b/c.txt", "content": "new"}, ctx) == "wrote 3 bytes to a/b/c.txt"
    assert (root / "a" / "b" / "c.txt").read_text() == "new"
    assert "'a' is a directory" in await error("write_file", {"path": "a", "content": "x"}, ctx)


async def test_edit_file(root: pathlib.Path, ctx: ToolContext) -> None:
    target = root / "code.py"
    target.write_bytes(b"x = 1\r\ny = 1\r\n")
    assert await ok("edit_file", {"path": "code.py", "old_string": "x = 1", "new_string": "x = 2"}, ctx) == (
        "replaced 1 occurrence in code.py"
    )
    assert target.read_bytes() == b"x = 2\r\ny = 1\r\n"
    message = await error("edit_file", {"path": "code.py", "old_string": " = ", "new_string": "="}, ctx)
    assert "old_string occurs 2 times in 'code.py'" in message
    assert "replace_all" in message
    assert target.read_bytes() == b"x = 2\r\ny = 1\r\n"
    assert await ok(
        "edit_file", {"path": "code.py", "old_string": " = ", "new_string": "=", "replace_all": True}, ctx
    ) == ("replaced 2 occurrences in code.py")
    assert target.read_bytes() == b"x=2\r\ny=1\r\n"
    message = await error("edit_file", {"path": "code.py", "old_string": "z=9", "new_string": "z=8"}, ctx)
    assert "old_string was not found in 'code.py'" in message
    assert "read_file" in message
    assert "the same" in await error("edit_file", {"path": "code.py", "old_string": "x", "new_string": "x"}, ctx)
    assert "empty" in await error("edit_file", {"path": "code.py", "old_string": "", "new_string": "x"}, ctx)
    assert "'nope.py' does not exist" in await error(
        "edit_file", {"path": "nope.py", "old_string": "a", "new_string": "b"}, ctx
    )
    assert target.read_bytes() == b"x=2\r\ny=1\r\n"


async def test_edit_file_keeps_undecodable_bytes(root: pathlib.Path, ctx: ToolContext) -> None:
    target = root / "latin.txt"
    target.write_bytes(b"caf\xe9 = old\n")
    await ok("edit_file", {"path": "latin.txt", "old_string": "old", "new_string": "new"}, ctx)
    assert target.read_bytes() == b"caf\xe9 = new\n"


# -- list_dir, glob, grep ------------------------------------------------------------------------


async def test_list_dir(root: pathlib.Path, ctx: ToolContext) -> None:
    (root / "b.txt").write_text("")
    (root / "a").mkdir()
    (root / "C.md").write_text("")
    (root / "link_to_a").symlink_to(root / "a")
    assert await ok("list_dir", {}, ctx) == "C.md\na/\nb.txt\nlink_to_a/"
    assert await ok("list_dir", {"path": "a"}, ctx) == "a is empty"
    assert "'b.txt' is not a directory" in await error("list_dir", {"path": "b.txt"}, ctx)


async def test_list_dir_is_capped(root: pathlib.Path, ctx: ToolContext) -> None:
    for index in range(1005):
        (root / f"f{index:04}").write_text("")
    lines = (await ok("list_dir", {}, ctx)).split("\n")
    assert len(lines) == 1001
    assert lines[0] == "f0000"
    assert lines[999] == "f0999"
    assert lines[1000] == "[... 5 more entries]"


@pytest.fixture
def tree(root: pathlib.Path) -> pathlib.Path:
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "mod.py").write_text("import os\nVALUE = 1\n")
    (root / "src" / "main.py").write_text("print('Value')\n")
    (root / "setup.py").write_text("value = 2\n")
    (root / "README.md").write_text("the value\n")
    (root / "data.bin").write_bytes(b"value\x00\x01")
    (root / ".git").mkdir()
    (root / ".git" / "config.py").write_text("value\n")
    return root


async def test_glob(tree: pathlib.Path, ctx: ToolContext) -> None:
    assert await ok("glob", {"pattern": "**/*.py"}, ctx) == "setup.py\nsrc/main.py\nsrc/pkg/mod.py"
    assert await ok("glob", {"pattern": "*.py"}, ctx) == "setup.py"
    assert await ok("glob", {"pattern": "src/*"}, ctx) == "src/main.py\nsrc/pkg/"
    assert await ok("glob", {"pattern": "*.py", "path": "src"}, ctx) == "src/main.py"
    assert await ok("glob", {"pattern": "[RS]*"}, ctx) == "README.md"
    assert await ok("glob", {"pattern": "*.rs"}, ctx) == "no paths match '*.rs'"
    sub = ToolContext(cwd=tree / "src", roots=(tree,))
    assert await ok("glob", {"pattern": "*.py", "path": ".."}, sub) == str(tree / "setup.py")
    for pattern in ("/etc/*", "../*", "a/../../*"):
        assert "must be relative" in await error("glob", {"pattern": pattern}, ctx)


async def test_grep(tree: pathlib.Path, ctx: ToolContext) -> None:
    assert await ok("grep", {"pattern": "value"}, ctx) == "README.md:1:the value\nsetup.py:1:value = 2"
    assert await ok("grep", {"pattern": "value", "ignore_case": True}, ctx) == (
        "README.md:1:the value\nsetup.py:1:value = 2\nsrc/main.py:1:print('Value')\nsrc/pkg/mod.py:2:VALUE = 1"
    )
    assert await ok("grep", {"pattern": "VALUE|Value", "glob": "*.py"}, ctx) == (
        "src/main.py:1:print('Value')\nsrc/pkg/mod.py:2:VALUE = 1"
    )
    assert await ok("grep", {"pattern": "^[A-Z]", "glob": "src/**/*.py"}, ctx) == "src/pkg/mod.py:2:VALUE = 1"
    assert await ok("grep", {"pattern": "value", "path": "setup.py"}, ctx) == "setup.py:1:value = 2"
    assert await ok("grep", {"pattern": "value", "ignore_case": True, "max_results": 2}, ctx) == (
        "README.md:1:the value\nsetup.py:1:value = 2\n[stopped after 2 matching lines]"
    )
    assert await ok("grep", {"pattern": "nothing here"}, ctx) == "no lines match 'nothing here'"
    assert "invalid regular expression '('" in await error("grep", {"pattern": "("}, ctx)


@pytest.mark.parametrize("inner", ["\f", "\r", "\v", "\x1c", "\x85", "\u2028", "\u2029"])
async def test_grep_numbers_lines_as_read_file_does(root: pathlib.Path, ctx: ToolContext, inner: str) -> None:
    # Only a line feed ends a line (read_file's numbering, the one edits go by): a form feed or a
    # lone carriage return inside a line must not push grep's line numbers past read_file's.
    (root / "notes.txt").write_text(f"one{inner}still one\r\ntwo\nTARGET three\n", encoding="utf-8", newline="")
    found = await ok("grep", {"pattern": "TARGET"}, ctx)
    assert found == "notes.txt:3:TARGET three"
    assert await ok("read_file", {"path": "notes.txt", "offset": 3, "limit": 1}, ctx) == "     3\tTARGET three"
    assert await ok("grep", {"pattern": "one$"}, ctx) == f"notes.txt:1:one{inner}still one"


async def test_grep_skips_files_over_the_cap(root: pathlib.Path, ctx: ToolContext) -> None:
    with (root / "huge.txt").open("wb") as file:
        file.write(b"needle\n")
        file.truncate(MAX_FILE_BYTES + 1)
    (root / "small.txt").write_text("needle\n")
    assert await ok("grep", {"pattern": "needle"}, ctx) == "small.txt:1:needle"


# -- confinement ---------------------------------------------------------------------------------


@pytest.fixture
def links(root: pathlib.Path, outside: pathlib.Path) -> pathlib.Path:
    """Symlinks inside the root that lead out of it."""
    (root / "inside.txt").write_text("inside\n")
    (root / "file_link").symlink_to(outside / "secret.txt")
    (root / "dir_link").symlink_to(outside / "dir")
    (root / "dangling").symlink_to(outside / "not_yet.txt")
    return root


ESCAPES = [
    ("read_file", {"path": "../outside/secret.txt"}),
    ("read_file", {"path": "OUTSIDE/secret.txt"}),
    ("read_file", {"path": "file_link"}),
    ("read_file", {"path": "dir_link/inner.txt"}),
    ("read_file", {"path": "dangling"}),
    ("read_file", {"path": "/etc/hostname"}),
    ("write_file", {"path": "../outside/new.txt", "content": "x"}),
    ("write_file", {"path": "OUTSIDE/secret.txt", "content": "x"}),
    ("write_file", {"path": "file_link", "content": "overwritten"}),
    ("write_file", {"path": "dir_link/new.txt", "content": "x"}),
    ("write_file", {"path": "dir_link/deeper/new.txt", "content": "x"}),
    ("write_file", {"path": "dangling", "content": "x"}),
    ("write_file", {"path": "newdir/../../outside/new.txt", "content": "x"}),
    ("edit_file", {"path": "file_link", "old_string": "SECRET", "new_string": "PUBLIC"}),
    ("edit_file", {"path": "dir_link/inner.txt", "old_string": "SECRET", "new_string": "PUBLIC"}),
    ("edit_file", {"path": "../outside/secret.txt", "old_string": "SECRET", "new_string": "PUBLIC"}),
    ("list_dir", {"path": "dir_link"}),
    ("list_dir", {"path": ".."}),
    ("glob", {"pattern": "*", "path": "dir_link"}),
    ("grep", {"pattern": "SECRET", "path": "file_link"}),
    ("grep", {"pattern": "SECRET", "path": "../outside"}),
    ("bash", {"command": "pwd", "cwd": "dir_link"}),
    ("bash", {"command": "touch escaped", "cwd": "../outside"}),
]


@pytest.mark.parametrize(("name", "arguments"), ESCAPES, ids=[f"{n}-{a.get('path', a.get('cwd'))}" for n, a in ESCAPES])
async def test_escapes_are_refused_and_change_nothing(
    name: str, arguments: dict[str, Any], links: pathlib.Path, outside: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    arguments = {
        key: value.replace("OUTSIDE", str(outside)) if isinstance(value, str) else value
        for key, value in arguments.items()
    }
    ctx = ToolContext(cwd=links)
    before = snapshot(tmp_path)
    message = await error(name, arguments, ctx)
    assert "outside the allowed directories" in message or "'..' after a directory that does not exist" in message
    assert f"({links})" in message or "'..'" in message
    assert "SECRET" not in message
    assert snapshot(tmp_path) == before


async def test_the_refusal_names_the_path_and_where_it_leads(links: pathlib.Path, outside: pathlib.Path) -> None:
    message = await error("read_file", {"path": "file_link"}, ToolContext(cwd=links))
    assert message == (
        f"'file_link' resolves to '{outside / 'secret.txt'}', which is outside the allowed directories ({links})"
    )


async def test_walks_do_not_follow_links_out(links: pathlib.Path, outside: pathlib.Path) -> None:
    ctx = ToolContext(cwd=links)
    (links / "inner_link.txt").symlink_to(links / "inside.txt")
    assert await ok("list_dir", {}, ctx) == "inner_link.txt\ninside.txt"
    assert await ok("glob", {"pattern": "**/*"}, ctx) == "inner_link.txt\ninside.txt"
    assert await ok("grep", {"pattern": "SECRET|inside"}, ctx) == "inner_link.txt:1:inside\ninside.txt:1:inside"


async def test_other_roots_are_allowed(root: pathlib.Path, outside: pathlib.Path) -> None:
    ctx = ToolContext(cwd=root, roots=(root, outside / "dir"))
    assert await ok("read_file", {"path": str(outside / "dir" / "inner.txt")}, ctx) == "     1\tSECRET INNER"
    assert "outside the allowed directories" in await error("read_file", {"path": "../outside/secret.txt"}, ctx)


async def test_bad_paths(ctx: ToolContext) -> None:
    assert "the path is empty" in await error("read_file", {"path": ""}, ctx)
    assert "contains a NUL byte" in await error("write_file", {"path": "a\x00b", "content": ""}, ctx)


def test_resolve_in_roots(root: pathlib.Path, outside: pathlib.Path) -> None:
    ctx = ToolContext(cwd=root)
    (root / "sub").mkdir()
    (root / "sub" / "f").write_text("")
    assert resolve_in_roots("sub/../sub/f", ctx) == root.resolve() / "sub" / "f"
    assert resolve_in_roots(".", ctx) == root.resolve()
    assert resolve_in_roots("new/deeper/file", ctx, for_write=True) == root.resolve() / "new" / "deeper" / "file"
    assert resolve_in_roots("sub/../x", ctx, for_write=True) == root.resolve() / "x"
    with pytest.raises(ToolError, match="outside the allowed directories"):
        resolve_in_roots("sub/../../outside/secret.txt", ctx)
    with pytest.raises(ToolError, match="does not exist"):
        resolve_in_roots("sub/nothing", ctx)
    with pytest.raises(ToolError, match="outside the allowed directories"):
        resolve_in_roots("../outside/nothing", ctx)  # outside is refused before existence is told
    with pytest.raises(ToolError, match=r"'\.\.' after a directory that does not exist"):
        resolve_in_roots("gone/../x", ctx, for_write=True)


# -- bash ----------------------------------------------------------------------------------------


async def test_bash_output_and_exit_code(root: pathlib.Path, ctx: ToolContext) -> None:
    assert await ok("bash", {"command": "echo out; echo err >&2"}, ctx) == "out\nerr\n"
    assert await ok("bash", {"command": "echo fail; exit 3"}, ctx) == "fail\n\nexit code 3"
    assert await ok("bash", {"command": "exit 4"}, ctx) == "exit code 4"
    assert await ok("bash", {"command": "true"}, ctx) == "(no output)"
    assert await ok("bash", {"command": "pwd"}, ctx) == f"{ctx.cwd}\n"
    (root / "sub").mkdir()
    assert await ok("bash", {"command": "pwd", "cwd": "sub"}, ctx) == f"{ctx.cwd / 'sub'}\n"
    assert "'nothing' does not exist" in await error("bash", {"command": "pwd", "cwd": "nothing"}, ctx)
    (root / "file").write_text("")
    assert "'file' is not a directory" in await error("bash", {"command": "pwd", "cwd": "file"}, ctx)


async def test_bash_has_no_input(ctx: ToolContext) -> None:
    assert await ok("bash", {"command": "cat; echo after"}, ctx) == "after\n"


async def test_bash_caps_its_output(ctx: ToolContext) -> None:
    for size in (40_000, 300_000):  # held whole, and past what is held in memory
        text = await ok("bash", {"command": f"head -c {size} /dev/zero | tr '\\0' x"}, ctx)
        head, _, rest = text.partition("\n[... ")
        count, _, tail = rest.partition(" characters omitted ...]\n")
        assert set(head) == set(tail) == {"x"}
        assert len(head) + len(tail) <= 30_000
        assert len(head) + int(count) + len(tail) == size


async def test_bash_timeout_kills_the_process_group(root: pathlib.Path, ctx: ToolContext) -> None:
    command = "echo started; (sleep 2; touch child_marker) & sleep 2; touch marker"
    message = await error("bash", {"command": command, "timeout": 0.5}, ctx)
    assert message == "the command timed out after 0.5s and was killed; output so far:\nstarted\n"
    # Ended by the timeout, not by the command finishing: what it does last has not happened,
    # and never happens, for the shell and its background child alike.
    assert not (root / "marker").exists()
    await anyio.sleep(2)
    assert not (root / "marker").exists()
    assert not (root / "child_marker").exists()


async def test_bash_cancellation_kills_the_process_group(root: pathlib.Path, ctx: ToolContext) -> None:
    with anyio.move_on_after(0.3):
        await call("bash", {"command": "(sleep 1; touch child_marker) & sleep 1; touch marker"}, ctx)
        pytest.fail("not cancelled")
    await anyio.sleep(1.5)
    assert not (root / "marker").exists()
    assert not (root / "child_marker").exists()


async def test_bash_returns_when_a_background_process_keeps_the_output(root: pathlib.Path) -> None:
    # The background process holds the output open for 600 s; after the shell exits the tool
    # waits for the output to close at most _DRAIN_SECONDS (1 s), then kills what is left.
    # fail_after(60) is only a hang guard, 60 times that bound, so a loaded machine cannot trip it.
    ctx = ToolContext(cwd=root, sandbox="off")  # outside the sandbox's PID namespace, the pid is ours
    with anyio.fail_after(60):
        text = await ok("bash", {"command": "sleep 600 & echo $! > background.pid; echo done"}, ctx)
    pid = int((root / "background.pid").read_text())
    assert text == "done\n"
    for _ in range(1000):  # killed: gone once reaped by init (bounded polling, no clock)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        if (await anyio.Path(f"/proc/{pid}/stat").read_text()).split(") ")[-1].startswith("Z"):
            break  # a zombie: dead, not yet reaped
        await anyio.sleep(0.01)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the background process outlived the call")


async def test_bash_timeout_is_bounded(ctx: ToolContext) -> None:
    assert "timeout: 601 is greater than the maximum of 600" in await error(
        "bash", {"command": "true", "timeout": 601}, ctx
    )
    assert "timeout: 0 must be greater than 0" in await error("bash", {"command": "true", "timeout": 0}, ctx)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
async def test_grep_skips_named_pipes(root: pathlib.Path, ctx: ToolContext) -> None:
    os.mkfifo(root / "pipe")
    (root / "small.txt").write_text("needle\n")
    with anyio.fail_after(5):
        assert await ok("grep", {"pattern": "needle"}, ctx) == "small.txt:1:needle"
        assert await ok("grep", {"pattern": "needle", "path": "pipe"}, ctx) == "no lines match 'needle'"


class _OpenWatch:
    """Linux inotify: whether anything opened a path since the watch began (the kernel queues
    the event as the open happens, so reading it afterwards needs no waiting)."""

    IN_OPEN = 0x20
    IN_NONBLOCK = 0o4000

    def __init__(self, path: pathlib.Path) -> None:
        import ctypes
        import ctypes.util

        self._libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self.fd = self._libc.inotify_init1(self.IN_NONBLOCK)
        assert self.fd >= 0
        assert self._libc.inotify_add_watch(self.fd, os.fsencode(path), self.IN_OPEN) >= 0

    def opened(self) -> bool:
        try:
            return len(os.read(self.fd, 4096)) > 0
        except BlockingIOError:
            return False

    def close(self) -> None:
        os.close(self.fd)


@pytest.mark.skipif(sys.platform != "linux", reason="inotify")
@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("read_file", {"path": "pipe"}),
        ("grep", {"pattern": "x", "path": "pipe"}),
        ("grep", {"pattern": "x"}),
        ("edit_file", {"path": "pipe", "old_string": "a", "new_string": "b"}),
    ],
)
async def test_special_files_are_refused_unopened(
    root: pathlib.Path, ctx: ToolContext, name: str, arguments: dict[str, Any]
) -> None:
    # Opening a named pipe wakes a writer waiting for a reader (a device may act on an open):
    # the file tools look at what a name is before opening it.
    os.mkfifo(root / "pipe")
    watch = _OpenWatch(root / "pipe")
    try:
        await call(name, arguments, ctx)
        assert not watch.opened()
        # the watch itself works: an open is seen
        fd = os.open(root / "pipe", os.O_RDONLY | os.O_NONBLOCK)
        os.close(fd)
        assert watch.opened()
    finally:
        watch.close()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
async def test_write_file_refuses_named_pipes(root: pathlib.Path, ctx: ToolContext) -> None:
    os.mkfifo(root / "pipe")
    with anyio.fail_after(5):
        assert await error("write_file", {"path": "pipe", "content": "x"}, ctx) == "'pipe' is not a regular file"


async def test_names_too_long_are_tool_errors(ctx: ToolContext) -> None:
    name = "n" * 300
    message = await error("write_file", {"path": name, "content": "x"}, ctx)
    assert message.startswith(f"cannot write {name!r}: ")
    message = await error("edit_file", {"path": name, "old_string": "a", "new_string": "b"}, ctx)
    assert message.startswith(f"cannot read {name!r}: ")


def entries(directory: pathlib.Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


async def test_a_file_with_a_name_near_the_limit_is_rewritten(root: pathlib.Path, ctx: ToolContext) -> None:
    name = "n" * 250
    await ok("write_file", {"path": name, "content": "first"}, ctx)
    await ok("write_file", {"path": name, "content": "second"}, ctx)
    await ok("edit_file", {"path": name, "old_string": "second", "new_string": "third"}, ctx)
    assert (root / name).read_text(encoding="utf-8") == "third"
    assert entries(root) == [name]  # no copy left beside it


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Writes past ``limit`` bytes fail (EFBIG) in this process, as on a full disk."""
    import resource  # POSIX only

    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous_handler)


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="file size limits")
async def test_a_failed_write_leaves_the_file_as_it_was(root: pathlib.Path, ctx: ToolContext) -> None:
    target = root / "notes.txt"
    target.write_text("keep me\n" * 100)
    target.chmod(0o640)
    before = snapshot(root)
    with file_size_limit(4096):
        message = await error("write_file", {"path": "notes.txt", "content": "x" * 10_000}, ctx)
        assert message.startswith("cannot write 'notes.txt': ")
        edit = {"path": "notes.txt", "old_string": "keep", "new_string": "k" * 100, "replace_all": True}
        message = await error("edit_file", edit, ctx)
        assert message.startswith("cannot write 'notes.txt': ")
        message = await error("write_file", {"path": "new.txt", "content": "x" * 10_000}, ctx)
        assert message.startswith("cannot write 'new.txt': ")
    assert snapshot(root) == before
    await ok("edit_file", {"path": "notes.txt", "old_string": "keep", "new_string": "kept", "replace_all": True}, ctx)
    assert target.read_text() == "kept me\n" * 100
    assert target.stat().st_mode & 0o777 == 0o640


async def test_glob_brackets(root: pathlib.Path, ctx: ToolContext) -> None:
    for name in ("[draft].md", "a&b.md", "^.md", "b.md"):
        (root / name).write_text("text\n")
    assert await ok("glob", {"pattern": "[[]*"}, ctx) == "[draft].md"
    assert await ok("glob", {"pattern": "a[&]b.md"}, ctx) == "a&b.md"
    assert await ok("glob", {"pattern": "[&&b].md"}, ctx) == "b.md"
    assert await ok("glob", {"pattern": "[^].md"}, ctx) == "^.md"
    assert await error("glob", {"pattern": "[z-a].md"}, ctx) == (
        "invalid glob pattern '[z-a].md': invalid character class range: z-a"
    )
    assert await error("grep", {"pattern": "text", "glob": "[z-a]"}, ctx) == (
        "invalid glob pattern '[z-a]': invalid character class range: z-a"
    )
