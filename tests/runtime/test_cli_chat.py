"""``anyagent chat`` in a real pseudo-terminal, against the loopback server, under both backends:
the streamed answer, a tool call and its result, slash commands, Ctrl-C at the prompt, exit."""

from __future__ import annotations

import os
import sys

import pytest

from anyagent_httpx.testing import Reply
from tests.runtime.test_cli import WORKSPACE, server_thread

from .mock import text_stream

pexpect = pytest.importorskip("pexpect")


def _spawn(base_url: str, backend: str, *extra: str) -> object:
    return pexpect.spawn(
        sys.executable,
        ["-m", "anyagent_httpx", "chat", "--base-url", base_url, "--model", "m", "--backend", backend, *extra],
        encoding="utf-8",
        timeout=30,
        dimensions=(30, 120),
        env={**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1"},
    )


def _prompt(child: object) -> None:
    """Wait for the input line to be drawn and ready (its cursor shown again)."""
    child.expect(r">\x08?\x1b\[2C.*?\x1b\[\?25h")  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_chat_streams_answers_switches_models_and_exits(backend: str) -> None:
    replies = [
        Reply.sse(b"".join(text_stream("Bon", "jour **there**"))),
        Reply.sse(b"".join(text_stream("second ", "answer"))),
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
