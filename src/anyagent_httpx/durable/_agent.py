"""Durable agent runs: one DBOS workflow per run, started directly or from a queue."""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, ExitStack
from typing import Any

import anyio
import attrs
from dbos import DBOS, DBOSConfig, Queue, SetEnqueueOptions, SetWorkflowID, WorkflowHandleAsync

from anyagent_core import Message, ResultMessage
from anyagent_core.value import Value
from anyagent_httpx._client import Client
from anyagent_httpx._errors import AnyAgentError
from anyagent_httpx._options import AgentOptions

from ._driver import DurableDriver

__all__ = [
    "DurableAgent",
    "DurableError",
    "DurableRun",
    "NotAsyncioError",
    "RunOverrides",
    "launch",
    "shutdown",
    "task_queue",
]

WORKFLOW = "anyagent.run"

RunOverrides = Mapping[str, Any]
"""Per-run changes to the agent's options: ``model``, ``system_prompt``, ``max_turns``,
``max_tokens``, ``temperature`` (JSON values, as a task line carries them)."""

_OVERRIDABLE: dict[str, type | tuple[type, ...]] = {
    "model": str,
    "system_prompt": str,
    "max_turns": int,
    "max_tokens": int,
    "temperature": (int, float),
}


class DurableError(AnyAgentError):
    """A durable run cannot start or go on: no agent of that name in this process, bad
    overrides, DBOS not launched."""


class NotAsyncioError(DurableError):
    """Durable runs need asyncio: DBOS runs its workflows, queues and database calls on asyncio
    (and threads), and has no trio support."""


