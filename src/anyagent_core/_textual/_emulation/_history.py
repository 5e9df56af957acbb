"""Tool calls between text and blocks, for endpoints without native tools: ``to_tool_uses``
turns the calls written in an answer's text into tool-use blocks, and ``emulated_history``
writes a conversation's tool uses and results back as text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from anyagent_core._messages import (
    AssistantBlock,
    AssistantMessage,
    ImageBlock,
    Message,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    ToolUseError,
    UserBlock,
    UserMessage,
)

from ._formats import CLOSE, OPEN
from ._scanner import parse_tool_calls

__all__ = ["emulated_history", "to_tool_uses"]


def to_tool_uses(message: AssistantMessage, *, id_prefix: str, tools: Iterable[ToolSpec] = ()) -> AssistantMessage:
    """``message`` with the tool calls written in its text turned into tool-use blocks.

    Returned unchanged (the same object) when it already has tool-use blocks or its text holds
    no call. Otherwise: thinking blocks first, then one text block with the remaining text (none
    if it is empty), then each call as a ``ToolUseBlock`` or, when unusable, a ``ToolUseError``,
    with ids ``f"{id_prefix}{i}"`` counting from 0. The other fields are kept. ``tools`` as for
    ``parse_tool_calls``.
    """
    if message.tool_uses:
        return message
    parsed = parse_tool_calls(message.text, tools=tools)
    if not parsed.calls:
        return message
    content: list[AssistantBlock] = [block for block in message.content if isinstance(block, ThinkingBlock)]
    if parsed.text:
        content.append(TextBlock(text=parsed.text))
    for index, call in enumerate(parsed.calls):
        call_id = f"{id_prefix}{index}"
        if call.input is not None:
            content.append(ToolUseBlock(id=call_id, name=call.name, input=call.input))
        else:
            content.append(
                ToolUseError(id=call_id, name=call.name, arguments=call.arguments, error=call.error or "unusable")
            )
    return attrs.evolve(message, content=tuple(content))


def _json_in_tag(value: Any) -> str:
    """JSON text that cannot end the ``<tool_call>`` block it is written in: the tags inside
    its strings are escaped (JSON allows ``\\/`` and ``\\u003c``), which reads back the same."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace(CLOSE, "<\\/tool_call>").replace(OPEN, "\\u003ctool_call>")


def _call_text(block: ToolUseBlock | ToolUseError) -> str:
    name = _json_in_tag(block.name)
    arguments = _json_in_tag(block.input) if isinstance(block, ToolUseBlock) else block.arguments
    return f'{OPEN}\n{{"name": {name}, "arguments": {arguments}}}\n{CLOSE}'


def _result_text(block: ToolResultBlock) -> tuple[str, list[ImageBlock]]:
    if isinstance(block.content, str):
        text, images = block.content, []
    else:
        text = "".join(b.text for b in block.content if isinstance(b, TextBlock))
        images = [b for b in block.content if isinstance(b, ImageBlock)]
    if block.is_error and not text.startswith("Error"):
        text = "Error: " + text
    return f"<tool_response>\n{text}\n</tool_response>", images


def _has_results(message: Message) -> bool:
    return (
        isinstance(message, UserMessage)
        and not isinstance(message.content, str)
        and any(isinstance(b, ToolResultBlock) for b in message.content)
    )


def _results_message(messages: list[UserMessage]) -> UserMessage:
    """Consecutive user messages holding tool results, as one message with the results as text."""
    blocks: list[UserBlock] = []
    responses: list[str] = []  # results next to each other, not yet written

    def flush() -> None:
        if responses:
            blocks.append(TextBlock(text="\n".join(responses)))
            responses.clear()

    for message in messages:
        content = (TextBlock(text=message.content),) if isinstance(message.content, str) else message.content
        for block in content:
            if isinstance(block, ToolResultBlock):
                text, images = _result_text(block)
                responses.append(text)
                if images:
                    flush()
                    blocks.extend(images)
            else:
                flush()
                blocks.append(block)
    flush()
    return UserMessage(content=tuple(blocks))


def emulated_history(messages: Sequence[Message]) -> list[Message]:
    """The conversation rewritten for an endpoint without tool support.

    An assistant message's tool-use blocks become text after its text (one ``\\n`` between):
    ``<tool_call>\\n{"name": ..., "arguments": ...}\\n</tool_call>`` per call, one ``\\n``
    apart (tags inside argument strings escaped so they read back the same), the arguments of a
    ``ToolUseError`` written as the raw text it holds; its thinking blocks stay first.

    A user message's tool results become ``<tool_response>\\n...\\n</tool_response>`` text (an
    ``is_error`` result says ``Error: `` first unless its text starts with ``Error``), a
    result's images following its text; results next to each other share one text block,
    joined by ``\\n``, and consecutive user messages holding results merge into one, with the
    user messages right after them (strict chat templates want user and assistant turns to
    alternate). Other messages without tools are passed through as they are (the same objects).
    """
    out: list[Message] = []
    group: list[UserMessage] = []
    for message in messages:
        if isinstance(message, UserMessage) and (group or _has_results(message)):
            group.append(message)  # a prompt right after results joins them: roles alternate
            continue
        if group:
            out.append(_results_message(group))
            group = []
        if isinstance(message, AssistantMessage) and message.tool_uses:
            text = "\n".join(_call_text(call) for call in message.tool_uses)
            if message.text:
                text = message.text + "\n" + text
            kept: list[AssistantBlock] = [b for b in message.content if isinstance(b, ThinkingBlock)]
            out.append(attrs.evolve(message, content=(*kept, TextBlock(text=text))))
        else:
            out.append(message)
    if group:
        out.append(_results_message(group))
    return out
