"""Deterministic, realistic chat-completions SSE bodies for the benchmarks (no files needed).

Every body looks like what OpenAI's API sends for ``stream=True`` with
``stream_options={"include_usage": true}``: compact JSON chunks carrying ``id``, ``object``,
``created``, ``model``, ``service_tier``, ``system_fingerprint``, ``choices`` (``index``,
``delta``, ``logprobs``, ``finish_reason``) and ``usage: null``; a first chunk with the role, a
finish chunk with an empty delta, a usage chunk with ``"choices": []``, then ``data: [DONE]``.

Each workload also carries the ground truth (the content, tool calls, finish reason and usage
that a correct parser must assemble), so the benchmark can check every contender against it.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AGENT_TOOL",
    "READ_SIZE",
    "Expected",
    "agent_answer",
    "agent_call_arguments",
    "agent_final_text",
    "Workload",
    "all_workloads",
    "split_reads",
    "w1_text",
    "w2_tool_calls",
    "w3_many_streams",
    "w3_tool_responses",
]

READ_SIZE = 4096
"""The default read size: what a socket or an HTTP client typically hands over at a time."""

_MODEL = "gpt-4o-2024-08-06"
_ALNUM = string.ascii_letters + string.digits

# Token-like pieces of a few characters: mostly ASCII words, some non-ASCII (accents, CJK,
# emoji), markdown, newlines and quotes (which JSON escapes).
_TOKENS = (
    " the",
    " a",
    " of",
    " and",
    " to",
    " in",
    " is",
    " that",
    " for",
    " it",
    " with",
    " as",
    " on",
    " model",
    " stream",
    " parser",
    " token",
    " chunk",
    " data",
    " value",
    " result",
    " request",
    " server",
    " client",
    " buffer",
    " event",
    ",",
    ".",
    ":",
    " (",
    ")",
    " -",
    "\n",
    "\n\n",
    "**",
    "`",
    ' "',
    '"',
    " café",
    " naïve",
    " résumé",
    " Straße",
    " über",
    " déjà",
    " 日本",
    "語",
    " 数据",
    "流",
    " Привет",
    " 🙂",
    " 🚀",
    " ∑",
    " →",
    " ½",
)

_WORDS = (
    "alpha",
    "beta",
    "gamma",
    "delta",
    "config",
    "stream",
    "parser",
    "buffer",
    "schema",
    "request",
    "response",
    "token",
    "usage",
    "model",
    "café",
    "naïve",
    "日本語",
    "données",
    "Größe",
    "🙂",
)


@dataclass(frozen=True)
class Expected:
    """What a correct parser assembles from one body (choice 0)."""

    content: str
    tool_calls: tuple[tuple[str, str, str], ...]
    """``(id, name, arguments)`` in index order, arguments exactly as streamed."""
    finish_reason: str
    usage: dict[str, Any]


@dataclass(frozen=True)
class Workload:
    """One benchmark workload: one or more complete response bodies."""

    name: str
    description: str
    bodies: list[bytes]
    expected: list[Expected]
    chunks: int
    """JSON chunk events over all bodies (``[DONE]`` not counted)."""
    reads: list[list[bytes]] = field(default_factory=list)
    """``bodies`` cut into network-like reads (``split_reads``)."""

    @property
    def total_bytes(self) -> int:
        return sum(len(body) for body in self.bodies)

    @property
    def total_reads(self) -> int:
        return sum(len(reads) for reads in self.reads)


# ---- building blocks ------------------------------------------------------------------------


class _StreamWriter:
    """Builds one response body chunk by chunk, the way OpenAI frames it."""

    def __init__(self, rng: random.Random) -> None:
        self.response_id = "chatcmpl-" + "".join(rng.choices(_ALNUM, k=29))
        self.created = 1_730_000_000 + rng.randrange(10_000_000)
        self.fingerprint = "fp_" + "".join(rng.choices("0123456789abcdef", k=10))
        self.parts: list[bytes] = []
        self.chunks = 0

    def _emit(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None) -> None:
        obj = {
            "id": self.response_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": _MODEL,
            "service_tier": "default",
            "system_fingerprint": self.fingerprint,
            "choices": choices,
            "usage": usage,
        }
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        self.parts.append(b"data: " + text.encode("utf-8") + b"\n\n")
        self.chunks += 1

    def delta(self, delta: dict[str, Any], finish_reason: str | None = None) -> None:
        self._emit([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}], None)

    def usage(self, prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        self._emit([], usage)
        return usage

    def body(self) -> bytes:
        return b"".join([*self.parts, b"data: [DONE]\n\n"])


def _text_stream(rng: random.Random, n_content: int) -> tuple[bytes, Expected, int]:
    writer = _StreamWriter(rng)
    writer.delta({"role": "assistant", "content": "", "refusal": None})
    pieces = []
    for _ in range(n_content):
        piece = rng.choice(_TOKENS)
        pieces.append(piece)
        writer.delta({"content": piece})
    writer.delta({}, "stop")
    usage = writer.usage(rng.randrange(20, 2000), n_content)
    expected = Expected(content="".join(pieces), tool_calls=(), finish_reason="stop", usage=usage)
    return writer.body(), expected, writer.chunks


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def _tool_arguments(rng: random.Random, name: str, size: int) -> str:
    """A JSON object of about ``size`` characters, as a model writes tool arguments."""
    if name == "write_file":
        lines: list[str] = []
        while sum(len(line) + 1 for line in lines) < size - 80:
            lines.append(f'    print("{_sentence(rng, rng.randrange(2, 7))}")  # {rng.randrange(1000)}')
        value: dict[str, Any] = {"path": "src/app/handlers.py", "content": "\n".join(lines) + "\n", "overwrite": True}
    elif name == "search_docs":
        results: list[dict[str, Any]] = []
        value = {"query": _sentence(rng, 6), "top_k": 25, "filters": {"lang": ["en", "fr", "ja"]}, "sources": results}
        while len(json.dumps(value, ensure_ascii=False)) < size:
            results.append({"title": _sentence(rng, 3), "score": round(rng.random(), 4), "page": rng.randrange(300)})
    else:
        rows: list[list[Any]] = []
        value = {"sql": "INSERT INTO events (ts, kind, label) VALUES (?, ?, ?)", "params": rows, "dry_run": False}
        while len(json.dumps(value, ensure_ascii=False)) < size:
            rows.append([1_730_000_000 + rng.randrange(10**6), rng.choice(_WORDS), _sentence(rng, 2)])
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _fragments(rng: random.Random, text: str, low: int, high: int) -> list[str]:
    out = []
    pos = 0
    while pos < len(text):
        step = rng.randint(low, high)
        out.append(text[pos : pos + step])
        pos += step
    return out


# ---- workloads ------------------------------------------------------------------------------


def w1_text(seed: int = 1, n_content: int = 4000) -> Workload:
    """W1: one text answer streamed as ``n_content`` content chunks of a few characters."""
    body, expected, chunks = _text_stream(random.Random(seed), n_content)
    return Workload(
        name="W1",
        description=f"text answer, {n_content} content chunks",
        bodies=[body],
        expected=[expected],
        chunks=chunks,
    )


def w2_tool_calls(seed: int = 2, n_calls: int = 3, arg_size: int = 2048) -> Workload:
    """W2: ``n_calls`` parallel tool calls, each a header delta (id, type, name, ``arguments: ""``)
    and then about ``arg_size`` characters of JSON arguments in ~5-character fragments. Like
    OpenAI, the calls are streamed one after the other (index 0, then 1, then 2)."""
    rng = random.Random(seed)
    writer = _StreamWriter(rng)
    writer.delta({"role": "assistant", "content": None, "refusal": None})
    names = ("write_file", "search_docs", "run_sql")
    calls = []
    for index in range(n_calls):
        name = names[index % len(names)]
        call_id = "call_" + "".join(rng.choices(_ALNUM, k=24))
        arguments = _tool_arguments(rng, name, arg_size)
        header = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        writer.delta({"tool_calls": [header]})
        for fragment in _fragments(rng, arguments, 3, 7):
            writer.delta({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
        calls.append((call_id, name, arguments))
    writer.delta({}, "tool_calls")
    usage = writer.usage(812, writer.chunks)
    expected = Expected(content="", tool_calls=tuple(calls), finish_reason="tool_calls", usage=usage)
    return Workload(
        name="W2",
        description=f"{n_calls} tool calls, ~{arg_size} B arguments each in ~5-char fragments",
        bodies=[writer.body()],
        expected=[expected],
        chunks=writer.chunks,
    )


def w3_many_streams(seed: int = 3, n_streams: int = 1000, chunks_per_stream: int = 20) -> Workload:
    """W3-text: ``n_streams`` short text responses of ``chunks_per_stream`` chunks each (role,
    content, finish, usage): per-response setup and teardown costs dominate."""
    rng = random.Random(seed)
    bodies = []
    expected = []
    chunks = 0
    for _ in range(n_streams):
        body, exp, n = _text_stream(rng, chunks_per_stream - 3)
        bodies.append(body)
        expected.append(exp)
        chunks += n
    return Workload(
        name="W3-text",
        description=f"{n_streams} text streams of {chunks_per_stream} chunks",
        bodies=bodies,
        expected=expected,
        chunks=chunks,
    )


# ---- an agent's answers ---------------------------------------------------------------------

AGENT_TOOL = "add"
"""The tool the agent workload's model calls: ``add(a: int, b: int) -> int``."""


