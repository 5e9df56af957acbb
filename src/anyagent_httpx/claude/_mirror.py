"""The bridge to a claude-style ``SessionStore``: each committed turn mirrored as transcript
lines, and a conversation to resume made again from the lines ``load()`` gives.

A client given such a store keeps its session in a ``MirroredStore``: anyagent's in-process
``MemoryStore`` (the local copy, as Claude Code's local transcript file), which after each
append passes the new entries on to the claude-style store under ``{project_key:
project_key_for_directory(cwd), session_id}``. A line is shaped as Claude Code's transcript
lines are (``type`` ``user``/``assistant``, or ``system`` with subtype ``result`` or
``compact_boundary``; ``uuid``, ``parentUuid``, ``sessionId``, ``timestamp``, ``cwd``,
``message`` with ``role`` and Anthropic content blocks) and carries anyagent's own entry under
``anyagent``, so a resume loses nothing; lines without it (Claude Code's) are read from
``message``. A failed append is tried three times (not again after a timeout), then logged and
reported as a ``MirrorErrorMessage`` in the response; the conversation goes on.

``resume=ID``, ``continue_conversation`` (the project's most recently written session, from
``list_sessions``) and ``fork_session`` read the conversation from the claude-style store's
``load()`` (each call bounded by ``load_timeout_ms``) into the local copy.
"""

from __future__ import annotations

import datetime
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

import anyio
import attrs

from anyagent_core import (
    AssistantMessage,
    ImageBlock,
    Message,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    ToolUseError,
    UserMessage,
    thaw_json,
)
from anyagent_core.sessions import (
    CompactionEntry,
    Entry,
    MessageEntry,
    MetadataEntry,
    ResultEntry,
    dumps_entry,
    entry_from_json,
)
from anyagent_httpx._sessions import MemoryStore, SessionInfo, SessionNotFoundError, SessionStoreError, ToolExecution
from anyagent_httpx._sessions._base import SessionOrder

from ._store import SessionKey, SessionStore, SessionStoreEntry, implements, project_key_for_directory
from ._types import MirrorErrorMessage

__all__ = ["MirroredStore", "anthropic_message", "entries_from_lines", "is_claude_store", "lines_of"]

logger = logging.getLogger("anyagent")

#: Tries of a failed append, and the waits between them (seconds).
APPEND_ATTEMPTS: Final = 3
APPEND_BACKOFF: tuple[float, ...] = (0.2, 0.8)
#: How long one append may take before it counts as failed (and is not tried again: it may land).
APPEND_TIMEOUT: Final = 60.0


def is_claude_store(value: object) -> bool:
    """``value`` is a claude-style store: it has ``append`` and ``load`` (anyagent's
    ``SessionStore`` is told apart first, by the caller)."""
    return callable(getattr(value, "append", None)) and callable(getattr(value, "load", None))


# ---- anyagent's messages as Anthropic's, and back --------------------------------------------------


def _block(block: Any) -> dict[str, Any]:
    if isinstance(block, TextBlock):
        return {"type": "text", "text": block.text}
    if isinstance(block, ThinkingBlock):
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    if isinstance(block, ImageBlock):
        return {"type": "image", "source": {"type": "url", "url": block.url}}
    if isinstance(block, ToolUseBlock):
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": thaw_json(block.input)}
    if isinstance(block, ToolUseError):
        # The call's arguments could not be used: they are kept as sent, with the reason.
        return {
            "type": "tool_use",
            "id": block.id,
            "name": block.name,
            "input": {},
            "raw_arguments": block.arguments,
            "error": block.error,
        }
    if isinstance(block, ToolResultBlock):
        content = block.content if isinstance(block.content, str) else [_block(part) for part in block.content]
        return {"type": "tool_result", "tool_use_id": block.tool_use_id, "content": content, "is_error": block.is_error}
    raise TypeError(f"a message block of an unknown kind: {type(block).__name__}")


def anthropic_message(message: Message) -> dict[str, Any]:
    """``message`` as an Anthropic API message dict."""
    if isinstance(message, UserMessage):
        content: Any = message.content if isinstance(message.content, str) else [_block(b) for b in message.content]
        return {"role": "user", "content": content}
    shaped: dict[str, Any] = {"role": "assistant", "content": [_block(b) for b in message.content]}
    if message.model is not None:
        shaped["model"] = message.model
    if message.stop_reason is not None:
        shaped["stop_reason"] = message.stop_reason
    return shaped


