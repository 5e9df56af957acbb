"""Confinement: every path a built-in tool touches is resolved (symlinks followed) and must lie
inside one of the context's roots."""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import stat
import tempfile
from collections.abc import Iterator

from anyagent_core.regex import LinearPattern, RegexError, compile_linear
from anyagent_httpx._tools._context import ToolContext
from anyagent_httpx._tools._tool import ToolError

__all__ = [
    "MAX_FILE_BYTES",
    "SKIPPED_DIRECTORIES",
    "display",
    "glob_regex",
    "inside_roots",
    "read_bytes",
    "resolve_in_roots",
    "walk",
    "write_bytes",
]

MAX_FILE_BYTES = 10 * 1024 * 1024
"""Files larger than this are not read (read_file, edit_file refuse them; grep skips them)."""

SKIPPED_DIRECTORIES = frozenset({".git", ".hg", ".svn"})
"""Version control internals: glob and grep do not descend into them."""

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def inside_roots(path: pathlib.Path, context: ToolContext) -> bool:
    """Whether a resolved path is one of the roots or lies under one."""
    return any(path.is_relative_to(root) for root in context.roots)


def _outside(given: str, resolved: pathlib.Path, context: ToolContext) -> ToolError:
    allowed = ", ".join(str(root) for root in context.roots)
    if str(resolved) == given:
        return ToolError(f"{given!r} is outside the allowed directories ({allowed})")
    return ToolError(f"{given!r} resolves to {str(resolved)!r}, which is outside the allowed directories ({allowed})")


def resolve_in_roots(path: str, context: ToolContext, *, for_write: bool = False) -> pathlib.Path:
    """The absolute, symlink-free form of ``path`` (relative paths start at ``context.cwd``),
    checked to lie inside ``context.roots``; raises ``ToolError`` naming the path given, what it
    resolved to and the allowed roots.

    For reading, the path is resolved strictly (it must exist). For writing, the deepest existing
    ancestor is resolved and the missing rest appended, which may not contain ``..``; an existing
    symlink (even a dangling one) is followed, so writing through it lands where it points, and
    that place must be inside the roots too.
    """
    if not isinstance(path, str):
        raise ToolError(f"a path must be a string, not {type(path).__name__}")
    if not path:
        raise ToolError("the path is empty")
    if "\x00" in path:
        raise ToolError(f"the path {path!r} contains a NUL byte")
    candidate = pathlib.Path(path)
    if not candidate.is_absolute():
        candidate = context.cwd / candidate
    if for_write:
        resolved = _resolve_for_write(candidate, path)
    else:
        try:
            resolved = pathlib.Path(os.path.realpath(candidate, strict=True))
        except OSError as exc:
            loose = pathlib.Path(os.path.realpath(candidate))
            if not inside_roots(loose, context):
                raise _outside(path, loose, context) from None
            if isinstance(exc, FileNotFoundError):
                raise ToolError(f"{path!r} does not exist") from None
            raise ToolError(f"{path!r} cannot be resolved: {exc.strerror or exc}") from None
    if not inside_roots(resolved, context):
        raise _outside(path, resolved, context)
    return resolved


def _resolve_for_write(candidate: pathlib.Path, given: str) -> pathlib.Path:
    missing: list[str] = []
    current = candidate
    while not os.path.lexists(current) and current.parent != current:
        missing.append(current.name)
        current = current.parent
    try:
        base = pathlib.Path(os.path.realpath(current, strict=True))
    except FileNotFoundError:
        base = pathlib.Path(os.path.realpath(current))  # a dangling symlink: where it points
    except OSError as exc:
        raise ToolError(f"{given!r} cannot be resolved: {exc.strerror or exc}") from None
    if ".." in missing:
        raise ToolError(f"{given!r} uses '..' after a directory that does not exist")
    return base.joinpath(*reversed(missing))


def display(path: pathlib.Path, context: ToolContext) -> str:
    """A resolved path as tools show it: relative to the working directory when under it."""
    if path.is_relative_to(context.cwd):
        return path.relative_to(context.cwd).as_posix()
    return str(path)


