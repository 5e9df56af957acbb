"""The client's response lifecycle against a loopback server, under asyncio and trio: the init
message, stopping at the ResultMessage or midway with or without ``aclosing``, streaming input,
``connect``/``disconnect``, ``set_model``, ``set_permission_mode`` and ``get_server_info``."""

from __future__ import annotations

import gc
import os
import pathlib
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest

from anyagent_httpx import (
    AgentOptions,
    AssistantMessage,
    Client,
    ClientStateError,
    ConfigurationError,
    ResultMessage,
    RunMessage,
    SystemMessage,
    TextBlock,
    UserMessage,
    query,
)
from anyagent_httpx.testing import LoopbackServer, ReceivedRequest, Reply, serve

from .mock import FAST_RETRY
from .test_agent_end_to_end import calls, says

pytestmark = pytest.mark.anyio


def echo(request: ReceivedRequest) -> Reply:
    """Answers with the last user text, and says which model was asked."""
    body = request.json()
    last = next(m for m in reversed(body["messages"]) if m["role"] == "user")
    content = last["content"] if isinstance(last["content"], str) else last["content"][0]["text"]
    return says(f"{body['model']}: {content}")


@asynccontextmanager
async def client_for(handler: Any, **options: Any) -> AsyncIterator[tuple[LoopbackServer, Client]]:
    async with serve(handler) as server, httpx.AsyncClient() as http:
        opts = AgentOptions(model="m", base_url=server.base_url, http_client=http, retry=FAST_RETRY, **options)
        async with Client(opts) as client:
            yield server, client


def _real(path: pathlib.Path) -> str:
    return os.path.realpath(path)


def texts(messages: list[RunMessage]) -> list[str]:
    return [m.text for m in messages if isinstance(m, AssistantMessage)]


async def test_every_response_starts_with_an_init_message(tmp_path: pathlib.Path) -> None:
    where = _real(tmp_path)
    async with client_for(echo, tools=["read_file", "bash"], cwd=tmp_path, permission_mode="acceptEdits") as (
        server,
        client,
    ):
        for prompt in ("one", "two"):
            await client.query(prompt)
            messages = [m async for m in client.receive_response()]
            init = messages[0]
            assert isinstance(init, SystemMessage) and init.subtype == "init"
            assert init.data["model"] == "m"
            assert init.data["base_url"] == server.base_url
            assert list(init.data["tools"]) == ["read_file", "bash"]
            assert init.data["permission_mode"] == "acceptEdits"
            assert init.data["cwd"] == where
            assert init.data["session_id"] == client.session_id
            assert [m for m in messages if isinstance(m, SystemMessage)] == [init]
        assert isinstance(init, SystemMessage)
        assert await client.get_server_info() == dict(init.data)


@pytest.mark.parametrize("closing", [False, True])
async def test_breaking_at_the_result_leaves_the_client_ready(closing: bool) -> None:
    async with client_for(echo) as (server, client):
        for prompt in ("one", "two", "three"):
            await client.query(prompt)
            stream = client.receive_response()
            async with aclosing(stream) if closing else _nothing(stream) as messages:
                async for message in messages:
                    if isinstance(message, ResultMessage):
                        assert message.result == f"m: {prompt}"
                        break
            del stream
        assert len(server.requests) == 3
        assert [m.content for m in client.messages if isinstance(m, UserMessage)] == ["one", "two", "three"]


@asynccontextmanager
async def _nothing(value: Any) -> AsyncIterator[Any]:
    yield value


async def test_a_response_dropped_midway_ends_at_the_next_query_and_the_conversation_stays_valid() -> None:
    replies = [calls(("c1", "lookup", {"q": "x"})), says("never read"), says("second answer")]
    from anyagent_httpx import ToolSpec

    lookup = ToolSpec(name="lookup", parameters={"type": "object", "properties": {"q": {"type": "string"}}})
    async with client_for(replies, tools=[lookup]) as (server, client):
        await client.query("first")
        async for message in client.receive_response():
            if isinstance(message, AssistantMessage):
                break  # no aclosing: the iterator is dropped here
        gc.collect()
        with pytest.raises(ClientStateError, match="unanswered"):
            await client.query("second")  # the external call waits for its result
        client.add_tool_result("c1", "found")
        async for message in client.receive_response():
            if isinstance(message, AssistantMessage):
                break  # dropped before its result, midway through a response
        await client.query("second")  # finalizes the dropped response
        messages = [m async for m in client.receive_response()]
        assert texts(messages)[-1] == "second answer"
        sent = server.requests[-1].json()["messages"]
        assert [m["role"] for m in sent] == ["user", "assistant", "tool", "assistant", "user"]


async def test_a_held_iterator_in_the_middle_of_a_response_still_refuses_a_query() -> None:
    async with client_for([calls(("c1", "read_file", {"path": "x"})), says("done")], tools=["read_file"]) as (
        _,
        client,
    ):
        await client.query("go")
        stream = client.receive_response()
        assert isinstance(await anext(stream), SystemMessage)
        assert isinstance(await anext(stream), AssistantMessage)
        with pytest.raises(ClientStateError, match="being received"):
            await client.query("more")
        rest = [m async for m in stream]
        assert isinstance(rest[-1], ResultMessage)
        await client.query("more")


async def test_breaking_out_of_receive_messages_at_the_result_leaves_the_client_ready() -> None:
    async with client_for(echo) as (_, client):
        for prompt in ("one", "two"):
            await client.query(prompt)
            async for message in client.receive_messages():
                if isinstance(message, ResultMessage):
                    assert message.result == f"m: {prompt}"
                    break


