"""The default pool: one ``HttpxTransport`` per event loop, for clients given no transport.

A one-shot ``query()`` used to build (and close) an ``httpx.AsyncClient`` of its own, and
building one costs far more than a request to a local server: httpx makes its TLS context (the
CA bundle read and parsed) in the constructor, tens of milliseconds, even for ``http://``. So a
``Client`` without ``http_client=`` or ``transport=`` borrows the running event loop's pool
instead (``shared_transport()``):

* **Per event loop.** The pool lives in an ``anyio.lowlevel.RunVar``: each ``anyio.run`` /
  ``asyncio.run`` / ``trio.run`` gets its own, so no connection or lock ever crosses event loops
  or threads (each loop runs in one thread).
* **Closed at loop shutdown.** The pool registers an async generator with the loop, which the
  loop finalizes as it shuts down (``asyncio.run`` and ``asyncio.Runner`` call
  ``loop.shutdown_asyncgens()``; trio finalizes every async generator still alive when the run
  ends); its ``finally`` closes the pool's connections, shielded and bounded by
  ``CLOSE_TIMEOUT``. Where no loop hook is installed (a hand-driven loop that never shuts its
  async generators down) there would be no one to close a shared pool: ``shared_transport()``
  returns None and the client builds and closes a transport of its own, as before.
* **No TLS for plain HTTP.** The pool is a ``default_http_client()``, which routes by scheme
  (``_httpx.LazyTLSTransport``):
  ``http://`` goes to a pool that never builds a verifying TLS context, and the ``https://``
  pool, with httpx's own defaults (certifi, ``SSL_CERT_FILE``/``SSL_CERT_DIR``), is built on the
  first ``https://`` request.

* **No state between clients.** The pool's ``httpx.AsyncClient`` keeps no cookies: one
  client's server setting a cookie must not have it sent with another client's requests.

A user's own ``http_client`` or ``transport`` is never touched by any of this: it is used as it
is, never closed, never reconfigured.
"""

from __future__ import annotations

import http.cookiejar
import sys
from collections.abc import AsyncGenerator
from typing import final

import anyio
import anyio.lowlevel

from ._base import CLOSE_TIMEOUT
from ._httpx import HttpxTransport, default_http_client

__all__ = ["shared_transport"]


@final
class _NoCookies(http.cookiejar.CookiePolicy):
    """Keep no cookie and send none: the pool is shared by clients that know nothing of each
    other (``Set-Cookie`` is the server's business with one client, not with every later one)."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = False

    def set_ok(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: object) -> bool:
        return False

    def path_return_ok(self, path: str, request: object) -> bool:
        return False


@final
class _Pool:
    """One event loop's shared transport, and the async generator that closes it."""

    def __init__(self) -> None:
        jar = http.cookiejar.CookieJar(policy=_NoCookies())
        self.transport = HttpxTransport(http_client=default_http_client(cookies=jar))
        self.transport.send_directly()  # its jar keeps no cookie; not while a proxy is named
        self.closer = self._close_at_shutdown()  # held here: the loop keeps only a weak reference

    async def _close_at_shutdown(self) -> AsyncGenerator[None]:
        try:
            yield
        finally:
            # trio finalizes leftover generators inside a cancelled scope: shield the close.
            with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT):
                await self.transport.http_client.aclose()


_POOL: anyio.lowlevel.RunVar[_Pool | None] = anyio.lowlevel.RunVar("anyagent_default_pool")


async def shared_transport() -> HttpxTransport | None:
    """The running event loop's shared ``HttpxTransport``, made on first use; None when the loop
    cannot close it at shutdown (no async generator hooks), so the caller must own one."""
    try:
        pool = _POOL.get()
    except LookupError:
        pool = None
        if sys.get_asyncgen_hooks().firstiter is not None:
            pool = _Pool()
            await pool.closer.asend(None)  # the first step registers it with the loop
        _POOL.set(pool)
    return None if pool is None else pool.transport
