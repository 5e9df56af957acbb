"""``SQLiteStore``: the embedded default, one file, stdlib ``sqlite3`` off the event loop.

Every call runs on the store's own database thread (``DatabaseThread``: one connection, the
calls in order), so the event loop (asyncio or trio) never waits on the disk; a store used in
a child process after ``fork()`` opens a thread and a connection of its own there. The file is in WAL mode, so
readers do not block the writer and several processes can share one file (writes wait for each
other up to ``busy_timeout``). Each append is one ``BEGIN IMMEDIATE`` transaction: the turn's
entries, the run's usage and the tool executions commit together or not at all.

Full-text rows are written in batches, not by every append: FTS5 writes a new index segment
at each commit that touches it, which costs more than the rest of an append together. Entries
after the indexed mark (``fts_indexed``) wait, and are indexed by the database thread in
steps of ``IDLE_STEP`` entries (a call coming meanwhile waits for one step at most) when no
call has come for ``IDLE_AFTER`` seconds, or right after an append that leaves
``INDEX_BATCH`` of them waiting has its answer; in one transaction by the append that would
leave ``INDEX_LIMIT`` waiting (calls coming without a pause leave no time for steps); and by
any ``search`` (before it reads), so a search always sees every committed entry, whichever
process wrote it.

Checkpoints (the log's pages copied into the file) are taken out of the appends' way: every
``CHECKPOINT_COMMITS`` appends, a checkpointer thread of the store runs one, passively, on a
connection of its own, while the appends go on, and again once the database thread, idle,
has nothing left to index, if it wrote since. SQLite's automatic checkpoint (at 1,000 pages, in a
``COMMIT``) stays as it was, so the log is checkpointed at least as often as before; it seldom
has anything left to do.

Durability: ``synchronous="normal"`` (the default) survives the process being killed at any
moment (a committed append is in the WAL file, which the operating system keeps); a power cut
may lose the last appends before a checkpoint. ``synchronous="full"`` syncs the WAL at every
commit, surviving power loss too, at the cost of an ``fsync`` per turn.

The schema has a version table; opening a file migrates an older schema forward in one
transaction, and refuses, without writing anything, a file whose version is newer
(``SessionSchemaError``) or that is not a database or is damaged (``SessionStoreCorruptError``).
Full-text search uses FTS5 (``unicode61``, diacritics folded), ranked by BM25 with snippets.
Version 2 added the indexed mark (a version 1 file had every entry indexed at its append);
version 3 replaced the sessions' indexes on their update time, which every append rewrote, by
one on the working directory.
"""

from __future__ import annotations

import json
import os
import pathlib
import sqlite3
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Literal, TypeVar

import attrs

from anyagent_core import AssistantMessage
from anyagent_core.json import thaw_json
from anyagent_core.sessions import (
    CompactionEntry,
    Entry,
    MessageEntry,
    MetadataEntry,
    ResultEntry,
    SessionEntryError,
    dumps_entry,
    loads_entries,
)
from anyagent_core.sessions import searchable_text as _searchable
from anyagent_core.value import Value

from ._base import (
    MemoryRecord,
    SearchHit,
    SessionConflictError,
    SessionError,
    SessionInfo,
    SessionNotFoundError,
    SessionOrder,
    SessionSchemaError,
    SessionStoreCorruptError,
    SessionStoreError,
    ToolExecution,
    UsageStats,
    check_chain,
    counted_messages,
    fts_terms,
    run_row,
    validate_limit,
)
from ._thread import IDLE_AFTER, DatabaseThread, abandon
from ._vectors import VectorIndex, pack_vector, unpack_vector

__all__ = ["CHECKPOINT_COMMITS", "IDLE_STEP", "INDEX_BATCH", "INDEX_LIMIT", "SCHEMA_VERSION", "SQLiteStore"]

_T = TypeVar("_T")

#: The schema this version writes; files with a higher version are refused.
SCHEMA_VERSION: Final = 3

#: Entries waiting for their full-text rows that make the database thread index them right
#: after the append that brought them has its answer (see the module docstring).
INDEX_BATCH: Final = 256

#: Entries waiting for their full-text rows that make an append index them in its own
#: transaction: what a search may have to index before it reads, at most.
INDEX_LIMIT: Final = 4 * INDEX_BATCH

#: Entries whose full-text rows one step of the idle work writes (a call that comes meanwhile
#: waits for one step at most).
IDLE_STEP: Final = 64

#: Appends after which the log is checkpointed by a thread of its own, on a connection of its
#: own, while the appends go on (64 two-message turns write about 400 pages: SQLite's own
#: checkpoint, in a ``COMMIT``, runs at 1,000).
CHECKPOINT_COMMITS: Final = 64

_SCHEMA_V1 = """
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    title TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    model TEXT,
    cwd TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    head TEXT,
    messages INTEGER NOT NULL DEFAULT 0,
    forked_from TEXT,
    base_session TEXT,
    base_entry TEXT,
    base_messages INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_updated ON sessions (deleted, updated_at);
CREATE INDEX sessions_cwd ON sessions (cwd, updated_at);
CREATE INDEX sessions_base ON sessions (base_session);
CREATE TABLE entries (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    session_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    role TEXT,
    at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX entries_session ON entries (session_id, seq);
CREATE VIRTUAL TABLE entries_fts USING fts5 (text, tokenize = 'unicode61 remove_diacritics 2');
CREATE TABLE runs (
    session_id TEXT NOT NULL, at REAL NOT NULL, day TEXT NOT NULL, model TEXT, subtype TEXT NOT NULL,
    turns INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL, duration_ms INTEGER NOT NULL
);
CREATE INDEX runs_session ON runs (session_id);
CREATE TABLE tool_executions (
    seq INTEGER PRIMARY KEY, session_id TEXT NOT NULL, call_id TEXT NOT NULL, tool TEXT NOT NULL,
    input TEXT NOT NULL, output TEXT NOT NULL, is_error INTEGER NOT NULL, decision TEXT NOT NULL,
    seconds REAL, at REAL NOT NULL
);
CREATE INDEX tool_executions_session ON tool_executions (session_id, seq);
CREATE TABLE memories (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, text TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '[]',
    session_id TEXT, at REAL NOT NULL, vector BLOB
);
CREATE VIRTUAL TABLE memories_fts USING fts5 (text, tokenize = 'unicode61 remove_diacritics 2');
"""

