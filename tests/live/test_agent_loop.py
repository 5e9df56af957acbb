"""The agent loop against a real server: streamed text, a forced tool call, the tool-result
round trip, and the models list. These hold for any OpenAI-compatible endpoint; with
``--server-kind llamacpp`` they also check the tiny model's exact replies."""

from __future__ import annotations

import httpx
import pytest

from anyagent_core import TextDelta, ToolCall, ToolCallDelta
from anyagent_httpx import ToolUseBlock, ToolUseError, get_api_key
from tests.live.support import (
    HELLO,
    TOOL_RESULT_REPLY,
    WEATHER,
    LiveServer,
    live_client,
    parses_to,
    receive,
)

pytestmark = [pytest.mark.anyio, pytest.mark.live]

#: Enough for a short sentence from a chatty model, few enough to stay quick on a CPU.
MAX_TOKENS = 256


async def test_text(live: LiveServer, transport: str, stream: bool) -> None:
    """The text pieces arrive as ``TextDelta`` partials, they make up the final text exactly,
    and the run succeeds."""
    async with live_client(live, transport, stream=stream, max_tokens=MAX_TOKENS) as client:
        await client.query("Say hello in one short sentence.")
        reply = await receive(client)

    answer, result = reply.assistant, reply.result
    pieces = [e.text for e in reply.events_of(TextDelta)]
    assert pieces, "no TextDelta partials arrived"
    assert "".join(pieces) == answer.text
    assert answer.text
    assert answer.tool_uses == ()
    assert result.subtype == "success"
    assert not result.is_error
    assert result.result == answer.text
    assert result.num_turns == 1
    assert result.pending_tool_calls == ()
    assert result.stop_reason == answer.stop_reason
    if not stream:
        assert len(pieces) == 1, "a whole response gives its text as one piece"
    if answer.usage is not None:
        assert answer.usage.prompt_tokens is None or answer.usage.prompt_tokens > 0
    if live.llamacpp:
        assert answer.text == HELLO
        assert answer.stop_reason == "stop"
        assert answer.model == live.model
        if stream:
            assert len(pieces) > 1, "llama.cpp streams token by token"


async def test_forced_tool_call(request: pytest.FixtureRequest, live: LiveServer, transport: str, stream: bool) -> None:
    """``tool_choice`` naming a tool gives exactly that call, with arguments that parse; the
    run hands it over as a pending tool call."""
    async with live_client(
        live, transport, stream=stream, tools=[WEATHER], tool_choice="get_weather", max_tokens=MAX_TOKENS
    ) as client:
        await client.query("What is the weather in Paris?")
        reply = await receive(client)

    answer, result = reply.assistant, reply.result
    deltas: list[ToolCallDelta] = reply.events_of(ToolCallDelta)
    assert deltas, "no ToolCallDelta partials arrived"
    assembled: list[ToolCall] = reply.events_of(ToolCall)
    assert len(assembled) == 1, f"expected one assembled call, got {assembled}"
    assert len(answer.tool_uses) == 1, f"expected one tool call, got {answer.tool_uses}"
    call = answer.tool_uses[0]
    assert result.subtype == "success"
    assert result.pending_tool_calls == (call,)
    assert isinstance(call, ToolUseBlock), (
        f"the call's arguments did not parse: {call.arguments!r} ({getattr(call, 'error', '')})"
    )
    assert call.name == "get_weather"
    assert call.id
    assert dict(call.input) == {"city": "Paris"}
    assert parses_to(assembled[0].arguments) == {"city": "Paris"}
    if live.llamacpp:
        assert answer.stop_reason == "tool_calls"
        assert answer.text == ""


async def test_tool_result_round_trip(
    request: pytest.FixtureRequest, live: LiveServer, transport: str, stream: bool
) -> None:
    """A tool call, its result sent back with ``add_tool_result``, then the model's final text:
    the assistant message with the call goes back to the server as the protocol requires."""
    async with live_client(
        live, transport, stream=stream, tools=[WEATHER], tool_choice="get_weather", max_tokens=MAX_TOKENS
    ) as client:
        await client.query("What is the weather in Paris?")
        first = await receive(client)
        pending = first.result.pending_tool_calls
        assert len(pending) == 1, f"expected one tool call, got {pending}"
        # Only the id matters here: a call whose arguments did not parse is answered the same way.
        call = pending[0]
        assert isinstance(call, ToolUseBlock | ToolUseError)
        assert call.name == "get_weather"
        client.add_tool_result(call.id, "sunny, 21 C")
        # The forced tool_choice gives way to "auto" now that the model called the tool
        # (reset_tool_choice); llama.cpp would otherwise force another call.
        second = await receive(client)

    answer, result = second.assistant, second.result
    assert answer.tool_uses == ()
    assert answer.text
    assert "".join(e.text for e in second.events_of(TextDelta)) == answer.text
    assert result.subtype == "success"
    assert result.pending_tool_calls == ()
    assert result.result == answer.text
    history = client.messages
    assert len(history) == 4, "user prompt, tool call, tool result, final answer"
    if live.llamacpp:
        assert answer.text == TOOL_RESULT_REPLY
        assert answer.stop_reason == "stop"


async def test_models_endpoint_answers(live: LiveServer) -> None:
    """``GET {base_url}/models`` answers with a model list: the first thing to check on a new
    endpoint (a base URL without ``/v1`` usually fails here)."""
    api_key = get_api_key(live.api_key)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(timeout=30.0) as http:
        response = await http.get(f"{live.base_url}/models", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body.get("data"), list), body
    ids = [entry.get("id") for entry in body["data"] if isinstance(entry, dict)]
    if live.llamacpp:
        assert live.model in ids, f"{live.model!r} is not among {ids}"
