"""The observer seam: the driver tells observers what a run does, in order, under both backends."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from contextlib import aclosing
from typing import Any

import anyio
import httpx
import pytest

from anyagent_core import SendRequest, Wait
from anyagent_httpx import (
    AgentOptions,
    Client,
    ConfigurationError,
    HookError,
    HookMatcher,
    Observer,
    ResultMessage,
    ToolResultBlock,
    ToolUseBlock,
    tool,
)
from anyagent_httpx._observe import AttemptInfo, RunInfo
from anyagent_httpx.testing import Reply, serve

from .mock import FAST_RETRY
from .test_agent_end_to_end import calls, says

pytestmark = pytest.mark.anyio


class Recorder(Observer):
    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []

    def run_started(self, run: RunInfo) -> None:
        self.seen.append(("run_started", run.model, run.tools))

    def run_ended(self, result: ResultMessage | None, error: BaseException | None) -> None:
        self.seen.append(("run_ended", result.subtype if result else None, type(error).__name__ if error else None))

    def attempt_started(self, request: SendRequest, url: str) -> None:
        self.seen.append(("attempt_started", request.turn_number, request.attempt))

    def attempt_ended(self, request: SendRequest, info: AttemptInfo) -> None:
        self.seen.append(("attempt_ended", info.status, type(info.error).__name__ if info.error else None))

    def retry(self, wait: Wait, error: BaseException | None) -> None:
        self.seen.append(("retry", wait.attempt, type(error).__name__ if error else None))

    def tool_started(self, call: ToolUseBlock) -> None:
        self.seen.append(("tool_started", call.name))

    def tool_ended(self, call: ToolUseBlock, result: ToolResultBlock, seconds: float) -> None:
        assert seconds >= 0
        self.seen.append(("tool_ended", call.name, result.content))

    def compaction(self, data: Mapping[str, Any]) -> None:
        self.seen.append(("compaction", data["dropped_messages"]))


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def run(replies: list[Reply], *observers: Observer, **options: Any) -> list[Any]:
    async with serve(replies) as server, httpx.AsyncClient() as http:
        opts = AgentOptions(
            model="m", base_url=server.base_url, http_client=http, retry=FAST_RETRY, observers=observers, **options
        )
        async with Client(opts) as client:
            with anyio.fail_after(30):
                await client.query("add 2 and 3")
                async with aclosing(client.receive_response()) as stream:
                    return [message async for message in stream]


async def test_observers_see_attempts_retries_tools_and_the_end_in_order(tmp_path: pathlib.Path) -> None:
    first, second = Recorder(), Recorder()
    replies = [Reply(status=503, chunks=[b'{"error": "busy"}']), calls(("c1", "add", {"a": 2, "b": 3})), says("5")]
    messages = await run(replies, first, second, tools=[add], cwd=tmp_path)
    assert isinstance(messages[-1], ResultMessage) and messages[-1].result == "5"
    assert (
        first.seen
        == second.seen
        == [
            ("run_started", "m", ("add",)),
            ("attempt_started", 1, 1),
            ("attempt_ended", 503, "InternalServerError"),
            ("retry", 2, "InternalServerError"),
            ("attempt_started", 1, 2),
            ("attempt_ended", 200, None),
            ("tool_started", "add"),
            ("tool_ended", "add", "5"),
            ("attempt_started", 2, 1),
            ("attempt_ended", 200, None),
            ("run_ended", "success", None),
        ]
    )


async def test_observers_see_a_run_that_fails_for_good() -> None:
    recorder = Recorder()
    with pytest.raises(Exception, match="401") as failed:
        await run([Reply(status=401, chunks=[b'{"error": "bad key"}'])], recorder)
    assert recorder.seen[-2:] == [("attempt_ended", 401, "AuthenticationError"), ("run_ended", None, failed.typename)]


async def test_observers_see_compaction(tmp_path: pathlib.Path) -> None:
    recorder = Recorder()
    async with serve([says("one"), says("two")]) as server, httpx.AsyncClient() as http:
        options = AgentOptions(
            model="m", base_url=server.base_url, http_client=http, context_window=400, observers=[recorder]
        )
        async with Client(options) as client:
            for prompt in ("x" * 800, "y" * 800):
                await client.query(prompt)
                async with aclosing(client.receive_response()) as stream:
                    _ = [message async for message in stream]
    assert ("compaction", 2) in recorder.seen


def test_observers_must_be_observers() -> None:
    with pytest.raises(ConfigurationError, match="observers holds Observer values, not str"):
        AgentOptions(observers=["print"])  # type: ignore[list-item]


async def test_a_run_ends_once_for_observers_when_the_caller_stops_at_its_result() -> None:
    recorder = Recorder()
    async with serve([says("hello")]) as server, httpx.AsyncClient() as http:
        options = AgentOptions(
            model="m", base_url=server.base_url, http_client=http, retry=FAST_RETRY, observers=[recorder]
        )
        async with Client(options) as client:
            await client.query("hi")
            async with aclosing(client.receive_response()) as messages:
                async for message in messages:
                    if isinstance(message, ResultMessage):
                        break  # closes the run's generator where it handed out the result
    ends = [event for event in recorder.seen if event[0] == "run_ended"]
    assert ends == [("run_ended", "success", None)]


class PerRun(Observer):
    """Hands each run an observer of its own, as tracing does."""

    def __init__(self) -> None:
        self.runs: list[Recorder] = []
        self.infos: list[RunInfo] = []

    def run_started(self, run: RunInfo) -> Observer:
        self.infos.append(run)
        self.runs.append(Recorder())
        return self.runs[-1]


async def test_an_observer_run_started_returns_hears_the_rest_of_the_run(tmp_path: pathlib.Path) -> None:
    per_run, plain = PerRun(), Recorder()
    await run([calls(("c1", "add", {"a": 2, "b": 3})), says("5")], per_run, plain, tools=[add], cwd=tmp_path)
    assert len(per_run.runs) == 1
    assert per_run.runs[0].seen == plain.seen[1:]  # everything after run_started
    assert plain.seen[-1] == ("run_ended", "success", None)


async def test_observers_get_the_answer_and_a_scrub_for_the_clients_secrets() -> None:
    answers: list[AttemptInfo] = []
    infos: list[RunInfo] = []

    class Keep(Observer):
        def run_started(self, run: RunInfo) -> None:
            infos.append(run)

        def attempt_ended(self, request: SendRequest, info: AttemptInfo) -> None:
            answers.append(info)

    await run([says("hi")], Keep(), api_key="very-secret-key-123", provider="openai")
    assert [info.message.text if info.message else None for info in answers] == ["hi"]
    assert infos[0].provider == "openai"
    assert infos[0].scrub("the key very-secret-key-123 leaked") == "the key <redacted> leaked"
    assert "very-secret" not in repr(infos[0])


async def test_a_tool_that_ends_without_a_result_is_told_as_failed(tmp_path: pathlib.Path) -> None:
    failed: list[tuple[str, str]] = []

    class Failures(Recorder):
        def tool_failed(self, call: ToolUseBlock, error: BaseException, seconds: float) -> None:
            assert seconds >= 0
            failed.append((call.name, type(error).__name__))

    def broken(_input: Any, _context: Any) -> None:
        raise RuntimeError("broken hook")

    recorder = Failures()
    with pytest.raises(HookError):
        await run(
            [calls(("c1", "add", {"a": 2, "b": 3})), says("5")],
            recorder,
            tools=[add],
            cwd=tmp_path,
            hooks={"PreToolUse": [HookMatcher(hooks=[broken])]},
        )
    assert failed == [("add", "HookError")]
    assert ("tool_ended", "add", "5") not in recorder.seen
