"""Confinement: every path a built-in tool touches is resolved (symlinks followed) and must lie
inside one of the context's roots, and the context's deny rules are matched against that
resolved path. Files, and the directories listed or walked, are then opened race-free: from the
root's descriptor, one component at a time with ``O_NOFOLLOW`` (``dir_fd``), so a directory
swapped for a symlink between the check and the open fails the call instead of leading outside.
A regular file with more than one hard link is not read: its other name may lie outside the
roots."""

from __future__ import annotations

import collections
import contextlib
import fnmatch
import itertools
import os
import pathlib
import re
import stat
from collections.abc import Iterator
from typing import NamedTuple

from anyagent_core import PermissionRule, protected_path
from anyagent_core.regex import LinearPattern, RegexError, compile_linear
from anyagent_httpx._tools._context import ToolContext
from anyagent_httpx._tools._tool import ToolError

__all__ = [
    "MASK_SCAN_DEPTH",
    "MASK_SCAN_ENTRIES",
    "MAX_FILE_BYTES",
    "SKIPPED_DIRECTORIES",
    "FileTooLarge",
    "display",
    "check_rules",
    "glob_regex",
    "hidden",
    "sandbox_masks",
    "inside_roots",
    "open_directory",
    "read_bytes",
    "resolve_in_roots",
    "walk",
    "write_bytes",
]

MAX_FILE_BYTES = 10 * 1024 * 1024
"""Files larger than this are not read (read_file, edit_file refuse them; grep skips them)."""

SKIPPED_DIRECTORIES = frozenset({".git", ".hg", ".svn"})
"""Version control internals: glob and grep do not descend into them."""


class FileTooLarge(ToolError):
    """``read_bytes`` met a file over the limit it was given."""

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size
        """The file's size in bytes (at least the limit plus one for a file that grew while read)."""


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_READ_RULES = ("Read",)
_WRITE_RULES = ("Read", "Edit")


def _rule_matches(rule: PermissionRule, relative: str) -> bool:
    assert rule.pattern is not None
    return fnmatch.fnmatchcase(relative, rule.pattern) or fnmatch.fnmatchcase(
        relative, rule.pattern.rstrip("*/") or "*"
    )


def _relative(path: pathlib.Path, context: ToolContext) -> str:
    return path.relative_to(context.cwd).as_posix() if path.is_relative_to(context.cwd) else str(path)


def check_rules(tool: str, resolved: pathlib.Path, given: str, context: ToolContext, *, write: bool = False) -> None:
    """Refuse (``ToolError``) a resolved path the context's deny rules cover for ``tool``
    (its own rules, ``Read(...)``, and ``Edit(...)`` when writing): the rules also see where a
    symlink leads. A write whose target resolves to a protected path (``protected_path``) under
    a name that is not one is refused too: the permission rules asked about the name given."""
    relative = _relative(resolved, context)
    names = (tool, *(_WRITE_RULES if write else _READ_RULES))
    for rule in context.denied:
        if rule.pattern is not None and rule.tool in names and _rule_matches(rule, relative):
            raise ToolError(f"{given!r} is disallowed by the rule {str(rule)!r} (it resolves to {relative!r})")
    if write and protected_path(relative) is not None and protected_path(given, str(context.cwd)) is None:
        raise ToolError(f"{given!r} resolves to {relative!r}, a protected path; name it as such to be asked about it")


def hidden(tool: str, resolved: pathlib.Path, context: ToolContext) -> bool:
    """Whether a walk (glob, grep, list_dir) leaves out an entry: a deny rule for ``tool`` or a
    ``Read(...)`` rule covers its resolved path."""
    if not context.denied:
        return False
    relative = _relative(resolved, context)
    return any(
        rule.pattern is not None and rule.tool in (tool, "Read") and _rule_matches(rule, relative)
        for rule in context.denied
    )


