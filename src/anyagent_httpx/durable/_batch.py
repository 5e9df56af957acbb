"""``anyagent batch TASKS.jsonl --out RESULTS.jsonl --workers N --concurrency C [--db URL]``.

Each line of TASKS.jsonl is a JSON object: ``id`` (a string or an integer, unique), ``prompt``
(a string) and optional ``options`` (``model``, ``system_prompt``, ``max_turns``,
``max_tokens``, ``temperature``). ``--pricing IN/OUT`` (dollars per million tokens) gives each
run, the progress line and the result lines a cost. Every task is a durable run on one DBOS queue in the system
database ``--db`` (default: ``sqlite:///RESULTS.jsonl.dbos.sqlite``, no server needed; a
``postgresql://`` URL lets workers on many machines share it). ``N`` worker processes run them,
at most ``C`` at once over all workers (the model server's slot count); this process enqueues the
tasks, shows progress on stderr and appends one line per finished task to RESULTS.jsonl.

A task's run id is ``RESULTS-file-name:id``, so enqueuing it again is a no-op: running the same
command again after a crash (even ``kill -9``) recovers the runs that were in progress from their
checkpoints, runs what was never started, writes the lines missing from RESULTS.jsonl, and no
task is run or written twice. Worker ``i`` is DBOS executor ``batch-i``: it recovers its own
unfinished runs when it starts, and worker 0 those of executors a larger earlier run had.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import anyio
import attrs

from anyagent_core import Pricing
from anyagent_core.value import Value
from anyagent_core.wire import redact_url
from anyagent_httpx._errors import AnyAgentError, ConfigurationError
from anyagent_httpx._options import ENV_API_KEY, ENV_BASE_URL, ENV_MODEL, PROVIDERS, AgentOptions

__all__ = ["BatchError", "BatchTask", "add_parser", "read_tasks", "run"]

QUEUE = "anyagent-batch"
AGENT = "batch"
_ENV_OPTIONS = "ANY_AGENT_BATCH_OPTIONS"
_POLL_SECONDS = 0.1
_DONE = ("SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")


class BatchError(AnyAgentError):
    """The batch cannot run: a bad tasks file (naming the line), bad flags, a worker that died."""


@attrs.frozen(repr=False, eq=False)
class BatchTask(Value):
    """One line of the tasks file."""

    id: str
    prompt: str
    options: Mapping[str, Any] = attrs.field(factory=dict)


def read_tasks(path: pathlib.Path) -> list[BatchTask]:
    """The tasks of a JSON-lines file; ``BatchError`` names the line of a bad one."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BatchError(f"cannot read the tasks file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise BatchError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    tasks: list[BatchTask] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BatchError(f"{where}: not JSON: {exc.msg} (column {exc.colno})") from None
        if not isinstance(item, dict):
            raise BatchError(f"{where}: a task must be a JSON object, not {type(item).__name__}")
        task_id = item.get("id")
        if isinstance(task_id, bool) or not isinstance(task_id, str | int) or task_id == "":
            raise BatchError(f"{where}: 'id' must be a non-empty string or an integer, not {task_id!r}")
        prompt = item.get("prompt")
        if not isinstance(prompt, str):
            raise BatchError(f"{where}: 'prompt' must be a string, not {type(prompt).__name__}")
        options = item.get("options", {})
        if not isinstance(options, dict):
            raise BatchError(f"{where}: 'options' must be a JSON object, not {type(options).__name__}")
        unknown = sorted(set(item) - {"id", "prompt", "options"})
        if unknown:
            raise BatchError(f"{where}: unknown field {unknown[0]!r} (a task has id, prompt and options)")
        key = str(task_id)
        if key in seen:
            raise BatchError(f"{where}: the id {key!r} is already the task's on line {seen[key]}")
        seen[key] = number
        tasks.append(BatchTask(id=key, prompt=prompt, options=options))
    return tasks


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add the ``batch`` command to ``commands`` (an ``add_subparsers()`` result)."""
    batch: argparse.ArgumentParser = commands.add_parser(
        "batch",
        help="run a file of tasks as durable runs over worker processes",
        description="Run each line of TASKS.jsonl ({id, prompt, options}) as a durable run; one result "
        "line per task goes to --out. Run it again after a crash to finish what is left.",
        epilog=f"Environment: {ENV_BASE_URL}, {ENV_MODEL}, {ENV_API_KEY} stand in for the options left out.",
    )
    batch.add_argument("tasks", metavar="TASKS.jsonl", help="one JSON task per line")
    batch.add_argument("--out", required=True, metavar="RESULTS.jsonl", help="results, one line per task (appended)")
    batch.add_argument("--workers", type=int, default=1, help="worker processes (1)")
    batch.add_argument("--concurrency", type=int, default=1, help="tasks running at once over all workers (1)")
    batch.add_argument("--db", help="DBOS system database URL (default: sqlite:///RESULTS.jsonl.dbos.sqlite)")
    where = batch.add_argument_group("endpoint and agent")
    where.add_argument("--base-url", help="e.g. http://localhost:1234/v1")
    where.add_argument("--provider", choices=sorted(PROVIDERS), help="use this provider's default local URL")
    where.add_argument("--model", help="the model name the server knows")
    where.add_argument("--system", help="a system prompt")
    where.add_argument("--max-turns", type=int, help="model requests allowed per task")
    where.add_argument("--max-tokens", type=int)
    where.add_argument("--temperature", type=float)
    where.add_argument(
        "--pricing", metavar="IN/OUT", help="dollars per million input/output tokens, such as 0.15/0.6: the cost shown"
    )
    batch.add_argument("--quiet", action="store_true", help="no progress lines")
    batch.set_defaults(batch_main=run)
    return batch


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The command's body: 0 when every task succeeded, 1 if one failed, 2 on bad usage."""
    try:
        return _run(args, out, err)
    except BatchError as exc:
        err.write(f"anyagent batch: error: {exc}\n")
        return 2


