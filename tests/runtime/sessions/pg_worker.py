"""One worker process for the PostgreSQL concurrency test: appends ``TURNS`` turns to each of
the sessions named on the command line (in a shuffled order), retrying on conflict, and prints
the ids of the turns that landed, one line per turn: ``session entry-id entry-id``."""

from __future__ import annotations

import random
import sys
import uuid

import anyio

from anyagent_core import AssistantMessage, Commit, TextBlock, UserMessage
from anyagent_core.sessions import commit_entries
from anyagent_httpx import SessionConflictError
from anyagent_httpx.postgres import PostgresStore

TURNS = 2


async def main(url: str, worker: str, sessions: list[str]) -> None:
    order = [sid for sid in sessions for _ in range(TURNS)]
    random.shuffle(order)
    async with PostgresStore(url, max_size=2) as store:
        for sid in order:
            while True:
                info = await store.get(sid)
                commit = Commit(
                    messages=(UserMessage(content=f"{worker} asks"), AssistantMessage(content=[TextBlock(text="ok")])),
                    turn_number=1,
                )
                entries = commit_entries(commit, parent_id=info.head, new_id=lambda: uuid.uuid4().hex, at=1.0)
                try:
                    await store.append(sid, entries, expected_head=info.head)
                except SessionConflictError:
                    continue
                sys.stdout.write(" ".join([sid, *(e.id for e in entries)]) + "\n")
                break


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3:])
    sys.stdout.flush()