MASK_SCAN_ENTRIES = 100_000
"""How many directory entries under each root ``sandbox_masks`` looks at, at most: past them the
command is refused (the rules' paths could lie in what is not looked at)."""
MASK_SCAN_DEPTH = 64
"""How many directories deep under each root ``sandbox_masks`` looks, at most: a directory
deeper, not covered by a rule itself, has the command refused too."""


def sandbox_masks(context: ToolContext) -> tuple[tuple[pathlib.Path, ...], tuple[pathlib.Path, ...]]:
    """What the ``bash`` sandbox puts out of reach for the path rules, as (hidden, read-only):
    the entries under the roots a ``Read(...)`` deny rule covers (the sandbox shows an empty
    directory in their place, or a file that cannot be opened) and those only an ``Edit(...)`` rule covers (read-only).
    The roots are walked (not the version control internals, nor through symlinks: a link's
    target is masked where it lies, nor into a covered directory) only when there are such
    rules, breadth first, over at most ``MASK_SCAN_ENTRIES`` entries and ``MASK_SCAN_DEPTH``
    directories deep under each root: past either bound, ``ToolError`` (the command is not run,
    since what the rules cover could lie in what was not looked at). Only what exists now is
    masked: a name a rule covers that the command creates (outside a directory covered as a
    whole) is not, until the next command's walk."""
    rules = [rule for rule in context.denied if rule.pattern is not None and rule.tool in _WRITE_RULES]
    if not rules:
        return (), ()
    hidden_: list[pathlib.Path] = []
    read_only: list[pathlib.Path] = []
    for root in context.roots:
        budget = MASK_SCAN_ENTRIES
        top = _relative(root, context)
        # (directory, its path as the rules see it with a trailing "/" ("" for the working
        # directory), its depth under the root); strings, not paths: this looks at many entries.
        queue = collections.deque([(str(root), "" if top == "." else top.rstrip("/") + "/", 0)])
        while queue:
            folder, prefix, depth = queue.popleft()
            if depth > MASK_SCAN_DEPTH:
                raise _too_large(root, f"a directory nested more than {MASK_SCAN_DEPTH} deep, {folder!r}")
            try:
                with os.scandir(folder) as listing:
                    entries = list(itertools.islice(listing, budget + 1))
            except OSError:  # gone, or unreadable (then unreadable in the sandbox too)
                continue
            budget -= len(entries)
            if budget < 0:
                raise _too_large(root, f"more than {MASK_SCAN_ENTRIES} entries")
            for item in entries:
                try:
                    if item.is_symlink():
                        continue
                    is_dir = item.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if is_dir and item.name in SKIPPED_DIRECTORIES:
                    continue
                relative = prefix + item.name
                covering = {rule.tool for rule in rules if _rule_matches(rule, relative)}
                if "Read" in covering:
                    hidden_.append(pathlib.Path(item.path))
                elif "Edit" in covering:
                    read_only.append(pathlib.Path(item.path))
                elif is_dir:
                    queue.append((item.path, relative + "/", depth + 1))
    return tuple(hidden_), tuple(read_only)


def _too_large(root: pathlib.Path, what: str) -> ToolError:
    return ToolError(
        f"the path rules cannot be applied in the sandbox: {str(root)!r} holds {what}, past what is "
        "searched for the paths they cover; the command was not run (narrow the allowed directories)"
    )


def inside_roots(path: pathlib.Path, context: ToolContext) -> bool:
    """Whether a resolved path is one of the roots or lies under one."""
    return any(path.is_relative_to(root) for root in context.roots)


def _outside(given: str, resolved: pathlib.Path, context: ToolContext) -> ToolError:
    allowed = ", ".join(str(root) for root in context.roots)
    if str(resolved) == given:
        return ToolError(f"{given!r} is outside the allowed directories ({allowed})")
    return ToolError(f"{given!r} resolves to {str(resolved)!r}, which is outside the allowed directories ({allowed})")


