"""Bad input on the command line: one line naming the flag and what it allows, exit status 2,
no traceback; and connection errors naming the URL tried and the likely cause."""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys

import pytest

from tests.runtime.test_cli import EXAMPLE, run_cli

MODEL = ("--model", "m", "--base-url", "http://127.0.0.1:9/v1")

# (argv, text the one line must hold)
BAD_INPUT: list[tuple[tuple[str, ...], str]] = [
    (("run", "hi", "--max-turns", "0"), "--max-turns: must be an integer of at least 1, not 0"),
    (("run", "hi", "--max-turns", "-3"), "--max-turns: must be an integer of at least 1, not -3"),
    (("run", "hi", "--max-turns", "many"), "--max-turns: must be an integer of at least 1, not 'many'"),
    (("run", "hi", "--max-tokens", "-5"), "--max-tokens: must be an integer of at least 1, not -5"),
    (("run", "hi", "--max-tokens", "1.5"), "--max-tokens: must be an integer of at least 1, not '1.5'"),
    (("run", "hi", "--max-retries", "-1"), "--max-retries: must be an integer of at least 0, not -1"),
    (("run", "hi", "--temperature", "3"), "--temperature: must be a number from 0 to 2, not 3"),
    (("run", "hi", "--temperature", "-0.1"), "--temperature: must be a number from 0 to 2, not -0.1"),
    (("run", "hi", "--temperature", "nan"), "--temperature: must be a number from 0 to 2, not nan"),
    (("run", "hi", "--temperature", "hot"), "--temperature: must be a number from 0 to 2, not 'hot'"),
    (("run", "hi", "--allow", "bash("), "--allow: 'bash(' is not a rule"),
    (("run", "hi", "--allow", ""), "--allow: '' is not a rule"),
    (("run", "hi", "--deny", "rm *)"), "--deny: 'rm *)' is not a rule"),
    (("run", "hi", "--provider", "nosuch"), "--provider: invalid choice: 'nosuch'"),
    (("run", "hi", "--transport", "curl"), "--transport: invalid choice: 'curl'"),
    (("run", "hi", "--backend", "gevent"), "--backend: invalid choice: 'gevent'"),
    (("run", "hi", "--permission-mode", "yolo"), "--permission-mode: invalid choice: 'yolo'"),
    (("run", "hi", "--tool-mode", "magic"), "--tool-mode: invalid choice: 'magic'"),
    (("run", "hi", "--tools", "read_file,nope"), "--tools: unknown tool 'nope'"),
    (("run", "hi", "--base-url", "localhost:1234"), "--base-url: must be an http:// or https:// URL"),
    (("run", "hi", "--base-url", "ftp://host/v1"), "--base-url: must be an http:// or https:// URL"),
    (("run", "hi", "--model", " "), "--model: must be a model name, not an empty string"),
    (("run", "hi", "--fallback-model", ""), "--fallback-model: must be a model name"),
    (("run", "hi", "--api-key", ""), "--api-key: must be a key, not an empty string"),
    (("run", "hi", "--record", "/nonexistent/dir/x.jsonl"), "--record /nonexistent/dir/x.jsonl: the directory"),
    (("run", "hi", "--record", "/tmp"), "--record /tmp: is a directory"),
    (("run", "hi", "--replay", "/nonexistent/x.jsonl"), "--replay /nonexistent/x.jsonl: no such file"),
    (("run", "hi", "--replay", str(EXAMPLE), "--record", "y.jsonl"), "--replay plays a cassette back"),
    (("run", "hi", "--replay", str(EXAMPLE), "--transport", "h11"), "excludes --record and --transport h11"),
    (("run", "hi", "--record", "y.jsonl", "--transport", "h11"), "--record records through httpx"),
    (("run", "hi", "--demo", "--replay", str(EXAMPLE)), "--demo replays the shipped recording"),
    (("run", "hi", "--cwd", "/nonexistent/dir"), "--cwd /nonexistent/dir: not a directory"),
    (("run", "hi", "--skill-dir", "/nonexistent/skills"), "--skill-dir /nonexistent/skills: not a directory"),
    (("run", "hi", "--add-dir", "/nonexistent/more"), "--add-dir /nonexistent/more: not a directory"),
    (("run", "hi", "--sandbox", "maybe"), "--sandbox: invalid choice: 'maybe'"),
    (("run", "hi", "--context-window", "0"), "--context-window: must be an integer of at least 1, not 0"),
    (("run", "hi", "--context-strategy", "forget"), "--context-strategy: invalid choice: 'forget'"),
    (("run", "hi", "--fallback-endpoint", "host:8080/v1"), "--fallback-endpoint: must be an http:// or https:// URL"),
    (("run", "hi", "--fallback-endpoint", "http://b:8080/v1,"), "--fallback-endpoint: must be URL or URL,MODEL"),
    (("run", "hi", *MODEL, "--fork"), "--fork needs --resume ID or --continue"),
    (("run", "hi", "--resume", "a", "--continue"), "argument --continue: not allowed with argument --resume"),
    (("run", "hi", "--resume", "a", "--no-session"), "--resume/--continue need a session store"),
    (("run", "hi", "--json", "--show-reasoning"), "--json writes every message"),
    (("run", "hi", "--no-such-flag"), "unrecognized arguments: --no-such-flag"),
    (
        ("run", "hi", "--permision-mode", "plan"),
        "anyagent run: error: unrecognized arguments: --permision-mode plan; did you mean --permission-mode?",
    ),
    (("run", "hi", "--max-turn", "3"), "unrecognized arguments: --max-turn 3; did you mean --max-turns?"),
    (
        ("sessions", "list", "--limt", "3"),
        "anyagent sessions list: error: unrecognized arguments: --limt 3; did you mean --limit?",
    ),
    (("run", "hi", "--max-turns"), "argument --max-turns: expected one argument"),
    (("nosuchcommand",), "argument COMMAND: invalid choice: 'nosuchcommand'"),
    ((), "the following arguments are required: COMMAND"),
    (("sessions",), "the following arguments are required: ACTION"),
    (("sessions", "list", "--limit", "0"), "--limit: must be an integer of at least 1, not 0"),
    (("sessions", "show"), "the following arguments are required: ID"),
    (("sessions", "show", "nope"), "anyagent sessions: error: no session 'nope' in the store"),
    (("run", "hi", *MODEL, "--resume", "nope"), "anyagent run: error: no session 'nope' in the store"),
    (
        ("run", "hi", *MODEL, "--allow", "foo"),
        "--allow 'foo' names no tool: 'foo' is not among the tools (none: offer tools with --tools",
    ),
    (
        ("run", "hi", *MODEL, "--tools", "bash", "--deny", "Bash(rm *)"),
        "(did you mean 'bash'? names are matched exactly)",
    ),
    (
        ("run", "hi", "--base-url", "http://127.0.0.1:9/v1"),
        "error: no model: give --model NAME or set ANY_AGENT_MODEL",
    ),
    (("run", "hi", "--model", "m"), "no base URL: give --base-url URL, set ANY_AGENT_BASE_URL, or --provider"),
    (("doctor", "localhost:8080"), "anyagent doctor: error: argument URL: must be an http:// or https:// URL"),
]
if importlib.util.find_spec("trio") is None:  # the suite installs trio; the check is for users without it
    BAD_INPUT.append((("run", "hi", "--backend", "trio"), "--backend trio needs trio installed"))


