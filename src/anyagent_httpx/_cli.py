"""The ``anyagent`` command.

``anyagent run "PROMPT" --base-url URL --model NAME`` streams an answer to the terminal;
``anyagent run --replay CASSETTE`` plays a recorded run back with no server, and
``--record CASSETTE`` records one (API keys removed). The answer goes to stdout; reasoning,
tool calls, retries and the closing summary go to stderr, so the answer can be piped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from contextlib import aclosing
from typing import Any, TextIO

import anyio
import httpx

from anyagent_core import (
    DEFAULT_RETRY_POLICY,
    AssistantMessage,
    LocalProtocolError,
    ReasoningDelta,
    ResultMessage,
    RetryPolicy,
    StreamEvent,
    SystemMessage,
    TextBlock,
    TextDelta,
    ToolResultBlock,
    ToolUseBlock,
    ToolUseError,
    UserMessage,
    __version__,
    parse_request_body,
)
from anyagent_core.settings import PERMISSION_MODES, TOOL_MODES

from . import _cli_sessions, _doctor
from ._agent_files import discover_agents
from ._client import query
from ._errors import AnyAgentError, CassetteError, ConfigurationError
from ._options import ENV_API_KEY, ENV_BASE_URL, ENV_MODEL, PROVIDERS, AgentOptions
from ._permissions import (
    CanUseTool,
    PermissionResult,
    PermissionResultAllow,
    PermissionResultDeny,
    ToolPermissionContext,
)
from ._recording import Cassette, RecordingTransport, ReplayTransport
from ._settings_file import load_settings
from ._tools import BUILTIN_TOOLS
from ._transports import H11Transport, default_http_client
from .durable import _batch

__all__ = ["main"]

_CHAT_PATH = "/chat/completions"


def _parser(defaults: Mapping[str, Any] | None = None) -> argparse.ArgumentParser:
    """The command line; ``defaults`` (from the settings file) replace the built-in defaults
    of ``run``'s options."""
    parser = argparse.ArgumentParser(
        prog="anyagent", description="Agents on any OpenAI-compatible endpoint (LM Studio, Ollama, llama.cpp, vLLM)."
    )
    parser.add_argument("--version", action="version", version=f"anyagent {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="ask once and stream the answer",
        description="Ask once and stream the answer. The answer goes to stdout; reasoning, tool calls, "
        "retries and a summary go to stderr.",
        epilog=f"Environment: {ENV_BASE_URL}, {ENV_MODEL}, {ENV_API_KEY} stand in for the options left out.",
    )
    run.add_argument("prompt", nargs="?", help="the prompt (with --replay: defaults to the recorded one)")
    where = run.add_argument_group("endpoint")
    where.add_argument("--base-url", help="e.g. http://localhost:1234/v1")
    where.add_argument("--provider", choices=sorted(PROVIDERS), help="use this provider's default local URL")
    where.add_argument("--model", help="the model name the server knows")
    where.add_argument("--api-key", help=f"sent as a bearer token (better: set {ENV_API_KEY})")
    where.add_argument("--transport", choices=("httpx", "h11"), default="httpx", help="HTTP transport (httpx)")
    where.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio", help="event loop (asyncio)")
    asking = run.add_argument_group("request")
    asking.add_argument("--system", help="a system prompt")
    asking.add_argument("--max-tokens", type=int)
    asking.add_argument("--temperature", type=float)
    asking.add_argument("--no-stream", action="store_true", help="ask for the whole answer at once")
    asking.add_argument("--max-retries", type=int, help="retries on 429, 5xx and connection errors (2)")
    asking.add_argument("--fallback-model", action="append", default=[], help="tried in order if the model fails")
    agent = run.add_argument_group("tools and permissions")
    agent.add_argument(
        "--tools",
        type=_tool_names,
        default=(),
        metavar="NAMES",
        help=f"built-in tools to offer, comma-separated: {', '.join(BUILTIN_TOOLS)} (default: none)",
    )
    agent.add_argument("--cwd", help="the tools' working directory (default: the current one)")
    agent.add_argument("--allow", action="append", default=[], metavar="RULE", help="run without asking: 'bash(git *)'")
    agent.add_argument("--deny", action="append", default=[], metavar="RULE", help="always refuse: 'bash(rm *)'")
    agent.add_argument(
        "--permission-mode",
        choices=PERMISSION_MODES,
        default="default",
        help="default (ask before shell commands and writes), acceptEdits, plan (read-only), bypassPermissions",
    )
    agent.add_argument("--max-turns", type=int, help="model requests allowed for the run")
    agent.add_argument(
        "--no-skills", dest="skills", action="store_false", help="offer no skills (.anyagent/skills/, the user's)"
    )
    agent.add_argument("--skill-dir", action="append", default=[], metavar="DIR", help="more skills to offer")
    agent.add_argument(
        "--no-agents", dest="agents", action="store_false", help="load no subagents from .anyagent/agents/*.md"
    )
    agent.add_argument(
        "--tool-mode", choices=TOOL_MODES, default="auto", help="native, emulated (tools in the prompt) or auto"
    )
    shown = run.add_argument_group("output")
    shown.add_argument("--show-reasoning", action="store_true", help="print the model's reasoning to stderr")
    shown.add_argument("--quiet", action="store_true", help="no summary line")
    tape = run.add_argument_group("recording")
    tape.add_argument("--replay", metavar="CASSETTE", help="play a recorded run back; no server needed")
    tape.add_argument("--record", metavar="CASSETTE", help="record the run (API keys removed)")
    _cli_sessions.add_run_options(run)
    _cli_sessions.add_sessions_command(commands)
    _doctor.add_parser(commands)
    _batch.add_parser(commands)
    if defaults:
        run.set_defaults(**defaults)
    return parser


