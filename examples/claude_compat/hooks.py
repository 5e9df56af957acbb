#!/usr/bin/env python3
"""Hooks: PreToolUse blocks a command, or decides a Write (deny with a reason, or allow);
PostToolUse reviews output and stops the run on a critical error; UserPromptSubmit adds context
to the prompt.

Written for claude-agent-sdk; only the import lines differ.
"""

from __future__ import annotations

import sys
from typing import Any

import anyio

from anyagent_httpx.claude import ClaudeAgentOptions, ClaudeSDKClient
from anyagent_httpx.claude.types import (
    AssistantMessage,
    HookContext,
    HookJSONOutput,
    HookMatcher,
    Message,
    ResultMessage,
    SystemMessage,
    TextBlock,
)


def show(message: Message) -> None:
    if isinstance(message, AssistantMessage):
        for block in message.content:
            if isinstance(block, TextBlock):
                print(f"Claude: {block.text}")
    elif isinstance(message, SystemMessage) and message.subtype == "hook":
        print(f"[hook says] {message.data['message']}")
    elif isinstance(message, ResultMessage):
        print(f"Result: {message.subtype} {message.errors or ''}".rstrip())


async def check_bash_command(
    input_data: dict[str, Any], tool_use_id: str | None, context: HookContext
) -> HookJSONOutput:
    if input_data["tool_name"] != "Bash":
        return {}
    command = input_data["tool_input"].get("command", "")
    if "foo.sh" in command:
        print(f"[hook] blocked: {command}")
        return {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": "Command contains invalid pattern: foo.sh",
            }
        }
    return {}


async def add_custom_instructions(
    input_data: dict[str, Any], tool_use_id: str | None, context: HookContext
) -> HookJSONOutput:
    return {
        "hookSpecificOutput": {
            "hookEventName": "UserPromptSubmit",
            "additionalContext": "My favorite color is hot pink",
        }
    }


async def review_tool_output(
    input_data: dict[str, Any], tool_use_id: str | None, context: HookContext
) -> HookJSONOutput:
    if "no such file" in str(input_data.get("tool_response", "")).lower():
        return {
            "systemMessage": "The command produced an error",
            "hookSpecificOutput": {
                "hookEventName": "PostToolUse",
                "additionalContext": "The command failed. Try a different approach.",
            },
        }
    return {}


async def stop_on_critical(input_data: dict[str, Any], tool_use_id: str | None, context: HookContext) -> HookJSONOutput:
    if "critical" in str(input_data.get("tool_response", "")).lower():
        return {"continue_": False, "stopReason": "Critical error in tool output", "systemMessage": "Execution stopped"}
    return {"continue_": True}


async def strict_approval(input_data: dict[str, Any], tool_use_id: str | None, context: HookContext) -> HookJSONOutput:
    tool_input = input_data.get("tool_input", {})
    if input_data.get("tool_name") == "Write" and "important" in tool_input.get("file_path", "").lower():
        return {
            "reason": "Writes to files named 'important' are not allowed",
            "systemMessage": "Write blocked by the security policy",
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": "Security policy blocks writes to important files",
            },
        }
    return {
        "reason": "Approved after review",
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "allow",
            "permissionDecisionReason": "Tool passed security checks",
        },
    }


async def pre_tool_use() -> None:
    print("=== PreToolUse ===")
    options = ClaudeAgentOptions(
        allowed_tools=["Bash"],
        hooks={"PreToolUse": [HookMatcher(matcher="Bash", hooks=[check_bash_command])]},
    )
    async with ClaudeSDKClient(options=options) as client:
        for prompt in ("Run the bash command: ./foo.sh --help", "Run the bash command: echo 'Hello from hooks!'"):
            print(f"User: {prompt}")
            await client.query(prompt)
            async for message in client.receive_response():
                show(message)


async def user_prompt_submit() -> None:
    print("=== UserPromptSubmit ===")
    options = ClaudeAgentOptions(
        hooks={"UserPromptSubmit": [HookMatcher(matcher=None, hooks=[add_custom_instructions])]}
    )
    async with ClaudeSDKClient(options=options) as client:
        await client.query("What's my favorite color?")
        async for message in client.receive_response():
            show(message)


async def post_tool_use() -> None:
    print("=== PostToolUse ===")
    options = ClaudeAgentOptions(
        allowed_tools=["Bash"],
        hooks={"PostToolUse": [HookMatcher(matcher="Bash", hooks=[review_tool_output])]},
    )
    async with ClaudeSDKClient(options=options) as client:
        await client.query("Run this command: ls /nonexistent_directory")
        async for message in client.receive_response():
            show(message)


async def decision_fields() -> None:
    print("=== Permission decisions ===")
    options = ClaudeAgentOptions(
        allowed_tools=["Write", "Bash"],
        hooks={"PreToolUse": [HookMatcher(matcher="Write", hooks=[strict_approval])]},
    )
    async with ClaudeSDKClient(options=options) as client:
        for name in ("important_config.txt", "regular_file.txt"):
            print(f"User: write 'test data' to {name}")
            await client.query(f"Write the text 'test data' to a file called {name}")
            async for message in client.receive_response():
                show(message)


async def continue_control() -> None:
    print("=== Continue control ===")
    options = ClaudeAgentOptions(
        allowed_tools=["Bash"],
        hooks={"PostToolUse": [HookMatcher(matcher="Bash", hooks=[stop_on_critical], timeout=30)]},
    )
    async with ClaudeSDKClient(options=options) as client:
        await client.query("Run this bash command: echo 'CRITICAL ERROR: system failure'")
        async for message in client.receive_response():
            show(message)


EXAMPLES = {
    "PreToolUse": pre_tool_use,
    "UserPromptSubmit": user_prompt_submit,
    "PostToolUse": post_tool_use,
    "DecisionFields": decision_fields,
    "ContinueControl": continue_control,
}


async def main(names: list[str] | None = None) -> None:
    for name in names or list(EXAMPLES):
        await EXAMPLES[name]()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1:] or None)
