#!/usr/bin/env python3
"""An in-process MCP server of calculator tools, offered to the model as mcp__calc__<tool>.

Written for claude-agent-sdk; only the import line differs.
"""

from __future__ import annotations

import math
from typing import Any

import anyio

from anyagent_httpx.claude import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    Message,
    ResultMessage,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
    create_sdk_mcp_server,
    tool,
)


@tool("add", "Add two numbers", {"a": float, "b": float})
async def add_numbers(args: dict[str, Any]) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": f"{args['a']} + {args['b']} = {args['a'] + args['b']}"}]}


@tool("divide", "Divide one number by another", {"a": float, "b": float})
async def divide_numbers(args: dict[str, Any]) -> dict[str, Any]:
    if args["b"] == 0:
        return {"content": [{"type": "text", "text": "Error: Division by zero is not allowed"}], "is_error": True}
    return {"content": [{"type": "text", "text": f"{args['a']} / {args['b']} = {args['a'] / args['b']}"}]}


@tool("sqrt", "Calculate a square root", {"n": float})
async def square_root(args: dict[str, Any]) -> dict[str, Any]:
    if args["n"] < 0:
        return {"content": [{"type": "text", "text": f"Error: {args['n']} is negative"}], "is_error": True}
    return {"content": [{"type": "text", "text": f"sqrt({args['n']}) = {math.sqrt(args['n'])}"}]}


def show(message: Message) -> None:
    if isinstance(message, UserMessage):
        for block in message.content:
            if isinstance(block, ToolResultBlock):
                print(f"Tool result{' (error)' if block.is_error else ''}: {block.content}")
    elif isinstance(message, AssistantMessage):
        for block in message.content:
            if isinstance(block, TextBlock):
                print(f"Claude: {block.text}")
            elif isinstance(block, ToolUseBlock):
                print(f"Using tool: {block.name} {block.input}")
    elif isinstance(message, ResultMessage):
        print(f"Result: {message.subtype}")


async def main() -> None:
    calculator = create_sdk_mcp_server(
        name="calculator", version="2.0.0", tools=[add_numbers, divide_numbers, square_root]
    )
    options = ClaudeAgentOptions(
        mcp_servers={"calc": calculator},
        allowed_tools=["mcp__calc__add", "mcp__calc__divide", "mcp__calc__sqrt"],
    )
    for prompt in ("Calculate 15 + 27", "What is 100 divided by 0?", "Calculate the square root of 144"):
        print(f"Prompt: {prompt}")
        async with ClaudeSDKClient(options=options) as client:
            await client.query(prompt)
            async for message in client.receive_response():
                show(message)


if __name__ == "__main__":
    anyio.run(main)
