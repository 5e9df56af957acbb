"""query(), Client and the driver above the transport: messages, retries, fallbacks, failures,
lifecycle, tool results and interrupts. Responses are scripted through httpx.MockTransport."""

from __future__ import annotations

from contextlib import aclosing

import anyio
import httpx
import pytest

from anyagent_core import TextDelta, ToolCallDelta
from anyagent_httpx import (
    AgentOptions,
    APIConnectionError,
    AssistantMessage,
    AuthenticationError,
    BadRequestError,
    Client,
    ClientState,
    ClientStateError,
    ConfigurationError,
    ContextLengthError,
    InternalServerError,
    MalformedResponseError,
    NotFoundError,
    ResultMessage,
    RetryPolicy,
    RunMessage,
    ServerStreamError,
    StreamEvent,
    StreamInterruptedError,
    SystemMessage,
    TextBlock,
    ToolSpec,
    ToolUseBlock,
    ToolUseError,
    UserMessage,
    query,
)

from .mock import DONE, Script, chunk, error, sse, text_stream, tool_stream

pytestmark = pytest.mark.anyio

WEATHER = ToolSpec(
    name="get_weather",
    description="Weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


async def collect(prompt: str, options: AgentOptions) -> list[RunMessage]:
    return [message async for message in query(prompt=prompt, options=options)]


def final(messages: list[RunMessage]) -> tuple[AssistantMessage, ResultMessage]:
    assistant = [m for m in messages if isinstance(m, AssistantMessage)]
    result = messages[-1]
    assert isinstance(result, ResultMessage)
    assert len(assistant) == 1
    return assistant[0], result


# ---- answers ------------------------------------------------------------------------------


async def test_streamed_text_answer() -> None:
    script = Script(sse(text_stream("Hel", "lo", " there")))
    messages = await collect("hi", script.options())
    answer, result = final(messages)
    assert answer.text == "Hello there"
    assert answer.stop_reason == "stop"
    assert result.subtype == "success"
    assert result.result == "Hello there"
    assert result.num_turns == 1
    assert not result.is_error
    body = script.bodies[0]
    assert body["stream"] is True
    assert body["model"] == "m"
    assert body["messages"] == [{"role": "user", "content": "hi"}]


async def test_partial_messages_come_before_the_message_and_add_up_to_it() -> None:
    script = Script(sse(text_stream("a", "b", "c")))
    messages = await collect("hi", script.options(include_partial_messages=True))
    deltas = [m.event for m in messages if isinstance(m, StreamEvent) and isinstance(m.event, TextDelta)]
    assert "".join(d.text for d in deltas) == "abc"
    index = next(i for i, m in enumerate(messages) if isinstance(m, AssistantMessage))
    assert isinstance(messages[0], SystemMessage) and messages[0].subtype == "init"
    assert all(isinstance(m, StreamEvent) for m in messages[1:index])


async def test_no_partial_messages_unless_asked() -> None:
    script = Script(sse(text_stream("a", "b")))
    messages = await collect("hi", script.options())
    assert [type(m) for m in messages] == [SystemMessage, AssistantMessage, ResultMessage]


@pytest.mark.parametrize("server_ignores_stream", [False, True])
async def test_non_streaming_and_json_answers_give_the_same_messages(server_ignores_stream: bool) -> None:
    completion = {
        "id": "chatcmpl-1",
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }
    streamed = await collect("hi", Script(sse(text_stream("Hello", " there"))).options())
    script = Script(httpx.Response(200, json=completion))
    options = script.options(stream=server_ignores_stream is True)
    answered = await collect("hi", options)
    assert script.bodies[0]["stream"] is server_ignores_stream
    streamed_answer, _ = final(streamed)
    answer, result = final(answered)
    assert answer.content == streamed_answer.content == (TextBlock(text="Hello there"),)
    assert answer.stop_reason == "stop"
    assert result.usage is not None
    assert result.usage.total_tokens == 7


async def test_tool_call_is_handed_to_the_caller() -> None:
    script = Script(sse(tool_stream("call_1", "get_weather", ['{"ci', 'ty": "Par', 'is"}'])))
    messages = await collect("weather?", script.options(tools=[WEATHER], include_partial_messages=True))
    answer, result = final(messages)
    (call,) = answer.tool_uses
    assert isinstance(call, ToolUseBlock)
    assert call.name == "get_weather"
    assert dict(call.input) == {"city": "Paris"}
    assert result.pending_tool_calls == (call,)
    assert any(isinstance(m, StreamEvent) and isinstance(m.event, ToolCallDelta) for m in messages)
    assert script.bodies[0]["tools"][0]["function"]["name"] == "get_weather"


# ---- Client: a conversation ----------------------------------------------------------------


async def test_client_keeps_the_conversation_and_sends_tool_results() -> None:
    script = Script(
        sse(tool_stream("call_1", "get_weather", ['{"city": "Paris"}'])),
        sse(text_stream("It is sunny.")),
        sse(text_stream("You are welcome.")),
    )
    async with Client(script.options(tools=[WEATHER])) as client:
        await client.query("weather in Paris?")
        first = [m async for m in client.receive_response()]
        result = first[-1]
        assert isinstance(result, ResultMessage)
        (call,) = result.pending_tool_calls
        with pytest.raises(ClientStateError, match="unanswered"):
            await client.query("never mind")
        with pytest.raises(ClientStateError, match="no tool call 'nope'"):
            client.add_tool_result("nope", "x")
        client.add_tool_result(call.id, "sunny, 21 C")
        with pytest.raises(ClientStateError, match="no tool call"):
            client.add_tool_result(call.id, "again")
        second = [m async for m in client.receive_response()]
        answer, _ = final(second)
        assert answer.text == "It is sunny."
        await client.query("thanks")
        third = [m async for m in client.receive_response()]
        assert final(third)[0].text == "You are welcome."
        assert len(client.messages) == 6
    sent = script.bodies[1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[1]["tool_calls"][0]["id"] == "call_1"
    assert sent[2] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"}
    assert [m["role"] for m in script.bodies[2]["messages"]] == ["user", "assistant", "tool", "assistant", "user"]


async def test_unusable_tool_call_is_answered_by_the_loop() -> None:
    """A call whose arguments are not JSON is never handed out: the model is told at once."""
    script = Script(sse(tool_stream("call_9", "get_weather", ['{"city": '])), sse(text_stream("ok")))
    async with Client(script.options(tools=[WEATHER])) as client:
        await client.query("weather?")
        messages = [m async for m in client.receive_response()]
        first, second = [m for m in messages if isinstance(m, AssistantMessage)]
        result = messages[-1]
        assert isinstance(result, ResultMessage)
        assert second.text == result.result == "ok"
        assert result.pending_tool_calls == ()
        assert result.num_turns == 2
        (bad,) = first.tool_uses
        assert isinstance(bad, ToolUseError)
    sent = script.bodies[1]["messages"]
    assert sent[-1]["role"] == "tool"
    assert sent[-1]["tool_call_id"] == "call_9"
    assert "could not be used" in sent[-1]["content"]


async def test_client_lifecycle_errors() -> None:
    script = Script(sse(text_stream("x")))
    client = Client(script.options())
    states = [client.state]
    with pytest.raises(ClientStateError, match="not open"):
        await client.query("hi")
    async with client:
        states.append(client.state)
        with pytest.raises(ClientStateError, match="nothing to receive"):
            async for _ in client.receive_response():
                pass
        with pytest.raises(ClientStateError, match="already open"):
            await client.open()
    states.append(client.state)
    assert states == [ClientState.UNOPENED, ClientState.OPENED, ClientState.CLOSED]
    with pytest.raises(ClientStateError, match="closed"):
        await client.query("hi")
    with pytest.raises(ClientStateError, match="cannot reopen"):
        await client.open()


async def test_concurrent_receives_are_refused() -> None:
    script = Script(sse(text_stream("a", "b"), delay=0.01))
    async with Client(script.options()) as client:
        await client.query("hi")
        messages = client.receive_response()
        init = await anext(messages)
        assert isinstance(init, SystemMessage) and init.subtype == "init"
        first = await anext(messages)
        assert isinstance(first, AssistantMessage)
        with pytest.raises(ClientStateError, match="another receive"):
            await anext(client.receive_response())
        with pytest.raises(ClientStateError, match="being received"):
            await client.query("more")
        await messages.aclose()


async def test_receive_messages_follows_queries_until_close() -> None:
    script = Script(sse(text_stream("one")), sse(text_stream("two")))
    seen: list[str] = []
    answered = [anyio.Event(), anyio.Event()]
    async with Client(script.options()) as client:

        async def consume() -> None:
            async for message in client.receive_messages():
                if isinstance(message, AssistantMessage):
                    seen.append(message.text)
                    answered[len(seen) - 1].set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await client.query("first")
            with anyio.fail_after(5):
                await answered[0].wait()
            await client.query("second")
            with anyio.fail_after(5):
                await answered[1].wait()
            await client.aclose()
    assert seen == ["one", "two"]


async def test_max_turns_counts_tool_round_trips() -> None:
    script = Script(sse(tool_stream("call_1", "get_weather", ['{"city": "Paris"}'])))
    async with Client(script.options(tools=[WEATHER], max_turns=1)) as client:
        await client.query("weather?")
        [m async for m in client.receive_response()]
        client.add_tool_result("call_1", "sunny")
        messages = [m async for m in client.receive_response()]
    init, result = messages
    assert isinstance(init, SystemMessage) and init.subtype == "init"
    assert isinstance(result, ResultMessage)
    assert result.subtype == "error_max_turns"
    assert result.is_error
    assert len(script.requests) == 1


# ---- retries and fallbacks -----------------------------------------------------------------


async def test_429_with_retry_after_is_retried_and_reported() -> None:
    script = Script(error(429, "slow down", headers={"retry-after": "0.01"}), sse(text_stream("done")))
    messages = await collect("hi", script.options())
    retries = [m for m in messages if isinstance(m, SystemMessage) and m.subtype != "init"]
    assert len(retries) == 1
    assert retries[0].subtype == "retry"
    assert retries[0].data["delay"] == pytest.approx(0.01)
    assert "429" in retries[0].data["reason"]
    assert final(messages)[0].text == "done"
    assert len(script.requests) == 2


async def test_retries_spent_raise_the_status_error_with_what_the_server_said() -> None:
    script = Script(lambda: error(503, "model is loading", headers={"x-request": "1"}))
    with pytest.raises(InternalServerError) as info:
        await collect("hi", script.options(retry=RetryPolicy(max_retries=2, initial_delay=0.001)))
    exc = info.value
    assert exc.status == 503
    assert exc.message == "model is loading"
    assert "model is loading" in exc.body
    assert exc.headers["x-request"] == "1"
    assert exc.url == "http://testserver/v1/chat/completions"
    assert len(script.requests) == 3
    assert any("gave up after" in note for note in exc.__notes__)


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, BadRequestError), (401, AuthenticationError), (404, NotFoundError)],
)
async def test_client_errors_are_not_retried(status: int, cls: type[Exception]) -> None:
    script = Script(lambda: error(status, "no"))
    with pytest.raises(cls):
        await collect("hi", script.options())
    assert len(script.requests) == 1


