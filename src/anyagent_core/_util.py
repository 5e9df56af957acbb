"""Signals returned by ``Connection.next_event`` and tiny pure helpers."""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["NEED_DATA", "PAUSED", "NeedData", "Paused", "snippet"]


class NeedData(enum.Enum):
    """The connection needs more bytes (``receive_data``) before it can produce an event."""

    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return self.value


class Paused(enum.Enum):
    """The response is over; call ``start_next_cycle()`` before the next request."""

    PAUSED = "PAUSED"

    def __repr__(self) -> str:
        return self.value


NEED_DATA: Final = NeedData.NEED_DATA
PAUSED: Final = Paused.PAUSED


def snippet(data: bytes | bytearray | str, start: int = 0, length: int = 80) -> str:
    """A short printable excerpt of ``data`` from ``start``, for error messages."""
    piece = data[start : start + length]
    text = piece.decode("utf-8", "replace") if isinstance(piece, bytes | bytearray) else piece
    if len(data) - start > length:
        text += "..."
    return text
