"""The claude-agent-sdk-style programs in examples/claude_compat/ run against a loopback server
playing a scripted model, under asyncio and trio, and do what they demonstrate; their bodies use
only claude-agent-sdk's public names (the import line is all that differs)."""

from __future__ import annotations

import ast
import importlib.util
import json
import pathlib
import re
import types
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from anyagent_httpx.claude import CompatibilityWarning
from anyagent_httpx.testing import LoopbackServer, ReceivedRequest, Reply, serve

from .mock import chunk, text_stream
from .test_agent_end_to_end import calls, says
from .test_claude_compat_types import CLAUDE_TYPES

pytestmark = pytest.mark.anyio

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "claude_compat"
MIGRATING = ROOT / "docs" / "migrating-from-claude-agent-sdk.md"

Step = Reply | Callable[[ReceivedRequest], Reply]


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text", "") for part in content)


class Model:
    """A scripted model: the run's prompt (the last user message with text) picks a script, and
    the number of answers since that prompt picks the step. A subagent is told apart by its
    system prompt."""

    def __init__(self, scripts: dict[str, list[Step]]) -> None:
        self.scripts = scripts

    def __call__(self, request: ReceivedRequest) -> Reply:
        if not request.target.endswith("/chat/completions"):
            return Reply.error(404, "not found")  # the window probes of a server that has none
        messages = request.json()["messages"]
        system = text_of(messages[0]["content"]) if messages[0]["role"] == "system" else ""
        at = max(i for i, m in enumerate(messages) if m["role"] == "user")
        prompt = text_of(messages[at]["content"])
        step = sum(1 for m in messages[at:] if m["role"] == "assistant")
        for key, script in self.scripts.items():
            if key in prompt or (key.startswith("system:") and key[7:] in system):
                item = script[min(step, len(script) - 1)]
                return item(request) if callable(item) else item
        raise AssertionError(f"no script for the prompt {prompt!r}")


def load(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"claude_compat_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def workdir(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ANY_AGENT_MODEL", "local-model")
    monkeypatch.delenv("ANY_AGENT_PRICING", raising=False)
    return tmp_path


async def run(
    name: str,
    model: Callable[[ReceivedRequest], Reply],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: Any,
) -> tuple[str, LoopbackServer]:
    async with serve(model) as server:
        monkeypatch.setenv("ANY_AGENT_BASE_URL", server.base_url)
        module = load(name)
        with anyio.fail_after(60):
            await module.main(*args)
    return capsys.readouterr().out, server


# ---- the programs ----------------------------------------------------------------------------------


