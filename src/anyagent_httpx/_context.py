"""The I/O half of context handling: asking a server for its window (``discover_window``, cached
per endpoint and model), its own token counts (``server_token_count``: llama.cpp's and vLLM's
``/tokenize``), and exact local counters from a tokenizer (``TokenizersCounter`` for a Hugging
Face ``tokenizer.json``, ``TiktokenCounter`` for OpenAI's models; optional extras:
``pip install 'anyagent[tokenizers]'`` or ``'anyagent[tiktoken]'``).

The requests and the reading of the answers are the core's (``anyagent_core.context``); this
module only sends them and reads the bodies, bounded in size and time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal

import anyio
import attrs

from anyagent_core import Config, Endpoint, Message, Request, StartTurn, ToolSpec
from anyagent_core.context import MAX_PROBE_BODY as _MAX_BODY
from anyagent_core.context import (
    MESSAGE_OVERHEAD,
    CountSource,
    WindowAnswer,
    message_text,
    message_texts,
    parse_token_count,
    parse_window,
    probe_request,
    tokenize_prompt,
    tokenize_steps,
    tool_texts,
    window_probes,
)
from anyagent_core.value import Value
from anyagent_core.wire import DEFAULT_DIALECT, redact_url

from ._errors import AnyAgentError, APIConnectionError, APITimeoutError, ConfigurationError
from ._transports import AsyncTransport

__all__ = [
    "PROBE_TIMEOUT",
    "TiktokenCounter",
    "TokenizersCounter",
    "WindowDiscovery",
    "discover_window",
    "forget_windows",
    "server_token_count",
]

logger = logging.getLogger("anyagent")

#: How long one probe may take before it counts as unanswered.
PROBE_TIMEOUT = 5.0


@attrs.frozen(kw_only=True, repr=False, eq=False)
class WindowDiscovery(Value):
    """What probing an endpoint for a model's window found."""

    answer: WindowAnswer | None
    """None: no probe said (``tried`` lists what was asked)."""
    tried: tuple[str, ...]
    """The probes made, with how each ended (``models: HTTP 200, no window``)."""

    @property
    def tokens(self) -> int | None:
        return None if self.answer is None else self.answer.tokens

    def note(self) -> str:
        """One line for the user."""
        if self.answer is not None:
            slots = f", {self.answer.slots} slots" if self.answer.slots else ""
            return f"{self.answer.server} says {self.answer.tokens} tokens ({self.answer.field}{slots})"
        return "the server did not say its context window (" + "; ".join(self.tried) + ")"


_CACHE: dict[tuple[str, str], WindowDiscovery] = {}


def forget_windows() -> None:
    """Empty the cache of discovered windows (a server restarted with another window)."""
    _CACHE.clear()


async def _exchange(transport: AsyncTransport, request: Request) -> tuple[int, bytes]:
    """One bounded exchange: the status and the body (at most ``MAX_PROBE_BODY`` bytes). A
    connection that fails before any answer is tried once more: a pooled connection the server
    had closed while idle (llama.cpp's server does) fails its next request so."""
    try:
        return await _exchange_once(transport, request)
    except APITimeoutError:
        raise
    except APIConnectionError:
        return await _exchange_once(transport, request)


async def _exchange_once(transport: AsyncTransport, request: Request) -> tuple[int, bytes]:
    with anyio.fail_after(PROBE_TIMEOUT):
        async with transport.exchange(request) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.stream:
                size += len(chunk)
                if size > _MAX_BODY:
                    raise ValueError(f"the answer is larger than {_MAX_BODY} bytes")
                chunks.append(chunk)
            return response.status, b"".join(chunks)


async def discover_window(
    transport: AsyncTransport,
    endpoint: Endpoint,
    model: str,
    *,
    config: Config | None = None,
    refresh: bool = False,
) -> WindowDiscovery:
    """Ask the server behind ``endpoint`` for ``model``'s context window: the probes of
    ``anyagent_core.context.window_probes`` in order, until one answers. Cached per base URL and
    model (``refresh=True`` asks again). Never raises for an unreachable or silent server: the
    discovery then says what was tried."""
    key = (endpoint.base_url, model)
    if not refresh and key in _CACHE:
        return _CACHE[key]
    tried: list[str] = []
    found: WindowAnswer | None = None
    for probe in window_probes(endpoint.base_url):
        request = probe_request(probe, endpoint, model=model, config=config)
        try:
            status, body = await _exchange(transport, request)
        except (AnyAgentError, OSError, ValueError, TimeoutError) as exc:
            tried.append(f"{probe.name}: {type(exc).__name__}")
            if probe.name == "models":
                break  # not even /models answers: the server is down or not OpenAI-compatible
            continue
        found = parse_window(probe.name, status, body, model=model)
        if found is not None:
            tried.append(f"{probe.name}: {found.tokens}")
            break
        tried.append(f"{probe.name}: HTTP {status}" + (", no window" if 200 <= status < 300 else ""))
    discovery = WindowDiscovery(answer=found, tried=tuple(tried))
    if found is None:
        logger.info("context window of %r at %s unknown: %s", model, redact_url(endpoint.base_url), discovery.note())
    _CACHE[key] = discovery
    return discovery


