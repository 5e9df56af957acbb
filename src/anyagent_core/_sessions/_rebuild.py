"""A conversation rebuilt from a session's entries, checked, ready to resume.

``rebuild(session_id, entries)`` takes the chain from a session's root to its head, in order,
and returns the ``Conversation``: the messages to hand ``AgentLoop(history=...)``, the runs'
results, the metadata. It checks what it reads, raising ``SessionEntryError`` naming the
session, the entry and the problem: every entry follows its parent, no id repeats, a tool
result answers a call made before it. A tool call left without a result (the process died
mid-round, or external calls were still waiting when the session was saved) gets an error
result saying it was interrupted, so the conversation can be sent again as it is.

``chain(entries, head)`` orders a bag of entries (a fork's and its ancestors') from the root to
``head`` by their parent ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import attrs

from anyagent_core._agent._results import ResultMessage
from anyagent_core._context._usage import ContextSummary
from anyagent_core._messages import AssistantMessage, Message, ToolResultBlock, ToolUseBlock, ToolUseError, UserMessage
from anyagent_core._util import gc_paused
from anyagent_core.value import Value

from ._entries import CompactionEntry, Entry, MessageEntry, MetadataEntry, ResultEntry, SessionEntryError

__all__ = ["INTERRUPTED_RESULT", "Conversation", "chain", "rebuild"]

#: The text of the result given, on resume, to a tool call that never got one.
INTERRUPTED_RESULT: Final = "interrupted: the session ended before this call returned a result; it did not complete"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Conversation(Value):
    """What a session's log amounts to."""

    session_id: str
    messages: tuple[Message, ...]
    """The conversation to resume (with the results added for interrupted calls)."""
    head: str | None
    """The last entry's id: the parent of the next commit (None for an empty log)."""
    results: tuple[ResultMessage, ...] = ()
    """Every run's result, in order."""
    metadata: MetadataEntry | None = None
    repaired: tuple[str, ...] = ()
    """Ids of the tool calls answered as interrupted here."""
    message_ids: tuple[str | None, ...] = ()
    """The entry id of each message (None for a result added by the repair)."""
    summary: ContextSummary | None = None
    """The latest compaction's summary and the leading messages it stands for in requests
    (compaction by summary): give it to ``AgentLoop(summary=...)`` with ``messages``, so the
    resumed loop sends the summary instead of asking for a new one. None without one, and with
    ``compacted=True`` (the summary is among ``messages`` then)."""

    @property
    def interrupted(self) -> bool:
        """The last run ended interrupted, or the log stops in the middle of a run."""
        return bool(self.repaired) or (bool(self.results) and self.results[-1].subtype == "interrupted")


def chain(entries: Iterable[Entry], head: str | None, *, session_id: str) -> list[Entry]:
    """The entries from the root to ``head``, following parent ids; ``SessionEntryError`` if
    ``head`` or a parent is missing, or the parents loop."""
    by_id: dict[str, Entry] = {}
    for entry in entries:
        if entry.id in by_id:
            raise SessionEntryError(session_id, entry.id, "the id appears twice in the log")
        by_id[entry.id] = entry
    out: list[Entry] = []
    current = head
    while current is not None:
        found = by_id.pop(current, None)
        if found is None:
            what = "the head" if not out else f"the parent of {out[-1].id!r}"
            raise SessionEntryError(session_id, current, f"{what} is not in the log (or the parents loop)")
        out.append(found)
        current = found.parent_id
    out.reverse()
    return out


def rebuild(session_id: str, entries: Sequence[Entry], *, compacted: bool = False) -> Conversation:
    """The conversation of ``entries`` (root first). ``compacted=True`` applies the compaction
    records (the replaced messages give way to their summaries), as the model last saw it;
    otherwise every message is kept, as ``AgentLoop.messages`` keeps them."""
    with gc_paused():  # see loads_entries
        return _rebuild(session_id, entries, compacted)