#: Version 2: the full-text rows are written in batches; every entry up to ``seq`` has its own
#: (a version 1 file indexed each entry as it was appended: all of them).
_SCHEMA_V2 = """
CREATE TABLE fts_indexed (seq INTEGER NOT NULL);
INSERT INTO fts_indexed SELECT coalesce(max(seq), 0) FROM entries;
"""

#: Version 3: the sessions' indexes on their update time, which every append rewrote, give way
#: to one on the working directory alone, which no append touches (a listing sorts the
#: sessions it selects; a store holds few enough of them for that).
_SCHEMA_V3 = """
DROP INDEX sessions_updated;
DROP INDEX sessions_cwd;
CREATE INDEX sessions_by_cwd ON sessions (cwd);
"""

#: Each version's migration from the one before (version 1 creates the tables).
MIGRATIONS: Final[dict[int, str]] = {1: _SCHEMA_V1, 2: _SCHEMA_V2, 3: _SCHEMA_V3}

_SESSION_COLUMNS = "id, title, tags, model, cwd, created_at, updated_at, head, messages, forked_from"

#: ``UPDATE … RETURNING`` (SQLite 3.35): the head check folded into the session's update.
_RETURNING: Final = sqlite3.sqlite_version_info >= (3, 35, 0)

#: An append's update of its session, made only if the head is the one expected; it returns the
#: row as updated, the full-text mark and the log's last seq before the append's entries.
_UPDATE_HEAD: Final = (
    "UPDATE sessions SET head = ?, updated_at = max(updated_at, coalesce(?, updated_at)),"
    " messages = messages + ?, model = coalesce(?, model) WHERE id = ? AND deleted = 0 AND head IS ?"
    f" RETURNING {_SESSION_COLUMNS}, (SELECT seq FROM fts_indexed), (SELECT coalesce(max(seq), 0) FROM entries)"
)

#: The full-text mark, if entries after it wait for their rows.
_BEHIND: Final = "SELECT seq FROM fts_indexed WHERE seq < (SELECT coalesce(max(seq), 0) FROM entries)"

_INSERT_ENTRY: Final = "INSERT INTO entries (id, session_id, kind, role, at, body) VALUES (?, ?, ?, ?, ?, ?)"

