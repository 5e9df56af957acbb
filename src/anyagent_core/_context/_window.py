"""What servers say about their context window and their token counts, as data: the requests
to ask with (``WindowProbe``, ``window_probes``, ``probe_request``) and the parsers of the
answers (``parse_window``, ``parse_window_error``, ``parse_token_count``).

Where each server says it:

==================  ==========================================  =====================================
server              request                                     field
==================  ==========================================  =====================================
llama.cpp           ``GET /props``                              ``default_generation_settings.n_ctx``
                    ``GET /v1/models``                          ``data[].meta.n_ctx``
vLLM, SGLang        ``GET /v1/models``                          ``data[].max_model_len``
OpenRouter          ``GET /api/v1/models``                      ``data[].context_length``
Ollama              ``GET /api/ps`` (the model loaded)          ``models[].context_length``
                    ``POST /api/show {"model": ...}``           ``num_ctx`` in ``parameters``, else
                                                                ``model_info["<arch>.context_length"]``
LM Studio           ``GET /api/v1/models``                      ``loaded_instances[].config.context_length``,
                                                                else ``max_context_length``
==================  ==========================================  =====================================

An error that says the prompt did not fit often says the window too (llama.cpp's
``exceed_context_size_error`` with ``n_ctx`` and ``n_prompt_tokens``, OpenAI's "maximum context
length is N tokens"): ``parse_window_error`` reads it. Token counts: llama.cpp's ``/tokenize``
(after ``/apply-template``, so the count is the prompt's as the server builds it) and vLLM's
``/tokenize`` (which takes the messages itself).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import attrs

from anyagent_core._config import Config, Endpoint
from anyagent_core._events import Request
from anyagent_core.value import Value

from ._tokens import WindowSource

__all__ = [
    "WINDOW_PROBES",
    "TokenizeStep",
    "WindowAnswer",
    "WindowProbe",
    "WindowSource",
    "parse_token_count",
    "parse_window",
    "parse_window_error",
    "probe_request",
    "server_root",
    "tokenize_prompt",
    "tokenize_steps",
    "window_probes",
]


#: Largest answer body read from a probe.
MAX_PROBE_BODY: Final = 4 * 1024 * 1024


@attrs.frozen(kw_only=True, repr=False, eq=False)
class WindowProbe(Value):
    """One request that may tell the window."""

    name: str
    """``models``, ``llamacpp_props``, ``ollama_ps``, ``ollama_show`` or ``lmstudio_models``."""
    method: Literal["GET", "POST"]
    path: str
    root: bool
    """The path is the server's root's (``/props``), not the base URL's (``/models``)."""
    send_model: bool = False
    """The body is ``{"model": <model>}``."""


WINDOW_PROBES: Final[tuple[WindowProbe, ...]] = (
    WindowProbe(name="models", method="GET", path="/models", root=False),
    WindowProbe(name="llamacpp_props", method="GET", path="/props", root=True),
    WindowProbe(name="ollama_ps", method="GET", path="/api/ps", root=True),
    WindowProbe(name="ollama_show", method="POST", path="/api/show", root=True, send_model=True),
    WindowProbe(name="lmstudio_models", method="GET", path="/api/v1/models", root=True),
)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class WindowAnswer(Value):
    """What a server said about its window."""

    tokens: int
    server: str
    """Which server shape answered: ``llama.cpp``, ``vllm``, ``openrouter``, ``ollama``, ``lmstudio``."""
    field: str
    """The field that held it, for the user (``default_generation_settings.n_ctx``)."""
    slots: int | None = None
    """llama.cpp: how many requests share the window at once."""
    model: str | None = None
    """The model the answer is about, as the server names it."""


