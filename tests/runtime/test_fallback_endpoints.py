"""``fallback_endpoints`` over loopback: a main endpoint that cannot be reached or keeps failing
hands the turn to the next server, which is asked for its own window and gets its own key; the
``fallback_endpoint`` notice and ``ResultMessage.endpoint`` say who answered; the next turn
starts on the main endpoint again."""

from __future__ import annotations

import json
import socket
from contextlib import aclosing
from typing import Any

import pytest

from anyagent_httpx import (
    AgentOptions,
    APIConnectionError,
    Client,
    ConfigurationError,
    FallbackEndpoint,
    ResultMessage,
    RetryPolicy,
    RunMessage,
    SystemMessage,
)
from anyagent_httpx._context import forget_windows
from anyagent_httpx.testing import ReceivedRequest, Reply, serve

from .test_agent_end_to_end import says

pytestmark = pytest.mark.anyio

FAST = RetryPolicy(max_retries=1, initial_delay=0.001, max_delay=0.001, jitter=0.0)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def llamacpp(window: int, reply: str) -> Any:
    """A llama.cpp-shaped server: /props says ``window``, chat says ``reply``."""

    def handle(request: ReceivedRequest) -> Reply:
        if request.target == "/props":
            return Reply.json({"default_generation_settings": {"n_ctx": window}, "total_slots": 1})
        if request.target == "/v1/chat/completions":
            return says(reply)
        return Reply.json({"error": {"message": "File Not Found", "code": 404}}, status=404)

    return handle


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    forget_windows()


async def ask(client: Client, prompt: str) -> list[RunMessage]:
    await client.query(prompt)
    async with aclosing(client.receive_response()) as stream:
        return [message async for message in stream]


async def test_an_unreachable_main_endpoint_hands_the_turn_to_the_next_with_its_own_window_and_key() -> None:
    main = f"http://127.0.0.1:{closed_port()}/v1"
    async with serve(llamacpp(8192, "from the fallback")) as server:
        options = AgentOptions(
            model="big",
            base_url=main,
            api_key="sk-main-0123456789",
            fallback_models=["big-small"],
            fallback_endpoints=[{"base_url": server.base_url, "model": "tiny", "api_key": "sk-fallback-0123456789"}],
            retry=FAST,
        )
        async with Client(options) as client:
            seen = await ask(client, "x" * 6000)  # long enough for the window to matter
    result = seen[-1]
    assert isinstance(result, ResultMessage) and result.subtype == "success"
    assert result.endpoint == 1 and result.result == "from the fallback"
    notices = [m for m in seen if isinstance(m, SystemMessage)]
    fallback = [m.data for m in notices if m.subtype == "fallback_endpoint"]
    assert len(fallback) == 1 and fallback[0]["base_url"] == server.base_url and fallback[0]["model"] == "tiny"
    windows = [m.data for m in notices if m.subtype == "context_window"]
    # each endpoint's own discovery: the main one could not say, the fallback one did
    assert [(w["window"], w["source"]) for w in windows] == [(None, "unknown"), (8192, "server")]
    retries = [m.data for m in notices if m.subtype == "retry"]
    assert [(r["model"], r["endpoint"]) for r in retries] == [("big", 0), ("tiny", 1)]  # not big-small on a dead server
    chats = [r for r in server.requests if r.target == "/v1/chat/completions"]
    assert len(chats) == 1 and json.loads(chats[0].body)["model"] == "tiny"
    assert {r.header("authorization") for r in server.requests} == {"Bearer sk-fallback-0123456789"}
    assert "/props" in [r.target for r in server.requests]


async def test_a_failing_main_endpoint_falls_back_and_the_next_turn_tries_it_first() -> None:
    async with (
        serve(Reply.error(503, "overloaded")) as failing,
        serve(llamacpp(4096, "fallback answer")) as fallback,
    ):
        options = AgentOptions(
            model="m",
            base_url=failing.base_url,
            fallback_endpoints=[FallbackEndpoint(base_url=fallback.base_url, model="tiny")],
            retry=FAST,
        )
        async with Client(options) as client:
            first = await ask(client, "hello")
            second = await ask(client, "again")
    for messages in (first, second):
        result = messages[-1]
        assert isinstance(result, ResultMessage) and result.endpoint == 1 and result.result == "fallback answer"
    assert len(failing.requests) == 4  # two attempts (one retry) per turn: each turn begins on the main endpoint
    assert len([r for r in fallback.requests if r.target == "/v1/chat/completions"]) == 2


async def test_when_every_endpoint_fails_the_run_says_so() -> None:
    async with serve(Reply.error(503, "overloaded")) as failing:
        options = AgentOptions(
            model="m",
            base_url=failing.base_url,
            fallback_endpoints=[FallbackEndpoint(base_url=f"http://127.0.0.1:{closed_port()}/v1", model="x")],
            retry=RetryPolicy(max_retries=0),
        )
        async with Client(options) as client:
            refused = r"not retried: the connection failed \(model 'x'\); retries are off"
            with pytest.raises(APIConnectionError, match=refused):
                await ask(client, "hello")
    assert len(failing.requests) == 1


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ([{"base_url": "localhost:1234", "model": "m"}], r"fallback_endpoints\[0\]: .*http:// or https://"),
        ([{"base_url": "http://h/v1"}], r"fallback_endpoints\[0\] takes base_url, model and api_key; base_url"),
        ([{"base_url": "http://h/v1", "model": "m", "key": "k"}], r"fallback_endpoints\[0\] .*, not key"),
        (["http://h/v1"], r"fallback_endpoints\[0\] must be a FallbackEndpoint or a dict, not str"),
        ({"base_url": "http://h/v1", "model": "m"}, "a sequence of FallbackEndpoint"),
        ([{"base_url": "http://h/v1", "model": ""}], r"fallback_endpoints\[0\]: .*model must be a non-empty str"),
    ],
)
def test_bad_fallback_endpoints_are_named(value: Any, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        AgentOptions(fallback_endpoints=value)


def test_the_key_stays_out_of_the_repr() -> None:
    endpoint = FallbackEndpoint(base_url="http://user:pw@h/v1", model="m", api_key="sk-secret-0123456789")
    assert "sk-secret" not in repr(endpoint) and "pw" not in repr(endpoint)
    assert "sk-secret" not in repr(AgentOptions(fallback_endpoints=[endpoint]))
