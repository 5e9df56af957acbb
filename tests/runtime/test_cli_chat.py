"""``anyagent chat`` in a real pseudo-terminal, against the loopback server, under both backends:
the streamed answer, a tool panel, the permission question answered each way, Ctrl-C at the
prompt, at the question and during an answer, sessions, slash commands, exit."""

from __future__ import annotations

import json
import os
import pathlib
import re
import runpy
import subprocess
import sys

import pytest

from anyagent_httpx.testing import Reply
from tests.runtime.test_cli import ROOT, WORKSPACE, server_thread
from tests.runtime.test_cli_run import HANG

from .mock import chunk, text_stream, tool_stream

pexpect = pytest.importorskip("pexpect")


def _spawn(base_url: str, backend: str, *extra: str) -> object:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "anyagent_httpx", "chat", "--base-url", base_url, "--model", "m", "--backend", backend, *extra],
        encoding="utf-8",
        timeout=HANG,
        dimensions=(30, 120),
        env={**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1"},
    )
    if os.environ.get("CHAT_LOG"):
        child.logfile_read = open(os.environ["CHAT_LOG"], "a")  # noqa: SIM115
    return child


def _prompt(child: object) -> None:
    """Wait for the input line to be drawn and ready (its cursor shown again)."""
    child.expect(r">\x08?\x1b\[2C.*?\x1b\[\?25h")  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_chat_streams_switches_models_goes_on_after_a_failed_answer_and_exits(backend: str) -> None:
    replies = [
        Reply.sse(b"".join(text_stream("Bon", "jour **there**"))),
        Reply.sse(b"".join(text_stream("second ", "answer"))),
        Reply.error(400, "the model is not loaded"),
        _text("third answer"),
    ]
    with server_thread(replies) as base_url:
        child: object = _spawn(base_url, backend)
        _prompt(child)
        child.sendline("hi")  # type: ignore[attr-defined]
        child.expect("Bonjour")  # type: ignore[attr-defined]
        child.expect("done · m · 1 turn")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("/model other")  # type: ignore[attr-defined]
        child.expect("model: other")  # type: ignore[attr-defined]
        child.sendline("again")  # type: ignore[attr-defined]
        child.expect("second answer")  # type: ignore[attr-defined]
        child.expect("done · .* · 1 turn")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("/nope")  # type: ignore[attr-defined]
        child.expect("unknown command /nope")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("this one fails")  # type: ignore[attr-defined]
        child.expect("error: BadRequestError: .*the model is not loaded")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("and this one works")  # type: ignore[attr-defined]
        child.expect("third answer")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendintr()  # type: ignore[attr-defined]
        child.expect("Ctrl-C again to exit")  # type: ignore[attr-defined]
        child.sendline("/exit")  # type: ignore[attr-defined]
        child.expect(pexpect.EOF)  # type: ignore[attr-defined]
        child.close()  # type: ignore[attr-defined]
        assert child.exitstatus == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_ctrl_c_twice_at_the_prompt_exits(backend: str) -> None:
    with server_thread([Reply.sse(b"".join(text_stream("unused")))]) as base_url:
        child: object = _spawn(base_url, backend, "--cwd", str(WORKSPACE))
        _prompt(child)
        child.sendintr()  # type: ignore[attr-defined]
        child.expect("Ctrl-C again to exit")  # type: ignore[attr-defined]
        child.sendintr()  # type: ignore[attr-defined]
        child.expect(pexpect.EOF)  # type: ignore[attr-defined]
        child.close()  # type: ignore[attr-defined]
        assert child.exitstatus == 0  # type: ignore[attr-defined]


def _bash(command: str, call_id: str) -> Reply:
    """The model asks for one bash call."""
    return Reply.sse(b"".join(tool_stream(call_id, "bash", [json.dumps({"command": command})])))


def _text(*pieces: str) -> Reply:
    return Reply.sse(b"".join(text_stream(*pieces)))


