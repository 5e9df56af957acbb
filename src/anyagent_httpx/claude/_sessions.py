"""claude-agent-sdk's session functions over anyagent's session store.

claude-agent-sdk reads Claude Code's JSONL transcripts; here every conversation the layer runs is
kept in anyagent's store (see ``_options._session_store``), and these functions read and change
it under claude-agent-sdk's names and shapes:

* ``list_sessions``, ``get_session_info``, ``get_session_messages``, ``rename_session``,
  ``tag_session``, ``delete_session`` and ``fork_session`` are synchronous, as there, and work on
  the default SQLite file (``$ANY_AGENT_SESSIONS_DB`` or ``sessions.db`` in the user's data
  directory). Each call opens the file on a worker thread of its own, so it may be called from
  synchronous code and from inside a running event loop alike (it blocks that loop for the read,
  as claude-agent-sdk's file reads do).
* their ``*_from_store`` / ``*_via_store`` counterparts are coroutines taking an anyagent
  ``SessionStore`` (``SQLiteStore``, ``PostgresStore``, ``MemoryStore``) or, as in
  claude-agent-sdk, a store of its ``SessionStore`` protocol (``_store_sessions`` reads and
  changes those: the session of ``directory`` is under its ``project_key``).

``directory`` selects the sessions whose working directory it is (resolved; there are no git
worktrees to scan, so ``include_worktrees`` changes nothing). A session's ``tag`` is its first
tag in the store; ``tag_session`` replaces every tag with the one given.

Subagents' conversations are not kept apart from their parent's here (a task's prompt and answer
are its ``Task`` call and result in the parent's messages): ``list_subagents`` and
``get_subagent_messages`` find none in anyagent's stores, and say so with a
``CompatibilityWarning``. Their ``*_from_store`` counterparts read, from a claude-style store, the
subagent transcripts Claude Code wrote there (``subagents/agent-<id>`` subpaths of the session).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import uuid
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

import anyio

from anyagent_core import (
    Message,
    TextBlock,
    UserMessage,
)
from anyagent_core.sessions import rebuild
from anyagent_httpx._sessions import SessionInfo, SessionNotFoundError, SessionStore, SQLiteStore

from . import _store_sessions as theirs
from ._mirror import anthropic_message
from ._store import SessionStore as ClaudeSessionStore
from ._types import CompatibilityWarning

__all__ = [
    "ForkSessionResult",
    "SDKSessionInfo",
    "SessionMessage",
    "delete_session",
    "delete_session_via_store",
    "fork_session",
    "fork_session_via_store",
    "get_session_info",
    "get_session_info_from_store",
    "get_session_messages",
    "get_session_messages_from_store",
    "get_subagent_messages",
    "get_subagent_messages_from_store",
    "list_sessions",
    "list_sessions_from_store",
    "list_subagents",
    "list_subagents_from_store",
    "rename_session",
    "rename_session_via_store",
    "tag_session",
    "tag_session_via_store",
]

_T = TypeVar("_T")


@dataclasses.dataclass
class SDKSessionInfo:
    """A stored session, as ``list_sessions()`` describes it."""

    session_id: str
    summary: str
    """The session's title, or else its first prompt."""
    last_modified: int
    """Milliseconds since the epoch."""
    file_size: int | None = None
    """Always ``None``: sessions are rows of a store, not files."""
    custom_title: str | None = None
    first_prompt: str | None = None
    git_branch: str | None = None
    """Always ``None``: the store does not record it."""
    cwd: str | None = None
    tag: str | None = None
    created_at: int | None = None
    """Milliseconds since the epoch."""


@dataclasses.dataclass
class SessionMessage:
    """A user or assistant message of a stored session, as ``get_session_messages()`` gives it."""

    type: Literal["user", "assistant"]
    uuid: str
    """The message's entry id in the store (what ``fork_session(up_to_message_id=)`` takes)."""
    session_id: str
    message: Any
    """The message as an Anthropic API message dict (``role``, ``content`` blocks)."""
    parent_tool_use_id: str | None = None
    parent_agent_id: str | None = None


@dataclasses.dataclass
class ForkSessionResult:
    """What ``fork_session()`` made."""

    session_id: str


# ---- the store-backed coroutines -------------------------------------------------------------------


