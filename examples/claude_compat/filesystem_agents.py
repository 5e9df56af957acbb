#!/usr/bin/env python3
"""Agents and skills from files: setting_sources=["project"] loads the agents in
.claude/agents/*.md and the skills in .claude/skills/ of the working directory.

Written for claude-agent-sdk; only the import line differs.
"""

from __future__ import annotations

from pathlib import Path

import anyio

from anyagent_httpx.claude import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    ResultMessage,
    SystemMessage,
    TextBlock,
)


def extract_agents(msg: SystemMessage) -> list[str]:
    """The agent names of an init message."""
    if msg.subtype == "init":
        return [a if isinstance(a, str) else a.get("name", "") for a in msg.data.get("agents", [])]
    return []


async def main() -> None:
    print("=== Filesystem Agents Example ===")
    options = ClaudeAgentOptions(
        setting_sources=["project"],
        skills="all",
        cwd=Path(__file__).parent / "project",
    )
    async with ClaudeSDKClient(options=options) as client:
        await client.query("Ask the proofreader about 'Teh cat sat.', then write a haiku about it.")
        async for msg in client.receive_response():
            if isinstance(msg, SystemMessage) and msg.subtype == "init":
                print(f"Init message received. Agents loaded: {extract_agents(msg)}")
                print(f"Tools: {msg.data['tools']}")
            elif isinstance(msg, AssistantMessage):
                for block in msg.content:
                    if isinstance(block, TextBlock):
                        print(f"Assistant: {block.text}")
            elif isinstance(msg, ResultMessage):
                print(f"Result: subtype={msg.subtype}, cost=${msg.total_cost_usd or 0:.4f}")


if __name__ == "__main__":
    anyio.run(main)
