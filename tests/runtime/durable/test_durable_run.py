"""Durable runs in this process: the same conversation as a plain run, a finished run never run
again, queued tasks, bad input refused, and trio refused with ``NotAsyncioError``."""

from __future__ import annotations

import anyio
import pytest

from anyagent_httpx import AgentOptions, Client, ResultMessage, Tool, UserMessage, tool
from anyagent_httpx.testing import ReceivedRequest, Reply, serve
from tests.runtime.mock import text_stream

from .conftest import CALLS, SlotServer, model

pytestmark = pytest.mark.anyio


def counting_tool(counts: list[int], *, idempotent: bool = False) -> Tool:
    @tool(idempotent=idempotent)
    def record(n: int) -> str:
        """Record a step."""
        counts.append(n)
        return f"recorded {n}"

    return record


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_durable_run_leaves_the_conversation_a_plain_run_does(dbos_sqlite: str) -> None:
    from anyagent_httpx.durable import DurableAgent

    plain_counts: list[int] = []
    durable_counts: list[int] = []
    async with serve(model) as server:
        options = AgentOptions(base_url=server.base_url, model="m", tools=[counting_tool(plain_counts)], cwd=".")
        async with Client(options) as client:
            await client.query("go")
            plain = [m async for m in client.receive_response()]
            plain_messages = client.messages
        agent = DurableAgent(
            "same-as-plain",
            AgentOptions(base_url=server.base_url, model="m", tools=[counting_tool(durable_counts)], cwd="."),
        )
        run = await agent.run("go", run_id="run-1")
    assert run.run_id == "run-1"
    assert run.messages == plain_messages
    assert isinstance(plain[-1], ResultMessage)
    assert run.result.result == plain[-1].result == f"Recorded {CALLS} steps."
    assert run.result.num_turns == plain[-1].num_turns
    assert durable_counts == plain_counts == list(range(CALLS))


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_finished_run_is_not_run_again(dbos_sqlite: str) -> None:
    from anyagent_httpx.durable import DurableAgent

    counts: list[int] = []
    async with serve(model) as server:
        agent = DurableAgent(
            "once", AgentOptions(base_url=server.base_url, model="m", tools=[counting_tool(counts)], cwd=".")
        )
        first = await agent.run("go", run_id="once-1")
        requests = len(server.requests)
        again = await agent.run("go", run_id="once-1")
        looked_up = await agent.result("once-1")
        assert len(server.requests) == requests  # no request repeated
    assert again == first == looked_up
    assert counts == list(range(CALLS))


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_queued_tasks_run_once_each_by_task_id(dbos_sqlite: str) -> None:
    from anyagent_httpx.durable import DurableAgent, task_queue

    counts: list[int] = []
    async with serve(model) as server:
        agent = DurableAgent(
            "queued", AgentOptions(base_url=server.base_url, model="m", tools=[counting_tool(counts)], cwd=".")
        )
        queue = await task_queue("q-once", concurrency=2, worker_concurrency=2, poll_seconds=0.05)
        ids = [await agent.enqueue(queue, f"task {i}", task_id=f"t{i}", priority=i + 1) for i in range(3)]
        ids.append(await agent.enqueue(queue, "task 0 again", task_id="t0"))  # the same task: not run again
        runs = [await agent.result(task_id) for task_id in ids]
    assert ids == ["t0", "t1", "t2", "t0"]
    assert [run.run_id for run in runs] == ids
    assert runs[0].messages[0] == UserMessage(content="task 0")
    assert sorted(counts) == sorted(list(range(CALLS)) * 3)


