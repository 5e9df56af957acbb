"""pytest plugin (registered by the ``pytest11`` entry point): cassette fixtures for users' tests.

::

    @pytest.mark.anyagent_cassette("cassettes/hello.jsonl")   # optional; a default path is derived
    async def test_hello(anyagent_cassette):
        async with anyagent_cassette.http_client(base_url="http://127.0.0.1:1234/v1") as http:
            ...

By default the fixture replays the cassette and fails the test when it is missing;
``--anyagent-record=missing`` records the cassettes that do not exist yet and
``--anyagent-record=all`` records every one again. See docs/recording.md.

pytest loads this module in every run of every project that installs anyagent, so importing it
does nothing but define the hooks: httpx and the recorder are imported when the fixture is used.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    import httpx

    from ._recording import RecordingTransport, ReplayTransport

__all__ = ["CassetteFixture"]

_MARKER = "anyagent_cassette"
_OPTION = "--anyagent-record"
_RECORD_MODES = ("none", "missing", "all")
_CALL_REPORT = pytest.StashKey[pytest.TestReport]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("anyagent", "anyagent cassettes")
    group.addoption(
        _OPTION,
        action="store",
        dest="anyagent_record",
        choices=_RECORD_MODES,
        default="none",
        help=(
            "anyagent_cassette fixture: 'none' replays cassettes and fails when one is missing (default); "
            "'missing' records the cassettes that do not exist; 'all' records every one again."
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(path, *, secrets=()): the cassette the anyagent_cassette fixture replays or records, "
        "relative to the test file's directory; secrets are replaced by <redacted> when recording.",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep the call phase's report, so the fixture's teardown knows whether the test passed."""
    report = yield
    if report.when == "call":
        item.stash[_CALL_REPORT] = report
    return report


class CassetteFixture:
    """What the ``anyagent_cassette`` fixture gives a test.

    ``path`` is the cassette file; ``mode`` is ``"replay"`` or ``"record"``; ``transport`` is a
    ``ReplayTransport`` or a ``RecordingTransport`` (around a new ``httpx.AsyncHTTPTransport``);
    ``http_client(**kwargs)`` builds an ``httpx.AsyncClient`` on that transport, which the test
    owns and closes."""

    def __init__(
        self,
        path: Path,
        mode: Literal["replay", "record"],
        transport: ReplayTransport | RecordingTransport,
    ) -> None:
        self.path = path
        self.mode = mode
        self.transport = transport

    def http_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient(transport=self.transport, **kwargs)``; close it in the test."""
        if "transport" in kwargs:
            raise TypeError("http_client() sets the transport itself; pass the other AsyncClient arguments")
        import httpx

        return httpx.AsyncClient(transport=self.transport, **kwargs)

    def __repr__(self) -> str:
        return f"CassetteFixture(path={os.fspath(self.path)!r}, mode={self.mode!r})"


def _default_path(request: pytest.FixtureRequest) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("._") or "test"
    return request.path.parent / "cassettes" / request.path.stem / f"{name}.jsonl"


@pytest.fixture
def anyagent_cassette(request: pytest.FixtureRequest) -> Iterator[CassetteFixture]:
    """Replays the test's cassette, or records it when ``--anyagent-record`` asks for that."""
    from ._errors import CassetteError
    from ._recording import RecordingTransport, ReplayTransport

    marker = request.node.get_closest_marker(_MARKER)
    secrets: Iterable[str] = ()
    if marker is not None:
        if len(marker.args) != 1 or set(marker.kwargs) - {"secrets"}:
            pytest.fail(f"use @pytest.mark.{_MARKER}(path, secrets=[...]) with one path", pytrace=False)
        path = request.path.parent / marker.args[0]
        secrets = marker.kwargs.get("secrets", ())
        if isinstance(secrets, str):
            pytest.fail(f"{_MARKER}: secrets must be a list of strings, not one string", pytrace=False)
    else:
        path = _default_path(request)

    option = request.config.getoption("anyagent_record")
    record = option == "all" or (option == "missing" and not path.exists())
    if record:
        recorder = RecordingTransport(secrets=secrets)
        yield CassetteFixture(path, "record", recorder)
        path.parent.mkdir(parents=True, exist_ok=True)
        recorder.save(path)
        return

    if not path.exists():
        pytest.fail(
            f"cassette {os.fspath(path)} does not exist; record it against a live server with "
            f"`pytest {_OPTION}=missing {request.node.nodeid}`",
            pytrace=False,
        )
    try:
        replay = ReplayTransport(path)
    except CassetteError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield CassetteFixture(path, "replay", replay)
    report = request.node.stash.get(_CALL_REPORT, None)
    if report is not None and report.passed and replay.remaining:
        try:
            replay.assert_all_played()
        except CassetteError as exc:
            pytest.fail(f"{exc} (the test no longer sends them: record the cassette again?)", pytrace=False)
