"""The settings file: the CLI's defaults, from ``anyagent.toml`` or ``[tool.anyagent]`` in
``pyproject.toml``.

Precedence, highest first: a command-line flag, then the environment (``ANY_AGENT_BASE_URL``,
``ANY_AGENT_MODEL``, ``ANY_AGENT_API_KEY``), then the project's settings file, then the user's,
then the built-in default. List settings (``allowed_tools``, ``disallowed_tools``,
``fallback_models``, ``skill_dirs``) are the exception: the rules and models given by flags are
added to the file's, so a flag cannot silently drop a project's deny rule.

The project's file is found from the current directory upwards: the first ``anyagent.toml``,
or ``pyproject.toml`` with a ``[tool.anyagent]`` table; a ``pyproject.toml`` without one, or a
``.git``, marks the project's top and ends the search. The user's file is ``anyagent.toml`` in
one of ``user_dirs()``. Paths in a file (``cwd``, ``skill_dirs``) are relative to its folder.

::

    # anyagent.toml
    provider = "ollama"
    model = "qwen3:8b"
    tools = ["read_file", "grep", "list_dir"]
    allowed_tools = ["grep"]
    disallowed_tools = ["bash(rm *)"]
    permission_mode = "default"

API keys do not belong in files: ``api_key_env = "OPENAI_API_KEY"`` names the variable that
holds it instead.
"""

from __future__ import annotations

import os
import pathlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from anyagent_core import PermissionRule
from anyagent_core.settings import PERMISSION_MODES, TOOL_MODES
from anyagent_core.value import Value

from ._errors import ConfigurationError
from ._options import ENV_API_KEY, ENV_BASE_URL, ENV_MODEL, PROVIDERS
from ._tools import BUILTIN_TOOLS

__all__ = [
    "CONFIG_DIR_ENV",
    "SETTINGS_FILE",
    "SETTINGS_KEYS",
    "Settings",
    "find_settings_file",
    "load_settings",
    "user_dirs",
]

#: The project's settings file.
SETTINGS_FILE = "anyagent.toml"
#: Set it to use one folder for the user's skills, agents and settings instead of the usual ones.
CONFIG_DIR_ENV = "ANY_AGENT_CONFIG_DIR"


def user_dirs(env: Mapping[str, str] | None = None) -> tuple[pathlib.Path, ...]:
    """The user's anyagent folders, most specific first: ``$ANY_AGENT_CONFIG_DIR`` alone when
    set; otherwise ``~/.anyagent`` and the platform's config folder (``$XDG_CONFIG_HOME`` or
    ``~/.config`` on Linux, ``~/Library/Application Support`` on macOS, ``%APPDATA%`` on
    Windows) with ``anyagent`` appended. ``env`` replaces ``os.environ``; with an ``env`` that
    names no home folder, there are none."""
    environ = os.environ if env is None else env
    override = environ.get(CONFIG_DIR_ENV)
    if override:
        return (pathlib.Path(override).expanduser(),)
    home_text = environ.get("HOME") or environ.get("USERPROFILE")
    home = pathlib.Path(home_text) if home_text else (pathlib.Path.home() if env is None else None)
    found: list[pathlib.Path] = []
    if home is not None:
        found.append(home / ".anyagent")
    if sys.platform == "win32":
        appdata = environ.get("APPDATA")
        if appdata:
            found.append(pathlib.Path(appdata) / "anyagent")
    elif sys.platform == "darwin":
        if home is not None:
            found.append(home / "Library" / "Application Support" / "anyagent")
    else:
        xdg = environ.get("XDG_CONFIG_HOME")
        if xdg:
            found.append(pathlib.Path(xdg) / "anyagent")
        elif home is not None:
            found.append(home / ".config" / "anyagent")
    return tuple(dict.fromkeys(found))


# ---- what a file may say ------------------------------------------------------------------

Check = Callable[[Any], str | None]
"""A value's check: None if it is good, else what it should be."""


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "a non-empty string"


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in choices else f"one of {', '.join(repr(c) for c in choices)}"

    return check


def _integer(minimum: int) -> Check:
    def check(value: Any) -> str | None:
        good = type(value) is int and value >= minimum
        return None if good else f"an integer of at least {minimum}"

    return check


def _number(value: Any) -> str | None:
    good = type(value) in (int, float) and value >= 0
    return None if good else "a number of at least 0"


def _boolean(value: Any) -> str | None:
    return None if type(value) is bool else "true or false"


def _strings(value: Any) -> str | None:
    good = isinstance(value, list) and all(isinstance(item, str) and item for item in value)
    return None if good else "a list of non-empty strings"


def _rules(value: Any) -> str | None:
    if _strings(value) is not None:
        return "a list of permission rules (strings such as 'bash(git *)')"
    for rule in value:
        try:
            PermissionRule.parse(rule)
        except (ValueError, TypeError) as exc:
            return f"a list of permission rules; {rule!r} is not one: {exc}"
    return None


def _tools(value: Any) -> str | None:
    if _strings(value) is not None or any(item not in BUILTIN_TOOLS for item in value):
        return f"a list of built-in tool names ({', '.join(BUILTIN_TOOLS)})"
    return None


