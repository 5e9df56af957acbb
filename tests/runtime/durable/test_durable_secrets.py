"""Secrets in a durable run's checkpoints: a server that echoes the API key back in a failed
answer's body and headers gets it into neither the system database nor the run's error."""

from __future__ import annotations

import base64
import binascii
import json
import pathlib
import pickle
import sqlite3

import pytest

from anyagent_httpx import AgentOptions, APIError, RetryPolicy
from anyagent_httpx.testing import ReceivedRequest, Reply, serve
from tests.runtime.mock import text_stream

pytestmark = pytest.mark.anyio

API_KEY = "sk-durable-SCAN-5e4d3c2b1a09f8e7"


def _found_in(value: object) -> bool:
    """Whether the key is in a stored value: its text, or what base64 and pickle hold in it."""
    if isinstance(value, bytes):
        if API_KEY.encode() in value:
            return True
        try:
            return API_KEY in repr(pickle.loads(value))
        except Exception:
            return False
    if isinstance(value, str):
        if API_KEY in value:
            return True
        try:
            decoded = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False
        return _found_in(decoded)
    return False


def stored_cells(database: pathlib.Path) -> list[tuple[str, str, object]]:
    """Every cell of every table of a SQLite database, as (table, column, value)."""
    with sqlite3.connect(database) as connection:
        tables = [row[0] for row in connection.execute("select name from sqlite_master where type = 'table'")]
        cells: list[tuple[str, str, object]] = []
        for table in tables:
            cursor = connection.execute(f'select * from "{table}"')
            columns = [column[0] for column in cursor.description]
            for row in cursor:
                cells += [(table, column, value) for column, value in zip(columns, row, strict=True)]
    return cells


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("status", [500, 401])
async def test_a_key_the_server_echoes_is_not_checkpointed(dbos_sqlite: str, status: int) -> None:
    from anyagent_httpx.durable import DurableAgent

    answered: list[int] = []

    def echoing(request: ReceivedRequest) -> Reply:
        if not request.target.endswith("/chat/completions"):
            return Reply(status=404, chunks=[b'{"error": "not found"}'])
        answered.append(1)
        if len(answered) == 1:  # the first attempt fails, quoting the key the request carried
            sent = request.header("authorization") or ""
            body = json.dumps({"error": {"message": f"Bad key. You sent: {sent}"}}).encode()
            return Reply(
                status=status,
                headers=(("content-type", "application/json"), ("x-echo", sent)),
                chunks=[body],
            )
        return Reply.sse(b"".join(text_stream("fine")))

    async with serve(echoing) as server:
        options = AgentOptions(
            base_url=server.base_url,
            model="m",
            api_key=API_KEY,
            cwd=".",
            retry=RetryPolicy(max_retries=2, initial_delay=0.0, max_delay=0.0),
        )
        agent = DurableAgent("echoed-key", options)
        if status == 401:  # not retried: the run fails
            with pytest.raises(APIError) as caught:
                await agent.run("go", run_id="echo-401")
            assert API_KEY not in str(caught.value) and API_KEY not in repr(caught.value)
        else:  # retried: the run goes on
            run = await agent.run("go", run_id="echo-500")
            assert run.result.result == "fine"
    assert len(answered) == (1 if status == 401 else 2)
    database = pathlib.Path(dbos_sqlite.removeprefix("sqlite:///"))
    leaks = [(table, column) for table, column, value in stored_cells(database) if _found_in(value)]
    assert leaks == []
