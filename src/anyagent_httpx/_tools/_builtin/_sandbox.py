"""The ``bash`` tool's sandbox: bubblewrap (``bwrap``), where it exists and works.

In the sandbox the whole file system is read-only except the allowed roots (and a private
``/tmp``); the version control configuration in the roots (``.git/config``, ``.git/hooks``,
``.hg/hgrc``..., and a submodule's under ``.git/modules/``) stays read-only too, since writing
it configures code that runs. There is no network unless allowed, and the command runs in its
own PID namespace, so every process it starts ends with it: nothing it puts in the background
survives the call, and ``--die-with-parent`` ends it if the agent dies. No unix socket can be
opened in it, nor an io_uring set up (``unix_socket_filter``, a seccomp filter), and
``/run/user`` shows empty.

Whether bwrap works is probed once per process (in a container it may lack user namespaces).
"""

from __future__ import annotations

import logging
import os
import pathlib
import platform
import shutil
import struct
import subprocess
from collections.abc import Sequence

import anyio

from anyagent_httpx._tools._context import SANDBOX_MODES, SandboxMode

__all__ = ["SANDBOX_MODES", "SandboxMode", "sandbox_problem", "sandboxed", "unix_socket_filter", "warn_unsandboxed"]


_LOGGER = logging.getLogger("anyagent")
_PROTECTED = (
    ".git/config",
    ".git/config.worktree",
    ".git/hooks",
    ".git/info",
    ".hg/hgrc",
    ".svn/config",
    ".jj/repo/config.toml",
)
"""What configures code version control runs: read-only in the sandbox (commits still work)."""
_GIT_CONFIG = ("config", "config.worktree", "hooks", "info")
"""The same in a submodule's git directory (``.git/modules/<name>/``), which ``git status`` in the
top repository reads when it runs git in the submodule."""


def _version_control_config(root: pathlib.Path) -> list[pathlib.Path]:
    """The paths under ``root`` that configure what version control runs (not symlinks): those
    of ``_PROTECTED``, and the configuration of every submodule's git directory, nested ones
    included (``.git/modules/a/modules/b/``)."""
    found = [root / name for name in _PROTECTED]
    modules = root / ".git" / "modules"
    if os.path.isdir(modules) and not os.path.islink(modules):
        for dirpath, dirnames, filenames in os.walk(modules):
            if "HEAD" in filenames:  # a git directory: only its modules/ holds more of them
                found += [pathlib.Path(dirpath, name) for name in _GIT_CONFIG]
                dirnames[:] = ["modules"] if "modules" in dirnames else []
    return [path for path in found if os.path.lexists(path) and not os.path.islink(path)]


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
    seccomp_fd: int | None = None,
) -> list[str]:
    """``argv`` run in bwrap: the file system read-only but for ``roots`` and a private ``/tmp``,
    no network unless ``network``, its own PID namespace, in ``directory``. ``hidden`` paths
    (what ``Read(...)`` deny rules cover) show as an empty read-only directory, or a file that
    cannot be opened (``/dev/null`` bound where device files do not open);
    ``read_only`` ones (``Edit(...)``) cannot be written. ``seccomp_fd``, a file descriptor the
    process inherits holding ``unix_socket_filter()``, makes ``socket(AF_UNIX, ...)`` fail in the
    whole process tree; ``/run/user`` (the user's session bus, ``systemd-run --user``'s way out)
    shows as an empty directory."""
    executable = shutil.which("bwrap") or "bwrap"
    command = [executable, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for root in roots:
        command += ["--bind", str(root), str(root)]
    for root in roots:
        for inner in _version_control_config(root):
            command += ["--ro-bind", str(inner), str(inner)]
    for path in hidden:
        if path.is_dir():
            command += ["--tmpfs", str(path), "--remount-ro", str(path)]
        else:
            command += ["--ro-bind", "/dev/null", str(path)]
    for path in read_only:
        command += ["--ro-bind", str(path), str(path)]
    if os.path.isdir("/run/user") and not any(root.is_relative_to("/run/user") for root in roots):
        command += ["--tmpfs", "/run/user", "--remount-ro", "/run/user"]
    if seccomp_fd is not None:
        command += ["--seccomp", str(seccomp_fd)]
    command += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not network:
        command.append("--unshare-net")
    command += ["--die-with-parent", "--new-session", "--chdir", str(directory), "--", *argv]
    return command
