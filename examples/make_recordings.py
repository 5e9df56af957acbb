"""Regenerate the recordings shipped in examples/ from a scripted model server.

    python examples/make_recordings.py            # rewrites examples/agent.jsonl
    python examples/make_recordings.py --check    # records into a temporary file and compares

The "model" here is a loopback HTTP server (``anyagent_httpx.testing.serve``) answering with
scripted OpenAI-style chunk streams: tool calls streamed in small argument fragments, then a
final text. Everything else is real: ``anyagent run --record`` sends real requests, the
built-in tools really run on ``examples/workspace``, and the cassette holds the exact bytes.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio.from_thread

from anyagent_httpx import Cassette
from anyagent_httpx._cli import main as cli_main
from anyagent_httpx.testing import Reply, serve

HERE = Path(__file__).resolve().parent
AGENT_CASSETTE = HERE / "agent.jsonl"
WORKSPACE = HERE / "workspace"
PROMPT = "Which chapter mentions the lighthouse, and what happens there?"
TOOLS = "list_dir,grep,read_file"
MODEL = "scripted-model"


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def _fragments(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def tool_calls(*calls: tuple[str, str, dict[str, Any]]) -> Reply:
    """An answer calling tools, each call's arguments streamed in small fragments."""
    chunks = [_chunk({"role": "assistant", "content": None})]
    for index, (call_id, name, arguments) in enumerate(calls):
        head = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        chunks.append(_chunk({"tool_calls": [head]}))
        for piece in _fragments(json.dumps(arguments)):
            chunks.append(_chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    chunks += [_chunk({}, "tool_calls"), b"data: [DONE]\n\n"]
    return Reply(headers=(("content-type", "text/event-stream"),), chunks=chunks)


def text(answer: str) -> Reply:
    chunks = [_chunk({"role": "assistant", "content": ""})]
    chunks += [_chunk({"content": piece}) for piece in _fragments(answer, 12)]
    chunks += [_chunk({}, "stop"), b"data: [DONE]\n\n"]
    return Reply(headers=(("content-type", "text/event-stream"),), chunks=chunks)


AGENT_REPLIES = [
    tool_calls(
        ("call_ls", "list_dir", {"path": "chapters"}),
        ("call_grep", "grep", {"pattern": "lighthouse", "path": "chapters", "ignore_case": True}),
    ),
    tool_calls(("call_read", "read_file", {"path": "chapters/02-the-lighthouse.md"})),
    text(
        "Chapter 2, \"The Lighthouse\" (chapters/02-the-lighthouse.md). On Mara's second night the "
        "lighthouse on the point comes on after eleven dark years. Next morning she walks the causeway "
        "and finds the tower door locked, fresh boot prints leading to the seaward side, and her aunt's "
        "blue scarf folded on the lowest step, still dry."
    ),
]


def record_agent(path: Path) -> str:
    """Record the README's agent run into ``path``; returns what the command printed."""
    out, err = io.StringIO(), io.StringIO()
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(serve(AGENT_REPLIES)) as server,
    ):
        status = cli_main(
            [
                "run",
                PROMPT,
                "--base-url",
                server.base_url,
                "--model",
                MODEL,
                "--cwd",
                str(WORKSPACE),
                "--tools",
                TOOLS,
                "--record",
                str(path),
            ],
            out=out,
            err=err,
        )
    if status != 0:
        raise SystemExit(f"recording failed ({status}):\n{err.getvalue()}")
    return out.getvalue()


def _bodies(path: Path) -> list[tuple[object, tuple[bytes, ...]]]:
    cassette = Cassette.load(path)
    return [(json.loads(e.request.body), tuple(e.response.chunks)) for e in cassette.exchanges]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="record anew and compare with the shipped files")
    args = parser.parse_args()
    if not args.check:
        print(record_agent(AGENT_CASSETTE), end="")
        print(f"wrote {AGENT_CASSETTE.relative_to(HERE.parent)}", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "agent.jsonl"
        record_agent(fresh)
        same = _bodies(fresh) == _bodies(AGENT_CASSETTE)
    print("examples/agent.jsonl: " + ("up to date" if same else "DIFFERS from a fresh recording"))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
