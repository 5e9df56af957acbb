"""``anyagent chat``: a multi-turn conversation on the terminal.

The same flags as ``run`` (see :func:`._run.add_options`), sessions included: the conversation
is kept in the session store as ``run`` keeps its runs (``--no-session`` keeps nothing,
``--resume ID``/``--continue`` go on with one). With the ``cli`` extra (rich and prompt_toolkit)
the screen is drawn by :mod:`._display` and the input line has history and multi-line editing
(Esc then Enter for a new line); without it, plain lines. Before a tool that needs permission
the user is asked (:mod:`._ask`).

The conversation's :class:`Client` runs on an event loop in a helper thread (an anyio blocking
portal, under ``--backend``), so the input line owns the main thread and its Ctrl-C: during an
answer Ctrl-C interrupts it and returns to the prompt; at the prompt it clears the line, and
twice in a row exits. Closing the chat closes the client and ends the loop's thread.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from typing import Any, TextIO

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal

from anyagent_core import (
    AssistantMessage,
    ReasoningDelta,
    ResultMessage,
    RunMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
    TextDelta,
    ToolResultBlock,
    UserMessage,
)
from anyagent_httpx._client import Client
from anyagent_httpx._errors import AnyAgentError
from anyagent_httpx._sessions import SessionStore
from anyagent_httpx._transports import H11Transport, default_http_client

from . import _sessions as _cli_sessions
from ._ask import Asker, _is_terminal
from ._display import ChatScreen
from ._run import ENVIRONMENT, _hooks, _likely_cause, add_options, agent_options
from ._usage import UsageError, check_run

__all__ = ["HELP", "add_parser", "run"]

HELP = """\
/help           this list
/model NAME     switch the model for the next turns (/model alone names it)
/tools          the tools offered
/allow RULE     run calls matching RULE without asking, e.g. /allow bash(git *)
/expand         the last tool result in full
/reasoning      show or fold the model's reasoning
/clear          start a new conversation
/compact        summarise the conversation so far and go on from the summary
/cost           tokens and cost so far
/sessions       the latest stored sessions
/resume ID      go on with a stored session
/exit           leave (or Ctrl-D; Ctrl-C twice at the prompt)
Esc then Enter starts a new line; Ctrl-C stops an answer."""

_COMPACT = (
    "Summarise our conversation so far for yourself, to go on from it later: the facts, the "
    "decisions, the files and commands involved and what is left to do. Only the summary."
)


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register ``anyagent chat``."""
    chat: argparse.ArgumentParser = commands.add_parser(
        "chat",
        help="a conversation on the terminal",
        description="A multi-turn conversation; /help lists commands.",
        epilog=ENVIRONMENT,
    )
    add_options(chat)
    return chat


def _reader() -> Callable[[str], str]:
    """The input line: prompt_toolkit with history and Esc-Enter for a new line, else ``input()``."""
    try:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import InMemoryHistory
        from prompt_toolkit.key_binding import KeyBindings
    except ImportError:
        return input
    keys = KeyBindings()

    @keys.add("escape", "enter")
    def _newline(event: Any) -> None:
        event.current_buffer.insert_text("\n")

    session: PromptSession[str] = PromptSession(history=InMemoryHistory(), key_bindings=keys)
    return session.prompt


def _piped_line(prompt: str) -> str:
    """A line from stdin when it is not a terminal: no prompt drawn (EOFError at the end)."""
    return input()