def _tool_names(value: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    for name in names:
        if name not in BUILTIN_TOOLS:
            raise argparse.ArgumentTypeError(f"unknown tool {name!r}; built-in tools: {', '.join(BUILTIN_TOOLS)}")
    return names


def _terminal_permission(err: TextIO) -> CanUseTool:
    """Ask on the terminal: ``Allow bash {"command": ...}? [y/N]``."""

    async def ask(name: str, tool_input: Mapping[str, Any], context: ToolPermissionContext) -> PermissionResult:
        arguments = json.dumps(dict(tool_input), ensure_ascii=False)
        err.write(f"Allow {name} {arguments}? [y/N] ")
        err.flush()
        answer = await anyio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
        if answer.strip().lower() in ("y", "yes"):
            return PermissionResultAllow()
        return PermissionResultDeny(message="the user said no")

    return ask


def _result_summary(result: ToolResultBlock) -> str:
    if isinstance(result.content, str):
        text = result.content
    else:
        text = "".join(block.text for block in result.content if isinstance(block, TextBlock))
    if result.is_error:
        first = text.strip().splitlines()[0] if text.strip() else "(no message)"
        return f"error: {first[:200]}"
    lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
    return f"{lines} line{'s' if lines != 1 else ''}, {len(text)} characters"


class _Printer:
    """Writes messages as they arrive: text to ``out``, everything else to ``err``."""

    def __init__(self, out: TextIO, err: TextIO, *, show_reasoning: bool, quiet: bool) -> None:
        self.out = out
        self.err = err
        self.show_reasoning = show_reasoning
        self.quiet = quiet
        self.streamed_text = False
        self.in_reasoning = False
        self.result: ResultMessage | None = None
        self.names: dict[str, str] = {}

    def message(self, message: object) -> None:
        if isinstance(message, StreamEvent):
            event = message.event
            if isinstance(event, TextDelta):
                self._end_reasoning()
                self.out.write(event.text)
                self.out.flush()
                self.streamed_text = True
            elif isinstance(event, ReasoningDelta) and self.show_reasoning:
                if not self.in_reasoning:
                    self.err.write("[reasoning] ")
                    self.in_reasoning = True
                self.err.write(event.text)
                self.err.flush()
        elif isinstance(message, SystemMessage) and message.subtype == "retry":
            data = message.data
            self.err.write(f"[retry] {data.get('error')}; attempt {data.get('attempt')} in {data.get('delay'):.2g} s\n")
        elif isinstance(message, AssistantMessage):
            self._end_reasoning()
            if not self.streamed_text and message.text:
                self.out.write(message.text)
            if message.text or self.streamed_text:
                self.out.write("\n")
                self.out.flush()
            self.streamed_text = False
            for call in message.tool_uses:
                self.names[call.id] = call.name
                if isinstance(call, ToolUseBlock):
                    arguments = json.dumps(dict(call.input), ensure_ascii=False)
                    self.err.write(f"→ {call.name} {arguments}\n")
                elif isinstance(call, ToolUseError):
                    self.err.write(f"→ {call.name} (unusable arguments: {call.error})\n")
            self.err.flush()
        elif isinstance(message, UserMessage) and not isinstance(message.content, str):
            for block in message.content:
                if isinstance(block, ToolResultBlock):
                    name = self.names.get(block.tool_use_id, "tool")
                    self.err.write(f"← {name}: {_result_summary(block)}\n")
            self.err.flush()
        elif isinstance(message, ResultMessage):
            self.result = message
            if not self.quiet:
                self.err.write(_summary(message) + "\n")
            for error in message.errors:
                self.err.write(f"error: {error}\n")

    def _end_reasoning(self) -> None:
        if self.in_reasoning:
            self.err.write("\n")
            self.in_reasoning = False


def _summary(result: ResultMessage) -> str:
    parts = [f"[{result.subtype}]"]
    if result.model:
        parts.append(f"model {result.model}")
    if result.stop_reason:
        parts.append(f"stop {result.stop_reason}")
    if result.usage is not None and result.usage.total_tokens is not None:
        parts.append(f"{result.usage.total_tokens} tokens")
    parts.append(f"{result.duration_ms / 1000:.2f} s")
    if result.pending_tool_calls:
        parts.append(f"{len(result.pending_tool_calls)} tool call(s) left unanswered")
    return " · ".join(parts)


def _recorded_defaults(cassette: Cassette) -> tuple[str | None, str | None, str | None]:
    """The base URL, model and last user prompt of a cassette's first request."""
    if not cassette.exchanges:
        raise CassetteError("the cassette holds no exchange to replay")
    request = cassette.exchanges[0].request
    url = request.url.split("?", 1)[0]
    base_url = url.removesuffix(_CHAT_PATH) if url.endswith(_CHAT_PATH) else None
    prompt = None
    try:
        body = parse_request_body(request.body)
    except (LocalProtocolError, ValueError, TypeError):
        return base_url, None, None
    model = body.model
    users = [m for m in body.messages if isinstance(m, UserMessage) and isinstance(m.content, str)]
    if users:
        prompt = str(users[-1].content)
    return base_url, model, prompt


async def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    http_client: httpx.AsyncClient | None = None
    transport: H11Transport | None = None
    recorder: RecordingTransport | None = None
    base_url, model, prompt = args.base_url, args.model, args.prompt
    if args.replay:
        cassette = Cassette.load(args.replay)
        recorded_url, recorded_model, recorded_prompt = _recorded_defaults(cassette)
        base_url = base_url or recorded_url or "http://replay.invalid/v1"
        model = model or recorded_model
        if prompt is None:
            prompt = recorded_prompt
        elif recorded_prompt is not None and prompt != recorded_prompt:
            err.write(f"note: replaying answers recorded for the prompt {recorded_prompt!r}\n")
        http_client = httpx.AsyncClient(transport=ReplayTransport(cassette))
    elif args.record:
        secrets = [s for s in (args.api_key, os.environ.get(ENV_API_KEY)) if s]
        recorder = RecordingTransport(secrets=secrets)
        http_client = default_http_client(transport=recorder)
    elif args.transport == "h11":
        transport = H11Transport()
    if prompt is None:
        err.write("anyagent run: error: a prompt is needed\n")
        return 2
    async with _cli_sessions.run_session(args, err) as session:
        return await _run_with(args, out, err, session, http_client, transport, recorder, base_url, model, prompt)


async def _run_with(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    session: dict[str, Any],
    http_client: httpx.AsyncClient | None,
    transport: H11Transport | None,
    recorder: RecordingTransport | None,
    base_url: str | None,
    model: str | None,
    prompt: str,
) -> int:
    options = AgentOptions(
        **session,
        model=model,
        base_url=base_url,
        provider=args.provider,
        api_key=args.api_key,
        system_prompt=args.system,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        stream=not args.no_stream,
        include_partial_messages=True,
        fallback_models=args.fallback_model,
        http_client=http_client,
        transport=transport,
        retry=DEFAULT_RETRY_POLICY if args.max_retries is None else RetryPolicy(max_retries=args.max_retries),
        tools=args.tools,
        cwd=args.cwd,
        allowed_tools=args.allow,
        disallowed_tools=args.deny,
        permission_mode=args.permission_mode,
        max_turns=args.max_turns,
        tool_mode=args.tool_mode,
        skills=args.skills,
        skill_dirs=args.skill_dir,
        agents=discover_agents(args.cwd) if args.agents else {},
        can_use_tool=_terminal_permission(err) if args.tools and sys.stdin.isatty() else None,
    )
    printer = _Printer(out, err, show_reasoning=args.show_reasoning, quiet=args.quiet)
    try:
        async with aclosing(query(prompt=prompt, options=options)) as messages:
            async for message in messages:
                printer.message(message)
    finally:
        if http_client is not None:
            await http_client.aclose()
        if transport is not None:
            await transport.aclose()
        if recorder is not None:
            recorder.save(args.record)
            err.write(f"recorded {len(recorder.exchanges)} exchange(s) to {args.record}\n")
    result = printer.result
    return 0 if result is not None and not result.is_error else 1


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 the run failed, 2 bad usage)."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        settings = load_settings()  # anyagent.toml or [tool.anyagent]: flag > environment > file > default
    except ConfigurationError as exc:
        err.write(f"anyagent: error: {exc}\n")
        return 2
    parser = _parser(settings.cli_defaults())
    args = parser.parse_args(argv)
    if args.command == "doctor":
        return _doctor.run(args, out, err)
    if args.command == "batch":
        return _batch.run(args, out, err)
    if args.command == "sessions":
        try:
            return anyio.run(_cli_sessions.sessions_main, args, out, err)
        except AnyAgentError as exc:
            err.write(f"error: {type(exc).__name__}: {exc}\n")
            return 1
    if args.replay and (args.record or args.transport != "httpx"):
        parser.error("--replay plays a cassette back through httpx: it excludes --record and --transport h11")
    if args.record and args.transport != "httpx":
        parser.error("--record records through httpx: it excludes --transport h11")
    try:
        return anyio.run(_run, args, out, err, backend=args.backend)
    except AnyAgentError as exc:
        out.flush()
        err.write(f"\nerror: {type(exc).__name__}: {exc}\n")
        for note in getattr(exc, "__notes__", ()):
            err.write(f"  {note}\n")
        return 1
    except KeyboardInterrupt:
        err.write("\ninterrupted\n")
        return 130
