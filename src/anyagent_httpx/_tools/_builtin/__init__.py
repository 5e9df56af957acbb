"""The built-in tools: files (read_file, write_file, edit_file, list_dir), search (glob, grep)
and bash. Every path they touch is confined to the context's roots (``resolve_in_roots``)."""

from __future__ import annotations

import types
from collections.abc import Mapping

from anyagent_httpx._tools._tool import Tool

from ._bash import bash
from ._files import edit_file, list_dir, read_file, write_file
from ._paths import resolve_in_roots
from ._search import glob, grep

__all__ = ["BUILTIN_TOOLS", "builtin_tool", "resolve_in_roots"]

BUILTIN_TOOLS: Mapping[str, Tool] = types.MappingProxyType(
    {tool.name: tool for tool in (read_file, write_file, edit_file, list_dir, glob, grep, bash)}
)
"""The built-in tools by name."""


def builtin_tool(name: str) -> Tool:
    """The built-in tool called ``name``; ``ValueError`` listing the known names otherwise."""
    try:
        return BUILTIN_TOOLS[name]
    except KeyError:
        raise ValueError(f"unknown built-in tool {name!r}; known: {', '.join(BUILTIN_TOOLS)}") from None
