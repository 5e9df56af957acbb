"""``anyagent sessions ...`` and the session options of ``anyagent run``.

``anyagent run`` keeps its conversation in the default store (``$ANY_AGENT_SESSIONS_DB``, or
``sessions.db`` in the user's data directory) unless ``--no-session``; ``--session-db`` names
another SQLite file or a ``postgresql://`` URL. A ``--replay`` run is not stored unless
``--session-db`` is given (a recording played back is not your conversation).
``--resume ID``, ``--continue`` (the latest session of the working directory) and ``--fork``
go on with a stored conversation.

``anyagent sessions list | show ID | search TEXT | rm ID | export ID`` look at what is stored;
``export`` writes JSON Lines: the session's record first, then each entry as stored.
"""

from __future__ import annotations

import argparse
import datetime
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TextIO

import anyio
import attrs

from anyagent_core import AssistantMessage, ToolResultBlock, ToolUseBlock, UserMessage
from anyagent_core.sessions import entry_to_json, rebuild
from anyagent_httpx._sessions import SessionStore, default_path, open_store

from ._usage import UsageError, positive_int

__all__ = ["add_run_options", "add_sessions_command", "run_session", "sessions_main"]


def _db_option(parser: argparse.ArgumentParser | Any, name: str = "--session-db") -> None:
    parser.add_argument(
        name,
        dest="session_db",
        metavar="PATH|URL",
        help="an SQLite file or a postgresql:// URL (default: $ANY_AGENT_SESSIONS_DB or the user's data directory)",
    )


def add_run_options(run: argparse.ArgumentParser) -> None:
    group = run.add_argument_group("sessions")
    _db_option(group)
    group.add_argument("--no-session", action="store_true", help="do not keep the conversation")
    which = group.add_mutually_exclusive_group()
    which.add_argument("--resume", metavar="ID", help="go on with a stored session")
    which.add_argument(
        "--continue", dest="continue_conversation", action="store_true", help="go on with the latest session here"
    )
    group.add_argument("--fork", action="store_true", help="with --resume/--continue: go on in a new session")


def add_sessions_command(commands: Any) -> argparse.ArgumentParser:
    sessions = commands.add_parser("sessions", help="list, show, search, remove and export stored sessions")
    _db_option(sessions, "--db")
    actions = sessions.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the sessions, latest first")
    listing.add_argument("--cwd", help="only those of this working directory")
    listing.add_argument("--tag", help="only those with this tag")
    listing.add_argument("--limit", type=positive_int, default=50)
    actions.add_parser("show", help="a session's conversation").add_argument("session_id", metavar="ID")
    search = actions.add_parser("search", help="messages holding every word")
    search.add_argument("text")
    search.add_argument("--limit", type=positive_int, default=20)
    actions.add_parser("rm", help="delete a session").add_argument("session_id", metavar="ID")
    actions.add_parser("export", help="a session as JSON Lines").add_argument("session_id", metavar="ID")
    return sessions  # type: ignore[no-any-return]


@asynccontextmanager
async def run_session(args: argparse.Namespace, err: TextIO) -> AsyncIterator[dict[str, Any]]:
    """The ``AgentOptions`` keyword arguments for ``anyagent run``'s session flags."""
    wants = args.resume is not None or args.continue_conversation
    if args.fork and not wants:
        raise UsageError(f"anyagent {args.command}: error: --fork needs --resume ID or --continue")
    played = getattr(args, "replay", None) or getattr(args, "demo", False)  # a recording: nothing new to keep
    if args.no_session or (played and args.session_db is None and not wants):
        if wants:
            raise UsageError(
                f"anyagent {args.command}: error: --resume/--continue need a session store: drop --no-session"
            )
        yield {}
        return
    async with open_store(args.session_db) as store:
        kwargs: dict[str, Any] = {"session_store": store}
        if args.resume is not None:
            kwargs["resume"] = args.resume
        if args.continue_conversation:
            kwargs["continue_conversation"] = True
        if args.fork:
            kwargs["fork_session"] = True
        yield kwargs


def _when(at: float) -> str:
    return datetime.datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M")


async def sessions_main(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    async with open_store(args.session_db) as store:
        return await _action(store, args, out, err)


async def _action(store: SessionStore, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    action = args.action
    if action == "list":
        cwd = str(await anyio.Path(args.cwd).resolve()) if args.cwd else None
        found = await store.list_sessions(cwd=cwd, tag=args.tag, limit=args.limit)
        for info in found:
            tags = f"  [{', '.join(info.tags)}]" if info.tags else ""
            out.write(
                f"{info.session_id}  {_when(info.updated_at)}  {info.message_count:>4} messages  "
                f"{info.title or '(untitled)'}{tags}\n"
            )
        if not found:
            err.write(f"no sessions in {args.session_db or default_path()}\n")
        return 0
    if action == "show":
        _, entries = await store.load(args.session_id)
        conversation = rebuild(args.session_id, entries)
        for message in conversation.messages:
            out.write(_shown(message))
        for result in conversation.results[-1:]:
            err.write(f"[last run: {result.subtype}, {result.num_turns} turns]\n")
        return 0
    if action == "search":
        for hit in await store.search(args.text, limit=args.limit):
            out.write(f"{hit.session_id}  {_when(hit.at)}  {hit.role or ''}: {' '.join(hit.snippet.split())}\n")
        return 0
    if action == "rm":
        await store.delete(args.session_id)
        err.write(f"deleted {args.session_id}\n")
        return 0
    assert action == "export"
    info, entries = await store.load(args.session_id)
    out.write(json.dumps({"session": attrs.asdict(info)}, ensure_ascii=False) + "\n")
    for entry in entries:
        out.write(json.dumps(entry_to_json(entry), ensure_ascii=False) + "\n")
    return 0


def _shown(message: UserMessage | AssistantMessage | Any) -> str:
    if isinstance(message, UserMessage):
        if isinstance(message.content, str):
            return f"user: {message.content}\n"
        lines = []
        for block in message.content:
            if isinstance(block, ToolResultBlock):
                text = block.content if isinstance(block.content, str) else "(blocks)"
                lines.append(f"  ← {block.tool_use_id}: {' '.join(text.split())[:200]}\n")
            else:
                lines.append(f"user: {getattr(block, 'text', '[image]')}\n")
        return "".join(lines)
    lines = [f"assistant: {message.text}\n"] if message.text else []
    for call in message.tool_uses:
        arguments = json.dumps(dict(call.input), ensure_ascii=False) if isinstance(call, ToolUseBlock) else "?"
        lines.append(f"  → {call.name} {arguments}\n")
    return "".join(lines)


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register ``anyagent sessions`` with the command line's subparsers."""
    return add_sessions_command(commands)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``anyagent sessions ACTION``; returns the exit status."""
    return anyio.run(sessions_main, args, out, err)
