"""Servers for ``anyagent doctor``'s tests, as loopback handlers answering each probe.

``llama-server.json`` and ``llama-cpp-python.json`` beside this file are recorded: each probe's
request sent to ``../shared/bin/llama-server`` (``--jinja --embeddings``) and to llama-cpp-python
0.3.36, both on the tiny model, and the status, content type and body they answered (the
embedding cut to 8 numbers). vLLM, Ollama, LM Studio and OpenRouter are written from their
documented shapes (``../shared/SERVERS.md`` §4, the window answers of tests/core/context):
what each is known to send for the same requests.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from anyagent_httpx.testing import ReceivedRequest, Reply
from tests.core.context.test_window import LMSTUDIO_MODELS, OLLAMA_PS, OPENROUTER_MODELS, VLLM_MODELS

HERE = pathlib.Path(__file__).resolve().parent

Answers = dict[str, Reply]


def recorded(name: str) -> Answers:
    """The answers recorded from a real server (``llama-server`` or ``llama-cpp-python``)."""
    document = json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))
    return {
        probe: Reply(
            status=entry["status"],
            headers=[("content-type", entry["content_type"])],
            chunks=[entry["body"].encode()],
        )
        for probe, entry in document.items()
    }


def sse(chunks: Sequence[Mapping[str, Any] | str], *, done: bool = True, comments: Sequence[str] = ()) -> Reply:
    """An SSE reply: one ``data:`` event per chunk (a str is sent as it is), ``[DONE]`` last."""
    parts = [f": {comment}\n\n" for comment in comments]
    parts += [f"data: {c if isinstance(c, str) else json.dumps(c)}\n\n" for c in chunks]
    if done:
        parts.append("data: [DONE]\n\n")
    return Reply(chunks=[part.encode() for part in parts])


def completion(message: Mapping[str, Any], finish: str = "stop", **extra: Any) -> Reply:
    return Reply.json(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29},
            **extra,
        }
    )


def call(name: str, arguments: str, id: str = "call_1", index: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}
    if index is not None:
        entry["index"] = index
    return entry


def chunk(delta: Mapping[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": dict(delta), "finish_reason": finish}],
        **extra,
    }


USAGE = {"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29}
PARIS = '{"city": "Paris"}'
LONDON = '{"city": "London"}'


def vllm() -> Answers:
    """vLLM with ``--enable-auto-tool-choice --tool-call-parser hermes`` and a reasoning parser
    (``reasoning`` since PR #27752); ``/tokenize`` at the root; no embeddings (a generate model)."""
    header = {"index": 0, "id": "chatcmpl-tool-aa62", "type": "function", "function": {"name": "get_weather"}}
    return {
        "models": Reply.json(VLLM_MODELS),
        "chat": completion({"content": "Hello!", "reasoning": "Greet back."}),
        "streaming": sse(
            [
                chunk({"role": "assistant", "content": ""}, logprobs=None, prompt_token_ids=None),
                chunk({"reasoning": "Greet"}),
                chunk({"reasoning": " back."}),
                chunk({"content": "Hel"}),
                chunk({"content": "lo!"}),
                chunk({"content": ""}, finish="stop", stop_reason=None),
                {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [], "usage": USAGE},
            ]
        ),
        "tools": completion(
            {"content": None, "tool_calls": [call("get_weather", PARIS, "chatcmpl-tool-aa62")]}, "tool_calls"
        ),
        "tools_streamed": sse(
            [
                chunk({"role": "assistant", "content": ""}),
                chunk({"tool_calls": [header]}),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
                chunk({"content": ""}, finish="tool_calls"),
            ]
        ),
        "parallel": completion(
            {
                "content": None,
                "tool_calls": [
                    call("get_weather", PARIS, "chatcmpl-tool-1"),
                    call("get_weather", LONDON, "chatcmpl-tool-2"),
                ],
            },
            "tool_calls",
        ),
        "forced_tool": completion(
            {"content": None, "tool_calls": [call("get_weather", PARIS, "chatcmpl-tool-3")]}, "stop"
        ),
        "json_schema": completion({"content": '{"ok": true}'}),
        "tokenize": Reply.json({"count": 2, "max_model_len": 32768, "tokens": [14990, 1879]}),
        "embeddings": Reply.json(
            {
                "object": "error",
                "message": "The model does not support Embeddings API",
                "type": "BadRequestError",
                "param": None,
                "code": 400,
            },
            status=400,
        ),
    }


def ollama() -> Answers:
    """Ollama's ``/v1`` from v0.4.6 to 2026-07: every chunk repeats the role and ``content: ""``,
    a tool call comes whole in one chunk, parallel calls too, reasoning in ``reasoning``; the
    window from ``/api/ps``; embeddings; no ``/tokenize``."""
    models = {
        "object": "list",
        "data": [{"id": "llama3.2:latest", "object": "model", "created": 1735689600, "owned_by": "library"}],
    }

    def repeat(delta: Mapping[str, Any], finish: str | None = None) -> dict[str, Any]:
        return chunk({"role": "assistant", "content": "", **delta}, finish, system_fingerprint="fp_ollama")

    return {
        "models": Reply.json(models),
        "chat": completion({"content": "Hello there."}, system_fingerprint="fp_ollama"),
        "streaming": sse(
            [
                repeat({"reasoning": "The user greets."}),
                repeat({"content": "Hello"}),
                repeat({"content": " there."}),
                repeat({}, finish="stop"),
                {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [], "usage": USAGE},
            ]
        ),
        "tools": completion({"content": "", "tool_calls": [call("get_weather", PARIS, "call_ab12cd34")]}, "tool_calls"),
        "tools_streamed": sse(
            [
                repeat({"tool_calls": [call("get_weather", '{"city":"Paris"}', "call_ab12cd34", 0)]}),
                repeat({}, finish="tool_calls"),
            ]
        ),
        "parallel": completion(
            {
                "content": "",
                "tool_calls": [call("get_weather", PARIS, "call_1", 0), call("get_weather", LONDON, "call_2", 1)],
            },
            "tool_calls",
        ),
        "forced_tool": completion({"content": "Hello! How can I help?"}),  # tool_choice is not enforced
        "json_schema": completion({"content": '{"ok":true}'}),
        "ollama_ps": Reply.json(OLLAMA_PS),
        "embeddings": Reply.json(
            {
                "object": "list",
                "data": [{"object": "embedding", "embedding": [0.1] * 384, "index": 0}],
                "model": "llama3.2:latest",
            }
        ),
    }


def lmstudio() -> Answers:
    """LM Studio: streamed fragments repeat ``type`` and ``name: ""``, numeric ids, parallel calls
    broken (0.3.17/0.3.18: one call), ``reasoning_content`` with separation on, usage with
    ``include_usage``; the window from ``/api/v1/models``; embeddings; no ``/tokenize``."""
    models = {"object": "list", "data": [{"id": "qwen/qwen3-4b", "object": "model", "owned_by": "organization_owner"}]}
    fragment = {"index": 0, "type": "function", "function": {"name": "", "arguments": ""}}
    return {
        "models": Reply.json(models),
        "chat": completion({"content": "Hello!"}),
        "streaming": sse(
            [
                chunk({"role": "assistant", "reasoning_content": "Hi back."}),
                chunk({"content": "Hello"}),
                chunk({"content": "!"}),
                chunk({}, finish="stop"),
                {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [], "usage": USAGE},
            ]
        ),
        "tools": completion({"content": "", "tool_calls": [call("get_weather", PARIS, "193629320")]}, "tool_calls"),
        "tools_streamed": sse(
            [
                chunk(
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "193629320",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": ""},
                            }
                        ],
                    }
                ),
                chunk({"tool_calls": [{**fragment, "function": {"name": "", "arguments": '{"city":'}}]}),
                chunk({"tool_calls": [{**fragment, "function": {"name": "", "arguments": '"Paris"}'}}]}),
                chunk({}, finish="tool_calls"),
            ]
        ),
        "parallel": completion({"content": "", "tool_calls": [call("get_weather", PARIS, "193629321")]}, "tool_calls"),
        "forced_tool": completion(
            {"content": "", "tool_calls": [call("get_weather", PARIS, "193629322")]}, "tool_calls"
        ),
        "json_schema": completion({"content": '{ "ok": true }'}),
        "lmstudio_models": Reply.json(LMSTUDIO_MODELS),
        "embeddings": Reply.json(
            {
                "object": "list",
                "data": [{"object": "embedding", "embedding": [0.2] * 768, "index": 0}],
                "model": "text-embedding-nomic",
            }
        ),
    }


