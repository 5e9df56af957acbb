"""``anyagent run``: ask once and stream the answer.

``anyagent run "PROMPT" --base-url URL --model NAME`` streams an answer to the terminal
(``-`` reads the prompt from stdin); ``anyagent run --replay CASSETTE`` plays a recorded run
back with no server, ``--demo`` plays the recording shipped with the package, and
``--record CASSETTE`` records one (API keys removed). The answer goes to stdout; reasoning,
tool calls, retries and the closing summary go to stderr, so the answer can be piped.
``--json`` writes every message as one JSON object a line on stdout instead, for scripts.
Before a tool that needs permission, a terminal on stdin is asked (:mod:`._ask`); without one
the call is refused naming the ``--allow`` rule that would allow it.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import os
import sys
from collections.abc import Mapping, Sequence
from contextlib import aclosing
from typing import Any, TextIO, cast

import anyio
import attrs
import httpx

from anyagent_core import (
    DEFAULT_RETRY_POLICY,
    AssistantMessage,
    LocalProtocolError,
    ReasoningDelta,
    ResultMessage,
    RetryPolicy,
    SendRequest,
    StreamEvent,
    SystemMessage,
    TextBlock,
    TextDelta,
    ToolResultBlock,
    ToolUseBlock,
    ToolUseError,
    UserMessage,
    parse_request_body,
)
from anyagent_core.context import CONTEXT_STRATEGIES
from anyagent_core.settings import KNOBS, PERMISSION_MODES, TOOL_MODES
from anyagent_core.wire import redact_url
from anyagent_httpx._agent_files import discover_agents
from anyagent_httpx._client import query
from anyagent_httpx._errors import (
    AnyAgentError,
    APIConnectionError,
    CassetteError,
    ConfigurationError,
    NotFoundError,
)
from anyagent_httpx._observe import AttemptInfo, Observer, RunInfo
from anyagent_httpx._options import ENV_API_KEY, ENV_BASE_URL, ENV_MODEL, PROVIDERS, AgentOptions, FallbackEndpoint
from anyagent_httpx._permissions import CanUseTool
from anyagent_httpx._recording import Cassette, RecordingTransport, ReplayTransport
from anyagent_httpx._sessions import SessionNotFoundError
from anyagent_httpx._tools import BUILTIN_TOOLS
from anyagent_httpx._tools._context import SANDBOX_MODES
from anyagent_httpx._transports import H11Transport, default_http_client

from . import _sessions as _cli_sessions
from ._ask import Asker
from ._usage import (
    UsageError,
    check_run,
    endpoint,
    non_empty,
    non_negative_int,
    positive_int,
    rule,
    temperature,
    url,
)

__all__ = ["add_options", "add_parser", "agent_options", "run"]

DEMO = importlib.resources.files(__package__ or "anyagent_httpx._cli").joinpath("demo.jsonl")
"""The recording ``--demo`` plays back (a short streamed answer from a small local model)."""

_CHAT_PATH = "/chat/completions"

ENVIRONMENT = f"Environment: {ENV_BASE_URL}, {ENV_MODEL}, {ENV_API_KEY} stand in for the options left out."
"""The ``--help`` epilog of the commands that take ``add_options``'s flags."""


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register ``anyagent run`` with the command line's subparsers; returns its parser (the
    settings file's defaults are set on it)."""
    run: argparse.ArgumentParser = commands.add_parser(
        "run",
        help="ask once and stream the answer",
        description="Ask once and stream the answer. The answer goes to stdout; reasoning, tool calls, "
        "retries and a summary go to stderr.",
        epilog=ENVIRONMENT,
    )
    run.add_argument(
        "prompt", nargs="?", help="the prompt; - reads it from stdin (with --replay: defaults to the recorded one)"
    )
    add_options(run)
    return run


