"""Linear-time regular expressions (RE2) for patterns a model or a schema chose:
``compile_linear`` and the ``RegexError`` it raises for a pattern that needs backtracking
(loaded on first use); and ``lazy_pattern``, a pattern of the program's own compiled on first
use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._util import lazy_names, lazy_pattern

if TYPE_CHECKING:
    from ._regex import LinearPattern, RegexError, compile_linear

__all__ = ["LinearPattern", "RegexError", "compile_linear", "lazy_pattern"]

__getattr__, __dir__ = lazy_names(
    globals(), dict.fromkeys(("LinearPattern", "RegexError", "compile_linear"), "._regex")
)
