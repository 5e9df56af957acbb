"""In-process tool servers: a named, versioned set of tools, offered to the model under
``mcp__<key>__<tool>`` names, as MCP servers' tools are.

``ToolServer`` has the two calls of an MCP server that matter to an agent, ``list_tools()`` and
``call_tool(name, arguments)``, and ``tools_for(key)`` gives its tools renamed for a run. The
claude-agent-sdk compatibility layer's ``create_sdk_mcp_server`` builds one; the servers reached
through the ``mcp`` package (``_mcp``) are offered under the same names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from anyagent_core import ToolResultBlock, ToolSpec
from anyagent_core.value import Value

from ._context import ToolContext
from ._run import run_tool
from ._tool import Tool

__all__ = ["ToolServer", "server_tool_name"]

_NAME = re.compile(r"[A-Za-z0-9_-]+")


def server_tool_name(key: str, tool: str) -> str:
    """The name a server's tool is offered under: ``mcp__<key>__<tool>``."""
    return f"mcp__{key}__{tool}"


def _tools(value: Sequence[Tool]) -> tuple[Tool, ...]:
    tools = tuple(value)
    names: set[str] = set()
    for item in tools:
        if not isinstance(item, Tool):
            raise TypeError(f"a ToolServer holds Tool values (from @tool), not {type(item).__name__}")
        if item.name in names:
            raise ValueError(f"two tools of the server are named {item.name!r}")
        names.add(item.name)
    return tools


def _server_name(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(f"a tool server's name is letters, digits, '_' and '-', not {value!r}")


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ToolServer(Value):
    """Tools served in-process, under a name and a version."""

    name: str = attrs.field(validator=_server_name)
    version: str = "1.0.0"
    tools: tuple[Tool, ...] = attrs.field(default=(), converter=_tools)

    def list_tools(self) -> tuple[ToolSpec, ...]:
        """What the server offers (names as the server knows them)."""
        return tuple(item.spec for item in self.tools)

    async def call_tool(
        self, name: str, arguments: Mapping[str, Any], *, context: ToolContext, call_id: str = "call"
    ) -> ToolResultBlock:
        """Run the server's tool ``name``; an unknown name, invalid arguments and a tool's
        failure are error results, never exceptions (as MCP reports them)."""
        found = next((item for item in self.tools if item.name == name), None)
        if found is None:
            known = ", ".join(item.name for item in self.tools) or "none"
            return ToolResultBlock(
                tool_use_id=call_id, content=f"no tool {name!r} on {self.name} ({known})", is_error=True
            )
        return await run_tool(found, call_id, arguments, context)

    def tools_for(self, key: str) -> tuple[Tool, ...]:
        """The server's tools as a run offers them: named ``mcp__<key>__<tool>`` (``key``: the
        name the run knows the server by); ``ValueError`` when a name would be too long."""
        if not _NAME.fullmatch(key):
            raise ValueError(f"a tool server's key is letters, digits, '_' and '-', not {key!r}")
        renamed: list[Tool] = []
        for item in self.tools:
            full = server_tool_name(key, item.name)
            if len(full) > 64:
                raise ValueError(f"the tool name {full!r} is longer than the 64 characters servers accept")
            renamed.append(attrs.evolve(item, spec=attrs.evolve(item.spec, name=full)))
        return tuple(renamed)
