"""The loopback server itself, driven by a raw socket and an h11 client (no transport of ours):
framing, keep-alive, cuts, timeouts, what it records, and a clean shutdown whatever clients do."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import anyio.abc
import anyio.lowlevel
import h11
import pytest

from anyagent_httpx.testing import LoopbackServer, ReceivedRequest, Reply, serve

from .support import task_ids

pytestmark = pytest.mark.anyio


class RawClient:
    """One connection to the server, spoken to through h11."""

    def __init__(self, stream: anyio.abc.SocketStream) -> None:
        self.stream = stream
        self.conn = h11.Connection(our_role=h11.CLIENT)

    async def send(self, *events: h11.Request | h11.Data | h11.EndOfMessage) -> None:
        for event in events:
            data = self.conn.send(event)
            if data:
                await self.stream.send(data)

    async def request(
        self, method: str = "POST", target: str = "/v1/chat/completions", body: bytes = b"{}"
    ) -> tuple[h11.Response, list[bytes]]:
        headers = [("Host", "127.0.0.1"), ("Content-Length", str(len(body)))]
        await self.send(
            h11.Request(method=method, target=target, headers=headers), h11.Data(data=body), h11.EndOfMessage()
        )
        return await self.response()

    async def response(self) -> tuple[h11.Response, list[bytes]]:
        """The response head and its body's Data events (as h11 delivered them)."""
        head = await self.next_event()
        assert isinstance(head, h11.Response)
        chunks: list[bytes] = []
        while not isinstance(event := await self.next_event(), h11.EndOfMessage):
            assert isinstance(event, h11.Data)
            chunks.append(bytes(event.data))
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        return head, chunks

    async def next_event(self) -> object:
        while (event := self.conn.next_event()) is h11.NEED_DATA:
            self.conn.receive_data(await self.receive())
        return event

    async def receive(self) -> bytes:
        try:
            return await self.stream.receive()
        except anyio.EndOfStream:
            return b""

    async def at_eof(self) -> bool:
        """Whether the server closed the connection (reading whatever came first)."""
        while data := await self.receive():
            self.conn.receive_data(data)
        return True

    async def read_body(self, into: list[bytes]) -> None:
        """Append the body's Data to ``into`` until the end of the body (or a failure)."""
        while not isinstance(event := await self.next_event(), h11.EndOfMessage):
            assert isinstance(event, h11.Data)
            into.append(bytes(event.data))


@asynccontextmanager
async def connect(server: LoopbackServer) -> AsyncIterator[RawClient]:
    async with await anyio.connect_tcp("127.0.0.1", server.port) as stream:
        yield RawClient(stream)


async def wait_for(predicate: Callable[[], bool]) -> None:
    with anyio.fail_after(5):
        while not predicate():  # noqa: ASYNC110 - polling a counter the server updates
            await anyio.sleep(0.01)


def header(response: h11.Response, name: bytes) -> bytes | None:
    return next((value for key, value in response.headers if key == name), None)


async def until_closed(server: LoopbackServer) -> None:
    with anyio.fail_after(5):
        await server.wait_connections_closed()


# ---- replies -------------------------------------------------------------------------------------


def test_reply_constructors() -> None:
    sse = Reply.sse(b"abcdefg", chunk_size=3)
    assert sse.chunks == (b"abc", b"def", b"g")
    assert sse.body == b"abcdefg"
    assert sse.headers == (("content-type", "text/event-stream"),)
    assert Reply.sse(b"abc").chunks == (b"abc",)
    assert Reply.sse(b"").chunks == ()
    data = Reply.json({"a": "é"}, status=201)
    assert (data.status, data.content_length, json.loads(data.body)) == (201, True, {"a": "é"})
    error = Reply.error(429, "slow down", retry_after="3", code="rate_limit_exceeded")
    assert json.loads(error.body) == {
        "error": {"message": "slow down", "type": "rate_limit_error", "code": "rate_limit_exceeded"}
    }
    assert ("retry-after", "3") in error.headers
    assert json.loads(Reply.error(500, "boom").body)["error"]["type"] == "server_error"
    assert json.loads(Reply.error(400, "bad").body)["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: Reply(status=101), ValueError),
        (lambda: Reply(status=600), ValueError),
        (lambda: Reply(chunks=["text"]), TypeError),  # type: ignore[list-item]
        (lambda: Reply(delay=-1.0), ValueError),
        (lambda: Reply(drop_after=-1), ValueError),
        (lambda: Reply.sse(b"x", chunk_size=0), ValueError),
    ],
)
def test_replies_are_checked(make: object, error: type[Exception]) -> None:
    assert callable(make)
    with pytest.raises(error):
        make()


