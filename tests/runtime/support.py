"""Helpers shared by the I/O tests: building either transport, requests, reading bodies."""

from __future__ import annotations

import pathlib
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import anyio
import httpx

from anyagent_core import Request
from anyagent_httpx._transports import DEFAULT_TIMEOUT, H11Transport, HttpxTransport, TransportResponse
from anyagent_httpx.testing import LoopbackServer

Kind = Literal["httpx", "h11"]
KINDS: tuple[Kind, ...] = ("httpx", "h11")
AnyTransport = HttpxTransport | H11Transport


def kind_of(transport: AnyTransport) -> Kind:
    return "h11" if isinstance(transport, H11Transport) else "httpx"


@asynccontextmanager
async def open_transport(
    kind: Kind,
    *,
    read_timeout: float | None = None,
    write_timeout: float | None = None,
    max_connections: int | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[AnyTransport]:
    """A transport of ``kind`` with the defaults, or with short timeouts, a connection limit or
    a TLS context. For httpx those go on a client the test owns (``http_client=``)."""
    if kind == "h11":
        async with H11Transport(
            read_timeout=read_timeout if read_timeout is not None else 600.0,
            write_timeout=write_timeout if write_timeout is not None else 60.0,
            max_connections_per_host=max_connections if max_connections is not None else 50,
            ssl_context=ssl_context,
        ) as h11_transport:
            yield h11_transport
        return
    if read_timeout is None and write_timeout is None and max_connections is None and ssl_context is None:
        async with HttpxTransport() as httpx_transport:
            yield httpx_transport
        return
    # No pool timeout: waiting for a free connection is bounded by the test's cancel scopes.
    timeout = httpx.Timeout(
        connect=DEFAULT_TIMEOUT.connect,
        read=read_timeout if read_timeout is not None else DEFAULT_TIMEOUT.read,
        write=write_timeout if write_timeout is not None else DEFAULT_TIMEOUT.write,
        pool=None,
    )
    limits = httpx.Limits(max_connections=max_connections or 100, max_keepalive_connections=max_connections or 20)
    verify: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
    async with httpx.AsyncClient(timeout=timeout, limits=limits, verify=verify) as client:
        yield HttpxTransport(http_client=client)


def post(server: LoopbackServer, body: bytes = b"{}", *, path: str = "/chat/completions") -> Request:
    return Request(
        method="POST",
        url=server.url(path),
        headers=(("Content-Type", "application/json"), ("Accept", "text/event-stream")),
        body=body,
    )


def get(server: LoopbackServer, *, method: str = "GET", path: str = "/models") -> Request:
    return Request(method=method, url=server.url(path), headers=(("Accept", "application/json"),), body=b"")


async def read_all(response: TransportResponse) -> bytes:
    return b"".join([chunk async for chunk in response.stream])


async def read_into(response: TransportResponse, received: bytearray) -> None:
    """Append the body to ``received`` as it arrives (what came before a failure stays there)."""
    async for chunk in response.stream:
        received += chunk


async def head_of(transport: AnyTransport, request: Request) -> int:
    """Enter an exchange and return the status, leaving the body unread."""
    async with transport.exchange(request) as response:
        return response.status


async def fetch(transport: AnyTransport, request: Request) -> tuple[int, bytes]:
    async with transport.exchange(request) as response:
        return response.status, await read_all(response)


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def task_ids() -> set[int]:
    return {task.id for task in anyio.get_running_tasks()}


def self_signed_certificate(directory: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """A certificate for 127.0.0.1 and its key, made by the ``openssl`` command (the test is
    skipped where there is none)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        import pytest

        pytest.skip("no openssl command to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1"
    command += " -addext subjectAltName=IP:127.0.0.1"
    subprocess.run([openssl, *command.split(), "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key
