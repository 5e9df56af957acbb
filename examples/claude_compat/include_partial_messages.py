#!/usr/bin/env python3
"""Partial messages: the answer as Anthropic stream events while it arrives, then the message.

Written for claude-agent-sdk; only the import lines differ.
"""

from __future__ import annotations

import anyio

from anyagent_httpx.claude import ClaudeSDKClient
from anyagent_httpx.claude.types import AssistantMessage, ClaudeAgentOptions, ResultMessage, StreamEvent, TextBlock


async def main() -> None:
    options = ClaudeAgentOptions(include_partial_messages=True, model="claude-sonnet-4-5", max_turns=2)
    client = ClaudeSDKClient(options)
    try:
        await client.connect()
        await client.query("Think of three jokes, then tell one")
        text = ""
        async for message in client.receive_response():
            if isinstance(message, StreamEvent):
                event = message.event
                print(f"event: {event['type']}")
                if event["type"] == "content_block_delta" and event["delta"]["type"] == "text_delta":
                    text += event["delta"]["text"]
            elif isinstance(message, AssistantMessage):
                final = [block.text for block in message.content if isinstance(block, TextBlock)]
                print(f"streamed text matches the message: {text == ''.join(final)}")
            elif isinstance(message, ResultMessage):
                print(f"Result: {message.subtype}")
    finally:
        await client.disconnect()


if __name__ == "__main__":
    anyio.run(main)
