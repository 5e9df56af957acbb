"""The retry rules' decisions: ``Retry`` (wait, then try again, perhaps elsewhere) and ``GiveUp``.
Only a request that failed gets one, so they load with the first failure decided on (or by
name: ``anyagent_core._agent._retry`` resolves them on first use), and keep that module as
their ``__module__``, where pickles find them."""

from __future__ import annotations

import attrs

from anyagent_core.value import Value

__all__ = ["GiveUp", "Retry"]

_HOME = "anyagent_core._agent._retry"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Retry(Value):
    """Wait ``delay`` seconds, then send the request again with ``model``."""

    __module__ = _HOME

    delay: float
    model: str
    attempt: int
    """The number of the attempt about to be made (2 for the first retry), across models."""
    reason: str
    endpoint: int = 0
    """Which endpoint the attempt goes to: 0 the main one, 1 the first fallback endpoint, ..."""
    fallback_to: str = ""
    """Where the attempt moves when it is not a retry of the same model but a fallback
    (``"model 'small'"``, ``"endpoint 1, model 'small'"``); empty for a retry."""
    gave_up: str = ""
    """For a fallback, what the model's own retries came to when they ended its attempts:
    ``"gave up after 2 retries"`` or ``"retries are off"``; empty otherwise."""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class GiveUp(Value):
    """Stop: raise the failure. ``reason`` says why no retry was made."""

    __module__ = _HOME

    reason: str
