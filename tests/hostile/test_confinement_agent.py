"""The confinement attacks through a whole agent run: a scripted hostile model on a loopback
server, the real tools, a non-interactive client (nobody to ask)."""

from __future__ import annotations

import json
import pathlib
import shutil
from collections.abc import Sequence
from contextlib import aclosing
from typing import Any

import anyio
import pytest

from anyagent_httpx import AgentOptions, Client, ResultMessage, RunMessage
from anyagent_httpx.testing import LoopbackServer, Reply, serve
from tests.runtime.mock import DONE, chunk, text_stream

pytestmark = pytest.mark.anyio


def calls(*items: tuple[str, str, dict[str, Any]]) -> Reply:
    chunks = []
    for index, (call_id, name, arguments) in enumerate(items):
        head = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        chunks.append(chunk(tool_calls=[head]))
        chunks.append(chunk(tool_calls=[{"index": index, "function": {"arguments": json.dumps(arguments)}}]))
    chunks += [chunk(finish="tool_calls"), DONE]
    return Reply.sse(b"".join(chunks))


async def run(server_replies: Sequence[Reply], **options: Any) -> tuple[LoopbackServer, list[RunMessage]]:
    async with serve(list(server_replies)) as server:
        agent_options = AgentOptions(base_url=server.base_url, model="hostile", api_key="k", **options)
        async with Client(options=agent_options) as client:
            with anyio.fail_after(60):  # a hang guard only
                await client.query("go")
                async with aclosing(client.receive_response()) as stream:
                    messages = [message async for message in stream]
    return server, messages


def tool_results(server: LoopbackServer) -> list[str]:
    """The tool results the last request sent back (each request carries the whole history)."""
    body = json.loads(server.requests[-1].body)
    return [m["content"] for m in body["messages"] if m.get("role") == "tool"]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
async def test_accept_edits_and_git_status_cannot_run_code_through_git_config(tmp_path: pathlib.Path) -> None:
    await anyio.run_process(["git", "init", "-q", str(tmp_path)])
    config = (tmp_path / ".git" / "config").read_text()
    pwned = tmp_path / "pwned"
    hostile = f"{config}[core]\n\tfsmonitor = touch {pwned}\n"
    replies = [
        calls(("c1", "write_file", {"path": ".git/config", "content": hostile})),
        calls(("c2", "edit_file", {"path": "./.git/../.git/config", "old_string": "[core]", "new_string": hostile})),
        calls(("c3", "bash", {"command": "git status"})),
        Reply.sse(b"".join(text_stream("done"))),
    ]
    server, messages = await run(
        replies,
        tools=["write_file", "edit_file", "bash"],
        cwd=str(tmp_path),
        permission_mode="acceptEdits",
        allowed_tools=["bash(git status*)"],
    )
    assert isinstance(messages[-1], ResultMessage)
    assert (tmp_path / ".git" / "config").read_text() == config
    assert not pwned.exists()
    results = tool_results(server)
    assert len(results) == 3, results
    assert "protected path" in results[0] and "protected path" in results[1], results
    assert "fsmonitor" not in results[2], results
