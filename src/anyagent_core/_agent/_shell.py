"""A shell command line as the simple commands it runs, for the permission rules on ``bash``.

``simple_commands(text)`` reads a command line the way a POSIX shell splits it (quotes,
backslashes, ``;``, ``&&``, ``||``, ``|``, ``&``, line breaks, subshells, ``$(...)``, backquotes,
``<(...)``, redirections, comments) and returns every simple command it would run, the ones inside
substitutions included (in a parameter expansion's word too, ``${x:-$(rm x)}``, and in an array
subscript the shell evaluates however quoted, ``test -v 'a[$(rm x)]'``), each with its *program*:
the name it runs once leading variable assignments, wrappers that run their arguments (``env``,
``command``, ``exec``, ``sudo``, ``nice``...), reserved words (``if``, ``then``, ``do``,
``time -p``, ``coproc NAME {``...) and a directory prefix (``/bin/``) are stripped, and quotes and
backslashes removed (``r''m`` and ``\\rm`` are ``rm``). The ``-c`` argument of a shell (``sh -c``,
``bash -ec``, ``sh -c -- ...``, ``su -c``), ``eval``'s, an alias's value, a trap's action and
``watch``'s arguments (run with ``sh -c``) are read as command lines too, and a function's body
(``function f { ...; }``) as commands.

What is not known without running the shell is marked, never guessed: a word built from an
expansion (``$x``, ``${x}``, ``$(...)``, a backquote) is not ``exact``, a program name with one,
with a glob or with a brace (``{rm,x}``, ``r{m,}``) is ``None``, and text the reader cannot
follow (an unclosed quote, a here-document) makes ``ShellParse.complete`` false. Pure: no I/O.
"""

from __future__ import annotations

import posixpath
import re
from typing import Literal

import attrs

from anyagent_core.value import Value

__all__ = ["ShellParse", "SimpleCommand", "Word", "simple_commands"]


@attrs.frozen(repr=False, eq=False)
class Word(Value):
    """One word of a command, quotes and backslashes removed."""

    text: str
    exact: bool = True
    """False when part of it comes from an expansion the shell makes at run time."""
    glob: bool = False
    """It has an unquoted ``*``, ``?`` or ``[`` (the shell may replace it with file names) or
    ``{`` (a brace expansion: ``r{m,}`` runs ``rm``)."""


@attrs.frozen(repr=False, eq=False)
class SimpleCommand(Value):
    """A command the shell runs: its words, and what they come down to."""

    words: tuple[Word, ...]
    program: str | None
    """The program's name, wrappers and directory stripped; None when it cannot be known."""
    arguments: tuple[Word, ...]
    """The words after the program."""
    redirects: bool = False
    """It redirects input or output to a file (``>``, ``<``, ``>>``; not ``2>&1`` nor ``/dev/null``)."""
    assigns: bool = False
    """It sets variables for the program, before it or through a wrapper (``PATH=. git``,
    ``env LD_PRELOAD=x.so git``): what runs, and how, may then not be what its name says."""
    reroots: bool = False
    """A wrapper runs the program as another user, under another root or in other namespaces
    (``sudo``, ``chroot ./fake``, ``nsenter``, ``systemd-run``...), or as a ``busybox`` applet:
    the program of that name, run so, is not the command a rule on its name vouches for."""

    @property
    def exact(self) -> bool:
        """Every word, program and arguments, is known without running anything."""
        return self.program is not None and all(word.exact for word in self.arguments)

    def text(self) -> str:
        """The program and its arguments, space-separated: what rule patterns are matched against."""
        return " ".join([self.program or "", *(word.text for word in self.arguments)])


@attrs.frozen(repr=False, eq=False)
class ShellParse(Value):
    """The simple commands of a command line, and whether the reader followed all of it."""

    commands: tuple[SimpleCommand, ...]
    complete: bool
    assigns: bool = False
    """Some command sets variables for its program, or a statement sets shell variables
    (``PATH=.; git status`` runs ``./git``)."""


