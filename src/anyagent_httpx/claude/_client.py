"""``ClaudeSDKClient`` and ``query()`` over anyagent's ``Client``: the same calls, the messages
converted to claude-agent-sdk's types (``_messages``), the options to anyagent's (``_options``).

Stopping at a ``ResultMessage`` (``break``) leaves the client ready for the next ``query()``, and
a response dropped midway is ended by the next ``query()``, as with anyagent's ``Client``.
``receive_response()`` with nothing asked waits for the next ``query()`` (from another task), as
claude-agent-sdk's does, where anyagent's ``Client`` raises ``ClientStateError``. With a
claude-style ``session_store``, an append that failed is reported as a ``MirrorErrorMessage``
before the message that came after it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import aclosing
from types import TracebackType
from typing import Any

from anyagent_core.wire import redact_url
from anyagent_httpx._client import Client, MessageStream
from anyagent_httpx._errors import ClientStateError, ConfigurationError
from anyagent_httpx._subagents import Subagents
from anyagent_httpx._tools import Tool, ToolServer

from ._messages import Converter, init_data
from ._mirror import MirroredStore
from ._options import agent_options, warn
from ._tools import task_tool
from ._transport import Transport, refuse
from ._types import (
    ClaudeAgentOptions,
    ContextUsageResponse,
    McpServerStatus,
    McpServerStatusConfig,
    McpStatusResponse,
    Message,
    NotSupportedError,
    PermissionMode,
)

__all__ = ["ClaudeSDKClient", "query"]


def _env(options: ClaudeAgentOptions) -> dict[str, str]:
    return {**os.environ, **options.env}


class _Stream(AsyncIterator[Message]):
    """anyagent's ``MessageStream``, converted; dropping it drops the stream under it.
    ``before``, when given, is awaited once before the first message: False ends the stream."""

    def __init__(
        self,
        stream: MessageStream,
        converter: Converter,
        before: Callable[[], Awaitable[bool]] | None = None,
        mirror: MirroredStore | None = None,
    ) -> None:
        self._stream = stream
        self._converter = converter
        self._ready: list[Message] = []
        self._before = before
        self._mirror = mirror

    def __aiter__(self) -> _Stream:
        return self

    async def __anext__(self) -> Message:
        if self._before is not None:
            before, self._before = self._before, None
            if not await before():
                raise StopAsyncIteration
        while not self._ready:
            self._ready = self._converter.convert(await self._stream.__anext__())
            if self._mirror is not None and self._mirror.errors:  # before the message that followed them
                self._ready[:0], self._mirror.errors = self._mirror.errors, []
        return self._ready.pop(0)

    async def aclose(self) -> None:
        await self._stream.aclose()


class _Client(Client):
    """anyagent's client, offering subagents through Claude Code's ``Task`` tool."""

    def _subagents_tool(self, subagents: Subagents) -> Tool:
        return task_tool(subagents)


class ClaudeSDKClient:
    """claude-agent-sdk's client: a conversation over many prompts, with anyagent's ``Client``
    underneath (``client.client`` once connected)."""

    def __init__(self, options: ClaudeAgentOptions | None = None, transport: Transport | None = None) -> None:
        """``transport``: claude-agent-sdk's connection to a Claude Code process, which there is
        none of here: one given is a ``NotSupportedError`` (see ``Transport``)."""
        refuse(transport)
        self.options = options if options is not None else ClaudeAgentOptions()
        self._client: Client | None = None
        self._converter: Converter | None = None

    @property
    def client(self) -> Client:
        """The anyagent ``Client`` underneath."""
        if self._client is None:
            raise ClientStateError("the client is not connected: use 'async with ClaudeSDKClient(...)' or connect()")
        return self._client

    async def connect(self, prompt: str | AsyncIterable[dict[str, Any]] | None = None) -> None:
        """Open the conversation (resolving the endpoint and model from the environment), and
        send ``prompt`` if given."""
        if self._client is not None:
            raise ClientStateError("the client is already connected")
        env = _env(self.options)
        client = _Client(agent_options(self.options, env), env=env)
        if self.options.session_id is not None:
            client.session_id = self.options.session_id
        await client.open()
        self._client = client
        self._converter = Converter(client.session_id)
        if prompt is not None:
            await client.query(prompt)

    async def disconnect(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def __aenter__(self) -> ClaudeSDKClient:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        await self.disconnect()
        return False

    async def query(self, prompt: str | AsyncIterable[dict[str, Any]], session_id: str = "default") -> None:
        """Send a prompt (or a stream of prompt dicts); the answer comes from ``receive_response()``.
        One client is one conversation: a ``session_id`` other than ``"default"`` and the
        client's own gives a ``CompatibilityWarning`` and the prompt goes to the client's
        conversation all the same (a conversation of its own needs a client of its own, or
        ``ClaudeAgentOptions(resume=...)``)."""
        client = self.client
        if session_id not in ("default", client.session_id):
            warn(
                f"query(session_id={session_id!r}): one client is one conversation; the prompt goes to "
                f"this client's (session {client.session_id!r}): use a client per conversation, "
                "or ClaudeAgentOptions(resume=...)"
            )
        await client.query(prompt)

    def _stream(self, stream: MessageStream, before: Callable[[], Awaitable[bool]] | None = None) -> _Stream:
        assert self._converter is not None
        store = self.client.options.session_store
        return _Stream(stream, self._converter, before, store if isinstance(store, MirroredStore) else None)

    def receive_response(self) -> AsyncIterator[Message]:
        """The messages of the answer, up to and including its ``ResultMessage``. With nothing
        asked (every answer received, a streaming input used up), it waits for the next
        ``query()`` from another task, as claude-agent-sdk's does, and ends if the client
        disconnects meanwhile; bound the wait (``anyio.move_on_after``) where no other task asks."""
        client = self.client
        return self._stream(client.receive_response(), self._next_prompt)

    async def _next_prompt(self) -> bool:
        """Wait until there is an answer to receive (False: the client disconnected)."""
        client = self.client
        if client._pending or client._receiving or client._more_input():
            return True  # the answer (or anyagent's error for a second receive) comes at once
        return await client._await_prompt()

    def receive_messages(self) -> AsyncIterator[Message]:
        """Every message of every response, until the client disconnects."""
        return self._stream(self.client.receive_messages())

    async def interrupt(self) -> None:
        await self.client.interrupt()

    async def set_permission_mode(self, mode: PermissionMode) -> None:
        if mode == "dontAsk":
            raise ConfigurationError("set_permission_mode('dontAsk'): set it when connecting (ClaudeAgentOptions)")
        if mode == "auto":
            warn("permission_mode='auto' is Claude Code's classifier; 'default' is used")
            mode = "default"
        self.client.set_permission_mode(mode)

    async def set_model(self, model: str | None = None) -> None:
        """Use ``model`` from the next request on (None: the model the client connected with)."""
        self.client.set_model(model)

    async def get_server_info(self) -> dict[str, Any] | None:
        """What the client runs with: the init message's data (Claude Code's keys included)."""
        info = await self.client.get_server_info()
        return {**init_data(info), "commands": [], "available_output_styles": ["default"]}

    async def get_context_usage(self) -> ContextUsageResponse:
        """The next request's tokens by part against the model's window, in Claude Code's
        shape (``anyagent_httpx.Client.get_context_usage()`` has the counter and the window's
        source too)."""
        usage = await self.client.get_context_usage()
        info = await self.client.get_server_info()
        window = usage.window or 0
        return {
            "categories": [
                {"name": "System prompt", "tokens": usage.system_tokens, "color": "promptBorder"},
                {"name": "System tools", "tokens": usage.tools_tokens, "color": "inactive"},
                {"name": "Messages", "tokens": usage.messages_tokens, "color": "purple"},
            ],
            "totalTokens": usage.total_tokens,
            "maxTokens": window,
            "rawMaxTokens": window,
            "percentage": usage.percent or 0.0,
            "model": str(info.get("model") or ""),
            "isAutoCompactEnabled": True,
            "memoryFiles": [],
            "mcpTools": [
                {"name": name, "serverName": name.split("__", 2)[1], "tokens": 0, "isLoaded": True}
                for name in info.get("tools", ())
                if name.startswith("mcp__") and name.count("__") >= 2
            ],
            "agents": [],
            "gridRows": [],
        }

    async def get_mcp_status(self) -> McpStatusResponse:
        """Every server of ``mcp_servers``, in its order: ``connected`` (in-process servers
        always), or ``failed`` with the ``error`` for an optional one that did not start; the
        ``serverInfo`` it gave, its ``config`` (without ``env`` and ``headers``, which often
        hold keys), ``scope`` ``dynamic`` (from the options, as Claude Code says of those) and
        its tools."""
        from anyagent_httpx._mcp import McpServerState, server_state

        client = self.client
        remote = {state.key: state for state in (client._mcp.states() if client._mcp is not None else ())}
        servers: list[McpServerStatus] = []
        configs = self.options.mcp_servers
        for key, config in configs.items() if isinstance(configs, Mapping) else ():
            instance = config.get("instance")
            state: McpServerState | None = server_state(key, instance) if isinstance(instance, ToolServer) else None
            state = state or remote.get(key)
            if state is None:
                continue
            entry: McpServerStatus = {
                "name": key,
                "status": "connected" if state.connected else "failed",
                "config": _status_config(state.config),
                "scope": "dynamic",
                "tools": [{"name": spec.name, "description": spec.description} for spec in state.tools],
            }
            if state.name is not None:
                entry["serverInfo"] = {"name": state.name, "version": state.version or ""}
            if not state.connected and state.error is not None:
                entry["error"] = state.error
            servers.append(entry)
        return {"mcpServers": servers}

    async def rewind_files(self, user_message_id: str) -> None:
        raise NotSupportedError(
            f"rewind_files({user_message_id!r}): files are not checkpointed here, so there is nothing to rewind to "
            "(enable_file_checkpointing is Claude Code's)"
        )

    async def reconnect_mcp_server(self, server_name: str) -> None:
        return None  # in-process servers never disconnect; a lost connection is reconnected at the next call

    async def toggle_mcp_server(self, server_name: str, enabled: bool) -> None:
        raise NotSupportedError(
            f"toggle_mcp_server({server_name!r}, {enabled!r}): a client's MCP servers are fixed when it connects; "
            "connect a client with the mcp_servers wanted"
        )

    async def stop_task(self, task_id: str) -> None:
        raise NotSupportedError(
            f"stop_task({task_id!r}): there are no background tasks to stop (they are Claude Code's); "
            "interrupt() stops the answer in progress"
        )


def _status_config(config: Mapping[str, Any]) -> McpServerStatusConfig:
    """A server's configuration as ``get_mcp_status()`` gives it: no ``env``, no ``headers``, no
    password in a URL."""
    kind = config.get("type", "stdio")
    if kind == "sdk":
        return {"type": "sdk", "name": str(config.get("name", ""))}
    if kind in ("http", "sse"):
        return {"type": kind, "url": redact_url(str(config["url"]))}
    return {"type": "stdio", "command": str(config["command"]), "args": [str(arg) for arg in config.get("args", ())]}


async def query(
    *,
    prompt: str | AsyncIterable[dict[str, Any]],
    options: ClaudeAgentOptions | None = None,
    transport: Transport | None = None,
) -> AsyncGenerator[Message]:
    """One prompt (or a stream of them), its answer as claude-agent-sdk's messages (a
    ``transport`` given is a ``NotSupportedError``, as for ``ClaudeSDKClient``)."""
    client = ClaudeSDKClient(options, transport)
    async with client:
        await client.query(prompt)
        while True:
            async with aclosing(client._stream(client.client.receive_response())) as messages:
                async for message in messages:
                    yield message
            if not client.client._more_input():
                return
