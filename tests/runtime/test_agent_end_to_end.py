"""Agent runs end to end: a loopback HTTP server on 127.0.0.1 plays a scripted model over several
turns, the client runs real tools, and the requests the server received are checked: tool
results sent back in order, denials, rewritten calls, unknown tools, timeouts, text-written calls
(emulation) and hook errors. Every test runs under asyncio and trio."""

from __future__ import annotations

import json
import os
import pathlib
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing, asynccontextmanager
from typing import Any

import anyio
import attrs
import httpx
import pytest

from anyagent_core import ReasoningDelta, TextDelta, ThinkingBlock
from anyagent_httpx import (
    AgentDefinition,
    AgentOptions,
    AssistantMessage,
    Client,
    ClientStateError,
    FallbackEndpoint,
    H11Transport,
    HookContext,
    HookError,
    HookMatcher,
    HookResult,
    PermissionResultAllow,
    PreToolUseInput,
    Pricing,
    ResultMessage,
    RunMessage,
    StopInput,
    StreamEvent,
    TextBlock,
    ToolPermissionContext,
    ToolResultBlock,
    ToolSpec,
    UserMessage,
    query,
    tool,
)
from anyagent_httpx.testing import LoopbackServer, ReceivedRequest, Reply, serve

from .mock import DONE, FAST_RETRY, chunk, text_stream

pytestmark = pytest.mark.anyio


def calls(*items: tuple[str, str, dict[str, Any]]) -> Reply:
    """An answer with these tool calls, each one's arguments streamed in 5-character pieces."""
    chunks = []
    for index, (call_id, name, arguments) in enumerate(items):
        head = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        chunks.append(chunk(tool_calls=[head]))
        text = json.dumps(arguments)
        for start in range(0, len(text), 5):
            piece = {"index": index, "function": {"arguments": text[start : start + 5]}}
            chunks.append(chunk(tool_calls=[piece]))
    chunks += [chunk(finish="tool_calls"), DONE]
    return Reply.sse(b"".join(chunks))


def says(*pieces: str) -> Reply:
    return Reply.sse(b"".join(text_stream(*pieces)))


