"""Embedding vectors as the stores keep them (little-endian float32 bytes) and a nearest-
neighbour index by cosine similarity.

``VectorIndex`` keeps normalised vectors in memory and scores a query against all of them:
with numpy (the ``vectors`` extra) as one matrix product, otherwise in pure Python, which is
fine for a few thousand memories. Vectors of another length than the query's are skipped (a
memory embedded by another model).
"""

from __future__ import annotations

import heapq
import math
import sys
from array import array
from collections.abc import Sequence
from typing import Any

__all__ = ["VectorIndex", "normalised", "pack_vector", "unpack_vector"]

_NUMPY: list[Any] = []  # numpy, or None without it: looked for at the first search, not at import


def _numpy() -> Any:
    if not _NUMPY:
        try:  # pragma: no cover (depends on the environment)
            import numpy

            _NUMPY.append(numpy)
        except ImportError:  # pragma: no cover
            _NUMPY.append(None)
    return _NUMPY[0]


def pack_vector(vector: Sequence[float]) -> bytes:
    """The vector as little-endian float32 bytes."""
    packed = array("f", vector)
    if sys.byteorder != "little":  # pragma: no cover
        packed.byteswap()
    return packed.tobytes()


def unpack_vector(blob: bytes) -> tuple[float, ...]:
    if len(blob) % 4:
        raise ValueError(f"a stored vector of {len(blob)} bytes is not float32 values")
    values = array("f")
    values.frombytes(blob)
    if sys.byteorder != "little":  # pragma: no cover
        values.byteswap()
    return tuple(values)


def normalised(vector: Sequence[float]) -> tuple[float, ...]:
    norm = math.sqrt(sum(x * x for x in vector))
    return tuple(vector) if norm == 0.0 else tuple(x / norm for x in vector)


class VectorIndex:
    """Vectors by key; ``nearest(query, k)`` gives the ``k`` most similar ``(key, cosine)``."""

    def __init__(self) -> None:
        self._vectors: dict[int, tuple[float, ...]] = {}
        self._matrix: dict[int, tuple[list[int], Any]] = {}  # by length, rebuilt when stale

    def __len__(self) -> int:
        return len(self._vectors)

    def add(self, key: int, vector: Sequence[float]) -> None:
        self._vectors[key] = normalised(vector)
        self._matrix.pop(len(vector), None)

    def remove(self, key: int) -> None:
        vector = self._vectors.pop(key, None)
        if vector is not None:
            self._matrix.pop(len(vector), None)

    def nearest(self, query: Sequence[float], k: int) -> list[tuple[int, float]]:
        if k <= 0 or not self._vectors:
            return []
        q = normalised(query)
        _np = _numpy()
        if _np is not None:
            keys, matrix = self._matrix_for(len(q))
            if not keys:
                return []
            scores = matrix @ _np.asarray(q, dtype=_np.float32)
            count = min(k, len(keys))
            top = _np.argpartition(-scores, count - 1)[:count]
            return sorted(((keys[i], float(scores[i])) for i in top), key=lambda pair: -pair[1])
        best = heapq.nlargest(
            k,
            ((key, math.fsum(map(float.__mul__, q, v))) for key, v in self._vectors.items() if len(v) == len(q)),
            key=lambda pair: pair[1],
        )
        return best

    def _matrix_for(self, length: int) -> tuple[list[int], Any]:
        cached = self._matrix.get(length)
        if cached is None:
            _np = _numpy()
            assert _np is not None
            keys = [key for key, v in self._vectors.items() if len(v) == length]
            matrix = _np.array([self._vectors[key] for key in keys], dtype=_np.float32).reshape(len(keys), length)
            cached = self._matrix[length] = (keys, matrix)
        return cached
