"""What a context strategy decides on (``ContextView``) and its answer (``Compaction``). Only a
request that outgrows the window makes them (or ``compact``), so they load with the first
compaction (or by name: ``anyagent_core._context._strategies`` resolves them on first use), and
keep that module as their ``__module__``, where pickles and ``typing.get_type_hints`` find them
and their annotations' names."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from anyagent_core._messages import Message, ToolSpec
from anyagent_core.value import Value

from ._tokens import TokenCounter, count_request

__all__ = ["Compaction", "ContextView"]

_HOME = "anyagent_core._context._strategies"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ContextView(Value):
    """What a strategy decides on."""

    __module__ = _HOME

    messages: tuple[Message, ...]
    """What the request would send, oldest first (a summary of earlier turns first, if any)."""
    system_prompt: str | None = None
    tools: tuple[ToolSpec, ...] = ()
    limit: int
    """Tokens the prompt may take (the window less what the answer needs)."""
    keep_from: int
    """Messages from this index on are the run's own (its prompt and what followed): never left
    out. ``len(messages)`` when there is no such message."""
    counter: TokenCounter = attrs.field(eq=False)

    def tokens(self, messages: Sequence[Message] | None = None) -> int:
        """The prompt's count for ``messages`` (these messages by default) by the view's counter."""
        chosen = self.messages if messages is None else messages
        return count_request(self.counter, chosen, system_prompt=self.system_prompt, tools=self.tools)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Compaction(Value):
    """A strategy's answer."""

    __module__ = _HOME

    messages: tuple[Message, ...]
    """What the request sends."""
    dropped: int = 0
    """Leading messages of the view left out."""
    truncated: int = 0
    """Tool results shortened."""
    summarize: tuple[Message, ...] = ()
    """The leading messages to replace with a summary (``summarize``, ``adaptive``); the loop asks
    the model for it. ``messages`` is then what follows them."""
