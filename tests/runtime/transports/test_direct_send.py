"""Direct sending (``HttpxTransport.send_directly``, the default pool's): requests handed to the
client's transport without ``AsyncClient.send()`` are the requests ``send()`` would make, with
the same exchange, log line, redirect bookkeeping and failures; clients it cannot stand in for
are left to ``send()``."""

from __future__ import annotations

import http.cookiejar
import logging

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import Request
from anyagent_httpx import APIConnectionError, default_http_client
from anyagent_httpx._transports import HttpxTransport, shared_transport
from anyagent_httpx._transports._httpx import direct_transport
from anyagent_httpx._transports._pool import _NoCookies
from anyagent_httpx.testing import Reply, serve
from tests.runtime.mock import text_stream

pytestmark = pytest.mark.anyio

ANSWER = b"".join(text_stream("Hello", " there"))


def _pool_like(*, direct: bool) -> HttpxTransport:
    """A transport over a client as the default pool builds it, sending directly or not."""
    jar = http.cookiejar.CookieJar(policy=_NoCookies())
    transport = HttpxTransport(http_client=default_http_client(cookies=jar))
    if direct:
        assert transport.send_directly()
    return transport


_names = st.sampled_from(
    ["content-type", "Content-Type", "accept", "Accept-Encoding", "accept-encoding", "user-agent", "x-extra", "X-Extra"]
)
_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12).map(str.strip)
_requests = st.builds(
    Request,
    method=st.sampled_from(["POST", "GET"]),
    url=st.sampled_from(
        [
            "http://127.0.0.1:8000/v1/chat/completions",
            "http://localhost/v1/models?x=1",
            "https://api.example.com/v1/chat/completions",
            "http://[::1]:8080/v1/a%20b",
        ]
    ),
    headers=st.lists(st.tuples(_names, _values), max_size=6).map(tuple),
    body=st.binary(max_size=64),
)


@given(request=_requests)
def test_a_request_built_for_direct_sending_is_the_one_build_request_makes(request: Request) -> None:
    transport = _pool_like(direct=True)
    parsed, _, direct = transport._url(request.url)
    assert direct
    for _ in range(2):  # the second time from the kept headers
        fast = transport._build(request, parsed, True)
        checked = transport._build(request, parsed, False)
        assert (fast.method, fast.url, fast.headers.raw, fast.extensions) == (
            checked.method,
            checked.url,
            checked.headers.raw,
            checked.extensions,
        )
        assert fast.extensions is not checked.extensions


async def _exchange(transport: HttpxTransport, url: str) -> tuple[int, bytes]:
    request = Request(method="POST", url=url, headers=(("content-type", "application/json"),), body=b"{}")
    async with transport.exchange(request) as response:
        return response.status, b"".join([chunk async for chunk in response.stream])


