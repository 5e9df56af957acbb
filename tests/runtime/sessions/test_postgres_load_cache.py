"""PostgresStore keeps the parsed entries of the sessions it loaded: loading one again reads only
what was appended since, by this store or another worker's, and gives what a fresh store would;
a session deleted and made again under the same id is read anew. Against the real server."""

from __future__ import annotations

import itertools
import time

import pytest

from anyagent_core import AssistantMessage, Commit, TextBlock, UserMessage
from anyagent_core.sessions import Entry, commit_entries
from anyagent_httpx._sessions import SessionNotFoundError
from anyagent_httpx.postgres import PostgresStore

from .conftest import postgres_url

pytestmark = pytest.mark.anyio

_ids = itertools.count()


def turn(head: str | None, prompt: str) -> tuple[Entry, ...]:
    commit = Commit(
        messages=(UserMessage(content=prompt), AssistantMessage(content=[TextBlock(text="ok")])), turn_number=1
    )
    return commit_entries(commit, parent_id=head, new_id=lambda: f"e{next(_ids)}", at=time.time())


async def fresh_load(url: str, session_id: str) -> list[Entry]:
    async with PostgresStore(url, cache_sessions=0) as store:
        return (await store.load(session_id))[1]


async def test_a_second_load_sees_what_another_worker_appended() -> None:
    url = postgres_url()
    async with PostgresStore(url) as reader, PostgresStore(url) as writer:
        info = await writer.create("s")
        info = await writer.append("s", turn(info.head, "one"), expected_head=info.head)
        first = (await reader.load("s"))[1]
        assert first == await fresh_load(url, "s")
        info = await writer.append("s", turn(info.head, "two"), expected_head=info.head)
        loaded_info, second = await reader.load("s")
        assert loaded_info.head == info.head
        assert second == await fresh_load(url, "s")
        assert second[: len(first)] == first and len(second) == len(first) + 2
        again = (await reader.load("s"))[1]
        assert again == second and again is not second, "each load gives a list of its own"
        again.clear()
        assert (await reader.load("s"))[1] == second


async def test_a_session_made_again_under_its_id_is_read_anew() -> None:
    url = postgres_url()
    async with PostgresStore(url) as reader, PostgresStore(url, clock=lambda: 1000.0) as writer:
        info = await writer.create("s")
        await writer.append("s", turn(info.head, "old"), expected_head=info.head)
        await reader.load("s")
        await writer.delete("s")
        with pytest.raises(SessionNotFoundError):
            await reader.load("s")
        info = await writer.create("s")  # at the same time as the first: only the log tells them apart
        await writer.append("s", turn(info.head, "new"), expected_head=info.head)
        _, entries = await reader.load("s")
    assert entries == await fresh_load(url, "s")
    assert "old" not in repr(entries)


async def test_forks_and_the_bound() -> None:
    url = postgres_url()
    async with PostgresStore(url, cache_sessions=2) as store:
        info = await store.create("base")
        info = await store.append("base", turn(info.head, "shared"), expected_head=info.head)
        fork = await store.fork("base", new_session_id="fork")
        for sid in ("base", "fork"):
            await store.load(sid)
        await store.append("fork", turn(fork.head, "own"), expected_head=fork.head)
        await store.append("base", turn(info.head, "later"), expected_head=info.head)
        for sid in ("base", "fork"):
            assert (await store.load(sid))[1] == await fresh_load(url, sid)
        other = await store.create("other")
        await store.load("other")
        assert len(store._cache) == 2 and "base" not in store._cache
        assert (await store.load("other"))[1][0].id == other.head
    with pytest.raises(ValueError, match="cache_sessions"):
        PostgresStore(url, cache_sessions=-1)


def scatter(url: str, session_id: str) -> None:
    """The session's older rows written again, seqs and all, so that on disk they come after
    the newer ones (a scan meets them out of order)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute(
            "CREATE TEMP TABLE moved AS SELECT * FROM anyagent_entries WHERE session_id = %s"
            " AND seq < (SELECT max(seq) FROM anyagent_entries WHERE session_id = %s)",
            (session_id, session_id),
        )
        conn.execute("DELETE FROM anyagent_entries WHERE seq IN (SELECT seq FROM moved)")
        conn.execute("INSERT INTO anyagent_entries SELECT * FROM moved")
        on_disk = [r[0] for r in conn.execute("SELECT seq FROM anyagent_entries WHERE session_id = %s", (session_id,))]
    assert on_disk != sorted(on_disk), "the rows should lie out of order"


async def test_rows_out_of_order_on_disk_load_in_the_log_s_order() -> None:
    """The store orders a session's rows by their seqs itself (not the server): a session and
    the fork of it read back in order, cold and from the cache, whatever order the rows lie in."""
    url = postgres_url()
    async with PostgresStore(url) as store:
        info = await store.create("base")
        for prompt in ("one", "two", "three"):
            info = await store.append("base", turn(info.head, prompt), expected_head=info.head)
        fork = await store.fork("base", new_session_id="fork")
        fork = await store.append("fork", turn(fork.head, "four"), expected_head=fork.head)
        expected = {sid: (await store.load(sid))[1] for sid in ("base", "fork")}
        scatter(url, "base")
        scatter(url, "fork")
        info = await store.append("base", turn(info.head, "five"), expected_head=info.head)
        await store.append("base", turn(info.head, "six"), expected_head=info.head)
        scatter(url, "base")
        for sid in ("base", "fork"):
            cold = await fresh_load(url, sid)
            assert [e.id for e in cold[: len(expected[sid])]] == [e.id for e in expected[sid]]
            assert (await store.load(sid))[1] == cold
        assert len(cold) == len(expected["fork"]) and len(await fresh_load(url, "base")) == 1 + 5 * 2
