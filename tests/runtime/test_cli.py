"""The ``anyagent`` command: replaying the shipped cassette, recording from the loopback server
(without the API key), errors and usage mistakes."""

from __future__ import annotations

import io
import json
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from anyio.from_thread import start_blocking_portal

from anyagent_httpx import Cassette
from anyagent_httpx._cli import main
from anyagent_httpx.testing import Reply, serve

from .mock import chunk, text_stream

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hello.jsonl"
KEY = "sk-cli-secret-0123456789"


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@contextmanager
def server_thread(replies: list[Reply]) -> Iterator[str]:
    """The loopback server on its own event loop in a thread (the command runs its own loop)."""
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(serve(replies)) as server:
        yield server.base_url


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_replay_of_the_shipped_cassette(backend: str) -> None:
    code, out, err = run_cli("run", "Hello! Who are you?", "--replay", str(EXAMPLE), "--backend", backend)
    assert code == 0, err
    assert out == "Hello! I am a tiny test model.\n"
    assert err.splitlines()[-1].startswith("done · tiny · 1 turn · ")


def test_replay_without_a_prompt_uses_the_recorded_one() -> None:
    code, out, err = run_cli("run", "--replay", str(EXAMPLE), "--quiet")
    assert (code, out, err) == (0, "Hello! I am a tiny test model.\n", "")


def test_the_installed_command_runs() -> None:
    command = pathlib.Path(sys.executable).with_name("anyagent")
    if not command.exists():
        pytest.skip(f"the console script is not installed beside {sys.executable}")
    done = subprocess.run(
        [str(command), "run", "Hello! Who are you?", "--replay", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Hello! I am a tiny test model.\n"


@pytest.mark.parametrize("transport", ["httpx", "h11"])
def test_live_run_streams_the_answer(transport: str) -> None:
    with server_thread([Reply.sse(b"".join(text_stream("Bon", "jour")), chunk_size=9)]) as base_url:
        code, out, err = run_cli("run", "hi", "--base-url", base_url, "--model", "m", "--transport", transport)
    assert code == 0, err
    assert out == "Bonjour\n"


def test_record_then_replay_without_the_key(tmp_path: pathlib.Path) -> None:
    cassette = tmp_path / "run.jsonl"
    with server_thread([Reply.sse(b"".join(text_stream("recorded ", "answer")))]) as base_url:
        code, out, err = run_cli(
            "run", "hi", "--base-url", base_url, "--model", "m", "--api-key", KEY, "--record", str(cassette)
        )
    assert code == 0, err
    assert "recorded 1 exchange" in err
    assert KEY not in cassette.read_text()
    assert len(Cassette.load(cassette).exchanges) == 1
    code, out, _ = run_cli("run", "hi", "--replay", str(cassette), "--quiet")
    assert (code, out) == (0, "recorded answer\n")


def test_a_server_error_exits_1_with_the_server_s_message() -> None:
    with server_thread([Reply.error(404, "model 'nope' not found")]) as base_url:
        code, out, err = run_cli("run", "hi", "--base-url", base_url, "--model", "nope")
    assert code == 1
    assert out == ""
    assert "NotFoundError" in err
    assert "model 'nope' not found" in err


def test_no_model_anywhere_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANY_AGENT_MODEL", raising=False)
    code, _, err = run_cli("run", "hi", "--base-url", "http://127.0.0.1:9/v1")
    assert code == 2  # a usage mistake, said in the flags' words
    assert err == "anyagent run: error: no model: give --model NAME or set ANY_AGENT_MODEL\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "hi", "--replay", "x.jsonl", "--transport", "h11"],
        ["run", "hi", "--replay", "x.jsonl", "--record", "y.jsonl"],
        ["run", "hi", "--record", "y.jsonl", "--transport", "h11"],
    ],
)
def test_conflicting_options_are_usage_errors(argv: list[str]) -> None:
    code, _, err = run_cli(*argv)
    assert code == 2
    assert "excludes" in err and err.count("\n") == 1


