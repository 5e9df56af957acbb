"""The request writer: exact bytes, determinism, round trips and validation."""

from __future__ import annotations

import json

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import (
    AssistantMessage,
    Config,
    Connection,
    Endpoint,
    ImageBlock,
    LocalProtocolError,
    Message,
    StartTurn,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    ToolUseError,
    UserMessage,
    parse_request_body,
)
from anyagent_core._dialects._openai_chat._writer import _checked_body, write_request
from tests.strategies import conversations, start_turns

ENDPOINT = Endpoint(base_url="http://localhost:1234/v1", api_key="sk-test")
WEATHER = ToolSpec(
    name="get_weather",
    description="Weather for a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def conversation() -> StartTurn:
    return StartTurn(
        model="qwen2.5-7b-instruct",
        system_prompt="You are terse.",
        messages=[
            UserMessage(content="Weather in Oslo? Ünïcode ok."),
            AssistantMessage(
                content=(
                    ThinkingBlock(thinking="need the tool"),
                    ToolUseBlock(id="call_1", name="get_weather", input={"city": "Oslo"}),
                )
            ),
            UserMessage(content=(ToolResultBlock(tool_use_id="call_1", content="-3 °C"),)),
            AssistantMessage(content=(TextBlock(text="It is -3 °C."),)),
            UserMessage(content=(TextBlock(text="And this?"), ImageBlock(url="https://x.test/a.png", detail="low"))),
        ],
        tools=[WEATHER],
        tool_choice="auto",
        parallel_tool_calls=False,
        temperature=0.2,
        max_tokens=256,
        stop=["###"],
        seed=7,
        extra_body={"top_k": 20},
    )


GOLDEN = (
    '{"model":"qwen2.5-7b-instruct","messages":['
    '{"role":"system","content":"You are terse."},'
    '{"role":"user","content":"Weather in Oslo? Ünïcode ok."},'
    '{"role":"assistant","tool_calls":[{"id":"call_1","type":"function",'
    '"function":{"name":"get_weather","arguments":"{\\"city\\":\\"Oslo\\"}"}}]},'
    '{"role":"tool","tool_call_id":"call_1","content":"-3 °C"},'
    '{"role":"assistant","content":"It is -3 °C."},'
    '{"role":"user","content":[{"type":"text","text":"And this?"},'
    '{"type":"image_url","image_url":{"url":"https://x.test/a.png","detail":"low"}}]}],'
    '"stream":true,"stream_options":{"include_usage":true},'
    '"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather for a city.",'
    '"parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],'
    '"tool_choice":"auto","parallel_tool_calls":false,"temperature":0.2,"max_tokens":256,"seed":7,'
    '"stop":["###"],"top_k":20}'
)


def test_exact_request() -> None:
    request = write_request(conversation(), ENDPOINT, Config())
    assert request.method == "POST"
    assert request.url == "http://localhost:1234/v1/chat/completions"
    assert request.headers == (
        ("Content-Type", "application/json"),
        ("Accept", "text/event-stream"),
        ("Authorization", "Bearer sk-test"),
    )
    assert request.body.decode("utf-8") == GOLDEN


def test_reasoning_sent_back_only_when_asked() -> None:
    body = json.loads(write_request(conversation(), ENDPOINT, Config(send_reasoning=True)).body)
    assert body["messages"][2]["reasoning_content"] == "need the tool"
    assert "reasoning_content" not in json.loads(write_request(conversation(), ENDPOINT, Config()).body)["messages"][2]


def test_non_streaming_named_tool_choice_and_max_completion_tokens() -> None:
    turn = StartTurn(
        model="m",
        messages=[UserMessage(content="x")],
        tools=[WEATHER],
        tool_choice="get_weather",
        stream=False,
        max_tokens=9,
    )
    body = json.loads(write_request(turn, ENDPOINT, Config(max_tokens_field="max_completion_tokens")).body)
    assert body["stream"] is False
    assert "stream_options" not in body
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["max_completion_tokens"] == 9 and "max_tokens" not in body


def test_tool_results_with_images_and_errors_and_unusable_calls() -> None:
    turn = StartTurn(
        model="m",
        messages=[
            AssistantMessage(
                content=(
                    ToolUseError(id="c1", name="f", arguments='{"a":', error="invalid JSON"),
                    ToolUseBlock(id="c2", name="shot", input={}, extra_content={"google": {"thought_signature": "s"}}),
                )
            ),
            UserMessage(
                content=(
                    ToolResultBlock(tool_use_id="c1", content="arguments were not valid JSON", is_error=True),
                    ToolResultBlock(
                        tool_use_id="c2",
                        content=(TextBlock(text="see image"), ImageBlock(url="data:image/png;base64,AA==")),
                    ),
                )
            ),
        ],
    )
    messages = json.loads(write_request(turn, ENDPOINT, Config()).body)["messages"]
    assert messages[0]["tool_calls"][0]["function"]["arguments"] == '{"a":'
    assert messages[0]["tool_calls"][1]["extra_content"] == {"google": {"thought_signature": "s"}}
    assert messages[1:] == [
        {"role": "tool", "tool_call_id": "c1", "content": "arguments were not valid JSON"},
        {"role": "tool", "tool_call_id": "c2", "content": "see image"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]},
    ]


