"""What a run reports besides the conversation (usage sums, result, system and stream messages),
and the partial message of a response that broke off."""

from __future__ import annotations

import functools
import json
import types
import typing
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import (
    AssistantMessage,
    Connection,
    Finished,
    PartialEvent,
    ReasoningDelta,
    RefusalDelta,
    RemoteProtocolError,
    ResultMessage,
    ResultSubtype,
    StreamEvent,
    SystemMessage,
    TextBlock,
    TextDelta,
    ThinkingBlock,
    ToolCall,
    ToolCallDelta,
    ToolUseBlock,
    ToolUseError,
    Usage,
    add_usage,
    thaw_json,
)
from anyagent_core._dialects._openai_chat._assembler import ResponseAssembler
from tests.helpers import ENDPOINT, get_all_events, split_at, started_connection
from tests.strategies import json_objects

COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens", "reasoning_tokens", "cached_tokens")

counts = st.none() | st.integers(0, 10**12)
usages = st.builds(
    Usage,
    prompt_tokens=counts,
    completion_tokens=counts,
    total_tokens=counts,
    reasoning_tokens=counts,
    cached_tokens=counts,
    raw=st.just({}) | json_objects,
)
optional_usages = st.none() | usages


# ---- add_usage ------------------------------------------------------------------------------


def test_add_usage_none_and_none() -> None:
    assert add_usage(None, None) is None


def test_add_usage_none_keeps_the_other() -> None:
    usage = Usage(prompt_tokens=3, raw={"prompt_tokens": 3})
    assert add_usage(None, usage) is usage
    assert add_usage(usage, None) is usage


def test_add_usage_sums_field_by_field() -> None:
    first = Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15, cached_tokens=4, raw={"a": 1})
    second = Usage(prompt_tokens=7, completion_tokens=None, total_tokens=9, reasoning_tokens=2, raw={"b": 2})
    total = add_usage(first, second)
    assert total == Usage(
        prompt_tokens=17, completion_tokens=5, total_tokens=24, reasoning_tokens=2, cached_tokens=4, raw={}
    )


def test_add_usage_keeps_none_when_both_lack_a_field() -> None:
    total = add_usage(Usage(prompt_tokens=1), Usage(completion_tokens=2))
    assert total is not None
    assert (total.prompt_tokens, total.completion_tokens, total.total_tokens) == (1, 2, None)
    assert (total.reasoning_tokens, total.cached_tokens) == (None, None)


_usage_values = st.one_of(
    st.none(), st.integers(-5, 10**12), st.booleans(), st.floats(allow_nan=False), st.text(max_size=4)
)
_usage_details = st.one_of(
    st.none(),
    _usage_values,
    st.dictionaries(st.sampled_from(["cached_tokens", "reasoning_tokens", "audio_tokens"]), _usage_values),
    st.lists(_usage_values, max_size=2),
)
_usage_objects = st.dictionaries(
    st.sampled_from(
        [
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "prompt_cache_hit_tokens",
            "prompt_tokens_details",
            "completion_tokens_details",
            "queue_time",
        ]
    ),
    _usage_details,
)


@given(obj=_usage_objects)
def test_usage_from_a_plain_dict_reads_as_from_any_mapping(obj: dict[str, Any]) -> None:
    # A plain dict takes from_json's inlined reading; a mapping proxy (not a dict) the other.
    assert Usage.from_json(obj) == Usage.from_json(types.MappingProxyType(obj))


