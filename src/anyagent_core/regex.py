"""Linear-time regular expressions (RE2) for patterns a model or a schema chose:
``compile_linear`` and the ``RegexError`` it raises for a pattern that needs backtracking."""

from __future__ import annotations

from ._regex import LinearPattern, RegexError, compile_linear

__all__ = ["LinearPattern", "RegexError", "compile_linear"]
