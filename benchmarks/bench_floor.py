"""The floor of a session store's append and cold load against openai-agents' SQLiteSession:
how fast any store that keeps ``SQLiteStore``'s contract could be, measured in the same run as
the peer, so that "2x faster than SQLiteSession" can be judged reachable or not.

    python benchmarks/bench_floor.py [--appends N] [--loads N] [--messages N] [--store]

**Append** (one turn: a user message and an answer of ~200 characters each). The contract: an
async call that returns once the turn is committed, SQLite on a thread of its own (never on the
event loop), one transaction per turn, an optimistic check of the session's head. Each round
times one call of each contender, in an order rotated from round to round, at one setting of
``synchronous`` (both files in WAL mode; ``normal`` then ``full``):

* ``SQLiteSession.add_items`` of the turn's two messages (``asyncio.to_thread``, two rows);
* the hop alone, empty work, to a thread and back: ``asyncio.to_thread``; ``DatabaseThread.run``
  (the store's); and the cheapest hop: a thread fed by a ``SimpleQueue`` that resolves an
  asyncio future by ``call_soon_threadsafe`` (under trio: reschedules the task by its token);
* the floor write, on that cheapest hop: ``BEGIN IMMEDIATE``; ``UPDATE sessions SET head …
  WHERE id = ? AND head = ? RETURNING turns`` (the head check: no row, a conflict); one
  ``INSERT`` of the turn's row; ``COMMIT``; with the turn's three entries (two messages and the
  run result, ``dumps_entry``'d before the clock) in one row of a table ``WITHOUT ROWID`` keyed
  by (session, seq), no other index; and in a rowid table with an index on (session, seq);
* that floor write, also encoding the three entries (``dumps_entry``) in the timed call, as
  ``SQLiteStore.append`` does; and also making them (``commit_entries``);
* with ``--store``, ``SQLiteStore.append`` itself (its full-text steps and checkpoints then
  run between the others' calls: off by default).

Then the same hops and the encoding floor write under trio, in blocks of rounds alternating
with the asyncio blocks (SQLiteSession is asyncio-only, so trio's rounds are block by block).
Figures: p50, p99 and p25-p75 of each contender's calls (wall clock: an append's latency), and
SQLiteSession's p50 and p99 over each.

**Cold load** of a 10,000-message session (``--messages``): the contract is typed, checked
messages (an entry that does not parse is a ``SessionEntryError`` naming the session and the
entry). Each round times, rotated: ``SQLiteSession.get_items()`` (dicts); ``SQLiteStore`` with
``cache_sessions=0``, ``load()`` then ``rebuild``; and, off the loop on the cheapest hop, on the
same messages: fetching the rows alone from the store's schema (one JSON text per entry), from
one row per turn (``WITHOUT ROWID``, the turn's entries as one JSON array), and from plain columns
(id, parent, at, turn, role, text, model, token counts: no JSON at all); each of those plus
building the typed entries through the project's fastest builders (``loads_entries``;
``fast_entries``; the ``parsed_builder`` constructors with one ``Usage`` shared by equal token
counts, each column's type checked), those builders alone on rows fetched before the rounds,
and the plain columns plus ``rebuild``. Figures: the
median round and p25-p75, wall clock and the process's CPU time, and SQLiteSession's median
over each.

The load average is printed before and after: on a shared machine a ratio taken within one run
is the figure to trust, not a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import random
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import outcome
import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import Rounds, rotated, table
from anyagent_core import AssistantMessage, UserMessage
from anyagent_core._sessions import _codec
from anyagent_core._util import gc_paused
from anyagent_core.sessions import (
    Entry,
    MessageEntry,
    SessionEntryError,
    commit_entries,
    dumps_entry,
    loads_entries,
    rebuild,
)
from anyagent_httpx import SQLiteStore
from anyagent_httpx._sessions._thread import DatabaseThread
from bench_sessions import fill_ours, percentile, their_session, turn

_T = TypeVar("_T")


# ---- the cheapest hop ---------------------------------------------------------------------------


class Hop:
    """A thread fed by a ``SimpleQueue``: ``run`` puts a call on it and waits for the thread to
    wake the event loop with the result, with nothing else (no anyio event, no cancel scope)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="bench-floor-hop")
        self._thread.start()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()

    async def run(self, work: Callable[[], _T]) -> _T:
        """``work()`` on the thread, under asyncio: a future resolved by ``call_soon_threadsafe``."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()

        def job() -> None:
            try:
                result = work()
            except BaseException as exc:
                loop.call_soon_threadsafe(future.set_exception, exc)
            else:
                loop.call_soon_threadsafe(future.set_result, result)

        self._jobs.put(job)
        return await future

    async def run_trio(self, work: Callable[[], _T]) -> _T:
        """``work()`` on the thread, under trio: the task parked, rescheduled by its token."""
        token, task = trio.lowlevel.current_trio_token(), trio.lowlevel.current_task()

        def job() -> None:
            token.run_sync_soon(trio.lowlevel.reschedule, task, outcome.capture(work))

        self._jobs.put(job)
        result: _T = await trio.lowlevel.wait_task_rescheduled(lambda _: trio.lowlevel.Abort.FAILED)
        return result

    def stop(self) -> None:
        self._jobs.put(None)
        self._thread.join()


# ---- the floor write ----------------------------------------------------------------------------

_FLOOR_SCHEMA = {
    "without_rowid": """
        CREATE TABLE sessions (id TEXT PRIMARY KEY, head TEXT, turns INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE turns (session_id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
                            PRIMARY KEY (session_id, seq)) WITHOUT ROWID;
    """,
    "rowid_index": """
        CREATE TABLE sessions (id TEXT PRIMARY KEY, head TEXT, turns INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE turns (seq INTEGER PRIMARY KEY, session_id TEXT NOT NULL, body TEXT NOT NULL);
        CREATE INDEX turns_session ON turns (session_id, seq);
    """,
}


class Conflict(Exception):
    """The session's head was not the one expected: nothing was written."""


class FloorStore:
    """The least a store can do per append and keep the contract (see the module docstring),
    on a connection used by one thread only."""

    def __init__(self, path: Path, schema: str, synchronous: str) -> None:
        self.path, self.schema, self.synchronous = path, schema, synchronous
        self.db: sqlite3.Connection | None = None
        self.head: str | None = None

    def open(self) -> None:  # on the hop's thread
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self.synchronous}")
        db.executescript(_FLOOR_SCHEMA[self.schema])
        db.execute("INSERT INTO sessions VALUES ('bench', NULL, 0)")
        self.db = db

    def append(self, body: str, new_head: str) -> None:
        db = self.db
        assert db is not None
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(
                "UPDATE sessions SET head = ?, turns = turns + 1 WHERE id = ? AND head IS ? RETURNING turns",
                (new_head, "bench", self.head),
            ).fetchone()
            if row is None:
                raise Conflict(self.head)
            if self.schema == "without_rowid":
                db.execute("INSERT INTO turns VALUES (?, ?, ?)", ("bench", row[0], body))
            else:
                db.execute("INSERT INTO turns (session_id, body) VALUES (?, ?)", ("bench", body))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        self.head = new_head

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


def encoded(entries: Sequence[Entry]) -> str:
    """A turn's row: its entries as one JSON array."""
    return "[" + ",".join(dumps_entry(entry) for entry in entries) + "]"


# ---- append -------------------------------------------------------------------------------------


def new_id() -> str:
    return uuid.uuid4().hex


async def asyncio_block(
    contenders: dict[str, Callable[[], Awaitable[object]]], rounds: Rounds, first: int, count: int
) -> None:
    for number in range(first, first + count):
        for name in rotated(list(contenders), number):
            call = contenders[name]
            begun = time.perf_counter()
            await call()
            rounds.add(name, time.perf_counter() - begun)


async def trio_block(
    contenders: dict[str, Callable[[], Awaitable[object]]], rounds: Rounds, first: int, count: int
) -> None:
    await asyncio_block(contenders, rounds, first, count)  # the same loop, trio's awaits


def append_run(root: Path, synchronous: str, appends: int, block: int, store: bool) -> Rounds:
    """``appends`` rounds of every append contender at ``synchronous``."""
    rounds = Rounds()
    rng = random.Random(1)
    hop, db_thread = Hop(), DatabaseThread("bench-floor-database")
    floors = {
        schema: FloorStore(root / f"floor-{schema}-{synchronous}.db", schema, synchronous) for schema in _FLOOR_SCHEMA
    }
    encoding = FloorStore(root / f"floor-encoding-{synchronous}.db", "without_rowid", synchronous)
    making = FloorStore(root / f"floor-making-{synchronous}.db", "without_rowid", synchronous)
    on_trio = FloorStore(root / f"floor-trio-{synchronous}.db", "without_rowid", synchronous)
    for floor in (*floors.values(), encoding, making, on_trio):
        floor.open()  # here; then only the hop's thread uses it
    session = their_session("bench", root / f"theirs-{synchronous}.db", synchronous)
    state: dict[str, Any] = {}

    def next_turn() -> None:
        """The round's turn: its commit, its entries and its two messages as the peer's items."""
        commit = turn(rng)
        state["commit"] = commit
        state["entries"] = commit_entries(commit, parent_id=None, new_id=new_id, at=time.time())
        state["body"] = encoded(state["entries"])
        user, answer = commit.messages
        assert isinstance(user, UserMessage) and isinstance(answer, AssistantMessage)
        state["items"] = [{"role": "user", "content": user.content}, {"role": "assistant", "content": answer.text}]

    async def theirs() -> None:
        await session.add_items(state["items"])

    def write(floor: FloorStore) -> Callable[[], None]:
        return lambda: floor.append(state["body"], state["entries"][-1].id)

    def write_encoding(floor: FloorStore) -> Callable[[], None]:
        return lambda: floor.append(encoded(state["entries"]), state["entries"][-1].id)

    def write_making() -> None:
        entries = commit_entries(state["commit"], parent_id=making.head, new_id=new_id, at=time.time())
        making.append(encoded(entries), entries[-1].id)

    def nothing() -> None:
        return None

    async def ours(store_: SQLiteStore) -> None:
        entries = commit_entries(state["commit"], parent_id=state["head"], new_id=new_id, at=time.time())
        state["head"] = (await store_.append("bench", entries, expected_head=state["head"])).head

    by_asyncio: dict[str, Callable[[], Awaitable[object]]] = {
        "SQLiteSession.add_items": theirs,
        "hop: asyncio.to_thread": lambda: asyncio.to_thread(nothing),
        "hop: DatabaseThread.run": lambda: db_thread.run(nothing),
        "hop: cheapest": lambda: hop.run(nothing),
        "floor write, rowid + index": lambda: hop.run(write(floors["rowid_index"])),
        "floor write, WITHOUT ROWID": lambda: hop.run(write(floors["without_rowid"])),
        "floor write + dumps_entry": lambda: hop.run(write_encoding(encoding)),
        "floor write + commit_entries + dumps_entry": lambda: hop.run(write_making),
    }
    by_trio: dict[str, Callable[[], Awaitable[object]]] = {
        "trio hop: DatabaseThread.run": lambda: db_thread.run(nothing),
        "trio hop: cheapest": lambda: hop.run_trio(nothing),
        "trio floor write + dumps_entry": lambda: hop.run_trio(write_encoding(on_trio)),
    }

    with asyncio.Runner() as runner:
        sqlite_store: SQLiteStore | None = None
        if store:
            sqlite_store = SQLiteStore(root / f"ours-{synchronous}.db", synchronous=synchronous)  # type: ignore[arg-type]
            runner.run(sqlite_store.open())
            state["head"] = runner.run(sqlite_store.create("bench")).head
            by_asyncio["SQLiteStore.append"] = lambda: ours(sqlite_store)
        # one unmeasured round: connections opened, statements prepared
        next_turn()
        for call in by_asyncio.values():
            runner.run(call())  # type: ignore[arg-type]
        trio.run(lambda: trio_block(by_trio, Rounds(), 0, 1))
        done = 0
        while done < appends:
            count = min(block, appends - done)

            async def asyncio_rounds(first: int = done, count: int = count) -> None:
                for number in range(first, first + count):
                    next_turn()
                    await asyncio_block(by_asyncio, rounds, number, 1)

            async def trio_rounds(first: int = done, count: int = count) -> None:
                for number in range(first, first + count):
                    next_turn()
                    await trio_block(by_trio, rounds, number, 1)

            runner.run(asyncio_rounds())
            trio.run(trio_rounds)
            done += count
        if sqlite_store is not None:
            runner.run(sqlite_store.aclose())
    session.close()
    for floor in (*floors.values(), encoding, making, on_trio):
        hop_close(hop, floor)
    hop.stop()
    db_thread.stop()
    return rounds


def hop_close(hop: Hop, floor: FloorStore) -> None:
    done = threading.Event()

    def close() -> None:
        floor.close()
        done.set()

    hop._jobs.put(close)
    done.wait()


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f}"


