"""Agent-loop benchmark: anyagent's query() with a tool against hand-written tool loops.

    python benchmarks/bench_agent.py [--rounds N] [--quick] [--backend asyncio|trio] [--json PATH]

Every contender runs the same agent task against one loopback server (``_loopback.py``'s
``agent`` model, in a process of its own): the model asks for ``ROUNDS`` rounds of ``CALLS``
parallel calls of ``add(a, b)``, then answers with a text naming every sum. Each contender
streams each answer, assembles the tool calls, runs the tool, sends the results back and goes
on until the final text. The server checks every request (the tool offered, each earlier call
answered in order with the right sum) and answers 400 otherwise, so a contender that skipped a
step fails loudly instead of looking fast.

Contenders (each keeps one shared client or transport for the whole run):

* ``anyagent/httpx``: ``query(prompt, options=AgentOptions(..., tools=[add], http_client=shared))``
  with ``add`` an async ``@tool`` function: the whole loop (tool-call assembly, argument
  validation, permission rules, the tool run, the results written back, turn counting) is
  anyagent's; every message consumed up to the ``ResultMessage``.
* ``anyagent/h11``: the same over one shared ``H11Transport``.
* ``openai``: the manual tool loop openai-python's documentation shows: ``AsyncOpenAI``,
  ``chat.completions.create(..., tools=..., stream=True)``, the streamed ``tool_calls`` deltas
  joined by index, ``json.loads`` of the arguments, the tool awaited, the assistant message and
  one ``tool`` message per call appended; asyncio only.
* ``raw httpx``, the floor: the same loop written by hand on ``httpx``: ``aiter_lines()``,
  ``json.loads`` per chunk, dicts and lists only.

Workloads:

* (a) sequential: ``RUNS`` agent runs one after the other: ms per run and us per model request;
* (b) concurrent: ``AGENTS`` agent runs at once in one event loop: wall time.

Every run's final text and turn count are checked; a mismatch aborts the benchmark. The machine
may be shared (two cores, other work coming and going), so the timing is in many short rounds:
each round times every contender once, in an order rotated from round to round, each timed batch
after ``gc.collect()`` with the collector on. A figure is the median round; a ratio is the median
of the ratios within each round (ours against the floor measured seconds apart, not minutes), with
the spread of the rounds (p25 to p75) beside it. The client's CPU time per request
(``time.process_time``, the server being in another process) is reported too: it moves less
with the machine's load than the wall time does.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _loopback import AGENT_MODEL
from _report import Rounds, rotated, table, target_lines
from bench_transport import _HEADERS, LoopbackServer, _h11_transport_class, _progress, _versions
from streams import AGENT_TOOL, agent_final_text

TARGET_RUN_VS_RAW = 1.5
"""anyagent's time per agent run may be at most this multiple of the hand-written httpx loop's."""
TARGET_FASTER_THAN_OPENAI = 2.0
"""anyagent's agent runs must be done at least this many times sooner than openai-python's loop."""

ANYAGENT_HTTPX = "anyagent/httpx"
ANYAGENT_H11 = "anyagent/h11"
OPENAI = "openai"
RAW = "raw httpx"
OURS = (ANYAGENT_HTTPX, ANYAGENT_H11)

LABELS = {
    ANYAGENT_HTTPX: "anyagent query() + @tool over HttpxTransport",
    ANYAGENT_H11: "anyagent query() + @tool over H11Transport",
    OPENAI: "openai AsyncOpenAI manual tool loop",
    RAW: "raw httpx + json.loads tool loop (the floor)",
}

TOOL_SCHEMA: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": AGENT_TOOL,
        "description": "Add two integers.",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
            "additionalProperties": False,
        },
    },
}


async def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


async def answer_calls(messages: list[dict[str, Any]], text: str, calls: dict[int, dict[str, Any]]) -> None:
    """What a hand-written loop does after an answer with tool calls: the assistant message with
    the calls (in index order) appended, each call run, one ``tool`` message per call appended."""
    ordered = [calls[i] for i in sorted(calls)]
    assistant: dict[str, Any] = {
        "role": "assistant",
        "tool_calls": [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in ordered
        ],
    }
    if text:
        assistant["content"] = text
    messages.append(assistant)
    for c in ordered:
        result = await add(**json.loads(c["arguments"]))
        messages.append({"role": "tool", "tool_call_id": c["id"], "content": json.dumps(result)})


@dataclass(frozen=True)
class Task:
    rounds: int
    calls: int

    @property
    def prompt(self) -> str:
        return f"{self.rounds} {self.calls}"

    @property
    def requests(self) -> int:
        return self.rounds + 1

    @property
    def final_text(self) -> str:
        return agent_final_text(self.rounds, self.calls)


class Contender:
    """``open()`` once, ``run()`` any number of times (also concurrently), ``aclose()`` at the end.
    ``run()`` returns the final text and how many model requests it took."""

    name: str

    def unavailable(self, backend: str) -> str | None:
        return None

    async def open(self, base_url: str, task: Task, *, connections: int) -> None:
        pass

    async def run(self, task: Task) -> tuple[str, int]:
        raise NotImplementedError

    async def aclose(self) -> None:
        pass


class AnyAgent(Contender):
    def __init__(self, name: str) -> None:
        self.name = name
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._options: Any = None
        self._query: Any = None
        self._result_type: Any = None

    async def open(self, base_url: str, task: Task, *, connections: int) -> None:
        from anyagent_httpx import AgentOptions, ResultMessage, default_http_client, query, tool

        self._query = query
        self._result_type = ResultMessage
        shared: dict[str, Any]
        if self.name == ANYAGENT_HTTPX:
            http_client = default_http_client()
            self._closers.append(http_client.aclose)
            shared = {"http_client": http_client}
        else:
            transport = _h11_transport_class()(max_connections_per_host=max(connections, 10))
            self._closers.append(transport.aclose)
            shared = {"transport": transport}
        self._options = AgentOptions(
            model=AGENT_MODEL, base_url=base_url, tools=[tool(add)], max_turns=task.requests + 1, **shared
        )

    async def run(self, task: Task) -> tuple[str, int]:
        result: Any = None
        async for message in self._query(prompt=task.prompt, options=self._options):
            result = message
        if type(result) is not self._result_type or result.subtype != "success":
            raise SystemExit(f"{self.name}: the last message is not a successful ResultMessage: {result!r:.500}")
        return result.result or "", result.num_turns

    async def aclose(self) -> None:
        for close in self._closers:
            await close()


class OpenAI(Contender):
    name = OPENAI

    def __init__(self) -> None:
        self._client: Any = None

    def unavailable(self, backend: str) -> str | None:
        if backend != "asyncio":
            return f"skipped: openai-python runs under asyncio only, not {backend}"
        return None

    async def open(self, base_url: str, task: Task, *, connections: int) -> None:
        import openai

        self._client = openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0)

    async def run(self, task: Task) -> tuple[str, int]:
        messages: list[dict[str, Any]] = [{"role": "user", "content": task.prompt}]
        requests = 0
        while True:
            requests += 1
            stream = await self._client.chat.completions.create(
                model=AGENT_MODEL, messages=messages, tools=[TOOL_SCHEMA], stream=True
            )
            parts: list[str] = []
            calls: dict[int, dict[str, Any]] = {}
            async for chunk in stream:
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta
                if delta.content:
                    parts.append(delta.content)
                for call in delta.tool_calls or ():
                    slot = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                    if call.id:
                        slot["id"] = call.id
                    if call.function is not None:
                        if call.function.name:
                            slot["name"] += call.function.name
                        if call.function.arguments:
                            slot["arguments"] += call.function.arguments
            if not calls:
                return "".join(parts), requests
            await answer_calls(messages, "".join(parts), calls)

    async def aclose(self) -> None:
        await self._client.close()


class RawHttpx(Contender):
    name = RAW

    def __init__(self) -> None:
        self._client: Any = None
        self._url = ""

    async def open(self, base_url: str, task: Task, *, connections: int) -> None:
        import httpx

        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(connect=10.0, read=600.0, write=60.0, pool=60.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=30.0),
        )
        self._url = base_url + "/chat/completions"

    async def run(self, task: Task) -> tuple[str, int]:
        loads = json.loads
        messages: list[dict[str, Any]] = [{"role": "user", "content": task.prompt}]
        requests = 0
        while True:
            requests += 1
            payload = {"model": AGENT_MODEL, "messages": messages, "tools": [TOOL_SCHEMA], "stream": True}
            body = json.dumps(payload, separators=(",", ":")).encode()
            parts: list[str] = []
            calls: dict[int, dict[str, Any]] = {}
            async with self._client.stream("POST", self._url, content=body, headers=_HEADERS) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise SystemExit(f"{self.name}: status {response.status_code}: {response.text[:300]}")
                async for line in response.aiter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    choices = loads(line[6:])["choices"]
                    if not choices:
                        continue
                    delta = choices[0]["delta"]
                    content = delta.get("content")
                    if content:
                        parts.append(content)
                    for call in delta.get("tool_calls") or ():
                        slot = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
                        if call.get("id"):
                            slot["id"] = call["id"]
                        function = call.get("function") or {}
                        slot["name"] += function.get("name") or ""
                        slot["arguments"] += function.get("arguments") or ""
            if not calls:
                return "".join(parts), requests
            await answer_calls(messages, "".join(parts), calls)

    async def aclose(self) -> None:
        await self._client.aclose()


def make_contenders() -> dict[str, Contender]:
    contenders: list[Contender] = [AnyAgent(ANYAGENT_HTTPX), AnyAgent(ANYAGENT_H11), OpenAI(), RawHttpx()]
    return {c.name: c for c in contenders}


def check(name: str, task: Task, outcome: tuple[str, int]) -> None:
    text, requests = outcome
    if text != task.final_text or requests != task.requests:
        raise SystemExit(
            f"{name}: a run ended with {text!r:.200} after {requests} requests; "
            f"want {task.final_text!r:.200} after {task.requests}"
        )


async def time_sequential(contender: Contender, task: Task, runs: int) -> tuple[float, float]:
    """Wall time and the process's CPU time of ``runs`` runs one after the other."""
    gc.collect()
    outcomes = []
    cpu = time.process_time()
    start = time.perf_counter()
    for _ in range(runs):
        outcomes.append(await contender.run(task))
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    for outcome in outcomes:
        check(contender.name, task, outcome)
    return elapsed, cpu


