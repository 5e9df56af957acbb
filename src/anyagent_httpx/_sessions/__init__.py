"""Session stores: the ``SessionStore`` contract (``_base``), ``MemoryStore`` (in process),
``SQLiteStore`` (the embedded default) and ``PostgresStore`` (many stateless workers; the
``postgres`` extra), the writer that commits a client's turns (``_writer``), and the module
functions over the default store.

``open_store(location)`` picks the store for a location: ``postgresql://...`` a PostgreSQL
store, ``:memory:`` an in-memory one, anything else an SQLite file; None the default file
(``$ANY_AGENT_SESSIONS_DB`` or ``sessions.db`` in the user's data directory).
"""

from __future__ import annotations

import os

from ._base import (
    MemoryRecord,
    SearchHit,
    SessionConflictError,
    SessionError,
    SessionInfo,
    SessionNotFoundError,
    SessionOrder,
    SessionSchemaError,
    SessionStore,
    SessionStoreCorruptError,
    SessionStoreError,
    ToolExecution,
    UsageStats,
)
from ._functions import delete_session, get_session_messages, list_sessions, search_sessions
from ._memory import MemoryStore
from ._sqlite import SCHEMA_VERSION, SQLiteStore, default_path

__all__ = [
    "SCHEMA_VERSION",
    "MemoryRecord",
    "MemoryStore",
    "SQLiteStore",
    "SearchHit",
    "SessionConflictError",
    "SessionError",
    "SessionInfo",
    "SessionNotFoundError",
    "SessionOrder",
    "SessionSchemaError",
    "SessionStore",
    "SessionStoreCorruptError",
    "SessionStoreError",
    "ToolExecution",
    "UsageStats",
    "default_path",
    "delete_session",
    "get_session_messages",
    "list_sessions",
    "open_store",
    "search_sessions",
]


def open_store(location: str | os.PathLike[str] | None = None) -> SessionStore:
    """The store for ``location`` (see the module docstring), not yet opened: use it with
    ``async with``."""
    text = None if location is None else os.fspath(location)
    if text is not None and text.startswith(("postgresql://", "postgres://")):
        from ._postgres import PostgresStore

        store: SessionStore = PostgresStore(text)
        return store
    if text == ":memory:":
        return MemoryStore()
    return SQLiteStore(text)
