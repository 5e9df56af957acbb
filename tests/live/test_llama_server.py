"""Against llama.cpp's own C++ server (``../shared/bin/llama-server`` on the tiny model,
``--ctx-size 2048``; ``nox -s live`` starts it): ``anyagent doctor`` reports its window and
slots, a conversation grown past the window (found from the server, no ``context_window``
given) keeps running with ``sliding`` and with ``summarize``, and ``/tokenize`` counts what the
server then reports as the prompt's tokens."""

from __future__ import annotations

from contextlib import aclosing

import anyio
import pytest

from anyagent_core import Endpoint, StartTurn, UserMessage
from anyagent_httpx import HttpxTransport, ResultMessage, RunMessage, SystemMessage, diagnose, server_token_count
from anyagent_httpx._context import forget_windows
from anyagent_httpx._doctor import _chat  # the probe's exchange: a request and its decoded answer
from tests.live.support import RESPONSE_TIMEOUT, WEATHER, LiveServer, live_client

pytestmark = [pytest.mark.anyio, pytest.mark.live, pytest.mark.llama_server]

WINDOW = 2048

#: About 400 tokens of the tiny model's tokenizer a turn: five turns do not fit in 2048.
PARAGRAPH = " ".join(f"The keeper of lighthouse {n} counted {n * 7} ships passing in the night." for n in range(30))


async def test_doctor_reports_the_window_and_the_slots(live: LiveServer) -> None:
    diagnosis = await diagnose(live.base_url, model=live.model, api_key=live.api_key, probe_timeout=RESPONSE_TIMEOUT)
    assert (diagnosis.context_window, diagnosis.slots) == (WINDOW, 4)
    assert diagnosis.window_source.endswith("(llama.cpp)")
    for name in ("chat", "streaming", "stream_usage", "tool_calls", "tool_calls_streamed", "forced_tool_choice"):
        assert diagnosis.supports(name), diagnosis.check(name)
    assert diagnosis.supports("tokenize") and diagnosis.supports("json_schema")
    assert diagnosis.recommended == {"tool_mode": "native", "output_mode": "json_schema", "context_window": WINDOW}


@pytest.mark.parametrize("strategy", ["sliding", "summarize"])
async def test_a_conversation_past_the_window_keeps_running(live: LiveServer, strategy: str) -> None:
    """Over the default transport only: what is tested is the context, and six long turns
    per variant are the slowest part of the suite."""
    forget_windows()
    seen: list[RunMessage] = []
    async with live_client(live, "httpx", context_strategy=strategy, max_tokens=32) as client:
        for turn in range(6):
            await client.query(f"Turn {turn}. {PARAGRAPH}")
            with anyio.fail_after(RESPONSE_TIMEOUT):
                async with aclosing(client.receive_response()) as stream:
                    seen.extend([message async for message in stream])
        usage = await client.get_context_usage()
    results = [m for m in seen if isinstance(m, ResultMessage)]
    assert len(results) == 6 and [r.subtype for r in results] == ["success"] * 6, [r.errors for r in results]
    notices = [m for m in seen if isinstance(m, SystemMessage)]
    window = [m.data for m in notices if m.subtype == "context_window"]
    assert window and window[0]["window"] == WINDOW and window[0]["source"] == "server"
    compact = [m.data for m in notices if m.subtype == "compact"]
    assert compact and all(c["strategy"] == strategy for c in compact)
    assert all(c["tokens_after"] <= c["limit"] < WINDOW for c in compact)
    if strategy == "summarize":
        assert any(c["summarized_messages"] for c in compact)
    assert usage.window == WINDOW and usage.window_source == "server" and usage.left_out > 0


@pytest.mark.parametrize("tools", [False, True], ids=["text", "tools"])
async def test_tokenize_counts_the_prompt_the_server_reports(live: LiveServer, tools: bool) -> None:
    endpoint = Endpoint(base_url=live.base_url, api_key=live.api_key)
    turn = StartTurn(
        model=live.model,
        system_prompt="You are terse.",
        messages=[UserMessage(content="What is the weather in Paris?")],
        tools=(WEATHER,) if tools else (),
        stream=False,
        max_tokens=16,
    )
    async with HttpxTransport() as transport:
        counted = await server_token_count(transport, endpoint, turn, server="llama.cpp")
        answer = await _chat(transport, endpoint, turn, RESPONSE_TIMEOUT)
    assert answer.usage is not None and not answer.usage.estimated
    assert counted is not None and counted == answer.usage.prompt_tokens
