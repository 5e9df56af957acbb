"""claude-agent-sdk's SessionStore protocol: InMemorySessionStore and a SQLite adapter written
here pass the conformance checks; a conversation is mirrored into a claude-style store as
transcript lines and resumed, continued and forked from that store alone; a store whose append
fails does not break the run (a MirrorErrorMessage says so)."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import pathlib
import sqlite3
import sys
import time
import uuid
from typing import Any, cast

import pytest

from anyagent_httpx import ConfigurationError, MemoryStore
from anyagent_httpx.claude import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    CompatibilityWarning,
    InMemorySessionStore,
    MirrorErrorMessage,
    ResultMessage,
    SessionKey,
    SessionListSubkeysKey,
    SessionStore,
    SessionStoreEntry,
    SessionStoreListEntry,
    TextBlock,
    _mirror,
    delete_session_via_store,
    fork_session_via_store,
    get_session_info_from_store,
    get_session_messages_from_store,
    get_subagent_messages,
    get_subagent_messages_from_store,
    import_session_to_store,
    list_sessions_from_store,
    list_subagents,
    list_subagents_from_store,
    project_key_for_directory,
    query,
    rename_session_via_store,
    tag_session_via_store,
)
from anyagent_httpx.claude.testing import run_session_store_conformance
from anyagent_httpx.testing import ReceivedRequest, Reply, serve
from tests.runtime.test_agent_end_to_end import calls, says

pytestmark = pytest.mark.anyio


class SQLiteSessionStore(SessionStore):
    """A claude-style adapter over SQLite, as a user would write one (list_session_summaries left out)."""

    def __init__(self) -> None:
        self._db = sqlite3.connect(":memory:")
        self._db.execute(
            "CREATE TABLE entries (project TEXT, session TEXT, subpath TEXT, seq INTEGER PRIMARY KEY, "
            "entry TEXT, mtime INTEGER)"
        )

    async def append(self, key: SessionKey, entries: list[SessionStoreEntry]) -> None:
        now = int(time.time() * 1000)
        rows = [(key["project_key"], key["session_id"], key.get("subpath", ""), json.dumps(e), now) for e in entries]
        with self._db:
            self._db.executemany(
                "INSERT INTO entries (project, session, subpath, entry, mtime) VALUES (?,?,?,?,?)", rows
            )

    async def load(self, key: SessionKey) -> list[SessionStoreEntry] | None:
        rows = self._db.execute(
            "SELECT entry FROM entries WHERE project=? AND session=? AND subpath=? ORDER BY seq",
            (key["project_key"], key["session_id"], key.get("subpath", "")),
        ).fetchall()
        return [json.loads(row[0]) for row in rows] or None

    async def list_sessions(self, project_key: str) -> list[SessionStoreListEntry]:
        rows = self._db.execute(
            "SELECT session, MAX(mtime) FROM entries WHERE project=? AND subpath='' GROUP BY session", (project_key,)
        )
        return [{"session_id": session, "mtime": mtime} for session, mtime in rows]

    async def delete(self, key: SessionKey) -> None:
        where, args = "project=? AND session=?", [key["project_key"], key["session_id"]]
        if key.get("subpath"):
            where, args = where + " AND subpath=?", [*args, key["subpath"]]
        with self._db:
            self._db.execute(f"DELETE FROM entries WHERE {where}", args)

    async def list_subkeys(self, key: SessionListSubkeysKey) -> list[str]:
        rows = self._db.execute(
            "SELECT DISTINCT subpath FROM entries WHERE project=? AND session=? AND subpath<>''",
            (key["project_key"], key["session_id"]),
        )
        return [row[0] for row in rows]


class Minimal:
    """Only the two required methods, not subclassing the protocol."""

    def __init__(self) -> None:
        self.kept: dict[str, list[Any]] = {}

    async def append(self, key: SessionKey, entries: list[SessionStoreEntry]) -> None:
        if entries:
            self.kept.setdefault(json.dumps(key, sort_keys=True), []).extend(entries)

    async def load(self, key: SessionKey) -> list[SessionStoreEntry] | None:
        return self.kept.get(json.dumps(key, sort_keys=True))


class Broken(InMemorySessionStore):
    def __init__(self) -> None:
        super().__init__()
        self.tries = 0

    async def append(self, key: SessionKey, entries: list[SessionStoreEntry]) -> None:
        self.tries += 1
        raise ConnectionError("the store is down")


# ---- the protocol --------------------------------------------------------------------------------


async def test_the_in_memory_store_passes_the_conformance_checks() -> None:
    await run_session_store_conformance(InMemorySessionStore)


async def test_an_adapter_over_sqlite_passes_them_sync_or_async_factory() -> None:
    async def make() -> SessionStore:
        return SQLiteSessionStore()

    await run_session_store_conformance(make)
    await run_session_store_conformance(Minimal)  # the optional contracts are skipped


async def test_the_checks_catch_a_store_that_breaks_a_contract() -> None:
    class Reversed(InMemorySessionStore):
        async def load(self, key: SessionKey) -> list[SessionStoreEntry] | None:
            found = await super().load(key)
            return None if found is None else found[::-1]

    class Leaky(InMemorySessionStore):
        async def delete(self, key: SessionKey) -> None:
            await super().delete({**key, "subpath": "subagents/agent-1"} if "subpath" not in key else key)

    with pytest.raises(AssertionError, match="load gives what was appended"):
        await run_session_store_conformance(Reversed)
    with pytest.raises(AssertionError, match="delete removes the summary"):
        await run_session_store_conformance(Leaky)
    await run_session_store_conformance(Leaky, skip_optional=frozenset({"delete"}))
    with pytest.raises(ValueError, match="unknown methods"):
        await run_session_store_conformance(Leaky, skip_optional=frozenset({"remove"}))


def test_project_keys_are_claude_codes_folder_names(tmp_path: pathlib.Path) -> None:
    assert project_key_for_directory("/home/user/my.project") == "-home-user-my-project"
    long = tmp_path / ("x" * 250)
    long.mkdir()
    key = project_key_for_directory(long)
    assert len(key) > 200 and key[:200] == project_key_for_directory(long)[:200] and key[200] == "-"
    assert project_key_for_directory(long) == key  # the same path, the same key
    assert project_key_for_directory() == project_key_for_directory(pathlib.Path.cwd())


# ---- the bridge ----------------------------------------------------------------------------------


def _model(request: ReceivedRequest) -> Reply:
    if not request.target.endswith("/chat/completions"):
        return Reply.error(404, "not found")
    messages = [m for m in request.json()["messages"] if m["role"] != "system"]
    if messages[-1]["role"] == "tool":
        return says("The file says hello.")
    prompt = messages[-1]["content"]
    if "read" in prompt:
        return calls(("r1", "Read", {"file_path": "note.txt"}))
    return says(f"You said: {prompt} ({len(messages)} messages)")


@pytest.fixture
def work(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.setenv("ANY_AGENT_SESSIONS_DB", str(tmp_path / "sessions.db"))
    monkeypatch.setenv("ANY_AGENT_MODEL", "local")
    monkeypatch.setattr(_mirror, "APPEND_BACKOFF", (0.0, 0.0))
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "note.txt").write_text("hello\n")
    return folder.resolve()


def _lines(store: InMemorySessionStore, key: SessionKey) -> list[dict[str, Any]]:
    return [dict(line) for line in store.get_entries(key)]


async def _answer(client: ClaudeSDKClient, prompt: str) -> tuple[str, list[Any]]:
    await client.query(prompt)
    got = [m async for m in client.receive_response()]
    texts = [b.text for m in got if isinstance(m, AssistantMessage) for b in m.content if isinstance(b, TextBlock)]
    return texts[-1], got


async def test_a_conversation_is_mirrored_and_resumed_from_the_store_alone(
    work: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = InMemorySessionStore()
    async with serve(_model) as server:
        monkeypatch.setenv("ANY_AGENT_BASE_URL", server.base_url)
        options = ClaudeAgentOptions(cwd=str(work), allowed_tools=["Read"], session_store=store)
        async with ClaudeSDKClient(options) as client:
            assert (await _answer(client, "please read note.txt"))[0] == "The file says hello."
            assert (await _answer(client, "hi"))[0] == "You said: hi (5 messages)"
            session_id = client.client.session_id

        key: SessionKey = {"project_key": project_key_for_directory(work), "session_id": session_id}
        lines = _lines(store, key)
        said = [line for line in lines if line["type"] in ("user", "assistant")]
        assert [(line["type"], line["message"]["role"]) for line in said] == [
            ("user", "user"),
            ("assistant", "assistant"),
            ("user", "user"),
            ("assistant", "assistant"),
            ("user", "user"),
            ("assistant", "assistant"),
        ]
        first = said[0]
        assert first["message"]["content"] == "please read note.txt" and first["parentUuid"] is None
        assert first["sessionId"] == session_id and first["cwd"] == str(work) and first["timestamp"].endswith("Z")
        assert said[1]["message"]["content"][0]["type"] == "tool_use"
        assert said[2]["message"]["content"][0]["type"] == "tool_result"
        for before, after in itertools.pairwise(lines):
            assert after["parentUuid"] == before["uuid"]  # one chain, in order
        assert {line.get("subtype") for line in lines if line["type"] == "system"} == {"result"}
        assert json.loads(json.dumps(lines)) == lines
        assert [s["session_id"] for s in await store.list_sessions(key["project_key"])] == [session_id]

        # a new client, a new local copy: the conversation comes from the store's load()
        resumed = ClaudeAgentOptions(cwd=str(work), session_store=store, resume=session_id)
        async with ClaudeSDKClient(resumed) as client:
            assert client.client.session_id == session_id
            assert (await _answer(client, "again"))[0] == "You said: again (7 messages)"
        assert len(_lines(store, key)) == len(lines) + 3  # user, assistant, result

        # continue_conversation: the project's latest session; fork_session: a new one from it
        async with ClaudeSDKClient(
            ClaudeAgentOptions(cwd=str(work), session_store=store, continue_conversation=True, fork_session=True)
        ) as client:
            forked = client.client.session_id
            assert forked != session_id
            assert (await _answer(client, "fork"))[0] == "You said: fork (9 messages)"
        fork_lines = _lines(store, {**key, "session_id": forked})
        assert [line["message"]["content"] for line in fork_lines if line["type"] == "user"][-1] == "fork"
        assert len(fork_lines) == len(lines) + 6 and all(line["sessionId"] == forked for line in fork_lines)
        assert len(_lines(store, key)) == len(lines) + 3  # the original is untouched

        # query() with resume, on a store that has only append and load
        minimal = Minimal()
        one = [m async for m in query(prompt="one", options=ClaudeAgentOptions(cwd=str(work), session_store=minimal))]
        assert isinstance(one[-1], ResultMessage)
        again = ClaudeAgentOptions(cwd=str(work), session_store=minimal, resume=one[-1].session_id)
        two = [m async for m in query(prompt="two", options=again)]
        assert isinstance(two[-1], ResultMessage) and two[-1].result == "You said: two (3 messages)"


async def test_a_store_whose_append_fails_does_not_break_the_run(
    work: pathlib.Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = Broken()
    async with serve(_model) as server:
        monkeypatch.setenv("ANY_AGENT_BASE_URL", server.base_url)
        options = ClaudeAgentOptions(cwd=str(work), session_store=store)
        async with ClaudeSDKClient(options) as client:
            text, got = await _answer(client, "hello")
            assert text == "You said: hello (1 messages)"
            assert (await _answer(client, "more"))[0] == "You said: more (3 messages)"  # the local copy holds
    assert isinstance(got[-1], ResultMessage) and not got[-1].is_error
    errors = [m for m in got if isinstance(m, MirrorErrorMessage)]
    assert errors and errors[0].subtype == "mirror_error" and errors[0].error == "the store is down"
    assert errors[0].key == {"project_key": project_key_for_directory(work), "session_id": got[-1].session_id}
    assert errors[0].data["session_id"] == got[-1].session_id
    assert store.tries % 3 == 0  # three tries for each batch
    assert "session_store.append failed" in caplog.text


async def test_resume_of_a_session_the_store_lacks_and_misconfigurations(
    work: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serve(_model) as server:
        monkeypatch.setenv("ANY_AGENT_BASE_URL", server.base_url)
        missing = ClaudeAgentOptions(cwd=str(work), session_store=InMemorySessionStore(), resume="nope")
        with pytest.raises(Exception, match="no session 'nope' in the session_store"):
            async with ClaudeSDKClient(missing):
                pass
        with pytest.raises(ConfigurationError, match="requires the store to implement list_sessions"):
            async with ClaudeSDKClient(
                ClaudeAgentOptions(cwd=str(work), session_store=Minimal(), continue_conversation=True)
            ):
                pass
        with pytest.raises(ConfigurationError, match="session_store must be a SessionStore"):
            async with ClaudeSDKClient(ClaudeAgentOptions(cwd=str(work), session_store=object())):
                pass
        # an anyagent store is used as it is
        ours = MemoryStore()
        done = [m async for m in query(prompt="x", options=ClaudeAgentOptions(cwd=str(work), session_store=ours))]
        assert isinstance(done[-1], ResultMessage)
        assert [s.session_id for s in await ours.list_sessions()] == [done[-1].session_id]


async def _session_of(prompt: str, options: ClaudeAgentOptions) -> str:
    result = [m async for m in query(prompt=prompt, options=options)][-1]
    assert isinstance(result, ResultMessage)
    return result.session_id


@pytest.mark.parametrize("make", [InMemorySessionStore, SQLiteSessionStore], ids=["summaries", "no-summaries"])
async def test_the_session_functions_read_and_change_a_claude_style_store(
    work: pathlib.Path, monkeypatch: pytest.MonkeyPatch, make: type[SessionStore]
) -> None:
    store = make()
    async with serve(_model) as server:
        monkeypatch.setenv("ANY_AGENT_BASE_URL", server.base_url)
        options = ClaudeAgentOptions(cwd=str(work), allowed_tools=["Read"], session_store=store)
        first = await _session_of("please read note.txt", options)
        second = await _session_of("hello two", options)
        here = str(work)
        listed = await list_sessions_from_store(store, directory=here)
        assert [s.session_id for s in listed] == [second, first]  # most recently written first
        assert await list_sessions_from_store(store) == []  # another project
        assert [s.session_id for s in await list_sessions_from_store(store, directory=here, offset=1)] == [first]
        info = await get_session_info_from_store(store, first, directory=here)
        assert info is not None and info.first_prompt == "please read note.txt" and info.cwd == here
        assert info.created_at is not None and info.last_modified >= info.created_at
        assert await get_session_info_from_store(store, "nope", directory=here) is None

        said = await get_session_messages_from_store(store, first, directory=here)
        assert [m.type for m in said] == ["user", "assistant", "user", "assistant"]
        assert said[0].message["content"] == "please read note.txt" and said[0].session_id == first
        assert said[3].message["content"] == [{"type": "text", "text": "The file says hello."}]
        assert [m.uuid for m in await get_session_messages_from_store(store, first, here, limit=1, offset=1)] == [
            said[1].uuid
        ]

        await rename_session_via_store(store, first, " Reading ", directory=here)
        await tag_session_via_store(store, first, "keep", directory=here)
        info = await get_session_info_from_store(store, first, directory=here)
        assert info is not None and (info.custom_title, info.summary, info.tag) == ("Reading", "Reading", "keep")
        await tag_session_via_store(store, first, None, directory=here)
        info = await get_session_info_from_store(store, first, directory=here)
        assert info is not None and info.tag is None

        fork = await fork_session_via_store(store, first, directory=here, up_to_message_id=said[1].uuid, title="Cut")
        cut = await get_session_messages_from_store(store, fork.session_id, directory=here)
        assert [m.message for m in cut] == [m.message for m in said[:2]]
        assert {m.uuid for m in cut}.isdisjoint(m.uuid for m in said)
        info = await get_session_info_from_store(store, fork.session_id, directory=here)
        assert info is not None and info.custom_title == "Cut"
        # the fork resumes: the call it cut off is answered as interrupted
        again = ClaudeAgentOptions(cwd=here, session_store=store, resume=fork.session_id)
        done = [m async for m in query(prompt="hi", options=again)][-1]
        assert isinstance(done, ResultMessage) and done.result == "You said: hi (4 messages)"

        await delete_session_via_store(store, first, directory=here)
        assert await get_session_info_from_store(store, first, directory=here) is None
        with pytest.raises(LookupError):
            await rename_session_via_store(store, first, "x", directory=here)
        with pytest.raises(NotImplementedError, match="has no list_sessions"):
            await list_sessions_from_store(cast(SessionStore, Minimal()))
        await delete_session_via_store(cast(SessionStore, Minimal()), second)  # no delete(): nothing is done


# ---- a claude-style PostgreSQL adapter (examples/claude_compat/session_stores/) -----------------

ADAPTER = (
    pathlib.Path(__file__).resolve().parents[2] / "examples/claude_compat/session_stores/postgres_session_store.py"
)


async def test_a_postgres_adapter_passes_the_checks_and_mirrors(
    anyio_backend: str, work: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if anyio_backend != "asyncio":
        pytest.skip("the adapter uses psycopg's async API, which runs on asyncio only")
    from psycopg_pool import AsyncConnectionPool

    url = os.environ.get("ANY_AGENT_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL server: set ANY_AGENT_TEST_POSTGRES_URL (.ci/postgres.sh starts one)")
    spec = importlib.util.spec_from_file_location("postgres_session_store", ADAPTER)
    assert spec is not None and spec.loader is not None
    adapter = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "postgres_session_store", adapter)
    spec.loader.exec_module(adapter)
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(url, min_size=1, max_size=4, open=False, timeout=5)
    try:
        await pool.open(wait=True, timeout=5)
    except Exception as exc:
        pytest.skip(f"the PostgreSQL server at ANY_AGENT_TEST_POSTGRES_URL is unreachable: {exc}")
    tables: list[str] = []

    async def make() -> SessionStore:
        tables.append(f"claude_store_{uuid.uuid4().hex[:12]}")
        store: SessionStore = adapter.PostgresSessionStore(pool, table=tables[-1])
        await adapter.PostgresSessionStore.create_schema(store)
        return store

    try:
        await run_session_store_conformance(make)
        store = await make()
        async with serve(_model) as server:
            monkeypatch.setenv("ANY_AGENT_BASE_URL", server.base_url)
            here = str(work)
            options = ClaudeAgentOptions(cwd=here, allowed_tools=["Read"], session_store=store)
            first = await _session_of("please read note.txt", options)
            key: SessionKey = {"project_key": project_key_for_directory(work), "session_id": first}
            lines = await store.load(key)
            assert lines is not None and [line["type"] for line in lines][:2] == ["user", "assistant"]
            said = await get_session_messages_from_store(store, first, directory=here)
            assert [m.type for m in said] == ["user", "assistant", "user", "assistant"]
            resumed = ClaudeAgentOptions(cwd=here, session_store=store, continue_conversation=True)
            done = [m async for m in query(prompt="again", options=resumed)][-1]
            assert isinstance(done, ResultMessage) and done.session_id == first
            assert done.result == "You said: again (5 messages)"
            assert [s.session_id for s in await list_sessions_from_store(store, directory=here)] == [first]
    finally:
        async with pool.connection() as connection:
            for table in tables:
                await connection.execute(f"DROP TABLE IF EXISTS {table}")
        await pool.close()


# ---- subagents --------------------------------------------------------------------------------------


def _line(kind: str, text: str, at: str, parent: str | None, session: str) -> SessionStoreEntry:
    line = {"type": kind, "uuid": at, "parentUuid": parent, "sessionId": session, "isSidechain": True}
    return cast(SessionStoreEntry, {**line, "message": {"role": kind, "content": text}})


async def test_the_subagent_functions_read_claude_code_s_subagent_transcripts_from_a_claude_style_store(
    work: pathlib.Path,
) -> None:
    store, minimal = InMemorySessionStore(), Minimal()
    session, here = str(uuid.uuid4()), str(work)
    key: SessionKey = {"project_key": project_key_for_directory(here), "session_id": session}
    for kept in (store, minimal):
        await kept.append(key, [_line("user", "review it", "m1", None, session)])
        await kept.append(
            {**key, "subpath": "subagents/agent-a1"},
            [
                _line("user", "Review main.py", "s1", None, session),
                _line("assistant", "a dead end", "s2", "s1", session),  # not on the chain to the last message
                _line("assistant", "Looks fine.", "s3", "s1", session),
                cast(SessionStoreEntry, {"type": "agent_metadata", "toolUseId": "t1", "parentAgentId": None}),
            ],
        )
    await store.append(
        {**key, "subpath": "subagents/workflows/r1/agent-b2"}, [_line("user", "nested", "n1", "n1", session)]
    )  # a line that is its own parent ends the walk

    assert await list_subagents_from_store(store, session, directory=here) == ["a1", "b2"]
    assert await list_subagents_from_store(store, session) == []  # another project
    assert await list_subagents_from_store(store, "not-a-uuid", directory=here) == []
    with pytest.raises(NotImplementedError, match="has no list_subkeys"):
        await list_subagents_from_store(cast(SessionStore, minimal), session, directory=here)

    for read in (store, cast(SessionStore, minimal)):  # without list_subkeys, at subagents/agent-<id>
        said = await get_subagent_messages_from_store(read, session, "a1", directory=here)
        assert [(m.type, m.uuid, m.message["content"]) for m in said] == [
            ("user", "s1", "Review main.py"),
            ("assistant", "s3", "Looks fine."),
        ]
        assert {(m.session_id, m.parent_tool_use_id, m.parent_agent_id) for m in said} == {(session, "t1", None)}
    assert [m.uuid for m in await get_subagent_messages_from_store(store, session, "a1", here, limit=1, offset=1)] == [
        "s3"
    ]
    assert [m.uuid for m in await get_subagent_messages_from_store(store, session, "b2", here)] == ["n1"]
    assert await get_subagent_messages_from_store(store, session, "zz", directory=here) == []
    assert await get_subagent_messages_from_store(store, session, "", directory=here) == []
    with pytest.raises(ValueError, match="must not be negative"):
        await get_subagent_messages_from_store(store, session, "a1", here, offset=-1)


async def test_anyagent_s_stores_keep_no_subagent_conversations_and_say_so() -> None:
    why = "subagents' conversations are not kept apart from their parent session's here"
    session = str(uuid.uuid4())
    with pytest.warns(CompatibilityWarning, match=f"list_subagents: {why}"):
        assert await list_subagents_from_store(MemoryStore(), session) == []
    with pytest.warns(CompatibilityWarning, match=f"get_subagent_messages: {why}"):
        assert await get_subagent_messages_from_store(MemoryStore(), session, "a1") == []
    with pytest.warns(CompatibilityWarning, match=f"list_subagents: {why}"):
        assert list_subagents(session) == []
    with pytest.warns(CompatibilityWarning, match=f"get_subagent_messages: {why}"):
        assert get_subagent_messages(session, "a1") == []
    with pytest.raises(ValueError, match="must not be negative"):
        get_subagent_messages(session, "a1", limit=-1)


# ---- import_session_to_store --------------------------------------------------------------------------


def _jsonl(path: pathlib.Path, lines: list[Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + "\n", encoding="utf-8")


async def test_import_session_to_store_replays_claude_code_s_transcript_files(
    work: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "claude-config"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config))
    session, here = str(uuid.uuid4()), str(work)
    folder = config / "projects" / project_key_for_directory(here)
    main = [_line("user", f"prompt {n}", f"m{n}", None, session) for n in range(5)]
    _jsonl(folder / f"{session}.jsonl", main)
    sub = [_line("user", "Review main.py", "s1", None, session), _line("assistant", "Fine.", "s2", "s1", session)]
    _jsonl(folder / session / "subagents" / "workflows" / "r1" / "agent-a1.jsonl", sub)
    (folder / session / "subagents" / "workflows" / "r1" / "agent-a1.meta.json").write_text(
        json.dumps({"toolUseId": "t1", "agentType": "reviewer"}), encoding="utf-8"
    )

    batches: list[int] = []

    class Counting(InMemorySessionStore):
        async def append(self, key: SessionKey, entries: list[SessionStoreEntry]) -> None:
            batches.append(len(entries))
            await super().append(key, entries)

    store = Counting()
    await import_session_to_store(session, store, batch_size=2)  # found without directory, in every project
    key: SessionKey = {"project_key": folder.name, "session_id": session}
    assert await store.load(key) == main
    assert batches[:3] == [2, 2, 1]
    said = await get_subagent_messages_from_store(store, session, "a1", directory=here)
    assert [(m.uuid, m.parent_tool_use_id) for m in said] == [("s1", "t1"), ("s2", "t1")]
    assert [s.session_id for s in await list_sessions_from_store(store, directory=here)] == [session]

    only = InMemorySessionStore()
    await import_session_to_store(session, only, directory=here, include_subagents=False)
    assert await only.load(key) == main and await list_subagents_from_store(only, session, here) == []

    with pytest.raises(ValueError, match="session_id 'nope' is not a UUID"):
        await import_session_to_store("nope", only)
    missing = str(uuid.uuid4())
    with pytest.raises(FileNotFoundError, match=f"no transcript of session {missing} under {config / 'projects'}"):
        await import_session_to_store(missing, only)
    (folder / f"{session}.jsonl").write_text('{"type": "user"}\n[1]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=rf"{session}.jsonl:2: expected a JSON object, not list"):
        await import_session_to_store(session, InMemorySessionStore(), directory=here)
    (folder / f"{session}.jsonl").write_text('{"type": "user"}\n{"type": \n', encoding="utf-8")
    with pytest.raises(ValueError, match=rf"{session}.jsonl:2: not JSON"):
        await import_session_to_store(session, InMemorySessionStore(), directory=here)