def _options_json(args: argparse.Namespace) -> str:
    values = {
        "base_url": args.base_url,
        "provider": args.provider,
        "model": args.model,
        "system_prompt": args.system,
        "max_turns": args.max_turns,
        "max_tokens": args.max_tokens,
        "temperature": args.temperature,
        "pricing": None if args.pricing is None else _pricing(args.pricing),
    }
    return json.dumps({key: value for key, value in values.items() if value is not None})


def _pricing(text: str) -> dict[str, float]:
    """``--pricing IN/OUT``, as the JSON ``_agent_options`` reads back."""
    try:
        given, sep, taken = text.partition("/")
        prices = {"input_per_million": float(given), "output_per_million": float(taken)}
    except ValueError:
        sep = ""
    if not sep or not all(0 <= price < float("inf") for price in prices.values()):
        raise BatchError(f"--pricing must be IN/OUT dollars per million tokens, such as 0.15/0.6, not {text!r}")
    return prices


def _agent_options(text: str) -> AgentOptions:
    """The agent's options from their JSON (``_options_json``)."""
    values = json.loads(text)
    if "pricing" in values:
        values["pricing"] = Pricing(**values["pricing"])
    return AgentOptions(**values)


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.workers < 1:
        raise BatchError(f"--workers must be at least 1, not {args.workers}")
    if args.concurrency < 1:
        raise BatchError(f"--concurrency must be at least 1, not {args.concurrency}")
    tasks = read_tasks(pathlib.Path(args.tasks))
    results = pathlib.Path(args.out)
    database = args.db or f"sqlite:///{results.resolve()}.dbos.sqlite"
    options = _options_json(args)
    agent = _agent_options(options)  # a bad flag or a missing model is refused here, not in every run
    try:
        agent.endpoint(None)
        agent.resolved_model(None)
    except ConfigurationError as exc:
        raise BatchError(str(exc)) from None
    try:
        import dbos  # noqa: F401
    except ImportError:
        raise BatchError("the batch command needs DBOS, which is not installed: pip install 'anyagent[dbos]'") from None

    return anyio.run(_coordinate, args, tasks, results, database, options, out, err, backend="asyncio")


def _written(results: pathlib.Path) -> set[str]:
    """The ids in the results file; a last line a crash cut off is removed."""
    if not results.exists():
        return set()
    data = results.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with results.open("r+b") as handle:
            handle.truncate(cut)
        data = data[:cut]
    ids: set[str] = set()
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            raise BatchError(f"{results}:{number}: not a result line; is --out another file?") from None
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            ids.add(item["id"])
    return ids


