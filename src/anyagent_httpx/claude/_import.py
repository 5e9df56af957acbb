"""``import_session_to_store``: Claude Code's transcript files of a session, replayed into a
claude-style ``SessionStore``.

Claude Code keeps a session as ``<config>/projects/<project>/<session_id>.jsonl`` (``<config>``
is ``$CLAUDE_CONFIG_DIR``, or ``~/.claude``; ``<project>`` is the working directory's
``project_key``), its subagents' transcripts under ``<session_id>/subagents/``, each with an
``agent-<id>.meta.json`` beside it. Importing appends the lines as they are, in batches, under
the keys a live mirror would have used, so the session reads and resumes from the store (the
subagents' too, for ``get_subagent_messages_from_store``). The files are read a line at a time,
so a transcript of any size is never held whole.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any, cast

import anyio

from ._store import SessionKey, SessionStore, SessionStoreEntry, project_key_for_directory
from ._store_sessions import is_session_id

__all__ = ["import_session_to_store"]

#: The most entries, and line characters, one ``append`` is given.
BATCH_ENTRIES = 500
BATCH_CHARACTERS = 1 << 20


def _projects() -> pathlib.Path:
    config = os.environ.get("CLAUDE_CONFIG_DIR")
    return (pathlib.Path(config) if config else pathlib.Path.home() / ".claude") / "projects"


def _transcript(session_id: str, directory: str | None) -> pathlib.Path:
    """The session's transcript file: in ``directory``'s project folder, or in any."""
    projects = _projects()
    name = f"{session_id}.jsonl"
    folders = [projects / project_key_for_directory(directory)] if directory is not None else []
    if directory is None and projects.is_dir():
        folders = sorted(path for path in projects.iterdir() if path.is_dir())
    for folder in folders:
        candidate = folder / name
        if candidate.is_file() and candidate.stat().st_size > 0:
            return candidate
    where = folders[0] if directory is not None else projects
    raise FileNotFoundError(f"no transcript of session {session_id} under {where}")


async def _append_file(path: pathlib.Path, key: SessionKey, store: SessionStore, batch_size: int) -> None:
    batch: list[SessionStoreEntry] = []
    size = 0
    number = 0
    async with await anyio.open_file(path, encoding="utf-8") as lines:
        while line := await lines.readline():  # not `async for`: its generator outlives an error raised here
            number += 1
            text = line.strip()
            if not text:
                continue
            try:
                entry = json.loads(text)
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc})") from None
            if not isinstance(entry, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object, not {type(entry).__name__}")
            batch.append(cast(SessionStoreEntry, entry))
            size += len(text)
            if len(batch) >= batch_size or size >= BATCH_CHARACTERS:
                await store.append(key, batch)
                batch, size = [], 0
    if batch:
        await store.append(key, batch)


def _subagent_files(folder: pathlib.Path) -> list[pathlib.Path]:
    return sorted(path for path in folder.rglob("*.jsonl") if path.is_file())


def _metadata(transcript: pathlib.Path) -> dict[str, Any] | None:
    """The ``agent-<id>.meta.json`` beside a subagent's transcript; None when it is missing or
    is not a JSON object (the transcript is imported all the same)."""
    try:
        meta = json.loads(transcript.with_name(transcript.name.removesuffix(".jsonl") + ".meta.json").read_bytes())
    except (FileNotFoundError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


async def import_session_to_store(
    session_id: str,
    store: SessionStore,
    *,
    directory: str | None = None,
    include_subagents: bool = True,
    batch_size: int = BATCH_ENTRIES,
) -> None:
    """Append Claude Code's transcript of the session ``session_id`` (found in ``directory``'s
    project folder, or in any project's) to ``store``, ``batch_size`` lines (or 1 MiB of them)
    per ``append``; with ``include_subagents``, its subagents' transcripts too, each followed by
    its ``agent_metadata``. Raises ``ValueError`` for an id that is not a UUID or a line that is
    not a JSON object (naming the file and line), ``FileNotFoundError`` when there is no such
    transcript."""
    if not is_session_id(session_id):
        raise ValueError(f"session_id {session_id!r} is not a UUID")
    if batch_size <= 0:
        batch_size = BATCH_ENTRIES
    transcript = await anyio.to_thread.run_sync(_transcript, session_id, directory)
    project = transcript.parent.name
    main: SessionKey = {"project_key": project, "session_id": session_id}
    await _append_file(transcript, main, store, batch_size)
    if not include_subagents:
        return
    folder = transcript.with_suffix("")
    for path in await anyio.to_thread.run_sync(_subagent_files, folder / "subagents"):
        subpath = path.relative_to(folder).with_suffix("").as_posix()
        key: SessionKey = {"project_key": project, "session_id": session_id, "subpath": subpath}
        await _append_file(path, key, store, batch_size)
        meta = await anyio.to_thread.run_sync(_metadata, path)
        if meta is not None:
            await store.append(key, [cast(SessionStoreEntry, {**meta, "type": "agent_metadata"})])
