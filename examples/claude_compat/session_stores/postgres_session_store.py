"""A claude-agent-sdk ``SessionStore`` on PostgreSQL (psycopg 3, async, with a pool): every
conversation of ``ClaudeAgentOptions(session_store=...)`` is mirrored into one table, one row a
transcript line, and ``resume``/``continue_conversation`` read it back.

Written against claude-agent-sdk's ``SessionStore`` protocol; only the import line names
anyagent. Check your own adapter the same way with ``run_session_store_conformance``::

    pool = AsyncConnectionPool(url, open=False)
    await pool.open()
    store = PostgresSessionStore(pool)
    await store.create_schema()
    async for message in query(prompt="Hello!", options=ClaudeAgentOptions(session_store=store)):
        ...

The empty string stands for "no subpath" (the main transcript), so the primary key is whole;
``seq`` keeps the order of appends. ``jsonb`` may reorder an entry's keys: the protocol asks for
equal entries back, not the same text.
"""

from __future__ import annotations

import re
import time
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from anyagent_httpx.claude import (
    SessionKey,
    SessionListSubkeysKey,
    SessionStore,
    SessionStoreEntry,
    SessionStoreListEntry,
)

_TABLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresSessionStore(SessionStore):
    """Transcript lines in ``table`` (created by ``create_schema``), over ``pool``."""

    def __init__(self, pool: AsyncConnectionPool[Any], table: str = "claude_session_store") -> None:
        if not _TABLE.fullmatch(table):
            raise ValueError(f"table must be a plain lower-case SQL name, not {table!r}")
        self.pool = pool
        self.table = table

    async def create_schema(self) -> None:
        """Create the table and its index if they are not there (safe to run again)."""
        async with self.pool.connection() as connection:
            await connection.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                " project_key text NOT NULL, session_id text NOT NULL, subpath text NOT NULL DEFAULT '',"
                " seq bigserial, entry jsonb NOT NULL, mtime bigint NOT NULL,"
                " PRIMARY KEY (project_key, session_id, subpath, seq))"
            )
            await connection.execute(
                f"CREATE INDEX IF NOT EXISTS {self.table}_sessions ON {self.table} (project_key, session_id)"
                " WHERE subpath = ''"
            )

    async def append(self, key: SessionKey, entries: list[SessionStoreEntry]) -> None:
        if not entries:
            return
        now = int(time.time() * 1000)
        rows = [(key["project_key"], key["session_id"], key.get("subpath") or "", Jsonb(e), now) for e in entries]
        async with self.pool.connection() as connection, connection.cursor() as cursor:
            await cursor.executemany(
                f"INSERT INTO {self.table} (project_key, session_id, subpath, entry, mtime)"
                " VALUES (%s, %s, %s, %s, %s)",
                rows,
            )

    async def load(self, key: SessionKey) -> list[SessionStoreEntry] | None:
        async with self.pool.connection() as connection:
            cursor = await connection.execute(
                f"SELECT entry FROM {self.table} WHERE project_key = %s AND session_id = %s AND subpath = %s"
                " ORDER BY seq",
                (key["project_key"], key["session_id"], key.get("subpath") or ""),
            )
            rows = await cursor.fetchall()
        return [row[0] for row in rows] or None

    async def list_sessions(self, project_key: str) -> list[SessionStoreListEntry]:
        async with self.pool.connection() as connection:
            cursor = await connection.execute(
                f"SELECT session_id, max(mtime) FROM {self.table} WHERE project_key = %s AND subpath = ''"
                " GROUP BY session_id",
                (project_key,),
            )
            rows = await cursor.fetchall()
        return [{"session_id": session, "mtime": int(mtime)} for session, mtime in rows]

    async def delete(self, key: SessionKey) -> None:
        subpath = key.get("subpath") or ""
        async with self.pool.connection() as connection:
            if subpath:  # only that transcript
                await connection.execute(
                    f"DELETE FROM {self.table} WHERE project_key = %s AND session_id = %s AND subpath = %s",
                    (key["project_key"], key["session_id"], subpath),
                )
            else:  # the session and every transcript under it
                await connection.execute(
                    f"DELETE FROM {self.table} WHERE project_key = %s AND session_id = %s",
                    (key["project_key"], key["session_id"]),
                )

    async def list_subkeys(self, key: SessionListSubkeysKey) -> list[str]:
        async with self.pool.connection() as connection:
            cursor = await connection.execute(
                f"SELECT DISTINCT subpath FROM {self.table} WHERE project_key = %s AND session_id = %s"
                " AND subpath <> ''",
                (key["project_key"], key["session_id"]),
            )
            rows = await cursor.fetchall()
        return [row[0] for row in rows]