# ---- framing and keep-alive ---------------------------------------------------------------------


async def test_several_requests_on_one_connection_are_recorded() -> None:
    async with serve([Reply.sse(b"data: 1\n\n"), Reply.json({"ok": True})]) as server, connect(server) as client:
        head, chunks = await client.request(body=b'{"n":1}')
        assert (head.status_code, header(head, b"transfer-encoding"), b"".join(chunks)) == (
            200,
            b"chunked",
            b"data: 1\n\n",
        )
        head, chunks = await client.request("GET", "/v1/models?x=1", b"")
        assert (head.status_code, header(head, b"content-length"), b"".join(chunks)) == (200, b"12", b'{"ok": true}')
        head, chunks = await client.request()  # the last reply repeats
        assert b"".join(chunks) == b'{"ok": true}'
        await client.stream.aclose()
        await until_closed(server)
    assert server.connections_opened == 1
    first, second, _ = server.requests
    assert first == ReceivedRequest(
        method="POST",
        target="/v1/chat/completions",
        headers=(("host", "127.0.0.1"), ("content-length", "7")),
        body=b'{"n":1}',
        connection=1,
    )
    assert first.json() == {"n": 1}
    assert (second.method, second.target, second.body, second.header("Host")) == (
        "GET",
        "/v1/models?x=1",
        b"",
        "127.0.0.1",
    )


async def test_a_chunked_request_body() -> None:
    async with serve([Reply.json({})]) as server, connect(server) as client:
        headers = [("Host", "127.0.0.1"), ("Transfer-Encoding", "chunked")]
        await client.send(
            h11.Request(method="POST", target="/v1/x", headers=headers),
            h11.Data(data=b"abc"),
            h11.Data(data=b"defg"),
            h11.EndOfMessage(),
        )
        head, _ = await client.response()
        assert head.status_code == 200
        await client.stream.aclose()
    assert server.requests[0].body == b"abcdefg"


async def test_each_chunk_is_its_own_write() -> None:
    chunks = (b"data: a\n\n", b"data: bb\n\n", b"data: ccc\n\n")
    async with serve([Reply(chunks=chunks, delay=0.02)]) as server, connect(server) as client:
        _, received = await client.request()
        await client.stream.aclose()
    assert tuple(received) == chunks


async def test_head_has_no_body() -> None:
    async with serve([Reply.json({"data": []})]) as server, connect(server) as client:
        head, chunks = await client.request("HEAD", "/v1/models", b"")
        assert (header(head, b"content-length"), chunks) == (b"12", [])
        head, chunks = await client.request("GET", "/v1/models", b"")
        assert b"".join(chunks) == b'{"data": []}'
        await client.stream.aclose()


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_handler_function_sees_the_request(kind: str) -> None:
    def choose(request: ReceivedRequest) -> Reply:
        return Reply.json({"echo": request.json()}, status=200 if request.target.endswith("ok") else 404)

    async def choose_later(request: ReceivedRequest) -> Reply:
        await anyio.lowlevel.checkpoint()
        return choose(request)

    async with serve(choose if kind == "sync" else choose_later) as server, connect(server) as client:
        head, chunks = await client.request(target="/ok", body=b"[1]")
        assert (head.status_code, json.loads(b"".join(chunks))) == (200, {"echo": [1]})
        head, _ = await client.request(target="/missing", body=b"2")
        assert head.status_code == 404
        await client.stream.aclose()


# ---- ending connections ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_length", "drop_after", "before_the_cut"),
    [
        (False, 0, b""),
        (False, 2, b"onetwo"),
        (False, 3, b"onetwothree"),  # every chunk, but not the last (empty) one
        (True, 0, b""),
        (True, 2, b"onetwo"),
    ],
)
async def test_drop_after_cuts_the_body(content_length: bool, drop_after: int, before_the_cut: bytes) -> None:
    reply = Reply(chunks=(b"one", b"two", b"three"), drop_after=drop_after, content_length=content_length)
    received: list[bytes] = []
    async with serve([reply]) as server, connect(server) as client:
        await client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]), h11.EndOfMessage())
        assert isinstance(await client.next_event(), h11.Response)
        with pytest.raises(h11.RemoteProtocolError, match=r"incomplete|without sending complete"):
            await client.read_body(received)
        assert b"".join(received) == before_the_cut
        await client.stream.aclose()
        await until_closed(server)


