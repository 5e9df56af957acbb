"""PostgresStore's append is one statement: the head check, the session's update and every row
it inserts land together or not at all. A stale head is a typed conflict that writes nothing;
a run without a model of its own counts under the one before it; the columns it sends (binary
arrays) keep every value as it was. Against the real server."""

from __future__ import annotations

import itertools
from typing import Any, cast

import attrs
import pytest

from anyagent_core import AssistantMessage, Commit, TextBlock, Usage, UserMessage
from anyagent_core.sessions import Entry, MessageEntry, commit_entries
from anyagent_httpx._sessions import SessionConflictError, SessionNotFoundError, SessionStoreError, ToolExecution
from anyagent_httpx.postgres import PostgresStore

from .conftest import postgres_url, run_result

pytestmark = pytest.mark.anyio

_ids = itertools.count()


def turn(head: str | None, *models: str | None) -> list[Entry]:
    """A turn whose entries end with one run result per model given."""
    commit = Commit(
        messages=(UserMessage(content="hello"), AssistantMessage(content=[TextBlock(text="ok")])), turn_number=1
    )
    entries = list(commit_entries(commit, parent_id=head, new_id=lambda: f"e{next(_ids)}", at=5.0))
    for model in models:
        made = commit_entries(
            Commit(messages=(), turn_number=1, result=run_result(model)),
            parent_id=entries[-1].id,
            new_id=lambda: f"e{next(_ids)}",
            at=6.0,
        )
        entries += made
    return entries


def execution(session_id: str, call_id: str) -> ToolExecution:
    return ToolExecution(
        session_id=session_id,
        call_id=call_id,
        tool="bash",
        input={"command": "ls"},
        output="a",
        is_error=False,
        decision="allow",
        seconds=None,
        at=7.0,
    )


async def test_a_run_without_a_model_counts_under_the_one_before_it() -> None:
    async with PostgresStore(postgres_url()) as store:
        info = await store.create("s", model="m0")
        info = await store.append("s", turn(info.head, None), expected_head=info.head)
        assert info.model == "m0"
        info = await store.append("s", turn(info.head, None, "m2", None), expected_head=info.head)
        assert info.model == "m2" and info.message_count == 4
        by_model = await store.stats(session_id="s", group_by=["model"])
        assert [(s.model, s.runs) for s in by_model] == [("m0", 2), ("m2", 2)]
        assert await store.get("s") == info


async def test_a_stale_head_is_a_typed_conflict_that_writes_nothing() -> None:
    async with PostgresStore(postgres_url()) as store:
        stale = await store.create("s")
        info = await store.append("s", turn(stale.head, "m"), expected_head=stale.head, tool_executions=[])
        before = await store.load("s")
        for attempt in (
            store.append("s", turn(stale.head, "m"), expected_head=stale.head),
            store.append("s", [], expected_head=stale.head, tool_executions=[execution("s", "c1")]),
        ):
            with pytest.raises(SessionConflictError) as caught:
                await attempt
            assert (caught.value.expected, caught.value.actual) == (stale.head, info.head)
        assert await store.load("s") == before
        assert (await store.stats(session_id="s"))[0].runs == 1
        assert await store.tool_executions("s") == []
        ran = [execution("s", "c2"), execution("s", "c3")]
        assert await store.append("s", [], expected_head=info.head, tool_executions=ran) == info
        assert await store.tool_executions("s") == ran
        with pytest.raises(SessionNotFoundError):
            await store.append("gone", turn(None), expected_head=None)
        await store.delete("s")
        with pytest.raises(SessionNotFoundError):
            await store.append("s", turn(info.head), expected_head=info.head)


async def test_the_rows_an_append_writes_keep_every_value() -> None:
    """Text a text-format array would have to escape, counts past 32 bits beside small ones
    in one column, and seconds unknown beside known ones come back as they went in."""
    awkward = 'quote " backslash \\ braces {a,b} comma, NULL null \u00e9t\u00e9 \U0001f600 \t tab'
    big = attrs.evolve(run_result("m"), usage=Usage(prompt_tokens=5_000_000_000, completion_tokens=7))
    commit = Commit(
        messages=(UserMessage(content=awkward), AssistantMessage(content=[TextBlock(text=awkward)])),
        turn_number=1,
        result=big,
    )
    async with PostgresStore(postgres_url()) as store:
        info = await store.create("s")
        entries = list(commit_entries(commit, parent_id=info.head, new_id=lambda: f"e{next(_ids)}", at=5.5))
        entries += commit_entries(
            Commit(messages=(), turn_number=1, result=run_result("m")),
            parent_id=entries[-1].id,
            new_id=lambda: f"e{next(_ids)}",
            at=6.0,
        )
        ran = [execution("s", "c1"), attrs.evolve(execution("s", "c2"), seconds=0.25, output=awkward, is_error=True)]
        info = await store.append("s", entries, expected_head=info.head, tool_executions=ran)
        assert info.head == entries[-1].id and info.message_count == 2
        async with PostgresStore(store.url, cache_sessions=0) as cold:
            _, loaded = await cold.load("s")
        assert loaded[1:] == entries
        assert await store.tool_executions("s") == ran
        (total,) = await store.stats(session_id="s")
        assert (total.runs, total.prompt_tokens, total.completion_tokens) == (2, 5_000_000_004, 8)
        hits = await store.search("backslash")
        assert {hit.entry_id for hit in hits} == {entries[0].id, entries[1].id}