async def test_quick_start(workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    model = Model(
        {
            "2 + 2": [says("4")],
            "Python": [says("Python is a programming language.")],
            "hello.txt": [
                calls(("w1", "Write", {"file_path": "hello.txt", "content": "Hello, World!"})),
                says("Created hello.txt."),
            ],
        }
    )
    out, server = await run("quick_start", model, monkeypatch, capsys)
    assert "Claude: 4" in out
    assert "Claude: Python is a programming language." in out
    assert "Tool: Write {'file_path': 'hello.txt', 'content': 'Hello, World!'}" in out
    assert "hello.txt holds: 'Hello, World!'" in out
    assert out.count("[success]") == 3 and "cost $0.0000" in out
    bodies = [r.json() for r in server.requests]
    assert bodies[1]["messages"][0] == {
        "role": "system",
        "content": "You are a helpful assistant that explains things simply.",
    }
    offered = [t["function"]["name"] for t in bodies[2]["tools"]]
    assert offered == ["Read", "Write", "Edit", "MultiEdit", "Bash", "Glob", "Grep", "LS"]  # the preset


async def test_streaming_mode(workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    slow = Reply.sse(b"".join(text_stream(*[f"{n}, " for n in range(1, 101)])), chunk_size=64, delay=0.05)
    model = Model(
        {
            "capital of France": [says("Paris.")],
            "population of that city": [says("About two million.")],
            "Name a programming language": [says("Python.")],
            "Name another": [says("Rust.")],
            "Count from 1 to 100": [slow],
            "quick joke": [says("A joke.")],
            "two questions": [says("Go ahead.")],
            "15% of 200": [says("30.")],
            "2 + 2": [says("4.")],
            "10% of 80": [says("8.")],
            "capital of Japan": [says("Tokyo.")],
            "bash echo": [calls(("b1", "Bash", {"command": "echo 'Hello from bash!'"})), says("It printed it.")],
            "Just say 'Hello!'": [says("Hello!")],
        }
    )
    out, server = await run("streaming_mode", model, monkeypatch, capsys)
    lines = out.splitlines()
    assert "Claude: Paris." in lines and "Claude: About two million." in lines
    assert "Claude: Python." in lines and "Claude: Rust." in lines
    interrupt = lines.index("[interrupting]")
    kept, result = lines[interrupt + 1 : interrupt + 3]
    assert kept.startswith("Claude: 1, 2") and "100" not in kept  # what had arrived is kept
    assert result == "Result: interrupted"
    assert "Claude: A joke." in lines[interrupt:]
    assert "Claude: Go ahead." in lines and "Claude: 30." in lines
    assert "Claude: 4." in lines and "Claude: 8." in lines
    # the stream of prompts read until a wait for more timed out (it waited, it did not raise)
    quiet = lines.index("=== A stream of prompts, read until quiet ===")
    assert lines[quiet + 1 : quiet + 8] == [
        "User: First, what's the capital of Japan?",
        "Claude: Tokyo.",
        "Result: success",
        "User: Second, what's 2 + 2?",
        "Claude: 4.",
        "Result: success",
        "[no more answers]",
    ]
    assert "Tool use: Bash (b1): echo 'Hello from bash!'" in lines
    assert "Tool result (b1): Hello from bash!" in lines
    assert "Message types: AssistantMessage, ResultMessage, SystemMessage, UserMessage" in lines
    assert "Commands: 0, output style: default" in lines and "Claude: Hello!" in lines
    assert lines[lines.index("=== Connecting by hand ===") + 1 :] == ["Claude: 4.", "Result: success"]
    # the second turn of the multi-turn conversation carried the first
    second = server.requests[1].json()["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]


async def test_hooks(workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    model = Model(
        {
            "./foo.sh": [calls(("b1", "Bash", {"command": "./foo.sh --help"})), says("The hook blocked it.")],
            "Hello from hooks": [
                calls(("b2", "Bash", {"command": "echo 'Hello from hooks!'"})),
                says("It printed the greeting."),
            ],
            "favorite color": [lambda r: says("Hot pink." if "hot pink" in json.dumps(r.json()) else "No idea.")],
            "nonexistent_directory": [
                calls(("b3", "Bash", {"command": "ls /nonexistent_directory"})),
                says("That directory does not exist."),
            ],
            "CRITICAL": [calls(("b4", "Bash", {"command": "echo 'CRITICAL ERROR: system failure'"})), says("never")],
            "important_config.txt": [
                calls(("w1", "Write", {"file_path": "important_config.txt", "content": "test data"})),
                says("The policy refused it."),
            ],
            "regular_file.txt": [
                calls(("w2", "Write", {"file_path": "regular_file.txt", "content": "test data"})),
                says("Written."),
            ],
        }
    )
    out, server = await run("hooks", model, monkeypatch, capsys)
    assert "[hook] blocked: ./foo.sh --help" in out
    assert "Claude: It printed the greeting." in out
    assert "Claude: Hot pink." in out
    assert "[hook says] The command produced an error" in out
    assert "Claude: That directory does not exist." in out
    assert "[hook says] Execution stopped" in out
    assert "Result: interrupted ['Critical error in tool output']" in out
    assert "never" not in out
    results = {
        m["tool_call_id"]: m["content"] for r in server.requests for m in r.json()["messages"] if m["role"] == "tool"
    }
    assert results["b1"] == "Denied by a PreToolUse hook: Command contains invalid pattern: foo.sh"
    assert "Hello from hooks!" in results["b2"]
    assert results["b3"].endswith("The command failed. Try a different approach.")
    assert results["w1"] == "Denied by a PreToolUse hook: Security policy blocks writes to important files"
    assert "[hook says] Write blocked by the security policy" in out
    assert not (workdir / "important_config.txt").exists()
    assert (workdir / "regular_file.txt").read_text() == "test data"
    assert "Claude: Written." in out


async def test_tool_permission_callback(workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    (workdir / "notes.txt").write_text("notes")
    model = Model(
        {
            "hello world script": [
                calls(("t1", "LS", {"path": "."})),
                calls(("t2", "Write", {"file_path": "hello.py", "content": "print('hello world')\n"})),
                calls(("t3", "Bash", {"command": "python3 safe_output/hello.py"})),
                calls(("t4", "Bash", {"command": "rm -rf ."})),
                says("Done; I did not clean up."),
            ]
        }
    )
    out, server = await run("tool_permission_callback", model, monkeypatch, capsys)
    assert "redirected: hello.py -> ./safe_output/hello.py" in out
    assert "denied: rm -rf ." in out
    assert "Done: success in 5 turns" in out
    assert "Tools asked about: Write, Bash, Bash" in out  # LS is read-only: it ran without asking
    assert (workdir / "safe_output" / "hello.py").read_text() == "print('hello world')\n"
    assert (workdir / "notes.txt").exists()
    results = {
        m["tool_call_id"]: m["content"] for r in server.requests for m in r.json()["messages"] if m["role"] == "tool"
    }
    assert "notes.txt" in results["t1"]
    assert "hello world" in results["t3"]
    assert results["t4"] == "Permission denied: Dangerous command pattern detected: rm -rf"


async def test_mcp_calculator(workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    model = Model(
        {
            "15 + 27": [calls(("m1", "mcp__calc__add", {"a": 15, "b": 27})), says("15 + 27 = 42")],
            "divided by 0": [calls(("m2", "mcp__calc__divide", {"a": 100, "b": 0})), says("That cannot be done.")],
            "square root": [calls(("m3", "mcp__calc__sqrt", {"n": 144})), says("12")],
        }
    )
    out, server = await run("mcp_calculator", model, monkeypatch, capsys)
    assert "Using tool: mcp__calc__add {'a': 15, 'b': 27}" in out
    assert "Tool result: 15.0 + 27.0 = 42.0" in out
    assert "Tool result (error): Error: Division by zero is not allowed" in out
    assert "Tool result: sqrt(144.0) = 12.0" in out
    assert out.count("Result: success") == 3
    names = [t["function"]["name"] for t in server.requests[0].json()["tools"]]
    assert [n for n in names if n.startswith("mcp__")] == ["mcp__calc__add", "mcp__calc__divide", "mcp__calc__sqrt"]


async def test_agents(workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    (workdir / "calc.py").write_text("def div(a, b):\n    return a / b\n")
    model = Model(
        {
            "system:You are a code reviewer": [
                calls(("r1", "Read", {"file_path": "calc.py"})),
                lambda r: says("div() does not check for zero." if "return a / b" in json.dumps(r.json()) else "?"),
            ],
            "review calc.py": [
                calls(
                    (
                        "t1",
                        "Task",
                        {"description": "Review", "prompt": "Review calc.py", "subagent_type": "code-reviewer"},
                    )
                ),
                lambda r: says(f"The reviewer says: {r.json()['messages'][-1]['content']}"),
            ],
        }
    )
    out, server = await run("agents", model, monkeypatch, capsys)
    assert "Agents: ['code-reviewer']" in out
    assert "Claude: The reviewer says: div() does not check for zero." in out
    assert re.search(r"Result: success, \d+ input tokens", out)
    chats = [r.json() for r in server.requests if r.target.endswith("/chat/completions")]
    sub = next(r for r in chats if r["messages"][0]["role"] == "system")
    assert sub["model"] == "local-model"  # "sonnet" means the main agent's model here
    assert [t["function"]["name"] for t in sub["tools"]] == ["Read", "Grep"]


async def test_filesystem_agents(workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv("HOME", str(workdir))  # no user's agents or skills
    prompt = "Ask the proofreader"

    def main_agent(request: ReceivedRequest) -> Reply:
        results = [m["content"] for m in request.json()["messages"] if m["role"] == "tool"]
        if not results:
            return calls(
                (
                    "t1",
                    "Task",
                    {"description": "Proofread", "prompt": "Check: Teh cat sat.", "subagent_type": "proofreader"},
                )
            )
        if len(results) == 1:
            return calls(("s1", "skill", {"name": "haiku"}))
        return says(f"Fixed: {results[0]} | {'five, seven and five' in results[1]}")

    model = Model(
        {
            "system:You are a careful proofreader": [says("Teh -> The")],
            prompt: [main_agent],
        }
    )
    with pytest.warns(CompatibilityWarning, match="setting_sources: the agents and skills"):
        out, server = await run("filesystem_agents", model, monkeypatch, capsys)
    assert "Init message received. Agents loaded: ['proofreader']" in out
    assert "'Task'" in out and "'skill'" in out
    assert "Assistant: Fixed: Teh -> The | True" in out
    assert "Result: subtype=success, cost=$0.0000" in out
    chats = [r.json() for r in server.requests if r.target.endswith("/chat/completions")]
    sub = next(
        r for r in chats if r["messages"][0]["role"] == "system" and "proofreader" in r["messages"][0]["content"]
    )
    assert [t["function"]["name"] for t in sub["tools"]] == ["Read", "Grep"]  # the file's tools
    assert sub["model"] == "local-model"  # inherit


async def test_max_budget_usd(workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv("ANY_AGENT_PRICING", "10/10")  # $10 per million tokens, in and out
    model = Model(
        {
            "2 + 2": [says("4")],
            "README": [calls(("r1", "Read", {"file_path": "README.md"})), says("never asked")],
        }
    )
    (workdir / "README.md").write_text("# A project\n" * 50)
    out, server = await run("max_budget_usd", model, monkeypatch, capsys)
    statuses = re.findall(r"Status: (\w+)", out)
    assert statuses == ["success", "error_max_budget_usd"]
    assert "Budget limit exceeded!" in out
    costs = [float(c) for c in re.findall(r"Total cost: \$([0-9.]+)", out)]
    assert 0 < costs[0] < 0.10 and costs[1] > 0.0001  # estimated tokens at the prices given
    assert len(server.requests) == 2  # the budget was spent before the second request of the second run


async def test_max_budget_usd_without_prices_says_what_to_set(workdir: pathlib.Path, monkeypatch: Any) -> None:
    from anyagent_httpx import ConfigurationError

    async with serve(says("x")) as server:
        monkeypatch.setenv("ANY_AGENT_BASE_URL", server.base_url)
        module = load("max_budget_usd")
        with pytest.raises(ConfigurationError, match="set ANY_AGENT_PRICING='<input>/<output>'"):
            await module.main()


async def test_include_partial_messages(workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    think = [chunk(reasoning_content="Three jokes... ")]
    body = b"".join([*think, *text_stream("Why did ", "the chicken ", "cross the road?")])
    model = Model({"jokes": [Reply.sse(body)]})
    out, server = await run("include_partial_messages", model, monkeypatch, capsys)
    events = re.findall(r"event: (\w+)", out)
    assert events[0] == "message_start" and events[-2:] == ["message_delta", "message_stop"]
    assert events.count("content_block_start") == 2 == events.count("content_block_stop")
    assert "streamed text matches the message: True" in out
    assert server.requests[0].json()["model"] == "local-model"  # ANY_AGENT_MODEL replaces the Claude model


async def test_system_prompt(workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    out, server = await run("system_prompt", Model({"2 + 2": [says("4")]}), monkeypatch, capsys)
    assert out.count("Claude: 4") == 4
    systems = [
        r.json()["messages"][0]["content"] if r.json()["messages"][0]["role"] == "system" else None
        for r in server.requests
    ]
    assert systems[0] is None
    assert systems[1] == "You are a pirate assistant. Respond in pirate speak."
    assert systems[2] is not None and systems[2].startswith("You are an agent that helps with software")
    assert systems[3] == systems[2] + "\n\nAlways end with a fun fact."


async def test_sessions(workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv("ANY_AGENT_SESSIONS_DB", str(workdir / "sessions.db"))

    def model(request: ReceivedRequest) -> Reply:
        heard = [text_of(m["content"]) for m in request.json()["messages"] if m["role"] == "user"]
        return says("Heard: " + " | ".join(heard))

    out, _ = await run("sessions", model, monkeypatch, capsys)
    answers = re.findall(r"Claude: Heard: (.*)", out)
    teal, what, first, red, said = (
        "My favourite colour is teal. Remember it.",
        "What is my favourite colour?",
        "And what did I tell you first?",
        "Suppose it were red instead.",
        "What colour did I say?",
    )
    assert answers == [
        teal,
        f"{teal} | {what}",
        f"{teal} | {what} | {first}",  # the latest session is the resumed one
        f"{teal} | {what} | {first} | {red}",
        f"{teal} | {what} | {first} | {said}",  # the fork's turn stayed in the fork
    ]
    assert "Same session: True" in out and "Forked into a new session: True" in out


async def test_tools_option(workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    out, server = await run("tools_option", Model({"tools": [says("Some tools.")]}), monkeypatch, capsys)
    listed = re.findall(r"Tools from system message: (.*)", out)
    assert listed == [
        "['Read', 'Glob', 'Grep']",
        "[]",
        "['Read', 'Write', 'Edit', 'MultiEdit', 'Bash', 'Glob', 'Grep', 'LS']",
    ]
    assert "tools" not in server.requests[1].json()


async def test_claude_code_options_warn_once_each(
    workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    with pytest.warns(CompatibilityWarning) as caught:
        out, _ = await run("claude_code_options", Model({"Hello": [says("Hi!")]}), monkeypatch, capsys)
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 3
    assert messages[0].startswith("plugins is a Claude Code option and is ignored here: Claude Code plugins")
    assert messages[1].startswith("setting_sources: the agents and skills in the .claude/ folders")
    assert messages[2].startswith("stderr is a Claude Code option and is ignored here: there is no CLI process")
    assert "plugins: [], slash commands: []" in out
    assert "Result: success: Hi!" in out
    assert "Captured 0 stderr lines" in out


# ---- the programs use claude-agent-sdk's names only -------------------------------------------------


def claude_names() -> set[str]:
    """The claude-agent-sdk public names the migration guide lists (its first column), and those
    of its ``types`` module."""
    names = set(re.findall(r"^\| `([A-Za-z_][A-Za-z0-9_]*)` \|", MIGRATING.read_text(encoding="utf-8"), re.M))
    assert len(names) > 100, "the guide's name table is missing"
    return names | set(CLAUDE_TYPES)


@pytest.mark.parametrize("path", sorted(EXAMPLES.rglob("*.py")), ids=lambda p: p.name)
def test_a_program_differs_from_claude_agent_sdk_only_in_its_import_lines(path: pathlib.Path) -> None:
    known = claude_names()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("anyagent"):
            assert node.module in ("anyagent_httpx.claude", "anyagent_httpx.claude.types"), node.module
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            assert not any(alias.name.startswith("anyagent") for alias in node.names)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert node.value.id not in ("anyagent_httpx", "anyagent_core")
    assert imported, "the program imports nothing from the compatibility layer"
    assert not set(imported) - known, f"names that are not claude-agent-sdk's: {set(imported) - known}"


def test_every_example_topic_has_a_test() -> None:
    tested = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    programs = {path.stem for path in EXAMPLES.glob("*.py")}
    assert programs <= tested | {"claude_code_options"}
