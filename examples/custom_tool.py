"""A tool-using agent with a tool of your own: ``@tool`` turns a typed function into a tool
(schema from the signature, descriptions from the docstring, arguments validated), a
``can_use_tool`` callback decides about calls that need permission, and a PreToolUse hook shows
every call before it runs.

    python examples/custom_tool.py                      # replays recordings/custom_tool.jsonl
    python examples/custom_tool.py --base-url http://localhost:11434/v1 --model qwen3
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import aclosing
from typing import Any, Literal

import anyio
from _common import WORKSPACE, http_client, parser, target

from anyagent_httpx import (
    AgentOptions,
    AssistantMessage,
    HookContext,
    HookMatcher,
    HookResult,
    PermissionResult,
    PermissionResultAllow,
    PermissionResultDeny,
    PreToolUseInput,
    ResultMessage,
    ToolContext,
    ToolError,
    query,
    tool,
)


@tool(read_only=True, rule_argument="path")
def count(path: str, unit: Literal["words", "lines", "characters"], context: ToolContext) -> str:
    """Count the words, lines or characters of a text file.

    Args:
        path: The file, relative to the working directory.
        unit: What to count.
    """
    file = (context.cwd / path).resolve()
    if not any(file.is_relative_to(root) for root in context.roots):
        raise ToolError(f"{path} is outside the working directory")
    text = file.read_text(encoding="utf-8")
    amount = {"words": len(text.split()), "lines": len(text.splitlines()), "characters": len(text)}[unit]
    return f"{path}: {amount} {unit}"


async def can_use_tool(name: str, tool_input: Mapping[str, Any], context: Any) -> PermissionResult:
    """Allow reads of Markdown files only."""
    if str(tool_input.get("path", "")).endswith(".md"):
        return PermissionResultAllow()
    return PermissionResultDeny(message="only Markdown files may be read here")


def show(input: PreToolUseInput, context: HookContext) -> HookResult | None:
    print(f"  [hook] {input.tool_name}({dict(input.tool_input)})")
    return None


async def main() -> int:
    args = parser(__doc__).parse_args()
    where = target(args, "custom_tool.jsonl")
    async with http_client(where) as http:
        options = AgentOptions(
            model=where.model,
            base_url=where.base_url,
            http_client=http,
            tools=[count, "read_file"],
            cwd=WORKSPACE,
            can_use_tool=can_use_tool,
            allowed_tools=[],
            hooks={"PreToolUse": [HookMatcher(hooks=[show])]},
            max_turns=6,
        )
        prompt = "How many words does each chapter in chapters/ have? Answer in one line."
        async with aclosing(query(prompt=prompt, options=options)) as messages:
            async for message in messages:
                if isinstance(message, AssistantMessage) and message.text:
                    print(message.text)
                elif isinstance(message, ResultMessage):
                    print(f"[{message.subtype}] {message.num_turns} turns")
                    return 0 if not message.is_error else 1
    return 1


if __name__ == "__main__":
    raise SystemExit(anyio.run(main))
