"""The conformance suite every ``SessionStore`` passes: ours, and yours.

::

    from anyagent_httpx.testing import SESSION_STORE_CHECKS, check_session_store

    async def test_my_store() -> None:
        async with MyStore(...) as store:
            await check_session_store(store)          # every check, in turn

    @pytest.mark.parametrize("check", SESSION_STORE_CHECKS.values(), ids=SESSION_STORE_CHECKS.keys())
    async def test_my_store_check(check) -> None:     # or one test per check
        async with MyStore(...) as store:
            await check(store)

Each check is an async function of an open store that raises ``AssertionError`` saying what the
store did wrong. The checks use session ids, working directories and tags of their own (random
per call), so they can run on a store that holds other data, or several times on one store; the
memory checks look only at the memories they write, by tag.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final, NoReturn

import anyio

from anyagent_core import AssistantMessage, Commit, ResultMessage, TextBlock, ToolResultBlock, ToolUseBlock, Usage
from anyagent_core import UserMessage as _User
from anyagent_core.sessions import Entry, MessageEntry, MetadataEntry, ResultEntry, commit_entries, rebuild

from ._base import (
    SessionConflictError,
    SessionInfo,
    SessionNotFoundError,
    SessionStore,
    ToolExecution,
)

__all__ = ["SESSION_STORE_CHECKS", "check_session_store"]

Check = Callable[[SessionStore], Awaitable[None]]


def _fail(message: str) -> NoReturn:
    raise AssertionError(message)


def _expect(condition: object, message: str) -> None:
    if not condition:
        _fail(message)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _ids() -> Callable[[], str]:
    return lambda: uuid.uuid4().hex


def _result(text: str, *, model: str = "m", cost: float = 0.5, prompt: int = 10, completion: int = 5) -> ResultMessage:
    return ResultMessage(
        subtype="success",
        result=text,
        is_error=False,
        num_turns=1,
        duration_ms=12,
        duration_api_ms=8,
        usage=Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion),
        model=model,
        total_cost_usd=cost,
    )


def _turn(prompt: str, answer: str, *, result: bool = True, model: str = "m") -> Commit:
    return Commit(
        messages=(_User(content=prompt), AssistantMessage(content=[TextBlock(text=answer)], model=model)),
        turn_number=1,
        result=_result(answer, model=model) if result else None,
    )


async def _append(
    store: SessionStore, info: SessionInfo, commit: Commit, **kwargs: Any
) -> tuple[SessionInfo, list[Entry]]:
    at = max(time.time(), info.updated_at)  # entries are stamped by their writer's clock
    entries = list(commit_entries(commit, parent_id=info.head, new_id=_ids(), at=at))
    return await store.append(info.session_id, entries, expected_head=info.head, **kwargs), entries


async def _raises(kind: type[BaseException], awaitable: Awaitable[Any], what: str) -> BaseException:
    try:
        await awaitable
    except kind as exc:
        return exc
    _fail(f"{what}: expected {kind.__name__}, nothing was raised")


# ---- the checks --------------------------------------------------------------------------------


async def check_create_and_get(store: SessionStore) -> None:
    """A new session has a record and a log that begins with its metadata."""
    sid, cwd = _name("create"), _name("/cwd")
    info = await store.create(sid, title="First", tags=["x", "y"], model="m1", cwd=cwd)
    _expect(info.session_id == sid and info.title == "First" and info.tags == ("x", "y"), f"create() gave {info}")
    _expect(info.cwd == cwd and info.model == "m1" and info.message_count == 0, f"create() gave {info}")
    got = await store.get(sid)
    _expect(got.head == info.head and got.title == "First", f"get() gave {got}, create() {info}")
    loaded, entries = await store.load(sid)
    _expect(len(entries) == 1 and isinstance(entries[0], MetadataEntry), f"a new log holds {entries}")
    _expect(entries[0].id == info.head and loaded.head == info.head, "the metadata entry is the head")
    await _raises(SessionConflictError, store.create(sid), "create() with a taken id")


async def check_append_and_load(store: SessionStore) -> None:
    """Turns appended come back in order, as they were, and rebuild the conversation."""
    sid = _name("append")
    info = await store.create(sid)
    calls = AssistantMessage(content=[ToolUseBlock(id="c1", name="read_file", input={"path": "a.txt", "n": [1, 2.5]})])
    results = _User(content=[ToolResultBlock(tool_use_id="c1", content="hello", is_error=False)])
    round_ = Commit(messages=(_User(content="read a.txt"), calls, results), turn_number=1)
    info, first = await _append(store, info, round_)
    info, second = await _append(store, info, _turn("and?", "it says hello"))
    _expect(info.head == second[-1].id, f"the head after two appends is {info.head!r}")
    _expect(info.message_count == 5, f"5 messages were appended, the record counts {info.message_count}")
    loaded, entries = await store.load(sid)
    _expect(entries[1:] == first + second, "load() does not give back the entries appended, in order")
    _expect(loaded.head == info.head and loaded.message_count == 5, f"load() gave the record {loaded}")
    conversation = rebuild(sid, entries)
    _expect(len(conversation.messages) == 5 and not conversation.repaired, "the conversation does not rebuild")


async def check_optimistic_append(store: SessionStore) -> None:
    """An append on a stale head is refused and writes nothing; the same append repeated is
    not a conflict."""
    sid = _name("conflict")
    info = await store.create(sid)
    stale = info
    info, entries = await _append(store, info, _turn("one", "1"))
    error = await _raises(SessionConflictError, _append(store, stale, _turn("two", "2")), "an append on a stale head")
    _expect(getattr(error, "actual", None) == info.head, f"the conflict names head {getattr(error, 'actual', None)!r}")
    again = await store.append(sid, entries, expected_head=stale.head)
    _expect(again.head == info.head, "repeating an append that was applied moved the head")
    _, loaded = await store.load(sid)
    _expect(loaded[1:] == entries, f"after a refused and a repeated append the log holds {len(loaded) - 1} entries")


async def check_concurrent_appends(store: SessionStore) -> None:
    """Writers racing on one session: each append lands whole or conflicts; none interleaves."""
    sid = _name("race")
    await store.create(sid)
    landed: list[list[Entry]] = []

    async def writer(n: int) -> None:
        for _ in range(20):
            info = await store.get(sid)
            commit = _turn(f"w{n}", f"answer {n}", result=False)
            entries = list(commit_entries(commit, parent_id=info.head, new_id=_ids(), at=info.updated_at))
            try:
                await store.append(sid, entries, expected_head=info.head)
            except SessionConflictError:
                continue
            landed.append(entries)
            return

    async with anyio.create_task_group() as tg:
        for n in range(4):
            tg.start_soon(writer, n)
    _, entries = await store.load(sid)
    body = entries[1:]
    _expect(len(body) == 2 * len(landed), f"{len(landed)} appends landed, the log holds {len(body)} entries")
    for i in range(0, len(body), 2):
        pair = body[i : i + 2]
        _expect(any(pair == turn for turn in landed), f"entries {i}-{i + 1} are not one append's: interleaved")
    rebuild(sid, entries)


async def check_missing_session(store: SessionStore) -> None:
    """A session that does not exist is ``SessionNotFoundError`` everywhere."""
    sid = _name("missing")
    for what, call in (
        ("get", store.get(sid)),
        ("load", store.load(sid)),
        ("append", store.append(sid, [], expected_head=None)),
        ("fork", store.fork(sid, new_session_id=_name("f"))),
        ("update", store.update(sid, title="x")),
        ("delete", store.delete(sid)),
        ("tool_executions", store.tool_executions(sid)),
    ):
        await _raises(SessionNotFoundError, call, f"{what}() of a missing session")


async def check_list_filters_and_order(store: SessionStore) -> None:
    """``list_sessions`` filters by working directory, tag and time, and orders."""
    cwd, tag = _name("/list"), _name("tag")
    made = []
    for n in range(3):
        info = await store.create(_name("list"), cwd=cwd, tags=[tag] if n != 1 else [])
        made.append(await _append(store, info, _turn(f"p{n}", f"a{n}")))
        await anyio.sleep(0.01)  # distinct times
    ids = [info.session_id for info, _ in made]
    listed = [i.session_id for i in await store.list_sessions(cwd=cwd)]
    _expect(listed == ids[::-1], f"list(cwd=) gave {listed}, expected newest first {ids[::-1]}")
    oldest = [i.session_id for i in await store.list_sessions(cwd=cwd, descending=False, order="created")]
    _expect(oldest == ids, f"list(descending=False) gave {oldest}")
    tagged = [i.session_id for i in await store.list_sessions(cwd=cwd, tag=tag)]
    _expect(tagged == [ids[2], ids[0]], f"list(tag=) gave {tagged}")
    limited = await store.list_sessions(cwd=cwd, limit=1)
    _expect([i.session_id for i in limited] == [ids[2]], "list(limit=1) is not the newest")
    cut = made[1][0].updated_at
    since = [i.session_id for i in await store.list_sessions(cwd=cwd, since=cut)]
    until = [i.session_id for i in await store.list_sessions(cwd=cwd, until=cut)]
    _expect(set(since) == {ids[1], ids[2]} and until == [ids[0]], f"since={since} until={until}")


async def check_fork_shares_history(store: SessionStore) -> None:
    """A fork holds the history up to its fork point and goes its own way; the original does
    not see the fork's turns; deleting the original keeps the fork whole."""
    sid = _name("orig")
    info = await store.create(sid, title="Original", cwd=_name("/fork"))
    info, first = await _append(store, info, _turn("one", "1"))
    info, second = await _append(store, info, _turn("two", "2"))
    fork_id = _name("fork")
    fork = await store.fork(sid, at_entry=first[-1].id, new_session_id=fork_id)
    _expect(fork.forked_from == sid and fork.title == "Original", f"the fork's record is {fork}")
    _expect(fork.message_count == 2, f"the fork shares 2 messages, its record says {fork.message_count}")
    fork, mine = await _append(store, fork, _turn("other", "b"))
    _, entries = await store.load(fork_id)
    _expect(entries[1 : 1 + len(first)] == first, "the fork does not start with the shared history")
    _expect(entries[-len(mine) :] == mine and not any(e in entries for e in second), "the fork holds the wrong turns")
    _, original = await store.load(sid)
    _expect(original[1:] == first + second, "the original changed when its fork was appended to")
    whole = await store.fork(sid, new_session_id=_name("fork"))
    _, copied = await store.load(whole.session_id)
    _expect(copied[:-1] == original, "a fork at the head does not hold the whole history")
    await _raises(SessionNotFoundError, store.fork(sid, at_entry="nope", new_session_id=_name("f")), "fork at no entry")
    await store.delete(sid)
    await _raises(SessionNotFoundError, store.get(sid), "get() of a deleted session")
    _, kept = await store.load(fork_id)
    _expect(kept == entries, "deleting the original broke its fork")
    rebuild(fork_id, kept)


