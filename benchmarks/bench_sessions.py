"""Session store benchmark: anyagent's SQLiteStore against openai-agents' SQLiteSession, and
its PostgresStore against openai-agents' SQLAlchemySession on the same PostgreSQL server.

    python benchmarks/bench_sessions.py [--quick] [--json PATH]

Measured in one run, on files in one temporary directory, under asyncio (the peers are
asyncio-only):

* append one turn (a user message and an answer, ~200 characters each): p50 and p99 over
  1,000 appends to one session, at the same durability for both (below). Ours writes the
  turn's two message entries and a run result in one transaction, full-text rows, run
  statistics and the optimistic head check included; theirs ``add_items`` the two messages.
* load a 10,000-message session: ours ``load()`` and parse every entry back into typed,
  checked messages (``rebuild``), theirs ``get_items()`` (dicts); the ``load()`` column is ours
  without ``rebuild``. *Cold*: a store that keeps no
  parsed entries (``cache_sessions=0``), as the first load in a process is; *warm*: the store
  loaded the session before (the default), so it reads only the session's row and what was
  appended since. Theirs has no such path: each load reads and decodes everything.
* ours only: full-text search over 100,000 messages (``search``, 20 best hits with
  snippets), and over 10,000 memories: recall by words (FTS5) and by a 384-dimension
  embedding (``recall`` with a vector, numpy if installed, after a first recall that loads the
  index).
* PostgreSQL, when ``$ANY_AGENT_BENCH_POSTGRES_URL`` (or ``$ANY_AGENT_TEST_POSTGRES_URL``, which
  ``source .ci/postgres.sh`` sets) names a server: append and load, ours against
  ``SQLAlchemySession`` (asyncpg), each in a database of its own; skipped, saying why, otherwise.

Targets: append (p50 and p99) and load at least 2x faster than SQLiteSession; search <= 20 ms
and recall <= 50 ms (p50). Durability, like with like: both files are in WAL mode, and each
store runs at both settings of ``synchronous``: ``full``, SQLite's default, which SQLiteSession
keeps (it syncs the log at every commit: a power cut loses no committed turn), and ``normal``,
SQLiteStore's default (a killed process loses no committed turn; a power cut may lose the last
ones), set on SQLiteSession's connections for its ``normal`` row. The report prints the
settings read back from each connection; the ratios compare rows of the same setting.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import Rounds, rotated, table
from anyagent_core import AssistantMessage, Commit, ResultMessage, TextBlock, Usage, UserMessage
from anyagent_core.sessions import commit_entries, rebuild
from anyagent_httpx import SQLiteStore

WORDS = [
    *("lighthouse", "keeper", "harbour", "storm", "lamp", "chapter", "island", "boat", "night", "sea", "rope"),
    *("signal", "wreck", "tide", "gull", "stone", "window", "bell", "letter", "winter", "ship", "fog", "shore"),
    *("map", "captain", "cliff"),
]


def text(rng: random.Random, n: int = 30) -> str:
    return " ".join(rng.choice(WORDS) + str(rng.randrange(50)) for _ in range(n))


def turn(rng: random.Random) -> Commit:
    answer = AssistantMessage(content=[TextBlock(text=text(rng))], model="m", usage=Usage(prompt_tokens=9))
    result = ResultMessage(
        subtype="success",
        result=answer.text,
        is_error=False,
        num_turns=1,
        duration_ms=5,
        duration_api_ms=4,
        usage=Usage(prompt_tokens=9, completion_tokens=30),
        model="m",
    )
    return Commit(messages=(UserMessage(content=text(rng)), answer), turn_number=1, result=result)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@attrs.frozen
class Appends:
    """One setting's appends: the times of each store's (None: the peer is not installed), and
    each connection's settings as it reports them."""

    ours: list[float]
    theirs: list[float] | None
    settings: dict[str, str]