async def test_context_length_error_is_typed_and_falls_back() -> None:
    script = Script(
        error(400, "This model's maximum context length is 2048 tokens", code="context_length_exceeded"),
        sse(text_stream("short")),
    )
    messages = await collect("hi", script.options(fallback_models=["big-context"]))
    assert [b["model"] for b in script.bodies] == ["m", "big-context"]
    answer, result = final(messages)
    assert answer.text == "short"
    with pytest.raises(ContextLengthError) as info:
        await collect("hi", Script(lambda: error(400, "too long", code="context_length_exceeded")).options())
    assert info.value.code == "context_length_exceeded"
    del result


async def test_fallback_models_in_order_each_with_retries() -> None:
    script = Script(lambda: error(503, "down"))
    retry = RetryPolicy(max_retries=1, initial_delay=0.001)
    with pytest.raises(InternalServerError):
        await collect("hi", script.options(fallback_models=["b", "c"], retry=retry))
    assert [b["model"] for b in script.bodies] == ["m", "m", "b", "b", "c", "c"]


async def test_connection_error_before_the_response_is_retried() -> None:
    script = Script(httpx.ConnectError("connection refused"), sse(text_stream("ok")))
    messages = await collect("hi", script.options())
    assert final(messages)[0].text == "ok"
    script = Script(httpx.ConnectError("connection refused"))
    with pytest.raises(APIConnectionError, match="connection refused") as info:
        await collect("hi", script.options(retry=RetryPolicy(max_retries=1, initial_delay=0.001)))
    assert info.value.response_started is False
    assert len(script.requests) == 2


