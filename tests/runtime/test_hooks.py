"""Hooks end to end against a loopback server, under asyncio and trio: claude-agent-sdk's
three-argument callback form (dicts in, dicts out) beside ours, the matchers' timeout, the events
SessionStart, SessionEnd, SubagentStop, PreCompact and Notification, and the outputs
``system_message``, ``continue_``/``stop_reason`` and ``additional_context``."""

from __future__ import annotations

import os
import pathlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest

from anyagent_httpx import (
    AgentDefinition,
    AgentOptions,
    Client,
    HookContext,
    HookError,
    HookMatcher,
    HookResult,
    PermissionResultAllow,
    PromptBlockedError,
    ResultMessage,
    RunMessage,
    SystemMessage,
)
from anyagent_httpx.testing import LoopbackServer, ReceivedRequest, Reply, serve

from .mock import FAST_RETRY
from .test_agent_end_to_end import calls, says

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def client_for(replies: Any, **options: Any) -> AsyncIterator[tuple[LoopbackServer, Client]]:
    async with serve(replies) as server, httpx.AsyncClient() as http:
        opts = AgentOptions(model="m", base_url=server.base_url, http_client=http, retry=FAST_RETRY, **options)
        async with Client(opts) as client:
            yield server, client


async def ask(client: Client, prompt: str) -> list[RunMessage]:
    with anyio.fail_after(30):
        await client.query(prompt)
        return [m async for m in client.receive_response()]


def result_of(messages: list[RunMessage]) -> ResultMessage:
    assert isinstance(messages[-1], ResultMessage)
    return messages[-1]


def tool_contents(request: ReceivedRequest) -> list[str]:
    return [m["content"] for m in request.json()["messages"] if m["role"] == "tool"]


def _real(path: pathlib.Path) -> str:
    return os.path.realpath(path)


async def test_a_claude_form_pre_tool_use_hook_gets_a_dict_and_denies_with_a_dict(tmp_path: pathlib.Path) -> None:
    seen: list[tuple[dict[str, Any], str | None, Any]] = []

    async def check(input_data: dict[str, Any], tool_use_id: str | None, context: Any) -> dict[str, Any]:
        seen.append((input_data, tool_use_id, context))
        if "foo.sh" in input_data["tool_input"].get("command", ""):
            return {
                "hookSpecificOutput": {
                    "hookEventName": "PreToolUse",
                    "permissionDecision": "deny",
                    "permissionDecisionReason": "foo.sh is not allowed",
                }
            }
        return {}

    replies = [calls(("c1", "bash", {"command": "./foo.sh --help"})), says("refused")]
    hooks = {"PreToolUse": [HookMatcher(matcher="bash", hooks=[check])]}
    options = {"tools": ["bash"], "cwd": tmp_path, "permission_mode": "bypassPermissions", "hooks": hooks}
    async with client_for(replies, **options) as (server, client):
        messages = await ask(client, "run it")
    assert result_of(messages).result == "refused"
    assert tool_contents(server.requests[1]) == ["Denied by a PreToolUse hook: foo.sh is not allowed"]
    ((data, tool_use_id, context),) = seen
    assert tool_use_id == "c1"
    assert context == {"signal": None}
    assert data == {
        "hook_event_name": "PreToolUse",
        "session_id": client.session_id,
        "transcript_path": "",
        "cwd": _real(tmp_path),
        "permission_mode": "bypassPermissions",
        "tool_name": "bash",
        "tool_input": {"command": "./foo.sh --help"},
        "tool_use_id": "c1",
    }


async def test_post_tool_use_outputs_a_system_message_and_context_for_the_model(tmp_path: pathlib.Path) -> None:
    async def review(input_data: dict[str, Any], tool_use_id: str | None, context: Any) -> dict[str, Any]:
        assert "No such file" in input_data["tool_response"]
        return {
            "systemMessage": "the command failed",
            "hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": "Try another path."},
        }

    replies = [calls(("c1", "bash", {"command": "ls /nonexistent_dir_xyz"})), says("ok")]
    hooks = {"PostToolUse": [HookMatcher(matcher="bash", hooks=[review])]}
    options = {"tools": ["bash"], "cwd": tmp_path, "permission_mode": "bypassPermissions", "hooks": hooks}
    async with client_for(replies, **options) as (server, client):
        messages = await ask(client, "list")
    notes = [m for m in messages if isinstance(m, SystemMessage) and m.subtype == "hook"]
    assert [dict(n.data) for n in notes] == [{"event": "PostToolUse", "message": "the command failed"}]
    (sent,) = tool_contents(server.requests[1])
    assert sent.endswith("\n\nTry another path.")


