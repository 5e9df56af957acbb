"""What goes wrong gets a typed error naming it, and nothing stored changes: a file that is not
a database, one from a newer schema, another program's database, a damaged entry, a store that
cannot be reached; plus the module functions over a store, and the default location."""

from __future__ import annotations

import hashlib
import pathlib
import sqlite3
import uuid
from typing import Any

import attrs
import pytest

from anyagent_core import Commit, Usage, UserMessage
from anyagent_core.sessions import SessionEntryError, commit_entries
from anyagent_httpx import (
    SessionNotFoundError,
    SessionSchemaError,
    SessionStoreCorruptError,
    SessionStoreError,
    SQLiteStore,
    delete_session,
    get_session_messages,
    list_sessions,
    open_store,
    search_sessions,
)
from anyagent_httpx._sessions import MemoryStore, SessionStore, ToolExecution, default_path

from .conftest import POSTGRES_URL, postgres_url, run_result

pytestmark = pytest.mark.anyio


def digest(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_a_file_that_is_not_a_database_is_refused_unchanged(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "sessions.db"
    path.write_bytes(b"these are my notes, not a database" * 100)
    before = digest(path)
    with pytest.raises(SessionStoreCorruptError, match=r"sessions\.db"):
        async with SQLiteStore(path) as store:
            await store.list_sessions()
    assert digest(path) == before


async def test_a_damaged_database_is_refused_unchanged(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "sessions.db"
    async with SQLiteStore(path) as store:
        info = await store.create("s")
        for n in range(50):
            commit = Commit(messages=(UserMessage(content=f"message {n} " * 50),), turn_number=1)
            made = commit_entries(commit, parent_id=info.head, new_id=lambda: uuid.uuid4().hex, at=1.0)
            info = await store.append("s", made, expected_head=info.head)
    data = bytearray(path.read_bytes())
    for offset in range(4096, len(data), 997):  # scribble over every page but the header
        data[offset : offset + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))
    before = digest(path)

    async def use() -> None:
        async with SQLiteStore(path) as store:
            await store.load("s")
            await store.search("message")

    with pytest.raises(SessionStoreCorruptError):
        await use()
    assert digest(path) == before


async def test_a_newer_schema_is_refused_unchanged(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "sessions.db"
    async with SQLiteStore(path) as store:
        await store.create("s")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE anyagent_schema SET version = 99")
    before = digest(path)
    with pytest.raises(SessionSchemaError, match="version 99, newer"):
        async with SQLiteStore(path) as store:
            await store.get("s")
    assert digest(path) == before


async def test_another_programs_database_is_refused_unchanged(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (name TEXT)")
    before = digest(path)
    with pytest.raises(SessionStoreCorruptError, match="customers"):
        async with SQLiteStore(path) as store:
            await store.list_sessions()
    assert digest(path) == before


async def test_a_damaged_entry_names_the_session_and_the_entry(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "sessions.db"
    async with SQLiteStore(path) as store:
        info = await store.create("s")
        commit = Commit(messages=(UserMessage(content="hi"),), turn_number=1)
        (entry,) = commit_entries(commit, parent_id=info.head, new_id=lambda: "e1", at=1.0)
        await store.append("s", [entry], expected_head=info.head)
    with sqlite3.connect(path) as db:
        body = '{"v":1,"id":"e1","parent":"s:meta","at":1,"kind":"message","message":{"role":"wizard"}}'
        db.execute("UPDATE entries SET body = ? WHERE id = 'e1'", (body,))
    async with SQLiteStore(path) as store:
        with pytest.raises(SessionEntryError, match=r"session 's', entry 'e1': .*'role'"):
            await store.load("s")


async def test_a_directory_that_cannot_be_made_is_a_store_error(tmp_path: pathlib.Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises((SessionStoreError, OSError)):
        async with SQLiteStore(blocker / "sub" / "sessions.db") as store:
            await store.list_sessions()


async def test_a_closed_store_says_so() -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    await store.aclose()
    with pytest.raises(SessionStoreError, match="closed"):
        await store.list_sessions()


async def test_an_unreachable_postgres_is_a_store_error_without_the_password() -> None:
    pytest.importorskip("psycopg")
    from anyagent_httpx.postgres import PostgresStore

    store = PostgresStore("postgresql://user:hunter2@127.0.0.1:1/db", connect_timeout=2)
    with pytest.raises(SessionStoreError) as caught:
        await store.open()
    assert "hunter2" not in str(caught.value) and "hunter2" not in repr(store)


async def test_a_newer_postgres_schema_is_refused_unchanged() -> None:
    url = postgres_url()
    from anyagent_httpx.postgres import PostgresStore

    async with PostgresStore(url) as store:
        await store.create("s")
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE anyagent_schema SET version = 42")
    with pytest.raises(SessionSchemaError, match="version 42"):
        async with PostgresStore(url) as store:
            pass
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM anyagent_sessions").fetchone() == (1,)


async def test_the_module_functions_work_on_a_store() -> None:
    async with MemoryStore() as store:
        info = await store.create("s", cwd="/w")
        commit = Commit(messages=(UserMessage(content="find the lighthouse"),), turn_number=1)
        made = commit_entries(commit, parent_id=info.head, new_id=lambda: "e1", at=1.0)
        await store.append("s", made, expected_head=info.head)
        assert [i.session_id for i in await list_sessions(store=store, cwd="/w")] == ["s"]
        assert await get_session_messages("s", store=store) == [UserMessage(content="find the lighthouse")]
        assert [h.entry_id for h in await search_sessions("lighthouse", store=store)] == ["e1"]
        await delete_session("s", store=store)
        with pytest.raises(SessionNotFoundError):
            await get_session_messages("s", store=store)


async def test_the_module_functions_default_to_the_file_the_environment_names(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANY_AGENT_SESSIONS_DB", str(tmp_path / "mine.db"))
    assert default_path() == tmp_path / "mine.db"
    assert await list_sessions() == []
    assert (tmp_path / "mine.db").exists()
    monkeypatch.delenv("ANY_AGENT_SESSIONS_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_path() == tmp_path / "data" / "anyagent" / "sessions.db"


def test_open_store_picks_the_store_for_a_location(tmp_path: pathlib.Path) -> None:
    assert isinstance(open_store(":memory:"), MemoryStore)
    assert isinstance(open_store(tmp_path / "x.db"), SQLiteStore)
    assert type(open_store("postgresql://u@h/db")).__name__ == "PostgresStore"
    assert POSTGRES_URL is None or POSTGRES_URL.startswith("postgresql://")


@pytest.mark.parametrize(
    ("usage", "field"),
    [
        ({"prompt_tokens": 2**70}, "prompt_tokens"),
        ({"completion_tokens": -(2**63) - 1}, "completion_tokens"),
        ({"total_tokens": 2**63}, "total_tokens"),
    ],
)
async def test_a_run_s_count_too_large_to_store_is_a_typed_error_naming_it(
    store: SessionStore, usage: dict[str, Any], field: str
) -> None:
    """Every store keeps a run's counts as 64-bit integers: a count past them is refused, naming
    the entry and the count, and nothing is written (SQLite raised a bare ``OverflowError``,
    PostgreSQL "bigint out of range")."""
    info = await store.create("s")
    result = attrs.evolve(run_result(None), usage=Usage(**usage))
    entries = commit_entries(
        Commit(messages=(UserMessage(content="hi"),), turn_number=1, result=result),
        parent_id=info.head,
        new_id=lambda: uuid.uuid4().hex,
        at=1.0,
    )
    with pytest.raises(SessionEntryError, match=rf"entry '{entries[-1].id}'.*{field}"):
        await store.append("s", entries, expected_head=info.head)
    assert (await store.get("s")).head == info.head
    assert (await store.stats(session_id="s"))[0].runs == 0


@pytest.mark.parametrize("field", ["at", "seconds"])
async def test_a_nan_sqlite_cannot_hold_is_a_typed_error_naming_it(tmp_path: pathlib.Path, field: str) -> None:
    """SQLite stores a NaN as NULL: a tool execution's time or duration that is NaN is refused,
    naming it, and nothing is written (its time was a ``SessionConflictError`` about a NOT
    NULL constraint, its duration read back as None)."""
    async with SQLiteStore(tmp_path / "s.db") as store:
        info = await store.create("s")
        execution = ToolExecution(
            session_id="s",
            call_id="c1",
            tool="bash",
            input={},
            output="o",
            is_error=False,
            decision="allow",
            seconds=1.0,
            at=7.0,
        )
        changes: dict[str, Any] = {field: float("nan")}
        bad = attrs.evolve(execution, **changes)
        with pytest.raises(SessionStoreError, match=rf"NaN in the {field} of tool execution 'c1' of session 's'"):
            await store.append("s", [], expected_head=info.head, tool_executions=[bad])
        assert await store.tool_executions("s") == []
        await store.append("s", [], expected_head=info.head, tool_executions=[execution])
        assert await store.tool_executions("s") == [execution]
