"""Embeddings and memory against llama.cpp's own server (``../shared/bin/llama-server`` with
``--embeddings --pooling mean`` on the tiny test model), which this module starts on 127.0.0.1;
it skips, saying why, where the binary or the model is missing (``$ANY_AGENT_LLAMA_SERVER``
names another binary). Over every transport, under asyncio and trio."""

from __future__ import annotations

import math
import os
import pathlib
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import anyio
import pytest

from anyagent_httpx import Embedder, Memory, SQLiteStore
from tests.live.support import make_transport

pytestmark = [pytest.mark.anyio, pytest.mark.live]

SHARED = pathlib.Path(__file__).resolve().parents[3] / "shared"
BINARY = pathlib.Path(os.environ.get("ANY_AGENT_LLAMA_SERVER", SHARED / "bin" / "llama-server"))
MODEL = SHARED / "models" / "tiny-agent.gguf"
START_TIMEOUT = 30.0
#: The tiny model's hidden size: mean pooling gives vectors of this length.
HIDDEN = 64


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def embeddings_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a llama-server serving embeddings (and chat) on the tiny model."""
    if not BINARY.is_file() or not os.access(BINARY, os.X_OK):
        pytest.skip(f"no llama.cpp server binary at {BINARY} (set ANY_AGENT_LLAMA_SERVER to one)")
    if not MODEL.is_file():
        pytest.skip(f"no tiny test model at {MODEL}")
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    command = [
        str(BINARY), "-m", str(MODEL), "--ctx-size", "2048", "--embeddings", "--pooling", "mean",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if server.poll() is not None:
                pytest.fail(f"llama-server exited with {server.returncode}: {log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama-server did not answer /health within {START_TIMEOUT} s")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@asynccontextmanager
async def embedder_over(url: str, transport: str) -> AsyncIterator[Embedder]:
    """An ``Embedder`` for ``url`` over ``transport``, which is closed afterwards."""
    instance = make_transport(transport)
    try:
        async with Embedder("tiny", base_url=url, transport=instance) as embedder:
            yield embedder
    finally:
        if instance is not None:
            with anyio.CancelScope(shield=True):
                await instance.aclose()  # type: ignore[attr-defined]


def _cosine(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


async def test_vectors_from_llama_server(embeddings_url: str, transport: str) -> None:
    """One vector per input, of the model's hidden size, the same for the same text in a batch
    or alone, different for different texts."""
    texts = ["green tea in the morning", "the deploy key is in the vault", "green tea in the morning"]
    with anyio.fail_after(60):
        async with embedder_over(embeddings_url, transport) as embedder:
            batch = await embedder.embed(texts)
            alone = await embedder.embed_one(texts[1])
    assert [len(v) for v in batch] == [HIDDEN] * 3
    assert all(math.isfinite(x) for v in batch for x in v)
    assert _cosine(batch[0], batch[2]) == pytest.approx(1.0, abs=1e-5)
    assert _cosine(batch[1], alone) == pytest.approx(1.0, abs=1e-4)
    assert _cosine(batch[0], batch[1]) < 0.9999


async def test_memory_recalls_by_llama_server_vectors(
    embeddings_url: str, transport: str, tmp_path: pathlib.Path
) -> None:
    """Memories embedded by the server and kept in SQLite: recalling a memory's own text finds
    it first, with a cosine of 1."""
    facts = ["The user drinks green tea", "The deploy key lives in the vault", "Answer in French"]
    with anyio.fail_after(60):
        async with (
            SQLiteStore(tmp_path / "memory.db") as store,
            embedder_over(embeddings_url, transport) as embedder,
        ):
            memory = Memory(store, embedder)
            kept = [await memory.remember(fact) for fact in facts]
            for record in kept:
                (best, *_) = await memory.recall(record.text, limit=3)
                assert best.memory_id == record.memory_id
                assert best.score == pytest.approx(1.0, abs=1e-4)
