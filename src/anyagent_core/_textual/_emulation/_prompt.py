"""The tool prompt: tools described in a system-prompt section, the way models trained on
Hermes and Qwen tool calling expect them (one JSON line per tool inside ``<tools></tools>``, and
how to answer a call in ``<tool_call>`` tags). Deterministic: the same tools give the same text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from anyagent_core._messages import ToolSpec

__all__ = ["render_tool_prompt"]

_PROMPT_HEAD: Final = (
    "# Tools\n\n"
    "You may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n"
    "<tools>\n"
)
_PROMPT_TAIL: Final = (
    "</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n"
    '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>\n'
    "Use one block per call; several blocks are allowed. "
    "When no function is needed, answer without these tags."
)


def render_tool_prompt(tools: Sequence[ToolSpec]) -> str:
    """A system-prompt section describing ``tools`` in the Hermes/Qwen style, one JSON line per
    tool, and how to call them; ``""`` when there are no tools. Deterministic: the same tools
    give the same text (keys in the order the specs hold them)."""
    if not tools:
        return ""
    lines = []
    for tool in tools:
        function: dict[str, Any] = {"name": tool.name}
        if tool.description:
            function["description"] = tool.description
        function["parameters"] = tool.parameters
        lines.append(json.dumps({"type": "function", "function": function}, ensure_ascii=False) + "\n")
    return _PROMPT_HEAD + "".join(lines) + _PROMPT_TAIL
