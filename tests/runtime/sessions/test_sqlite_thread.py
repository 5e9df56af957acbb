"""SQLiteStore runs its calls on a database thread of its own: in order, one thread per store,
errors raised to the caller, a caller cancelled mid-write still sees the write done, and a
store used in a child process after ``fork()`` opens its own connection there (the parent's
keeps working, and the child's writes are the parent's to read)."""

from __future__ import annotations

import functools
import multiprocessing
import os
import pathlib
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable

import anyio
import pytest

from anyagent_core import AssistantMessage, Commit, TextBlock, UserMessage
from anyagent_core.sessions import Entry, commit_entries
from anyagent_httpx._sessions import SessionNotFoundError, SQLiteStore


def turn(head: str | None, prompt: str) -> tuple[Entry, ...]:
    commit = Commit(
        messages=(UserMessage(content=prompt), AssistantMessage(content=[TextBlock(text="ok")])), turn_number=1
    )
    return commit_entries(commit, parent_id=head, new_id=lambda: f"{prompt}-{os.urandom(4).hex()}", at=time.time())


def threads(path: pathlib.Path) -> set[str]:
    """The live threads of the store on ``path``: its database thread and, when a checkpoint is
    due, its checkpointer (other tests' stores are not counted)."""
    return {
        t.name for t in threading.enumerate() if t.name.startswith("anyagent-sqlite") and t.name.endswith(str(path))
    }


