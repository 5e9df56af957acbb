"""``anyagent batch``: tasks drained by worker processes with a global concurrency the model server
never sees exceeded, one result line per task, a re-run after ``kill -9`` finishing only what is
left; on SQLite with no server, and three workers on one PostgreSQL (when ``.ci/postgres.sh``
started one)."""

from __future__ import annotations

import json
import os
import pathlib
import random
import re
import signal
import sys

import anyio
import pytest

from anyagent_httpx.testing import LoopbackServer, ReceivedRequest, Reply, serve
from tests.runtime.sessions.conftest import postgres_url

from .conftest import SlotServer

BATCH = [sys.executable, "-m", "anyagent_httpx", "batch"]

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["asyncio"])]


def batch_workers(directory: pathlib.Path) -> list[str]:
    """The pids of the batch worker processes whose command line names ``directory``."""
    workers = []
    for proc in pathlib.Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--worker" in cmdline and any(str(directory).encode() in arg for arg in cmdline):
            workers.append(proc.name)
    return workers


async def no_workers_left(directory: pathlib.Path) -> None:
    """Wait (bounded) until no worker process of a batch in ``directory`` is running."""
    for _ in range(600):
        workers = batch_workers(directory)
        if not workers:
            return
        await anyio.sleep(0.1)
    raise AssertionError(f"batch workers outlived their batch: pids {workers}")


def write_tasks(path: pathlib.Path, count: int) -> None:
    lines = [json.dumps({"id": i, "prompt": f"task {i}"}) for i in range(count)]
    path.write_text("\n".join(lines) + "\n")


def command(server: LoopbackServer, tasks: pathlib.Path, out: pathlib.Path, *flags: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "anyagent_httpx",
        "batch",
        str(tasks),
        "--out",
        str(out),
        "--base-url",
        server.base_url,
        "--model",
        "m",
        "--quiet",
        *flags,
    ]