async def list_sessions_from_store(
    session_store: SessionStore | ClaudeSessionStore,
    directory: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[SDKSessionInfo]:
    """The sessions of ``session_store`` (of the working directory ``directory``, when given),
    most recently modified first, ``offset`` skipped and at most ``limit`` given."""
    _page(limit, offset)
    if not isinstance(session_store, SessionStore):
        found = await theirs.listed(session_store, directory)
        found = found[offset:] if limit is None else found[offset : offset + limit]
        return [SDKSessionInfo(**fields) for fields in found]
    wanted = None if limit is None else offset + limit
    infos = await session_store.list_sessions(cwd=_directory(directory), limit=wanted)
    return [await _described(session_store, info) for info in infos[offset:]]


async def get_session_info_from_store(
    session_store: SessionStore | ClaudeSessionStore, session_id: str, directory: str | None = None
) -> SDKSessionInfo | None:
    """The session ``session_id``, or ``None`` when the store has none by that id (in
    ``directory``, when given)."""
    if not isinstance(session_store, SessionStore):
        fields = await theirs.info_of(session_store, session_id, directory)
        return None if fields is None else SDKSessionInfo(**fields)
    try:
        info = await session_store.get(session_id)
    except SessionNotFoundError:
        return None
    wanted = _directory(directory)
    if wanted is not None and info.cwd != wanted:
        return None
    return await _described(session_store, info)


async def get_session_messages_from_store(
    session_store: SessionStore | ClaudeSessionStore,
    session_id: str,
    directory: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[SessionMessage]:
    """The user and assistant messages of the session ``session_id`` in order (tool results are
    user messages, as in Anthropic's API); an empty list when there is no such session."""
    _page(limit, offset)
    if not isinstance(session_store, SessionStore):
        lines = await theirs.messages_of(session_store, session_id, directory)
        said = [SessionMessage(**fields) for fields in lines]
        return said[offset:] if limit is None else said[offset : offset + limit]
    if await get_session_info_from_store(session_store, session_id, directory) is None:
        return []
    _, entries = await session_store.load(session_id)
    conversation = rebuild(session_id, entries)
    ids = conversation.message_ids or (None,) * len(conversation.messages)
    found = [
        SessionMessage(
            type="user" if isinstance(message, UserMessage) else "assistant",
            uuid=entry_id if entry_id is not None else str(uuid.uuid5(uuid.NAMESPACE_URL, f"{session_id}/{at}")),
            session_id=session_id,
            message=anthropic_message(message),
        )
        for at, (message, entry_id) in enumerate(zip(conversation.messages, ids, strict=True))
    ]
    return found[offset:] if limit is None else found[offset : offset + limit]


async def rename_session_via_store(
    session_store: SessionStore | ClaudeSessionStore, session_id: str, title: str, directory: str | None = None
) -> None:
    """Give the session ``session_id`` the title ``title`` (stripped; it must not be empty)."""
    stripped = title.strip()
    if not stripped:
        raise ValueError("title must not be empty")
    if not isinstance(session_store, SessionStore):
        line = {"type": "custom-title", "customTitle": stripped}
        return await theirs.mutate(session_store, session_id, directory, line)
    await _existing(session_store, session_id, directory)
    await session_store.update(session_id, title=stripped)


async def tag_session_via_store(
    session_store: SessionStore | ClaudeSessionStore, session_id: str, tag: str | None, directory: str | None = None
) -> None:
    """Tag the session ``session_id`` with ``tag`` in place of its tags; ``None`` clears them."""
    cleaned = None if tag is None else "".join(ch for ch in tag if ch.isprintable()).strip()
    if cleaned == "":
        raise ValueError(f"tag {tag!r} has nothing printable in it")
    if not isinstance(session_store, SessionStore):
        return await theirs.mutate(session_store, session_id, directory, {"type": "tag", "tag": cleaned or ""})
    info = await _existing(session_store, session_id, directory)
    await session_store.update(
        session_id,
        remove_tags=[t for t in info.tags if t != cleaned],
        add_tags=[] if cleaned is None or cleaned in info.tags else [cleaned],
    )


async def delete_session_via_store(
    session_store: SessionStore | ClaudeSessionStore, session_id: str, directory: str | None = None
) -> None:
    """Delete the session ``session_id`` (a fork keeps what it shares with it). On a claude-style
    store without ``delete``, nothing is done."""
    if not isinstance(session_store, SessionStore):
        return await theirs.delete(session_store, session_id, directory)
    await _existing(session_store, session_id, directory)
    await session_store.delete(session_id)


async def fork_session_via_store(
    session_store: SessionStore | ClaudeSessionStore,
    session_id: str,
    directory: str | None = None,
    up_to_message_id: str | None = None,
    title: str | None = None,
) -> ForkSessionResult:
    """A new session holding the conversation of ``session_id`` up to the message
    ``up_to_message_id`` (a ``SessionMessage.uuid``; the whole of it by default)."""
    if not isinstance(session_store, SessionStore):
        return ForkSessionResult(await theirs.forked(session_store, session_id, directory, up_to_message_id, title))
    await _existing(session_store, session_id, directory)
    info = await session_store.fork(
        session_id, at_entry=up_to_message_id, new_session_id=str(uuid.uuid4()), title=title
    )
    return ForkSessionResult(session_id=info.session_id)


async def list_subagents_from_store(
    session_store: SessionStore | ClaudeSessionStore, session_id: str, directory: str | None = None
) -> list[str]:
    """The ids of the subagents of the session ``session_id`` whose transcripts a claude-style
    store keeps (it needs ``list_subkeys``); none in an anyagent store, which keeps no subagent
    conversations (a ``CompatibilityWarning`` says so)."""
    if not isinstance(session_store, SessionStore):
        return await theirs.subagents_of(session_store, session_id, directory)
    _no_subagents("list_subagents")
    return []


async def get_subagent_messages_from_store(
    session_store: SessionStore | ClaudeSessionStore,
    session_id: str,
    agent_id: str,
    directory: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[SessionMessage]:
    """The user and assistant messages of the subagent ``agent_id`` of the session
    ``session_id``, from a claude-style store, in order; an empty list when it has none by that
    id, and always in an anyagent store (with a ``CompatibilityWarning``)."""
    _page(limit, offset)
    if not isinstance(session_store, SessionStore):
        said = [
            SessionMessage(**fields)
            for fields in await theirs.subagent_messages_of(session_store, session_id, agent_id, directory)
        ]
        return said[offset:] if limit is None else said[offset : offset + limit]
    _no_subagents("get_subagent_messages")
    return []


# ---- the synchronous functions, on the default store -----------------------------------------------


def list_sessions(
    directory: str | None = None, limit: int | None = None, offset: int = 0, include_worktrees: bool = True
) -> list[SDKSessionInfo]:
    """``list_sessions_from_store`` on the default store."""
    return _on_default(lambda store: list_sessions_from_store(store, directory, limit, offset))


def get_session_info(session_id: str, directory: str | None = None) -> SDKSessionInfo | None:
    """``get_session_info_from_store`` on the default store."""
    return _on_default(lambda store: get_session_info_from_store(store, session_id, directory))


def get_session_messages(
    session_id: str, directory: str | None = None, limit: int | None = None, offset: int = 0
) -> list[SessionMessage]:
    """``get_session_messages_from_store`` on the default store."""
    return _on_default(lambda store: get_session_messages_from_store(store, session_id, directory, limit, offset))


def rename_session(session_id: str, title: str, directory: str | None = None) -> None:
    """``rename_session_via_store`` on the default store."""
    _on_default(lambda store: rename_session_via_store(store, session_id, title, directory))


def tag_session(session_id: str, tag: str | None, directory: str | None = None) -> None:
    """``tag_session_via_store`` on the default store."""
    _on_default(lambda store: tag_session_via_store(store, session_id, tag, directory))


def delete_session(session_id: str, directory: str | None = None) -> None:
    """``delete_session_via_store`` on the default store."""
    _on_default(lambda store: delete_session_via_store(store, session_id, directory))


def fork_session(
    session_id: str, directory: str | None = None, up_to_message_id: str | None = None, title: str | None = None
) -> ForkSessionResult:
    """``fork_session_via_store`` on the default store."""
    return _on_default(lambda store: fork_session_via_store(store, session_id, directory, up_to_message_id, title))


def list_subagents(session_id: str, directory: str | None = None) -> list[str]:
    """``list_subagents_from_store`` on the default store, an anyagent store: none (a
    ``CompatibilityWarning`` says why)."""
    _no_subagents("list_subagents")
    return []


def get_subagent_messages(
    session_id: str, agent_id: str, directory: str | None = None, limit: int | None = None, offset: int = 0
) -> list[SessionMessage]:
    """``get_subagent_messages_from_store`` on the default store, an anyagent store: none (a
    ``CompatibilityWarning`` says why)."""
    _page(limit, offset)
    _no_subagents("get_subagent_messages")
    return []


# ---- helpers ---------------------------------------------------------------------------------------


def _page(limit: int | None, offset: int) -> None:
    if offset < 0 or (limit is not None and limit < 0):
        raise ValueError(f"offset and limit must not be negative, not {offset!r} and {limit!r}")


def _no_subagents(function: str) -> None:
    warnings.warn(
        f"{function}: subagents' conversations are not kept apart from their parent session's here; a task's "
        "prompt and answer are its Task call and result in get_session_messages()",
        CompatibilityWarning,
        stacklevel=3,
    )


def _on_default(work: Callable[[SessionStore], Awaitable[_T]]) -> _T:
    async def call() -> _T:
        async with SQLiteStore() as store:
            return await work(store)

    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="anyagent-sessions") as pool:
        return pool.submit(anyio.run, call).result()


def _directory(directory: str | None) -> str | None:
    return None if directory is None else os.path.realpath(directory)


async def _existing(session_store: SessionStore, session_id: str, directory: str | None) -> SessionInfo:
    info = await session_store.get(session_id)  # SessionNotFoundError names it
    wanted = _directory(directory)
    if wanted is not None and info.cwd != wanted:
        raise SessionNotFoundError(session_id, f"no session {session_id!r} in {wanted}")
    return info


async def _described(session_store: SessionStore, info: SessionInfo) -> SDKSessionInfo:
    first_prompt = None
    if info.message_count:
        _, entries = await session_store.load(info.session_id)
        first_prompt = next((text for m in rebuild(info.session_id, entries).messages if (text := _user_text(m))), None)
    return SDKSessionInfo(
        session_id=info.session_id,
        summary=info.title or first_prompt or "",
        last_modified=int(info.updated_at * 1000),
        custom_title=info.title,
        first_prompt=first_prompt,
        cwd=info.cwd,
        tag=info.tags[0] if info.tags else None,
        created_at=int(info.created_at * 1000),
    )


def _user_text(message: Message) -> str | None:
    if not isinstance(message, UserMessage):
        return None
    if isinstance(message.content, str):
        return message.content or None
    text = "".join(block.text for block in message.content if isinstance(block, TextBlock))
    return text or None
