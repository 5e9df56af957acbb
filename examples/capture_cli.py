"""Render a real ``anyagent run`` (the README's replayed agent run) as an SVG for docs/.

.venv/bin/python examples/capture_cli.py   # writes docs/run-capture.svg
"""

from __future__ import annotations

import io
import pathlib

from rich.console import Console
from rich.text import Text

from anyagent_httpx._cli import main

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROMPT = "Which chapter mentions the lighthouse, and what happens there?"
ARGV = [
    "run", PROMPT, "--replay", str(ROOT / "examples" / "agent.jsonl"),
    "--cwd", str(ROOT / "examples" / "workspace"), "--tools", "list_dir,grep,read_file",
]  # fmt: skip


def capture() -> str:
    """The run's stderr (tool calls, results, summary) and stdout (the answer) as an SVG."""
    out, err = io.StringIO(), io.StringIO()
    main(ARGV, out=out, err=err)
    console = Console(record=True, width=100, file=io.StringIO())
    console.print(Text(f'$ anyagent run "{PROMPT}" --replay examples/agent.jsonl --tools list_dir,grep,read_file'))
    for line in err.getvalue().splitlines()[:-1]:
        console.print(Text(line, style="dim" if line.startswith("←") else "cyan"))
    console.print(Text(out.getvalue().rstrip("\n")))
    console.print(Text(err.getvalue().splitlines()[-1], style="green"))
    return console.export_svg(title="anyagent run")


if __name__ == "__main__":
    (ROOT / "docs" / "run-capture.svg").write_text(capture(), encoding="utf-8")