def test_add_usage_of_wire_objects() -> None:
    first = Usage.from_json({"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15})
    second = Usage.from_json(
        {
            "prompt_tokens": 20,
            "completion_tokens": 8,
            "total_tokens": 28,
            "prompt_tokens_details": {"cached_tokens": 12},
            "completion_tokens_details": {"reasoning_tokens": 5},
        }
    )
    total = add_usage(first, second)
    assert total is not None
    assert [getattr(total, name) for name in COUNTS] == [32, 11, 43, 5, 12]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        total.prompt_tokens = 0  # type: ignore[misc]


@given(a=optional_usages, b=optional_usages, c=optional_usages)
def test_add_usage_is_associative(a: Usage | None, b: Usage | None, c: Usage | None) -> None:
    assert add_usage(add_usage(a, b), c) == add_usage(a, add_usage(b, c))


@given(a=optional_usages)
def test_none_is_the_identity(a: Usage | None) -> None:
    assert add_usage(None, a) == a
    assert add_usage(a, None) == a


@given(a=optional_usages, b=optional_usages)
def test_add_usage_is_commutative(a: Usage | None, b: Usage | None) -> None:
    assert add_usage(a, b) == add_usage(b, a)


@given(st.lists(optional_usages, max_size=6))
def test_a_fold_sums_what_was_reported(items: list[Usage | None]) -> None:
    total = functools.reduce(add_usage, items, None)
    reported = [u for u in items if u is not None]
    if not reported:
        assert total is None
        return
    assert total is not None
    for name in COUNTS:
        values = [getattr(u, name) for u in reported if getattr(u, name) is not None]
        assert getattr(total, name) == (sum(values) if values else None)


# ---- ResultMessage --------------------------------------------------------------------------


def result(**changes: Any) -> ResultMessage:
    fields: dict[str, Any] = {
        "subtype": "success",
        "result": "done",
        "is_error": False,
        "num_turns": 2,
        "duration_ms": 1500,
        "duration_api_ms": 1200,
        "usage": Usage(prompt_tokens=10, completion_tokens=4),
    }
    fields.update(changes)
    return ResultMessage(**fields)


def test_result_message_defaults() -> None:
    message = result()
    assert message.subtype == "success"
    assert message.result == "done"
    assert not message.is_error
    assert (message.num_turns, message.duration_ms, message.duration_api_ms) == (2, 1500, 1200)
    assert message.usage == Usage(prompt_tokens=10, completion_tokens=4)
    assert message.stop_reason is None
    assert message.model is None
    assert message.pending_tool_calls == ()
    assert message.errors == ()
    assert message.session_id is None
    assert message.total_cost_usd == 0.0
    assert message.structured_output is None


def test_result_message_with_everything() -> None:
    pending = (
        ToolUseBlock(id="c1", name="f", input={"a": 1}),
        ToolUseError(id="c2", name="g", arguments="{", error="cut off"),
    )
    message = result(
        subtype="error_during_execution",
        result=None,
        is_error=True,
        usage=None,
        stop_reason="tool_calls",
        model="small",
        pending_tool_calls=pending,
        errors=("HTTP 503",),
        session_id="s-1",
        total_cost_usd=0.25,
        structured_output={"answer": 42},
    )
    assert message.pending_tool_calls == pending
    assert message.errors == ("HTTP 503",)
    assert message.usage is None
    assert message == result(**attrs.asdict(message, recurse=False))


def test_result_message_is_frozen_and_keyword_only() -> None:
    message = result()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        message.result = "changed"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        message.errors = ("x",)  # type: ignore[misc]
    with pytest.raises(TypeError):
        ResultMessage("success", "done", False, 1, 1, 1, None)  # type: ignore[call-arg]
    assert attrs.evolve(message, num_turns=3).num_turns == 3
    assert message.num_turns == 2


def test_result_subtypes() -> None:
    subtypes = typing.get_args(ResultSubtype)
    assert subtypes[:2] == ("success", "interrupted")
    assert all(s.startswith("error_") for s in subtypes[2:])
    assert {"error_during_execution", "error_max_turns", "error_doom_loop"} <= set(subtypes)


# ---- SystemMessage --------------------------------------------------------------------------


def test_system_message_data_defaults_to_empty() -> None:
    message = SystemMessage(subtype="init")
    assert message.data == {}
    with pytest.raises(TypeError):
        message.data["model"] = "m"  # type: ignore[index]


def test_system_message_data_is_frozen() -> None:
    data = {"attempt": 2, "model": "m", "delay": 0.5, "reason": "HTTP 503", "tags": ["a", {"b": 1}]}
    message = SystemMessage(subtype="retry", data=data)
    assert message.data["attempt"] == 2
    assert message.data["tags"] == ("a", {"b": 1})
    frozen: Any = message.data
    mutations: list[Callable[[], object]] = [
        lambda: frozen.__setitem__("attempt", 3),
        lambda: frozen.__delitem__("model"),
        lambda: frozen.update(x=1),
        lambda: frozen.pop("model"),
        lambda: frozen.popitem(),
        lambda: frozen.setdefault("x", 1),
        lambda: frozen.clear(),
        lambda: frozen["tags"][1].__setitem__("b", 2),
    ]
    for mutate in mutations:
        with pytest.raises(TypeError):
            mutate()
    with pytest.raises(AttributeError):
        frozen["tags"].append("c")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        message.data = {}  # type: ignore[misc]
    # The caller's dict is copied, not kept.
    data["attempt"] = 99
    data["tags"].append("c")  # type: ignore[attr-defined]
    assert message.data["attempt"] == 2
    assert message.data["tags"] == ("a", {"b": 1})
    assert thaw_json(message.data) == {
        "attempt": 2,
        "model": "m",
        "delay": 0.5,
        "reason": "HTTP 503",
        "tags": ["a", {"b": 1}],
    }


@pytest.mark.parametrize("data", [{"x": object()}, {1: "x"}, ["not", "an", "object"], "text"])
def test_system_message_data_must_be_a_json_object(data: Any) -> None:
    with pytest.raises(TypeError):
        SystemMessage(subtype="init", data=data)


@given(json_objects)
def test_system_message_data_any_json_object(obj: dict[str, Any]) -> None:
    message = SystemMessage(subtype="init", data=obj)
    assert thaw_json(message.data) == obj
    assert json.loads(json.dumps(message.data)) == obj
    assert message == SystemMessage(subtype="init", data=json.loads(json.dumps(obj)))
    with pytest.raises(TypeError):
        message.data["new key"] = 1  # type: ignore[index]


# ---- StreamEvent ----------------------------------------------------------------------------

PARTIAL_EVENTS: list[PartialEvent] = [
    TextDelta(text="a"),
    ReasoningDelta(text="r", choice=1),
    RefusalDelta(text="no"),
    ToolCallDelta(index=0, id="c1", name="f", arguments="{"),
    ToolCall(index=0, id="c1", name="f", arguments="{}", input={}, error=None),
    Usage(prompt_tokens=1),
    Finished(reason="stop"),
]


@pytest.mark.parametrize("event", PARTIAL_EVENTS)
def test_stream_event_wraps_a_core_event(event: PartialEvent) -> None:
    wrapped = StreamEvent(event=event)
    assert wrapped.event is event
    assert wrapped.turn == 1
    assert StreamEvent(event=event, turn=3).turn == 3
    assert wrapped == StreamEvent(event=event)
    assert wrapped != StreamEvent(event=event, turn=2)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        wrapped.turn = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        StreamEvent(event)  # type: ignore[call-arg]


def test_partial_event_covers_the_events_listed() -> None:
    assert set(typing.get_args(PartialEvent)) == {type(event) for event in PARTIAL_EVENTS}


# ---- the partial message of a broken-off response -------------------------------------------


def chunk(delta: dict[str, Any], *, index: int = 0, **extra: Any) -> bytes:
    obj = {"id": "chatcmpl-p", "model": "gen-model", "choices": [{"index": index, "delta": delta}], **extra}
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def arguments(index: int, fragment: str) -> dict[str, Any]:
    return {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}


def opened(index: int, call_id: str, name: str) -> dict[str, Any]:
    entry = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
    return {"tool_calls": [entry]}


# Reasoning, text, a complete tool call, and a second one cut off inside its arguments.
PREFIX = b"".join(
    [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "Let me "}),
        chunk({"reasoning_content": "think."}),
        chunk({"content": "Checking "}),
        chunk({"content": "the weather."}),
        chunk(opened(0, "call_1", "get_weather")),
        chunk(arguments(0, '{"city": ')),
        chunk(arguments(0, '"Paris"}')),
        chunk(opened(1, "call_2", "get_time")),
        chunk(arguments(1, '{"zone": "Eu')),
    ]
)
MALFORMED = [
    b"data: {not json\n\n",
    b"data: [1, 2]\n\n",
    b'data: {"choices": {"index": 0}}\n\n',
    b'data: {"choices": [{"index": 0, "delta": {"content": 5}}]}\n\n',
    b'data: {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": "one"}]}}]}\n\n',
]