@pytest.mark.parametrize("key", ["continue_", "continue"])
async def test_continue_false_stops_the_run_after_the_tool_round(tmp_path: pathlib.Path, key: str) -> None:
    async def halt(input_data: dict[str, Any], tool_use_id: str | None, context: Any) -> dict[str, Any]:
        if "CRITICAL" in str(input_data["tool_response"]):
            return {key: False, "stopReason": "critical error in the output"}
        return {key: True}

    replies = [calls(("c1", "bash", {"command": "echo CRITICAL"})), says("never asked")]
    hooks = {"PostToolUse": [HookMatcher(matcher="bash", hooks=[halt])]}
    options = {"tools": ["bash"], "cwd": tmp_path, "permission_mode": "bypassPermissions", "hooks": hooks}
    async with client_for(replies, **options) as (server, client):
        messages = await ask(client, "echo")
        result = result_of(messages)
        assert (result.subtype, result.errors) == ("interrupted", ("critical error in the output",))
        assert len(server.requests) == 1
        assert type(client.messages[-1]).__name__ == "UserMessage"
        assert "CRITICAL" in str(client.messages[-1])  # the tool result is kept, the conversation is valid
        messages = await ask(client, "go on")
    assert result_of(messages).result == "never asked"


async def test_our_form_stops_a_run_from_pre_tool_use_and_shows_a_message(tmp_path: pathlib.Path) -> None:
    async def stop_all(input: Any, context: HookContext) -> HookResult:
        return HookResult(continue_=False, stop_reason="maintenance", system_message="stopped for maintenance")

    replies = [calls(("c1", "bash", {"command": "echo hi"}), ("c2", "bash", {"command": "echo ho"}))]
    hooks = {"PreToolUse": [HookMatcher(hooks=[stop_all])]}
    options = {"tools": ["bash"], "cwd": tmp_path, "permission_mode": "bypassPermissions", "hooks": hooks}
    async with client_for(replies, **options) as (server, client):
        messages = await ask(client, "echo")
        sent = client.messages[-1]
    result = result_of(messages)
    assert (result.subtype, result.errors) == ("interrupted", ("maintenance",))
    assert "Not run: a PreToolUse hook stopped the run: maintenance" in str(sent)
    notes = [m for m in messages if isinstance(m, SystemMessage) and m.subtype == "hook"]
    assert [n.data["message"] for n in notes] == ["stopped for maintenance"] * 2
    assert len(server.requests) == 1


async def test_session_start_adds_context_to_the_first_prompt_and_session_end_runs_at_close() -> None:
    events: list[str] = []

    async def start(input_data: dict[str, Any], tool_use_id: str | None, context: Any) -> dict[str, Any]:
        events.append(f"{input_data['hook_event_name']}:{input_data['source']}")
        return {"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": "Favourite: pink"}}

    async def submit(input_data: dict[str, Any], tool_use_id: str | None, context: Any) -> dict[str, Any]:
        events.append(f"prompt:{input_data['prompt']}")
        return {"hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": "Be brief."}}

    def end(input: Any, context: HookContext) -> None:
        events.append(f"{input.hook_event_name}:{input.reason}")

    hooks = {
        "SessionStart": [HookMatcher(hooks=[start])],
        "UserPromptSubmit": [HookMatcher(hooks=[submit])],
        "SessionEnd": [HookMatcher(hooks=[end])],
    }
    async with client_for([says("pink"), says("blue")], hooks=hooks) as (server, client):
        await ask(client, "colour?")
        await ask(client, "again?")
        assert events == ["SessionStart:startup", "prompt:colour?", "prompt:again?"]
    assert events[-1] == "SessionEnd:other"
    first = server.requests[0].json()["messages"][0]["content"]
    assert [part["text"] for part in first] == ["colour?", "Favourite: pink", "Be brief."]
    second = server.requests[1].json()["messages"][-1]["content"]
    assert [part["text"] for part in second] == ["again?", "Be brief."]


