"""The servers' answers about their window, written from each server's documented shape (and,
for llama.cpp, recorded from ../shared/bin/llama-server), and the requests that ask them."""

# ruff: noqa: E501  (the servers' answers, kept one per line)
from __future__ import annotations

import json

import pytest

from anyagent_core import Endpoint, Request
from anyagent_core.context import (
    WINDOW_PROBES,
    WindowAnswer,
    parse_token_count,
    parse_window,
    parse_window_error,
    probe_request,
    server_root,
    tokenize_prompt,
    tokenize_steps,
    window_probes,
)

LLAMACPP_PROPS = {  # recorded: llama-server b11312 --ctx-size 2048 (trimmed)
    "default_generation_settings": {"params": {"seed": 4294967295, "n_predict": -1}, "n_ctx": 2048},
    "total_slots": 4,
    "model_alias": "/work/shared/models/tiny-agent.gguf",
    "model_path": "/work/shared/models/tiny-agent.gguf",
    "modalities": {"vision": False, "video": False, "audio": False},
}
LLAMACPP_MODELS = {  # recorded: the same server's /v1/models
    "object": "list",
    "data": [
        {
            "id": "/work/shared/models/tiny-agent.gguf",
            "object": "model",
            "owned_by": "llamacpp",
            "meta": {"vocab_type": 2, "n_vocab": 518, "n_ctx": 2048, "n_ctx_train": 4096, "n_embd": 64},
        }
    ],
}
VLLM_MODELS = {
    "object": "list",
    "data": [
        {"id": "Qwen/Qwen2.5-7B-Instruct", "object": "model", "owned_by": "vllm", "root": "Qwen/Qwen2.5-7B-Instruct",
         "max_model_len": 32768, "permission": []},
        {"id": "my-lora", "object": "model", "owned_by": "vllm", "parent": "Qwen/Qwen2.5-7B-Instruct",
         "max_model_len": 16384},
    ],
}  # fmt: skip
SGLANG_MODELS = {
    "object": "list",
    "data": [
        {"id": "meta-llama/Llama-3.1-8B-Instruct", "object": "model", "created": 1735689600, "owned_by": "sglang",
         "root": "meta-llama/Llama-3.1-8B-Instruct", "max_model_len": 131072},
    ],
}  # fmt: skip
OPENROUTER_MODELS = {
    "data": [
        {"id": "openai/gpt-4o", "name": "OpenAI: GPT-4o", "context_length": 128000,
         "top_provider": {"context_length": 128000, "max_completion_tokens": 16384, "is_moderated": True}},
        {"id": "meta-llama/llama-3.1-8b-instruct", "context_length": 131072, "top_provider": {"context_length": None}},
    ]
}  # fmt: skip
OLLAMA_PS = {
    "models": [
        {"name": "llama3.2:latest", "model": "llama3.2:latest", "size": 3_300_000_000, "digest": "a80c4f17",
         "details": {"family": "llama", "parameter_size": "3.2B"}, "expires_at": "2025-06-01T10:00:00Z",
         "size_vram": 3_300_000_000, "context_length": 8192},
    ]
}  # fmt: skip
OLLAMA_SHOW = {
    "modelfile": "FROM llama3.2\n",
    "parameters": 'stop                           "<|eot_id|>"',
    "template": "{{ .Prompt }}",
    "details": {"family": "llama"},
    "model_info": {"general.architecture": "llama", "llama.context_length": 131072, "llama.embedding_length": 3072},
}
LMSTUDIO_MODELS = {
    "models": [
        {"type": "llm", "publisher": "qwen", "key": "qwen/qwen3-4b", "display_name": "Qwen3 4B",
         "max_context_length": 32768,
         "loaded_instances": [{"id": "qwen/qwen3-4b", "config": {"context_length": 4096, "flash_attention": True}}]},
        {"type": "llm", "key": "google/gemma-3-12b", "max_context_length": 131072, "loaded_instances": []},
    ]
}  # fmt: skip


