"""Many stateless workers on one PostgreSQL store: 8 processes append to the same 100 sessions
at once; every turn that an append returned for is there, whole, and no two turns interleave."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import anyio
import pytest

from anyagent_core.sessions import MessageEntry, rebuild
from anyagent_httpx.postgres import PostgresStore

from .conftest import postgres_url

pytestmark = pytest.mark.anyio

WORKERS = 8
SESSIONS = 100
WORKER = pathlib.Path(__file__).with_name("pg_worker.py")


async def test_eight_workers_on_a_hundred_sessions_lose_nothing_and_never_interleave() -> None:
    url = postgres_url()
    async with PostgresStore(url) as store:
        ids = [f"s{n}" for n in range(SESSIONS)]
        for sid in ids:
            await store.create(sid)

        def run_workers() -> list[str]:
            procs = [
                subprocess.Popen([sys.executable, str(WORKER), url, f"w{n}", *ids], stdout=subprocess.PIPE, text=True)
                for n in range(WORKERS)
            ]
            outputs = []
            for proc in procs:
                out, _ = proc.communicate(timeout=300)
                assert proc.returncode == 0, out
                outputs.append(out)
            return outputs

        outputs = await anyio.to_thread.run_sync(run_workers)
        landed: dict[str, list[list[str]]] = {sid: [] for sid in ids}
        for out in outputs:
            for line in out.splitlines():
                sid, *entry_ids = line.split()
                landed[sid].append(entry_ids)
        assert sum(len(turns) for turns in landed.values()) == WORKERS * SESSIONS * 2
        for sid in ids:
            info, entries = await store.load(sid)
            body = [e.id for e in entries[1:]]
            assert len(body) == 2 * len(landed[sid])  # 0 lost, none extra
            turns = {tuple(t) for t in landed[sid]}
            assert all(tuple(body[i : i + 2]) in turns for i in range(0, len(body), 2))  # 0 interleaved
            assert info.message_count == len(body) == sum(1 for e in entries if isinstance(e, MessageEntry))
            rebuild(sid, entries)
