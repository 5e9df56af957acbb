"""Every Python snippet in docs/migrating-from-claude-agent-sdk.md runs: each whole program is run
in a fresh interpreter against a loopback server playing a scripted model (the test's event loop
serves it, under asyncio and trio), with an MCP server to reach for the snippets that name one;
a snippet marked ``# fragment:`` on its first line is only checked to be valid Python."""

from __future__ import annotations

import ast
import os
import pathlib
import re
import shutil
import stat
import sys
from typing import Any

import anyio
import pytest

from anyagent_httpx.testing import ReceivedRequest, Reply, serve
from tests.runtime.test_agent_end_to_end import calls, says
from tests.runtime.test_claude_compat_examples import Model

pytestmark = pytest.mark.anyio

ROOT = pathlib.Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "migrating-from-claude-agent-sdk.md"
MCP_SERVER = ROOT / "tests" / "runtime" / "mcp" / "server.py"
FRAGMENT = "# fragment:"

SNIPPETS = re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), re.S | re.M)
PROGRAMS = [snippet for snippet in SNIPPETS if not snippet.startswith(FRAGMENT)]
FRAGMENTS = [snippet for snippet in SNIPPETS if snippet.startswith(FRAGMENT)]


def echo_tool_result(request: ReceivedRequest) -> Reply:
    """The model answers with the result of the tool it called: the output shows the tool ran."""
    results = [m["content"] for m in request.json()["messages"] if m["role"] == "tool"]
    return says(str(results[-1]))


#: A prompt of the guide's programs -> the model's script for it, and what the program prints.
SCRIPTS: dict[str, tuple[list[Any], str]] = {
    "capital of France": ([says("Paris.")], "Paris."),
    "prime number": ([says("7")], "7"),
    "next one": ([says("11")], "11"),
    "15 + 27": ([calls(("c1", "mcp__calc__add", {"a": 15, "b": 27})), echo_tool_result], "42.0"),
    "Add 2 and 40": ([calls(("c1", "mcp__maths__add", {"a": 2, "b": 40})), echo_tool_result], "42"),
    "Name a colour": ([says("Teal.")], "Teal."),
    "Which colour did you name?": (
        [lambda request: says("Teal." if "Teal." in str(request.json()["messages"]) else "None.")],
        "Teal.",
    ),
    "Force-push the branch": (
        [
            calls(("c1", "Bash", {"command": "git push --force origin main"})),
            lambda request: says("refused" if "no force pushes" in str(request.json()["messages"][-1]) else "pushed"),
        ],
        "refused",
    ),
}


def expected(snippet: str) -> list[str]:
    """What the program prints: the answers to its prompts, in the order they appear in it."""
    found = sorted((snippet.index(prompt), printed) for prompt, (_, printed) in SCRIPTS.items() if prompt in snippet)
    return [printed for _, printed in found]


@pytest.fixture
def workdir(tmp_path: pathlib.Path) -> tuple[pathlib.Path, dict[str, str]]:
    """A working directory holding ``my_mcp_server.py`` (the test MCP server), and an
    environment where ``python`` is this interpreter."""
    shutil.copy(MCP_SERVER, tmp_path / "my_mcp_server.py")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANY_AGENT_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["ANY_AGENT_MODEL"] = "local-model"
    env["ANY_AGENT_SESSIONS_DB"] = str(tmp_path / "sessions.db")
    return tmp_path, env


def test_the_guide_has_programs_and_each_has_a_script() -> None:
    assert len(PROGRAMS) >= 4, "the guide's snippets were not found"
    for snippet in PROGRAMS:
        assert expected(snippet), f"no scripted prompt for the snippet:\n{snippet}"


def test_every_fragment_is_valid_python() -> None:
    for snippet in FRAGMENTS:  # the guide has none now: each snippet is a whole program
        ast.parse(snippet)


@pytest.mark.parametrize("snippet", PROGRAMS, ids=[f"program{i}" for i in range(len(PROGRAMS))])
async def test_a_program_of_the_guide_runs(snippet: str, workdir: tuple[pathlib.Path, dict[str, str]]) -> None:
    cwd, env = workdir
    model = Model({prompt: script for prompt, (script, _) in SCRIPTS.items()})
    async with serve(model) as server:
        env = {**env, "ANY_AGENT_BASE_URL": server.base_url}
        with anyio.fail_after(120):
            done = await anyio.run_process([sys.executable, "-c", snippet], cwd=cwd, env=env, check=False)
    stderr = done.stderr.decode(errors="replace")
    assert done.returncode == 0, stderr
    assert done.stdout.decode().split() == expected(snippet), stderr