def append_report(rounds: Rounds, synchronous: str) -> list[str]:
    theirs = rounds.seconds["SQLiteSession.add_items"]
    t50, t99 = percentile(theirs, 0.5), percentile(theirs, 0.99)
    rows = []
    for name, times in rounds.seconds.items():
        p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
        low, high = percentile(times, 0.25), percentile(times, 0.75)
        rows.append([name, us(p50), f"{us(low)}-{us(high)}", us(p99), f"{t50 / p50:.2f}x", f"{t99 / p99:.2f}x"])
    head = [
        f"append, synchronous={synchronous}",
        "p50 us",
        "p25-p75 us",
        "p99 us",
        "theirs p50 / it",
        "theirs p99 / it",
    ]
    return [*table(head, rows, {}), ""]


# ---- cold load ----------------------------------------------------------------------------------


_COLUMNS_SCHEMA = """
CREATE TABLE messages (
    session_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, parent TEXT, at REAL NOT NULL,
    turn INTEGER NOT NULL, role TEXT NOT NULL, text TEXT NOT NULL, model TEXT,
    prompt_tokens INTEGER, completion_tokens INTEGER, total_tokens INTEGER, reasoning_tokens INTEGER,
    cached_tokens INTEGER,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;
CREATE TABLE turns (session_id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
                    PRIMARY KEY (session_id, seq)) WITHOUT ROWID;
"""