def server_root(base_url: str) -> str:
    """The server's root for ``base_url``: without its ``/v1`` (llama.cpp, Ollama and LM Studio
    serve their own APIs beside the OpenAI one), without its query."""
    base = base_url.partition("?")[0].rstrip("/")
    for suffix in ("/api/v1", "/v1"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def _local(base_url: str) -> bool:
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "http" or host in ("localhost", "127.0.0.1", "::1") or host.endswith(".local")


def window_probes(base_url: str) -> tuple[WindowProbe, ...]:
    """The probes worth making, in order: ``/models`` always; the local servers' own APIs only on
    plain-HTTP or local hosts (a cloud API has none of them)."""
    if _local(base_url):
        return WINDOW_PROBES
    return tuple(probe for probe in WINDOW_PROBES if not probe.root)


def _headers(endpoint: Endpoint, config: Config, body: bool) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = [("Accept", "application/json")]
    if body:
        headers.append(("Content-Type", "application/json"))
    if endpoint.api_key:
        headers.append(("Authorization", f"Bearer {endpoint.api_key}"))
    if config.user_agent:
        headers.append(("User-Agent", config.user_agent))
    if endpoint.headers:
        replaced = {name.lower() for name, _ in endpoint.headers}
        headers = [h for h in headers if h[0].lower() not in replaced]
        headers.extend(endpoint.headers)
    return tuple(headers)


def _url(endpoint: Endpoint, path: str, *, root: bool) -> str:
    base, sep, query = endpoint.base_url.partition("?")
    prefix = server_root(base) if root else base.rstrip("/")
    return prefix + path + (sep + query if sep and not root else "")


def _json_request(
    endpoint: Endpoint, config: Config, method: str, path: str, *, root: bool, payload: Any = None
) -> Request:
    body = b"" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Request(
        method=method,
        url=_url(endpoint, path, root=root),
        headers=_headers(endpoint, config, payload is not None),
        body=body,
    )


def probe_request(probe: WindowProbe, endpoint: Endpoint, *, model: str, config: Config | None = None) -> Request:
    """The HTTP request for ``probe`` (the endpoint's key and headers included)."""
    payload = {"model": model} if probe.send_model else None
    return _json_request(endpoint, config or Config(), probe.method, probe.path, root=probe.root, payload=payload)


def _load(body: bytes | str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _positive(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, float) and value.is_integer() and value > 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and int(value) > 0:
        return int(value)
    return None


def _pick(entries: Sequence[Mapping[str, Any]], model: str, keys: Iterable[str]) -> Mapping[str, Any] | None:
    """The entry naming ``model`` under one of ``keys``; the only entry when there is one."""
    names = tuple(keys)
    for entry in entries:
        if any(entry.get(key) == model for key in names):
            return entry
    for entry in entries:  # "name:latest" for "name", "org/name" for "name"
        for key in names:
            value = entry.get(key)
            if isinstance(value, str) and (value.split(":")[0] == model or value.rsplit("/", 1)[-1] == model):
                return entry
    return entries[0] if len(entries) == 1 else None


def _entries(document: Any, key: str) -> list[Mapping[str, Any]]:
    if not isinstance(document, Mapping):
        return []
    items = document.get(key)
    return [item for item in items if isinstance(item, Mapping)] if isinstance(items, list) else []


def parse_window(probe: str, status: int, body: bytes | str, *, model: str) -> WindowAnswer | None:
    """The window ``model`` has by a probe's answer (None when the answer does not say: an
    error status, another server's shape, another model)."""
    if not 200 <= status < 300:
        return None
    document = _load(body)
    if document is None:
        return None
    parser = _PARSERS.get(probe)
    return None if parser is None else parser(document, model)


def _models(document: Any, model: str) -> WindowAnswer | None:
    entry = _pick(_entries(document, "data"), model, ("id", "name"))
    if entry is None:
        return None
    name = entry.get("id") if isinstance(entry.get("id"), str) else None
    meta = entry.get("meta")
    if isinstance(meta, Mapping) and _positive(meta.get("n_ctx")):
        return WindowAnswer(
            tokens=_positive(meta.get("n_ctx")) or 0, server="llama.cpp", field="meta.n_ctx", model=name
        )
    if _positive(entry.get("max_model_len")):
        server = "sglang" if entry.get("owned_by") == "sglang" else "vllm"  # the same field, two servers
        return WindowAnswer(
            tokens=_positive(entry.get("max_model_len")) or 0, server=server, field="max_model_len", model=name
        )
    top = entry.get("top_provider")
    if isinstance(top, Mapping) and _positive(top.get("context_length")):
        tokens = _positive(top.get("context_length")) or 0
        return WindowAnswer(tokens=tokens, server="openrouter", field="top_provider.context_length", model=name)
    if _positive(entry.get("context_length")):
        tokens = _positive(entry.get("context_length")) or 0
        return WindowAnswer(tokens=tokens, server="openrouter", field="context_length", model=name)
    if _positive(entry.get("loaded_context_length")):  # LM Studio's older /api/v0/models
        tokens = _positive(entry.get("loaded_context_length")) or 0
        return WindowAnswer(tokens=tokens, server="lmstudio", field="loaded_context_length", model=name)
    return None


def _props(document: Any, model: str) -> WindowAnswer | None:
    if not isinstance(document, Mapping):
        return None
    settings = document.get("default_generation_settings")
    tokens = _positive(settings.get("n_ctx")) if isinstance(settings, Mapping) else None
    if tokens is None:
        return None
    slots = _positive(document.get("total_slots"))
    alias = document.get("model_alias")
    return WindowAnswer(
        tokens=tokens,
        server="llama.cpp",
        field="default_generation_settings.n_ctx",
        slots=slots,
        model=alias if isinstance(alias, str) else None,
    )


def _ollama_ps(document: Any, model: str) -> WindowAnswer | None:
    entries = _entries(document, "models")
    entry = _pick(entries, model, ("name", "model")) if entries else None
    if entry is None:
        return None
    tokens = _positive(entry.get("context_length"))
    if tokens is None:
        return None
    name = entry.get("name")
    return WindowAnswer(
        tokens=tokens, server="ollama", field="context_length", model=name if isinstance(name, str) else None
    )


_NUM_CTX = re.compile(r"(?m)^\s*num_ctx\s+([0-9]+)\s*$")


def _ollama_show(document: Any, model: str) -> WindowAnswer | None:
    if not isinstance(document, Mapping):
        return None
    parameters = document.get("parameters")
    if isinstance(parameters, str):
        found = _NUM_CTX.search(parameters)
        if found and int(found.group(1)) > 0:
            return WindowAnswer(tokens=int(found.group(1)), server="ollama", field="parameters num_ctx", model=model)
    info = document.get("model_info")
    if not isinstance(info, Mapping):
        return None
    arch = info.get("general.architecture")
    if isinstance(arch, str) and _positive(info.get(f"{arch}.context_length")):
        tokens = _positive(info.get(f"{arch}.context_length")) or 0
        return WindowAnswer(tokens=tokens, server="ollama", field=f'model_info["{arch}.context_length"]', model=model)
    return None


def _lmstudio(document: Any, model: str) -> WindowAnswer | None:
    entries = _entries(document, "models") or _entries(document, "data")
    entry = _pick(entries, model, ("key", "id", "model_key"))
    if entry is None:
        for candidate in entries:  # a loaded instance may carry the name asked for
            instances = candidate.get("loaded_instances")
            if isinstance(instances, list) and any(
                isinstance(item, Mapping) and item.get("id") == model for item in instances
            ):
                entry = candidate
                break
    if entry is None:
        return None
    name = entry.get("key") if isinstance(entry.get("key"), str) else entry.get("id")
    name = name if isinstance(name, str) else None
    instances = entry.get("loaded_instances")
    if isinstance(instances, list):
        chosen = [item for item in instances if isinstance(item, Mapping)]
        chosen = [item for item in chosen if item.get("id") == model] or chosen
        for item in chosen:
            config = item.get("config")
            if isinstance(config, Mapping) and _positive(config.get("context_length")):
                tokens = _positive(config.get("context_length")) or 0
                return WindowAnswer(
                    tokens=tokens, server="lmstudio", field="loaded_instances[].config.context_length", model=name
                )
    if _positive(entry.get("max_context_length")):
        tokens = _positive(entry.get("max_context_length")) or 0
        return WindowAnswer(tokens=tokens, server="lmstudio", field="max_context_length", model=name)
    return None


_PARSERS = {
    "models": _models,
    "llamacpp_props": _props,
    "ollama_ps": _ollama_ps,
    "ollama_show": _ollama_show,
    "lmstudio_models": _lmstudio,
}

_ERROR_WINDOW = (
    re.compile(r"maximum context length is ([0-9]+)"),
    re.compile(r"context length of (?:only )?([0-9]+)"),
    re.compile(r"context (?:window|size) (?:is|of) ([0-9]+)"),
    re.compile(r"\(([0-9]+)\) exceeds the available context size"),
    re.compile(r"available context size \(([0-9]+) tokens\)"),
    re.compile(r"n_ctx[\"' :=]+([0-9]+)"),
)
_ERROR_PROMPT = (
    re.compile(r"n_prompt_tokens[\"' :=]+([0-9]+)"),
    re.compile(r"(?:requested|resulted in|you requested) ([0-9]+) tokens"),
    re.compile(r"request \(([0-9]+) tokens\)"),
)


def parse_window_error(*texts: object) -> tuple[int | None, int | None]:
    """(window, prompt tokens) a context-length error states (None for what it does not)."""
    window = prompt = None
    for text in texts:
        if isinstance(text, Mapping):
            text = json.dumps(text)
        if not isinstance(text, str) or not text:
            continue
        lowered = text.lower()
        if window is None:
            window = next((int(m.group(1)) for p in _ERROR_WINDOW if (m := p.search(lowered))), None)
        if prompt is None:
            prompt = next((int(m.group(1)) for p in _ERROR_PROMPT if (m := p.search(lowered))), None)
    return (window if window else None), (prompt if prompt else None)


# ---- the server's own token counts -------------------------------------------------------------


@attrs.frozen(kw_only=True, repr=False, eq=False)
class TokenizeStep(Value):
    """One request of a server-side count; ``then`` says what its answer feeds."""

    request: Request
    then: Literal["tokenize", "count"]
    """``tokenize``: the answer is a prompt to send to ``/tokenize`` (llama.cpp's
    ``/apply-template``); ``count``: the answer holds the count."""


def tokenize_steps(
    server: Literal["llama.cpp", "vllm"], endpoint: Endpoint, chat_request: Request, *, config: Config | None = None
) -> TokenizeStep:
    """The first request of a server-side count of ``chat_request``'s prompt: llama.cpp applies
    its chat template first (``/apply-template``, then ``tokenize_prompt``); vLLM tokenizes the
    messages itself."""
    try:
        chat = json.loads(chat_request.body)
    except ValueError:
        raise ValueError("the chat request's body is not JSON") from None
    if not isinstance(chat, dict) or not isinstance(chat.get("messages"), list):
        raise ValueError("the chat request's body has no messages")
    cfg = config or Config()
    payload: dict[str, Any] = {"messages": chat["messages"]}
    if chat.get("tools"):
        payload["tools"] = chat["tools"]
    if server == "llama.cpp":
        return TokenizeStep(
            request=_json_request(endpoint, cfg, "POST", "/apply-template", root=True, payload=payload),
            then="tokenize",
        )
    payload = {"model": chat.get("model"), **payload, "add_generation_prompt": True}
    return TokenizeStep(
        request=_json_request(endpoint, cfg, "POST", "/tokenize", root=True, payload=payload), then="count"
    )


def tokenize_prompt(endpoint: Endpoint, answer: bytes | str, *, config: Config | None = None) -> TokenizeStep:
    """llama.cpp: the ``/tokenize`` request for the prompt ``/apply-template`` answered."""
    document = _load(answer)
    prompt = document.get("prompt") if isinstance(document, Mapping) else None
    if not isinstance(prompt, str):
        raise ValueError("the /apply-template answer has no prompt")
    payload = {"content": prompt, "add_special": True, "parse_special": True}
    request = _json_request(endpoint, config or Config(), "POST", "/tokenize", root=True, payload=payload)
    return TokenizeStep(request=request, then="count")


def parse_token_count(status: int, body: bytes | str) -> int | None:
    """The count in a ``/tokenize`` answer: vLLM's ``count``, else the length of ``tokens``
    (llama.cpp, vLLM); None when the answer holds neither."""
    if not 200 <= status < 300:
        return None
    document = _load(body)
    if not isinstance(document, Mapping):
        return None
    count = document.get("count")
    if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
        return count
    tokens = document.get("tokens")
    return len(tokens) if isinstance(tokens, list) else None