def agent_call_arguments(round_: int, call: int) -> dict[str, int]:
    """The arguments of call ``call`` of round ``round_`` (the tool's result is their sum)."""
    return {"a": 1000 + 10 * round_ + call, "b": 7 * call + 3}


def agent_final_text(rounds: int, calls: int) -> str:
    """The answer after ``rounds`` rounds of ``calls`` tool calls each: every result named."""
    sums = [sum(agent_call_arguments(r, c).values()) for r in range(rounds) for c in range(calls)]
    return f"After {rounds * calls} calls of {AGENT_TOOL}, the sums were " + ", ".join(map(str, sums)) + "."


def agent_answer(round_: int, rounds: int, calls: int) -> bytes:
    """The streamed answer of an agent's request in round ``round_`` (0-based) of ``rounds``:
    before the last round, ``calls`` parallel calls of ``add`` (a header delta each, then the
    arguments in ~4-character fragments, ``finish_reason: "tool_calls"``); in the last, the final
    text in about 20 chunks. Call ids are ``call_<round>_<call>``. Deterministic."""
    rng = random.Random(round_ * 1009 + rounds * 31 + calls)
    writer = _StreamWriter(rng)
    if round_ < rounds:
        writer.delta({"role": "assistant", "content": None, "refusal": None})
        for index in range(calls):
            header = {
                "index": index,
                "id": f"call_{round_}_{index}",
                "type": "function",
                "function": {"name": AGENT_TOOL, "arguments": ""},
            }
            writer.delta({"tool_calls": [header]})
            arguments = json.dumps(agent_call_arguments(round_, index), separators=(",", ":"))
            for fragment in _fragments(rng, arguments, 3, 5):
                writer.delta({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
        writer.delta({}, "tool_calls")
    else:
        writer.delta({"role": "assistant", "content": "", "refusal": None})
        text = agent_final_text(rounds, calls)
        for fragment in _fragments(rng, text, max(1, len(text) // 20), max(1, len(text) // 16)):
            writer.delta({"content": fragment})
        writer.delta({}, "stop")
    writer.usage(200 + 60 * round_ * calls, writer.chunks)
    return writer.body()


def split_reads(body: bytes, read_size: int = READ_SIZE, *, seed: int | None = None) -> list[bytes]:
    """Cut ``body`` into reads as a transport hands them over: ``read_size`` bytes each, or,
    with ``seed``, deterministic random sizes between ``read_size // 2`` and ``read_size * 3 // 2``.
    Reads split lines, events and UTF-8 characters wherever they fall."""
    if seed is None:
        return [body[i : i + read_size] for i in range(0, len(body), read_size)]
    rng = random.Random(seed)
    reads = []
    pos = 0
    while pos < len(body):
        step = rng.randint(max(1, read_size // 2), max(1, read_size * 3 // 2))
        reads.append(body[pos : pos + step])
        pos += step
    return reads


def w3_tool_responses(seed: int = 3, n_streams: int = 300) -> Workload:
    """W3: ``n_streams`` small responses each carrying one tool call, as llama.cpp and OpenAI
    stream them: a role chunk, a header delta (id, type, name, ``arguments: ""``), a few
    argument fragments, the finish chunk and a usage chunk. Per-response costs dominate."""
    rng = random.Random(seed)
    names = ("get_weather", "search_docs", "run_sql", "read_file")
    bodies = []
    expected = []
    chunks = 0
    for _ in range(n_streams):
        writer = _StreamWriter(rng)
        writer.delta({"role": "assistant", "content": None, "refusal": None})
        name = rng.choice(names)
        call_id = "call_" + "".join(rng.choices(_ALNUM, k=24))
        arguments = json.dumps(
            {"query": _sentence(rng, rng.randrange(2, 6)), "limit": rng.randrange(1, 50)},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        header = {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        writer.delta({"tool_calls": [header]})
        for fragment in _fragments(rng, arguments, 4, 12):
            writer.delta({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]})
        writer.delta({}, "tool_calls")
        usage = writer.usage(rng.randrange(100, 2000), writer.chunks)
        bodies.append(writer.body())
        expected.append(
            Expected(content="", tool_calls=((call_id, name, arguments),), finish_reason="tool_calls", usage=usage)
        )
        chunks += writer.chunks
    return Workload(
        name="W3",
        description=f"{n_streams} small tool-call responses",
        bodies=bodies,
        expected=expected,
        chunks=chunks,
    )


def all_workloads(read_size: int = READ_SIZE) -> list[Workload]:
    """W1, W2, W3 and W3-text, each with its bodies cut into ``read_size`` reads."""
    workloads = [w1_text(), w2_tool_calls(), w3_tool_responses(), w3_many_streams()]
    for workload in workloads:
        workload.reads.extend(split_reads(body, read_size) for body in workload.bodies)
    return workloads