def _exit(child: object) -> None:
    """/exit leaves with status 0 (no thread left keeping the process alive)."""
    child.sendline("/exit")  # type: ignore[attr-defined]
    child.expect(pexpect.EOF)  # type: ignore[attr-defined]
    child.close()  # type: ignore[attr-defined]
    assert child.exitstatus == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_tool_call_is_a_panel_with_the_result_s_head(backend: str, tmp_path: pathlib.Path) -> None:
    replies = [_bash("printf 'one\\ntwo\\nthree\\nfour\\nfive\\nsix\\n'", "call_1"), _text("printed")]
    with server_thread(replies) as base_url:
        child: object = _spawn(
            base_url, backend, "--tools", "bash", "--cwd", str(tmp_path), "--allow", "bash(printf *)"
        )
        _prompt(child)
        child.sendline("print some lines")  # type: ignore[attr-defined]
        child.expect("╭─[^\\n]*bash")  # type: ignore[attr-defined]
        child.expect("printf 'one")  # type: ignore[attr-defined]
        child.expect("four")  # type: ignore[attr-defined]
        child.expect("2 more lines · /expand shows all")  # type: ignore[attr-defined]
        child.expect("printed")  # type: ignore[attr-defined]
        child.expect(r"done · m · 2 turns · ~[\d,]+ tokens in / ~[\d,]+ out \(estimated\) · first token [\d.]+ s · ")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("/expand")  # type: ignore[attr-defined]
        child.expect("five")  # type: ignore[attr-defined]
        child.expect("six")  # type: ignore[attr-defined]
        _prompt(child)
        _exit(child)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_permission_question_answered_each_way(backend: str, tmp_path: pathlib.Path) -> None:
    """y runs the call once, n refuses it, a keeps a rule (the next call is not asked about),
    Ctrl-C refuses it and stops the answer; the line typed next reaches the prompt."""
    replies = [
        _bash("touch once", "call_1"), _text("ran"),
        _bash("touch refused", "call_2"), _text("not run"),
        _bash("touch always-1", "call_3"), _text("ran"),
        _bash("touch always-2", "call_4"), _text("ran again"),
        _bash("mkdir cancelled", "call_5"),
        _text("after the question"),
    ]  # fmt: skip
    with server_thread(replies) as base_url:
        child: object = _spawn(base_url, backend, "--tools", "bash", "--cwd", str(tmp_path))
        for prompt, key, said in [("one", "y", "allowed once"), ("two", "n", "denied")]:
            _prompt(child)
            child.sendline(prompt)  # type: ignore[attr-defined]
            child.expect("allow bash\\?")  # type: ignore[attr-defined]
            child.expect("needs permission")  # type: ignore[attr-defined]
            child.expect(r"\[y\] yes, once   \[a\] always: bash\(touch \*\)   \[n\] no")  # type: ignore[attr-defined]
            child.send(key)  # type: ignore[attr-defined]
            child.expect(f"→ {said}")  # type: ignore[attr-defined]
            child.expect("done · m · 2 turns")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("three")  # type: ignore[attr-defined]
        child.expect("allow bash\\?")  # type: ignore[attr-defined]
        child.expect("\\(Ctrl-C stops the answer\\)")  # type: ignore[attr-defined]
        child.send("a")  # type: ignore[attr-defined]
        child.expect(r"→ allowed from now on: bash\(touch \*\)")  # type: ignore[attr-defined]
        child.expect("done · m · 2 turns")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("four")  # type: ignore[attr-defined]
        assert child.expect(["allow bash\\?", "ran again"]) == 1  # type: ignore[attr-defined]
        child.expect("done · m · 2 turns")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("five")  # type: ignore[attr-defined]
        child.expect("\\(Ctrl-C stops the answer\\)")  # type: ignore[attr-defined]
        child.sendintr()  # type: ignore[attr-defined]
        child.expect("→ cancelled")  # type: ignore[attr-defined]
        child.expect("stopped at the permission question")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("six")  # type: ignore[attr-defined]
        child.expect("done · m · 1 turn")  # type: ignore[attr-defined]
        _prompt(child)
        _exit(child)
    made = sorted(path.name for path in tmp_path.iterdir())
    assert made == ["always-1", "always-2", "once"]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_ctrl_c_during_an_answer_returns_to_the_prompt(backend: str) -> None:
    slow = Reply.sse(b"".join(text_stream("partial ", "more ", "and more ", "the end")), chunk_size=80, delay=1.0)
    with server_thread([slow, _text("second answer")]) as base_url:
        child: object = _spawn(base_url, backend)
        _prompt(child)
        child.sendline("hi")  # type: ignore[attr-defined]
        child.expect("waiting for the model…")  # type: ignore[attr-defined]
        child.expect("partial")  # type: ignore[attr-defined]
        child.sendintr()  # type: ignore[attr-defined]
        child.expect("\\(interrupted\\)")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("again")  # type: ignore[attr-defined]
        child.expect("second answer")  # type: ignore[attr-defined]
        child.expect("done · m · 1 turn")  # type: ignore[attr-defined]
        _prompt(child)
        _exit(child)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sessions_are_kept_listed_and_resumed(backend: str) -> None:
    with server_thread([_text("first answer"), _text("after resuming")]) as base_url:
        child: object = _spawn(base_url, backend)
        _prompt(child)
        child.sendline("remember the lighthouse")  # type: ignore[attr-defined]
        child.expect("done · m · 1 turn")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("/sessions")  # type: ignore[attr-defined]
        child.expect(r"\* ([0-9a-f-]{36})  .*  +2 messages  remember the lighthouse")  # type: ignore[attr-defined]
        session_id = child.match.group(1)  # type: ignore[attr-defined]
        child.expect("/resume ID goes on with one")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("/clear")  # type: ignore[attr-defined]
        child.expect("a new conversation \\(session ")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("/resume no-such-session")  # type: ignore[attr-defined]
        child.expect("/resume: ")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline(f"/resume {session_id}")  # type: ignore[attr-defined]
        child.expect(f"resumed {session_id}: 2 messages")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("go on")  # type: ignore[attr-defined]
        child.expect("after resuming")  # type: ignore[attr-defined]
        child.expect("done · m · 1 turn")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("/exit")  # type: ignore[attr-defined]
        child.expect(f"kept as session {session_id}")  # type: ignore[attr-defined]
        child.expect(pexpect.EOF)  # type: ignore[attr-defined]
        child.close()  # type: ignore[attr-defined]
        assert child.exitstatus == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_reasoning_folds_and_slash_commands(backend: str) -> None:
    thinking = Reply.sse(chunk(reasoning_content="I weigh the two options") + b"".join(text_stream("the answer")))
    replies = [thinking, _text("A summary: we talked."), _text("after the summary")]
    with server_thread(replies) as base_url:
        child: object = _spawn(base_url, backend, "--tools", "read_file", "--cwd", str(WORKSPACE))
        _prompt(child)
        child.sendline("choose")  # type: ignore[attr-defined]
        child.expect("reasoning, 5 words \\(/reasoning shows it\\)")  # type: ignore[attr-defined]
        child.expect("the answer")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("/reasoning")  # type: ignore[attr-defined]
        child.expect("reasoning: shown")  # type: ignore[attr-defined]
        child.expect("I weigh the two options")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("/help")  # type: ignore[attr-defined]
        child.expect("/resume ID")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("/tools")  # type: ignore[attr-defined]
        child.expect("tools: read_file")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("/allow bash(")  # type: ignore[attr-defined]
        child.expect("is not a rule")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("/allow bash(git *)")  # type: ignore[attr-defined]
        child.expect("allowed without asking: bash\\(git \\*\\)")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("/cost")  # type: ignore[attr-defined]
        child.expect("1 answer · ~[\\d,]+ tokens in / ~[\\d,]+ out · \\$0.0000")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("/compact")  # type: ignore[attr-defined]
        child.expect("A summary: we talked.")  # type: ignore[attr-defined]
        child.expect("compacted: 2 messages → the summary")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("next")  # type: ignore[attr-defined]
        child.expect("after the summary")  # type: ignore[attr-defined]
        _prompt(child)
        child.sendline("/frobnicate")  # type: ignore[attr-defined]
        child.expect("unknown command /frobnicate; /help lists them")  # type: ignore[attr-defined]
        _prompt(child)
        _exit(child)


