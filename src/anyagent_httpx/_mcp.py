"""MCP servers as tools: ``AgentOptions(mcp_servers={...})`` through the official ``mcp`` package
(the ``anyagent[mcp]`` extra), imported only by a client that has servers to reach.

Each server runs in a task of its own (``_Server.run``), started when the client opens and
cancelled when it closes, so the package's task groups and subprocesses are entered and left in
one task. Its tools become ``Tool`` values named ``mcp__<key>__<tool>``: they go through the same
permission rules and hooks as any tool, and their results (text, images, errors) reach the model.
A call that fails because the connection is gone (a session that expired, a server that
restarted) reconnects the server once and is tried again; a ``tools/list_changed`` notification
marks the server's list stale, and the client lists its tools again before the next prompt.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

import anyio
import anyio.abc
import attrs

from anyagent_core import ToolSpec

from ._errors import AnyAgentError
from ._tools import Tool, ToolServer, server_tool_name

__all__ = ["McpServerError", "McpServerState", "McpServers", "check_server_config", "server_state"]

log = logging.getLogger("anyagent.mcp")

KINDS = ("stdio", "http", "sse", "sdk")
_KEYS: dict[str, frozenset[str]] = {
    "stdio": frozenset({"type", "command", "args", "env", "cwd", "optional", "trust_hints"}),
    "http": frozenset({"type", "url", "headers", "optional", "trust_hints"}),
    "sse": frozenset({"type", "url", "headers", "optional", "trust_hints"}),
    "sdk": frozenset({"type", "name", "instance", "optional"}),
}


class McpServerError(AnyAgentError):
    """An MCP server could not be started or reached; ``server`` is its key in ``mcp_servers``."""

    def __init__(self, server: str, message: str) -> None:
        super().__init__(f"MCP server {server!r}: {message}")
        self.server = server


@attrs.frozen(kw_only=True)
class McpServerState:
    """One server of ``McpServers.states()``: connected or not, what it said it is, its tools."""

    key: str
    config: Mapping[str, Any]
    connected: bool
    name: str | None = None
    """The name the server gave when connecting (None: it never connected)."""
    version: str | None = None
    error: str | None = None
    """Why it did not start (for a server that is not ``connected``)."""
    tools: tuple[ToolSpec, ...] = ()


def server_state(key: str, server: ToolServer) -> McpServerState:
    """An in-process server's state: always connected."""
    return McpServerState(
        key=key,
        config={"type": "sdk", "name": server.name},
        connected=True,
        name=server.name,
        version=server.version,
        tools=server.list_tools(),
    )


def _strings(value: object) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)


def _string_map(value: object) -> bool:
    return isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def check_server_config(key: str, config: object) -> dict[str, Any]:
    """``config`` checked and normalised (``type`` filled in: ``stdio`` when there is a
    ``command``); a ``ToolServer`` becomes ``{"type": "sdk", "instance": ...}``. Raises
    ``ValueError`` naming the server and the field; never echoes ``env`` or ``headers`` values."""
    if isinstance(config, ToolServer):
        return {"type": "sdk", "instance": config}
    if not isinstance(config, Mapping):
        raise ValueError(f"mcp_servers[{key!r}] is a dict (or a ToolServer), not {type(config).__name__}")
    kind = config.get("type", "stdio" if "command" in config else None)
    if kind not in KINDS:
        raise ValueError(f"mcp_servers[{key!r}]: type is one of {', '.join(KINDS)}, not {kind!r}")
    unknown = sorted(set(config) - _KEYS[kind])
    if unknown:
        raise ValueError(f"mcp_servers[{key!r}]: unknown key(s) for a {kind} server: {', '.join(map(str, unknown))}")
    out = dict(config)
    out["type"] = kind
    for flag in ("optional", "trust_hints"):
        if not isinstance(out.get(flag, False), bool):
            raise ValueError(f"mcp_servers[{key!r}].{flag} is True or False")
    if kind == "stdio":
        if not isinstance(out.get("command"), str) or not out["command"]:
            raise ValueError(f"mcp_servers[{key!r}].command is the program to run (a non-empty string)")
        if not _strings(out.setdefault("args", [])):
            raise ValueError(f"mcp_servers[{key!r}].args is a list of strings")
        if not _string_map(out.setdefault("env", {})):
            raise ValueError(f"mcp_servers[{key!r}].env maps names to strings")
        if out.get("cwd") is not None and not isinstance(out["cwd"], str):
            raise ValueError(f"mcp_servers[{key!r}].cwd is a directory (a string)")
    elif kind in ("http", "sse"):
        url = out.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"mcp_servers[{key!r}].url is an http:// or https:// URL")
        if not _string_map(out.setdefault("headers", {})):
            raise ValueError(f"mcp_servers[{key!r}].headers maps names to strings")
    elif not isinstance(out.get("instance"), ToolServer):
        raise ValueError(f"mcp_servers[{key!r}]: an sdk server's instance is a ToolServer (create_sdk_mcp_server)")
    return out


