"""``AgentOptions`` and the configuration helpers: where the environment is read (never in the core).

Precedence for the base URL, the model and the API key: an explicit argument, then the
environment (``ANY_AGENT_BASE_URL``, ``ANY_AGENT_MODEL``, ``ANY_AGENT_API_KEY``), then a fallback
the caller gives, then the provider's default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from anyagent_core import (
    DEFAULT_RETRY_POLICY,
    Config,
    Endpoint,
    RetryPolicy,
    StartTurn,
    ToolChoice,
    ToolSpec,
    __version__,
)
from anyagent_core._json import JSONObject, freeze_object

from ._errors import ConfigurationError

if TYPE_CHECKING:
    import httpx

    from ._transport import AsyncTransport

__all__ = [
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_MODEL",
    "PROVIDERS",
    "AgentOptions",
    "get_api_key",
    "get_base_url",
    "get_model",
]

ENV_BASE_URL = "ANY_AGENT_BASE_URL"
ENV_MODEL = "ANY_AGENT_MODEL"
ENV_API_KEY = "ANY_AGENT_API_KEY"

#: Each provider's usual local address (or OpenAI's API).
PROVIDERS: Mapping[str, str] = {
    "lmstudio": "http://localhost:1234/v1",
    "ollama": "http://localhost:11434/v1",
    "llamacpp": "http://localhost:8080/v1",
    "vllm": "http://localhost:8000/v1",
    "openai": "https://api.openai.com/v1",
}


#: The core's defaults, with an ``anyagent/<version>`` User-Agent.
CLIENT_CONFIG = Config(user_agent=f"anyagent/{__version__}")


def _environ(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def get_base_url(
    base_url: str | None = None,
    *,
    provider: str | None = None,
    fallback: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """The base URL to use: ``base_url``, else ``$ANY_AGENT_BASE_URL``, else ``fallback``, else
    ``provider``'s default (one of ``PROVIDERS``). Raises ``ConfigurationError`` if none applies
    or the provider is unknown. ``env`` replaces ``os.environ`` (for tests)."""
    if provider is not None and provider not in PROVIDERS:
        raise ConfigurationError(f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}")
    value = base_url or _environ(env).get(ENV_BASE_URL) or fallback
    if not value and provider is not None:
        value = PROVIDERS[provider]
    if not value:
        raise ConfigurationError(
            f"no base URL: pass base_url=, set {ENV_BASE_URL}, or name a provider ({', '.join(PROVIDERS)})"
        )
    if not value.startswith(("http://", "https://")):
        raise ConfigurationError(f"base URL must start with http:// or https://, not {value!r}")
    return value


def get_model(model: str | None = None, *, fallback: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The model name: ``model``, else ``$ANY_AGENT_MODEL``, else ``fallback``; raises
    ``ConfigurationError`` naming the variable when there is none."""
    value = model or _environ(env).get(ENV_MODEL) or fallback
    if not value:
        raise ConfigurationError(f"no model: pass model= or set {ENV_MODEL}")
    return value


def get_api_key(
    api_key: str | None = None, *, fallback: str | None = None, env: Mapping[str, str] | None = None
) -> str | None:
    """The API key: ``api_key``, else ``$ANY_AGENT_API_KEY``, else ``fallback``; None if none
    (local servers need none)."""
    return api_key or _environ(env).get(ENV_API_KEY) or fallback or None


def _tools(value: Sequence[ToolSpec]) -> tuple[ToolSpec, ...]:
    tools = tuple(value)
    for spec in tools:
        if not isinstance(spec, ToolSpec):
            raise TypeError(
                f"tools must be ToolSpec values for now (tools the caller answers), not {type(spec).__name__}"
            )
    return tools


