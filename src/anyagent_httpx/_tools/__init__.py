"""Tools: typed Python functions offered to the model, their arguments validated and converted,
run without blocking the event loop and without ever raising into the agent loop.

``_tool``: ``Tool``, ``@tool`` and ``ToolError``; ``_schema``: JSON schemas from annotations and
docstrings; ``_context``: ``ToolContext``; ``_run``: ``run_tool``, timeouts and output caps
(MCP-shaped results read as such); ``_server``: ``ToolServer``, tools served in-process under
``mcp__<server>__<tool>`` names; ``_builtin``: the built-in tools (files, search, bash), confined
to the context's roots, loaded when first asked for (``BUILTIN_TOOLS``, ``builtin_tool``), not by
a client whose tools are all functions of its own. ``_run`` and ``_server`` load likewise, with the
first tool call run or the first served tool; ``_tool`` and ``_context`` with the first tool made
(``@tool``) or run, not by a client without tools.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeAlias

if TYPE_CHECKING:
    from ._builtin import BUILTIN_TOOLS, builtin_tool
    from ._context import ToolContext
    from ._run import MAX_RESULT_BLOCKS, MAX_RESULT_CHARS, is_mcp_result, mcp_content, run_tool, truncate_middle
    from ._server import ToolServer, server_tool_name
    from ._tool import Tool, ToolError, ToolInputError, tool

SandboxMode: TypeAlias = Literal["auto", "required", "off"]
"""Where ``bash`` runs: in bubblewrap where it works (``auto``), only there (``required``), never in it (``off``)."""
SANDBOX_MODES: tuple[SandboxMode, ...] = ("auto", "required", "off")

#: Loaded on first use: a client without tools makes, runs and serves none.
_LAZY = {
    "Tool": "._tool",
    "ToolError": "._tool",
    "ToolInputError": "._tool",
    "tool": "._tool",
    "ToolContext": "._context",
    "BUILTIN_TOOLS": "._builtin",
    "builtin_tool": "._builtin",
    "MAX_RESULT_BLOCKS": "._run",
    "MAX_RESULT_CHARS": "._run",
    "is_mcp_result": "._run",
    "mcp_content": "._run",
    "run_tool": "._run",
    "truncate_middle": "._run",
    "ToolServer": "._server",
    "server_tool_name": "._server",
}

__all__ = [
    "BUILTIN_TOOLS",
    "MAX_RESULT_BLOCKS",
    "MAX_RESULT_CHARS",
    "SANDBOX_MODES",
    "SandboxMode",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolInputError",
    "ToolServer",
    "builtin_tool",
    "is_mcp_result",
    "mcp_content",
    "run_tool",
    "server_tool_name",
    "tool",
    "truncate_middle",
]


def __getattr__(name: str) -> Any:
    home = _LAZY.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value  # the next lookup is an ordinary one
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
