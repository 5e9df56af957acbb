"""The session functions (``list_sessions_from_store`` ...) on a claude-style ``SessionStore``.

``_sessions`` sends a store here when it is not anyagent's. The session of ``directory`` (the
current one by default) is under ``project_key_for_directory(directory)``. Listing needs the
store's ``list_sessions`` (its summaries, when it keeps them, spare a ``load`` per session);
renaming and tagging append a ``custom-title`` or ``tag`` line, as Claude Code does; deleting
is nothing on a store without ``delete``; a fork is a new transcript of the lines up to the
message given, with new ids.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any, cast

from ._store import (
    SessionKey,
    SessionStore,
    SessionStoreEntry,
    SessionSummaryEntry,
    fold_session_summary,
    implements,
    project_key_for_directory,
)

__all__ = [
    "delete",
    "described",
    "forked",
    "info_of",
    "is_session_id",
    "listed",
    "messages_of",
    "mutate",
    "subagent_messages_of",
    "subagents_of",
]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def _key(session_id: str, directory: str | None) -> SessionKey:
    return {"project_key": project_key_for_directory(directory), "session_id": session_id}


def _ms(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def described(summary: SessionSummaryEntry) -> dict[str, Any]:
    """The fields of an ``SDKSessionInfo`` a summary gives."""
    data = summary["data"]
    title = data.get("custom_title") or data.get("ai_title")
    first = data.get("first_prompt")
    return {
        "session_id": summary["session_id"],
        "summary": title or data.get("last_prompt") or first or "",
        "last_modified": summary["mtime"] or _ms(data.get("last_at")) or 0,
        "custom_title": data.get("custom_title"),
        "first_prompt": first,
        "git_branch": data.get("git_branch"),
        "cwd": data.get("cwd"),
        "tag": data.get("tag"),
        "created_at": _ms(data.get("created_at")),
    }


async def _summary(store: SessionStore, key: SessionKey, mtime: int) -> SessionSummaryEntry | None:
    lines = await store.load(key)
    if not lines:
        return None
    summary = fold_session_summary(None, key, list(lines))
    summary["mtime"] = mtime
    return summary


async def listed(store: SessionStore, directory: str | None) -> list[dict[str, Any]]:
    """The project's sessions, most recently written first."""
    if not implements(store, "list_sessions"):
        raise NotImplementedError(f"{type(store).__name__} has no list_sessions(): its sessions cannot be listed")
    project = project_key_for_directory(directory)
    sessions = {s["session_id"]: s["mtime"] for s in await store.list_sessions(project)}
    summaries: dict[str, SessionSummaryEntry] = {}
    if implements(store, "list_session_summaries"):
        summaries = {s["session_id"]: s for s in await store.list_session_summaries(project)}
    out = []
    for session_id, mtime in sorted(sessions.items(), key=lambda item: -item[1]):
        summary = summaries.get(session_id)
        if summary is None or summary["mtime"] < mtime:  # none kept, or older than the transcript
            summary = await _summary(store, {"project_key": project, "session_id": session_id}, mtime)
        if summary is not None:
            out.append(described(summary))
    return out


async def info_of(store: SessionStore, session_id: str, directory: str | None) -> dict[str, Any] | None:
    key = _key(session_id, directory)
    lines = await store.load(key)
    if not lines:
        return None
    summary = fold_session_summary(None, key, list(lines))
    summary["mtime"] = _ms(summary["data"].get("last_at")) or 0
    if implements(store, "list_sessions"):
        mtimes = {s["session_id"]: s["mtime"] for s in await store.list_sessions(key["project_key"])}
        summary["mtime"] = mtimes.get(session_id, summary["mtime"])
    return described(summary)


async def messages_of(store: SessionStore, session_id: str, directory: str | None) -> list[dict[str, Any]]:
    """The user and assistant lines of the main conversation (not meta nor sidechain lines)."""
    lines = await store.load(_key(session_id, directory)) or []
    return [
        {
            "type": line["type"],
            "uuid": str(line.get("uuid", "")),
            "session_id": session_id,
            "message": line.get("message"),
        }
        for line in (dict(entry) for entry in lines)
        if line.get("type") in ("user", "assistant")
        and isinstance(line.get("message"), Mapping)
        and not line.get("isMeta")
        and not line.get("isSidechain")
    ]


async def mutate(store: SessionStore, session_id: str, directory: str | None, line: dict[str, Any]) -> None:
    """Append ``line`` (a title or a tag) to an existing session."""
    key = _key(session_id, directory)
    if not await store.load(key):
        raise LookupError(f"no session {session_id!r} in the session_store under {key!r}")
    await store.append(key, [cast(SessionStoreEntry, {**line, "sessionId": session_id})])


async def delete(store: SessionStore, session_id: str, directory: str | None) -> None:
    if implements(store, "delete"):
        await store.delete(_key(session_id, directory))


