"""``ToolContext``: what a tool is given when it runs (the working directory, the roots file
tools are confined to, the call's id and the session's, whether the call was stopped), its paths
resolved once."""

from __future__ import annotations

import os
import pathlib
import threading
from collections.abc import Iterable

import attrs

from anyagent_core import PermissionRule
from anyagent_core.value import Value

from . import SANDBOX_MODES, SandboxMode

__all__ = ["SANDBOX_MODES", "SandboxMode", "ToolContext"]


def _resolved(path: str | os.PathLike[str]) -> pathlib.Path:
    return pathlib.Path(os.path.realpath(path))


def _resolved_all(paths: Iterable[str | os.PathLike[str]]) -> tuple[pathlib.Path, ...]:
    return tuple(_resolved(path) for path in paths)


def _names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(names)


def _denied_rules(rules: Iterable[str | PermissionRule]) -> tuple[PermissionRule, ...]:
    return tuple(rule if isinstance(rule, PermissionRule) else PermissionRule.parse(rule) for rule in rules)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ToolContext(Value):
    """Given to a tool that declares a parameter annotated ``ToolContext`` (that parameter is not
    in the schema). Paths are made absolute and resolved (symlinks followed) on construction."""

    cwd: pathlib.Path = attrs.field(converter=_resolved)
    """The working directory relative paths are taken from."""
    roots: tuple[pathlib.Path, ...] = attrs.field(
        converter=_resolved_all, default=attrs.Factory(lambda self: (self.cwd,), takes_self=True)
    )
    """The directories file tools may touch: the working directory first, then any others allowed."""
    tool_use_id: str = ""
    session_id: str | None = None
    denied: tuple[PermissionRule, ...] = attrs.field(default=(), converter=_denied_rules)
    """The ``disallowed_tools`` rules: the file tools match them against resolved paths too (a
    symlink to a denied directory is denied), and walks hide what a ``Read(...)`` rule covers."""
    sandbox: SandboxMode = attrs.field(default="auto", validator=attrs.validators.in_(SANDBOX_MODES))
    """``bash`` in bubblewrap: ``auto`` where it works (a warning, once, where not), ``required``
    (refuse to run commands without it), ``off``."""
    network: bool = False
    """Whether sandboxed commands have the network."""
    hidden_environment: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    """Environment variables ``bash`` leaves out of a command's environment: those holding the
    endpoints' secrets (``Client`` names ``ANY_AGENT_API_KEY`` and every variable whose value
    holds an API key, header value or URL credential of the endpoint or a fallback), so that a
    command the model asks for cannot print the key into the conversation."""
    _stop: threading.Event = attrs.field(init=False, factory=threading.Event, repr=False, eq=False)

    @property
    def stopped(self) -> bool:
        """Whether the call was stopped: cancelled, or past its timeout. ``run_tool`` gives each
        call a context of its own and sets this when it stops waiting; a sync tool's worker
        thread is abandoned then, so a tool that can run long (a walk, a search) checks it as it
        goes (``check_stopped``) and ends instead of working on for no one."""
        return self._stop.is_set()

    def check_stopped(self, tool: str) -> None:
        """Raise ``ToolError`` if the call was stopped (``stopped``), naming ``tool``."""
        if self._stop.is_set():
            from ._tool import ToolError

            raise ToolError(f"{tool} stopped: its call was cancelled or timed out")

    def for_call(self, tool_use_id: str) -> ToolContext:
        """This context for the call ``tool_use_id``: the paths as they are, not resolved again
        (``attrs.evolve`` would run the converters, touching the file system, for every call)."""
        return self._copy(tool_use_id=tool_use_id)

    def _for_run(self) -> tuple[ToolContext, threading.Event]:
        """This context with a stop signal of its own, unset, and that signal (``run_tool`` sets
        it when it stops waiting for the call)."""
        stop = threading.Event()
        return self._copy(_stop=stop), stop

    def _copy(self, **changes: object) -> ToolContext:
        context = object.__new__(ToolContext)
        for field in attrs.fields(ToolContext):
            object.__setattr__(context, field.name, changes.get(field.name, getattr(self, field.name)))
        return context
