"""The scripted model servers of the durable-run tests (one that calls tools, one that counts the
requests in flight), and DBOS launched for a test."""

from __future__ import annotations

import json
import pathlib
from collections.abc import AsyncIterator

import anyio
import pytest

from anyagent_httpx.testing import ReceivedRequest, Reply
from tests.runtime.mock import DONE, chunk, text_stream

pytest.importorskip("dbos", reason="DBOS is not installed (pip install 'anyagent[dbos]')")

CALLS = 4
"""Tool calls the scripted model makes in a run before it answers."""


def model(request: ReceivedRequest) -> Reply:
    """``record(n)`` calls until ``CALLS`` tool results are in the conversation, then an answer
    naming them (404 for what is not a chat request, as a real server answers)."""
    if not request.target.endswith("/chat/completions"):
        return Reply(status=404, chunks=[b'{"error": "not found"}'])
    messages = json.loads(request.body)["messages"]
    done = sum(1 for message in messages if message["role"] == "tool")
    if done >= CALLS:
        return Reply.sse(b"".join(text_stream("Recorded ", f"{done} ", "steps.")))
    call = {
        "index": 0,
        "id": f"c{done}",
        "type": "function",
        "function": {"name": "record", "arguments": json.dumps({"n": done})},
    }
    return Reply.sse(b"".join([chunk(tool_calls=[call]), chunk(finish="tool_calls"), DONE]))


class SlotServer:
    """A model server answering each prompt with itself, counting requests in flight."""

    def __init__(self, seconds: float = 0.01) -> None:
        self.seconds = seconds
        self.in_flight = 0
        self.most = 0
        self.prompts: list[str] = []

    async def __call__(self, request: ReceivedRequest) -> Reply:
        if not request.target.endswith("/chat/completions"):
            return Reply(status=404, chunks=[b'{"error": "not found"}'])
        prompt = json.loads(request.body)["messages"][-1]["content"]
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await anyio.sleep(self.seconds)
        finally:
            self.in_flight -= 1
        self.prompts.append(prompt)
        return Reply.sse(b"".join(text_stream("answer to ", prompt)))


@pytest.fixture
async def dbos_sqlite(tmp_path: pathlib.Path) -> AsyncIterator[str]:
    """DBOS launched in this process on a fresh SQLite system database (its URL). Shut down on
    the test's event loop, which gets its default executor back (DBOS had replaced it)."""
    from anyagent_httpx.durable import launch, shutdown

    url = f"sqlite:///{tmp_path / 'dbos.sqlite'}"
    launch(url)
    try:
        yield url
    finally:
        shutdown()
