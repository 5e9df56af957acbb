#!/usr/bin/env python3
"""Subagents: a code reviewer with its own prompt and tools, handed a task by the main agent.

Written for claude-agent-sdk; only the import line differs.
"""

from __future__ import annotations

import anyio

from anyagent_httpx.claude import (
    AgentDefinition,
    AssistantMessage,
    ClaudeAgentOptions,
    ResultMessage,
    SystemMessage,
    TextBlock,
    query,
)


async def main() -> None:
    options = ClaudeAgentOptions(
        agents={
            "code-reviewer": AgentDefinition(
                description="Reviews code for best practices and potential issues",
                prompt="You are a code reviewer. Point out bugs and risky code, briefly.",
                tools=["Read", "Grep"],
                model="sonnet",
            ),
        },
    )
    async for message in query(prompt="Use the code-reviewer agent to review calc.py", options=options):
        if isinstance(message, SystemMessage) and message.subtype == "init":
            print(f"Agents: {message.data['agents']}")
        elif isinstance(message, AssistantMessage):
            for block in message.content:
                if isinstance(block, TextBlock):
                    print(f"Claude: {block.text}")
        elif isinstance(message, ResultMessage):
            tokens = message.usage["input_tokens"] if message.usage else 0
            print(f"Result: {message.subtype}, {tokens} input tokens")


if __name__ == "__main__":
    anyio.run(main)
