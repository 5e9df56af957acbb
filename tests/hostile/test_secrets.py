"""The secret scan: distinctive keys given as the API key, an extra header's value and a query
parameter of the base URL, and echoed back by a hostile server, appear in no cassette, log line,
repr, error or command-line output."""

from __future__ import annotations

import io
import json
import logging
import re
import traceback
from pathlib import Path

import anyio.to_thread
import httpx
import pytest

from anyagent_core import Connection, Endpoint, StartTurn, UserMessage
from anyagent_httpx import (
    AgentOptions,
    APIError,
    AuthenticationError,
    H11Transport,
    RecordingTransport,
    RetryPolicy,
    query,
)
from anyagent_httpx._cli import main

from .server import SSE_HEAD, Peer, hostile

pytestmark = pytest.mark.anyio

API_KEY = "sk-scan-API-0f1e2d3c4b5a6978"
HEADER_KEY = "gw-scan-HEADER-8a7b6c5d4e3f"  # in a header named like nothing secret
QUERY_KEY = "qk-scan-QUERY-1122334455"
KEYS = (API_KEY, HEADER_KEY, QUERY_KEY)


def echo_body(peer: Peer) -> bytes:
    """An error message quoting the whole request back, as some gateways do."""
    request = peer.server.requests[-1].decode("latin-1")
    return json.dumps({"error": {"message": f"Incorrect API key provided. You sent: {request}"}}).encode()


def echoed_header(peer: Peer) -> bytes:
    """The request's ``X-Tenant-Route`` value, which the server sends back in a header."""
    for line in peer.server.requests[-1].split(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"x-tenant-route":
            return value.strip()
    return b"none"


async def echo_401(peer: Peer) -> None:
    body = echo_body(peer)
    await peer.send(
        b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nX-Echo: %s\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (echoed_header(peer), len(body), body)
    )


async def echo_in_stream(peer: Peer) -> None:
    body = b"data: " + echo_body(peer) + b"\n\n"
    await peer.send(SSE_HEAD + b"Connection: close\r\n\r\n" + body)


def assert_clean(text: str, where: str) -> None:
    for key in KEYS:
        assert key not in text, f"{key} in {where}"


def error_texts(error: BaseException) -> str:
    parts = [str(error), repr(error), *traceback.format_exception(error)]
    for name in ("message", "body", "headers", "error"):
        parts.append(repr(getattr(error, name, None)))
    return "\n".join(parts)


@pytest.mark.parametrize("scenario", [echo_401, echo_in_stream], ids=["401", "in-stream"])
@pytest.mark.parametrize("kind", ["httpx", "h11"])
async def test_no_key_escapes(kind: str, scenario: object, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cassette = tmp_path / "run.jsonl"
    async with hostile(scenario) as server:  # type: ignore[arg-type]
        base_url = f"{server.url}?key={QUERY_KEY}"
        common: dict[str, object] = {
            "model": "m",
            "base_url": base_url,
            "api_key": API_KEY,
            "extra_headers": {"X-Tenant-Route": HEADER_KEY},
            "retry": RetryPolicy(max_retries=0),
        }
        recorder: RecordingTransport | None = None
        if kind == "h11":
            async with H11Transport() as h11:
                options = AgentOptions(transport=h11, **common)  # type: ignore[arg-type]
                with pytest.raises(APIError) as info:
                    [m async for m in query(prompt="hi", options=options)]
        else:
            recorder = RecordingTransport(httpx.AsyncHTTPTransport())
            async with httpx.AsyncClient(transport=recorder) as client:
                options = AgentOptions(http_client=client, **common)  # type: ignore[arg-type]
                with pytest.raises(APIError) as info:
                    [m async for m in query(prompt="hi", options=options)]
            recorder.save(cassette)
        # The keys did reach the server, and it echoed them: there was something to leak.
        assert all(key in server.requests[0].decode() for key in KEYS)

        out, err = io.StringIO(), io.StringIO()
        status = await anyio.to_thread.run_sync(
            lambda: main(
                ["run", "hi", "--base-url", base_url, "--api-key", API_KEY, "--model", "m", "--max-retries", "0"],
                out=out,
                err=err,
            )
        )
    assert status == 1 and "error" in err.getvalue()
    assert_clean(error_texts(info.value), "the error")
    assert_clean(repr(options), "repr(AgentOptions)")
    assert_clean(caplog.text, "the log")
    assert_clean(out.getvalue() + err.getvalue(), "the command line's output")
    if recorder is not None:
        assert_clean(cassette.read_text(encoding="utf-8"), "the cassette")
        assert "X-Tenant-Route" in cassette.read_text(encoding="utf-8")  # the header's name is kept


SHORT_KEY = "k"  # a local server's placeholder key: one character, in many words
ECHOED = "Incorrect API key provided: k. Check the key you set, or make one: keys are kept per kind of kit."


async def echo_short_key(peer: Peer) -> None:
    body = json.dumps({"error": {"message": ECHOED, "type": "invalid_request_error"}}).encode()
    await peer.send(
        b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
    )


@pytest.mark.parametrize("kind", ["httpx", "h11"])
async def test_a_one_character_key_is_hidden_where_it_stands_and_the_words_keep_theirs(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alone = re.compile(r"(?<![A-Za-z0-9_-])k(?![A-Za-z0-9_-])")
    async with hostile(echo_short_key) as server:
        common: dict[str, object] = {
            "model": "m",
            "base_url": server.url,
            "api_key": SHORT_KEY,
            "retry": RetryPolicy(max_retries=0),
        }
        if kind == "h11":
            async with H11Transport() as h11:
                options = AgentOptions(transport=h11, **common)  # type: ignore[arg-type]
                with pytest.raises(AuthenticationError) as info:
                    [m async for m in query(prompt="hi", options=options)]
        else:
            async with httpx.AsyncClient() as client:
                options = AgentOptions(http_client=client, **common)  # type: ignore[arg-type]
                with pytest.raises(AuthenticationError) as info:
                    [m async for m in query(prompt="hi", options=options)]
    assert b"authorization: bearer k\r\n" in server.requests[0].lower()  # the key was sent
    hidden = ECHOED.replace(": k.", ": <redacted>.")
    # The key, where it stands alone, is gone from the error and every log line; no word lost a letter.
    assert info.value.message == hidden and str(info.value) == f"HTTP 401: {hidden}"
    assert alone.search(error_texts(info.value)) is None
    for record in caplog.records:
        assert alone.search(record.getMessage()) is None, record.getMessage()
    assert hidden in caplog.text and "<redacted>e" not in caplog.text and "<redacted>ey" not in caplog.text
    # Where the key itself would be printed, it never is.
    assert "api_key" not in repr(options) and "'k'" not in repr(options)
    request = Connection(Endpoint(base_url=server.url, api_key=SHORT_KEY)).send(
        StartTurn(model="m", messages=[UserMessage(content="hi")])
    )
    assert ("Authorization", "<redacted>") in request.redacted_headers() and "Bearer" not in repr(request)
