"""``OpenTelemetryObserver``: spans for runs, requests and tools, following the OpenTelemetry
GenAI semantic conventions, made from what the observer seam tells.

The spans, and how they nest::

    invoke_agent [{agent}]          INTERNAL  one per run (receive_response())
    ├── chat {model}                CLIENT    one per request attempt (retries are siblings)
    ├── execute_tool {name}         INTERNAL  one per tool call (concurrent calls side by side)
    │   └── invoke_agent {subagent}           a subagent's run, inside its ``task`` call
    │       └── chat {model} ...
    └── events: anyagent.retry, anyagent.compaction

A run's span is a child of whatever span is current where the run starts, so a run inside your
own ``with tracer.start_as_current_span(...)`` nests under it. While a tool runs its span is the
current one, so spans your tool makes (an instrumented HTTP call, a database query) nest under
``execute_tool``. Requests and tools are parented explicitly to their run's span, never through
the ambient context, so concurrent tool calls, concurrent runs and subagents never cross.

``opentelemetry-api`` is imported when the observer is made, never before (the ``otel`` extra).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from anyagent_core import (
    ResultMessage,
    SendRequest,
    ToolResultBlock,
    ToolUseBlock,
    Usage,
    Wait,
    __version__,
)
from anyagent_httpx._attempt import Interrupted
from anyagent_httpx._logging import Scrubber
from anyagent_httpx._observe import AttemptInfo, Observer, RunInfo

from . import _content

if TYPE_CHECKING:
    from collections.abc import Mapping
    from contextvars import Token

    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer, TracerProvider

__all__ = ["CAPTURE_CONTENT_ENV", "OpenTelemetryObserver", "provider_name"]

#: The environment variable the GenAI instrumentations read for content capture (``true``/``false``).
CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

#: The GenAI conventions' well-known provider names, by API host.
_HOSTS = {
    "api.openai.com": "openai",
    "api.deepseek.com": "deepseek",
    "api.groq.com": "groq",
    "api.mistral.ai": "mistral_ai",
    "api.x.ai": "x_ai",
    "api.perplexity.ai": "perplexity",
    "api.anthropic.com": "anthropic",
    "generativelanguage.googleapis.com": "gcp.gemini",
}


def provider_name(base_url: str, provider: str | None = None) -> str:
    """``gen_ai.provider.name`` for an endpoint: the well-known name of its host (``openai``,
    ``groq``, ``gcp.gemini``, ...), else ``AgentOptions.provider`` (``ollama``, ``lmstudio``,
    ``llamacpp``, ``vllm``), else ``openai``: every endpoint anyagent talks to speaks OpenAI's
    chat-completions API, and ``server.address`` says which server it was."""
    host = (urlsplit(base_url).hostname or "").lower()
    if host in _HOSTS:
        return _HOSTS[host]
    if host.endswith(".openai.azure.com"):
        return "azure.ai.openai"
    return provider or "openai"


def _server(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if not parts.hostname:
        return {}
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {"server.address": parts.hostname, "server.port": port}


def _usage(usage: Usage | None) -> dict[str, Any]:
    if usage is None:
        return {}
    found = {
        "gen_ai.usage.input_tokens": usage.prompt_tokens,
        "gen_ai.usage.output_tokens": usage.completion_tokens,
        "gen_ai.usage.cache_read.input_tokens": usage.cached_tokens,
        "gen_ai.usage.reasoning.output_tokens": usage.reasoning_tokens,
    }
    return {key: value for key, value in found.items() if value is not None}


def _capture_default() -> bool:
    return os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class OpenTelemetryObserver(Observer):
    """Traces runs as OpenTelemetry spans (GenAI semantic conventions); pass it in
    ``AgentOptions(observers=[OpenTelemetryObserver()])``. One observer serves any number of
    clients and concurrent runs.

    ``tracer_provider``: where the spans go (None: the global one, ``trace.set_tracer_provider``).
    ``capture_content``: also record the messages sent and received, the system prompt, tool
    definitions, tool arguments and results (``gen_ai.input.messages``, ...), as JSON strings;
    they may hold personal or secret data, so it is off unless asked for (None: read
    ``$OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``). ``content_limit``: the most
    characters kept of each such value. ``agent_name``: ``gen_ai.agent.name`` of the main
    agent (subagents are named by their ``agents=`` key). ``provider``: ``gen_ai.provider.name``
    (None: ``provider_name()`` of the endpoint).

    Raises ``ImportError`` saying what to install when ``opentelemetry-api`` is missing.
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        capture_content: bool | None = None,
        content_limit: int | None = 64_000,
        agent_name: str | None = None,
        provider: str | None = None,
    ) -> None:
        try:
            from opentelemetry import context, trace
        except ImportError as exc:  # pragma: no cover - the extra is installed in the test group
            raise ImportError("OpenTelemetryObserver needs opentelemetry-api: pip install 'anyagent[otel]'") from exc
        if content_limit is not None and (type(content_limit) is not int or content_limit < 1):
            raise ValueError(f"content_limit must be a positive int or None, not {content_limit!r}")
        self._trace = trace
        self._context = context
        self.tracer: Tracer = trace.get_tracer("anyagent", __version__, tracer_provider=tracer_provider)
        self.capture_content = _capture_default() if capture_content is None else bool(capture_content)
        self.content_limit = content_limit
        self.agent_name = agent_name
        self.provider = provider
        self.scrub = Scrubber()  # error messages: nothing that looks like a credential

    def __repr__(self) -> str:
        return f"OpenTelemetryObserver(capture_content={self.capture_content}, agent_name={self.agent_name!r})"

    def run_started(self, run: RunInfo) -> Observer:
        name = run.agent if run.agent is not None else self.agent_name
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": self.provider or provider_name(run.base_url, run.provider),
            "gen_ai.request.model": run.model,
            "gen_ai.conversation.id": run.session_id,
            **_server(run.base_url),
        }
        if name:
            attributes["gen_ai.agent.name"] = name
        span = self.tracer.start_span(
            f"invoke_agent {name}" if name else "invoke_agent",
            context=self._context.get_current(),
            kind=self._trace.SpanKind.INTERNAL,
            attributes=attributes,
        )
        return _RunSpans(self, span, attributes["gen_ai.provider.name"], run)