_COLUMNS = (
    "id, parent, at, turn, role, text, model, prompt_tokens, completion_tokens, total_tokens, reasoning_tokens,"
    " cached_tokens"
)


def column_row(entry: Entry) -> tuple[Any, ...]:
    """An entry of a text message as plain columns (the session's messages are all such)."""
    assert isinstance(entry, MessageEntry)
    message = entry.message
    if isinstance(message, UserMessage):
        assert isinstance(message.content, str)
        return (entry.id, entry.parent_id, entry.at, entry.turn, "user", message.content, *(None,) * 6)
    assert isinstance(message, AssistantMessage) and message.usage is not None
    usage = message.usage
    counts = (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, usage.reasoning_tokens)
    return (entry.id, entry.parent_id, entry.at, entry.turn, "assistant", message.text, message.model, *counts,
            usage.cached_tokens)  # fmt: skip


def typed_from_columns(session_id: str, rows: list[tuple[Any, ...]]) -> list[Entry]:
    """The typed entries of plain-column rows, each column's type checked (a row that does not
    pass is a ``SessionEntryError`` naming the session and the entry)."""
    new_entry, new_user, new_text, new_assistant, new_usage = (
        _codec._new_message_entry,
        _codec._new_user,
        _codec._new_text,
        _codec._new_assistant,
        _codec._new_usage,
    )
    empty_raw = _codec._EMPTY_RAW
    usages: dict[tuple[Any, ...], Any] = {}
    out: list[Entry] = []
    append = out.append
    for entry_id, parent, at, turn_number, role, text, model, *counts in rows:
        if (
            type(entry_id) is not str
            or not entry_id
            or (parent is not None and type(parent) is not str)
            or type(at) is not float
            or type(turn_number) is not int
            or type(text) is not str
        ):
            what = f"id {entry_id!r}, parent {parent!r}, at {at!r}, turn {turn_number!r}, text {type(text).__name__}"
            raise SessionEntryError(session_id, entry_id if type(entry_id) is str else None, f"a bad column: {what}")
        if role == "user":
            append(new_entry(entry_id, parent, at, new_user(text), turn_number))
            continue
        if role != "assistant" or (model is not None and type(model) is not str):
            raise SessionEntryError(session_id, entry_id, f"role {role!r} or model {model!r}")
        key = tuple(counts)
        usage = usages.get(key)
        if usage is None:
            for count in counts:
                if count is not None and type(count) is not int:
                    raise SessionEntryError(session_id, entry_id, f"token count {count!r}")
            usage = usages[key] = new_usage(*counts, empty_raw, False)
        answer = new_assistant((new_text(text),), model, None, None, usage, None)
        append(new_entry(entry_id, parent, at, answer, turn_number))
    return out


