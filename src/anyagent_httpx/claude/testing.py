"""Checks for a claude-style ``SessionStore`` (claude-agent-sdk's ``claude_agent_sdk.testing``).

``await run_session_store_conformance(make_store)`` asserts what every store must do, on a fresh
store from ``make_store()`` (sync or async) for each contract: append then load gives equal
entries in order, across appends; ``append([])`` changes nothing; an unknown key loads as
``None``; subpaths and project keys are kept apart. The optional methods a store has (or not
named in ``skip_optional``) are checked too: ``list_sessions`` (main transcripts of one project,
times in milliseconds), ``list_session_summaries`` (kept by ``fold_session_summary``, on the same
clock, untouched by subagents' appends), ``delete`` (a main key takes its subkeys; a subkey
only itself) and ``list_subkeys``. A broken contract is an ``AssertionError`` saying which.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

from ._store import SessionKey, SessionStore, SessionStoreEntry, fold_session_summary, implements

__all__ = ["run_session_store_conformance"]

_OPTIONAL = frozenset({"list_sessions", "list_session_summaries", "delete", "list_subkeys"})
_KEY: SessionKey = {"project_key": "proj", "session_id": "sess"}
_SUB1: SessionKey = {**_KEY, "subpath": "subagents/agent-1"}
_SUB2: SessionKey = {**_KEY, "subpath": "subagents/agent-2"}


def _line(**fields: Any) -> SessionStoreEntry:
    """A transcript line (``type`` is required; its value does not matter to a store)."""
    return {"type": "x", **fields}  # type: ignore[typeddict-item]


def _check(ok: bool, contract: str) -> None:
    if not ok:
        raise AssertionError(f"SessionStore contract broken: {contract}")


async def run_session_store_conformance(
    make_store: Callable[[], Any],
    *,
    skip_optional: frozenset[str] = frozenset(),
) -> None:
    """Assert the contracts on stores from ``make_store`` (see the module docstring): a
    ``SessionStore``, or an awaitable of one; a store with only ``append`` and ``load`` need not
    subclass the protocol."""
    unknown = set(skip_optional) - _OPTIONAL
    if unknown:
        raise ValueError(f"skip_optional: unknown methods {sorted(unknown)}; optional are {sorted(_OPTIONAL)}")

    async def fresh() -> SessionStore:
        made = make_store()
        store: SessionStore = await made if inspect.isawaitable(made) else made
        return store

    probe = await fresh()
    has = {name: name not in skip_optional and implements(probe, name) for name in _OPTIONAL}

    store = await fresh()
    await store.append(_KEY, [_line(uuid="b", n=1), _line(uuid="a", n=2)])
    _check(await store.load(_KEY) == [_line(uuid="b", n=1), _line(uuid="a", n=2)], "load gives what was appended")

    store = await fresh()
    _check(await store.load({"project_key": "proj", "session_id": "nope"}) is None, "an unknown key loads as None")
    await store.append(_KEY, [_line(uuid="x", n=1)])
    _check(await store.load({**_KEY, "subpath": "nope"}) is None, "an unknown subpath loads as None")

    store = await fresh()
    await store.append(_KEY, [_line(uuid="z", n=1)])
    await store.append(_KEY, [_line(uuid="a", n=2), _line(uuid="m", n=3)])
    await store.append(_KEY, [_line(uuid="b", n=4)])
    expected = [_line(uuid="z", n=1), _line(uuid="a", n=2), _line(uuid="m", n=3), _line(uuid="b", n=4)]
    _check(await store.load(_KEY) == expected, "appends are kept in the order made")

    store = await fresh()
    await store.append(_KEY, [_line(uuid="a", n=1)])
    await store.append(_KEY, [])
    _check(await store.load(_KEY) == [_line(uuid="a", n=1)], "append([]) changes nothing")

    store = await fresh()
    await store.append(_KEY, [_line(uuid="m", n=1)])
    await store.append(_SUB1, [_line(uuid="s", n=1)])
    _check(await store.load(_KEY) == [_line(uuid="m", n=1)], "a subpath's entries are not the main transcript's")
    _check(await store.load(_SUB1) == [_line(uuid="s", n=1)], "a subpath keeps its own entries")

    store = await fresh()
    a: SessionKey = {"project_key": "A", "session_id": "s1"}
    b: SessionKey = {"project_key": "B", "session_id": "s1"}
    await store.append(a, [_line(origin="A")])
    await store.append(b, [_line(origin="B")])
    _check(await store.load(a) == [_line(origin="A")], "project keys are kept apart")
    _check(await store.load(b) == [_line(origin="B")], "project keys are kept apart")
    if has["list_sessions"]:
        _check(len(await store.list_sessions("A")) == 1, "list_sessions lists one project's sessions")
        _check(len(await store.list_sessions("B")) == 1, "list_sessions lists one project's sessions")

    if has["list_sessions"]:
        store = await fresh()
        for project, session in (("proj", "a"), ("proj", "b"), ("other", "c")):
            await store.append({"project_key": project, "session_id": session}, [_line(n=1)])
        listed = await store.list_sessions("proj")
        _check(sorted(s["session_id"] for s in listed) == ["a", "b"], "list_sessions gives the project's sessions")
        _check(
            all(math.isfinite(s["mtime"]) and s["mtime"] > 1e12 for s in listed),
            "list_sessions' mtime is in milliseconds since the epoch",
        )
        _check(await store.list_sessions("never-written") == [], "list_sessions of an unknown project is empty")

        store = await fresh()
        await store.append({"project_key": "proj", "session_id": "main"}, [_line(n=1)])
        await store.append({"project_key": "proj", "session_id": "main", "subpath": "subagents/a"}, [_line(n=1)])
        listed = await store.list_sessions("proj")
        _check([s["session_id"] for s in listed] == ["main"], "list_sessions leaves subpaths out")

    if has["list_session_summaries"]:
        store = await fresh()
        key: SessionKey = {"project_key": "proj", "session_id": "summed"}
        await store.append(
            key,
            [_line(timestamp="2024-01-01T00:00:00.000Z", customTitle="first"), _line(timestamp="2024-01-01T00:00:01Z")],
        )
        await store.append(key, [_line(timestamp="2024-01-01T00:00:02.000Z", customTitle="second")])
        await store.append(
            {"project_key": "other", "session_id": "elsewhere"}, [_line(timestamp="2024-01-01T00:00:00Z")]
        )
        summaries = {s["session_id"]: s for s in await store.list_session_summaries("proj")}
        _check(set(summaries) == {"summed"}, "list_session_summaries gives one project's sessions")
        summary = summaries["summed"]
        _check(math.isfinite(summary["mtime"]) and summary["mtime"] > 1e12, "a summary's mtime is in milliseconds")
        if has["list_sessions"]:
            listed_at = {s["session_id"]: s["mtime"] for s in await store.list_sessions("proj")}
            _check(summary["mtime"] >= listed_at["summed"], "a summary's mtime is on list_sessions' clock")
        _check(isinstance(summary["data"], dict), "a summary's data is a dict")
        again = fold_session_summary(summary, key, [_line(timestamp="2024-01-01T00:00:03.000Z")])
        _check(again["session_id"] == "summed" and again["mtime"] == summary["mtime"], "a summary folds again")
        await store.append({**key, "subpath": "subagents/a"}, [_line(customTitle="subagent")])
        after = {s["session_id"]: s for s in await store.list_session_summaries("proj")}
        _check(after["summed"]["data"] == summary["data"], "a subpath's appends leave the summary alone")
        _check(await store.list_session_summaries("never-written") == [], "no summaries for an unknown project")
        if has["delete"]:
            await store.delete(key)
            _check(await store.list_session_summaries("proj") == [], "delete removes the summary")

    if has["delete"]:
        store = await fresh()
        await store.delete({"project_key": "proj", "session_id": "never-written"})
        await store.append(_KEY, [_line(n=1)])
        await store.delete(_KEY)
        _check(await store.load(_KEY) is None, "a deleted key loads as None")

        store = await fresh()
        other: SessionKey = {"project_key": "proj", "session_id": "sess2"}
        other_project: SessionKey = {"project_key": "other-proj", "session_id": _KEY["session_id"]}
        for key in (_KEY, _SUB1, _SUB2, other, other_project):
            await store.append(key, [_line(n=1)])
        await store.delete(_KEY)
        _check(
            all([await store.load(k) is None for k in (_KEY, _SUB1, _SUB2)]), "deleting a session deletes its subkeys"
        )
        _check(len(await store.load(other) or []) == 1, "deleting a session leaves the others")
        _check(len(await store.load(other_project) or []) == 1, "deleting a session leaves other projects'")
        if has["list_subkeys"]:
            _check(await store.list_subkeys(_KEY) == [], "a deleted session has no subkeys")
        if has["list_sessions"]:
            listed = await store.list_sessions("proj")
            _check(_KEY["session_id"] not in [s["session_id"] for s in listed], "a deleted session is not listed")

        store = await fresh()
        for key in (_KEY, _SUB1, _SUB2):
            await store.append(key, [_line(n=1)])
        await store.delete(_SUB1)
        _check(await store.load(_SUB1) is None, "a deleted subkey loads as None")
        _check(len(await store.load(_SUB2) or []) == 1, "deleting a subkey leaves the others")
        _check(len(await store.load(_KEY) or []) == 1, "deleting a subkey leaves the main transcript")
        if has["list_subkeys"]:
            _check(await store.list_subkeys(_KEY) == ["subagents/agent-2"], "a deleted subkey is not listed")

    if has["list_subkeys"]:
        store = await fresh()
        await store.append(_KEY, [_line(n=1)])
        await store.append(_SUB1, [_line(n=1)])
        await store.append(_SUB2, [_line(n=1)])
        await store.append({"project_key": "proj", "session_id": "other", "subpath": "subagents/x"}, [_line(n=1)])
        subkeys = await store.list_subkeys(_KEY)
        _check(sorted(subkeys) == ["subagents/agent-1", "subagents/agent-2"], "list_subkeys gives the session's")

        store = await fresh()
        await store.append(_KEY, [_line(n=1)])
        _check(await store.list_subkeys(_KEY) == [], "list_subkeys leaves the main transcript out")
        _check(
            await store.list_subkeys({"project_key": "proj", "session_id": "never-written"}) == [],
            "list_subkeys of an unknown session is empty",
        )