async def appends(root: Path, n: int, synchronous: str) -> Appends:
    """``n`` turns appended to each store, one of ours then one of theirs, so that both see the
    same machine (the others' load on it comes and goes)."""
    rng = random.Random(1)
    theirs_rng = random.Random(1)
    session = None
    with contextlib.suppress(ImportError):
        session = their_session("bench", root / f"theirs-{synchronous}.db", synchronous)
    ours: list[float] = []
    theirs: list[float] = []
    settings: dict[str, str] = {}
    async with SQLiteStore(root / f"ours-{synchronous}.db", synchronous=synchronous) as store:  # type: ignore[arg-type]
        settings["anyagent SQLiteStore"] = await store._run(connection_settings)
        if session is not None:
            with session._locked_connection() as conn:  # a connection configured as its workers' are
                settings["openai-agents SQLiteSession"] = connection_settings(conn)
        head = (await store.create("bench")).head
        for _ in range(n):
            entries = commit_entries(turn(rng), parent_id=head, new_id=lambda: uuid.uuid4().hex, at=time.time())
            begun = time.perf_counter()
            head = (await store.append("bench", entries, expected_head=head)).head
            ours.append(time.perf_counter() - begun)
            if session is not None:
                items = [
                    {"role": "user", "content": text(theirs_rng)},
                    {"role": "assistant", "content": text(theirs_rng)},
                ]
                begun = time.perf_counter()
                await session.add_items(items)
                theirs.append(time.perf_counter() - begun)
    if session is not None:
        session.close()
    return Appends(ours=ours, theirs=theirs if session is not None else None, settings=settings)


def connection_settings(db: sqlite3.Connection) -> str:
    journal = db.execute("PRAGMA journal_mode").fetchone()[0]
    synchronous = {0: "off", 1: "normal", 2: "full", 3: "extra"}[db.execute("PRAGMA synchronous").fetchone()[0]]
    return f"journal_mode={journal} synchronous={synchronous}"


def their_session(session_id: str, path: Path, synchronous: str) -> Any:
    """openai-agents' SQLiteSession as it comes (``full``: SQLite's default, which it keeps), or
    with ``synchronous=normal`` set on each connection it opens."""
    from agents.memory import SQLiteSession

    if synchronous == "full":
        return SQLiteSession(session_id, path)

    class NormalSQLiteSession(SQLiteSession):  # type: ignore[misc]
        @staticmethod
        def _configure_connection(conn: sqlite3.Connection) -> None:
            SQLiteSession._configure_connection(conn)
            conn.execute("PRAGMA synchronous=NORMAL")

    return NormalSQLiteSession(session_id, path)


