"""Logging: what a run writes to the ``anyagent.*`` loggers, and that no credential and no
message content reaches any log record (httpx's own included) across a whole run."""

from __future__ import annotations

import logging
import pathlib
import re
from contextlib import aclosing

import anyio
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import Endpoint
from anyagent_httpx import AgentOptions, Client, H11Transport, ResultMessage, tool
from anyagent_httpx._logging import LOGGER, Scrubber, endpoint_secrets, protect_httpx_logs
from anyagent_httpx.telemetry import REDACTED, scrub
from anyagent_httpx.testing import Reply, serve
from tests.runtime.mock import FAST_RETRY
from tests.runtime.test_agent_end_to_end import calls, says

pytestmark = pytest.mark.anyio

KEY = "key-0123456789abcdefghij"
HEADER = "gateway-secret-987654321"
QUERY = "query-secret-5555555555"
PROMPT = "please add the numbers seventeen and twenty-five"


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def drain(client: Client) -> None:
    async with aclosing(client.receive_response()) as stream:
        async for _ in stream:
            pass


def everything(records: list[logging.LogRecord]) -> str:
    handler = logging.Handler()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    return "\n".join(handler.format(record) for record in records)


@pytest.mark.parametrize("kind", ["httpx", "h11"])
async def test_a_whole_run_logs_no_credential_and_no_content(
    kind: str, tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    echo = f'{{"error": {{"message": "slow down, {KEY} with {HEADER}"}}}}'.encode()
    replies = [
        Reply(status=429, headers=[("retry-after", "0")], chunks=[echo]),
        calls(("c1", "add", {"a": 17, "b": 25})),
        says("The answer is 42"),
    ]
    caplog.set_level(logging.DEBUG)  # every logger: ours, httpx's, httpcore's
    async with serve(replies) as server:
        base_url = f"{server.base_url}?api-version=1&key={QUERY}"
        transport = H11Transport() if kind == "h11" else None
        options = AgentOptions(
            model="m",
            base_url=base_url,
            api_key=KEY,
            extra_headers={"X-Gateway-Key": HEADER},
            transport=transport,
            retry=FAST_RETRY,
            tools=[add],
            cwd=tmp_path,
        )
        async with Client(options) as client:
            with anyio.fail_after(30):
                await client.query(PROMPT)
                async with aclosing(client.receive_response()) as stream:
                    messages = [message async for message in stream]
        if transport is not None:
            await transport.aclose()
    assert isinstance(messages[-1], ResultMessage) and messages[-1].result == "The answer is 42"
    sent = server.requests[0]
    assert sent.header("authorization") == f"Bearer {KEY}" and sent.header("x-gateway-key") == HEADER
    assert QUERY in sent.target  # the secrets were really sent
    text = everything(caplog.records)
    for secret in (KEY, HEADER, QUERY):
        assert secret not in text
    for content in (PROMPT, "seventeen", "The answer is 42"):
        assert content not in text

    ours = [(r.name, r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("anyagent")]
    names = [(name, level) for name, level, _ in ours]
    assert ("anyagent.run", "DEBUG") in names and ("anyagent.run", "INFO") in names
    assert ("anyagent.request", "WARNING") in names  # the 429
    assert ("anyagent.request", "INFO") in names  # the retry
    assert ("anyagent.tools", "DEBUG") in names
    failed = next(message for name, level, message in ours if level == "WARNING")
    assert "HTTP 429" in failed and REDACTED in failed
    ended = next(message for name, level, message in ours if name == "anyagent.run" and level == "INFO")
    assert ended.startswith("run ended: success after 2 turn(s)")
    if kind == "httpx":
        lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
        assert lines and all(REDACTED in line for line in lines)  # httpx's line, its query scrubbed


async def test_the_httpx_filter_forgets_a_clients_secrets_when_it_closes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    async with serve([says("hi")]) as server, httpx.AsyncClient() as http:
        options = AgentOptions(model="m", base_url=server.base_url, api_key=KEY, http_client=http)
        async with Client(options) as client:
            logging.getLogger("httpx").info("while open: %s", KEY)
        logging.getLogger("httpx").info("after close: %s", KEY)
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert lines == [f"while open: {REDACTED}", f"after close: {KEY}"]
    assert client.state.name == "CLOSED"


async def test_logging_is_quiet_by_default_and_a_failed_run_says_why(caplog: pytest.LogCaptureFixture) -> None:
    assert any(isinstance(handler, logging.NullHandler) for handler in LOGGER.handlers)
    caplog.set_level(logging.WARNING, logger="anyagent")
    async with serve([Reply(status=401, chunks=[b'{"error": "bad key"}'])]) as server:
        options = AgentOptions(model="m", base_url=server.base_url, api_key=KEY, retry=FAST_RETRY)
        async with Client(options) as client:
            await client.query("hi")
            with pytest.raises(Exception, match="401"):
                await drain(client)
    ours = [(r.name, r.getMessage()) for r in caplog.records if r.name.startswith("anyagent")]
    assert [name for name, _ in ours] == ["anyagent.request", "anyagent.run"]
    assert ours[1][1].startswith("run failed: AuthenticationError: HTTP 401")


def test_scrubber_removes_given_secrets_and_what_looks_like_credentials() -> None:
    scrubber = Scrubber(["abc123456", "abc123456789"])
    assert scrubber("x abc123456789 y abc123456") == f"x {REDACTED} y {REDACTED}"
    assert scrub("Authorization: Bearer eyJhbGciOi.J9x") == f"Authorization: Bearer {REDACTED}"
    assert (
        scrub("GET https://h/v1?api-version=2&api_key=zzz&x=1")
        == f"GET https://h/v1?api-version=2&api_key={REDACTED}&x=1"
    )
    assert scrub("see https://user:pw@host/v1") == f"see https://{REDACTED}@host/v1"
    assert scrub("key sk-proj-abcdefghijklmnop1234 leaked") == f"key {REDACTED} leaked"
    assert scrub("nothing secret here: 200 OK") == "nothing secret here: 200 OK"
    assert "abc123456" not in repr(scrubber)


@pytest.mark.parametrize(
    ("key", "text", "scrubbed"),
    [
        (
            "k",
            "the response broke: Incorrect API key provided: k.",
            f"the response broke: Incorrect API key provided: {REDACTED}.",
        ),
        ("k", "Authorization: Bearer k", f"Authorization: Bearer {REDACTED}"),
        ("k", "GET /v1?key=k&x=1 (k)", f"GET /v1?key={REDACTED}&x=1 ({REDACTED})"),
        (
            "EMPTY",
            "api_key='EMPTY' EMPTY_VALUE NOTEMPTY EMPTY-ish",
            f"api_key='{REDACTED}' EMPTY_VALUE NOTEMPTY EMPTY-ish",
        ),
        ("a1", "data1 a1b a1_ a1", f"data1 a1b a1_ {REDACTED}"),
        ("abcdef", "xabcdefy abcdef", f"x{REDACTED}y {REDACTED}"),  # long enough: anywhere
    ],
)
def test_a_short_key_is_scrubbed_where_it_stands_alone_and_nowhere_else(key: str, text: str, scrubbed: str) -> None:
    assert Scrubber([key])(text) == scrubbed


@given(key=st.text("abk1-_", min_size=1, max_size=5), text=st.text("abk1-_.:= \n", max_size=40))
def test_a_short_key_never_stands_alone_after_scrubbing(key: str, text: str) -> None:
    cleaned = Scrubber([key])(text)
    token = re.compile(f"(?<![A-Za-z0-9_-]){re.escape(key)}(?![A-Za-z0-9_-])")
    assert token.search(cleaned.replace(REDACTED, "\0")) is None
    if token.search(text) is None:
        assert cleaned == text  # nothing alone to remove: not a character changed


def test_endpoint_secrets_are_the_key_the_header_values_and_url_credentials() -> None:
    endpoint = Endpoint(
        base_url="https://u:passw0rd@gw.example/v1?api-version=1&token=tok-abcdef",
        api_key="k",
        headers=(("X-Key", "header-value-1"), ("X-Flag", "1"), ("Authorization", "Bearer abcdefgh")),
    )
    found = set(endpoint_secrets(endpoint))
    assert {"k", "header-value-1", "Bearer abcdefgh", "abcdefgh", "passw0rd", "tok-abcdef"} <= found
    assert "1" not in found and "u" not in found  # too short to search for


def test_protection_is_counted_per_client() -> None:
    caught: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            caught.append(record.getMessage())

    target = logging.getLogger("httpx")
    handler = Keep()
    target.addHandler(handler)
    level = target.level
    target.setLevel(logging.INFO)
    try:
        first, second = protect_httpx_logs(["shared-secret-1"]), protect_httpx_logs(["shared-secret-1"])
        first.release()
        first.release()  # twice is once
        target.info("%s", "shared-secret-1")
        second.release()
        target.info("%s", "shared-secret-1")
    finally:
        target.removeHandler(handler)
        target.setLevel(level)
    assert caught == [REDACTED, "shared-secret-1"]
