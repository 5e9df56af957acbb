#!/usr/bin/env python3
"""ClaudeSDKClient: a multi-turn conversation, stopping at the result, an interrupt, a stream of
prompts (read back until a wait for more times out), responses read in a background task while
prompts are sent, a Bash tool call and its result, the server's info, and connecting by hand.

Written for claude-agent-sdk; only the import line differs. Runs under asyncio and trio.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio

from anyagent_httpx.claude import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    Message,
    ResultMessage,
    SystemMessage,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)


def show(message: Message) -> None:
    if isinstance(message, AssistantMessage):
        for block in message.content:
            if isinstance(block, TextBlock):
                print(f"Claude: {block.text}")
    elif isinstance(message, SystemMessage):
        pass
    elif isinstance(message, ResultMessage):
        print(f"Result: {message.subtype}")


async def multi_turn() -> None:
    print("=== Multi-turn ===")
    async with ClaudeSDKClient() as client:
        for question in ("What's the capital of France?", "What's the population of that city?"):
            print(f"User: {question}")
            await client.query(question)
            async for message in client.receive_response():
                show(message)


async def stop_at_the_result() -> None:
    print("=== Stopping at the result ===")
    async with ClaudeSDKClient() as client:
        for question in ("Name a programming language.", "Name another one."):
            await client.query(question)
            async for message in client.receive_messages():
                show(message)
                if isinstance(message, ResultMessage):
                    break  # the client is ready for the next query


async def with_interrupt() -> None:
    print("=== Interrupt ===")
    async with ClaudeSDKClient() as client:
        await client.query("Count from 1 to 100 slowly")
        received: list[Message] = []

        async def consume() -> None:
            async for message in client.receive_response():
                received.append(message)
                show(message)

        async with anyio.create_task_group() as group:
            group.start_soon(consume)
            await anyio.sleep(0.5)
            print("[interrupting]")
            await client.interrupt()
        await client.query("Never mind, just tell me a quick joke")
        async for message in client.receive_response():
            show(message)


async def streamed_prompts() -> None:
    print("=== A stream of prompts ===")

    async def prompts() -> AsyncIterator[dict[str, Any]]:
        for text in ("Hello! I have two questions.", "What's 15% of 200?"):
            print(f"User: {text}")
            yield {"type": "user", "message": {"role": "user", "content": text}, "parent_tool_use_id": None}

    async with ClaudeSDKClient() as client:
        await client.query(prompts())
        for _ in range(2):
            async for message in client.receive_response():
                show(message)


async def background_receiver() -> None:
    print("=== Receiving in the background ===")
    async with ClaudeSDKClient(ClaudeAgentOptions(max_turns=2)) as client:
        results: list[ResultMessage] = []
        first_answered = anyio.Event()

        async def receive() -> None:
            async for message in client.receive_messages():
                show(message)
                if isinstance(message, ResultMessage):
                    results.append(message)
                    first_answered.set()
                    if len(results) == 2:
                        return

        async with anyio.create_task_group() as group:
            group.start_soon(receive)
            print("User: What is 2 + 2?")
            await client.query("What is 2 + 2?")
            await first_answered.wait()  # the first answer is in: ask the next question
            print("User: What is 10% of 80?")
            await client.query("What is 10% of 80?")


async def drained_until_quiet() -> None:
    print("=== A stream of prompts, read until quiet ===")

    async def prompts() -> AsyncIterator[dict[str, Any]]:
        for text in ("First, what's the capital of Japan?", "Second, what's 2 + 2?"):
            print(f"User: {text}")
            yield {"type": "user", "message": {"role": "user", "content": text}, "parent_tool_use_id": None}

    async with ClaudeSDKClient() as client:
        await client.query(prompts())
        while True:  # the answers may come grouped: read until none comes for a while
            with anyio.move_on_after(1.0) as waited:
                async for message in client.receive_response():
                    show(message)
            if waited.cancelled_caught:
                print("[no more answers]")
                break


async def bash_command() -> None:
    print("=== A Bash command ===")
    async with ClaudeSDKClient(ClaudeAgentOptions(allowed_tools=["Bash"])) as client:
        await client.query("Run a bash echo command that says 'Hello from bash!'")
        kinds: list[str] = []
        async for message in client.receive_messages():
            kinds.append(type(message).__name__)
            if isinstance(message, UserMessage) and not isinstance(message.content, str):
                for block in message.content:
                    if isinstance(block, ToolResultBlock):
                        print(f"Tool result ({block.tool_use_id}): {str(block.content).strip()}")
            elif isinstance(message, AssistantMessage):
                for block in message.content:
                    if isinstance(block, ToolUseBlock):
                        print(f"Tool use: {block.name} ({block.id}): {block.input.get('command')}")
                    elif isinstance(block, TextBlock):
                        print(f"Claude: {block.text}")
            elif isinstance(message, ResultMessage):
                show(message)
                break
        print(f"Message types: {', '.join(sorted(set(kinds)))}")


async def server_info() -> None:
    print("=== Server info ===")
    async with ClaudeSDKClient() as client:
        info = await client.get_server_info()
        if info:
            print(f"Commands: {len(info.get('commands', []))}, output style: {info.get('output_style')}")
        await client.query("Just say 'Hello!'")
        async for message in client.receive_response():
            show(message)


async def connected_by_hand() -> None:
    print("=== Connecting by hand ===")
    client = ClaudeSDKClient()
    try:
        await client.connect()
        await client.query("What is 2 + 2?")
        with anyio.move_on_after(30):
            async for message in client.receive_response():
                show(message)
    finally:
        await client.disconnect()


EXAMPLES = {
    "multi_turn": multi_turn,
    "stop_at_the_result": stop_at_the_result,
    "with_interrupt": with_interrupt,
    "streamed_prompts": streamed_prompts,
    "background_receiver": background_receiver,
    "drained_until_quiet": drained_until_quiet,
    "bash_command": bash_command,
    "server_info": server_info,
    "connected_by_hand": connected_by_hand,
}


async def main(names: list[str] | None = None) -> None:
    for name in names or list(EXAMPLES):
        await EXAMPLES[name]()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1:] or None)
