"""anyagent's messages as claude-agent-sdk's: blocks and messages with its field names, usage as
dicts of Anthropic's names, the init message's data with Claude Code's keys, and partial
messages as Anthropic Messages stream events (``message_start``, ``content_block_start``,
``content_block_delta`` with ``text_delta``/``thinking_delta``/``input_json_delta``,
``content_block_stop``, ``message_delta``, ``message_stop``)."""

from __future__ import annotations

import uuid
from typing import Any

import anyagent_core as core
from anyagent_core import (
    Finished,
    ImageBlock,
    ReasoningDelta,
    RefusalDelta,
    RunMessage,
    TextDelta,
    ToolCallDelta,
    ToolUseError,
    Usage,
    thaw_json,
)
from anyagent_httpx import __version__

from ._types import (
    AssistantMessage,
    ContentBlock,
    DeferredToolUse,
    Message,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)

__all__ = ["STOP_REASONS", "Converter", "init_data", "usage_dict"]

STOP_REASONS = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens", "interrupted": "interrupted"}
"""OpenAI's finish reasons as Anthropic's stop reasons (others pass through as sent)."""


def usage_dict(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    out: dict[str, Any] = {
        "input_tokens": usage.prompt_tokens or 0,
        "output_tokens": usage.completion_tokens or 0,
        "cache_read_input_tokens": usage.cached_tokens or 0,
        "cache_creation_input_tokens": 0,
    }
    if usage.estimated:
        out["estimated"] = True
    return out


TERMINAL_REASONS: dict[str, str] = {
    "success": "completed",
    "interrupted": "aborted_streaming",
    "error_max_turns": "max_turns",
    "error_max_budget_tokens": "budget_exhausted",
    "error_max_budget_usd": "budget_exhausted",
    "error_max_structured_output_retries": "structured_output_retry_exhausted",
    "error_during_execution": "api_error",
}
"""anyagent's result subtypes as Claude Code's terminal reasons (``error_doom_loop`` has none)."""


def terminal_reason(result: core.ResultMessage) -> str | None:
    """Why the run ended, in Claude Code's words: a run that stopped for calls the program
    answers is ``tool_deferred``, one a hook stopped ``hook_stopped``."""
    if result.subtype == "success" and result.pending_tool_calls:
        return "tool_deferred"
    if result.subtype == "interrupted" and result.errors:
        return "hook_stopped"  # an interruption says why only when a hook stopped the run
    return TERMINAL_REASONS.get(result.subtype)


def _deferred(calls: tuple[core.ToolUseBlock | ToolUseError, ...]) -> DeferredToolUse | None:
    if not calls:
        return None
    call = calls[0]
    return DeferredToolUse(
        id=call.id, name=call.name, input=thaw_json(call.input) if isinstance(call, core.ToolUseBlock) else {}
    )


def _stop(reason: str | None) -> str | None:
    return None if reason is None else STOP_REASONS.get(reason, reason)


def _result_content(block: core.ToolResultBlock) -> ToolResultBlock:
    content: str | list[dict[str, Any]]
    if isinstance(block.content, str):
        content = block.content
    else:
        content = []
        for part in block.content:
            if isinstance(part, core.TextBlock):
                content.append({"type": "text", "text": part.text})
            elif isinstance(part, ImageBlock):
                content.append({"type": "image", "source": {"type": "url", "url": part.url}})
    return ToolResultBlock(tool_use_id=block.tool_use_id, content=content, is_error=block.is_error)


def _block(block: Any) -> ContentBlock | None:
    if isinstance(block, core.TextBlock):
        return TextBlock(text=block.text)
    if isinstance(block, core.ThinkingBlock):
        return ThinkingBlock(thinking=block.thinking, signature=block.signature)
    if isinstance(block, core.ToolUseBlock):
        return ToolUseBlock(id=block.id, name=block.name, input=thaw_json(block.input))
    if isinstance(block, ToolUseError):
        return ToolUseBlock(id=block.id, name=block.name, input={})  # its arguments did not parse
    if isinstance(block, core.ToolResultBlock):
        return _result_content(block)
    if isinstance(block, ImageBlock):
        return None  # an image the user sent: claude-agent-sdk has no image block to give it back as
    return None


def init_data(data: dict[str, Any]) -> dict[str, Any]:
    """The init message's data with Claude Code's keys (``SystemInitData``'s, anyagent's kept too)."""
    tools = list(data.get("tools", ()))
    servers = sorted({name.split("__")[1] for name in tools if name.startswith("mcp__")})
    return {
        **data,
        "type": "system",
        "subtype": "init",
        "uuid": str(uuid.uuid4()),
        "claude_code_version": __version__,  # what answers in Claude Code's place
        "permissionMode": data.get("permission_mode"),
        "mcp_servers": [{"name": name, "status": "connected"} for name in servers],
        "slash_commands": [],
        "apiKeySource": "none",
        "output_style": "default",
        "skills": [],
        "plugins": [],
    }


class Converter:
    """Converts one client's messages, keeping the stream-event state of the answer in progress."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self._turn: int | None = None
        self._index = -1
        self._open: str | None = None  # the kind of the block being streamed
        self._tool_blocks: dict[int, int] = {}
        self._usage: Usage | None = None

    def convert(self, message: RunMessage) -> list[Message]:
        if isinstance(message, core.StreamEvent):
            return list(self._events(message))
        self._turn = None
        if isinstance(message, core.AssistantMessage):
            return [
                AssistantMessage(
                    content=[b for b in map(_block, message.content) if b is not None],
                    model=message.model or "",
                    usage=usage_dict(message.usage),
                    message_id=message.id,
                    stop_reason=_stop(message.stop_reason),
                    session_id=self.session_id,
                    uuid=str(uuid.uuid4()),
                )
            ]
        if isinstance(message, core.UserMessage):
            if isinstance(message.content, str):
                return [UserMessage(content=message.content, uuid=str(uuid.uuid4()))]
            blocks = [b for b in map(_block, message.content) if b is not None]
            return [UserMessage(content=blocks, uuid=str(uuid.uuid4()))]
        if isinstance(message, core.SystemMessage):
            data = thaw_json(message.data)
            return [SystemMessage(subtype=message.subtype, data=init_data(data) if message.subtype == "init" else data)]
        assert isinstance(message, core.ResultMessage)
        return [
            ResultMessage(
                subtype=message.subtype,
                duration_ms=message.duration_ms,
                duration_api_ms=message.duration_api_ms,
                is_error=message.is_error,
                num_turns=message.num_turns,
                session_id=message.session_id or self.session_id,
                stop_reason=_stop(message.stop_reason),
                total_cost_usd=message.total_cost_usd,
                usage=usage_dict(message.usage),
                result=message.result,
                structured_output=message.structured_output,
                deferred_tool_use=_deferred(message.pending_tool_calls),
                errors=list(message.errors) or None,
                uuid=str(uuid.uuid4()),
                terminal_reason=terminal_reason(message),
            )
        ]

    # ---- partial messages as Anthropic stream events ---------------------------------------

    def _event(self, event: dict[str, Any]) -> StreamEvent:
        return StreamEvent(uuid=str(uuid.uuid4()), session_id=self.session_id, event=event)

    def _events(self, message: core.StreamEvent) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if self._turn != message.turn:
            self._turn, self._index, self._open, self._tool_blocks, self._usage = message.turn, -1, None, {}, None
            out.append(
                self._event(
                    {
                        "type": "message_start",
                        "message": {
                            "id": f"msg_{uuid.uuid4().hex[:24]}",
                            "type": "message",
                            "role": "assistant",
                            "content": [],
                            "model": "",
                            "stop_reason": None,
                            "usage": {"input_tokens": 0, "output_tokens": 0},
                        },
                    }
                )
            )
        event = message.event
        if isinstance(event, TextDelta | RefusalDelta):
            out += self._start("text", {"type": "text", "text": ""})
            out.append(self._delta({"type": "text_delta", "text": event.text}))
        elif isinstance(event, ReasoningDelta):
            out += self._start("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            out.append(self._delta({"type": "thinking_delta", "thinking": event.text}))
        elif isinstance(event, ToolCallDelta):
            if event.index not in self._tool_blocks:
                out += self._close()
                self._index += 1
                self._tool_blocks[event.index] = self._index
                self._open = f"tool{event.index}"
                block = {"type": "tool_use", "id": event.id or "", "name": event.name, "input": {}}
                out.append(self._event({"type": "content_block_start", "index": self._index, "content_block": block}))
            if event.arguments:
                index = self._tool_blocks[event.index]
                delta = {"type": "input_json_delta", "partial_json": event.arguments}
                out.append(self._event({"type": "content_block_delta", "index": index, "delta": delta}))
        elif isinstance(event, Usage):
            self._usage = event
        elif isinstance(event, Finished):
            out += self._close()
            usage = usage_dict(self._usage) or {"output_tokens": 0}
            out.append(
                self._event(
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": _stop(event.reason), "stop_sequence": None},
                        "usage": usage,
                    }
                )
            )
            out.append(self._event({"type": "message_stop"}))
        return out  # an assembled ToolCall adds nothing: its deltas were sent

    def _start(self, kind: str, block: dict[str, Any]) -> list[StreamEvent]:
        if self._open == kind:
            return []
        out = self._close()
        self._index += 1
        self._open = kind
        out.append(self._event({"type": "content_block_start", "index": self._index, "content_block": block}))
        return out

    def _delta(self, delta: dict[str, Any]) -> StreamEvent:
        return self._event({"type": "content_block_delta", "index": self._index, "delta": delta})

    def _close(self) -> list[StreamEvent]:
        if self._open is None:
            return []
        self._open = None
        return [self._event({"type": "content_block_stop", "index": self._index})]
