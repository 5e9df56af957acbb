"""The ``SessionStore`` contract: what every store (in memory, SQLite, PostgreSQL, yours) does,
the values it hands back, and its errors.

A store keeps sessions as the core's append-only logs of entries (``anyagent_core.sessions``)
plus what is asked of them often: a record per session (title, tags, model, working directory,
times, its head), the runs' usage and cost, the tool executions, and long-term memories. Every
method is async and safe to call from concurrent tasks; a store opened is closed with
``aclose()`` (or ``async with``).

The rules every store keeps (``anyagent_httpx.testing.check_session_store`` checks them):

- ``append`` is atomic: the entries of one committed turn, its tool executions and its run
  record are all stored or none is. It is also *optimistic*: it names the head it expects the
  session to have, and if another writer moved the head first it raises
  ``SessionConflictError`` (nothing is written; reload and retry). Appending the same entries
  again after an append whose outcome was unknown (a dropped connection) is not a conflict: the
  store sees they are there and returns the head.
- ``load`` returns the chain from the session's root to its head, a fork's shared history
  included, parsed and checked (``SessionEntryError`` for an entry that is not right).
- A fork shares its history: ``fork`` writes one metadata entry whose parent is the entry forked
  at; deleting the original keeps what its forks need.
- Nothing is changed by a call that fails: a missing session (``SessionNotFoundError``), a
  conflict, a store that cannot be reached or read (``SessionStoreError``), a file from a newer
  schema (``SessionSchemaError``) or a corrupt one (``SessionStoreCorruptError``).
- API keys are never stored: entries hold conversation content and the stores add nothing of
  the endpoint's.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable

import attrs

from anyagent_core import ResultMessage
from anyagent_core.json import JSONObject, freeze_object
from anyagent_core.sessions import Entry, MessageEntry, ResultEntry, SessionEntryError
from anyagent_core.value import Value
from anyagent_httpx._errors import AnyAgentError

__all__ = [
    "MemoryRecord",
    "SearchHit",
    "SessionConflictError",
    "SessionError",
    "SessionInfo",
    "SessionNotFoundError",
    "SessionOrder",
    "SessionSchemaError",
    "SessionStore",
    "SessionStoreCorruptError",
    "SessionStoreError",
    "ToolExecution",
    "UsageStats",
    "day_of",
    "fts_terms",
    "run_row",
]


class SessionError(AnyAgentError):
    """Base class of the session stores' errors."""


class SessionNotFoundError(SessionError, LookupError):
    """No session (or entry) of that id in the store."""

    def __init__(self, session_id: str, what: str = "") -> None:
        super().__init__(what or f"no session {session_id!r} in the store")
        self.session_id = session_id


class SessionConflictError(SessionError):
    """Another writer appended to the session first: ``expected`` was the head this append
    built on, ``actual`` is the head now. Nothing was written; load the session and retry."""

    def __init__(self, session_id: str, *, expected: str | None, actual: str | None) -> None:
        super().__init__(
            f"session {session_id!r} moved on: the append expected head {expected!r}, the head is {actual!r}; "
            "nothing was written (load the session again and retry)"
        )
        self.session_id = session_id
        self.expected = expected
        self.actual = actual


class SessionStoreError(SessionError):
    """The store cannot be used: unreachable, locked, unreadable, closed."""


class SessionStoreCorruptError(SessionStoreError):
    """The store's data is damaged (a file that is not a database, a damaged page); it was not
    changed."""


class SessionSchemaError(SessionStoreError):
    """The store was written by a newer version of anyagent (its schema version is higher than
    this version knows); it was not changed."""


SessionOrder: TypeAlias = Literal["updated", "created"]


def _tags(value: Sequence[str]) -> tuple[str, ...]:
    tags = (value,) if isinstance(value, str) else tuple(value)
    for tag in tags:
        if not isinstance(tag, str) or not tag:
            raise ValueError(f"a tag must be a non-empty string, not {tag!r}")
    return tags


