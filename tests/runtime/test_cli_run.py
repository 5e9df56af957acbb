"""``anyagent run``'s output: --json, a prompt from stdin, --demo, -v, the summary line, the
replay warnings, and the permission question in a real pseudo-terminal (each answer, Ctrl-C)."""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
from typing import Any

import pytest

from anyagent_httpx import AgentOptions, Cassette
from anyagent_httpx._cli import _parser
from anyagent_httpx._cli._run import RetryLines, agent_options
from anyagent_httpx.testing import Reply
from tests.runtime.test_cli import AGENT, EXAMPLE, LIGHTHOUSE, WORKSPACE, run_cli, server_thread

from .mock import text_stream, tool_stream

TOOLS = ("--cwd", str(WORKSPACE), "--tools", "list_dir,grep,read_file")


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_json_writes_one_message_a_line(backend: str) -> None:
    code, out, err = run_cli("run", LIGHTHOUSE, "--replay", str(AGENT), *TOOLS, "--json", "--backend", backend)
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    kinds = [line["type"] for line in lines]
    assert kinds[0] == "SystemMessage" and kinds[-1] == "ResultMessage"
    assert "AssistantMessage" in kinds and "UserMessage" in kinds
    assert lines[-1]["subtype"] == "success" and lines[-1]["num_turns"] == 3
    assert lines[-1]["result"].startswith('Chapter 2, "The Lighthouse"')
    assert err == ""


def test_the_prompt_may_come_from_stdin() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "anyagent_httpx", "run", "-", "--replay", str(EXAMPLE)],
        input="Hello! Who are you?\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Hello! I am a tiny test model.\n"
    assert "replaying answers recorded for" not in done.stderr


def test_demo_plays_the_shipped_recording() -> None:
    code, out, err = run_cli("run", "--demo")
    assert code == 0, err
    assert out == "Hello! I am a tiny test model.\n"
    assert err.splitlines()[-1].startswith("done · tiny · 1 turn · ~9 tokens in / ~8 out (estimated) · ")
    _, listed, _ = run_cli("sessions", "list")
    assert "Hello! Who are you?" not in listed  # a played recording is not kept as a conversation


def test_verbose_shows_tool_results_in_full() -> None:
    code, _, err = run_cli("run", LIGHTHOUSE, "--replay", str(AGENT), *TOOLS, "-v")
    assert code == 0, err
    assert "← list_dir: \n01-arrival.md\n02-the-lighthouse.md\n" in err
    # the URL the recording was made against, one line per request
    assert len(re.findall(r"^\[http\] POST http://127\.0\.0\.1:\d+/v1/chat/completions → 200$", err, re.M)) == 3
    code, _, quiet = run_cli("run", LIGHTHOUSE, "--replay", str(AGENT), *TOOLS)
    assert "← list_dir: 01-arrival.md (+2 more lines; -v shows all)" in quiet


def test_replay_warns_when_the_tools_differ() -> None:
    _, _, err = run_cli("run", LIGHTHOUSE, "--replay", str(AGENT), "--cwd", str(WORKSPACE), "--tools", "read_file")
    assert "warning: the recording was made with --tools grep,list_dir,read_file; this run offers read_file" in err
    _, _, same = run_cli("run", LIGHTHOUSE, "--replay", str(AGENT), *TOOLS)
    assert "warning" not in same


def test_replay_warns_when_the_working_directory_differs(tmp_path: pathlib.Path) -> None:
    recorded_in, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    recorded_in.mkdir()
    elsewhere.mkdir()
    cassette = tmp_path / "run.jsonl"
    with server_thread([Reply.sse(b"".join(text_stream("recorded")))]) as base_url:
        code, _, err = run_cli(
            "run", "hi", "--base-url", base_url, "--model", "m", "--cwd", str(recorded_in), "--record", str(cassette)
        )
    assert code == 0, err
    assert Cassette.load(cassette).meta == {"cwd": str(recorded_in.resolve())}
    code, out, err = run_cli("run", "hi", "--replay", str(cassette), "--cwd", str(elsewhere))
    assert (code, out) == (0, "recorded\n")
    assert f"warning: the recording was made with --cwd {recorded_in.resolve()}; this run's tools work in " in err
    _, _, same = run_cli("run", "hi", "--replay", str(cassette), "--cwd", str(recorded_in / "."))
    assert "warning" not in same
    _, _, shipped = run_cli("run", LIGHTHOUSE, "--replay", str(AGENT), *TOOLS)  # no cwd recorded: no warning
    assert "warning" not in shipped


def test_the_summary_never_says_stop_stop() -> None:
    _, _, err = run_cli("run", "--replay", str(EXAMPLE))
    summary = err.splitlines()[-1]
    assert "stop" not in summary and "[" not in summary
    assert summary.startswith("done · tiny · 1 turn · ")
    assert summary.endswith(" s")


