"""``PostgresStore``: sessions in PostgreSQL, for many stateless workers sharing them.

It keeps the ``SessionStore`` rules with PostgreSQL's means: one transaction per append, the
session's row locked (``SELECT ... FOR UPDATE``) while the append checks the head it expects,
so two workers appending to one session never interleave turns: the second gets
``SessionConflictError`` and can reload and retry. Full-text search uses a ``tsvector`` column
with a GIN index (``text_search_config``, ``simple`` by default: no stemming, any language),
ranked by ``ts_rank_cd``, with ``ts_headline`` snippets. Memories keep their embeddings in a
``pgvector`` column where the server has the extension (nearest neighbours by cosine distance
in the database), and as ``real[]`` otherwise (scored in the process).

It uses psycopg 3's connection pool (the ``postgres`` extra). The calls run in worker threads
(``anyio.to_thread``): psycopg's own async API is built on asyncio alone, and this store runs
under asyncio and trio alike. ``max_size`` bounds the connections (and the threads waiting on
them). The schema is created or migrated on open, under an advisory lock, so workers starting
together do not race; a database of a newer schema is refused (``SessionSchemaError``)
without changes. A load parses the entries in a worker thread, and the store keeps those of
the sessions it loaded last (``cache_sessions``): loading one again reads only the rows
appended since, by any worker.

PostgreSQL text cannot hold the NUL character (U+0000). An entry's body (JSON) keeps it
escaped, and the text an entry is searched by has a space in its place; in an id, a session's
title, model, cwd or tags, a tool execution's call id, tool, output or decision, or a memory's
text or tags, it is a ``SessionStoreError`` naming the field, raised before anything is written.
"""

from __future__ import annotations

import json
import operator
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

import anyio.to_thread
import attrs

from anyagent_core import AssistantMessage
from anyagent_core.json import thaw_json
from anyagent_core.sessions import (
    CompactionEntry,
    Entry,
    MessageEntry,
    MetadataEntry,
    ResultEntry,
    dumps_entry,
    loads_entries,
    searchable_text,
)
from anyagent_core.value import Value
from anyagent_core.wire import redact_url

from ._base import (
    MemoryRecord,
    SearchHit,
    SessionConflictError,
    SessionError,
    SessionInfo,
    SessionNotFoundError,
    SessionOrder,
    SessionSchemaError,
    SessionStoreError,
    ToolExecution,
    UsageStats,
    check_chain,
    counted_messages,
    fts_terms,
    run_row,
    validate_limit,
)
from ._vectors import VectorIndex

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

__all__ = ["SCHEMA_VERSION", "PostgresStore"]

_T = TypeVar("_T")

SCHEMA_VERSION: Final = 1
_LOCK_KEY: Final = 0x616E7961  # the advisory lock the migrations hold ("anya")

_SCHEMA_V1 = """
CREATE TABLE anyagent_sessions (
    id text PRIMARY KEY, title text, tags text[] NOT NULL DEFAULT '{}', model text, cwd text,
    created_at double precision NOT NULL, updated_at double precision NOT NULL, head text,
    messages integer NOT NULL DEFAULT 0, forked_from text, base_session text, base_entry text,
    deleted boolean NOT NULL DEFAULT false
);
CREATE INDEX anyagent_sessions_updated ON anyagent_sessions (deleted, updated_at);
CREATE INDEX anyagent_sessions_cwd ON anyagent_sessions (cwd, updated_at);
CREATE INDEX anyagent_sessions_base ON anyagent_sessions (base_session);
CREATE TABLE anyagent_entries (
    seq bigserial PRIMARY KEY, id text NOT NULL UNIQUE, session_id text NOT NULL, kind text NOT NULL,
    role text, at double precision NOT NULL, body text NOT NULL, text text, tsv tsvector
);
CREATE INDEX anyagent_entries_session ON anyagent_entries (session_id, seq);
CREATE INDEX anyagent_entries_tsv ON anyagent_entries USING gin (tsv);
CREATE TABLE anyagent_runs (
    session_id text NOT NULL, at double precision NOT NULL, day text NOT NULL, model text,
    subtype text NOT NULL, turns integer NOT NULL, prompt_tokens bigint NOT NULL,
    completion_tokens bigint NOT NULL, total_tokens bigint NOT NULL, cost_usd double precision NOT NULL,
    duration_ms bigint NOT NULL
);
CREATE INDEX anyagent_runs_session ON anyagent_runs (session_id);
CREATE TABLE anyagent_tool_executions (
    seq bigserial PRIMARY KEY, session_id text NOT NULL, call_id text NOT NULL, tool text NOT NULL,
    input text NOT NULL, output text NOT NULL, is_error boolean NOT NULL, decision text NOT NULL,
    seconds double precision, at double precision NOT NULL
);
CREATE INDEX anyagent_tool_executions_session ON anyagent_tool_executions (session_id, seq);
CREATE TABLE anyagent_memories (
    seq bigserial PRIMARY KEY, id text NOT NULL UNIQUE, text text NOT NULL, tags text[] NOT NULL DEFAULT '{}',
    session_id text, at double precision NOT NULL, vector real[], tsv tsvector
);
CREATE INDEX anyagent_memories_tsv ON anyagent_memories USING gin (tsv)
"""

