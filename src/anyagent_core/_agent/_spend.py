"""What a run spends: token usage and cost, added up in one place (``Spend.add``).

A run keeps two tallies with different lifetimes: the *run*'s (since ``start()``), which the
budgets (``max_total_tokens``, ``max_budget_usd``) are checked against, and the *response*'s
(since the last ``start()`` or ``resume()`` that began a response), which its ``ResultMessage``
reports. Every spend, the loop's own answers, an interrupted answer's partial usage and a
subagent's run alike, goes into both through ``AgentLoop._charge``, which calls ``Spend.add``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anyagent_core._messages import Usage
from anyagent_core._util import lazy_names
from anyagent_core.value import Record

from ._results import add_usage

if TYPE_CHECKING:
    from ._pricing import Pricing

__all__ = ["Pricing", "Spend", "cost_usd", "tokens_of"]


def cost_usd(usage: Usage | None, pricing: Pricing | None) -> float | None:
    """The cost of one answer's ``usage``; None when either is unknown."""
    if usage is None or pricing is None:
        return None
    prompt = usage.prompt_tokens or 0
    completion = usage.completion_tokens or 0
    cached = min(usage.cached_tokens or 0, prompt)
    cached_price = pricing.cached_input_per_million
    if cached_price is None:
        cached_price = pricing.input_per_million
    dollars = (prompt - cached) * pricing.input_per_million + cached * cached_price
    return (dollars + completion * pricing.output_per_million) / 1e6


def tokens_of(usage: Usage | None) -> int | None:
    """The tokens ``usage`` counts (its total, or prompt plus completion); None if it has none."""
    if usage is None:
        return None
    if usage.total_tokens is not None:
        return usage.total_tokens
    if usage.prompt_tokens is None and usage.completion_tokens is None:
        return None
    return (usage.prompt_tokens or 0) + (usage.completion_tokens or 0)


class Spend(Record):
    """A tally: usage summed field by field, cost (None until something was priced), tokens."""

    __slots__ = ("cost_usd", "tokens", "usage")

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.cost_usd: float | None = None
        self.tokens = 0

    def add(self, usage: Usage | None, cost: float | None, tokens: int) -> None:
        self.usage = add_usage(self.usage, usage)
        if cost is not None:
            self.cost_usd = (self.cost_usd or 0.0) + cost
        self.tokens += tokens


#: Made by options that name prices (``_pricing``), which keeps this module its ``__module__``.
__getattr__, __dir__ = lazy_names(globals(), {"Pricing": "._agent._pricing"})