def _result_line(task_id: str, status: Any) -> dict[str, Any]:
    from anyagent_httpx.durable._agent import DurableRun

    output = status.output
    if status.status == "SUCCESS" and isinstance(output, DurableRun):
        result = output.result
        usage = result.usage
        return {
            "id": task_id,
            "status": result.subtype,
            "result": result.result,
            "is_error": result.is_error,
            "num_turns": result.num_turns,
            "usage": None
            if usage is None
            else {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens},
            "total_cost_usd": result.total_cost_usd,
        }
    error = status.error
    text = f"{type(error).__name__}: {error}" if error is not None else status.status
    return {"id": task_id, "status": "error", "result": None, "is_error": True, "error": text}


async def _coordinate(
    args: argparse.Namespace,
    tasks: list[BatchTask],
    results: pathlib.Path,
    database: str,
    options: str,
    out: TextIO,
    err: TextIO,
) -> int:
    from dbos import DBOS, DBOSClient

    from anyagent_httpx.durable._agent import WORKFLOW

    prefix = f"{results.name}:"
    written = _written(results)
    left = [task for task in tasks if task.id not in written]
    try:
        await anyio.to_thread.run_sync(DBOS.migrate, database)  # the tables, before any worker or enqueue
        client = DBOSClient(system_database_url=database, application_name="anyagent")
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BatchError(f"cannot open the system database {redact_url(database)}: {reason}") from None
    try:
        await client.register_queue_async(
            QUEUE, global_concurrency=args.concurrency, polling_interval_sec=_POLL_SECONDS
        )
        current = {f"batch-{i}" for i in range(len(_shares(database, args.workers, args.concurrency)))}
        pending = await client.list_workflows_async(
            workflow_id_prefix=prefix, status="PENDING", load_input=False, load_output=False
        )
        stale = sorted({s.executor_id for s in pending if s.executor_id and s.executor_id not in current})
        for task in left:
            await client.enqueue_async(
                {"workflow_name": WORKFLOW, "queue_name": QUEUE, "workflow_id": prefix + task.id},
                AGENT,
                task.prompt,
                dict(task.options),
            )
        shares = _shares(database, args.workers, args.concurrency)
        procs = [
            await _start_worker(i, database, args.concurrency, share, options, stale if i == 0 else [])
            for i, share in enumerate(shares)
        ]
        try:
            failed = await _collect(client, left, prefix, results, procs, args.quiet, err)
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.terminate()
            with anyio.move_on_after(30, shield=True):
                for proc in procs:
                    await proc.wait()
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
    finally:
        client.destroy()
    out.write(f"{len(tasks)} tasks: {len(tasks) - failed} succeeded, {failed} failed; results in {results}\n")
    return 1 if failed else 0


