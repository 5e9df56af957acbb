"""A minimal, fast HTTP/1.1 keep-alive server for ``bench_transport.py`` (test equipment).

    python benchmarks/_loopback.py [--port 0]

It serves prebuilt chat-completions SSE bodies (from ``streams.py``) on 127.0.0.1 and prints
its port on stdout once it listens. A request's JSON body chooses the response: ``model`` names
the workload (``w4000``: one 4,000-content-chunk text answer; ``w20``: 1,000 different
20-chunk answers) and the last message's content, a decimal number, picks one of its bodies
(modulo their count; anything else picks the first). Unknown models get a 404 with an
OpenAI-style error body.

The model ``agent`` plays an agent's model for ``bench_agent.py``: the first user message, ``"R
C"``, asks for ``R`` rounds of ``C`` parallel calls of the tool ``add`` (``streams.agent_answer``),
then a final text naming every result. The server checks what the client sends back: ``add``
offered as a tool, every call of the previous rounds answered, in order, by a ``tool`` message
with the right ``tool_call_id`` and the right sum; anything else gets a 400 saying what was wrong.

Each response is ``200 OK``, ``content-type: text/event-stream`` and a ``content-length``,
written in 64 KiB pieces (the head goes out with the first), each awaited with ``drain()`` so
that a hundred concurrent streams do not pile up in the server's buffers. Connections stay
open until the client closes them (``Connection: close`` is honoured); a client going away
mid-response only ends its connection. Requests are read one at a time: no pipelining.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from streams import AGENT_TOOL, Expected, agent_answer, agent_call_arguments, w1_text, w3_many_streams

__all__ = [
    "AGENT_MODEL",
    "SHORT_CHUNKS",
    "SHORT_VARIANTS",
    "STREAM_CHUNKS",
    "WRITE_SIZE",
    "BadAgentRequest",
    "agent_round",
    "catalog",
    "long_answer",
    "short_answers",
]

STREAM_CHUNKS = 4000
"""Content chunks of the long answer (``w4000``)."""
SHORT_CHUNKS = 20
"""Chunks of each short answer (``w20``), role, finish and usage chunks included."""
SHORT_VARIANTS = 1000
"""How many different short answers ``w20`` has."""
WRITE_SIZE = 64 * 1024
"""The largest single write of a response."""

AGENT_MODEL = "agent"
"""The model that answers like an agent's model (see the module's docstring)."""

_MAX_HEAD = 64 * 1024


def long_answer() -> tuple[bytes, Expected]:
    """The body of ``w4000`` and its ground truth."""
    workload = w1_text(n_content=STREAM_CHUNKS)
    return workload.bodies[0], workload.expected[0]


def short_answers() -> list[tuple[bytes, Expected]]:
    """The bodies of ``w20`` and their ground truth."""
    workload = w3_many_streams(n_streams=SHORT_VARIANTS, chunks_per_stream=SHORT_CHUNKS)
    return list(zip(workload.bodies, workload.expected, strict=True))


def catalog() -> dict[str, list[tuple[bytes, Expected]]]:
    """Every model's bodies with their ground truth; deterministic, so the benchmark and the
    server (separate processes) build the same."""
    return {f"w{STREAM_CHUNKS}": [long_answer()], f"w{SHORT_CHUNKS}": short_answers()}


def _head(status: str, content_type: str, length: int) -> bytes:
    return f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {length}\r\n\r\n".encode("ascii")


def _error(status: str, message: str, code: str) -> bytes:
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "code": code}}).encode()
    return _head(status, "application/json", len(body)) + body


class BadAgentRequest(Exception):
    """What was wrong with a request to the ``agent`` model."""


def agent_round(request: Any) -> tuple[int, int, int]:
    """``(round, rounds, calls)`` of a request to the ``agent`` model, after checking that every
    earlier call was answered, in order, with the right result. Raises ``BadAgentRequest``."""
    tools = request.get("tools") or []
    if not any(t.get("function", {}).get("name") == AGENT_TOOL for t in tools):
        raise BadAgentRequest(f"the tool {AGENT_TOOL!r} is not offered")
    messages = request["messages"]
    first = next((m for m in messages if m.get("role") == "user"), None)
    try:
        rounds, calls = (int(n) for n in str(first["content"] if first else "").split())
    except ValueError:
        raise BadAgentRequest("the first user message must be 'ROUNDS CALLS'") from None
    if rounds < 0 or calls < 1:
        raise BadAgentRequest(f"want ROUNDS >= 0 and CALLS >= 1, got {rounds} {calls}")
    answered = 0
    for message in messages:
        if message.get("role") != "tool":
            continue
        round_, call = divmod(answered, calls)
        want_id = f"call_{round_}_{call}"
        want = str(sum(agent_call_arguments(round_, call).values()))
        if message.get("tool_call_id") != want_id or str(message.get("content")).strip() != want:
            raise BadAgentRequest(
                f"tool message {answered}: want id {want_id!r} with {want!r}, got "
                f"{message.get('tool_call_id')!r} with {message.get('content')!r}"
            )
        answered += 1
    round_, missing = divmod(answered, calls)
    if missing or round_ > rounds:
        raise BadAgentRequest(f"{answered} tool results for rounds of {calls} calls (at most {rounds} rounds)")
    return round_, rounds, calls


class Server:
    def __init__(self, bodies: dict[str, list[bytes]]) -> None:
        self.connections: set[asyncio.StreamWriter] = set()
        self.handlers: set[asyncio.Task[None]] = set()
        # Each body with its head, ready to write.
        self._responses = {
            model: [_head("200 OK", "text/event-stream", len(body)) + body for body in variants]
            for model, variants in bodies.items()
        }
        self._agent_answers: dict[tuple[int, int, int], bytes] = {}

    def _agent(self, request: Any) -> bytes:
        try:
            key = agent_round(request)
        except (BadAgentRequest, KeyError, TypeError, AttributeError) as exc:
            return _error("400 Bad Request", f"{type(exc).__name__}: {exc}", "bad_agent_request")
        response = self._agent_answers.get(key)
        if response is None:
            body = agent_answer(*key)
            response = self._agent_answers[key] = _head("200 OK", "text/event-stream", len(body)) + body
        return response

    def _choose(self, raw: bytes) -> bytes:
        try:
            request: Any = json.loads(raw)
            model = request["model"]
            if model == AGENT_MODEL:
                return self._agent(request)
            variants = self._responses[model]
        except (ValueError, KeyError, TypeError):
            return _error("404 Not Found", "unknown model", "model_not_found")
        index = 0
        try:
            content = request["messages"][-1]["content"]
            if isinstance(content, str) and content.isdecimal():
                index = int(content)
        except (KeyError, IndexError, TypeError):
            pass
        return variants[index % len(variants)]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        self.connections.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return  # the client closed the connection between requests
                length = 0
                close = False
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection" and value.strip().lower() == b"close":
                        close = True
                raw = await reader.readexactly(length) if length else b""
                response = memoryview(self._choose(raw))
                for start in range(0, len(response), WRITE_SIZE):
                    writer.write(response[start : start + WRITE_SIZE])
                    await writer.drain()
                if close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            return  # a client that went away mid-request or mid-response, or sent garbage
        finally:
            self.connections.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self.handlers.discard(task)

    async def stop(self) -> None:
        """Drop every connection and let the handlers end (no task is left to cancel)."""
        for writer in list(self.connections):
            writer.transport.abort()
        if self.handlers:
            await asyncio.wait(list(self.handlers), timeout=5)


async def serve(port: int) -> None:
    bodies = {model: [body for body, _ in variants] for model, variants in catalog().items()}
    server = Server(bodies)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", port, limit=_MAX_HEAD, backlog=1024)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(listener.sockets[0].getsockname()[1], flush=True)
    await stop.wait()
    # Not ``wait_closed()``: it would wait for clients that keep their connections open.
    listener.close()
    await server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="the port to listen on (default: any free one)")
    args = parser.parse_args()
    asyncio.run(serve(args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
