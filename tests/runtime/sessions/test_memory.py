"""Long-term memory: ``Embedder`` against a loopback ``/v1/embeddings`` server with deterministic
vectors, ``Memory`` on every store (in memory, SQLite, PostgreSQL when reachable), the
``remember`` and ``recall`` tools in a client's run, and memories put in the system prompt;
under asyncio and trio."""

from __future__ import annotations

import json
import logging
import math
import re
import zlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_httpx import (
    AgentOptions,
    APIConnectionError,
    APITimeoutError,
    Client,
    ConfigurationError,
    Embedder,
    EmbeddingsError,
    InternalServerError,
    Memory,
    MemoryRecord,
    NotFoundError,
    ResultMessage,
    tool,
)
from anyagent_httpx._memories import MAX_MEMORY_CHARS, memory_prompt
from anyagent_httpx._sessions import MemoryStore, SessionStore
from anyagent_httpx.testing import ReceivedRequest, Reply, serve
from tests.runtime.mock import DONE, chunk, text_stream

pytestmark = pytest.mark.anyio

DIMS = 16
#: Words of one meaning share a dimension, so the vectors know that coffee is a drink like tea
#: while a full-text search does not.
CONCEPTS = {
    "tea": "drink", "coffee": "drink", "drink": "drink", "beverage": "drink", "espresso": "drink",
    "key": "secret", "password": "secret", "vault": "secret", "token": "secret",
    "french": "language", "english": "language", "language": "language",
}  # fmt: skip


def concept_vector(text: str) -> list[float]:
    """The deterministic embedding: a count per concept (words without one hashed), normalised."""
    vector = [0.0] * DIMS
    for word in re.findall(r"\w+", text.lower()):
        vector[zlib.crc32(CONCEPTS.get(word, word).encode()) % DIMS] += 1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def embeddings_reply(request: ReceivedRequest) -> Reply:
    body = request.json()
    data = [{"object": "embedding", "index": i, "embedding": concept_vector(t)} for i, t in enumerate(body["input"])]
    data.reverse()  # the index fields say where each goes
    return Reply.json({"object": "list", "model": body["model"], "data": data, "usage": {"prompt_tokens": 3}})


def says(*pieces: str) -> Reply:
    return Reply.sse(b"".join(text_stream(*pieces)))


def calls(call_id: str, name: str, arguments: dict[str, Any]) -> Reply:
    function = {"name": name, "arguments": json.dumps(arguments)}
    head = {"index": 0, "id": call_id, "type": "function", "function": function}
    return Reply.sse(b"".join([chunk(tool_calls=[head]), chunk(finish="tool_calls"), DONE]))


class Endpoint:
    """A loopback server answering embeddings by the rule above and chats from a script."""

    def __init__(self, chats: list[Reply] | None = None) -> None:
        self.chats = list(chats or [])
        self.chat_bodies: list[dict[str, Any]] = []
        self.embedded: list[list[str]] = []

    def __call__(self, request: ReceivedRequest) -> Reply:
        if request.target.endswith("/embeddings"):
            self.embedded.append(request.json()["input"])
            return embeddings_reply(request)
        self.chat_bodies.append(request.json())
        return self.chats.pop(0) if self.chats else says("ok")


def system_text(body: dict[str, Any]) -> str:
    first = body["messages"][0]
    return str(first["content"]) if first["role"] == "system" else ""


# ---- the embeddings client --------------------------------------------------------------------


async def test_embed_gives_one_vector_per_text_in_order_in_batches() -> None:
    endpoint = Endpoint()
    texts = ["green tea", "the vault key", "french please", "coffee", "espresso"]
    async with serve(endpoint) as server, Embedder("emb", base_url=server.base_url, batch_size=2) as embedder:
        vectors = await embedder.embed(texts)
        assert await embedder.embed([]) == []
    assert [len(v) for v in vectors] == [DIMS] * 5
    for vector, text in zip(vectors, texts, strict=True):
        assert vector == pytest.approx(concept_vector(text), abs=1e-6)
    assert endpoint.embedded == [texts[0:2], texts[2:4], texts[4:5]]
    request = server.requests[0]
    assert request.target == "/v1/embeddings"
    assert request.json()["model"] == "emb"


async def test_embed_errors_are_typed_and_keep_the_key_out() -> None:
    async with serve([Reply.error(404, "no embeddings here"), Reply.json({"data": "no"})]) as server:
        embedder = Embedder("emb", base_url=server.base_url, api_key="sk-very-secret")
        assert "sk-very-secret" not in repr(embedder)
        with pytest.raises(NotFoundError) as missing:
            await embedder.embed(["x"])
        with pytest.raises(EmbeddingsError, match="no 'data' array") as bad:
            await embedder.embed(["x"])
        assert server.requests[0].header("authorization") == "Bearer sk-very-secret"
    for error in (missing.value, bad.value):
        assert "sk-very-secret" not in str(error) and "sk-very-secret" not in repr(error)
    with pytest.raises(ValueError, match="text 1 to embed must be a non-empty string"):
        await embedder.embed(["fine", "  "])
    with pytest.raises(ConfigurationError, match="batch_size"):
        Embedder("emb", base_url="http://127.0.0.1:9/v1", batch_size=0)