def _shares(database: str, workers: int, concurrency: int) -> list[int | None]:
    """Each worker's own limit: none on PostgreSQL, where DBOS holds the global concurrency in
    one transaction; on SQLite its count is not atomic between processes, so ``concurrency`` is
    split among the workers (and no more workers start than it allows)."""
    if not database.startswith("sqlite"):
        return [None] * workers
    count = min(workers, concurrency)
    return [concurrency // count + (1 if i < concurrency % count else 0) for i in range(count)]


async def _start_worker(
    index: int, database: str, concurrency: int, share: int | None, options: str, stale: Sequence[str]
) -> anyio.abc.Process:
    env = dict(os.environ)
    env[_ENV_OPTIONS] = options
    command = [
        sys.executable,
        "-m",
        "anyagent_httpx.durable._batch",
        "--worker",
        str(index),
        "--db",
        database,
        "--concurrency",
        str(concurrency),
        "--parent",
        str(os.getpid()),
    ]
    if share is not None:
        command += ["--worker-concurrency", str(share)]
    if stale:
        command += ["--recover", ",".join(stale)]
    return await anyio.open_process(command, env=env, stdin=None, stdout=None, stderr=None)


async def _listed(client: Any, ids: list[str], statuses: list[str], *, load_output: bool) -> list[Any]:
    """The workflows among ``ids`` in one of ``statuses``, asked in chunks (SQLite bounds a
    query's parameters)."""
    found: list[Any] = []
    for start in range(0, len(ids), 500):
        found += await client.list_workflows_async(
            workflow_ids=ids[start : start + 500], status=statuses, load_input=False, load_output=load_output
        )
    return found


async def _collect(
    client: Any,
    left: list[BatchTask],
    prefix: str,
    results: pathlib.Path,
    procs: Sequence[anyio.abc.Process],
    quiet: bool,
    err: TextIO,
) -> int:
    """Append each finished task's line as it finishes; the number that failed."""
    waiting = {prefix + task.id: task.id for task in left}
    total = len(left)
    done = failed = tokens = 0
    cost = 0.0
    last = ""
    with results.open("a", encoding="utf-8") as sink:
        while waiting:
            for proc in procs:
                if proc.returncode is not None:
                    raise BatchError(f"a worker process exited with status {proc.returncode} before the batch ended")
            finished = await _listed(client, list(waiting), list(_DONE), load_output=True)
            for status in finished:
                task_id = waiting.pop(status.workflow_id, None)
                if task_id is None:
                    continue
                line = _result_line(task_id, status)
                sink.write(json.dumps(line, ensure_ascii=False) + "\n")
                done += 1
                if line["is_error"]:
                    failed += 1
                usage = line.get("usage")
                if usage:
                    tokens += (usage.get("prompt_tokens") or 0) + (usage.get("completion_tokens") or 0)
                cost += line.get("total_cost_usd") or 0.0
            sink.flush()
            if not quiet:
                running = len(await _listed(client, list(waiting), ["PENDING"], load_output=False))
                report = f"batch: {done}/{total} done, {failed} failed, {running} running, {tokens} tokens, ${cost:.4f}"
                if report != last:
                    err.write(report + "\n")
                    err.flush()
                    last = report
            if waiting:
                await anyio.sleep(_POLL_SECONDS * 2)
    return failed


# ---- the worker process -------------------------------------------------------------------


def _die_with_parent(parent: int) -> None:
    """Linux: the kernel kills this worker when the batch process ``parent`` dies (even by
    kill -9), so a re-run never finds an old worker still running its tasks. ``parent`` comes
    from the batch process itself: a batch killed while this worker was still starting is
    already gone when it gets here, and ``os.getppid()`` would then name the reaper instead."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(1)


async def _watch_parent(parent: int) -> None:
    """Where prctl is missing: exit once the batch process is gone."""
    while True:
        await anyio.sleep(0.2)
        if os.getppid() != parent:
            os._exit(1)


async def _worker(
    index: int, database: str, concurrency: int, share: int | None, recover: Sequence[str], parent: int
) -> None:
    from dbos import DBOS

    from anyagent_httpx.durable._agent import DurableAgent, launch, task_queue

    DurableAgent(AGENT, _agent_options(os.environ.get(_ENV_OPTIONS, "{}")))
    launch(database, executor_id=f"batch-{index}", listen=(QUEUE,), log_level="ERROR")
    await task_queue(QUEUE, concurrency=concurrency, worker_concurrency=share, poll_seconds=_POLL_SECONDS)
    if recover:
        await anyio.to_thread.run_sync(DBOS._recover_pending_workflows, list(recover))
    stop = anyio.Event()

    def stopping(*_: object) -> None:
        stop.set()

    import asyncio

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping)
    async with anyio.create_task_group() as tg:
        tg.start_soon(_watch_parent, parent)
        await stop.wait()
        tg.cancel_scope.cancel()
    os._exit(0)  # runs in progress stay PENDING: the next batch recovers them


def _worker_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="anyagent batch worker")
    parser.add_argument("--worker", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--worker-concurrency", type=int)
    parser.add_argument("--recover", default="")
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    _die_with_parent(args.parent)
    recover = [name for name in args.recover.split(",") if name]
    anyio.run(
        _worker,
        args.worker,
        args.db,
        args.concurrency,
        args.worker_concurrency,
        recover,
        args.parent,
        backend="asyncio",
    )
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
