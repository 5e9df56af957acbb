"""The entries of a session log (all frozen) and the commit that writes them.

A session is an append-only log. Every entry has an ``id`` and the ``parent_id`` of the entry
before it (None for a session's first entry; the entry forked from, for a fork's first), so a
fork shares its history without copying it: the conversation of a session is the chain of
entries from its root to its *head*, the last entry. Times (``at``, Unix seconds) and ids are
passed in: the core reads no clock and draws no random numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, TypeAlias

import attrs

from anyagent_core._agent._actions import Commit
from anyagent_core._agent._results import ResultMessage
from anyagent_core._json import JSONObject, freeze_object
from anyagent_core._messages import AssistantMessage, Message, UserMessage
from anyagent_core.value import Value

__all__ = [
    "ENTRY_VERSION",
    "CompactionEntry",
    "Entry",
    "MessageEntry",
    "MetadataEntry",
    "ResultEntry",
    "SessionEntryError",
    "commit_entries",
]

#: The version of the entry format written (``"v"`` in the JSON); newer versions are refused.
ENTRY_VERSION: Final = 1

_id: Any = attrs.validators.and_(attrs.validators.instance_of(str), attrs.validators.min_len(1))
_parent: Any = attrs.validators.optional(_id)


def _strs(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _messages(value: Iterable[Message]) -> tuple[Message, ...]:
    return tuple(value)


class SessionEntryError(ValueError):
    """An entry that cannot be used: it does not parse, or does not fit where it is in the log.
    Names the session, the entry (None when even its id is unreadable) and what is wrong."""

    def __init__(self, session_id: str, entry_id: str | None, problem: str) -> None:
        where = f"session {session_id!r}" + (f", entry {entry_id!r}" if entry_id is not None else "")
        super().__init__(f"{where}: {problem}")
        self.session_id = session_id
        self.entry_id = entry_id
        self.problem = problem


@attrs.frozen(kw_only=True, repr=False, eq=False)
class MessageEntry(Value):
    """A message that joined the conversation: the user's, the model's (with its blocks), or the
    tool results sent back."""

    id: str = attrs.field(validator=_id)
    parent_id: str | None = attrs.field(validator=_parent)
    at: float
    message: UserMessage | AssistantMessage
    turn: int = 0
    """The run's model requests when it was committed (``Commit.turn_number``)."""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ResultEntry(Value):
    """A run ended: its ``ResultMessage`` (subtype, usage, cost, durations). A run that was
    interrupted is marked by its subtype, ``interrupted``."""

    id: str = attrs.field(validator=_id)
    parent_id: str | None = attrs.field(validator=_parent)
    at: float
    result: ResultMessage


@attrs.frozen(kw_only=True, repr=False, eq=False)
class CompactionEntry(Value):
    """Older messages were replaced in what the model is sent: ``replaced`` are their entry ids,
    ``summary`` what stands in for them (empty: they were left out)."""

    id: str = attrs.field(validator=_id)
    parent_id: str | None = attrs.field(validator=_parent)
    at: float
    replaced: tuple[str, ...] = attrs.field(converter=_strs)
    summary: tuple[Message, ...] = attrs.field(default=(), converter=_messages)
    data: JSONObject = attrs.field(factory=dict, converter=freeze_object)
    """What the loop said about it (``dropped_messages``, ``estimated_tokens``)."""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class MetadataEntry(Value):
    """What a session was started with (its first entry): title, tags, model, working
    directory, and, for a fork, where it was forked from. Later renames and tags change the
    store's record of the session, not the log."""

    id: str = attrs.field(validator=_id)
    parent_id: str | None = attrs.field(validator=_parent)
    at: float
    title: str | None = None
    tags: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    model: str | None = None
    cwd: str | None = None
    forked_from: str | None = None
    """The session this one was forked from (its ``parent_id`` is the entry forked at)."""
    data: JSONObject = attrs.field(factory=dict, converter=freeze_object)


Entry: TypeAlias = MessageEntry | ResultEntry | CompactionEntry | MetadataEntry


def commit_entries(
    commit: Commit, *, parent_id: str | None, new_id: Callable[[], str], at: float, before: Iterable[Entry] = ()
) -> tuple[Entry, ...]:
    """The entries one ``Commit`` writes, chained after ``parent_id``: ``before`` first (a
    compaction record, say, re-chained in order), then a ``MessageEntry`` per message and a
    ``ResultEntry`` when the run ended. ``new_id`` gives each a fresh id."""
    out: list[Entry] = []
    parent = parent_id
    for entry in before:
        entry = attrs.evolve(entry, parent_id=parent)
        out.append(entry)
        parent = entry.id
    for message in commit.messages:
        if not isinstance(message, UserMessage | AssistantMessage):
            raise TypeError(f"a commit holds UserMessage and AssistantMessage values, not {type(message).__name__}")
        entry_id = new_id()
        out.append(MessageEntry(id=entry_id, parent_id=parent, at=at, message=message, turn=commit.turn_number))
        parent = entry_id
    if commit.result is not None:
        out.append(ResultEntry(id=new_id(), parent_id=parent, at=at, result=commit.result))
    return tuple(out)