def require_asyncio(what: str) -> None:
    """Raise ``NotAsyncioError`` unless called on an asyncio event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise NotAsyncioError(
            f"{what} needs asyncio: DBOS, which makes the run durable, supports no other event loop "
            "(run it with anyio.run(..., backend='asyncio') or asyncio.run)"
        ) from None


@attrs.frozen(repr=False, eq=False)
class DurableRun(Value):
    """A durable run's outcome: its id (the workflow id: a task's id), the conversation it left
    and its ``ResultMessage``."""

    run_id: str
    messages: tuple[Message, ...]
    result: ResultMessage


_AGENTS: dict[str, DurableAgent] = {}

_WORKER_LIMITS: dict[str, int] = {}
"""Queue name → at most this many of its tasks run at once in this process (``task_queue``'s
``worker_concurrency``). DBOS claims tasks against a count of this process's running workflows
that its dispatch updates later, so a busy process can claim more than its share for a moment:
the gate below holds the limit where the work runs, whatever was claimed."""

_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = weakref.WeakKeyDictionary()


def _gate(queue: str | None) -> asyncio.Semaphore | None:
    """This event loop's gate for ``queue``'s tasks (None: the queue sets no limit in this process)."""
    limit = _WORKER_LIMITS.get(queue) if queue is not None else None
    if limit is None:
        return None
    gates = _GATES.setdefault(asyncio.get_running_loop(), {})
    gate = gates.get(queue)  # type: ignore[arg-type]
    if gate is None:
        gate = gates[queue] = asyncio.Semaphore(limit)  # type: ignore[index]
    return gate


class DurableAgent:
    """An agent whose runs are durable DBOS workflows.

    Declare it, under the same ``name`` with the same tools, in every process that may run or
    recover its runs, before ``launch()``: a workflow records only the agent's name, the prompt
    and the overrides; the options (endpoint, tools, hooks) come from the process running it.
    """

    def __init__(self, name: str, options: AgentOptions) -> None:
        if not isinstance(name, str) or not name:
            raise DurableError(f"a durable agent needs a non-empty name, not {name!r}")
        if options.session_store is not None:
            raise DurableError(
                f"durable agent {name!r}: a session_store is not supported in durable runs "
                "(the run's checkpoints are its record)"
            )
        self.name = name
        self.options = options
        _AGENTS[name] = self

    def options_for(self, overrides: RunOverrides) -> AgentOptions:
        """The agent's options with ``overrides``; ``DurableError`` names a key or value it cannot use."""
        changes: dict[str, Any] = {}
        for key, value in overrides.items():
            kind = _OVERRIDABLE.get(key)
            if kind is None:
                raise DurableError(f"unknown option {key!r}; a run may change {', '.join(sorted(_OVERRIDABLE))}")
            if not isinstance(value, kind) or isinstance(value, bool):
                raise DurableError(f"option {key!r} must be {_kind_name(kind)}, not {type(value).__name__}")
            changes[key] = value
        return attrs.evolve(self.options, **changes) if changes else self.options

    async def run(self, prompt: str, *, run_id: str | None = None, overrides: RunOverrides | None = None) -> DurableRun:
        """Run ``prompt`` as a durable workflow in this process and wait for it. Given a
        ``run_id`` that ran before, it returns that run's result (a finished one is not run again;
        an unfinished one goes on from its last checkpoint)."""
        require_asyncio("DurableAgent.run")
        changes = dict(overrides or {})
        self.options_for(changes)
        with ExitStack() as stack:
            if run_id is not None:
                stack.enter_context(SetWorkflowID(run_id))
            handle = await DBOS.start_workflow_async(_run_workflow, self.name, prompt, changes)
        result: DurableRun = await handle.get_result()
        return result

    async def enqueue(
        self,
        queue: Queue,
        prompt: str,
        *,
        task_id: str,
        priority: int | None = None,
        overrides: RunOverrides | None = None,
    ) -> str:
        """Put ``prompt`` on ``queue`` as task ``task_id`` (the workflow's id: a task already
        enqueued or run under that id is not run again); returns the id. Any process that
        launched with this agent and the queue may run it. ``priority``: from 1 up, lower
        runs first (tasks without one before any with one)."""
        require_asyncio("DurableAgent.enqueue")
        if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int) or priority < 1):
            raise DurableError(f"priority must be an integer from 1 up, or None, not {priority!r}")
        if not isinstance(task_id, str) or not task_id:
            raise DurableError(f"task_id must be a non-empty string, not {task_id!r}")
        changes = dict(overrides or {})
        self.options_for(changes)
        with SetWorkflowID(task_id), SetEnqueueOptions(priority=priority):
            handle: WorkflowHandleAsync[DurableRun] = await queue.enqueue_async(
                _run_workflow, self.name, prompt, changes
            )
        return handle.get_workflow_id()

    async def result(self, run_id: str) -> DurableRun:
        """Wait for the run ``run_id`` (however it was started) and return its outcome."""
        require_asyncio("DurableAgent.result")
        handle: WorkflowHandleAsync[DurableRun] = await DBOS.retrieve_workflow_async(run_id)
        found: DurableRun = await handle.get_result()
        return found


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return "a number" if isinstance(kind, tuple) else {str: "a string", int: "an integer"}[kind]


class _DurableClient(Client):
    _driver_class = DurableDriver


def _workflow_facts(workflow_id: str) -> tuple[frozenset[int], str | None]:
    """The ids of the workflow's completed steps, and the queue it came from (looked up only when
    a queue of this process has a limit), read outside the workflow's context (inside it, DBOS
    would checkpoint the reads themselves and a recovery would read the first run's answers)."""

    def read() -> tuple[frozenset[int], str | None]:
        steps = DBOS.list_workflow_steps(workflow_id, load_output=False)
        status = DBOS.get_workflow_status(workflow_id) if _WORKER_LIMITS else None
        return frozenset(step["function_id"] for step in steps), status.queue_name if status else None

    return contextvars.Context().run(read)