async def test_cut_before_any_output_is_retried() -> None:
    script = Script(sse([], fail_after=0), sse(text_stream("ok")))
    assert final(await collect("hi", script.options()))[0].text == "ok"
    assert len(script.requests) == 2


async def test_cut_after_output_raises_with_the_partial_message_and_is_not_retried() -> None:
    chunks = [chunk("Hello"), chunk(" wor"), chunk("ld"), chunk(finish="stop"), DONE]
    script = Script(lambda: sse(chunks, fail_after=2))
    with pytest.raises(StreamInterruptedError, match="mid-answer") as info:
        await collect("hi", script.options())
    assert info.value.partial.text == "Hello wor"
    assert len(script.requests) == 1
    assert isinstance(info.value.__cause__, APIConnectionError)


async def test_body_ending_mid_answer_raises_with_the_partial_message() -> None:
    script = Script(lambda: sse([chunk("Hello"), chunk(" there")]))
    with pytest.raises(StreamInterruptedError, match="ended mid-answer") as info:
        await collect("hi", script.options())
    assert info.value.partial.text == "Hello there"
    assert len(script.requests) == 1


async def test_empty_200_body_is_retried_then_reported() -> None:
    script = Script(lambda: sse([]))
    with pytest.raises(StreamInterruptedError) as info:
        await collect("hi", script.options(retry=RetryPolicy(max_retries=1, initial_delay=0.001)))
    assert info.value.partial.content == ()
    assert "HTTP 200 with an empty body" in str(info.value)
    assert "context window" in str(info.value)
    assert len(script.requests) == 2


