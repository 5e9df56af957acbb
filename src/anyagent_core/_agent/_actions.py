"""What ``AgentLoop.next_action()`` asks the driver to do (all frozen values).

The driver dispatches on ``type(action)``:

- ``SendRequest``: perform ``turn`` (a ``StartTurn``) with a ``Connection``, then report the
  answer with ``receive_response()`` or the failure with ``request_failed()``;
- ``Wait``: sleep ``seconds`` (a retry back-off), then ask again;
- ``AskPermission``: ask whoever decides (a ``can_use_tool`` callback) and report
  ``permission()``;
- ``RunTools``: run the calls and report each result with ``tool_result()``;
- ``AskCompaction``: the request about to be built needs compacting (only with
  ``LoopSettings.ask_before_compacting``): report ``compaction(proceed, instructions=...)``;
- ``Emit``: hand ``message`` to the user;
- ``Commit``: the conversation reached a point where every tool call has its result, or the
  run ended (``result`` set): ``messages`` are what the loop added since the last commit, to
  persist as one transaction (only with ``LoopSettings.commits``);
- ``Done``: the run is over; ``result`` is its ``ResultMessage``.

A ``SendRequest`` with ``side`` set is a *side request*: its answer, reported with
``receive_response()`` as usual, does not join the conversation (the loop uses it for work of
its own, such as a summary); a driver shows no partial messages of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeAlias

import attrs

from anyagent_core._events import StartTurn
from anyagent_core._messages import AssistantMessage, Message, ToolUseBlock, UserMessage
from anyagent_core.value import Value

from ._permissions import ToolTraits
from ._results import ResultMessage, SystemMessage

if TYPE_CHECKING:
    from anyagent_core._context._usage import ContextSummary

__all__ = ["Action", "AskCompaction", "AskPermission", "Commit", "Done", "Emit", "RunTools", "SendRequest", "Wait"]


@attrs.frozen(kw_only=True, repr=False, eq=False)
class SendRequest(Value):
    """Send ``turn``: the ``turn_number``-th model request of the run, attempt ``attempt``."""

    turn: StartTurn
    turn_number: int
    attempt: int = 1
    side: str | None = None
    """None for a turn of the conversation; otherwise why the loop asks (``"summary"``): the
    answer does not join the conversation and is not shown."""
    endpoint: int = 0
    """Where to send it: 0 the main endpoint, ``n`` the ``n``-th of ``fallback_endpoints``."""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Wait(Value):
    """Sleep before the next attempt of a failed request."""

    seconds: float
    attempt: int
    """The attempt that follows the wait (2 for the first retry)."""
    model: str
    """The model the next attempt uses (a fallback model, perhaps)."""
    reason: str
    endpoint: int = 0
    """The endpoint the next attempt goes to (0: the main one)."""
    fallback_to: str = ""
    """Where the next attempt moves when it is a fallback, not a retry (see ``Retry.fallback_to``)."""
    gave_up: str = ""
    """For a fallback, what the previous model's retries came to (see ``Retry.gave_up``)."""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class AskPermission(Value):
    """The rules say ``ask`` for ``call``: report ``PermissionAllow`` or ``PermissionDeny``."""

    call: ToolUseBlock
    reason: str
    traits: ToolTraits


@attrs.frozen(kw_only=True, repr=False, eq=False)
class RunTools(Value):
    """Run these approved calls (their ``input`` may have been rewritten by a permission answer)
    and report one ``tool_result()`` for each, in any order."""

    calls: tuple[ToolUseBlock, ...]


@attrs.frozen(kw_only=True, repr=False, eq=False)
class AskCompaction(Value):
    """The next request does not fit: may the loop compact it? Report ``compaction()``."""

    trigger: Literal["auto", "reactive"]
    """``auto``: the count says the request would not fit; ``reactive``: the server refused it
    (a context-length error, or llama.cpp's empty answer)."""
    strategy: str
    """The strategy about to run (``sliding``, ``truncate``, ``summarize``, ``adaptive``,
    ``custom``)."""
    tokens: int
    """The request's count before compaction."""
    limit: int
    """What it has to fit (the window less what the answer needs)."""
    window: int | None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Emit(Value):
    """A message for the user: the model's answer, the tool results sent back, a system notice."""

    message: UserMessage | AssistantMessage | SystemMessage


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Commit(Value):
    """A consistent point of the conversation: persist ``messages`` as one transaction."""

    messages: tuple[Message, ...]
    """What the loop added to the conversation since the last commit, in order."""
    turn_number: int
    """The run's model requests so far."""
    result: ResultMessage | None = None
    """The run ends here: its result (the ``Done`` that follows carries the same), to store in
    the same transaction. None after a tool round."""
    summary: ContextSummary | None = None
    """A summary now stands for the start of the conversation in requests (compaction by
    summary): store it with the messages, to give back as ``AgentLoop(summary=...)``."""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Done(Value):
    """The run ended; nothing follows until the next ``start()`` or ``resume()``."""

    result: ResultMessage
    gave_up: str | None = None
    """Why the last failed request ended the run (``error_during_execution`` after a request
    failure), naming the reason and the model: ``"not retried: HTTP 400 (model 'm')"``,
    ``"HTTP 503 (model 'm'); gave up after 2 retries"``, ``"not retried: ... (model 'm'); retries
    are off"``, ``"not retried: the response had begun"``; None otherwise."""


Action: TypeAlias = SendRequest | Wait | AskPermission | AskCompaction | RunTools | Emit | Commit | Done
