"""The ``anyagent`` command.

Each subcommand is a module with ``add_parser(subparsers)`` (registers its parser and returns
it) and ``run(args, out, err)`` (returns the exit status); :data:`COMMANDS` lists them in the
order ``--help`` shows. A mistake on the command line is one line on stderr naming the flag,
exit status 2, never a traceback (:mod:`._usage`).

``anyagent run`` asks once and streams the answer (:mod:`._run`); ``anyagent chat`` holds a
conversation (:mod:`._chat`, drawn by :mod:`._display`); both put permission questions through
:mod:`._ask`. ``anyagent sessions`` looks
at stored conversations (:mod:`._sessions`); ``anyagent doctor`` diagnoses a server;
``anyagent batch`` runs a file of tasks as durable runs on DBOS.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any, TextIO

from anyagent_core import __version__
from anyagent_httpx import _doctor
from anyagent_httpx._errors import AnyAgentError, ConfigurationError
from anyagent_httpx._sessions import SessionNotFoundError
from anyagent_httpx._settings_file import load_settings
from anyagent_httpx.durable import _batch

from . import _chat, _run, _sessions
from ._usage import ArgumentParser, UsageError, in_flags

__all__ = ["COMMANDS", "main"]

COMMANDS: dict[str, ModuleType] = {
    "run": _run,
    "chat": _chat,
    "sessions": _sessions,
    "doctor": _doctor,
    "batch": _batch,
}
"""Subcommand name → its module (``add_parser(subparsers)``, ``run(args, out, err)``)."""


def _parser(defaults: Mapping[str, Any] | None = None) -> argparse.ArgumentParser:
    """The command line; ``defaults`` (from the settings file) replace the built-in defaults
    of ``run``'s options."""
    parser = ArgumentParser(
        prog="anyagent", description="Agents on any OpenAI-compatible endpoint (LM Studio, Ollama, llama.cpp, vLLM)."
    )
    parser.add_argument("--version", action="version", version=f"anyagent {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        command = module.add_parser(subparsers)
        if name == "run" and defaults:
            command.set_defaults(**defaults)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 the run failed, 2 bad usage)."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        settings = load_settings()  # anyagent.toml or [tool.anyagent]: flag > environment > file > default
    except ConfigurationError as exc:
        err.write(f"anyagent: error: {exc}\n")
        return 2
    try:
        args = _parser(settings.cli_defaults()).parse_args(argv)
        command: Callable[[argparse.Namespace, TextIO, TextIO], int] = COMMANDS[args.command].run
        return command(args, out, err)
    except UsageError as exc:
        out.flush()
        err.write(f"{exc}\n")
        return 2
    except (ConfigurationError, SessionNotFoundError) as exc:  # what the flags asked for cannot be
        out.flush()
        err.write(
            f"anyagent {getattr(args, 'command', '')}: error: {in_flags(str(exc))}\n".replace("anyagent :", "anyagent:")
        )
        return 2
    except AnyAgentError as exc:
        out.flush()
        err.write(f"error: {type(exc).__name__}: {exc}\n")
        return 1
    except KeyboardInterrupt:
        err.write("\ninterrupted\n")
        return 130