async def batch(server: LoopbackServer, tasks: pathlib.Path, out: pathlib.Path, *flags: str) -> str:
    done = await anyio.run_process(command(server, tasks, out, *flags), check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return done.stdout.decode()


def result_lines(out: pathlib.Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def check_results(out: pathlib.Path, count: int) -> None:
    lines = result_lines(out)
    ids = [line["id"] for line in lines]
    assert len(ids) == len(set(ids)), "a task's result appears twice"
    assert sorted(ids, key=int) == [str(i) for i in range(count)]  # type: ignore[arg-type]
    for line in lines:
        assert line["status"] == "success" and line["result"] == f"answer to task {line['id']}"


async def test_sqlite_batch_two_workers_hold_the_concurrency_and_write_each_task_once(tmp_path: pathlib.Path) -> None:
    tasks, out = tmp_path / "tasks.jsonl", tmp_path / "results.jsonl"
    write_tasks(tasks, 24)
    slots = SlotServer()
    async with serve(slots) as server:
        summary = await batch(server, tasks, out, "--workers", "2", "--concurrency", "2")
        assert "24 tasks: 24 succeeded, 0 failed" in summary
        check_results(out, 24)
        assert slots.most <= 2
        assert sorted(slots.prompts) == sorted(f"task {i}" for i in range(24))  # each task asked once
        # run again: nothing is left, nothing is run or written again
        await batch(server, tasks, out, "--workers", "1", "--concurrency", "2")
        check_results(out, 24)
        assert len(slots.prompts) == 24
    assert (tmp_path / "results.jsonl.dbos.sqlite").exists()  # the default system database, beside the results


async def test_a_batch_killed_with_sigkill_finishes_only_what_is_left_when_run_again(tmp_path: pathlib.Path) -> None:
    tasks, out = tmp_path / "tasks.jsonl", tmp_path / "results.jsonl"
    write_tasks(tasks, 30)
    slots = SlotServer(seconds=0.2)  # 30 tasks take 3 s of answers at least: the kills come first
    rng = random.Random(7)
    async with serve(slots) as server:
        for _ in range(2):
            async with await anyio.open_process(
                command(server, tasks, out, "--workers", "2", "--concurrency", "2"), stdout=-1, stderr=-1
            ) as proc:
                await anyio.sleep(rng.uniform(1.5, 3.0))
                proc.send_signal(signal.SIGKILL)  # its workers die with it (PR_SET_PDEATHSIG)
                await proc.wait()
            await no_workers_left(tmp_path)
        partial = len(result_lines(out)) if out.exists() else 0
        await batch(server, tasks, out, "--workers", "2", "--concurrency", "2")
        check_results(out, 30)
        asked = len(slots.prompts)
    assert partial < 30, "the batch finished before it was killed"
    assert asked <= 30 + 2 * 2, "more requests than the tasks and the ones the kills cut off"


async def test_progress_shows_done_failed_running_tokens_and_cost_and_a_failed_task_is_a_result_line(
    tmp_path: pathlib.Path,
) -> None:
    tasks, out = tmp_path / "tasks.jsonl", tmp_path / "results.jsonl"
    write_tasks(tasks, 4)
    slots = SlotServer()

    async def model(request: ReceivedRequest) -> Reply:
        if request.target.endswith("/chat/completions") and b"task 3" in request.body:
            return Reply(status=400, chunks=[b'{"error": {"message": "this one is refused"}}'])
        return await slots(request)

    async with serve(model) as server:
        flags = ["--workers", "1", "--concurrency", "2", "--pricing", "1000/1000"]
        done = await anyio.run_process(
            [arg for arg in command(server, tasks, out, *flags) if arg != "--quiet"], check=False
        )
    assert done.returncode == 1  # a task failed
    progress = [line for line in done.stderr.decode().splitlines() if line.startswith("batch: ")]
    assert progress, done.stderr.decode()[-2000:]
    final = re.fullmatch(r"batch: 4/4 done, 1 failed, 0 running, (\d+) tokens, \$([0-9.]+)", progress[-1])
    assert final is not None, progress
    assert int(final[1]) > 0 and float(final[2]) > 0  # estimated tokens, at the prices given
    counts = [int(line.split()[1].split("/")[0]) for line in progress]
    assert counts == sorted(counts)  # done only grows
    lines = {str(line["id"]): line for line in result_lines(out)}
    assert sorted(lines) == ["0", "1", "2", "3"]
    assert lines["3"]["is_error"] is True and "this one is refused" in str(lines["3"]["error"])
    assert all(lines[i]["status"] == "success" for i in "012")


async def test_a_worker_whose_batch_died_while_it_started_exits_at_once(tmp_path: pathlib.Path) -> None:
    # A batch killed while its workers are still importing is gone before they can ask the kernel
    # to kill them with it: the batch's own pid, passed on the command line, tells them.
    gone = await anyio.run_process([sys.executable, "-c", "import os; print(os.getpid())"])
    parent = gone.stdout.decode().strip()
    database = f"sqlite:///{tmp_path / 'system.sqlite'}"
    worker = [sys.executable, "-m", "anyagent_httpx.durable._batch", "--worker", "0", "--db", database]
    with anyio.fail_after(120):  # a hang guard: the worker exits before it opens the database
        done = await anyio.run_process([*worker, "--concurrency", "1", "--parent", parent], check=False)
    assert done.returncode == 1
    assert not (tmp_path / "system.sqlite").exists()


async def test_a_bad_tasks_file_is_refused_naming_the_line(tmp_path: pathlib.Path) -> None:
    tasks, out = tmp_path / "tasks.jsonl", tmp_path / "results.jsonl"
    tasks.write_text('{"id": 1, "prompt": "a"}\n{"id": 1, "prompt": "b"}\n')
    done = await anyio.run_process(
        [sys.executable, "-m", "anyagent_httpx", "batch", str(tasks), "--out", str(out), "--model", "m"], check=False
    )
    assert done.returncode == 2
    assert f"{tasks}:2: the id '1' is already the task's on line 1" in done.stderr.decode()
    tasks.write_text('{"prompt": "a"}\n')
    done = await anyio.run_process(
        [sys.executable, "-m", "anyagent_httpx", "batch", str(tasks), "--out", str(out), "--model", "m"], check=False
    )
    assert "tasks.jsonl:1: 'id' must be a non-empty string or an integer, not None" in done.stderr.decode()
    assert not out.exists()
    write_tasks(tasks, 1)
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANY_AGENT_")}
    done = await anyio.run_process(
        [sys.executable, "-m", "anyagent_httpx", "batch", str(tasks), "--out", str(out)], check=False, env=env
    )
    assert done.returncode == 2
    assert "anyagent batch: error: no base URL" in done.stderr.decode()


async def test_an_unreachable_database_is_refused_without_its_password(tmp_path: pathlib.Path) -> None:
    from tests.runtime.support import closed_port

    tasks, out = tmp_path / "tasks.jsonl", tmp_path / "results.jsonl"
    write_tasks(tasks, 1)
    url = f"postgresql://user:hunter2@127.0.0.1:{closed_port()}/nothing"
    done = await anyio.run_process(
        [*BATCH, str(tasks), "--out", str(out), "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--db", url],
        check=False,
    )
    stderr = done.stderr.decode()
    assert done.returncode == 2
    assert "cannot open the system database postgresql://<redacted>@127.0.0.1:" in stderr
    assert "hunter2" not in stderr


async def test_three_workers_on_postgresql_drain_300_tasks_with_a_global_concurrency_of_4(
    tmp_path: pathlib.Path,
) -> None:
    url = postgres_url()
    tasks, out = tmp_path / "tasks.jsonl", tmp_path / "results.jsonl"
    write_tasks(tasks, 300)
    slots = SlotServer()
    async with serve(slots) as server:
        summary = await batch(server, tasks, out, "--workers", "3", "--concurrency", "4", "--db", url)
    assert "300 tasks: 300 succeeded, 0 failed" in summary
    check_results(out, 300)
    assert slots.most <= 4
    assert slots.most > 1, "the workers never ran tasks at once"
    assert len(slots.prompts) == 300
