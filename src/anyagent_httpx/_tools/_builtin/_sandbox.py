"""The ``bash`` tool's sandbox: bubblewrap (``bwrap``), where it exists and works.

In the sandbox the whole file system is read-only except the allowed roots (and a private
``/tmp``); the version control configuration in the roots (``.git/config``, ``.git/hooks``,
``.hg/hgrc``..., and a submodule's under ``.git/modules/``) stays read-only too, since writing
it configures code that runs. There is no network unless allowed, and the command runs in its
own PID namespace, so every process it starts ends with it: nothing it puts in the background
survives the call, and ``--die-with-parent`` ends it if the agent dies.

Whether bwrap works is probed once per process (in a container it may lack user namespaces).
"""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import subprocess
from collections.abc import Sequence

import anyio

from anyagent_httpx._tools._context import SANDBOX_MODES, SandboxMode

__all__ = ["SANDBOX_MODES", "SandboxMode", "sandbox_problem", "sandboxed", "warn_unsandboxed"]


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
) -> list[str]:
    """``argv`` run in bwrap: the file system read-only but for ``roots`` and a private ``/tmp``,
    no network unless ``network``, its own PID namespace, in ``directory``. ``hidden`` paths
    (what ``Read(...)`` deny rules cover) show as an empty read-only directory, or a file that
    cannot be opened (``/dev/null`` bound where device files do not open);
    ``read_only`` ones (``Edit(...)``) cannot be written."""
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
    command += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not network:
        command.append("--unshare-net")
    command += ["--die-with-parent", "--new-session", "--chdir", str(directory), "--", *argv]
    return command
