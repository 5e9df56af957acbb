"""The context's I/O half against a real HTTP server on 127.0.0.1: the window asked of a
llama.cpp-shaped server (cached per endpoint and model), a long conversation compacted to it,
a PreCompact hook's veto, ``Client.get_context_usage()``, the server's own token count and the
tokenizer counter."""

from __future__ import annotations

import json
import logging
import pathlib
from contextlib import aclosing
from typing import Any

import pytest

from anyagent_core import StartTurn, UserMessage
from anyagent_core.sessions import CompactionEntry
from anyagent_httpx import (
    AgentOptions,
    Client,
    ConfigurationError,
    HookMatcher,
    HookResult,
    MemoryStore,
    PreCompactInput,
    SystemMessage,
    TiktokenCounter,
    TokenizersCounter,
    discover_window,
    server_token_count,
)
from anyagent_httpx._context import forget_windows
from anyagent_httpx._transports import HttpxTransport
from anyagent_httpx.testing import ReceivedRequest, Reply, serve

from .mock import DONE, text_stream
from .test_agent_end_to_end import says

pytestmark = pytest.mark.anyio

PROPS = {"default_generation_settings": {"n_ctx": 2048}, "total_slots": 4, "model_alias": "tiny"}
TOKENIZER = pathlib.Path(__file__).resolve().parents[3] / "shared" / "models" / "tiny-agent-hf" / "tokenizer.json"


def json_reply(document: object, status: int = 200) -> Reply:
    return Reply(status=status, headers=[("content-type", "application/json")], chunks=[json.dumps(document).encode()])


def llamacpp(chat: list[Reply]) -> Any:
    """A llama.cpp-shaped server: /props says the window, /v1/models says nothing, chat answers in order."""
    answers = iter(chat)

    def handle(request: ReceivedRequest) -> Reply:
        if request.target == "/props":
            return json_reply(PROPS)
        if request.target == "/v1/models":
            return json_reply({"object": "list", "data": [{"id": "tiny", "object": "model"}]})
        if request.target == "/apply-template":
            return json_reply({"prompt": "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"})
        if request.target == "/tokenize":
            return json_reply({"tokens": list(range(13))})
        if request.target == "/v1/chat/completions":
            return next(answers)
        return json_reply({"error": {"message": "File Not Found", "type": "not_found_error", "code": 404}}, 404)

    return handle


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    forget_windows()


async def test_the_window_is_asked_once_and_a_long_conversation_is_compacted_to_it() -> None:
    async with serve(llamacpp([says("one"), says("two"), says("three")])) as server:
        options = AgentOptions(model="tiny", base_url=server.base_url)
        seen: list[Any] = []
        async with Client(options) as client:
            for prompt in ("a" * 3000, "b" * 3000, "c" * 3000):
                await client.query(prompt)
                async with aclosing(client.receive_response()) as stream:
                    seen.extend([message async for message in stream])
            usage = await client.get_context_usage()
    targets = [request.target for request in server.requests]
    assert targets.count("/props") == 1 and targets.count("/v1/models") == 1
    window = [m for m in seen if isinstance(m, SystemMessage) and m.subtype == "context_window"]
    assert [m.data["window"] for m in window] == [2048] and window[0].data["source"] == "server"
    assert "default_generation_settings.n_ctx" in window[0].data["note"]
    compact = [m for m in seen if isinstance(m, SystemMessage) and m.subtype == "compact"]
    assert compact and compact[-1].data["tokens_after"] <= compact[-1].data["limit"] < 2048
    chats = [json.loads(r.body) for r in server.requests if r.target == "/v1/chat/completions"]
    assert chats[-1]["messages"][-1]["content"] == "c" * 3000 and len(chats[-1]["messages"]) < 5
    assert usage.window == 2048 and usage.window_source == "server" and usage.left_out > 0


async def test_get_context_usage_asks_for_the_window_and_says_unknown_when_there_is_none() -> None:
    async with (
        serve(lambda request: json_reply({"error": "no"}, 404)) as server,
        Client(AgentOptions(model="m", base_url=server.base_url)) as client,
    ):
        usage = await client.get_context_usage()
    assert usage.window is None and usage.window_source == "unknown" and usage.counter == "estimate"
    assert [r.target for r in server.requests] == ["/v1/models", "/props", "/api/ps", "/api/show", "/api/v1/models"]


async def test_a_given_window_is_never_asked_for() -> None:
    async with serve(llamacpp([says("one")])) as server:
        options = AgentOptions(model="tiny", base_url=server.base_url, context_window=100_000)
        async with Client(options) as client:
            await client.query("x" * 8000)
            async with aclosing(client.receive_response()) as stream:
                _ = [message async for message in stream]
            usage = await client.get_context_usage()
    assert [r.target for r in server.requests] == ["/v1/chat/completions"]
    assert usage.window == 100_000 and usage.window_source == "user"


