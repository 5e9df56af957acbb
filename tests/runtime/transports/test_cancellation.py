"""Cancellation at every await of an exchange, for both transports, against the loopback server:
afterwards no connection is held (the server sees every one closed; H11Transport's statistics
say so too), no task is left behind, and the cancellation itself propagates unchanged."""

from __future__ import annotations

import anyio
import pytest

from anyagent_httpx._transports import H11Transport
from anyagent_httpx.testing import LoopbackServer, Reply, serve
from tests.runtime.support import KINDS, AnyTransport, Kind, fetch, head_of, open_transport, post, read_all, task_ids

pytestmark = pytest.mark.anyio

BODY = b"data: hello\n\n" * 20
#: Far more than loopback socket buffers hold, so the client is still writing when cancelled.
UPLOAD = bytes(50 * 2**20)


async def assert_released(transport: AnyTransport, server: LoopbackServer) -> None:
    """The transport holds no connection: the server saw them all closed."""
    if isinstance(transport, H11Transport):
        stats = transport.statistics()
        assert (stats.idle_connections, stats.active_connections, stats.active_exchanges) == (0, 0, 0)
    with anyio.fail_after(5):
        await server.wait_connections_closed()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("where", ["head", "body"])
async def test_cancelled_while_reading(kind: Kind, where: str) -> None:
    before = task_ids()
    late = Reply(chunks=(b"data: late\n\n",), head_delay=30.0 if where == "head" else 0.0, delay=30.0)
    async with serve([late, Reply.sse(BODY)]) as server, open_transport(kind) as transport:
        with anyio.move_on_after(0.2) as scope:
            async with transport.exchange(post(server)) as response:
                assert where == "body"
                await read_all(response)
        assert scope.cancelled_caught
        await assert_released(transport, server)
        # The transport is still usable, on a new connection.
        assert await fetch(transport, post(server)) == (200, BODY)
        assert [r.connection for r in server.requests] == [1, 2]
    assert task_ids() == before


@pytest.mark.parametrize("kind", KINDS)
async def test_cancelled_while_writing_the_request(kind: Kind) -> None:
    before = task_ids()
    # The server reads no upload for 0.6 s: the client's writes stall long before 50 MB.
    async with serve([Reply.json({})], body_delay=0.6) as server, open_transport(kind) as transport:
        with anyio.move_on_after(0.2) as scope:
            await fetch(transport, post(server, UPLOAD))
        assert scope.cancelled_caught
        await assert_released(transport, server)
        assert server.requests == []  # the upload never completed
    assert task_ids() == before


@pytest.mark.parametrize("kind", KINDS)
async def test_cancelled_while_waiting_for_a_connection_slot(kind: Kind) -> None:
    before = task_ids()
    async with serve([Reply.sse(BODY)]) as server, open_transport(kind, max_connections=1) as transport:
        async with transport.exchange(post(server)) as first:
            with anyio.move_on_after(0.2) as scope:
                await head_of(transport, post(server))  # waits: the only slot is taken
            assert scope.cancelled_caught
            if isinstance(transport, H11Transport):
                stats = transport.statistics()
                assert (stats.active_exchanges, stats.active_connections) == (1, 1)
            assert await read_all(first) == BODY
        # The slot was given back, and the first connection is reused.
        assert await fetch(transport, post(server)) == (200, BODY)
        assert [r.connection for r in server.requests] == [1, 1]
    assert task_ids() == before


@pytest.mark.parametrize("kind", KINDS)
async def test_cancellation_propagates_unchanged(kind: Kind) -> None:
    async with serve([Reply(chunks=(b"late",), delay=30.0)]) as server, open_transport(kind) as transport:
        with pytest.raises(TimeoutError) as caught, anyio.fail_after(0.2):
            await fetch(transport, post(server))
        assert type(caught.value) is TimeoutError  # the caller's own deadline, not an APITimeoutError
        await assert_released(transport, server)
