"""llama.cpp's quirks (llama-cpp-python 0.3.36 serving the tiny test model with ``--n_ctx 2048``)
as our client sees them. Run only with ``--server-kind llamacpp``: they describe that server,
not OpenAI's behaviour (../shared/LIVE-SERVERS.md lists them)."""

from __future__ import annotations

import anyio
import pytest

from anyagent_core import ToolCall, ToolCallDelta
from anyagent_httpx import ContextLengthError, RunMessage, StreamInterruptedError, SystemMessage, diagnose
from tests.live.support import (
    HELLO,
    LIVE_RETRY,
    TOOL_CALL_TEXT,
    WEATHER,
    LiveServer,
    collect,
    live_client,
    receive,
)

pytestmark = [pytest.mark.anyio, pytest.mark.live, pytest.mark.llamacpp]

#: About 3000 tokens of the tiny model's tokenizer: more than the server's n_ctx of 2048.
TOO_LONG = "hello " * 3000


async def test_context_length_whole_response(live: LiveServer, transport: str) -> None:
    """Non-streamed, a prompt over the context is HTTP 400 with ``code: context_length_exceeded``:
    a ``ContextLengthError`` carrying the server's message, not retried."""
    async with live_client(live, transport, stream=False) as client:
        await client.query(TOO_LONG)
        with anyio.fail_after(60), pytest.raises(ContextLengthError) as caught:
            await receive(client)
    error = caught.value
    assert error.status == 400
    assert error.code == "context_length_exceeded"
    assert "maximum context length is 2048 tokens" in error.message
    assert any("not retried" in note for note in getattr(error, "__notes__", ()))


async def test_context_length_streamed_gives_an_empty_200(live: LiveServer, transport: str) -> None:
    """Streamed, the same prompt gets HTTP 200 with an empty body (the server fails after sending
    the headers). The client neither hangs nor makes up an answer: after its retries it raises
    ``StreamInterruptedError`` with an empty ``partial`` and says that nothing arrived."""
    seen: list[RunMessage] = []
    async with live_client(live, transport, stream=True) as client:
        await client.query(TOO_LONG)
        with anyio.fail_after(60), pytest.raises(StreamInterruptedError) as caught:
            await collect(client, seen)
    error = caught.value
    assert error.partial.content == ()
    assert error.partial.text == ""
    explained = " ".join([str(error), *getattr(error, "__notes__", ())])
    assert "ended" in explained  # in the retries' note
    assert "empty body" in str(error)
    assert "before any output" in explained, explained
    retries = [m for m in seen if isinstance(m, SystemMessage) and m.subtype == "retry"]
    assert len(retries) == LIVE_RETRY.max_retries, "an empty answer is retried (nothing had been delivered)"
    assert [m for m in seen if not isinstance(m, SystemMessage)] == []


async def test_repeated_ids_and_names_make_one_call(live: LiveServer, transport: str) -> None:
    """Every streamed tool-call chunk repeats ``id``, ``type`` and ``function.name`` (OpenAI sends
    them once) and the last has ``"arguments": ""``: still one call, its name not repeated."""
    async with live_client(live, transport, stream=True, tools=[WEATHER], tool_choice="get_weather") as client:
        await client.query("What is the weather in Paris?")
        reply = await receive(client)
    deltas: list[ToolCallDelta] = reply.events_of(ToolCallDelta)
    assembled: list[ToolCall] = reply.events_of(ToolCall)
    assert len(deltas) >= 2, "llama.cpp streams the arguments token by token"
    assert len(assembled) == 1
    call = assembled[0]
    assert call.name == "get_weather"
    assert call.id.startswith("call_")
    assert not call.id_synthesized
    assert {(d.index, d.id, d.name) for d in deltas} == {(0, call.id, "get_weather")}
    assert "".join(d.arguments for d in deltas) == call.arguments
    assert len(reply.assistant.tool_uses) == 1
    assert reply.assistant.tool_uses[0].id == call.id
    assert reply.assistant.stop_reason == "tool_calls"


async def test_legacy_function_call_field_is_not_counted_twice(
    request: pytest.FixtureRequest, live: LiveServer, transport: str, stream: bool
) -> None:
    """Each chunk (and the whole message) carries the deprecated ``function_call`` beside
    ``tool_calls``, with the same name and arguments: the arguments must come out once."""
    async with live_client(live, transport, stream=stream, tools=[WEATHER], tool_choice="get_weather") as client:
        await client.query("What is the weather in Paris?")
        reply = await receive(client)
    assembled: list[ToolCall] = reply.events_of(ToolCall)
    assert len(assembled) == 1
    assert assembled[0].arguments == '{"city": "Paris"}'
    assert assembled[0].error is None


async def test_no_usage_chunk_when_streaming(live: LiveServer, transport: str, stream: bool) -> None:
    """``stream_options.include_usage`` is ignored: a streamed answer has no usage at all, so the
    result carries an estimate marked so; a whole one has the server's counts."""
    async with live_client(live, transport, stream=stream, include_usage=True) as client:
        await client.query("Hi")
        reply = await receive(client)
    answer, result = reply.assistant, reply.result
    assert answer.text == HELLO
    if stream:
        assert answer.usage is None
        assert result.usage is not None
        assert result.usage.estimated
        assert result.usage.prompt_tokens is not None
        assert result.usage.prompt_tokens > 0
        assert result.usage.completion_tokens is not None
        assert result.usage.completion_tokens > 0
    else:
        assert answer.usage is not None
        assert answer.usage.prompt_tokens is not None
        assert answer.usage.prompt_tokens > 0
        assert answer.usage.completion_tokens is not None
        assert answer.usage.completion_tokens > 0
        assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
        assert result.usage == answer.usage


async def test_auto_tool_choice_gives_the_call_as_text(live: LiveServer, transport: str, stream: bool) -> None:
    """With ``tool_choice: "auto"`` nothing is enforced: the model's ``<tool_call>`` block arrives
    as plain content with ``finish_reason: "stop"``, and no tool call is made of it."""
    async with live_client(
        live, transport, stream=stream, tools=[WEATHER], tool_choice="auto", tool_mode="native"
    ) as client:
        await client.query("What is the weather in Paris?")
        reply = await receive(client)
    answer, result = reply.assistant, reply.result
    assert answer.text == TOOL_CALL_TEXT
    assert answer.stop_reason == "stop"
    assert answer.tool_uses == ()
    assert reply.events_of(ToolCallDelta) == []
    assert result.pending_tool_calls == ()
    assert result.result == TOOL_CALL_TEXT


async def test_doctor_sees_calls_written_as_text_and_no_window(live: LiveServer) -> None:
    """``anyagent doctor`` on llama-cpp-python: no usage in the stream, tool calls written as
    text (a forced choice is honoured by its grammar), no ``json_schema``, no window said:
    it recommends emulated tools and the schema in the prompt."""
    diagnosis = await diagnose(live.base_url, model=live.model, api_key=live.api_key, probe_timeout=120)
    statuses = {check.name: check.status for check in diagnosis.checks}
    assert statuses["chat"] == statuses["streaming"] == statuses["forced_tool_choice"] == "yes"
    assert statuses["tool_calls"] == statuses["stream_usage"] == statuses["context_window"] == "no"
    assert statuses["text_tool_calls"] == "yes"
    assert diagnosis.recommended == {"tool_mode": "emulated", "output_mode": "prompt", "context_window": None}
