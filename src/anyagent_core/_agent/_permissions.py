"""Permission rules as data: which tool calls run, which are refused, which need a yes.

``PermissionPolicy.decide(name, input, traits)`` is a pure function of the mode, the rules and
what the tool declares about itself (``ToolTraits``). ``ask`` goes, through the agent loop's
``AskPermission`` action, to whoever can answer (a ``can_use_tool`` callback); the loop never
calls it.

Rules are tool names, optionally with a pattern matched (``fnmatch``-style, ``*`` crossing ``/``)
against the argument the tool names in ``ToolTraits.rule_argument``: ``"read_file"`` matches every
call of ``read_file``, ``"bash(git status*)"`` the ``bash`` calls whose ``command`` starts with
``git status``, ``"edit_file(docs/*)"`` edits under ``docs/``. In ``allowed_tools`` a pattern's
wildcards never stand for shell operators (``;``, ``&``, ``|``, ``<``, ``>``, a backquote, ``$(``,
a line break): ``"bash(git status*)"`` does not allow ``git status; rm -rf x``, which is asked
about instead. Operators written in the pattern itself are allowed where it puts them. Paths are
compared with ``.`` and ``..`` folded as well: a disallowed pattern denies when either form
matches, an allowed pattern allows only when both do, so ``"edit_file(docs/*)"`` does not allow
``docs/../setup.py``.

A shell command (a tool whose rule argument is ``command``) is also read as the simple commands
it runs (``_shell.simple_commands``): a disallowed pattern denies when it matches any of them,
program resolved (``/bin/rm``, ``\\rm``, ``env rm``, ``r''m`` are ``rm``; ``"rm *"`` also names a
bare ``rm``), or when what runs cannot be known (``$x -rf /``); an allowed pattern allows only a
command line whose every word is known without running it, and ``allowed_tools`` allow one whose
every simple command matches one of its rules for that tool, none redirects to a file and no
variable is set (``PATH=. git status`` runs ``./git``).

``Read(pattern)`` and ``Edit(pattern)`` are path rules for every file-touching tool: a disallowed
``Read(secrets/**)`` denies ``read_file``, ``grep``, ``list_dir``... on those paths (and the
runtime hides them from walks), ``Edit(...)`` the tools that edit files.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from fnmatch import translate
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import attrs

# The answers made in ``_answers`` keep this module as their ``__module__``: the names their
# annotations use must be here for ``typing.get_type_hints``.
from anyagent_core._json import JSONObject  # noqa: F401
from anyagent_core._util import lazy_names, lazy_pattern
from anyagent_core.value import Value

if TYPE_CHECKING:
    from anyagent_core._agent._shell import ShellParse

    from ._answers import PermissionAllow, PermissionDecision, PermissionDeny
    from ._traits import ToolTraits

__all__ = [
    "PATH_RULE_TOOLS",
    "PERMISSION_MODES",
    "PermissionAllow",
    "PermissionDecision",
    "PermissionDeny",
    "PermissionMode",
    "PermissionPolicy",
    "PermissionRule",
    "ToolTraits",
    "protected_path",
]

PermissionMode: TypeAlias = Literal["default", "acceptEdits", "plan", "bypassPermissions"]
PERMISSION_MODES: tuple[PermissionMode, ...] = ("default", "acceptEdits", "plan", "bypassPermissions")

_SHELL_OPERATORS = (";", "&", "|", "<", ">", "`", "$(", "\n", "\r")
"""What chains, substitutes or redirects commands in a shell: an allow rule's wildcards never match them."""

PATH_RULE_TOOLS = ("Read", "Edit")
"""Rule names that apply to every file-touching tool: ``Read(secrets/**)`` to every tool that
reads, lists or searches a path (and to the edits, which read), ``Edit(...)`` to those that write."""

_PROTECTED_DIRECTORIES = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".jj",
        ".bzr",
        ".husky",
        ".circleci",
        ".buildkite",
        ".vscode",
        ".idea",
        ".devcontainer",
        ".ssh",
        ".gnupg",
        ".claude",
        ".anyagent",
        ".direnv",
    }
)
_PROTECTED_FILES = frozenset(
    {
        ".bashrc",
        ".bash_profile",
        ".bash_login",
        ".bash_logout",
        ".profile",
        ".zshrc",
        ".zshenv",
        ".zprofile",
        ".zlogin",
        ".zlogout",
        ".cshrc",
        ".tcshrc",
        ".kshrc",
        ".inputrc",
        ".envrc",
        ".gitconfig",
        ".gitmodules",
        ".gitattributes",
        ".gitlab-ci.yml",
        ".travis.yml",
        "jenkinsfile",
        "azure-pipelines.yml",
        ".pre-commit-config.yaml",
        ".npmrc",
        ".yarnrc",
        ".yarnrc.yml",
        ".pypirc",
        ".netrc",
        "bitbucket-pipelines.yml",
        ".drone.yml",
        ".mcp.json",
    }
)
_PROTECTED_PAIRS = frozenset({(".github", "workflows"), (".github", "actions"), (".gitlab", "ci"), (".config", "git")})