async def test_a_body_cut_before_any_output_is_not_called_empty() -> None:
    script = Script(lambda: sse([b'data: {"choices": [{"index": 0, "delta": {"role": "assistant"}}]}\n\n']))
    with pytest.raises(StreamInterruptedError, match="the response ended before any output") as info:
        await collect("hi", script.options(retry=RetryPolicy(max_retries=0)))
    assert "empty body" not in str(info.value)


async def test_error_inside_a_200_stream() -> None:
    overloaded = b'data: {"error": {"message": "server overloaded", "type": "overloaded_error"}}\n\n'
    script = Script(sse([overloaded]), sse(text_stream("ok")))
    assert final(await collect("hi", script.options()))[0].text == "ok"
    midway = [chunk("partial answer"), b'data: {"error": {"message": "kv cache full"}}\n\n']
    script = Script(lambda: sse(midway))
    with pytest.raises(ServerStreamError, match="kv cache full") as info:
        await collect("hi", script.options())
    assert info.value.partial.text == "partial answer"
    assert info.value.error.message == "kv cache full"
    assert len(script.requests) == 1


async def test_malformed_stream_raises_with_location_and_partial() -> None:
    script = Script(lambda: sse([chunk("fine"), b"data: {not json}\n\n"]))
    with pytest.raises(MalformedResponseError) as info:
        await collect("hi", script.options())
    assert info.value.partial.text == "fine"
    assert info.value.__cause__ is not None
    assert "line" in str(info.value.__cause__)
    assert len(script.requests) == 1


async def test_a_new_prompt_after_a_failed_request_joins_the_unanswered_one() -> None:
    """The conversation keeps both prompts; the request carries them as one user turn (strict
    chat templates refuse two in a row)."""
    script = Script(error(500, "down"), sse(text_stream("fine")))
    async with Client(script.options(retry=RetryPolicy(max_retries=0))) as client:
        await client.query("first")
        with pytest.raises(InternalServerError):
            [m async for m in client.receive_response()]
        await client.query("second")
        assert final([m async for m in client.receive_response()])[0].text == "fine"
        assert [m.content for m in client.messages if isinstance(m, UserMessage)] == ["first", "second"]
    assert script.bodies[1]["messages"] == [{"role": "user", "content": "first\n\nsecond"}]


# ---- interrupt -----------------------------------------------------------------------------


async def test_interrupt_mid_stream_keeps_what_arrived() -> None:
    chunks = [chunk("one "), chunk("two "), *[chunk("more ") for _ in range(50)], chunk(finish="stop"), DONE]
    script = Script(sse(chunks, delay=0.02), sse(text_stream("next")))
    async with Client(script.options(include_partial_messages=True)) as client:
        await client.query("count")
        messages: list[RunMessage] = []
        async with aclosing(client.receive_response()) as stream:
            async for message in stream:
                messages.append(message)
                event = message.event if isinstance(message, StreamEvent) else None
                if isinstance(event, TextDelta) and event.text == "two ":
                    await client.interrupt()
        result = messages[-1]
        assert isinstance(result, ResultMessage)
        assert result.subtype == "interrupted"
        kept = [m for m in messages if isinstance(m, AssistantMessage)]
        assert kept[0].text.startswith("one two ")
        assert kept[0].stop_reason == "interrupted"
        await client.query("go on")
        assert final([m async for m in client.receive_response()])[0].text == "next"
    assert [m["role"] for m in script.bodies[1]["messages"]] == ["user", "assistant", "user"]