def _timeless(svg: str) -> str:
    """An SVG capture without what changes from run to run: the times and the ids made from them."""
    svg = re.sub(r"\d+\.\d+&#160;s", "T", svg)
    return re.sub(r"terminal-\d+", "terminal", svg)


def test_the_docs_capture_is_a_real_chat_with_a_tool_panel() -> None:
    """docs/chat-capture.svg is what examples/capture_chat.py renders now (times aside): the
    chat's own display drawing a real read_file call, its panel and the answer."""
    pytest.importorskip("rich")
    svg = runpy.run_path(str(ROOT / "examples" / "capture_chat.py"))["capture"]()
    assert svg.startswith("<svg")
    for shown in (
        "read_file",
        "02-the-lighthouse.md",
        "/expand&#160;shows&#160;all",
        "blue&#160;scarf",
        "first&#160;token",
    ):
        assert shown in svg
    committed = (ROOT / "docs" / "chat-capture.svg").read_text(encoding="utf-8")
    assert _timeless(committed) == _timeless(svg), (
        "run examples/capture_chat.py to bring docs/chat-capture.svg up to date"
    )


def test_without_a_terminal_chat_writes_plain_lines_and_refuses_naming_the_flag(tmp_path: pathlib.Path) -> None:
    """Lines piped in: no rich, no prompt_toolkit, nobody to ask (the refusal names --allow)."""
    replies = [_bash("touch made\nprintf 'x\\ny\\n'", "call_1"), _text("could ", "not")]
    with server_thread(replies) as base_url:
        done = subprocess.run(
            [sys.executable, "-m", "anyagent_httpx", "chat", "--base-url", base_url, "--model", "m",
             "--tools", "bash", "--cwd", str(tmp_path)],
            input="make a file\n/nope\n/exit\n", capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "could not\n"
    assert '→ bash {"command": "touch made\\nprintf \'x\\\\ny\\\\n\'"}\n' in done.stderr
    assert "nobody was asked: --allow 'bash(touch *)' allows it" in done.stderr
    assert "unknown command /nope; /help lists them\n" in done.stderr
    assert "done · m · 2 turns" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "made").exists()
