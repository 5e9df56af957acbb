#!/usr/bin/env python3
"""Quick start: one question, options, and a question that writes a file with the Write tool.

Written for claude-agent-sdk; only the import line differs. Run it against any OpenAI-compatible
endpoint: ANY_AGENT_BASE_URL=http://localhost:1234/v1 ANY_AGENT_MODEL=qwen2.5-7b-instruct python quick_start.py
"""

from __future__ import annotations

import anyio

from anyagent_httpx.claude import (
    AssistantMessage,
    ClaudeAgentOptions,
    Message,
    ResultMessage,
    TextBlock,
    ToolUseBlock,
    query,
)


def show(message: Message) -> None:
    if isinstance(message, AssistantMessage):
        for block in message.content:
            if isinstance(block, TextBlock):
                print(f"Claude: {block.text}")
            elif isinstance(block, ToolUseBlock):
                print(f"Tool: {block.name} {block.input}")
    elif isinstance(message, ResultMessage):
        print(f"[{message.subtype}] {message.num_turns} turn(s), cost ${message.total_cost_usd:.4f}")


async def simple_question() -> None:
    print("=== A question ===")
    async for message in query(prompt="What is 2 + 2?"):
        show(message)


async def with_options() -> None:
    print("=== With options ===")
    options = ClaudeAgentOptions(
        system_prompt="You are a helpful assistant that explains things simply.",
        max_turns=1,
    )
    async for message in query(prompt="Explain what Python is in one sentence.", options=options):
        show(message)


async def with_tools() -> None:
    print("=== With tools ===")
    options = ClaudeAgentOptions(
        allowed_tools=["Read", "Write"],
        system_prompt="You are a helpful file assistant.",
    )
    async for message in query(prompt="Create a file called hello.txt with 'Hello, World!' in it", options=options):
        show(message)
    print(f"hello.txt holds: {await anyio.Path('hello.txt').read_text()!r}")


async def main() -> None:
    await simple_question()
    await with_options()
    await with_tools()


if __name__ == "__main__":
    anyio.run(main)