def _our_block(block: Any) -> Any:
    """An Anthropic content block as ours (None: a kind kept out, such as a server tool's)."""
    kind = block.get("type") if isinstance(block, Mapping) else None
    if kind == "text":
        return TextBlock(text=str(block.get("text", "")))
    if kind == "thinking":
        return ThinkingBlock(thinking=str(block.get("thinking", "")), signature=str(block.get("signature", "")))
    if kind == "tool_use":
        given = block.get("input")
        return ToolUseBlock(
            id=str(block["id"]), name=str(block["name"]), input=given if isinstance(given, dict) else {}
        )
    if kind == "tool_result":
        content = block.get("content", "")
        if not isinstance(content, str):
            content = "\n".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
        return ToolResultBlock(
            tool_use_id=str(block["tool_use_id"]), content=content, is_error=bool(block.get("is_error"))
        )
    if kind == "image":
        source = block.get("source") or {}
        if source.get("type") == "url":
            return ImageBlock(url=str(source["url"]))
        if source.get("type") == "base64":
            return ImageBlock(url=f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}")
    return None


def _our_message(line: Mapping[str, Any]) -> UserMessage | AssistantMessage | None:
    message = line.get("message")
    if not isinstance(message, Mapping):
        return None
    content = message.get("content", "")
    if line.get("type") == "user":
        if isinstance(content, str):
            return UserMessage(content=content)
        given = [b for b in map(_our_block, content) if isinstance(b, TextBlock | ImageBlock | ToolResultBlock)]
        return UserMessage(content=given) if given else None
    said = [
        b
        for b in map(_our_block, content if isinstance(content, list) else [])
        if isinstance(b, TextBlock | ThinkingBlock | ToolUseBlock)
    ]
    model = message.get("model")
    return AssistantMessage(content=tuple(said), model=model if isinstance(model, str) else None)


# ---- entries as lines, and back ----------------------------------------------------------------------