class _Chat:
    """One ``anyagent chat``: its conversation (a :class:`Client` in ``portal``), the screen,
    the asker, the totals, and the slash commands."""

    def __init__(
        self,
        args: argparse.Namespace,
        out: TextIO,
        err: TextIO,
        portal: BlockingPortal,
        session: dict[str, Any],
        screen: ChatScreen | None = None,
    ) -> None:
        self.args, self.out, self.err, self.portal = args, out, err, portal
        self.store: SessionStore | None = session.get("session_store")
        self.asker = Asker(err, terminal=_is_terminal(sys.stdin))
        self.screen = screen if screen is not None else ChatScreen(out, err, show_reasoning=args.show_reasoning)
        self.model: str | None = args.model
        self.totals: dict[str, Any] = {"in": 0, "out": 0, "cost": 0.0, "estimated": False}
        self.turns = 0
        self.client: Client | None = None
        self.stack = ExitStack()
        self.open(session)

    # ---- the conversation ----------------------------------------------------------------------

    def open(self, session: dict[str, Any], *, history: tuple[Any, ...] = ()) -> None:
        """Start a conversation (a stored one with ``resume`` in ``session``); the current one
        is closed once the new one is open."""
        stack = ExitStack()
        http_client: httpx.AsyncClient | None = None
        transport: H11Transport | None = None
        if self.args.transport == "h11":
            transport = H11Transport()
            stack.callback(self.portal.call, transport.aclose)
        elif self.args.verbose:
            http_client = default_http_client(event_hooks=_hooks(self.args, self.err))
            stack.callback(self.portal.call, http_client.aclose)
        options = agent_options(
            self.args,
            session,
            http_client=http_client,
            transport=transport,
            base_url=self.args.base_url,
            model=self.model,
            can_use_tool=self.asker,
        )
        client = Client(options, history=history)
        try:
            stack.enter_context(self.portal.wrap_async_context_manager(client))
        except BaseException:
            stack.close()
            raise
        self.close()
        self.client, self.stack = client, stack
        self.model = client.model

    def close(self) -> None:
        stack, self.stack, self.client = self.stack, ExitStack(), None
        stack.close()

    def answer(self, prompt: str) -> ResultMessage | None:
        """Send ``prompt`` and draw the answer; Ctrl-C interrupts it (what came is kept).

        The answer is read by one task on the event loop into ``Inbox``; this thread only reads
        the inbox. A Ctrl-C can land between any two steps here, so nothing here starts a second
        reader or loses the end of the answer: the reader starts once whatever is retried, and a
        message counts as read only once it has been handled."""
        client = self.client
        assert client is not None
        self.asker.cancelled = False
        self.portal.call(client.query, prompt)
        self.screen.begin()
        inbox = _Inbox(client)
        interrupted = interrupt_sent = False
        result: ResultMessage | None = None
        while True:
            try:
                if interrupted and not interrupt_sent:
                    self.portal.call(client.interrupt)
                    interrupt_sent = True
                if not inbox.started:
                    self.portal.start_task_soon(inbox.read)  # a second start, after a Ctrl-C, does nothing
                    inbox.started = True
                item = inbox.next()
                if isinstance(item, _End):
                    break
                if isinstance(item, AnyAgentError):  # the answer failed; the chat goes on
                    self.screen.note(f"error: {type(item).__name__}: {item}", style="red")
                    hint = _likely_cause(item, self.args)
                    if hint:
                        self.screen.note(f"  {hint}", style="red")
                    break
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, ResultMessage) and item is not result:
                    result = item
                    self._count(item)
                if not interrupted:
                    self._draw(item)
                inbox.done()
            except KeyboardInterrupt:
                if not interrupted:
                    interrupted = True
                    self.screen.interrupted()
        self.screen.end()
        return result

    def _draw(self, message: RunMessage) -> None:
        screen = self.screen
        if isinstance(message, StreamEvent):
            event = message.event
            if isinstance(event, TextDelta):
                screen.delta(event.text)
            elif isinstance(event, ReasoningDelta):
                screen.delta(event.text, reasoning=True)
        elif isinstance(message, AssistantMessage):
            if not screen.text and message.text:
                screen.delta(message.text)  # not streamed
            screen.tool_calls(message.tool_uses)
        elif isinstance(message, UserMessage) and not isinstance(message.content, str):
            for block in message.content:
                if isinstance(block, ToolResultBlock):
                    screen.tool_result(block)
            screen.waiting()  # the results went back: the next request is under way
        elif isinstance(message, SystemMessage) and message.subtype == "retry":
            screen.retry(message.data)
            screen.waiting()
        elif isinstance(message, ResultMessage):
            if self.asker.cancelled:
                screen.note("(stopped at the permission question: the call did not run)", style="yellow")
            else:
                screen.finished(message)

    def _count(self, result: ResultMessage) -> None:
        self.turns += 1
        usage = result.usage
        if usage is not None:
            self.totals["in"] += usage.prompt_tokens or 0
            self.totals["out"] += usage.completion_tokens or 0
            self.totals["estimated"] = self.totals["estimated"] or usage.estimated
        self.totals["cost"] += result.total_cost_usd

    # ---- the prompt ------------------------------------------------------------------------

    def loop(self, read: Callable[[str], str]) -> int:
        """Read lines until /exit, Ctrl-D or Ctrl-C twice; returns the exit status. A Ctrl-C
        that comes between two prompts (while a line is drawn) counts as one at the prompt."""
        interrupted_once = False
        while True:
            try:
                try:
                    line = read("> ")
                except EOFError:
                    return 0
                interrupted_once = False
                if self.line(line.strip()) is not None:
                    return 0
            except KeyboardInterrupt:
                if interrupted_once:
                    return 0
                interrupted_once = True
                try:
                    self.screen.note("(Ctrl-C again to exit)")
                except KeyboardInterrupt:
                    return 0

    def line(self, line: str) -> int | None:
        """Act on one line typed at the prompt; an exit status when it ends the chat."""
        if not line:
            return None
        if not line.startswith("/"):
            self.answer(line)
            return None
        command, _, rest = line.partition(" ")
        if command in ("/exit", "/quit"):
            return 0
        action = _COMMANDS.get(command)
        if action is None:
            self.screen.note(f"unknown command {command}; /help lists them", style="yellow")
            return None
        action(self, rest.strip())
        return None

    def help(self, rest: str) -> None:
        self.screen.note(HELP, style="")

    def switch_model(self, rest: str) -> None:
        client = self.client
        assert client is not None
        if rest:
            self.portal.call(client.set_model, rest)
            self.model = rest
        self.screen.note(f"model: {client.model}")

    def tools(self, rest: str) -> None:
        client = self.client
        assert client is not None
        info = self.portal.call(client.get_server_info)
        names = info.get("tools") or []
        self.screen.note("tools: " + (", ".join(names) or "none (--tools NAMES offers some)"))

    def allow(self, rest: str) -> None:
        try:
            rule = self.asker.allow(rest)
        except ValueError:
            self.screen.note(f"/allow: {rest!r} is not a rule, as in 'bash(git *)'", style="yellow")
            return
        self.screen.note(f"allowed without asking: {rule} (rules now: {', '.join(map(str, self.asker.rules))})")

    def clear(self, rest: str) -> None:
        self.open(self._store_only())
        self.screen.note("a new conversation" + self._session_note())

    def compact(self, rest: str) -> None:
        """Ask for a summary, then go on in a new conversation that starts from it."""
        client = self.client
        assert client is not None
        if not client.messages:
            self.screen.note("nothing to compact yet")
            return
        before = len(client.messages)
        self.screen.note("summarising the conversation…")
        result = self.answer(_COMPACT)
        if result is None or result.is_error or not result.result:
            self.screen.note("/compact: no summary came; the conversation goes on as it was", style="yellow")
            return
        summary = (UserMessage(content=_COMPACT), AssistantMessage(content=(TextBlock(text=result.result),)))
        self.open(self._store_only(), history=summary)
        self.screen.note(f"compacted: {before} messages → the summary" + self._session_note())

    def cost(self, rest: str) -> None:
        mark = "~" if self.totals["estimated"] else ""
        self.screen.note(
            f"{self.turns} answer{'s' * (self.turns != 1)} · {mark}{self.totals['in']:,} tokens in / "
            f"{mark}{self.totals['out']:,} out · ${self.totals['cost']:.4f}"
        )

    def sessions(self, rest: str) -> None:
        if self.store is None:
            self.screen.note("/sessions: no session store (--no-session)", style="yellow")
            return
        found = self.portal.call(partial(self.store.list_sessions, limit=10))
        current = self.client.session_id if self.client is not None else None
        for info in found:
            when = datetime.datetime.fromtimestamp(info.updated_at).strftime("%Y-%m-%d %H:%M")
            mark = "*" if info.session_id == current else " "
            self.screen.note(
                f"{mark} {info.session_id}  {when}  {info.message_count:>4} messages  {info.title or '(untitled)'}",
                style="",
            )
        if not found:
            self.screen.note("no stored sessions yet")
        else:
            self.screen.note("/resume ID goes on with one")

    def resume(self, rest: str) -> None:
        if self.store is None:
            self.screen.note("/resume: no session store (--no-session)", style="yellow")
            return
        if not rest:
            self.screen.note("/resume ID: which session? /sessions lists them", style="yellow")
            return
        try:
            self.open({"session_store": self.store, "resume": rest})
        except AnyAgentError as exc:
            self.screen.note(f"/resume: {exc}", style="yellow")
            return
        count = len(self.client.messages) if self.client is not None else 0
        self.screen.note(f"resumed {rest}: {count} messages")

    def expand(self, rest: str) -> None:
        self.screen.expand()

    def reasoning(self, rest: str) -> None:
        self.screen.toggle_reasoning()

    def _store_only(self) -> dict[str, Any]:
        return {} if self.store is None else {"session_store": self.store}

    def _session_note(self) -> str:
        if self.store is None or self.client is None:
            return ""
        return f" (session {self.client.session_id})"

    def goodbye(self) -> None:
        if self.store is not None and self.client is not None and self.turns:
            self.screen.note(
                f"kept as session {self.client.session_id}: anyagent chat --resume {self.client.session_id}"
            )