def add_options(run: argparse.ArgumentParser) -> None:
    """The endpoint, request, tools, output and recording flags ``run`` and ``chat`` share."""
    where = run.add_argument_group("endpoint")
    where.add_argument("--base-url", type=url, help="e.g. http://localhost:1234/v1")
    where.add_argument("--provider", choices=sorted(PROVIDERS), help="use this provider's default local URL")
    where.add_argument("--model", type=non_empty("a model name"), help="the model name the server knows")
    where.add_argument("--api-key", type=non_empty("a key"), help=f"sent as a bearer token (better: set {ENV_API_KEY})")
    where.add_argument("--transport", choices=("httpx", "h11"), default="httpx", help="HTTP transport (httpx)")
    where.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio", help="event loop (asyncio)")
    asking = run.add_argument_group("request")
    asking.add_argument("--system", help="a system prompt")
    asking.add_argument("--max-tokens", type=positive_int, help="the longest answer, in tokens (at least 1)")
    asking.add_argument("--temperature", type=temperature, help="sampling temperature, 0 to 2")
    asking.add_argument("--no-stream", action="store_true", help="ask for the whole answer at once")
    asking.add_argument("--max-retries", type=non_negative_int, help="retries on 429, 5xx and connection errors (2)")
    asking.add_argument(
        "--fallback-model",
        action="append",
        default=[],
        type=non_empty("a model name"),
        help="tried in order if the model fails",
    )
    asking.add_argument(
        "--fallback-endpoint",
        action="append",
        default=[],
        type=endpoint,
        metavar="URL[,MODEL]",
        help="another server, tried in order after the fallback models (its model: the run's, unless given)",
    )
    asking.add_argument(
        "--context-window",
        type=positive_int,
        metavar="TOKENS",
        help="the model's window (default: asked of the server)",
    )
    asking.add_argument(
        "--context-strategy",
        choices=sorted(CONTEXT_STRATEGIES),
        default=KNOBS["context_strategy"].default,
        help=f"how a conversation too long for the window is made to fit ({KNOBS['context_strategy'].default})",
    )
    agent = run.add_argument_group("tools and permissions")
    agent.add_argument(
        "--tools",
        type=_tool_names,
        default=(),
        metavar="NAMES",
        help=f"built-in tools to offer, comma-separated: {', '.join(BUILTIN_TOOLS)} (default: none)",
    )
    agent.add_argument("--cwd", help="the tools' working directory (default: the current one)")
    agent.add_argument(
        "--add-dir", action="append", default=[], metavar="DIR", help="another directory the file tools may use"
    )
    agent.add_argument(
        "--sandbox",
        choices=SANDBOX_MODES,
        default="auto",
        help="bash in bubblewrap's sandbox: auto (where it works, else a warning), required, off",
    )
    agent.add_argument("--sandbox-network", action="store_true", help="give commands in the sandbox the network")
    agent.add_argument(
        "--allow", action="append", default=[], type=rule, metavar="RULE", help="run without asking: 'bash(git *)'"
    )
    agent.add_argument(
        "--deny", action="append", default=[], type=rule, metavar="RULE", help="always refuse: 'bash(rm *)'"
    )
    agent.add_argument(
        "--permission-mode",
        choices=PERMISSION_MODES,
        default="default",
        help="default (ask before shell commands and writes), acceptEdits, plan (read-only), bypassPermissions",
    )
    agent.add_argument("--max-turns", type=positive_int, help="model requests allowed for the run (at least 1)")
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
    shown.add_argument(
        "-v", "--verbose", action="store_true", help="tool results in full, and each request's URL and status"
    )
    shown.add_argument("--json", action="store_true", help="every message as one JSON object a line on stdout")
    tape = run.add_argument_group("recording")
    tape.add_argument("--replay", metavar="CASSETTE", help="play a recorded run back; no server needed")
    tape.add_argument("--record", metavar="CASSETTE", help="record the run (API keys removed)")
    tape.add_argument("--demo", action="store_true", help="play back the recording shipped with anyagent")
    _cli_sessions.add_run_options(run)


