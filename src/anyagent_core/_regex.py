"""Regular expressions that a model or a schema chose, matched in linear time (RE2).

Python's ``re`` backtracks: ``(a+)+$`` against 30 ``a``s and a ``!`` takes minutes, holding the
GIL so no timeout can fire. RE2 matches in time linear in the text whatever the pattern, by
refusing the few features that need backtracking (backreferences, lookaround, possessive
quantifiers). A pattern RE2 refuses is a ``RegexError`` saying why, never a slow match.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

import re2

__all__ = ["LinearPattern", "RegexError", "compile_linear"]


class RegexError(ValueError):
    """A pattern the linear-time engine cannot use: invalid, or needing backtracking
    (backreferences such as ``\\1``, lookahead/lookbehind). ``reason`` is RE2's own words."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class LinearPattern(Protocol):
    """A compiled pattern whose ``search`` runs in time linear in the text."""

    @property
    def pattern(self) -> str: ...

    def search(self, text: str) -> Any | None: ...

    def fullmatch(self, text: str) -> Any | None: ...


def _options(ignore_case: bool, dot_all: bool) -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would otherwise print every refusal on stderr
    options.case_sensitive = not ignore_case
    options.dot_nl = dot_all
    return options


_OPTIONS = {(case, dot): _options(case, dot) for case in (False, True) for dot in (False, True)}


@functools.lru_cache(maxsize=256)
def compile_linear(pattern: str, *, ignore_case: bool = False, dot_all: bool = False) -> LinearPattern:
    """``pattern`` compiled by RE2 (Python/Perl syntax less backreferences and lookaround);
    ``dot_all``: ``.`` matches a newline too.

    Raises ``RegexError`` with RE2's reason for a pattern it refuses."""
    try:
        compiled: LinearPattern = re2.compile(pattern, options=_OPTIONS[ignore_case, dot_all])
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid pattern"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise RegexError(
            f"{reason} (patterns run on a linear-time engine: backreferences and lookaround are not supported)",
            reason,
        ) from None
    return compiled