async def test_a_nul_character_in_a_message_is_kept_and_its_words_found() -> None:
    """PostgreSQL text cannot hold U+0000: the entry's body keeps it (escaped in its JSON), the
    searched text has a space in its place, and the message is found by its words, as the
    other stores find it."""
    async with PostgresStore(postgres_url()) as store:
        info = await store.create("s")
        commit = Commit(messages=(UserMessage(content="binary\x00harbour output"),), turn_number=1)
        entries = commit_entries(commit, parent_id=info.head, new_id=lambda: f"e{next(_ids)}", at=5.0)
        info = await store.append("s", entries, expected_head=info.head)
        _, loaded = await store.load("s")
        assert loaded[1:] == list(entries)
        hits = await store.search("harbour")
        assert [h.entry_id for h in hits] == [entries[0].id]


@pytest.mark.parametrize("field", ["call_id", "tool", "output", "decision"])
async def test_a_nul_character_the_store_cannot_hold_is_a_typed_error_naming_it(field: str) -> None:
    async with PostgresStore(postgres_url()) as store:
        info = await store.create("s")
        changes: dict[str, Any] = {field: "a\x00b"}
        bad = attrs.evolve(execution("s", "c1"), **changes)
        with pytest.raises(SessionStoreError, match=rf"NUL character \(U\+0000\) in the {field} of tool execution"):
            await store.append("s", turn(info.head), expected_head=info.head, tool_executions=[bad])
        assert (await store.get("s")).head == info.head, "nothing written"
        assert await store.tool_executions("s") == []


@pytest.mark.parametrize("field", ["title", "model", "cwd"])
async def test_a_session_made_with_a_nul_character_is_a_typed_error_naming_it(field: str) -> None:
    async with PostgresStore(postgres_url()) as store:
        with pytest.raises(SessionStoreError, match=rf"NUL character \(U\+0000\) in the {field} of session 's'"):
            await store.create("s", **cast("dict[str, Any]", {field: "a\x00b"}))
        with pytest.raises(SessionNotFoundError):
            await store.get("s")


async def test_an_append_mixing_integer_and_float_times_keeps_them() -> None:
    """Times, durations and costs given as integers and floats in one append (the other stores
    take both): every value is kept (a column's array of ints and floats could not be sent)."""
    async with PostgresStore(postgres_url()) as store:
        info = await store.create("s")
        first = MessageEntry(id=f"e{next(_ids)}", parent_id=info.head, at=5, message=UserMessage(content="a"), turn=1)
        second = MessageEntry(id=f"e{next(_ids)}", parent_id=first.id, at=5.5, message=UserMessage(content="b"), turn=1)
        whole = attrs.evolve(execution("s", "c1"), seconds=1, at=7)
        part = attrs.evolve(execution("s", "c2"), seconds=1.5, at=7.25)
        runs: list[Entry] = []
        for cost, at in ((1, 6), (0.5, 6.5)):
            runs += commit_entries(
                Commit(messages=(), turn_number=1, result=attrs.evolve(run_result("m"), total_cost_usd=cost)),
                parent_id=runs[-1].id if runs else second.id,
                new_id=lambda: f"e{next(_ids)}",
                at=at,
            )
        entries = [first, second, *runs]
        info = await store.append("s", entries, expected_head=info.head, tool_executions=[whole, part])
        assert info.head == entries[-1].id
        assert (await store.load("s"))[1][1:] == entries
        assert await store.tool_executions("s") == [whole, part]
        assert (await store.stats(session_id="s"))[0].cost_usd == 1.5


async def test_a_title_tag_or_memory_with_a_nul_character_is_a_typed_error_naming_it() -> None:
    async with PostgresStore(postgres_url()) as store:
        await store.create("s", title="kept")
        with pytest.raises(SessionStoreError, match=r"U\+0000\) in the title of session 's'"):
            await store.update("s", title="a\x00b")
        with pytest.raises(SessionStoreError, match=r"U\+0000\) in a tag of session 's'"):
            await store.update("s", add_tags=["a\x00b"])
        assert (await store.get("s")).title == "kept"
        assert (await store.get("s")).tags == ()
        with pytest.raises(SessionStoreError, match=r"U\+0000\) in the title of session 'f'"):
            await store.fork("s", new_session_id="f", title="a\x00b")
        with pytest.raises(SessionNotFoundError):
            await store.get("f")
        with pytest.raises(SessionStoreError, match=r"U\+0000\) in the text of memory 'm'"):
            await store.remember("a\x00b", memory_id="m")
        assert await store.memories() == []
