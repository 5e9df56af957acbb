"""Module functions over a session store, named as in ``claude-agent-sdk``: ``list_sessions``,
``get_session_messages``, ``delete_session``, ``search_sessions``. Each takes ``store=`` (an
open ``SessionStore``) or, without it, opens the default SQLite file for the call
(``$ANY_AGENT_SESSIONS_DB`` or ``sessions.db`` in the user's data directory)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyagent_core import Message
from anyagent_core.sessions import rebuild

from ._base import SearchHit, SessionInfo, SessionStore
from ._sqlite import SQLiteStore

__all__ = ["delete_session", "get_session_messages", "list_sessions", "search_sessions"]


@asynccontextmanager
async def _using(store: SessionStore | None) -> AsyncIterator[SessionStore]:
    if store is not None:
        yield store
        return
    async with SQLiteStore() as default:
        yield default


async def list_sessions(
    *, store: SessionStore | None = None, cwd: str | None = None, tag: str | None = None, limit: int | None = None
) -> list[SessionInfo]:
    """The stored sessions, most recently updated first (filtered by ``cwd`` and ``tag``)."""
    async with _using(store) as opened:
        return await opened.list_sessions(cwd=cwd, tag=tag, limit=limit)


async def get_session_messages(session_id: str, *, store: SessionStore | None = None) -> list[Message]:
    """The conversation of a stored session, as a resumed client would see it."""
    async with _using(store) as opened:
        _, entries = await opened.load(session_id)
    return list(rebuild(session_id, entries).messages)


async def delete_session(session_id: str, *, store: SessionStore | None = None) -> None:
    """Delete the session ``session_id`` (its forks keep what they share with it)."""
    async with _using(store) as opened:
        await opened.delete(session_id)


async def search_sessions(
    query: str, *, store: SessionStore | None = None, limit: int = 20, cwd: str | None = None
) -> list[SearchHit]:
    """Messages of every stored session that hold every word of ``query``, best first."""
    async with _using(store) as opened:
        return await opened.search(query, limit=limit, cwd=cwd)
