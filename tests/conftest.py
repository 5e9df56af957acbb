from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# pytester runs small inline test files (tests/runtime/test_pytest_plugin.py); it must be named here,
# in the root conftest.
pytest_plugins = ("pytester",)

# Profiles: "default" for local runs and CI, "thorough" for a long soak (HYPOTHESIS_PROFILE=thorough).
# No deadline: byte-at-a-time feeding of whole streams is slow on a loaded 2-core machine, and
# speed is measured by benchmarks/, never by tests.
settings.register_profile(
    "default", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs under asyncio and trio. Explicit, so a missing trio fails loudly
    instead of silently dropping the trio runs (anyio's default lists available backends)."""
    return str(request.param)


@pytest.fixture(autouse=True)
def _sessions_out_of_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default session store (the ``anyagent`` command keeps its conversations there) is a
    temporary file in every test, never the user's data directory."""
    monkeypatch.setenv("ANY_AGENT_SESSIONS_DB", str(tmp_path_factory.mktemp("sessions") / "sessions.db"))


@pytest.fixture(autouse=True)
def _no_machine_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's servers listen on 127.0.0.1: a proxy the machine's environment names (httpx,
    and so ``default_http_client``, applies them) must not carry their requests. Tests of
    proxies name their own."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