async def test_drop_before_head_answers_nothing() -> None:
    async with serve([Reply(drop_before_head=True)]) as server, connect(server) as client:
        await client.send(
            h11.Request(method="GET", target="/", headers=[("Host", "x")]),
            h11.EndOfMessage(),
        )
        assert await client.receive() == b""
        await client.stream.aclose()
    assert len(server.requests) == 1


async def test_keep_alive_false_says_so_and_closes() -> None:
    async with serve([Reply.sse(b"data: x\n\n", keep_alive=False)]) as server, connect(server) as client:
        head, chunks = await client.request()
        assert header(head, b"connection") == b"close"
        assert b"".join(chunks) == b"data: x\n\n"
        assert await client.receive() == b""
        await client.stream.aclose()
        await until_closed(server)


async def test_idle_timeout_closes_an_idle_connection() -> None:
    async with serve([Reply.sse(b"data: x\n\n", idle_timeout=0.05)]) as server, connect(server) as client:
        head, _ = await client.request()
        assert header(head, b"connection") is None  # nothing announced
        with anyio.fail_after(5):
            assert await client.receive() == b""
        await until_closed(server)
        await client.stream.aclose()


async def test_a_client_that_leaves_mid_response_ends_only_its_connection() -> None:
    async with serve([Reply(chunks=(b"late",), delay=30.0), Reply.json({})]) as server, connect(server) as client:
        await client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]), h11.EndOfMessage())
        head = await client.next_event()
        assert isinstance(head, h11.Response)
        await client.stream.aclose()  # while the server waits to send the chunk
        await until_closed(server)  # it noticed at once, not 30 s later
        async with connect(server) as other:
            head, _ = await other.request()
        assert head.status_code == 200


async def test_garbage_ends_the_connection_quietly() -> None:
    async with serve([Reply.json({})]) as server, connect(server) as client:
        await client.stream.send(b"NOT HTTP AT ALL\r\n\r\n")
        assert await client.at_eof()
        await client.stream.aclose()
        await until_closed(server)


# ---- shutdown ----------------------------------------------------------------------------------------


async def test_shutdown_with_clients_still_connected() -> None:
    before = task_ids()
    async with AsyncExitStack() as stack:
        async with serve([Reply.json({}), Reply(chunks=(b"late",), head_delay=30.0)]) as server:
            idle = await stack.enter_async_context(connect(server))
            await idle.request()
            waiting = await stack.enter_async_context(connect(server))
            await waiting.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]), h11.EndOfMessage())
            silent = await stack.enter_async_context(connect(server))
            await wait_for(lambda: server.open_connections == 3)
        assert server.open_connections == 0
        with anyio.fail_after(5):
            for client in (idle, waiting, silent):
                assert await client.receive() == b""  # the server closed every one
    assert task_ids() == before


async def test_an_error_in_the_block_is_not_wrapped() -> None:
    with pytest.raises(KeyError):
        async with serve([Reply.json({})]):
            raise KeyError("raised by the test")


@pytest.mark.parametrize("error", [ZeroDivisionError, FileNotFoundError])
async def test_an_error_in_a_handler_ends_the_server_loudly(error: type[Exception]) -> None:
    def broken(request: ReceivedRequest) -> Reply:
        raise error  # even an OSError, which a client going away would also raise

    with pytest.RaisesGroup(error):
        async with serve(broken) as server, connect(server) as client:
            await client.request()


async def test_several_tasks_can_wait_for_connections_to_close() -> None:
    async with serve([Reply.json({})]) as server, anyio.create_task_group() as task_group:
        client = await anyio.connect_tcp("127.0.0.1", server.port)
        await wait_for(lambda: server.open_connections == 1)
        for _ in range(3):
            task_group.start_soon(until_closed, server)
        await anyio.lowlevel.checkpoint()
        await client.aclose()


async def test_the_server_describes_itself() -> None:
    async with serve(Reply()) as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert server.url("/models") == server.base_url + "/models"
        assert f"port={server.port}" in repr(server)


async def test_an_empty_reply_sequence_is_refused() -> None:
    with pytest.raises(ValueError, match="no Reply"):
        async with serve([]):
            pass