def protected_path(path: str, cwd: str | None = None) -> str | None:
    """Why writing ``path`` could make code run (None when it is an ordinary file): it lies in
    version control internals (``.git/``, hooks and config included), is a shell start-up file,
    an ``.env`` file, a CI definition (``.github/workflows/``, ``.gitlab-ci.yml``...) or an
    editor's or agent's settings that run commands. Compared without regard to case, ``.``
    and ``..`` folded, absolute paths by their part under ``cwd``."""
    folded = posixpath.normpath(path.replace("\\", "/")).lower()
    if cwd is not None and folded.startswith("/"):
        base = posixpath.normpath(cwd).lower().rstrip("/") + "/"
        if folded.startswith(base):
            folded = folded[len(base) :]
    parts = [part for part in folded.split("/") if part not in ("", ".")]
    for index, part in enumerate(parts):
        stripped = part.rstrip(" .")  # Windows ignores trailing dots and spaces
        if stripped in _PROTECTED_DIRECTORIES and index < len(parts) - 1:
            return f"it is inside {stripped}/, which configures code that runs"
        if index < len(parts) - 1 and (stripped, parts[index + 1]) in _PROTECTED_PAIRS:
            return f"it is inside {stripped}/{parts[index + 1]}/, which configures code that runs"
    if not parts:
        return None
    name = parts[-1].rstrip(" .")
    if name in _PROTECTED_DIRECTORIES:
        return f"{name} configures code that runs"
    if name in _PROTECTED_FILES or name == ".env" or name.startswith(".env."):
        return f"{name} configures code that runs or the environment it runs in"
    return None


_RULE = lazy_pattern(r"\s*([A-Za-z0-9_-]{1,64})\s*(?:\((.*)\))?\s*", re.DOTALL)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class PermissionRule(Value):
    """A tool name, and optionally a pattern for its ``rule_argument`` (see the module docs)."""

    tool: str
    pattern: str | None = None

    @classmethod
    def parse(cls, text: str) -> PermissionRule:
        """``"bash"`` or ``"bash(git *)"``; raises ValueError naming the rule otherwise."""
        if not isinstance(text, str):
            raise TypeError(f"a permission rule is a string like 'bash(git *)', not {type(text).__name__}")
        match = _RULE().fullmatch(text)
        if match is None:
            raise ValueError(f"invalid permission rule {text!r}: expected 'tool_name' or 'tool_name(pattern)'")
        return cls(tool=match.group(1), pattern=match.group(2))

    def matches(self, name: str, input: Mapping[str, Any], traits: ToolTraits, *, cwd: str | None = None) -> bool:
        """Whether this rule names the call, as a ``disallowed_tools`` rule denies it: the rule
        argument matches the pattern as given or with ``.``, ``..`` and doubled ``/`` folded
        (``docs/../secrets/key`` is ``secrets/key``), or, given the working directory ``cwd``
        (absolute), an absolute argument under it matches in its relative form
        (``/work/secrets/key`` is ``secrets/key`` when ``cwd`` is ``/work``)."""
        value = self._subject(name, input, traits)
        if type(value) is bool:
            return value
        assert isinstance(value, str) and self.pattern is not None
        regex = _compiled(self.pattern)
        if regex.match(value) is not None:
            return True
        if _is_shell(traits):
            return self._denies_command(_parsed(value))
        folded = posixpath.normpath(value)
        if regex.match(folded) is not None:
            return True
        if cwd is not None and folded.startswith("/"):
            base = posixpath.normpath(cwd)
            inside = folded[len(base) :].lstrip("/") if folded.startswith(base.rstrip("/") + "/") else None
            return inside is not None and regex.match(inside) is not None
        return False

    def _denies_command(self, parsed: ShellParse) -> bool:
        """As a deny rule on a shell command: any simple command it runs matches (a pattern
        ``rm *`` also names a bare ``rm``), or what runs cannot be known (a program built from an
        expansion, a glob or a brace, text the reader cannot follow)."""
        assert self.pattern is not None
        if not parsed.complete or any(command.program is None for command in parsed.commands):
            return True
        return any(_pattern_matches(self.pattern, command.text()) for command in parsed.commands)

    def allows(self, name: str, input: Mapping[str, Any], traits: ToolTraits) -> bool:
        """Whether this rule, in ``allowed_tools``, lets the call run: the rule argument matches
        the pattern both as given and folded (``docs/../setup.py`` is not under ``docs/``), and
        the wildcards stand for no shell operator (each occurs no more often than in the pattern)."""
        value = self._subject(name, input, traits)
        if type(value) is bool:
            return value
        assert isinstance(value, str) and self.pattern is not None
        if _is_shell(traits) and not _fully_known(_parsed(value)):
            return False
        regex = _compiled(self.pattern)
        if regex.match(value) is None or regex.match(posixpath.normpath(value)) is None:
            return False
        return all(value.count(operator) <= self.pattern.count(operator) for operator in _SHELL_OPERATORS)

    def _subject(self, name: str, input: Mapping[str, Any], traits: ToolTraits) -> str | bool:
        """What the pattern is matched against; ``True`` when the rule names the call without
        a pattern, ``False`` when it cannot match (another tool, no such string argument)."""
        if self.tool in PATH_RULE_TOOLS and name != self.tool:
            if not _touches_files(self.tool, traits):
                return False
            path = input.get("path", ".")
            return True if self.pattern is None else (path if isinstance(path, str) else False)
        if name != self.tool:
            return False
        if self.pattern is None:
            return True
        value = _argument(input, traits)
        return False if value is None else value

    def __str__(self) -> str:
        return self.tool if self.pattern is None else f"{self.tool}({self.pattern})"


