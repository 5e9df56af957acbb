"""SQLiteStore.append checks the head in its update of the session (``UPDATE … RETURNING``)
and falls back to reading the row first where SQLite is older than 3.35, or where a run's
model is the session's as it was before the update: both ways pass the conformance suite and
keep the runs' models."""

from __future__ import annotations

import pathlib
import time

import pytest

from anyagent_core import AssistantMessage, TextBlock, UserMessage
from anyagent_core.sessions import MessageEntry, ResultEntry
from anyagent_httpx._sessions import SQLiteStore, _sqlite
from anyagent_httpx.testing import check_session_store

from .conftest import run_result

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["returning", "no returning"])
def returning(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    if request.param == "no returning":
        monkeypatch.setattr(_sqlite, "_RETURNING", False)
    return bool(request.param == "returning")


async def test_the_suite_passes_with_and_without_returning(tmp_path: pathlib.Path, returning: bool) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        await check_session_store(store, cleanup=True)


async def test_a_run_naming_no_model_counts_under_the_one_before(tmp_path: pathlib.Path, returning: bool) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        info = await store.create("s", model="first")
        at = time.time()
        question = MessageEntry(id="q", parent_id=info.head, at=at, message=UserMessage(content="hi"))
        answer = MessageEntry(id="a", parent_id="q", at=at, message=AssistantMessage(content=[TextBlock(text="hello")]))
        runs = [
            ResultEntry(id="r1", parent_id="a", at=at, result=run_result(None)),  # the session's model
            ResultEntry(id="r2", parent_id="r1", at=at, result=run_result("second")),
            ResultEntry(id="r3", parent_id="r2", at=at, result=run_result(None)),  # the one before it
        ]
        info = await store.append("s", [question, answer, *runs], expected_head=info.head)
        assert (info.head, info.model, info.message_count) == ("r3", "second", 2)
        assert info == await store.get("s")
        by_model = {s.model: s.runs for s in await store.stats(group_by=["model"])}
        assert by_model == {"first": 1, "second": 2}
        later = ResultEntry(id="r4", parent_id="r3", at=at + 1, result=run_result(None))
        info = await store.append("s", [later], expected_head=info.head)
        assert (info.model, info.updated_at) == ("second", at + 1) and info == await store.get("s")
        assert {s.model: s.runs for s in await store.stats(group_by=["model"])} == {"first": 1, "second": 3}