_INSERT_TOOL: Final = (
    "INSERT INTO tool_executions (session_id, call_id, tool, input, output, is_error, decision, seconds, at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@attrs.frozen(repr=False, eq=False)
class _Loaded(Value):
    """A session's entries as last loaded: the log is append-only, so they stay true."""

    created_at: float
    """The session's creation time: a session deleted and made again under the same id is
    another log."""
    last_seq: int
    entries: tuple[Entry, ...]


def _info(row: Sequence[Any]) -> SessionInfo:
    return SessionInfo(
        session_id=row[0],
        title=row[1],
        tags=tuple(json.loads(row[2])),
        model=row[3],
        cwd=row[4],
        created_at=row[5],
        updated_at=row[6],
        head=row[7],
        message_count=row[8],
        forked_from=row[9],
    )


def default_path(env: Mapping[str, str] | None = None) -> pathlib.Path:
    """Where sessions live unless told otherwise: ``$ANY_AGENT_SESSIONS_DB``, else
    ``sessions.db`` in the user's data directory (``$XDG_DATA_HOME/anyagent`` or
    ``~/.local/share/anyagent``; ``~/Library/Application Support/anyagent`` on macOS;
    ``%LOCALAPPDATA%\\anyagent`` on Windows)."""
    environ = os.environ if env is None else env
    if environ.get("ANY_AGENT_SESSIONS_DB"):
        return pathlib.Path(environ["ANY_AGENT_SESSIONS_DB"]).expanduser()
    if os.name == "nt":
        base = pathlib.Path(environ.get("LOCALAPPDATA") or pathlib.Path.home() / "AppData" / "Local")
    elif os.uname().sysname == "Darwin":
        base = pathlib.Path.home() / "Library" / "Application Support"
    else:
        base = pathlib.Path(environ.get("XDG_DATA_HOME") or pathlib.Path.home() / ".local" / "share")
    return base / "anyagent" / "sessions.db"


class SQLiteStore:
    """A ``SessionStore`` in one SQLite file (``":memory:"`` for a throwaway one).

    ::

        async with SQLiteStore("sessions.db") as store:
            options = AgentOptions(session_store=store, ...)

    ``busy_timeout`` is how long a write waits for another process's; ``synchronous`` is
    ``"normal"`` or ``"full"`` (see the module docstring). ``clock`` gives Unix time.
    ``cache_sessions``: how many loaded sessions keep their parsed entries in this process, so
    that loading one again reads and parses only what was appended since (by any process; 0:
    none)."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        busy_timeout: float = 30.0,
        synchronous: Literal["normal", "full"] = "normal",
        clock: Callable[[], float] = time.time,
        cache_sessions: int = 32,
    ) -> None:
        if synchronous not in ("normal", "full"):
            raise ValueError(f"synchronous must be 'normal' or 'full', not {synchronous!r}")
        self.path = str(default_path() if path is None else os.fspath(path))
        self.busy_timeout = busy_timeout
        self.synchronous = synchronous
        self._clock = clock
        self._thread: DatabaseThread | None = None
        self._db: sqlite3.Connection | None = None
        self._closed = False
        self._vectors: VectorIndex | None = None
        self._checkpointed = 0  # the connection's ``total_changes`` at its last idle checkpoint
        self._commits = 0  # appends committed since then
        self._checkpointer: DatabaseThread | None = None  # its thread and connection: ``_checkpoint_elsewhere``
        self._checkpoint_db: sqlite3.Connection | None = None
        self._checkpoint_due = False
        self._file: str | None = None  # the file the connection opened, as an absolute ``file:`` URI
        if type(cache_sessions) is not int or cache_sessions < 0:
            raise ValueError(f"cache_sessions must be a non-negative integer, not {cache_sessions!r}")
        self.cache_sessions = cache_sessions
        self._cache: dict[str, _Loaded] = {}  # by session id, least recently loaded first

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # ---- opening and closing --------------------------------------------------------------

    async def open(self) -> None:
        """Open the file (created, with its directory, if missing), migrating an older schema."""
        await self._run(lambda db: None)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        thread = self._thread
        if thread is None or not thread.current():
            return  # nothing opened here (in this process)

        def close() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        try:
            await thread.run(close)
        finally:
            thread.stop()
        # Only now the checkpointer: a call the database thread was running when the close
        # began may have started it.
        checkpointer = self._checkpointer
        if checkpointer is not None and checkpointer.current():

            def close_checkpoints() -> None:
                if self._checkpoint_db is not None:
                    self._checkpoint_db.close()
                    self._checkpoint_db = None

            try:
                await checkpointer.run(close_checkpoints)
            finally:
                checkpointer.stop()

    async def __aenter__(self) -> SQLiteStore:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            pathlib.Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        try:
            self._inspect(db)  # before anything is written: a file we must not touch stays as it was
            self._wal(db)
            db.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
            self._migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def _wal(self, db: sqlite3.Connection) -> None:
        """Put the file in WAL mode. The switch takes an exclusive lock and SQLite answers "database
        is locked" at once, without waiting ``busy_timeout``, when another process opening the same
        new file holds a lock at that moment: so the switch is retried here, for up to
        ``busy_timeout``, as any other write waits."""
        deadline = time.monotonic() + self.busy_timeout
        pause = 0.001
        while True:
            try:
                db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise
            time.sleep(pause)  # on the store's database thread, never the event loop's
            pause = min(pause * 2, 0.05)

    def _version(self, db: sqlite3.Connection) -> int | None:
        """The file's schema version (None: an empty file), read without writing; refuses a
        database of something else and one of a newer version."""
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "anyagent_schema" in tables:
            row = db.execute("SELECT version FROM anyagent_schema").fetchone()
            version = row[0] if row is not None else 0
        elif tables:
            raise SessionStoreCorruptError(
                f"{self.path} is an SQLite database of something else (tables: {', '.join(sorted(tables))}); "
                "it was not changed"
            )
        else:
            return None
        if type(version) is not int:
            raise SessionStoreCorruptError(f"{self.path}: the schema version is {version!r}; it was not changed")
        if version > SCHEMA_VERSION:
            raise SessionSchemaError(
                f"{self.path} has session schema version {version}, newer than this version of anyagent "
                f"knows ({SCHEMA_VERSION}): upgrade anyagent to use it; the file was not changed"
            )
        return version

    def _inspect(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN")
        try:
            self._version(db)
        finally:
            db.execute("COMMIT")

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            found = self._version(db)  # again: another process may have migrated meanwhile
            version = 0 if found is None else found
            if found is None:
                db.execute("CREATE TABLE anyagent_schema (version INTEGER NOT NULL)")
                db.execute("INSERT INTO anyagent_schema VALUES (0)")
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        db.execute(statement)
            if version < SCHEMA_VERSION:
                db.execute("UPDATE anyagent_schema SET version = ?", (SCHEMA_VERSION,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def _run(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """``work(db)`` on the store's database thread, its sqlite errors made typed ones."""
        if self._closed:
            raise SessionStoreError(f"{self!r} is closed")
        thread = self._thread
        if thread is None or not thread.current():
            thread = self._start()

        def call() -> _T:
            try:
                if self._db is None:
                    self._db = self._connect()
                    self._checkpointed = 0
                    # The checkpointer opens the very file this connection did, later: not
                    # the path again, which names another file once the process changes its
                    # directory, and never a new, empty one.
                    name = self._db.execute("PRAGMA database_list").fetchone()[2]
                    self._file = f"{pathlib.Path(name).as_uri()}?mode=rw" if name else None
                return work(self._db)
            except sqlite3.DatabaseError as exc:
                raise self._error(exc) from exc

        return await thread.run(call)

    def _start(self) -> DatabaseThread:
        """The database thread, started (again, in a child process after ``fork()``: the
        parent's connections, its checkpointer's too, are left open and unused, see ``_thread``)."""
        if self._db is not None:
            abandon(self._db)
            self._db = None
            self._cache.clear()
            self._vectors = None
            self._checkpoint_due = False  # a checkpoint the parent's thread had to do is not this one's
        if self._checkpoint_db is not None:  # the parent's checkpointer's, likewise
            abandon(self._checkpoint_db)
            self._checkpoint_db = None
        ref = weakref.ref(self)

        def idle() -> bool:  # by reference: the thread does not keep the store alive
            store = ref()
            return store is not None and store._idle()

        thread = self._thread = DatabaseThread(f"anyagent-sqlite {self.path}", idle=idle, idle_after=IDLE_AFTER)
        weakref.finalize(self, thread.stop)  # a store dropped unclosed does not keep its thread
        return thread

    def _checkpoint_elsewhere(self) -> None:
        """Have the checkpointer thread checkpoint the log, passively, on a connection of its
        own (on the database thread, at an append): the appends go on meanwhile, none waits for
        it (SQLite's own checkpoint, in a ``COMMIT``, stays as a backstop; it gives way, not
        waiting, while this one runs)."""
        self._commits = 0
        if self._file is None or self._checkpoint_due:
            return
        thread = self._checkpointer
        if thread is None or not thread.current():
            if self._checkpoint_db is not None:
                abandon(self._checkpoint_db)  # the parent's, after fork(): see ``_thread``
                self._checkpoint_db = None
            thread = self._checkpointer = DatabaseThread(f"anyagent-sqlite checkpoint {self.path}")
            weakref.finalize(self, thread.stop)
        self._checkpoint_due = True
        ref, file = weakref.ref(self), self._file

        def checkpoint() -> None:
            store = ref()
            if store is None or store._closed:
                return
            try:
                if store._checkpoint_db is None:
                    store._checkpoint_db = sqlite3.connect(
                        file, timeout=0, isolation_level=None, check_same_thread=False, uri=True
                    )
                store._checkpoint_db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                pass  # a busy or failing checkpoint leaves the log to the next one: nothing is lost
            finally:
                store._checkpoint_due = False

        thread.post(checkpoint)

    def _idle(self) -> bool:
        """One step of the work no call waits for, on the database thread when no call has come
        for ``IDLE_AFTER`` seconds: the full-text rows of up to ``IDLE_STEP`` waiting entries,
        then, none waiting, a checkpoint of the log by the checkpointer thread if this
        connection wrote since the last one. True: more to do. It never waits for another
        process's writer: a locked file is tried again at the next idle."""
        db = self._db
        if db is None or self._closed:
            return False
        db.execute("PRAGMA busy_timeout = 0")
        try:
            if db.execute(_BEHIND).fetchone() is not None:

                def step() -> bool:
                    row = db.execute(_BEHIND).fetchone()  # again, in the write transaction
                    return row is not None and self._index(db, row[0], limit=IDLE_STEP)

                if self._write(db, step):
                    return True
            if db.total_changes != self._checkpointed:
                self._checkpointed = db.total_changes
                self._checkpoint_elsewhere()  # a call coming meanwhile does not wait for it
            return False
        except sqlite3.OperationalError as exc:
            if _busy(exc):
                return False
            raise
        finally:
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")

    def _error(self, exc: sqlite3.DatabaseError) -> SessionError:
        text = str(exc)
        if isinstance(exc, sqlite3.IntegrityError):  # an id taken (a memory id, an entry id used twice)
            return SessionConflictError(text, expected=None, actual=f"(taken: {text})")
        if isinstance(exc, sqlite3.OperationalError):
            if "locked" in text or "busy" in text:
                return SessionStoreError(f"{self.path} is locked by another writer ({text})")
            if "unable to open" in text:
                return SessionStoreError(f"cannot open {self.path}: {text}")
            if "malformed" not in text:
                return SessionStoreError(f"{self.path}: {text}")
        return SessionStoreCorruptError(f"{self.path} is damaged or not an anyagent session database ({text})")

    @staticmethod
    def _write(db: sqlite3.Connection, work: Callable[[], _T]) -> _T:
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work()
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    # ---- sessions -------------------------------------------------------------------------

    def _row(self, db: sqlite3.Connection, session_id: str, *, indexed: bool = False) -> tuple[Any, ...]:
        """The session's row (``indexed``: and after it the full-text mark and the last seq of
        the log, read in the same statement)."""
        mark = ", (SELECT seq FROM fts_indexed), (SELECT coalesce(max(seq), 0) FROM entries)" if indexed else ""
        row = db.execute(
            f"SELECT {_SESSION_COLUMNS}, base_session, base_entry, deleted{mark} FROM sessions WHERE id = ?",
            (session_id,),
        ).fetchone()
        if row is None or row[12]:
            raise SessionNotFoundError(session_id)
        return tuple(row)

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
        at = self._clock()
        entry = MetadataEntry(
            id=f"{session_id}:meta",
            parent_id=None,
            at=at,
            title=title,
            tags=tuple(tags),
            model=model,
            cwd=cwd,
            data=data or {},
        )
        info = SessionInfo(
            session_id=session_id,
            created_at=at,
            updated_at=at,
            head=entry.id,
            title=title,
            tags=tuple(tags),
            model=model,
            cwd=cwd,
        )

        def work(db: sqlite3.Connection) -> SessionInfo:
            def insert() -> SessionInfo:
                if db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone():
                    raise SessionConflictError(session_id, expected=None, actual="(the id is taken)")
                db.execute(
                    "INSERT INTO sessions (id, title, tags, model, cwd, created_at, updated_at, head)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (session_id, title, json.dumps(list(info.tags)), model, cwd, at, at, entry.id),
                )
                self._insert_entries(db, session_id, [entry])
                return info

            return self._write(db, insert)

        return await self._run(work)

    @staticmethod
    def _insert_entries(db: sqlite3.Connection, session_id: str, entries: Sequence[Entry]) -> None:
        """The entries' rows (their full-text rows come later: ``_index``)."""
        db.executemany(_INSERT_ENTRY, _entry_rows(session_id, entries))

    @staticmethod
    def _index(db: sqlite3.Connection, indexed: int, *, limit: int | None = None) -> bool:
        """Write the full-text rows of the entries after ``indexed`` (the mark, read in this
        write transaction), of the first ``limit`` of them if given, and move the mark past
        them. True: entries after them still wait."""
        if limit is None:
            upto = db.execute("SELECT coalesce(max(seq), 0) FROM entries").fetchone()[0]
        else:
            upto = db.execute(
                "SELECT coalesce(max(seq), ?) FROM (SELECT seq FROM entries WHERE seq > ? ORDER BY seq LIMIT ?)",
                (indexed, indexed, limit),
            ).fetchone()[0]
        rows = db.execute(
            "SELECT seq, session_id, body FROM entries"
            " WHERE seq > ? AND seq <= ? AND kind IN ('message', 'compaction')",
            (indexed, upto),
        ).fetchall()
        texts = []
        for seq, session_id, body in rows:
            try:
                (entry,) = loads_entries([body], session_id=session_id)
            except SessionEntryError:
                continue  # a damaged entry has no words to find; loading its session says what is wrong
            text = _searchable(entry)
            if text:
                texts.append((seq, text))
        db.executemany("INSERT INTO entries_fts (rowid, text) VALUES (?, ?)", texts)
        db.execute("UPDATE fts_indexed SET seq = ?", (upto,))
        return (
            limit is not None
            and db.execute("SELECT 1 FROM entries WHERE seq > ? LIMIT 1", (upto,)).fetchone() is not None
        )

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
        new_head = entries[-1].id if entries else expected_head
        updated = max(e.at for e in entries) if entries else None
        counted = counted_messages(entries)
        # The runs' model where a result names none is the one before it: the session's, unless
        # a result of this append named one before.
        needs_model, model = False, None
        for entry in entries:
            if type(entry) is ResultEntry:
                needs_model = needs_model or (entry.result.model is None and model is None)
                model = entry.result.model or model

        # What the writer thread gives back: the info when nothing was written, else the session's
        # row (``fresh``: as it is after the update; else as it was) (the info is made by the
        # caller, not while the file is locked).
        Done = SessionInfo | tuple[bool, tuple[Any, ...]]

        def work(db: sqlite3.Connection) -> Done:
            rows = _entry_rows(session_id, entries)  # encoded before the file is locked
            tools = [_tool_row(session_id, t) for t in tool_executions]

            def insert() -> Done:
                fresh: tuple[Any, ...] | None = None
                if _RETURNING and (entries or tools) and not (needs_model and model is not None):
                    # The head check and the session's update in one statement: no row unless
                    # the head is the one expected.
                    args = (new_head, updated, counted, model, session_id, expected_head)
                    fresh = db.execute(_UPDATE_HEAD, args).fetchone()
                if fresh is not None:
                    row, session_model, indexed, last = fresh, fresh[3], fresh[10], fresh[11]
                else:  # a conflict, an append applied already, no such session; or an older SQLite
                    row = self._row(db, session_id, indexed=True)
                    head = row[7]
                    if head != expected_head:
                        if entries and head == entries[-1].id:
                            return _info(row)  # this append was applied already
                        raise SessionConflictError(session_id, expected=expected_head, actual=head)
                    if not entries and not tools:
                        return _info(row)
                    session_model, indexed, last = row[3], row[13], row[14]
                    db.execute(
                        "UPDATE sessions SET head = ?, updated_at = max(updated_at, coalesce(?, updated_at)),"
                        " messages = messages + ?, model = coalesce(?, model) WHERE id = ?",
                        (new_head, updated, counted, model, session_id),
                    )
                db.executemany(_INSERT_ENTRY, rows)
                if model is not None or needs_model:
                    runs, current = [], session_model if needs_model else None
                    for entry in entries:
                        if type(entry) is ResultEntry:
                            runs.append(run_row(entry, session_id, current))
                            current = entry.result.model or current
                    db.executemany("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", runs)
                if tools:
                    db.executemany(_INSERT_TOOL, tools)
                waiting = last + len(entries) - indexed  # the new entries took the seqs after ``last``
                if waiting >= INDEX_LIMIT:
                    self._index(db, indexed)
                elif waiting >= INDEX_BATCH and self._thread is not None:
                    self._thread.soon()
                self._commits += 1
                if self._commits >= CHECKPOINT_COMMITS:
                    self._checkpoint_elsewhere()
                return (fresh is not None, row)

            return self._write(db, insert)

        done = await self._run(work)
        if isinstance(done, SessionInfo):
            return done
        fresh, row = done  # the info is made here, not on the writer thread
        if fresh:
            return _info(row)
        return attrs.evolve(
            _info(row),
            head=new_head,
            updated_at=row[6] if updated is None else max(row[6], updated),
            model=model or row[3],
            message_count=row[8] + counted,
        )

    async def load(self, session_id: str) -> tuple[SessionInfo, list[Entry]]:
        def work(db: sqlite3.Connection) -> tuple[SessionInfo, list[Entry]]:
            cached = self._cache.get(session_id)
            db.execute("BEGIN")
            try:
                row = self._row(db, session_id)
                created = row[5]
                if cached is not None and cached.created_at == created:
                    new = db.execute(
                        "SELECT seq, body FROM entries WHERE session_id = ? AND seq > ? ORDER BY seq",
                        (session_id, cached.last_seq),
                    ).fetchall()
                    last = new[-1][0] if new else cached.last_seq
                    texts = [r[1] for r in new]
                else:
                    cached = None
                    texts, last = self._chain_texts(db, session_id, row[10], row[11])
            finally:
                db.execute("COMMIT")
            parsed = loads_entries(texts, session_id=session_id)  # here too: the event loop never waits on it
            if cached is not None:
                entries = [*cached.entries, *parsed] if parsed else list(cached.entries)
            else:
                entries = parsed
            self._remember_load(session_id, _Loaded(created_at=created, last_seq=last, entries=tuple(entries)))
            return _info(row), entries

        return await self._run(work)

    def _remember_load(self, session_id: str, loaded: _Loaded) -> None:
        """Keep a loaded session's parsed entries (the log is append-only, so the next load
        reads and parses only the rows after them), for the ``cache_sessions`` most recent."""
        if self.cache_sessions <= 0:
            return
        self._cache.pop(session_id, None)
        self._cache[session_id] = loaded
        while len(self._cache) > self.cache_sessions:
            del self._cache[next(iter(self._cache))]

    def _chain_texts(
        self, db: sqlite3.Connection, session_id: str, base_session: str | None, base_entry: str | None
    ) -> tuple[list[str], int]:
        """The bodies of the chain from the root to the head, and the seq of the session's own
        last entry (0 for none)."""
        # The bodies alone (one string a row, no tuple), and the last seq from the index.
        own = [r[0] for r in db.execute("SELECT body FROM entries WHERE session_id = ? ORDER BY seq", (session_id,))]
        last = db.execute("SELECT max(seq) FROM entries WHERE session_id = ?", (session_id,)).fetchone()[0]
        segments: list[list[str]] = [own]
        while base_session is not None:
            upto = db.execute("SELECT seq FROM entries WHERE id = ?", (base_entry,)).fetchone()
            if upto is None:
                raise SessionStoreCorruptError(f"{self.path}: the entry {base_entry!r} a fork shares is missing")
            segments.append(
                [
                    r[0]
                    for r in db.execute(
                        "SELECT body FROM entries WHERE session_id = ? AND seq <= ? ORDER BY seq",
                        (base_session, upto[0]),
                    )
                ]
            )
            parent = db.execute(
                "SELECT base_session, base_entry FROM sessions WHERE id = ?", (base_session,)
            ).fetchone()
            if parent is None:
                raise SessionStoreCorruptError(f"{self.path}: the session {base_session!r} a fork shares is missing")
            base_session, base_entry = parent
        return [text for segment in reversed(segments) for text in segment], last or 0

    async def get(self, session_id: str) -> SessionInfo:
        return await self._run(lambda db: _info(self._row(db, session_id)))

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
        where = ["deleted = 0"]
        args: list[Any] = []
        if cwd is not None:
            where.append("cwd = ?")
            args.append(cwd)
        if tag is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(sessions.tags) WHERE value = ?)")
            args.append(tag)
        if since is not None:
            where.append(f"{column} >= ?")
            args.append(since)
        if until is not None:
            where.append(f"{column} < ?")
            args.append(until)
        sql = (
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE {' AND '.join(where)}"
            f" ORDER BY {column} {'DESC' if descending else 'ASC'}, rowid {'DESC' if descending else 'ASC'}"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return await self._run(lambda db: [_info(row) for row in db.execute(sql, args)])

    async def fork(
        self, session_id: str, *, at_entry: str | None = None, new_session_id: str, title: str | None = None
    ) -> SessionInfo:
        at = self._clock()

        def work(db: sqlite3.Connection) -> SessionInfo:
            def insert() -> SessionInfo:
                row = self._row(db, session_id)
                point = at_entry if at_entry is not None else row[7]
                found = db.execute("SELECT session_id, seq FROM entries WHERE id = ?", (point,)).fetchone()
                if found is None:
                    raise SessionNotFoundError(session_id, f"session {session_id!r} has no entry {point!r}")
                owner = found[0]
                texts, _ = self._chain_texts(db, session_id, row[10], row[11])
                ids = [e.id for e in loads_entries(texts, session_id=session_id)]
                if point not in ids:
                    raise SessionNotFoundError(session_id, f"entry {point!r} is not in session {session_id!r}")
                if db.execute("SELECT 1 FROM sessions WHERE id = ?", (new_session_id,)).fetchone():
                    raise SessionConflictError(new_session_id, expected=None, actual="(the id is taken)")
                shared = self._count_messages(db, session_id, row, ids.index(point) + 1)
                name = title if title is not None else row[1]
                meta = MetadataEntry(
                    id=f"{new_session_id}:meta",
                    parent_id=point,
                    at=at,
                    title=name,
                    tags=tuple(json.loads(row[2])),
                    model=row[3],
                    cwd=row[4],
                    forked_from=session_id,
                )
                db.execute(
                    "INSERT INTO sessions (id, title, tags, model, cwd, created_at, updated_at, head, messages,"
                    " forked_from, base_session, base_entry, base_messages)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        new_session_id,
                        name,
                        row[2],
                        row[3],
                        row[4],
                        at,
                        at,
                        meta.id,
                        shared,
                        session_id,
                        owner,
                        point,
                        shared,
                    ),
                )
                self._insert_entries(db, new_session_id, [meta])
                return _info(self._row(db, new_session_id))

            return self._write(db, insert)

        return await self._run(work)

    def _count_messages(self, db: sqlite3.Connection, session_id: str, row: tuple[Any, ...], upto: int) -> int:
        texts = self._chain_texts(db, session_id, row[10], row[11])[0][:upto]
        return sum(1 for e in loads_entries(texts, session_id=session_id) if type(e) is MessageEntry)

    async def update(
        self,
        session_id: str,
        *,
        title: str | None = None,
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
    ) -> SessionInfo:
        def work(db: sqlite3.Connection) -> SessionInfo:
            def change() -> SessionInfo:
                row = self._row(db, session_id)
                tags = [t for t in json.loads(row[2]) if t not in set(remove_tags)]
                tags += [t for t in dict.fromkeys(add_tags) if t not in tags]
                info = attrs.evolve(_info(row), tags=tuple(tags), title=title if title is not None else row[1])
                db.execute(
                    "UPDATE sessions SET title = ?, tags = ? WHERE id = ?", (info.title, json.dumps(tags), session_id)
                )
                return info

            return self._write(db, change)

        return await self._run(work)

    async def delete(self, session_id: str) -> None:
        def work(db: sqlite3.Connection) -> None:
            self._write(db, lambda: self._delete(db, session_id))

        await self._run(work)

    def _delete(self, db: sqlite3.Connection, session_id: str, *, check: bool = True) -> None:
        if check:
            self._row(db, session_id)
        while session_id is not None:
            if db.execute("SELECT 1 FROM sessions WHERE base_session = ? LIMIT 1", (session_id,)).fetchone():
                db.execute("UPDATE sessions SET deleted = 1 WHERE id = ?", (session_id,))  # forks share it
                return
            base = db.execute("SELECT base_session FROM sessions WHERE id = ?", (session_id,)).fetchone()
            db.execute(
                "DELETE FROM entries_fts WHERE rowid IN (SELECT seq FROM entries WHERE session_id = ?)", (session_id,)
            )
            for table in ("entries", "runs", "tool_executions"):
                db.execute(f"DELETE FROM {table} WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            # The last entries gone, their seqs are given again: the mark must not cover new ones.
            db.execute("UPDATE fts_indexed SET seq = min(seq, (SELECT coalesce(max(seq), 0) FROM entries))")
            parent = base[0] if base is not None else None
            if parent is None:
                return
            gone = db.execute("SELECT deleted FROM sessions WHERE id = ?", (parent,)).fetchone()
            if gone is None or not gone[0]:
                return
            session_id = parent  # a deleted session kept for this fork alone: it can go now

    async def search(
        self, query: str, *, limit: int = 20, session_id: str | None = None, cwd: str | None = None
    ) -> list[SearchHit]:
        validate_limit("limit", limit)
        terms = fts_terms(query)
        if not terms:
            return []
        match = " ".join('"' + term.replace('"', '""') + '"' for term in terms)
        where = ["entries_fts MATCH ?", "s.deleted = 0"]
        args: list[Any] = [match]
        if session_id is not None:
            where.append("e.session_id = ?")
            args.append(session_id)
        if cwd is not None:
            where.append("s.cwd = ?")
            args.append(cwd)
        sql = (
            "SELECT e.session_id, e.id, snippet(entries_fts, 0, '[', ']', '…', 12), bm25(entries_fts), e.at, e.role"
            " FROM entries_fts JOIN entries e ON e.seq = entries_fts.rowid JOIN sessions s ON s.id = e.session_id"
            f" WHERE {' AND '.join(where)} ORDER BY bm25(entries_fts) LIMIT {int(limit)}"
        )

        def work(db: sqlite3.Connection) -> list[Any]:
            if db.execute(_BEHIND).fetchone() is not None:  # entries wait for their full-text rows

                def index() -> None:
                    row = db.execute(_BEHIND).fetchone()  # again, in the write transaction
                    if row is not None:
                        self._index(db, row[0])

                self._write(db, index)
            return db.execute(sql, args).fetchall()

        rows = await self._run(work)
        return [SearchHit(session_id=r[0], entry_id=r[1], snippet=r[2], score=-r[3], at=r[4], role=r[5]) for r in rows]

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
        where: list[str] = ["1 = 1"]
        args: list[Any] = []
        if session_id is not None:
            where.append("session_id = ?")
            args.append(session_id)
        if since is not None:
            where.append("at >= ?")
            args.append(since)
        if until is not None:
            where.append("at < ?")
            args.append(until)
        select = ", ".join(
            [
                *keys,
                "COUNT(*), SUM(turns), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(cost_usd)",
            ]
        )
        sql = f"SELECT {select} FROM runs WHERE {' AND '.join(where)}"
        if keys:
            sql += f" GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}"
        rows = await self._run(lambda db: db.execute(sql, args).fetchall())
        out = []
        for row in rows:
            named = dict(zip(group_by, row[: len(keys)], strict=True))
            count, turns, prompt, completion, total, cost = row[len(keys) :]
            if not count:
                continue
            out.append(
                UsageStats(
                    session_id=named.get("session"),
                    model=named.get("model"),
                    day=named.get("day"),
                    runs=count,
                    turns=turns or 0,
                    prompt_tokens=prompt or 0,
                    completion_tokens=completion or 0,
                    total_tokens=total or 0,
                    cost_usd=cost or 0.0,
                )
            )
        return out or ([UsageStats(session_id=session_id)] if not keys else [])

    async def tool_executions(self, session_id: str, *, limit: int | None = None) -> list[ToolExecution]:
        validate_limit("limit", limit)

        def work(db: sqlite3.Connection) -> list[Any]:
            self._row(db, session_id)
            sql = (
                "SELECT call_id, tool, input, output, is_error, decision, seconds, at FROM tool_executions"
                " WHERE session_id = ? ORDER BY seq DESC"
            )
            if limit is not None:
                sql += f" LIMIT {int(limit)}"
            return db.execute(sql, (session_id,)).fetchall()

        rows = await self._run(work)
        return [
            ToolExecution(
                session_id=session_id,
                call_id=r[0],
                tool=r[1],
                input=json.loads(r[2]),
                output=r[3],
                is_error=bool(r[4]),
                decision=r[5],
                seconds=r[6],
                at=r[7],
            )
            for r in reversed(rows)
        ]

    async def cleanup(self, *, older_than: float | None = None, keep: int | None = None) -> int:
        validate_limit("keep", keep)

        def work(db: sqlite3.Connection) -> int:
            def sweep() -> int:
                rows = db.execute(
                    "SELECT id, updated_at FROM sessions WHERE deleted = 0 ORDER BY updated_at DESC"
                ).fetchall()
                doomed = [
                    sid
                    for index, (sid, updated) in enumerate(rows)
                    if (older_than is not None and updated < older_than) or (keep is not None and index >= keep)
                ]
                for sid in doomed:
                    self._delete(db, sid, check=False)
                return len(doomed)

            return self._write(db, sweep)

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
        record = MemoryRecord(
            memory_id=memory_id,
            text=text,
            at=self._clock(),
            tags=tuple(tags),
            session_id=session_id,
            vector=None if vector is None else tuple(float(x) for x in vector),
        )
        if not text.strip():
            raise ValueError("a memory needs some text")

        def work(db: sqlite3.Connection) -> None:
            def insert() -> None:
                cursor = db.execute(
                    "INSERT INTO memories (id, text, tags, session_id, at, vector) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        memory_id,
                        text,
                        json.dumps(list(record.tags)),
                        session_id,
                        record.at,
                        None if record.vector is None else pack_vector(record.vector),
                    ),
                )
                db.execute("INSERT INTO memories_fts (rowid, text) VALUES (?, ?)", (cursor.lastrowid, text))
                if self._vectors is not None and record.vector is not None:
                    self._vectors.add(cursor.lastrowid or 0, record.vector)

            self._write(db, insert)

        await self._run(work)
        return record

    async def recall(
        self, query: str, *, vector: Sequence[float] | None = None, limit: int = 5, tag: str | None = None
    ) -> list[MemoryRecord]:
        validate_limit("limit", limit)

        def work(db: sqlite3.Connection) -> list[MemoryRecord]:
            if vector is not None:
                if self._vectors is None:
                    index = VectorIndex()
                    for seq, blob in db.execute("SELECT seq, vector FROM memories WHERE vector IS NOT NULL"):
                        index.add(seq, unpack_vector(blob))
                    self._vectors = index
                ranked = self._vectors.nearest(vector, limit * 4 if tag is not None else limit)
                rows = self._memories(db, [seq for seq, _ in ranked], tag)
                scores = dict(ranked)
                records = [attrs.evolve(_memory(r), score=scores[r[0]]) for r in rows]
                return sorted(records, key=lambda m: -m.score)[:limit]
            terms = fts_terms(query)
            if not terms:
                return []
            match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
            hits = db.execute(
                "SELECT rowid, bm25(memories_fts) FROM memories_fts WHERE memories_fts MATCH ?"
                f" ORDER BY bm25(memories_fts) LIMIT {int(limit) * (4 if tag is not None else 1)}",
                (match,),
            ).fetchall()
            scores = {seq: -rank for seq, rank in hits}
            rows = self._memories(db, list(scores), tag)
            records = [attrs.evolve(_memory(r), score=scores[r[0]]) for r in rows]
            return sorted(records, key=lambda m: -m.score)[:limit]

        return await self._run(work)

    @staticmethod
    def _memories(db: sqlite3.Connection, seqs: Sequence[int], tag: str | None) -> list[Any]:
        if not seqs:
            return []
        marks = ", ".join("?" * len(seqs))
        sql = f"SELECT seq, id, text, tags, session_id, at, vector FROM memories WHERE seq IN ({marks})"
        args: list[Any] = list(seqs)
        if tag is not None:
            sql += " AND EXISTS (SELECT 1 FROM json_each(memories.tags) WHERE value = ?)"
            args.append(tag)
        return db.execute(sql, args).fetchall()

    async def forget(self, memory_id: str) -> None:
        def work(db: sqlite3.Connection) -> None:
            def remove() -> None:
                row = db.execute("SELECT seq FROM memories WHERE id = ?", (memory_id,)).fetchone()
                if row is None:
                    raise SessionNotFoundError(memory_id, f"no memory {memory_id!r} in the store")
                db.execute("DELETE FROM memories WHERE seq = ?", row)
                db.execute("DELETE FROM memories_fts WHERE rowid = ?", row)
                if self._vectors is not None:
                    self._vectors.remove(row[0])

            self._write(db, remove)

        await self._run(work)

    async def memories(self, *, limit: int | None = None, tag: str | None = None) -> list[MemoryRecord]:
        validate_limit("limit", limit)
        sql = "SELECT seq, id, text, tags, session_id, at, vector FROM memories"
        args: list[Any] = []
        if tag is not None:
            sql += " WHERE EXISTS (SELECT 1 FROM json_each(memories.tags) WHERE value = ?)"
            args.append(tag)
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = await self._run(lambda db: db.execute(sql, args).fetchall())
        return [_memory(r) for r in rows]