async def test_a_pre_compact_hook_may_veto() -> None:
    asked: list[PreCompactInput] = []

    async def veto(hook_input: PreCompactInput, context: Any) -> HookResult:
        asked.append(hook_input)
        return HookResult(decision="block")

    async with serve(llamacpp([says("one"), says("two")])) as server:
        options = AgentOptions(
            model="tiny",
            base_url=server.base_url,
            context_window=1000,
            hooks={"PreCompact": [HookMatcher(hooks=[veto])]},
        )
        async with Client(options) as client:
            for prompt in ("a" * 2000, "b" * 2000):
                await client.query(prompt)
                async with aclosing(client.receive_response()) as stream:
                    _ = [message async for message in stream]
    assert len(asked) == 1 and asked[0].trigger == "auto" and asked[0].tokens > asked[0].limit
    chats = [json.loads(r.body) for r in server.requests if r.target == "/v1/chat/completions"]
    assert len(chats[-1]["messages"]) == 3  # vetoed: sent whole


async def test_the_server_s_own_count() -> None:
    async with serve(llamacpp([])) as server, HttpxTransport() as transport:
        endpoint = AgentOptions(model="tiny", base_url=server.base_url).endpoint({})
        turn = StartTurn(model="tiny", messages=[UserMessage(content="hi")])
        assert await server_token_count(transport, endpoint, turn, server="llama.cpp") == 13
        found = await discover_window(transport, endpoint, "tiny")
        again = await discover_window(transport, endpoint, "tiny")
    assert found is again and found.tokens == 2048 and found.answer is not None and found.answer.slots == 4
    assert [r.target for r in server.requests] == ["/apply-template", "/tokenize", "/v1/models", "/props"]


@pytest.mark.skipif(not TOKENIZER.is_file(), reason=f"no {TOKENIZER} (../shared is absent)")
def test_the_tokenizer_counter_counts_exactly() -> None:
    counter = TokenizersCounter.from_file(str(TOKENIZER))
    text = "Hello! I am a tiny test model."
    assert counter.count_text(text) == len(counter.tokenizer.encode(text, add_special_tokens=False).ids) > 0
    message = UserMessage(content=text)
    assert counter.count_message(message) == counter.count_text(text) + 4
    assert counter.source == "tokenizer"


def test_the_tokenizer_counter_names_a_bad_file(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{}", encoding="utf-8")
    with pytest.raises(Exception, match=r"cannot read the tokenizer"):
        TokenizersCounter.from_file(str(bad))


def toy_encoding() -> Any:
    """A tiktoken encoding built here (one token per byte, words split as GPT-2's pattern
    does), so the test needs none of OpenAI's encoding files."""
    tiktoken = pytest.importorskip("tiktoken")
    ranks = {bytes([byte]): byte for byte in range(256)}
    pattern = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
    return tiktoken.Encoding(name="toy", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})


def test_the_tiktoken_counter_counts_exactly() -> None:
    encoding = toy_encoding()
    counter = TiktokenCounter(encoding)
    text = "Hello! I am a tiny test model."
    assert counter.count_text(text) == len(encoding.encode_ordinary(text)) == len(text.encode())
    assert counter.count_text("") == 0
    assert counter.count_message(UserMessage(content=text)) == counter.count_text(text) + 3
    assert counter.source == "tokenizer" and repr(counter) == "TiktokenCounter('toy', overhead=3.00)"


