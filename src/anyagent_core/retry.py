"""Retry and fallback decisions, as data: ``RetryState.failed(...)`` gives ``Retry(delay, model)``
or ``GiveUp(reason)``; ``parse_retry_after`` reads the server's wait; the rules are in
``_agent/_retry``'s docstring."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._agent._retry import (
    DEFAULT_RETRY_POLICY,
    RETRY_AFTER_CEILING,
    Failure,
    RetryPolicy,
    RetryState,
    is_context_length_error,
    parse_http_date,
    parse_retry_after,
)
from ._util import lazy_names

if TYPE_CHECKING:
    from ._agent._decisions import GiveUp, Retry

#: Made with the first failure decided on.
__getattr__, __dir__ = lazy_names(globals(), dict.fromkeys(("GiveUp", "Retry"), "._agent._decisions"))

__all__ = [
    "DEFAULT_RETRY_POLICY",
    "RETRY_AFTER_CEILING",
    "Failure",
    "GiveUp",
    "Retry",
    "RetryPolicy",
    "RetryState",
    "is_context_length_error",
    "parse_http_date",
    "parse_retry_after",
]