def _memory(row: Sequence[Any]) -> MemoryRecord:
    return MemoryRecord(
        memory_id=row[1],
        text=row[2],
        tags=tuple(json.loads(row[3])),
        session_id=row[4],
        at=row[5],
        vector=None if row[6] is None else unpack_vector(row[6]),
    )


def _busy(exc: sqlite3.Error) -> bool:
    """The error is another connection's lock (``SQLITE_BUSY``, ``SQLITE_LOCKED``), whatever its
    extended code says of the kind (``SQLITE_BUSY_RECOVERY``, ``SQLITE_LOCKED_SHAREDCACHE``...)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _entry_rows(session_id: str, entries: Sequence[Entry]) -> list[tuple[Any, ...]]:
    """The ``entries`` rows of ``entries``, encoded."""
    return [
        (
            entry.id,
            session_id,
            _KIND[type(entry)],
            _role(entry) if type(entry) is MessageEntry else None,
            entry.at,
            dumps_entry(entry),
        )
        for entry in entries
    ]


def _tool_row(session_id: str, t: ToolExecution) -> tuple[Any, ...]:
    """A tool execution's row; ``SessionStoreError`` naming a time or duration that is NaN,
    which SQLite would store as NULL."""
    for name, value in (("at", t.at), ("seconds", t.seconds)):
        if value is not None and value != value:
            raise SessionStoreError(
                f"SQLite cannot hold a NaN in the {name} of tool execution {t.call_id!r} of session {session_id!r};"
                " nothing was written"
            )
    return (
        session_id,
        t.call_id,
        t.tool,
        json.dumps(thaw_json(t.input)),
        t.output,
        int(t.is_error),
        t.decision,
        t.seconds,
        t.at,
    )


def _role(entry: MessageEntry) -> str:
    return "assistant" if isinstance(entry.message, AssistantMessage) else "user"


_KIND: Final[dict[type, str]] = {
    MessageEntry: "message",
    ResultEntry: "result",
    MetadataEntry: "metadata",
    CompactionEntry: "compaction",
}