async def test_interrupt_during_back_off() -> None:
    script = Script(lambda: error(429, "wait", headers={"retry-after": "30"}))
    retry = RetryPolicy(max_retry_after=60)
    async with Client(script.options(retry=retry)) as client:
        await client.query("hi")
        with anyio.fail_after(5):
            async for message in client.receive_response():
                if isinstance(message, SystemMessage):
                    await client.interrupt()
                last = message
    assert isinstance(last, ResultMessage)
    assert last.subtype == "interrupted"


async def test_interrupt_before_the_response_is_received_stops_it() -> None:
    script = Script(sse(text_stream("never sent")), sse(text_stream("next")))
    async with Client(script.options()) as client:
        await client.query("hi")
        await client.interrupt()
        messages = [m async for m in client.receive_response()]
        result = messages[-1]
        assert isinstance(result, ResultMessage)
        assert result.subtype == "interrupted"
        assert script.requests == []
        await client.query("go on")  # the interrupt stopped one response only
        assert final([m async for m in client.receive_response()])[0].text == "never sent"


async def test_interrupt_with_no_response_asked_for_does_nothing() -> None:
    script = Script(sse(text_stream("answer")))
    async with Client(script.options()) as client:
        await client.interrupt()
        await client.query("hi")
        answer, result = final([m async for m in client.receive_response()])
    assert result.subtype == "success"
    assert answer.text == "answer"


async def test_caller_cancellation_propagates() -> None:
    script = Script(sse(text_stream("a", "b"), delay=1.0))
    with anyio.move_on_after(0.05) as scope:
        await collect("hi", script.options())
    assert scope.cancelled_caught


# ---- configuration -------------------------------------------------------------------------


async def test_configuration_is_resolved_on_open() -> None:
    with pytest.raises(ConfigurationError, match="ANY_AGENT_MODEL"):
        async with Client(AgentOptions(base_url="http://x/v1"), env={}):
            pass
    with pytest.raises(ConfigurationError, match="ANY_AGENT_BASE_URL"):
        async with Client(AgentOptions(model="m"), env={}):
            pass
    script = Script(sse(text_stream("ok")))
    env = {"ANY_AGENT_MODEL": "env-model", "ANY_AGENT_API_KEY": "sk-env"}
    options = script.options(model=None)
    async with Client(options, env=env) as client:
        await client.query("hi")
        [m async for m in client.receive_response()]
    assert script.bodies[0]["model"] == "env-model"
    assert script.requests[0].headers["authorization"] == "Bearer sk-env"


def test_http_client_and_transport_exclude_each_other() -> None:
    from anyagent_httpx import HttpxTransport

    with pytest.raises(ConfigurationError, match="not both"):
        AgentOptions(http_client=httpx.AsyncClient(), transport=HttpxTransport())


@pytest.mark.parametrize(("reset", "second"), [(True, "auto"), (False, "get_weather")])
async def test_a_forced_tool_choice_is_reset_after_the_model_called_tools(reset: bool, second: str) -> None:
    script = Script(
        sse(tool_stream("call_1", "get_weather", ['{"city": "Paris"}'])),
        sse(text_stream("sunny")),
        sse(tool_stream("call_2", "get_weather", ['{"city": "Oslo"}'])),
    )
    options = script.options(tools=[WEATHER], tool_choice="get_weather", reset_tool_choice=reset)
    async with Client(options) as client:
        await client.query("weather?")
        [m async for m in client.receive_response()]
        client.add_tool_result("call_1", "sunny")
        [m async for m in client.receive_response()]
        await client.query("and Oslo?")
        [m async for m in client.receive_response()]
    forced = {"type": "function", "function": {"name": "get_weather"}}
    expected_second = "auto" if second == "auto" else forced
    assert [b["tool_choice"] for b in script.bodies] == [forced, expected_second, forced]
