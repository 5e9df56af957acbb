"""Tools: typed Python functions offered to the model, their arguments validated and converted,
run without blocking the event loop and without ever raising into the agent loop.

``_tool``: ``Tool``, ``@tool`` and ``ToolError``; ``_schema``: JSON schemas from annotations and
docstrings; ``_context``: ``ToolContext``; ``_run``: ``run_tool``, timeouts and output caps;
``_builtin``: the built-in tools (files, search, bash), confined to the context's roots, loaded
when first asked for (``BUILTIN_TOOLS``, ``builtin_tool``), not by a client whose tools are all
functions of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._context import ToolContext
from ._run import MAX_RESULT_CHARS, run_tool, truncate_middle
from ._tool import Tool, ToolError, ToolInputError, tool

if TYPE_CHECKING:
    from ._builtin import BUILTIN_TOOLS, builtin_tool

__all__ = [
    "BUILTIN_TOOLS",
    "MAX_RESULT_CHARS",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolInputError",
    "builtin_tool",
    "run_tool",
    "tool",
    "truncate_middle",
]


def __getattr__(name: str) -> Any:
    if name in ("BUILTIN_TOOLS", "builtin_tool"):
        from . import _builtin

        return getattr(_builtin, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
