"""Rules about the conversation's shape that every request follows.

``is_prompt`` tells a prompt from a message of tool results; ``alternating`` joins prompts that
follow one another (strict chat templates refuse two user turns in a row); ``distinct_call_ids``
gives each tool call of an answer an id of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from anyagent_core._messages import (
    AssistantMessage,
    ImageBlock,
    Message,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    ToolUseError,
    UserMessage,
)

__all__ = ["alternating", "distinct_call_ids", "is_prompt", "join_system"]


def is_prompt(message: Message) -> bool:
    """A user message with no tool results (a prompt)."""
    if type(message) is not UserMessage:
        return False
    content = message.content
    return isinstance(content, str) or not any(type(block) is ToolResultBlock for block in content)


def alternating(history: Sequence[Message]) -> tuple[Message, ...]:
    """``history`` with prompts that follow one another joined into one message (a prompt sent
    after a request that failed, or after an interrupted answer that left nothing): many chat
    templates (Mistral's, Gemma's) reject two user turns in a row."""
    if not any(is_prompt(history[i]) and is_prompt(history[i - 1]) for i in range(1, len(history))):
        return tuple(history)
    joined: list[Message] = []
    for message in history:
        last = joined[-1] if joined else None
        if last is not None and is_prompt(message) and is_prompt(last):
            assert isinstance(last, UserMessage) and isinstance(message, UserMessage)
            joined[-1] = _join_prompts(last, message)
        else:
            joined.append(message)
    return tuple(joined)


def _join_prompts(first: UserMessage, second: UserMessage) -> UserMessage:
    if isinstance(first.content, str) and isinstance(second.content, str):
        return UserMessage(content=f"{first.content}\n\n{second.content}")
    blocks: list[TextBlock | ImageBlock | ToolResultBlock] = []
    for content in (first.content, second.content):
        blocks.extend((TextBlock(text=content),) if isinstance(content, str) else content)
    return UserMessage(content=tuple(blocks))


def distinct_call_ids(message: AssistantMessage) -> AssistantMessage:
    """``message`` with each call that repeats an earlier call's id given an id of its own
    (``<id>_2``, ...), so every call gets its own result; unchanged when the ids differ."""
    calls = message.tool_uses
    ids = {call.id for call in calls}
    if len(ids) == len(calls):
        return message
    seen: set[str] = set()
    content = []
    for block in message.content:
        if isinstance(block, ToolUseBlock | ToolUseError):
            if block.id in seen:
                number = 2
                while f"{block.id}_{number}" in ids:
                    number += 1
                new_id = f"{block.id}_{number}"
                ids.add(new_id)
                block = attrs.evolve(block, id=new_id)
            seen.add(block.id)
        content.append(block)
    return attrs.evolve(message, content=tuple(content))


def join_system(system: str | None, extra: str) -> str:
    """``extra`` appended to a system prompt (or the whole of it, without one)."""
    return extra if not system else f"{system}\n\n{extra}"
