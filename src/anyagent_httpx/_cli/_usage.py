"""Usage errors: one line naming the flag and what it allows, exit status 2, no traceback.

The parser raises :class:`UsageError` instead of printing its usage and exiting, so that
:func:`anyagent_httpx._cli.main` writes the one line to its own ``err`` stream. The value
types here (:func:`positive_int` and the like) check a flag's value as it is parsed;
:func:`check_run` checks what needs the whole command line (or the file system) before a
run starts, so nothing is lost to a mistake found half-way.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import math
import os
import re
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from anyagent_core import PermissionRule

__all__ = [
    "ArgumentParser",
    "UsageError",
    "check_run",
    "non_negative_int",
    "positive_int",
    "rule",
    "temperature",
    "url",
]


class UsageError(Exception):
    """A mistake on the command line; its message is the one line shown (exit status 2)."""


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse`` parser whose errors raise :class:`UsageError` (one line, a hint to ``--help``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # --max-turn is a typo, not --max-turns
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Raise :class:`UsageError` with ``PROG: error: MESSAGE``."""
        raise UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        """As argparse's, but a flag no command knows is blamed on the command it was given to,
        with the closest flag that command has."""
        parsed, extras = self.parse_known_args(args, namespace)
        if not extras:
            return parsed
        command = self._innermost(parsed)
        flags = [option for action in command._actions for option in action.option_strings]
        first = next((extra for extra in extras if extra.startswith("-")), extras[0])
        near = difflib.get_close_matches(first.split("=", 1)[0], flags, n=1)
        hint = f"; did you mean {near[0]}?" if near else ""
        command.error(f"unrecognized arguments: {' '.join(extras)}{hint}")

    def _innermost(self, parsed: argparse.Namespace) -> argparse.ArgumentParser:
        """The (sub)command's parser that ``parsed`` went down to (``anyagent sessions list``'s)."""
        parser: argparse.ArgumentParser = self
        while True:
            chosen = None
            for action in parser._actions:
                if isinstance(action, argparse._SubParsersAction) and action.dest != argparse.SUPPRESS:
                    chosen = action.choices.get(getattr(parsed, action.dest, None) or "")
            if not isinstance(chosen, argparse.ArgumentParser):
                return parser
            parser = chosen


def _integer(value: str, least: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer of at least {least}, not {value!r}") from None
    if number < least:
        raise argparse.ArgumentTypeError(f"must be an integer of at least {least}, not {number}")
    return number


def positive_int(value: str) -> int:
    """An integer of at least 1 (``--max-tokens``, ``--max-turns``)."""
    return _integer(value, 1)


def non_negative_int(value: str) -> int:
    """An integer of at least 0 (``--max-retries``)."""
    return _integer(value, 0)


def temperature(value: str) -> float:
    """A finite number from 0 to 2."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 2, not {value!r}") from None
    if not math.isfinite(number) or not 0 <= number <= 2:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 2, not {value}")
    return number


def rule(value: str) -> str:
    """A permission rule, ``bash`` or ``bash(git *)``."""
    try:
        PermissionRule.parse(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a rule: write a tool name, or a tool name and a pattern, as in 'bash(git *)'"
        ) from None
    return value


def positive_number(value: str) -> float:
    """A finite number above 0 (``doctor --timeout``)."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise argparse.ArgumentTypeError(f"must be a number above 0, not {value!r}")
    return number


def url(value: str) -> str:
    """An ``http://`` or ``https://`` URL with a host."""
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"must be an http:// or https:// URL, not {value!r}")
    return value


#: What the options' errors call things, and the flags that set them on the command line.
_FLAG_WORDS = (
    (re.compile(r"\bdisallowed_tools rule\b"), "--deny"),
    (re.compile(r"\ballowed_tools rule\b"), "--allow"),
    (re.compile(r"offer tools with tools=\[\.\.\.\]"), "offer tools with --tools NAMES"),
    (re.compile(r"\bpass base_url=, set (\S+), or name a provider"), r"give --base-url URL, set \1, or --provider"),
    (re.compile(r"\bpass model= or set\b"), "give --model NAME or set"),
    (re.compile(r"\bcontext_window\b"), "--context-window"),
    (re.compile(r"\bmax_turns\b"), "--max-turns"),
)


def in_flags(message: str) -> str:
    """An options error in the command line's words (``--allow``, not ``allowed_tools``)."""
    for pattern, flag in _FLAG_WORDS:
        message = pattern.sub(flag, message)
    return message


def endpoint(value: str) -> tuple[str, str | None]:
    """``URL`` or ``URL,MODEL`` (``--fallback-endpoint``): a server to fall back to, and the
    model it serves (None: the run's model)."""
    address, comma, model = value.partition(",")  # a model may hold "/" (Qwen/Qwen3-8B), a URL no ","
    if not comma:
        return url(value), None
    if not model.strip():
        raise argparse.ArgumentTypeError(f"must be URL or URL,MODEL, not {value!r} (no model after the comma)")
    return url(address), model.strip()


def non_empty(what: str) -> Callable[[str], str]:
    """A value that is not blank."""

    def check(value: str) -> str:
        if not value.strip():
            raise argparse.ArgumentTypeError(f"must be {what}, not an empty string")
        return value

    return check


def check_run(args: argparse.Namespace, command: str = "run") -> None:
    """Check what ``anyagent run``'s (or ``chat``'s) flags need together or of the file system;
    raise :class:`UsageError` naming the flag."""
    prefix = f"anyagent {command}: error:"
    if args.replay and (args.record or args.transport != "httpx"):
        raise UsageError(
            f"{prefix} --replay plays a cassette back through httpx: it excludes --record and --transport h11"
        )
    if args.record and args.transport != "httpx":
        raise UsageError(f"{prefix} --record records through httpx: it excludes --transport h11")
    if args.demo and (args.replay or args.record):
        raise UsageError(f"{prefix} --demo replays the shipped recording: it excludes --replay and --record")
    if args.backend == "trio" and importlib.util.find_spec("trio") is None:
        raise UsageError(f"{prefix} --backend trio needs trio installed: pip install 'anyagent[trio]'")
    if args.replay and not os.path.isfile(args.replay):
        raise UsageError(f"{prefix} --replay {args.replay}: no such file")
    if args.record:
        folder = os.path.dirname(os.path.abspath(args.record))
        if os.path.isdir(args.record):
            raise UsageError(f"{prefix} --record {args.record}: is a directory; name a file to write")
        if not os.path.isdir(folder):
            raise UsageError(f"{prefix} --record {args.record}: the directory {folder} does not exist")
    if args.cwd is not None and not os.path.isdir(args.cwd):
        raise UsageError(f"{prefix} --cwd {args.cwd}: not a directory")
    for folder in args.skill_dir:
        if not os.path.isdir(folder):
            raise UsageError(f"{prefix} --skill-dir {folder}: not a directory")
    for folder in args.add_dir:
        if not os.path.isdir(folder):
            raise UsageError(f"{prefix} --add-dir {folder}: not a directory")
    wants = args.resume is not None or args.continue_conversation
    if args.fork and not wants:
        raise UsageError(f"{prefix} --fork needs --resume ID or --continue")
    if wants and args.no_session:
        raise UsageError(f"{prefix} --resume/--continue need a session store: drop --no-session")
    if args.json and args.show_reasoning:
        raise UsageError(f"{prefix} --json writes every message, reasoning included: drop --show-reasoning")
