"""``anyagent chat``: a multi-turn conversation on the terminal.

The same flags as ``run`` (see :func:`._run.add_options`). With the ``cli`` extra (rich and
prompt_toolkit) the answer is shown as Markdown as it streams and the input line has history
and editing; without it, plain lines. The conversation runs on a :class:`SyncClient` (its event
loop in a helper thread, under ``--backend``), so the input line owns the main thread and its
Ctrl-C: during an answer Ctrl-C interrupts it and returns to the prompt; at the prompt it
clears the line, and twice in a row exits.

Slash commands: ``/help``, ``/model NAME``, ``/tools``, ``/allow RULE``, ``/clear``, ``/cost``,
``/exit``. Tools that need permission run when an ``--allow``/``/allow`` rule lets them and are
refused otherwise.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any, TextIO

from anyagent_core import (
    AssistantMessage,
    PermissionRule,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextDelta,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)
from anyagent_httpx._cli._run import _result_summary, _retry_line, _summary, add_options, agent_options
from anyagent_httpx._cli._usage import UsageError
from anyagent_httpx._sync import SyncClient

__all__ = ["add_parser", "run"]

HELP = """\
/help           this list
/model NAME     switch the model for the next turns
/tools          the tools offered
/allow RULE     run calls matching RULE without asking, e.g. /allow bash(git *)
/clear          start a new conversation
/cost           tokens and cost so far
/exit           leave (or Ctrl-D; Ctrl-C twice at the prompt)"""


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register ``anyagent chat``."""
    chat: argparse.ArgumentParser = commands.add_parser(
        "chat", help="a conversation on the terminal", description="A multi-turn conversation; /help lists commands."
    )
    add_options(chat)
    return chat


def _reader(err: TextIO) -> Callable[[str], str]:
    """The input line: prompt_toolkit with history when installed, else ``input()``."""
    try:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import InMemoryHistory
    except ImportError:
        return input
    session: PromptSession[str] = PromptSession(history=InMemoryHistory())
    return session.prompt


class _Screen:
    """Writes one answer as it streams: live Markdown with rich, plain text without it."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out, self.err = out, err
        self.text = ""
        self.live: Any = None
        try:
            from rich.console import Console

            self.console: Any = Console(file=out) if out.isatty() else None
        except ImportError:
            self.console = None

    def delta(self, text: str) -> None:
        self.text += text
        if self.console is None:
            self.out.write(text)
            self.out.flush()
            return
        from rich.live import Live
        from rich.markdown import Markdown

        if self.live is None:
            self.live = Live(Markdown(self.text), console=self.console, refresh_per_second=8)
            self.live.start()
        self.live.update(Markdown(self.text))

    def end(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
        elif self.text and self.console is None:
            self.out.write("\n")
        self.text = ""

    def note(self, line: str) -> None:
        self.end()
        self.err.write(line + "\n")
        self.err.flush()


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``anyagent chat``; returns the exit status."""
    if args.replay or args.record or args.demo or args.json:
        raise UsageError("anyagent chat: error: --replay, --record, --demo and --json belong to anyagent run")
    allow = list(args.allow)
    options = agent_options(args, {}, base_url=args.base_url, model=args.model, can_use_tool=None)
    read = _reader(err)
    screen = _Screen(out, err)
    totals = {"in": 0, "out": 0, "cost": 0.0}
    names: dict[str, str] = {}
    interrupted_once = False
    client = SyncClient(options, backend=args.backend)
    client.__enter__()
    try:
        while True:
            try:
                line = read("> ")
            except KeyboardInterrupt:
                if interrupted_once:
                    return 0
                interrupted_once = True
                err.write("(Ctrl-C again to exit)\n")
                continue
            except EOFError:
                return 0
            interrupted_once = False
            line = line.strip()
            if not line:
                continue
            if line.startswith("/"):
                command, _, rest = line.partition(" ")
                rest = rest.strip()
                if command in ("/exit", "/quit"):
                    return 0
                if command == "/help":
                    err.write(HELP + "\n")
                elif command == "/model":
                    if not rest:
                        err.write(f"model: {client.client.model}\n")
                    else:
                        client.client.set_model(rest)
                        err.write(f"model: {rest}\n")
                elif command == "/tools":
                    err.write("tools: " + (", ".join(args.tools) or "none") + "\n")
                elif command == "/allow":
                    try:
                        PermissionRule.parse(rest)
                    except ValueError:
                        err.write(f"/allow: {rest!r} is not a rule, as in 'bash(git *)'\n")
                        continue
                    allow.append(rest)
                    err.write(f"allowed: {', '.join(allow)} (from the next conversation: /clear)\n")
                elif command == "/clear":
                    client.__exit__(None, None, None)
                    options = agent_options(
                        argparse.Namespace(**{**vars(args), "allow": allow, "model": client.client.model}),
                        {},
                        base_url=args.base_url,
                        model=client.client.model,
                        can_use_tool=None,
                    )
                    client = SyncClient(options, backend=args.backend)
                    client.__enter__()
                    err.write("a new conversation\n")
                elif command == "/cost":
                    err.write(f"{totals['in']:,} tokens in / {totals['out']:,} out · ${totals['cost']:.4f}\n")
                elif command in ("/sessions", "/resume", "/compact"):
                    err.write(f"{command}: not in chat yet; anyagent run --resume ID goes on with a session\n")
                else:
                    err.write(f"unknown command {command}; /help lists them\n")
                continue
            client.query(line)
            try:
                for message in client.receive_response():
                    if isinstance(message, StreamEvent) and isinstance(message.event, TextDelta):
                        screen.delta(message.event.text)
                    elif isinstance(message, AssistantMessage):
                        if not screen.text and message.text:
                            screen.delta(message.text)
                        screen.end()
                        for call in message.tool_uses:
                            names[call.id] = call.name
                            if isinstance(call, ToolUseBlock):
                                screen.note(f"→ {call.name} {json.dumps(dict(call.input), ensure_ascii=False)}")
                    elif isinstance(message, UserMessage) and not isinstance(message.content, str):
                        for block in message.content:
                            if isinstance(block, ToolResultBlock):
                                name = names.get(block.tool_use_id, "tool")
                                screen.note(f"← {name}: {_result_summary(block)}")
                    elif isinstance(message, SystemMessage) and message.subtype == "retry":
                        screen.note(_retry_line(message.data))
                    elif isinstance(message, ResultMessage):
                        screen.end()
                        usage = message.usage
                        if usage is not None:
                            totals["in"] += usage.prompt_tokens or 0
                            totals["out"] += usage.completion_tokens or 0
                        totals["cost"] += message.total_cost_usd
                        screen.note(_summary(message))
            except KeyboardInterrupt:
                screen.end()
                client.interrupt()
                for _ in client.receive_response():
                    pass
                err.write("(interrupted)\n")
    finally:
        client.__exit__(None, None, None)