async def test_hooks_added_to_the_options_after_the_client_opened_run_from_the_next_prompt() -> None:
    events: list[str] = []

    async def hook(input_data: dict[str, Any], tool_use_id: str | None, context: Any) -> dict[str, Any]:
        events.append(input_data["hook_event_name"])
        return {"hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": "Be brief."}}

    async with client_for([says("one"), says("two")], hooks={}) as (server, client):
        await ask(client, "first?")
        assert events == []
        for event in ("SessionStart", "UserPromptSubmit", "SessionEnd"):
            client.options.hooks[event] = [HookMatcher(hooks=[hook])]  # type: ignore[index]
        await ask(client, "second?")
        assert events == ["UserPromptSubmit"]  # the session had started: no SessionStart
    assert events == ["UserPromptSubmit", "SessionEnd"]
    assert server.requests[0].json()["messages"][-1]["content"] == "first?"
    second = server.requests[1].json()["messages"][-1]["content"]
    assert [part["text"] for part in second] == ["second?", "Be brief."]


async def test_user_prompt_submit_continue_false_refuses_the_prompt() -> None:
    async def refuse(input_data: dict[str, Any], tool_use_id: str | None, context: Any) -> dict[str, Any]:
        return {"continue_": False, "stopReason": "not today"}

    async with client_for(says("x"), hooks={"UserPromptSubmit": [HookMatcher(hooks=[refuse])]}) as (server, client):
        with pytest.raises(PromptBlockedError, match="not today"):
            await client.query("hi")
    assert server.requests == []


async def test_a_hook_past_its_matcher_s_timeout_is_a_hook_error() -> None:
    async def slow(input_data: dict[str, Any], tool_use_id: str | None, context: Any) -> dict[str, Any]:
        await anyio.sleep(30)
        return {}

    hooks = {"UserPromptSubmit": [HookMatcher(hooks=[slow], timeout=0.05)]}
    async with client_for(says("x"), hooks=hooks) as (_, client):
        with anyio.fail_after(10), pytest.raises(HookError, match=r"slow took longer than its timeout \(0.05s\)"):
            await client.query("hi")
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        HookMatcher(hooks=[slow], timeout=0)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ({"continu": False}, "an unknown key 'continu'"),
        ({"hookSpecificOutput": {"permissionDecison": "deny"}}, "an unknown hookSpecificOutput key"),
        ({"hookSpecificOutput": {"permissionDecision": "maybe"}}, "permissionDecision 'maybe'"),
        ({"systemMessage": 3}, "systemMessage as int"),
        ({"continue": "no"}, "continue as str"),
    ],
)
async def test_a_claude_form_output_it_cannot_read_is_a_hook_error(output: dict[str, Any], message: str) -> None:
    async def bad(input_data: dict[str, Any], tool_use_id: str | None, context: Any) -> dict[str, Any]:
        return output

    async with client_for(says("x"), hooks={"UserPromptSubmit": [HookMatcher(hooks=[bad])]}) as (_, client):
        with pytest.raises(HookError, match=message):
            await client.query("hi")


async def test_notification_tells_of_a_permission_question(tmp_path: pathlib.Path) -> None:
    notes: list[dict[str, Any]] = []

    async def notify(input_data: dict[str, Any], tool_use_id: str | None, context: Any) -> None:
        notes.append(input_data)

    def allow(name: str, input: Any, context: Any) -> PermissionResultAllow:
        return PermissionResultAllow()

    replies = [calls(("c1", "write_file", {"path": "a.txt", "content": "x"})), says("done")]
    hooks = {"Notification": [HookMatcher(hooks=[notify])]}
    async with client_for(replies, tools=["write_file"], cwd=tmp_path, hooks=hooks, can_use_tool=allow) as (_, client):
        await ask(client, "write")
    (note,) = notes
    assert note["notification_type"] == "permission_prompt"
    assert note["message"].startswith("The agent needs your permission to use write_file")


async def test_pre_compact_runs_before_older_messages_are_left_out() -> None:
    seen: list[Any] = []

    def compacting(input: Any, context: HookContext) -> None:
        seen.append(input)

    hooks = {"PreCompact": [HookMatcher(hooks=[compacting])]}
    long = "word " * 400
    async with client_for([says(long), says(long), says("short")], hooks=hooks, context_window=900) as (_, client):
        await ask(client, "one")
        await ask(client, "two")
        await ask(client, "three")
    assert seen, "no compaction happened"
    assert seen[0].trigger == "auto" and seen[0].tokens > seen[0].limit


