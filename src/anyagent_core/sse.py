"""The WHATWG event-stream decoder (bytes in, ``SSEMessage`` out) and its encoder."""

from __future__ import annotations

from ._sse import SSEDecoder, SSEMessage, encode_sse

__all__ = ["SSEDecoder", "SSEMessage", "encode_sse"]
