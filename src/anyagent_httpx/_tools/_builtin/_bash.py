"""The bash tool: a shell command in the working directory, its output capped, in bubblewrap's
sandbox where it works (``_sandbox``), every process it started killed when it ends, times out or
is cancelled."""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import shutil
import signal
import subprocess
from typing import Annotated

import anyio
import anyio.abc

from anyagent_httpx._tools._context import ToolContext
from anyagent_httpx._tools._run import truncate_middle
from anyagent_httpx._tools._tool import ToolError, tool

from ._paths import display, resolve_in_roots, sandbox_masks
from ._sandbox import (
    protected_configuration,
    remove_made,
    sandbox_problem,
    sandboxed,
    unix_socket_filter,
    warn_unsandboxed,
)

__all__ = ["MAX_OUTPUT_CHARS", "bash"]

MAX_OUTPUT_CHARS = 30_000
"""Longer output is cut in the middle, keeping its start and end."""

_LOGGER = logging.getLogger("anyagent")
_KEEP_BYTES = 64 * 1024  # of the output's start and of its end held in memory, whatever its size
_DRAIN_SECONDS = 1.0  # after the shell exits, how long to wait for background processes to close the output


class _Output:
    """The start and the end of a stream of bytes, in bounded memory."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = _KEEP_BYTES - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            excess = len(self.tail) - _KEEP_BYTES
            if excess > 0:
                del self.tail[:excess]
                self.dropped += excess

    def text(self, limit: int) -> str:
        if not self.dropped:
            return truncate_middle(bytes(self.head + self.tail).decode("utf-8", "replace"), limit)
        head = self.head.decode("utf-8", "replace")
        tail = self.tail.decode("utf-8", "replace")
        kept_head = head[: limit // 2]
        kept_tail = tail[len(tail) - limit // 2 :]
        omitted = len(head) - len(kept_head) + self.dropped + len(tail) - len(kept_tail)
        return f"{kept_head}\n[... {omitted} characters omitted ...]\n{kept_tail}"


def _kill_group(process: anyio.abc.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def _collect(process: anyio.abc.Process, output: _Output) -> None:
    """Read the output until the shell exits and its output closes (or a moment after it exits,
    when background processes keep the output open)."""
    assert process.stdout is not None
    stdout = process.stdout
    closed = anyio.Event()

    async def read() -> None:
        async for chunk in stdout:
            output.add(chunk)
        closed.set()

    async with anyio.create_task_group() as group:
        group.start_soon(read)
        await process.wait()
        with anyio.move_on_after(_DRAIN_SECONDS):
            await closed.wait()
        group.cancel_scope.cancel()


def _environment(hidden: frozenset[str]) -> dict[str, str] | None:
    """The environment of a command: this process's without the ``hidden`` variables (the
    endpoints' secrets, see ``ToolContext.hidden_environment``); None (inherited) if none is set."""
    if not hidden.intersection(os.environ):
        return None
    return {name: value for name, value in os.environ.items() if name not in hidden}


def _filter_fd() -> tuple[int, ...]:
    """A file descriptor holding the sandbox's seccomp filter (``unix_socket_filter``), read by
    bwrap from its start; none where no filter is known for this machine."""
    program = unix_socket_filter()
    if program is None:
        return ()
    fd = os.memfd_create("anyagent-seccomp")
    try:
        os.write(fd, program)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return (fd,)


def _sandboxed(
    argv: list[str], directory: pathlib.Path, context: ToolContext, seccomp_fd: int | None
) -> tuple[list[str], list[pathlib.Path]]:
    """``argv`` in the sandbox (``sandboxed``), with what the path rules and
    ``protected_configuration`` keep out of reach, and the paths to remove if the command makes
    them (``remove_made``); it looks at the roots, so it runs in a thread."""
    hidden, read_only = sandbox_masks(context)
    found = [protected_configuration(root) for root in context.roots]
    command = sandboxed(
        argv,
        roots=context.roots,
        directory=directory,
        network=context.network,
        hidden=hidden,
        read_only=read_only,
        protected=[path for configuration in found for path in configuration.protected],
        seccomp_fd=seccomp_fd,
    )
    return command, [path for configuration in found for path in configuration.unmade]


@tool(needs_permission=True, rule_argument="command")
async def bash(
    command: str,
    timeout: Annotated[float, {"exclusiveMinimum": 0, "maximum": 600}] = 120,  # noqa: ASYNC109 - the model sets it
    cwd: str | None = None,
    *,
    context: ToolContext,
) -> str:
    """Run a shell command and return its combined stdout and stderr (and its exit code when not 0).

    The command runs in bash (or sh) with no input. Output over 30000 characters is cut in the middle.
    On timeout the command and every process it started are killed; background processes end with
    the call. In the sandbox only the allowed directories and /tmp are writable, and there is no network;
    files that configure code that runs (.git/config and hooks, .github/workflows, .vscode, .env...) are read-only.

    Args:
        command: The command line.
        timeout: Seconds before the command is killed (at most 600).
        cwd: The directory to run in, inside the allowed directories; the working directory by default.
    """
    directory = context.cwd if cwd is None else resolve_in_roots(cwd, context)
    if not directory.is_dir():
        raise ToolError(f"{cwd!r} is not a directory")
    shell = shutil.which("bash") or "/bin/sh"
    argv = [shell, "-c", command]
    pass_fds: tuple[int, ...] = ()
    unmade: list[pathlib.Path] = []
    removed: list[pathlib.Path] = []
    problem = None if context.sandbox == "off" else await sandbox_problem()
    if problem is not None and context.sandbox == "required":
        raise ToolError(f"the sandbox is required, and {problem}; the command was not run")
    if problem is not None:
        warn_unsandboxed(problem)
    try:
        if context.sandbox != "off" and problem is None:
            pass_fds = _filter_fd()
            seccomp_fd = pass_fds[0] if pass_fds else None
            argv, unmade = await anyio.to_thread.run_sync(_sandboxed, argv, directory, context, seccomp_fd)
        process = await anyio.open_process(
            argv,
            cwd=directory,
            env=_environment(context.hidden_environment),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=pass_fds,
        )
    except OSError as exc:
        raise ToolError(f"could not start {shell}: {exc.strerror or exc}") from None
    finally:
        for fd in pass_fds:
            os.close(fd)
    output = _Output()
    timed_out = False
    try:
        with anyio.move_on_after(timeout) as scope:
            await _collect(process, output)
        if scope.cancelled_caught:
            timed_out = True
            _kill_group(process)
    except BaseException:
        _kill_group(process)  # cancelled from outside: take every process of the command down with it
        raise
    finally:
        with anyio.CancelScope(shield=True):
            await process.wait()
            _kill_group(process)  # what it left in the background ends with the call
            await process.aclose()
            removed = remove_made(unmade)  # the sandbox's processes have all ended with it
    text = output.text(MAX_OUTPUT_CHARS)
    if removed:
        names = ", ".join(display(path, context) for path in removed)
        _LOGGER.warning("a bash command made %s, which points git's configuration elsewhere; removed", names)
        text += f"\n[the command made {names}, which would point git's configuration elsewhere: removed]"
    if timed_out:
        raise ToolError(f"the command timed out after {timeout:g}s and was killed; output so far:\n{text}")
    if removed:
        raise ToolError(text)
    if process.returncode:
        text = f"{text}\nexit code {process.returncode}" if text else f"exit code {process.returncode}"
    return text or "(no output)"
