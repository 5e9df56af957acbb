"""A hostile HTTP/1.1 server on 127.0.0.1 over raw anyio sockets: each scenario writes exactly
the bytes it wants (lying heads, endless bodies, keep-alives for ever, compression bombs), with
no HTTP library in the way to tidy them up."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import attrs

SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"


def chunk(content: str | None = None, *, finish: str | None = None, **delta: Any) -> bytes:
    """One SSE chat-completions chunk."""
    fields: dict[str, Any] = dict(delta)
    if content is not None:
        fields["content"] = content
    obj = {"id": "chatcmpl-1", "model": "m", "choices": [{"index": 0, "delta": fields, "finish_reason": finish}]}
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"
ANSWER = chunk("Hello") + chunk(finish="stop") + DONE


@attrs.define
class Peer:
    """One accepted connection, as a scenario sees it: ``send`` counts what went out."""

    stream: anyio.abc.SocketStream
    server: Server

    async def send(self, data: bytes) -> None:
        await self.stream.send(data)
        self.server.sent += len(data)

    async def send_chunk(self, data: bytes) -> None:
        """``data`` as one chunk of a chunked body."""
        await self.send(b"%x\r\n%s\r\n" % (len(data), data))


Scenario = Callable[[Peer], Awaitable[None]]


@attrs.define
class Server:
    """The server's address and what it saw: request heads and bodies, bytes sent, hang-ups."""

    url: str = ""
    requests: list[bytes] = attrs.field(factory=list)
    sent: int = 0
    """Response bytes written, all connections together."""
    hung_up: int = 0
    """Connections on which the client stopped listening while the scenario was still sending."""


async def _read_request(stream: anyio.abc.SocketStream) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += await stream.receive()
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += await stream.receive()
    return head + b"\r\n\r\n" + body


@asynccontextmanager
async def hostile(scenario: Scenario) -> AsyncIterator[Server]:
    """Serve ``scenario`` on every connection until the block ends."""
    server = Server()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            try:
                server.requests.append(await _read_request(stream))
                await scenario(Peer(stream, server))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, OSError):
                server.hung_up += 1

    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    server.url = f"http://127.0.0.1:{port}/v1"
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, handle)
        try:
            yield server
        finally:
            group.cancel_scope.cancel()