def _header_pairs(value: Mapping[str, str] | Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(value.items()) if isinstance(value, Mapping) else tuple(value)


def _strings(value: Sequence[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@attrs.frozen(kw_only=True)
class AgentOptions:
    """How to run: which server and model, sampling, tools, retries and streaming.

    Every field is optional. ``model``, ``base_url`` and ``api_key`` left as None are taken from
    the environment when the client opens (``get_model``, ``get_base_url``, ``get_api_key``).
    """

    model: str | None = None
    base_url: str | None = None
    provider: str | None = None
    """``lmstudio``, ``ollama``, ``llamacpp``, ``vllm`` or ``openai``: its default URL is used
    when neither ``base_url`` nor ``$ANY_AGENT_BASE_URL`` is set."""
    api_key: str | None = attrs.field(default=None, repr=False)
    system_prompt: str | None = None
    max_turns: int | None = attrs.field(
        default=None, validator=attrs.validators.optional([attrs.validators.instance_of(int), attrs.validators.ge(1)])
    )
    """Model requests allowed per response (each tool round trip is one more); None: no limit."""
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    tools: tuple[ToolSpec, ...] = attrs.field(default=(), converter=_tools)
    """Tools offered to the model. Their calls are handed to you as ``ToolUseBlock`` and answered
    with ``Client.add_tool_result``."""
    tool_choice: ToolChoice = None
    reset_tool_choice: bool = True
    """After the model called tools, send ``auto`` instead of a forcing ``tool_choice``
    (``required`` or a tool's name) until the next ``query()``: otherwise a forced choice makes
    the model call a tool on every turn and never answer."""
    parallel_tool_calls: bool | None = None
    output_format: JSONObject | None = attrs.field(default=None, converter=attrs.converters.optional(freeze_object))
    """The request's ``response_format``, e.g. ``{"type": "json_schema", "json_schema": {...}}``."""
    include_partial_messages: bool = False
    """Also yield ``StreamEvent`` pieces (text, reasoning, tool-call deltas) as they arrive."""
    stream: bool = True
    """False: ask for whole answers (``stream: false``); the messages are the same."""
    include_usage: bool = True
    retry: RetryPolicy = DEFAULT_RETRY_POLICY
    fallback_models: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    """Models tried in order when the model fails for good (retries spent, not found, context)."""
    extra_body: JSONObject = attrs.field(factory=dict, converter=freeze_object)
    """Merged into every request body last: vendor knobs such as ``top_k`` or ``chat_template_kwargs``."""
    extra_headers: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_header_pairs)
    """Sent with every request (gateway keys, routing headers); never recorded or logged."""
    config: Config = CLIENT_CONFIG
    """The protocol machine's limits and wire choices (``anyagent_core.Config``); the default
    is the core's, with an ``anyagent/<version>`` User-Agent."""
    http_client: httpx.AsyncClient | None = attrs.field(default=None, repr=False, eq=False)
    """Your ``httpx.AsyncClient`` (its lifetime stays yours), with your timeouts, proxies,
    certificates or a custom ``transport=``. None: anyagent builds and closes its own."""
    transport: AsyncTransport | None = attrs.field(default=None, repr=False, eq=False)
    """Another transport (``H11Transport()``, your own): its lifetime stays yours. Excludes
    ``http_client``."""

    def __attrs_post_init__(self) -> None:
        if self.http_client is not None and self.transport is not None:
            raise ConfigurationError("pass http_client= or transport=, not both")
        if self.provider is not None and self.provider not in PROVIDERS:
            raise ConfigurationError(f"unknown provider {self.provider!r}; known: {', '.join(PROVIDERS)}")
        if self.stop and any(not isinstance(s, str) for s in self.stop):
            raise TypeError("stop must be a string or a sequence of strings")

    def endpoint(self, env: Mapping[str, str] | None = None) -> Endpoint:
        """Where requests go, resolving the base URL and API key from the environment."""
        return Endpoint(
            base_url=get_base_url(self.base_url, provider=self.provider, env=env),
            api_key=get_api_key(self.api_key, env=env),
            headers=self.extra_headers,
        )

    def resolved_model(self, env: Mapping[str, str] | None = None) -> str:
        return get_model(self.model, env=env)

    def start_turn(self, model: str, messages: Sequence[Any], *, after_tools: bool = False) -> StartTurn:
        """The core request for ``messages`` with these options; ``after_tools``: the model has
        called tools since the last prompt (see ``reset_tool_choice``)."""
        tool_choice = self.tool_choice
        if after_tools and self.reset_tool_choice and tool_choice not in (None, "auto", "none"):
            tool_choice = "auto"
        return StartTurn(
            model=model,
            messages=messages,
            system_prompt=self.system_prompt,
            tools=self.tools,
            tool_choice=tool_choice,
            parallel_tool_calls=self.parallel_tool_calls,
            stream=self.stream,
            include_usage=self.include_usage,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            presence_penalty=self.presence_penalty,
            frequency_penalty=self.frequency_penalty,
            seed=self.seed,
            stop=self.stop,
            response_format=self.output_format,
            extra_body=self.extra_body,
        )
