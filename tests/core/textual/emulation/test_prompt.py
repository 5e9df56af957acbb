"""The tool prompt (``_textual/_emulation/_prompt.py``)."""

from __future__ import annotations

import json

from anyagent_core import (
    ToolSpec,
    render_tool_prompt,
)

# ---- render_tool_prompt ------------------------------------------------------------------------


def test_prompt_lists_each_tool_as_one_json_line_inside_tools_tags() -> None:
    tools = [
        ToolSpec(
            name="get_weather",
            description="Météo d'une ville",
            parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        ),
        ToolSpec(name="now"),
    ]
    prompt = render_tool_prompt(tools)
    assert prompt.startswith("# Tools\n")
    inside = prompt.split("<tools>\n")[1].split("</tools>")[0]
    lines = inside.splitlines()
    assert [json.loads(line) for line in lines] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Météo d'une ville",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        },
        {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}},
    ]
    assert "Météo" in lines[0]  # ensure_ascii=False
    assert '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>' in prompt
    assert "without these tags" in prompt
    assert render_tool_prompt(tools) == prompt
    assert len(prompt) < 1200


def test_prompt_for_no_tools_is_empty() -> None:
    assert render_tool_prompt([]) == ""
