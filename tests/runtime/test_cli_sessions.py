"""``anyagent run`` keeps its conversation by default and goes on with it (--resume, --continue,
--fork); ``anyagent sessions`` lists, shows, searches, exports and removes. Against the loopback
server; the default store is a temporary file (tests/conftest.py)."""

from __future__ import annotations

import json
import pathlib

import pytest

from anyagent_httpx.testing import Reply
from tests.runtime.mock import text_stream
from tests.runtime.test_cli import EXAMPLE, run_cli, server_thread


def says(text: str) -> Reply:
    return Reply.sse(b"".join(text_stream(text)))


def only_session(db: str | None = None) -> str:
    code, out, err = run_cli("sessions", *(["--db", db] if db else []), "list")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 1, out
    return lines[0].split()[0]


def test_run_keeps_the_conversation_and_resume_continue_and_fork_go_on(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    replies = [says("The keeper."), says("He lit the lamp."), says("Fork answer.")]
    with server_thread(replies) as base_url:
        endpoint = ["--base-url", base_url, "--model", "m", "--quiet"]
        assert run_cli("run", "Who lives in the lighthouse?", *endpoint)[0] == 0
        session = only_session()
        code, out, err = run_cli("run", "What did he do?", *endpoint, "--continue")
        assert code == 0, err
        assert only_session() == session
        code, _, err = run_cli("run", "And then?", *endpoint, "--resume", session, "--fork")
        assert code == 0, err
    code, out, _ = run_cli("sessions", "list")
    assert len(out.splitlines()) == 2 and "6 messages" in out and "4 messages" in out
    code, out, _ = run_cli("sessions", "show", session)
    assert out.splitlines() == [
        "user: Who lives in the lighthouse?",
        "assistant: The keeper.",
        "user: What did he do?",
        "assistant: He lit the lamp.",
    ]
    code, out, _ = run_cli("sessions", "search", "lighthouse")
    assert code == 0 and "[lighthouse]" in out and out.count("\n") == 1  # the fork shares it: found once
    code, out, _ = run_cli("sessions", "export", session)
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["session"]["session_id"] == session
    kinds = [line["kind"] for line in lines[1:]]
    assert kinds == ["metadata", "message", "message", "result", "message", "message", "result"]
    code, _, err = run_cli("sessions", "rm", session)
    assert code == 0 and "deleted" in err
    code, out, _ = run_cli("sessions", "list")
    assert len(out.splitlines()) == 1


def test_no_session_and_replay_keep_nothing(tmp_path: pathlib.Path) -> None:
    db = str(tmp_path / "s.db")
    assert run_cli("run", "--replay", str(EXAMPLE), "--quiet")[0] == 0
    with server_thread([says("hi")]) as base_url:
        assert run_cli("run", "x", "--base-url", base_url, "--model", "m", "--no-session", "--session-db", db)[0] == 0
    code, out, err = run_cli("sessions", "--db", db, "list")
    assert (code, out) == (0, "") and "no sessions" in err


def test_session_mistakes_are_reported(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli("sessions", "show", "nope")
    assert (code, err) == (2, "anyagent sessions: error: no session 'nope' in the store\n")
    code, _, err = run_cli("run", "x", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--fork")
    assert code == 2 and "--fork needs --resume ID or --continue" in err
    code, _, err = run_cli("run", "x", "--resume", "a", "--continue")
    assert code == 2 and "not allowed with argument" in err
