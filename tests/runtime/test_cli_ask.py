"""The permission question's rules without a terminal: the rule "always" keeps, the refusal
naming the flag, and the rules added (always, /allow) answering before anyone is asked. The
question on a terminal is tested in a pseudo-terminal (test_cli_run.py, test_cli_chat.py)."""

from __future__ import annotations

import io

import pytest

from anyagent_core import ToolTraits
from anyagent_httpx._cli._ask import Asker, suggest_rule
from anyagent_httpx._permissions import PermissionResultAllow, PermissionResultDeny, ToolPermissionContext

pytestmark = pytest.mark.anyio

SHELL = ToolTraits(needs_permission=True, rule_argument="command")
WRITES = ToolTraits(needs_permission=True, edits_files=True, rule_argument="path")


def _context(traits: ToolTraits) -> ToolPermissionContext:
    return ToolPermissionContext(
        tool_use_id="c1", reason="'bash' needs permission in default mode", mode="default", traits=traits
    )


@pytest.mark.parametrize(
    ("command", "rule"),
    [
        ("git status", "bash(git *)"),
        ("  ./build.sh --fast", "bash(./build.sh *)"),
        ("FOO=1 make", "bash(FOO=1 make)"),
        ("$(which rm) -rf x", None),
        ("", None),
    ],
)
def test_always_keeps_the_program_of_a_shell_command(command: str, rule: str | None) -> None:
    assert suggest_rule("bash", {"command": command}, SHELL) == rule


def test_always_keeps_the_tool_s_name_for_other_tools() -> None:
    assert suggest_rule("write_file", {"path": "notes.md", "content": "x"}, WRITES) == "write_file"


async def test_without_a_terminal_the_refusal_names_the_flag() -> None:
    asker = Asker(io.StringIO(), terminal=False)
    answer = await asker("bash", {"command": "touch made"}, _context(SHELL))
    assert isinstance(answer, PermissionResultDeny) and not answer.interrupt
    assert answer.message == (
        "'bash' needs permission in default mode, and stdin is not a terminal, so nobody was asked: "
        "--allow 'bash(touch *)' allows it"
    )
    unknown = await asker("bash", {"command": "$(which rm) x"}, _context(SHELL))
    assert isinstance(unknown, PermissionResultDeny)
    assert unknown.message.endswith("nobody was asked: an --allow RULE naming it allows it")


async def test_rules_added_answer_before_anyone_is_asked() -> None:
    asker = Asker(io.StringIO(), terminal=False)
    asker.allow("bash(touch *)")
    asker.allow("bash(touch *)")  # kept once
    assert [str(rule) for rule in asker.rules] == ["bash(touch *)"]
    assert isinstance(await asker("bash", {"command": "touch a"}, _context(SHELL)), PermissionResultAllow)
    # a wildcard never stands for a shell operator: this one is still refused
    assert isinstance(await asker("bash", {"command": "touch a; rm -rf b"}, _context(SHELL)), PermissionResultDeny)
    with pytest.raises(ValueError, match="invalid permission rule"):
        asker.allow("bash(")
