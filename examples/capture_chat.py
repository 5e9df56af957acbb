"""Render a real ``anyagent chat`` with a tool call as an SVG for docs/.

.venv/bin/python examples/capture_chat.py   # writes docs/chat-capture.svg

The chat runs against the package's loopback server (``anyagent_httpx.testing.serve``) playing a
model that reads a file of the example workspace and answers; the real ``read_file`` tool runs on
``examples/workspace``, and the screen is drawn by the chat's own display, recorded by rich.
"""

from __future__ import annotations

import io
import json
import pathlib

from anyio.from_thread import start_blocking_portal
from rich.console import Console
from rich.text import Text

from anyagent_httpx._cli import _parser
from anyagent_httpx._cli._chat import _Chat
from anyagent_httpx._cli._display import ChatScreen
from anyagent_httpx.testing import Reply, serve

ROOT = pathlib.Path(__file__).resolve().parents[1]
WORKSPACE = ROOT / "examples" / "workspace"
LINES = ["What happens in the lighthouse chapter?"]


def _chunk(**delta: object) -> bytes:
    finish = delta.pop("finish", None)
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return b"data: " + json.dumps({"id": "c", "model": "qwen3-4b", "choices": [choice]}).encode() + b"\n\n"


def _replies() -> list[Reply]:
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": ""}}
    arguments = json.dumps({"path": "chapters/02-the-lighthouse.md"})
    read = [
        _chunk(tool_calls=[call]),
        _chunk(tool_calls=[{"index": 0, "function": {"arguments": arguments}}]),
        _chunk(finish="tool_calls"),
    ]
    answer = [
        _chunk(content="In **chapter 2** the lighthouse, dark for eleven years, comes on. "),
        _chunk(content="The next morning Mara finds:\n\n- the tower *locked*\n- fresh boot prints\n"),
        _chunk(content="- her aunt's blue scarf on the lowest step, folded, still dry"),
        _chunk(finish="stop"),
    ]
    return [Reply.sse(b"".join([*read, b"data: [DONE]\n\n"])), Reply.sse(b"".join([*answer, b"data: [DONE]\n\n"]))]


def capture() -> str:
    """The chat's screen (prompts, the tool panel, the answer, the status line) as an SVG."""
    console = Console(record=True, width=100, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(serve(_replies())) as server:
        argv = ["chat", "--base-url", server.base_url, "--model", "qwen3-4b", "--no-session"]
        argv += ["--tools", "grep,read_file", "--cwd", str(WORKSPACE)]
        args = _parser().parse_args(argv)
        out = io.StringIO()
        screen = ChatScreen(out, out, show_reasoning=False, console=console, live=False)
        chat = _Chat(args, out, out, portal, {}, screen=screen)
        try:
            console.print(Text("$ anyagent chat --model qwen3-4b --tools grep,read_file", style="bold"))
            for line in LINES:
                console.print(Text("> ", style="bold") + Text(line))
                chat.line(line)
        finally:
            chat.close()
    return console.export_svg(title="anyagent chat")


if __name__ == "__main__":
    (ROOT / "docs" / "chat-capture.svg").write_text(capture(), encoding="utf-8")
