"""claude-agent-sdk's ``tool`` decorator and ``create_sdk_mcp_server``, over anyagent's ``@tool``
(dict-argument form) and ``ToolServer``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from anyagent_httpx._tools import Tool, ToolServer
from anyagent_httpx._tools import tool as _tool

from ._types import McpSdkServerConfig

__all__ = ["SdkMcpTool", "ToolAnnotations", "create_sdk_mcp_server", "tool"]

SdkMcpTool = Tool
"""What ``@tool(name, description, input_schema)`` makes: an anyagent ``Tool``."""


class ToolAnnotations(dict[str, Any]):
    """MCP tool hints, in either spelling (``readOnlyHint`` or ``read_only_hint``): ``readOnlyHint``
    lets the tool run in plan mode and beside other read-only calls; the others are kept."""

    def __init__(self, **hints: Any) -> None:
        super().__init__(hints)


def tool(
    name: str, description: str, input_schema: type | Mapping[str, Any], annotations: Any = None
) -> Callable[[Callable[[Any], Any]], Tool]:
    """``@tool("add", "Add two numbers", {"a": float, "b": float})`` over ``async def add(args)``
    returning ``{"content": [{"type": "text", "text": ...}]}`` (``"is_error": True`` for an error)."""
    return _tool(name, description, input_schema, annotations)


def create_sdk_mcp_server(name: str, version: str = "1.0.0", tools: Sequence[Tool] | None = None) -> McpSdkServerConfig:
    """An in-process server of ``tools``, for ``ClaudeAgentOptions(mcp_servers={key: server})``:
    its tools are offered as ``mcp__<key>__<tool>``. Returns claude-agent-sdk's config dict
    (``type``, ``name``, ``instance``: the ``ToolServer``)."""
    return {"type": "sdk", "name": name, "instance": ToolServer(name=name, version=version, tools=tools or ())}
