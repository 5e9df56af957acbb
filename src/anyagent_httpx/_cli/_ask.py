"""The permission question ``anyagent run`` and ``anyagent chat`` ask before a tool runs.

:class:`Asker` is the ``can_use_tool`` callback of both commands. The rules decide first
(``--allow``, ``--deny``, ``--permission-mode``); when they say *ask*, a terminal shows the tool's
name and its whole input (pretty JSON) and reads one key: ``y`` allow once, ``a`` always (a rule
kept for the rest of the run or chat, and shown), ``n`` or Enter deny. Ctrl-C (or Ctrl-D) at the
question denies the call and stops the answer (:attr:`Asker.cancelled`): ``run`` exits 130.

The key is read from the terminal with echo, line editing and signals off, one byte at a time,
by a helper thread that polls and ends as soon as the question is over, so no reader is left
behind and nothing typed afterwards is swallowed. When stdin is not a terminal nobody is asked:
the call is refused with a message naming the ``--allow RULE`` that would let it run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import select
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

import anyio

from anyagent_core import PermissionRule, ToolTraits
from anyagent_httpx._permissions import (
    PermissionResult,
    PermissionResultAllow,
    PermissionResultDeny,
    ToolPermissionContext,
)

__all__ = ["Asker", "keys_as_typed", "read_key", "suggest_rule"]

_CANCEL = ("\x03", "\x04")
"""Ctrl-C and Ctrl-D: read as keys while the question is shown."""

_PROGRAM = re.compile(r"[A-Za-z0-9_./+-]+")


def suggest_rule(name: str, tool_input: Mapping[str, Any], traits: ToolTraits) -> str | None:
    """The rule "always" keeps: ``bash(git *)`` for a shell command (its program, any
    arguments), the command itself when its program is not a plain word (``bash(FOO=1 make)``),
    None when that cannot be written as a pattern; the tool's name for the other tools."""
    if traits.rule_argument != "command":
        return name
    command = tool_input.get("command")
    words = command.split() if isinstance(command, str) else []
    if not words:
        return None
    if _PROGRAM.fullmatch(words[0]):
        return f"{name}({words[0]} *)"
    exact = " ".join(words)
    return f"{name}({exact})" if not any(c in exact for c in "*?[]()") else None


@contextmanager
def keys_as_typed(fd: int) -> Iterator[None]:
    """The terminal ``fd`` hands over each key as typed, unechoed, Ctrl-C and Ctrl-D as keys
    (not signals); its settings are restored after."""
    import termios

    saved = termios.tcgetattr(fd)
    raw = termios.tcgetattr(fd)
    raw[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG)
    raw[6][termios.VMIN], raw[6][termios.VTIME] = 1, 0
    termios.tcsetattr(fd, termios.TCSANOW, raw)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


def read_key(stop: threading.Event, keys: str, fd: int) -> str:
    """One of ``keys`` (or Ctrl-C, Ctrl-D) read from ``fd`` one byte at a time (inside
    :func:`keys_as_typed`); ``""`` once ``stop`` is set. Other keys are ignored."""
    while not stop.is_set():
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            continue
        data = os.read(fd, 1)
        key = data.decode("latin-1").lower() if data else "\x04"
        if key == "\r":
            key = "\n"
        if key in keys or key in _CANCEL:
            return key
    return ""


class Asker:
    """``can_use_tool`` for the command line: asks on the terminal, or refuses naming the flag.

    ``terminal`` says whether stdin is a terminal someone can answer on (one with POSIX terminal
    settings: elsewhere nobody is asked); ``flag`` names how a rule is given where the refusal
    is read (``--allow``). :meth:`allow` adds a rule (``always`` and chat's ``/allow`` do),
    checked before asking.
    """

    def __init__(self, err: TextIO, *, terminal: bool, flag: str = "--allow") -> None:
        self.err = err
        self.terminal = terminal and importlib.util.find_spec("termios") is not None  # no keys to read elsewhere
        self.flag = flag
        self.rules: list[PermissionRule] = []
        self.cancelled = False
        """Ctrl-C or Ctrl-D answered the last question: the answer was stopped."""
        self.console: Any = None
        if terminal and _is_terminal(err):
            try:
                from rich.console import Console
            except ImportError:
                pass
            else:
                self.console = Console(file=err, stderr=True, highlight=False)

    def allow(self, rule: str) -> PermissionRule:
        """Run the calls ``rule`` (``'bash(git *)'``) allows without asking; ValueError if it is
        not a rule."""
        parsed = PermissionRule.parse(rule)
        if parsed not in self.rules:
            self.rules.append(parsed)
        return parsed

    async def __call__(
        self, name: str, tool_input: Mapping[str, Any], context: ToolPermissionContext
    ) -> PermissionResult:
        self.cancelled = False
        if any(rule.allows(name, tool_input, context.traits) for rule in self.rules):
            return PermissionResultAllow()
        rule = suggest_rule(name, tool_input, context.traits)
        if not self.terminal:
            flag = f"{self.flag} {_quoted(rule)}" if rule is not None else f"an {self.flag} RULE naming it"
            return PermissionResultDeny(
                message=f"{context.reason}, and stdin is not a terminal, so nobody was asked: {flag} allows it"
            )
        fd = sys.stdin.fileno()
        with keys_as_typed(fd):  # before the question shows, so a quick Ctrl-C is a key too
            self._show(name, tool_input, context, rule)
            stop = threading.Event()
            try:
                keys = "yn\n" if rule is None else "yan\n"
                key = await anyio.to_thread.run_sync(read_key, stop, keys, fd, abandon_on_cancel=True)
            finally:
                stop.set()
        if key == "y":
            self._said("allowed once")
            return PermissionResultAllow()
        if key == "a" and rule is not None:
            self.allow(rule)
            self._said(f"allowed from now on: {rule}")
            return PermissionResultAllow()
        if key in _CANCEL:
            self.cancelled = True
            self._said("cancelled")
            return PermissionResultDeny(message="the user stopped the answer", interrupt=True)
        self._said("denied")
        return PermissionResultDeny(message="the user said no")

    def _show(self, name: str, tool_input: Mapping[str, Any], context: ToolPermissionContext, rule: str | None) -> None:
        text = json.dumps(dict(tool_input), ensure_ascii=False, indent=2)
        always = f"[a] always: {rule}   " if rule is not None else ""
        keys = f"[y] yes, once   {always}[n] no   (Ctrl-C stops the answer) "
        if self.console is None:
            self.err.write(f"Allow {name}? ({context.reason})\n{text}\n{keys}")
            self.err.flush()
            return
        from rich.json import JSON
        from rich.panel import Panel
        from rich.text import Text

        self.console.print(
            Panel(
                JSON(text),
                title=Text(f"allow {name}?", style="bold yellow"),
                title_align="left",
                subtitle=Text(context.reason, style="dim"),
                subtitle_align="left",
                border_style="yellow",
            )
        )
        self.console.print(Text(keys, style="bold"), end="")

    def _said(self, answer: str) -> None:
        self.err.write(f"→ {answer}\n")
        self.err.flush()


def _quoted(rule: str) -> str:
    return f"'{rule}'" if any(c in rule for c in " ()*?[") else rule


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
