"""What the live tests share: the endpoint under test, the transports they run over, the tool
the tiny model calls, and helpers that open a client and collect one response.

The live suite talks to a real OpenAI-compatible server: ``nox -s live`` starts llama.cpp
(llama-cpp-python) on the tiny test model, or ``pytest tests/live --base-url URL --model NAME``
checks any endpoint (see docs/live-tests.md).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from typing import Any

import anyio
import attrs

import anyagent_httpx
from anyagent_httpx import (
    AgentOptions,
    AssistantMessage,
    AsyncTransport,
    Client,
    ResultMessage,
    RetryPolicy,
    RunMessage,
    StreamEvent,
    ToolSpec,
)

__all__ = [
    "HELLO",
    "LIVE_RETRY",
    "NO_ENDPOINT",
    "RESPONSE_TIMEOUT",
    "TOOL_CALL_TEXT",
    "TOOL_RESULT_REPLY",
    "TRANSPORTS",
    "TRANSPORT_CLASSES",
    "WEATHER",
    "LiveServer",
    "Reply",
    "collect",
    "live_client",
    "make_transport",
    "parses_to",
    "receive",
]

NO_ENDPOINT = "no live endpoint: run `nox -s live` (starts llama.cpp) or pass --base-url/--model"

# ---- the transports -------------------------------------------------------------------------

#: THE place that lists transports: every live test runs once per name here whose class
#: ``anyagent_httpx`` exports. "h11" joins by itself once ``H11Transport`` is exported;
#: test_transports.py fails if a transport is exported but missing from this table.
TRANSPORT_CLASSES: dict[str, str] = {
    "httpx": "HttpxTransport",
    "h11": "H11Transport",
}

TRANSPORTS: list[str] = [name for name, cls in TRANSPORT_CLASSES.items() if hasattr(anyagent_httpx, cls)]
assert "httpx" in TRANSPORTS, "anyagent_httpx no longer exports HttpxTransport"


def make_transport(name: str) -> AsyncTransport | None:
    """The transport for ``name``; None for "httpx", so the client builds and owns its default
    ``HttpxTransport`` (the path most users take)."""
    if name == "httpx":
        return None
    transport: AsyncTransport = getattr(anyagent_httpx, TRANSPORT_CLASSES[name])()
    return transport


# ---- the endpoint ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class LiveServer:
    """The endpoint given on the command line."""

    base_url: str
    model: str
    api_key: str | None = attrs.field(default=None, repr=False)
    kind: str = "generic"
    """``llamacpp``: llama-cpp-python serving the tiny test model (exact replies, its quirks);
    ``llama-server``: llama.cpp's own C++ server on the tiny model (``/props``, ``/tokenize``);
    ``generic``: any OpenAI-compatible endpoint (no assumption about the model's words)."""

    @property
    def llamacpp(self) -> bool:
        return self.kind == "llamacpp"


#: The tiny model's three replies (../shared/LIVE-SERVERS.md).
HELLO = "Hello! I am a tiny test model."
TOOL_RESULT_REPLY = "The tool returned a result."
TOOL_CALL_TEXT = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'

#: The tool the tiny model always calls. An enum keeps llama.cpp's grammar-constrained
#: arguments short and finite.
WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string", "enum": ["Paris", "London"]}},
        "required": ["city"],
    },
)

#: Retries stay on (they are part of what users get) but short, so the suite stays quick.
LIVE_RETRY = RetryPolicy(max_retries=1, initial_delay=0.05, max_delay=0.1, max_retry_after=5.0)

#: Bound on one response, so a server that stalls fails the test instead of hanging it.
RESPONSE_TIMEOUT = 120.0


@asynccontextmanager
async def live_client(live: LiveServer, transport: str, **options: Any) -> AsyncIterator[Client]:
    """An open ``Client`` for ``live`` over ``transport``, with ``options`` on top of the
    suite's defaults (partial messages on, short retries)."""
    options.setdefault("include_partial_messages", True)
    options.setdefault("retry", LIVE_RETRY)
    instance = make_transport(transport)
    agent_options = AgentOptions(
        model=live.model, base_url=live.base_url, api_key=live.api_key, transport=instance, **options
    )
    try:
        async with Client(agent_options) as client:
            yield client
    finally:
        # A transport passed in stays ours to close (AgentOptions.transport).
        if instance is not None:
            close = getattr(instance, "aclose", None)
            if close is not None:
                with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                    await close()


@attrs.frozen(kw_only=True)
class Reply:
    """Everything one ``receive_response()`` yielded, checked for its shape."""

    messages: tuple[RunMessage, ...]

    @property
    def events(self) -> list[Any]:
        """The ``StreamEvent`` partials' events, in order."""
        return [m.event for m in self.messages if isinstance(m, StreamEvent)]

    def events_of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def assistant(self) -> AssistantMessage:
        answers = [m for m in self.messages if isinstance(m, AssistantMessage)]
        assert len(answers) == 1, f"expected one AssistantMessage, got {answers}"
        return answers[0]

    @property
    def result(self) -> ResultMessage:
        last = self.messages[-1]
        assert isinstance(last, ResultMessage)
        return last


async def collect(client: Client, messages: list[RunMessage]) -> None:
    """Append one response's messages to ``messages`` (kept when it raises), bounded by
    ``RESPONSE_TIMEOUT``."""
    with anyio.fail_after(RESPONSE_TIMEOUT):
        async with aclosing(client.receive_response()) as stream:
            async for message in stream:
                messages.append(message)


async def receive(client: Client) -> Reply:
    """Collect one response; checks that it ends with exactly one ``ResultMessage`` and that no
    partial follows the ``AssistantMessage``."""
    messages: list[RunMessage] = []
    await collect(client, messages)
    assert messages, "receive_response() yielded nothing"
    assert isinstance(messages[-1], ResultMessage), f"the last message is {messages[-1]!r}"
    assert sum(isinstance(m, ResultMessage) for m in messages) == 1
    answered = False
    for message in messages:
        if isinstance(message, AssistantMessage):
            answered = True
        elif isinstance(message, StreamEvent):
            assert not answered, f"a partial after the AssistantMessage: {message!r}"
    return Reply(messages=tuple(messages))


def parses_to(arguments: str) -> object:
    """``arguments`` as JSON, or the text itself when it does not parse (for assert messages)."""
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments
