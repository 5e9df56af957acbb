"""``anyagent doctor URL``: what an endpoint supports, probed and judged.

``await diagnose(base_url, model=...)`` sends a short series of requests and returns a
``Diagnosis``: one ``DoctorCheck`` per feature (reachable, models, chat, streaming, usage in the
stream, native tool calls whole and streamed, parallel calls, a forced ``tool_choice``, tool
calls written as text, the reasoning field, ``json_schema`` output, the context window,
``/tokenize``, ``/v1/embeddings``), the time to the first token and the tokens per second, and
the ``AgentOptions`` it recommends (``tool_mode``, ``output_mode``, ``context_window``).

The requests and the verdicts are the core's (``anyagent_core.probe``); this module only sends
the requests, decodes the answers with a ``Connection`` and times them. Every probe is bounded
(``probe_timeout`` seconds, ``MAX_BODY`` bytes), and a failure of one probe is that probe's
verdict, never an exception out of ``diagnose``. The key is sent only as a bearer header and
never appears in a verdict.

The command (``add_parser``/``run``) prints the table, or the diagnosis as JSON with ``--json``;
it exits 0 when the endpoint answered a chat request, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any, Final, TextIO

import anyio
import attrs

from anyagent_core import (
    NEED_DATA,
    PAUSED,
    Connection,
    Endpoint,
    ReasoningDelta,
    RemoteProtocolError,
    Request,
    StartTurn,
    TextDelta,
    ToolCallDelta,
)
from anyagent_core.context import WINDOW_PROBES, WindowAnswer, parse_window, probe_request, server_root
from anyagent_core.probe import (
    MAX_BODY,
    Diagnosis,
    DoctorCheck,
    ProbeAnswer,
    judge_chat,
    judge_embeddings,
    judge_forced_tool,
    judge_json_schema,
    judge_models,
    judge_parallel,
    judge_reasoning_field,
    judge_streaming,
    judge_text_tool_calls,
    judge_tokenize,
    judge_tool_calls,
    probe_get,
    probe_post,
    probe_turns,
    speed,
)

from ._cli import _usage as usage
from ._context import discover_window
from ._errors import AnyAgentError, APIConnectionError, APITimeoutError
from ._options import ENV_API_KEY
from ._transports import AsyncTransport, HttpxTransport

__all__ = ["DEFAULT_TIMEOUT", "Diagnosis", "DoctorCheck", "add_parser", "diagnose", "run"]

#: How long one probe may take by default (a cold model may need a while to load).
DEFAULT_TIMEOUT: Final = 60.0

# ---- I/O ------------------------------------------------------------------------------------


async def _read(transport: AsyncTransport, request: Request) -> tuple[int, str, bytes]:
    try:
        return await _read_once(transport, request)
    except APITimeoutError:
        raise
    except APIConnectionError:  # a pooled connection the server had closed: once more
        return await _read_once(transport, request)


async def _read_once(transport: AsyncTransport, request: Request) -> tuple[int, str, bytes]:
    async with transport.exchange(request) as response:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.stream:
            size += len(chunk)
            if size > MAX_BODY:
                raise ValueError(f"the answer is larger than {MAX_BODY} bytes")
            chunks.append(chunk)
        return response.status, response.header("content-type") or "", b"".join(chunks)


async def _chat(transport: AsyncTransport, endpoint: Endpoint, turn: StartTurn, probe_timeout: float) -> ProbeAnswer:
    """Send ``turn``, decode the answer with a ``Connection``, noting when output first came."""
    conn = Connection(endpoint)
    request = conn.send(turn)
    events: list[object] = []
    body: list[bytes] = []
    first: float | None = None
    started = time.perf_counter()
    status, content_type = 0, ""
    try:
        with anyio.fail_after(probe_timeout):
            async with transport.exchange(request) as response:
                status, content_type = response.status, response.header("content-type") or ""
                conn.receive_head(response.status, response.headers)
                size = 0
                async for chunk in response.stream:
                    size += len(chunk)
                    if size > MAX_BODY:
                        raise ValueError(f"the answer is larger than {MAX_BODY} bytes")
                    body.append(chunk)
                    conn.receive_data(chunk)
                    first = _drain(conn, events, first, started)
                conn.receive_data(b"")
                first = _drain(conn, events, first, started)
    except RemoteProtocolError as exc:
        error = f"a malformed answer: {_short(str(exc))}"
        return ProbeAnswer(
            status=status, body=b"".join(body), events=tuple(events), content_type=content_type, error=error
        )
    return ProbeAnswer(
        status=status,
        body=b"".join(body),
        events=tuple(events),
        content_type=content_type,
        first_output=first,
        elapsed=time.perf_counter() - started,
    )


def _drain(conn: Connection, events: list[object], first: float | None, started: float) -> float | None:
    while True:
        event = conn.next_event()
        if event is NEED_DATA or event is PAUSED:
            return first
        if first is None and isinstance(event, TextDelta | ReasoningDelta | ToolCallDelta):
            first = time.perf_counter() - started
        events.append(event)


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _why(exc: BaseException) -> str:
    """A failure as one line that never carries the key (our errors redact URLs already)."""
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    line = f"{type(exc).__name__}: {_short(str(exc))}"
    if isinstance(exc, APIConnectionError) and not isinstance(exc, APITimeoutError):
        causes = " ".join(str(e).lower() for e in (exc, exc.__cause__, exc.__context__) if e is not None)
        if "refused" in causes or "all connection attempts failed" in causes:
            line += " (nothing is listening there: is the server running, on that port?)"
        elif "ssl" in causes or "certificate" in causes:
            line += " (TLS failed: a local server usually speaks plain http://)"
    return line


_PROBE_ERRORS = (AnyAgentError, OSError, ValueError, TimeoutError)


async def diagnose(
    base_url: str,
    *,
    model: str | None = None,
    api_key: str | None = None,
    transport: AsyncTransport | None = None,
    probe_timeout: float = DEFAULT_TIMEOUT,
) -> Diagnosis:
    """Probe the endpoint at ``base_url`` (``http://localhost:8080/v1``) with ``model`` (default:
    the first model the server lists) and judge what it supports. ``transport`` defaults to an
    ``HttpxTransport`` of its own, closed at the end. Never raises for what the server does: an
    unreachable server gives a diagnosis saying so."""
    if probe_timeout <= 0:
        raise ValueError(f"timeout must be positive, not {probe_timeout!r}")
    endpoint = Endpoint(base_url=base_url, api_key=api_key)
    if transport is None:
        async with HttpxTransport() as owned:
            return await _diagnose(owned, endpoint, model, probe_timeout)
    return await _diagnose(transport, endpoint, model, probe_timeout)


async def _diagnose(
    transport: AsyncTransport, endpoint: Endpoint, model: str | None, probe_timeout: float
) -> Diagnosis:
    checks: list[DoctorCheck] = []
    base = endpoint.base_url
    try:
        with anyio.fail_after(probe_timeout):
            status, _, body = await _read(transport, probe_get(endpoint, base + "/models"))
    except _PROBE_ERRORS as exc:
        checks.append(DoctorCheck(name="reachable", status="no", detail=_why(exc)))
        return Diagnosis(base_url=base, model=model, checks=tuple(checks))
    checks.append(DoctorCheck(name="reachable", status="yes", detail=f"HTTP {status} from /models"))
    listed, names = judge_models(status, body)
    checks.append(listed)
    chosen = model or (names[0] if names else None)
    if chosen is None:
        checks.append(DoctorCheck(name="chat", status="skipped", detail="no model: pass --model NAME"))
        return Diagnosis(base_url=base, model=None, checks=tuple(checks))

    answers: dict[str, ProbeAnswer] = {}
    for name, turn in probe_turns(chosen).items():
        for attempt in range(2):
            try:
                answers[name] = await _chat(transport, endpoint, turn, probe_timeout)
            except APIConnectionError as exc:  # a pooled connection the server had closed: once more
                answers[name] = ProbeAnswer(status=0, body=b"", events=(), error=_why(exc))
                if attempt == 0 and not isinstance(exc, APITimeoutError):
                    continue
            except _PROBE_ERRORS as exc:
                answers[name] = ProbeAnswer(status=0, body=b"", events=(), error=_why(exc))
            break
    checks.append(judge_chat(answers["chat"]))
    checks.extend(judge_streaming(answers["streaming"]))
    checks.append(judge_tool_calls(answers["tools"], streamed=False))
    checks.append(judge_tool_calls(answers["tools_streamed"], streamed=True))
    checks.append(judge_parallel(answers["parallel"]))
    checks.append(judge_forced_tool(answers["forced_tool"]))
    tooled = [answers[n] for n in ("tools", "tools_streamed", "parallel")]
    checks.append(judge_text_tool_calls(tooled))
    checks.append(judge_reasoning_field(list(answers.values())))
    checks.append(judge_json_schema(answers["json_schema"]))

    discovery = await discover_window(transport, endpoint, chosen, refresh=True)
    answer = discovery.answer
    if answer is not None and answer.server == "llama.cpp" and answer.slots is None:
        answer = await _with_slots(transport, endpoint, chosen, answer, probe_timeout)
    if answer is not None:
        slots = f", {answer.slots} slots" if answer.slots else ""
        checks.append(
            DoctorCheck(name="context_window", status="yes", detail=f"{answer.tokens} tokens ({answer.field}{slots})")
        )
    else:
        checks.append(DoctorCheck(name="context_window", status="no", detail="unknown: " + "; ".join(discovery.tried)))

    root = server_root(base)
    phrase = "hello world"
    for name, url, payload, judge in (
        ("tokenize", root + "/tokenize", {"content": phrase, "prompt": phrase, "model": chosen}, judge_tokenize),
        ("embeddings", base + "/embeddings", {"model": chosen, "input": phrase}, judge_embeddings),
    ):
        try:
            with anyio.fail_after(probe_timeout):
                status, _, body = await _read(transport, probe_post(endpoint, url, payload))
        except _PROBE_ERRORS as exc:
            checks.append(DoctorCheck(name=name, status="error", detail=_why(exc)))
            continue
        checks.append(judge(status, body))

    ttft, rate, estimated = speed(answers["streaming"])
    return Diagnosis(
        base_url=base,
        model=chosen,
        checks=tuple(checks),
        context_window=None if answer is None else answer.tokens,
        window_source="unknown" if answer is None else f"{answer.field} ({answer.server})",
        slots=None if answer is None else answer.slots,
        time_to_first_token_ms=ttft,
        tokens_per_second=rate,
        tokens_per_second_estimated=estimated,
    )


async def _with_slots(
    transport: AsyncTransport, endpoint: Endpoint, model: str, answer: WindowAnswer, probe_timeout: float
) -> WindowAnswer:
    """llama.cpp's window as ``/v1/models`` said it, with the slot count ``/props`` adds."""
    probe = next(p for p in WINDOW_PROBES if p.name == "llamacpp_props")
    try:
        with anyio.fail_after(probe_timeout):
            status, _, body = await _read(transport, probe_request(probe, endpoint, model=model))
    except _PROBE_ERRORS:
        return answer
    props = parse_window(probe.name, status, body, model=model)
    if props is None or props.slots is None:
        return answer
    return attrs.evolve(answer, slots=props.slots)


# ---- the command ------------------------------------------------------------------------------


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``doctor`` to the ``anyagent`` subcommands (``commands`` is argparse's
    ``add_subparsers()`` result)."""
    doctor: argparse.ArgumentParser = commands.add_parser(
        "doctor",
        help="probe an endpoint for what it supports",
        description="Probe an OpenAI-compatible endpoint: chat, streaming, usage, native and streamed tool calls, "
        "parallel calls, forced tool_choice, reasoning, json_schema output, the context window, /tokenize, "
        "embeddings and speed; ends with the AgentOptions it recommends.",
        epilog=f"The key comes from --api-key or {ENV_API_KEY}. Exit status: 0 when the endpoint answered a "
        "chat request, 1 otherwise.",
    )
    doctor.add_argument("url", metavar="URL", type=usage.url, help="the base URL, e.g. http://localhost:8080/v1")
    doctor.add_argument(
        "--model", type=usage.non_empty("a model name"), help="the model to probe (default: the first the server lists)"
    )
    doctor.add_argument("--api-key", help=f"sent as a bearer token (better: set {ENV_API_KEY})")
    doctor.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    doctor.add_argument("--timeout", type=usage.positive_number, default=DEFAULT_TIMEOUT, help="seconds per probe (60)")
    return doctor


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``anyagent doctor`` for parsed ``args``; returns the exit status."""
    api_key = args.api_key or os.environ.get(ENV_API_KEY) or None
    try:
        diagnosis = anyio.run(_diagnose_for_cli, args.url, args.model, api_key, args.timeout)
    except (AnyAgentError, ValueError, TypeError) as exc:  # a bad URL, say
        err.write(f"anyagent doctor: error: {exc}\n")
        return 2
    if args.json:
        out.write(json.dumps(diagnosis.to_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(diagnosis.table() + "\n")
    return 0 if diagnosis.supports("chat") or diagnosis.supports("streaming") else 1


async def _diagnose_for_cli(url: str, model: str | None, api_key: str | None, probe_timeout: float) -> Diagnosis:
    return await diagnose(url, model=model, api_key=api_key, probe_timeout=probe_timeout)
