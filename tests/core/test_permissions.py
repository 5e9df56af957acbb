"""PermissionPolicy: what the rules promise, as properties over every spelling of a call.

A deny rule on a path denies every way of writing that path (relative, ``./``, ``..``
segments, doubled slashes, absolute under the working directory), for the model's input and for
an input rewritten by whoever answers *ask* alike; an allow pattern never allows a command that
runs anything but what it covers, whatever it chains, substitutes or redirects.
"""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import PermissionPolicy, PermissionRule, ToolTraits
from anyagent_core._agent._shell import simple_commands

CWD = "/srv/app"
FILES = ToolTraits(read_only=True, rule_argument="path")
EDITS = ToolTraits(edits_files=True, needs_permission=True, rule_argument="path")
SHELL = ToolTraits(needs_permission=True, rule_argument="command")
OPERATORS = (";", "&", "|", "<", ">", "`", "$(", "\n", "\r")

names = st.text(alphabet="abcxyz-_0", min_size=1, max_size=6)
inside = st.lists(names, min_size=1, max_size=3).map("/".join)  # a path below the covered directory


@st.composite
def spellings(draw: st.DrawFn, path: str) -> str:
    """``path`` (relative to CWD) written some other way that means the same file."""
    parts = path.split("/")
    out: list[str] = []
    for part in parts:
        if draw(st.booleans()):
            out.append(".")
        if draw(st.booleans()):
            out.extend([draw(names), ".."])
        out.append(part)
    text = "/".join(out)
    if draw(st.booleans()):
        text = text.replace("/", "//", 1)
    if draw(st.booleans()):
        text = "./" + text
    if draw(st.booleans()):
        text = f"{CWD}/{text}"
    return text


modes = st.sampled_from(["default", "acceptEdits", "plan", "bypassPermissions"])


@given(rest=inside, data=st.data(), mode=modes, approved=st.booleans())
def test_a_deny_rule_denies_every_spelling_of_a_path_it_covers(
    rest: str, data: st.DataObject, mode: str, approved: bool
) -> None:
    policy = PermissionPolicy(
        mode=mode,
        allowed_tools=("read_file", "edit_file"),
        disallowed_tools=("read_file(secrets/*)", "edit_file(secrets/*)"),
        cwd=CWD,
    )
    path = data.draw(spellings(f"secrets/{rest}"), label="path")
    assert posixpath.normpath(posixpath.join(CWD, path)) == posixpath.normpath(f"{CWD}/secrets/{rest}")
    for name, traits in (("read_file", FILES), ("edit_file", EDITS)):
        decision = policy.decide(name, {"path": path}, traits, approved=approved)
        assert decision.behavior == "deny", (path, decision)
        assert "secrets/*" in decision.reason


@given(rest=inside, data=st.data())
def test_a_path_outside_the_rule_is_not_denied_by_it(rest: str, data: st.DataObject) -> None:
    policy = PermissionPolicy(disallowed_tools=("read_file(secrets/*)",), cwd=CWD)
    path = data.draw(spellings(f"public/{rest}"), label="path")
    assert policy.decide("read_file", {"path": path}, FILES).behavior == "allow"


@given(
    before=st.text(max_size=12),
    after=st.text(max_size=12),
    operator=st.sampled_from(OPERATORS),
    approved=st.booleans(),
)
def test_an_allow_pattern_never_allows_an_operator_it_lacks(
    before: str, after: str, operator: str, approved: bool
) -> None:
    rule = PermissionRule.parse("bash(git status*)")
    command = f"git status{before}{operator}{after}"
    assert not rule.allows("bash", {"command": command}, SHELL)
    policy = PermissionPolicy(allowed_tools=("bash(git status*)",))
    decision = policy.decide("bash", {"command": command}, SHELL)
    assert decision.behavior in ("allow", "ask"), (command, decision)
    if decision.behavior == "allow":  # only when every command it runs is a git status, with no file redirect
        parsed = simple_commands(command)
        assert parsed.complete and parsed.commands, (command, parsed)
        for item in parsed.commands:
            assert item.exact and not item.redirects and item.text().startswith("git status"), (command, item)


@given(
    tail=st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="".join(OPERATORS) + "$'\"\\()"),
        max_size=20,
    )
)
def test_an_allow_pattern_allows_what_it_covers(tail: str) -> None:
    policy = PermissionPolicy(allowed_tools=("bash(git status*)",))
    assert policy.decide("bash", {"command": f"git status{tail}"}, SHELL).behavior == "allow"


def test_an_operator_the_pattern_writes_is_allowed_where_it_puts_it() -> None:
    policy = PermissionPolicy(allowed_tools=("bash(make build && make test)",))
    assert policy.decide("bash", {"command": "make build && make test"}, SHELL).behavior == "allow"


@pytest.mark.parametrize("mode", ["default", "acceptEdits"])
def test_approved_input_needs_no_second_question_but_stays_under_the_deny_rules(mode: str) -> None:
    policy = PermissionPolicy(mode=mode, disallowed_tools=("bash(rm *)",))
    assert policy.decide("bash", {"command": "ls"}, SHELL).behavior == "ask"
    assert policy.decide("bash", {"command": "ls"}, SHELL, approved=True).behavior == "allow"
    assert policy.decide("bash", {"command": "rm -rf x"}, SHELL, approved=True).behavior == "deny"


def test_plan_mode_refuses_approved_input_of_a_tool_that_changes_things() -> None:
    policy = PermissionPolicy(mode="plan")
    decision = policy.decide("edit_file", {"path": "a"}, EDITS, approved=True)
    assert decision.behavior == "deny" and "plan mode" in decision.reason