async def fill_ours(path: Path, messages: int) -> None:
    rng = random.Random(2)
    async with SQLiteStore(path) as store:
        info = await store.create("big")
        head = info.head
        for _ in range(messages // 2):
            commit = turn(rng)
            commit = Commit(messages=commit.messages, turn_number=1)
            entries = commit_entries(commit, parent_id=head, new_id=lambda: uuid.uuid4().hex, at=time.time())
            head = (await store.append("big", entries, expected_head=head)).head


@attrs.frozen
class Loads:
    cold: list[float]
    """Ours: ``load()`` and ``rebuild`` by a store that keeps no parsed entries."""
    only: list[float]
    """Ours: that ``load()`` alone."""
    warm: list[float]
    """Ours: ``load()`` and ``rebuild`` by a store that loaded the session before."""
    theirs: list[float] | None


async def loads(root: Path, messages: int, rounds: int) -> Loads:
    """``rounds`` loads of a ``messages``-message session by each, in turn (as ``appends``)."""
    await fill_ours(root / "big.db", messages)
    session = None
    try:
        from agents.memory import SQLiteSession

        rng = random.Random(2)
        session = SQLiteSession("big", root / "theirs-big.db")
        batch: list[Any] = []
        for _ in range(messages // 2):
            batch += [{"role": "user", "content": text(rng)}, {"role": "assistant", "content": text(rng)}]
        await session.add_items(batch)
    except ImportError:
        pass
    result = Loads(cold=[], only=[], warm=[], theirs=[] if session is not None else None)
    async with SQLiteStore(root / "big.db", cache_sessions=0) as cold:
        for _ in range(rounds):
            begun = time.perf_counter()
            _, entries = await cold.load("big")
            loaded = time.perf_counter()
            conversation = rebuild("big", entries)
            result.cold.append(time.perf_counter() - begun)
            result.only.append(loaded - begun)
            assert len(conversation.messages) == messages
            del entries, conversation  # theirs' load is timed without ours' objects about
            if session is not None and result.theirs is not None:
                begun = time.perf_counter()
                items = await session.get_items()
                result.theirs.append(time.perf_counter() - begun)
                assert len(items) == messages
                del items
    async with SQLiteStore(root / "big.db") as warm:  # apart: its cache of the session stays
        await warm.load("big")
        for _ in range(rounds):
            begun = time.perf_counter()
            rebuild("big", (await warm.load("big"))[1])
            result.warm.append(time.perf_counter() - begun)
    if session is not None:
        session.close()
    return result


async def timed_search(path: Path, rounds: int) -> list[float]:
    rng = random.Random(3)
    times = []
    async with SQLiteStore(path) as store:
        for _ in range(rounds):
            query = f"{rng.choice(WORDS)}{rng.randrange(50)} {rng.choice(WORDS)}{rng.randrange(50)}"
            begun = time.perf_counter()
            await store.search(query, limit=20)
            times.append(time.perf_counter() - begun)
    return times


async def timed_recall(path: Path, memories: int, rounds: int, dims: int = 384) -> tuple[list[float], list[float]]:
    """Recall by words and by vector over ``memories`` memories: the times of each."""
    rng = random.Random(4)
    async with SQLiteStore(path) as store:
        for n in range(memories):
            vector = [rng.gauss(0, 1) for _ in range(dims)]
            await store.remember(text(rng, 12), memory_id=f"m{n}", vector=vector)
        await store.recall("", vector=[1.0] * dims)  # loads the index once
        by_words, by_vector = [], []
        for _ in range(rounds):
            query = f"{rng.choice(WORDS)}{rng.randrange(50)} {rng.choice(WORDS)}{rng.randrange(50)}"
            begun = time.perf_counter()
            await store.recall(query, limit=5)
            by_words.append(time.perf_counter() - begun)
            vector = [rng.gauss(0, 1) for _ in range(dims)]
            begun = time.perf_counter()
            found = await store.recall("", vector=vector, limit=5)
            by_vector.append(time.perf_counter() - begun)
            assert len(found) == 5
    return by_words, by_vector


# ---- PostgreSQL ---------------------------------------------------------------------------------


def postgres_url() -> tuple[str | None, str]:
    """The server's URL, or None and why there is none."""
    url = os.environ.get("ANY_AGENT_BENCH_POSTGRES_URL") or os.environ.get("ANY_AGENT_TEST_POSTGRES_URL")
    if not url:
        return None, "no server: set ANY_AGENT_BENCH_POSTGRES_URL (source .ci/postgres.sh starts one)"
    return url, ""


def fresh_database(url: str) -> str:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@attrs.frozen
class PgRun:
    """The PostgreSQL part: each append's time, ours and theirs taken in turns, and the loads
    of a ``messages``-message session, round by round: ours cold (a store that keeps no parsed
    entries), theirs, ours warm (a store that loaded the session before)."""

    ours: list[float]
    theirs: list[float] | None
    loads: Rounds


async def pg_compare(url: str, appends: int, messages: int, rounds: int) -> PgRun:
    """``PostgresStore`` and ``SQLAlchemySession`` (asyncpg), each in a database of its own on
    the server at ``url``; one append of ours then one of theirs, and in each load round one
    load by each of ours' stores and by theirs, so that all see the same machine."""
    from anyagent_httpx.postgres import PostgresStore

    theirs_session: Any = None
    with contextlib.suppress(ImportError):
        from agents.extensions.memory.sqlalchemy_session import SQLAlchemySession

        address = fresh_database(url).replace("postgresql://", "postgresql+asyncpg://", 1)
        theirs_session = SQLAlchemySession.from_url("bench", url=address, create_tables=True)
    rng, theirs_rng = random.Random(1), random.Random(1)
    ours_url = fresh_database(url)
    run = PgRun(ours=[], theirs=[] if theirs_session is not None else None, loads=Rounds())
    async with PostgresStore(ours_url) as store, PostgresStore(ours_url, cache_sessions=0) as cold:
        head = (await store.create("bench")).head
        if theirs_session is not None:
            await theirs_session.get_items()  # its tables made, its pool connected, before the clock runs
        for _ in range(appends):
            entries = commit_entries(turn(rng), parent_id=head, new_id=lambda: uuid.uuid4().hex, at=time.time())
            begun = time.perf_counter()
            head = (await store.append("bench", entries, expected_head=head)).head
            run.ours.append(time.perf_counter() - begun)
            if theirs_session is not None and run.theirs is not None:
                items = [
                    {"role": "user", "content": text(theirs_rng)},
                    {"role": "assistant", "content": text(theirs_rng)},
                ]
                begun = time.perf_counter()
                await theirs_session.add_items(items)
                run.theirs.append(time.perf_counter() - begun)
        head = (await store.create("big")).head
        for _ in range(messages // 2):
            commit = Commit(messages=turn(rng).messages, turn_number=1)
            entries = commit_entries(commit, parent_id=head, new_id=lambda: uuid.uuid4().hex, at=time.time())
            head = (await store.append("big", entries, expected_head=head)).head
        big = None
        if theirs_session is not None:
            big = SQLAlchemySession("big", engine=theirs_session._engine, create_tables=True)
            batch: list[Any] = []
            for _ in range(messages // 2):
                batch += [
                    {"role": "user", "content": text(theirs_rng)},
                    {"role": "assistant", "content": text(theirs_rng)},
                ]
            await big.add_items(batch)
        await store.load("big")  # the warm store's cache of it
        for number in range(rounds):
            for who in rotated(["cold", "warm", "theirs"] if big is not None else ["cold", "warm"], number):
                begun = time.perf_counter()
                if who == "theirs":
                    assert big is not None
                    count = len(await big.get_items())
                else:
                    count = len(rebuild("big", (await (cold if who == "cold" else store).load("big"))[1]).messages)
                run.loads.add(who, time.perf_counter() - begun)
                assert count == messages
    if theirs_session is not None:
        await theirs_session._engine.dispose()
    return run


def ms(value: float) -> str:
    return f"{value * 1000:.2f}"


def ratio_line(what: str, theirs: float, ours: float, at_least: float = 2.0) -> tuple[str, bool]:
    ratio = theirs / ours
    ok = ratio >= at_least
    return f"  {what}: {ratio:.2f}x {'PASS' if ok else 'FAIL'}", ok


def pg_report(run: PgRun, messages: int) -> tuple[list[str], list[tuple[str, bool]], dict[str, Any]]:
    """The PostgreSQL table (loads: the median round, p25 to p75 in brackets), its target lines
    (append p50 and p99, load cold and warm, each at least 2x SQLAlchemySession) and figures."""
    loads = run.loads

    def load(name: str) -> str:
        low, high = loads.spread(name)
        return f"{ms(loads.median(name))} ({ms(low)}-{ms(high)})"

    head = ["PostgreSQL", "append p50 ms", "append p99 ms", f"load {messages} cold ms", "warm ms"]
    rows = [["anyagent PostgresStore", ms(percentile(run.ours, 0.5)), ms(percentile(run.ours, 0.99))]]
    rows[0] += [load("cold"), load("warm")]
    skipped = {}
    checks: list[tuple[str, bool]] = []
    figures: dict[str, Any] = {
        "ours": {"append_p50": percentile(run.ours, 0.5), "append_p99": percentile(run.ours, 0.99)},
        "rounds": loads.to_json(),
    }
    if run.theirs is None:
        skipped["openai-agents SQLAlchemySession"] = "not installed (openai-agents[sqlalchemy], the bench group)"
    else:
        theirs = run.theirs
        rows.append(["openai-agents SQLAlchemySession", ms(percentile(theirs, 0.5)), ms(percentile(theirs, 0.99))])
        rows[1] += [load("theirs"), load("theirs")]
        figures["theirs"] = {"append_p50": percentile(theirs, 0.5), "append_p99": percentile(theirs, 0.99)}
        for q, name in ((0.5, "p50"), (0.99, "p99")):
            ratio = percentile(theirs, q) / percentile(run.ours, q)
            checks.append(ratio_line(f"PostgreSQL append {name} >= 2x SQLAlchemySession", ratio, 1.0))
            figures[f"append_{name}_ratio"] = ratio
        for name in ("cold", "warm"):
            ratio, (low, high) = loads.ratio("theirs", name), loads.ratio_spread("theirs", name)
            line, ok = ratio_line(f"PostgreSQL load ({name}) >= 2x SQLAlchemySession", ratio, 1.0)
            checks.append((f"{line} (rounds p25-p75 {low:.2f}x-{high:.2f}x)", ok))
            figures[f"load_{name}_ratio"] = ratio
    return [*table(head, rows, skipped), ""], checks, figures


async def main(quick: bool, json_path: str | None, postgres_only: bool) -> int:
    turns = 200 if quick else 1000
    load_messages, search_messages = 10_000, 20_000 if quick else 100_000
    memories = 2_000 if quick else 10_000
    rounds = 10
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    url, why = postgres_url()
    pg_lines, pg_checks = [f"PostgreSQL: skipped, {why}", ""], list[tuple[str, bool]]()
    if url is not None:
        pg_lines, pg_checks, results["postgres"] = pg_report(
            await pg_compare(url, turns // 2, load_messages, rounds), load_messages
        )
    if postgres_only:
        for line in pg_lines:
            print(line)
        print("targets:")
        for line, _ in pg_checks:
            print(line)
        print(f"overall: {'PASS' if all(ok for _, ok in pg_checks) else 'FAIL'}")
        if json_path:
            await anyio.Path(json_path).write_text(json.dumps(results, indent=2))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        appended = {synchronous: await appends(root, turns, synchronous) for synchronous in ("normal", "full")}
        loaded = await loads(root, load_messages, rounds)
        await fill_ours(root / "search.db", search_messages)
        search = await timed_search(root / "search.db", 50)
        recall_words, recall = await timed_recall(root / "memories.db", memories, 50)

    def row(label: str, append: list[float], *loads: list[float] | None) -> list[str]:
        cells = [label, ms(percentile(append, 0.5)), ms(percentile(append, 0.99))]
        return cells + [ms(statistics.median(load)) if load else "" for load in loads]

    head = ["SQLite", "append p50 ms", "append p99 ms", f"load {load_messages} cold ms", "warm ms", "load() ms"]
    load_cold, load_warm, load_theirs = loaded.cold, loaded.warm, loaded.theirs
    theirs = {synchronous: run.theirs for synchronous, run in appended.items() if run.theirs is not None}
    if load_theirs is None or not theirs:
        skipped["openai-agents SQLiteSession"] = "not installed (the bench group has it)"
    rows = [
        row("anyagent SQLiteStore (normal)", appended["normal"].ours, load_cold, load_warm, loaded.only),
        row("anyagent SQLiteStore (full)", appended["full"].ours, None, None, None),
    ]
    if load_theirs is not None and theirs:
        rows.append(row("openai-agents SQLiteSession (normal)", theirs["normal"], None, None, None))
        rows.append(row("openai-agents SQLiteSession (full)", theirs["full"], load_theirs, load_theirs, None))
    for line in table(head, rows, {k: v for k, v in skipped.items() if k != "PostgreSQL"}):
        print(line)
    print("settings, as each connection reports them:")
    for synchronous, run in appended.items():
        for who, settings in run.settings.items():
            print(f"  {who} ({synchronous}): {settings}")
    print()
    for line in pg_lines:
        print(line)
    search_p50, recall_p50, words_p50 = (
        statistics.median(search),
        statistics.median(recall),
        statistics.median(recall_words),
    )
    print(f"search over {search_messages} messages: p50 {ms(search_p50)} ms, p99 {ms(percentile(search, 0.99))} ms")
    print(
        f"recall over {memories} memories by words: p50 {ms(words_p50)} ms, p99 {ms(percentile(recall_words, 0.99))} ms"
    )
    print(
        f"recall over {memories} memories by vector (384 dims): p50 {ms(recall_p50)} ms,"
        f" p99 {ms(percentile(recall, 0.99))} ms"
    )
    print("targets:")
    passed = True
    checks = list(pg_checks)
    if theirs and load_theirs is not None:
        for synchronous in ("normal", "full"):
            mine, other = appended[synchronous].ours, theirs[synchronous]
            for q, name in ((0.5, "p50"), (0.99, "p99")):
                what = f"append {name} ({synchronous}) >= 2x SQLiteSession"
                checks.append(ratio_line(what, percentile(other, q), percentile(mine, q)))
                results[f"append_{name}_{synchronous}_ratio"] = percentile(other, q) / percentile(mine, q)
        their_load = statistics.median(load_theirs)
        checks.append(ratio_line("load (cold) >= 2x SQLiteSession", their_load, statistics.median(load_cold)))
        checks.append(ratio_line("load (warm) >= 2x SQLiteSession", their_load, statistics.median(load_warm)))
        results.update(
            load_cold_ratio=their_load / statistics.median(load_cold),
            load_warm_ratio=their_load / statistics.median(load_warm),
            theirs={
                synchronous: {"append_p50": percentile(t, 0.5), "append_p99": percentile(t, 0.99)}
                for synchronous, t in theirs.items()
            }
            | {"load": their_load},
        )
    for line, ok in checks:
        passed = passed and ok
        print(line)
    for what, value, limit in (
        ("search p50 <= 20 ms", search_p50, 0.020),
        ("recall by words p50 <= 50 ms", words_p50, 0.050),
        ("recall by vector p50 <= 50 ms", recall_p50, 0.050),
    ):
        ok = value <= limit
        passed = passed and ok
        print(f"  {what}: {ms(value)} ms {'PASS' if ok else 'FAIL'}")
    print(f"overall: {'PASS' if passed else 'FAIL'}")
    results.update(
        append={
            synchronous: {"p50": percentile(run.ours, 0.5), "p99": percentile(run.ours, 0.99)}
            for synchronous, run in appended.items()
        },
        load_cold=statistics.median(load_cold),
        load_only=statistics.median(loaded.only),
        load_warm=statistics.median(load_warm),
        search_p50=search_p50,
        recall_words_p50=words_p50,
        recall_p50=recall_p50,
    )
    if json_path:
        await anyio.Path(json_path).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer appends, 20,000 messages searched, 2,000 memories")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--postgres-only", action="store_true", help="only the PostgreSQL part")
    arguments = parser.parse_args()
    sys.exit(anyio.run(main, arguments.quick, arguments.json, arguments.postgres_only))