def _argument(input: Mapping[str, Any], traits: ToolTraits) -> str | None:
    """The argument a rule's pattern is matched against; None when there is no such string (a
    pattern on a tool without a rule argument matches nothing)."""
    if traits.rule_argument is None:
        return None
    value = input.get(traits.rule_argument)
    return value if isinstance(value, str) else None


def _touches_files(rule_tool: str, traits: ToolTraits) -> bool:
    """Whether a ``Read(...)`` or ``Edit(...)`` rule applies to a tool with these traits: one
    whose rule argument is a path (``Read`` also: any read-only tool taking a ``path``)."""
    if rule_tool == "Edit":
        return traits.edits_files
    return traits.rule_argument == "path" or traits.read_only or traits.edits_files


def _is_shell(traits: ToolTraits) -> bool:
    """A tool whose rule argument is ``command`` takes a shell command line (``bash``)."""
    return traits.rule_argument == "command"


_PARSED: dict[str, ShellParse] = {}


def _parsed(command: str) -> ShellParse:
    parsed = _PARSED.get(command)
    if parsed is None:
        if len(_PARSED) > 256:
            _PARSED.clear()
        from anyagent_core._agent._shell import simple_commands  # only for rules on shell commands

        parsed = _PARSED[command] = simple_commands(command)
    return parsed


def _fully_known(parsed: ShellParse) -> bool:
    """Every simple command of a command line is known without running it: an allow rule may apply."""
    return parsed.complete and all(command.exact for command in parsed.commands)


def _pattern_matches(pattern: str, text: str) -> bool:
    """A rule pattern on one simple command; ``"rm *"`` also matches a bare ``rm``."""
    if _compiled(pattern).match(text) is not None:
        return True
    return pattern.endswith(" *") and text == pattern[:-2]


def _shell_allowed(rules: Sequence[PermissionRule], name: str, command: str) -> PermissionRule | None:
    """The first allow rule among ``rules`` under which every simple command of ``command``
    runs (each matched by one of the rules for ``name``), for a command that is fully known
    and redirects to no file, with no variable set for a program or in the shell (``PATH=.
    git status`` runs ``./git``) and no wrapper changing who or where the program runs
    (``sudo git status``, ``chroot ./fake git status``: ``SimpleCommand.reroots``); None otherwise."""
    parsed = _parsed(command)
    if not _fully_known(parsed) or not parsed.commands or parsed.assigns:
        return None
    if any(item.redirects or item.reroots for item in parsed.commands):
        return None
    patterns = [rule for rule in rules if rule.tool == name]
    if any(rule.pattern is None for rule in patterns):
        return next(rule for rule in patterns if rule.pattern is None)
    used: PermissionRule | None = None
    for item in parsed.commands:
        text = item.text()
        found = next(
            (rule for rule in patterns if rule.pattern is not None and _pattern_matches(rule.pattern, text)), None
        )
        if found is None:
            return None
        used = used or found
    return used


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        compiled = _PATTERNS[pattern] = re.compile(translate(pattern), re.DOTALL)
    return compiled


def _rules(value: Sequence[str | PermissionRule]) -> tuple[PermissionRule, ...]:
    if isinstance(value, str):
        value = (value,)
    return tuple(rule if isinstance(rule, PermissionRule) else PermissionRule.parse(rule) for rule in value)