def _tool_names(value: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    for name in names:
        if name not in BUILTIN_TOOLS:
            raise argparse.ArgumentTypeError(f"unknown tool {name!r}; built-in tools: {', '.join(BUILTIN_TOOLS)}")
    return names


def _result_summary(result: ToolResultBlock, *, verbose: bool = False) -> str:
    if isinstance(result.content, str):
        text = result.content
    else:
        text = "".join(block.text for block in result.content if isinstance(block, TextBlock))
    if result.is_error:
        first = text.strip().splitlines()[0] if text.strip() else "(no message)"
        return f"error: {first[:200]}"
    if verbose:
        return "\n" + text.rstrip("\n") if "\n" in text.rstrip("\n") else text
    lines = text.splitlines()
    head = next((" ".join(line.split()) for line in lines if line.strip()), "")
    if len(head) > 80:
        head = head[:79] + "…"
    more = f" (+{len(lines) - 1} more line{'s' if len(lines) != 2 else ''}; -v shows all)" if len(lines) > 1 else ""
    return f"{head}{more}" if head else "(empty)"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _Spinner:
    """``⠋ waiting for the model…`` on a terminal's stderr, from a request to its first output
    (rich, the ``cli`` extra; nothing without it). Its refresh thread ends with :meth:`stop`."""

    def __init__(self, err: TextIO) -> None:
        self.err = err
        self.status: Any = None

    def start(self) -> None:
        if self.status is not None:
            return
        try:
            from rich.console import Console
        except ImportError:
            return
        self.status = Console(file=self.err, stderr=True).status("waiting for the model…", spinner="dots")
        self.status.start()

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


def _hooks(args: argparse.Namespace, err: TextIO) -> dict[str, list[Any]]:
    """With ``-v``: ``[http] POST URL → 200`` on stderr for each request (credentials removed)."""
    if not args.verbose:
        return {}

    async def log(response: httpx.Response) -> None:
        request = response.request
        err.write(f"[http] {request.method} {redact_url(str(request.url))} → {response.status_code}\n")
        err.flush()

    return {"response": [log]}


class _HttpLines(Observer):
    """With ``-v`` over a transport that is not httpx's: ``[http] POST URL → 200`` for each of
    the run's requests, as ``_hooks`` writes them for httpx."""

    def __init__(self, err: TextIO) -> None:
        self.err = err
        self.urls: dict[int, str] = {}

    def run_started(self, run: RunInfo) -> Observer | None:
        return self

    def attempt_started(self, request: SendRequest, url: str) -> None:
        self.urls[id(request)] = url

    def attempt_ended(self, request: SendRequest, info: AttemptInfo) -> None:
        url = self.urls.pop(id(request), "?")
        status = info.status if info.status is not None else "no answer"
        self.err.write(f"[http] POST {redact_url(url.rstrip('/') + _CHAT_PATH)} → {status}\n")
        self.err.flush()


def _json_line(message: object) -> str:
    """A message as one line of JSON: ``{"type": "AssistantMessage", ...its fields}``."""
    if attrs.has(type(message)):
        fields = attrs.asdict(cast("attrs.AttrsInstance", message), recurse=True)
    else:
        fields = {"value": repr(message)}
    return json.dumps({"type": type(message).__name__, **fields}, ensure_ascii=False, default=_jsonable)


def _jsonable(value: object) -> object:
    if isinstance(value, (tuple, frozenset, set)):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return repr(value)


class _Printer:
    """Writes messages as they arrive: text to ``out``, everything else to ``err``."""

    def __init__(
        self, out: TextIO, err: TextIO, *, show_reasoning: bool, quiet: bool, verbose: bool = False, json: bool = False
    ) -> None:
        self.out = out
        self.err = err
        self.show_reasoning = show_reasoning
        self.quiet = quiet
        self.verbose = verbose
        self.json = json
        self.spinner: _Spinner | None = None
        self.streamed_text = False
        self.in_reasoning = False
        self.retries = RetryLines()
        self.result: ResultMessage | None = None
        self.names: dict[str, str] = {}

    def message(self, message: object) -> None:
        if self.spinner is not None:
            waiting = isinstance(message, UserMessage) and not isinstance(message.content, str)
            if waiting:  # tool results sent back: the next request is under way
                self.spinner.start()
            elif not isinstance(message, SystemMessage) or message.subtype == "retry":
                self.spinner.stop()
        if self.json:
            if isinstance(message, ResultMessage):
                self.result = message
            if not isinstance(message, StreamEvent):
                self.out.write(_json_line(message) + "\n")
                self.out.flush()
            return
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
            self.err.write(self.retries.line(message.data) + "\n")
        elif isinstance(message, AssistantMessage):
            self.retries.reset()
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
                    self.err.write(f"← {name}: {_result_summary(block, verbose=self.verbose)}\n")
            self.err.flush()
        elif isinstance(message, ResultMessage):
            self.result = message
            if not self.quiet:
                self.err.write(_summary(message) + "\n")
            if self.quiet or message.subtype != "error_max_turns":  # else the summary said it
                for error in message.errors:
                    self.err.write(f"error: {error}\n")

    def _end_reasoning(self) -> None:
        if self.in_reasoning:
            self.err.write("\n")
            self.in_reasoning = False


_OUTCOMES = {
    "success": "done",
    "error_max_turns": "stopped: --max-turns reached",
    "error_during_execution": "failed",
}

_STOPS = {"length": "the answer was cut at --max-tokens", "content_filter": "the server filtered the answer"}


def _summary(result: ResultMessage, *, first_token: float | None = None) -> str:
    """``done · tiny · 3 turns · 1,204 tokens in / 88 out · 0.8 s``: what happened, in words
    (``first token 0.2 s`` before the total time when ``first_token`` is given, in seconds)."""
    parts = [_OUTCOMES.get(result.subtype, result.subtype.replace("error_", "stopped: ").replace("_", " "))]
    if result.model:
        parts.append(result.model)
    parts.append(f"{result.num_turns} turn{'s' if result.num_turns != 1 else ''}")
    usage = result.usage
    if usage is not None and (usage.prompt_tokens is not None or usage.completion_tokens is not None):
        mark = "~" if getattr(usage, "estimated", False) else ""
        tokens_in = f"{mark}{usage.prompt_tokens:,}" if usage.prompt_tokens is not None else "?"
        tokens_out = f"{mark}{usage.completion_tokens:,}" if usage.completion_tokens is not None else "?"
        parts.append(f"{tokens_in} tokens in / {tokens_out} out" + (" (estimated)" if mark else ""))
    if result.total_cost_usd:
        parts.append(f"${result.total_cost_usd:.4f}")
    if first_token is not None:
        parts.append(f"first token {first_token:.2f} s")
    parts.append(f"{result.duration_ms / 1000:.1f} s")
    if result.stop_reason in _STOPS:
        parts.append(_STOPS[result.stop_reason])
    if result.pending_tool_calls:
        count = len(result.pending_tool_calls)
        parts.append(f"{count} tool call{'s' if count != 1 else ''} left unanswered")
    return " · ".join(parts)


class RetryLines:
    """The retry lines of a run, numbered per model: ``retry 1``, ``retry 2`` for one model's
    retries (the retry notice's ``attempt`` counts the request's attempts, fallbacks included);
    a move to a fallback is not a retry and starts the count again. ``reset()`` at each answer."""

    def __init__(self) -> None:
        self.count = 0

    def reset(self) -> None:
        self.count = 0

    def line(self, data: Mapping[str, Any]) -> str:
        if data.get("fallback_to"):
            self.count = 0
            return _retry_line(data)
        self.count += 1
        return _retry_line(data, number=self.count)


def _retry_line(data: Mapping[str, Any], *, number: int | None = None) -> str:
    """``retry 1 · model tiny · HTTP 503: busy · in 0.5 s`` (``number``: the model's retry, else
    the attempt's); when the turn moves on, ``HTTP 503: busy · gave up after 2 retries ·
    falling back to model 'small'``."""
    reason = str(data.get("reason") or "")
    where = str(data.get("fallback_to") or "")
    parts = [] if where else [f"retry {number if number is not None else data.get('attempt')}"]
    if data.get("model") and not where:
        parts.append(f"model {data['model']}")
    parts.append(str(data.get("error") or reason or "a failed request"))
    if where:
        if data.get("gave_up"):
            parts.append(str(data["gave_up"]))
        parts.append(f"falling back to {where}")
    delay = data.get("delay")
    if isinstance(delay, (int, float)) and (delay or not where):
        parts.append(f"in {delay:.2g} s")
    return "[" + " · ".join(parts) + "]"


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


def _recorded_tools(cassette: Cassette) -> set[str] | None:
    """The built-in tools a cassette's first request offered; None when the body is not JSON."""
    try:
        body = json.loads(cassette.exchanges[0].request.body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    names: set[str] = set()
    for tool in body.get("tools") or ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            names.add(function["name"])
    return names & set(BUILTIN_TOOLS)


def _warn_if_tools_differ(cassette: Cassette, tools: Sequence[str], err: TextIO) -> None:
    """Warn when a replayed run offers other built-in tools than the recorded one did: the
    recorded answers may call a tool this run lacks, or the requests no longer match."""
    recorded = _recorded_tools(cassette)
    if recorded is None or recorded == set(tools):
        return
    was = ",".join(sorted(recorded)) or "none"
    now = ",".join(sorted(tools)) or "none"
    err.write(f"warning: the recording was made with --tools {was}; this run offers {now}\n")


def _tools_cwd(cwd: str | None) -> str:
    """The tools' working directory of a run, absolute (``--cwd``, else the current one)."""
    return os.path.realpath(cwd if cwd is not None else os.getcwd())


def _warn_if_cwd_differs(cassette: Cassette, cwd: str | None, err: TextIO) -> None:
    """Warn when a replayed run's tools work in another directory than the recorded run's did:
    the recorded answers name files of that directory, and the tools now read this one."""
    recorded = cassette.meta.get("cwd")
    if recorded is None or recorded == _tools_cwd(cwd):
        return
    err.write(f"warning: the recording was made with --cwd {recorded}; this run's tools work in {_tools_cwd(cwd)}\n")


async def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    http_client: httpx.AsyncClient | None = None
    transport: H11Transport | None = None
    recorder: RecordingTransport | None = None
    base_url, model, prompt = args.base_url, args.model, args.prompt
    if prompt == "-":
        prompt = (await anyio.to_thread.run_sync(sys.stdin.read)).rstrip("\n")
        if not prompt.strip():
            raise UsageError("anyagent run: error: the prompt read from stdin (-) is empty")
    if args.replay or args.demo:
        cassette = Cassette.loads(DEMO.read_text(encoding="utf-8")) if args.demo else Cassette.load(args.replay)
        recorded_url, recorded_model, recorded_prompt = _recorded_defaults(cassette)
        base_url = base_url or recorded_url or "http://replay.invalid/v1"
        model = model or recorded_model
        if prompt is None:
            prompt = recorded_prompt
        elif recorded_prompt is not None and prompt != recorded_prompt:
            err.write(f"note: replaying answers recorded for the prompt {recorded_prompt!r}\n")
        _warn_if_tools_differ(cassette, args.tools, err)
        _warn_if_cwd_differs(cassette, args.cwd, err)
        http_client = httpx.AsyncClient(transport=ReplayTransport(cassette), event_hooks=_hooks(args, err))
    elif args.record:
        secrets = [s for s in (args.api_key, os.environ.get(ENV_API_KEY)) if s]
        recorder = RecordingTransport(secrets=secrets)
        http_client = default_http_client(transport=recorder, event_hooks=_hooks(args, err))
    elif args.transport == "h11":
        transport = H11Transport()
    elif args.verbose:
        http_client = default_http_client(event_hooks=_hooks(args, err))
    if prompt is None:
        raise UsageError("anyagent run: error: a prompt is needed (give it, or - to read it from stdin)")
    async with _cli_sessions.run_session(args, err) as session:
        return await _run_with(args, out, err, session, http_client, transport, recorder, base_url, model, prompt)


def _fallback_endpoints(args: argparse.Namespace, model: str | None) -> list[FallbackEndpoint]:
    """``--fallback-endpoint URL[,MODEL]``: each serves the run's model unless it names one; the
    run's key (``--api-key``) is not sent to them."""
    model = model or os.environ.get(ENV_MODEL)
    endpoints = []
    for address, named in args.fallback_endpoint:
        serves: str | None = named or model
        if serves is None:
            raise UsageError(
                f"anyagent {args.command}: error: --fallback-endpoint {address}: "
                "name its model (URL,MODEL) or give --model"
            )
        endpoints.append(FallbackEndpoint(base_url=address, model=serves))
    return endpoints


def agent_options(
    args: argparse.Namespace,
    session: Mapping[str, Any],
    *,
    http_client: httpx.AsyncClient | None = None,
    transport: H11Transport | None = None,
    base_url: str | None,
    model: str | None,
    can_use_tool: CanUseTool | None,
) -> AgentOptions:
    """The ``AgentOptions`` of the shared flags (see :func:`add_options`)."""
    return AgentOptions(
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
        fallback_endpoints=_fallback_endpoints(args, model),
        context_window=args.context_window,
        context_strategy=args.context_strategy,
        tools=args.tools,
        cwd=args.cwd,
        allowed_dirs=args.add_dir,
        sandbox=args.sandbox,
        sandbox_network=args.sandbox_network,
        allowed_tools=args.allow,
        disallowed_tools=args.deny,
        permission_mode=args.permission_mode,
        max_turns=args.max_turns,
        tool_mode=args.tool_mode,
        skills=args.skills,
        skill_dirs=args.skill_dir,
        agents=discover_agents(args.cwd) if args.agents else {},
        can_use_tool=can_use_tool,
    )


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
    asker = Asker(err, terminal=_is_terminal(sys.stdin))
    options = agent_options(
        args, session, http_client=http_client, transport=transport, base_url=base_url, model=model, can_use_tool=asker
    )
    if args.verbose and transport is not None:  # no httpx client to hook: the requests' lines from the run
        options = attrs.evolve(options, observers=(*options.observers, _HttpLines(err)))
    printer = _Printer(
        out, err, show_reasoning=args.show_reasoning, quiet=args.quiet, verbose=args.verbose, json=args.json
    )
    if not args.json and _is_terminal(err):
        printer.spinner = _Spinner(err)
        printer.spinner.start()
    try:
        async with aclosing(query(prompt=prompt, options=options)) as messages:
            async for message in messages:
                if asker.cancelled:  # the one line below says what happened
                    continue
                printer.message(message)
    finally:
        if printer.spinner is not None:
            printer.spinner.stop()
        if http_client is not None:
            await http_client.aclose()
        if transport is not None:
            await transport.aclose()
        if recorder is not None:
            recorder.save(args.record, meta={"cwd": _tools_cwd(args.cwd)})
            err.write(f"recorded {len(recorder.exchanges)} exchange(s) to {args.record}\n")
    if asker.cancelled:
        err.write("interrupted at the permission question: the call did not run\n")
        return 130
    result = printer.result
    return 0 if result is not None and not result.is_error else 1


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``anyagent run``; returns the exit status (0 done, 1 the run failed, 2 bad usage)."""
    check_run(args)
    try:
        return anyio.run(_run, args, out, err, backend=args.backend)
    except (ConfigurationError, SessionNotFoundError):
        raise  # a usage mistake: the command line says so in flags' words, exit 2
    except AnyAgentError as exc:
        out.flush()
        err.write(f"\nerror: {type(exc).__name__}: {exc}\n")
        for note in getattr(exc, "__notes__", ()):
            err.write(f"  {note}\n")
        hint = _likely_cause(exc, args)
        if hint:
            err.write(f"  {hint}\n")
        return 1


def _likely_cause(exc: AnyAgentError, args: argparse.Namespace) -> str | None:
    """A line on what probably went wrong with the server's URL, naming the URL tried."""
    where = getattr(exc, "url", None) or args.base_url
    if args.provider and not args.base_url:
        source = f"--provider {args.provider} uses {PROVIDERS[args.provider]}"
    elif args.base_url:
        source = f"--base-url {args.base_url}"
    else:
        source = None
    text = _chain_text(exc)
    cause: str | None = None
    if isinstance(exc, APIConnectionError):
        if "refused" in text or "errno 111" in text or "all connection attempts failed" in text:
            cause = f"nothing is listening at {where}: is the server running, on that port?"
        elif "ssl" in text or "certificate" in text or "tls" in text:
            cause = f"TLS failed for {where}: a local server usually speaks plain http://"
        elif "name" in text and ("resolve" in text or "not known" in text):
            cause = f"the host of {where} has no address: check the spelling"
        else:
            cause = f"could not reach {where}"
    elif isinstance(exc, NotFoundError):
        base = args.base_url or (PROVIDERS.get(args.provider) if args.provider else None)
        if base and not base.rstrip("/").endswith("/v1"):
            cause = f"{where} answered 404: OpenAI-compatible servers usually want a base URL ending in /v1"
    if cause is None:
        return None
    return f"{cause} ({source})" if source else cause


def _chain_text(exc: BaseException) -> str:
    """The messages and type names of an exception and its causes, lower-cased."""
    seen: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 8:
        seen.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return " | ".join(seen).lower()
