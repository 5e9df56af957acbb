"""``anyagent doctor URL``: what an endpoint supports, probed and judged.

``await diagnose(base_url, model=...)`` sends a short series of requests and returns a
``Diagnosis``: one ``DoctorCheck`` per feature (reachable, models, chat, streaming, usage in the
stream, native tool calls whole and streamed, parallel calls, a forced ``tool_choice``, tool
calls written as text, the reasoning field, ``json_schema`` output, the context window,
``/tokenize``, ``/v1/embeddings``), the time to the first token and the tokens per second, and
the ``AgentOptions`` it recommends (``tool_mode``, ``output_mode``, ``context_window``).

The module keeps the two halves apart: the probes (``probe_turns``: the chat request each one
sends, built by the core's writer) and the verdicts (``judge_*``: pure functions of what was
decoded, tested on recorded answers) know nothing of I/O; ``diagnose`` only sends the requests
and times them. Every probe is bounded (``probe_timeout`` seconds, ``MAX_BODY`` bytes), and a failure
of one probe is that probe's verdict, never an exception out of ``diagnose``. The key is sent
only as a bearer header and never appears in a verdict.

The command (``add_parser``/``run``) prints the table, or the diagnosis as JSON with ``--json``;
it exits 0 when the endpoint answered a chat request, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, TextIO, TypeAlias

import anyio
import attrs

from anyagent_core import (
    NEED_DATA,
    PAUSED,
    Connection,
    Endpoint,
    MessageComplete,
    ReasoningDelta,
    RemoteProtocolError,
    Request,
    ServerError,
    StartTurn,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
    Usage,
    UserMessage,
)
from anyagent_core.context import (
    WINDOW_PROBES,
    WindowAnswer,
    parse_token_count,
    parse_window,
    probe_request,
    server_root,
)
from anyagent_core.wire import redact_url

from ._context import discover_window
from ._errors import AnyAgentError, APIConnectionError, APITimeoutError
from ._options import ENV_API_KEY
from ._transports import AsyncTransport, HttpxTransport

__all__ = [
    "MAX_BODY",
    "probe_turns",
    "DoctorCheck",
    "Diagnosis",
    "Exchange",
    "Status",
    "add_parser",
    "diagnose",
    "judge_chat",
    "judge_forced_tool",
    "judge_json_schema",
    "judge_parallel",
    "judge_reasoning_field",
    "judge_streaming",
    "judge_text_tool_calls",
    "judge_tool_calls",
    "recommend",
    "run",
]

Status: TypeAlias = Literal["yes", "no", "error", "skipped"]
"""A check's verdict: supported, not supported, the probe failed (the detail says how), or not
probed (an earlier check made it pointless)."""

#: Largest answer body a probe reads.
MAX_BODY: Final = 4 * 1024 * 1024

#: How long one probe may take by default (a cold model may need a while to load).
DEFAULT_TIMEOUT: Final = 60.0

_WEATHER = ToolSpec(
    name="get_weather",
    description="The current weather in a city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string", "enum": ["Paris", "London"]}},
        "required": ["city"],
    },
)

_SCHEMA: Final[dict[str, Any]] = {
    "type": "json_schema",
    "json_schema": {
        "name": "answer",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"ok": {"type": "boolean"}},
            "required": ["ok"],
            "additionalProperties": False,
        },
    },
}


def _turn(model: str, prompt: str, **fields: Any) -> StartTurn:
    return StartTurn(model=model, messages=[UserMessage(content=prompt)], max_tokens=64, temperature=0.0, **fields)


def probe_turns(model: str) -> dict[str, StartTurn]:
    """The chat requests of the probes, by name, for ``model``."""
    weather = "What is the weather in Paris? Use the get_weather tool."
    return {
        "chat": _turn(model, "Say hello.", stream=False),
        "streaming": _turn(model, "Say hello.", stream=True, include_usage=True),
        "tools": _turn(model, weather, stream=False, tools=(_WEATHER,), tool_choice="auto"),
        "tools_streamed": _turn(model, weather, stream=True, tools=(_WEATHER,), tool_choice="auto"),
        "parallel": _turn(
            model,
            "What is the weather in Paris and in London? Call get_weather once for each city.",
            stream=False,
            tools=(_WEATHER,),
            tool_choice="auto",
            parallel_tool_calls=True,
        ),
        "forced_tool": _turn(model, "Say hello.", stream=False, tools=(_WEATHER,), tool_choice="get_weather"),
        "json_schema": _turn(model, 'Answer {"ok": true} as JSON.', stream=False, response_format=_SCHEMA),
    }


@attrs.frozen(kw_only=True)
class DoctorCheck:
    """One line of the diagnosis."""

    name: str
    """``reachable``, ``models``, ``chat``, ``streaming``, ``stream_usage``, ``tool_calls``,
    ``tool_calls_streamed``, ``parallel_tool_calls``, ``forced_tool_choice``,
    ``text_tool_calls``, ``reasoning_field``, ``json_schema``, ``context_window``, ``tokenize``,
    ``embeddings``."""
    status: Status
    detail: str = ""
    """What was seen, for a person: ``tiny (1 model)``, ``HTTP 404``, ``2048 tokens (/props)``."""


@attrs.frozen(kw_only=True)
class Exchange:
    """What one chat probe received, decoded by the core: the status, the raw body, the events,
    and when the first piece of output and the end arrived (seconds after the request)."""

    status: int
    body: bytes = attrs.field(repr=False)
    events: tuple[object, ...]
    content_type: str = ""
    first_output: float | None = None
    elapsed: float = 0.0
    error: str | None = None
    """The body could not be decoded (a protocol violation), said here."""

    @property
    def complete(self) -> MessageComplete | None:
        """The ``MessageComplete`` event, when the answer got that far."""
        return next((e for e in reversed(self.events) if isinstance(e, MessageComplete)), None)

    @property
    def server_error(self) -> ServerError | None:
        found = next((e for e in self.events if isinstance(e, ServerError)), None)
        complete = self.complete
        return found if found is not None else (complete.error if complete is not None else None)

    @property
    def text(self) -> str:
        complete = self.complete
        if complete is not None:
            return complete.message.text
        return "".join(e.text for e in self.events if isinstance(e, TextDelta))

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(e for e in self.events if isinstance(e, ToolCall))

    @property
    def usage(self) -> Usage | None:
        return next((e for e in reversed(self.events) if isinstance(e, Usage)), None)


def _failure(exchange: Exchange) -> str | None:
    """Why an exchange gave no answer at all, or None when it did."""
    if exchange.error is not None:
        return exchange.error
    error = exchange.server_error
    if error is not None or not 200 <= exchange.status < 300:
        message = error.message if error is not None else ""
        return f"HTTP {exchange.status}" + (f": {_short(message)}" if message else "")
    return None


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- verdicts: pure functions of what was received --------------------------------------------


def judge_chat(exchange: Exchange) -> DoctorCheck:
    """A whole (``stream: false``) answer with text or a finish."""
    failed = _failure(exchange)
    if failed is not None:
        return DoctorCheck(name="chat", status="no", detail=failed)
    if exchange.complete is None:
        return DoctorCheck(name="chat", status="no", detail="no answer in the body")
    return DoctorCheck(name="chat", status="yes", detail=repr(_short(exchange.text, 40)))


def judge_streaming(exchange: Exchange) -> tuple[DoctorCheck, DoctorCheck]:
    """``stream: true``: an SSE stream of deltas; and whether it carried usage
    (``stream_options.include_usage`` was asked for)."""
    failed = _failure(exchange)
    if failed is not None:
        return (
            DoctorCheck(name="streaming", status="no", detail=failed),
            DoctorCheck(name="stream_usage", status="skipped", detail="no stream"),
        )
    deltas = sum(1 for e in exchange.events if isinstance(e, TextDelta | ReasoningDelta))
    if "event-stream" not in exchange.content_type:
        streaming = DoctorCheck(
            name="streaming", status="no", detail=f"a whole answer ({exchange.content_type or '?'})"
        )
    elif exchange.complete is not None and exchange.complete.truncated:
        streaming = DoctorCheck(name="streaming", status="no", detail=f"the stream stopped early ({deltas} deltas)")
    else:
        done = "" if exchange.complete is None or exchange.complete.done_received else ", no [DONE]"
        streaming = DoctorCheck(name="streaming", status="yes", detail=f"{deltas} deltas{done}")
    usage = exchange.usage
    if usage is None:
        used = DoctorCheck(name="stream_usage", status="no", detail="no usage chunk (tokens will be estimated)")
    else:
        used = DoctorCheck(
            name="stream_usage",
            status="yes",
            detail=f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens",
        )
    return streaming, used


_TEXT_CALL = re.compile(r"<tool_call>|<\|python_tag\|>|\[TOOL_CALLS\]|<function[=>]|\"name\"\s*:\s*\"get_weather\"")


def judge_tool_calls(exchange: Exchange, *, streamed: bool) -> DoctorCheck:
    """A native ``get_weather`` call (in ``tool_calls``, not in the text); for a stream, whether
    the arguments came in fragments or whole."""
    name = "tool_calls_streamed" if streamed else "tool_calls"
    failed = _failure(exchange)
    if failed is not None:
        return DoctorCheck(name=name, status="no", detail=failed)
    calls = exchange.tool_calls
    if not calls:
        said = "the call came as text" if _TEXT_CALL.search(exchange.text) else "no tool call"
        return DoctorCheck(name=name, status="no", detail=said)
    call = calls[0]
    arguments = "valid arguments" if call.error is None else f"unusable arguments ({_short(call.error, 40)})"
    detail = f"{call.name} with {arguments}"
    if streamed:
        fragments = sum(1 for e in exchange.events if isinstance(e, ToolCallDelta) and e.arguments)
        detail += ", whole in one delta" if fragments <= 1 else f", arguments in {fragments} fragments"
    return DoctorCheck(name=name, status="yes" if call.error is None else "no", detail=detail)


def judge_parallel(exchange: Exchange) -> DoctorCheck:
    """Two or more calls in one answer."""
    failed = _failure(exchange)
    if failed is not None:
        return DoctorCheck(name="parallel_tool_calls", status="no", detail=failed)
    count = len(exchange.tool_calls)
    if count >= 2:
        return DoctorCheck(name="parallel_tool_calls", status="yes", detail=f"{count} calls in one answer")
    return DoctorCheck(name="parallel_tool_calls", status="no", detail=f"{count} call{'s' if count != 1 else ''}")


def judge_forced_tool(exchange: Exchange) -> DoctorCheck:
    """``tool_choice`` naming ``get_weather`` on a prompt that asks for no tool: honoured when
    the answer is that call, natively."""
    failed = _failure(exchange)
    if failed is not None:
        return DoctorCheck(name="forced_tool_choice", status="no", detail=failed)
    calls = [call for call in exchange.tool_calls if call.name == _WEATHER.name]
    if calls:
        return DoctorCheck(name="forced_tool_choice", status="yes", detail="the named tool was called")
    return DoctorCheck(
        name="forced_tool_choice", status="no", detail="ignored: " + ("text" if exchange.text else "no call")
    )


def judge_text_tool_calls(exchanges: Sequence[Exchange]) -> DoctorCheck:
    """Whether the model wrote tool calls as text (``<tool_call>``...) in answers that offered
    tools: what tool-call emulation is for."""
    texts = [e.text for e in exchanges if _failure(e) is None]
    if not texts:
        return DoctorCheck(name="text_tool_calls", status="skipped", detail="no answer with tools offered")
    written = [t for t in texts if _TEXT_CALL.search(t)]
    if written:
        marker = _TEXT_CALL.search(written[0])
        shown = marker.group(0) if marker else "?"
        return DoctorCheck(
            name="text_tool_calls", status="yes", detail=f"{len(written)} of {len(texts)} answers ({shown})"
        )
    return DoctorCheck(name="text_tool_calls", status="no", detail=f"none in {len(texts)} answers")


_REASONING_KEYS = (b'"reasoning_content"', b'"reasoning"', b'"thinking"')


def judge_reasoning_field(exchanges: Sequence[Exchange]) -> DoctorCheck:
    """The field the server puts reasoning in (``reasoning_content`` or ``reasoning``), as seen
    with a value in the answers; ``<think>`` in the text when the server leaves it there."""
    for exchange in exchanges:
        if not any(isinstance(e, ReasoningDelta) for e in exchange.events):
            continue
        for key in _REASONING_KEYS:
            if re.search(re.escape(key) + rb'\s*:\s*"[^"]', exchange.body):
                return DoctorCheck(name="reasoning_field", status="yes", detail=key.decode().strip('"'))
        return DoctorCheck(name="reasoning_field", status="yes", detail="reasoning seen")
    if any("<think>" in e.text for e in exchanges):
        return DoctorCheck(name="reasoning_field", status="yes", detail="<think> in the text")
    return DoctorCheck(name="reasoning_field", status="no", detail="no reasoning seen (not a reasoning model?)")


def judge_json_schema(exchange: Exchange) -> DoctorCheck:
    """``response_format: json_schema``: the answer is JSON that fits the schema."""
    failed = _failure(exchange)
    if failed is not None:
        return DoctorCheck(name="json_schema", status="no", detail=failed)
    text = exchange.text.strip()
    try:
        value = json.loads(text)
    except ValueError:
        return DoctorCheck(name="json_schema", status="no", detail=f"not JSON: {_short(text, 40)!r}")
    if isinstance(value, dict) and isinstance(value.get("ok"), bool) and set(value) == {"ok"}:
        return DoctorCheck(name="json_schema", status="yes", detail=json.dumps(value))
    return DoctorCheck(name="json_schema", status="no", detail=f"JSON outside the schema: {_short(text, 40)}")


def _judge_tokenize(status: int, body: bytes) -> DoctorCheck:
    count = parse_token_count(status, body)
    if count is None:
        return DoctorCheck(name="tokenize", status="no", detail=f"HTTP {status}" if status != 200 else "no count")
    return DoctorCheck(name="tokenize", status="yes", detail=f"'hello world' is {count} tokens")


def _judge_embeddings(status: int, body: bytes) -> DoctorCheck:
    if not 200 <= status < 300:
        return DoctorCheck(name="embeddings", status="no", detail=f"HTTP {status}")
    try:
        document = json.loads(body)
        vector = document["data"][0]["embedding"]
    except (ValueError, KeyError, IndexError, TypeError):
        return DoctorCheck(name="embeddings", status="no", detail="no embedding in the answer")
    if not isinstance(vector, list) or not vector:
        return DoctorCheck(name="embeddings", status="no", detail="an empty embedding")
    return DoctorCheck(name="embeddings", status="yes", detail=f"{len(vector)} dimensions")


def _judge_models(status: int, body: bytes) -> tuple[DoctorCheck, list[str]]:
    if not 200 <= status < 300:
        return DoctorCheck(name="models", status="no", detail=f"HTTP {status}"), []
    try:
        document = json.loads(body)
    except ValueError:
        return DoctorCheck(name="models", status="no", detail="not JSON"), []
    items = document.get("data") if isinstance(document, Mapping) else None
    if not isinstance(items, list):
        return DoctorCheck(name="models", status="no", detail="no data list"), []
    names = [item["id"] for item in items if isinstance(item, Mapping) and isinstance(item.get("id"), str)]
    if not names:
        return DoctorCheck(name="models", status="no", detail="an empty list"), []
    shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    return DoctorCheck(
        name="models", status="yes", detail=f"{shown} ({len(names)} model{'s' if len(names) > 1 else ''})"
    ), names


# ---- the diagnosis ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Diagnosis:
    """What ``diagnose`` found about one endpoint and model."""

    base_url: str = attrs.field(converter=redact_url)
    """The endpoint, with any credentials in it removed."""
    model: str | None
    """The model probed: the one asked for, else the first the server listed."""
    checks: tuple[DoctorCheck, ...]
    context_window: int | None = None
    window_source: str = "unknown"
    """Where the window was read: ``default_generation_settings.n_ctx (/props)``, ..."""
    slots: int | None = None
    """llama.cpp: how many requests share the window."""
    time_to_first_token_ms: float | None = None
    tokens_per_second: float | None = None
    tokens_per_second_estimated: bool = False
    """No usage came with the stream: the rate counts the characters / 4."""

    def check(self, name: str) -> DoctorCheck | None:
        """The check called ``name``, if it was made."""
        return next((c for c in self.checks if c.name == name), None)

    def supports(self, name: str) -> bool:
        found = self.check(name)
        return found is not None and found.status == "yes"

    @property
    def recommended(self) -> dict[str, Any]:
        """The ``AgentOptions`` fields this endpoint wants (see ``recommend``)."""
        return recommend(self)

    def to_json(self) -> dict[str, Any]:
        """The diagnosis as JSON-ready data."""
        return {
            "base_url": self.base_url,
            "model": self.model,
            "checks": {c.name: {"status": c.status, "detail": c.detail} for c in self.checks},
            "context_window": self.context_window,
            "window_source": self.window_source,
            "slots": self.slots,
            "time_to_first_token_ms": self.time_to_first_token_ms,
            "tokens_per_second": self.tokens_per_second,
            "tokens_per_second_estimated": self.tokens_per_second_estimated,
            "recommended": self.recommended,
        }

    def table(self) -> str:
        """The diagnosis as a table a person reads at a glance, ending with the options."""
        marks = {"yes": "yes", "no": "no", "error": "ERROR", "skipped": "-"}
        lines = [f"anyagent doctor: {self.base_url}" + (f" (model {self.model})" if self.model else "")]
        width = max(len(_LABELS.get(c.name, c.name)) for c in self.checks) if self.checks else 10
        for c in self.checks:
            lines.append(f"  {_LABELS.get(c.name, c.name):<{width}}  {marks[c.status]:<5}  {c.detail}".rstrip())
        if self.time_to_first_token_ms is not None:
            lines.append(f"  {'time to first token':<{width}}         {self.time_to_first_token_ms:.0f} ms")
        if self.tokens_per_second is not None:
            estimated = " (estimated: no usage)" if self.tokens_per_second_estimated else ""
            lines.append(f"  {'tokens per second':<{width}}         {self.tokens_per_second:.1f}{estimated}")
        fields = ", ".join(f"{key}={value!r}" for key, value in self.recommended.items())
        lines.append(f"Recommended: AgentOptions({fields})")
        return "\n".join(lines)


_LABELS = {
    "reachable": "reachable",
    "models": "models",
    "chat": "chat",
    "streaming": "streaming",
    "stream_usage": "usage in the stream",
    "tool_calls": "native tool calls",
    "tool_calls_streamed": "streamed tool calls",
    "parallel_tool_calls": "parallel tool calls",
    "forced_tool_choice": "forced tool_choice",
    "text_tool_calls": "tool calls as text",
    "reasoning_field": "reasoning field",
    "json_schema": "json_schema output",
    "context_window": "context window",
    "tokenize": "/tokenize",
    "embeddings": "/v1/embeddings",
}


def recommend(diagnosis: Diagnosis) -> dict[str, Any]:
    """``tool_mode``: ``native`` when native calls work (whole or streamed), ``emulated`` when the
    server answered but not with native calls; ``output_mode``: ``json_schema`` when it held,
    else ``prompt``; ``context_window``: the window found (None: leave it to discovery)."""
    native = diagnosis.supports("tool_calls") or diagnosis.supports("tool_calls_streamed")
    answered = diagnosis.supports("chat") or diagnosis.supports("streaming")
    tool_mode = "native" if native else ("emulated" if answered else "auto")
    output_mode = "json_schema" if diagnosis.supports("json_schema") else "prompt"
    return {"tool_mode": tool_mode, "output_mode": output_mode, "context_window": diagnosis.context_window}


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


async def _chat(transport: AsyncTransport, endpoint: Endpoint, turn: StartTurn, probe_timeout: float) -> Exchange:
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
        return Exchange(
            status=status, body=b"".join(body), events=tuple(events), content_type=content_type, error=error
        )
    return Exchange(
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


def _get(endpoint: Endpoint, url: str) -> Request:
    headers = [("Accept", "application/json")]
    if endpoint.api_key:
        headers.append(("Authorization", f"Bearer {endpoint.api_key}"))
    return Request(method="GET", url=url, headers=(*headers, *endpoint.headers), body=b"")


def _post(endpoint: Endpoint, url: str, payload: Mapping[str, Any]) -> Request:
    get = _get(endpoint, url)
    headers = (*get.headers, ("Content-Type", "application/json"))
    return Request(method="POST", url=url, headers=headers, body=json.dumps(payload).encode())


def _why(exc: BaseException) -> str:
    """A failure as one line that never carries the key (our errors redact URLs already)."""
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return f"{type(exc).__name__}: {_short(str(exc))}"


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
            status, _, body = await _read(transport, _get(endpoint, base + "/models"))
    except _PROBE_ERRORS as exc:
        checks.append(DoctorCheck(name="reachable", status="no", detail=_why(exc)))
        return Diagnosis(base_url=base, model=model, checks=tuple(checks))
    checks.append(DoctorCheck(name="reachable", status="yes", detail=f"HTTP {status} from /models"))
    listed, names = _judge_models(status, body)
    checks.append(listed)
    chosen = model or (names[0] if names else None)
    if chosen is None:
        checks.append(DoctorCheck(name="chat", status="skipped", detail="no model: pass --model NAME"))
        return Diagnosis(base_url=base, model=None, checks=tuple(checks))

    exchanges: dict[str, Exchange] = {}
    for name, turn in probe_turns(chosen).items():
        for attempt in range(2):
            try:
                exchanges[name] = await _chat(transport, endpoint, turn, probe_timeout)
            except APIConnectionError as exc:  # a pooled connection the server had closed: once more
                exchanges[name] = Exchange(status=0, body=b"", events=(), error=_why(exc))
                if attempt == 0 and not isinstance(exc, APITimeoutError):
                    continue
            except _PROBE_ERRORS as exc:
                exchanges[name] = Exchange(status=0, body=b"", events=(), error=_why(exc))
            break
    checks.append(judge_chat(exchanges["chat"]))
    checks.extend(judge_streaming(exchanges["streaming"]))
    checks.append(judge_tool_calls(exchanges["tools"], streamed=False))
    checks.append(judge_tool_calls(exchanges["tools_streamed"], streamed=True))
    checks.append(judge_parallel(exchanges["parallel"]))
    checks.append(judge_forced_tool(exchanges["forced_tool"]))
    tooled = [exchanges[n] for n in ("tools", "tools_streamed", "parallel")]
    checks.append(judge_text_tool_calls(tooled))
    checks.append(judge_reasoning_field(list(exchanges.values())))
    checks.append(judge_json_schema(exchanges["json_schema"]))

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
        ("tokenize", root + "/tokenize", {"content": phrase, "prompt": phrase, "model": chosen}, _judge_tokenize),
        ("embeddings", base + "/embeddings", {"model": chosen, "input": phrase}, _judge_embeddings),
    ):
        try:
            with anyio.fail_after(probe_timeout):
                status, _, body = await _read(transport, _post(endpoint, url, payload))
        except _PROBE_ERRORS as exc:
            checks.append(DoctorCheck(name=name, status="error", detail=_why(exc)))
            continue
        checks.append(judge(status, body))

    ttft, rate, estimated = _speed(exchanges["streaming"])
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


def _speed(exchange: Exchange) -> tuple[float | None, float | None, bool]:
    """Time to the first token (ms) and tokens per second after it, from the streamed probe."""
    if exchange.first_output is None or _failure(exchange) is not None:
        return None, None, False
    ttft = exchange.first_output * 1000
    usage = exchange.usage
    estimated = usage is None or usage.completion_tokens is None
    tokens = max(1, round(len(exchange.text) / 4)) if estimated else (usage.completion_tokens or 0)  # type: ignore[union-attr]
    span = exchange.elapsed - exchange.first_output
    if span <= 0 or tokens <= 1:
        return ttft, None, estimated
    return ttft, (tokens - 1) / span, estimated


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
    doctor.add_argument("url", metavar="URL", help="the base URL, e.g. http://localhost:8080/v1")
    doctor.add_argument("--model", help="the model to probe (default: the first the server lists)")
    doctor.add_argument("--api-key", help=f"sent as a bearer token (better: set {ENV_API_KEY})")
    doctor.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    doctor.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per probe (60)")
    return doctor


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``anyagent doctor`` for parsed ``args``; returns the exit status."""
    api_key = args.api_key or os.environ.get(ENV_API_KEY) or None
    if args.timeout <= 0:
        err.write("anyagent doctor: error: --timeout must be positive\n")
        return 2
    try:
        diagnosis = anyio.run(_diagnose_for_cli, args.url, args.model, api_key, args.timeout)
    except (AnyAgentError, ValueError, TypeError) as exc:  # a bad URL, say
        err.write(f"anyagent doctor: error: {type(exc).__name__}: {exc}\n")
        return 2
    if args.json:
        out.write(json.dumps(diagnosis.to_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(diagnosis.table() + "\n")
    return 0 if diagnosis.supports("chat") or diagnosis.supports("streaming") else 1


async def _diagnose_for_cli(url: str, model: str | None, api_key: str | None, probe_timeout: float) -> Diagnosis:
    return await diagnose(url, model=model, api_key=api_key, probe_timeout=probe_timeout)
