"""Hypothesis strategies: well-formed chat streams, framings, chunkings, conversations."""

from __future__ import annotations

import itertools
import json
from typing import Any

import attrs
from hypothesis import strategies as st

from anyagent_core import (
    AssistantMessage,
    ImageBlock,
    Message,
    StartTurn,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    UserMessage,
)

# Text that survives UTF-8 (no lone surrogates).
texts = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)
any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
names = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
json_scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | any_text
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(names, json_values, max_size=4)


@attrs.frozen
class ChatStream:
    """A generated stream: the chunk objects in order, and what a parser must assemble."""

    chunks: list[dict[str, Any]]
    content: str
    reasoning: str
    tool_calls: list[tuple[str, str, str]]  # (id, name, arguments)
    finish_reason: str
    usage: dict[str, Any] | None
    refusal: str | None = None


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-gen",
        "object": "chat.completion.chunk",
        "created": 1750000000,
        "model": "gen-model",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        **extra,
    }


def _fragments(draw: st.DrawFn, text: str) -> list[str]:
    if not text:
        return []
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(text) - 1)), max_size=6))))
    edges = [0, *[c for c in cuts if c < len(text)], len(text)]
    return [text[a:b] for a, b in itertools.pairwise(edges) if b > a]


@st.composite
def chat_streams(draw: st.DrawFn, *, reasoning_field: str | None = None) -> ChatStream:
    """An OpenAI-shaped stream: role chunk, optional reasoning, text, tool calls streamed by
    index (header then argument fragments), a finish chunk and an optional usage chunk."""
    chunks = [_chunk({"role": "assistant", "content": ""})]
    field = reasoning_field or draw(st.sampled_from(["reasoning_content", "reasoning"]))
    reasoning = draw(st.lists(texts, max_size=4))
    chunks.extend(_chunk({field: piece}) for piece in reasoning)
    content = draw(st.lists(texts, max_size=8))
    chunks.extend(_chunk({"content": piece}) for piece in content)
    refusal = draw(st.lists(texts, max_size=3))
    chunks.extend(_chunk({"refusal": piece}) for piece in refusal)
    calls: list[tuple[str, str, str]] = []
    for index in range(draw(st.integers(0, 3))):
        call_id = f"call_{index}_{draw(st.from_regex(r'[A-Za-z0-9]{4}', fullmatch=True))}"
        name = draw(names)
        arguments = json.dumps(draw(json_objects), ensure_ascii=draw(st.booleans()))
        calls.append((call_id, name, arguments))
        header = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        chunks.append(_chunk({"tool_calls": [header]}))
        chunks.extend(
            _chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            for piece in _fragments(draw, arguments)
        )
    finish = "tool_calls" if calls else draw(st.sampled_from(["stop", "length"]))
    chunks.append(_chunk({}, finish))
    usage = None
    if draw(st.booleans()):
        usage = {"prompt_tokens": draw(st.integers(0, 5000)), "completion_tokens": draw(st.integers(0, 5000))}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        usage_chunk = _chunk({})
        usage_chunk["choices"] = []
        usage_chunk["usage"] = usage
        chunks.append(usage_chunk)
    return ChatStream(chunks, "".join(content), "".join(reasoning), calls, finish, usage, "".join(refusal) or None)


@attrs.frozen
class Framing:
    """How a stream is put on the wire: all variants a WHATWG-conformant parser must accept."""

    newline: str = "\n"
    space: bool = True
    bom: bool = False
    comments: bool = False
    multiline: bool = False
    fields: bool = False  # id:/event:/retry: lines and field-only blocks
    done: bool = True


plain_framing = st.just(Framing())
framings = st.builds(
    Framing,
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    space=st.booleans(),
    bom=st.booleans(),
    comments=st.booleans(),
    multiline=st.booleans(),
    fields=st.booleans(),
    done=st.just(True),
)