def _mode(value: str) -> PermissionMode:
    if value not in PERMISSION_MODES:
        raise ValueError(f"unknown permission mode {value!r}; known: {', '.join(PERMISSION_MODES)}")
    return value


@attrs.frozen(kw_only=True, repr=False, eq=False)
class PermissionPolicy(Value):
    """The mode and the rules. In order: a ``disallowed_tools`` rule denies; ``plan`` mode denies
    anything not read-only; ``bypassPermissions`` allows; an ``allowed_tools`` rule allows (for
    a protected path, only a rule with a pattern that names it); read-only tools are allowed; an
    edit of a protected path (``protected_path``) is asked about, in ``acceptEdits`` too;
    ``acceptEdits`` allows file edits; tools that need permission are asked about; the rest
    (your own tools) are allowed."""

    mode: PermissionMode = attrs.field(default="default", converter=_mode)
    allowed_tools: tuple[PermissionRule, ...] = attrs.field(default=(), converter=_rules)
    disallowed_tools: tuple[PermissionRule, ...] = attrs.field(default=(), converter=_rules)
    cwd: str | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.instance_of(str)))
    """The absolute working directory relative paths are read from: a ``disallowed_tools``
    pattern also denies an absolute path under it (``read_file(secrets/*)`` denies
    ``/work/secrets/key`` when this is ``/work``)."""

    def decide(
        self, name: str, input: Mapping[str, Any], traits: ToolTraits, *, approved: bool = False
    ) -> PermissionDecision:
        """What the rules say about a call. ``approved``: whoever answers *ask* (a
        ``can_use_tool`` callback, a ``PreToolUse`` hook) wrote or approved this very input, as
        when it rewrote a call's arguments: *ask* then means *allow*, while the deny rules and
        ``plan`` mode still refuse. The same method decides for the model's input and for a
        rewritten one, so a rewrite cannot reach what the rules deny."""
        from ._answers import PermissionDecision  # the rules' answers load with the first call decided

        for rule in self.disallowed_tools:
            if rule.matches(name, input, traits, cwd=self.cwd):
                return PermissionDecision(behavior="deny", reason=f"{name!r} is disallowed by the rule {str(rule)!r}")
        if self.mode == "plan" and not traits.read_only:
            return PermissionDecision(
                behavior="deny", reason=f"plan mode allows only read-only tools, and {name!r} can change things"
            )
        if self.mode == "bypassPermissions":
            return PermissionDecision(behavior="allow", reason="bypassPermissions mode")
        protected = self._protected(input, traits)
        for rule in self.allowed_tools:
            if protected is not None and rule.pattern is None:
                continue  # a protected path needs a rule that names it
            if rule.allows(name, input, traits):
                return PermissionDecision(behavior="allow", reason=f"allowed by the rule {str(rule)!r}")
        if _is_shell(traits):
            command = _argument(input, traits)
            found = None if command is None else _shell_allowed(self.allowed_tools, name, command)
            if found is not None:
                return PermissionDecision(
                    behavior="allow", reason=f"each command is allowed by a rule, as {str(found)!r}"
                )
        if traits.read_only:
            return PermissionDecision(behavior="allow", reason=f"{name!r} is read-only")
        if protected is not None:
            if approved:
                return PermissionDecision(behavior="allow", reason="the input was approved as rewritten")
            return PermissionDecision(
                behavior="ask", reason=f"{name!r} would write {input.get('path')!r}, a protected path: {protected}"
            )
        if self.mode == "acceptEdits" and traits.edits_files:
            return PermissionDecision(behavior="allow", reason="acceptEdits mode allows file edits")
        if traits.needs_permission:
            if approved:
                return PermissionDecision(behavior="allow", reason="the input was approved as rewritten")
            return PermissionDecision(behavior="ask", reason=f"{name!r} needs permission in {self.mode} mode")
        return PermissionDecision(behavior="allow", reason=f"{name!r} needs no permission")

    def _protected(self, input: Mapping[str, Any], traits: ToolTraits) -> str | None:
        """Why this call's path is protected, for a tool that edits files (None otherwise)."""
        if not traits.edits_files:
            return None
        path = input.get(traits.rule_argument or "path")
        return protected_path(path, self.cwd) if isinstance(path, str) else None


#: The rules' answers, made on first use (``_answers``), and the tools' traits (``_traits``).
__getattr__, __dir__ = lazy_names(
    globals(),
    {
        **dict.fromkeys(("PermissionAllow", "PermissionDecision", "PermissionDeny"), "._agent._answers"),
        "ToolTraits": "._agent._traits",
    },
)
