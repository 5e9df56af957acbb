"""The loop's tools: ``ToolTraits`` (what a tool says about itself, for the permission rules)
and ``LoopTool`` (a tool as the loop sees it). Only settings with tools hold them, so they load
with the first tool given (or by name: ``anyagent_core._agent._permissions`` and
``anyagent_core._agent._settings`` resolve them on first use), and keep those modules as their
``__module__``, where pickles find them."""

from __future__ import annotations

import typing

import attrs

from anyagent_core._messages import ToolSpec
from anyagent_core.value import Value

__all__ = ["LoopTool", "ToolTraits"]


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ToolTraits(Value):
    """What a tool says about itself, for the permission rules."""

    __module__ = "anyagent_core._agent._permissions"

    read_only: bool = False
    """It changes nothing: allowed in every mode, ``plan`` included."""
    edits_files: bool = False
    """It changes files under the allowed roots: ``acceptEdits`` allows it without asking."""
    needs_permission: bool = False
    """In ``default`` mode, ask before running it (shell commands, writes)."""
    rule_argument: str | None = None
    """The argument a rule's pattern is matched against (``command`` for bash, ``path`` for files)."""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class LoopTool(Value):
    """A tool as the loop sees it: its spec, its traits for the permission rules, and whether
    the caller answers it (``external``) instead of the driver running it."""

    __module__ = "anyagent_core._agent._settings"

    spec: ToolSpec
    traits: ToolTraits = attrs.field(factory=ToolTraits)
    external: bool = False


# The hints name classes of this module, which their homes (``__module__``) hold only on first use:
# resolved here, so that ``typing.get_type_hints`` finds them from their homes too.
for _cls in (ToolTraits, LoopTool):
    _cls.__annotations__.update(typing.get_type_hints(_cls, globalns=globals()))
del _cls
