"""``Pricing``: a model's prices. Only options or settings that name prices make one, so it loads
with the first (or by name: ``anyagent_core._agent._spend`` resolves it on first use), and keeps
that module as its ``__module__``, where pickles find it."""

from __future__ import annotations

import attrs

from anyagent_core.value import Value

__all__ = ["Pricing"]

_HOME = "anyagent_core._agent._spend"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Pricing(Value):
    """Prices in US dollars per million tokens."""

    __module__ = _HOME

    input_per_million: float = attrs.field(validator=attrs.validators.ge(0.0))
    output_per_million: float = attrs.field(validator=attrs.validators.ge(0.0))
    cached_input_per_million: float | None = None
    """Price of prompt tokens served from the cache (``cached_tokens``); None: the input price."""
