"""Differential tests: anyagent's assembled message against openai-python's own stream machinery.

The same bytes, cut into the same reads, go through

* anyagent: ``decode_response(reads, ..., single_choice=True)``;
* openai-python: ``openai._streaming.SSEDecoder.iter_bytes`` over the reads, then what
  ``Stream.__stream__`` does with each event (stop at ``[DONE]``, ``json.loads``, a truthy
  ``error`` becomes ``APIError``), the ``ChatCompletionChunk`` built as
  ``BaseClient._process_response_data`` builds it (``construct_type``: no strict validation by
  default), the ``object`` filter of ``ChatCompletionStream.__stream__``, then
  ``ChatCompletionStreamState.handle_chunk`` and its ``current_completion_snapshot``.

The snapshot, not ``get_final_completion()``: that one only re-parses the snapshot, and raises
``LengthFinishReasonError`` for every ``finish_reason: "length"`` (even without a
``response_format``), so it has no final message to compare for a length-truncated answer.

Both results are reduced to the same plain ``Assembled`` record and compared whole.

openai-python keeps delta keys it does not model (``reasoning_content``, ``reasoning``) as
extra attributes of the snapshot message (pydantic ``model_extra``), concatenated like any other
string, so reasoning is compared too.

Known openai-python divergences (../shared/SERVERS.md §3) that these inputs avoid by construction:
``chat_streams()`` sends ``role`` once (openai-python concatenates repeats), ``id`` and ``name``
once per call (concatenated too), integer tool-call indices (``null`` crashes it), and ``usage``
only on the last chunk (openai-python lets a later chunk without usage erase it). The corpus test
only takes the cases whose sidecar says openai-python 3.54.0 handles them correctly.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from openai._models import construct_type
from openai._streaming import SSEDecoder
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.lib.streaming.chat._completions import _is_valid_chat_completion_chunk_weak
from openai.types.chat import ChatCompletionChunk

from anyagent_core import ThinkingBlock, ToolCall, ToolUseBlock, decode_response, thaw_json
from tests.helpers import STREAMS, corpus_cases, load_case, require_corpus
from tests.strategies import ChatStream, Framing, chat_streams, chunkings, encode_stream

_OPENAI_REFERENCE = "openai-python"


@dataclasses.dataclass(frozen=True)
class Assembled:
    """What both sides must agree on, for choice 0."""

    content: str
    reasoning: str
    refusal: str | None
    tool_calls: list[tuple[int, str | None, str, str, dict[str, Any] | None]]
    """(index, id, name, arguments as streamed, the arguments as a JSON object or None)"""
    finish_reason: str | None
    usage: dict[str, Any] | None
    model: str | None
    response_id: str | None
    error: str | None
    """The message of a mid-stream error (openai-python raises ``APIError`` with it)."""
    done: bool
    """The stream ended with ``[DONE]`` and no error came before it (openai-python stops reading at
    a mid-stream error, so it never sees a ``[DONE]`` after one)."""


def _json_object(arguments: str) -> dict[str, Any] | None:
    try:
        value = json.loads(arguments)
    except ValueError:
        return None
    return value if type(value) is dict else None


def assemble_with_anyagent(reads: Sequence[bytes]) -> Assembled:
    decoded = decode_response(reads, status=200, content_type="text/event-stream", single_choice=True)
    message = decoded.message
    calls = [e for e in decoded.events if type(e) is ToolCall]
    blocks = message.tool_uses
    assert len(blocks) == len(calls)
    tool_calls: list[tuple[int, str | None, str, str, dict[str, Any] | None]] = []
    for call, block in zip(calls, blocks, strict=True):
        # The message is what a caller uses: its ids and names must be the calls' ones.
        assert (block.id, block.name) == (call.id, call.name)
        parsed = thaw_json(block.input) if isinstance(block, ToolUseBlock) else None
        tool_calls.append((call.index, None if call.id_synthesized else block.id, block.name, call.arguments, parsed))
    return Assembled(
        content=message.text,
        reasoning="".join(b.thinking for b in message.content if isinstance(b, ThinkingBlock)),
        refusal=message.refusal,
        tool_calls=tool_calls,
        finish_reason=message.stop_reason,
        usage=None if message.usage is None else thaw_json(message.usage.raw),
        model=message.model,
        response_id=message.id,
        error=None if decoded.error is None else decoded.error.message,
        done=decoded.done_received and decoded.error is None,
    )


def _stream_error_message(data: dict[str, Any]) -> str:
    """The message of the ``APIError`` that ``Stream.__stream__`` raises for ``data``."""
    error = data["error"]
    message = error.get("message") if isinstance(error, dict) else None
    if not message or not isinstance(message, str):
        message = "An error occurred during streaming"
    return message


def assemble_with_openai(reads: Sequence[bytes]) -> Assembled:
    """openai-python's pipeline, step for step as ``Stream`` and ``ChatCompletionStream`` run it."""
    state: Any = ChatCompletionStreamState()
    done = False
    error: str | None = None
    handled = 0
    for sse in SSEDecoder().iter_bytes(iter(reads)):
        if sse.data.startswith("[DONE]"):
            done = True
            break
        data = json.loads(sse.data)  # ServerSentEvent.json()
        if isinstance(data, dict) and data.get("error"):
            error = _stream_error_message(data)  # Stream.__stream__ raises APIError here
            break
        chunk = construct_type(type_=ChatCompletionChunk, value=data)
        if not _is_valid_chat_completion_chunk_weak(chunk):
            continue
        list(state.handle_chunk(chunk))
        handled += 1
    assert handled, "openai-python saw no chunk: nothing to compare"
    completion = state.current_completion_snapshot
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    message = choice.message
    extra: dict[str, Any] = message.model_extra or {}
    reasoning = extra.get("reasoning_content") or extra.get("reasoning") or ""
    tool_calls = [
        (call.index, call.id, call.function.name, call.function.arguments, _json_object(call.function.arguments))
        for call in message.tool_calls or []
    ]
    return Assembled(
        content=message.content or "",
        reasoning=reasoning,
        refusal=message.refusal or None,
        tool_calls=tool_calls,
        finish_reason=choice.finish_reason,
        usage=None if completion.usage is None else completion.usage.to_dict(),
        model=completion.model,
        response_id=completion.id,
        error=error,
        done=done,
    )