def test_extra_body_and_endpoint_headers_take_precedence() -> None:
    endpoint = Endpoint(
        base_url="https://gw.test/openai/v1", api_key="k", headers={"api-key": "azure", "Authorization": "Basic x"}
    )
    turn = StartTurn(
        model="m",
        messages=[UserMessage(content="x")],
        temperature=1.0,
        extra_body={"temperature": 0.0, "model": "override"},
    )
    request = write_request(turn, endpoint, Config(user_agent="myapp/1"))
    assert dict(request.headers)["Authorization"] == "Basic x"
    assert dict(request.headers)["api-key"] == "azure"
    assert dict(request.headers)["User-Agent"] == "myapp/1"
    assert [h[0] for h in request.headers].count("Authorization") == 1
    body = json.loads(request.body)
    assert (body["temperature"], body["model"]) == (0.0, "override")
    assert "azure" not in repr(request) and "Basic x" not in repr(request)
    assert "azure" not in repr(endpoint) and "Basic x" not in repr(endpoint) and "api-key" in repr(endpoint)


def canonical(turn: StartTurn) -> StartTurn:
    """The form a conversation reads back in. The wire cannot tell a user message holding
    only tool results followed by another user message from one message holding both: tool
    results are ``role: tool`` messages, and what follows them is one ``role: user`` message."""
    messages: list[Message] = []
    for message in turn.messages:
        last = messages[-1] if messages else None
        if (
            type(message) is UserMessage
            and type(last) is UserMessage
            and isinstance(last.content, tuple)
            and all(type(b) is ToolResultBlock for b in last.content)
        ):
            tail = (TextBlock(text=message.content),) if isinstance(message.content, str) else message.content
            messages[-1] = UserMessage(content=(*last.content, *tail))
        else:
            messages.append(message)
    return attrs.evolve(turn, messages=messages)


@given(turn=start_turns())
def test_writer_is_deterministic_and_round_trips(turn: StartTurn) -> None:
    config = Config(send_reasoning=True)
    first = write_request(turn, ENDPOINT, config)
    assert write_request(turn, ENDPOINT, config) == first
    # Equal inputs built separately give the same bytes.
    assert write_request(parse_request_body(first.body, config=config), ENDPOINT, config).body == first.body
    back = parse_request_body(first.body, config=config)
    assert back == canonical(turn)


