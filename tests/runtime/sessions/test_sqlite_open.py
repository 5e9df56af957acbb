"""Opening an SQLite session file another process is writing: the switch to WAL mode waits for
the other writer as every write does (SQLite itself answers "locked" at once there), up to
``busy_timeout``, and past it is a typed error naming the file."""

from __future__ import annotations

import pathlib
import sqlite3
import threading

import pytest

from anyagent_httpx._sessions import SessionStoreError, SQLiteStore
from anyagent_httpx._sessions._sqlite import _busy

pytestmark = pytest.mark.anyio


def hold_write_lock(path: pathlib.Path) -> sqlite3.Connection:
    """Another connection to a new (rollback-journal) file, holding its write lock."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


async def test_a_new_file_being_written_by_another_process_is_opened_once_it_lets_go(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "new.db"
    other = hold_write_lock(path)
    released = threading.Event()

    def let_go() -> None:
        other.execute("COMMIT")
        other.close()
        released.set()

    timer = threading.Timer(0.3, let_go)
    timer.start()
    try:
        async with SQLiteStore(path, busy_timeout=30) as store:
            assert released.is_set()  # it waited for the other writer rather than failing
            assert await store.list_sessions() == []
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        timer.cancel()
        timer.join()


async def test_a_writer_that_never_lets_go_is_a_typed_error_after_busy_timeout(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "held.db"
    other = hold_write_lock(path)
    try:
        with pytest.raises(SessionStoreError, match=r"held\.db is locked by another writer"):
            async with SQLiteStore(path, busy_timeout=0.2):
                pass
    finally:
        other.execute("COMMIT")
        other.close()


@pytest.mark.parametrize(
    ("code", "busy"),
    [
        (sqlite3.SQLITE_BUSY, True),
        (sqlite3.SQLITE_LOCKED, True),
        (261, True),  # SQLITE_BUSY_RECOVERY
        (517, True),  # SQLITE_BUSY_SNAPSHOT
        (262, True),  # SQLITE_LOCKED_SHAREDCACHE
        (sqlite3.SQLITE_IOERR, False),
        (2067, False),  # SQLITE_CONSTRAINT_UNIQUE
        (None, False),
    ],
)
def test_a_lock_is_told_apart_by_its_primary_code(code: int | None, busy: bool) -> None:
    exc = sqlite3.OperationalError("database is locked")
    exc.sqlite_errorcode = code  # type: ignore[assignment]  # None: an error without a code
    assert _busy(exc) is busy