async def test_subagent_stop_runs_for_a_subagent_s_run_and_stop_for_the_main_one() -> None:
    events: list[tuple[str, Any]] = []

    async def record(input_data: dict[str, Any], tool_use_id: str | None, context: Any) -> dict[str, Any]:
        events.append((input_data["hook_event_name"], input_data.get("agent_type")))
        return {}

    async def model(request: ReceivedRequest) -> Reply:
        messages = request.json()["messages"]
        if messages[0]["role"] == "system":
            return says("sub done")
        if not any(m["role"] == "tool" for m in messages):
            return calls(("t1", "task", {"agent": "helper", "prompt": "help"}))
        return says("main done")

    hooks = {"Stop": [HookMatcher(hooks=[record])], "SubagentStop": [HookMatcher(hooks=[record])]}
    agents = {"helper": AgentDefinition(description="Helps", prompt="You help.")}
    async with client_for(model, hooks=hooks, agents=agents) as (_, client):
        messages = await ask(client, "go")
    assert result_of(messages).result == "main done"
    assert events == [("SubagentStop", "helper"), ("Stop", None)]


async def test_post_tool_use_failure_runs_after_post_tool_use_for_an_error_result(tmp_path: pathlib.Path) -> None:
    seen: list[tuple[str, str]] = []

    async def post(input_data: dict[str, Any], tool_use_id: str | None, context: Any) -> dict[str, Any]:
        seen.append(("PostToolUse", tool_use_id or ""))
        return {}

    async def failed(input_data: dict[str, Any], tool_use_id: str | None, context: Any) -> dict[str, Any]:
        assert input_data["tool_name"] == "read_file" and input_data["is_interrupt"] is False
        assert input_data["tool_input"] == {"path": "missing.txt"}
        seen.append(("PostToolUseFailure", input_data["error"]))
        return {"hookSpecificOutput": {"hookEventName": "PostToolUseFailure", "additionalContext": "List first."}}

    (tmp_path / "here.txt").write_text("here\n")
    replies = [
        calls(("c1", "read_file", {"path": "here.txt"})),
        calls(("c2", "read_file", {"path": "missing.txt"})),
        says("ok"),
    ]
    hooks = {
        "PostToolUse": [HookMatcher(matcher="read_file", hooks=[post])],
        "PostToolUseFailure": [
            HookMatcher(matcher="read_file", hooks=[failed]),
            HookMatcher(matcher="bash", hooks=[failed]),
        ],
    }
    async with client_for(replies, tools=["read_file"], cwd=tmp_path, hooks=hooks) as (server, client):
        await ask(client, "read")
    assert [event for event, _ in seen] == ["PostToolUse", "PostToolUse", "PostToolUseFailure"]
    assert seen[:2] == [("PostToolUse", "c1"), ("PostToolUse", "c2")]
    assert "missing.txt" in seen[2][1]  # the error result's text
    (first,) = tool_contents(server.requests[1])
    (second,) = tool_contents(server.requests[2])[1:]
    assert "List first." not in first and second.endswith("\n\nList first.")


async def test_subagent_start_runs_for_a_subagent_s_task_in_place_of_session_start() -> None:
    events: list[tuple[str, Any]] = []

    async def record(input_data: dict[str, Any], tool_use_id: str | None, context: Any) -> dict[str, Any]:
        events.append((input_data["hook_event_name"], input_data.get("agent_type")))
        if input_data["hook_event_name"] == "SubagentStart":
            return {"hookSpecificOutput": {"hookEventName": "SubagentStart", "additionalContext": "Be terse."}}
        return {}

    prompts: list[Any] = []

    async def model(request: ReceivedRequest) -> Reply:
        messages = request.json()["messages"]
        if messages[0]["role"] == "system":
            prompts.append(messages[1]["content"])
            return says("sub done")
        if not any(m["role"] == "tool" for m in messages):
            return calls(
                ("t1", "task", {"agent": "helper", "prompt": "help"}), ("t2", "task", {"agent": "other", "prompt": "x"})
            )
        return says("main done")

    hooks = {
        "SessionStart": [HookMatcher(hooks=[record])],
        "SubagentStart": [HookMatcher(matcher="helper", hooks=[record])],
    }
    agents = {
        "helper": AgentDefinition(description="Helps", prompt="You help."),
        "other": AgentDefinition(description="Other", prompt="You too."),
    }
    async with client_for(model, hooks=hooks, agents=agents) as (_, client):
        messages = await ask(client, "go")
    assert result_of(messages).result == "main done"
    assert events == [("SessionStart", None), ("SubagentStart", "helper")]  # matched on the agent's name
    texts = [p if isinstance(p, str) else "\n".join(part["text"] for part in p) for p in prompts]
    assert sorted(texts) == ["help\nBe terse.", "x"]