async def time_concurrent(contender: Contender, task: Task, agents: int) -> float:
    import anyio

    outcomes: list[tuple[str, int]] = []

    async def one() -> None:
        outcomes.append(await contender.run(task))

    gc.collect()
    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(agents):
            tg.start_soon(one)
    elapsed = time.perf_counter() - start
    if len(outcomes) != agents:
        raise SystemExit(f"{contender.name}: {len(outcomes)} of {agents} concurrent runs ended")
    for outcome in outcomes:
        check(contender.name, task, outcome)
    return elapsed


@dataclass
class Report:
    backend: str
    task: Task
    rounds: int
    runs: int
    """Sequential runs in each round."""
    agents: int
    skipped: dict[str, str]
    sequential: Rounds = field(default_factory=Rounds)
    cpu: Rounds = field(default_factory=Rounds)
    """The client process's CPU time of each round's sequential runs."""
    concurrent: Rounds = field(default_factory=Rounds)

    @property
    def measured(self) -> list[str]:
        return [name for name in LABELS if name not in self.skipped]

    def ms_per_run(self, name: str) -> float:
        return self.sequential.median(name) / self.runs * 1e3

    def per_request(self, seconds: float) -> float:
        """Microseconds per model request of a round's sequential runs taking ``seconds``."""
        return seconds / (self.runs * self.task.requests) * 1e6

    def targets(self) -> list[tuple[str, float | None, bool | None]]:
        rows: list[tuple[str, float | None, bool | None]] = []
        for ours in OURS:
            if ours in self.skipped:
                continue
            ratio = self.sequential.ratio(ours, RAW)
            rows.append((f"(a) {ours} time per run <= {TARGET_RUN_VS_RAW:g}x raw httpx's", ratio,
                         ratio <= TARGET_RUN_VS_RAW))  # fmt: skip
            for what, rounds in (("(a)", self.sequential), ("(b)", self.concurrent)):
                faster = None if OPENAI in self.skipped else rounds.ratio(OPENAI, ours)
                rows.append((f"{what} {ours} >= {TARGET_FASTER_THAN_OPENAI:g}x faster than openai", faster,
                             None if faster is None else faster >= TARGET_FASTER_THAN_OPENAI))  # fmt: skip
        return rows

    def render(self, header: str) -> str:
        head = ("contender", f"(a) {self.runs} runs, one at a time", "per request (p25-p75)", "vs raw (p25-p75)",
                "client CPU per request", "CPU vs raw", "openai / this", f"(b) {self.agents} runs at once",
                "vs raw", "openai / this")  # fmt: skip
        rows: list[tuple[str, ...]] = []
        seq, cpu, con = self.sequential, self.cpu, self.concurrent
        for name in self.measured:
            low, high = seq.spread(name)
            r_low, r_high = seq.ratio_spread(name, RAW)
            rows.append(
                (
                    LABELS[name],
                    f"{self.ms_per_run(name):.2f} ms/run",
                    f"{self.per_request(seq.median(name)):,.0f} us ({self.per_request(low):,.0f}-"
                    f"{self.per_request(high):,.0f})",
                    f"{seq.ratio(name, RAW):.2f}x ({r_low:.2f}-{r_high:.2f})",
                    f"{self.per_request(cpu.median(name)):,.0f} us",
                    f"{cpu.ratio(name, RAW):.2f}x",
                    "-" if OPENAI in self.skipped else f"{seq.ratio(OPENAI, name):.1f}x",
                    f"{con.median(name):.2f} s",
                    f"{con.ratio(name, RAW):.2f}x",
                    "-" if OPENAI in self.skipped else f"{con.ratio(OPENAI, name):.1f}x",
                )
            )
        skipped = {LABELS[name]: why for name, why in self.skipped.items()}
        lines = [header, "", *table(head, rows, skipped), "", *target_lines(self.targets(), self.backend)]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        measured = self.measured
        return {
            "backend": self.backend,
            "task": {"rounds": self.task.rounds, "calls_per_round": self.task.calls, "requests": self.task.requests},
            "rounds": self.rounds,
            "skipped": self.skipped,
            "sequential": {
                "runs_per_round": self.runs,
                "seconds_per_round": self.sequential.to_json(),
                "cpu_seconds_per_round": self.cpu.to_json(),
                "ms_per_run": {n: self.ms_per_run(n) for n in measured},
                "us_per_request": {n: self.per_request(self.sequential.median(n)) for n in measured},
                "cpu_us_per_request": {n: self.per_request(self.cpu.median(n)) for n in measured},
            },
            "concurrent": {"agents": self.agents, "seconds_per_round": self.concurrent.to_json()},
            "targets": [{"target": what, "ratio": ratio, "pass": passed} for what, ratio, passed in self.targets()],
        }


