"""The stores under test: in memory, SQLite in a temporary file, and PostgreSQL when
``ANY_AGENT_TEST_POSTGRES_URL`` names a reachable server (``.ci/postgres.sh`` starts one)."""

from __future__ import annotations

import os
import pathlib
import uuid
from collections.abc import AsyncIterator

import pytest

from anyagent_core import ResultMessage, Usage
from anyagent_httpx._sessions import MemoryStore, SessionStore, SQLiteStore

POSTGRES_URL = os.environ.get("ANY_AGENT_TEST_POSTGRES_URL") or None  # set but empty: not set
STORE_KINDS = ("memory", "sqlite", "postgres")


def postgres_url() -> str:
    """A fresh database on the test server (so each test sees only its own data), or a skip
    saying why there is none."""
    if not POSTGRES_URL:
        pytest.skip("no PostgreSQL server: set ANY_AGENT_TEST_POSTGRES_URL (.ci/postgres.sh starts one)")
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'anyagent[postgres]')")
    name = f"t_{uuid.uuid4().hex[:16]}"
    try:
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as exc:
        pytest.skip(f"the PostgreSQL server at ANY_AGENT_TEST_POSTGRES_URL is unreachable: {exc}")
    base, _, _ = POSTGRES_URL.rpartition("/")
    return f"{base}/{name}"


def run_result(model: str | None) -> ResultMessage:
    """A successful one-turn run's result, naming ``model`` (None: the run names none)."""
    return ResultMessage(
        subtype="success",
        result="ok",
        is_error=False,
        num_turns=1,
        duration_ms=3,
        duration_api_ms=2,
        usage=Usage(prompt_tokens=4, completion_tokens=1),
        model=model,
    )


def make_store(kind: str, tmp_path: pathlib.Path) -> SessionStore:
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SQLiteStore(tmp_path / "sessions.db")
    from anyagent_httpx._sessions._postgres import PostgresStore

    return PostgresStore(postgres_url())


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> AsyncIterator[SessionStore]:
    async with make_store(request.param, tmp_path) as opened:
        yield opened