#: Every setting: its check and the CLI option it gives a default to.
SETTINGS_KEYS: Mapping[str, tuple[Check, str]] = {
    "provider": (_one_of(*PROVIDERS), "provider"),
    "base_url": (_string, "base_url"),
    "model": (_string, "model"),
    "api_key_env": (_string, "api_key"),
    "transport": (_one_of("httpx", "h11"), "transport"),
    "backend": (_one_of("asyncio", "trio"), "backend"),
    "system_prompt": (_string, "system"),
    "max_tokens": (_integer(1), "max_tokens"),
    "temperature": (_number, "temperature"),
    "stream": (_boolean, "no_stream"),
    "max_retries": (_integer(0), "max_retries"),
    "fallback_models": (_strings, "fallback_model"),
    "tools": (_tools, "tools"),
    "cwd": (_string, "cwd"),
    "allowed_tools": (_rules, "allow"),
    "disallowed_tools": (_rules, "deny"),
    "permission_mode": (_one_of(*PERMISSION_MODES), "permission_mode"),
    "max_turns": (_integer(1), "max_turns"),
    "tool_mode": (_one_of(*TOOL_MODES), "tool_mode"),
    "show_reasoning": (_boolean, "show_reasoning"),
    "skills": (_boolean, "skills"),
    "skill_dirs": (_strings, "skill_dir"),
    "agents": (_boolean, "agents"),
}
_PATHS = ("cwd",)
_PATH_LISTS = ("skill_dirs",)
#: Settings the environment overrides, and the variable that does.
_FROM_ENV = {"base_url": ENV_BASE_URL, "model": ENV_MODEL}


@attrs.frozen(repr=False, eq=False)
class Settings(Value):
    """Settings read from files: ``values`` by setting name (paths made absolute), and the file
    each came from."""

    values: Mapping[str, Any] = attrs.field(factory=dict)
    sources: Mapping[str, pathlib.Path] = attrs.field(factory=dict)

    def cli_defaults(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The values as defaults for the CLI's options (``argparse`` destinations), leaving
        out what the environment sets (the environment comes before the file)."""
        environ = os.environ if env is None else env
        defaults: dict[str, Any] = {}
        for key, value in self.values.items():
            if key in _FROM_ENV and environ.get(_FROM_ENV[key]):
                continue
            dest = SETTINGS_KEYS[key][1]
            if key == "api_key_env":
                if environ.get(ENV_API_KEY) or not environ.get(value):
                    continue
                value = environ[value]
            elif key == "stream":
                value = not value
            elif key == "tools":
                value = tuple(value)
            elif isinstance(value, list):
                value = list(value)  # argparse appends to a default list: never to ours
            defaults[dest] = value
        return defaults


def _table(path: pathlib.Path) -> tuple[dict[str, Any] | None, str]:
    """The settings table of ``path`` (None: a pyproject.toml without one) and how to name it."""
    import tomllib  # only when there is a file to read

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{path} is not UTF-8 text: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None
    if path.name != "pyproject.toml":
        return data, str(path)
    tool = data.get("tool")
    table = tool.get("anyagent") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise ConfigurationError(f"[tool.anyagent] in {path} must be a table")
    return table, f"[tool.anyagent] in {path}"


def _has_table(path: pathlib.Path) -> bool:
    return _table(path)[0] is not None


def find_settings_file(start: str | os.PathLike[str] | None = None) -> pathlib.Path | None:
    """The project's settings file for ``start`` (default: the current directory): see the
    module's docstring for the search."""
    directory = pathlib.Path(start if start is not None else os.getcwd()).resolve()
    for folder in (directory, *directory.parents):
        candidate = folder / SETTINGS_FILE
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            return pyproject if _has_table(pyproject) else None
        if (folder / ".git").exists():
            return None
    return None


def _read(path: pathlib.Path) -> dict[str, Any]:
    table, where = _table(path)
    values: dict[str, Any] = {}
    for key, value in (table or {}).items():
        if key == "api_key":
            raise ConfigurationError(
                f"{where}: 'api_key' does not belong in a file; set {ENV_API_KEY}, "
                "or name the variable that holds the key with api_key_env"
            )
        if key not in SETTINGS_KEYS:
            raise ConfigurationError(f"{where}: unknown setting {key!r}; known: {', '.join(SETTINGS_KEYS)}")
        wanted = SETTINGS_KEYS[key][0](value)
        if wanted is not None:
            raise ConfigurationError(f"{where}: {key!r} must be {wanted}, not {value!r}")
        if key in _PATHS:
            value = str((path.parent / value).resolve())
        elif key in _PATH_LISTS:
            value = [str((path.parent / item).resolve()) for item in value]
        values[key] = value
    return values


def load_settings(
    cwd: str | os.PathLike[str] | None = None, *, user: bool = True, env: Mapping[str, str] | None = None
) -> Settings:
    """The settings for ``cwd`` (default: the current directory): the user's file (``user``),
    then the project's on top. Raises ``ConfigurationError`` naming the file and the setting
    for an unknown setting, a value of the wrong kind, or a file that is not TOML."""
    values: dict[str, Any] = {}
    sources: dict[str, pathlib.Path] = {}
    files: list[pathlib.Path] = []
    if user:
        for folder in user_dirs(env):
            candidate = folder / SETTINGS_FILE
            if candidate.is_file():
                files.append(candidate)
                break
    project = find_settings_file(cwd)
    if project is not None and project not in files:
        files.append(project)
    for path in files:
        for key, value in _read(path).items():
            values[key] = value
            sources[key] = path
    return Settings(values, sources)