@st.composite
def streams_and_reads(draw: st.DrawFn) -> tuple[ChatStream, list[bytes]]:
    stream = draw(chat_streams())
    return stream, draw(chunkings(encode_stream(stream.chunks, Framing())))


@given(streams_and_reads())
def test_generated_streams_assemble_as_openai_python_does(case: tuple[ChatStream, list[bytes]]) -> None:
    stream, reads = case
    theirs = assemble_with_openai(reads)
    ours = assemble_with_anyagent(reads)
    assert ours == theirs
    # Not vacuous: openai-python assembled the stream the generator describes.
    assert theirs.done
    assert theirs.error is None
    assert [(i, n, a) for _, i, n, a, _ in theirs.tool_calls] == stream.tool_calls
    assert all(parsed is not None for *_, parsed in theirs.tool_calls)
    assert (theirs.content, theirs.reasoning, theirs.refusal, theirs.finish_reason) == (
        stream.content,
        stream.reasoning,
        stream.refusal,
        stream.finish_reason,
    )
    assert theirs.usage == stream.usage


def _openai_handles(sidecar: dict[str, Any]) -> bool:
    verdicts = sidecar.get("reference_behaviour") or {}
    return any(key.startswith(_OPENAI_REFERENCE) and value == "OK" for key, value in verdicts.items())


def test_corpus_cases_openai_python_handles_assemble_alike() -> None:
    require_corpus()
    cases = [name for name in corpus_cases() if _openai_handles(load_case(name)[1])]
    assert cases, f"no case in {STREAMS} says openai-python handles it"
    mismatches: dict[str, tuple[Assembled, Assembled]] = {}
    for name in cases:
        body, sidecar = load_case(name)
        assert (sidecar["http_status"], sidecar["content_type"]) == (200, "text/event-stream"), name
        for reads in ([body], [body[i : i + 1] for i in range(len(body))]):
            theirs = assemble_with_openai(reads)
            ours = assemble_with_anyagent(reads)
            if ours != theirs:
                mismatches[f"{name} ({len(reads)} reads)"] = (ours, theirs)
    assert not mismatches