async def test_a_server_that_does_not_answer_is_a_timeout_not_a_hang() -> None:
    slow = Reply.json({"data": []}, head_delay=30.0)
    async with serve(slow) as server, Embedder("emb", base_url=server.base_url, timeout=0.2) as embedder:
        with pytest.raises(APITimeoutError, match=r"no embeddings answer from .* within 0.2 s"):
            await embedder.embed(["x"])
    async with serve(Reply(drop_before_head=True)) as server, Embedder("emb", base_url=server.base_url) as embedder:
        with pytest.raises(APIConnectionError):
            await embedder.embed(["x"])


# ---- Memory on every store --------------------------------------------------------------------


async def test_recall_by_meaning_on_every_store(store: SessionStore) -> None:
    async with serve(Endpoint()) as server, Embedder("emb", base_url=server.base_url) as embedder:
        memory = Memory(store, embedder, scope="user-1")
        tea = await memory.remember("The user drinks green tea every morning", session_id="s1")
        await memory.remember("The deploy password is kept in the vault")
        await memory.remember("Answer in French")
        assert tea.vector is not None and len(tea.vector) == DIMS and "user-1" in tea.tags
        # no word in common with the tea memory: found by meaning
        found = await memory.recall("which coffee or espresso?", limit=1)
        assert [m.memory_id for m in found] == [tea.memory_id]
        assert found[0].session_id == "s1"
        secret = await memory.recall("where is the token?", limit=2)
        assert secret[0].text == "The deploy password is kept in the vault"
        assert secret[0].score >= secret[1].score
    words = Memory(store, scope="user-1")  # no embedder: full-text search
    assert [m.text for m in await words.recall("deploy password")] == ["The deploy password is kept in the vault"]
    assert await words.recall("espresso") == []
    assert await words.recall("   ") == []


async def test_scopes_keep_memories_apart(store: SessionStore) -> None:
    one, two = Memory(store, scope="alice"), Memory(store, scope="bob")
    await one.remember("alice likes the harbour walk")
    kept = await two.remember("bob likes the harbour walk too", tags=["walks"])
    assert [m.text for m in await one.recall("harbour walk")] == ["alice likes the harbour walk"]
    assert [m.memory_id for m in await two.memories()] == [kept.memory_id]
    assert [m.memory_id for m in await two.recall("harbour", tag="walks")] == [kept.memory_id]
    assert await two.recall("harbour", tag="other") == []
    await two.forget(kept.memory_id)
    assert await two.memories() == []


async def test_memories_embedded_by_another_model_are_found_by_words(store: SessionStore) -> None:
    """A memory whose vector has another length (another embedding model) is left out of the
    comparison; with no vector of the query's length, recall falls back to words."""
    await store.remember("lighthouse keeper notes", memory_id="old", tags=["m"], vector=[1.0, 0.0])
    async with serve(Endpoint()) as server, Embedder("emb", base_url=server.base_url) as embedder:
        found = await Memory(store, embedder, scope="m").recall("lighthouse")
    assert [m.memory_id for m in found] == ["old"]