async def check_update_and_delete(store: SessionStore) -> None:
    """Rename and tag; a deleted session is gone from everything."""
    sid, cwd = _name("upd"), _name("/upd")
    info = await store.create(sid, tags=["a"], cwd=cwd)
    await _append(store, info, _turn("zebraword here", "ok"))
    info = await store.update(sid, title="Renamed", add_tags=["b", "a"], remove_tags=["x"])
    _expect(info.title == "Renamed" and info.tags == ("a", "b"), f"update() gave {info}")
    info = await store.update(sid, remove_tags=["a"])
    _expect(info.tags == ("b",) and (await store.get(sid)).tags == ("b",), f"removing a tag gave {info.tags}")
    await store.delete(sid)
    _expect(not await store.list_sessions(cwd=cwd), "a deleted session is still listed")
    _expect(not await store.search("zebraword", cwd=cwd), "a deleted session's messages are still found")
    await _raises(SessionNotFoundError, store.load(sid), "load() of a deleted session")


async def check_search(store: SessionStore) -> None:
    """Full-text search finds messages holding every word, best first, with snippets."""
    cwd = _name("/search")
    word = "q" + uuid.uuid4().hex[:8]
    a = await store.create(_name("sa"), cwd=cwd)
    b = await store.create(_name("sb"), cwd=cwd)
    await _append(store, a, _turn(f"the {word} lighthouse keeper", "he keeps the light"))
    await _append(store, b, _turn(f"{word} {word} {word} lighthouse", "a different story", model="m2"))
    hits = await store.search(f"{word} lighthouse", cwd=cwd)
    _expect(len(hits) == 2, f"two messages hold both words, search found {len(hits)}")
    _expect(hits[0].session_id == b.session_id and hits[0].score >= hits[1].score, "search is not best first")
    _expect(all(f"[{word}]" in hit.snippet for hit in hits), f"snippets do not mark the word: {hits[0].snippet!r}")
    _expect(hits[0].role == "user", f"the hit's role is {hits[0].role!r}")
    _expect(not await store.search(f"{word} nothere{word}", cwd=cwd), "a word no message holds still matched")
    only = await store.search(word, session_id=a.session_id)
    _expect([h.session_id for h in only] == [a.session_id], "search(session_id=) looked elsewhere")
    _expect(await store.search("  ", cwd=cwd) == [], "an empty query matched")
    _expect(len(await store.search(word, cwd=cwd, limit=1)) == 1, "search(limit=1)")