async def test_the_server_and_httpx_s_log_see_the_same_as_through_send(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    replies = [Reply.sse(ANSWER), Reply.sse(ANSWER, content_length=True), Reply.error(404, "no such model")]
    seen: dict[bool, tuple[list[tuple[int, bytes]], list[object], list[tuple[str, str, str]]]] = {}
    for direct in (False, True):
        caplog.clear()
        async with serve(replies) as server:
            transport = _pool_like(direct=direct)
            answers = [await _exchange(transport, server.url("/chat/completions")) for _ in replies]
            await transport.http_client.aclose()
            host = ("host", server.base_url.removeprefix("http://").removesuffix("/v1"))
            assert all(r.headers[0] == host for r in server.requests)  # the one header with the port
            requests: list[object] = [
                (r.method, r.target, r.headers[1:], r.body, r.connection) for r in server.requests
            ]
            lines = [(r.name, r.levelname, r.getMessage().replace(server.base_url, "URL")) for r in caplog.records]
        seen[direct] = (answers, requests, lines)
    assert seen[True] == seen[False]
    answers, requests, lines = seen[True]
    assert [status for status, _ in answers] == [200, 200, 404] and answers[0][1] == ANSWER
    assert len(requests) == 3 and len(lines) == 3 and "HTTP Request: POST URL/chat/completions" in lines[0][2]


async def test_a_redirect_is_handed_back_with_its_next_request_and_a_bad_location_fails_alike() -> None:
    redirect = Reply(status=302, headers=(("location", "/v1/elsewhere"),), chunks=(b"moved",))
    bad = Reply(status=302, headers=(("location", "http://example.com:abc/"),), chunks=(b"moved",))
    for direct in (False, True):
        async with serve([redirect, bad]) as server:
            transport = _pool_like(direct=direct)
            assert await _exchange(transport, server.url("/chat/completions")) == (302, b"moved")
            with pytest.raises(APIConnectionError) as failed:
                await _exchange(transport, server.url("/chat/completions"))
            assert "Invalid URL in location header" in str(failed.value)
            assert isinstance(failed.value.__cause__, httpx.RemoteProtocolError)
            await transport.http_client.aclose()


async def test_a_connection_failure_and_a_closed_client_fail_as_through_send() -> None:
    errors: dict[bool, list[tuple[type[BaseException], str, bool]]] = {}
    for direct in (False, True):
        transport = _pool_like(direct=direct)
        found: list[tuple[type[BaseException], str, bool]] = []
        with pytest.raises(APIConnectionError) as refused:
            await _exchange(transport, "http://127.0.0.1:9/v1/chat/completions")
        cause = refused.value.__cause__
        assert isinstance(cause, httpx.ConnectError) and cause.request.url.port == 9
        found.append((type(refused.value), str(refused.value), refused.value.response_started))
        await transport.http_client.aclose()
        with pytest.raises(RuntimeError) as closed:
            await _exchange(transport, "http://127.0.0.1:9/v1/chat/completions")
        found.append((type(closed.value), str(closed.value), False))
        errors[direct] = found
    assert errors[True] == errors[False]


async def test_a_url_with_credentials_goes_through_send_and_its_basic_auth() -> None:
    async with serve([Reply.sse(ANSWER)]) as server:
        transport = _pool_like(direct=True)
        url = server.url("/chat/completions").replace("http://", "http://user:secret@")
        assert transport._url(url)[2] is False
        assert await _exchange(transport, url) == (200, ANSWER)
        (request,) = server.requests
        assert request.header("authorization") == "Basic dXNlcjpzZWNyZXQ="
        await transport.http_client.aclose()


def _hook(_: object) -> None:  # pragma: no cover (never called)
    pass


@pytest.mark.parametrize(
    "client",
    [
        pytest.param(lambda: httpx.AsyncClient(auth=("a", "b")), id="auth"),
        pytest.param(lambda: httpx.AsyncClient(event_hooks={"request": [_hook]}), id="request-hook"),
        pytest.param(lambda: httpx.AsyncClient(event_hooks={"response": [_hook]}), id="response-hook"),
        pytest.param(lambda: httpx.AsyncClient(follow_redirects=True), id="redirects"),
        pytest.param(lambda: httpx.AsyncClient(base_url="http://127.0.0.1:8000"), id="base-url"),
        pytest.param(lambda: httpx.AsyncClient(params={"a": "1"}), id="params"),
        pytest.param(lambda: httpx.AsyncClient(proxy="http://127.0.0.1:9"), id="proxy"),
        pytest.param(
            lambda: httpx.AsyncClient(mounts={"http://": httpx.AsyncHTTPTransport()}, trust_env=False), id="mounts"
        ),
        pytest.param(lambda: type("Mine", (httpx.AsyncClient,), {})(), id="subclass"),
    ],
)
def test_a_client_with_anything_send_does_for_it_is_left_to_send(client: object) -> None:
    made = client()  # type: ignore[operator]
    assert direct_transport(made) is None
    assert not HttpxTransport(http_client=made).send_directly()


async def test_the_default_pool_sends_directly_unless_a_proxy_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    transport = await shared_transport()
    assert transport is not None and transport._direct is transport.http_client._transport
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    assert direct_transport(default_http_client()) is None
    # A user's own client is not vouched for: it is checked at each request (_plain_now) instead.
    assert HttpxTransport(http_client=default_http_client(trust_env=False))._direct is None
