"""OpenTelemetryObserver against real runs over loopback, spans read from the SDK's in-memory
exporter: names, GenAI attributes, nesting under concurrent tools and subagents, errors, and
content only when asked for."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from collections.abc import Sequence
from contextlib import aclosing
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from anyagent_httpx import (
    AgentDefinition,
    AgentOptions,
    Client,
    HookError,
    HookMatcher,
    ResultMessage,
    RunMessage,
    StreamEvent,
    tool,
)
from anyagent_httpx.telemetry import OpenTelemetryObserver, provider_name
from anyagent_httpx.testing import Reply, serve
from tests.runtime.mock import DONE, FAST_RETRY, chunk
from tests.runtime.test_agent_end_to_end import calls, says

pytestmark = pytest.mark.anyio


class Opened(SpanProcessor):
    """Counts spans started and ended: every span a run starts must end."""

    def __init__(self) -> None:
        self.started = 0
        self.ended = 0

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.started += 1

    def on_end(self, span: ReadableSpan) -> None:
        self.ended += 1


class Traced:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.opened = Opened()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.provider.add_span_processor(self.opened)

    def observer(self, **kwargs: Any) -> OpenTelemetryObserver:
        return OpenTelemetryObserver(tracer_provider=self.provider, **kwargs)

    @property
    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.spans if span.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, [span.name for span in self.spans]
        return found[0]


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    found: int = span.context.span_id
    return found


def with_usage(*pieces: str, prompt: int, completion: int) -> Reply:
    body = [chunk(piece) for piece in pieces]
    body.append(chunk(finish="stop"))
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    body.append(b"data: " + json.dumps({"id": "chatcmpl-1", "model": "m", "choices": [], "usage": usage}).encode())
    body += [b"\n\n", DONE]
    return Reply.sse(b"".join(body))


@tool(read_only=True)
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def run(replies: Sequence[Reply], prompt: str = "add 2 and 3", **options: Any) -> list[RunMessage]:
    async with serve(list(replies)) as server, httpx.AsyncClient() as http:
        opts = AgentOptions(model="m", base_url=server.base_url, http_client=http, retry=FAST_RETRY, **options)
        async with Client(opts) as client:
            with anyio.fail_after(30):
                await client.query(prompt)
                async with aclosing(client.receive_response()) as stream:
                    return [message async for message in stream]


async def test_a_run_with_a_retry_and_a_tool_makes_nested_genai_spans(tmp_path: pathlib.Path) -> None:
    traced = Traced()
    replies = [
        Reply(status=503, chunks=[b'{"error": "busy"}']),
        calls(("c1", "add", {"a": 2, "b": 3})),
        with_usage("5", prompt=21, completion=2),
    ]
    messages = await run(replies, tools=[add], cwd=tmp_path, observers=[traced.observer()])
    assert isinstance(messages[-1], ResultMessage) and messages[-1].result == "5"

    root = traced.one("invoke_agent")
    chats = sorted(traced.named("chat m"), key=lambda span: span.start_time or 0)
    tool_span = traced.one("execute_tool add")
    assert len(traced.spans) == 5 and len(chats) == 3
    assert root.parent is None and root.kind is SpanKind.INTERNAL
    assert all(parent_of(span) == span_id(root) for span in [*chats, tool_span])
    assert traced.opened.started == traced.opened.ended == 5

    attributes = dict(root.attributes or {})
    assert attributes["gen_ai.operation.name"] == "invoke_agent"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == "m"
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["anyagent.result.subtype"] == "success"
    assert attributes["anyagent.result.num_turns"] == 2
    assert root.status.status_code is StatusCode.UNSET
    retry = [event for event in root.events if event.name == "anyagent.retry"]
    assert len(retry) == 1 and dict(retry[0].attributes or {})["anyagent.retry.attempt"] == 2

    failed, first, last = chats
    assert failed.kind is SpanKind.CLIENT
    assert dict(failed.attributes or {})["http.response.status_code"] == 503
    assert dict(failed.attributes or {})["error.type"] == "InternalServerError"
    assert failed.status.status_code is StatusCode.ERROR
    assert dict(first.attributes or {})["anyagent.request.attempt"] == 2
    assert dict(first.attributes or {})["gen_ai.response.finish_reasons"] == ("tool_calls",)
    end = dict(last.attributes or {})
    assert end["gen_ai.operation.name"] == "chat"
    assert end["gen_ai.request.stream"] is True
    assert end["gen_ai.response.model"] == "m"
    assert end["gen_ai.response.id"] == "chatcmpl-1"
    assert end["gen_ai.usage.input_tokens"] == 21 and end["gen_ai.usage.output_tokens"] == 2
    assert isinstance(end["server.port"], int)

    tool_attributes = dict(tool_span.attributes or {})
    assert tool_attributes == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "add",
        "gen_ai.tool.call.id": "c1",
        "gen_ai.tool.type": "function",
    }
    # no content unless asked for
    for span in traced.spans:
        assert not any(
            key.startswith(("gen_ai.input", "gen_ai.output.messages", "gen_ai.tool.call.arg"))
            for key in span.attributes or {}
        )


async def test_content_is_recorded_only_when_asked_for(tmp_path: pathlib.Path) -> None:
    traced = Traced()
    replies = [calls(("c1", "add", {"a": 2, "b": 3})), says("The sum is 5")]
    await run(
        replies,
        prompt="add 2 and 3",
        tools=[add],
        cwd=tmp_path,
        system_prompt="Be brief.",
        observers=[traced.observer(capture_content=True)],
    )
    first, second = sorted(traced.named("chat m"), key=lambda span: span.start_time or 0)
    sent = json.loads(str(dict(second.attributes or {})["gen_ai.input.messages"]))
    assert sent[0] == {"role": "user", "parts": [{"type": "text", "content": "add 2 and 3"}]}
    assert sent[1]["parts"][0] == {"type": "tool_call", "id": "c1", "name": "add", "arguments": {"a": 2, "b": 3}}
    assert sent[2] == {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "5"}]}
    answer = json.loads(str(dict(second.attributes or {})["gen_ai.output.messages"]))
    assert answer == [
        {"role": "assistant", "parts": [{"type": "text", "content": "The sum is 5"}], "finish_reason": "stop"}
    ]
    assert json.loads(str(dict(first.attributes or {})["gen_ai.system_instructions"])) == [
        {"type": "text", "content": "Be brief."}
    ]
    definitions = json.loads(str(dict(first.attributes or {})["gen_ai.tool.definitions"]))
    assert [item["name"] for item in definitions] == ["add"]
    tool_attributes = dict(traced.one("execute_tool add").attributes or {})
    assert json.loads(str(tool_attributes["gen_ai.tool.call.arguments"])) == {"a": 2, "b": 3}
    assert json.loads(str(tool_attributes["gen_ai.tool.call.result"])) == "5"


async def test_content_capture_follows_the_environment_and_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    traced = Traced()
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    assert traced.observer().capture_content is True
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "false")
    assert traced.observer().capture_content is False
    assert traced.observer(capture_content=True).capture_content is True
    with pytest.raises(ValueError, match="content_limit must be a positive int"):
        traced.observer(content_limit=0)
    await run([says("x" * 500)], prompt="y" * 500, observers=[traced.observer(capture_content=True, content_limit=100)])
    attributes = dict(traced.one("chat m").attributes or {})
    assert str(attributes["gen_ai.input.messages"]).endswith("more characters]")
    assert len(str(attributes["gen_ai.output.messages"])) < 140


async def test_concurrent_tools_each_get_their_own_span_and_their_spans_nest_under_it(tmp_path: pathlib.Path) -> None:
    traced = Traced()
    inner = traced.provider.get_tracer("test")
    both_running = anyio.Event()
    running = 0

    @tool(read_only=True)
    async def lookup(key: str) -> str:
        """Look a key up."""
        nonlocal running
        running += 1
        if running == 2:
            both_running.set()
        with anyio.fail_after(10):
            await both_running.wait()  # the two calls overlap for sure
        with inner.start_as_current_span(f"db {key}"):
            await anyio.lowlevel.checkpoint()
        return key.upper()

    replies = [calls(("c1", "lookup", {"key": "a"}), ("c2", "lookup", {"key": "b"})), says("A B")]
    await run(replies, tools=[lookup], cwd=tmp_path, observers=[traced.observer()])
    root = traced.one("invoke_agent")
    tools = {dict(span.attributes or {})["gen_ai.tool.call.id"]: span for span in traced.named("execute_tool lookup")}
    assert set(tools) == {"c1", "c2"}
    assert all(parent_of(span) == span_id(root) for span in tools.values())
    assert parent_of(traced.one("db a")) == span_id(tools["c1"])
    assert parent_of(traced.one("db b")) == span_id(tools["c2"])
    assert traced.opened.started == traced.opened.ended


async def test_subagents_nest_under_their_task_call_and_concurrent_runs_never_cross(tmp_path: pathlib.Path) -> None:
    traced = Traced()
    observer = traced.observer(agent_name="main")
    agents = {"helper": AgentDefinition(description="helps", prompt="You help.", tools=["read_file"])}
    replies = [
        calls(
            ("t1", "task", {"agent": "helper", "prompt": "one"}), ("t2", "task", {"agent": "helper", "prompt": "two"})
        ),
        says("done one"),
        says("done two"),
        says("both done"),
    ]
    messages = await run(replies, prompt="delegate", agents=agents, cwd=tmp_path, observers=[observer])
    assert isinstance(messages[-1], ResultMessage) and messages[-1].result == "both done"
    root = traced.one("invoke_agent main")
    tasks = traced.named("execute_tool task")
    helpers = traced.named("invoke_agent helper")
    assert len(tasks) == 2 and len(helpers) == 2
    assert {parent_of(span) for span in helpers} == {span_id(task) for task in tasks}
    assert dict(helpers[0].attributes or {})["gen_ai.agent.name"] == "helper"
    helper_ids = {span_id(span) for span in helpers}
    chats = traced.named("chat m")
    assert len(chats) == 4
    assert sorted(parent_of(span) == span_id(root) for span in chats) == [False, False, True, True]
    assert {parent_of(span) for span in chats if parent_of(span) != span_id(root)} == helper_ids
    assert traced.opened.started == traced.opened.ended


async def test_a_run_nests_under_the_callers_current_span() -> None:
    traced = Traced()
    outer = traced.provider.get_tracer("app")
    with outer.start_as_current_span("handle request"):
        await run([says("hi")], observers=[traced.observer()])
    handler = traced.one("handle request")
    assert parent_of(traced.one("invoke_agent")) == span_id(handler)


async def test_a_failed_run_is_an_error_span_and_secrets_stay_out() -> None:
    traced = Traced()
    secret = "live-0123456789abcdef"  # not shaped like a key: only the client knows it
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {secret}", "type": "invalid_request_error"}})
    with pytest.raises(Exception, match="401"):
        await run(
            [Reply(status=401, headers=[("content-type", "application/json")], chunks=[body.encode()])],
            observers=[traced.observer()],
            api_key=secret,
        )
    root = traced.one("invoke_agent")
    assert root.status.status_code is StatusCode.ERROR
    assert dict(root.attributes or {})["error.type"] == "AuthenticationError"
    assert [event.name for event in root.events] == ["exception"]
    chat = traced.one("chat m")
    assert dict(chat.attributes or {})["error.type"] == "AuthenticationError"
    everything = repr([(span.attributes, span.events, span.status.description) for span in traced.spans])
    assert secret not in everything


async def test_a_hook_error_ends_the_tool_span_as_failed(tmp_path: pathlib.Path) -> None:
    traced = Traced()

    def refuse(_input: Any, _context: Any) -> None:
        raise RuntimeError("the hook broke")

    with pytest.raises(HookError):
        await run(
            [calls(("c1", "add", {"a": 1, "b": 1})), says("2")],
            tools=[add],
            cwd=tmp_path,
            hooks={"PreToolUse": [HookMatcher(hooks=[refuse])]},
            observers=[traced.observer()],
        )
    span = traced.one("execute_tool add")
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "HookError"
    assert traced.opened.started == traced.opened.ended


async def test_a_caller_that_stops_reading_leaves_no_span_open() -> None:
    traced = Traced()
    async with serve([says("a", "b", "c")]) as server, httpx.AsyncClient() as http:
        options = AgentOptions(
            model="m",
            base_url=server.base_url,
            http_client=http,
            include_partial_messages=True,
            observers=[traced.observer()],
        )
        async with Client(options) as client:
            await client.query("hi")
            async with aclosing(client.receive_response()) as stream:
                async for message in stream:
                    if isinstance(message, StreamEvent):
                        break  # the first text piece, mid-request
    assert traced.opened.started == traced.opened.ended == 2
    root = traced.one("invoke_agent")
    assert dict(root.attributes or {})["anyagent.abandoned"] is True
    assert root.status.status_code is StatusCode.UNSET


def test_provider_names() -> None:
    assert provider_name("https://api.openai.com/v1") == "openai"
    assert provider_name("https://api.groq.com/openai/v1") == "groq"
    assert provider_name("https://x.openai.azure.com/openai/deployments/d") == "azure.ai.openai"
    assert provider_name("http://localhost:11434/v1", "ollama") == "ollama"
    assert provider_name("http://127.0.0.1:8080/v1") == "openai"


def test_importing_anyagent_loads_neither_opentelemetry_nor_the_file_features() -> None:
    code = (
        "import sys, anyagent_httpx, anyagent_httpx.telemetry\n"
        "assert not [m for m in sys.modules if m.startswith('opentelemetry')], 'opentelemetry was imported'\n"
        "lazy = ['anyagent_httpx._skills', 'anyagent_httpx._agent_files', 'anyagent_httpx._settings_file', 'tomllib']\n"
        "assert not [m for m in lazy if m in sys.modules], [m for m in lazy if m in sys.modules]\n"
        "assert anyagent_httpx.discover_skills.__module__ == 'anyagent_httpx._skills'\n"
        "try:\n"
        "    anyagent_httpx.no_such_name\n"
        "except AttributeError as exc:\n"
        "    assert 'no_such_name' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('no AttributeError')\n"
        "anyagent_httpx.telemetry.OpenTelemetryObserver()\n"
        "assert 'opentelemetry.trace' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


async def test_a_compaction_is_an_event_on_its_runs_span() -> None:
    traced = Traced()
    async with serve([says("one"), says("two")]) as server, httpx.AsyncClient() as http:
        options = AgentOptions(
            model="m", base_url=server.base_url, http_client=http, context_window=400, observers=[traced.observer()]
        )
        async with Client(options) as client:
            for prompt in ("x" * 800, "y" * 800):
                await client.query(prompt)
                async with aclosing(client.receive_response()) as stream:
                    _ = [message async for message in stream]
    first, second = traced.named("invoke_agent")
    assert not [event for event in first.events if event.name == "anyagent.compaction"]
    (event,) = [event for event in second.events if event.name == "anyagent.compaction"]
    attributes: dict[str, Any] = dict(event.attributes or {})
    assert attributes["anyagent.compaction.trigger"] == "auto"
    assert attributes["anyagent.compaction.dropped_messages"] == 2
    assert attributes["anyagent.compaction.tokens_after"] < attributes["anyagent.compaction.tokens_before"]
    assert attributes["anyagent.compaction.window"] == 400
    assert "x" * 100 not in json.dumps(attributes)  # no message content
    assert traced.opened.started == traced.opened.ended