async def server_token_count(
    transport: AsyncTransport,
    endpoint: Endpoint,
    turn: StartTurn,
    *,
    server: Literal["llama.cpp", "vllm"],
    config: Config | None = None,
) -> int | None:
    """The prompt tokens of ``turn`` by the server's own ``/tokenize`` (llama.cpp: after its
    chat template, ``/apply-template``; vLLM: the messages tokenized as a chat). None when the
    server has no such endpoint or its answer holds no count."""
    chat = DEFAULT_DIALECT.write_request(turn, endpoint, config or Config())
    step = tokenize_steps(server, endpoint, chat, config=config)
    try:
        status, body = await _exchange(transport, step.request)
        if step.then == "tokenize":
            if not 200 <= status < 300:
                return None
            step = tokenize_prompt(endpoint, body, config=config)
            status, body = await _exchange(transport, step.request)
    except (AnyAgentError, OSError, ValueError, TimeoutError):
        return None
    return parse_token_count(status, body)


# ---- exact local counters ---------------------------------------------------------------------


class _ExactCounter:
    """A counter over an ``encode(text) -> number of tokens`` function, with the chat template's
    per-message overhead (learned from the server's reports, like the estimate's) and a cache
    of message counts (conversations send the same messages again and again)."""

    def __init__(self, count: Callable[[str], int], *, overhead: int = MESSAGE_OVERHEAD, cache: int = 8192) -> None:
        self._count = count
        self.overhead = float(overhead)
        self._cache: dict[int, tuple[Message, int]] = {}
        self._cache_size = cache

    @property
    def source(self) -> CountSource:
        return "tokenizer"

    def count_text(self, text: str) -> int:
        return self._count(text) if text else 0

    def _text(self, message: Message) -> int:
        found = self._cache.get(id(message))
        if found is not None and found[0] is message:
            return found[1]
        value = sum(self.count_text(text) for text in message_texts(message))
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[id(message)] = (message, value)
        return value

    def count_message(self, message: Message) -> int:
        _, images = _chars_and_images(message)
        return self._text(message) + round(self.overhead) + images * 800

    def count_fixed(self, system_prompt: str | None, tools: Sequence[ToolSpec]) -> int:
        total = self.count_text(system_prompt or "") + (round(self.overhead) if system_prompt else 0)
        return total + sum(self.count_text(text) for text in tool_texts(tools))

    def calibrate(
        self, messages: Sequence[Message], system_prompt: str | None, tools: Sequence[ToolSpec], prompt_tokens: int
    ) -> None:
        """Learn the template's overhead per message from what the server reported."""
        if not messages or prompt_tokens <= 0:
            return
        counted = sum(self._text(m) + 800 * _chars_and_images(m)[1] for m in messages)
        counted += self.count_fixed(system_prompt, tools) - (round(self.overhead) if system_prompt else 0)
        per_message = (prompt_tokens - counted) / (len(messages) + (1 if system_prompt else 0))
        if 0 <= per_message <= 64:
            self.overhead = 0.5 * self.overhead + 0.5 * per_message


def _chars_and_images(message: Message) -> tuple[int, int]:
    return message_text(message)


class TokenizersCounter(_ExactCounter):
    """Exact counts from a Hugging Face tokenizer: ``TokenizersCounter.from_file("tokenizer.json")``
    (needs the ``tokenizers`` package: ``pip install 'anyagent[tokenizers]'``)."""

    def __init__(self, tokenizer: Any, *, overhead: int = MESSAGE_OVERHEAD) -> None:
        encode = tokenizer.encode
        super().__init__(lambda text: len(encode(text, add_special_tokens=False).ids), overhead=overhead)
        self.tokenizer = tokenizer

    @classmethod
    def from_file(cls, path: str) -> TokenizersCounter:
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise ConfigurationError(
                "TokenizersCounter needs the tokenizers package: pip install 'anyagent[tokenizers]'"
            ) from None
        try:
            return cls(Tokenizer.from_file(str(path)))
        except Exception as exc:  # the library raises its own Exception subclass for a bad file
            raise ConfigurationError(f"cannot read the tokenizer {path!r}: {exc}") from None

    def __repr__(self) -> str:
        return f"TokenizersCounter(overhead={self.overhead:.2f})"


class TiktokenCounter(_ExactCounter):
    """Exact counts for OpenAI's models: ``TiktokenCounter.for_model("gpt-4o")`` (needs the
    ``tiktoken`` package, ``pip install 'anyagent[tiktoken]'``, and its encoding files, which
    tiktoken downloads once or reads from ``TIKTOKEN_CACHE_DIR``)."""

    def __init__(self, encoding: Any, *, overhead: int = 3) -> None:
        encode = encoding.encode_ordinary
        super().__init__(lambda text: len(encode(text)), overhead=overhead)
        self.encoding = encoding

    @classmethod
    def for_model(cls, model: str) -> TiktokenCounter:
        try:
            import tiktoken
        except ImportError:
            raise ConfigurationError(
                "TiktokenCounter needs the tiktoken package: pip install 'anyagent[tiktoken]'"
            ) from None
        try:
            try:
                encoding = tiktoken.encoding_for_model(model)
            except KeyError:  # not a name tiktoken knows: OpenAI's newest encoding
                encoding = tiktoken.get_encoding("o200k_base")
        except Exception as exc:  # the encoding file could not be fetched or read (offline, say)
            raise ConfigurationError(f"tiktoken could not load the encoding for {model!r}: {exc}") from None
        return cls(encoding)

    def __repr__(self) -> str:
        return f"TiktokenCounter({self.encoding.name!r}, overhead={self.overhead:.2f})"
