"""The ``bash`` tool's sandbox: bubblewrap (``bwrap``), where it exists and works.

In the sandbox the whole file system is read-only except the allowed roots (and a private
``/tmp``); what in the roots makes code run later stays read-only too
(``protected_configuration``: version control configuration, ``.git/config``, ``.git/hooks``,
``.hg/hgrc``..., in nested repositories and submodules too, and ``.github/workflows/``,
``.vscode/``, ``.envrc``...), and a ``.git/commondir`` the command makes is removed when it ends
(``remove_made``). There is no network unless allowed, and the command runs in its
own PID namespace, so every process it starts ends with it: nothing it puts in the background
survives the call, and ``--die-with-parent`` ends it if the agent dies. No unix socket can be
opened in it, nor an io_uring set up (``unix_socket_filter``, a seccomp filter), and
``/run/user`` shows empty.

Whether bwrap works is probed once per process (in a container it may lack user namespaces).
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import os
import pathlib
import platform
import shutil
import struct
import subprocess
from collections.abc import Sequence
from typing import NamedTuple

import anyio

from anyagent_core import protected_path
from anyagent_httpx._tools._context import SANDBOX_MODES, SandboxMode

__all__ = [
    "SANDBOX_MODES",
    "Configuration",
    "SandboxMode",
    "protected_configuration",
    "remove_made",
    "sandbox_problem",
    "sandboxed",
    "unix_socket_filter",
    "warn_unsandboxed",
]


_LOGGER = logging.getLogger("anyagent")
_GIT_CONFIG = ("config", "config.worktree", "commondir", "hooks", "info")
"""What configures the code git runs, in a git directory (a repository's ``.git/``, a submodule's
``.git/modules/<name>/``, a linked worktree's ``.git/worktrees/<name>/``): read-only in the
sandbox, the rest of it writable, so commits still work."""
_VERSION_CONTROL = {".hg": ("hgrc",), ".svn": ("config",), ".jj": ("repo/config.toml",)}
"""The same for the other version control systems whose directories stay writable."""
_UNSCANNED = frozenset({"node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".tox", ".nox"})
"""Directories the search does not enter (nor a virtual environment, with its ``pyvenv.cfg``):
large, and none of the project's configuration is in them."""
_SCAN_ENTRIES = 10_000
"""How many directory entries under each root ``protected_configuration`` looks at, breadth
first: the cost of setting up the sandbox stays bounded on a huge tree; what lies deeper is not
protected."""
_MAX_MOUNTS = 64
"""How many mounts ``protected_configuration``'s paths get at most, the directories above them
that are pinned (``_read_only_mounts``) included: each costs bwrap about a millisecond, more as
they add up, so the first ones found are kept, the shallowest."""


class Configuration(NamedTuple):
    """What ``protected_configuration`` finds under a root."""

    protected: list[pathlib.Path]
    """The paths to keep read-only."""
    unmade: list[pathlib.Path]
    """The ``commondir`` of each git directory found without one (``remove_made``)."""


def protected_configuration(root: pathlib.Path) -> Configuration:
    """The paths under ``root`` that make code run later, to keep read-only in the sandbox: what
    ``anyagent_core.protected_path`` says configures code that runs (``.github/workflows/``,
    ``.vscode/``, ``.idea/``, ``.envrc``, ``.pre-commit-config.yaml``, ``.env``...: a directory
    as a whole), and, in version control directories, which stay writable, only their
    configuration (``_GIT_CONFIG``, ``_VERSION_CONTROL``), in a nested repository too, and in
    every git directory under a ``.git/modules/`` or ``.git/worktrees/``; a submodule
    checkout's ``.git`` file (which names its git directory) as well.

    The search goes breadth first, over at most ``_SCAN_ENTRIES`` entries, and returns at most
    ``_MAX_MOUNTS`` paths, the shallowest; it follows no symlink (a link's target is protected where it lies)
    and does not enter ``_UNSCANNED`` directories or virtual environments. Only what exists now
    is found."""
    found: list[str] = []
    unmade: list[str] = []
    budget = _SCAN_ENTRIES
    # (directory, its name, whether it holds git directories rather than a work tree: .git/modules/)
    queue: collections.deque[tuple[str, str, bool]] = collections.deque([(str(root), "", False)])

    def git_directory(gitdir: str) -> None:
        found.extend(_existing(gitdir, _GIT_CONFIG))
        if not os.path.lexists(commondir := os.path.join(gitdir, "commondir")):
            unmade.append(commondir)
        queue.extend((os.path.join(gitdir, name), name, True) for name in ("modules", "worktrees"))

    while queue and budget > 0 and len(found) < _MAX_MOUNTS:
        folder, folder_name, holds_git_directories = queue.popleft()
        try:
            with os.scandir(folder) as listing:
                entries = list(itertools.islice(listing, budget))
        except OSError:  # not a directory (a missing modules/), or unreadable
            continue
        budget -= len(entries)
        if holds_git_directories:
            if any(entry.name == "HEAD" for entry in entries):
                git_directory(folder)
            else:
                queue.extend((e.path, e.name, True) for e in entries if e.is_dir(follow_symlinks=False))
            continue
        enter = not any(entry.name == "pyvenv.cfg" for entry in entries)
        for entry in entries:
            name = entry.name
            if entry.is_symlink():
                continue
            if name == ".git":
                if entry.is_dir(follow_symlinks=False):
                    git_directory(entry.path)
                else:  # "gitdir: ...", where a submodule's or a linked worktree's git directory is
                    found.append(entry.path)
            elif name in _VERSION_CONTROL:
                found.extend(_existing(entry.path, _VERSION_CONTROL[name]))
            # Its parent and itself are enough: the search does not enter a protected directory.
            elif protected_path(f"{folder_name}/{name}" if folder_name else name) is not None:
                found.append(entry.path)
            elif enter and name not in _UNSCANNED and entry.is_dir(follow_symlinks=False):
                queue.append((entry.path, name, False))
    return Configuration([pathlib.Path(path) for path in found[:_MAX_MOUNTS]], [pathlib.Path(path) for path in unmade])


def remove_made(unmade: Sequence[pathlib.Path]) -> list[pathlib.Path]:
    """Remove each of ``unmade`` (``Configuration.unmade``) that the command made after all, and
    say which. A ``commondir`` file points a git directory's configuration and hooks at another
    one: git would run the command's ``core.fsmonitor`` at the next ``git status``. Git makes
    one only in a new git directory (a linked worktree's), so in one that had none it is the
    command's; it cannot be kept from being made, since bwrap can only mount over a name that
    exists. Called once the sandbox's processes have all ended (its PID namespace is gone)."""
    removed: list[pathlib.Path] = []
    for path in unmade:
        if os.path.isdir(path) and not os.path.islink(path):
            continue  # git cannot read a directory as one: no redirection
        with contextlib.suppress(OSError):  # not made (or gone already)
            os.unlink(path)
            removed.append(path)
    return removed


def _existing(folder: str, names: Sequence[str]) -> list[str]:
    """The paths of ``names`` in ``folder`` that exist, not as symlinks."""
    paths = [os.path.join(folder, name) for name in names]
    return [path for path in paths if os.path.lexists(path) and not os.path.islink(path)]


def _read_only_mounts(
    read_only: Sequence[pathlib.Path], protected: Sequence[pathlib.Path], roots: Sequence[pathlib.Path]
) -> tuple[list[pathlib.Path], list[pathlib.Path]]:
    """(directories to pin, paths to bind read-only): every one of ``read_only``, and as many of
    ``protected`` as ``_MAX_MOUNTS`` mounts allow, in their order; not a path under a read-only
    directory, read-only already. The directories between a root and each path (the root
    excluded) are pinned, bound on themselves, parents first: a mount point cannot be renamed or
    removed, else moving a parent away (``mv .git old``) would take the read-only file with it
    and leave its name free for a new one."""
    candidates = list(dict.fromkeys((*read_only, *protected)))
    directories = {path for path in candidates if path.is_dir() and not path.is_symlink()}
    pins: dict[pathlib.Path, None] = {}
    kept: list[pathlib.Path] = []
    spent = 0  # the mounts the protected paths take
    required = set(read_only)
    for path in candidates:
        if not directories.isdisjoint(path.parents):
            continue
        root = max((root for root in roots if path.is_relative_to(root)), key=lambda r: len(r.parts), default=None)
        above = [] if root is None else [p for p in path.parents if p.is_relative_to(root) and p != root]
        new = [directory for directory in above if directory not in pins]
        if path not in required:
            if spent + 1 + len(new) > _MAX_MOUNTS:
                continue
            spent += 1 + len(new)
        pins.update(dict.fromkeys(new))
        kept.append(path)
    return sorted(pins, key=lambda path: len(path.parts)), kept


_ARCHES = {  # machine: (its AUDIT_ARCH_ value, socket's system call number, it has the x32 ABI)
    "x86_64": (0xC000003E, 41, True),
    "aarch64": (0xC00000B7, 198, False),
}
_X32 = 0x40000000  # the bit x32 system call numbers carry on x86_64
_IO_URING_CALLS = (425, 426, 427)
"""io_uring_setup, io_uring_enter and io_uring_register: the same numbers on x86_64
(arch/x86/entry/syscalls/syscall_64.tbl) and aarch64 (include/uapi/asm-generic/unistd.h). A ring
opens sockets without socket() (IORING_OP_SOCKET, Linux 5.19), so the filter refuses them all."""
_AF_UNIX = 1
_EPERM = 1
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JSET = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET = 0x06  # BPF_RET | BPF_K


def unix_socket_filter(machine: str | None = None) -> bytes | None:
    """A seccomp filter (classic BPF, as ``bwrap --seccomp`` reads it) under which
    ``socket(AF_UNIX, ...)`` fails with EPERM, for this machine (``platform.machine()``), or None
    where it is not known (then the sandbox runs without it). io_uring's system calls fail with
    EPERM too: a ring can make a socket without calling socket(). A system call of another ABI (i386
    programs, with their ``socketcall``, and x32 on x86_64) fails with EPERM too, whatever it is:
    its arguments cannot be checked the same way, so such programs do not run in the sandbox.
    ``socketpair`` stays allowed: the two ends it makes reach nothing outside the process tree."""
    arch = _ARCHES.get(machine or platform.machine())
    if arch is None:
        return None
    audit_arch, socket_call, has_x32 = arch

    def op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
        return struct.pack("<HBBI", code, jt, jf, k)

    deny = op(_RET, _RET_ERRNO | _EPERM)
    allow = op(_RET, _RET_ALLOW)
    program = [
        op(_LD_W_ABS, 4),  # seccomp_data.arch
        op(_JEQ, audit_arch, jt=1),  # the native ABI: go on; else deny
        deny,
        op(_LD_W_ABS, 0),  # seccomp_data.nr
    ]
    if has_x32:
        program += [op(_JSET, _X32, jf=1), deny]
    for call in _IO_URING_CALLS:
        program += [op(_JEQ, call, jf=1), deny]
    program += [
        op(_JEQ, socket_call, jf=3),  # not socket(): allow
        op(_LD_W_ABS, 16),  # the low 32 bits of seccomp_data.args[0], the address family
        op(_JEQ, _AF_UNIX, jf=1),
        deny,
        allow,
    ]
    return b"".join(program)


_probe: list[str | None] = []  # [None] when bwrap works, [why not] otherwise; empty before the probe
_warned: list[bool] = []
_PROBE_OPTIONS = ("--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all", "--die-with-parent")


async def sandbox_problem() -> str | None:
    """Why commands cannot run in bwrap here (None when they can); probed once per process."""
    if _probe:
        return _probe[0]
    executable = shutil.which("bwrap")
    problem: str | None
    if executable is None:
        problem = "bwrap (bubblewrap) is not installed"
    else:
        try:
            result = await anyio.run_process(
                [executable, *_PROBE_OPTIONS, "--", "true"],
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except OSError as exc:
            problem = f"bwrap could not start: {exc.strerror or exc}"
        else:
            message = result.stderr.decode("utf-8", "replace").strip()[:300]
            problem = None if result.returncode == 0 else f"bwrap does not work here ({message or result.returncode})"
    _probe.append(problem)
    return problem


def warn_unsandboxed(problem: str) -> None:
    """Say, once per process, that commands run without a sandbox, and why."""
    if not _warned:
        _warned.append(True)
        _LOGGER.warning(
            "bash commands run WITHOUT a sandbox: %s. Install bubblewrap (apt-get install bubblewrap) "
            "or pass sandbox='required' to refuse to run them unsandboxed.",
            problem,
        )


def sandboxed(
    argv: Sequence[str],
    *,
    roots: Sequence[pathlib.Path],
    directory: pathlib.Path,
    network: bool,
    hidden: Sequence[pathlib.Path] = (),
    read_only: Sequence[pathlib.Path] = (),
    protected: Sequence[pathlib.Path] = (),
    seccomp_fd: int | None = None,
) -> list[str]:
    """``argv`` run in bwrap: the file system read-only but for ``roots`` and a private ``/tmp``,
    no network unless ``network``, its own PID namespace, in ``directory``. ``hidden`` paths
    (what ``Read(...)`` deny rules cover) show as an empty read-only directory, or a file that
    cannot be opened (``/dev/null`` bound where device files do not open);
    ``read_only`` ones (``Edit(...)``) cannot be written, nor replaced by renaming a directory
    above them; nor ``protected`` ones (``protected_configuration``), as many as
    ``_MAX_MOUNTS`` mounts allow. ``seccomp_fd``, a file descriptor the
    process inherits holding ``unix_socket_filter()``, makes ``socket(AF_UNIX, ...)`` fail in the
    whole process tree; ``/run/user`` (the user's session bus, ``systemd-run --user``'s way out)
    shows as an empty directory."""
    executable = shutil.which("bwrap") or "bwrap"
    command = [executable, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for root in roots:
        command += ["--bind", str(root), str(root)]
    pins, kept = _read_only_mounts(read_only, protected, roots)
    for pin in pins:
        command += ["--bind", str(pin), str(pin)]
    for path in kept:
        command += ["--ro-bind", str(path), str(path)]
    for path in hidden:
        if path.is_dir():
            command += ["--tmpfs", str(path), "--remount-ro", str(path)]
        else:
            command += ["--ro-bind", "/dev/null", str(path)]
    if os.path.isdir("/run/user") and not any(root.is_relative_to("/run/user") for root in roots):
        command += ["--tmpfs", "/run/user", "--remount-ro", "/run/user"]
    if seccomp_fd is not None:
        command += ["--seccomp", str(seccomp_fd)]
    command += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not network:
        command.append("--unshare-net")
    command += ["--die-with-parent", "--new-session", "--chdir", str(directory), "--", *argv]
    return command
