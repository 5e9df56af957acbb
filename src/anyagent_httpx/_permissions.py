"""Asking for permission: the ``can_use_tool`` callback and what it is told.

The rules themselves (modes, ``allowed_tools``, ``disallowed_tools``) are data in the core
(``anyagent_core.PermissionPolicy``); when they say *ask*, the client calls ``can_use_tool``.
Nothing here runs a tool.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeAlias

import attrs

from anyagent_core import PermissionAllow, PermissionDeny, PermissionMode, ToolTraits, ToolUseBlock
from anyagent_core.value import Value

__all__ = [
    "CanUseTool",
    "PermissionResult",
    "PermissionResultAllow",
    "PermissionResultDeny",
    "ToolPermissionContext",
    "ask_permission",
    "no_callback_denial",
]

PermissionResultAllow = PermissionAllow
PermissionResultDeny = PermissionDeny
PermissionResult: TypeAlias = PermissionAllow | PermissionDeny


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ToolPermissionContext(Value):
    """What ``can_use_tool`` is told besides the tool's name and input."""

    tool_use_id: str
    reason: str
    """Why the rules ask (``"'bash' needs permission in default mode"``)."""
    mode: PermissionMode
    traits: ToolTraits
    session_id: str | None = None
    agent: str | None = None
    """The subagent making the call (None for the main agent)."""


CanUseTool: TypeAlias = Callable[
    [str, Mapping[str, Any], ToolPermissionContext], Awaitable[PermissionResult] | PermissionResult
]
"""``can_use_tool(tool_name, input, context)``, async or not, returns ``PermissionAllow``
(optionally with ``updated_input``) or ``PermissionDeny(message)``."""


def no_callback_denial(call: ToolUseBlock, context: ToolPermissionContext) -> PermissionDeny:
    """The answer when the rules ask and nobody can be asked (non-interactive use)."""
    return PermissionDeny(
        message=f"{context.reason}, and there is no can_use_tool callback to ask. "
        f"Allow it with allowed_tools=[{call.name!r}] or a permission_mode that allows it."
    )


async def ask_permission(
    can_use_tool: CanUseTool | None, call: ToolUseBlock, context: ToolPermissionContext
) -> PermissionResult:
    """Ask ``can_use_tool`` about ``call`` (a denial if there is none). A callback that returns
    something else raises ``TypeError`` naming what it returned."""
    if can_use_tool is None:
        return no_callback_denial(call, context)
    answer = can_use_tool(call.name, call.input, context)
    if inspect.isawaitable(answer):
        answer = await answer
    if not isinstance(answer, PermissionAllow | PermissionDeny):
        raise TypeError(
            f"can_use_tool returned {type(answer).__name__} for {call.name!r}; "
            "return PermissionResultAllow(...) or PermissionResultDeny(...)"
        )
    return answer