def test_the_table_is_long_enough() -> None:
    assert len(BAD_INPUT) >= 30


@pytest.mark.parametrize(("argv", "message"), BAD_INPUT, ids=[" ".join(a) or "(nothing)" for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_exit_2(argv: tuple[str, ...], message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANY_AGENT_MODEL", "ANY_AGENT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    code, out, err = run_cli(*argv)
    assert code == 2, err
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert message in err, err
    assert "error:" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["run", "hi", "--allow", "bash("], ["run", "hi", "--max-tokens", "-5"]])
def test_the_installed_command_prints_no_traceback(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "anyagent_httpx", *argv], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert done.stdout == "" and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_an_empty_prompt_on_stdin_is_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "anyagent_httpx", "run", "-", *MODEL],
        input="  \n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "the prompt read from stdin (-) is empty" in done.stderr


def test_nothing_listening_names_the_url_and_the_cause() -> None:
    code, _, err = run_cli("run", "hi", *MODEL, "--max-retries", "0")
    assert code == 1
    assert "nothing is listening at http://127.0.0.1:9/v1/chat/completions" in err
    assert "(--base-url http://127.0.0.1:9/v1)" in err
    assert "Traceback" not in err


def test_a_provider_says_which_url_it_used(tmp_path: pathlib.Path) -> None:
    code, _, err = run_cli("run", "hi", "--provider", "vllm", "--model", "m", "--max-retries", "0")
    assert code == 1
    assert "--provider vllm uses http://localhost:8000/v1" in err