async def check_stats_and_tool_executions(store: SessionStore) -> None:
    """Runs are counted per session and model; tool executions come back in order."""
    sid = _name("stats")
    info = await store.create(sid)
    execution = ToolExecution(
        session_id=sid,
        call_id="c1",
        tool="bash",
        input={"command": "ls"},
        output="a\nb",
        is_error=False,
        decision="ask",
        seconds=0.25,
        at=info.updated_at,
    )
    info, _ = await _append(store, info, _turn("one", "1"), tool_executions=[execution])
    info, _ = await _append(store, info, _turn("two", "2", model="m2"))
    total = await store.stats(session_id=sid)
    _expect(len(total) == 1 and total[0].runs == 2 and total[0].total_tokens == 30, f"stats() gave {total}")
    _expect(abs(total[0].cost_usd - 1.0) < 1e-9 and total[0].prompt_tokens == 20, f"stats() gave {total}")
    by_model = await store.stats(session_id=sid, group_by=["model"])
    _expect([(s.model, s.runs) for s in by_model] == [("m", 1), ("m2", 1)], f"stats by model gave {by_model}")
    by_day = await store.stats(session_id=sid, group_by=["session", "day"])
    _expect(len(by_day) == 1 and by_day[0].session_id == sid and by_day[0].day, f"stats by day gave {by_day}")
    ran = await store.tool_executions(sid)
    _expect(ran == [execution], f"tool_executions() gave {ran}")
    _expect((await store.get(sid)).model == "m2", "the record's model is not the last run's")