def _stamp(at: float) -> str:
    return datetime.datetime.fromtimestamp(at, datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _at(stamp: Any) -> float:
    try:
        return datetime.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def lines_of(
    entries: Sequence[Entry], *, session_id: str, cwd: str | None, parents: Mapping[str, str | None] = {}
) -> list[SessionStoreEntry]:
    """The transcript lines of ``entries`` (metadata entries have none); ``parents`` maps the ids
    of entries without lines to the entry before them, for ``parentUuid``."""
    out: list[SessionStoreEntry] = []
    for entry in entries:
        if isinstance(entry, MetadataEntry):
            continue
        parent = entry.parent_id
        while parent is not None and parent in parents:
            parent = parents[parent]
        line: dict[str, Any] = {"uuid": entry.id, "parentUuid": parent, "sessionId": session_id}
        line["timestamp"] = _stamp(entry.at)
        line["cwd"] = cwd
        line["isSidechain"] = False
        if isinstance(entry, MessageEntry):
            line["type"] = "user" if isinstance(entry.message, UserMessage) else "assistant"
            line["userType"] = "external"
            line["message"] = anthropic_message(entry.message)
        elif isinstance(entry, CompactionEntry):
            line["type"], line["subtype"] = "system", "compact_boundary"
        elif isinstance(entry, ResultEntry):
            line["type"], line["subtype"] = "system", "result"
        line["anyagent"] = json.loads(dumps_entry(entry))  # plain JSON (entry_to_json keeps frozen values)
        out.append(line)  # type: ignore[arg-type]
    return out


def entries_from_lines(lines: Sequence[Mapping[str, Any]], *, session_id: str, parent_id: str | None) -> list[Entry]:
    """The entries of transcript lines, chained one after another from ``parent_id``: anyagent's
    own where a line carries it, else a message entry for each user or assistant line."""
    out: list[Entry] = []
    parent = parent_id
    for line in lines:
        ours = line.get("anyagent")
        entry: Entry | None
        if isinstance(ours, Mapping):
            entry = entry_from_json(dict(ours), session_id=session_id)
            if isinstance(entry, MetadataEntry):
                continue
        elif line.get("type") in ("user", "assistant") and (message := _our_message(line)) is not None:
            entry_id = line.get("uuid")
            entry = MessageEntry(
                id=entry_id if isinstance(entry_id, str) and entry_id else uuid.uuid4().hex,
                parent_id=None,
                at=_at(line.get("timestamp")),
                message=message,
            )
        else:
            continue  # titles, tags, Claude Code's other lines
        entry = attrs.evolve(entry, parent_id=parent)
        out.append(entry)
        parent = entry.id
    return out


# ---- the local copy that mirrors ---------------------------------------------------------------------


class MirroredStore(MemoryStore):
    """anyagent's in-process store for one client, mirroring what it keeps into ``theirs``."""

    def __init__(self, theirs: SessionStore, *, cwd: str, load_timeout: float) -> None:
        super().__init__()
        self.theirs = theirs
        self.cwd = cwd
        """The client's working directory (resolved): where ``resume`` looks for its session."""
        self.load_timeout = load_timeout
        self.errors: list[MirrorErrorMessage] = []
        """Failed appends not yet reported (the client's stream takes them)."""
        self._skipped: dict[str, str | None] = {}  # metadata entries (no lines): id -> the entry before

    def key(self, session_id: str, cwd: str | None) -> SessionKey:
        return {"project_key": project_key_for_directory(cwd), "session_id": session_id}

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
        info = await super().create(session_id, title=title, tags=tags, model=model, cwd=cwd, data=data)
        if info.head is not None:
            self._skipped[info.head] = None
        return info

    async def append(
        self,
        session_id: str,
        entries: Sequence[Entry],
        *,
        expected_head: str | None,
        tool_executions: Sequence[ToolExecution] = (),
    ) -> SessionInfo:
        info = await super().append(session_id, entries, expected_head=expected_head, tool_executions=tool_executions)
        await self._mirror(info, entries)
        return info

    async def fork(
        self, session_id: str, *, at_entry: str | None = None, new_session_id: str, title: str | None = None
    ) -> SessionInfo:
        info = await super().fork(session_id, at_entry=at_entry, new_session_id=new_session_id, title=title)
        _, entries = await super().load(new_session_id)
        for entry in entries:
            if isinstance(entry, MetadataEntry):
                self._skipped[entry.id] = entry.parent_id
        await self._mirror(info, entries)  # a fork's transcript holds the history it starts from
        return info

    async def load(self, session_id: str) -> tuple[SessionInfo, list[Entry]]:
        try:
            await super().get(session_id)
        except SessionNotFoundError:
            await self.materialize(session_id)
        return await super().load(session_id)

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
        """The local sessions, after the latest of the project of ``cwd`` in the claude-style
        store (what ``continue_conversation`` goes on from) is read into them."""
        if implements(self.theirs, "list_sessions"):
            project = project_key_for_directory(cwd)
            with anyio.fail_after(self.load_timeout):
                listed = await self.theirs.list_sessions(project)
            if listed:
                latest = max(listed, key=lambda item: item["mtime"])["session_id"]
                try:
                    await super().get(latest)
                except SessionNotFoundError:
                    await self.materialize(latest, cwd=cwd)
        return await super().list_sessions(
            cwd=cwd, tag=tag, since=since, until=until, order=order, descending=descending, limit=limit
        )

    async def materialize(self, session_id: str, *, cwd: str | None = None) -> None:
        """Read the session ``session_id`` of the claude-style store into the local copy
        (``SessionNotFoundError`` when it has none)."""
        cwd = self.cwd if cwd is None else cwd
        key = self.key(session_id, cwd)
        try:
            with anyio.fail_after(self.load_timeout):
                lines = await self.theirs.load(key)
        except TimeoutError:
            raise SessionStoreError(
                f"session_store.load({key!r}) did not answer within load_timeout_ms ({self.load_timeout * 1000:.0f} ms)"
            ) from None
        if not lines:
            raise SessionNotFoundError(session_id, f"no session {session_id!r} in the session_store under {key!r}")
        titles = [line.get("customTitle") for line in lines]  # the latest rename wins
        title = next((t for t in reversed(titles) if isinstance(t, str)), None)
        info = await super().create(session_id, cwd=cwd, title=title)
        if info.head is not None:
            self._skipped[info.head] = None
        entries = entries_from_lines(lines, session_id=session_id, parent_id=info.head)
        if entries:
            await super().append(session_id, entries, expected_head=info.head)

    async def _mirror(self, info: SessionInfo, entries: Sequence[Entry]) -> None:
        key = self.key(info.session_id, info.cwd)
        lines = lines_of(entries, session_id=info.session_id, cwd=info.cwd, parents=self._skipped)
        if not lines:
            return
        failure: BaseException | None = None
        for attempt in range(APPEND_ATTEMPTS):
            if attempt:
                await anyio.sleep(APPEND_BACKOFF[min(attempt, len(APPEND_BACKOFF)) - 1])
            try:
                with anyio.fail_after(APPEND_TIMEOUT):
                    await self.theirs.append(key, lines)
                return
            except TimeoutError as exc:
                failure = exc
                break  # it may still land: a second try could write the lines twice
            except Exception as exc:  # the store is the user's code
                failure = exc
                logger.debug(
                    "session_store.append try %d of %d failed for %s: %s", attempt + 1, APPEND_ATTEMPTS, key, exc
                )
        error = str(failure) or type(failure).__name__
        logger.error("session_store.append failed for %s (%d entries not mirrored): %s", key, len(lines), error)
        data = {"type": "system", "subtype": "mirror_error", "error": error, "key": key}
        data["uuid"] = str(uuid.uuid4())
        data["session_id"] = info.session_id
        self.errors.append(MirrorErrorMessage(subtype="mirror_error", data=data, key=key, error=error))
