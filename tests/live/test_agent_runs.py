"""Whole agent runs against a real server: the model calls a tool, the client runs it, sends the
result back and the model answers; with native calls, with calls written as text (``auto``
mode reads them) and with a forced native call.

On llama.cpp with ``tool_choice: "auto"`` the tiny model writes its call as ``<tool_call>`` text
in the content (../shared/LIVE-SERVERS.md): ``tool_mode="auto"`` must turn it into a real call.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Literal

import anyio
import attrs
import pytest

from anyagent_core import TextDelta
from anyagent_httpx import (
    AssistantMessage,
    Client,
    ResultMessage,
    RunMessage,
    StreamEvent,
    TextBlock,
    Tool,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
    tool,
)
from tests.live.support import RESPONSE_TIMEOUT, TOOL_RESULT_REPLY, LiveServer, live_client

pytestmark = [pytest.mark.anyio, pytest.mark.live]

MAX_TOKENS = 256


def weather_tool(calls: list[str]) -> Tool:
    @tool
    def get_weather(city: Literal["Paris", "London"]) -> str:
        """Current weather for a city.

        Args:
            city: The city.
        """
        calls.append(city)
        return f"{city}: sunny, 21 C"

    return get_weather


async def run(client: Client, prompt: str) -> list[RunMessage]:
    messages: list[RunMessage] = []
    with anyio.fail_after(RESPONSE_TIMEOUT):
        await client.query(prompt)
        async with aclosing(client.receive_response()) as stream:
            async for message in stream:
                messages.append(message)
    return messages


def check_round_trip(messages: list[RunMessage], calls: list[str], live: LiveServer) -> ResultMessage:
    """The shape every run here has: an answer with one call of get_weather, its result sent
    back, a final answer without calls, success after two turns."""
    answers = [m for m in messages if isinstance(m, AssistantMessage)]
    results = [m for m in messages if isinstance(m, UserMessage)]
    result = messages[-1]
    assert isinstance(result, ResultMessage)
    assert result.subtype == "success", result.errors
    assert result.num_turns == 2
    assert len(answers) == 2, answers
    (call,) = answers[0].tool_uses
    assert isinstance(call, ToolUseBlock), call
    assert call.name == "get_weather"
    assert calls == [call.input["city"]], "the tool ran once, with the model's arguments"
    (sent,) = results
    assert isinstance(sent.content, tuple)
    (block,) = sent.content
    assert isinstance(block, ToolResultBlock)
    assert block.tool_use_id == call.id
    assert not block.is_error
    assert block.content == f"{calls[0]}: sunny, 21 C"
    assert answers[1].tool_uses == ()
    assert answers[1].text
    assert result.result == answers[1].text
    if live.llamacpp:
        assert calls == ["Paris"]
        assert answers[1].text == TOOL_RESULT_REPLY
    return result


async def test_text_tool_call_runs_in_auto_mode(live: LiveServer, transport: str, stream: bool) -> None:
    """``tool_choice`` auto: whether the server gives a native call or (llama.cpp's tiny model)
    ``<tool_call>`` text, the call runs and the model answers from its result. None of the
    call's markup is streamed to the user as text."""
    calls: list[str] = []
    async with live_client(
        live,
        transport,
        stream=stream,
        tools=[weather_tool(calls)],
        tool_choice="auto",
        tool_mode="auto",
        max_tokens=MAX_TOKENS,
        max_turns=3,
    ) as client:
        messages = await run(client, "What is the weather in Paris?")
        history = client.messages
    check_round_trip(messages, calls, live)
    shown = "".join(m.event.text for m in messages if isinstance(m, StreamEvent) and type(m.event) is TextDelta)
    assert "<tool_call>" not in shown
    assert "get_weather" not in shown
    first = history[1]
    assert isinstance(first, AssistantMessage)
    if live.llamacpp:
        # The call came as text and was read: no text is left of the first answer.
        assert not any(isinstance(b, TextBlock) for b in first.content)


async def test_forced_native_call_runs_the_same_loop(live: LiveServer, transport: str, stream: bool) -> None:
    """A forced ``tool_choice`` gives a native, grammar-constrained call; the client runs it and
    the forced choice gives way to ``auto`` for the answer."""
    calls: list[str] = []
    async with live_client(
        live,
        transport,
        stream=stream,
        tools=[weather_tool(calls)],
        tool_choice="get_weather",
        tool_mode="native",
        max_tokens=MAX_TOKENS,
        max_turns=3,
    ) as client:
        messages = await run(client, "What is the weather in Paris?")
    check_round_trip(messages, calls, live)
    if live.llamacpp:
        first = next(m for m in messages if isinstance(m, AssistantMessage))
        assert first.stop_reason == "tool_calls"


async def test_a_denied_call_is_answered_and_the_run_finishes(live: LiveServer, transport: str) -> None:
    """A tool that needs permission, with nobody to ask: the model is told it was denied and
    still answers; the tool never runs."""
    calls: list[str] = []
    guarded = attrs.evolve(weather_tool(calls), needs_permission=True)
    async with live_client(
        live,
        transport,
        tools=[guarded],
        tool_choice="get_weather",
        tool_mode="native",
        max_tokens=MAX_TOKENS,
        max_turns=3,
    ) as client:
        messages = await run(client, "What is the weather in Paris?")
    result = messages[-1]
    assert isinstance(result, ResultMessage)
    assert result.subtype == "success", result.errors
    assert calls == []
    (sent,) = [m for m in messages if isinstance(m, UserMessage)]
    assert isinstance(sent.content, tuple)
    (block,) = sent.content
    assert isinstance(block, ToolResultBlock)
    assert block.is_error
    assert isinstance(block.content, str)
    assert block.content.startswith("Permission denied:")
    assert "can_use_tool" in block.content
