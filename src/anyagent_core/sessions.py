"""Sessions as data, for the packages that store them.

A session is an append-only log of entries (``MessageEntry``, ``ResultEntry``,
``CompactionEntry``, ``MetadataEntry``), each with an id and its parent's id, so a fork shares
its history without copying it. ``commit_entries`` turns an ``AgentLoop`` ``Commit`` into
entries; ``dumps_entry``/``loads_entries`` (and ``entry_to_json``/``entry_from_json``) are the
one JSON form every store writes; ``chain`` orders entries from the root to a head and
``rebuild`` gives the ``Conversation`` to resume: checked (``SessionEntryError`` names the
session, the entry and what is wrong), with an interrupted result for every tool call the log
left without one.
"""

from __future__ import annotations

from ._sessions._codec import (
    dumps_entry,
    entry_from_json,
    entry_to_json,
    loads_entries,
    message_from_json,
    message_to_json,
    searchable_text,
)
from ._sessions._entries import (
    ENTRY_VERSION,
    CompactionEntry,
    Entry,
    MessageEntry,
    MetadataEntry,
    ResultEntry,
    SessionEntryError,
    commit_entries,
)
from ._sessions._rebuild import INTERRUPTED_RESULT, Conversation, chain, rebuild

__all__ = [
    "ENTRY_VERSION",
    "INTERRUPTED_RESULT",
    "CompactionEntry",
    "Conversation",
    "Entry",
    "MessageEntry",
    "MetadataEntry",
    "ResultEntry",
    "SessionEntryError",
    "chain",
    "commit_entries",
    "dumps_entry",
    "entry_from_json",
    "entry_to_json",
    "loads_entries",
    "message_from_json",
    "message_to_json",
    "rebuild",
    "searchable_text",
]