def body(document: object) -> bytes:
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("probe", "document", "model", "expected"),
    [
        ("llamacpp_props", LLAMACPP_PROPS, "anything",
         WindowAnswer(tokens=2048, server="llama.cpp", field="default_generation_settings.n_ctx", slots=4,
                      model="/work/shared/models/tiny-agent.gguf")),
        ("models", LLAMACPP_MODELS, "tiny",
         WindowAnswer(tokens=2048, server="llama.cpp", field="meta.n_ctx", model="/work/shared/models/tiny-agent.gguf")),
        ("models", VLLM_MODELS, "my-lora", WindowAnswer(tokens=16384, server="vllm", field="max_model_len", model="my-lora")),
        ("models", VLLM_MODELS, "Qwen2.5-7B-Instruct",
         WindowAnswer(tokens=32768, server="vllm", field="max_model_len", model="Qwen/Qwen2.5-7B-Instruct")),
        ("models", SGLANG_MODELS, "Llama-3.1-8B-Instruct",
         WindowAnswer(tokens=131072, server="sglang", field="max_model_len", model="meta-llama/Llama-3.1-8B-Instruct")),
        ("models", OPENROUTER_MODELS, "openai/gpt-4o",
         WindowAnswer(tokens=128000, server="openrouter", field="top_provider.context_length", model="openai/gpt-4o")),
        ("models", OPENROUTER_MODELS, "meta-llama/llama-3.1-8b-instruct",
         WindowAnswer(tokens=131072, server="openrouter", field="context_length", model="meta-llama/llama-3.1-8b-instruct")),
        ("ollama_ps", OLLAMA_PS, "llama3.2",
         WindowAnswer(tokens=8192, server="ollama", field="context_length", model="llama3.2:latest")),
        ("ollama_show", OLLAMA_SHOW, "llama3.2",
         WindowAnswer(tokens=131072, server="ollama", field='model_info["llama.context_length"]', model="llama3.2")),
        ("ollama_show", {**OLLAMA_SHOW, "parameters": "num_ctx 16384\nstop \"x\""}, "llama3.2",
         WindowAnswer(tokens=16384, server="ollama", field="parameters num_ctx", model="llama3.2")),
        ("lmstudio_models", LMSTUDIO_MODELS, "qwen/qwen3-4b",
         WindowAnswer(tokens=4096, server="lmstudio", field="loaded_instances[].config.context_length",
                      model="qwen/qwen3-4b")),
        ("lmstudio_models", LMSTUDIO_MODELS, "google/gemma-3-12b",
         WindowAnswer(tokens=131072, server="lmstudio", field="max_context_length", model="google/gemma-3-12b")),
    ],
)  # fmt: skip
def test_each_server_s_answer(probe: str, document: object, model: str, expected: WindowAnswer) -> None:
    assert parse_window(probe, 200, body(document), model=model) == expected


@pytest.mark.parametrize(
    ("probe", "status", "raw", "model"),
    [
        ("models", 200, body(VLLM_MODELS), "another-model"),  # several models, none of them
        ("models", 200, body({"data": [{"id": "gpt-4o", "object": "model"}]}), "gpt-4o"),  # OpenAI says nothing
        ("models", 404, body(VLLM_MODELS), "my-lora"),
        ("llamacpp_props", 200, b"<html>not json</html>", "m"),
        ("llamacpp_props", 200, body({"default_generation_settings": {"n_ctx": 0}}), "m"),
        ("llamacpp_props", 200, body({"default_generation_settings": {"n_ctx": True}}), "m"),
        ("ollama_ps", 200, body({"models": []}), "llama3.2"),  # nothing loaded
        ("ollama_show", 200, body({"model_info": {"general.architecture": "llama"}}), "llama3.2"),
        ("lmstudio_models", 200, body({"models": "no"}), "m"),
        ("unknown_probe", 200, body(LLAMACPP_PROPS), "m"),
        ("models", 200, b"\xff\xfe", "m"),
    ],
)
def test_answers_that_do_not_say(probe: str, status: int, raw: bytes, model: str) -> None:
    assert parse_window(probe, status, raw, model=model) is None


