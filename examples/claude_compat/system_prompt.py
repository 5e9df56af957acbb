#!/usr/bin/env python3
"""System prompts: none, a string, the preset, and the preset with an addition.

Written for claude-agent-sdk; only the import line differs.
"""

from __future__ import annotations

import anyio

from anyagent_httpx.claude import AssistantMessage, ClaudeAgentOptions, TextBlock, query


async def ask(title: str, options: ClaudeAgentOptions | None = None) -> None:
    print(f"=== {title} ===")
    async for message in query(prompt="What is 2 + 2?", options=options):
        if isinstance(message, AssistantMessage):
            for block in message.content:
                if isinstance(block, TextBlock):
                    print(f"Claude: {block.text}")


async def main() -> None:
    await ask("No system prompt")
    await ask("String", ClaudeAgentOptions(system_prompt="You are a pirate assistant. Respond in pirate speak."))
    await ask("Preset", ClaudeAgentOptions(system_prompt={"type": "preset", "preset": "claude_code"}))
    await ask(
        "Preset with append",
        ClaudeAgentOptions(
            system_prompt={"type": "preset", "preset": "claude_code", "append": "Always end with a fun fact."}
        ),
    )


if __name__ == "__main__":
    anyio.run(main)
