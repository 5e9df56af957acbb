"""anyagent_httpx: the I/O side of anyagent (anyio transports over httpx and h11, the client,
tools and the CLI). For now it re-exports the message types of the sans-IO core, which the
transports and the agent loop share."""

from __future__ import annotations

from anyagent_core import (
    AssistantMessage,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    ToolUseError,
    Usage,
    UserMessage,
    __version__,
)

__all__ = [
    "AssistantMessage",
    "ImageBlock",
    "TextBlock",
    "ThinkingBlock",
    "ToolResultBlock",
    "ToolSpec",
    "ToolUseBlock",
    "ToolUseError",
    "Usage",
    "UserMessage",
    "__version__",
]
