#!/usr/bin/env python3
"""Options only Claude Code can honour (plugins, setting sources, a stderr callback for the
CLI's output): accepted, each with one warning saying what is done with it, and the run goes on.

Written for claude-agent-sdk; only the import line differs.
"""

from __future__ import annotations

import anyio

from anyagent_httpx.claude import ClaudeAgentOptions, ResultMessage, SystemMessage, query


async def main() -> None:
    stderr_lines: list[str] = []
    options = ClaudeAgentOptions(
        plugins=[{"type": "local", "path": "./plugins/demo-plugin"}],
        setting_sources=["user", "project"],
        stderr=stderr_lines.append,
        max_turns=1,
    )
    async for message in query(prompt="Hello!", options=options):
        if isinstance(message, SystemMessage) and message.subtype == "init":
            print(f"plugins: {message.data['plugins']}, slash commands: {message.data['slash_commands']}")
        elif isinstance(message, ResultMessage):
            print(f"Result: {message.subtype}: {message.result}")
    print(f"Captured {len(stderr_lines)} stderr lines")


if __name__ == "__main__":
    anyio.run(main)
