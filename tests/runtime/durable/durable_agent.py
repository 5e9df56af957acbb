"""A process for the durable-run tests: launches DBOS on ``db_url``, then runs (or, when it exists,
recovers and waits for) the durable run ``run_id`` against the model server at ``base_url``. The
tool appends a line per execution to ``effects`` (counting side effects across kills); ``mode``
naming ``idempotent`` marks it safe to repeat, naming ``block`` makes the first execution hang (so a test can
kill the process inside the call). Prints ``ready`` once DBOS is up and writes the run's messages
(pickled) to ``out`` when it ends."""

from __future__ import annotations

import pathlib
import pickle
import sys

import anyio

from anyagent_httpx import AgentOptions, tool
from anyagent_httpx.durable import DurableAgent, launch, shutdown


async def main(base_url: str, db_url: str, run_id: str, effects: str, mode: str, out: str) -> None:
    from dbos import DBOS

    def record(n: int) -> str:
        """Record a step."""
        path = pathlib.Path(effects)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"{n}\n")
        if "block" in mode and len(path.read_text(encoding="utf-8").split()) == 1:
            sys.stdout.write("in tool\n")
            sys.stdout.flush()
            import time

            time.sleep(600)  # the test kills the process here
        return f"recorded {n}"

    agent = DurableAgent(
        "worker",
        AgentOptions(
            base_url=base_url, model="m", tools=[tool(idempotent="idempotent" in mode)(record)], cwd=".", max_turns=20
        ),
    )
    launch(db_url)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    try:
        if await DBOS.get_workflow_status_async(run_id) is None:
            run = await agent.run("go", run_id=run_id)
        else:
            run = await agent.result(run_id)  # recovered at launch: wait for it
        await anyio.Path(out).write_bytes(pickle.dumps(run.messages))
        sys.stdout.write("done\n")
        sys.stdout.flush()
    finally:
        shutdown()


if __name__ == "__main__":
    base_url, db_url, run_id, effects, mode, out = sys.argv[1:7]
    anyio.run(main, base_url, db_url, run_id, effects, mode, out, backend="asyncio")