def test_the_spinner_shows_on_a_terminal_and_stops_before_the_answer() -> None:
    """In a real pseudo-terminal: the spinner while waiting, then the answer and the summary."""
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(
        sys.executable, ["-m", "anyagent_httpx", "run", "--demo"], encoding="utf-8", timeout=60, dimensions=(24, 100)
    )
    child.expect("waiting for the model")
    child.expect("Hello! I am a tiny test model.")
    child.expect("done · tiny · 1 turn")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_the_docs_capture_renders_a_real_run() -> None:
    """docs/run-capture.svg comes from examples/capture_cli.py, which renders a real replayed run."""
    pytest.importorskip("rich")
    import runpy

    from tests.runtime.test_cli import ROOT

    capture = runpy.run_path(str(ROOT / "examples" / "capture_cli.py"))["capture"]
    svg = capture()
    assert svg.startswith("<svg") and "read_file" in svg and "Lighthouse" in svg
    assert (ROOT / "docs" / "run-capture.svg").read_text(encoding="utf-8").startswith("<svg")


def _options_of(*flags: str) -> AgentOptions:
    args = _parser().parse_args(["run", "hi", *flags])
    return agent_options(args, {}, base_url=args.base_url, model=args.model, can_use_tool=None)


def test_the_sandbox_directory_and_context_flags_reach_the_options(tmp_path: pathlib.Path) -> None:
    options = _options_of(
        "--model", "m", "--sandbox", "required", "--sandbox-network", "--add-dir", str(tmp_path),
        "--context-window", "4096", "--context-strategy", "summarize",
    )  # fmt: skip
    assert (options.sandbox, options.sandbox_network) == ("required", True)
    assert options.allowed_dirs == (str(tmp_path),)
    assert (options.context_window, options.context_strategy) == (4096, "summarize")
    default = _options_of("--model", "m")
    assert (default.sandbox, default.sandbox_network, default.allowed_dirs) == ("auto", False, ())
    assert (default.context_window, default.context_strategy) == (None, "sliding")


def test_fallback_endpoints_serve_the_run_s_model_unless_they_name_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANY_AGENT_MODEL", raising=False)
    options = _options_of(
        "--model", "m", "--api-key", "sk-main-only",
        "--fallback-endpoint", "http://b.example:8080/v1", "--fallback-endpoint", "http://c.example/v1,Qwen/Qwen3-8B",
    )  # fmt: skip
    assert [(e.base_url, e.model, e.api_key) for e in options.fallback_endpoints] == [
        ("http://b.example:8080/v1", "m", None),  # the main key stays with the main endpoint
        ("http://c.example/v1", "Qwen/Qwen3-8B", None),
    ]
    code, _, err = run_cli("run", "hi", "--base-url", "http://127.0.0.1:9/v1", "--fallback-endpoint", "http://b/v1")
    assert code == 2
    assert err.strip() == (
        "anyagent run: error: --fallback-endpoint http://b/v1: name its model (URL,MODEL) or give --model"
    )
    code, _, err = run_cli("chat", "--base-url", "http://127.0.0.1:9/v1", "--fallback-endpoint", "http://b/v1")
    assert code == 2
    assert err.strip() == (  # the command named is the one typed
        "anyagent chat: error: --fallback-endpoint http://b/v1: name its model (URL,MODEL) or give --model"
    )


def test_a_run_moves_to_the_fallback_endpoint_when_the_server_is_not_there() -> None:
    with server_thread([Reply.sse(b"".join(text_stream("from the fallback")))]) as fallback:
        code, out, err = run_cli(
            "run", "hi", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--max-retries", "0",
            "--fallback-endpoint", f"{fallback},other", "--no-session",
        )  # fmt: skip
    assert code == 0, err
    assert out == "from the fallback\n"
    retry = err.splitlines()[0]
    assert retry.startswith("[ConnectError: ") and retry.endswith(
        " · retries are off · falling back to endpoint 1, model 'other']"
    ), err


HANG = 120
"""How long an expect waits before the test fails: a bound on a hang, not on speed (on a loaded
machine a start-up alone can take many seconds); nothing here asserts how fast the CLI is."""


def _run_in_a_terminal(base_url: str, backend: str, cwd: pathlib.Path) -> Any:
    pexpect = pytest.importorskip("pexpect")
    return pexpect.spawn(
        sys.executable,
        ["-m", "anyagent_httpx", "run", "make files", "--base-url", base_url, "--model", "m",
         "--tools", "bash", "--cwd", str(cwd), "--backend", backend],
        encoding="utf-8", timeout=HANG, dimensions=(30, 120),
    )  # fmt: skip