class _RunSpans(Observer):
    """One run's spans: the run's, and its open attempts' and tools' (by object identity)."""

    def __init__(self, owner: OpenTelemetryObserver, span: Span, provider: str, run: RunInfo) -> None:
        self._owner = owner
        self._span = span
        self._provider = provider
        self._session_id = run.session_id
        self._run_scrub = run.scrub
        self._parent: Context = owner._trace.set_span_in_context(span)
        self._attempts: dict[int, tuple[SendRequest, Span]] = {}
        self._tools: dict[int, tuple[ToolUseBlock, Span, Token[Context]]] = {}

    def _scrub(self, text: str) -> str:
        return self._owner.scrub(self._run_scrub(text))

    def _dumps(self, value: object) -> str:
        return _content.dumps(value, self._owner.content_limit)

    def _fail(self, span: Span, error: BaseException, *, kind: str | None = None) -> None:
        """Mark ``span`` failed by ``error`` (Recording Errors: ``error.type``, status, an
        ``exception`` event), its message scrubbed."""
        trace = self._owner._trace
        message = self._scrub(str(error))
        span.set_attribute("error.type", kind or type(error).__qualname__)
        span.add_event("exception", {"exception.type": type(error).__qualname__, "exception.message": message})
        span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(error).__name__}: {message}"[:1000]))

    # ---- requests -------------------------------------------------------------------------

    def attempt_started(self, request: SendRequest, url: str) -> None:
        turn = request.turn
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": self._provider,
            "gen_ai.request.model": turn.model,
            "gen_ai.conversation.id": self._session_id,
            **_server(url),
            "anyagent.request.turn": request.turn_number,
            "anyagent.request.attempt": request.attempt,
        }
        if request.side is not None:
            attributes["anyagent.request.side"] = request.side
        if turn.stream:
            attributes["gen_ai.request.stream"] = True
        optional = {
            "gen_ai.request.max_tokens": turn.max_tokens,
            "gen_ai.request.temperature": turn.temperature,
            "gen_ai.request.top_p": turn.top_p,
            "gen_ai.request.presence_penalty": turn.presence_penalty,
            "gen_ai.request.frequency_penalty": turn.frequency_penalty,
            "gen_ai.request.seed": turn.seed,
            "gen_ai.request.choice.count": turn.n if turn.n not in (None, 1) else None,
            "gen_ai.request.stop_sequences": list(turn.stop) or None,
            "gen_ai.output.type": "json" if turn.response_format is not None else None,
        }
        attributes.update({key: value for key, value in optional.items() if value is not None})
        if self._owner.capture_content:
            attributes["gen_ai.input.messages"] = self._dumps(_content.input_messages(turn.messages))
            if turn.system_prompt:
                attributes["gen_ai.system_instructions"] = self._dumps(_content.system_instructions(turn.system_prompt))
            if turn.tools:
                attributes["gen_ai.tool.definitions"] = self._dumps(_content.tool_definitions(turn.tools))
        span = self._owner.tracer.start_span(
            f"chat {turn.model}",
            context=self._parent,
            kind=self._owner._trace.SpanKind.CLIENT,
            attributes=attributes,
        )
        self._attempts[id(request)] = (request, span)

    def attempt_ended(self, request: SendRequest, info: AttemptInfo) -> None:
        found = self._attempts.pop(id(request), None)
        if found is None:
            return
        span = found[1]
        if info.status is not None:
            span.set_attribute("http.response.status_code", info.status)
        message = info.message
        if message is not None:
            if message.model:
                span.set_attribute("gen_ai.response.model", message.model)
            if message.id:
                span.set_attribute("gen_ai.response.id", message.id)
            if self._owner.capture_content:
                span.set_attribute("gen_ai.output.messages", self._dumps(_content.output_message(message)))
        if info.finish_reason:
            span.set_attribute("gen_ai.response.finish_reasons", [info.finish_reason])
        span.set_attributes(_usage(info.usage))
        if info.error is not None:
            if isinstance(info.error, Interrupted):
                span.set_attribute("anyagent.interrupted", True)
            else:
                self._fail(span, info.error)
        span.end()

    def retry(self, wait: Wait, error: BaseException | None) -> None:
        attributes: dict[str, Any] = {
            "anyagent.retry.attempt": wait.attempt,
            "anyagent.retry.delay": wait.seconds,
            "anyagent.retry.reason": self._scrub(wait.reason),
            "gen_ai.request.model": wait.model,
        }
        if error is not None:
            attributes["error.type"] = type(error).__qualname__
        self._span.add_event("anyagent.retry", attributes)

    def compaction(self, data: Mapping[str, Any]) -> None:
        attributes = {
            f"anyagent.compaction.{key}": value
            for key, value in data.items()
            if isinstance(value, bool | int | float | str) and not (isinstance(value, str) and len(value) > 200)
        }
        self._span.add_event("anyagent.compaction", attributes)

    # ---- tools ----------------------------------------------------------------------------

    def tool_started(self, call: ToolUseBlock) -> None:
        trace = self._owner._trace
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": call.name,
            "gen_ai.tool.call.id": call.id,
            "gen_ai.tool.type": "function",
        }
        if self._owner.capture_content:
            attributes["gen_ai.tool.call.arguments"] = self._dumps(dict(call.input))
        span = self._owner.tracer.start_span(
            f"execute_tool {call.name}", context=self._parent, kind=trace.SpanKind.INTERNAL, attributes=attributes
        )
        # Current while the tool runs (tool_ended/tool_failed come in this same task), so the
        # tool's own spans, and a subagent's run, nest under it.
        token = self._owner._context.attach(trace.set_span_in_context(span))
        self._tools[id(call)] = (call, span, token)

    def _end_tool(self, call: ToolUseBlock) -> Span | None:
        found = self._tools.pop(id(call), None)
        if found is None:
            return None
        _, span, token = found
        self._owner._context.detach(token)
        return span

    def tool_ended(self, call: ToolUseBlock, result: ToolResultBlock, seconds: float) -> None:
        span = self._end_tool(call)
        if span is None:
            return
        if self._owner.capture_content:
            span.set_attribute("gen_ai.tool.call.result", self._dumps(_content.tool_result(result)))
        if result.is_error:
            trace = self._owner._trace
            span.set_attribute("error.type", "tool_error")
            span.set_status(trace.Status(trace.StatusCode.ERROR, "the tool returned an error"))
        span.end()

    def tool_failed(self, call: ToolUseBlock, error: BaseException, seconds: float) -> None:
        span = self._end_tool(call)
        if span is None:
            return
        if isinstance(error, Interrupted):
            span.set_attribute("anyagent.interrupted", True)
        else:
            self._fail(span, error)
        span.end()

    # ---- the run --------------------------------------------------------------------------

    def run_ended(self, result: ResultMessage | None, error: BaseException | None) -> None:
        span = self._span
        # What the run left open (the caller stopped reading mid-request) ends with it.
        for _, open_span in self._attempts.values():
            open_span.set_attribute("anyagent.abandoned", True)
            open_span.end()
        self._attempts.clear()
        for _, tool_span, _ in self._tools.values():  # their tasks are gone: nothing to detach
            tool_span.set_attribute("anyagent.abandoned", True)
            tool_span.end()
        self._tools.clear()
        if result is not None:
            span.set_attributes(_usage(result.usage))
            span.set_attribute("anyagent.result.subtype", result.subtype)
            span.set_attribute("anyagent.result.num_turns", result.num_turns)
            if result.total_cost_usd is not None:
                span.set_attribute("anyagent.result.cost_usd", result.total_cost_usd)
            if result.stop_reason:
                span.set_attribute("gen_ai.response.finish_reasons", [result.stop_reason])
            if result.is_error:
                trace = self._owner._trace
                span.set_attribute("error.type", result.subtype)
                span.set_status(trace.Status(trace.StatusCode.ERROR, result.subtype))
        elif isinstance(error, GeneratorExit):
            span.set_attribute("anyagent.abandoned", True)  # the caller stopped reading: not a failure
        elif error is not None:
            self._fail(span, error)
        span.end()
