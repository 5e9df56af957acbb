"""Subagents from Markdown files: front matter read into AgentDefinition, tool names resolved
(built-in, Claude Code's, yours), project over user, and a subagent run from one end to end."""

from __future__ import annotations

import logging
import pathlib
from contextlib import aclosing

import anyio
import pytest

from anyagent_httpx import (
    AgentOptions,
    Client,
    ConfigurationError,
    ResultMessage,
    discover_agents,
    load_agent_file,
    load_agents,
    tool,
)
from anyagent_httpx.testing import serve
from tests.runtime.test_agent_end_to_end import calls, says

pytestmark = pytest.mark.anyio

REVIEWER = """---
description: >
  Reviews a diff for bugs;
  use it after editing code.
tools: Read, grep, lookup
model: inherit
max_turns: 4
color: blue
---
You review code changes. Report bugs with file and line.
"""


@tool(read_only=True)
def lookup(key: str) -> str:
    """Look a key up."""
    return key


def write(folder: pathlib.Path, name: str, text: str) -> pathlib.Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(text, "utf-8")
    return path


def test_an_agent_file_becomes_a_definition(tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="anyagent.files")
    path = write(tmp_path, "reviewer", REVIEWER)
    name, definition = load_agent_file(path, tools=[lookup])
    assert name == "reviewer"
    assert definition.description == "Reviews a diff for bugs; use it after editing code."
    assert definition.prompt == "You review code changes. Report bugs with file and line."
    assert definition.tools == ("read_file", "grep", lookup)
    assert definition.model is None and definition.max_turns == 4
    assert "color" in caplog.text  # left out, and said so


def test_the_name_model_and_tools_may_be_given_or_left_out(tmp_path: pathlib.Path) -> None:
    text = "---\nname: fixer\ndescription: Fixes things.\nmodel: qwen3:8b\ntools: [bash]\n---\nFix it.\n"
    name, definition = load_agent_file(write(tmp_path, "file-name", text))
    assert name == "fixer" and definition.model == "qwen3:8b" and definition.tools == ("bash",)
    _, inherits = load_agent_file(write(tmp_path, "plain", "---\ndescription: Plain.\n---\nBe plain.\n"))
    assert inherits.tools is None  # the main agent's tools


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("You review code.\n", "opens with front matter"),
        ("---\nname: ok\n---\nprompt\n", "'description' is missing"),
        ("---\ndescription: d\n---\n\n", "system prompt .* is empty"),
        ("---\ndescription: d\ntools: [teleport]\n---\np\n", "unknown tool 'teleport'; known: read_file"),
        ("---\ndescription: d\nmax_turns: 0\n---\np\n", "'max_turns' must be a positive integer"),
        ("---\ndescription: d\nname: two words\n---\np\n", "'name' must be letters"),
        ("---\ndescription: d\ntools: {a}\n---\np\n", "line 3"),
    ],
)
def test_a_bad_agent_file_is_refused_naming_it(tmp_path: pathlib.Path, text: str, message: str) -> None:
    path = write(tmp_path, "bad", text)
    with pytest.raises(ConfigurationError, match=message) as caught:
        load_agent_file(path)
    assert "bad.md" in str(caught.value)


def test_project_agents_replace_the_users_and_two_files_cannot_share_a_name(tmp_path: pathlib.Path) -> None:
    user = tmp_path / "user"
    project = tmp_path / "project"
    write(user / "agents", "helper", "---\ndescription: The user's helper.\n---\nHelp.\n")
    write(user / "agents", "writer", "---\ndescription: Writes.\n---\nWrite.\n")
    write(project / ".anyagent" / "agents", "helper", "---\ndescription: The project's helper.\n---\nHelp here.\n")
    agents = discover_agents(project, env={"ANY_AGENT_CONFIG_DIR": str(user)})
    assert sorted(agents) == ["helper", "writer"]
    assert agents["helper"].description == "The project's helper."
    assert load_agents(tmp_path / "nowhere") == {}
    write(project / ".anyagent" / "agents", "other", "---\nname: helper\ndescription: Again.\n---\nHelp.\n")
    with pytest.raises(ConfigurationError, match="both define the agent 'helper'"):
        load_agents(project / ".anyagent" / "agents")


async def test_a_subagent_from_a_file_runs_a_task(tmp_path: pathlib.Path) -> None:
    write(tmp_path / ".anyagent" / "agents", "summariser", "---\ndescription: Summarises.\ntools: []\n---\nBe short.\n")
    agents = discover_agents(tmp_path, user=False)
    replies = [calls(("t1", "task", {"agent": "summariser", "prompt": "sum up"})), says("short"), says("done")]
    async with serve(replies) as server:
        options = AgentOptions(model="m", base_url=server.base_url, agents=agents, cwd=tmp_path)
        async with Client(options) as client:
            with anyio.fail_after(30):
                await client.query("delegate")
                async with aclosing(client.receive_response()) as stream:
                    messages = [message async for message in stream]
    assert isinstance(messages[-1], ResultMessage) and messages[-1].result == "done"
    subagent_request = server.requests[1].json()
    assert subagent_request["messages"][0] == {"role": "system", "content": "Be short."}
    assert "tools" not in subagent_request
