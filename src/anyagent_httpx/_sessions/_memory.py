"""``MemoryStore``: a ``SessionStore`` in process memory, for tests and throwaway runs.

It keeps the same rules as the stores on disk (atomic, optimistic appends; forks sharing
history; typed errors; entries parsed on load from the same JSON the others write), so code
tested against it behaves the same on SQLite or PostgreSQL. Nothing survives the process.
Search matches every word of the query, case-insensitively, scored by how often they occur.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal

import anyio.lowlevel
import attrs

from anyagent_core.sessions import (
    Entry,
    MessageEntry,
    MetadataEntry,
    ResultEntry,
    dumps_entry,
    loads_entries,
    searchable_text,
)

from ._base import (
    MemoryRecord,
    SearchHit,
    SessionConflictError,
    SessionInfo,
    SessionNotFoundError,
    SessionOrder,
    SessionStoreError,
    ToolExecution,
    UsageStats,
    check_chain,
    counted_messages,
    fts_terms,
    run_row,
    validate_limit,
)
from ._vectors import VectorIndex

__all__ = ["MemoryStore"]


@attrs.define
class _Session:
    info: SessionInfo
    texts: list[tuple[str, str, float, str | None]]  # (entry id, JSON text, at, role)
    base: tuple[str, str] | None = None  # (session, entry) the history is shared from
    deleted: bool = False


class MemoryStore:
    """Sessions and memories in a dict; ``clock`` gives Unix time."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        self._runs: list[tuple[Any, ...]] = []
        self._tools: list[ToolExecution] = []
        self._memories: dict[str, MemoryRecord] = {}
        self._keys: dict[str, int] = {}
        self._vectors = VectorIndex()
        self._serial = 0
        self._closed = False

    async def open(self) -> None:
        await anyio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        self._closed = True
        await anyio.lowlevel.checkpoint()

    async def __aenter__(self) -> MemoryStore:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _ready(self) -> None:
        if self._closed:
            raise SessionStoreError("the memory store is closed")
        await anyio.lowlevel.checkpoint()

    def _session(self, session_id: str) -> _Session:
        found = self._sessions.get(session_id)
        if found is None or found.deleted:
            raise SessionNotFoundError(session_id)
        return found

    def _texts(self, session_id: str) -> list[tuple[str, str, float, str | None]]:
        session = self._sessions[session_id]
        own = list(session.texts)
        if session.base is None:
            return own
        base_session, base_entry = session.base
        shared = self._texts(base_session)
        upto = next(i for i, row in enumerate(shared) if row[0] == base_entry)
        return shared[: upto + 1] + own

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
        await self._ready()
        if session_id in self._sessions:
            raise SessionConflictError(session_id, expected=None, actual="(the id is taken)")
        at = self._clock()
        meta = MetadataEntry(
            id=f"{session_id}:meta",
            parent_id=None,
            at=at,
            title=title,
            tags=tuple(tags),
            model=model,
            cwd=cwd,
            data=data or {},
        )
        info = SessionInfo(
            session_id=session_id,
            created_at=at,
            updated_at=at,
            head=meta.id,
            title=title,
            tags=tuple(tags),
            model=model,
            cwd=cwd,
        )
        self._sessions[session_id] = _Session(info=info, texts=[(meta.id, dumps_entry(meta), at, None)])
        return info

    async def append(
        self,
        session_id: str,
        entries: Sequence[Entry],
        *,
        expected_head: str | None,
        tool_executions: Sequence[ToolExecution] = (),
    ) -> SessionInfo:
        entries = list(entries)
        check_chain(session_id, entries, expected_head)
        texts = [dumps_entry(e) for e in entries]
        await self._ready()
        session = self._session(session_id)
        info = session.info
        if info.head != expected_head:
            if entries and info.head == entries[-1].id:
                return info
            raise SessionConflictError(session_id, expected=expected_head, actual=info.head)
        model = info.model
        for entry, text in zip(entries, texts, strict=True):
            role = None
            if type(entry) is MessageEntry:
                role = "user" if type(entry.message).__name__ == "UserMessage" else "assistant"
            session.texts.append((entry.id, text, entry.at, role))
            if type(entry) is ResultEntry:
                self._runs.append(run_row(entry, session_id, model))
                model = entry.result.model or model
        self._tools.extend(tool_executions)
        session.info = attrs.evolve(
            info,
            head=entries[-1].id if entries else info.head,
            updated_at=max([info.updated_at, *(e.at for e in entries)]),
            model=model,
            message_count=info.message_count + counted_messages(entries),
        )
        return session.info

    async def load(self, session_id: str) -> tuple[SessionInfo, list[Entry]]:
        await self._ready()
        info = self._session(session_id).info
        return info, loads_entries([row[1] for row in self._texts(session_id)], session_id=session_id)

    async def get(self, session_id: str) -> SessionInfo:
        await self._ready()
        return self._session(session_id).info

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
        if order not in ("updated", "created"):
            raise ValueError(f"order must be 'updated' or 'created', not {order!r}")
        validate_limit("limit", limit)
        await self._ready()

        def when(info: SessionInfo) -> float:
            return info.updated_at if order == "updated" else info.created_at

        found = [
            (i, s.info)
            for i, s in enumerate(self._sessions.values())
            if not s.deleted
            and (cwd is None or s.info.cwd == cwd)
            and (tag is None or tag in s.info.tags)
            and (since is None or when(s.info) >= since)
            and (until is None or when(s.info) < until)
        ]
        found.sort(key=lambda pair: (when(pair[1]), pair[0]), reverse=descending)
        infos = [info for _, info in found]
        return infos if limit is None else infos[:limit]

    async def fork(
        self, session_id: str, *, at_entry: str | None = None, new_session_id: str, title: str | None = None
    ) -> SessionInfo:
        await self._ready()
        session = self._session(session_id)
        point = at_entry if at_entry is not None else session.info.head
        rows = self._texts(session_id)
        ids = [row[0] for row in rows]
        if point not in ids:
            raise SessionNotFoundError(session_id, f"entry {point!r} is not in session {session_id!r}")
        if new_session_id in self._sessions:
            raise SessionConflictError(new_session_id, expected=None, actual="(the id is taken)")
        owner = next(sid for sid, s in self._sessions.items() if any(row[0] == point for row in s.texts))
        shared = sum(1 for row in rows[: ids.index(point) + 1] if row[3] is not None)
        at = self._clock()
        info = session.info
        name = title if title is not None else info.title
        meta = MetadataEntry(
            id=f"{new_session_id}:meta",
            parent_id=point,
            at=at,
            title=name,
            tags=info.tags,
            model=info.model,
            cwd=info.cwd,
            forked_from=session_id,
        )
        new = attrs.evolve(
            info,
            session_id=new_session_id,
            created_at=at,
            updated_at=at,
            head=meta.id,
            title=name,
            message_count=shared,
            forked_from=session_id,
        )
        self._sessions[new_session_id] = _Session(
            info=new, texts=[(meta.id, dumps_entry(meta), at, None)], base=(owner, point)
        )
        return new

    async def update(
        self,
        session_id: str,
        *,
        title: str | None = None,
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
    ) -> SessionInfo:
        await self._ready()
        session = self._session(session_id)
        tags = [t for t in session.info.tags if t not in set(remove_tags)]
        tags += [t for t in dict.fromkeys(add_tags) if t not in tags]
        session.info = attrs.evolve(
            session.info, tags=tuple(tags), title=title if title is not None else session.info.title
        )
        return session.info

    async def delete(self, session_id: str) -> None:
        await self._ready()
        self._session(session_id)
        self._delete(session_id)

    def _delete(self, session_id: str) -> None:
        while True:
            if any(s.base is not None and s.base[0] == session_id for s in self._sessions.values()):
                self._sessions[session_id].deleted = True
                return
            session = self._sessions.pop(session_id)
            self._runs = [row for row in self._runs if row[0] != session_id]
            self._tools = [t for t in self._tools if t.session_id != session_id]
            if session.base is None:
                return
            parent = self._sessions.get(session.base[0])
            if parent is None or not parent.deleted:
                return
            session_id = session.base[0]

    async def search(
        self, query: str, *, limit: int = 20, session_id: str | None = None, cwd: str | None = None
    ) -> list[SearchHit]:
        validate_limit("limit", limit)
        await self._ready()
        terms = [t.casefold() for t in fts_terms(query)]
        if not terms:
            return []
        hits = []
        for sid, session in self._sessions.items():
            if session.deleted or (session_id is not None and sid != session_id):
                continue
            if cwd is not None and session.info.cwd != cwd:
                continue
            for entry_id, text, at, role in session.texts:
                if role is None:
                    continue
                (entry,) = loads_entries([text], session_id=sid)
                body = searchable_text(entry)
                words = [w.casefold() for w in fts_terms(body)]
                if all(term in words for term in terms):
                    score = sum(words.count(term) for term in terms) / len(words)
                    hits.append(
                        SearchHit(
                            session_id=sid,
                            entry_id=entry_id,
                            snippet=_snippet(body, terms),
                            score=score,
                            at=at,
                            role=role,
                        )
                    )
        hits.sort(key=lambda hit: -hit.score)
        return hits[:limit]

    async def stats(
        self,
        *,
        session_id: str | None = None,
        group_by: Sequence[Literal["session", "model", "day"]] = (),
        since: float | None = None,
        until: float | None = None,
    ) -> list[UsageStats]:
        positions = {"session": 0, "model": 3, "day": 2}
        for name in group_by:
            if name not in positions:
                raise ValueError(f"group_by takes 'session', 'model' and 'day', not {name!r}")
        await self._ready()
        groups: dict[tuple[Any, ...], list[Any]] = {}
        for row in self._runs:
            if session_id is not None and row[0] != session_id:
                continue
            if (since is not None and row[1] < since) or (until is not None and row[1] >= until):
                continue
            key = tuple(row[positions[name]] for name in group_by)
            total = groups.setdefault(key, [0, 0, 0, 0, 0, 0.0])
            for i, value in enumerate((1, row[5], row[6], row[7], row[8], row[9])):
                total[i] += value
        out = []
        for key in sorted(groups, key=lambda k: tuple("" if v is None else str(v) for v in k)):
            named = dict(zip(group_by, key, strict=True))
            runs, turns, prompt, completion, total, cost = groups[key]
            out.append(
                UsageStats(
                    session_id=named.get("session"),
                    model=named.get("model"),
                    day=named.get("day"),
                    runs=runs,
                    turns=turns,
                    prompt_tokens=prompt,
                    completion_tokens=completion,
                    total_tokens=total,
                    cost_usd=cost,
                )
            )
        return out or ([UsageStats(session_id=session_id)] if not group_by else [])

    async def tool_executions(self, session_id: str, *, limit: int | None = None) -> list[ToolExecution]:
        validate_limit("limit", limit)
        await self._ready()
        self._session(session_id)
        found = [t for t in self._tools if t.session_id == session_id]
        return found if limit is None else found[len(found) - limit :] if limit else []

    async def cleanup(self, *, older_than: float | None = None, keep: int | None = None) -> int:
        validate_limit("keep", keep)
        await self._ready()
        live = sorted(
            ((sid, s.info.updated_at) for sid, s in self._sessions.items() if not s.deleted),
            key=lambda pair: -pair[1],
        )
        doomed = [
            sid
            for index, (sid, updated) in enumerate(live)
            if (older_than is not None and updated < older_than) or (keep is not None and index >= keep)
        ]
        for sid in doomed:
            self._delete(sid)
        return len(doomed)

    async def remember(
        self,
        text: str,
        *,
        memory_id: str,
        tags: Sequence[str] = (),
        session_id: str | None = None,
        vector: Sequence[float] | None = None,
    ) -> MemoryRecord:
        if not text.strip():
            raise ValueError("a memory needs some text")
        await self._ready()
        if memory_id in self._memories:
            raise SessionConflictError(memory_id, expected=None, actual="(the memory id is taken)")
        record = MemoryRecord(
            memory_id=memory_id,
            text=text,
            at=self._clock(),
            tags=tuple(tags),
            session_id=session_id,
            vector=None if vector is None else tuple(float(x) for x in vector),
        )
        self._memories[memory_id] = record
        self._serial += 1
        self._keys[memory_id] = self._serial
        if record.vector is not None:
            self._vectors.add(self._serial, record.vector)
        return record

    async def recall(
        self, query: str, *, vector: Sequence[float] | None = None, limit: int = 5, tag: str | None = None
    ) -> list[MemoryRecord]:
        validate_limit("limit", limit)
        await self._ready()
        by_key = {key: self._memories[mid] for mid, key in self._keys.items()}
        if vector is not None:
            ranked = self._vectors.nearest(vector, len(by_key))
            found = [attrs.evolve(by_key[k], score=s) for k, s in ranked if tag is None or tag in by_key[k].tags]
            return found[:limit]
        terms = {t.casefold() for t in fts_terms(query)}
        scored = []
        for record in self._memories.values():
            if tag is not None and tag not in record.tags:
                continue
            words = [w.casefold() for w in fts_terms(record.text)]
            hits = sum(1 for w in words if w in terms)
            if hits:
                scored.append(attrs.evolve(record, score=hits / len(words)))
        scored.sort(key=lambda m: -m.score)
        return scored[:limit]

    async def forget(self, memory_id: str) -> None:
        await self._ready()
        if memory_id not in self._memories:
            raise SessionNotFoundError(memory_id, f"no memory {memory_id!r} in the store")
        del self._memories[memory_id]
        self._vectors.remove(self._keys.pop(memory_id))

    async def memories(self, *, limit: int | None = None, tag: str | None = None) -> list[MemoryRecord]:
        validate_limit("limit", limit)
        await self._ready()
        found = [m for m in reversed(self._memories.values()) if tag is None or tag in m.tags]
        return found if limit is None else found[:limit]


def _snippet(text: str, terms: Sequence[str]) -> str:
    words = re.split(r"(\w+)", text)
    marked = "".join(f"[{w}]" if w.casefold() in terms else w for w in words)
    first = marked.find("[")
    start = max(0, first - 40)
    return ("…" if start else "") + marked[start : start + 120] + ("…" if start + 120 < len(marked) else "")
