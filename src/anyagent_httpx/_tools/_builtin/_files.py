"""The file tools: read_file, write_file, edit_file, list_dir."""

from __future__ import annotations

import os
import pathlib
from typing import Annotated

from anyagent_httpx._tools._context import ToolContext
from anyagent_httpx._tools._tool import ToolError, tool

from ._paths import display, hidden, inside_roots, open_directory, read_bytes, resolve_in_roots, write_bytes

__all__ = ["MAX_LINE_CHARS", "MAX_LIST_ENTRIES", "edit_file", "list_dir", "read_file", "write_file"]

MAX_LINE_CHARS = 2000
"""read_file cuts longer lines."""
MAX_LIST_ENTRIES = 1000
"""list_dir shows at most this many entries."""


def _text(data: bytes, given: str) -> str:
    if b"\x00" in data:
        raise ToolError(f"{given!r} looks like a binary file (it contains NUL bytes); only text files can be read")
    return data.decode("utf-8", "surrogateescape")


@tool(read_only=True, rule_argument="path")
def read_file(
    path: str,
    offset: Annotated[int, {"minimum": 1}] = 1,
    limit: Annotated[int, {"minimum": 1}] = 2000,
    *,
    context: ToolContext,
) -> str:
    """Read a text file, as numbered lines (like `cat -n`).

    Lines longer than 2000 characters are cut. Files over 10 MB and binary files are refused.

    Args:
        path: The file, absolute or relative to the working directory.
        offset: The first line to show, counting from 1.
        limit: How many lines to show at most.
    """
    data = read_bytes(resolve_in_roots(path, context, tool="read_file"), path, context)
    _text(data, path)  # refuses binary files
    text = data.decode("utf-8", "replace")
    if not text:
        return "(the file is empty)"
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if offset > len(lines):
        raise ToolError(f"offset {offset} is past the end of {path!r}, which has {len(lines)} lines")
    shown = lines[offset - 1 : offset - 1 + limit]
    out: list[str] = []
    for number, line in enumerate(shown, start=offset):
        line = line.removesuffix("\r")
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + f" [... line cut: {len(line) - MAX_LINE_CHARS} more characters]"
        out.append(f"{number:>6}\t{line}")
    following = len(lines) - (offset - 1 + len(shown))
    if following > 0:
        next_line = offset + len(shown)
        out.append(f"[... {following} more lines; continue with offset={next_line}]")
    return "\n".join(out)


@tool(edits_files=True, needs_permission=True, rule_argument="path")
def write_file(path: str, content: str, *, context: ToolContext) -> str:
    """Write a text file (UTF-8), replacing it if it exists; missing parent directories are created.

    Args:
        path: The file, absolute or relative to the working directory.
        content: The whole new content of the file.
    """
    target = resolve_in_roots(path, context, for_write=True, tool="write_file")
    data = content.encode("utf-8", "surrogatepass")
    write_bytes(target, data, path, context)
    return f"wrote {len(data)} bytes to {path}"


@tool(edits_files=True, needs_permission=True, rule_argument="path")
def edit_file(path: str, old_string: str, new_string: str, replace_all: bool = False, *, context: ToolContext) -> str:
    """Replace exact text in a file. `old_string` must occur exactly once unless `replace_all` is set.

    Args:
        path: The file, absolute or relative to the working directory.
        old_string: The exact text to replace, including whitespace and indentation.
        new_string: The text to put in its place.
        replace_all: Replace every occurrence instead of requiring exactly one.
    """
    if old_string == "":
        raise ToolError("old_string is empty; give the exact text to replace (write_file creates files)")
    if old_string == new_string:
        raise ToolError("old_string and new_string are the same; there is nothing to change")
    target = resolve_in_roots(path, context, for_write=True, tool="edit_file")
    try:
        target.stat()
    except FileNotFoundError:
        raise ToolError(f"{path!r} does not exist (write_file creates files)") from None
    except OSError as exc:
        raise ToolError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    text = _text(read_bytes(target, path, context), path)
    count = text.count(old_string)
    if count == 0:
        raise ToolError(
            f"old_string was not found in {path!r}; read the file (read_file) and copy the text exactly, "
            "including whitespace"
        )
    if count > 1 and not replace_all:
        raise ToolError(
            f"old_string occurs {count} times in {path!r}; include more surrounding text to make it unique, "
            "or set replace_all to replace every occurrence"
        )
    updated = text.replace(old_string, new_string)
    write_bytes(target, updated.encode("utf-8", "surrogateescape"), path, context)
    return f"replaced {count} occurrence{'' if count == 1 else 's'} in {path}"


@tool(read_only=True, rule_argument="path")
def list_dir(path: str = ".", *, context: ToolContext) -> str:
    """List a directory's entries, sorted; directories end with `/`.

    Args:
        path: The directory, absolute or relative to the working directory.
    """
    directory = resolve_in_roots(path, context, tool="list_dir")
    if not directory.is_dir():
        raise ToolError(f"{path!r} is not a directory")
    names: list[str] = []
    try:
        # Listed by a descriptor opened from the root: a directory above it swapped for a
        # symlink since the check shows nothing outside.
        with open_directory(directory, path, context) as fd, os.scandir(fd) as entries:
            for entry in entries:
                if entry.is_symlink():
                    target = pathlib.Path(os.path.realpath(directory / entry.name))
                    if not inside_roots(target, context) or hidden("list_dir", target, context):
                        continue  # never show where a link out of the roots leads
                    names.append(entry.name + ("/" if target.is_dir() else ""))
                elif hidden("list_dir", directory / entry.name, context):
                    continue
                else:
                    names.append(entry.name + ("/" if entry.is_dir(follow_symlinks=False) else ""))
    except OSError as exc:
        raise ToolError(f"cannot list {path!r}: {exc.strerror or exc}") from None
    names.sort()
    if not names:
        return f"{display(directory, context)} is empty"
    shown = names[:MAX_LIST_ENTRIES]
    if len(names) > MAX_LIST_ENTRIES:
        shown.append(f"[... {len(names) - MAX_LIST_ENTRIES} more entries]")
    return "\n".join(shown)