async def check_cleanup(store: SessionStore) -> None:
    """``cleanup`` deletes by age and keeps the newest when counting."""
    before = {i.session_id for i in await store.list_sessions()}
    made = [await store.create(_name("old"), cwd=_name("/cleanup")) for _ in range(2)]
    await anyio.sleep(0.01)
    cut = (await store.get(made[-1].session_id)).updated_at + 0.001
    gone = await store.cleanup(older_than=cut)
    _expect(gone >= 2, f"cleanup(older_than=) deleted {gone}")
    left = {i.session_id for i in await store.list_sessions()}
    _expect(not {m.session_id for m in made} & left, "sessions older than the cut are left")
    _expect(left <= before, "cleanup deleted nothing it should not have... or made sessions")
    fresh = [await store.create(_name("new")) for _ in range(2)]
    await store.cleanup(keep=1)
    remaining = await store.list_sessions()
    _expect([i.session_id for i in remaining] == [fresh[-1].session_id], f"cleanup(keep=1) left {remaining}")


async def check_memories(store: SessionStore) -> None:
    """Memories are kept, found by words and by embedding, listed and forgotten."""
    tag = _name("mem")
    other = _name("mem")
    await store.remember(
        "The user prefers green tea in the morning", memory_id=_name("m"), tags=[tag], vector=[1, 0, 0]
    )
    await store.remember("The deploy key lives in the vault", memory_id=_name("m"), tags=[tag], vector=[0, 1, 0])
    gone = await store.remember("Nothing to see", memory_id=_name("m"), tags=[tag], vector=[0, 0, 1])
    await store.remember("green tea elsewhere", memory_id=_name("m"), tags=[other])
    words = await store.recall("green tea", tag=tag)
    _expect([m.text for m in words][:1] == ["The user prefers green tea in the morning"], f"recall by words: {words}")
    near = await store.recall("", vector=[0.1, 0.9, 0.0], limit=2, tag=tag)
    _expect(
        [m.text for m in near] == ["The deploy key lives in the vault", "The user prefers green tea in the morning"],
        f"recall by vector: {[m.text for m in near]}",
    )
    _expect(near[0].score > near[1].score, "recall is not best first")
    _expect(near[0].vector is not None and len(near[0].vector) == 3, "the vector is not kept beside the text")
    await store.forget(gone.memory_id)
    listed = await store.memories(tag=tag)
    _expect(len(listed) == 2 and gone.memory_id not in {m.memory_id for m in listed}, f"memories() gave {listed}")
    await _raises(SessionNotFoundError, store.forget(gone.memory_id), "forget() of a forgotten memory")
    await _raises(SessionConflictError, store.remember("again", memory_id=listed[0].memory_id), "a memory id reused")