def test_probe_requests() -> None:
    endpoint = Endpoint(base_url="http://127.0.0.1:8080/v1", api_key="sk-secret", headers=[("X-Team", "a")])
    urls = [probe_request(p, endpoint, model="m").url for p in WINDOW_PROBES]
    assert urls == [
        "http://127.0.0.1:8080/v1/models",
        "http://127.0.0.1:8080/props",
        "http://127.0.0.1:8080/api/ps",
        "http://127.0.0.1:8080/api/show",
        "http://127.0.0.1:8080/api/v1/models",
    ]
    show = probe_request(WINDOW_PROBES[3], endpoint, model="llama3.2")
    assert show.method == "POST" and json.loads(show.body) == {"model": "llama3.2"}
    assert ("Authorization", "Bearer sk-secret") in show.headers and ("X-Team", "a") in show.headers
    assert "sk-secret" not in repr(show)
    assert [p.name for p in window_probes("https://api.openai.com/v1")] == ["models"]
    assert server_root("https://openrouter.ai/api/v1") == "https://openrouter.ai"
    assert server_root("http://h:11434") == "http://h:11434"


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        # llama-server (C++): HTTP 400 before the stream starts
        (({"error": {"code": 400, "message": "request (2622 tokens) exceeds the available context size (2048 "
           "tokens), try increasing it", "type": "exceed_context_size_error", "n_prompt_tokens": 2622, "n_ctx": 2048}},),
         (2048, 2622)),
        # llama-cpp-python and OpenAI: the message says it
        (("This model's maximum context length is 2048 tokens. However, you requested 3020 tokens (3004 in the "
          "messages, 16 in the completion).",), (2048, 3020)),
        (("something else entirely",), (None, None)),
        ((None, 400, ""), (None, None)),
    ],
)  # fmt: skip
def test_context_errors_that_name_the_window(
    texts: tuple[object, ...], expected: tuple[int | None, int | None]
) -> None:
    assert parse_window_error(*texts) == expected


def test_tokenize_steps() -> None:
    endpoint = Endpoint(base_url="http://127.0.0.1:8080/v1")
    chat = Request(
        method="POST",
        url="http://127.0.0.1:8080/v1/chat/completions",
        headers=(),
        body=body({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}),
    )
    first = tokenize_steps("llama.cpp", endpoint, chat)
    assert first.then == "tokenize" and first.request.url == "http://127.0.0.1:8080/apply-template"
    assert json.loads(first.request.body) == {"messages": [{"role": "user", "content": "hi"}]}
    second = tokenize_prompt(endpoint, body({"prompt": "<|im_start|>user\nhi<|im_end|>\n"}))
    assert second.then == "count" and second.request.url == "http://127.0.0.1:8080/tokenize"
    assert json.loads(second.request.body)["parse_special"] is True
    vllm = tokenize_steps("vllm", endpoint, chat)
    assert vllm.then == "count" and json.loads(vllm.request.body)["add_generation_prompt"] is True
    assert parse_token_count(200, body({"tokens": [1, 345, 201]})) == 3
    assert parse_token_count(200, body({"count": 7, "max_model_len": 8192, "tokens": [1]})) == 7
    assert parse_token_count(404, body({"tokens": [1]})) is None
    assert parse_token_count(200, b"nope") is None
    with pytest.raises(ValueError, match="no prompt"):
        tokenize_prompt(endpoint, b"{}")
    with pytest.raises(ValueError, match="not JSON"):
        tokenize_steps("vllm", endpoint, Request(method="POST", url="http://x/v1", headers=(), body=b"{"))