_OPERATORS = ("&&", "||", ";;", ";&", "|&", ";", "&", "|", "(", ")", "\n")
_REDIRECTS = ("<<<", "<<-", "<<", "&>>", "&>", ">>", ">&", "<&", "<>", ">|", ">", "<")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\[[^]]*\])?\+?=")
_RESERVED = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{", "time", "coproc"})
_NOT_COMMANDS = frozenset({"fi", "done", "esac", "}", "for", "select", "case", "in"})
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "su", "runuser"})
"""Programs whose ``-c`` argument is a command line (``su -c`` runs it in the user's shell;
``runuser`` without ``-c`` runs a program as another user, not read here, so it is unknown)."""
_SHELL_OPTIONS_WITH_VALUE = frozenset({"-o", "+o", "-O", "+O", "--rcfile", "--init-file"})
_WRAPPERS: dict[str, frozenset[str]] = {
    # wrapper: its options that take a value as the next word
    "env": frozenset({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"}),
    "command": frozenset(),
    "builtin": frozenset(),
    "exec": frozenset({"-a"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "nohup": frozenset(),
    "sudo": frozenset({"-u", "--user", "-g", "--group", "-C", "-D", "--chdir", "-h", "--host", "-p", "--prompt"}),
    "doas": frozenset({"-u", "-C"}),
    "time": frozenset({"-f", "--format", "-o", "--output"}),
    "timeout": frozenset({"-s", "--signal", "-k", "--kill-after"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
    "ionice": frozenset({"-c", "-n", "-p"}),
    "setsid": frozenset(),
    "xargs": frozenset({"-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s", "--delimiter", "--max-args"}),
    "chrt": frozenset(),
    "taskset": frozenset(),
    "unbuffer": frozenset(),
    "watch": frozenset({"-n", "--interval", "-d"}),
    "strace": frozenset({"-e", "-o", "-p", "-s", "-u"}),
    "busybox": frozenset(),  # busybox rm: the applet is the program
    "chroot": frozenset({"--userspec", "--groups"}),
    "flock": frozenset({"-w", "--timeout", "-E", "--conflict-exit-code"}),
    "nsenter": frozenset({"-t", "--target", "-S", "--setuid", "-G", "--setgid"}),
    "unshare": frozenset(
        {"-S", "--setuid", "-G", "--setgid", "-R", "--root", "-w", "--wd", "--propagation"}
        | {"--map-user", "--map-group", "--map-users", "--map-groups", "--monotonic", "--boottime"}
    ),
    "setpriv": frozenset(
        {"--reuid", "--regid", "--ruid", "--rgid", "--euid", "--egid", "--groups", "--inh-caps"}
        | {"--ambient-caps", "--bounding-set", "--securebits", "--pdeathsig", "--selinux-label"}
        | {"--apparmor-profile", "--landlock-access", "--landlock-rule"}
    ),
    "systemd-run": frozenset(
        {"-u", "--unit", "-p", "--property", "--description", "--slice", "--uid", "--gid", "--nice"}
        | {"-M", "--machine", "-H", "--host", "--working-directory", "-E", "--setenv", "--service-type"}
        | {"--on-active", "--on-boot", "--on-startup", "--on-unit-active", "--on-unit-inactive"}
        | {"--on-calendar", "--timer-property", "--path-property", "--socket-property"}
    ),
    "flatpak-spawn": frozenset(),
    "pkexec": frozenset({"--user"}),
    "run0": frozenset({"-u", "--user", "-g", "--group", "-D", "--chdir", "-M", "--machine", "--setenv"}),
    "fakeroot": frozenset({"-l", "--lib", "--faked", "-s", "-i"}),
    "fakechroot": frozenset({"-l", "--lib", "-d", "--elfloader", "-e", "--environment", "-c", "--config-dir"}),
    "firejail": frozenset(),
}
_REROOTING = frozenset(
    {"sudo", "doas", "chroot", "nsenter", "unshare", "setpriv", "systemd-run", "flatpak-spawn", "pkexec"}
    | {"run0", "fakeroot", "fakechroot", "firejail", "busybox"}
)
"""Wrappers that run their program as another user, under another root, in other namespaces or
outside the caller's confinement (``systemd-run --user``, ``flatpak-spawn --host``), and
``busybox``, whose applets are not the programs of their names: an allow rule on the program
does not vouch for it run so (``SimpleCommand.reroots``); a deny rule still sees through them."""
_POSITIONAL = {"timeout": 1, "chrt": 1, "taskset": 1, "chroot": 1, "flock": 1}  # values before the program
_COMMAND_LINE_OPTIONS = {"env": ("-S", "--split-string"), "flock": ("-c", "--command")}
"""Wrapper options whose value is a command line of its own (``env -S 'rm x'``, also within a
cluster of short options: ``env -iS'rm x'``): what runs is not read from it, so the program
counts as unknown."""
_EVALUATING_BUILTINS = frozenset(
    {"test", "printf", "let", "read", "declare", "typeset", "local", "export", "readonly", "unset", "mapfile"}
    | {"readarray"}
)
"""Builtins that evaluate their arguments as variable names or arithmetic, in which an array
subscript runs a command substitution even when quoted (``test -v 'a[$(rm x)]'``); a leading
assignment's subscript runs so too (``a['$(rm x)']=1``), and its value's later
(``x='a[$(rm x)]'; ((x))``)."""
_ACTION_BUILTINS = frozenset({"alias", "trap"})
"""Builtins whose arguments hold command lines the shell runs later: an alias's value
(``alias x='rm -rf'``, then ``x build``) and a trap's action (``trap 'rm -rf build' EXIT``)."""


class _Incomplete(Exception):
    """The reader cannot follow the text."""


class _Reader:
    def __init__(self, text: str, depth: int) -> None:
        self.text = text
        self.pos = 0
        self.depth = depth
        self.commands: list[SimpleCommand] = []
        self.complete = True
        self.assigns = False

    def peek(self, count: int = 1) -> str:
        return self.text[self.pos : self.pos + count]

    def nested(self, inner: str) -> None:
        """Commands inside a substitution: they run too."""
        if self.depth > 20:
            raise _Incomplete
        parsed = _parse(inner, self.depth + 1)
        self.commands.extend(parsed.commands)
        self.complete = self.complete and parsed.complete
        self.assigns = self.assigns or parsed.assigns

    def until_close(self, opening: str, closing: str) -> str:
        """The text up to the ``closing`` that matches (quotes respected), consumed with it."""
        start = self.pos
        level = 1
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\":
                self.pos += 2
                continue
            if char == "'":
                end = self.text.find("'", self.pos + 1)
                if end == -1:
                    raise _Incomplete
                self.pos = end + 1
                continue
            if char == '"':
                self.pos += 1
                self.double_quoted()
                continue
            if char == opening:
                level += 1
            elif char == closing:
                level -= 1
                if level == 0:
                    self.pos += 1
                    return self.text[start : self.pos - 1]
            self.pos += 1
        raise _Incomplete

    def substitutions(self, text: str) -> None:
        """The command substitutions in text the shell evaluates beyond its quotes (a parameter
        expansion's word, ``${x:-$(rm x)}``; an array subscript, ``a['$(rm x)']``): they run
        too. Quotes are not respected, so a quoted one counts as well."""
        if "$(" not in text and "`" not in text:
            return
        if self.depth > 20:
            raise _Incomplete
        reader = _Reader(text, self.depth + 1)
        try:
            while reader.pos < len(text):
                if text[reader.pos] == "\\":
                    reader.pos += 2
                elif text[reader.pos] in "$`":
                    reader.expansion()
                else:
                    reader.pos += 1
        except _Incomplete:
            reader.complete = False
        self.commands.extend(reader.commands)
        self.complete = self.complete and reader.complete
        self.assigns = self.assigns or reader.assigns

    def double_quoted(self) -> tuple[str, bool]:
        """After an opening ``"``: its text and whether it is exact; consumes the closing quote."""
        out: list[str] = []
        exact = True
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(out), exact
            if char == "\\" and self.peek(2)[1:] in ('"', "\\", "$", "`", "\n"):
                if self.peek(2)[1:] != "\n":
                    out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char in "$`":
                text, known = self.expansion()
                out.append(text)
                exact = exact and known
                continue
            out.append(char)
            self.pos += 1
        raise _Incomplete

    def expansion(self) -> tuple[str, bool]:
        """At ``$`` or a backquote: the text as written, and False unless it expands to itself."""
        start = self.pos
        if self.text[self.pos] == "`":
            end = self.pos + 1
            while end < len(self.text) and self.text[end] != "`":
                end += 2 if self.text[end] == "\\" else 1
            if end >= len(self.text):
                raise _Incomplete
            self.nested(self.text[self.pos + 1 : end].replace("\\`", "`"))
            self.pos = end + 1
            return self.text[start : self.pos], False
        following = self.peek(2)[1:]
        if following == "(":
            self.pos += 2
            self.nested(self.until_close("(", ")"))
        elif following == "{":
            self.pos += 2
            self.substitutions(self.until_close("{", "}"))
        elif following == "'":  # $'...': ANSI-C quoting, escapes we do not decode
            end = self.text.find("'", self.pos + 2)
            if end == -1:
                raise _Incomplete
            self.pos = end + 1
        elif following and (following.isalnum() or following in "_@*#?$!-"):
            self.pos += 2
            if following.isalpha() or following == "_":
                while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] == "_"):
                    self.pos += 1
        else:
            self.pos += 1
            return "$", True  # a lone dollar sign is itself
        return self.text[start : self.pos], False

    def word(self) -> Word | None:
        """The word at the position (None at an operator or the end)."""
        out: list[str] = []
        exact = True
        glob = False
        started = False
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in " \t" or any(self.text.startswith(op, self.pos) for op in _OPERATORS):
                break
            if char in "<>" or (char == "&" and self.peek(2)[1:] == ">"):
                if char in "<>" and self.peek(2)[1:] == "(":  # process substitution
                    self.pos += 2
                    self.nested(self.until_close("(", ")"))
                    out.append("<(...)")
                    exact = False
                    started = True
                    continue
                break
            started = True
            if char == "\\":
                following = self.peek(2)[1:]
                if following == "":
                    raise _Incomplete
                if following != "\n":
                    out.append(following)
                self.pos += 2
            elif char == "'":
                end = self.text.find("'", self.pos + 1)
                if end == -1:
                    raise _Incomplete
                out.append(self.text[self.pos + 1 : end])
                self.pos = end + 1
            elif char == '"':
                self.pos += 1
                text, known = self.double_quoted()
                out.append(text)
                exact = exact and known
            elif char in "$`":
                text, known = self.expansion()
                out.append(text)
                exact = exact and known
            else:
                if char in "*?[{":  # a '{' may start a brace expansion: r{m,} is rm
                    glob = True
                elif char < " " or char == "\x7f":
                    exact = False  # a control character (a carriage return): not a command to vouch for
                out.append(char)
                self.pos += 1
        return Word("".join(out), exact, glob) if started else None

    def run(self) -> None:
        words: list[Word] = []
        redirects = False
        while True:
            while self.peek() in (" ", "\t") and self.peek():
                self.pos += 1
            if self.pos >= len(self.text):
                break
            if self.peek() == "#":  # at a word's start: a comment to the end of the line
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end == -1 else end
                continue
            if self.peek(2) == "\\\n":
                self.pos += 2
                continue
            operator = next((op for op in _OPERATORS if self.text.startswith(op, self.pos)), None)
            if operator is not None:
                self.finish(words, redirects)
                words, redirects = [], False
                self.pos += len(operator)
                continue
            redirect = next((op for op in _REDIRECTS if self.text.startswith(op, self.pos)), None)
            if redirect is not None:
                if redirect.startswith("<<") and redirect != "<<<":
                    raise _Incomplete  # a here-document: its body is not commands
                if words and words[-1].text.isdigit() and self.text[self.pos - 1] not in " \t":
                    words.pop()  # 2>file: the descriptor number
                self.pos += len(redirect)
                while self.peek() in (" ", "\t") and self.peek():
                    self.pos += 1
                if redirect in (">&", "<&") and self.peek().isdigit():
                    while self.peek().isdigit():
                        self.pos += 1
                    if self.peek() == "-":
                        self.pos += 1
                    continue
                target = self.word()
                if target is None:
                    raise _Incomplete  # a redirection with no target
                if not (target.exact and target.text == "/dev/null"):
                    redirects = True
                continue
            word = self.word()
            if word is None:  # pragma: no cover - every other character starts a word
                raise _Incomplete
            words.append(word)
        self.finish(words, redirects)

    def finish(self, words: list[Word], redirects: bool) -> None:
        if not words:
            return
        for word in words:  # leading assignments: a subscript in them, or in their value, is evaluated
            if not _ASSIGNMENT.match(word.text):
                break
            if "[" in word.text:
                self.substitutions(word.text)
        command = _command(tuple(words), redirects)
        if command is not None and command.program in _EVALUATING_BUILTINS:
            for word in command.arguments:
                if "[" in word.text:
                    self.substitutions(word.text)
        if command is None:
            self.assigns = self.assigns or any(_ASSIGNMENT.match(word.text) for word in words)
            return
        self.assigns = self.assigns or command.assigns
        self.commands.append(command)
        program = command.program
        arguments = command.arguments
        inner: str | None = None
        if program == "eval":
            if not all(word.exact for word in arguments):
                self.commands.append(attrs.evolve(command, program=None))
                return
            if arguments and arguments[0].text == "--":
                arguments = arguments[1:]
            inner = " ".join(word.text for word in arguments)
        elif program in _ACTION_BUILTINS:
            lines = _actions(program, arguments)
            if lines is None:
                self.commands.append(attrs.evolve(command, program=None))
                return
            for line in lines:
                self.nested(line)
        elif program in _SHELLS:
            found = _command_string(arguments)
            if found is False or (found is None and program == "runuser"):
                self.commands.append(attrs.evolve(command, program=None))
                return
            inner = found
        if inner is not None:
            self.nested(inner)


def _command(words: tuple[Word, ...], redirects: bool) -> SimpleCommand | None:
    """The simple command of these words: the program found past assignments, reserved words
    and wrappers (None when it is built from an expansion or a glob); None for reserved words
    that run nothing (``fi``, ``done``, ``for x in ...``)."""
    index = 0
    assigns = False
    reroots = False
    while index < len(words):
        word = words[index]
        if _ASSIGNMENT.match(word.text):
            assigns = True
            index += 1
        elif word.exact and word.text in _RESERVED:
            index += 1
            if word.text == "time":  # the reserved word's own options: time -p rm
                while index < len(words) and words[index].exact and words[index].text in ("-p", "--"):
                    index += 1
            elif word.text == "coproc" and index + 1 < len(words) and words[index + 1].text == "{":
                index += 1  # coproc NAME { ...; }: the name is not a command
        elif word.exact and word.text == "function":
            index += 2  # the keyword and the function's name: the body's commands follow
        else:
            break
    if index >= len(words):
        return None
    if words[index].exact and words[index].text in _NOT_COMMANDS:
        return None
    while index < len(words):
        word = words[index]
        if not word.exact or word.glob:
            return SimpleCommand(
                words=words,
                program=None,
                arguments=words[index + 1 :],
                redirects=redirects,
                assigns=assigns,
                reroots=reroots,
            )
        name = posixpath.basename(word.text) or word.text
        takes_value = _WRAPPERS.get(name)
        if takes_value is None:
            return SimpleCommand(
                words=words,
                program=name,
                arguments=words[index + 1 :],
                redirects=redirects,
                assigns=assigns,
                reroots=reroots,
            )
        index += 1
        reroots = reroots or name in _REROOTING
        positional = _POSITIONAL.get(name, 0)
        command_line = _COMMAND_LINE_OPTIONS.get(name, ())
        short = "".join(option[1] for option in command_line if len(option) == 2)
        executes = False  # watch -x: the arguments are a program and its arguments, not a command line
        while index < len(words):
            current = words[index]
            if not current.exact:
                break
            if current.text == "--":
                index += 1
                break
            text = current.text
            clustered = text.startswith("-") and not text.startswith("--") and any(c in text[1:] for c in short)
            if text.startswith(command_line) or (short and clustered):
                return SimpleCommand(
                    words=words,
                    program=None,
                    arguments=words[index + 1 :],
                    redirects=redirects,
                    assigns=assigns,
                    reroots=reroots,
                )
            if name == "watch" and text in ("-x", "--exec"):
                executes = True
            if current.text.startswith("-") and len(current.text) > 1:
                index += 2 if current.text in takes_value else 1
            elif name != "watch" and _ASSIGNMENT.match(
                current.text
            ):  # env and sudo take assignments; read so elsewhere too
                assigns = True
                index += 1
            elif positional:
                positional -= 1
                index += 1
            else:
                break
        if name == "watch" and not executes and index < len(words):
            # watch runs its arguments joined as a command line, with sh -c: read as that.
            rest = words[index:]
            line = Word(" ".join(word.text for word in rest), all(word.exact for word in rest))
            return SimpleCommand(
                words=words,
                program="sh",
                arguments=(Word("-c"), line),
                redirects=redirects,
                assigns=assigns,
                reroots=reroots,
            )
    return None  # a wrapper with no program: it runs nothing (``env`` prints the environment)


def _actions(program: str, arguments: tuple[Word, ...]) -> list[str] | None:
    """The command lines an ``alias`` or ``trap`` keeps to run later (none for ``trap -p``,
    ``alias -p`` or a bare name); None when one is built from an expansion."""
    if not all(word.exact for word in arguments):
        return None
    words = [word.text for word in arguments]
    while words and words[0].startswith("-") and len(words[0]) > 1:  # -p, -l, --
        ended = words.pop(0) == "--"
        if ended:
            break
    if program == "alias":
        return [text.partition("=")[2] for text in words if "=" in text]
    return words[:1]  # trap ACTION SIGNAL...


def _command_string(arguments: tuple[Word, ...]) -> str | Literal[False] | None:
    """The command line a shell's ``-c`` runs: the first word after the options that follow the
    one holding ``c`` (``sh -c 'rm x'``, ``bash -ec 'rm x'``, ``sh -c -- 'rm x'``, ``su root -c
    'rm x'``); None without ``-c`` (a script, or the shell reading its input); False when it
    cannot be known (missing, or built from an expansion)."""
    seen = False
    index = 0
    while index < len(arguments):
        word = arguments[index]
        text = word.text
        if not seen:
            if text in ("-c", "--command") or (text.startswith("-") and not text.startswith("--") and "c" in text[1:]):
                seen = True
            elif text.startswith(("--command=", "--session-command=")):
                return text.partition("=")[2] if word.exact else False
            elif text == "--session-command":
                seen = True
            index += 2 if text in _SHELL_OPTIONS_WITH_VALUE else 1
            continue
        if text == "--":
            index += 1
            break
        if word.exact and text.startswith(("-", "+")) and len(text) > 1:
            index += 2 if text in _SHELL_OPTIONS_WITH_VALUE else 1
            continue
        break
    if not seen:
        return None
    if index >= len(arguments) or not arguments[index].exact:
        return False
    return arguments[index].text


def _parse(text: str, depth: int) -> ShellParse:
    reader = _Reader(text, depth)
    try:
        reader.run()
    except _Incomplete:
        return ShellParse(commands=tuple(reader.commands), complete=False, assigns=reader.assigns)
    return ShellParse(commands=tuple(reader.commands), complete=reader.complete, assigns=reader.assigns)


def simple_commands(text: str) -> ShellParse:
    """Every simple command ``text`` runs, as far as it can be known without running it (see
    the module docs)."""
    return _parse(text, 0)
