"""The claude-agent-sdk compatibility layer's parts: options, Claude Code's tools over anyagent's,
message and stream-event conversion, and the migration guide's name table."""

from __future__ import annotations

import importlib
import inspect
import pathlib
import re
import subprocess
import sys
import warnings
from typing import Any

import anyio
import pytest

import anyagent_httpx
from anyagent_core import Finished, PartialEvent, TextDelta, ToolCallDelta, Usage
from anyagent_core import StreamEvent as OurStreamEvent
from anyagent_httpx import ConfigurationError, SQLiteStore, run_tool
from anyagent_httpx.claude import (
    CLAUDE_TOOLS,
    AgentDefinition,
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    CompatibilityWarning,
    HookMatcher,
    PermissionResultAllow,
    StreamEvent,
    TextBlock,
    create_sdk_mcp_server,
    tool,
)
from anyagent_httpx.claude import ResultMessage as ClaudeResultMessage
from anyagent_httpx.claude import query as claude_query
from anyagent_httpx.claude._messages import Converter
from anyagent_httpx.claude._options import agent_options
from anyagent_httpx.testing import ReceivedRequest, Reply, serve
from tests.runtime.test_agent_end_to_end import calls, says
from tests.runtime.tools.support import context

ROOT = pathlib.Path(__file__).resolve().parents[2]
MIGRATING = ROOT / "docs" / "migrating-from-claude-agent-sdk.md"
ENV = {"ANY_AGENT_MODEL": "local", "ANY_AGENT_BASE_URL": "http://127.0.0.1:9/v1"}


def convert(**fields: Any) -> anyagent_httpx.AgentOptions:
    return agent_options(ClaudeAgentOptions(**fields), ENV)


# ---- options -----------------------------------------------------------------------------------------


def test_claude_code_tool_names_become_its_tools_and_rules_follow_them() -> None:
    options = convert(allowed_tools=["Read", "Bash(git status*)"], disallowed_tools=["Write(secrets/*)"])
    assert options.tool_names() == tuple(CLAUDE_TOOLS)
    assert options.allowed_tools == ("Read", "Bash(git status*)")
    assert options.disallowed_tools == ("Write(secrets/*)",)
    assert convert(tools=[]).tools == ()


def test_a_claude_code_rule_applies_to_anyagent_s_tool_when_that_is_the_one_offered() -> None:
    # the safety bug: tools=["bash"], disallowed_tools=["Bash"] under bypassPermissions ran the command
    options = convert(tools=["bash"], disallowed_tools=["Bash"], permission_mode="bypassPermissions")
    assert options.disallowed_tools == ("bash",)
    with pytest.raises(ConfigurationError, match=r"disallowed_tools rule 'Bsh' names no tool"):
        convert(tools=["Bash"], disallowed_tools=["Bsh"])


def test_rules_for_claude_code_tools_that_are_not_offered() -> None:
    assert convert(tools=["Read"], disallowed_tools=["WebSearch", "Bash"]).disallowed_tools == ()
    with pytest.warns(CompatibilityWarning, match="'WebFetch': WebFetch is not among the tools offered"):
        assert convert(tools=["Read"], allowed_tools=["WebFetch"]).allowed_tools == ()
    with pytest.raises(ConfigurationError, match=r"WebFetch \(fetching web pages\) has no anyagent equivalent"):
        convert(tools=["WebFetch"])
    with pytest.raises(ConfigurationError, match="unknown tool 'Reed'; known: Read, Write"):
        convert(tools=["Reed"])


def test_an_mcp_server_rule_covers_all_of_its_tools() -> None:
    @tool("add", "Add", {"a": float})
    async def add(args: dict[str, Any]) -> str:
        return "x"

    @tool("sub", "Subtract", {"a": float})
    async def sub(args: dict[str, Any]) -> str:
        return "y"

    server = create_sdk_mcp_server("calculator", tools=[add, sub])
    options = convert(tools=[], mcp_servers={"calc": server}, allowed_tools=["mcp__calc"])
    assert options.allowed_tools == ("mcp__calc__add", "mcp__calc__sub")
    with pytest.raises(ConfigurationError, match="no MCP server 'nope'"):
        convert(tools=[], mcp_servers={"calc": server}, allowed_tools=["mcp__nope"])
    stdio = convert(mcp_servers={"fs": {"command": "npx", "args": ["fs-server"]}})  # passed on
    assert stdio.mcp_servers["fs"]["type"] == "stdio"
    with pytest.raises(ConfigurationError, match=r"mcp_servers\['fs'\]\.args"):
        convert(mcp_servers={"fs": {"command": "npx", "args": "fs-server"}})


