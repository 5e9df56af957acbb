"""Options and fixtures of the live suite (``tests/live``).

``pytest tests/live --base-url URL --model NAME [--api-key KEY] [--server-kind llamacpp|llama-server|generic]``
runs it against a real server; without ``--base-url`` every test that needs one skips.
The options are registered here, so they are known when ``tests/live`` (or a file in it) is
named on the command line, as ``nox -s live`` does; a plain ``pytest`` run does not know them,
and the live tests then skip.
"""

from __future__ import annotations

import pytest

from tests.live.support import NO_ENDPOINT, TRANSPORTS, LiveServer

SERVER_KINDS = ("generic", "llamacpp", "llama-server")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("live", "live tests against a real OpenAI-compatible server (tests/live)")
    group.addoption("--base-url", default=None, help="the endpoint, e.g. http://127.0.0.1:8080/v1")
    group.addoption("--model", default=None, help="the model name to send")
    group.addoption("--api-key", default=None, help="sent as a Bearer token (default: $ANY_AGENT_API_KEY)")
    group.addoption(
        "--server-kind",
        default="generic",
        choices=SERVER_KINDS,
        help="llamacpp: llama-cpp-python on the tiny test model (exact replies and its quirks); "
        "llama-server: llama.cpp's own C++ server on the tiny model (/props, /tokenize, its window); "
        "generic (default): any endpoint and model",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "live: needs a real OpenAI-compatible server (--base-url)")
    config.addinivalue_line(
        "markers", "llamacpp: checks the tiny model's exact replies or llama.cpp's quirks (--server-kind llamacpp)"
    )
    config.addinivalue_line(
        "markers", "llama_server: needs llama.cpp's own C++ server on the tiny model (--server-kind llama-server)"
    )
    base_url = config.getoption("base_url", default=None)
    if base_url and not config.getoption("model", default=None):
        raise pytest.UsageError("--base-url needs --model NAME (the model to send)")


@pytest.fixture(scope="session")
def live(pytestconfig: pytest.Config) -> LiveServer:
    """The endpoint under test; skips without ``--base-url``."""
    base_url = pytestconfig.getoption("base_url", default=None)
    if not base_url:
        pytest.skip(NO_ENDPOINT)
    return LiveServer(
        base_url=str(base_url).rstrip("/"),
        model=str(pytestconfig.getoption("model")),
        api_key=pytestconfig.getoption("api_key", default=None),
        kind=str(pytestconfig.getoption("server_kind", default="generic")),
    )


@pytest.fixture(autouse=True)
def _server_kind_gate(request: pytest.FixtureRequest) -> None:
    """Tests marked ``llamacpp`` run only with ``--server-kind llamacpp``, those marked
    ``llama_server`` only with ``--server-kind llama-server``."""
    if request.node.get_closest_marker("llama_server") is not None:
        live: LiveServer = request.getfixturevalue("live")
        if live.kind != "llama-server":
            pytest.skip("llama.cpp's own server only (--server-kind llama-server): /props, /tokenize, its window")
    if request.node.get_closest_marker("llamacpp") is None:
        return
    live = request.getfixturevalue("live")
    if not live.llamacpp:
        pytest.skip("llama.cpp's tiny test model only (--server-kind llamacpp): exact replies or server quirks")


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """Each live test runs over every transport in ``support.TRANSPORTS``."""
    return str(request.param)


@pytest.fixture(params=[True, False], ids=["streamed", "whole"])
def stream(request: pytest.FixtureRequest) -> bool:
    """``stream: true`` (SSE) and ``stream: false`` (one JSON body)."""
    return bool(request.param)
