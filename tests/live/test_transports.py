"""The live suite covers every transport anyagent_httpx exports (needs no server)."""

from __future__ import annotations

import anyagent_httpx
from tests.live.support import TRANSPORT_CLASSES, TRANSPORTS


def _exported_transports() -> set[str]:
    """Exported classes that implement our transport contract (``exchange``), the protocol
    itself excepted; httpx-level transports (``httpx.AsyncBaseTransport``) do not count."""
    return {
        name
        for name in anyagent_httpx.__all__
        if name.endswith("Transport")
        and name != "AsyncTransport"
        and isinstance(getattr(anyagent_httpx, name), type)
        and callable(getattr(getattr(anyagent_httpx, name), "exchange", None))
    }


def test_every_exported_transport_is_listed() -> None:
    missing = _exported_transports() - set(TRANSPORT_CLASSES.values())
    assert not missing, f"add {sorted(missing)} to TRANSPORT_CLASSES in tests/live/support.py"


def test_the_live_suite_runs_over_every_exported_transport() -> None:
    assert "httpx" in TRANSPORTS
    assert {TRANSPORT_CLASSES[name] for name in TRANSPORTS} == _exported_transports()
