#!/usr/bin/env python3
"""ClaudeSDKClient: a multi-turn conversation, stopping at the result, an interrupt, a stream of
prompts, and responses read in a background task while prompts are sent.

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


EXAMPLES = {
    "multi_turn": multi_turn,
    "stop_at_the_result": stop_at_the_result,
    "with_interrupt": with_interrupt,
    "streamed_prompts": streamed_prompts,
    "background_receiver": background_receiver,
}


async def main(names: list[str] | None = None) -> None:
    for name in names or list(EXAMPLES):
        await EXAMPLES[name]()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1:] or None)
