"""SQLiteStore writes full-text rows in batches: a search sees every committed entry (this
store's, another's), an append that brings ``INDEX_BATCH`` waiting entries together has the
database thread index them right after, one that would leave ``INDEX_LIMIT`` indexes them
itself, the database thread indexes waiting entries in steps of ``IDLE_STEP`` when idle and
then checkpoints the log, a session deleted at the end of the log does not hide the entries
written after it, and a file of schema version 1 (every entry indexed at its append) is
migrated and searched. The idle work is put off (``IDLE_AFTER``) but where a test is about it."""

from __future__ import annotations

import functools
import itertools
import json
import os
import pathlib
import sqlite3
import threading
import time

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyagent_core import AssistantMessage, Commit, TextBlock, UserMessage
from anyagent_core.sessions import Entry, MetadataEntry, commit_entries, dumps_entry, searchable_text
from anyagent_httpx._sessions import SQLiteStore, _sqlite
from anyagent_httpx._sessions._sqlite import CHECKPOINT_COMMITS, IDLE_STEP, INDEX_BATCH, MIGRATIONS, SCHEMA_VERSION

pytestmark = pytest.mark.anyio

_ids = itertools.count()


@pytest.fixture(autouse=True)
def no_idle_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stores' idle work put off for an hour: what is indexed is what the calls indexed."""
    monkeypatch.setattr(_sqlite, "IDLE_AFTER", 3600.0)


def turn(head: str | None, prompt: str) -> tuple[Entry, ...]:
    commit = Commit(
        messages=(UserMessage(content=prompt), AssistantMessage(content=[TextBlock(text="noted")])), turn_number=1
    )
    return commit_entries(commit, parent_id=head, new_id=lambda: f"e{next(_ids)}", at=time.time())


def file_size(path: pathlib.Path) -> int:
    return os.stat(path).st_size


def indexed_rows(path: pathlib.Path) -> int:
    with sqlite3.connect(path) as db:
        count: int = db.execute("SELECT count(*) FROM entries_fts").fetchone()[0]
    return count


