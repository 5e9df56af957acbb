"""SQLiteStore writes full-text rows in batches: a search sees every committed entry (this
store's, another's), an append that brings ``INDEX_BATCH`` waiting entries together indexes
them, a session deleted at the end of the log does not hide the entries written after it, and
a file of schema version 1 (every entry indexed at its append) is migrated and searched."""

from __future__ import annotations

import itertools
import json
import pathlib
import sqlite3
import time

import pytest

from anyagent_core import AssistantMessage, Commit, TextBlock, UserMessage
from anyagent_core.sessions import Entry, MetadataEntry, commit_entries, dumps_entry, searchable_text
from anyagent_httpx._sessions import SQLiteStore
from anyagent_httpx._sessions._sqlite import INDEX_BATCH, MIGRATIONS, SCHEMA_VERSION

pytestmark = pytest.mark.anyio

_ids = itertools.count()


def turn(head: str | None, prompt: str) -> tuple[Entry, ...]:
    commit = Commit(
        messages=(UserMessage(content=prompt), AssistantMessage(content=[TextBlock(text="noted")])), turn_number=1
    )
    return commit_entries(commit, parent_id=head, new_id=lambda: f"e{next(_ids)}", at=time.time())


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


async def test_an_append_that_fills_a_batch_indexes_it(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as store:
        info = await store.create("s")
        turns = INDEX_BATCH // 2
        for n in range(turns - 1):
            info = await store.append("s", turn(info.head, f"turn{n} harbour"), expected_head=info.head)
        assert indexed_rows(path) == 0
        info = await store.append("s", turn(info.head, "last harbour"), expected_head=info.head)
        assert indexed_rows(path) == 2 * turns, "the append that made the batch indexed every waiting message"
        assert len(await store.search("harbour", limit=500)) == turns


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
