"""Durable agent runs and fleets of workers on DBOS (``pip install 'anyagent[dbos]'``).

A durable run is one DBOS workflow: each model request and each tool call is a step whose
result is checkpointed in the system database (SQLite on one machine, PostgreSQL for many
workers). A run a crash stopped goes on from its last checkpoint when a process recovers it:
no completed request or tool call is repeated; a tool call the crash cut off runs again only if
its tool is ``idempotent`` (or read-only), otherwise the model is told it was interrupted.
Queues spread runs over workers with limits on concurrency (per worker and over all of them),
rates and priorities; a task's id is its run's id, so a task runs once.

DBOS runs on asyncio only: every entry point here raises ``NotAsyncioError`` under trio.
See docs/durable.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._agent import (
        DurableAgent,
        DurableError,
        DurableRun,
        NotAsyncioError,
        RunOverrides,
        launch,
        shutdown,
        task_queue,
    )
    from ._driver import INTERRUPTED_CALL, DurableDriver

__all__ = [
    "INTERRUPTED_CALL",
    "DurableAgent",
    "DurableDriver",
    "DurableError",
    "DurableRun",
    "NotAsyncioError",
    "RunOverrides",
    "launch",
    "shutdown",
    "task_queue",
]

_FROM_DRIVER = {"INTERRUPTED_CALL", "DurableDriver"}


def __getattr__(name: str) -> Any:
    """The names load DBOS when first used (``anyagent batch``'s parser needs none of it)."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        import dbos  # noqa: F401
    except ImportError:
        raise ImportError(
            "anyagent_httpx.durable needs DBOS, which is not installed: pip install 'anyagent[dbos]'"
        ) from None
    if name in _FROM_DRIVER:
        from . import _driver as module
    else:
        from . import _agent as module  # type: ignore[no-redef]
    return getattr(module, name)
