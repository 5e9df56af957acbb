"""What fits in a model's context: token estimates and compaction of old messages."""

from __future__ import annotations

from ._budget import CHARS_PER_TOKEN, IMAGE_TOKENS, compact, estimate_tokens

__all__ = ["CHARS_PER_TOKEN", "IMAGE_TOKENS", "compact", "estimate_tokens"]
