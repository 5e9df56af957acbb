"""Structured output against both llama.cpp servers. llama.cpp's own server constrains the
answer to the schema (``response_format`` with ``json_schema``): ``examples/copy_editor.py``
runs to its end there, with no fallback. The tiny model cannot copy-edit, so what the run
ends with depends on its sampling: a validated answer, or (when the server fails to parse the
tool calls the model wrote, or the answer outgrows the 2048-token window) the example's own
one-line report of the typed error, never a traceback. llama-cpp-python's server answers
HTTP 500 to ``json_schema``, and the run falls back to the schema in the prompt at once,
without retrying the 500."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from contextlib import aclosing

import anyio
import pytest

from anyagent_httpx import ResultMessage, RunMessage, SystemMessage
from tests.live.support import RESPONSE_TIMEOUT, LiveServer, live_client

pytestmark = [pytest.mark.live]

EXAMPLES = pathlib.Path(__file__).parents[2] / "examples"

SCHEMA = {
    "type": "object",
    "properties": {"city": {"enum": ["Paris", "London"]}},
    "required": ["city"],
    "additionalProperties": False,
}


@pytest.mark.llama_server
def test_copy_editor_gets_a_validated_answer(live: LiveServer) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "copy_editor.py"), "--base-url", live.base_url, "--model", live.model],
        capture_output=True,
        text=True,
        timeout=2 * RESPONSE_TIMEOUT,
        check=False,
        cwd=EXAMPLES.parent,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert "structured_output_fallback" not in done.stdout  # the server took response_format
    if done.returncode == 0:
        assert "issue(s), validated against the schema:" in done.stdout
    else:
        assert done.returncode == 1, done.stdout + done.stderr
        report = [line for line in done.stdout.splitlines() if line.startswith("no validated issues: ")]
        assert len(report) == 1, done.stdout


@pytest.mark.llamacpp
@pytest.mark.anyio
async def test_a_refused_response_format_falls_back_at_once(live: LiveServer, transport: str) -> None:
    messages: list[RunMessage] = []
    async with live_client(live, transport, output_schema=SCHEMA, max_turns=3) as client:
        with anyio.fail_after(3 * RESPONSE_TIMEOUT):
            await client.query("Which city? Answer with JSON.")
            async with aclosing(client.receive_response()) as stream:
                messages.extend([message async for message in stream])
    notices = [m.subtype for m in messages if isinstance(m, SystemMessage) and m.subtype != "init"]
    assert notices[:1] == ["structured_output_fallback"]  # at once: no retry of the 500 first
    assert "retry" not in notices
    result = messages[-1]
    assert isinstance(result, ResultMessage)
    # The tiny model writes no JSON without a grammar: the run ends as an invalid answer, named.
    assert result.subtype == "success" or any("output schema" in error for error in result.errors)
