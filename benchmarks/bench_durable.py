"""Durable runs on DBOS: the cost of durability per step, and the batch command's throughput.

    python benchmarks/bench_durable.py [--quick] [--postgres URL] [--json PATH]

The peer is the same agent run without durability (a plain ``Client``), against the same
loopback model server (``anyagent_httpx.testing.serve``, in this process): a run of
``CALLS`` tool calls, so ``CALLS + 1`` model requests and ``CALLS`` tool calls, each of them
a checkpointed step in a durable run (the tool is not marked idempotent, so each call also
records its marker step). Reported: the median run time of each over ``RUNS`` runs, and the
durable run's overhead per step, ``(durable - plain) / steps``, on SQLite (a file in a
temporary directory) and on PostgreSQL (``--postgres`` or ``ANY_AGENT_TEST_POSTGRES_URL``;
skipped, saying so, without one).

Then ``anyagent batch`` drains ``TASKS`` one-request tasks with N = 1, 2 and 4 worker
processes at a global concurrency of ``CONCURRENCY``, the server taking ``LATENCY`` seconds per
answer (a model server's slot): tasks per second over the command's wall time (process start-up
included) and while draining (first task's end to last's, from DBOS's records), and the scaling
ratios against N = 1.

Targets: overhead <= 15 ms per step on SQLite and <= 25 ms on PostgreSQL (p50, a 2-core machine);
the batch with N = 4 draining at least as fast as with N = 1 (ratio >= 0.9). On one 2-core
machine the workers share the cores with each other and the server: more workers cannot go
faster there; the ratio says what they cost.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.runtime.mock import DONE, chunk, text_stream

from _report import table
from anyagent_httpx import AgentOptions, Client, tool
from anyagent_httpx.testing import ReceivedRequest, Reply, serve

CALLS = 8
RUNS = 15
TASKS = 120
CONCURRENCY = 8
LATENCY = 0.02


def model(request: ReceivedRequest) -> Reply:
    if not request.target.endswith("/chat/completions"):
        return Reply(status=404, chunks=[b'{"error": "not found"}'])
    messages = json.loads(request.body)["messages"]
    done = sum(1 for message in messages if message["role"] == "tool")
    if done >= CALLS:
        return Reply.sse(b"".join(text_stream("Recorded ", f"{done} ", "steps.")))
    call = {"index": 0, "id": f"c{done}", "type": "function", "function": {"name": "record", "arguments": "{}"}}
    return Reply.sse(b"".join([chunk(tool_calls=[call]), chunk(finish="tool_calls"), DONE]))


async def slow_model(request: ReceivedRequest) -> Reply:
    if not request.target.endswith("/chat/completions"):
        return Reply(status=404, chunks=[b'{"error": "not found"}'])
    await anyio.sleep(LATENCY)
    return Reply.sse(b"".join(text_stream("done")))


@tool
def record() -> str:
    """Record a step."""
    return "recorded"


async def per_step(base_url: str, database: str | None, runs: int) -> tuple[float, float | None]:
    """Median seconds of a plain run and of a durable one (None: no database)."""
    options = AgentOptions(base_url=base_url, model="m", tools=[record], cwd=".")
    plain: list[float] = []
    for _ in range(runs):
        began = time.perf_counter()
        async with Client(options) as client:
            await client.query("go")
            async for _message in client.receive_response():
                pass
        plain.append(time.perf_counter() - began)
    if database is None:
        return statistics.median(plain), None
    from anyagent_httpx.durable import DurableAgent, launch, shutdown

    agent = DurableAgent(f"bench-{uuid.uuid4().hex[:8]}", options)
    await anyio.to_thread.run_sync(lambda: launch(database))
    durable: list[float] = []
    try:
        for n in range(runs):
            began = time.perf_counter()
            await agent.run("go", run_id=f"bench-{uuid.uuid4().hex}-{n}")
            durable.append(time.perf_counter() - began)
    finally:
        shutdown()  # on this loop: it gets its default executor back
    return statistics.median(plain), statistics.median(durable)


def fresh_postgres(url: str) -> str:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{url.rpartition('/')[0]}/{name}"


async def batch_rate(
    base_url: str, workers: int, tasks: int, directory: Path, database: str | None
) -> tuple[float, float]:
    """Tasks per second of one ``anyagent batch`` command: over its wall time (process start-up
    included), and while draining (from the first task's end to the last's, as DBOS recorded)."""
    name = f"batch-{workers}-{uuid.uuid4().hex[:6]}"
    task_file = directory / f"{name}.jsonl"
    results = directory / f"{name}.results.jsonl"
    task_file.write_text("".join(json.dumps({"id": i, "prompt": f"task {i}"}) + "\n" for i in range(tasks)))
    command = [
        sys.executable,
        "-m",
        "anyagent_httpx",
        "batch",
        str(task_file),
        "--out",
        str(results),
        "--workers",
        str(workers),
        "--concurrency",
        str(CONCURRENCY),
        "--base-url",
        base_url,
        "--model",
        "m",
        "--quiet",
    ]
    if database is not None:
        command += ["--db", database]
    began = time.perf_counter()
    done = await anyio.run_process(command, check=False, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"the batch failed: {done.stderr.decode(errors='replace')[-2000:]}")
    from dbos import DBOSClient

    client = DBOSClient(system_database_url=database or f"sqlite:///{results.resolve()}.dbos.sqlite")
    try:
        ended = sorted(
            status.updated_at or 0
            for status in client.list_workflows(workflow_id_prefix=f"{results.name}:", load_input=False)
        )
    finally:
        client.destroy()
    drain = (len(ended) - 1) / max((ended[-1] - ended[0]) / 1000, 1e-9)
    return tasks / seconds, drain


async def main(args: argparse.Namespace) -> dict[str, Any]:
    runs = 4 if args.quick else RUNS
    tasks = 30 if args.quick else TASKS
    postgres = args.postgres or os.environ.get("ANY_AGENT_TEST_POSTGRES_URL")
    report: dict[str, Any] = {"calls": CALLS, "steps": 3 * CALLS + 1, "runs": runs}
    steps = 3 * CALLS + 1  # requests, tool calls and their markers
    rows: list[list[str]] = []
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        async with serve(model) as server:
            databases: dict[str, str | None] = {"sqlite": f"sqlite:///{directory / 'bench.sqlite'}"}
            if postgres:
                databases["postgresql"] = fresh_postgres(postgres)
            else:
                skipped["postgresql"] = "skipped: no --postgres URL or ANY_AGENT_TEST_POSTGRES_URL"
            for label, database in databases.items():
                plain, durable = await per_step(server.base_url, database, runs)
                assert durable is not None
                overhead = (durable - plain) / steps * 1000
                report[label] = {"plain_s": plain, "durable_s": durable, "overhead_ms_per_step": overhead}
                rows.append([label, f"{plain * 1000:.1f}", f"{durable * 1000:.1f}", f"{overhead:.2f}"])
        lines = table(["per step", "plain run ms", "durable run ms", "overhead ms/step"], rows, skipped)
        print(f"durable runs: {CALLS + 1} requests + {CALLS} tool calls ({steps} steps), median of {runs}")
        print("\n".join(lines))
        batch_rows: list[list[str]] = []
        async with serve(slow_model) as server:
            for label, database in (("sqlite", None), ("postgresql", postgres and fresh_postgres(postgres))):
                if label == "postgresql" and not database:
                    continue
                rates: dict[int, tuple[float, float]] = {}
                for workers in (1, 2, 4):
                    rates[workers] = await batch_rate(server.base_url, workers, tasks, directory, database)
                report[f"batch_{label}"] = {str(n): {"wall": w, "drain": d} for n, (w, d) in rates.items()}
                for workers, (wall, drain) in rates.items():
                    batch_rows.append(
                        [
                            f"{label} N={workers}",
                            f"{wall:.1f}",
                            f"{drain:.1f}",
                            f"{wall / rates[1][0]:.2f}",
                            f"{drain / rates[1][1]:.2f}",
                        ]
                    )
        print(f"\nanyagent batch: {tasks} tasks, concurrency {CONCURRENCY}, {LATENCY * 1000:.0f} ms per answer")
        head = ["batch", "tasks/s (wall)", "tasks/s (drain)", "wall vs N=1", "drain vs N=1"]
        print("\n".join(table(head, batch_rows, {})))
    print("targets:")
    sqlite_ok = report["sqlite"]["overhead_ms_per_step"] <= 15
    print(f"  sqlite overhead <= 15 ms/step: {'PASS' if sqlite_ok else 'FAIL'}")
    if "postgresql" in report:
        pg_ok = report["postgresql"]["overhead_ms_per_step"] <= 25
        print(f"  postgresql overhead <= 25 ms/step: {'PASS' if pg_ok else 'FAIL'}")
    ratio = report["batch_sqlite"]["4"]["drain"] / report["batch_sqlite"]["1"]["drain"]
    print(f"  batch drain N=4 vs N=1 >= 0.9: {ratio:.2f}x {'PASS' if ratio >= 0.9 else 'FAIL'}")
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and tasks: a smoke run")
    parser.add_argument("--postgres", help="a PostgreSQL server URL (a fresh database is made on it)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    arguments = parser.parse_args()
    figures = anyio.run(main, arguments, backend="asyncio")
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(figures, indent=2))
