"""Value types the agent loop reports about its context: ``ContextUsage`` (what a request
would take, and of which window) and ``ContextSummary`` (a summary that stands for the start of
the conversation)."""

from __future__ import annotations

import attrs

from anyagent_core._messages import UserMessage
from anyagent_core.value import Value

from ._tokens import CountSource, WindowSource

__all__ = ["ContextSummary", "ContextUsage"]


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ContextUsage(Value):
    """Tokens the next request would take, by part, and the window they go into."""

    system_tokens: int
    tools_tokens: int
    messages_tokens: int
    window: int | None
    window_source: WindowSource
    counter: CountSource
    """How the tokens were counted."""
    messages: int
    """Messages the request would send (after compaction)."""
    left_out: int = 0
    """Messages of the conversation the request leaves out (compaction)."""

    @property
    def total_tokens(self) -> int:
        return self.system_tokens + self.tools_tokens + self.messages_tokens

    @property
    def percent(self) -> float | None:
        """The share of the window used, in percent (None without a window)."""
        return None if not self.window else 100.0 * self.total_tokens / self.window


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ContextSummary(Value):
    """A summary standing for the conversation's first ``replaces`` messages in requests."""

    replaces: int
    message: UserMessage
