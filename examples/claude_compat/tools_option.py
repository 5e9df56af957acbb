#!/usr/bin/env python3
"""The tools option: some tools, none, or the whole preset; the init message lists them.

Written for claude-agent-sdk; only the import line differs.
"""

from __future__ import annotations

import anyio

from anyagent_httpx.claude import AssistantMessage, ClaudeAgentOptions, SystemMessage, TextBlock, query
from anyagent_httpx.claude.types import ToolsPreset


async def run(title: str, tools: list[str] | ToolsPreset) -> None:
    print(f"=== {title} ===")
    options = ClaudeAgentOptions(tools=tools, max_turns=1)
    async for message in query(prompt="What tools do you have available? Just list them briefly.", options=options):
        if isinstance(message, SystemMessage) and message.subtype == "init":
            print(f"Tools from system message: {message.data.get('tools', [])}")
        elif isinstance(message, AssistantMessage):
            for block in message.content:
                if isinstance(block, TextBlock):
                    print(f"Claude: {block.text}")


async def main() -> None:
    await run("Tools array", ["Read", "Glob", "Grep"])
    await run("Empty array", [])
    await run("Preset", {"type": "preset", "preset": "claude_code"})


if __name__ == "__main__":
    anyio.run(main)