def test_the_tiktoken_counter_names_an_encoding_it_could_not_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline, tiktoken cannot fetch an encoding: a ConfigurationError naming the model, for an
    OpenAI model and for a name tiktoken does not know (which falls back to o200k_base)."""
    tiktoken = pytest.importorskip("tiktoken")

    def offline(name: str) -> Any:
        raise OSError(f"cannot fetch {name}.tiktoken: no network")

    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    monkeypatch.setattr(tiktoken, "encoding_for_model", lambda model: offline("o200k_base"))
    with pytest.raises(ConfigurationError, match=r"could not load the encoding for 'gpt-4o': cannot fetch"):
        TiktokenCounter.for_model("gpt-4o")

    def unknown(model: str) -> Any:
        raise KeyError(model)

    monkeypatch.setattr(tiktoken, "encoding_for_model", unknown)
    with pytest.raises(ConfigurationError, match=r"could not load the encoding for 'qwen2.5': cannot fetch o200k_base"):
        TiktokenCounter.for_model("qwen2.5")


async def test_a_probe_whose_connection_drops_before_an_answer_is_asked_again() -> None:
    dropped: list[str] = []

    def handle(request: ReceivedRequest) -> Reply:
        if request.target == "/v1/models" and not dropped:
            dropped.append(request.target)
            return Reply(drop_before_head=True)  # a pooled connection the server had closed
        if request.target == "/props":
            return json_reply(PROPS)
        return json_reply({"error": "no"}, 404)

    async with serve(handle) as server, HttpxTransport() as transport:
        endpoint = AgentOptions(model="tiny", base_url=server.base_url).endpoint({})
        found = await discover_window(transport, endpoint, "tiny")
    assert found.tokens == 2048 and dropped == ["/v1/models"]
    assert [r.target for r in server.requests] == ["/v1/models", "/v1/models", "/props"]


def reports_prompt_tokens(tokens: int, text: str) -> Reply:
    """A streamed answer whose last chunk reports ``tokens`` prompt tokens."""
    usage = {"prompt_tokens": tokens, "completion_tokens": 2, "total_tokens": tokens + 2}
    last = {"id": "chatcmpl-1", "model": "m", "choices": [], "usage": usage}
    return Reply.sse(b"".join(text_stream(text)[:-1]) + b"data: " + json.dumps(last).encode() + b"\n\n" + DONE)


async def test_a_server_that_cut_the_prompt_is_told_to_the_user_once(caplog: pytest.LogCaptureFixture) -> None:
    """An Ollama-shaped server (its window from ``/api/ps``) that reports far fewer prompt tokens
    than were sent, as Ollama does when it drops the start of a prompt past its window: a
    ``context_truncated`` SystemMessage and a warning naming the server's window, once."""
    chat = iter([reports_prompt_tokens(100, "one"), reports_prompt_tokens(120, "two")])

    def handle(request: ReceivedRequest) -> Reply:
        if request.target == "/api/ps":
            return json_reply(
                {"models": [{"name": "llama3.2:latest", "model": "llama3.2:latest", "context_length": 8192}]}
            )
        if request.target == "/v1/models":
            return json_reply({"object": "list", "data": [{"id": "llama3.2:latest", "object": "model"}]})
        if request.target == "/v1/chat/completions":
            return next(chat)
        return json_reply({"error": "not found"}, 404)

    seen: list[Any] = []
    caplog.set_level(logging.WARNING, logger="anyagent")
    async with serve(handle) as server, Client(AgentOptions(model="llama3.2", base_url=server.base_url)) as client:
        for prompt in ("a" * 8000, "b" * 8000):
            await client.query(prompt)
            async with aclosing(client.receive_response()) as stream:
                seen.extend([message async for message in stream])
    cut = [m for m in seen if isinstance(m, SystemMessage) and m.subtype == "context_truncated"]
    assert len(cut) == 1  # said once, not at every answer
    assert cut[0].data["reported_prompt_tokens"] == 100 and cut[0].data["expected_prompt_tokens"] > 1000
    assert cut[0].data["window"] == 8192 and cut[0].data["window_source"] == "server"
    warnings = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "prompt tokens" in r.getMessage()
    ]
    assert len(warnings) == 1
    assert "reported 100 prompt tokens" in warnings[0] and "8192" in warnings[0], warnings


async def test_a_summary_is_recorded_in_the_session_and_a_resumed_client_sends_it() -> None:
    """``summarize`` with a session store: the summary is stored with the commit that follows
    it, and a client resuming the session starts its requests with that summary instead of
    asking the model for a new one."""

    def handle(request: ReceivedRequest) -> Reply:
        if request.target == "/props":
            return json_reply(PROPS)
        if request.target == "/v1/chat/completions":
            last = json.loads(request.body)["messages"][-1]["content"]
            return says("the user sent letters") if "<conversation>" in str(last) else says("ok")
        return json_reply({"error": "no"}, 404)

    def summary_requests(requests: list[ReceivedRequest]) -> int:
        chats = [json.loads(r.body) for r in requests if r.target == "/v1/chat/completions"]
        return sum("<conversation>" in str(chat["messages"][-1]["content"]) for chat in chats)

    store = MemoryStore()
    async with serve(handle) as server:
        options = AgentOptions(
            model="tiny", base_url=server.base_url, session_store=store, session_id="s", context_strategy="summarize"
        )
        async with Client(options) as client:
            for prompt in ("a" * 2500, "b" * 2500, "c" * 2500):
                await client.query(prompt)
                async with aclosing(client.receive_response()) as stream:
                    _ = [message async for message in stream]
        assert summary_requests(server.requests) == 1
        _, entries = await store.load("s")
        (recorded,) = [e for e in entries if isinstance(e, CompactionEntry)]
        (summary,) = recorded.summary
        assert isinstance(summary, UserMessage) and "the user sent letters" in str(summary.content)

        before = len(server.requests)
        resumed = AgentOptions(
            model="tiny", base_url=server.base_url, session_store=store, resume="s", context_strategy="summarize"
        )
        async with Client(resumed) as client:
            await client.query("d")
            async with aclosing(client.receive_response()) as stream:
                _ = [message async for message in stream]
        after = server.requests[before:]
    assert summary_requests(after) == 0  # the stored summary is sent, not asked for again
    (chat,) = [json.loads(r.body) for r in after if r.target == "/v1/chat/completions"]
    assert str(chat["messages"][0]["content"]).startswith(str(summary.content))  # joined with the next prompt
    assert chat["messages"][-1]["content"] == "d"