class Gate:
    """A model answering each prompt at once, except ``hold``, answered once ``release`` is set;
    it records the prompts in the order their requests came."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.holding = anyio.Event()
        self.release = anyio.Event()

    async def __call__(self, request: ReceivedRequest) -> Reply:
        if not request.target.endswith("/chat/completions"):
            return Reply(status=404, chunks=[b'{"error": "not found"}'])
        prompt = request.json()["messages"][-1]["content"]
        self.order.append(prompt)
        if prompt == "hold":
            self.holding.set()
            await self.release.wait()
        return Reply.sse(b"".join(text_stream("done: ", prompt)))


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_queue_runs_waiting_tasks_by_priority(dbos_sqlite: str) -> None:
    from anyagent_httpx.durable import DurableAgent, task_queue

    gate = Gate()
    async with serve(gate) as server:
        agent = DurableAgent("prioritised", AgentOptions(base_url=server.base_url, model="m", cwd="."))
        queue = await task_queue("q-priority", concurrency=1, poll_seconds=0.05)
        held = await agent.enqueue(queue, "hold", task_id="p-hold")
        with anyio.fail_after(60):
            await gate.holding.wait()  # the one slot is taken: the others wait on the queue
        waiting = [
            await agent.enqueue(queue, prompt, task_id=f"p-{prompt}", priority=priority)
            for prompt, priority in (("low", 9), ("middle", 5), ("high", 1))
        ]
        gate.release.set()
        runs = [await agent.result(task_id) for task_id in (held, *waiting)]
    assert gate.order == ["hold", "high", "middle", "low"]
    assert [run.messages[-1].content[0].text for run in runs] == [  # type: ignore[union-attr]
        "done: hold",
        "done: low",
        "done: middle",
        "done: high",
    ]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_rate_limited_queue_starts_no_more_tasks_than_its_limit_in_a_window(dbos_sqlite: str) -> None:
    from dbos import DBOS

    from anyagent_httpx.durable import DurableAgent, task_queue

    gate = Gate()
    async with serve(gate) as server:
        agent = DurableAgent("rate-limited", AgentOptions(base_url=server.base_url, model="m", cwd="."))
        queue = await task_queue("q-rate", rate=(2, 600.0), poll_seconds=0.05)  # 2 starts in 10 minutes
        ids = [await agent.enqueue(queue, f"task {i}", task_id=f"r{i}") for i in range(3)]
        first = [await agent.result(task_id) for task_id in ids[:2]]
        for _ in range(20):  # twenty more polls of the queue: the third task is held back
            await anyio.sleep(0.05)
        status = await DBOS.get_workflow_status_async(ids[2])
    assert [run.run_id for run in first] == ids[:2]
    assert sorted(gate.order) == ["task 0", "task 1"]
    assert status is not None and status.status == "ENQUEUED"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_bad_overrides_and_limits_are_refused_naming_them(dbos_sqlite: str) -> None:
    from anyagent_httpx.durable import DurableAgent, DurableError, task_queue

    agent = DurableAgent("refusing", AgentOptions(base_url="http://127.0.0.1:9/v1", model="m"))
    with pytest.raises(DurableError, match="unknown option 'tools'"):
        await agent.run("go", overrides={"tools": []})
    with pytest.raises(DurableError, match="'max_turns' must be an integer, not str"):
        await agent.run("go", overrides={"max_turns": "3"})
    with pytest.raises(DurableError, match="concurrency must be a positive integer"):
        await task_queue("bad", concurrency=0)
    with pytest.raises(DurableError, match="rate must be"):
        await task_queue("bad", rate=(0, 1.0))
    with pytest.raises(DurableError, match="non-empty name"):
        DurableAgent("", AgentOptions())


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio_is_refused_with_a_typed_error() -> None:
    from anyagent_httpx.durable import DurableAgent, NotAsyncioError, task_queue

    agent = DurableAgent("under-trio", AgentOptions(base_url="http://127.0.0.1:9/v1", model="m"))
    with pytest.raises(NotAsyncioError, match=r"DurableAgent.run needs asyncio"):
        await agent.run("go")
    with pytest.raises(NotAsyncioError, match=r"task_queue needs asyncio"):
        await task_queue("q")


def test_the_tool_flag_says_a_call_may_repeat() -> None:
    counts: list[int] = []
    safe = counting_tool(counts, idempotent=True)
    unsafe = counting_tool(counts)
    assert safe.idempotent is True
    assert unsafe.idempotent is False

    @tool("lookup", "Look up", {"q": str}, {"idempotentHint": True})
    async def lookup(args: dict[str, object]) -> str:
        return "x"

    assert lookup.idempotent is True


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_after_shutdown_the_event_loop_still_runs_work_in_threads(dbos_sqlite: str) -> None:
    import asyncio

    from dbos import DBOS

    from anyagent_httpx.durable import shutdown

    assert await DBOS.get_workflow_status_async("none") is None  # DBOS takes over the loop's executor
    assert await asyncio.to_thread(lambda: 42) == 42
    shutdown()
    assert await asyncio.to_thread(lambda: 43) == 43  # the loop's default executor (getaddrinfo's too)
    from anyagent_httpx.durable import launch

    launch(dbos_sqlite)  # the fixture shuts it down again


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_bad_priority_or_task_id_is_refused(dbos_sqlite: str) -> None:
    from anyagent_httpx.durable import DurableAgent, DurableError, task_queue

    agent = DurableAgent("prioritised", AgentOptions(base_url="http://127.0.0.1:9/v1", model="m"))
    queue = await task_queue("q-bad")
    with pytest.raises(DurableError, match="priority must be an integer from 1 up"):
        await agent.enqueue(queue, "go", task_id="x", priority=0)
    with pytest.raises(DurableError, match="task_id must be a non-empty string"):
        await agent.enqueue(queue, "go", task_id="")


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_worker_runs_no_more_tasks_at_once_than_its_concurrency_when_dbos_claims_more(
    dbos_sqlite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DBOS counts this process's running workflows from a registry its dispatch fills later; on a
    busy machine a poll can find it empty and claim past ``worker_concurrency``. Made to happen on
    every poll here: the model server still never sees more than the limit."""
    from dbos._dbos import _get_dbos_instance

    from anyagent_httpx.durable import DurableAgent, task_queue

    monkeypatch.setattr(_get_dbos_instance()._active_workflows_set, "count_for_queue", lambda queue_name: 0)
    slots = SlotServer(seconds=0.3)
    async with serve(slots) as server:
        agent = DurableAgent("one-at-a-time", AgentOptions(base_url=server.base_url, model="m", cwd="."))
        queue = await task_queue("q-worker-limit", worker_concurrency=1, poll_seconds=0.02)
        ids = [await agent.enqueue(queue, f"task {i}", task_id=f"w{i}") for i in range(4)]
        runs = [await agent.result(task_id) for task_id in ids]
    assert [run.result.subtype for run in runs] == ["success"] * 4
    assert slots.most == 1