MIGRATIONS: Final[dict[int, str]] = {1: _SCHEMA_V1}

_COLUMNS = "id, title, tags, model, cwd, created_at, updated_at, head, messages, forked_from"
_KIND: Final[dict[type, str]] = {
    MessageEntry: "message",
    ResultEntry: "result",
    MetadataEntry: "metadata",
    CompactionEntry: "compaction",
}


@attrs.frozen(repr=False, eq=False)
class _Loaded(Value):
    """A session's entries as last loaded: the log is append-only, so they stay true."""

    first_seq: int
    """The seq of the session's own first entry (its metadata): a session deleted and made again
    under the same id starts at another (seqs are never reused), so it is another log."""
    last_seq: int
    entries: tuple[Entry, ...]


def _info(row: Sequence[Any]) -> SessionInfo:
    return SessionInfo(
        session_id=row[0],
        title=row[1],
        tags=tuple(row[2]),
        model=row[3],
        cwd=row[4],
        created_at=row[5],
        updated_at=row[6],
        head=row[7],
        message_count=row[8],
        forked_from=row[9],
    )


class PostgresStore:
    """A ``SessionStore`` in a PostgreSQL database at ``url`` (``postgresql://user@host/db``).

    ::

        async with PostgresStore("postgresql://app@db/agents", max_size=8) as store:
            ...

    ``cache_sessions``: how many loaded sessions keep their parsed entries in this process, so
    that loading one again reads and parses only what was appended since (by any worker; 0:
    none). The URL's password is never shown in reprs or errors."""

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 8,
        connect_timeout: float = 10.0,
        text_search_config: str = "simple",
        use_pgvector: bool | None = None,
        clock: Callable[[], float] = time.time,
        cache_sessions: int = 32,
    ) -> None:
        if type(cache_sessions) is not int or cache_sessions < 0:
            raise ValueError(f"cache_sessions must be a non-negative integer, not {cache_sessions!r}")
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self.connect_timeout = connect_timeout
        self.text_search_config = text_search_config
        self._want_pgvector = use_pgvector
        self.pgvector = False
        """Whether memories' vectors are in a pgvector column (known once open)."""
        self._clock = clock
        self._pool: psycopg_pool.ConnectionPool[Any] | None = None
        self._open_lock = threading.Lock()
        self._closed = False
        self._vectors: VectorIndex | None = None
        self._vectors_lock = threading.Lock()
        self.cache_sessions = cache_sessions
        self._cache: dict[str, _Loaded] = {}  # by session id, least recently loaded first
        self._cache_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PostgresStore({redact_url(self.url)!r})"

    # ---- opening and closing --------------------------------------------------------------

    async def open(self) -> None:
        await anyio.to_thread.run_sync(self._ensure_pool)

    def _ensure_pool(self) -> psycopg_pool.ConnectionPool[Any]:
        with self._open_lock:
            if self._closed:
                raise SessionStoreError(f"{self!r} is closed")
            if self._pool is not None:
                return self._pool
            try:
                import psycopg
                import psycopg_pool
            except ImportError:
                raise SessionStoreError(
                    "PostgresStore needs psycopg 3 and psycopg-pool: pip install 'anyagent[postgres]'"
                ) from None
            pool: psycopg_pool.ConnectionPool[Any] = psycopg_pool.ConnectionPool(
                self.url,
                min_size=self.min_size,
                max_size=self.max_size,
                kwargs={"connect_timeout": max(1, round(self.connect_timeout)), "autocommit": True},
                open=False,
                timeout=self.connect_timeout,
            )
            try:
                pool.open(wait=True, timeout=self.connect_timeout)
                with pool.connection() as conn:
                    self._migrate(conn)
            except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
                pool.close()
                raise SessionStoreError(f"cannot use the PostgreSQL store at {redact_url(self.url)}: {exc}") from None
            except BaseException:
                pool.close()
                raise
            self._pool = pool
            return pool

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            conn.execute("CREATE TABLE IF NOT EXISTS anyagent_schema (version integer NOT NULL)")
            row = conn.execute("SELECT version FROM anyagent_schema").fetchone()
            version = 0 if row is None else row[0]
            if row is None:
                conn.execute("INSERT INTO anyagent_schema VALUES (0)")
            if version > SCHEMA_VERSION:
                raise SessionSchemaError(
                    f"the PostgreSQL store at {redact_url(self.url)} has session schema version {version}, newer "
                    f"than this version of anyagent knows ({SCHEMA_VERSION}); it was not changed"
                )
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        conn.execute(statement)
            if version < SCHEMA_VERSION:
                conn.execute("UPDATE anyagent_schema SET version = %s", (SCHEMA_VERSION,))
        self.pgvector = False
        if self._want_pgvector is not False:
            self.pgvector = self._setup_pgvector(conn)
            if self._want_pgvector and not self.pgvector:
                raise SessionStoreError("use_pgvector=True, but the server has no pgvector extension")

    @staticmethod
    def _setup_pgvector(conn: psycopg.Connection[Any]) -> bool:
        import psycopg

        with conn.transaction():
            if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone() is None:
                return False
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                conn.execute("ALTER TABLE anyagent_memories ADD COLUMN IF NOT EXISTS embedding vector")
        except psycopg.Error:
            return False  # installed on the server, but this role may not create it
        return True

    async def aclose(self) -> None:
        with self._open_lock:
            self._closed = True
            pool, self._pool = self._pool, None
        with self._cache_lock:
            self._cache.clear()
        if pool is not None:
            await anyio.to_thread.run_sync(pool.close)

    async def __aenter__(self) -> PostgresStore:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _run(self, work: Callable[[psycopg.Connection[Any]], _T], *, transaction: bool = True) -> _T:
        """``work(conn)`` in one transaction (``transaction=False``: each statement its own), in a
        worker thread; errors made typed ones."""
        return await anyio.to_thread.run_sync(self._call, work, transaction)

    def _call(self, work: Callable[[psycopg.Connection[Any]], _T], transaction: bool) -> _T:
        import psycopg
        import psycopg_pool

        pool = self._ensure_pool()
        try:
            with pool.connection() as conn:
                if not transaction:
                    return work(conn)
                with conn.transaction():
                    return work(conn)
        except SessionError:
            raise
        except psycopg.errors.UniqueViolation as exc:
            raise SessionConflictError(str(exc).splitlines()[0], expected=None, actual="(an id is taken)") from None
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise SessionStoreError(f"the PostgreSQL store at {redact_url(self.url)}: {exc}") from None

    # ---- sessions -------------------------------------------------------------------------

    @staticmethod
    def _row(conn: psycopg.Connection[Any], session_id: str, *, lock: bool = False) -> tuple[Any, ...]:
        row = conn.execute(
            f"SELECT {_COLUMNS}, base_session, base_entry, deleted FROM anyagent_sessions WHERE id = %s"
            + (" FOR UPDATE" if lock else ""),
            (session_id,),
        ).fetchone()
        if row is None or row[12]:
            raise SessionNotFoundError(session_id)
        return tuple(row)

    def _insert_entries(self, conn: psycopg.Connection[Any], session_id: str, entries: Sequence[Entry]) -> None:
        rows = []
        for entry in entries:
            role = None
            if isinstance(entry, MessageEntry):
                role = "assistant" if isinstance(entry.message, AssistantMessage) else "user"
            _holdable(entry.id, f"the id of an entry of session {session_id!r}")
            text = _searched(entry)
            rows.append((entry.id, session_id, _KIND[type(entry)], role, entry.at, dumps_entry(entry), text, text))
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO anyagent_entries (id, session_id, kind, role, at, body, text, tsv)"
                f" VALUES (%s, %s, %s, %s, %s, %s, %s, to_tsvector('{self._config}', coalesce(%s, '')))",
                rows,
            )

    @property
    def _config(self) -> str:
        name = self.text_search_config
        if not name.replace("_", "").isalnum():
            raise ValueError(f"text_search_config must be a configuration name, not {name!r}")
        return name

    async def create(
        self,
        session_id: str,
        *,
        title: str | None = None,
        tags: Sequence[str] = (),
        model: str | None = None,
        cwd: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> SessionInfo:
        _holdable(session_id, "a session id")
        for name, value in (("title", title), ("model", model), ("cwd", cwd)):
            if value is not None:
                _holdable(value, f"the {name} of session {session_id!r}")
        for tag in tags:
            _holdable(tag, f"a tag of session {session_id!r}")
        at = self._clock()
        meta = MetadataEntry(
            id=f"{session_id}:meta",
            parent_id=None,
            at=at,
            title=title,
            tags=tuple(tags),
            model=model,
            cwd=cwd,
            data=data or {},
        )

        def work(conn: psycopg.Connection[Any]) -> SessionInfo:
            inserted = conn.execute(
                "INSERT INTO anyagent_sessions (id, title, tags, model, cwd, created_at, updated_at, head)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING RETURNING id",
                (session_id, title, list(meta.tags), model, cwd, at, at, meta.id),
            ).fetchone()
            if inserted is None:
                raise SessionConflictError(session_id, expected=None, actual="(the id is taken)")
            self._insert_entries(conn, session_id, [meta])
            return _info(self._row(conn, session_id))

        return await self._run(work)

    async def append(
        self,
        session_id: str,
        entries: Sequence[Entry],
        *,
        expected_head: str | None,
        tool_executions: Sequence[ToolExecution] = (),
    ) -> SessionInfo:
        entries = list(entries)
        check_chain(session_id, entries, expected_head)

        if not entries and not tool_executions:
            return await self._run(lambda conn: self._unchanged(conn, session_id, entries, expected_head))
        params = self._append_params(session_id, entries, expected_head, tool_executions)
        sql = self._append_sql

        def work(conn: psycopg.Connection[Any]) -> SessionInfo:
            row = conn.execute(sql, params, prepare=True).fetchone()
            if row is None:  # not there, or its head is not the one expected: nothing was written
                return self._unchanged(conn, session_id, entries, expected_head)
            return _info(row)

        return await self._run(work, transaction=False)

    def _unchanged(
        self, conn: psycopg.Connection[Any], session_id: str, entries: Sequence[Entry], expected_head: str | None
    ) -> SessionInfo:
        """What an append that writes nothing gives: the session as it is when its head is the
        one expected, or the append's own last entry (a retry of an append that landed);
        ``SessionConflictError`` for any other head."""
        row = self._row(conn, session_id)
        head = row[7]
        if head != expected_head and not (entries and head == entries[-1].id):
            raise SessionConflictError(session_id, expected=expected_head, actual=head)
        return _info(row)

    @staticmethod
    def _append_params(
        session_id: str, entries: Sequence[Entry], expected_head: str | None, tools: Sequence[ToolExecution]
    ) -> dict[str, Any]:
        """The arguments of ``_append_sql``: the session's new head and counts, and one array per
        column of the rows it inserts."""
        _holdable(session_id, "a session id")
        for entry in entries:
            _holdable(entry.id, f"the id of an entry of session {session_id!r}")
        for t in tools:
            for name in ("call_id", "tool", "output", "decision"):
                _holdable(getattr(t, name), f"the {name} of tool execution {t.call_id!r} of session {session_id!r}")
        ids: list[str] = []
        kinds: list[str] = []
        roles: list[str | None] = []
        ats: list[float] = []
        bodies: list[str] = []
        texts: list[str | None] = []
        for entry in entries:
            role = None
            if isinstance(entry, MessageEntry):
                role = "assistant" if isinstance(entry.message, AssistantMessage) else "user"
            ids.append(entry.id)
            kinds.append(_KIND[type(entry)])
            roles.append(role)
            ats.append(float(entry.at))  # a column's array is of one type: 5 and 5.5 go as 5.0 and 5.5
            bodies.append(dumps_entry(entry))
            texts.append(_searched(entry))
        # A run's model is its result's, else the one before it in this append, else the
        # session's (None here: the statement takes the session's own).
        model: str | None = None
        runs: list[tuple[Any, ...]] = []
        for entry in entries:
            if type(entry) is ResultEntry:
                runs.append(run_row(entry, session_id, model))
                model = entry.result.model or model
        run_columns = [list(column) for column in zip(*runs, strict=True)] if runs else [[]] * 11
        for n in (1, 9):  # the runs' times and costs, floats all (see ``ats``)
            run_columns[n] = [float(x) for x in run_columns[n]]
        tool_columns = [
            [t.call_id for t in tools],
            [t.tool for t in tools],
            [json.dumps(thaw_json(t.input)) for t in tools],
            [t.output for t in tools],
            [t.is_error for t in tools],
            [t.decision for t in tools],
            [None if t.seconds is None else float(t.seconds) for t in tools],
            [float(t.at) for t in tools],
        ]
        return {
            "sid": session_id,
            "expected": expected_head,
            "head": entries[-1].id if entries else expected_head,
            "at": max((e.at for e in entries), default=None),
            "added": counted_messages(entries),
            "model": model,
            "id": ids,
            "kind": kinds,
            "role": roles,
            "e_at": ats,
            "body": bodies,
            "text": texts,
            **{f"r{n}": column for n, column in enumerate(run_columns[1:], start=1)},
            **{f"t{n}": column for n, column in enumerate(tool_columns)},
        }

    @property
    def _append_sql(self) -> str:
        """One statement, one round trip: the session's row updated where its head is the one
        expected (row locked, as a concurrent append's update waits and then sees the head
        that one left), and the entries, runs and tool executions inserted only if it was; it
        gives the session's new row, or no row when nothing was written. The columns go as
        binary arrays (``%(name)b``): psycopg's text form escapes every element with a regular
        expression, which cost more than the rest of the append's encoding."""
        return (
            "WITH old AS (SELECT id, model FROM anyagent_sessions WHERE id = %(sid)s),"
            " s AS (UPDATE anyagent_sessions t SET head = %(head)s,"
            " updated_at = greatest(t.updated_at, %(at)s::double precision),"
            " messages = t.messages + %(added)s::integer, model = coalesce(%(model)s::text, t.model)"
            " FROM old WHERE t.id = old.id AND NOT t.deleted AND t.head IS NOT DISTINCT FROM %(expected)s::text"
            f" RETURNING t.{', t.'.join(_COLUMNS.split(', '))}, old.model AS old_model),"
            " e AS (INSERT INTO anyagent_entries (id, session_id, kind, role, at, body, text, tsv)"
            " SELECT u.id, s.id, u.kind, u.role, u.at, u.body, u.text,"
            f" to_tsvector('{self._config}', coalesce(u.text, '')) FROM s, unnest(%(id)b::text[], %(kind)b::text[],"
            " %(role)b::text[], %(e_at)b::double precision[], %(body)b::text[], %(text)b::text[])"
            " WITH ORDINALITY AS u(id, kind, role, at, body, text, n) ORDER BY u.n),"
            " r AS (INSERT INTO anyagent_runs SELECT s.id, u.at, u.day, coalesce(u.model, s.old_model), u.subtype,"
            " u.turns, u.prompt, u.completion, u.total, u.cost, u.duration FROM s,"
            " unnest(%(r1)b::double precision[], %(r2)b::text[], %(r3)b::text[], %(r4)b::text[], %(r5)b::integer[],"
            " %(r6)b::bigint[], %(r7)b::bigint[], %(r8)b::bigint[], %(r9)b::double precision[], %(r10)b::bigint[])"
            " AS u(at, day, model, subtype, turns, prompt, completion, total, cost, duration)),"
            " x AS (INSERT INTO anyagent_tool_executions (session_id, call_id, tool, input, output, is_error, decision,"
            " seconds, at) SELECT s.id, u.call_id, u.tool, u.input, u.output, u.is_error, u.decision, u.seconds, u.at"
            " FROM s, unnest(%(t0)b::text[], %(t1)b::text[], %(t2)b::text[],"
            " %(t3)b::text[], %(t4)b::boolean[], %(t5)b::text[], %(t6)b::double precision[],"
            " %(t7)b::double precision[]) WITH ORDINALITY AS u(call_id, tool, input, output, is_error, decision,"
            " seconds, at, n) ORDER BY u.n)"
            f" SELECT {_COLUMNS} FROM s"
        )

    def _chain_texts(
        self, conn: psycopg.Connection[Any], session_id: str, base: str | None, entry: str | None
    ) -> tuple[list[str], int, int]:
        """The bodies of the chain from the root to the head, and the seqs of the session's own
        first and last entries."""
        own = _in_order(
            conn.execute("SELECT seq, body FROM anyagent_entries WHERE session_id = %s", (session_id,)).fetchall()
        )
        segments = [[r[1] for r in own]]
        while base is not None:
            rows = _in_order(
                conn.execute(
                    "SELECT seq, body FROM anyagent_entries WHERE session_id = %s AND seq <="
                    " (SELECT seq FROM anyagent_entries WHERE id = %s)",
                    (base, entry),
                ).fetchall()
            )
            segments.append([r[1] for r in rows])
            parent = conn.execute(
                "SELECT base_session, base_entry FROM anyagent_sessions WHERE id = %s", (base,)
            ).fetchone()
            base, entry = (None, None) if parent is None else parent
        texts = [text for segment in reversed(segments) for text in segment]
        return texts, own[0][0] if own else 0, own[-1][0] if own else 0

    async def load(self, session_id: str) -> tuple[SessionInfo, list[Entry]]:
        with self._cache_lock:
            cached = self._cache.get(session_id)

        def work(conn: psycopg.Connection[Any]) -> tuple[SessionInfo, list[str], int, int, bool]:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            row = self._row(conn, session_id)
            if cached is not None:
                # The cached log still holds if the session's first entry is the one it began
                # with; then only the rows after its last are new.
                rows = _in_order(
                    conn.execute(
                        "SELECT seq, body FROM anyagent_entries WHERE session_id = %s AND (seq = %s OR seq > %s)",
                        (session_id, cached.first_seq, cached.last_seq),
                    ).fetchall()
                )
                if rows and rows[0][0] == cached.first_seq:
                    last = rows[-1][0] if len(rows) > 1 else cached.last_seq
                    return _info(row), [r[1] for r in rows[1:]], cached.first_seq, last, True
            texts, first, last = self._chain_texts(conn, session_id, row[10], row[11])
            return _info(row), texts, first, last, False

        def read() -> tuple[SessionInfo, list[Entry], int, int]:
            # Parsed in the same worker thread, once the connection is back in the pool: the
            # event loop never waits on it, and no second thread hop is paid.
            info, texts, first, last, appended = self._call(work, True)
            parsed = loads_entries(texts, session_id=session_id)
            if not appended:
                return info, parsed, first, last
            assert cached is not None
            return info, [*cached.entries, *parsed] if parsed else list(cached.entries), first, last

        info, entries, first, last = await anyio.to_thread.run_sync(read)
        self._remember_load(session_id, _Loaded(first_seq=first, last_seq=last, entries=tuple(entries)))
        return info, entries

    def _remember_load(self, session_id: str, loaded: _Loaded) -> None:
        """Keep a loaded session's parsed entries (the log is append-only, so the next load
        reads and parses only the rows after them), for the ``cache_sessions`` most recent."""
        if self.cache_sessions <= 0:
            return
        with self._cache_lock:
            self._cache.pop(session_id, None)
            self._cache[session_id] = loaded
            while len(self._cache) > self.cache_sessions:
                del self._cache[next(iter(self._cache))]

    async def get(self, session_id: str) -> SessionInfo:
        return await self._run(lambda conn: _info(self._row(conn, session_id)))

    async def list_sessions(
        self,
        *,
        cwd: str | None = None,
        tag: str | None = None,
        since: float | None = None,
        until: float | None = None,
        order: SessionOrder = "updated",
        descending: bool = True,
        limit: int | None = None,
    ) -> list[SessionInfo]:
        if order not in ("updated", "created"):
            raise ValueError(f"order must be 'updated' or 'created', not {order!r}")
        validate_limit("limit", limit)
        column = f"{order}_at"
        where, args = ["NOT deleted"], []  # type: tuple[list[str], list[Any]]
        for clause, value in (
            ("cwd = %s", cwd),
            ("%s = ANY(tags)", tag),
            (f"{column} >= %s", since),
            (f"{column} < %s", until),
        ):
            if value is not None:
                where.append(clause)
                args.append(value)
        direction = "DESC" if descending else "ASC"
        sql = (
            f"SELECT {_COLUMNS} FROM anyagent_sessions WHERE {' AND '.join(where)}"
            f" ORDER BY {column} {direction}, id {direction}"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return await self._run(lambda conn: [_info(r) for r in conn.execute(sql, args)])

    async def fork(
        self, session_id: str, *, at_entry: str | None = None, new_session_id: str, title: str | None = None
    ) -> SessionInfo:
        _holdable(new_session_id, "a session id")
        if title is not None:
            _holdable(title, f"the title of session {new_session_id!r}")
        at = self._clock()

        def work(conn: psycopg.Connection[Any]) -> SessionInfo:
            row = self._row(conn, session_id)
            point = at_entry if at_entry is not None else row[7]
            entries = loads_entries(self._chain_texts(conn, session_id, row[10], row[11])[0], session_id=session_id)
            ids = [e.id for e in entries]
            if point not in ids:
                raise SessionNotFoundError(session_id, f"entry {point!r} is not in session {session_id!r}")
            owner = conn.execute("SELECT session_id FROM anyagent_entries WHERE id = %s", (point,)).fetchone()
            assert owner is not None
            shared = sum(1 for e in entries[: ids.index(point) + 1] if type(e) is MessageEntry)
            name = title if title is not None else row[1]
            meta = MetadataEntry(
                id=f"{new_session_id}:meta",
                parent_id=point,
                at=at,
                title=name,
                tags=tuple(row[2]),
                model=row[3],
                cwd=row[4],
                forked_from=session_id,
            )
            inserted = conn.execute(
                "INSERT INTO anyagent_sessions (id, title, tags, model, cwd, created_at, updated_at, head, messages,"
                " forked_from, base_session, base_entry) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (id) DO NOTHING RETURNING id",
                (new_session_id, name, row[2], row[3], row[4], at, at, meta.id, shared, session_id, owner[0], point),
            ).fetchone()
            if inserted is None:
                raise SessionConflictError(new_session_id, expected=None, actual="(the id is taken)")
            self._insert_entries(conn, new_session_id, [meta])
            return _info(self._row(conn, new_session_id))

        return await self._run(work)

    async def update(
        self,
        session_id: str,
        *,
        title: str | None = None,
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
    ) -> SessionInfo:
        if title is not None:
            _holdable(title, f"the title of session {session_id!r}")
        for tag in add_tags:
            _holdable(tag, f"a tag of session {session_id!r}")

        def work(conn: psycopg.Connection[Any]) -> SessionInfo:
            row = self._row(conn, session_id, lock=True)
            tags = [t for t in row[2] if t not in set(remove_tags)]
            tags += [t for t in dict.fromkeys(add_tags) if t not in tags]
            name = title if title is not None else row[1]
            conn.execute("UPDATE anyagent_sessions SET title = %s, tags = %s WHERE id = %s", (name, tags, session_id))
            return attrs.evolve(_info(row), title=name, tags=tuple(tags))

        return await self._run(work)

    async def delete(self, session_id: str) -> None:
        def work(conn: psycopg.Connection[Any]) -> None:
            self._row(conn, session_id, lock=True)
            self._delete(conn, session_id)

        await self._run(work)

    @staticmethod
    def _delete(conn: psycopg.Connection[Any], session_id: str) -> None:
        current: str | None = session_id
        while current is not None:
            if conn.execute("SELECT 1 FROM anyagent_sessions WHERE base_session = %s LIMIT 1", (current,)).fetchone():
                conn.execute("UPDATE anyagent_sessions SET deleted = true WHERE id = %s", (current,))
                return
            base = conn.execute("SELECT base_session FROM anyagent_sessions WHERE id = %s", (current,)).fetchone()
            for table in ("anyagent_entries", "anyagent_runs", "anyagent_tool_executions"):
                conn.execute(f"DELETE FROM {table} WHERE session_id = %s", (current,))
            conn.execute("DELETE FROM anyagent_sessions WHERE id = %s", (current,))
            parent = base[0] if base is not None else None
            if parent is None:
                return
            gone = conn.execute("SELECT deleted FROM anyagent_sessions WHERE id = %s", (parent,)).fetchone()
            current = parent if gone is not None and gone[0] else None

    async def search(
        self, query: str, *, limit: int = 20, session_id: str | None = None, cwd: str | None = None
    ) -> list[SearchHit]:
        validate_limit("limit", limit)
        terms = fts_terms(query)
        if not terms:
            return []
        config = self._config
        text = " ".join(terms)
        where = [f"e.tsv @@ plainto_tsquery('{config}', %s)", "NOT s.deleted"]
        args: list[Any] = [text]
        if session_id is not None:
            where.append("e.session_id = %s")
            args.append(session_id)
        if cwd is not None:
            where.append("s.cwd = %s")
            args.append(cwd)
        sql = (
            f"SELECT session_id, id, ts_headline('{config}', text, plainto_tsquery('{config}', %s),"
            " 'StartSel=[, StopSel=], MaxWords=24, MinWords=6, ShortWord=1'), rank, at, role FROM ("
            "SELECT e.session_id, e.id, e.text,"
            f" ts_rank_cd(e.tsv, plainto_tsquery('{config}', %s)) AS rank, e.at, e.role"
            " FROM anyagent_entries e JOIN anyagent_sessions s ON s.id = e.session_id"
            f" WHERE {' AND '.join(where)} ORDER BY rank DESC, e.seq DESC LIMIT {int(limit)}) hits ORDER BY rank DESC"
        )
        rows = await self._run(lambda conn: conn.execute(sql, [text, text, *args]).fetchall())
        return [SearchHit(session_id=r[0], entry_id=r[1], snippet=r[2], score=r[3], at=r[4], role=r[5]) for r in rows]

    async def stats(
        self,
        *,
        session_id: str | None = None,
        group_by: Sequence[Literal["session", "model", "day"]] = (),
        since: float | None = None,
        until: float | None = None,
    ) -> list[UsageStats]:
        columns = {"session": "session_id", "model": "model", "day": "day"}
        for name in group_by:
            if name not in columns:
                raise ValueError(f"group_by takes 'session', 'model' and 'day', not {name!r}")
        keys = [columns[name] for name in group_by]
        where, args = ["true"], []  # type: tuple[list[str], list[Any]]
        for clause, value in (("session_id = %s", session_id), ("at >= %s", since), ("at < %s", until)):
            if value is not None:
                where.append(clause)
                args.append(value)
        select = ", ".join(
            [
                *keys,
                "count(*), sum(turns), sum(prompt_tokens), sum(completion_tokens), sum(total_tokens), sum(cost_usd)",
            ]
        )
        sql = f"SELECT {select} FROM anyagent_runs WHERE {' AND '.join(where)}"
        if keys:
            sql += f" GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}"
        rows = await self._run(lambda conn: conn.execute(sql, args).fetchall())
        out = []
        for row in rows:
            named = dict(zip(group_by, row[: len(keys)], strict=True))
            count, turns, prompt, completion, total, cost = row[len(keys) :]
            if count:
                out.append(
                    UsageStats(
                        session_id=named.get("session"),
                        model=named.get("model"),
                        day=named.get("day"),
                        runs=int(count),
                        turns=int(turns or 0),
                        prompt_tokens=int(prompt or 0),
                        completion_tokens=int(completion or 0),
                        total_tokens=int(total or 0),
                        cost_usd=float(cost or 0),
                    )
                )
        return out or ([UsageStats(session_id=session_id)] if not keys else [])

    async def tool_executions(self, session_id: str, *, limit: int | None = None) -> list[ToolExecution]:
        validate_limit("limit", limit)

        def work(conn: psycopg.Connection[Any]) -> list[Any]:
            self._row(conn, session_id)
            sql = (
                "SELECT call_id, tool, input, output, is_error, decision, seconds, at FROM anyagent_tool_executions"
                " WHERE session_id = %s ORDER BY seq DESC"
            )
            if limit is not None:
                sql += f" LIMIT {int(limit)}"
            return conn.execute(sql, (session_id,)).fetchall()

        rows = await self._run(work)
        return [
            ToolExecution(
                session_id=session_id,
                call_id=r[0],
                tool=r[1],
                input=json.loads(r[2]),
                output=r[3],
                is_error=r[4],
                decision=r[5],
                seconds=r[6],
                at=r[7],
            )
            for r in reversed(rows)
        ]

    async def cleanup(self, *, older_than: float | None = None, keep: int | None = None) -> int:
        validate_limit("keep", keep)

        def work(conn: psycopg.Connection[Any]) -> int:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY + 1,))
            rows = conn.execute(
                "SELECT id, updated_at FROM anyagent_sessions WHERE NOT deleted ORDER BY updated_at DESC"
            ).fetchall()
            doomed = [
                sid
                for index, (sid, updated) in enumerate(rows)
                if (older_than is not None and updated < older_than) or (keep is not None and index >= keep)
            ]
            for sid in doomed:
                self._delete(conn, sid)
            return len(doomed)

        return await self._run(work)

    # ---- memory ---------------------------------------------------------------------------

    async def remember(
        self,
        text: str,
        *,
        memory_id: str,
        tags: Sequence[str] = (),
        session_id: str | None = None,
        vector: Sequence[float] | None = None,
    ) -> MemoryRecord:
        if not text.strip():
            raise ValueError("a memory needs some text")
        _holdable(memory_id, "a memory id")
        _holdable(text, f"the text of memory {memory_id!r}")
        for tag in tags:
            _holdable(tag, f"a tag of memory {memory_id!r}")
        record = MemoryRecord(
            memory_id=memory_id,
            text=text,
            at=self._clock(),
            tags=tuple(tags),
            session_id=session_id,
            vector=None if vector is None else tuple(float(x) for x in vector),
        )
        values = None if record.vector is None else list(record.vector)

        def work(conn: psycopg.Connection[Any]) -> None:
            columns = "id, text, tags, session_id, at, vector, tsv"
            marks = f"%s, %s, %s, %s, %s, %s, to_tsvector('{self._config}', %s)"
            args: list[Any] = [memory_id, text, list(record.tags), session_id, record.at, values, text]
            if self.pgvector:
                columns += ", embedding"
                marks += ", %s::vector"
                args.append(None if values is None else _vector_literal(values))
            seq = conn.execute(
                f"INSERT INTO anyagent_memories ({columns}) VALUES ({marks}) RETURNING seq", args
            ).fetchone()
            assert seq is not None
            with self._vectors_lock:
                if self._vectors is not None and record.vector is not None:
                    self._vectors.add(seq[0], record.vector)

        await self._run(work)
        return record

    async def recall(
        self, query: str, *, vector: Sequence[float] | None = None, limit: int = 5, tag: str | None = None
    ) -> list[MemoryRecord]:
        validate_limit("limit", limit)
        select = "SELECT seq, id, text, tags, session_id, at, vector"
        tag_clause, tag_args = ("", []) if tag is None else (" AND %s = ANY(tags)", [tag])

        def work(conn: psycopg.Connection[Any]) -> list[MemoryRecord]:
            if vector is not None:
                if self.pgvector:
                    literal = _vector_literal([float(x) for x in vector])
                    rows = conn.execute(
                        f"{select}, 1 - (embedding <=> %s::vector) FROM anyagent_memories"
                        f" WHERE embedding IS NOT NULL AND vector_dims(embedding) = %s{tag_clause}"
                        f" ORDER BY embedding <=> %s::vector LIMIT {int(limit)}",
                        [literal, len(vector), *tag_args, literal],
                    ).fetchall()
                    return [attrs.evolve(_memory(r), score=float(r[7])) for r in rows]
                ranked = self._index(conn).nearest(vector, limit * 4 if tag is not None else limit)
                scores = dict(ranked)
                rows = conn.execute(
                    f"{select} FROM anyagent_memories WHERE seq = ANY(%s){tag_clause}", [list(scores), *tag_args]
                ).fetchall()
                found = [attrs.evolve(_memory(r), score=scores[r[0]]) for r in rows]
                return sorted(found, key=lambda m: -m.score)[:limit]
            terms = fts_terms(query)
            if not terms:
                return []
            config = self._config
            rows = conn.execute(
                f"{select}, ts_rank_cd(tsv, q) FROM anyagent_memories, to_tsquery('{config}', %s) q"
                f" WHERE tsv @@ q{tag_clause} ORDER BY 8 DESC LIMIT {int(limit)}",
                [" | ".join(_quote_lexeme(t) for t in terms), *tag_args],
            ).fetchall()
            return [attrs.evolve(_memory(r), score=float(r[7])) for r in rows]

        return await self._run(work)

    def _index(self, conn: psycopg.Connection[Any]) -> VectorIndex:
        with self._vectors_lock:
            if self._vectors is None:
                index = VectorIndex()
                for seq, values in conn.execute("SELECT seq, vector FROM anyagent_memories WHERE vector IS NOT NULL"):
                    index.add(seq, values)
                self._vectors = index
            return self._vectors

    async def forget(self, memory_id: str) -> None:
        def work(conn: psycopg.Connection[Any]) -> None:
            row = conn.execute("DELETE FROM anyagent_memories WHERE id = %s RETURNING seq", (memory_id,)).fetchone()
            if row is None:
                raise SessionNotFoundError(memory_id, f"no memory {memory_id!r} in the store")
            with self._vectors_lock:
                if self._vectors is not None:
                    self._vectors.remove(row[0])

        await self._run(work)

    async def memories(self, *, limit: int | None = None, tag: str | None = None) -> list[MemoryRecord]:
        validate_limit("limit", limit)
        sql = "SELECT seq, id, text, tags, session_id, at, vector FROM anyagent_memories"
        args: list[Any] = []
        if tag is not None:
            sql += " WHERE %s = ANY(tags)"
            args.append(tag)
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = await self._run(lambda conn: conn.execute(sql, args).fetchall())
        return [_memory(r) for r in rows]