def openrouter() -> Answers:
    """OpenRouter (base URL ``/api/v1``): ``: OPENROUTER PROCESSING`` comments, the role on every
    chunk, ``reasoning`` plus ``reasoning_details``, usage with ``cost`` in the last chunk, the
    window in ``/models``' ``context_length``; no ``/tokenize``, no embeddings."""
    role = {"role": "assistant"}
    return {
        "models": Reply.json(OPENROUTER_MODELS),
        "chat": completion({"content": "Hello!"}, provider="OpenAI"),
        "streaming": sse(
            [
                chunk(
                    {
                        **role,
                        "content": "",
                        "reasoning": "Say hi.",
                        "reasoning_details": [{"type": "reasoning.text", "text": "Say hi."}],
                    },
                    provider="OpenAI",
                ),
                chunk({**role, "content": "Hello!"}, provider="OpenAI"),
                chunk({**role, "content": ""}, finish="stop", native_finish_reason="stop", provider="OpenAI"),
                chunk({**role, "content": ""}, usage={**USAGE, "cost": 0.0001, "is_byok": False}),
            ],
            comments=["OPENROUTER PROCESSING"],
        ),
        "tools": completion({"content": None, "tool_calls": [call("get_weather", PARIS, "call_x1")]}, "tool_calls"),
        "tools_streamed": sse(
            [
                chunk(
                    {
                        **role,
                        "content": None,
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_x1",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": ""},
                            }
                        ],
                    }
                ),
                chunk({**role, "tool_calls": [{"index": 0, "function": {"arguments": '{"city"'}}]}),
                chunk({**role, "tool_calls": [{"index": 0, "function": {"arguments": ': "Paris"}'}}]}),
                chunk({**role, "content": ""}, finish="tool_calls", native_finish_reason="tool_calls"),
            ]
        ),
        "parallel": completion(
            {
                "content": None,
                "tool_calls": [call("get_weather", PARIS, "call_a", 0), call("get_weather", LONDON, "call_b", 1)],
            },
            "tool_calls",
        ),
        "forced_tool": completion(
            {"content": None, "tool_calls": [call("get_weather", PARIS, "call_c")]}, "tool_calls"
        ),
        "json_schema": completion({"content": '{"ok":true}'}),
    }


