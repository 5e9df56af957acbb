"""Every state transition of an ``AgentLoop`` lives here, as data.

Theory of operation
-------------------
The loop is in one of the ``LoopState``s. Two tables say everything about how it moves:

* ``AFTER_ACTION[action type]``: the state the loop is in once ``next_action()`` has handed
  out an action of that type (a request out: waiting for its answer; a message handed over:
  acting again). One state-triggered rule follows: a run that ended (``Done``) with calls of
  external tools unanswered waits for their results (``AWAITING_EXTERNAL``) instead of being
  ``IDLE``.
* ``ACCEPTS[state]``: the inputs (the loop's methods) each state takes. Anything else raises
  ``LocalProtocolError`` saying what the state waits for (``WAITING_FOR``).

While actions are queued the loop is ``ACTING`` whatever the table says: ``next_action()``
drains the queue first. ``interrupt()`` is accepted everywhere (it does nothing without a run).
The docs' table (``docs/agent.md``) is generated from these tables by ``transition_rows()`` and
checked by ``tests/core/test_docs.py``. This file does not know messages, tools or requests.
"""

from __future__ import annotations

import enum
from typing import Final

from anyagent_core._errors import LocalProtocolError

from ._actions import AskCompaction, AskPermission, Commit, Done, Emit, RunTools, SendRequest, Wait

__all__ = ["ACCEPTS", "AFTER_ACTION", "WAITING_FOR", "LoopState", "check_accepts", "transition_rows"]


class LoopState(enum.Enum):
    """Where the loop is; ``AgentLoop.state``."""

    IDLE = "IDLE"
    """No run: ``start()`` or ``resume()``."""
    ACTING = "ACTING"
    """Actions are ready: call ``next_action()``."""
    AWAITING_RESPONSE = "AWAITING_RESPONSE"
    """A request is out: ``receive_response()`` or ``request_failed()``."""
    AWAITING_PERMISSION = "AWAITING_PERMISSION"
    """``permission()`` for the call just asked about."""
    AWAITING_COMPACTION = "AWAITING_COMPACTION"
    """``compaction()`` for the compaction just asked about."""
    AWAITING_TOOLS = "AWAITING_TOOLS"
    """``tool_result()`` for each call handed out with ``RunTools``."""
    AWAITING_EXTERNAL = "AWAITING_EXTERNAL"
    """The run ended with external calls pending: ``tool_result()`` for each, then ``resume()``."""

    def __repr__(self) -> str:
        return self.value

    __hash__ = object.__hash__  # identity: these are table keys on every action


#: The state that follows handing out an action of each type.
AFTER_ACTION: Final[dict[type, LoopState]] = {
    SendRequest: LoopState.AWAITING_RESPONSE,
    AskPermission: LoopState.AWAITING_PERMISSION,
    AskCompaction: LoopState.AWAITING_COMPACTION,
    RunTools: LoopState.AWAITING_TOOLS,
    Wait: LoopState.ACTING,
    Emit: LoopState.ACTING,
    Commit: LoopState.ACTING,
    Done: LoopState.IDLE,
}

#: State-triggered: ``IDLE`` after ``Done`` becomes this while external calls await results.
DONE_WITH_PENDING_CALLS: Final = LoopState.AWAITING_EXTERNAL

#: The inputs each state accepts (``interrupt`` is accepted in every state).
ACCEPTS: Final[dict[LoopState, frozenset[str]]] = {
    LoopState.IDLE: frozenset({"start", "resume"}),
    LoopState.ACTING: frozenset({"next_action", "add_usage"}),
    LoopState.AWAITING_RESPONSE: frozenset({"receive_response", "request_failed", "add_usage"}),
    LoopState.AWAITING_PERMISSION: frozenset({"permission", "add_usage"}),
    LoopState.AWAITING_COMPACTION: frozenset({"compaction", "add_usage"}),
    LoopState.AWAITING_TOOLS: frozenset({"tool_result", "add_usage"}),
    LoopState.AWAITING_EXTERNAL: frozenset({"tool_result"}),
}

#: What each state waits for, in words (error messages and docs).
WAITING_FOR: Final[dict[LoopState, str]] = {
    LoopState.IDLE: "start() or resume()",
    LoopState.ACTING: "next_action()",
    LoopState.AWAITING_RESPONSE: "receive_response() or request_failed()",
    LoopState.AWAITING_PERMISSION: "permission()",
    LoopState.AWAITING_COMPACTION: "compaction()",
    LoopState.AWAITING_TOOLS: "tool_result()",
    LoopState.AWAITING_EXTERNAL: "tool_result() for the pending calls, then resume()",
}


def check_accepts(state: LoopState, what: str, *, queued: bool) -> None:
    """Raise ``LocalProtocolError`` unless ``state`` accepts the input ``what`` (``queued``:
    actions are waiting, so only ``next_action`` and ``add_usage`` are accepted)."""
    if queued:
        if what in ACCEPTS[LoopState.ACTING]:
            return
        raise LocalProtocolError(f"{what}() while actions are waiting: call next_action() first")
    if what in ACCEPTS[state]:
        return
    if what == "next_action":
        if state is LoopState.IDLE:
            raise LocalProtocolError("no run in progress: call start() or resume()")
        if state is LoopState.AWAITING_EXTERNAL:
            raise LocalProtocolError("the run ended with tool calls for the caller: tool_result(), then resume()")
        raise LocalProtocolError(f"next_action() while waiting for {WAITING_FOR[state]}")
    if what in ACCEPTS[LoopState.IDLE]:
        raise LocalProtocolError(f"{what}() during a run (state {state.value})")
    if state is LoopState.IDLE and what in ("add_usage", "tool_result"):
        raise LocalProtocolError(f"{what}() with no run in progress")
    raise LocalProtocolError(f"{what}() unexpected: the loop is waiting for {WAITING_FOR[state]}")


def transition_rows() -> list[tuple[str, str]]:
    """The docs' table: (action handed out, what the loop then waits for), from the tables."""
    rows = []
    for action, state in AFTER_ACTION.items():
        waits = "nothing: ask for the next action" if state is LoopState.ACTING else WAITING_FOR[state]
        if action is Done:
            waits = f"{WAITING_FOR[state]} (or, with external calls pending, {WAITING_FOR[DONE_WITH_PENDING_CALLS]})"
        rows.append((action.__name__, waits))
    return rows