def _bash(command: str, call_id: str) -> Reply:
    return Reply.sse(b"".join(tool_stream(call_id, "bash", [json.dumps({"command": command})])))


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize(("key", "said", "made"), [("y", "allowed once", True), ("n", "denied", False)])
def test_run_asks_on_a_terminal(backend: str, key: str, said: str, made: bool, tmp_path: pathlib.Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    replies = [_bash("touch made", "call_1"), Reply.sse(b"".join(text_stream("over")))]
    with server_thread(replies) as base_url:
        child = _run_in_a_terminal(base_url, backend, tmp_path)
        child.expect("allow bash\\?")
        child.expect('"touch made"')  # the input in full
        child.expect(r"\[y\] yes, once   \[a\] always: bash\(touch \*\)   \[n\] no")
        child.send(key)
        child.expect(f"→ {said}")
        child.expect("done · m · 2 turns")
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 0
    assert (tmp_path / "made").exists() is made


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_always_keeps_a_rule_for_the_rest_of_the_run(backend: str, tmp_path: pathlib.Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    replies = [_bash("touch one", "call_1"), _bash("touch two", "call_2"), Reply.sse(b"".join(text_stream("over")))]
    with server_thread(replies) as base_url:
        child = _run_in_a_terminal(base_url, backend, tmp_path)
        child.expect("allow bash\\?")
        child.send("a")
        child.expect(r"→ allowed from now on: bash\(touch \*\)")
        assert child.expect(["allow bash\\?", "done · m · 3 turns"]) == 1  # the second call is not asked about
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["one", "two"]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_ctrl_c_at_the_question_exits_130_with_one_line(backend: str, tmp_path: pathlib.Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    with server_thread([_bash("touch made", "call_1"), Reply.sse(b"".join(text_stream("unused")))]) as base_url:
        child = _run_in_a_terminal(base_url, backend, tmp_path)
        child.expect("Ctrl-C stops the answer")
        child.sendintr()
        child.expect("→ cancelled")
        child.expect(pexpect.EOF)  # it exits: no reader thread keeps the process alive
        child.close()
        after = child.before
    assert child.exitstatus == 130
    assert "Traceback" not in after
    lines = [line for line in after.replace("\r", "").splitlines() if line.strip()]
    assert lines == ["interrupted at the permission question: the call did not run"]
    assert not (tmp_path / "made").exists()


def test_without_a_terminal_the_refusal_names_the_allow_flag(tmp_path: pathlib.Path) -> None:
    replies = [_bash("touch made", "call_1"), Reply.sse(b"".join(text_stream("over")))]
    with server_thread(replies) as base_url:
        code, _, err = run_cli(
            "run", "make a file", "--base-url", base_url, "--model", "m", "--tools", "bash", "--cwd", str(tmp_path)
        )
    assert code == 0, err
    assert "stdin is not a terminal, so nobody was asked: --allow 'bash(touch *)' allows it" in err
    assert not (tmp_path / "made").exists()


def test_retry_lines_count_each_model_s_retries_and_name_a_move() -> None:
    lines = RetryLines()
    first = {"attempt": 2, "model": "a", "delay": 0.5, "reason": "HTTP 503", "error": "HTTP 503: busy"}
    second = {**first, "attempt": 3}
    move = {
        "attempt": 4,
        "model": "b",
        "delay": 0.0,
        "reason": "HTTP 503 (model 'a'); gave up after 2 retries; falling back to model 'b'",
        "error": "HTTP 503: busy",
        "fallback_to": "model 'b'",
        "gave_up": "gave up after 2 retries",
    }
    again = {**first, "attempt": 5, "model": "b"}
    assert [lines.line(data) for data in (first, second, move, again)] == [
        "[retry 1 · model a · HTTP 503: busy · in 0.5 s]",
        "[retry 2 · model a · HTTP 503: busy · in 0.5 s]",
        "[HTTP 503: busy · gave up after 2 retries · falling back to model 'b']",
        "[retry 1 · model b · HTTP 503: busy · in 0.5 s]",
    ]
    lines.reset()
    assert lines.line(first).startswith("[retry 1 ·")


def test_max_turns_is_said_once() -> None:
    code, _, err = run_cli("run", LIGHTHOUSE, "--replay", str(AGENT), *TOOLS, "--max-turns", "1")
    assert code == 1
    assert err.splitlines()[-1].startswith("stopped: --max-turns reached · ")
    assert "error: max_turns" not in err


def test_verbose_shows_the_requests_over_h11_too() -> None:
    with server_thread([Reply.sse(b"".join(text_stream("over h11")))]) as base_url:
        code, out, err = run_cli(
            "run", "hi", "--base-url", base_url, "--model", "m", "--transport", "h11", "-v", "--no-session"
        )
    assert (code, out) == (0, "over h11\n"), err
    assert re.findall(r"^\[http\] POST http://127\.0\.0\.1:\d+/v1/chat/completions → 200$", err, re.M)
