"""claude-agent-sdk's ``SessionStore`` protocol: a store of transcript lines under keys.

A claude-style store keeps, per ``SessionKey`` (``project_key``, ``session_id`` and, for a
subagent's transcript, a ``subpath``), the JSON objects appended to it, in order. Only
``append`` and ``load`` are required; ``list_sessions``, ``list_session_summaries``,
``delete`` and ``list_subkeys`` are optional: a store that does not define them (or inherits
the protocol's, which raise ``NotImplementedError``) lacks them, and ``implements()`` says so.
``InMemorySessionStore`` is the one for tests; ``anyagent_httpx.claude.testing`` checks a
store against the contract. (anyagent's own ``SessionStore``, ``anyagent_httpx.SessionStore``,
is another protocol: both are accepted by ``ClaudeAgentOptions(session_store=)``.)
"""

import datetime
import os
import re
import time
import unicodedata
from typing import Any, Literal, NoReturn, NotRequired, Protocol, Required, TypeAlias, TypedDict

__all__ = [
    "InMemorySessionStore",
    "SessionKey",
    "SessionListSubkeysKey",
    "SessionStore",
    "SessionStoreEntry",
    "SessionStoreFlushMode",
    "SessionStoreListEntry",
    "SessionSummaryEntry",
    "fold_session_summary",
    "implements",
    "project_key_for_directory",
]


class SessionKey(TypedDict):
    """Where a transcript is kept: the main one of a session has no ``subpath``; a subagent's
    has one such as ``"subagents/agent-<id>"`` (never empty)."""

    project_key: str
    session_id: str
    subpath: NotRequired[str]


class SessionListSubkeysKey(TypedDict):
    """A session, for ``list_subkeys``."""

    project_key: str
    session_id: str


class SessionStoreEntry(TypedDict, total=False):
    """One transcript line. A store keeps it as JSON and gives back an equal object (its keys
    may come back in another order)."""

    type: Required[str]
    uuid: str
    timestamp: str


class SessionStoreListEntry(TypedDict):
    """A session of ``list_sessions``: its id and when it was last written, in milliseconds
    since the epoch."""

    session_id: str
    mtime: int


class SessionSummaryEntry(TypedDict):
    """What ``fold_session_summary`` keeps of a session; ``mtime`` is stamped by the store when it
    writes it (on the clock of its ``list_sessions``), ``data`` is kept as given."""

    session_id: str
    mtime: int
    data: dict[str, Any]


SessionStoreFlushMode: TypeAlias = Literal["batched", "eager"]

_OPTIONAL = ("list_sessions", "list_session_summaries", "delete", "list_subkeys")


def _lacks(store: object, method: str) -> NoReturn:
    raise NotImplementedError(f"{type(store).__name__} has no {method}()")


class SessionStore(Protocol):
    """claude-agent-sdk's store of transcripts. Subclassing is not needed: any object with
    ``append`` and ``load`` is one; the optional methods below raise ``NotImplementedError`` so a
    subclass that leaves them out is seen to lack them (and is not abstract for a type checker)."""

    async def append(self, key: SessionKey, entries: list[SessionStoreEntry]) -> None:
        """Keep ``entries`` after those already under ``key``, in order."""
        ...

    async def load(self, key: SessionKey) -> list[SessionStoreEntry] | None:
        """The entries under ``key`` in the order appended; ``None`` if nothing was."""
        ...

    async def list_sessions(self, project_key: str) -> list[SessionStoreListEntry]:
        """The main transcripts of ``project_key`` (in any order)."""
        _lacks(self, "list_sessions")

    async def list_session_summaries(self, project_key: str) -> list[SessionSummaryEntry]:
        """The summaries kept for the main transcripts of ``project_key``."""
        _lacks(self, "list_session_summaries")

    async def delete(self, key: SessionKey) -> None:
        """Forget ``key``; a main transcript's key takes its subkeys with it."""
        _lacks(self, "delete")

    async def list_subkeys(self, key: SessionListSubkeysKey) -> list[str]:
        """The subpaths kept under a session."""
        _lacks(self, "list_subkeys")


def implements(store: object, method: str) -> bool:
    """``store`` has the optional ``method`` of its own (not the protocol's placeholder)."""
    if method not in _OPTIONAL:
        raise ValueError(f"{method!r} is not an optional SessionStore method; they are {', '.join(_OPTIONAL)}")
    found = getattr(type(store), method, None)
    return callable(found) and found is not getattr(SessionStore, method)


# ---- project keys --------------------------------------------------------------------------------

_NOT_ALNUM = re.compile(r"[^a-zA-Z0-9]")
_KEY_LENGTH = 200