@attrs.frozen(kw_only=True, repr=False, eq=False)
class SessionInfo(Value):
    """A store's record of one session."""

    session_id: str
    created_at: float
    """Unix time."""
    updated_at: float
    head: str | None
    """The last entry's id: what the next append names as ``expected_head``."""
    title: str | None = None
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tags)
    model: str | None = None
    """The model of the session's last run (or the one it was created with)."""
    cwd: str | None = None
    message_count: int = 0
    """Messages in the session's conversation, a fork's shared history included."""
    forked_from: str | None = None
    """The session this one was forked from."""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class SearchHit(Value):
    """A message that matched a full-text search."""

    session_id: str
    """The session whose log holds the message (forks share their history's messages with it)."""
    entry_id: str
    snippet: str
    """The matching passage, terms marked with ``[`` and ``]``."""
    score: float
    """Higher is better; comparable within one search only."""
    at: float
    role: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ToolExecution(Value):
    """One tool call as it ran (or was refused)."""

    session_id: str
    call_id: str
    tool: str
    input: JSONObject = attrs.field(converter=freeze_object)
    output: str
    """The result's text, capped (``OUTPUT_CAP`` characters, with a note of what was cut)."""
    is_error: bool
    decision: Literal["allow", "ask", "deny"]
    """``allow``: the rules let it run; ``ask``: it ran after ``can_use_tool`` said yes;
    ``deny``: it was refused and did not run."""
    seconds: float | None
    at: float


@attrs.frozen(kw_only=True, repr=False, eq=False)
class UsageStats(Value):
    """Runs, tokens and cost summed over a group (a session, a model, a UTC day, or all)."""

    session_id: str | None = None
    model: str | None = None
    day: str | None = None
    """``YYYY-MM-DD`` (UTC)."""
    runs: int = 0
    turns: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0


@attrs.frozen(kw_only=True, repr=False, eq=False)
class MemoryRecord(Value):
    """A fact kept across sessions."""

    memory_id: str
    text: str
    at: float
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tags)
    session_id: str | None = None
    """The session it was learned in."""
    vector: tuple[float, ...] | None = attrs.field(default=None, repr=False)
    score: float = 0.0
    """For ``recall``: how well it matched (higher is better)."""


