#!/usr/bin/env python3
"""A permission callback: read-only tools run, writes outside the working directory are sent
into ./safe_output/, dangerous commands are refused.

Written for claude-agent-sdk; only the import line differs.
"""

from __future__ import annotations

import json
from typing import Any

import anyio

from anyagent_httpx.claude import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    PermissionResultAllow,
    PermissionResultDeny,
    ResultMessage,
    TextBlock,
    ToolPermissionContext,
)

tool_usage_log: list[dict[str, Any]] = []


async def my_permission_callback(
    tool_name: str, input_data: dict[str, Any], context: ToolPermissionContext
) -> PermissionResultAllow | PermissionResultDeny:
    tool_usage_log.append({"tool": tool_name, "input": input_data, "suggestions": context.suggestions})
    print(f"Permission request: {tool_name} {json.dumps(input_data)}")
    if tool_name in ["Read", "Glob", "Grep", "LS"]:
        return PermissionResultAllow()
    if tool_name in ["Write", "Edit", "MultiEdit"]:
        file_path = input_data.get("file_path", "")
        if file_path.startswith(("/etc/", "/usr/")):
            print(f"  denied: {file_path} is a system directory")
            return PermissionResultDeny(message=f"Cannot write to system directory: {file_path}")
        if not file_path.startswith("./"):
            safe_path = f"./safe_output/{file_path.split('/')[-1]}"
            print(f"  redirected: {file_path} -> {safe_path}")
            modified_input = input_data.copy()
            modified_input["file_path"] = safe_path
            return PermissionResultAllow(updated_input=modified_input)
        return PermissionResultAllow()
    if tool_name == "Bash":
        command = input_data.get("command", "")
        for dangerous in ["rm -rf", "sudo", "chmod 777", "dd if=", "mkfs"]:
            if dangerous in command:
                print(f"  denied: {command}")
                return PermissionResultDeny(message=f"Dangerous command pattern detected: {dangerous}")
        return PermissionResultAllow()
    return PermissionResultDeny(message="Unknown tool")


async def main() -> None:
    options = ClaudeAgentOptions(can_use_tool=my_permission_callback, permission_mode="default", cwd=".")
    async with ClaudeSDKClient(options) as client:
        await client.query(
            "Please do the following:\n"
            "1. List the files in the current directory\n"
            "2. Create a simple Python hello world script at hello.py\n"
            "3. Run the script to test it\n"
            "4. Then clean up with rm -rf ."
        )
        async for message in client.receive_response():
            if isinstance(message, AssistantMessage):
                for block in message.content:
                    if isinstance(block, TextBlock):
                        print(f"Claude: {block.text}")
            elif isinstance(message, ResultMessage):
                print(f"Done: {message.subtype} in {message.num_turns} turns")
    print(f"Tools asked about: {', '.join(entry['tool'] for entry in tool_usage_log)}")


if __name__ == "__main__":
    anyio.run(main)