_COMMANDS: dict[str, Callable[[_Chat, str], None]] = {
    "/help": _Chat.help,
    "/model": _Chat.switch_model,
    "/tools": _Chat.tools,
    "/allow": _Chat.allow,
    "/expand": _Chat.expand,
    "/reasoning": _Chat.reasoning,
    "/clear": _Chat.clear,
    "/compact": _Chat.compact,
    "/cost": _Chat.cost,
    "/sessions": _Chat.sessions,
    "/resume": _Chat.resume,
}
"""The slash commands (``/exit`` aside): each takes the chat and the rest of the line."""


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``anyagent chat``; returns the exit status."""
    if args.replay or args.record or args.demo or args.json:
        raise UsageError("anyagent chat: error: --replay, --record, --demo and --json belong to anyagent run")
    check_run(args, "chat")
    read = _reader() if _is_terminal(sys.stdin) else _piped_line
    with (
        start_blocking_portal(args.backend) as portal,
        portal.wrap_async_context_manager(_cli_sessions.run_session(args, err)) as session,
    ):
        chat = _Chat(args, out, err, portal, session)
        try:
            status = chat.loop(read)
            chat.goodbye()
            return status
        finally:
            chat.screen.close()
            chat.close()


class _End:
    """The inbox's last item: the answer is over."""


class _Inbox:
    """The messages of one answer, read on the event loop by ``read`` (started once, however
    often it is asked to start) and taken in order by the chat's thread with ``next``/``done``."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.started = False
        self._reading = False
        self._items: list[RunMessage | BaseException | _End] = []
        self._taken = 0
        self._arrived = threading.Event()

    async def read(self) -> None:
        if self._reading:  # started again after a Ctrl-C had cut the first start short
            return
        self._reading = True
        try:
            async for message in self.client.receive_response():
                self._put(message)
        except AnyAgentError as exc:
            self._put(exc)
        except Exception as exc:
            self._put(exc)
            raise
        self._put(_End())

    def _put(self, item: RunMessage | BaseException | _End) -> None:
        self._items.append(item)
        self._arrived.set()

    def next(self) -> RunMessage | BaseException | _End:
        """The first item not yet ``done``, once it has come."""
        while True:
            self._arrived.clear()
            if self._taken < len(self._items):
                return self._items[self._taken]
            self._arrived.wait()

    def done(self) -> None:
        self._taken += 1