def encode_stream(chunks: list[dict[str, Any]], framing: Framing) -> bytes:
    nl = framing.newline
    prefix = "data: " if framing.space else "data:"
    parts = ["\ufeff"] if framing.bom else []
    for i, chunk in enumerate(chunks):
        if framing.comments:
            parts.append(f": keep-alive {i}{nl}{nl}")
        if framing.fields:
            parts.append(f"retry: 3000{nl}{nl}id: {i}{nl}event: message{nl}")
        if framing.multiline:
            text = json.dumps(chunk, indent=1, ensure_ascii=False)
            parts.extend(f"{prefix}{line}{nl}" for line in text.split("\n"))
        else:
            parts.append(f"{prefix}{json.dumps(chunk, ensure_ascii=False, separators=(',', ':'))}{nl}")
        parts.append(nl)
    if framing.done:
        parts.append(f"{prefix}[DONE]{nl}{nl}")
    return "".join(parts).encode("utf-8")


@st.composite
def chunkings(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` split into reads: at random points, or in fixed-size reads."""
    if not data:
        return []
    if draw(st.booleans()):
        size = draw(st.integers(1, 64))
        return [data[i : i + size] for i in range(0, len(data), size)]
    points = draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=40))
    cuts = sorted(set(points))
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


# ---- conversations (canonical forms: exactly what the writer can express) -------------------

tool_ids = st.from_regex(r"call_[A-Za-z0-9]{1,8}", fullmatch=True)
images = st.builds(
    ImageBlock,
    url=st.sampled_from(["https://example.com/cat.png", "data:image/png;base64,iVBORw0KGgo="]),
    detail=st.sampled_from([None, "low", "high", "auto"]),
)


@st.composite
def user_messages(draw: st.DrawFn) -> UserMessage:
    kind = draw(st.sampled_from(["text", "parts", "results"]))
    if kind == "text":
        return UserMessage(content=draw(texts))
    if kind == "parts":
        # Two or more parts (one lone text block is written as a plain string).
        parts = draw(st.lists(st.one_of(texts.map(lambda t: TextBlock(text=t)), images), min_size=2, max_size=3))
        return UserMessage(content=tuple(parts))
    results = draw(
        st.lists(
            st.builds(ToolResultBlock, tool_use_id=tool_ids, content=any_text),
            min_size=1,
            max_size=3,
        )
    )
    tail = draw(st.lists(texts.map(lambda t: TextBlock(text=t)), max_size=1))
    return UserMessage(content=(*results, *tail))


@st.composite
def assistant_messages(draw: st.DrawFn) -> AssistantMessage:
    blocks: list[Any] = []
    if draw(st.booleans()):
        blocks.append(ThinkingBlock(thinking=draw(texts)))
    if draw(st.booleans()):
        blocks.append(TextBlock(text=draw(texts)))
    for _ in range(draw(st.integers(0, 2))):
        blocks.append(ToolUseBlock(id=draw(tool_ids), name=draw(names), input=draw(json_objects)))
    return AssistantMessage(content=tuple(blocks), refusal=draw(st.none() | texts))


conversations = st.lists(st.one_of(user_messages(), assistant_messages()), min_size=1, max_size=5)


@st.composite
def start_turns(draw: st.DrawFn) -> StartTurn:
    tools = draw(
        st.lists(
            st.builds(
                ToolSpec,
                name=names,
                description=any_text,
                parameters=st.just({"type": "object", "properties": {"x": {"type": "string"}}}),
                strict=st.none() | st.booleans(),
            ),
            max_size=3,
            unique_by=lambda t: t.name,
        )
    )
    choices: list[Any] = [None, "auto", "none", "required", *(t.name for t in tools)]
    messages: list[Message] = draw(conversations)
    stream = draw(st.booleans())
    return StartTurn(
        model=draw(names),
        messages=messages,
        system_prompt=draw(st.none() | texts),
        tools=tools,
        tool_choice=draw(st.sampled_from(choices)),
        parallel_tool_calls=draw(st.none() | st.booleans()),
        stream=stream,
        include_usage=draw(st.booleans()) if stream else True,
        max_tokens=draw(st.none() | st.integers(1, 4096)),
        temperature=draw(st.none() | st.floats(0, 2, allow_nan=False)),
        top_p=draw(st.none() | st.floats(0, 1, allow_nan=False)),
        seed=draw(st.none() | st.integers(0, 2**31)),
        stop=draw(st.lists(texts, max_size=2)),
        n=draw(st.none() | st.integers(1, 3)),
        response_format=draw(st.none() | st.just({"type": "json_object"})),
        extra_body=draw(
            st.dictionaries(st.sampled_from(["top_k", "min_p", "repeat_penalty"]), st.integers(0, 50), max_size=2)
        ),
    )