def _is_connection_failure(exc: BaseException) -> bool:
    """A failure of the connection (retry after reconnecting), not the server's answer to the call."""
    from mcp import MCPError
    from mcp_types import CONNECTION_CLOSED

    if isinstance(exc, MCPError):
        return exc.code == CONNECTION_CLOSED or "session" in exc.message.lower()
    return isinstance(exc, anyio.ClosedResourceError | anyio.BrokenResourceError | anyio.EndOfStream | OSError)


def _errlog(stack: contextlib.AsyncExitStack) -> TextIO:
    """Where a stdio server's stderr goes: ours, or nowhere when ours is no file (a notebook's)."""
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return stack.enter_context(open(os.devnull, "w", encoding="utf-8"))
    return sys.stderr


def _reason(failure: BaseException) -> str:
    """Why a server did not start, in words that hold no credentials: the exception's type, with
    the message of an OS error (a program not found) or of an MCP error (the server's)."""
    from mcp import MCPError

    while isinstance(failure, BaseExceptionGroup) and failure.exceptions:
        failure = failure.exceptions[0]
    if isinstance(failure, OSError | MCPError):
        return f"{type(failure).__name__}: {failure}"
    return type(failure).__name__


def _hints(annotations: Any) -> tuple[bool, bool]:
    """(read only, idempotent) from a tool's MCP annotations. Only an explicit ``True`` counts:
    the hints are the server's word, and a tool that says nothing is treated as one that
    changes things (it does not run in ``plan`` mode, and a durable run does not repeat it)."""
    if annotations is None:
        return False, False
    read_only = getattr(annotations, "read_only_hint", None) is True
    idempotent = read_only or getattr(annotations, "idempotent_hint", None) is True
    return read_only, idempotent


def _content(result: Any, name: str) -> dict[str, Any]:
    """A ``CallToolResult`` as an MCP-shaped dict of text and image blocks (``_tools.mcp_content``):
    embedded resources as their text (or a note of their type), audio and links as a note."""
    blocks: list[dict[str, Any]] = []
    for item in result.content:
        kind = getattr(item, "type", None)
        if kind == "text":
            blocks.append({"type": "text", "text": item.text})
        elif kind == "image":
            blocks.append({"type": "image", "data": item.data, "mimeType": item.mime_type})
        elif kind == "resource":
            text = getattr(item.resource, "text", None)
            mime = getattr(item.resource, "mime_type", None) or "binary"
            blocks.append(
                {"type": "text", "text": text if text is not None else f"[resource {item.resource.uri} ({mime})]"}
            )
        elif kind == "resource_link":
            blocks.append({"type": "text", "text": f"[resource link {item.uri}]"})
        else:
            blocks.append({"type": "text", "text": f"[{kind} content from {name}, not shown]"})
    out: dict[str, Any] = {"content": blocks, "is_error": bool(result.is_error)}
    if not blocks and result.structured_content is not None:
        out["structuredContent"] = result.structured_content
    return out


