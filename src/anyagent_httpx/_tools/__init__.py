"""Tools: typed Python functions offered to the model, their arguments validated and converted,
run without blocking the event loop and without ever raising into the agent loop.

``_tool``: ``Tool``, ``@tool`` and ``ToolError``; ``_schema``: JSON schemas from annotations and
docstrings; ``_context``: ``ToolContext``; ``_run``: ``run_tool``, timeouts and output caps;
``_builtin``: the built-in tools (files, search, bash), confined to the context's roots.
"""

from __future__ import annotations

from ._builtin import BUILTIN_TOOLS, builtin_tool
from ._context import ToolContext
from ._run import MAX_RESULT_CHARS, run_tool, truncate_middle
from ._tool import Tool, ToolError, ToolInputError, tool

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
