"""Regenerate the recordings shipped in examples/ from a scripted model server.

    python examples/make_recordings.py            # rewrites examples/agent.jsonl and examples/recordings/
    python examples/make_recordings.py --check    # records into a temporary directory and compares

The "model" here is a loopback HTTP server (``anyagent_httpx.testing.serve``) answering with
scripted OpenAI-style chunk streams: tool calls streamed in small argument fragments, then a
final text. Everything else is real: ``anyagent run --record`` sends real requests, the
built-in tools really run on ``examples/workspace``, and the cassette holds the exact bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
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


def text(answer: str, *, delay: float = 0.0) -> Reply:
    chunks = [_chunk({"role": "assistant", "content": ""})]
    chunks += [_chunk({"content": piece}) for piece in _fragments(answer, 12)]
    chunks += [_chunk({}, "stop"), b"data: [DONE]\n\n"]
    return Reply(headers=(("content-type", "text/event-stream"),), chunks=chunks, delay=delay)


AGENT_REPLIES = [
    tool_calls(
        ("call_ls", "list_dir", {"path": "chapters"}),
        ("call_grep", "grep", {"pattern": "lighthouse", "path": "chapters", "ignore_case": True}),
    ),
    tool_calls(("call_read", "read_file", {"path": "chapters/02-the-lighthouse.md"})),
    text(
        'Chapter 2, "The Lighthouse" (chapters/02-the-lighthouse.md). On Mara\'s second night the '
        "lighthouse on the point comes on after eleven dark years. Next morning she walks the causeway "
        "and finds the tower door locked, fresh boot prints leading to the seaward side, and her aunt's "
        "blue scarf folded on the lowest step, still dry."
    ),
]


RECORDINGS = HERE / "recordings"

ISSUES = {
    "issues": [
        {
            "file": "chapters/03-departure.md",
            "line": 4,
            "kind": "spelling",
            "excerpt": "the erly ferry",
            "suggestion": "the early ferry",
        },
        {
            "file": "chapters/02-the-lighthouse.md",
            "line": 8,
            "kind": "consistency",
            "excerpt": "her aunt's blue scarf",
            "suggestion": "Chapter 3 mentions the scarf without its colour; say it is blue there too (notes.md).",
        },
    ]
}

COPY_EDITOR_REPLIES = [
    tool_calls(("call_glob", "glob", {"pattern": "chapters/*.md"})),
    tool_calls(
        ("call_r1", "read_file", {"path": "chapters/01-arrival.md"}),
        ("call_r2", "read_file", {"path": "chapters/02-the-lighthouse.md"}),
        ("call_r3", "read_file", {"path": "chapters/03-departure.md"}),
        ("call_r4", "read_file", {"path": "notes.md"}),
    ),
    text("I found two issues: a spelling mistake in chapter 3 and the scarf's colour."),  # not JSON: asked again
    text(json.dumps(ISSUES)),
]

CUSTOM_TOOL_REPLIES = [
    tool_calls(
        ("call_c1", "count", {"path": "chapters/01-arrival.md", "unit": "words"}),
        ("call_c2", "count", {"path": "chapters/02-the-lighthouse.md", "unit": "words"}),
        ("call_c3", "count", {"path": "chapters/03-departure.md", "unit": "words"}),
    ),
    text("Chapter 1 has 59 words, chapter 2 has 79 and chapter 3 has 33."),
]

EMBED_CORE_REPLIES = [
    tool_calls(("call_p1", "population", {"city": "Lyon"}), ("call_p2", "population", {"city": "Marseille"})),
    text("Marseille is bigger: about 873,000 inhabitants against Lyon's 522,000."),
]

STORY = (
    "The sea was grey the morning the boats did not come back. Old Ilse walked the harbour wall "
    "every hour, counting masts that were not there, and the gulls followed her like a rumour."
)


@contextlib.contextmanager
def scripted(replies: list[Reply]) -> Iterator[str]:
    """The scripted model server, on its own event loop in a thread; yields its base URL."""
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(serve(replies)) as server,
    ):
        yield server.base_url


def _cli(args: list[str]) -> str:
    out, err = io.StringIO(), io.StringIO()
    status = cli_main(args, out=out, err=err)
    if status != 0:
        raise SystemExit(f"recording failed ({status}):\n{err.getvalue()}")
    return out.getvalue()


def _example(script: str, base_url: str, record: Path) -> None:
    command = [sys.executable, str(HERE / script), "--base-url", base_url, "--model", MODEL, "--record", str(record)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise SystemExit(f"recording {script} failed:\n{done.stdout}{done.stderr}")


def record_agent(path: Path) -> str:
    """Record the README's agent run into ``path``; returns what the command printed."""
    with scripted(AGENT_REPLIES) as base_url:
        command = ["run", PROMPT, "--base-url", base_url, "--model", MODEL, "--cwd", str(WORKSPACE), "--tools", TOOLS]
        return _cli([*command, "--record", str(path)])


