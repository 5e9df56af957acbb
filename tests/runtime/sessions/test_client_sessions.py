"""A Client with a session store: each turn committed as it completes, resumed, continued and
forked; an interrupted or abandoned turn kept and marked; tool executions and usage recorded;
the init message and the results carry the session id; no API key stored. Against a loopback
model server, under asyncio and trio, on the memory and SQLite stores."""

from __future__ import annotations

import json
import pathlib
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import pytest

from anyagent_core.sessions import MessageEntry, ResultEntry, rebuild
from anyagent_httpx import (
    AgentOptions,
    AssistantMessage,
    Client,
    ConfigurationError,
    PermissionResultAllow,
    ResultMessage,
    SystemMessage,
    UserMessage,
    tool,
)
from anyagent_httpx._sessions import MemoryStore, SessionNotFoundError, SessionStore, SQLiteStore
from anyagent_httpx.testing import Reply, serve
from tests.runtime.mock import DONE, chunk, text_stream

pytestmark = pytest.mark.anyio


def says(*pieces: str) -> Reply:
    return Reply.sse(b"".join(text_stream(*pieces)))


def calls(call_id: str, name: str, arguments: dict[str, Any]) -> Reply:
    function = {"name": name, "arguments": json.dumps(arguments)}
    head = {"index": 0, "id": call_id, "type": "function", "function": function}
    return Reply.sse(b"".join([chunk(tool_calls=[head]), chunk(finish="tool_calls"), DONE]))


@tool
def shout(text: str) -> str:
    """Say it loud."""
    return text.upper()


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> AsyncIterator[SessionStore]:
    opened: SessionStore = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "s.db")
    async with opened:
        yield opened


async def run(client: Client, prompt: str) -> list[Any]:
    await client.query(prompt)
    return [m async for m in client.receive_response()]


def options(base_url: str, store: SessionStore, **kwargs: Any) -> AgentOptions:
    return AgentOptions(base_url=base_url, model="m", api_key="sk-secret-key", session_store=store, cwd=".", **kwargs)


async def test_each_turn_is_committed_and_a_new_client_resumes_it(store: SessionStore) -> None:
    async with serve([says("Hello there"), says("You said hi")]) as server:
        async with Client(options(server.base_url, store)) as client:
            messages = await run(client, "hi")
            session_id = client.session_id
            init, *_, result = messages
            assert isinstance(init, SystemMessage) and init.subtype == "init"
            assert init.data["session_id"] == session_id
            assert isinstance(result, ResultMessage) and result.session_id == session_id
            info, entries = await store.load(session_id)  # committed before the response ended
            assert info.title == "hi" and info.message_count == 2
            assert [type(e) for e in entries[1:]] == [MessageEntry, MessageEntry, ResultEntry]
        async with Client(options(server.base_url, store, resume=session_id)) as again:
            assert again.session_id == session_id
            assert [m for m in again.messages if isinstance(m, UserMessage)] == [UserMessage(content="hi")]
            await run(again, "what did I say?")
        sent = json.loads(server.requests[-1].body)["messages"]
        assert [m["content"] for m in sent] == ["hi", "Hello there", "what did I say?"]
        _, entries = await store.load(session_id)
        assert len(rebuild(session_id, entries).messages) == 4
        assert "sk-secret-key" not in repr(entries) and "sk-secret" not in json.dumps([repr(e) for e in entries])


async def test_continue_takes_the_latest_session_of_the_directory_and_fork_leaves_it_alone(
    store: SessionStore,
) -> None:
    async with serve([says("one"), says("two"), says("three")]) as server:
        async with Client(options(server.base_url, store)) as client:
            await run(client, "first")
            first = client.session_id
        async with Client(options(server.base_url, store, continue_conversation=True)) as client:
            assert client.session_id == first
            await run(client, "second")
        async with Client(
            options(server.base_url, store, continue_conversation=True, fork_session=True, session_id="fork-1")
        ) as client:
            assert client.session_id == "fork-1"
            assert len(client.messages) == 4
            await run(client, "third")
        assert (await store.get(first)).message_count == 4
        assert (await store.get("fork-1")).message_count == 6
        assert (await store.get("fork-1")).forked_from == first


async def test_tool_executions_and_usage_are_recorded(store: SessionStore) -> None:
    async def allow(name: str, data: Any, context: Any) -> PermissionResultAllow:
        return PermissionResultAllow()

    @tool(needs_permission=True)
    def risky(text: str) -> str:
        """Needs asking."""
        return "done " + text

    replies = [calls("c1", "shout", {"text": "hey"}), calls("c2", "risky", {"text": "x"}), says("ok")]
    async with serve(replies) as server:
        client = Client(options(server.base_url, store, tools=[shout, risky], can_use_tool=allow))
        async with client:
            await run(client, "go")
        ran = await store.tool_executions(client.session_id)
        assert [(t.tool, t.output, t.decision, t.is_error) for t in ran] == [
            ("shout", "HEY", "allow", False),
            ("risky", "done x", "ask", False),
        ]
        assert all(t.seconds is not None and t.seconds >= 0 for t in ran)
        (stats,) = await store.stats(session_id=client.session_id)
        assert stats.runs == 1 and stats.turns == 3


async def test_a_response_abandoned_midway_is_kept_and_marked_interrupted(store: SessionStore) -> None:
    slow = Reply.sse(b"".join(text_stream("partial ", "answer", "more")), chunk_size=20, delay=0.05)
    async with serve([slow, says("after")]) as server:
        async with Client(options(server.base_url, store, include_partial_messages=True)) as client:
            await client.query("tell me")
            async with aclosing(client.receive_response()) as stream:
                async for message in stream:
                    if not isinstance(message, SystemMessage):
                        break  # the first piece: stop reading
            session_id = client.session_id
        _, entries = await store.load(session_id)
        conversation = rebuild(session_id, entries)
        assert conversation.results[-1].subtype == "interrupted"
        assert conversation.messages[0] == UserMessage(content="tell me")
        async with Client(options(server.base_url, store, resume=session_id)) as client:
            result = (await run(client, "again"))[-1]
            assert result.subtype == "success"


async def test_resuming_a_missing_session_is_a_typed_error_and_changes_nothing(store: SessionStore) -> None:
    before = await store.list_sessions()
    with pytest.raises(SessionNotFoundError, match="nope"):
        async with Client(options("http://127.0.0.1:9/v1", store, resume="nope")):
            pass
    assert await store.list_sessions() == before


async def test_a_client_that_never_runs_leaves_no_session(store: SessionStore) -> None:
    async with Client(options("http://127.0.0.1:9/v1", store)):
        pass
    assert await store.list_sessions() == []


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"resume": "x"}, "needs a session_store"),
        ({"resume": "x", "continue_conversation": True, "session_store": MemoryStore()}, "not both"),
        ({"fork_session": True, "session_store": MemoryStore()}, "nothing to fork"),
        ({"resume": "x", "session_id": "y", "session_store": MemoryStore()}, "fork_session=True"),
        ({"session_store": object()}, "must be a SessionStore"),
    ],
)
def test_session_options_that_cannot_work_are_refused(kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        AgentOptions(**kwargs)


async def test_without_a_store_nothing_changes() -> None:
    async with serve([says("hi")]) as server, Client(AgentOptions(base_url=server.base_url, model="m")) as client:
        messages = await run(client, "hello")
    # every response opens with its init message, which says the session id; nothing is stored
    init = messages[0]
    assert isinstance(init, SystemMessage) and init.subtype == "init" and init.data["session_id"] == client.session_id
    assert isinstance(messages[1], AssistantMessage)