def probe_of(request: ReceivedRequest, base: str) -> str:
    """Which probe ``request`` is, by its path and body."""
    path = request.target.split("?", 1)[0]
    if path == base + "/chat/completions":
        body = json.loads(request.body)
        if "response_format" in body:
            return "json_schema"
        if isinstance(body.get("tool_choice"), dict):
            return "forced_tool"
        if body.get("parallel_tool_calls"):
            return "parallel"
        if body.get("tools"):
            return "tools_streamed" if body.get("stream") else "tools"
        return "streaming" if body.get("stream") else "chat"
    names = {
        base + "/models": "models",
        base + "/embeddings": "embeddings",
        "/props": "props",
        "/tokenize": "tokenize",
        "/api/ps": "ollama_ps",
        "/api/show": "ollama_show",
        "/api/v1/models": "lmstudio_models",
    }
    return names.get(path, path)


def handler(answers: Answers, base: str = "/v1") -> Callable[[ReceivedRequest], Reply]:
    """Answer each probe from ``answers``; a 404 for what the server does not have."""

    def handle(request: ReceivedRequest) -> Reply:
        probe = probe_of(request, base)
        if probe == "lmstudio_models" and base == "/api/v1":
            probe = "models"  # OpenRouter's /api/v1/models is its /models
        found = answers.get(probe)
        return found if found is not None else Reply.json({"error": "not found"}, status=404)

    return handle


SERVERS: dict[str, tuple[Callable[[], Answers], str]] = {
    "llama-server": (lambda: recorded("llama-server"), "/v1"),
    "llama-cpp-python": (lambda: recorded("llama-cpp-python"), "/v1"),
    "vllm": (vllm, "/v1"),
    "ollama": (ollama, "/v1"),
    "lmstudio": (lmstudio, "/v1"),
    "openrouter": (openrouter, "/api/v1"),
}
"""Each server kind: its answers and the path of its base URL."""
