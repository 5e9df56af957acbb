"""``ToolContext``: what a tool is given when it runs (the working directory, the roots file
tools are confined to, the call's id and the session's), its paths resolved once."""

from __future__ import annotations

import os
import pathlib
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

    def for_call(self, tool_use_id: str) -> ToolContext:
        """This context for the call ``tool_use_id``: the paths as they are, not resolved again
        (``attrs.evolve`` would run the converters, touching the file system, for every call)."""
        context = object.__new__(ToolContext)
        for field in attrs.fields(ToolContext):
            object.__setattr__(context, field.name, getattr(self, field.name))
        object.__setattr__(context, "tool_use_id", tool_use_id)
        return context
