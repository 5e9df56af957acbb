"""Context arithmetic: token estimates, and which old messages to drop when a conversation
outgrows the context window. Pure functions over frozen values; nothing is changed in place."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ._agent._conversation import is_prompt
from ._messages import (
    ImageBlock,
    Message,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    ToolUseError,
)

__all__ = ["CHARS_PER_TOKEN", "IMAGE_TOKENS", "compact", "estimate_tokens"]

#: Rough characters per token for English text and code (GPT and Llama tokenizers give 3.5-4.5).
CHARS_PER_TOKEN = 4
#: What an image is counted as.
IMAGE_TOKENS = 800
#: Per-message overhead of the chat template (role markers, separators).
_MESSAGE_OVERHEAD = 4


def _text_chars(message: Message) -> tuple[int, int]:
    """(characters, images) in a message."""
    chars = images = 0
    content = message.content
    if isinstance(content, str):
        return len(content), 0
    for block in content:
        if isinstance(block, TextBlock):
            chars += len(block.text)
        elif isinstance(block, ThinkingBlock):
            chars += len(block.thinking)
        elif isinstance(block, ImageBlock):
            images += 1
        elif isinstance(block, ToolUseBlock | ToolUseError):
            chars += len(block.name) + len(block.arguments) + 16
        elif isinstance(block, ToolResultBlock):
            if isinstance(block.content, str):
                chars += len(block.content) + 16
            else:
                for part in block.content:
                    if isinstance(part, TextBlock):
                        chars += len(part.text)
                    else:
                        images += 1
    return chars, images


def estimate_tokens(
    messages: Sequence[Message], *, system_prompt: str | None = None, tools: Sequence[ToolSpec] = ()
) -> int:
    """A rough prompt size in tokens (characters / ``CHARS_PER_TOKEN``, images as ``IMAGE_TOKENS``,
    plus template overhead). Errs on the high side for English; meant for budgets, not billing."""
    chars = len(system_prompt or "")
    images = 0
    for message in messages:
        c, i = _text_chars(message)
        chars += c
        images += i
    for spec in tools:
        chars += len(spec.name) + len(spec.description) + len(json.dumps(spec.parameters)) + 32
    overhead = _MESSAGE_OVERHEAD * (len(messages) + (1 if system_prompt else 0))
    return -(-chars // CHARS_PER_TOKEN) + images * IMAGE_TOKENS + overhead


def compact(
    messages: Sequence[Message], *, limit: int, system_prompt: str | None = None, tools: Sequence[ToolSpec] = ()
) -> tuple[tuple[Message, ...], int]:
    """Drop the oldest messages until the estimate fits ``limit`` tokens: returns the messages
    kept and how many were dropped.

    The kept part always starts at a user prompt (never at an assistant message, nor at tool
    results whose calls were dropped), so a tool call is never separated from its result, and
    the last prompt with everything after it is always kept, even if it alone is over the limit
    (the server then reports the context error). Messages that fit are all kept, even when the
    first is not a prompt (a conversation may open with the assistant's greeting)."""
    if estimate_tokens(messages, system_prompt=system_prompt, tools=tools) <= limit:
        return tuple(messages), 0
    starts = [i for i, message in enumerate(messages) if is_prompt(message)]
    if not starts:
        return tuple(messages), 0
    for start in starts:
        kept = messages[start:]
        if estimate_tokens(kept, system_prompt=system_prompt, tools=tools) <= limit:
            return tuple(kept), start
    last = starts[-1]
    return tuple(messages[last:]), last