def test_a_missing_cassette_is_reported() -> None:
    code, _, err = run_cli("run", "hi", "--replay", "/nonexistent/cassette.jsonl")
    assert code == 2
    assert "--replay /nonexistent/cassette.jsonl: no such file" in err


# ---- agent runs ------------------------------------------------------------------------------

AGENT = ROOT / "examples" / "agent.jsonl"
WORKSPACE = ROOT / "examples" / "workspace"
LIGHTHOUSE = "Which chapter mentions the lighthouse, and what happens there?"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_readme_agent_run_replays_with_real_tools(backend: str) -> None:
    """The README's run command: the tools run on the shipped workspace, their calls and results
    show on stderr, the final answer on stdout."""
    code, out, err = run_cli(
        "run", LIGHTHOUSE, "--replay", str(AGENT), "--cwd", str(WORKSPACE),
        "--tools", "list_dir,grep,read_file", "--backend", backend,
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith('Chapter 2, "The Lighthouse"')
    assert out.count("\n") == 1
    lines = err.splitlines()
    assert '→ list_dir {"path": "chapters"}' in lines
    assert '→ read_file {"path": "chapters/02-the-lighthouse.md"}' in lines
    assert "← read_file: 1 # 2. The Lighthouse (+7 more lines; -v shows all)" in lines
    assert not any(line.startswith("← ") and "error" in line for line in lines)
    assert lines[-1].startswith("done · scripted-model · 3 turns · ")


def test_the_shipped_agent_recording_is_what_a_fresh_recording_gives() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_recordings.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "up to date" in done.stdout


@pytest.mark.parametrize(
    "name", ["agent.jsonl", *sorted(p.name for p in (ROOT / "examples" / "recordings").glob("*.jsonl"))]
)
def test_the_shipped_recordings_name_no_directory_of_the_machine_they_were_made_on(name: str) -> None:
    # Replayed from wherever the repository is cloned: a recorded --cwd would warn on every run.
    path = ROOT / "examples" / name if name == "agent.jsonl" else ROOT / "examples" / "recordings" / name
    assert "cwd" not in Cassette.load(path).meta
    assert str(ROOT) not in path.read_text(encoding="utf-8")


def test_unknown_tool_names_are_a_usage_error() -> None:
    code, _, err = run_cli("run", "x", "--tools", "read_file,nope")
    assert code == 2
    assert "unknown tool 'nope'" in err


def _bash_call(command: str) -> Reply:
    arguments = '{"command": ' + json.dumps(command) + "}"
    head = chunk(tool_calls=[{"index": 0, "id": "call_sh", "type": "function", "function": {"name": "bash"}}])
    body = chunk(tool_calls=[{"index": 0, "function": {"arguments": arguments}}])
    return Reply.sse(head + body + chunk(finish="tool_calls") + b"data: [DONE]\n\n")


@pytest.mark.parametrize("allow", [False, True])
def test_bash_needs_permission_and_allow_rules_give_it(tmp_path: pathlib.Path, allow: bool) -> None:
    """Without a terminal nobody can be asked: the command is denied unless a rule allows it."""
    replies = [_bash_call("touch made-by-bash"), Reply.sse(b"".join(text_stream("done")))]
    extra = ["--allow", "bash(touch *)"] if allow else []
    with server_thread(replies) as base_url:
        code, out, err = run_cli(
            "run", "make a file", "--base-url", base_url, "--model", "m", "--tools", "bash",
            "--cwd", str(tmp_path), *extra,
        )  # fmt: skip
    assert code == 0, err
    assert out == "done\n"
    assert (tmp_path / "made-by-bash").exists() is allow
    result_line = next(line for line in err.splitlines() if line.startswith("← bash"))
    assert ("Permission denied" in result_line) is not allow
