"""Messages in the shapes the GenAI semantic conventions give them (``gen_ai.input.messages``,
``gen_ai.output.messages``, ``gen_ai.system_instructions``, ``gen_ai.tool.definitions``): plain
JSON values, recorded on spans as JSON strings. Only used when content capture is asked for."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from anyagent_core import (
    AssistantMessage,
    ImageBlock,
    Message,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    ToolUseError,
    UserMessage,
)

__all__ = ["dumps", "input_messages", "output_message", "system_instructions", "tool_definitions", "tool_result"]

Part = dict[str, Any]


def dumps(value: object, limit: int | None) -> str:
    """``value`` as compact JSON, cut to ``limit`` characters (with a marker saying so)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    if limit is not None and len(text) > limit:
        return text[:limit] + f"...[{len(text) - limit} more characters]"
    return text


def _image(block: ImageBlock) -> Part:
    url = block.url
    if url.startswith("data:"):
        head, _, data = url.partition(",")
        mime = head[5:].split(";")[0] or None
        return {"type": "blob", "modality": "image", "mime_type": mime, "content": data}
    return {"type": "uri", "modality": "image", "uri": url}


def _result_text(content: str | Sequence[TextBlock | ImageBlock]) -> Any:
    if isinstance(content, str):
        return content
    return [{"type": "text", "content": b.text} if isinstance(b, TextBlock) else _image(b) for b in content]


def tool_result(result: ToolResultBlock) -> Any:
    """A tool result's content (``gen_ai.tool.call.result``)."""
    return _result_text(result.content)


def _assistant_parts(message: AssistantMessage) -> list[Part]:
    parts: list[Part] = []
    for block in message.content:
        if isinstance(block, TextBlock):
            parts.append({"type": "text", "content": block.text})
        elif isinstance(block, ThinkingBlock):
            parts.append({"type": "reasoning", "content": block.thinking})
        elif isinstance(block, ToolUseBlock):
            parts.append({"type": "tool_call", "id": block.id, "name": block.name, "arguments": dict(block.input)})
        elif isinstance(block, ToolUseError):
            parts.append({"type": "tool_call", "id": block.id, "name": block.name, "arguments": block.arguments})
    if message.refusal:
        parts.append({"type": "refusal", "content": message.refusal})
    return parts


def input_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The conversation as sent, in order: tool results become ``tool`` messages."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, AssistantMessage):
            out.append({"role": "assistant", "parts": _assistant_parts(message)})
            continue
        assert isinstance(message, UserMessage)
        if isinstance(message.content, str):
            out.append({"role": "user", "parts": [{"type": "text", "content": message.content}]})
            continue
        user: list[Part] = []
        for block in message.content:
            if isinstance(block, ToolResultBlock):
                if user:
                    out.append({"role": "user", "parts": user})
                    user = []
                response = {"type": "tool_call_response", "id": block.tool_use_id, "response": tool_result(block)}
                out.append({"role": "tool", "parts": [response]})
            elif isinstance(block, TextBlock):
                user.append({"type": "text", "content": block.text})
            else:
                user.append(_image(block))
        if user:
            out.append({"role": "user", "parts": user})
    return out


def output_message(message: AssistantMessage) -> list[dict[str, Any]]:
    """The answer (``gen_ai.output.messages``: one message per choice; we keep the first)."""
    return [{"role": "assistant", "parts": _assistant_parts(message), "finish_reason": message.stop_reason or ""}]


def system_instructions(prompt: str) -> list[Part]:
    return [{"type": "text", "content": prompt}]


def tool_definitions(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {"type": "function", "name": spec.name, "description": spec.description, "parameters": spec.parameters}
        for spec in tools
    ]
