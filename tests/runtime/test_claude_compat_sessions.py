"""claude-agent-sdk's session functions over anyagent's store: the synchronous ones on the
default SQLite file (called from inside a running event loop too), the store-backed coroutines
on any SessionStore, and ClaudeSDKClient.get_context_usage()."""

from __future__ import annotations

import pathlib

import pytest

from anyagent_httpx import MemoryStore, SessionNotFoundError
from anyagent_httpx.claude import (
    ClaudeAgentOptions,
    ClaudeSDKClient,
    ResultMessage,
    delete_session,
    delete_session_via_store,
    fork_session,
    fork_session_via_store,
    get_session_info,
    get_session_info_from_store,
    get_session_messages,
    get_session_messages_from_store,
    list_sessions,
    list_sessions_from_store,
    query,
    rename_session,
    rename_session_via_store,
    tag_session,
    tag_session_via_store,
)
from anyagent_httpx.testing import ReceivedRequest, Reply, serve
from tests.runtime.test_agent_end_to_end import calls, says

pytestmark = pytest.mark.anyio


def _model(request: ReceivedRequest) -> Reply:
    if not request.target.endswith("/chat/completions"):
        return Reply.error(404, "not found")  # what a server without the window probes answers
    messages = request.json()["messages"]
    if messages[-1]["role"] == "tool":
        return says("The file says hello.")
    prompt = messages[-1]["content"]
    if "read" in prompt:
        return calls(("r1", "Read", {"file_path": "note.txt"}))
    return says(f"You said: {prompt}")


async def _ask(prompt: str, options: ClaudeAgentOptions) -> str:
    result = [m async for m in query(prompt=prompt, options=options)][-1]
    assert isinstance(result, ResultMessage)
    return result.session_id


@pytest.fixture
def env(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.setenv("ANY_AGENT_SESSIONS_DB", str(tmp_path / "sessions.db"))
    monkeypatch.setenv("ANY_AGENT_MODEL", "local")
    work = tmp_path / "project"
    work.mkdir()
    (work / "note.txt").write_text("hello\n")
    return work.resolve()


async def test_the_default_store_is_listed_read_renamed_tagged_forked_and_deleted(
    env: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serve(_model) as server:
        monkeypatch.setenv("ANY_AGENT_BASE_URL", server.base_url)
        here = ClaudeAgentOptions(cwd=str(env), allowed_tools=["Read"])
        first = await _ask("please read note.txt", here)
        second = await _ask("hello there", here)
        elsewhere = await _ask("from elsewhere", ClaudeAgentOptions(cwd=str(tmp_path)))

    # called from inside the running loop: each call runs on a thread of its own
    listed = list_sessions(directory=str(env))
    assert [s.session_id for s in listed] == [second, first]  # newest first, this directory only
    assert {s.session_id for s in list_sessions()} == {first, second, elsewhere}
    assert [s.session_id for s in list_sessions(limit=1, offset=1, directory=str(env))] == [first]
    info = get_session_info(first)
    assert info is not None
    assert info.first_prompt == "please read note.txt" and info.cwd == str(env)
    assert info.summary and info.created_at is not None and info.last_modified >= info.created_at
    assert get_session_info(first, directory=str(tmp_path)) is None
    assert get_session_info("no-such-session") is None

    messages = get_session_messages(first)
    assert [(m.type, m.message["role"]) for m in messages] == [
        ("user", "user"),
        ("assistant", "assistant"),
        ("user", "user"),
        ("assistant", "assistant"),
    ]
    assert messages[0].message["content"] == "please read note.txt"
    use = messages[1].message["content"][0]
    assert use["type"] == "tool_use" and use["id"] == "r1" and use["name"]
    result = messages[2].message["content"][0]
    assert result["type"] == "tool_result" and result["tool_use_id"] == "r1" and "hello" in str(result["content"])
    assert messages[3].message["content"] == [{"type": "text", "text": "The file says hello."}]
    assert len({m.uuid for m in messages}) == 4 and all(m.session_id == first for m in messages)
    assert [m.uuid for m in get_session_messages(first, limit=2, offset=1)] == [m.uuid for m in messages[1:3]]
    assert get_session_messages("no-such-session") == []

    rename_session(first, "  Reading the note  ")
    tag_session(first, "keep")
    info = get_session_info(first)
    assert info is not None and (info.custom_title, info.summary, info.tag) == (
        "Reading the note",
        "Reading the note",
        "keep",
    )
    tag_session(first, "other")
    info = get_session_info(first)
    assert info is not None and info.tag == "other"
    tag_session(first, None)
    info = get_session_info(first)
    assert info is not None and info.tag is None
    with pytest.raises(ValueError, match="title must not be empty"):
        rename_session(first, "   ")

    fork = fork_session(first, up_to_message_id=messages[1].uuid, title="A fork")
    assert fork.session_id not in (first, second)
    forked = get_session_messages(fork.session_id)
    assert [m.message for m in forked[:2]] == [m.message for m in messages[:2]]
    (cut,) = forked[2].message["content"]  # the call the fork cut off is answered as interrupted
    assert cut["type"] == "tool_result" and cut["tool_use_id"] == "r1" and cut["is_error"]
    delete_session(first)
    assert get_session_info(first) is None
    assert len(get_session_messages(fork.session_id)) == 3  # the fork keeps what it shares
    with pytest.raises(SessionNotFoundError):
        delete_session(first)
    with pytest.raises(SessionNotFoundError):
        rename_session(second, "x", directory=str(tmp_path))


async def test_the_store_backed_coroutines_take_an_anyagent_store(
    env: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MemoryStore()
    async with serve(_model) as server:
        monkeypatch.setenv("ANY_AGENT_BASE_URL", server.base_url)
        options = ClaudeAgentOptions(cwd=str(env), session_store=store)
        one = await _ask("hello one", options)
        two = await _ask("hello two", options)
    assert [s.session_id for s in await list_sessions_from_store(store)] == [two, one]
    info = await get_session_info_from_store(store, one)
    assert info is not None and info.first_prompt == "hello one"
    said = await get_session_messages_from_store(store, one)
    assert [m.message["content"] for m in said] == ["hello one", [{"type": "text", "text": "You said: hello one"}]]
    await rename_session_via_store(store, one, "One")
    await tag_session_via_store(store, one, "t")
    info = await get_session_info_from_store(store, one)
    assert info is not None and (info.summary, info.tag) == ("One", "t")
    fork = await fork_session_via_store(store, one)
    assert len(await get_session_messages_from_store(store, fork.session_id)) == 2
    await delete_session_via_store(store, one)
    assert await get_session_info_from_store(store, one) is None
    with pytest.raises(ValueError, match="must not be negative"):
        await list_sessions_from_store(store, offset=-1)


async def test_get_context_usage_in_claude_codes_shape(env: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with serve(_model) as server:
        monkeypatch.setenv("ANY_AGENT_BASE_URL", server.base_url)
        options = ClaudeAgentOptions(cwd=str(env), system_prompt="Be brief.", session_store=MemoryStore())
        async with ClaudeSDKClient(options) as client:
            before = await client.get_context_usage()
            await client.query("hello")
            async for _ in client.receive_response():
                pass
            after = await client.get_context_usage()
    names = [c["name"] for c in after["categories"]]
    assert names == ["System prompt", "System tools", "Messages"]
    assert after["totalTokens"] == sum(c["tokens"] for c in after["categories"])
    assert after["categories"][0]["tokens"] > 0
    assert after["categories"][2]["tokens"] > before["categories"][2]["tokens"]  # the turn added messages
    assert after["model"] == "local" and after["isAutoCompactEnabled"]