@pytest.mark.anyio
async def test_calls_run_in_order_on_one_thread_of_the_store(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as store:
        info = await store.create("s")

        async def append(n: int) -> None:
            await store.search(f"turn{n}")

        async with anyio.create_task_group() as group:
            for n in range(20):
                group.start_soon(append, n)
        head = info.head
        for n in range(5):
            head = (await store.append("s", turn(head, f"p{n}"), expected_head=head)).head
        _, entries = await store.load("s")
        assert [e.id.split("-")[0] for e in entries[1::2]] == [f"p{n}" for n in range(5)]
        assert threads(path) - {f"anyagent-sqlite checkpoint {path}"} == {f"anyagent-sqlite {path}"}
    for _ in range(100):  # aclose ended it
        if not threads(path):
            break
        await anyio.sleep(0.01)
    assert not threads(path)


@pytest.mark.anyio
async def test_errors_reach_the_caller_and_the_thread_goes_on(tmp_path: pathlib.Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        with pytest.raises(SessionNotFoundError):
            await store.load("missing")
        info = await store.create("s")
        assert (await store.get("s")).head == info.head


@pytest.mark.anyio
async def test_a_cancelled_append_is_either_not_begun_or_done(tmp_path: pathlib.Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        info = await store.create("s")
        entries = turn(info.head, "x")
        with anyio.CancelScope() as scope:
            scope.cancel()
            await store.append("s", entries, expected_head=info.head)
        assert (await store.get("s")).head == info.head  # cancelled before it began: not written
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as group:
                group.start_soon(functools.partial(store.append, "s", entries, expected_head=info.head))
                await anyio.wait_all_tasks_blocked()  # the append is on the thread
                scope.cancel()
        assert (await store.get("s")).head == entries[-1].id  # cancelled while writing: written


def _forked(target: Callable[..., None], *args: object) -> int | None:
    """``target(*args)`` in a forked child: its exit code (None if it hung, killed after 60 s, so
    that the test run does not wait for it at exit)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads running: ours is the point
        child = multiprocessing.get_context("fork").Process(target=target, args=args)
        child.start()
    child.join(60)
    if child.is_alive():
        child.kill()
        child.join()
        return None
    return child.exitcode


def _child(path: str, backend: str, store: SQLiteStore, head: str) -> None:
    async def main() -> None:
        info = await store.append("s", turn(head, "child"), expected_head=head)
        assert (await store.load("s"))[0].head == info.head
        await store.aclose()

    anyio.run(main, backend=backend)


def test_a_store_used_after_fork_opens_its_own_connection(tmp_path: pathlib.Path, anyio_backend: str) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)

    async def before() -> str:
        info = await store.create("s")
        head = (await store.append("s", turn(info.head, "parent"), expected_head=info.head)).head
        assert head is not None
        return head

    head = anyio.run(before, backend=anyio_backend)
    assert _forked(_child, str(path), anyio_backend, store, head) == 0

    async def after() -> None:
        _, entries = await store.load("s")
        assert [e.id.split("-")[0] for e in entries[1:]] == ["parent", "parent", "child", "child"]
        await store.append("s", turn(entries[-1].id, "again"), expected_head=entries[-1].id)
        await store.aclose()
        async with SQLiteStore(path) as fresh:
            assert len((await fresh.load("s"))[1]) == 7

    anyio.run(after, backend=anyio_backend)


@pytest.mark.anyio
async def test_idle_work_that_never_ends_does_not_keep_calls_waiting() -> None:
    """Steps of idle work run while no call waits; a call given meanwhile runs after one step."""
    from anyagent_httpx._sessions._thread import DatabaseThread

    steps: list[int] = []

    def idle() -> bool:
        steps.append(1)
        time.sleep(0.001)  # one step's work
        return True  # always more to do

    thread = DatabaseThread("anyagent-sqlite idle test", idle=idle, idle_after=0.0)
    try:
        assert await thread.run(lambda: 1) == 1
        for _ in range(3000):  # a bound on the wait, not a timing check
            if len(steps) >= 3:
                break
            await anyio.sleep(0.01)
        assert len(steps) >= 3, "idle steps ran back to back"
        with anyio.fail_after(30):
            for n in range(20):
                assert await thread.run(functools.partial(int, n * 2)) == n * 2
    finally:
        thread.stop()


@pytest.mark.anyio
async def test_idle_work_that_fails_is_logged_and_the_calls_go_on(caplog: pytest.LogCaptureFixture) -> None:
    from anyagent_httpx._sessions._thread import DatabaseThread

    calls: list[int] = []

    def idle() -> bool:
        calls.append(1)
        raise ValueError("idle broke")

    thread = DatabaseThread("anyagent-sqlite failing idle", idle=idle, idle_after=0.0)
    try:
        await thread.run(lambda: None)
        for _ in range(3000):  # a bound on the wait, not a timing check
            if calls:
                break
            await anyio.sleep(0.01)
        with anyio.fail_after(30):
            for _ in range(5):
                assert await thread.run(lambda: "still here") == "still here"
                await anyio.sleep(0.005)
    finally:
        thread.stop()
    assert calls == [1], "not called again after it failed"
    assert any("idle work of anyagent-sqlite failing idle failed" in r.getMessage() for r in caplog.records)


@pytest.mark.anyio
async def test_a_call_that_asks_for_its_idle_work_soon_gets_it_without_the_quiet_period() -> None:
    from anyagent_httpx._sessions._thread import DatabaseThread

    steps: list[int] = []

    def idle() -> bool:
        steps.append(len(steps))
        return len(steps) < 3  # three steps, then done

    thread = DatabaseThread("anyagent-sqlite soon", idle=idle, idle_after=3600.0)
    try:
        await thread.run(lambda: None)
        await anyio.sleep(0.05)
        assert steps == [], "an hour's quiet is needed"
        await thread.run(thread.soon)
        for _ in range(3000):  # a bound on the wait, not a timing check
            if len(steps) == 3:
                break
            await anyio.sleep(0.01)
        assert steps == [0, 1, 2], "the steps ran after that call, back to back, until done"
    finally:
        thread.stop()


def _child_keeps_the_checkpoint_connection(store: SQLiteStore, backend: str, head: str) -> None:
    from anyagent_httpx._sessions import _thread

    inherited = store._checkpoint_db
    assert inherited is not None

    async def main() -> None:
        await store.load("s")  # a call with no append: no checkpoint of the child's own
        await store.aclose()

    anyio.run(main, backend=backend)
    # Kept for good, not left to the store: the store collected would close it.
    assert store._checkpoint_db is None
    assert any(c is inherited for c in _thread._INHERITED)


def test_a_store_used_after_fork_keeps_the_parent_s_checkpoint_connection_open(
    tmp_path: pathlib.Path, anyio_backend: str
) -> None:
    """The parent's checkpointer connection, inherited, is never closed in the child (closing
    it could checkpoint and remove the log the parent still writes), whether or not the child
    checkpoints itself."""
    from anyagent_httpx._sessions._sqlite import CHECKPOINT_COMMITS

    path = tmp_path / "s.db"
    store = SQLiteStore(path)

    async def before() -> str:
        info = await store.create("s")
        head = info.head
        for n in range(CHECKPOINT_COMMITS):
            head = (await store.append("s", turn(head, f"p{n}"), expected_head=head)).head
        for _ in range(3000):  # a bound on the wait, not a timing check
            if store._checkpoint_db is not None:
                break
            await anyio.sleep(0.01)
        assert store._checkpoint_db is not None
        assert head is not None
        return head

    head = anyio.run(before, backend=anyio_backend)
    assert _forked(_child_keeps_the_checkpoint_connection, store, anyio_backend, head) == 0

    async def after() -> None:
        _, entries = await store.load("s")
        assert len(entries) == 1 + 2 * CHECKPOINT_COMMITS
        await store.aclose()

    anyio.run(after, backend=anyio_backend)


def test_a_fork_waits_for_the_call_running_on_a_database_thread() -> None:
    """A fork landing while a thread is inside SQLite would leave SQLite's own locks held for
    good in the child (its first ``sqlite3.connect`` never returned): the fork waits for the call
    to end, and the child's SQLite works."""
    from anyagent_httpx._sessions._thread import DatabaseThread

    thread = DatabaseThread("anyagent-test-fork")
    started = threading.Event()
    finished: list[bool] = []

    def work() -> None:
        started.set()
        db = sqlite3.connect(":memory:")
        for _ in range(20):  # inside SQLite while the fork is asked for
            db.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) SELECT sum(i) FROM n"
            ).fetchone()
        db.close()
        finished.append(True)

    try:
        thread.post(work)
        assert started.wait(60)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads running: the point
            pid = os.fork()
        if pid == 0:  # the child: the call had ended; SQLite's locks are free
            try:
                ok = finished == [True] and sqlite3.connect(":memory:").execute("SELECT 1").fetchone() == (1,)
            finally:
                os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        thread.stop()