def _holdable(text: str, what: str) -> None:
    """``SessionStoreError`` naming ``what`` if ``text`` holds U+0000, which PostgreSQL text
    cannot hold (raised before anything is sent: nothing is written)."""
    if "\x00" in text:
        raise SessionStoreError(
            f"PostgreSQL text cannot hold the NUL character (U+0000) in {what} ({text!r}); nothing was written"
        )


def _searched(entry: Entry) -> str | None:
    """The text an entry is found by (None: none), a NUL character (U+0000), which PostgreSQL
    text cannot hold, made a space: the entry's body, JSON, keeps it escaped."""
    text = searchable_text(entry)
    if not text:
        return None
    return text.replace("\x00", " ") if "\x00" in text else text


def _in_order(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows of ``(seq, ...)`` in the order of their seqs. Sorted here, not by the server: a
    long session's rows, bodies and all, outgrow ``work_mem`` and PostgreSQL sorts them on disk
    (about 8 ms of a 10,000-entry load's 20 in the database); the scan gives them nearly in
    order, which Python's sort takes in one pass."""
    rows.sort(key=_seq)
    return rows


_seq: Final = operator.itemgetter(0)


def _memory(row: Sequence[Any]) -> MemoryRecord:
    return MemoryRecord(
        memory_id=row[1],
        text=row[2],
        tags=tuple(row[3]),
        session_id=row[4],
        at=row[5],
        vector=None if row[6] is None else tuple(float(x) for x in row[6]),
    )


def _vector_literal(values: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(x)) for x in values) + "]"


def _quote_lexeme(term: str) -> str:
    return "'" + term.replace("'", "''").replace("\\", "\\\\") + "'"