def test_parse_request_body_rejects_what_is_not_a_chat_request() -> None:
    with pytest.raises(LocalProtocolError, match="not JSON"):
        parse_request_body(b"{")
    with pytest.raises(LocalProtocolError, match="JSON object"):
        parse_request_body(b"[]")
    with pytest.raises(LocalProtocolError, match="unknown role"):
        parse_request_body(b'{"model":"m","messages":[{"role":"wizard","content":"x"}]}')
    with pytest.raises(LocalProtocolError, match="does not describe a chat request"):
        parse_request_body(b'{"messages":[]}')


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: StartTurn(model="", messages=[]), ValueError, "model"),
        (lambda: StartTurn(model="m", messages=["hi"]), TypeError, "UserMessage or AssistantMessage"),  # type: ignore[list-item]
        (lambda: StartTurn(model="m", messages=[], tool_choice="nope"), ValueError, "not among the tools"),
        (lambda: StartTurn(model="m", messages=[], tools=[WEATHER, WEATHER]), ValueError, "unique"),
        (lambda: StartTurn(model="m", messages=[], max_tokens="9"), TypeError, "max_tokens"),  # type: ignore[arg-type]
        (lambda: StartTurn(model="m", messages=[], extra_body={"x": object()}), TypeError, "not a JSON value"),
        (lambda: ToolSpec(name="bad name"), ValueError, "tool name"),
        (lambda: ToolSpec(name="café"), ValueError, "tool name"),
        (lambda: ToolSpec(name="x" * 65), ValueError, "tool name"),
        (lambda: StartTurn(model="m", messages=[], max_tokens=0), ValueError, "max_tokens"),
        (lambda: StartTurn(model="m", messages=[], temperature=float("nan")), ValueError, "finite"),
        (lambda: StartTurn(model="m", messages=[], top_p=float("inf")), ValueError, "finite"),
        (lambda: StartTurn(model="m", messages=[], n=0), ValueError, "n"),
        (lambda: ToolUseBlock(id="", name="f"), ValueError, "id"),
        (lambda: UserMessage(content=[ThinkingBlock(thinking="x")]), TypeError, "user message"),  # type: ignore[list-item]
        (lambda: AssistantMessage(content=[ImageBlock(url="u")]), TypeError, "assistant message"),  # type: ignore[list-item]
        (lambda: ToolResultBlock(tool_use_id="c", content=[ToolSpec(name="x")]), TypeError, "tool result"),  # type: ignore[list-item]
        (lambda: Endpoint(base_url="localhost:1234"), ValueError, "http"),
        (lambda: Endpoint(base_url="http://x", headers={"Bad Name": "v"}), ValueError, "invalid header"),
        (lambda: Config(max_event_size=1), ValueError, "max_event_size"),
    ],
)
def test_invalid_inputs_are_rejected_when_built(make: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()  # type: ignore[operator]


def test_frozen_values_cannot_be_mutated() -> None:
    block = ToolUseBlock(id="c", name="f", input={"a": [1, {"b": 2}]})
    with pytest.raises(TypeError):
        block.input["a"] = 2  # type: ignore[index]
    assert block.input["a"] == (1, {"b": 2})
    assert block.arguments == '{"a":[1,{"b":2}]}'


def test_values_json_cannot_represent_are_refused_when_sending() -> None:
    conn = Connection(ENDPOINT)
    with pytest.raises(LocalProtocolError, match="JSON cannot represent"):
        conn.send(StartTurn(model="m", messages=[UserMessage(content="x")], extra_body={"min_p": float("nan")}))


def test_image_from_bytes() -> None:
    assert ImageBlock.from_bytes(b"\x89PNG", "image/png").url == "data:image/png;base64,iVBORw=="


def test_connection_send_uses_the_writer() -> None:
    conn = Connection(ENDPOINT)
    assert conn.send(conversation()) == write_request(conversation(), ENDPOINT, Config())


def test_lone_surrogates_are_written_as_escapes() -> None:
    turn = StartTurn(model="m", messages=[UserMessage(content="a\ud800b")])
    body = write_request(turn, ENDPOINT, Config()).body
    assert b"\\ud800" in body
    assert json.loads(body)["messages"][0]["content"] == "a\ud800b"
    assert write_request(turn, ENDPOINT, Config()).body == body


def test_writer_reads_back_what_the_parser_produces_for_a_nameless_call() -> None:
    turn = StartTurn(
        model="m",
        messages=[AssistantMessage(content=(ToolUseError(id="x", name="", arguments="{}", error="no name"),))],
    )
    back = parse_request_body(write_request(turn, ENDPOINT, Config()).body)
    block = back.messages[0].content[0]
    assert type(block) is ToolUseError and (block.id, block.name, block.arguments) == ("x", "", "{}")


@pytest.mark.parametrize(
    "body",
    [
        b'{"model":"m","messages":[],"tool_choice":{"type":"function"}}',
        b'{"model":"m","messages":[{"role":"tool"}]}',
        b'{"model":"m","messages":[{"role":"user","content":[1]}]}',
        b'{"model":"m","messages":[],"stream":true,"stream_options":[1]}',
        b'{"model":"m","messages":[{"role":"user","content":5}]}',
        b'{"model":"m","messages":[{"role":"system","content":5}]}',
        b'{"model":"m","messages":[' + b"[" * 5000 + b"]" * 5000 + b"]}",
    ],
)
def test_parse_request_body_only_raises_local_protocol_error(body: bytes) -> None:
    with pytest.raises(LocalProtocolError):
        parse_request_body(body)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Endpoint(base_url="http://x", api_key="sk-a\nb"), "line break"),
        (lambda: Config(user_agent="agent\r\nX-Injected: 1"), "line break"),
    ],
)
def test_header_injection_is_refused(make: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()  # type: ignore[operator]


def test_base_url_with_a_query_keeps_it_after_the_path_and_hides_it() -> None:
    endpoint = Endpoint(base_url="https://res.example/openai/deployments/gpt/?api-version=2024-06-01")
    request = write_request(StartTurn(model="m", messages=[UserMessage(content="x")]), endpoint, Config())
    assert request.url == "https://res.example/openai/deployments/gpt/chat/completions?api-version=2024-06-01"
    assert request.target == "/openai/deployments/gpt/chat/completions?api-version=2024-06-01"
    assert "2024-06-01" not in repr(request) and "2024-06-01" not in repr(endpoint)
    assert "SECRET" not in repr(Endpoint(base_url="https://host?key=SECRET"))
    with pytest.raises(ValueError, match="fragment") as info:
        Endpoint(base_url="https://host/v1#token=SECRET")
    assert "SECRET" not in str(info.value)
    with pytest.raises(ValueError, match="http") as info:
        Endpoint(base_url="ftp://user:SECRET@host")
    assert "SECRET" not in str(info.value)


def test_nan_in_a_tool_input_is_refused_when_sending() -> None:
    turn = StartTurn(
        model="m", messages=[AssistantMessage(content=(ToolUseBlock(id="c", name="f", input={"x": float("nan")}),))]
    )
    with pytest.raises(LocalProtocolError, match="JSON cannot represent"):
        Connection(ENDPOINT).send(turn)


def test_assistant_content_is_left_out_beside_tool_calls_and_empty_without() -> None:
    call = ToolUseBlock(id="c1", name="get_weather", input={"city": "Paris"})
    turn = StartTurn(
        model="m",
        messages=[
            UserMessage(content="hi"),
            AssistantMessage(content=(call,)),
            UserMessage(content=(ToolResultBlock(tool_use_id="c1", content="sunny"),)),
            AssistantMessage(content=()),
            UserMessage(content="again"),
        ],
    )
    wire = json.loads(write_request(turn, ENDPOINT, Config()).body)["messages"]
    assert "content" not in wire[1]  # never null: llama-cpp-python answers null with HTTP 500
    assert wire[1]["tool_calls"][0]["id"] == "c1"
    assert wire[3] == {"role": "assistant", "content": ""}


def test_a_call_s_argument_json_is_made_once_and_kept_with_the_block() -> None:
    call = ToolUseBlock(id="c1", name="get_weather", input={"city": "Zürich", "days": [1, 2]})
    first = call.arguments
    assert first == json.dumps(call.input, ensure_ascii=False, separators=(",", ":"))
    assert call.arguments is first  # kept: later requests reuse the text
    turn = StartTurn(
        model="m",
        messages=[
            UserMessage(content="weather?"),
            AssistantMessage(content=(call,)),
            UserMessage(content=(ToolResultBlock(tool_use_id="c1", content="sunny"),)),
        ],
    )
    body = write_request(turn, ENDPOINT, Config()).body
    assert json.loads(body)["messages"][1]["tool_calls"][0]["function"]["arguments"] == first
    assert call.arguments is first
    # The cache is no field: equality, hashing of the value, repr and evolve are as before.
    twin = ToolUseBlock(id="c1", name="get_weather", input={"city": "Zürich", "days": [1, 2]})
    assert call == twin and repr(call) == repr(twin)
    assert "arguments" not in attrs.fields_dict(ToolUseBlock)
    assert attrs.evolve(call, input={"city": "Bern"}).arguments == '{"city":"Bern"}'


# ---- each message's JSON reused from the request that wrote it first -------------------------


def _checked(turn: StartTurn, config: Config) -> bytes:
    return _checked_body(turn, config)


@given(turn=start_turns(), more=conversations, send_reasoning=st.booleans())
def test_the_body_of_reused_message_json_is_the_checked_writer_s(
    turn: StartTurn, more: list[Message], send_reasoning: bool
) -> None:
    config = Config(send_reasoning=send_reasoning)
    assert write_request(turn, ENDPOINT, config).body == _checked(turn, config)
    # The next request repeats the conversation (the same message objects) and adds to it.
    longer = attrs.evolve(turn, messages=[*turn.messages, *more])
    assert write_request(longer, ENDPOINT, config).body == _checked(longer, config)
    # The same messages under the other send_reasoning are written for it, not taken from before.
    other = Config(send_reasoning=not send_reasoning)
    assert write_request(longer, ENDPOINT, other).body == _checked(longer, other)


def test_a_conversation_s_messages_are_written_once_across_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    from anyagent_core._dialects._openai_chat import _writer

    written: list[AssistantMessage] = []
    real = _writer._assistant

    def counted(message: AssistantMessage, config: Config) -> dict[str, object]:
        written.append(message)
        return real(message, config)

    monkeypatch.setattr(_writer, "_assistant", counted)
    turn = conversation()
    config = Config()
    first = write_request(turn, ENDPOINT, config).body
    assert len(written) == 2  # the conversation's two assistant messages
    answer = AssistantMessage(content=(TextBlock(text="Cold."),))
    longer = attrs.evolve(turn, messages=[*turn.messages, answer, UserMessage(content="thanks")])
    second = write_request(longer, ENDPOINT, config).body
    assert written[2:] == [answer]  # only the new one
    assert second.startswith(first[: first.index(b"]")])  # the same messages, then the new ones
    assert second == _checked(longer, config)


def test_extra_body_naming_model_or_messages_replaces_them_in_their_place() -> None:
    base = StartTurn(model="m", messages=[UserMessage(content="hi")])
    for key, value in (("model", "other"), ("messages", [{"role": "user", "content": "x"}])):
        turn = attrs.evolve(base, extra_body={key: value})
        body = write_request(turn, ENDPOINT, Config()).body
        assert body == _checked(turn, Config())
        payload = json.loads(body)
        assert list(payload)[:2] == ["model", "messages"] and payload[key] == value
        assert body.count(f'"{key}":'.encode()) == 1


def test_the_kept_message_json_is_bounded_in_size_not_only_in_count() -> None:
    # Conversations that have ended (each with one large tool result) are not kept alive by
    # the JSON kept for reuse past a bound on its total size.
    import weakref

    from anyagent_core._dialects._openai_chat import _writer

    size = 256 * 1024
    alive: list[weakref.ref[UserMessage]] = []
    for i in range(2 * _writer._WIRE_CHARS_KEPT // size):
        result = UserMessage(content=(ToolResultBlock(tool_use_id=f"c{i}", content="x" * size),))
        turn = StartTurn(model="m", messages=[UserMessage(content="go"), result])
        assert write_request(turn, ENDPOINT, Config()).body == _checked(turn, Config())
        alive.append(weakref.ref(result))
        del result, turn
    kept = sum(len(entry[2]) for entry in _writer._WIRE.values())
    assert kept <= _writer._WIRE_CHARS_KEPT
    assert sum(ref() is not None for ref in alive) * size <= _writer._WIRE_CHARS_KEPT
    # A message larger than the whole bound is written each time, never kept.
    huge = UserMessage(content="y" * (_writer._WIRE_CHARS_KEPT + 1))
    turn = StartTurn(model="m", messages=[huge])
    assert write_request(turn, ENDPOINT, Config()).body == _checked(turn, Config())
    assert id(huge) not in _writer._WIRE
