#!/usr/bin/env python3
"""Sessions: a conversation kept across runs, resumed by its id, continued, and forked.

Written for claude-agent-sdk; only the import line differs.
"""

from __future__ import annotations

import anyio

from anyagent_httpx.claude import AssistantMessage, ClaudeAgentOptions, ResultMessage, TextBlock, query


async def ask(title: str, prompt: str, options: ClaudeAgentOptions | None = None) -> str:
    """Print the answer to ``prompt``; return the session it was kept in."""
    print(f"=== {title} ===")
    session_id = ""
    async for message in query(prompt=prompt, options=options):
        if isinstance(message, AssistantMessage):
            for block in message.content:
                if isinstance(block, TextBlock):
                    print(f"Claude: {block.text}")
        elif isinstance(message, ResultMessage):
            session_id = message.session_id
    return session_id


async def main() -> None:
    first = await ask("A new session", "My favourite colour is teal. Remember it.")
    resumed = await ask("Resumed by its id", "What is my favourite colour?", ClaudeAgentOptions(resume=first))
    print(f"Same session: {resumed == first}")
    await ask(
        "The latest session, continued",
        "And what did I tell you first?",
        ClaudeAgentOptions(continue_conversation=True),
    )
    forked = await ask("A fork", "Suppose it were red instead.", ClaudeAgentOptions(resume=first, fork_session=True))
    print(f"Forked into a new session: {forked != first}")
    await ask("The original goes on unchanged", "What colour did I say?", ClaudeAgentOptions(resume=first))


if __name__ == "__main__":
    anyio.run(main)
