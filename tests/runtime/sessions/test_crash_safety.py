"""Crash safety: processes running an agent with an SQLite session store are killed with
SIGKILL at random moments; every append that had returned is in the file afterwards, whole and
once, and the session resumes. Also with two processes writing one file at once.

``ANY_AGENT_CRASH_RUNS`` sets how many kills (default 30, which keeps the suite inside CI's
time; 200 is the issue's figure: ``ANY_AGENT_CRASH_RUNS=200 pytest tests/runtime/sessions``).
"""

from __future__ import annotations

import json
import os
import pathlib
import random
import signal
import sys

import anyio
import anyio.abc
import pytest

from anyagent_core.sessions import MessageEntry, rebuild
from anyagent_httpx import AgentOptions, Client, ResultMessage, SQLiteStore
from anyagent_httpx.testing import ReceivedRequest, Reply
from tests.runtime.mock import DONE, chunk, text_stream

pytestmark = pytest.mark.anyio

RUNS = int(os.environ.get("ANY_AGENT_CRASH_RUNS", "30"))
AGENT = pathlib.Path(__file__).with_name("crash_agent.py")


def model(request: ReceivedRequest) -> Reply:
    """A tool call for a prompt, an answer after the tool's result (and 404 for what is not a chat
    request, such as the client's probes of the context window, as a real server answers)."""
    if not request.target.endswith("/chat/completions"):
        return Reply(status=404, chunks=[b'{"error": "not found"}'])
    messages = json.loads(request.body)["messages"]
    if messages[-1]["role"] == "tool":
        return Reply.sse(b"".join(text_stream("The word ", "means ", "something.")))
    call = {
        "index": 0,
        "id": f"c{len(messages)}",
        "type": "function",
        "function": {"name": "lookup", "arguments": '{"word": "lighthouse"}'},
    }
    return Reply.sse(b"".join([chunk(tool_calls=[call]), chunk(finish="tool_calls"), DONE]))


async def stderr_of(proc: anyio.abc.Process) -> str:
    assert proc.stderr is not None
    text = b""
    with anyio.move_on_after(10):
        try:
            while True:
                text += await proc.stderr.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            pass
    return text.decode(errors="replace")[-3000:]


async def run_and_kill(base_url: str, path: pathlib.Path, session_id: str, rng: random.Random) -> list[list[str]]:
    """Start the agent, kill it at a random moment once it is up; the appends it reported."""
    reported: list[list[str]] = []
    async with await anyio.open_process(
        [sys.executable, str(AGENT), base_url, str(path), session_id], stdout=-1, stderr=-1
    ) as proc:
        assert proc.stdout is not None
        buffer = b""
        ready = False
        deadline = rng.uniform(0.0, 0.4)
        with anyio.move_on_after(60):  # a hang guard far above any run
            while not ready:
                try:
                    buffer += await proc.stdout.receive()
                except anyio.EndOfStream:
                    raise AssertionError(f"the agent ended before it was up: {await stderr_of(proc)}") from None
                ready = b"ready\n" in buffer
            with anyio.move_on_after(deadline):
                while True:
                    buffer += await proc.stdout.receive()
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        try:
            while True:
                buffer += await proc.stdout.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            pass
    for line in buffer.decode().splitlines():
        if line.startswith("committed "):
            reported.append(line.split()[1:])
    return reported


async def check_file(path: pathlib.Path, session_id: str, reported: list[list[str]]) -> int:
    async with SQLiteStore(path) as store:
        if not reported and not [s for s in await store.list_sessions() if s.session_id == session_id]:
            return 0  # killed before its first turn: nothing was committed, nothing is owed
        info, entries = await store.load(session_id)
    ids = [e.id for e in entries]
    assert len(ids) == len(set(ids)), "an entry is stored twice"
    position = {entry_id: i for i, entry_id in enumerate(ids)}
    for head, *written in reported:
        assert head in position, f"the reported head {head} is lost"
        spots = [position[w] for w in written]
        assert spots == list(range(spots[0], spots[0] + len(spots))), "an append is not whole and in order"
    conversation = rebuild(session_id, entries)  # every call has its result, or gets one
    assert info.message_count == sum(1 for e in entries if isinstance(e, MessageEntry))
    return len(conversation.messages)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # the kill loop is the same under trio; once is enough
async def test_kill_nine_at_random_moments_loses_no_committed_turn(tmp_path: pathlib.Path) -> None:
    from anyagent_httpx.testing import serve

    rng = random.Random(1234)
    path = tmp_path / "sessions.db"
    all_reported: list[list[str]] = []
    async with serve(model) as server:
        for _ in range(RUNS):
            all_reported += await run_and_kill(server.base_url, path, "s", rng)
            await check_file(path, "s", all_reported)
        assert len(all_reported) > RUNS / 4, "the agent hardly ever committed before being killed"
        # the session resumes, after all those kills, and goes on
        async with SQLiteStore(path) as store:
            options = AgentOptions(base_url=server.base_url, model="m", session_store=store, resume="s", cwd=".")
            async with Client(options) as client:
                before = len(client.messages)
                await client.query("one more")
                result = [m async for m in client.receive_response()][-1]
        assert isinstance(result, ResultMessage) and result.subtype == "success"
        assert await check_file(path, "s", all_reported) > before


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_two_processes_writing_one_file_both_keep_every_committed_turn(tmp_path: pathlib.Path) -> None:
    from anyagent_httpx.testing import serve

    rng = random.Random(99)
    path = tmp_path / "shared.db"
    reported: dict[str, list[list[str]]] = {"a": [], "b": []}
    async with serve(model) as server:
        for _ in range(max(RUNS // 4, 5)):
            results: dict[str, list[list[str]]] = {}

            async def one(sid: str, into: dict[str, list[list[str]]] = results) -> None:
                into[sid] = await run_and_kill(server.base_url, path, sid, rng)

            async with anyio.create_task_group() as tg:
                tg.start_soon(one, "a")
                tg.start_soon(one, "b")
            for sid in ("a", "b"):
                reported[sid] += results[sid]
                await check_file(path, sid, reported[sid])
    assert reported["a"] and reported["b"]