def read_bytes(resolved: pathlib.Path, given: str) -> bytes:
    """A regular file's bytes; ``ToolError`` for directories, special files and files over the cap."""
    try:
        info = os.stat(resolved)
    except OSError as exc:
        raise ToolError(f"cannot read {given!r}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ToolError(f"{given!r} is a directory (list_dir lists it)")
    if not stat.S_ISREG(info.st_mode):
        raise ToolError(f"{given!r} is not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        raise ToolError(f"{given!r} is {info.st_size} bytes, over the {MAX_FILE_BYTES}-byte limit for reading files")
    try:
        fd = os.open(resolved, os.O_RDONLY | _NOFOLLOW)
        with os.fdopen(fd, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ToolError(f"cannot read {given!r}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ToolError(f"{given!r} is over the {MAX_FILE_BYTES}-byte limit for reading files")
    return data


def write_bytes(resolved: pathlib.Path, data: bytes, given: str) -> None:
    """Write a file at a resolved path, creating its missing parent directories; the last
    component is opened without following symlinks. Only regular files are replaced: opening a
    named pipe for writing would block until something reads it.

    A write that fails (a full disk) changes nothing: an existing file is replaced only once the
    new content is written in full beside it (keeping its permission bits), and a new file that
    could not be written whole is removed."""
    try:
        info: os.stat_result | None = os.stat(resolved)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise ToolError(f"cannot write {given!r}: {exc.strerror or exc}") from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise ToolError(f"{given!r} is a directory")
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise ToolError(f"{given!r} is not a regular file")
    created: str | None = None
    try:
        resolved.parent.mkdir(parents=True, exist_ok=True)
        if info is None:
            fd = os.open(resolved, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666)
            created = str(resolved)
        else:
            # A short name beside it: the file's own name may be near the length limit.
            fd, created = tempfile.mkstemp(dir=resolved.parent, prefix=f".{resolved.name[:64]}.", suffix=".tmp")
            os.chmod(fd, stat.S_IMODE(info.st_mode))
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        if info is not None:
            os.replace(created, resolved)
        created = None
    except OSError as exc:
        raise ToolError(f"cannot write {given!r}: {exc.strerror or exc}") from None
    finally:
        if created is not None:
            with contextlib.suppress(OSError):
                os.unlink(created)


def walk(base: pathlib.Path, context: ToolContext) -> Iterator[tuple[pathlib.Path, str, bool]]:
    """Every entry under a resolved directory, in sorted order, as (resolved path, path relative
    to ``base``, is a directory). Symlinks are never descended into; a symlink is yielded as its
    target when that target is inside the roots, and skipped otherwise."""
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames[:] = sorted(name for name in dirnames if name not in SKIPPED_DIRECTORIES)
        folder = pathlib.Path(dirpath)
        relative = folder.relative_to(base)
        for name, is_dir in sorted([(name, True) for name in dirnames] + [(name, False) for name in filenames]):
            entry = folder / name
            if entry.is_symlink():
                target = pathlib.Path(os.path.realpath(entry))
                if not inside_roots(target, context) or not target.exists():
                    continue
                yield target, (relative / name).as_posix(), target.is_dir()
            else:
                yield entry, (relative / name).as_posix(), is_dir


def _segment(text: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = text.find("]", index + 2 if text[index + 1 : index + 2] in ("!", "]") else index + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = text[index + 1 : end]
                negate = body.startswith("!")
                if negate:
                    body = body[1:]
                # Literal in a glob, special in a regex set: a backslash, a nested '[', a leading
                # '^', and the set operations '&&', '~~', '||'.
                body = re.sub(r"([\\\[^&~|])", r"\\\1", body)
                out.append("[" + ("^" if negate else "") + body + "]")
                index = end
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def glob_regex(pattern: str) -> LinearPattern:
    """A glob pattern (``*``, ``?``, ``[...]`` within a path segment; ``**`` for any number of
    directories) as a regex over ``/``-separated relative paths, matched in linear time (RE2:
    a pattern of many stars cannot backtrack); ``ToolError`` for a pattern with no regex
    equivalent (a reversed range such as ``[z-a]``)."""
    parts = pattern.split("/")
    regex = ""
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
        else:
            regex += _segment(part) + ("" if last else "/")
    try:
        return compile_linear(regex, dot_all=True)
    except RegexError as exc:
        raise ToolError(f"invalid glob pattern {pattern!r}: {exc.reason}") from None