async def test_a_client_closed_with_a_dropped_response_ends_it() -> None:
    replies = [calls(("c1", "read_file", {"path": "x"})), says("done")]
    async with client_for(replies, tools=["read_file"], permission_mode="bypassPermissions") as (server, client):
        await client.query("go")
        async for message in client.receive_response():
            if isinstance(message, AssistantMessage):
                break
    assert len(server.requests) == 1  # the tool round was never sent on


async def test_streaming_input_gets_one_response_per_prompt_read_as_the_conversation_goes() -> None:
    read: list[str] = []

    async def prompts() -> AsyncIterator[Any]:
        for text in ("hello", "what is 2+2?"):
            read.append(text)
            yield {"type": "user", "message": {"role": "user", "content": text}, "session_id": "s"}
        read.append("blocks")
        yield {"role": "user", "content": [{"type": "text", "text": "and blocks"}]}

    async with client_for(echo) as (_, client):
        await client.query(prompts())
        assert read == ["hello"]
        first = [m async for m in client.receive_response()]
        assert texts(first) == ["m: hello"]
        assert read == ["hello"]
        second = [m async for m in client.receive_response()]
        assert texts(second) == ["m: what is 2+2?"]
        third = [m async for m in client.receive_response()]
        assert texts(third) == ["m: and blocks"]
        assert [m async for m in client.receive_response()] == []  # the input has ended
        with pytest.raises(ClientStateError, match="nothing to receive"):
            await anext(client.receive_response())


async def test_query_with_streaming_input_answers_every_prompt() -> None:
    async def prompts() -> AsyncIterator[Any]:
        yield "one"
        yield UserMessage(content=(TextBlock(text="two"),))

    async with serve(echo) as server, httpx.AsyncClient() as http:
        options = AgentOptions(model="m", base_url=server.base_url, http_client=http)
        messages = [m async for m in query(prompt=prompts(), options=options)]
    assert texts(messages) == ["m: one", "m: two"]
    assert sum(isinstance(m, ResultMessage) for m in messages) == 2


async def test_a_bad_prompt_dict_is_a_clear_error() -> None:
    async with client_for(echo) as (_, client):
        with pytest.raises(ValueError, match="a prompt dict is"):
            await client.query({"type": "assistant", "message": {}})
        with pytest.raises(ValueError, match=r"content\[0\] is not a text or image block"):
            await client.query({"role": "user", "content": [{"type": "video"}]})


async def test_connect_and_disconnect() -> None:
    async with serve(echo) as server, httpx.AsyncClient() as http:
        client = Client(AgentOptions(model="m", base_url=server.base_url, http_client=http))
        await client.connect("hi")
        messages = [m async for m in client.receive_response()]
        assert texts(messages) == ["m: hi"]
        await client.disconnect()
        with pytest.raises(ClientStateError, match="closed"):
            await client.query("again")


async def test_set_model_and_set_permission_mode_apply_to_the_next_requests(tmp_path: pathlib.Path) -> None:
    replies = [
        says("a"),
        calls(("c1", "write_file", {"path": "x.txt", "content": "hi"})),
        says("written"),
        says("back"),
    ]
    async with client_for(replies, tools=["write_file"], cwd=tmp_path) as (server, client):
        await client.query("one")
        [m async for m in client.receive_response()]
        client.set_model("bigger")
        client.set_permission_mode("acceptEdits")
        assert (client.model, client.permission_mode) == ("bigger", "acceptEdits")
        await client.query("two")
        messages = [m async for m in client.receive_response()]
        init = messages[0]
        assert isinstance(init, SystemMessage) and init.data["model"] == "bigger"
        assert init.data["permission_mode"] == "acceptEdits"
        assert (tmp_path / "x.txt").read_text() == "hi"  # acceptEdits: the write ran without asking
        client.set_model()
        await client.query("three")
        [m async for m in client.receive_response()]
        assert [r.json()["model"] for r in server.requests] == ["m", "bigger", "bigger", "m"]
        with pytest.raises(ConfigurationError, match="unknown permission mode 'yolo'"):
            client.set_permission_mode("yolo")  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="set_model"):
            client.set_model("")


async def test_set_permission_mode_from_another_task_during_a_response(tmp_path: pathlib.Path) -> None:
    asked: list[str] = []
    switched = anyio.Event()

    async def slow(request: ReceivedRequest) -> Reply:
        if len([m for m in request.json()["messages"] if m["role"] == "tool"]) == 0:
            await switched.wait()
            return calls(("c1", "write_file", {"path": "y.txt", "content": "yes"}))
        return says("ok")

    async def deny(name: str, input: Any, context: Any) -> Any:
        asked.append(name)
        from anyagent_httpx import PermissionResultDeny

        return PermissionResultDeny(message="no")

    async with client_for(slow, tools=["write_file"], cwd=tmp_path, can_use_tool=deny) as (_, client):
        await client.query("write")
        async with anyio.create_task_group() as tg:

            async def switch() -> None:
                await anyio.sleep(0.05)
                client.set_permission_mode("bypassPermissions")
                switched.set()

            tg.start_soon(switch)
            messages = [m async for m in client.receive_response()]
    assert asked == []
    assert (tmp_path / "y.txt").read_text() == "yes"
    assert isinstance(messages[-1], ResultMessage) and messages[-1].subtype == "success"