def record_examples(directory: Path) -> None:
    """Record every example's cassette into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    with scripted(COPY_EDITOR_REPLIES) as base_url:
        _example("copy_editor.py", base_url, directory / "copy_editor.jsonl")
    with scripted(CUSTOM_TOOL_REPLIES) as base_url:
        _example("custom_tool.py", base_url, directory / "custom_tool.jsonl")
    with scripted(EMBED_CORE_REPLIES) as base_url:
        _example("embed_core.py", base_url, directory / "embed_core.jsonl")
    for name, prompt, answer in (
        ("trio_capital.jsonl", "What is the capital of France? One word.", "Paris."),
        ("trio_river.jsonl", "Name the longest river in France. One word.", "Loire."),
    ):
        with scripted([text(answer)]) as base_url:
            _cli(["run", prompt, "--base-url", base_url, "--model", MODEL, "--record", str(directory / name)])
    with scripted([text(STORY, delay=0.15)]) as base_url:  # slow: the trio example interrupts it
        command = ["run", "Tell me a long story about the sea.", "--base-url", base_url, "--model", MODEL]
        _cli([*command, "--record", str(directory / "trio_story.jsonl")])


def _portable(path: Path) -> None:
    """Leave the recording directory out of a shipped cassette's header (``anyagent run
    --record`` keeps it, to warn when a replay's tools work elsewhere): the repository's
    recordings are replayed from wherever it is cloned."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header = json.loads(lines[0])
    meta = header.get("meta", {})
    meta.pop("cwd", None)
    if not meta:
        header.pop("meta", None)
    lines[0] = json.dumps(header, separators=(",", ":"), sort_keys=True) + "\n"
    path.write_text("".join(lines), encoding="utf-8")


def _bodies(path: Path) -> list[tuple[object, tuple[bytes, ...]]]:
    cassette = Cassette.load(path)
    return [(json.loads(e.request.body), tuple(e.response.chunks)) for e in cassette.exchanges]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="record anew and compare with the shipped files")
    args = parser.parse_args()
    if not args.check:
        print(record_agent(AGENT_CASSETTE), end="")
        record_examples(RECORDINGS)
        for path in [AGENT_CASSETTE, *sorted(RECORDINGS.glob("*.jsonl"))]:
            _portable(path)
        print("wrote examples/agent.jsonl and examples/recordings/", file=sys.stderr)
        return 0
    differ = []
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        record_agent(fresh / "agent.jsonl")
        record_examples(fresh / "recordings")
        pairs = [(fresh / "agent.jsonl", AGENT_CASSETTE)]
        pairs += [(path, RECORDINGS / path.name) for path in sorted((fresh / "recordings").glob("*.jsonl"))]
        for new, shipped in pairs:
            if not shipped.exists() or _bodies(new) != _bodies(shipped):
                differ.append(str(shipped.relative_to(HERE.parent)))
    print("recordings: " + ("up to date" if not differ else "DIFFER from a fresh recording: " + ", ".join(differ)))
    return 0 if not differ else 1


if __name__ == "__main__":
    raise SystemExit(main())