def receiving() -> Connection:
    conn = started_connection()
    conn.receive_head(200, [("Content-Type", "text/event-stream")])
    return conn


def check_partial(message: AssistantMessage | None, *, whole_calls: bool = True) -> None:
    """The text and reasoning so far, the cut call as a ``ToolUseError``, and (``whole_calls``)
    the complete call as a ``ToolUseBlock``."""
    assert message is not None
    assert message.content[:2] == (ThinkingBlock(thinking="Let me think."), TextBlock(text="Checking the weather."))
    assert message.text == "Checking the weather."
    assert message.model == "gen-model"
    assert message.id == "chatcmpl-p"
    assert message.stop_reason is None
    assert len(message.content) == 4
    complete, cut = message.tool_uses
    assert type(cut) is ToolUseError
    assert (cut.id, cut.name, cut.arguments) == ("call_2", "get_time", '{"zone": "Eu')
    assert "cut off" in cut.error
    assert (complete.id, complete.name) == ("call_1", "get_weather")
    if whole_calls:
        assert complete == ToolUseBlock(id="call_1", name="get_weather", input={"city": "Paris"})


def test_no_partial_message_before_a_response_head() -> None:
    assert Connection(ENDPOINT).partial_message() is None
    assert started_connection().partial_message() is None


def test_partial_message_of_a_response_with_nothing_yet() -> None:
    conn = receiving()
    assert conn.partial_message() == AssistantMessage()
    conn.receive_data(b": keep-alive\n\n")
    assert get_all_events(conn) == []
    assert conn.partial_message() == AssistantMessage()


