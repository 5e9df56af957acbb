"""What fits in a model's context: token counters (``TokenCounter``, the plain and the calibrated
estimate), compaction strategies over a ``ContextView``, and the servers' answers about their
window and their token counts (probes and parsers, as data)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._context._strategies import (
    CONTEXT_STRATEGIES,
    ContextStrategy,
    ContextStrategyName,
    StrategyFunction,
    adaptive,
    check_pairs,
    compact,
    sliding,
    summarize,
    truncate,
    truncate_text,
)
from ._context._tokens import (
    CHARS_PER_TOKEN,
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    CalibratedEstimate,
    CharEstimate,
    CountSource,
    TokenCounter,
    count_request,
    estimate_tokens,
    message_text,
    message_texts,
    tool_texts,
)
from ._util import lazy_names

if TYPE_CHECKING:
    from ._context._plans import Compaction, ContextView
    from ._context._usage import ContextSummary, ContextUsage
    from ._context._window import (
        MAX_PROBE_BODY,
        WINDOW_PROBES,
        TokenizeStep,
        WindowAnswer,
        WindowProbe,
        WindowSource,
        parse_token_count,
        parse_window,
        parse_window_error,
        probe_request,
        server_root,
        tokenize_prompt,
        tokenize_steps,
        window_probes,
    )

#: Loaded on first use: the servers' windows (probes, their parsers, context-length errors read
#: for a window) matter to a run only when it asks a server or a request is refused.
_LAZY = dict.fromkeys(
    (
        "MAX_PROBE_BODY",
        "WINDOW_PROBES",
        "TokenizeStep",
        "WindowAnswer",
        "WindowProbe",
        "WindowSource",
        "parse_token_count",
        "parse_window",
        "parse_window_error",
        "probe_request",
        "server_root",
        "tokenize_prompt",
        "tokenize_steps",
        "window_probes",
    ),
    "._context._window",
)
#: Made when asked for: a run reports its context usage on request (``context_usage()``), and
#: keeps a summary once it has compacted by summarising (or resumed a session that had).
_LAZY.update(dict.fromkeys(("ContextSummary", "ContextUsage"), "._context._usage"))
#: Made with the first compaction (a request that outgrows the window).
_LAZY.update(dict.fromkeys(("Compaction", "ContextView"), "._context._plans"))

__getattr__, __dir__ = lazy_names(globals(), _LAZY)


__all__ = [
    "CHARS_PER_TOKEN",
    "CONTEXT_STRATEGIES",
    "IMAGE_TOKENS",
    "MAX_PROBE_BODY",
    "MESSAGE_OVERHEAD",
    "WINDOW_PROBES",
    "CalibratedEstimate",
    "CharEstimate",
    "Compaction",
    "ContextStrategy",
    "ContextStrategyName",
    "ContextSummary",
    "ContextUsage",
    "ContextView",
    "CountSource",
    "StrategyFunction",
    "TokenCounter",
    "TokenizeStep",
    "WindowAnswer",
    "WindowProbe",
    "WindowSource",
    "adaptive",
    "check_pairs",
    "compact",
    "count_request",
    "estimate_tokens",
    "message_text",
    "message_texts",
    "parse_token_count",
    "parse_window",
    "parse_window_error",
    "probe_request",
    "server_root",
    "sliding",
    "summarize",
    "tool_texts",
    "tokenize_prompt",
    "tokenize_steps",
    "truncate",
    "truncate_text",
    "window_probes",
]