async def test_bad_input_is_refused() -> None:
    memory = Memory(MemoryStore())
    with pytest.raises(ValueError, match="a memory needs some text"):
        await memory.remember(" ")
    with pytest.raises(ValueError, match="limit"):
        await memory.recall("x", limit=-1)
    with pytest.raises(TypeError, match="SessionStore"):
        Memory(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scope"):
        Memory(MemoryStore(), scope="")


# ---- in a client's run ------------------------------------------------------------------------


def options(base_url: str, memory: Memory, **kwargs: Any) -> AgentOptions:
    return AgentOptions(base_url=base_url, model="m", memory=memory, cwd=".", **kwargs)


async def test_the_model_remembers_and_a_later_run_recalls(store: SessionStore) -> None:
    fact = "The user's cat is called Biscuit"
    endpoint = Endpoint(
        [
            calls("c1", "remember", {"text": fact}),
            says("Noted."),
            calls("c2", "recall", {"query": "cat name"}),
            says("Biscuit."),
        ]
    )
    async with serve(endpoint) as server, Embedder("emb", base_url=server.base_url) as embedder:
        memory = Memory(store, embedder)
        async with Client(options(server.base_url, memory)) as client:
            await client.query("My cat is called Biscuit")
            messages = [m async for m in client.receive_response()]
            assert isinstance(messages[-1], ResultMessage) and messages[-1].result == "Noted."
            session_id = client.session_id
        tools = {t["function"]["name"] for t in endpoint.chat_bodies[0]["tools"]}
        assert {"remember", "recall"} <= tools
        (kept,) = await memory.memories()
        assert kept.text == fact and kept.session_id == session_id and kept.vector is not None
        async with Client(options(server.base_url, memory)) as client:
            await client.query("What is my cat called?")
            [m async for m in client.receive_response()]
        tool_result = endpoint.chat_bodies[-1]["messages"][-1]
        assert tool_result["role"] == "tool" and fact in tool_result["content"]


async def test_relevant_memories_go_into_the_system_prompt(store: SessionStore) -> None:
    endpoint = Endpoint()
    async with serve(endpoint) as server, Embedder("emb", base_url=server.base_url) as embedder:
        memory = Memory(store, embedder, scope="inject")
        await memory.remember("The user drinks green tea")
        await memory.remember("The vault holds the deploy key")
        opts = options(server.base_url, memory, system_prompt="Be brief.", inject_memories=1, memory_tools=False)
        async with Client(opts) as client:
            for prompt in ("coffee or espresso?", "where is the password?"):
                await client.query(prompt)
                [m async for m in client.receive_response()]
    first, second = (system_text(body) for body in endpoint.chat_bodies)
    assert first.startswith("Be brief.\n\n<memories>") and first.endswith("</memories>")
    assert "green tea" in first and "vault" not in first
    assert "vault" in second and "green tea" not in second, "each prompt gets its own memories"
    assert "tools" not in endpoint.chat_bodies[0], "memory_tools=False offers no tools"


async def test_a_failing_embeddings_server_leaves_the_prompt_without_memories(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def handler(request: ReceivedRequest) -> Reply:
        if request.target.endswith("/embeddings"):
            return Reply.error(500, "embedding model crashed")
        return says("fine")

    store = MemoryStore()
    await store.remember("something kept", memory_id="m1")
    async with serve(handler) as server:
        memory = Memory(store, Embedder("emb", base_url=server.base_url))
        with caplog.at_level(logging.WARNING, logger="anyagent"):
            async with Client(options(server.base_url, memory, inject_memories=3)) as client:
                await client.query("hello")
                messages = [m async for m in client.receive_response()]
        with pytest.raises(InternalServerError):
            await memory.recall("hello")
    assert isinstance(messages[-1], ResultMessage) and messages[-1].result == "fine"
    chat = next(r.json() for r in server.requests if r.target.endswith("/chat/completions"))
    assert "<memories>" not in json.dumps(chat["messages"])
    assert "recall failed (InternalServerError" in caplog.text


def test_memory_options_are_checked() -> None:
    memory = Memory(MemoryStore())
    with pytest.raises(ConfigurationError, match="inject_memories needs memory="):
        AgentOptions(inject_memories=2)

    @tool
    def remember(text: str) -> str:
        """Mine."""
        return text

    with pytest.raises(ConfigurationError, match="the name of a memory tool"):
        AgentOptions(memory=memory, tools=[remember])
    AgentOptions(memory=memory, tools=[remember], memory_tools=False)
    assert "recall" in AgentOptions(memory=memory, allowed_tools=["recall"]).tool_names()
    with pytest.raises(ConfigurationError, match="memory must be a Memory"):
        AgentOptions(memory=MemoryStore())  # type: ignore[arg-type]


# ---- the prompt section (pure) ----------------------------------------------------------------


def record(text: str) -> MemoryRecord:
    return MemoryRecord(memory_id="m", text=text, at=0.0)


@given(
    system=st.one_of(st.none(), st.text(max_size=40)),
    texts=st.lists(st.text(min_size=1, max_size=3000).filter(str.strip), max_size=5),
)
def test_memory_prompt_keeps_the_prompt_and_one_closed_section(system: str | None, texts: list[str]) -> None:
    prompt = memory_prompt(system, [record(t) for t in texts])
    if not texts:
        assert prompt == system
        return
    assert prompt is not None
    if system:
        assert prompt.startswith(system + "\n\n<memories>\n")
    section = prompt[prompt.index("<memories>\n") :] if system else prompt
    assert section.startswith("<memories>\n") and section.endswith("\n</memories>")
    inner = section.removeprefix("<memories>\n").removesuffix("\n</memories>")
    assert "</memories>" not in inner and "<memories>" not in inner, "a memory cannot close the section"
    lines = inner.split("\n")
    assert len(lines) == 1 + len(texts), "one line per memory"
    for line, text in zip(lines[1:], texts, strict=True):
        assert line.startswith("- ") and len(line) <= 2 + MAX_MEMORY_CHARS + 2 * text.count("memories>")