def test_partial_message_of_a_cut_response() -> None:
    conn = receiving()
    conn.receive_data(PREFIX)
    events = get_all_events(conn)
    assert [type(e) for e in events[:4]] == [ReasoningDelta, ReasoningDelta, TextDelta, TextDelta]
    check_partial(conn.partial_message())


def test_partial_message_after_a_protocol_error() -> None:
    conn = receiving()
    conn.receive_data(PREFIX)
    get_all_events(conn)
    conn.receive_data(b"data: {not json\n\n")
    with pytest.raises(RemoteProtocolError):
        get_all_events(conn)
    check_partial(conn.partial_message())


@pytest.mark.parametrize("malformed", MALFORMED)
def test_partial_message_after_any_protocol_error(malformed: bytes) -> None:
    # Whatever broke the stream, what was delivered before it is kept (the kind of the complete
    # call is checked by the two tests above).
    conn = receiving()
    conn.receive_data(PREFIX)
    get_all_events(conn)
    conn.receive_data(malformed)
    with pytest.raises(RemoteProtocolError):
        get_all_events(conn)
    check_partial(conn.partial_message(), whole_calls=False)


def test_partial_message_of_text_and_reasoning_only() -> None:
    conn = receiving()
    conn.receive_data(chunk({"reasoning": "hmm"}) + chunk({"content": "Hel"}) + chunk({"content": "lo"}))
    get_all_events(conn)
    conn.receive_data(MALFORMED[0])
    with pytest.raises(RemoteProtocolError):
        get_all_events(conn)
    message = conn.partial_message()
    assert message is not None
    assert message.content == (ThinkingBlock(thinking="hmm"), TextBlock(text="Hello"))
    assert message.tool_uses == ()


