"""Embeddings, sans-IO: ``EmbeddingsExchange`` writes the ``/embeddings`` request and reads its
response into ``Embeddings`` (one vector per input) or the server's ``ServerError``;
``read_embeddings`` reads a body alone; ``cosine`` compares two vectors."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ._dialects._openai_chat._embeddings import EMBEDDINGS_PATH, Embeddings, EmbeddingsExchange, read_embeddings

__all__ = ["EMBEDDINGS_PATH", "Embeddings", "EmbeddingsExchange", "cosine", "read_embeddings"]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity in [-1, 1] (0 when either vector is all zeros); ``ValueError`` when
    the lengths differ."""
    if len(a) != len(b):
        raise ValueError(f"vectors of different lengths: {len(a)} and {len(b)}")
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return 0.0 if norm == 0.0 else max(-1.0, min(1.0, dot / norm))