class _Server:
    """One server's connection, held open by ``run`` in its own task."""

    def __init__(self, key: str, config: Mapping[str, Any]) -> None:
        self.key = key
        self.config = config
        self.session: Any = None
        self.specs: tuple[ToolSpec, ...] = ()
        self.hints: dict[str, tuple[bool, bool]] = {}
        """A tool's name → (read only, idempotent), from its annotations; only for a server
        configured with ``"trust_hints": True`` (the MCP spec: annotations are untrusted unless
        they come from a trusted server)."""
        self.stale = False
        self.generation = 0
        self.info: tuple[str, str] | None = None
        """The name and version the server gave when it last connected."""
        self._restart = anyio.Event()
        self._ready = anyio.Event()
        self._failure: BaseException | None = None
        self._lock = anyio.Lock()

    async def _transport(self, stack: contextlib.AsyncExitStack) -> Any:
        config = self.config
        kind = config["type"]
        if kind == "stdio":
            from mcp.client.stdio import StdioServerParameters, stdio_client

            params = StdioServerParameters(
                command=config["command"],
                args=list(config["args"]),
                env=dict(config["env"]) or None,
                cwd=config.get("cwd"),
            )
            return await stack.enter_async_context(stdio_client(params, errlog=_errlog(stack)))
        if kind == "sse":
            from mcp.client.sse import sse_client

            return await stack.enter_async_context(sse_client(config["url"], headers=dict(config["headers"])))
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        http = await stack.enter_async_context(create_mcp_http_client(headers=dict(config["headers"])))
        return await stack.enter_async_context(streamable_http_client(config["url"], http_client=http))

    async def _notified(self, message: Any) -> None:
        from mcp_types import ServerNotification, ToolListChangedNotification

        if isinstance(message, ServerNotification):
            message = getattr(message, "root", message)
        if isinstance(message, ToolListChangedNotification):
            self.stale = True
        await anyio.lowlevel.checkpoint()

    async def _connect(self, stack: contextlib.AsyncExitStack) -> None:
        from mcp import ClientSession

        streams = await self._transport(stack)
        read, write = streams[0], streams[1]
        session = await stack.enter_async_context(ClientSession(read, write, message_handler=self._notified))
        result = await session.initialize()
        self.info = (result.server_info.name, result.server_info.version)
        self.session = session
        await self.list_tools()

    async def list_tools(self) -> None:
        """The server's tools, all pages."""
        from mcp_types import PaginatedRequestParams

        self.stale = False
        specs: list[ToolSpec] = []
        hints: dict[str, tuple[bool, bool]] = {}
        cursor: str | None = None
        for _ in range(100):  # a server whose pages never end cannot hang the client
            params = PaginatedRequestParams(cursor=cursor) if cursor else None
            listed = await self.session.list_tools(params=params)
            for item in listed.tools:
                schema = dict(item.input_schema) if item.input_schema else {"type": "object", "properties": {}}
                specs.append(ToolSpec(name=item.name, description=item.description or "", parameters=schema))
                if self.config.get("trust_hints", False):
                    hints[item.name] = _hints(item.annotations)
            cursor = listed.next_cursor
            if not cursor:
                break
        self.specs = tuple(specs)
        self.hints = hints

    async def run(self, *, task_status: anyio.abc.TaskStatus[BaseException | None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Connect, tell the opener (``None``, or the failure), and hold the connection until
        cancelled; a reconnection request closes it and connects again."""
        started = False
        while True:
            asked = False  # the connection is closed because a reconnection was asked for
            try:
                async with contextlib.AsyncExitStack() as stack:
                    await self._connect(stack)
                    self._failure = None
                    self.generation += 1
                    if not started:
                        started = True
                        task_status.started(None)
                    self._ready.set()
                    await self._restart.wait()
                    asked = True
            except Exception as exc:
                if not started:
                    task_status.started(exc)
                    return
                if asked:  # closing a broken connection failed: connect again all the same
                    log.debug("MCP server %r: closing the old connection failed (%s)", self.key, type(exc).__name__)
                else:
                    self.session = None
                    self._failure = exc
                    self._ready.set()
                    await self._restart.wait()
            self.session = None
            self._restart = anyio.Event()

    async def reconnect(self, generation: int) -> None:
        """Connect again (once per failed connection, however many calls saw it fail)."""
        async with self._lock:
            if self.generation != generation:
                return  # another call reconnected already
            log.warning("MCP server %r: the connection was lost; reconnecting", self.key)
            self._ready = anyio.Event()
            self._restart.set()
            await self._ready.wait()
            if self._failure is not None:
                raise McpServerError(self.key, f"reconnecting failed: {type(self._failure).__name__}")
            log.warning("MCP server %r: reconnected", self.key)

    async def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        full = server_tool_name(self.key, name)
        for attempt in range(2):
            generation = self.generation
            try:
                if self.session is None:
                    raise anyio.ClosedResourceError
                result = await self.session.call_tool(name, arguments)
            except Exception as exc:
                if attempt == 0 and _is_connection_failure(exc):
                    try:
                        await self.reconnect(generation)
                    except McpServerError as failure:
                        return {"content": [{"type": "text", "text": str(failure)}], "is_error": True}
                    continue
                from mcp import MCPError

                text = exc.message if isinstance(exc, MCPError) else type(exc).__name__
                return {"content": [{"type": "text", "text": f"{full} failed: {text}"}], "is_error": True}
            return _content(result, full)
        raise AssertionError("unreachable")  # pragma: no cover

    def tools(self) -> tuple[Tool, ...]:
        """The server's tools as a run offers them (``mcp__<key>__<tool>``)."""
        out: list[Tool] = []
        for spec in self.specs:
            full = server_tool_name(self.key, spec.name)
            if len(full) > 64:
                log.warning(
                    "MCP server %r: tool %r left out (%r is longer than 64 characters)", self.key, spec.name, full
                )
                continue
            read_only, idempotent = self.hints.get(spec.name, (False, False))
            out.append(
                Tool(
                    spec=ToolSpec(name=full, description=spec.description, parameters=spec.parameters),
                    function=self._caller(spec.name),
                    read_only=read_only,
                    idempotent=idempotent,
                )
            )
        return tuple(out)

    def _caller(self, name: str) -> Callable[..., Any]:
        async def call(**arguments: Any) -> dict[str, Any]:
            return await self.call(name, arguments)

        return call


class McpServers:
    """The client's MCP servers: started by ``start()`` in the opener's task, stopped by ``aclose()``."""

    def __init__(self, servers: Mapping[str, Mapping[str, Any]], *, strict: bool = True) -> None:
        self.strict = strict
        self._sdk = {key: config["instance"] for key, config in servers.items() if config["type"] == "sdk"}
        self._remote = [_Server(key, config) for key, config in servers.items() if config["type"] != "sdk"]
        self._live: list[_Server] = []
        self._failed: dict[str, str] = {}  # key → why the server did not start
        self._group: anyio.abc.TaskGroup | None = None

    async def start(self) -> None:
        """Connect to every server and list its tools; ``McpServerError`` for one that fails
        (a warning instead, and no tools from it, with ``strict=False`` or ``"optional": True``)."""
        if not self._remote:
            return
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        try:
            for server in self._remote:
                failure = await group.start(server.run)
                if failure is None:
                    self._live.append(server)
                    continue
                reason = _reason(failure)
                self._failed[server.key] = reason
                if self.strict and not server.config.get("optional", False):
                    raise McpServerError(server.key, f"did not start ({reason})")
                warnings.warn(
                    f"MCP server {server.key!r} did not start ({reason}); going on without its tools", stacklevel=2
                )
        except BaseException:
            await self.aclose()
            raise

    def tools(self) -> list[Tool]:
        """Every server's tools, in the order of ``mcp_servers``."""
        out: list[Tool] = []
        for key, instance in self._sdk.items():
            out.extend(instance.tools_for(key))
        for server in self._live:
            out.extend(server.tools())
        return out

    @property
    def stale(self) -> bool:
        """A server said its tool list changed since it was last listed."""
        return any(server.stale for server in self._live)

    async def refresh(self) -> None:
        """List again the tools of the servers whose list changed."""
        for server in self._live:
            if server.stale and server.session is not None:
                await server.list_tools()
                log.info("MCP server %r: tool list changed (%d tools)", server.key, len(server.specs))

    def states(self) -> list[McpServerState]:
        """Every server of ``mcp_servers``, in its order: in-process ones are connected."""
        live = {server.key: server for server in self._live}
        out = [server_state(key, instance) for key, instance in self._sdk.items()]
        for server in self._remote:
            running = live.get(server.key)
            name, version = server.info or (None, None)
            out.append(
                McpServerState(
                    key=server.key,
                    config=server.config,
                    connected=running is not None and running.session is not None,
                    name=name,
                    version=version,
                    error=self._failed.get(server.key) or (None if running is not None else "not started"),
                    tools=server.specs if running is not None else (),
                )
            )
        return out

    def names(self) -> Sequence[str]:
        return [server.key for server in self._live]

    async def aclose(self) -> None:
        """Stop every server (subprocesses ended, connections closed)."""
        group, self._group = self._group, None
        self._live = []
        if group is None:
            return
        group.cancel_scope.cancel()
        group.cancel_scope.shield = True  # its own scope: an outer cancellation cannot cut the shutdown short
        await group.__aexit__(None, None, None)
