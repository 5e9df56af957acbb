"""Tool calls written as text, for endpoints and models without native tool calling.

``render_tool_prompt`` describes the tools in the system prompt, ``parse_tool_calls`` and
``ToolCallTextFilter`` find the calls in an answer (whole, or while it streams), ``to_tool_uses``
turns them into tool-use blocks and ``emulated_history`` writes a conversation back as text.
The forms accepted and the whitespace rule are in ``_textual/_emulation``'s docstring.
"""

from __future__ import annotations

from ._textual._emulation._formats import TextCall
from ._textual._emulation._history import emulated_history, to_tool_uses
from ._textual._emulation._prompt import render_tool_prompt
from ._textual._emulation._scanner import ParsedCalls, ToolCallTextFilter, parse_tool_calls

__all__ = [
    "ParsedCalls",
    "TextCall",
    "ToolCallTextFilter",
    "emulated_history",
    "parse_tool_calls",
    "render_tool_prompt",
    "to_tool_uses",
]