@DBOS.workflow(name=WORKFLOW)
async def _run_workflow(agent: str, prompt: str, overrides: dict[str, Any]) -> DurableRun:
    durable = _AGENTS.get(agent)
    if durable is None:
        raise DurableError(
            f"no durable agent named {agent!r} in this process (declared: {', '.join(sorted(_AGENTS)) or 'none'}); "
            "declare it with DurableAgent before launch()"
        )
    workflow_id = DBOS.workflow_id
    assert workflow_id is not None
    recorded, queue = await anyio.to_thread.run_sync(_workflow_facts, workflow_id)
    client = _DurableClient(durable.options_for(overrides))
    client.session_id = workflow_id  # the same in every execution: tools and hooks see one id
    async with AsyncExitStack() as stack:
        gate = _gate(queue)
        if gate is not None:
            await stack.enter_async_context(gate)
        await stack.enter_async_context(client)
        driver = client._driver
        assert isinstance(driver, DurableDriver)
        driver.recorded = recorded
        await client.query(prompt)
        result: ResultMessage | None = None
        async for message in client.receive_response():
            if isinstance(message, ResultMessage):
                result = message
        assert result is not None
        return DurableRun(run_id=workflow_id, messages=client.messages, result=result)


def launch(
    database_url: str | None = None,
    *,
    name: str = "anyagent",
    executor_id: str | None = None,
    listen: tuple[str, ...] | None = None,
    log_level: str = "WARNING",
) -> None:
    """Start DBOS in this process on the system database ``database_url``: ``sqlite:///PATH``
    (one machine, no server) or ``postgresql://...`` (many workers). Unfinished runs of this
    executor (``executor_id``, default ``"local"``) are recovered. ``listen`` names the queues
    this process takes tasks from (default: every queue); ``log_level`` is DBOS's. Declare the
    agents first; queues are declared after, with ``await task_queue(...)``."""
    config: DBOSConfig = {"name": name, "log_level": log_level}
    if database_url is not None:
        config["system_database_url"] = database_url
    if executor_id is not None:
        config["executor_id"] = executor_id
    DBOS(config=config)
    if listen is not None:
        DBOS.listen_queues(list(listen))
    DBOS.launch()


def shutdown() -> None:
    """Stop DBOS in this process (runs in progress stop where they are; they resume on recovery).

    DBOS made its thread pool the default executor of the event loops that ran durable calls;
    called on such a loop, this gives the loop a fresh one, so ``to_thread`` goes on working."""
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    DBOS.destroy(destroy_registry=False)
    if loop is not None:
        loop.set_default_executor(ThreadPoolExecutor())


async def task_queue(
    name: str,
    *,
    concurrency: int | None = None,
    worker_concurrency: int | None = None,
    rate: tuple[int, float] | None = None,
    poll_seconds: float = 1.0,
) -> Queue:
    """Declare (and persist) the queue ``name`` after ``launch()``: at most ``concurrency``
    tasks run at once over every worker (the model server's slot count), ``worker_concurrency``
    in one process (held by a gate in the process, even when DBOS claims more), and
    ``rate=(limit, seconds)`` starts at most ``limit`` tasks in any window of ``seconds``; each
    worker looks for tasks every ``poll_seconds``. Enqueue with ``DurableAgent.enqueue``
    (``priority``)."""
    for label, value in (("concurrency", concurrency), ("worker_concurrency", worker_concurrency)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise DurableError(f"{label} must be a positive integer or None, not {value!r}")
    limiter = None
    if rate is not None:
        limit, period = rate
        if not isinstance(limit, int) or limit < 1 or not period > 0:
            raise DurableError(f"rate must be (a positive count, a positive number of seconds), not {rate!r}")
        limiter = {"limit": limit, "period": float(period)}
    require_asyncio("task_queue")
    if not poll_seconds > 0:
        raise DurableError(f"poll_seconds must be a positive number of seconds, not {poll_seconds!r}")
    if worker_concurrency is None:
        _WORKER_LIMITS.pop(name, None)
    else:
        _WORKER_LIMITS[name] = worker_concurrency
    return await DBOS.register_queue_async(
        name,
        global_concurrency=concurrency,
        worker_concurrency=worker_concurrency,
        limiter=limiter,  # type: ignore[arg-type]
        polling_interval_sec=poll_seconds,
    )