def test_session_options_go_to_the_default_store_and_claude_code_options_warn(tmp_path: pathlib.Path) -> None:
    env = {**ENV, "ANY_AGENT_SESSIONS_DB": str(tmp_path / "sessions.db")}
    options = agent_options(ClaudeAgentOptions(resume="abc", fork_session=True), env)
    assert isinstance(options.session_store, SQLiteStore) and options.session_store.path == env["ANY_AGENT_SESSIONS_DB"]
    assert (options.resume, options.fork_session) == ("abc", True)
    assert agent_options(ClaudeAgentOptions(), env).session_store is options.session_store  # one per place
    assert agent_options(ClaudeAgentOptions(continue_conversation=True), env).continue_conversation
    with pytest.raises(ConfigurationError, match="session_store must be a SessionStore"):
        convert(session_store="redis://")
    with pytest.warns(CompatibilityWarning) as caught:
        convert(stderr=print, betas=["context-1m-2025-08-07"])
    assert sorted(str(w.message).split(" is ")[0] for w in caught) == ["betas", "stderr"]
    with pytest.warns(CompatibilityWarning, match="no PermissionRequest event"):
        convert(hooks={"PermissionRequest": []})


@pytest.mark.anyio
async def test_a_conversation_resumed_by_its_session_id_goes_on(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANY_AGENT_SESSIONS_DB", str(tmp_path / "sessions.db"))
    seen: list[list[str]] = []

    def model(request: ReceivedRequest) -> Reply:
        messages = request.json()["messages"]
        seen.append([m["content"] for m in messages if m["role"] == "user"])
        return says(f"answer {len(seen)}")

    async with serve(model) as server:
        monkeypatch.setenv("ANY_AGENT_BASE_URL", server.base_url)
        monkeypatch.setenv("ANY_AGENT_MODEL", "local")
        first = [m async for m in claude_query(prompt="remember the lighthouse")][-1]
        assert isinstance(first, ClaudeResultMessage) and first.session_id
        resumed = ClaudeAgentOptions(resume=first.session_id)
        again = [m async for m in claude_query(prompt="what did I ask?", options=resumed)][-1]
    assert isinstance(again, ClaudeResultMessage) and again.session_id == first.session_id
    assert seen == [["remember the lighthouse"], ["remember the lighthouse", "what did I ask?"]]


@pytest.mark.anyio
async def test_receive_response_with_nothing_asked_waits_for_the_next_query(monkeypatch: pytest.MonkeyPatch) -> None:
    """claude-agent-sdk's streaming-input example drains its answers by calling
    receive_response() under a timeout until one times out: with nothing asked it waits (for a
    query() from another task, or the disconnect) instead of raising."""

    def model(request: ReceivedRequest) -> Reply:
        return says(f"re: {request.json()['messages'][-1]['content']}")

    async def prompts() -> Any:
        for text in ("one", "two"):
            yield {"type": "user", "message": {"role": "user", "content": text}}

    def texts(messages: list[Any]) -> list[str]:
        return [
            b.text for m in messages if isinstance(m, AssistantMessage) for b in m.content if isinstance(b, TextBlock)
        ]

    async with serve(model) as server:
        monkeypatch.setenv("ANY_AGENT_BASE_URL", server.base_url)
        monkeypatch.setenv("ANY_AGENT_MODEL", "local")
        async with ClaudeSDKClient() as client:
            await client.query(prompts())
            answers: list[str] = []
            timed_out = 0
            while timed_out == 0:
                with anyio.move_on_after(0.5) as scope:
                    answers += texts([m async for m in client.receive_response()])
                timed_out += scope.cancelled_caught
            assert answers == ["re: one", "re: two"]
            assert len(server.requests) == 2

            got: list[str] = []

            async def receive() -> None:
                got.extend(texts([m async for m in client.receive_response()]))

            async with anyio.create_task_group() as tg:
                tg.start_soon(receive)
                await anyio.wait_all_tasks_blocked()
                await client.query("three")  # the waiting receive_response() answers it
            assert got == ["re: three"]

            ended: list[Any] = []

            async def receive_until_disconnected() -> None:
                ended.extend([m async for m in client.receive_response()])

            async with anyio.create_task_group() as tg:
                tg.start_soon(receive_until_disconnected)
                await anyio.wait_all_tasks_blocked()
                await client.disconnect()
            assert ended == []


async def _no_hook(input_data: Any, tool_use_id: str | None, context: Any) -> dict[str, Any]:
    return {}


def test_a_hook_matcher_naming_a_claude_code_tool_matches_the_tool_behind_it() -> None:
    def matcher(pattern: str, **fields: Any) -> anyagent_httpx.HookMatcher:
        hooks = {"PreToolUse": [HookMatcher(matcher=pattern, hooks=[_no_hook])]}
        return convert(hooks=hooks, **fields).hooks["PreToolUse"][0]

    agents = {"reviewer": AgentDefinition(description="reviews", prompt="You review.")}
    assert matcher("Task", agents=agents).applies_to("task")  # the subagents' tool
    assert matcher("Bash", tools=["bash"]).applies_to("bash")
    both = matcher("Write|Edit")
    assert [both.applies_to(name) for name in ("Write", "Edit", "write_file", "edit_file", "Read")] == [
        True,
        True,
        True,
        True,
        False,
    ]
    assert not matcher("Bash").applies_to("bash_output")  # the names are matched whole
    assert matcher("*").matcher == "*" and matcher("*").applies_to("task")  # Claude Code's "every tool"
    assert matcher("mcp__calc__add").matcher == "mcp__calc__add"


def test_a_hook_matcher_is_claude_agent_sdk_s_dataclass_and_becomes_anyagent_s() -> None:
    from anyagent_httpx import HookMatcher as OurHookMatcher

    given = HookMatcher("Read", [_no_hook], 5, "block")  # positional, as claude-agent-sdk's dataclass takes them
    given.hooks.append(_no_hook)  # a list, as there
    [ours] = convert(hooks={"PreToolUse": [given]}).hooks["PreToolUse"]
    assert isinstance(ours, OurHookMatcher)
    assert (ours.hooks, ours.timeout, ours.on_failure) == ((_no_hook, _no_hook), 5, "block")
    assert ours.applies_to("Read") and ours.applies_to("read_file")
    # no timeout is Claude Code's 60 seconds; anyagent's own matchers are taken as they are
    [default] = convert(hooks={"Stop": [HookMatcher(hooks=[_no_hook])]}).hooks["Stop"]
    assert (default.timeout, default.on_failure) == (60, None)
    mine = OurHookMatcher(hooks=[_no_hook])
    assert list(convert(hooks={"Stop": [mine]}).hooks["Stop"]) == [mine]


@pytest.mark.parametrize(
    ("matcher", "message"),
    [
        (HookMatcher(hooks=[_no_hook, 3]), r"hooks\['PreToolUse'\]\[0\]: a hook must be callable, not int"),  # type: ignore[list-item]
        (HookMatcher("(", [_no_hook]), r"hooks\['PreToolUse'\]\[0\]: invalid hook matcher '\('"),
        (HookMatcher(hooks=[_no_hook], timeout=-1), r"hooks\['PreToolUse'\]\[0\]: HookMatcher.timeout must be"),
        (HookMatcher(hooks=[_no_hook], on_failure="fail"), r"hooks\['PreToolUse'\]\[0\]: HookMatcher.on_failure"),  # type: ignore[arg-type]
        ({"matcher": "Bash", "hooks": [_no_hook]}, r"hooks\['PreToolUse'\]\[0\] must be a HookMatcher, not dict"),
    ],
)
def test_a_hook_matcher_that_cannot_be_used_is_named(matcher: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        convert(hooks={"PreToolUse": [matcher]})


@pytest.mark.anyio
async def test_a_failing_hook_with_on_failure_block_denies_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    async def down(input_data: Any, tool_use_id: str | None, context: Any) -> dict[str, Any]:
        raise ConnectionError("policy service unreachable")

    def model(request: ReceivedRequest) -> Reply:
        messages = request.json()["messages"]
        if messages[-1]["role"] == "tool":
            return says(f"told: {messages[-1]['content']}")
        return calls(("t1", "Bash", {"command": "echo hi"}))

    options = ClaudeAgentOptions(
        permission_mode="bypassPermissions", hooks={"PreToolUse": [HookMatcher("Bash", [down], on_failure="block")]}
    )
    async with serve(model) as server:
        monkeypatch.setenv("ANY_AGENT_BASE_URL", server.base_url)
        monkeypatch.setenv("ANY_AGENT_MODEL", "local")
        result = [m async for m in claude_query(prompt="Say hi", options=options)][-1]
    assert isinstance(result, ClaudeResultMessage) and result.result is not None
    assert result.result.startswith("told: Denied by a PreToolUse hook: the PreToolUse hook ")
    assert "raised ConnectionError: policy service unreachable (on_failure='block')" in result.result


@pytest.mark.anyio
async def test_a_pretooluse_hook_for_task_sees_and_may_deny_a_subagent_call(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    async def guard(input_data: Any, tool_use_id: str | None, context: Any) -> dict[str, Any]:
        seen.append((input_data["tool_name"], input_data["tool_input"]))
        decision = {"permissionDecision": "deny", "permissionDecisionReason": "no subagents today"}
        return {"hookSpecificOutput": {"hookEventName": "PreToolUse", **decision}}

    def model(request: ReceivedRequest) -> Reply:
        messages = request.json()["messages"]
        if messages[-1]["role"] == "tool":
            return says(f"told: {messages[-1]['content']}")
        return calls(("t1", "Task", {"description": "Review", "prompt": "Review it", "subagent_type": "reviewer"}))

    options = ClaudeAgentOptions(
        agents={"reviewer": AgentDefinition(description="reviews", prompt="You review.")},
        hooks={"PreToolUse": [HookMatcher(matcher="Task", hooks=[guard])]},
    )
    async with serve(model) as server:
        monkeypatch.setenv("ANY_AGENT_BASE_URL", server.base_url)
        monkeypatch.setenv("ANY_AGENT_MODEL", "local")
        result = [m async for m in claude_query(prompt="Have it reviewed", options=options)][-1]
    assert seen == [("Task", {"description": "Review", "prompt": "Review it", "subagent_type": "reviewer"})]
    assert isinstance(result, ClaudeResultMessage)
    assert result.result == "told: Denied by a PreToolUse hook: no subagents today"
    assert len(server.requests) == 2  # the subagent never ran
    (offered,) = [t["function"] for t in server.requests[0].json()["tools"] if t["function"]["name"] == "Task"]
    assert offered["parameters"]["required"] == ["description", "prompt", "subagent_type"]  # Claude Code's Task
    assert offered["parameters"]["properties"]["subagent_type"]["enum"] == ["reviewer"]


def test_models_and_prices_come_from_the_environment() -> None:
    assert convert(model="claude-sonnet-4-5").model is None  # ANY_AGENT_MODEL then
    assert convert(model="qwen3:8b").model == "qwen3:8b"
    with pytest.raises(ConfigurationError, match="is a Claude model; set ANY_AGENT_MODEL"):
        agent_options(ClaudeAgentOptions(model="opus"), {})
    with pytest.raises(ConfigurationError, match="max_budget_usd needs the model's prices: set ANY_AGENT_PRICING"):
        convert(max_budget_usd=1.0)
    priced = agent_options(ClaudeAgentOptions(max_budget_usd=1.0), {**ENV, "ANY_AGENT_PRICING": "0.15/0.6"})
    assert priced.pricing is not None and priced.pricing.output_per_million == 0.6
    with pytest.raises(ConfigurationError, match="ANY_AGENT_PRICING='cheap'"):
        agent_options(ClaudeAgentOptions(), {**ENV, "ANY_AGENT_PRICING": "cheap"})


def test_system_prompt_presets_and_output_format() -> None:
    preset = convert(system_prompt={"type": "preset", "preset": "claude_code", "append": "Be brief."})
    assert preset.system_prompt is not None and preset.system_prompt.endswith("\n\nBe brief.")
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    assert convert(output_format={"type": "json_schema", "schema": schema}).output_schema == schema


async def _permission_conversion() -> None:
    seen: list[Any] = []

    async def callback(name: str, input_data: dict[str, Any], ctx: Any) -> PermissionResultAllow:
        seen.append((name, input_data, ctx.suggestions, ctx.tool_use_id))
        input_data["file_path"] = "other.txt"  # a plain dict the callback may change
        return PermissionResultAllow(updated_input=input_data)

    options = convert(can_use_tool=callback)
    assert options.can_use_tool is not None
    from anyagent_core import PermissionAllow, ToolTraits
    from anyagent_httpx import ToolPermissionContext

    ours = ToolPermissionContext(tool_use_id="c1", reason="asks", mode="default", traits=ToolTraits())
    answer = options.can_use_tool("Write", {"file_path": "a.txt"}, ours)
    assert inspect.isawaitable(answer)
    answer = await answer
    assert answer == PermissionAllow(updated_input={"file_path": "other.txt"})
    assert seen == [("Write", {"file_path": "other.txt"}, [], "c1")]


@pytest.mark.anyio
async def test_can_use_tool_gets_a_dict_and_claude_code_s_context() -> None:
    await _permission_conversion()


# ---- Claude Code's tools over anyagent's -------------------------------------------------------------


@pytest.mark.anyio
async def test_multi_edit_is_all_or_none(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.txt").write_text("one two three")
    multi = CLAUDE_TOOLS["MultiEdit"]
    good = [{"old_string": "one", "new_string": "1"}, {"old_string": "three", "new_string": "3"}]
    result = await run_tool(multi, "c1", {"file_path": "a.txt", "edits": good}, context(tmp_path))
    assert not result.is_error and (tmp_path / "a.txt").read_text() == "1 two 3"
    bad = [{"old_string": "two", "new_string": "2"}, {"old_string": "missing", "new_string": "x"}]
    result = await run_tool(multi, "c2", {"file_path": "a.txt", "edits": bad}, context(tmp_path))
    assert result.is_error and "edit 2 of 2 failed, so none was applied" in str(result.content)
    assert (tmp_path / "a.txt").read_text() == "1 two 3"


@pytest.mark.anyio
async def test_claude_code_s_arguments_are_mapped(tmp_path: pathlib.Path) -> None:
    (tmp_path / "n.txt").write_text("Alpha\nbeta\n")
    grep = await run_tool(CLAUDE_TOOLS["Grep"], "c1", {"pattern": "ALPHA", "-i": True}, context(tmp_path))
    assert "n.txt" in str(grep.content) and not grep.is_error
    read = await run_tool(
        CLAUDE_TOOLS["Read"], "c2", {"file_path": str(tmp_path / "n.txt"), "offset": 2}, context(tmp_path)
    )
    assert "beta" in str(read.content) and "Alpha" not in str(read.content)
    bash = await run_tool(CLAUDE_TOOLS["Bash"], "c3", {"command": "sleep 5", "timeout": 50}, context(tmp_path))
    assert bash.is_error and "timed out" in str(bash.content)  # 50 ms, not 50 s
    background = await run_tool(
        CLAUDE_TOOLS["Bash"], "c4", {"command": "true", "run_in_background": True}, context(tmp_path)
    )
    assert background.is_error and "run_in_background is not supported" in str(background.content)
    outside = await run_tool(CLAUDE_TOOLS["Write"], "c5", {"file_path": "/etc/x", "content": "x"}, context(tmp_path))
    assert outside.is_error  # confined to the working directory, as anyagent's write_file is


# ---- messages ----------------------------------------------------------------------------------------


def test_tool_call_deltas_become_anthropic_stream_events() -> None:
    converter = Converter("s1")
    partials: list[PartialEvent] = [
        TextDelta(text="Let me add."),
        ToolCallDelta(index=0, id="c1", name="add", arguments='{"a":'),
        ToolCallDelta(index=0, id=None, name="add", arguments=" 1}"),
        Usage(prompt_tokens=5, completion_tokens=7),
        Finished(reason="tool_calls"),
    ]
    converted = [e for p in partials for e in converter.convert(OurStreamEvent(event=p, turn=1))]
    events = [e.event for e in converted if isinstance(e, StreamEvent)]
    assert len(events) == len(converted)
    assert [e["type"] for e in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[4]["content_block"] == {"type": "tool_use", "id": "c1", "name": "add", "input": {}}
    assert "".join(e["delta"]["partial_json"] for e in events[5:7]) == '{"a": 1}'
    assert events[8]["delta"]["stop_reason"] == "tool_use"
    assert events[8]["usage"]["output_tokens"] == 7
    assert {e["index"] for e in events if "index" in e} == {0, 1}


def test_importing_anyagent_httpx_does_not_import_the_compatibility_layer() -> None:
    code = "import sys, anyagent_httpx; print('anyagent_httpx.claude' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# ---- the migration guide -----------------------------------------------------------------------------


def test_every_name_the_guide_says_exists_does() -> None:
    text = MIGRATING.read_text(encoding="utf-8")
    references = set(re.findall(r"`(anyagent_httpx(?:\.[A-Za-z_][A-Za-z0-9_]*)+)`", text))
    assert len(references) > 60
    for reference in sorted(references):
        parts = reference.split(".")
        target: Any = importlib.import_module(parts[0])
        for index, part in enumerate(parts[1:], 2):
            if not hasattr(target, part):
                try:  # a submodule not imported yet
                    target = importlib.import_module(".".join(parts[:index]))
                    continue
                except ImportError:
                    pytest.fail(f"{reference}: {part} does not exist")
            target = getattr(target, part)
    for method in re.findall(r"`Client\.([a-z_]+)\(\)`", text):
        assert callable(getattr(anyagent_httpx.Client, method)), method


def test_the_guide_lists_every_name_the_layer_provides_under_claude_agent_sdk_s_names() -> None:
    import anyagent_httpx.claude as claude

    text = MIGRATING.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([A-Za-z_][A-Za-z0-9_]*)` \| (.*) \|$", text, re.M))
    said = {name for name, mapping in rows.items() if mapping.startswith(f"`anyagent_httpx.claude.{name}`")}
    assert said, "no names said to exist"
    assert said <= set(claude.__all__)
    # anyagent's own additions, and HookEvent (claude_agent_sdk.types', outside its __all__)
    extras = {"CLAUDE_TOOLS", "ENV_PRICING", "CompatibilityWarning", "NotSupportedError", "HookEvent"}
    assert set(claude.__all__) - set(rows) == extras
    table = text.split("## Every public name of claude-agent-sdk", 1)[1].split("\n## ", 1)[0]
    named = dict(re.findall(r"^\| `([A-Za-z_][A-Za-z0-9_]*)` \| (.*) \|$", table, re.M))
    assert len(named) > 100 and set(named) - said == set()  # every name of claude_agent_sdk.__all__ is provided


def _skill(folder: pathlib.Path, name: str) -> None:
    (folder / name).mkdir(parents=True)
    (folder / name / "SKILL.md").write_text(f"---\nname: {name}\ndescription: The {name} skill.\n---\nDo {name}.\n")


def test_setting_sources_load_the_agents_and_skills_of_their_claude_folders(tmp_path: pathlib.Path) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    for base, who in ((home, "user"), (project, "project")):
        (base / ".claude" / "agents").mkdir(parents=True)
        (base / ".claude" / "agents" / "shared.md").write_text(f"---\ndescription: the {who}'s\n---\nYou are {who}.\n")
        _skill(base / ".claude" / "skills", f"{who}-skill")
    (home / ".claude" / "agents" / "mine.md").write_text("---\ndescription: mine\ntools: Read\n---\nYou are mine.\n")
    env = {**ENV, "HOME": str(home)}

    def options(**fields: Any) -> anyagent_httpx.AgentOptions:
        with pytest.warns(CompatibilityWarning, match="settings.json files, CLAUDE.md and slash commands are not read"):
            return agent_options(ClaudeAgentOptions(cwd=str(project), **fields), env)

    both = options(setting_sources=["user", "project"])
    assert sorted(both.agents) == ["mine", "shared"]
    assert both.agents["shared"].description == "the project's"  # a project's agent wins
    (read,) = both.agents["mine"].tools or ()
    assert not isinstance(read, str) and read.name == "Read"  # Claude Code's tool, by its name
    assert [pathlib.Path(d).parent.parent.name for d in both.skill_dirs] == ["project", "home"]
    assert both.skills is False  # skills=None: the sources' skills, not anyagent's own folders
    assert sorted(options(setting_sources=["project"]).agents) == ["shared"]
    inline = options(setting_sources=["project"], agents={"shared": AgentDefinition(description="inline", prompt="p")})
    assert inline.agents["shared"].description == "inline"  # the options' agents win over files
    picked = options(setting_sources=["user", "project"], skills=["user-skill"])
    assert [pathlib.Path(d).name for d in picked.skill_dirs] == ["user-skill"]
    assert options(setting_sources=["project"], skills=[]).skill_dirs == ()
    assert options(setting_sources=["project"], skills="all").skills is True
    with pytest.raises(ConfigurationError, match="skills: no skill named 'nope'; found: project-skill"):
        options(setting_sources=["project"], skills=["nope"])
    with pytest.raises(ConfigurationError, match="setting_sources: unknown source 'team'"):
        agent_options(ClaudeAgentOptions(setting_sources=["team"]), env)  # type: ignore[list-item]
    assert agent_options(ClaudeAgentOptions(cwd=str(project)), env).agents == {}  # no sources: no files read


def test_the_repr_of_claude_options_shows_no_key() -> None:
    options = ClaudeAgentOptions(
        model="m",
        env={"OPENAI_API_KEY": "sk-env-secret-42"},
        extra_args={"api-key": "sk-arg-secret-42"},
        mcp_servers={"s": {"type": "http", "url": "http://x", "headers": {"Authorization": "Bearer sk-mcp-secret-42"}}},
    )
    text = repr(options)
    assert "model='m'" in text
    for secret in ("sk-env-secret-42", "sk-arg-secret-42", "sk-mcp-secret-42"):
        assert secret not in text


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (None, ("auto", False)),
        ({"enabled": True}, ("auto", False)),
        ({"enabled": True, "allowUnsandboxedCommands": False}, ("required", False)),
        ({"enabled": False}, ("off", False)),
        ({"enabled": True, "network": {"allowLocalBinding": True}}, ("auto", True)),
    ],
)
def test_sandbox_settings_become_the_bash_sandbox(settings: Any, expected: tuple[str, bool]) -> None:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        options = agent_options(ClaudeAgentOptions(sandbox=settings), ENV)
    assert (options.sandbox, options.sandbox_network) == expected
    assert not [w for w in caught if "sandbox is a Claude Code option" in str(w.message)]


def test_sandbox_keys_only_claude_code_knows_warn_by_name() -> None:
    with pytest.warns(CompatibilityWarning, match=r"sandbox\['excludedCommands'\].*every command runs in the sandbox"):
        options = agent_options(ClaudeAgentOptions(sandbox={"enabled": True, "excludedCommands": ["git"]}), ENV)
    assert options.sandbox == "auto"
    with pytest.raises(ConfigurationError, match="sandbox is a dict of SandboxSettings"):
        agent_options(ClaudeAgentOptions(sandbox="on"), ENV)  # type: ignore[arg-type]


def test_agent_definitions_take_every_claude_agent_sdk_field_and_say_what_they_drop() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        options = convert(
            tools=["Read", "Grep", "Bash"],
            agents={
                # claude-agent-sdk's order: tools, then disallowedTools, then model
                "reviewer": AgentDefinition("Reviews code", "You review.", None, ["Bash"], "sonnet", maxTurns=3),
                "reader": AgentDefinition("Reads", "You read.", tools=["Read", "Grep"], disallowedTools=["Grep"]),
            },
        )
    reviewer, reader = options.agents["reviewer"], options.agents["reader"]
    assert [getattr(tool, "name", tool) for tool in reviewer.tools or ()] == ["Read", "Grep"]
    assert (reviewer.model, reviewer.max_turns) == (None, 3)
    assert [getattr(tool, "name", tool) for tool in reader.tools or ()] == ["Read"]
    dropped: list[tuple[str, Any]] = [
        ("skills", ["pdf"]),
        ("memory", "project"),
        ("mcpServers", ["github"]),
        ("initialPrompt", "Start"),
        ("background", True),
        ("effort", "high"),
        ("permissionMode", "plan"),
    ]
    for name, value in dropped:
        with pytest.warns(CompatibilityWarning, match=rf"agents\['a'\]\.{name}"):
            convert(agents={"a": AgentDefinition("d", "p", **{name: value})})
    with pytest.raises(ConfigurationError, match=r"agents\['a'\]\.disallowedTools.*'Bash\(rm:\*\)'"):
        convert(agents={"a": AgentDefinition("d", "p", disallowedTools=["Bash(rm:*)"])})


def test_session_store_flush_eager_warns_and_an_unknown_mode_is_an_error() -> None:
    from anyagent_httpx.claude import InMemorySessionStore

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        convert(session_store=InMemorySessionStore(), session_store_flush="batched")
    with pytest.warns(CompatibilityWarning, match=r"session_store_flush='eager'.*each committed turn"):
        convert(session_store=InMemorySessionStore(), session_store_flush="eager")
    with pytest.raises(ConfigurationError, match=r"session_store_flush='sometimes'.*'batched' or 'eager'"):
        convert(session_store=InMemorySessionStore(), session_store_flush="sometimes")
