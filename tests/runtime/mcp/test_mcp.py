"""MCP servers as tools, against a real server written with the mcp package's own server API
(``server.py``), run as a subprocess over stdio and over streamable HTTP on 127.0.0.1, with a
loopback server playing a scripted model; under asyncio and trio."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import aclosing
from typing import Any

import anyio
import pytest

from anyagent_core import ImageBlock, ToolResultBlock
from anyagent_httpx import (
    AgentDefinition,
    AgentOptions,
    Client,
    ConfigurationError,
    HookMatcher,
    McpServerError,
    ResultMessage,
    RunMessage,
    query,
)
from anyagent_httpx.claude import ClaudeAgentOptions, McpServerConfig
from anyagent_httpx.claude._options import agent_options
from anyagent_httpx.testing import ReceivedRequest, Reply, serve
from tests.runtime.mock import FAST_RETRY
from tests.runtime.support import closed_port, task_ids
from tests.runtime.test_agent_end_to_end import calls, says
from tests.runtime.test_claude_compat_examples import Model

pytestmark = pytest.mark.anyio

SERVER = pathlib.Path(__file__).with_name("server.py")


def _start_http(port: int, kind: str = "http") -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, str(SERVER), kind, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(2000):  # bounded: the server listens within a few hundred tries
        if process.poll() is not None:
            raise RuntimeError(f"the MCP test server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            subprocess.run([sys.executable, "-c", "import time; time.sleep(0.02)"], check=True)
    process.kill()
    raise RuntimeError("the MCP test server did not listen")


def _stop(process: subprocess.Popen[bytes], *, kill: bool = False) -> None:
    if kill:
        process.kill()
    else:
        process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    """One streamable-HTTP server for the module."""
    port = closed_port()
    process = _start_http(port)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        _stop(process)


def stdio_config(**env: str) -> dict[str, Any]:
    return {"type": "stdio", "command": sys.executable, "args": [str(SERVER), "stdio"], "env": env}


@pytest.fixture(params=["stdio", "http"])
def config(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "stdio":
        return stdio_config()
    return {"type": "http", "url": request.getfixturevalue("http_url"), "headers": {"X-Test": "1"}}


async def run(
    replies: list[Reply], prompt: str = "go", *, model_server: Model | None = None, **options: Any
) -> tuple[list[RunMessage], Any]:
    async with serve(model_server if model_server is not None else replies) as server:
        opts = AgentOptions(model="m", base_url=server.base_url, retry=FAST_RETRY, **options)
        with anyio.fail_after(60):
            async with aclosing(query(prompt=prompt, options=opts)) as stream:
                messages = [message async for message in stream]
        return messages, server


def chat(server: Any) -> list[dict[str, Any]]:
    """The bodies of the chat requests (the window probes of a server that has none aside)."""
    return [r.json() for r in server.requests if r.target.endswith("/chat/completions")]


def sent_results(server: Any) -> list[Any]:
    """The tool results the model was sent last."""
    return [m["content"] for m in chat(server)[-1]["messages"] if m["role"] == "tool"]


def offered(server: Any, index: int = 0) -> list[str]:
    return [item["function"]["name"] for item in chat(server)[index]["tools"]]


def results(messages: list[RunMessage]) -> list[ToolResultBlock]:
    return [block for m in messages for block in getattr(m, "content", ()) if isinstance(block, ToolResultBlock)]


# ---- tools, results, permissions ---------------------------------------------------------------------


async def test_a_servers_tools_are_offered_by_name_and_their_results_reach_the_model(config: dict[str, Any]) -> None:
    messages, server = await run(
        [calls(("c1", "mcp__calc__add", {"a": 2, "b": 40})), says("42")], mcp_servers={"calc": config}
    )
    assert "mcp__calc__add" in offered(server) and "mcp__calc__grow" in offered(server)
    assert sent_results(server) == ["42"]
    assert isinstance(messages[-1], ResultMessage) and messages[-1].result == "42"


async def test_a_server_over_sse_is_reached_too() -> None:
    port = closed_port()
    process = _start_http(port, "sse")
    try:
        config = {"type": "sse", "url": f"http://127.0.0.1:{port}/sse"}
        messages, server = await run(
            [calls(("c1", "mcp__old__add", {"a": 1, "b": 2})), says("3")], mcp_servers={"old": config}
        )
    finally:
        _stop(process, kill=True)
    assert sent_results(server) == ["3"]
    assert isinstance(messages[-1], ResultMessage) and messages[-1].result == "3"


async def test_images_and_errors_from_a_server_reach_the_model(config: dict[str, Any]) -> None:
    messages, server = await run(
        [calls(("c1", "mcp__s__picture", {}), ("c2", "mcp__s__fail", {"reason": "nope"})), says("seen")],
        mcp_servers={"s": config},
    )
    picture, failure = results(messages)
    assert not picture.is_error and isinstance(picture.content, tuple)
    assert isinstance(picture.content[0], ImageBlock) and picture.content[0].url.startswith("data:image/png;base64,")
    assert failure.is_error and "fail" in str(failure.content)
    assert "fail" in str(sent_results(server)[1]) and "image" in str(chat(server)[-1]["messages"])


async def test_a_servers_tools_follow_the_permission_rules(config: dict[str, Any]) -> None:
    messages, server = await run(
        [calls(("c1", "mcp__s__add", {"a": 1, "b": 1})), says("denied")],
        mcp_servers={"s": config},
        disallowed_tools=["mcp__s__add"],
    )
    (denied,) = results(messages)
    assert denied.is_error and denied.content != "2"
    assert sent_results(server) != ["2"]


@pytest.mark.parametrize("trusted", [False, True])
async def test_a_trusted_server_s_read_only_tool_runs_in_plan_mode(config: dict[str, Any], trusted: bool) -> None:
    messages, _ = await run(
        [calls(("c1", "mcp__s__add", {"a": 1, "b": 1}), ("c2", "mcp__s__pid", {})), says("planned")],
        mcp_servers={"s": {**config, "trust_hints": True} if trusted else config},
        permission_mode="plan",
    )
    added, pid = results(messages)
    if trusted:
        assert (added.is_error, added.content) == (False, "2")  # readOnlyHint: true, and believed
    else:
        assert added.is_error and "plan" in str(added.content)  # the hint is the server's word alone
    assert pid.is_error and "plan" in str(pid.content)  # no annotations: it may change things


def test_only_an_explicit_hint_makes_a_tool_read_only_or_idempotent() -> None:
    from mcp_types import ToolAnnotations

    from anyagent_httpx._mcp import _hints

    assert _hints(None) == (False, False)
    assert _hints(ToolAnnotations()) == (False, False)
    assert _hints(ToolAnnotations(read_only_hint=True)) == (True, True)
    assert _hints(ToolAnnotations(idempotent_hint=True)) == (False, True)
    assert _hints(ToolAnnotations(read_only_hint=False, destructive_hint=False)) == (False, False)


async def test_hooks_see_a_servers_tools_by_their_full_names_and_may_deny_them(config: dict[str, Any]) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    async def check(input_data: dict[str, Any], tool_use_id: str | None, context: Any) -> dict[str, Any]:
        seen.append((input_data["tool_name"], input_data["tool_input"]))
        if input_data["tool_input"].get("b") == 13:
            reason = {"permissionDecision": "deny", "permissionDecisionReason": "unlucky"}
            return {"hookSpecificOutput": {"hookEventName": "PreToolUse", **reason}}
        return {}

    hooks = {"PreToolUse": [HookMatcher(matcher="mcp__s__add", hooks=[check])]}
    _, server = await run(
        [calls(("c1", "mcp__s__add", {"a": 1, "b": 2}), ("c2", "mcp__s__add", {"a": 1, "b": 13})), says("ok")],
        mcp_servers={"s": {**config, "trust_hints": True}},
        hooks=hooks,
    )
    # add says it is read-only, and is trusted: the two calls may run at once, in either order
    assert sorted(seen, key=lambda call: call[1]["b"]) == [
        ("mcp__s__add", {"a": 1, "b": 2}),
        ("mcp__s__add", {"a": 1, "b": 13}),
    ]
    assert sent_results(server)[0] == "3" and "unlucky" in sent_results(server)[1]


async def test_the_environment_of_a_stdio_server_is_passed() -> None:
    messages, _ = await run(
        [calls(("c1", "mcp__s__environment", {"name": "MCP_TEST_VALUE"})), says("ok")],
        mcp_servers={"s": stdio_config(MCP_TEST_VALUE="from-options")},
    )
    assert results(messages)[0].content == "from-options"


async def test_a_stdio_server_sees_only_a_few_variables_of_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The API key, and any other secret in the environment, stays with the agent: a stdio
    # server gets HOME, LOGNAME, PATH, SHELL, TERM and USER, and its own ``env``.
    monkeypatch.setenv("ANY_AGENT_API_KEY", "sk-not-for-servers")
    monkeypatch.setenv("MCP_TEST_SECRET", "also-not-for-servers")
    monkeypatch.setenv("PATH", os.environ.get("PATH", "/usr/bin") + os.pathsep + "/marker-dir")
    names = ["ANY_AGENT_API_KEY", "MCP_TEST_SECRET", "PATH"]
    messages, _ = await run(
        [calls(*[(f"c{i}", "mcp__s__environment", {"name": n}) for i, n in enumerate(names)]), says("ok")],
        mcp_servers={"s": stdio_config()},
    )
    seen = [r.content for r in results(messages)]
    assert seen[:2] == ["<unset>", "<unset>"]
    assert isinstance(seen[2], str) and seen[2].endswith("/marker-dir")


async def test_a_subagent_without_a_tool_list_uses_the_parents_servers() -> None:
    def echo(request: ReceivedRequest) -> Reply:
        return says(str([m["content"] for m in request.json()["messages"] if m["role"] == "tool"][-1]))

    model = Model(
        {
            "system:You add numbers.": [calls(("s1", "mcp__s__add", {"a": 20, "b": 22})), echo],
            "please delegate": [calls(("m1", "task", {"agent": "adder", "prompt": "sum twenty and twenty-two"})), echo],
        }
    )
    agents = {"adder": AgentDefinition(description="Adds numbers.", prompt="You add numbers.")}
    messages, _ = await run([], "please delegate", mcp_servers={"s": stdio_config()}, agents=agents, model_server=model)
    assert isinstance(messages[-1], ResultMessage) and messages[-1].result == "42"


# ---- lifecycle ---------------------------------------------------------------------------------------


async def test_a_stdio_server_ends_with_the_client_and_no_task_is_left() -> None:
    before = task_ids()
    messages, _ = await run([calls(("c1", "mcp__s__pid", {})), says("ok")], mcp_servers={"s": stdio_config()})
    pid = int(str(results(messages)[0].content))
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # ended and reaped
    assert task_ids() <= before


async def test_a_server_that_dies_is_reconnected_once_and_the_call_goes_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serve([says("unused")]) as model:
        opts = AgentOptions(model="m", base_url=model.base_url, mcp_servers={"s": stdio_config()})
        async with Client(opts) as client:
            assert client._mcp is not None
            (server,) = client._mcp._live
            first = await server.call("pid", {})
            await server.call("quit", {})  # the process ends; the retry after reconnecting ends it again
            second = await server.call("pid", {})
            assert second["is_error"] is False and second["content"] != first["content"]
    assert "reconnected" in caplog.text


async def test_a_restarted_http_server_is_reconnected() -> None:
    port = closed_port()
    process = _start_http(port)
    try:
        async with serve([says("unused")]) as model:
            config = {"type": "http", "url": f"http://127.0.0.1:{port}/mcp"}
            async with Client(AgentOptions(model="m", base_url=model.base_url, mcp_servers={"s": config})) as client:
                assert client._mcp is not None
                (server,) = client._mcp._live
                first = await server.call("pid", {})
                _stop(process, kill=True)  # gone at once: its sessions with it
                process = _start_http(port)
                second = await server.call("pid", {})
                assert second["is_error"] is False and second["content"] != first["content"]
    finally:
        _stop(process)


async def test_a_tool_list_change_is_offered_at_the_next_prompt(config: dict[str, Any]) -> None:
    replies = [calls(("c1", "mcp__s__grow", {})), says("grown"), calls(("c2", "mcp__s__extra", {})), says("done")]
    async with serve(replies) as model:
        opts = AgentOptions(model="m", base_url=model.base_url, retry=FAST_RETRY, mcp_servers={"s": config})
        async with Client(opts) as client:
            for prompt in ("grow", "extra"):
                await client.query(prompt)
                async with aclosing(client.receive_response()) as stream:
                    messages = [message async for message in stream]
    assert results(messages)[0].content == "extra ran"
    assert "mcp__s__extra" in offered(model, 2)
    if config["type"] == "stdio":  # a new server: the HTTP one is the module's, grown by a run before
        assert "mcp__s__extra" not in offered(model, 0)


# ---- servers that do not start, bad configurations ----------------------------------------------------


async def test_a_server_that_does_not_start_is_an_error_naming_it() -> None:
    broken = {"type": "stdio", "command": sys.executable, "args": ["-c", "raise SystemExit(1)"]}
    with pytest.raises(McpServerError, match="'broken'") as caught:
        await run([says("never")], mcp_servers={"ok": stdio_config(), "broken": broken})
    assert caught.value.server == "broken"
    with pytest.raises(McpServerError, match=r"'missing': did not start \(FileNotFoundError"):
        await run([says("never")], mcp_servers={"missing": {"command": "no-such-program-for-anyagent"}})


async def test_the_error_for_an_unreachable_server_holds_no_credentials() -> None:
    url = f"http://user:pw-in-url@127.0.0.1:{closed_port()}/mcp"
    config = {"type": "http", "url": url, "headers": {"Authorization": "Bearer sk-in-header"}}
    with pytest.raises(McpServerError) as caught:
        await run([says("never")], mcp_servers={"h": config})
    assert "sk-in-header" not in str(caught.value) and "pw-in-url" not in str(caught.value)


@pytest.mark.parametrize("how", ["strict", "optional"])
async def test_an_optional_server_that_does_not_start_is_a_warning_and_the_run_goes_on(how: str) -> None:
    broken: dict[str, Any] = {"type": "http", "url": f"http://127.0.0.1:{closed_port()}/mcp"}
    extra: dict[str, Any] = {"mcp_strict": False}
    if how == "optional":
        broken["optional"] = True
        extra = {}
    with pytest.warns(UserWarning, match="'gone' did not start"):
        messages, server = await run([says("fine")], mcp_servers={"gone": broken, "s": stdio_config()}, **extra)
    assert isinstance(messages[-1], ResultMessage) and messages[-1].result == "fine"
    names = offered(server)
    assert "mcp__s__add" in names and not any(name.startswith("mcp__gone__") for name in names)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"type": "stdio"}, r"mcp_servers\['x'\]\.command"),
        ({"type": "ws", "url": "ws://h"}, "type is one of"),
        ({"type": "http", "url": "ftp://h"}, r"mcp_servers\['x'\]\.url"),
        ({"type": "http", "url": "http://h", "headers": {"a": 1}}, r"\.headers"),
        ({"command": "x", "args": "not a list"}, r"\.args"),
        ({"command": "x", "envs": {}}, "unknown key"),
        ({"command": "x", "trust_hints": "yes"}, r"mcp_servers\['x'\]\.trust_hints is True or False"),
        ({"command": "x", "optional": 1}, r"\.optional is True or False"),
        ("npx server", "is a dict"),
    ],
)
def test_a_bad_server_configuration_names_the_server_and_the_field(config: object, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        AgentOptions(mcp_servers={"x": config})


def test_credentials_in_server_configurations_stay_out_of_the_repr() -> None:
    options = AgentOptions(
        mcp_servers={"h": {"type": "http", "url": "http://h/mcp", "headers": {"Authorization": "Bearer sk-hidden"}}}
    )
    assert "sk-hidden" not in repr(options)


def test_rules_may_name_a_remote_servers_tools_but_not_an_unknown_server() -> None:
    AgentOptions(mcp_servers={"s": stdio_config()}, allowed_tools=["mcp__s__add"])
    with pytest.raises(ConfigurationError, match="mcp__t__add"):
        AgentOptions(mcp_servers={"s": stdio_config()}, allowed_tools=["mcp__t__add"])


def test_the_claude_layer_passes_stdio_http_and_sse_servers_through() -> None:
    servers: dict[str, McpServerConfig] = {
        "a": {"type": "stdio", "command": "srv", "args": ["x"]},
        "b": {"type": "http", "url": "http://127.0.0.1:1/mcp", "headers": {"k": "v"}},
        "c": {"type": "sse", "url": "http://127.0.0.1:1/sse"},
    }
    options = agent_options(ClaudeAgentOptions(mcp_servers=servers), {"ANY_AGENT_MODEL": "m"})
    assert {key: config["type"] for key, config in options.mcp_servers.items()} == {
        "a": "stdio",
        "b": "http",
        "c": "sse",
    }
    assert options.mcp_servers["a"]["args"] == ["x"]
    with pytest.raises(ConfigurationError, match="one by one"):
        agent_options(ClaudeAgentOptions(mcp_servers=servers, allowed_tools=["mcp__a"]), {"ANY_AGENT_MODEL": "m"})


async def test_the_claude_layer_s_mcp_status_says_what_each_server_is(monkeypatch: pytest.MonkeyPatch) -> None:
    from anyagent_httpx.claude import ClaudeSDKClient, create_sdk_mcp_server, tool

    @tool("echo", "Say it back", {"text": str})
    async def echo(args: dict[str, Any]) -> dict[str, Any]:
        return {"content": [{"type": "text", "text": args["text"]}]}

    secret_env = {"TOKEN": "sk-env-secret"}
    servers: dict[str, McpServerConfig] = {
        "inproc": create_sdk_mcp_server("inner", version="2.1.0", tools=[echo]),
        "s": {"type": "stdio", "command": sys.executable, "args": [str(SERVER), "stdio"], "env": secret_env},
        "gone": {"type": "http", "url": f"http://u:sk-pw@127.0.0.1:{closed_port()}/mcp", "headers": {"K": "sk-h"}},
    }
    servers["gone"]["optional"] = True  # type: ignore[typeddict-unknown-key]  # anyagent's own key
    async with serve([says("hi")]) as server:
        monkeypatch.setenv("ANY_AGENT_BASE_URL", server.base_url)
        monkeypatch.setenv("ANY_AGENT_MODEL", "local")
        with pytest.warns(UserWarning, match="'gone' did not start"):
            async with ClaudeSDKClient(ClaudeAgentOptions(mcp_servers=servers)) as client:
                status = await client.get_mcp_status()
    by_name = {entry["name"]: entry for entry in status["mcpServers"]}
    assert list(by_name) == ["inproc", "s", "gone"]
    inproc, stdio, gone = by_name["inproc"], by_name["s"], by_name["gone"]
    assert inproc["status"] == "connected" and inproc.get("serverInfo") == {"name": "inner", "version": "2.1.0"}
    assert inproc.get("config") == {"type": "sdk", "name": "inner"}
    assert inproc.get("tools") == [{"name": "echo", "description": "Say it back"}]
    assert stdio["status"] == "connected" and stdio.get("serverInfo", {}).get("name") == "testing"
    assert stdio.get("config") == {"type": "stdio", "command": sys.executable, "args": [str(SERVER), "stdio"]}
    assert "add" in [item["name"] for item in stdio.get("tools", [])]
    assert gone["status"] == "failed" and "serverInfo" not in gone and gone.get("tools") == []
    assert gone.get("error") and "<redacted>@127.0.0.1" in repr(gone.get("config"))
    assert {entry.get("scope") for entry in status["mcpServers"]} == {"dynamic"}
    assert "sk-" not in repr(status)  # env, headers and a URL's password stay out