async def forked(
    store: SessionStore, session_id: str, directory: str | None, up_to: str | None, title: str | None
) -> str:
    """The id of a new session holding the lines of ``session_id`` up to the message ``up_to``."""
    key = _key(session_id, directory)
    lines = [dict(line) for line in await store.load(key) or []]
    if not lines:
        raise LookupError(f"no session {session_id!r} in the session_store under {key!r}")
    if up_to is not None:
        at = next((i for i, line in enumerate(lines) if line.get("uuid") == up_to), None)
        if at is None:
            raise ValueError(f"session {session_id!r} has no message {up_to!r}")
        lines = lines[: at + 1]
    new_id = str(uuid.uuid4())
    ids = {line["uuid"]: uuid.uuid4().hex for line in lines if isinstance(line.get("uuid"), str)}
    copied: list[SessionStoreEntry] = []
    for line in lines:
        if line.get("type") in ("custom-title", "tag"):
            continue
        line = {**line, "sessionId": new_id, "forkedFrom": {"sessionId": session_id, "messageUuid": line.get("uuid")}}
        if line.get("uuid") in ids:
            line["uuid"] = ids[line["uuid"]]
        if line.get("parentUuid") in ids:
            line["parentUuid"] = ids[line["parentUuid"]]
        ours = line.get("anyagent")
        if isinstance(ours, Mapping):  # anyagent's entry takes the new ids too
            entry_id, parent = ours.get("id"), ours.get("parent")
            line["anyagent"] = {**ours, "id": ids.get(entry_id, entry_id), "parent": ids.get(parent, parent)}
        copied.append(cast(SessionStoreEntry, line))
    if title is not None:
        copied.append(cast(SessionStoreEntry, {"type": "custom-title", "customTitle": title, "sessionId": new_id}))
    await store.append({"project_key": key["project_key"], "session_id": new_id}, copied)
    return new_id


# ---- subagents: their transcripts under subpaths of the session, as Claude Code writes them ------


def is_session_id(text: str) -> bool:
    """Whether ``text`` is a UUID, as Claude Code's session ids are."""
    return _UUID.fullmatch(text) is not None


async def _subagent_keys(store: SessionStore, key: SessionKey) -> dict[str, str]:
    """Each subagent's id and the subpath of its transcript (``subagents/agent-<id>``, or deeper
    under ``subagents/``), in the store's order."""
    found: dict[str, str] = {}
    for subpath in await store.list_subkeys(key):
        last = subpath.rsplit("/", 1)[-1]
        if subpath.startswith("subagents/") and last.startswith("agent-"):
            found.setdefault(last.removeprefix("agent-"), subpath)
    return found


async def subagents_of(store: SessionStore, session_id: str, directory: str | None) -> list[str]:
    """The ids of the session's subagents (none for an id that is not a UUID)."""
    if not is_session_id(session_id):
        return []
    if not implements(store, "list_subkeys"):
        raise NotImplementedError(f"{type(store).__name__} has no list_subkeys(): its subagents cannot be listed")
    return list(await _subagent_keys(store, _key(session_id, directory)))


async def subagent_messages_of(
    store: SessionStore, session_id: str, agent_id: str, directory: str | None
) -> list[dict[str, Any]]:
    """The user and assistant lines of a subagent's transcript, along its ``parentUuid`` chain
    from its last message, each with the ``Task`` call and the agent that started it (from the
    transcript's ``agent_metadata`` line)."""
    if not is_session_id(session_id) or not agent_id:
        return []
    key = _key(session_id, directory)
    subpath: str | None = f"subagents/agent-{agent_id}"
    if implements(store, "list_subkeys"):
        subpath = (await _subagent_keys(store, key)).get(agent_id)
    if subpath is None:
        return []
    lines = [dict(entry) for entry in await store.load({**key, "subpath": subpath}) or []]
    meta = next((line for line in reversed(lines) if line.get("type") == "agent_metadata"), {})
    by_id = {line["uuid"]: line for line in lines if isinstance(line.get("uuid"), str)}
    leaf = next((line for line in reversed(lines) if line.get("type") in ("user", "assistant")), None)
    chain: list[dict[str, Any]] = []
    seen: set[int] = set()
    while leaf is not None and id(leaf) not in seen:  # a cycle ends the walk
        seen.add(id(leaf))
        chain.append(leaf)
        parent = leaf.get("parentUuid")
        leaf = by_id.get(parent) if isinstance(parent, str) else None
    tool_use, parent_agent = meta.get("toolUseId"), meta.get("parentAgentId")
    return [
        {
            "type": line["type"],
            "uuid": line["uuid"],
            "session_id": str(line.get("sessionId", "")),
            "message": line.get("message"),
            "parent_tool_use_id": tool_use if isinstance(tool_use, str) else None,
            "parent_agent_id": parent_agent if isinstance(parent_agent, str) else None,
        }
        for line in reversed(chain)
        if line.get("type") in ("user", "assistant") and isinstance(line.get("uuid"), str)
    ]