def _djb2(text: str) -> str:
    """Claude Code's short hash of a long path: 32-bit djb2 (as JavaScript computes it), base 36."""
    value = 0
    for char in text:
        value = (value * 31 + ord(char)) & 0xFFFFFFFF
    if value >= 0x80000000:
        value -= 0x100000000
    value = abs(value)
    digits = ""
    while True:
        value, digit = divmod(value, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
        if not value:
            return digits


def project_key_for_directory(directory: str | os.PathLike[str] | None = None) -> str:
    """The ``project_key`` of a working directory (the current one by default), as Claude Code
    names its project folders: the resolved path, NFC-normalised, every character other than
    ASCII letters and digits made ``-``; past 200 characters, cut and followed by a hash."""
    path = unicodedata.normalize("NFC", os.path.realpath(os.fspath(directory) if directory is not None else "."))
    key = _NOT_ALNUM.sub("-", path)
    return key if len(key) <= _KEY_LENGTH else f"{key[:_KEY_LENGTH]}-{_djb2(path)}"


# ---- summaries -----------------------------------------------------------------------------------


def _epoch_ms(stamp: Any) -> int | None:
    if not isinstance(stamp, str):
        return None
    try:
        return int(datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _prompt(entry: dict[str, Any]) -> str | None:
    """The text of a user's prompt (not of tool results, nor of meta or summary lines)."""
    if entry.get("type") != "user" or entry.get("isMeta") is True or entry.get("isCompactSummary") is True:
        return None
    message = entry.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        texts = [content]
    elif isinstance(content, list):
        if any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
            return None
        texts = [b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)]
    else:
        return None
    text = " ".join(" ".join(texts).split())
    return (text if len(text) <= 200 else text[:200].rstrip() + "…") or None


#: Lines whose field is the latest value of a summary's key: (line field, summary key).
_LATEST = (("customTitle", "custom_title"), ("aiTitle", "ai_title"), ("gitBranch", "git_branch"), ("cwd", "cwd"))


def fold_session_summary(
    prev: SessionSummaryEntry | None, key: SessionKey, entries: list[SessionStoreEntry]
) -> SessionSummaryEntry:
    """``prev`` (None for a session's first append) updated with the entries appended under the
    main transcript ``key``: the first prompt, the latest title, tag, branch and working
    directory, the first and last entry times. A store calls it in ``append`` (not for subpaths)
    and stamps ``mtime`` itself; ``prev``'s is kept."""
    data: dict[str, Any] = dict(prev["data"]) if prev is not None else {}
    for entry in entries:
        line: dict[str, Any] = dict(entry)
        at = _epoch_ms(line.get("timestamp"))
        if at is not None:
            data.setdefault("created_at", at)
            data["last_at"] = at
        if "first_prompt" not in data and (prompt := _prompt(line)) is not None:
            data["first_prompt"] = prompt
        if line.get("type") == "user" and (prompt := _prompt(line)) is not None:
            data["last_prompt"] = prompt
        for field, name in _LATEST:
            if isinstance(line.get(field), str):
                data[name] = line[field]
        if line.get("type") == "tag":
            data["tag"] = line.get("tag") or None
    return {"session_id": key["session_id"], "mtime": prev["mtime"] if prev is not None else 0, "data": data}


# ---- the store for tests -------------------------------------------------------------------------


def _path(key: SessionKey | SessionListSubkeysKey) -> tuple[str, str, str]:
    """The key as a tuple; an empty subpath is the main transcript (as claude-agent-sdk's store reads it)."""
    return key["project_key"], key["session_id"], str(key.get("subpath") or "")


class InMemorySessionStore(SessionStore):
    """A claude-style store in a dict, for tests and trials (gone when the process ends). It has
    every optional method, and keeps summaries with ``fold_session_summary``."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], list[SessionStoreEntry]] = {}
        self._mtimes: dict[tuple[str, str, str], int] = {}
        self._summaries: dict[tuple[str, str], SessionSummaryEntry] = {}
        self._last = 0

    def _now(self) -> int:
        """Milliseconds since the epoch, later at each call (two appends never share a time)."""
        self._last = max(int(time.time() * 1000), self._last + 1)
        return self._last

    async def append(self, key: SessionKey, entries: list[SessionStoreEntry]) -> None:
        if not entries:
            return
        where = _path(key)
        self._entries.setdefault(where, []).extend(dict(entry) for entry in entries)  # type: ignore[misc]
        self._mtimes[where] = now = self._now()
        if not where[2]:
            session = where[:2]
            summary = fold_session_summary(self._summaries.get(session), key, entries)
            summary["mtime"] = now
            self._summaries[session] = summary

    async def load(self, key: SessionKey) -> list[SessionStoreEntry] | None:
        found = self._entries.get(_path(key))
        return None if found is None else [dict(entry) for entry in found]  # type: ignore[misc]

    async def list_sessions(self, project_key: str) -> list[SessionStoreListEntry]:
        return [
            {"session_id": session, "mtime": self._mtimes[(project, session, sub)]}
            for project, session, sub in self._entries
            if project == project_key and not sub
        ]

    async def list_session_summaries(self, project_key: str) -> list[SessionSummaryEntry]:
        return [
            {**summary, "data": dict(summary["data"])}
            for (project, _), summary in self._summaries.items()
            if project == project_key
        ]

    async def delete(self, key: SessionKey) -> None:
        project, session, sub = _path(key)
        doomed = [where for where in self._entries if where[:2] == (project, session) and (not sub or where[2] == sub)]
        for where in doomed:
            del self._entries[where], self._mtimes[where]
        if not sub:
            self._summaries.pop((project, session), None)

    async def list_subkeys(self, key: SessionListSubkeysKey) -> list[str]:
        project, session, _ = _path(key)
        return [sub for p, s, sub in self._entries if (p, s) == (project, session) and sub]

    # ---- for tests --------------------------------------------------------------------------------

    def get_entries(self, key: SessionKey) -> list[SessionStoreEntry]:
        """The entries under ``key`` (an empty list when there are none)."""
        return [dict(entry) for entry in self._entries.get(_path(key), [])]  # type: ignore[misc]

    @property
    def size(self) -> int:
        """How many main transcripts are kept."""
        return sum(1 for _, _, sub in self._entries if not sub)

    def clear(self) -> None:
        self._entries.clear()
        self._mtimes.clear()
        self._summaries.clear()
