"""How a ``Client`` keeps its conversation in a ``SessionStore``.

``attach(options, ...)`` opens the session the options ask for (a new one; ``resume=ID``;
``continue_conversation`` for the latest in the working directory; either with
``fork_session``) and gives a ``SessionWriter``, the history to resume from and the summary
that stands for its start (compaction by summary). The writer turns each of the loop's
``Commit`` actions into entries and appends them in one transaction, with the round's tool
executions and any compaction record (a commit's ``summary`` is one, holding the summary's
message); the session itself is created with
the first commit, so a client that never runs leaves nothing behind. A commit that could not be
written at once (the caller stopped reading mid-response) waits in ``unsaved`` until the next
``flush()``.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

import anyio

from anyagent_core import Commit, Message, ToolResultBlock, ToolUseBlock, UserMessage
from anyagent_core.context import ContextSummary
from anyagent_core.json import JSONObject
from anyagent_core.sessions import CompactionEntry, Entry, MessageEntry, commit_entries, rebuild

from ._base import SessionStore, ToolExecution

if TYPE_CHECKING:
    from anyagent_httpx._options import AgentOptions

__all__ = ["OUTPUT_CAP", "SessionWriter", "attach"]

#: Characters of a tool's output kept in its execution record.
OUTPUT_CAP: Final = 4000


def _new_id() -> str:
    return uuid.uuid4().hex


class SessionWriter:
    """Writes one client's commits to ``store`` as session ``session_id``."""

    def __init__(
        self,
        store: SessionStore,
        session_id: str,
        *,
        head: str | None,
        exists: bool,
        model: str | None = None,
        cwd: str | None = None,
        seed: Sequence[Message] = (),
        message_ids: Sequence[str | None] = (),
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = _new_id,
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.head = head
        self.exists = exists
        self.model = model
        self.cwd = cwd
        self._seed = tuple(seed)
        self._clock = clock
        self._new_id = new_id
        self.message_ids: list[str | None] = list(message_ids)
        """The entry id of each message of the conversation, in order (None: not stored)."""
        self.unsaved: list[Commit] = []
        self._tools: list[ToolExecution] = []
        self._asked: set[str] = set()
        self._before: list[Entry] = []

    # ---- what a round did -----------------------------------------------------------------

    def asked(self, call_id: str) -> None:
        """``can_use_tool`` was asked about this call (and said yes, if it runs)."""
        self._asked.add(call_id)

    def denied(self, call: ToolUseBlock, message: str) -> None:
        self._tools.append(self._execution(call, call.input, message, True, "deny", None))

    def ran(self, call: ToolUseBlock, tool_input: JSONObject, result: ToolResultBlock, seconds: float) -> None:
        content = result.content
        text = content if isinstance(content, str) else "\n".join(getattr(part, "text", "[image]") for part in content)
        decision: Literal["allow", "ask"] = "ask" if call.id in self._asked else "allow"
        self._tools.append(self._execution(call, tool_input, text, result.is_error, decision, seconds))

    def _execution(
        self,
        call: ToolUseBlock,
        tool_input: JSONObject,
        output: str,
        is_error: bool,
        decision: Literal["allow", "ask", "deny"],
        seconds: float | None,
    ) -> ToolExecution:
        if len(output) > OUTPUT_CAP:
            output = output[:OUTPUT_CAP] + f"\n[... {len(output) - OUTPUT_CAP} more characters not kept]"
        return ToolExecution(
            session_id=self.session_id,
            call_id=call.id,
            tool=call.name,
            input=tool_input,
            output=output,
            is_error=is_error,
            decision=decision,
            seconds=seconds,
            at=self._clock(),
        )

    def compacted(self, data: Mapping[str, Any]) -> None:
        """The loop left the first ``dropped_messages`` messages out of its requests: recorded
        with the next commit."""
        dropped = data.get("dropped_messages")
        if type(dropped) is not int or dropped <= 0:
            return
        replaced = tuple(i for i in self.message_ids[:dropped] if i is not None)
        if replaced:
            entry = CompactionEntry(id=self._new_id(), parent_id=None, at=self._clock(), replaced=replaced, data=data)
            self._before.append(entry)

    # ---- writing --------------------------------------------------------------------------

    def defer(self, commit: Commit) -> None:
        """Keep ``commit`` for the next ``flush()`` (it could not be awaited where it came)."""
        self.unsaved.append(commit)

    async def flush(self) -> None:
        """Write the commits kept by ``defer()``, shielded from cancellation (a commit is never
        half-done, and never dropped because the caller was cancelled)."""
        with anyio.CancelScope(shield=True):
            while self.unsaved:
                await self._write(self.unsaved[0])
                self.unsaved.pop(0)

    async def commit(self, commit: Commit) -> None:
        """Write one commit (after any kept ones), shielded from cancellation."""
        self.unsaved.append(commit)
        await self.flush()

    async def _write(self, commit: Commit) -> None:
        store = self.store
        if not self.exists:
            info = await store.create(self.session_id, model=self.model, cwd=self.cwd, title=_title(commit, self._seed))
            self.head = info.head
            self.exists = True
            if self._seed:
                seed = Commit(messages=self._seed, turn_number=0)
                await self._append(seed, [])
        await self._append(commit, self._tools)

    async def _append(self, commit: Commit, tools: Sequence[ToolExecution]) -> None:
        at = self._clock()
        if commit.summary is not None:  # the summary now standing for the conversation's start
            summary = commit.summary
            replaced = tuple(i for i in self.message_ids[: summary.replaces] if i is not None)
            self._before.append(
                CompactionEntry(
                    id=self._new_id(),
                    parent_id=None,
                    at=at,
                    replaced=replaced,
                    summary=(summary.message,),
                    data={"strategy": "summarize", "summarized_messages": summary.replaces},
                )
            )
        entries = commit_entries(commit, parent_id=self.head, new_id=self._new_id, at=at, before=self._before)
        info = await self.store.append(self.session_id, entries, expected_head=self.head, tool_executions=tuple(tools))
        self.head = info.head
        self._before = []
        if tools is self._tools:
            self._tools = []
            self._asked = set()
        for entry in entries:
            if isinstance(entry, MessageEntry):
                self.message_ids.append(entry.id)


def _title(commit: Commit, seed: Sequence[Message]) -> str | None:
    """The first user prompt's text, shortened: the title a new session gets."""
    for message in (*seed, *commit.messages):
        if isinstance(message, UserMessage):
            text = message.content if isinstance(message.content, str) else ""
            if not text:
                text = " ".join(getattr(b, "text", "") for b in message.content if not isinstance(b, ToolResultBlock))
            text = " ".join(text.split())
            if text:
                return text if len(text) <= 80 else text[:79] + "…"
    return None


async def attach(
    options: AgentOptions, *, model: str, history: Sequence[Message] = ()
) -> tuple[SessionWriter, tuple[Message, ...], ContextSummary | None]:
    """The writer for the session ``options`` ask for, the conversation to resume from, and the
    summary standing for its start in requests (None: none was recorded)."""
    store = options.session_store
    assert store is not None
    cwd = str(await anyio.Path(options.cwd if options.cwd is not None else os.getcwd()).resolve())
    resume = options.resume
    if resume is None and options.continue_conversation:
        latest = await store.list_sessions(cwd=cwd, limit=1)
        resume = latest[0].session_id if latest else None
    if resume is None:
        session_id = options.session_id or str(uuid.uuid4())
        writer = SessionWriter(store, session_id, head=None, exists=False, model=model, cwd=cwd, seed=history)
        return writer, tuple(history), None
    info, entries = await store.load(resume)
    conversation = rebuild(resume, entries)
    if options.fork_session:
        info = await store.fork(resume, new_session_id=options.session_id or str(uuid.uuid4()))
    writer = SessionWriter(
        store,
        info.session_id,
        head=info.head,
        exists=True,
        model=model,
        cwd=cwd,
        message_ids=conversation.message_ids,
    )
    return writer, conversation.messages, conversation.summary
