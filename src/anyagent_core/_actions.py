"""What ``AgentLoop.next_action()`` asks the driver to do (all frozen values).

The driver dispatches on ``type(action)``:

- ``SendRequest``: perform ``turn`` (a ``StartTurn``) with a ``Connection``, then report the
  answer with ``receive_response()`` or the failure with ``request_failed()``;
- ``Wait``: sleep ``seconds`` (a retry back-off), then ask again;
- ``AskPermission``: ask whoever decides (a ``can_use_tool`` callback) and report
  ``permission()``;
- ``RunTools``: run the calls and report each result with ``tool_result()``;
- ``Emit``: hand ``message`` to the user;
- ``Done``: the run is over; ``result`` is its ``ResultMessage``.
"""

from __future__ import annotations

from typing import TypeAlias

import attrs

from ._events import StartTurn
from ._messages import AssistantMessage, ToolUseBlock, UserMessage
from ._permissions import ToolTraits
from ._results import ResultMessage, SystemMessage

__all__ = ["Action", "AskPermission", "Done", "Emit", "RunTools", "SendRequest", "Wait"]


@attrs.frozen(kw_only=True)
class SendRequest:
    """Send ``turn``: the ``turn_number``-th model request of the run, attempt ``attempt``."""

    turn: StartTurn
    turn_number: int
    attempt: int = 1


@attrs.frozen(kw_only=True)
class Wait:
    """Sleep before the next attempt of a failed request."""

    seconds: float
    attempt: int
    """The attempt that follows the wait (2 for the first retry)."""
    model: str
    """The model the next attempt uses (a fallback model, perhaps)."""
    reason: str


@attrs.frozen(kw_only=True)
class AskPermission:
    """The rules say ``ask`` for ``call``: report ``PermissionAllow`` or ``PermissionDeny``."""

    call: ToolUseBlock
    reason: str
    traits: ToolTraits


@attrs.frozen(kw_only=True)
class RunTools:
    """Run these approved calls (their ``input`` may have been rewritten by a permission answer)
    and report one ``tool_result()`` for each, in any order."""

    calls: tuple[ToolUseBlock, ...]


@attrs.frozen(kw_only=True)
class Emit:
    """A message for the user: the model's answer, the tool results sent back, a system notice."""

    message: UserMessage | AssistantMessage | SystemMessage


@attrs.frozen(kw_only=True)
class Done:
    """The run ended; nothing follows until the next ``start()`` or ``resume()``."""

    result: ResultMessage


Action: TypeAlias = SendRequest | Wait | AskPermission | RunTools | Emit | Done