async def check_memory_vectors(store: SessionStore) -> None:
    """A recall by vector compares only vectors of the query's length (a memory embedded by
    another model, or stored without a vector, is not among its answers), keeps the tag filter,
    and gives the vector back as stored (float32)."""
    tag = _name("vec")
    near = await store.remember("near the query", memory_id=_name("m"), tags=[tag], vector=[0.6, 0.8, 0.0, 0.0])
    await store.remember("far from the query", memory_id=_name("m"), tags=[tag], vector=[0.0, 0.0, 1.0, 0.0])
    await store.remember("another model's vector", memory_id=_name("m"), tags=[tag], vector=[0.6, 0.8])
    await store.remember("no vector at all", memory_id=_name("m"), tags=[tag])
    await store.remember("near but another tag", memory_id=_name("m"), tags=[_name("vec")], vector=[0.6, 0.8, 0, 0])
    found = await store.recall("", vector=[0.6, 0.8, 0.0, 0.0], limit=10, tag=tag)
    _expect([m.text for m in found] == ["near the query", "far from the query"], f"recall by vector: {found}")
    _expect(abs(found[0].score - 1.0) < 1e-4, f"the cosine of equal vectors is {found[0].score}")
    _expect(abs(found[1].score) < 1e-4, f"the cosine of orthogonal vectors is {found[1].score}")
    back = found[0].vector
    _expect(back is not None and all(abs(a - b) < 1e-6 for a, b in zip(back, (0.6, 0.8, 0, 0), strict=True)), "vector")
    _expect(found[0].memory_id == near.memory_id, "the memory id did not come back")
    short = await store.recall("", vector=[1.0, 0.0], limit=10, tag=tag)
    _expect([m.text for m in short] == ["another model's vector"], f"recall by a 2-vector: {short}")


async def check_entries_parse_back(store: SessionStore) -> None:
    """Whatever entry kinds a turn holds come back equal (results included)."""
    sid = _name("kinds")
    info = await store.create(sid, data={"origin": "conformance"})
    info, entries = await _append(store, info, _turn("p", "a"))
    _, loaded = await store.load(sid)
    kinds = [type(e) for e in loaded]
    _expect(kinds == [MetadataEntry, MessageEntry, MessageEntry, ResultEntry], f"the log's kinds are {kinds}")
    _expect(loaded[1:] == entries, "the entries did not come back equal")
    meta = loaded[0]
    _expect(isinstance(meta, MetadataEntry) and dict(meta.data) == {"origin": "conformance"}, "metadata data lost")


SESSION_STORE_CHECKS: Final[dict[str, Check]] = {
    check.__name__.removeprefix("check_"): check
    for check in (
        check_create_and_get,
        check_append_and_load,
        check_entries_parse_back,
        check_optimistic_append,
        check_concurrent_appends,
        check_missing_session,
        check_list_filters_and_order,
        check_fork_shares_history,
        check_update_and_delete,
        check_search,
        check_stats_and_tool_executions,
        check_memories,
        check_memory_vectors,
        check_cleanup,
    )
}
"""Every check, by name (``cleanup`` last: it deletes what it finds, other data included)."""


async def check_session_store(store: SessionStore, *, cleanup: bool = False) -> None:
    """Run every check on ``store`` (open); ``AssertionError`` names the first that fails.
    ``cleanup`` deletes sessions it did not make, so it runs only when asked."""
    for name, check in SESSION_STORE_CHECKS.items():
        if name == "cleanup" and not cleanup:
            continue
        try:
            await check(store)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None