def typed_from_turns(session_id: str, bodies: list[str]) -> list[Entry]:
    """The typed entries of one-row-per-turn bodies (each a JSON array of the turn's entries)."""
    try:
        turns = json.loads("[" + ",".join(bodies) + "]")
    except ValueError as exc:
        raise SessionEntryError(session_id, None, f"a turn is not JSON: {exc}") from None
    items = [item for one in turns for item in one]
    fast, left = _codec._fast_entries(items)
    if left:
        return [
            entry if entry is not None else _codec.entry_from_json(item, session_id=session_id)
            for entry, item in zip(fast, items, strict=True)
        ]
    return fast  # type: ignore[return-value]


def load_run(root: Path, messages: int, loads: int) -> tuple[Rounds, Rounds]:
    """``loads`` rounds of every cold-load contender on one ``messages``-message session: the
    wall-clock times, and the process's CPU times."""
    rounds, cpu = Rounds(), Rounds()
    ours_path = root / "big.db"
    asyncio.run(fill_ours(ours_path, messages))

    async def entries_of() -> list[Entry]:
        async with SQLiteStore(ours_path) as store:
            return (await store.load("big"))[1]

    entries = [entry for entry in asyncio.run(entries_of()) if isinstance(entry, MessageEntry)]
    assert len(entries) == messages  # and the session's metadata entry, which the floors keep elsewhere
    floor = sqlite3.connect(root / "floor-big.db", isolation_level=None, check_same_thread=False)
    floor.executescript(_COLUMNS_SCHEMA)
    floor.execute("BEGIN")
    floor.executemany(
        "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [("big", seq, *column_row(entry)) for seq, entry in enumerate(entries)],
    )
    floor.executemany(
        "INSERT INTO turns VALUES (?, ?, ?)",
        [("big", seq, encoded(entries[i : i + 2])) for seq, i in enumerate(range(0, messages, 2))],
    )
    floor.execute("COMMIT")
    ours_rows = sqlite3.connect(ours_path, isolation_level=None, check_same_thread=False)
    items: list[Any] = []
    for entry in entries:
        row = column_row(entry)
        items.append({"role": row[4], "content": row[5]})
    session = their_session("big", root / "theirs-big.db", "full")
    asyncio.run(session.add_items(items))
    hop = Hop()

    def ours_bodies() -> list[str]:
        return [r[0] for r in ours_rows.execute("SELECT body FROM entries WHERE session_id = ? ORDER BY seq", ("big",))]

    def turn_bodies() -> list[str]:
        return [r[0] for r in floor.execute("SELECT body FROM turns WHERE session_id = ? ORDER BY seq", ("big",))]

    def column_rows() -> list[tuple[Any, ...]]:
        return floor.execute(f"SELECT {_COLUMNS} FROM messages WHERE session_id = ? ORDER BY seq", ("big",)).fetchall()

    def typed_columns() -> list[Entry]:
        with gc_paused():
            return typed_from_columns("big", column_rows())

    def typed_turns() -> list[Entry]:
        with gc_paused():
            return typed_from_turns("big", turn_bodies())

    fetched = column_rows()

    def typed_only() -> list[Entry]:
        with gc_paused():
            return typed_from_columns("big", fetched)

    def typed_columns_rebuilt() -> int:
        with gc_paused():
            return len(rebuild("big", typed_from_columns("big", column_rows())).messages)

    async def ours_cold(store: SQLiteStore) -> int:
        return len(rebuild("big", (await store.load("big"))[1]).messages)

    async def theirs() -> int:
        return len(await session.get_items())

    def check(got: Any) -> None:  # the store's schema has the metadata entry too; one row per turn holds two
        assert (got if isinstance(got, int) else len(got)) in (messages, messages + 1, messages // 2)

    async def main() -> None:
        async with SQLiteStore(ours_path, cache_sessions=0) as cold:
            contenders: dict[str, Callable[[], Awaitable[Any]]] = {
                "SQLiteSession.get_items": theirs,
                "SQLiteStore load + rebuild": lambda: ours_cold(cold),
                "rows: the store's schema": lambda: hop.run(ours_bodies),
                "rows: one per turn": lambda: hop.run(turn_bodies),
                "rows: plain columns": lambda: hop.run(column_rows),
                "the store's schema + loads_entries": lambda: hop.run(
                    lambda: loads_entries(ours_bodies(), session_id="big")
                ),
                "one per turn + fast_entries": lambda: hop.run(typed_turns),
                "plain columns + builders": lambda: hop.run(typed_columns),
                "builders alone (rows fetched before)": lambda: hop.run(typed_only),
                "plain columns + builders + rebuild": lambda: hop.run(typed_columns_rebuilt),
            }
            typed = await hop.run(typed_columns)
            assert typed == entries  # the floor builds what the store's reader builds
            assert await hop.run(typed_turns) == entries
            for call in contenders.values():  # one unmeasured round
                check(await call())
            for number in range(loads):
                for name in rotated(list(contenders), number):
                    begun, began_cpu = time.perf_counter(), time.process_time()
                    got = await contenders[name]()
                    rounds.add(name, time.perf_counter() - begun)
                    cpu.add(name, time.process_time() - began_cpu)
                    check(got)

    asyncio.run(main())
    hop.stop()
    session.close()
    floor.close()
    ours_rows.close()
    return rounds, cpu


def load_report(rounds: Rounds, cpu: Rounds, messages: int) -> list[str]:
    rows = []
    for name in rounds.seconds:
        low, high = rounds.spread(name)
        cpu_low, cpu_high = cpu.spread(name)
        rows.append(
            [
                name,
                f"{rounds.median(name) * 1e3:.1f}",
                f"{low * 1e3:.1f}-{high * 1e3:.1f}",
                f"{cpu.median(name) * 1e3:.1f} ({cpu_low * 1e3:.1f}-{cpu_high * 1e3:.1f})",
                f"{rounds.ratio('SQLiteSession.get_items', name):.2f}x",
            ]
        )
    head = [f"cold load, {messages:,} messages", "wall ms", "p25-p75", "CPU ms (p25-p75)", "theirs / it"]
    return [*table(head, rows, {}), ""]


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main(appends: int, loads: int, messages: int, block: int, store: bool, only: str | None) -> int:
    print(f"load average before: {load_average()} (1, 5, 15 minutes), SQLite {sqlite3.sqlite_version}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if only != "load":
            for synchronous in ("normal", "full"):
                for line in append_report(append_run(root, synchronous, appends, block, store), synchronous):
                    print(line)
        if only != "append":
            for line in load_report(*load_run(root, messages, loads), messages):
                print(line)
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appends", type=int, default=1000, help="rounds of appends at each setting")
    parser.add_argument("--block", type=int, default=50, help="rounds per asyncio block (then as many under trio)")
    parser.add_argument("--loads", type=int, default=15, help="rounds of cold loads")
    parser.add_argument("--messages", type=int, default=10_000, help="messages in the loaded session")
    parser.add_argument("--store", action="store_true", help="also time SQLiteStore.append in the rounds")
    parser.add_argument("--only", choices=["append", "load"], help="one part alone")
    arguments = parser.parse_args()
    sys.exit(
        main(arguments.appends, arguments.loads, arguments.messages, arguments.block, arguments.store, arguments.only)
    )