async def measure(contenders: Sequence[Contender], base_url: str, report: Report) -> None:
    task = report.task
    by_name = {c.name: c for c in contenders}
    try:
        for contender in contenders:
            await contender.open(base_url, task, connections=report.agents)
            for _ in range(3):  # the verified warm-up: a pooled connection, code paths taken once
                check(contender.name, task, await contender.run(task))
        for number in range(report.rounds):
            for name in rotated(list(by_name), number):
                seconds, cpu = await time_sequential(by_name[name], task, report.runs)
                report.sequential.add(name, seconds)
                report.cpu.add(name, cpu)
            for name in rotated(list(by_name), number):
                report.concurrent.add(name, await time_concurrent(by_name[name], task, report.agents))
            _progress(f"round {number + 1} of {report.rounds}")
    finally:
        for contender in contenders:
            await contender.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds of each workload (default 15, quick 3)")
    parser.add_argument("--quick", action="store_true", help="smaller counts, three rounds: a smoke run, noisy figures")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio", help="the clients' event loop")
    parser.add_argument("--tool-rounds", type=int, default=4, help="tool rounds in each agent run (default 4)")
    parser.add_argument("--calls", type=int, default=2, help="parallel tool calls in each round (default 2)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.tool_rounds < 0 or args.calls < 1:
        parser.error("--tool-rounds must be >= 0 and --calls >= 1")

    rounds = args.rounds if args.rounds is not None else (3 if args.quick else 15)
    runs = 10 if args.quick else 20
    agents = 10 if args.quick else 50
    task = Task(args.tool_rounds, args.calls)
    contenders = make_contenders()
    skipped = {name: why for name, c in contenders.items() if (why := c.unavailable(args.backend)) is not None}
    running = [c for name, c in contenders.items() if name not in skipped]
    report = Report(args.backend, task, rounds, runs, agents, skipped)

    import anyio

    with LoopbackServer() as server:
        anyio.run(measure, running, server.base_url, report, backend=args.backend)
    _progress(f"{', '.join(report.measured)} done, every run's final text and request count as expected")

    header = (
        f"agent runs: {task.rounds} rounds of {task.calls} parallel tool calls, then a final text "
        f"({task.requests} streamed requests a run); loopback HTTP/1.1 server in its own process, checking "
        f"every request; clients on {args.backend}; median of {rounds} round(s), contenders in rotated order\n"
        f"Python {platform.python_version()} ({platform.machine()}, {os.cpu_count()} CPUs), {_versions()}"
    )
    print(report.render(header), flush=True)
    if args.json is not None:
        data = {"python": platform.python_version(), "machine": platform.machine(), "versions": _versions()}
        args.json.write_text(json.dumps(data | report.to_json(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
