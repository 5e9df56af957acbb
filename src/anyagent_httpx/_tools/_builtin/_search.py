"""The search tools: glob (paths by pattern) and grep (lines by regex)."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Annotated

from anyagent_core.regex import LinearPattern, RegexError, compile_linear
from anyagent_httpx._tools._context import ToolContext
from anyagent_httpx._tools._tool import ToolError, tool

from ._paths import (
    MAX_FILE_BYTES,
    FileTooLarge,
    display,
    glob_regex,
    inside_roots,
    read_bytes,
    resolve_in_roots,
    walk,
)

__all__ = ["MAX_GLOB_RESULTS", "MAX_GREP_BYTES", "MAX_GREP_LINE_CHARS", "glob", "grep"]

MAX_GLOB_RESULTS = 1000
"""glob lists at most this many paths, the first in its order, and says when more match: its walk
stops there (and goes no deeper than the pattern reaches)."""
MAX_GREP_LINE_CHARS = 500
"""grep cuts longer matching lines."""
MAX_GREP_BYTES = 64 * 1024 * 1024
"""grep reads at most this many bytes in one call, over all the files it reads: it stops before a
file that would take it past, and says so, naming the limit and how many files it searched."""
_LINES_BETWEEN_CHECKS = 4096
"""grep checks whether its call was stopped before each file's lines and every this many lines
(its walk checks before each entry)."""


def _check_pattern(pattern: str, what: str) -> None:
    if not pattern:
        raise ToolError(f"the {what} is empty")
    if "\x00" in pattern:
        raise ToolError(f"the {what} contains a NUL byte")
    if pattern.startswith("/") or ".." in pattern.split("/"):
        raise ToolError(f"the {what} {pattern!r} must be relative, without '..'; choose the directory with 'path'")


@tool(read_only=True, rule_argument="pattern")
def glob(pattern: str, path: str = ".", *, context: ToolContext) -> str:
    """Find files and directories whose paths match a glob pattern, such as `**/*.py` or `src/*.toml`.

    `*` and `?` match within one path segment, `**` any number of directories. Paths are listed
    sorted, relative to the working directory; directories end with `/`. At most 1000 are listed.

    Args:
        pattern: The glob pattern, relative to `path`.
        path: The directory to search, absolute or relative to the working directory.
    """
    _check_pattern(pattern, "pattern")
    base = resolve_in_roots(path, context, tool="glob")
    if not base.is_dir():
        raise ToolError(f"{path!r} is not a directory")
    regex = glob_regex(pattern)
    found: list[str] = []
    for _target, relative, is_dir in walk(base, context, "glob", max_depth=_depth(pattern)):
        if regex.fullmatch(relative):
            if len(found) == MAX_GLOB_RESULTS:  # the walk goes in the order listed: enough is known
                found.append(
                    f"[... more paths match; the first {MAX_GLOB_RESULTS} are listed: narrow 'pattern' or 'path']"
                )
                break
            found.append(display(base / relative, context) + ("/" if is_dir else ""))
    return "\n".join(found) if found else f"no paths match {pattern!r}"


def _depth(pattern: str) -> int | None:
    """How deep under the directory searched a path matching a glob pattern can lie: one level a
    segment; None (any depth) for a ``**``, or a ``[...]`` set (a range such as ``[.-0]``, or a
    negated one, can match a ``/``)."""
    parts = pattern.split("/")
    return None if "**" in parts or "[" in pattern else len(parts)


def _files(
    base: pathlib.Path, context: ToolContext, glob: str | None, name_filter: LinearPattern | None
) -> Iterator[tuple[pathlib.Path, pathlib.Path]]:
    """(file to read, path to show) for each file under ``base`` that passes the glob filter
    (``name_filter``, compiled from ``glob``): a file name pattern, or a path pattern (with a
    ``/``), then no deeper than it reaches."""
    if not base.is_dir():
        yield base, base
        return
    by_path = glob is not None and "/" in glob
    depth = _depth(glob) if glob is not None and by_path else None
    for target, relative, is_dir in walk(base, context, "grep", max_depth=depth):
        if is_dir:
            continue
        if name_filter is not None and not name_filter.fullmatch(relative if by_path else relative.rsplit("/", 1)[-1]):
            continue
        yield target, base / relative


@tool(read_only=True, rule_argument="path")
def grep(
    pattern: str,
    path: str = ".",
    glob: str | None = None,
    ignore_case: bool = False,
    max_results: Annotated[int, {"minimum": 1, "maximum": 10000}] = 200,
    *,
    context: ToolContext,
) -> str:
    """Search text files for lines matching a regular expression (Python syntax without
    backreferences or lookaround; matched in linear time).

    Prints `file:line:text` for each matching line. Binary files and files over 10 MB are skipped;
    one call reads at most 64 MB in all, and says where it stopped.

    Args:
        pattern: The regular expression, searched for in each line.
        path: A file or a directory to search recursively, absolute or relative to the working directory.
        glob: Only search files matching this glob (a file name pattern like `*.py`, or a path pattern
            with `/` like `src/**/*.py`).
        ignore_case: Match regardless of case.
        max_results: Stop after this many matching lines.
    """
    try:
        regex = compile_linear(pattern, ignore_case=ignore_case)
    except RegexError as exc:
        raise ToolError(f"invalid regular expression {pattern!r}: {exc}") from None
    name_filter = None
    if glob is not None:
        _check_pattern(glob, "glob")
        name_filter = glob_regex(glob)
    base = resolve_in_roots(path, context, tool="grep")
    budget = MAX_GREP_BYTES
    results: list[str] = []
    read = searched = 0
    for target, shown in _files(base, context, glob, name_filter):
        if not inside_roots(target, context):
            continue
        try:  # race-free; special files refused unopened; no more read than the budget has left
            data = read_bytes(target, str(shown), context, limit=budget - read)
        except FileTooLarge as exc:
            if exc.size > MAX_FILE_BYTES:  # skipped whatever the budget
                continue
            files = f"{searched} file{'' if searched == 1 else 's'}"
            if not results:
                results.append(f"no lines match {pattern!r} in the {files} searched")
            results.append(
                f"[stopped at the {budget}-byte limit grep reads in one call, after searching {files} "
                f"({read} bytes read); narrow 'path' or 'glob' to search the rest]"
            )
            return "\n".join(results)
        except ToolError:
            continue
        read += len(data)
        if b"\x00" in data:
            continue
        searched += 1
        name = display(shown, context)
        text = data.decode("utf-8", "replace")
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        # Lines end at a line feed only, as read_file numbers them (str.splitlines would also
        # break at a form feed, a lone carriage return, U+2028...).
        for first in range(0, len(lines), _LINES_BETWEEN_CHECKS):
            context.check_stopped("grep")
            for number, line in enumerate(lines[first : first + _LINES_BETWEEN_CHECKS], start=first + 1):
                line = line.removesuffix("\r")
                if regex.search(line):
                    if len(line) > MAX_GREP_LINE_CHARS:
                        line = line[:MAX_GREP_LINE_CHARS] + " [... line cut]"
                    results.append(f"{name}:{number}:{line}")
                    if len(results) >= max_results:
                        results.append(f"[stopped after {max_results} matching lines]")
                        return "\n".join(results)
    return "\n".join(results) if results else f"no lines match {pattern!r}"