async def test_a_search_sees_what_another_store_appended_before_it_was_indexed(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as writer, SQLiteStore(path) as reader:
        info = await writer.create("s")
        first = turn(info.head, "the lighthouse keeper")
        info = await writer.append("s", first, expected_head=info.head)
        assert indexed_rows(path) == 0, "one turn waits for a batch"
        hits = await reader.search("lighthouse")
        assert [(h.session_id, h.entry_id, h.role) for h in hits] == [("s", first[0].id, "user")]
        assert indexed_rows(path) == 2, "the search indexed both messages"
        info = await writer.append("s", turn(info.head, "a second lighthouse"), expected_head=info.head)
        assert len(await writer.search("lighthouse")) == 2


async def test_an_append_that_fills_a_batch_has_the_thread_index_it_right_after(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as store:
        info = await store.create("s")
        turns = INDEX_BATCH // 2
        for n in range(turns - 1):
            info = await store.append("s", turn(info.head, f"turn{n} harbour"), expected_head=info.head)
        assert indexed_rows(path) == 0, "no quiet moment (an hour): nothing indexed"
        info = await store.append("s", turn(info.head, "last harbour"), expected_head=info.head)
        for _ in range(6000):  # a bound on the wait, not a timing check
            if indexed_rows(path) == 2 * turns:
                break
            await anyio.sleep(0.01)
        assert indexed_rows(path) == 2 * turns, "the thread indexed the batch after that append, unasked"
        assert len(await store.search("harbour", limit=500)) == turns


async def test_an_append_that_would_leave_index_limit_waiting_indexes_them_itself(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Calls coming without a pause leave the thread no time for its steps (here: it is never
    asked for them): the append that reaches ``INDEX_LIMIT`` indexes in its own transaction."""
    monkeypatch.setattr(_sqlite, "INDEX_BATCH", 10**9)
    monkeypatch.setattr(_sqlite, "INDEX_LIMIT", 20)
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as store:
        info = await store.create("s")
        for n in range(9):  # the metadata entry and 18 messages
            info = await store.append("s", turn(info.head, f"turn{n} harbour"), expected_head=info.head)
        assert indexed_rows(path) == 0
        info = await store.append("s", turn(info.head, "last harbour"), expected_head=info.head)
        assert indexed_rows(path) == 20, "indexed by the append itself, before it returned"
        assert len(await store.search("harbour", limit=500)) == 10


async def test_entries_after_a_deleted_last_session_are_found(tmp_path: pathlib.Path) -> None:
    """Deleting the log's last entries lets SQLite give their seqs again: the indexed mark goes
    back with them, or the new entries would count as indexed."""
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as store:
        kept = await store.create("kept")
        await store.append("kept", turn(kept.head, "first words"), expected_head=kept.head)
        gone = await store.create("gone")
        await store.append("gone", turn(gone.head, "doomed words"), expected_head=gone.head)
        assert len(await store.search("words")) == 2  # everything indexed
        await store.delete("gone")
        again = await store.create("again")
        await store.append("again", turn(again.head, "newer words"), expected_head=again.head)
        assert sorted(h.session_id for h in await store.search("words")) == ["again", "kept"]


def write_version_1(path: pathlib.Path, prompts: list[str]) -> list[Entry]:
    """A file as schema version 1 wrote it: each message's full-text row with its entry."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("BEGIN")
    db.execute("CREATE TABLE anyagent_schema (version INTEGER NOT NULL)")
    db.execute("INSERT INTO anyagent_schema VALUES (1)")
    for statement in MIGRATIONS[1].split(";"):
        if statement.strip():
            db.execute(statement)
    meta = MetadataEntry(id="old:meta", parent_id=None, at=1.0, title="old")
    entries: list[Entry] = [meta]
    for prompt in prompts:
        entries += turn(entries[-1].id, prompt)
    for entry in entries:
        kind = "metadata" if isinstance(entry, MetadataEntry) else "message"
        role = None if kind == "metadata" else json.loads(dumps_entry(entry))["message"]["role"]
        cursor = db.execute(
            "INSERT INTO entries (id, session_id, kind, role, at, body) VALUES (?, 'old', ?, ?, ?, ?)",
            (entry.id, kind, role, entry.at, dumps_entry(entry)),
        )
        text = searchable_text(entry)
        if text:
            db.execute("INSERT INTO entries_fts (rowid, text) VALUES (?, ?)", (cursor.lastrowid, text))
    db.execute(
        "INSERT INTO sessions (id, title, created_at, updated_at, head, messages) VALUES ('old', 'old', 1, 1, ?, ?)",
        (entries[-1].id, 2 * len(prompts)),
    )
    db.execute("COMMIT")
    db.close()
    return entries


async def test_a_version_1_file_is_migrated_and_searched(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "old.db"
    written = write_version_1(path, ["storm at sea", "calm at sea"])
    async with SQLiteStore(path) as store:
        info, entries = await store.load("old")
        assert entries == written and info.message_count == 4
        assert len(await store.search("sea")) == 2
        info = await store.append("old", turn(info.head, "sea fog"), expected_head=info.head)
        assert sorted(h.snippet for h in await store.search("sea")) == ["[sea] fog", "calm at [sea]", "storm at [sea]"]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM anyagent_schema").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("SELECT count(*) FROM entries_fts").fetchone() == (6,), "no entry indexed twice"


async def test_idle_steps_index_the_waiting_entries_then_checkpoint_the_log(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "s.db"
    turns = IDLE_STEP // 2 + 8  # the metadata entry and IDLE_STEP + 16 messages: two steps
    assert turns < CHECKPOINT_COMMITS, "no checkpoint by the appends themselves"
    async with SQLiteStore(path) as store:
        info = await store.create("s")
        for n in range(turns):
            info = await store.append("s", turn(info.head, f"turn{n} harbour"), expected_head=info.head)
        assert indexed_rows(path) == 0
        size = file_size(path)
        steps = []
        while await store._run(lambda db: store._idle()):
            steps.append(indexed_rows(path))
        # The metadata entry (seq 1) has no words: the first step indexes IDLE_STEP - 1 messages.
        assert steps == [IDLE_STEP - 1]
        assert indexed_rows(path) == 2 * turns
        for _ in range(6000):  # a bound on the wait, not a timing check
            if file_size(path) > size:
                break
            await anyio.sleep(0.01)
        assert file_size(path) > size, "after the last step, checkpointed: the log's pages moved into the file"
        assert await store._run(lambda db: store._idle()) is False, "nothing left to do"
        assert len(await store.search("harbour", limit=500)) == turns
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM entries_fts").fetchone() == (2 * turns,), "no entry indexed twice"


async def test_appends_have_the_log_checkpointed_by_another_thread(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as store:
        info = await store.create("s")
        size = file_size(path)
        for n in range(CHECKPOINT_COMMITS):
            info = await store.append("s", turn(info.head, f"turn{n} harbour"), expected_head=info.head)
        for _ in range(6000):  # a bound on the wait, not a timing check
            if file_size(path) > size:
                break
            await anyio.sleep(0.01)
        assert file_size(path) > size, "checkpointed with no quiet moment (an hour) and no COMMIT's own"
        names = {t.name for t in threading.enumerate()}
        assert f"anyagent-sqlite checkpoint {path}" in names
        _, entries = await store.load("s")
        assert len(entries) == 1 + 2 * CHECKPOINT_COMMITS
    for _ in range(3000):  # the threads end once closed
        if not any(t.name.endswith(str(path)) for t in threading.enumerate()):
            break
        await anyio.sleep(0.01)
    assert not any(t.name.endswith(str(path)) for t in threading.enumerate())


async def test_a_quiet_store_indexes_its_waiting_entries_unasked(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sqlite, "IDLE_AFTER", 0.01)
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as store:
        info = await store.create("s")
        for n in range(IDLE_STEP):  # more than one step's worth
            info = await store.append("s", turn(info.head, f"turn{n} harbour"), expected_head=info.head)
        for _ in range(6000):  # a bound on the wait, not a timing check
            if indexed_rows(path) == 2 * IDLE_STEP:
                break
            await anyio.sleep(0.01)
        assert indexed_rows(path) == 2 * IDLE_STEP, "indexed while quiet, no search asked"
        hits = await store.search("harbour", limit=500)
        assert len(hits) == IDLE_STEP
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM entries_fts").fetchone() == (2 * IDLE_STEP,)


async def test_idle_work_waits_for_another_process_writer_without_blocking(tmp_path: pathlib.Path) -> None:
    """A file locked by another writer: the idle step gives up at once (no ``busy_timeout``
    wait), and indexes the entries at a later idle."""
    path = tmp_path / "s.db"
    async with SQLiteStore(path, busy_timeout=30.0) as store:
        info = await store.create("s")
        await store.append("s", turn(info.head, "locked harbour"), expected_head=info.head)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        with anyio.fail_after(10):  # far less than busy_timeout: the step did not wait for the lock
            assert await store._run(lambda db: store._idle()) is False
        assert indexed_rows(path) == 0
        other.execute("ROLLBACK")
        other.close()
        assert await store._run(lambda db: store._idle()) is False
        assert indexed_rows(path) == 2
        assert await store._run(lambda db: db.execute("PRAGMA busy_timeout").fetchone()[0]) == 30000


def write_version_2(path: pathlib.Path, sessions: list[tuple[str, str, float]]) -> None:
    """A file as schema version 2 wrote it, with ``(id, cwd, updated_at)`` sessions."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("BEGIN")
    db.execute("CREATE TABLE anyagent_schema (version INTEGER NOT NULL)")
    db.execute("INSERT INTO anyagent_schema VALUES (2)")
    for version in (1, 2):
        for statement in MIGRATIONS[version].split(";"):
            if statement.strip():
                db.execute(statement)
    for session_id, cwd, updated in sessions:
        meta = MetadataEntry(id=f"{session_id}:meta", parent_id=None, at=1.0, cwd=cwd)
        db.execute(
            "INSERT INTO sessions (id, cwd, created_at, updated_at, head) VALUES (?, ?, 1, ?, ?)",
            (session_id, cwd, updated, meta.id),
        )
        db.execute(
            "INSERT INTO entries (id, session_id, kind, at, body) VALUES (?, ?, 'metadata', 1, ?)",
            (meta.id, session_id, dumps_entry(meta)),
        )
    db.execute("COMMIT")
    db.close()


def session_indexes(path: pathlib.Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {
            r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions'")
        }


async def test_a_version_2_file_is_migrated_to_one_index_of_the_sessions_by_cwd(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "v2.db"
    write_version_2(path, [("a", "/x", 3.0), ("b", "/y", 2.0), ("c", "/x", 1.0), ("d", "/x", 5.0)])
    assert {"sessions_updated", "sessions_cwd"} <= session_indexes(path)
    async with SQLiteStore(path) as store:
        assert [s.session_id for s in await store.list_sessions()] == ["d", "a", "b", "c"]
        assert [s.session_id for s in await store.list_sessions(cwd="/x", limit=2)] == ["d", "a"]
        info = await store.get("c")
        await store.append("c", turn(info.head, "newest"), expected_head=info.head)
        assert [s.session_id for s in await store.list_sessions(cwd="/x")] == ["c", "d", "a"]
        assert [s.session_id for s in await store.list_sessions(order="created", descending=False)] == [
            "a",
            "b",
            "c",
            "d",
        ]
        plan = await store._run(
            lambda db: db.execute("EXPLAIN QUERY PLAN SELECT id FROM sessions WHERE cwd = ?", ("/x",)).fetchall()
        )
        assert any("sessions_by_cwd" in str(row) for row in plan)
    indexes = session_indexes(path)
    assert "sessions_by_cwd" in indexes and not {"sessions_updated", "sessions_cwd"} & indexes
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM anyagent_schema").fetchone() == (3,) == (SCHEMA_VERSION,)


async def test_a_new_file_has_the_indexes_a_migrated_one_has(tmp_path: pathlib.Path) -> None:
    write_version_2(tmp_path / "v2.db", [])
    async with SQLiteStore(tmp_path / "v2.db"), SQLiteStore(tmp_path / "new.db"):
        pass
    assert session_indexes(tmp_path / "v2.db") == session_indexes(tmp_path / "new.db")


def _fresh_db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    for version in sorted(MIGRATIONS):
        for statement in MIGRATIONS[version].split(";"):
            if statement.strip():
                db.execute(statement)
    return db


def _fts_rows(db: sqlite3.Connection) -> list[tuple[int, str]]:
    return db.execute("SELECT rowid, text FROM entries_fts ORDER BY rowid").fetchall()


@given(
    turns=st.lists(st.tuples(st.text(max_size=30), st.booleans()), max_size=25),
    steps=st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=8),
)
@settings(max_examples=60, deadline=None)
def test_indexing_in_steps_writes_the_rows_indexing_at_once_does(
    turns: list[tuple[str, bool]], steps: list[int]
) -> None:
    """Steps of any sizes, one after another, end where one transaction over the whole log
    does: the same full-text rows (none twice, none missed) and the mark at the last seq."""
    entries: list[Entry] = [MetadataEntry(id="m", parent_id=None, at=1.0)]
    for prompt, meta in turns:
        if meta:
            entries.append(MetadataEntry(id=f"m{len(entries)}", parent_id=entries[-1].id, at=1.0, title=prompt))
        else:
            entries += turn(entries[-1].id, prompt)
    at_once, stepped = _fresh_db(), _fresh_db()
    for db in (at_once, stepped):
        for entry in entries:
            kind = "metadata" if isinstance(entry, MetadataEntry) else "message"
            db.execute(
                "INSERT INTO entries (id, session_id, kind, role, at, body) VALUES (?, 's', ?, NULL, 1, ?)",
                (entry.id, kind, dumps_entry(entry)),
            )
    SQLiteStore._index(at_once, 0)
    mark, rounds = 0, 0
    while True:
        more = SQLiteStore._index(stepped, mark, limit=steps[rounds % len(steps)])
        new_mark = stepped.execute("SELECT seq FROM fts_indexed").fetchone()[0]
        assert new_mark > mark or not more, "each step moves the mark on"
        mark, rounds = new_mark, rounds + 1
        if not more:
            break
        assert rounds <= len(entries)
    assert _fts_rows(stepped) == _fts_rows(at_once)
    assert mark == len(entries) == at_once.execute("SELECT seq FROM fts_indexed").fetchone()[0]


async def test_the_checkpointer_checkpoints_the_store_s_file_after_a_change_of_directory(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store opened by a relative path keeps to the file it opened: its checkpointer, whose
    connection opens later, neither creates a file of that name in the directory the process
    has moved to nor leaves the store's own log unchecked."""
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(home)
    async with SQLiteStore("s.db") as store:
        info = await store.create("s")
        size = file_size(home / "s.db")
        monkeypatch.chdir(elsewhere)
        for n in range(CHECKPOINT_COMMITS):
            info = await store.append("s", turn(info.head, f"turn{n} harbour"), expected_head=info.head)
        for _ in range(3000):  # a bound on the wait, not a timing check
            if file_size(home / "s.db") > size:
                break
            await anyio.sleep(0.01)
        assert file_size(home / "s.db") > size, "the store's own file checkpointed"
        assert os.listdir(elsewhere) == [], "no file made where the process moved to"
        assert len((await store.load("s"))[1]) == 1 + 2 * CHECKPOINT_COMMITS


async def test_a_store_closed_while_an_append_starts_its_checkpointer_ends_it(tmp_path: pathlib.Path) -> None:
    """The append that starts the checkpointer thread runs on the database thread while the
    store is being closed: the close ends that thread too, none is left behind."""
    path = tmp_path / "s.db"
    name = f"anyagent-sqlite checkpoint {path}"
    store = SQLiteStore(path)
    info = await store.create("s")
    for n in range(CHECKPOINT_COMMITS - 1):
        info = await store.append("s", turn(info.head, f"turn{n}"), expected_head=info.head)
    assert name not in {t.name for t in threading.enumerate()}
    hold = threading.Event()
    assert store._thread is not None

    def busy() -> None:  # the database thread busy until the close has begun
        hold.wait(60)

    store._thread.post(busy)
    async with anyio.create_task_group() as group:
        group.start_soon(functools.partial(store.append, "s", turn(info.head, "last"), expected_head=info.head))
        await anyio.wait_all_tasks_blocked()
        group.start_soon(store.aclose)
        await anyio.wait_all_tasks_blocked()
        hold.set()
    for _ in range(3000):  # a bound on the wait, not a timing check
        if name not in {t.name for t in threading.enumerate()}:
            break
        await anyio.sleep(0.01)
    assert name not in {t.name for t in threading.enumerate()}, "no checkpointer thread left running"
    async with SQLiteStore(path) as fresh:
        assert len((await fresh.load("s"))[1]) == 1 + 2 * CHECKPOINT_COMMITS
