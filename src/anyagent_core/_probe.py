"""``anyagent doctor``'s probes as data: the chat requests each probe sends (``probe_turns``),
the other requests (``probe_get``, ``probe_post``), and the verdicts (``judge_*``): pure
functions of what the answers decoded to (``ProbeAnswer``), tested on recorded answers of each
server. ``Diagnosis`` gathers the verdicts, prints them (``table``, ``to_json``) and says which
``AgentOptions`` the endpoint wants (``recommend``). Sending the requests and timing them is
``anyagent_httpx.diagnose``'s; nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, TypeAlias

import attrs

from anyagent_core._config import Endpoint, redact_url
from anyagent_core._context._window import parse_token_count
from anyagent_core._events import (
    MessageComplete,
    ReasoningDelta,
    Request,
    ServerError,
    StartTurn,
    TextDelta,
    ToolCall,
    ToolCallDelta,
)
from anyagent_core._messages import ToolSpec, Usage, UserMessage

from .value import Value

__all__ = [
    "MAX_BODY",
    "Diagnosis",
    "DoctorCheck",
    "ProbeAnswer",
    "Status",
    "judge_chat",
    "judge_embeddings",
    "judge_forced_tool",
    "judge_json_schema",
    "judge_models",
    "judge_parallel",
    "judge_reasoning_field",
    "judge_streaming",
    "judge_text_tool_calls",
    "judge_tokenize",
    "judge_tool_calls",
    "probe_failure",
    "probe_get",
    "probe_post",
    "probe_turns",
    "recommend",
    "speed",
]

Status: TypeAlias = Literal["yes", "no", "error", "skipped"]
"""A check's verdict: supported, not supported, the probe failed (the detail says how), or not
probed (an earlier check made it pointless)."""

#: Largest answer body a probe reads.
MAX_BODY: Final = 4 * 1024 * 1024

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


@attrs.frozen(kw_only=True, repr=False, eq=False)
class DoctorCheck(Value):
    """One line of the diagnosis."""

    name: str
    """``reachable``, ``models``, ``chat``, ``streaming``, ``stream_usage``, ``tool_calls``,
    ``tool_calls_streamed``, ``parallel_tool_calls``, ``forced_tool_choice``,
    ``text_tool_calls``, ``reasoning_field``, ``json_schema``, ``context_window``, ``tokenize``,
    ``embeddings``."""
    status: Status
    detail: str = ""
    """What was seen, for a person: ``tiny (1 model)``, ``HTTP 404``, ``2048 tokens (/props)``."""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ProbeAnswer(Value):
    """What one chat probe received, decoded by the ``Connection``: the status, the raw body, the
    events, and when the first piece of output and the end arrived (seconds after the request,
    measured by whoever sent it)."""

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
        """The error the server reported, in the body or as the answer's end."""
        found = next((e for e in self.events if isinstance(e, ServerError)), None)
        complete = self.complete
        return found if found is not None else (complete.error if complete is not None else None)

    @property
    def text(self) -> str:
        """The answer's text (the deltas', when it did not complete)."""
        complete = self.complete
        if complete is not None:
            return complete.message.text
        return "".join(e.text for e in self.events if isinstance(e, TextDelta))

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The assembled (native) tool calls."""
        return tuple(e for e in self.events if isinstance(e, ToolCall))

    @property
    def usage(self) -> Usage | None:
        """The last usage the answer reported."""
        return next((e for e in reversed(self.events) if isinstance(e, Usage)), None)


def probe_failure(answer: ProbeAnswer) -> str | None:
    """Why a probe got no usable answer (an error status, an error in the body, a malformed
    body), or None when it got one."""
    if answer.error is not None:
        return answer.error
    error = answer.server_error
    if error is not None or not 200 <= answer.status < 300:
        message = error.message if error is not None else ""
        return f"HTTP {answer.status}" + (f": {_short(message)}" if message else "")
    return None


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- verdicts: pure functions of what was received --------------------------------------------


def judge_chat(answer: ProbeAnswer) -> DoctorCheck:
    """A whole (``stream: false``) answer with text or a finish."""
    failed = probe_failure(answer)
    if failed is not None:
        return DoctorCheck(name="chat", status="no", detail=failed)
    if answer.complete is None:
        return DoctorCheck(name="chat", status="no", detail="no answer in the body")
    return DoctorCheck(name="chat", status="yes", detail=repr(_short(answer.text, 40)))


def judge_streaming(answer: ProbeAnswer) -> tuple[DoctorCheck, DoctorCheck]:
    """``stream: true``: an SSE stream of deltas; and whether it carried usage
    (``stream_options.include_usage`` was asked for)."""
    failed = probe_failure(answer)
    if failed is not None:
        return (
            DoctorCheck(name="streaming", status="no", detail=failed),
            DoctorCheck(name="stream_usage", status="skipped", detail="no stream"),
        )
    deltas = sum(1 for e in answer.events if isinstance(e, TextDelta | ReasoningDelta))
    if "event-stream" not in answer.content_type:
        streaming = DoctorCheck(name="streaming", status="no", detail=f"a whole answer ({answer.content_type or '?'})")
    elif answer.complete is not None and answer.complete.truncated:
        streaming = DoctorCheck(name="streaming", status="no", detail=f"the stream stopped early ({deltas} deltas)")
    else:
        done = "" if answer.complete is None or answer.complete.done_received else ", no [DONE]"
        streaming = DoctorCheck(name="streaming", status="yes", detail=f"{deltas} deltas{done}")
    usage = answer.usage
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


def judge_tool_calls(answer: ProbeAnswer, *, streamed: bool) -> DoctorCheck:
    """A native ``get_weather`` call (in ``tool_calls``, not in the text); for a stream, whether
    the arguments came in fragments or whole."""
    name = "tool_calls_streamed" if streamed else "tool_calls"
    failed = probe_failure(answer)
    if failed is not None:
        return DoctorCheck(name=name, status="no", detail=failed)
    calls = answer.tool_calls
    if not calls:
        said = "the call came as text" if _TEXT_CALL.search(answer.text) else "no tool call"
        return DoctorCheck(name=name, status="no", detail=said)
    call = calls[0]
    arguments = "valid arguments" if call.error is None else f"unusable arguments ({_short(call.error, 40)})"
    detail = f"{call.name} with {arguments}"
    if streamed:
        fragments = sum(1 for e in answer.events if isinstance(e, ToolCallDelta) and e.arguments)
        detail += ", whole in one delta" if fragments <= 1 else f", arguments in {fragments} fragments"
    return DoctorCheck(name=name, status="yes" if call.error is None else "no", detail=detail)


def judge_parallel(answer: ProbeAnswer) -> DoctorCheck:
    """Two or more calls in one answer."""
    failed = probe_failure(answer)
    if failed is not None:
        return DoctorCheck(name="parallel_tool_calls", status="no", detail=failed)
    count = len(answer.tool_calls)
    if count >= 2:
        return DoctorCheck(name="parallel_tool_calls", status="yes", detail=f"{count} calls in one answer")
    return DoctorCheck(name="parallel_tool_calls", status="no", detail=f"{count} call{'s' if count != 1 else ''}")


def judge_forced_tool(answer: ProbeAnswer) -> DoctorCheck:
    """``tool_choice`` naming ``get_weather`` on a prompt that asks for no tool: honoured when
    the answer is that call, natively."""
    failed = probe_failure(answer)
    if failed is not None:
        return DoctorCheck(name="forced_tool_choice", status="no", detail=failed)
    calls = [call for call in answer.tool_calls if call.name == _WEATHER.name]
    if calls:
        return DoctorCheck(name="forced_tool_choice", status="yes", detail="the named tool was called")
    return DoctorCheck(
        name="forced_tool_choice", status="no", detail="ignored: " + ("text" if answer.text else "no call")
    )


def judge_text_tool_calls(answers: Sequence[ProbeAnswer]) -> DoctorCheck:
    """Whether the model wrote tool calls as text (``<tool_call>``...) in answers that offered
    tools: what tool-call emulation is for."""
    texts = [e.text for e in answers if probe_failure(e) is None]
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


def judge_reasoning_field(answers: Sequence[ProbeAnswer]) -> DoctorCheck:
    """The field the server puts reasoning in (``reasoning_content`` or ``reasoning``), as seen
    with a value in the answers; ``<think>`` in the text when the server leaves it there."""
    for answer in answers:
        if not any(isinstance(e, ReasoningDelta) for e in answer.events):
            continue
        for key in _REASONING_KEYS:
            if re.search(re.escape(key) + rb'\s*:\s*"[^"]', answer.body):
                return DoctorCheck(name="reasoning_field", status="yes", detail=key.decode().strip('"'))
        return DoctorCheck(name="reasoning_field", status="yes", detail="reasoning seen")
    if any("<think>" in e.text for e in answers):
        return DoctorCheck(name="reasoning_field", status="yes", detail="<think> in the text")
    return DoctorCheck(name="reasoning_field", status="no", detail="no reasoning seen (not a reasoning model?)")


def judge_json_schema(answer: ProbeAnswer) -> DoctorCheck:
    """``response_format: json_schema``: the answer is JSON that fits the schema."""
    failed = probe_failure(answer)
    if failed is not None:
        return DoctorCheck(name="json_schema", status="no", detail=failed)
    text = answer.text.strip()
    try:
        value = json.loads(text)
    except ValueError:
        return DoctorCheck(name="json_schema", status="no", detail=f"not JSON: {_short(text, 40)!r}")
    if isinstance(value, dict) and isinstance(value.get("ok"), bool) and set(value) == {"ok"}:
        return DoctorCheck(name="json_schema", status="yes", detail=json.dumps(value))
    return DoctorCheck(name="json_schema", status="no", detail=f"JSON outside the schema: {_short(text, 40)}")


def judge_tokenize(status: int, body: bytes) -> DoctorCheck:
    count = parse_token_count(status, body)
    if count is None:
        return DoctorCheck(name="tokenize", status="no", detail=f"HTTP {status}" if status != 200 else "no count")
    return DoctorCheck(name="tokenize", status="yes", detail=f"'hello world' is {count} tokens")


def judge_embeddings(status: int, body: bytes) -> DoctorCheck:
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


def judge_models(status: int, body: bytes) -> tuple[DoctorCheck, list[str]]:
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


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Diagnosis(Value):
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
        if any(c.name == "reachable" and c.status == "no" for c in self.checks):
            lines.append("Nothing to recommend: the server was not reached.")
            return "\n".join(lines)
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


def probe_get(endpoint: Endpoint, url: str) -> Request:
    """A GET of ``url`` with the endpoint's key and headers."""
    headers = [("Accept", "application/json")]
    if endpoint.api_key:
        headers.append(("Authorization", f"Bearer {endpoint.api_key}"))
    return Request(method="GET", url=url, headers=(*headers, *endpoint.headers), body=b"")


def probe_post(endpoint: Endpoint, url: str, payload: Mapping[str, Any]) -> Request:
    """A JSON POST of ``payload`` to ``url`` with the endpoint's key and headers."""
    get = probe_get(endpoint, url)
    headers = (*get.headers, ("Content-Type", "application/json"))
    return Request(method="POST", url=url, headers=headers, body=json.dumps(payload).encode())


def speed(answer: ProbeAnswer) -> tuple[float | None, float | None, bool]:
    """Time to the first token (ms) and tokens per second after it, from the streamed probe."""
    if answer.first_output is None or probe_failure(answer) is not None:
        return None, None, False
    ttft = answer.first_output * 1000
    usage = answer.usage
    estimated = usage is None or usage.completion_tokens is None
    tokens = max(1, round(len(answer.text) / 4)) if estimated else (usage.completion_tokens or 0)  # type: ignore[union-attr]
    span = answer.elapsed - answer.first_output
    if span <= 0 or tokens <= 1:
        return ttft, None, estimated
    return ttft, (tokens - 1) / span, estimated