@pytest.fixture(params=["httpx", "h11"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def agent(kind: str, replies: Sequence[Reply], **options: Any) -> AsyncIterator[tuple[LoopbackServer, Client]]:
    async with serve(list(replies)) as server:
        if kind == "h11":
            async with H11Transport() as transport:
                opts = AgentOptions(
                    model="m", base_url=server.base_url, transport=transport, retry=FAST_RETRY, **options
                )
                async with Client(opts) as client:
                    yield server, client
        else:
            async with httpx.AsyncClient() as http:
                opts = AgentOptions(model="m", base_url=server.base_url, http_client=http, retry=FAST_RETRY, **options)
                async with Client(opts) as client:
                    yield server, client


async def ask(client: Client, prompt: str) -> list[RunMessage]:
    with anyio.fail_after(30):
        await client.query(prompt)
        async with aclosing(client.receive_response()) as stream:
            return [message async for message in stream]


def sent_messages(server: LoopbackServer, index: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = server.requests[index].json()["messages"]
    return messages


def tool_messages(server: LoopbackServer, index: int) -> list[dict[str, Any]]:
    return [m for m in sent_messages(server, index) if m["role"] == "tool"]


def final(messages: list[RunMessage]) -> ResultMessage:
    result = messages[-1]
    assert isinstance(result, ResultMessage)
    return result


# ---- a task that reads, edits and verifies files ---------------------------------------------


async def test_read_edit_verify(kind: str, tmp_path: pathlib.Path) -> None:
    (tmp_path / "notes.md").write_text("The lighthuose stood on the point.\nIt was dark.\n", encoding="utf-8")
    (tmp_path / "other.md").write_text("untouched\n", encoding="utf-8")
    replies = [
        calls(("c1", "read_file", {"path": "notes.md"}), ("c2", "list_dir", {})),
        calls(("c3", "edit_file", {"path": "notes.md", "old_string": "lighthuose", "new_string": "lighthouse"})),
        calls(("c4", "grep", {"pattern": "lighthouse"})),
        says("Fixed the ", "typo."),
    ]
    tools = ["read_file", "list_dir", "edit_file", "grep"]
    async with agent(kind, replies, tools=tools, cwd=tmp_path, permission_mode="acceptEdits") as (server, client):
        messages = await ask(client, "Fix the typo in notes.md")

    result = final(messages)
    assert (result.subtype, result.num_turns, result.result) == ("success", 4, "Fixed the typo.")
    assert (tmp_path / "notes.md").read_text(encoding="utf-8") == "The lighthouse stood on the point.\nIt was dark.\n"
    assert (tmp_path / "other.md").read_text(encoding="utf-8") == "untouched\n"
    kinds = [type(m).__name__ for m in messages if not isinstance(m, StreamEvent)]
    assert kinds == ["SystemMessage"] + ["AssistantMessage", "UserMessage"] * 3 + ["AssistantMessage", "ResultMessage"]
    first = tool_messages(server, 1)
    assert [m["tool_call_id"] for m in first] == ["c1", "c2"]
    assert "1\tThe lighthuose stood on the point." in first[0]["content"]
    assert "notes.md" in first[1]["content"] and "other.md" in first[1]["content"]
    edit = tool_messages(server, 2)[-1]
    assert edit["tool_call_id"] == "c3"
    verify = tool_messages(server, 3)[-1]
    assert verify["tool_call_id"] == "c4"
    assert "notes.md:1:The lighthouse stood on the point." in verify["content"]
    assert len(server.requests) == 4


# ---- permissions -----------------------------------------------------------------------------


async def test_bash_without_a_callback_is_denied_and_nothing_runs(tmp_path: pathlib.Path) -> None:
    replies = [calls(("c1", "bash", {"command": "touch made"})), says("ok")]
    async with agent("httpx", replies, tools=["bash"], cwd=tmp_path) as (server, client):
        result = final(await ask(client, "make a file"))
    assert result.subtype == "success"
    assert not (tmp_path / "made").exists()
    (answer,) = tool_messages(server, 1)
    assert answer["content"].startswith("Permission denied:")
    assert "allowed_tools=['bash']" in answer["content"]


async def test_a_command_does_not_see_the_endpoints_api_keys(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model asks ``env``: the API key (from ``$ANY_AGENT_API_KEY``, from a variable a settings
    file names, a fallback's) is not in what comes back, nor sent to the server; the rest of the
    environment is."""
    monkeypatch.setenv("ANY_AGENT_API_KEY", "sk-unused-here-0123456789")
    monkeypatch.setenv("MY_PROVIDER_KEY", "sk-endpoint-0123456789")
    monkeypatch.setenv("FALLBACK_TOKEN", "Bearer sk-fallback-0123456789")
    monkeypatch.setenv("HARMLESS_SETTING", "visible-value")
    replies = [calls(("c1", "bash", {"command": "env; echo done"})), says("ok")]
    fallback = FallbackEndpoint(base_url="http://127.0.0.1:9/v1", model="n", api_key="sk-fallback-0123456789")
    async with agent(
        "httpx",
        replies,
        tools=["bash"],
        allowed_tools=["bash"],
        cwd=tmp_path,
        sandbox="off",
        api_key="sk-endpoint-0123456789",
        fallback_endpoints=[fallback],
    ) as (server, client):
        await ask(client, "show the environment")
    (answer,) = tool_messages(server, 1)
    assert "HARMLESS_SETTING=visible-value" in answer["content"] and "done" in answer["content"]
    for secret in ("sk-unused-here", "sk-endpoint", "sk-fallback"):
        assert secret not in answer["content"]
    assert "MY_PROVIDER_KEY" not in answer["content"] and "ANY_AGENT_API_KEY" not in answer["content"]
    assert os.environ["MY_PROVIDER_KEY"] == "sk-endpoint-0123456789"  # this process's is untouched


async def test_a_rewritten_call_runs_as_rewritten(tmp_path: pathlib.Path) -> None:
    asked: list[tuple[str, dict[str, Any], str]] = []

    async def can_use_tool(name: str, tool_input: Any, context: ToolPermissionContext) -> PermissionResultAllow:
        asked.append((name, dict(tool_input), context.tool_use_id))
        return PermissionResultAllow(updated_input={"command": "touch safe"})

    replies = [calls(("c1", "bash", {"command": "touch risky"})), says("ok")]
    async with agent("httpx", replies, tools=["bash"], cwd=tmp_path, can_use_tool=can_use_tool) as (server, client):
        await ask(client, "make a file")
    assert asked == [("bash", {"command": "touch risky"}, "c1")]
    assert (tmp_path / "safe").exists()
    assert not (tmp_path / "risky").exists()
    (answer,) = tool_messages(server, 1)
    assert answer["tool_call_id"] == "c1"
    assert "Permission denied" not in answer["content"]


async def test_plan_mode_writes_nothing(tmp_path: pathlib.Path) -> None:
    replies = [calls(("c1", "write_file", {"path": "new.txt", "content": "x"})), says("planned")]
    async with agent("httpx", replies, tools=["write_file", "read_file"], cwd=tmp_path, permission_mode="plan") as (
        server,
        client,
    ):
        result = final(await ask(client, "write"))
    assert result.result == "planned"
    assert os.listdir(tmp_path) == []
    (answer,) = tool_messages(server, 1)
    assert "plan mode allows only read-only tools" in answer["content"]


# ---- unknown tools, timeouts ------------------------------------------------------------------


async def test_calls_that_share_an_id_each_run_and_get_their_own_result(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.txt").write_text("apples\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("bananas\n", encoding="utf-8")
    replies = [calls(("x", "read_file", {"path": "a.txt"}), ("x", "read_file", {"path": "b.txt"})), says("ok")]
    async with agent("httpx", replies, tools=["read_file"], cwd=tmp_path) as (server, client):
        result = final(await ask(client, "read both"))
    assert result.result == "ok"
    sent = sent_messages(server, 1)
    ids = [c["id"] for c in sent[1]["tool_calls"]]
    assert ids[0] == "x" and len(set(ids)) == 2
    answers = tool_messages(server, 1)
    assert [a["tool_call_id"] for a in answers] == ids
    assert "apples" in answers[0]["content"] and "bananas" in answers[1]["content"]


async def test_an_unknown_tool_is_answered_and_the_run_goes_on(tmp_path: pathlib.Path) -> None:
    replies = [calls(("c1", "nope", {"x": 1})), says("sorry")]
    async with agent("httpx", replies, tools=["read_file"], cwd=tmp_path) as (server, client):
        result = final(await ask(client, "go"))
    assert (result.subtype, result.result, result.num_turns) == ("success", "sorry", 2)
    (answer,) = tool_messages(server, 1)
    assert answer["content"] == "Error: there is no tool named 'nope'. Available tools: read_file."


async def test_tool_timeout_applies_to_tools_without_their_own() -> None:
    @tool
    async def unbounded() -> str:
        """Sleeps."""
        await anyio.sleep(5)
        return "never"

    @tool(timeout=0.3)
    async def bounded() -> str:
        """Sleeps."""
        await anyio.sleep(5)
        return "never"

    replies = [calls(("c1", "unbounded", {}), ("c2", "bounded", {})), says("gave up")]
    async with agent("httpx", replies, tools=[unbounded, bounded], tool_timeout=0.1) as (server, client):
        result = final(await ask(client, "go"))
    assert result.result == "gave up"
    answers = [a["content"] for a in tool_messages(server, 1)]
    assert answers == ["unbounded timed out after 0.1s", "bounded timed out after 0.3s"]


async def test_tools_that_time_out_are_answered_promptly() -> None:
    finished: list[str] = []
    stop = threading.Event()

    @tool(timeout=0.2)
    async def slow_async() -> str:
        """Sleeps."""
        await anyio.sleep(60)
        finished.append("slow_async")
        return "never"

    @tool(timeout=0.2)
    def slow_sync() -> str:
        """Sleeps in small steps."""
        for _ in range(600):  # a minute, unless stopped: the thread is abandoned when it times out
            if stop.is_set():
                break
            time.sleep(0.1)
        finished.append("slow_sync")
        return "never"

    replies = [calls(("c1", "slow_async", {}), ("c2", "slow_sync", {})), says("gave up")]
    try:
        async with agent("httpx", replies, tools=[slow_async, slow_sync]) as (server, client):
            result = final(await ask(client, "go"))
        # The run ended while both tools were still at work: it did not wait for either.
        assert finished == []
    finally:
        stop.set()
    assert result.result == "gave up"
    answers = tool_messages(server, 1)
    assert [a["tool_call_id"] for a in answers] == ["c1", "c2"]
    assert all("timed out after 0.2" in a["content"] for a in answers)


# ---- calls written as text -------------------------------------------------------------------


def weather_tool(seen: list[str]) -> Any:
    @tool
    def get_weather(city: str) -> str:
        """Current weather for a city.

        Args:
            city: The city.
        """
        seen.append(city)
        return f"{city}: sunny"

    return get_weather


TEXT_CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


@pytest.mark.parametrize("mode", ["emulated", "auto"])
async def test_calls_written_as_text_run(mode: str) -> None:
    pieces = ["Let me check. ", *(TEXT_CALL[i : i + 4] for i in range(0, len(TEXT_CALL), 4))]
    seen: list[str] = []
    replies = [says(*pieces), says("It is sunny in Paris.")]
    async with agent("httpx", replies, tools=[weather_tool(seen)], tool_mode=mode, include_partial_messages=True) as (
        server,
        client,
    ):
        messages = await ask(client, "Weather in Paris?")
    result = final(messages)
    assert (result.subtype, result.result, seen) == ("success", "It is sunny in Paris.", ["Paris"])
    shown = "".join(m.event.text for m in messages if isinstance(m, StreamEvent) and type(m.event) is TextDelta)
    assert shown == "Let me check.It is sunny in Paris."
    first, second = server.requests[0].json(), server.requests[1].json()
    if mode == "emulated":
        assert "tools" not in first
        assert "get_weather" in first["messages"][0]["content"]  # described in the system prompt
        roles = [m["role"] for m in second["messages"]]
        assert "tool" not in roles
        assert "<tool_call>" in second["messages"][-2]["content"]
        assert "<tool_response>\nParis: sunny\n</tool_response>" in second["messages"][-1]["content"]
    else:
        assert first["tools"][0]["function"]["name"] == "get_weather"
        assistant, answer = second["messages"][-2:]
        assert assistant["tool_calls"][0]["function"]["name"] == "get_weather"
        assert answer == {"role": "tool", "tool_call_id": assistant["tool_calls"][0]["id"], "content": "Paris: sunny"}


XML_CALL = (
    "<tool_call>\n<function=forecast>\n<parameter=city>\nSão Paulo\n</parameter>\n"
    "<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>"
)


@pytest.mark.parametrize("mode", ["emulated", "auto"])
async def test_calls_in_qwen3_coder_xml_run_with_values_typed_by_the_schema(mode: str) -> None:
    seen: list[tuple[str, int]] = []

    @tool
    def forecast(city: str, days: int) -> str:
        """The forecast.

        Args:
            city: Where.
            days: How many days.
        """
        seen.append((city, days))
        return f"{city}: sunny for {days} days"

    bad = "<tool_call>\n<function=forecast>\n<parameter=city>\nRome\n</function>\n</tool_call>"
    text = f"Let me look.\n{XML_CALL}"
    replies = [says(bad), says(*(text[i : i + 4] for i in range(0, len(text), 4))), says("Sunny.")]
    async with agent("httpx", replies, tools=[forecast], tool_mode=mode, include_partial_messages=True) as (
        server,
        client,
    ):
        messages = await ask(client, "Forecast?")
    assert (final(messages).result, seen) == ("Sunny.", [("São Paulo", 3)])
    assert streamed(messages, TextDelta) == "Let me look.Sunny."
    errors = [b for m in messages if isinstance(m, UserMessage) and isinstance(m.content, tuple) for b in m.content]
    assert isinstance(errors[0], ToolResultBlock) and errors[0].is_error
    assert "the parameter 'city' is not closed with </parameter>" in str(errors[0].content)
    third = json.dumps(server.requests[2].json()["messages"], ensure_ascii=False)
    assert "São Paulo: sunny for 3 days" in third


def streamed(messages: list[RunMessage], kind: type[TextDelta | ReasoningDelta]) -> str:
    events = [m.event for m in messages if isinstance(m, StreamEvent)]
    return "".join(e.text for e in events if isinstance(e, TextDelta | ReasoningDelta) and type(e) is kind)


def assistants(messages: list[RunMessage]) -> list[AssistantMessage]:
    return [m for m in messages if isinstance(m, AssistantMessage)]


@pytest.mark.parametrize("partial", [True, False])
async def test_reasoning_written_in_think_tags_in_a_plain_chat(partial: bool) -> None:
    text = "\n<think>\nThe user greets me.\n</think>\n\nHello there."
    pieces = [text[i : i + 3] for i in range(0, len(text), 3)]
    async with agent("httpx", [says(*pieces)], include_partial_messages=partial) as (_, client):
        messages = await ask(client, "Hi")
    assert final(messages).result == "Hello there."
    [answer] = assistants(messages)
    assert answer.content == (ThinkingBlock(thinking="The user greets me."), TextBlock(text="Hello there."))
    if partial:
        assert streamed(messages, ReasoningDelta) == "The user greets me."
        assert streamed(messages, TextDelta) == "Hello there."


async def test_calls_inside_think_tags_never_run_and_the_reasoning_is_not_sent_back() -> None:
    rome = TEXT_CALL.replace("Paris", "Rome")
    text = f"<think>\nI could call {rome}, but Paris was asked.\n</think>\n\nChecking.\n{TEXT_CALL}"
    pieces = [text[i : i + 5] for i in range(0, len(text), 5)]
    seen: list[str] = []
    replies = [says(*pieces), says("<think>done</think>It is sunny in Paris.")]
    async with agent("httpx", replies, tools=[weather_tool(seen)], include_partial_messages=True) as (server, client):
        messages = await ask(client, "Weather in Paris?")
    assert (final(messages).result, seen) == ("It is sunny in Paris.", ["Paris"])
    assert streamed(messages, ReasoningDelta) == f"I could call {rome}, but Paris was asked.done"
    assert streamed(messages, TextDelta) == "Checking.It is sunny in Paris."
    first = assistants(messages)[0]
    assert isinstance(first.content[0], ThinkingBlock) and rome in first.content[0].thinking
    sent = json.dumps(server.requests[1].json()["messages"])
    assert "think" not in sent and "Rome" not in sent


async def test_think_tags_off_keeps_the_block_as_text() -> None:
    async with agent("httpx", [says("<think>hm</think>", "Hi")], think_tags=False, include_partial_messages=True) as (
        _,
        client,
    ):
        messages = await ask(client, "Hi")
    assert final(messages).result == "<think>hm</think>Hi"
    assert streamed(messages, TextDelta) == "<think>hm</think>Hi"
    assert streamed(messages, ReasoningDelta) == ""


# ---- hooks -----------------------------------------------------------------------------------


async def test_a_hook_error_stops_the_run_and_the_conversation_stays_valid(tmp_path: pathlib.Path) -> None:
    def broken(input: PreToolUseInput, context: HookContext) -> HookResult | None:
        raise RuntimeError("hook bug")

    (tmp_path / "a.txt").write_text("a\n", encoding="utf-8")
    replies = [calls(("c1", "read_file", {"path": "a.txt"})), says("next answer")]
    hooks = {"PreToolUse": [HookMatcher(matcher="read_file", hooks=[broken])]}
    async with agent("httpx", replies, tools=["read_file"], cwd=tmp_path, hooks=hooks) as (server, client):
        with pytest.raises(HookError, match="hook bug") as info:
            await ask(client, "read it")
        assert isinstance(info.value.__cause__, RuntimeError)
        assert info.value.event == "PreToolUse"
        result = final(await ask(client, "try again"))
        history = client.messages
    assert result.result == "next answer"
    answered = [b for m in history if isinstance(m, UserMessage) and isinstance(m.content, tuple) for b in m.content]
    assert [b.tool_use_id for b in answered if isinstance(b, ToolResultBlock)] == ["c1"]
    sent = sent_messages(server, 1)
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "user"]
    assert any(isinstance(m, AssistantMessage) for m in history)


async def test_pre_tool_use_hook_denies_and_post_tool_use_adds_context(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.txt").write_text("alpha\n", encoding="utf-8")

    async def guard(input: PreToolUseInput, context: HookContext) -> HookResult | None:
        if input.tool_input.get("path") == "secret.txt":
            return HookResult(decision="deny", reason="secrets stay closed")
        return None

    def note(input: Any, context: HookContext) -> HookResult:
        return HookResult(additional_context="(checked by the post hook)")

    hooks = {
        "PreToolUse": [HookMatcher(hooks=[guard])],
        "PostToolUse": [HookMatcher(matcher="read_file", hooks=[note])],
    }
    replies = [calls(("c1", "read_file", {"path": "secret.txt"}), ("c2", "read_file", {"path": "a.txt"})), says("k")]
    async with agent("httpx", replies, tools=["read_file"], cwd=tmp_path, hooks=hooks) as (server, client):
        await ask(client, "read")
    denied, read = tool_messages(server, 1)
    assert denied["content"] == "Denied by a PreToolUse hook: secrets stay closed"
    assert "alpha" in read["content"]
    assert read["content"].endswith("(checked by the post hook)")


def secret_file(root: pathlib.Path) -> str:
    """``root/secrets/key``, made; its absolute path with symlinks resolved."""
    (root / "secrets").mkdir()
    key = root / "secrets" / "key"
    key.write_text("hunter2\n", encoding="utf-8")
    return str(key.resolve())


async def test_a_deny_rule_holds_for_absolute_paths_too(kind: str, tmp_path: pathlib.Path) -> None:
    absolute = secret_file(tmp_path)
    replies = [
        calls(("c1", "read_file", {"path": absolute}), ("c2", "read_file", {"path": "./secrets/key"})),
        says("ok"),
    ]
    options: dict[str, Any] = {"tools": ["read_file"], "cwd": tmp_path, "disallowed_tools": ["read_file(secrets/*)"]}
    async with agent(kind, replies, **options) as (server, client):
        result = final(await ask(client, "read the key"))
    assert result.subtype == "success"
    answers = tool_messages(server, 1)
    assert [a["tool_call_id"] for a in answers] == ["c1", "c2"]
    for answer in answers:
        assert "disallowed by the rule 'read_file(secrets/*)'" in answer["content"]
        assert "hunter2" not in answer["content"]


# ---- subagents, interrupts, external tools, Stop hooks -----------------------------------------


async def test_subagents_run_concurrently_and_their_answers_come_back_in_order(tmp_path: pathlib.Path) -> None:
    """Two ``task`` calls in one answer: each runs a nested agent (its own system prompt, its own
    requests, a read_file of its own) at the same time; their answers are the task results."""
    (tmp_path / "a.txt").write_text("apples\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("bananas\n", encoding="utf-8")
    active = 0
    overlap = 0

    async def model(request: ReceivedRequest) -> Reply:
        nonlocal active, overlap
        body = request.json()
        system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else ""
        tools_sent = len([m for m in body["messages"] if m["role"] == "tool"])
        if system.startswith("You read files"):  # a subagent
            task = next(m["content"] for m in body["messages"] if m["role"] == "user")
            name = "a.txt" if "a.txt" in task else "b.txt"
            if tools_sent == 0:
                active += 1
                overlap = max(overlap, active)
                await anyio.sleep(0.2)  # both subagents are inside a request at the same time
                active -= 1
                return calls((f"r_{name}", "read_file", {"path": name}))
            fruit = "apples" if name == "a.txt" else "bananas"
            return says(f"{name} holds {fruit}")
        if tools_sent == 0:
            return calls(
                ("t1", "task", {"agent": "reader", "prompt": "What is in a.txt?"}),
                ("t2", "task", {"agent": "reader", "prompt": "What is in b.txt?"}),
            )
        return says("both read")

    reader = AgentDefinition(
        description="Reads files", prompt="You read files and say what they hold.", tools=["read_file"]
    )
    async with serve(model) as server, httpx.AsyncClient() as http:
        options = AgentOptions(
            model="m", base_url=server.base_url, http_client=http, cwd=tmp_path, agents={"reader": reader}
        )
        async with Client(options) as client:
            result = final(await ask(client, "read both"))
    assert result.result == "both read"
    assert overlap == 2
    main_requests = [r.json() for r in server.requests if r.json()["messages"][0]["role"] == "user"]
    task_tool = next(t for t in main_requests[0]["tools"] if t["function"]["name"] == "task")
    assert task_tool["function"]["parameters"]["properties"]["agent"]["enum"] == ["reader"]
    answers = [m for m in main_requests[-1]["messages"] if m["role"] == "tool"]
    assert [(a["tool_call_id"], a["content"]) for a in answers] == [
        ("t1", "a.txt holds apples"),
        ("t2", "b.txt holds bananas"),
    ]


async def test_a_subagent_keeps_the_parent_s_rules_for_the_tools_it_has(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.txt").write_text("apples")

    async def model(request: ReceivedRequest) -> Reply:
        messages = request.json()["messages"]
        tools_sent = [m for m in messages if m["role"] == "tool"]
        if messages[0]["role"] == "system":  # the subagent: only read_file, and the parent's rule for it
            names = [t["function"]["name"] for t in request.json()["tools"]]
            assert names == ["read_file"]
            return says(tools_sent[0]["content"]) if tools_sent else calls(("r1", "read_file", {"path": "a.txt"}))
        if not tools_sent:
            return calls(("t1", "task", {"agent": "reader", "prompt": "What is in a.txt?"}))
        return says("main done")

    reader = AgentDefinition(description="Reads", prompt="You read.", tools=["read_file"])
    async with serve(model) as server, httpx.AsyncClient() as http:
        options = AgentOptions(
            model="m",
            base_url=server.base_url,
            http_client=http,
            cwd=tmp_path,
            tools=["bash"],
            agents={"reader": reader},
            disallowed_tools=["bash"],  # the parent's: the subagent has no bash to refuse
            allowed_tools=["read_file(a.txt)"],
        )
        async with Client(options) as client:
            result = final(await ask(client, "read it"))
    assert result.result == "main done"
    answer = [m for m in server.requests[-1].json()["messages"] if m["role"] == "tool"]
    assert "apples" in answer[0]["content"]


async def test_a_subagent_that_calls_a_tool_the_caller_answers_did_not_finish(tmp_path: pathlib.Path) -> None:
    approve = ToolSpec(name="approve", description="Ask a human.")

    async def model(request: ReceivedRequest) -> Reply:
        messages = request.json()["messages"]
        if messages[0]["role"] == "system":  # the subagent
            return calls(("s1", "approve", {}))
        if not any(m["role"] == "tool" for m in messages):
            return calls(("t1", "task", {"agent": "helper", "prompt": "get it approved"}))
        return says("main done")

    helper = AgentDefinition(description="Helps", prompt="You help.")
    async with serve(model) as server, httpx.AsyncClient() as http:
        options = AgentOptions(
            model="m", base_url=server.base_url, http_client=http, tools=[approve], agents={"helper": helper}
        )
        async with Client(options) as client:
            result = final(await ask(client, "go"))
    assert result.result == "main done" and not result.pending_tool_calls
    (answer,) = [m for m in server.requests[-1].json()["messages"] if m["role"] == "tool"]
    assert answer["tool_call_id"] == "t1"
    assert "did not finish" in answer["content"] and "approve" in answer["content"]


def with_usage(reply_chunks: list[bytes], prompt: int, completion: int) -> Reply:
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    usage_chunk = b"data: " + json.dumps({"id": "chatcmpl-1", "choices": [], "usage": usage}).encode() + b"\n\n"
    return Reply.sse(b"".join([*reply_chunks[:-1], usage_chunk, reply_chunks[-1]]))


async def test_the_run_counts_what_its_subagents_spent() -> None:
    """A subagent's usage and cost go into the parent's ResultMessage and budgets: the subagent
    gets what is left of the parent's budget, and the parent stops once the whole is spent."""

    async def model(request: ReceivedRequest) -> Reply:
        messages = request.json()["messages"]
        if messages[0]["role"] == "system":  # the subagent: 1,000 + 100 tokens
            return with_usage(text_stream("sub answer"), 1000, 100)
        if not any(m["role"] == "tool" for m in messages):  # the main agent: 10 + 5 tokens
            return with_usage([chunk(tool_calls=[task_call("t1")]), chunk(finish="tool_calls"), DONE], 10, 5)
        return with_usage(text_stream("main done"), 20, 5)

    def task_call(call_id: str) -> dict[str, Any]:
        arguments = json.dumps({"agent": "helper", "prompt": "help"})
        return {"index": 0, "id": call_id, "type": "function", "function": {"name": "task", "arguments": arguments}}

    helper = AgentDefinition(description="Helps", prompt="You help.")
    pricing = Pricing(input_per_million=1000.0, output_per_million=2000.0)  # $0.001 an input token
    async with serve(model) as server, httpx.AsyncClient() as http:
        options = AgentOptions(
            model="m", base_url=server.base_url, http_client=http, agents={"helper": helper}, pricing=pricing
        )
        async with Client(options) as client:
            result = final(await ask(client, "go"))
        assert result.subtype == "success"
        assert result.usage is not None
        assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (10 + 1000 + 20, 5 + 100 + 5)
        assert result.total_cost_usd == pytest.approx((1030 * 1000 + 110 * 2000) / 1e6)

        # With a budget the subagent alone overspends, the run stops before its next request.
        budget = attrs.evolve(options, max_budget_usd=0.5)
        async with Client(budget) as client:
            result = final(await ask(client, "go"))
        assert result.subtype == "error_max_budget_usd"
        sub_requests = [r.json() for r in server.requests if r.json()["messages"][0]["role"] == "system"]
        assert len(sub_requests) == 2  # once per run: the budget left was enough to start it


async def test_interrupt_while_a_tool_runs() -> None:
    started = anyio.Event()

    @tool
    async def wait_long() -> str:
        """Takes a long time."""
        started.set()
        await anyio.sleep(30)
        return "never"

    replies = [calls(("c1", "wait_long", {})), says("unused")]
    async with agent("httpx", replies, tools=[wait_long]) as (server, client), anyio.create_task_group() as tg:
        await client.query("go")

        async def stop() -> None:
            await started.wait()
            await client.interrupt()

        tg.start_soon(stop)
        with anyio.fail_after(5):
            messages = [m async for m in client.receive_response()]
        history = client.messages
    assert final(messages).subtype == "interrupted"
    last = history[-1]
    assert isinstance(last, UserMessage) and isinstance(last.content, tuple)
    (block,) = last.content
    assert isinstance(block, ToolResultBlock) and block.is_error
    assert "interrupted" in str(block.content)
    assert len(server.requests) == 1


async def test_an_interrupt_keeps_the_results_of_the_calls_that_had_finished() -> None:
    started = anyio.Event()

    @tool
    async def quick() -> str:
        """Done at once."""
        return "quick result"

    @tool
    async def slow() -> str:
        """Takes a long time."""
        started.set()
        await anyio.sleep(30)
        return "never"

    replies = [calls(("c1", "quick", {}), ("c2", "slow", {})), says("unused")]
    async with agent("httpx", replies, tools=[quick, slow]) as (_, client), anyio.create_task_group() as tg:
        await client.query("go")

        async def stop() -> None:
            await started.wait()
            await client.interrupt()

        tg.start_soon(stop)
        with anyio.fail_after(5):
            messages = [m async for m in client.receive_response()]
        history = client.messages
    assert final(messages).subtype == "interrupted"
    last = history[-1]
    assert isinstance(last, UserMessage) and isinstance(last.content, tuple)
    first, second = last.content
    assert isinstance(first, ToolResultBlock) and isinstance(second, ToolResultBlock)
    assert (first.tool_use_id, first.content, first.is_error) == ("c1", "quick result", False)
    assert second.tool_use_id == "c2" and second.is_error and "interrupted" in str(second.content)


async def test_cancelling_the_caller_keeps_the_results_of_the_calls_that_had_finished() -> None:
    started = anyio.Event()

    @tool
    async def quick() -> str:
        """Done at once."""
        return "quick result"

    @tool
    async def slow() -> str:
        """Takes a long time."""
        started.set()
        await anyio.sleep(30)
        return "never"

    replies = [calls(("c1", "quick", {}), ("c2", "slow", {})), says("unused")]
    async with agent("httpx", replies, tools=[quick, slow]) as (_, client), anyio.create_task_group() as tg:
        await client.query("go")
        with anyio.CancelScope() as scope:

            async def cancel() -> None:
                await started.wait()
                scope.cancel()

            tg.start_soon(cancel)
            async with aclosing(client.receive_response()) as stream:
                async for _ in stream:
                    pass
        assert scope.cancelled_caught
        last = client.messages[-1]
    assert isinstance(last, UserMessage) and isinstance(last.content, tuple)
    first, second = last.content
    assert isinstance(first, ToolResultBlock) and isinstance(second, ToolResultBlock)
    assert (first.tool_use_id, first.content, first.is_error) == ("c1", "quick result", False)
    assert second.tool_use_id == "c2" and second.is_error


async def test_a_hook_error_keeps_the_results_of_the_calls_that_had_finished(tmp_path: pathlib.Path) -> None:
    def broken(input: PreToolUseInput, context: HookContext) -> HookResult | None:
        raise RuntimeError("hook bug")

    (tmp_path / "a.txt").write_text("alpha\n", encoding="utf-8")
    replies = [calls(("c1", "read_file", {"path": "a.txt"}), ("c2", "write_file", {"path": "b.txt", "content": "b"}))]
    hooks = {"PreToolUse": [HookMatcher(matcher="write_file", hooks=[broken])]}
    options = {"tools": ["read_file", "write_file"], "cwd": tmp_path, "hooks": hooks, "permission_mode": "acceptEdits"}
    async with agent("httpx", replies, **options) as (_, client):
        with pytest.raises(HookError, match="hook bug"):
            await ask(client, "copy it")
        last = client.messages[-1]
    assert isinstance(last, UserMessage) and isinstance(last.content, tuple)
    first, second = last.content
    assert isinstance(first, ToolResultBlock) and isinstance(second, ToolResultBlock)
    assert first.tool_use_id == "c1" and not first.is_error and "alpha" in str(first.content)
    assert second.tool_use_id == "c2" and second.is_error


async def test_external_and_built_in_calls_in_one_answer(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.txt").write_text("alpha\n", encoding="utf-8")
    approve = ToolSpec(name="approve", description="Ask a human.")
    replies = [calls(("c1", "approve", {}), ("c2", "read_file", {"path": "a.txt"})), says("done")]
    async with agent("httpx", replies, tools=[approve, "read_file"], cwd=tmp_path) as (server, client):
        first = final(await ask_pending(client, "go"))
        assert [c.id for c in first.pending_tool_calls] == ["c1"]
        client.add_tool_result("c1", "approved")
        second = final([m async for m in client.receive_response()])
    assert second.result == "done"
    answers = tool_messages(server, 1)
    assert [a["tool_call_id"] for a in answers] == ["c1", "c2"]
    assert answers[0]["content"] == "approved"
    assert "alpha" in answers[1]["content"]


async def ask_pending(client: Client, prompt: str) -> list[RunMessage]:
    await client.query(prompt)
    return [m async for m in client.receive_response()]


async def test_a_stop_hook_makes_the_model_go_on_once() -> None:
    seen: list[bool] = []

    def keep_going(input: StopInput, context: HookContext) -> HookResult:
        seen.append(input.stop_hook_active)
        return HookResult(decision="block", reason="Also say goodbye.")

    replies = [says("hello"), says("goodbye")]
    async with agent("httpx", replies, hooks={"Stop": [HookMatcher(hooks=[keep_going])]}) as (server, client):
        result = final(await ask(client, "hi"))
    assert (result.result, result.num_turns, seen) == ("goodbye", 2, [False, True])
    assert sent_messages(server, 1)[-1] == {"role": "user", "content": "Also say goodbye."}


async def test_after_a_stop_hook_raised_there_is_nothing_more_to_receive() -> None:
    def broken(input: StopInput, context: HookContext) -> HookResult:
        raise RuntimeError("stop hook bug")

    replies = [says("hello"), says("again")]
    async with agent("httpx", replies, hooks={"Stop": [HookMatcher(hooks=[broken])]}) as (server, client):
        with pytest.raises(HookError, match="stop hook bug"):
            await ask(client, "hi")
        with pytest.raises(ClientStateError, match="nothing to receive"):
            await anext(client.receive_response())
        assert len(server.requests) == 1
        with pytest.raises(HookError):
            await ask(client, "and now?")
    assert sent_messages(server, 1)[-2:] == [
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "and now?"},
    ]


# ---- rewritten input stays under the deny rules ------------------------------------------------


async def test_a_rewrite_by_can_use_tool_to_an_absolute_path_under_cwd_is_denied(
    kind: str, tmp_path: pathlib.Path
) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "key").write_text("hunter2\n", encoding="utf-8")

    async def can_use_tool(name: str, tool_input: Any, context: ToolPermissionContext) -> PermissionResultAllow:
        return PermissionResultAllow(updated_input={"path": str(tmp_path / "secrets" / "key"), "content": "x"})

    replies = [calls(("c1", "write_file", {"path": "notes.md", "content": "x"})), says("ok")]
    async with agent(
        kind,
        replies,
        tools=["write_file"],
        cwd=tmp_path,
        can_use_tool=can_use_tool,
        disallowed_tools=["write_file(secrets/*)"],
    ) as (server, client):
        await ask(client, "write")
    assert (tmp_path / "secrets" / "key").read_text(encoding="utf-8") == "hunter2\n"
    (answer,) = tool_messages(server, 1)
    assert answer["content"].startswith("Permission denied: the rewritten call is refused")
    assert "write_file(secrets/*)" in answer["content"]


async def test_a_rewrite_by_a_pre_tool_use_hook_is_checked_against_the_rules(kind: str, tmp_path: pathlib.Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "key").write_text("hunter2\n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("notes\n", encoding="utf-8")

    async def redirect(hook_input: Any, context: HookContext) -> HookResult:
        return HookResult(updated_input={"path": str(tmp_path / "secrets" / "key")})

    hooks = {"PreToolUse": [HookMatcher(matcher="read_file", hooks=[redirect])]}
    replies = [calls(("c1", "read_file", {"path": "notes.md"})), says("ok")]
    async with agent(
        kind, replies, tools=["read_file"], cwd=tmp_path, hooks=hooks, disallowed_tools=["read_file(secrets/*)"]
    ) as (server, client):
        await ask(client, "read")
    (answer,) = tool_messages(server, 1)
    assert "hunter2" not in answer["content"]
    assert answer["content"].startswith("Permission denied: the call as a PreToolUse hook rewrote it is refused")


# ---- a model that never stops calling tools -------------------------------------------------


async def run_with_defaults(kind: str, handler: Any) -> tuple[LoopbackServer, list[RunMessage]]:
    """``query()`` as a new user writes it (no tools, no ``max_turns``, the default doom-loop
    settings) against ``handler``, over the transport ``kind``."""
    async with serve(handler) as server:
        with anyio.fail_after(30):  # a hang guard: the run ends after a handful of requests
            if kind == "h11":
                async with H11Transport() as transport:
                    options = AgentOptions(model="m", base_url=server.base_url, transport=transport)
                    messages = [m async for m in query(prompt="go", options=options)]
            else:
                async with httpx.AsyncClient() as http:
                    options = AgentOptions(model="m", base_url=server.base_url, http_client=http)
                    messages = [m async for m in query(prompt="go", options=options)]
    return server, messages


async def test_a_model_repeating_the_same_calls_for_ever_is_stopped_by_default(kind: str) -> None:
    """Every answer is the same two calls of tools that do not exist: the defaults (threshold 3,
    ``warn``) refuse the repeats, then stop the run at twice the threshold."""
    same = calls(("c1", "get_weather", {"city": "Paris"}), ("c2", "get_time", {"zone": "CET"}))
    server, messages = await run_with_defaults(kind, same)
    result = final(messages)
    assert result.subtype == "error_doom_loop" and result.is_error
    assert result.errors == ("doom loop: get_weather called with the same arguments 6 times in a row",)
    assert len(server.requests) == 2 * 3  # bounded work, not endless assistant/tool pairs
    # Each answer's calls were told why they did not run, so the conversation stayed valid.
    answers = [m["content"] for m in tool_messages(server, len(server.requests) - 1)]
    assert answers[-2:] == [
        "Error: there is no tool named 'get_weather'. Available tools: none.",
        "Error: there is no tool named 'get_time'. Available tools: none.",
    ]


async def test_a_model_calling_unknown_tools_with_new_arguments_each_time_is_stopped_by_default(kind: str) -> None:
    """No call could run and the arguments never repeat: twice-the-threshold such answers in a
    row end the run all the same."""
    count = 0

    def handler(request: ReceivedRequest) -> Reply:
        nonlocal count
        count += 1
        return calls((f"c{count}", "search", {"query": f"attempt {count}"}))

    server, messages = await run_with_defaults(kind, handler)
    assert final(messages).subtype == "error_doom_loop"
    assert len(server.requests) == 2 * 3