def test_a_matcher_of_star_or_nothing_is_every_tool_and_a_bad_pattern_is_named() -> None:
    for every in (None, "*", ""):
        assert HookMatcher(matcher=every).applies_to("bash") and HookMatcher(matcher=every).applies_to("mcp__a__b")
    assert not HookMatcher(matcher="bash").applies_to("bash_output")
    with pytest.raises(ValueError, match=r"invalid hook matcher '\(bash': missing \)"):
        HookMatcher(matcher="(bash")


# ---- on_failure ----------------------------------------------------------------------------------


async def _broken(input_data: dict[str, Any], tool_use_id: str | None, context: Any) -> dict[str, Any]:
    raise RuntimeError("the policy service is down")


async def _no_answer(input_data: dict[str, Any], tool_use_id: str | None, context: Any) -> None:
    return None


@pytest.mark.parametrize("hook", [_broken, _no_answer])
async def test_on_failure_block_denies_the_call_a_pre_tool_use_hook_failed_on(
    tmp_path: pathlib.Path, hook: Any
) -> None:
    replies = [calls(("c1", "bash", {"command": "echo hi"})), says("refused")]
    hooks = {"PreToolUse": [HookMatcher(matcher="bash", hooks=[hook], on_failure="block")]}
    options = {"tools": ["bash"], "cwd": tmp_path, "permission_mode": "bypassPermissions", "hooks": hooks}
    async with client_for(replies, **options) as (server, client):
        messages = await ask(client, "run it")
    assert result_of(messages).result == "refused"
    [content] = tool_contents(server.requests[1])
    assert content.startswith(f"Denied by a PreToolUse hook: the PreToolUse hook {hook.__qualname__} ")
    assert "on_failure='block'" in content


async def test_on_failure_block_refuses_a_prompt_a_user_prompt_submit_hook_failed_on() -> None:
    hooks = {"UserPromptSubmit": [HookMatcher(hooks=[_broken], on_failure="block")]}
    async with client_for(says("x"), hooks=hooks) as (server, client):
        with pytest.raises(PromptBlockedError, match="raised RuntimeError: the policy service is down"):
            await client.query("hi")
    assert server.requests == []


async def test_on_failure_continue_counts_a_failure_as_no_decision_and_says_so(tmp_path: pathlib.Path) -> None:
    async def slow(input_data: dict[str, Any], tool_use_id: str | None, context: Any) -> dict[str, Any]:
        await anyio.sleep(30)
        return {}

    replies = [calls(("c1", "bash", {"command": "echo hi"})), says("ran")]
    matcher = HookMatcher(matcher="bash", hooks=[_broken, slow], timeout=0.05, on_failure="continue")
    options = {"tools": ["bash"], "cwd": tmp_path, "permission_mode": "bypassPermissions"}
    async with client_for(replies, hooks={"PreToolUse": [matcher]}, **options) as (server, client):
        messages = await ask(client, "run it")
    assert result_of(messages).result == "ran"
    assert tool_contents(server.requests[1]) == ["hi\n"]  # the call ran
    notes = [m.data["message"] for m in messages if isinstance(m, SystemMessage) and m.subtype == "hook"]
    assert len(notes) == 2
    assert "_broken raised RuntimeError: the policy service is down" in notes[0]
    assert "slow took longer than its timeout (0.05s)" in notes[1]
    assert all("on_failure='continue'" in note for note in notes)


async def test_stop_hooks_ignore_on_failure_and_other_events_stop_the_run_on_block() -> None:
    for event in ("Stop", "SessionStart"):
        hooks = {event: [HookMatcher(hooks=[_broken], on_failure="block")]}
        async with client_for(says("x"), hooks=hooks) as (_, client):
            with pytest.raises(HookError, match="raised RuntimeError: the policy service is down"):
                await ask(client, "hi")
    with pytest.raises(ValueError, match=r"HookMatcher.on_failure must be 'continue', 'block' or None, not 'ignore'"):
        HookMatcher(hooks=[_broken], on_failure="ignore")  # type: ignore[arg-type]