def resolve_in_roots(path: str, context: ToolContext, *, for_write: bool = False, tool: str = "") -> pathlib.Path:
    """The absolute, symlink-free form of ``path`` (relative paths start at ``context.cwd``),
    checked to lie inside ``context.roots``; raises ``ToolError`` naming the path given, what it
    resolved to and the allowed roots.

    For reading, the path is resolved strictly (it must exist). For writing, the deepest existing
    ancestor is resolved and the missing rest appended, which may not contain ``..``; an existing
    symlink (even a dangling one) is followed, so writing through it lands where it points, and
    that place must be inside the roots too. The resolved path is then checked against the
    context's deny rules for ``tool`` (``check_rules``).
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
            try:
                loose = pathlib.Path(os.path.realpath(candidate))
            except OSError:  # the path changed while being resolved
                raise ToolError(f"{path!r} cannot be resolved: {exc.strerror or exc}") from None
            if not inside_roots(loose, context):
                raise _outside(path, loose, context) from None
            if isinstance(exc, FileNotFoundError):
                raise ToolError(f"{path!r} does not exist") from None
            raise ToolError(f"{path!r} cannot be resolved: {exc.strerror or exc}") from None
    if not inside_roots(resolved, context):
        raise _outside(path, resolved, context)
    check_rules(tool, resolved, path, context, write=for_write)
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
        try:
            base = pathlib.Path(os.path.realpath(current))  # a dangling symlink: where it points
        except OSError as exc:  # the path changed while being resolved
            raise ToolError(f"{given!r} cannot be resolved: {exc.strerror or exc}") from None
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


def _root_of(resolved: pathlib.Path, context: ToolContext) -> pathlib.Path:
    roots = [root for root in context.roots if resolved.is_relative_to(root)]
    if not roots:  # pragma: no cover - resolve_in_roots checked it
        raise ToolError(f"{str(resolved)!r} is outside the allowed directories")
    return max(roots, key=lambda root: len(root.parts))


@contextlib.contextmanager
def _parent_fd(resolved: pathlib.Path, given: str, context: ToolContext, *, create: bool) -> Iterator[int]:
    """A descriptor of ``resolved``'s parent directory, reached from its root one component at
    a time without following symlinks (missing directories made when ``create``)."""
    root = _root_of(resolved, context)
    if resolved == root:
        raise ToolError(f"{given!r} is a directory")
    parts = resolved.relative_to(root).parts[:-1]
    try:
        fd = os.open(root, _DIRECTORY)
    except OSError as exc:
        raise ToolError(f"cannot open the directory {str(root)!r}: {exc.strerror or exc}") from None
    try:
        for part in parts:
            try:
                following = os.open(part, _DIRECTORY, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
                following = os.open(part, _DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = following
        yield fd
    except OSError as exc:
        raise ToolError(f"cannot open {given!r}: {_changed(exc)}") from None
    finally:
        os.close(fd)


@contextlib.contextmanager
def open_directory(resolved: pathlib.Path, given: str, context: ToolContext) -> Iterator[int]:
    """A descriptor of the directory at a resolved path, reached from its root one component at
    a time without following symlinks (as files are opened), so what is listed or walked from it
    lies under the root even if a directory above it is swapped for a symlink after the check."""
    if resolved == _root_of(resolved, context):
        try:
            fd = os.open(resolved, _DIRECTORY)
        except OSError as exc:
            raise ToolError(f"cannot open the directory {given!r}: {exc.strerror or exc}") from None
    else:
        with _parent_fd(resolved, given, context, create=False) as parent:
            try:
                fd = os.open(resolved.name, _DIRECTORY, dir_fd=parent)
            except OSError as exc:
                raise ToolError(f"cannot open the directory {given!r}: {_changed(exc)}") from None
    try:
        yield fd
    finally:
        os.close(fd)


def _changed(exc: OSError) -> str:
    import errno

    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return "a component is a symlink or not a directory (did it change while being opened?)"
    return str(exc.strerror or exc)


def _check_readable(info: os.stat_result, given: str, limit: int) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise ToolError(f"{given!r} is a directory (list_dir lists it)")
    if not stat.S_ISREG(info.st_mode):
        raise ToolError(f"{given!r} is not a regular file")
    if info.st_nlink > 1:
        raise ToolError(
            f"{given!r} has {info.st_nlink} hard links; a file with more than one is not read, "
            "since another of its names may lie outside the allowed directories"
        )
    if info.st_size > limit:
        raise FileTooLarge(
            f"{given!r} is {info.st_size} bytes, over the {limit}-byte limit for reading files", info.st_size
        )


def read_bytes(resolved: pathlib.Path, given: str, context: ToolContext, *, limit: int = MAX_FILE_BYTES) -> bytes:
    """A regular file's bytes, opened race-free under its root; ``ToolError`` for directories,
    special files and files with more than one hard link, ``FileTooLarge`` for files over
    ``limit`` bytes (at most ``MAX_FILE_BYTES``; no more than ``limit`` + 1 are read). What the name is
    is looked at first, so a named pipe or a device is refused without being opened (opening a
    pipe wakes a writer waiting for a reader); the open descriptor is checked again, in case the
    name changed in between."""
    limit = min(limit, MAX_FILE_BYTES)
    with _parent_fd(resolved, given, context, create=False) as parent:
        try:
            _check_readable(os.stat(resolved.name, dir_fd=parent, follow_symlinks=False), given, limit)
            fd = os.open(resolved.name, os.O_RDONLY | _NOFOLLOW | _NONBLOCK, dir_fd=parent)
        except OSError as exc:
            raise ToolError(f"cannot read {given!r}: {_changed(exc)}") from None
        try:
            _check_readable(os.fstat(fd), given, limit)
            with os.fdopen(fd, "rb", closefd=False) as file:
                data = file.read(limit + 1)
        except OSError as exc:
            raise ToolError(f"cannot read {given!r}: {exc.strerror or exc}") from None
        finally:
            os.close(fd)
    if len(data) > limit:
        raise FileTooLarge(f"{given!r} is over the {limit}-byte limit for reading files", len(data))
    return data


def write_bytes(resolved: pathlib.Path, data: bytes, given: str, context: ToolContext) -> None:
    """Write a file at a resolved path, creating its missing parent directories, every
    component opened race-free under its root (no symlink followed). Only regular files are
    replaced: opening a named pipe for writing would block until something reads it.

    A write that fails (a full disk) changes nothing: an existing file is replaced only once the
    new content is written in full beside it (keeping its permission bits), and a new file that
    could not be written whole is removed."""
    name = resolved.name
    with _parent_fd(resolved, given, context, create=True) as parent:
        try:
            info: os.stat_result | None = os.stat(name, dir_fd=parent, follow_symlinks=False)
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
            if info is None:
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666, dir_fd=parent)
                created = name
            else:
                # A short name beside it: the file's own name may be near the length limit.
                for _attempt in range(100):
                    candidate = f".{name[:64]}.{os.urandom(6).hex()}.tmp"
                    try:
                        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600, dir_fd=parent)
                    except FileExistsError:
                        continue
                    created = candidate
                    break
                else:  # pragma: no cover - 100 collisions of 48 random bits
                    raise ToolError(f"cannot write {given!r}: no free temporary name beside it")
                os.fchmod(fd, stat.S_IMODE(info.st_mode))
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            if info is not None:
                assert created is not None
                os.replace(created, name, src_dir_fd=parent, dst_dir_fd=parent)
            created = None
        except OSError as exc:
            raise ToolError(f"cannot write {given!r}: {_changed(exc)}") from None
        finally:
            if created is not None:
                with contextlib.suppress(OSError):
                    os.unlink(created, dir_fd=parent)


def walk(
    base: pathlib.Path, context: ToolContext, tool: str = "", *, max_depth: int | None = None
) -> Iterator[tuple[pathlib.Path, str, bool]]:
    """Every entry under a resolved directory, as (resolved path, path relative to ``base``, is a
    directory), in the order of those relative paths sorted with a ``/`` after each directory's
    (depth first, a directory's entries right after it): the order glob lists them in, so a
    caller that has enough stops early, and the rest of the tree is not read. Only the
    directories on the way down are listed at a time (one listing each, sorted). ``max_depth``
    leaves out what lies deeper (1: the entries of ``base`` only).

    ``base`` is opened from its root's descriptor (``open_directory``) and each directory under
    it from its parent's, never following a symlink (``O_NOFOLLOW``), so neither ``base`` nor a
    directory under it swapped for a symlink is followed; a symlink is yielded as its target
    when that target is inside the roots, and skipped otherwise (never entered). Version control
    internals (``SKIPPED_DIRECTORIES``) are not entered, and entries the deny rules hide for
    ``tool`` (``hidden``) are left out, directories with everything under them. ``ToolError``
    when ``base`` cannot be opened as a directory, and at the next entry once the call is
    stopped (``ToolContext.check_stopped``: cancelled, or past its timeout)."""
    with open_directory(base, display(base, context), context) as base_fd:
        yield from _walk_from(base, base_fd, context, tool, max_depth)


class _Entry(NamedTuple):
    key: str
    """The name, with a ``/`` after a directory's: what siblings are sorted by."""
    name: str
    path: pathlib.Path
    """What is yielded: the entry, or a symlink's target."""
    is_dir: bool
    descend: bool
    """A directory (not a symlink to one) to list in turn."""


def _listing(fd: int, folder: pathlib.Path, context: ToolContext, tool: str) -> list[_Entry]:
    """The entries ``walk`` yields from the open directory ``fd`` (at ``folder``), sorted; none
    when it cannot be listed (gone, or unreadable)."""
    try:
        with os.scandir(fd) as listing:
            scanned = list(listing)
    except OSError:
        return []
    entries: list[_Entry] = []
    for item in scanned:
        name = item.name
        entry = folder / name
        try:
            is_dir = item.is_dir()  # a symlink's target's kind, as the glob shows it
            is_link = item.is_symlink()
        except OSError:
            continue
        if is_dir and name in SKIPPED_DIRECTORIES:
            continue
        if hidden(tool, entry, context):
            continue
        if is_link:
            target = pathlib.Path(os.path.realpath(entry))
            if not inside_roots(target, context) or not target.exists() or hidden(tool, target, context):
                continue
            is_dir = target.is_dir()
            entries.append(_Entry(name + "/" if is_dir else name, name, target, is_dir, False))
        else:
            entries.append(_Entry(name + "/" if is_dir else name, name, entry, is_dir, is_dir))
    entries.sort()
    return entries


def _walk_from(
    base: pathlib.Path, base_fd: int, context: ToolContext, tool: str, max_depth: int | None
) -> Iterator[tuple[pathlib.Path, str, bool]]:
    what = tool or "the walk"
    context.check_stopped(what)
    # The directories on the way down: (descriptor, path relative to base with a trailing "/",
    # the entries not yet yielded); the descriptors below base's are this walk's to close.
    stack: list[tuple[int, str, Iterator[_Entry]]] = [(base_fd, "", iter(_listing(base_fd, base, context, tool)))]
    try:
        while stack:
            fd, prefix, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                if fd != base_fd:
                    os.close(fd)
                continue
            context.check_stopped(what)
            relative = prefix + entry.name
            yield entry.path, relative, entry.is_dir
            if not entry.descend or (max_depth is not None and len(stack) >= max_depth):
                continue
            try:  # by name from its parent, not following a symlink: swapped since, it is skipped
                child = os.open(entry.name, _DIRECTORY, dir_fd=fd)
            except OSError:
                continue
            try:
                listed = _listing(child, entry.path, context, tool)
            except BaseException:
                os.close(child)
                raise
            stack.append((child, relative + "/", iter(listed)))
    finally:
        for fd, _prefix, _entries in stack:
            if fd != base_fd:
                os.close(fd)


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
