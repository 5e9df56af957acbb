"""One thread that runs every database call of one store, in order, fed by a queue.

``anyio.to_thread.run_sync`` per call costs a hop to a pool thread, a copy of the context and
a lock around the connection; a store's calls are serialised anyway (one connection), so a
thread of its own that takes them from a queue does the same work for less, and keeps the
connection on one thread. The caller waits, shielded from cancellation (a write is never
left half-known), for the thread to wake its event loop, asyncio's or trio's.

Fork: a thread does not survive ``fork()``, and neither may a database connection opened
before it (the child must not use, nor close, the parent's: closing it could checkpoint and
remove the write-ahead log the parent still writes). ``DatabaseThread.current()`` is false in
a child, so its store starts a thread and a connection of its own there, keeping the inherited
connection referenced, never closed. A ``fork()`` waits for the calls and idle steps running on
the process's threads to end (a child forked inside SQLite would inherit its locks held).

Idle work: a thread given an ``idle`` callable calls it once its queue has stayed empty for
``idle_after`` seconds after a call (at once after a call that asked for it: ``soon()``), and
again at once while it answers true (more to do) and no call waits; a call that comes
meanwhile waits for one step at most. A store does the work
that no caller needs to wait for there (its full-text rows, its log's checkpoints).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, Final, Generic, TypeVar

import anyio
import anyio.lowlevel

__all__ = ["IDLE_AFTER", "DatabaseThread", "abandon"]

_T = TypeVar("_T")

logger = logging.getLogger("anyagent")

#: Seconds without a call after which a thread does its idle work.
IDLE_AFTER: Final = 0.05

#: Connections inherited through ``fork()``: kept from the garbage collector, which would close
#: them (see the module docstring).
_INHERITED: list[Any] = []


def abandon(connection: Any) -> None:
    """Keep ``connection`` (inherited from the parent process) open and unused for good."""
    _INHERITED.append(connection)


#: The live threads, and the lock held while the set changes and from before a ``fork()`` to after.
_THREADS: weakref.WeakSet[DatabaseThread] = weakref.WeakSet()
_THREADS_LOCK = threading.Lock()
_HELD: list[threading.Lock] = []


def _before_fork() -> None:
    """Wait for every thread's running call or idle step to end, and hold them until the fork is
    done: a thread forked while inside SQLite would leave SQLite's own locks (its allocator's
    mutex) held for good in the child, whose first ``sqlite3.connect`` would then never return.
    A call may start a thread (a checkpointer): taken in turn until none is new, the set's lock
    held last, so that none starts before the fork."""
    held: list[DatabaseThread] = []
    while True:
        _THREADS_LOCK.acquire()
        new = [thread for thread in _THREADS if not any(thread is old for old in held)]
        if not new:
            return  # holding _THREADS_LOCK, released by _after_fork
        _THREADS_LOCK.release()
        for thread in new:
            thread._busy.acquire()
            _HELD.append(thread._busy)
            held.append(thread)


def _after_fork() -> None:
    """In the parent and in the child: let the threads (the parent's) go on."""
    while _HELD:
        _HELD.pop().release()
    _THREADS_LOCK.release()


# Registered after ``logging``'s own (imported above): hooks run before a fork in the reverse
# order, so a call that logs is waited for before logging's lock is taken.
os.register_at_fork(before=_before_fork, after_in_parent=_after_fork, after_in_child=_after_fork)


def _waker() -> Callable[[Callable[[], object]], object]:
    """A thread-safe ``call_soon`` into the running event loop (asyncio's, else trio's)."""
    try:
        return asyncio.get_running_loop().call_soon_threadsafe
    except RuntimeError:  # not asyncio: anyio's other backend
        import trio

        return trio.lowlevel.current_trio_token().run_sync_soon


class _Job(Generic[_T]):
    __slots__ = ("done", "error", "result", "wake", "work")

    def __init__(self, work: Callable[[], _T], wake: Callable[[Callable[[], object]], object]) -> None:
        self.work = work
        self.wake = wake
        self.done = anyio.Event()
        self.result: _T | None = None
        self.error: BaseException | None = None

    def __call__(self) -> None:
        try:
            self.result = self.work()
        except BaseException as exc:  # handed to the caller, whatever it is
            self.error = exc
        with contextlib.suppress(RuntimeError):  # the caller's event loop is gone: the thread goes on
            self.wake(self.done.set)


class DatabaseThread:
    """A daemon thread running the calls given to ``run`` one at a time, in order, and
    ``idle()`` in steps when no call has come for ``idle_after`` seconds (see the module
    docstring; an ``idle`` that raises is logged and not called again)."""

    def __init__(self, name: str, *, idle: Callable[[], bool] | None = None, idle_after: float = IDLE_AFTER) -> None:
        self.pid = os.getpid()
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._soon = False
        self._busy = threading.Lock()
        """Held while a call or an idle step runs: ``fork()`` waits for it (see ``_before_fork``)."""
        with _THREADS_LOCK:
            _THREADS.add(self)
        args = (self._queue, idle, idle_after)
        self._thread = threading.Thread(target=self._serve, args=args, name=name, daemon=True)
        self._thread.start()

    def _serve(
        self, jobs: queue.SimpleQueue[Callable[[], None] | None], idle: Callable[[], bool] | None, idle_after: float
    ) -> None:
        wait: float | None = None  # how long to wait for a call before an idle step (None: no step due)
        busy = self._busy
        while True:
            try:
                job = jobs.get(timeout=wait)
            except queue.Empty:
                assert idle is not None
                try:
                    with busy:
                        more = idle()
                    wait = 0.0 if more else None
                except Exception:  # the idle work is nobody's call: it stops, said so, the calls go on
                    logger.exception(
                        "the idle work of %s failed; it is not done again", threading.current_thread().name
                    )
                    idle = wait = None
                continue
            if job is None:
                return
            with busy:
                job()
            if idle is not None:
                wait = 0.0 if self._soon else idle_after
            self._soon = False

    def soon(self) -> None:
        """From a call on the thread: start the idle work as soon as the caller has its answer
        and no other call waits, not after ``idle_after``."""
        self._soon = True

    def current(self) -> bool:
        """The thread is this process's (false in a child after ``fork()``)."""
        return self.pid == os.getpid()

    async def run(self, work: Callable[[], _T]) -> _T:
        """``work()`` on the thread; its result, or its exception raised here."""
        await anyio.lowlevel.checkpoint_if_cancelled()
        job = _Job(work, _waker())
        self._queue.put(job)
        with anyio.CancelScope(shield=True):
            await job.done.wait()
        if job.error is not None:
            error, job.error = job.error, None
            raise error
        return job.result  # type: ignore[return-value]

    def post(self, work: Callable[[], None]) -> None:
        """``work()`` on the thread, after the calls given before, nobody waiting for it (it
        must not raise)."""
        self._queue.put(work)

    def stop(self) -> None:
        """End the thread once the calls given before are done."""
        self._queue.put(None)
