"""A process for the crash-safety test: an agent with a tool runs turn after turn against the
model server at ``base_url``, persisting to the SQLite file ``path`` as session ``session_id``
(resumed if it exists). After each append returns it writes ``committed <head> <entries>`` on
stdout, so the test knows what must survive a kill."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import anyio

from anyagent_core.sessions import Entry
from anyagent_httpx import AgentOptions, Client, SessionInfo, SessionNotFoundError, SQLiteStore, ToolExecution, tool


class ReportingStore(SQLiteStore):
    async def append(
        self,
        session_id: str,
        entries: Sequence[Entry],
        *,
        expected_head: str | None,
        tool_executions: Sequence[ToolExecution] = (),
    ) -> SessionInfo:
        info = await super().append(session_id, entries, expected_head=expected_head, tool_executions=tool_executions)
        sys.stdout.write(f"committed {info.head} {' '.join(e.id for e in entries)}\n")
        sys.stdout.flush()
        return info


@tool
def lookup(word: str) -> str:
    """Look a word up."""
    return f"{word}: a word"


async def main(base_url: str, path: str, session_id: str) -> None:
    async with ReportingStore(path) as store:
        try:
            await store.get(session_id)
            resume: dict[str, Any] = {"resume": session_id}
        except SessionNotFoundError:
            resume = {"session_id": session_id}
        options = AgentOptions(base_url=base_url, model="m", session_store=store, tools=[lookup], cwd=".", **resume)
        async with Client(options) as client:
            sys.stdout.write("ready\n")
            sys.stdout.flush()
            for n in range(1000):
                await client.query(f"turn {n}")
                async for _ in client.receive_response():
                    pass


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3])