def _rebuild(session_id: str, entries: Sequence[Entry], compacted: bool) -> Conversation:
    messages: list[Message] = []
    ids: list[str | None] = []
    results: list[ResultMessage] = []
    metadata: MetadataEntry | None = None
    seen: set[str] = set()
    open_calls: dict[str, str] = {}  # call id -> entry id of the answer that made it
    answered: set[str] = set()
    previous: str | None = entries[0].parent_id if entries else None
    gone: set[str] = set()  # ids an earlier compaction replaced (compacted=True)
    summaries: dict[str, frozenset[str]] = {}  # a summary's entry id: the ids it stands for
    last_summary: CompactionEntry | None = None
    calls = False  # a message that may hold a tool call: _repair has something to look at
    for entry in entries:
        entry_id = entry.id
        if entry_id in seen:
            raise SessionEntryError(session_id, entry_id, "the id appears twice in the log")
        if entry.parent_id != previous:
            raise SessionEntryError(
                session_id, entry_id, f"its parent is {entry.parent_id!r}, but the entry before it is {previous!r}"
            )
        seen.add(entry_id)
        previous = entry_id
        if type(entry) is MessageEntry:
            message = entry.message
            content = message.content
            if type(message) is AssistantMessage:
                for block in content:  # message.tool_uses, without the tuple of a text answer's none
                    if isinstance(block, ToolUseBlock | ToolUseError):
                        call_id = block.id
                        if call_id in open_calls or call_id in answered:
                            raise SessionEntryError(session_id, entry_id, f"tool call id {call_id!r} is used twice")
                        open_calls[call_id] = entry_id
                        calls = True
            elif type(content) is not str:
                for block in content:
                    if type(block) is ToolResultBlock:
                        if block.tool_use_id not in open_calls:
                            raise SessionEntryError(
                                session_id,
                                entry_id,
                                f"a result for tool call {block.tool_use_id!r}, which no earlier answer made"
                                if block.tool_use_id not in answered
                                else f"a second result for tool call {block.tool_use_id!r}",
                            )
                        del open_calls[block.tool_use_id]
                        answered.add(block.tool_use_id)
            messages.append(message)
            ids.append(entry_id)
        elif type(entry) is ResultEntry:
            results.append(entry.result)
        elif type(entry) is MetadataEntry:
            if metadata is None:
                metadata = entry
        elif type(entry) is CompactionEntry:
            missing = sorted(set(entry.replaced) - seen)
            if missing:
                raise SessionEntryError(session_id, entry_id, f"it replaces entries that are not before it: {missing}")
            if len(entry.summary) == 1 and type(entry.summary[0]) is UserMessage:
                last_summary = entry
            if compacted:
                messages, ids = _compact(entry, messages, ids, gone, summaries)
                calls = True  # its summary may hold calls too
    repaired: tuple[str, ...] = ()
    if calls:
        messages, ids, repaired = _repair(messages, ids)
    return Conversation(
        session_id=session_id,
        messages=tuple(messages),
        head=previous,
        results=tuple(results),
        metadata=metadata,
        repaired=repaired,
        message_ids=tuple(ids),
        summary=None if compacted or last_summary is None else _summary(last_summary, ids),
    )


def _summary(entry: CompactionEntry, ids: list[str | None]) -> ContextSummary | None:
    """``entry``'s summary as the loop takes it: it stands for the messages up to the last one it
    replaced (and a result the repair added right after it, so a call keeps its result)."""
    replaced = set(entry.replaced)
    positions = [i for i, entry_id in enumerate(ids) if entry_id in replaced]
    if not positions:
        return None
    end = positions[-1] + 1
    while end < len(ids) and ids[end] is None:
        end += 1
    message = entry.summary[0]
    assert type(message) is UserMessage
    return ContextSummary(replaces=end, message=message)


def _compact(
    entry: CompactionEntry,
    messages: list[Message],
    ids: list[str | None],
    gone: set[str],
    summaries: dict[str, frozenset[str]],
) -> tuple[list[Message], list[str | None]]:
    """The messages with ``entry`` applied: what it replaces gives way to its summary. Messages
    an earlier compaction replaced already are skipped, and an earlier summary standing only for
    messages this one replaces goes too (a new summary covers the part the last one did)."""
    replaced = set(entry.replaced)
    covered = replaced | gone
    replaced |= {summary_id for summary_id, stands_for in summaries.items() if stands_for <= covered}
    positions = [i for i, entry_id in enumerate(ids) if entry_id in replaced]
    gone |= set(entry.replaced)
    if entry.summary:
        summaries[entry.id] = frozenset(covered)
    if not positions:
        if not entry.summary:
            return messages, ids
        positions = [0]  # all it stands for is gone already: a summary stands for the start
    first = positions[0]
    kept = [(m, i) for m, i in zip(messages, ids, strict=True) if i not in replaced]
    new_messages = [m for m, _ in kept[:first]] + list(entry.summary) + [m for m, _ in kept[first:]]
    new_ids = [i for _, i in kept[:first]] + [entry.id] * len(entry.summary) + [i for _, i in kept[first:]]
    return new_messages, new_ids


def _repair(messages: list[Message], ids: list[str | None]) -> tuple[list[Message], list[str | None], tuple[str, ...]]:
    """Answer every tool call that has no result, right after the answer that made it (in the
    results message that follows it, when there is one)."""
    out: list[Message] = []
    out_ids: list[str | None] = []
    repaired: list[str] = []
    index = 0
    while index < len(messages):
        message = messages[index]
        out.append(message)
        out_ids.append(ids[index])
        index += 1
        if type(message) is not AssistantMessage or not message.tool_uses:
            continue
        calls = message.tool_uses
        following = messages[index] if index < len(messages) else None
        given: Mapping[str, ToolResultBlock] = {}
        if type(following) is UserMessage and not isinstance(following.content, str):
            given = {b.tool_use_id: b for b in following.content if type(b) is ToolResultBlock}
        missing = [call for call in calls if call.id not in given]
        if not missing:
            continue
        repaired.extend(call.id for call in missing)
        results = [given.get(call.id) or _interrupted(call) for call in calls]
        if given:
            assert type(following) is UserMessage and not isinstance(following.content, str)
            rest = tuple(b for b in following.content if type(b) is not ToolResultBlock)
            out.append(UserMessage(content=(*results, *rest)))
            out_ids.append(ids[index])
            index += 1
        else:
            out.append(UserMessage(content=tuple(results)))
            out_ids.append(None)
    return out, out_ids, tuple(repaired)


def _interrupted(call: ToolUseBlock | ToolUseError) -> ToolResultBlock:
    return ToolResultBlock(tool_use_id=call.id, content=INTERRUPTED_RESULT, is_error=True)
