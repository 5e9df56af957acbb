"""Transports: one HTTP exchange for a core ``Request``, and nothing of the protocol above it.

``_base`` holds the contract (``AsyncTransport``, ``TransportResponse``, ``CLOSE_TIMEOUT``) and
the one exception mapper every transport translates its failures with (``map_exceptions``);
``_httpx`` implements it over an ``httpx.AsyncClient``, ``_h11`` over anyio sockets and h11;
``_pool`` holds the default pool, one ``HttpxTransport`` per event loop for clients given none.
``_h11`` is loaded when ``H11Transport`` is first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._base import CLOSE_TIMEOUT, AsyncTransport, TransportResponse
from ._httpx import DEFAULT_LIMITS, DEFAULT_TIMEOUT, HttpxTransport, default_http_client
from ._pool import shared_transport

if TYPE_CHECKING:
    from ._h11 import H11Transport, H11TransportStatistics

__all__ = [
    "CLOSE_TIMEOUT",
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUT",
    "AsyncTransport",
    "H11Transport",
    "H11TransportStatistics",
    "HttpxTransport",
    "TransportResponse",
    "default_http_client",
    "shared_transport",
]


def __getattr__(name: str) -> Any:
    if name in ("H11Transport", "H11TransportStatistics"):
        from . import _h11

        return getattr(_h11, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