@runtime_checkable
class SessionStore(Protocol):
    """What a session store does; see the module docstring for the rules."""

    async def create(
        self,
        session_id: str,
        *,
        title: str | None = None,
        tags: Sequence[str] = (),
        model: str | None = None,
        cwd: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> SessionInfo:
        """A new session whose log begins with a metadata entry; ``SessionConflictError`` if the
        id is taken."""
        ...

    async def append(
        self,
        session_id: str,
        entries: Sequence[Entry],
        *,
        expected_head: str | None,
        tool_executions: Sequence[ToolExecution] = (),
    ) -> SessionInfo:
        """Add one committed turn atomically (see the rules); the entries must chain from
        ``expected_head``."""
        ...

    async def load(self, session_id: str) -> tuple[SessionInfo, list[Entry]]:
        """The session's record and its entries from the root to the head."""
        ...

    async def get(self, session_id: str) -> SessionInfo: ...

    async def list_sessions(
        self,
        *,
        cwd: str | None = None,
        tag: str | None = None,
        since: float | None = None,
        until: float | None = None,
        order: SessionOrder = "updated",
        descending: bool = True,
        limit: int | None = None,
    ) -> list[SessionInfo]:
        """Sessions, filtered by working directory, tag and time (``since <= t < until`` on the
        ``order`` time), newest first unless ``descending=False``."""
        ...

    async def fork(
        self, session_id: str, *, at_entry: str | None = None, new_session_id: str, title: str | None = None
    ) -> SessionInfo:
        """A new session sharing ``session_id``'s history up to ``at_entry`` (its head by
        default), without copying it."""
        ...

    async def update(
        self,
        session_id: str,
        *,
        title: str | None = None,
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
    ) -> SessionInfo:
        """Rename (``title``, when given) and tag the session."""
        ...

    async def delete(self, session_id: str) -> None:
        """Remove the session (what its forks share stays, out of sight)."""
        ...

    async def search(
        self, query: str, *, limit: int = 20, session_id: str | None = None, cwd: str | None = None
    ) -> list[SearchHit]:
        """Messages matching every word of ``query``, best first."""
        ...

    async def stats(
        self,
        *,
        session_id: str | None = None,
        group_by: Sequence[Literal["session", "model", "day"]] = (),
        since: float | None = None,
        until: float | None = None,
    ) -> list[UsageStats]:
        """Usage and cost of the runs, summed per group (one total without ``group_by``)."""
        ...

    async def tool_executions(self, session_id: str, *, limit: int | None = None) -> list[ToolExecution]:
        """The session's tool executions, oldest first (the last ``limit``)."""
        ...

    async def cleanup(self, *, older_than: float | None = None, keep: int | None = None) -> int:
        """Delete sessions last updated before ``older_than`` (Unix time) and all but the
        ``keep`` most recently updated; the number deleted."""
        ...

    async def remember(
        self,
        text: str,
        *,
        memory_id: str,
        tags: Sequence[str] = (),
        session_id: str | None = None,
        vector: Sequence[float] | None = None,
    ) -> MemoryRecord:
        """Keep a memory (its embedding beside it when given)."""
        ...

    async def recall(
        self, query: str, *, vector: Sequence[float] | None = None, limit: int = 5, tag: str | None = None
    ) -> list[MemoryRecord]:
        """Memories matching ``query``: by embedding similarity when ``vector`` is given (those
        stored with a vector of the same length), else by full-text search; best first."""
        ...

    async def forget(self, memory_id: str) -> None: ...

    async def memories(self, *, limit: int | None = None, tag: str | None = None) -> list[MemoryRecord]:
        """Memories, newest first."""
        ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> SessionStore: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


# ---- helpers the stores share ------------------------------------------------------------------

_WORD = re.compile(r"\w+", re.UNICODE)


def fts_terms(query: str) -> list[str]:
    """The words of a search query (what every store matches: all of them, any order)."""
    return _WORD.findall(query)


def day_of(at: float) -> str:
    """The UTC day of a Unix time, ``YYYY-MM-DD``."""
    return datetime.datetime.fromtimestamp(at, datetime.UTC).date().isoformat()


def run_row(entry: ResultEntry, session_id: str, model: str | None) -> tuple[Any, ...]:
    """What the stats keep of a run: session, time, day, model, subtype, turns, tokens, cost,
    duration. Its counts are 64-bit integers in every store (its turns 32-bit): one past them
    is a ``SessionEntryError`` naming the entry and the count."""
    result: ResultMessage = entry.result
    usage = result.usage
    prompt = usage.prompt_tokens or 0 if usage is not None else 0
    completion = usage.completion_tokens or 0 if usage is not None else 0
    total = (usage.total_tokens or prompt + completion) if usage is not None else 0
    for name, value, bits in (
        ("num_turns", result.num_turns, 32),
        ("prompt_tokens", prompt, 64),
        ("completion_tokens", completion, 64),
        ("total_tokens", total, 64),
        ("duration_ms", result.duration_ms, 64),
    ):
        if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            raise SessionEntryError(
                session_id, entry.id, f"the run's {name}, {value}, does not fit a {bits}-bit integer"
            )
    return (
        session_id,
        entry.at,
        day_of(entry.at),
        result.model or model,
        result.subtype,
        result.num_turns,
        prompt,
        completion,
        total,
        result.total_cost_usd or 0.0,
        result.duration_ms,
    )


def check_chain(session_id: str, entries: Sequence[Entry], expected_head: str | None) -> None:
    """The entries chain from ``expected_head``, one after another; ``ValueError`` otherwise."""
    parent = expected_head
    for entry in entries:
        if entry.parent_id != parent:
            raise ValueError(
                f"session {session_id!r}: entry {entry.id!r} has parent {entry.parent_id!r}, expected {parent!r}"
            )
        parent = entry.id


def counted_messages(entries: Sequence[Entry]) -> int:
    return sum(1 for entry in entries if type(entry) is MessageEntry)


def validate_limit(name: str, value: int | None) -> None:
    if value is not None and (type(value) is not int or value < 0):
        raise ValueError(f"{name} must be a non-negative integer or None, not {value!r}")