def test_partial_message_with_a_refusal_and_usage() -> None:
    conn = receiving()
    usage = {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
    conn.receive_data(chunk({"refusal": "I can't "}) + chunk({"refusal": "help."}) + chunk({}, usage=usage))
    get_all_events(conn)
    message = conn.partial_message()
    assert message is not None
    assert message.refusal == "I can't help."
    assert message.usage == Usage.from_json(usage)
    assert message.content == ()


def test_a_tool_call_cut_inside_its_arguments_is_an_error() -> None:
    conn = receiving()
    conn.receive_data(chunk(opened(0, "call_9", "search")) + chunk(arguments(0, '{"q": "cats", "lim')))
    get_all_events(conn)
    message = conn.partial_message()
    assert message is not None
    (cut,) = message.content
    assert type(cut) is ToolUseError
    assert (cut.id, cut.name, cut.arguments) == ("call_9", "search", '{"q": "cats", "lim')
    assert cut.error


def test_a_complete_tool_call_survives_the_cut() -> None:
    conn = receiving()
    conn.receive_data(chunk(opened(0, "call_1", "get_weather")) + chunk(arguments(0, '{"city": "Paris"}')))
    get_all_events(conn)
    conn.receive_data(MALFORMED[0])
    with pytest.raises(RemoteProtocolError):
        get_all_events(conn)
    message = conn.partial_message()
    assert message is not None
    assert message.content == (ToolUseBlock(id="call_1", name="get_weather", input={"city": "Paris"}),)


def test_partial_message_is_choice_0() -> None:
    conn = started_connection(n=2)
    conn.receive_head(200, [("Content-Type", "text/event-stream")])
    conn.receive_data(chunk({"content": "second"}, index=1))
    get_all_events(conn)
    # Choice 0 has said nothing yet: choice 1's text is not choice 0's.
    message = conn.partial_message()
    assert message is not None
    assert message.text == ""
    conn.receive_data(chunk({"content": "first"}, index=0))
    get_all_events(conn)
    message = conn.partial_message()
    assert message is not None
    assert message.text == "first"


@given(st.lists(st.integers(0, len(PREFIX)), max_size=8))
def test_partial_message_does_not_depend_on_the_reads(points: list[int]) -> None:
    whole = receiving()
    whole.receive_data(PREFIX)
    get_all_events(whole)
    conn = receiving()
    for piece in split_at(PREFIX, points):
        conn.receive_data(piece)
        get_all_events(conn)
    assert conn.partial_message() == whole.partial_message()


@given(st.integers(1, len(PREFIX) - 1))
def test_a_cut_anywhere_keeps_what_was_delivered(cut: int) -> None:
    conn = receiving()
    conn.receive_data(PREFIX[:cut])
    events = get_all_events(conn)
    message = conn.partial_message()
    assert message is not None
    text = "".join(e.text for e in events if type(e) is TextDelta)
    reasoning = "".join(e.text for e in events if type(e) is ReasoningDelta)
    assert message.text == text
    assert "".join(b.thinking for b in message.content if isinstance(b, ThinkingBlock)) == reasoning
    started = {e.id for e in events if type(e) is ToolCallDelta}
    assert {b.id for b in message.tool_uses} == started


def test_a_finished_cycle_has_no_partial_message() -> None:
    conn = receiving()
    conn.receive_data(chunk({"content": "hi"}) + b'data: {"choices":[{"index":0,"finish_reason":"stop"}]}\n\n')
    conn.receive_data(b"")
    get_all_events(conn)
    conn.start_next_cycle()
    assert conn.partial_message() is None


# ---- ResponseAssembler.partial --------------------------------------------------------------


def test_assembler_partial_before_any_chunk() -> None:
    assert ResponseAssembler(status=200, single_choice=True).partial() == AssistantMessage()


def test_assembler_partial_after_chunks() -> None:
    assembler = ResponseAssembler(status=200, single_choice=True)
    out: list[Any] = []
    for delta in (
        {"reasoning_content": "plan"},
        {"content": "ok"},
        opened(0, "c1", "f"),
        arguments(0, '{"x": 1}'),
        opened(1, "c2", "g"),
        arguments(1, '{"y": '),
    ):
        obj = {"id": "r1", "model": "m1", "choices": [{"index": 0, "delta": delta}]}
        assembler.chunk(obj, out, "data_event", json.dumps(obj))
    message = assembler.partial()
    assert message.model == "m1"
    assert message.id == "r1"
    assert message.content[:2] == (ThinkingBlock(thinking="plan"), TextBlock(text="ok"))
    assert message.content[2] == ToolUseBlock(id="c1", name="f", input={"x": 1})
    cut = message.content[3]
    assert type(cut) is ToolUseError
    assert (cut.id, cut.name, cut.arguments) == ("c2", "g", '{"y": ')
