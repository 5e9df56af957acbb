#!/usr/bin/env python3
"""A cost budget: a run that fits, and one that spends its budget and stops.

Written for claude-agent-sdk; only the import line differs. The model's prices come from
ANY_AGENT_PRICING="<input>/<output>" (dollars per million tokens).
"""

from __future__ import annotations

import anyio

from anyagent_httpx.claude import (
    AssistantMessage,
    ClaudeAgentOptions,
    ResultMessage,
    TextBlock,
    query,
)


async def run(prompt: str, budget: float) -> None:
    print(f"=== Budget ${budget} ===")
    options = ClaudeAgentOptions(max_budget_usd=budget, allowed_tools=["Read"])
    async for message in query(prompt=prompt, options=options):
        if isinstance(message, AssistantMessage):
            for block in message.content:
                if isinstance(block, TextBlock):
                    print(f"Claude: {block.text}")
        elif isinstance(message, ResultMessage):
            print(f"Total cost: ${message.total_cost_usd:.6f}")
            print(f"Status: {message.subtype}")
            if message.subtype == "error_max_budget_usd":
                print("Budget limit exceeded!")


async def main() -> None:
    await run("What is 2 + 2?", 0.10)
    await run("Read the README.md file and summarize it", 0.0001)


if __name__ == "__main__":
    anyio.run(main)
