"""Direct sending for a caller's own ``httpx.AsyncClient``: checked at each request, it is taken
only while the client is as plain as the default pool's (opened by ``send()`` already, no
cookie in its plain jar, no auth, hooks, params, base URL, mounts or redirects followed), and
every exchange, header, cookie kept and log line is the one ``send()`` makes, however the
client is changed between requests."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest

from anyagent_core import Request
from anyagent_httpx import default_http_client
from anyagent_httpx._transports import HttpxTransport, _httpx
from anyagent_httpx.testing import Reply, serve
from tests.runtime.mock import text_stream

pytestmark = pytest.mark.anyio

ANSWER = b"".join(text_stream("Hello", " there"))
COOKIE = Reply(status=200, headers=(("set-cookie", "session=abc; Path=/"),), chunks=(ANSWER,))

Change = Callable[[httpx.AsyncClient, list[str]], None]


def _nothing(client: httpx.AsyncClient, calls: list[str]) -> None:
    pass


def _add_header(client: httpx.AsyncClient, calls: list[str]) -> None:
    client.headers["x-extra"] = str(len(client.headers))


def _replace_headers(client: httpx.AsyncClient, calls: list[str]) -> None:
    client.headers = {"x-only": "1"}  # no Accept-Encoding, no User-Agent


def _drop_accept_encoding(client: httpx.AsyncClient, calls: list[str]) -> None:
    client.headers.pop("accept-encoding", None)


def _hook(client: httpx.AsyncClient, calls: list[str]) -> None:
    async def seen(request: httpx.Request) -> None:
        calls.append(f"hook {request.method}")

    client.event_hooks = {"request": [seen], "response": []}


def _unhook(client: httpx.AsyncClient, calls: list[str]) -> None:
    client.event_hooks = {"request": [], "response": []}


def _auth(client: httpx.AsyncClient, calls: list[str]) -> None:
    client.auth = ("user", "secret")


def _no_auth(client: httpx.AsyncClient, calls: list[str]) -> None:
    client.auth = None  # type: ignore[assignment]  # httpx's own hint leaves out None, which it takes


def _params(client: httpx.AsyncClient, calls: list[str]) -> None:
    client.params = {"a": "1"}


def _cookie(client: httpx.AsyncClient, calls: list[str]) -> None:
    client.cookies.set("mine", "1")


def _clear_cookies(client: httpx.AsyncClient, calls: list[str]) -> None:
    client.cookies.clear()


def _timeout(client: httpx.AsyncClient, calls: list[str]) -> None:
    client.timeout = httpx.Timeout(7.0)


#: Client makers and the changes made before each of four requests (the replies: a cookie set
#: by the second, a redirect by the fourth).
CASES: dict[str, tuple[Callable[[], httpx.AsyncClient], tuple[Change, Change, Change, Change]]] = {
    "default-plain": (default_http_client, (_nothing, _nothing, _nothing, _nothing)),
    "httpx-own": (httpx.AsyncClient, (_nothing, _add_header, _nothing, _timeout)),
    "headers-changed": (default_http_client, (_nothing, _add_header, _replace_headers, _drop_accept_encoding)),
    "hook-added-and-removed": (default_http_client, (_nothing, _hook, _unhook, _nothing)),
    "auth-added-and-removed": (default_http_client, (_nothing, _auth, _no_auth, _nothing)),
    "params-added": (default_http_client, (_nothing, _nothing, _params, _nothing)),
    "cookie-set-and-cleared": (default_http_client, (_cookie, _clear_cookies, _nothing, _clear_cookies)),
    "with-headers": (lambda: default_http_client(headers={"x-a": "1"}), (_nothing, _nothing, _add_header, _nothing)),
}

REPLIES = [
    Reply.sse(ANSWER),
    COOKIE,
    Reply.sse(ANSWER, content_length=True),
    Reply(status=302, headers=(("location", "/v1/elsewhere"),), chunks=(b"moved",)),
]


Seen = tuple[list[tuple[int, object, bytes]], list[object], set[str], list[tuple[object, ...]], list[str], list[str]]


async def _run(
    make: Callable[[], httpx.AsyncClient], changes: tuple[Change, ...], caplog: pytest.LogCaptureFixture
) -> Seen:
    caplog.clear()
    calls: list[str] = []
    async with serve(REPLIES) as server:
        client = make()
        answers: list[tuple[int, object, bytes]] = []
        for change in changes:
            change(client, calls)
            transport = HttpxTransport(http_client=client)  # one per request, as query() makes
            request = Request(
                method="POST",
                url=server.url("/chat/completions"),
                headers=(("content-type", "application/json"),),
                body=b"{}",
            )
            async with transport.exchange(request) as response:
                answers.append(
                    (
                        response.status,
                        response.headers[1:] if response.headers else (),
                        b"".join([c async for c in response.stream]),
                    )
                )
        assert not client.is_closed  # never closed for its owner
        jar: list[tuple[object, ...]] = sorted((c.name, c.value, c.domain, c.path) for c in client.cookies.jar)
        await client.aclose()
        requests: list[object] = [(r.method, r.target, r.headers[1:], r.body) for r in server.requests]
        hosts = {r.headers[0][0] for r in server.requests}
    lines = [r.getMessage().replace(server.base_url, "URL") for r in caplog.records if r.name == "httpx"]
    return answers, requests, hosts, jar, calls, lines


@pytest.mark.parametrize("case", list(CASES))
async def test_a_caller_s_client_changed_between_requests_sees_what_send_makes(
    case: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    make, changes = CASES[case]
    taken: list[bool] = []
    check = _httpx._plain_now

    def counted(client: httpx.AsyncClient) -> httpx.AsyncBaseTransport | None:
        found = check(client)
        taken.append(found is not None)
        return found

    monkeypatch.setattr(_httpx, "_plain_now", counted)
    direct = await _run(make, changes, caplog)
    assert taken[0] is False  # the first request goes through send(), which opens the client
    if case == "default-plain":
        assert taken == [False, True, False, False]  # the cookie set by the 2nd goes with the 3rd and 4th
    monkeypatch.setattr(_httpx, "_plain_now", lambda client: None)  # send() for every request
    through_send = await _run(make, changes, caplog)
    assert direct == through_send
    answers, requests, hosts, jar, calls, lines = direct
    assert [status for status, _, _ in answers] == [200, 200, 200, 302] and answers[0][2] == ANSWER
    assert hosts == {"host"} and len(requests) == len(lines) == 4
    if case != "cookie-set-and-cleared":  # which clears the jar last
        assert ("session", "abc", "127.0.0.1", "/") in jar  # the second reply's cookie, kept
    assert calls == (["hook POST"] if case == "hook-added-and-removed" else [])


async def test_a_cookie_set_on_a_direct_exchange_is_kept_and_sent_next() -> None:
    async with serve([Reply.sse(ANSWER), COOKIE, Reply.sse(ANSWER)]) as server:
        client = default_http_client()
        for _ in range(3):
            request = Request(method="POST", url=server.url("/chat/completions"), headers=(), body=b"{}")
            async with HttpxTransport(http_client=client).exchange(request) as response:
                assert b"".join([c async for c in response.stream]) == ANSWER
        assert [(c.name, c.value) for c in client.cookies.jar] == [("session", "abc")]
        assert [r.header("cookie") for r in server.requests] == [None, None, "session=abc"]
        await client.aclose()


def test_a_client_not_yet_opened_or_holding_cookies_is_left_to_send() -> None:
    client = default_http_client()
    assert _httpx._plain_now(client) is None  # send() marks it opened on its first request
    client._state = httpx._client.ClientState.OPENED
    assert _httpx._plain_now(client) is client._transport
    client.cookies.set("a", "1")
    assert _httpx._plain_now(client) is None
    client.cookies.clear()
    client.max_redirects = -1
    assert _httpx._plain_now(client) is None
