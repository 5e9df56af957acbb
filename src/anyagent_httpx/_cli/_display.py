"""What ``anyagent chat`` draws: the answer, reasoning, tool panels, the spinner, status lines.

With rich (the ``cli`` extra) on a terminal, one live area per answer shows a spinner from the
request to the first token, then the reasoning (dimmed, or folded to one line) and the answer as
Markdown as it streams; each tool call and its result is a compact panel (the input on one line,
the result's first lines, ``/expand`` for all of it); each answer ends with a status line. Without
rich, or when stdout is not a terminal, the same as plain lines.
"""

from __future__ import annotations

import json
import time
from typing import Any, TextIO

from anyagent_core import ResultMessage, TextBlock, ToolResultBlock, ToolUseBlock, ToolUseError

from ._run import RetryLines, _summary

__all__ = ["HEAD_LINES", "ChatScreen", "result_text"]

HEAD_LINES = 4
"""How many lines of a tool result its panel shows."""


def result_text(result: ToolResultBlock) -> str:
    """A tool result's text (its text blocks joined)."""
    if isinstance(result.content, str):
        return result.content
    return "".join(block.text for block in result.content if isinstance(block, TextBlock))


def _one_line(tool_input: object, width: int) -> str:
    text = json.dumps(tool_input, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


class ChatScreen:
    """Draws one chat on ``out`` (notes on ``err`` when plain). ``console`` is rich's (the
    docs' capture gives one that records, with ``live=False``: no spinner, each answer drawn
    once it is complete); None draws plain lines."""

    def __init__(
        self, out: TextIO, err: TextIO, *, show_reasoning: bool, console: Any = None, live: bool = True
    ) -> None:
        self.out, self.err = out, err
        self.show_reasoning = show_reasoning
        self.console = console if console is not None else _terminal_console(out)
        self.animate = live
        self.live: Any = None
        self.text = ""
        self.thinking = ""
        self.last_reasoning = ""
        self.calls: dict[str, ToolUseBlock | ToolUseError] = {}
        self.last_result: tuple[str, str] | None = None
        """The last tool result: its tool's name and its full text (``/expand``)."""
        self.started = 0.0
        self.first_token: float | None = None
        self.retries = RetryLines()

    # ---- an answer ---------------------------------------------------------------------------

    def begin(self) -> None:
        """A prompt was sent: the spinner until the first token."""
        self.started = time.monotonic()
        self.first_token = None
        self.last_reasoning = ""
        self.retries.reset()
        self.waiting()

    def waiting(self) -> None:
        """A request is under way (the first, or the next after tool results)."""
        if self.console is None or not self.animate:
            return
        from rich.live import Live
        from rich.spinner import Spinner
        from rich.text import Text

        spinner = Spinner("dots", text=Text("waiting for the model…", style="dim"))
        if self.live is None:
            self.live = Live(spinner, console=self.console, refresh_per_second=10, transient=True)
            self.live.start()
        else:
            self.live.update(spinner)

    def delta(self, text: str, *, reasoning: bool = False) -> None:
        if self.first_token is None:
            self.first_token = time.monotonic() - self.started
        if reasoning:
            self.thinking += text
            self.last_reasoning += text
            if self.console is None and self.show_reasoning:
                self.err.write(text)
                self.err.flush()
        else:
            if self.console is None:
                self._fold_plain()
                self.out.write(text)
                self.out.flush()
            self.text += text
        if self.console is not None and self.animate:
            self._draw()

    def _draw(self) -> None:
        from rich.live import Live

        if self.live is None:
            self.live = Live(console=self.console, refresh_per_second=10, transient=True, vertical_overflow="ellipsis")
            self.live.start()
        self.live.update(self._rendered(), refresh=True)

    def _rendered(self) -> Any:
        from rich.console import Group
        from rich.markdown import Markdown
        from rich.text import Text

        parts: list[Any] = []
        if self.thinking:
            if self.show_reasoning:
                parts.append(Text(self.thinking.strip("\n"), style="dim italic"))
            else:
                words = len(self.thinking.split())
                parts.append(Text(f"▸ reasoning, {words} word{'s' * (words != 1)} (/reasoning shows it)", style="dim"))
        if self.text:
            parts.append(Markdown(self.text))
        return Group(*parts)

    def end(self) -> None:
        """The streamed part is over: what it drew stays on the screen."""
        if self.console is not None:
            if self.live is not None:
                self.live.stop()
                self.live = None
            if self.text or self.thinking:
                self.console.print(self._rendered())
        else:
            self._fold_plain()
            if self.text:
                self.out.write("\n")
                self.out.flush()
        self.text = self.thinking = ""

    def _fold_plain(self) -> None:
        if self.thinking and self.console is None:
            if self.show_reasoning:
                self.err.write("\n")
            else:
                self.err.write(f"[reasoning, {len(self.thinking.split())} words; /reasoning shows it]\n")
            self.err.flush()
            self.thinking = ""

    # ---- tools -------------------------------------------------------------------------------

    def tool_calls(self, calls: tuple[ToolUseBlock | ToolUseError, ...]) -> None:
        """The model asked for these calls: remembered until their results come."""
        self.retries.reset()  # an answer came: the next request's retries count from 1
        self.end()
        for call in calls:
            self.calls[call.id] = call

    def tool_result(self, result: ToolResultBlock) -> None:
        """A compact panel: the tool's name, its input on one line, the result's head."""
        self.end()
        call = self.calls.pop(result.tool_use_id, None)
        name = call.name if call is not None else "tool"
        text = result_text(result).rstrip("\n")
        self.last_result = (name, text)
        if call is None:
            shown_input = ""
        elif isinstance(call, ToolUseBlock):
            shown_input = _one_line(dict(call.input), 200)
        else:
            shown_input = f"(unusable arguments: {call.error})"
        lines = text.splitlines()
        head = lines[:HEAD_LINES]
        more = len(lines) - len(head)
        hint = f"{more} more line{'s' * (more != 1)} · /expand shows all" if more else ""
        if self.console is None:
            first = " ".join(head[0].split()) if head else "(empty)"
            rest = f" (+{len(lines) - 1} more; /expand shows all)" if len(lines) > 1 else ""
            self.err.write(f"→ {name} {shown_input}\n← {name}: {first}{rest}\n")
            self.err.flush()
            return
        from rich.console import Group
        from rich.panel import Panel
        from rich.text import Text

        body = [Text(shown_input, style="cyan", no_wrap=True, overflow="ellipsis")]
        body += [Text(line, no_wrap=True, overflow="ellipsis") for line in head] or [Text("(empty)", style="dim")]
        self.console.print(
            Panel(
                Group(*body),
                title=Text(name, style="bold"),
                title_align="left",
                subtitle=Text(hint, style="dim") if hint else None,
                subtitle_align="left",
                border_style="red" if result.is_error else "blue",
            )
        )

    def expand(self) -> None:
        """The last tool result in full."""
        if self.last_result is None:
            self.note("no tool result yet")
            return
        name, text = self.last_result
        if self.console is None:
            self.out.write(f"{name}:\n{text}\n")
            self.out.flush()
            return
        from rich.panel import Panel
        from rich.text import Text

        self.console.print(Panel(Text(text or "(empty)"), title=Text(name, style="bold"), title_align="left"))

    # ---- lines -------------------------------------------------------------------------------

    def retry(self, data: Any) -> None:
        self.note(self.retries.line(data), style="yellow")

    def finished(self, result: ResultMessage) -> None:
        """The status line: tokens in/out (``~`` when estimated), cost, first token, time."""
        self.end()
        self.note(_summary(result, first_token=self.first_token), style="green" if not result.is_error else "red")
        for error in result.errors:
            self.note(f"error: {error}", style="red")

    def interrupted(self) -> None:
        self.end()
        self.note("(interrupted)", style="yellow")

    def toggle_reasoning(self) -> None:
        self.show_reasoning = not self.show_reasoning
        self.note(f"reasoning: {'shown' if self.show_reasoning else 'folded'}")
        if self.show_reasoning and self.last_reasoning.strip():
            if self.console is None:
                self.err.write(self.last_reasoning.strip("\n") + "\n")
            else:
                from rich.text import Text

                self.console.print(Text(self.last_reasoning.strip("\n"), style="dim italic"))

    def note(self, line: str, *, style: str = "dim") -> None:
        self.end()
        if self.console is None:
            self.err.write(line + "\n")
            self.err.flush()
            return
        from rich.text import Text

        self.console.print(Text(line, style=style))

    def close(self) -> None:
        """Stop the live area (and its refresh thread)."""
        if self.live is not None:
            self.live.stop()
            self.live = None


def _terminal_console(out: TextIO) -> Any:
    try:
        if not out.isatty():
            return None
        from rich.console import Console
    except (ImportError, AttributeError, ValueError):
        return None
    return Console(file=out, highlight=False)
