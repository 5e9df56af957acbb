"""Subagent definitions from Markdown files, beside ``AgentOptions(agents=...)``.

An agent file is ``<name>.md`` in the project's ``.anyagent/agents/`` or in
``<user dir>/agents/`` (``user_dirs()``): front matter, then the agent's system prompt::

    ---
    name: reviewer            # optional: the file's name without .md
    description: Reviews a diff for bugs; use it after editing code.
    tools: read_file, grep    # optional: a list or comma-separated; absent: the main agent's tools
    model: qwen3:8b           # optional: absent or "inherit": the main agent's model
    max_turns: 8              # optional
    ---
    You review code changes. Report bugs with file and line ...

Tool names are the built-in tools' (Claude Code's ``Read``, ``Write``, ``Edit``, ``Glob``,
``Grep``, ``Bash`` and ``LS`` are read as ``read_file``, ``write_file``, ``edit_file``,
``glob``, ``grep``, ``bash`` and ``list_dir``) or the names of ``tools`` you pass (your
``@tool`` functions). A file that says anything else is refused with ``ConfigurationError``
naming the file; keys not read here (``color``, ...) are logged and left out.

::

    options = AgentOptions(agents={**discover_agents(), "quick": AgentDefinition(...)})
"""

from __future__ import annotations

import os
import pathlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from anyagent_core import ToolSpec

from ._errors import ConfigurationError
from ._frontmatter import FrontMatterError, split_front_matter
from ._logging import logger
from ._options import AgentDefinition, ToolItem
from ._settings_file import user_dirs
from ._tools import BUILTIN_TOOLS, Tool

__all__ = ["CLAUDE_TOOL_NAMES", "discover_agents", "load_agent_file", "load_agents"]

#: Claude Code's tool names, and the built-in tools they stand for.
CLAUDE_TOOL_NAMES: Mapping[str, str] = {
    "Read": "read_file",
    "Write": "write_file",
    "Edit": "edit_file",
    "MultiEdit": "edit_file",
    "Glob": "glob",
    "Grep": "grep",
    "Bash": "bash",
    "LS": "list_dir",
}
_KNOWN = ("name", "description", "tools", "model", "max_turns")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_LOG = logger("files")


def _tool_names(value: Any, file: pathlib.Path) -> list[str]:
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item.strip() for item in value if item.strip()]
    raise ConfigurationError(f"{file}: 'tools' must be a list of tool names or a comma-separated string, not {value!r}")


def _resolve_tools(names: Sequence[str], tools: Sequence[ToolItem], file: pathlib.Path) -> tuple[ToolItem, ...]:
    by_name: dict[str, ToolItem] = {}
    for item in tools:
        by_name[item if isinstance(item, str) else item.name] = item
    resolved: list[ToolItem] = []
    for name in names:
        if name in by_name:
            resolved.append(by_name[name])
        elif name in BUILTIN_TOOLS:
            resolved.append(name)
        elif name in CLAUDE_TOOL_NAMES:
            resolved.append(CLAUDE_TOOL_NAMES[name])
        else:
            known = ", ".join([*BUILTIN_TOOLS, *(n for n in by_name if n not in BUILTIN_TOOLS)])
            raise ConfigurationError(f"{file}: unknown tool {name!r}; known: {known}")
    unique: dict[str, ToolItem] = {}
    for item in resolved:
        unique.setdefault(item if isinstance(item, str) else item.name, item)
    return tuple(unique.values())


def load_agent_file(
    path: str | os.PathLike[str], *, tools: Sequence[str | Tool | ToolSpec] = ()
) -> tuple[str, AgentDefinition]:
    """The agent defined in ``path``: its name and its ``AgentDefinition``. ``tools`` are the
    tools (beside the built-in ones) its ``tools:`` may name. Raises ``ConfigurationError``
    naming the file when it cannot be read or says something unusable."""
    file = pathlib.Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{file} is not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read {file}: {exc.strerror or exc}") from None
    try:
        front, body = split_front_matter(text, str(file))
    except FrontMatterError as exc:
        raise ConfigurationError(f"the front matter of {exc}") from None
    if not front:
        raise ConfigurationError(f"{file}: an agent file opens with front matter ('---', description: ..., '---')")
    name = front.get("name", file.stem)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(f"{file}: 'name' must be letters, digits, '-' and '_' (at most 64), not {name!r}")
    description = front.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ConfigurationError(f"{file}: 'description' is missing: say what the agent does and when to use it")
    prompt = body.strip()
    if not prompt:
        raise ConfigurationError(f"{file}: the agent's system prompt (the text after the front matter) is empty")
    model = front.get("model")
    if model is not None and not isinstance(model, str):
        raise ConfigurationError(f"{file}: 'model' must be a model name or 'inherit', not {model!r}")
    max_turns = front.get("max_turns")
    if max_turns is not None and (type(max_turns) is not int or max_turns < 1):
        raise ConfigurationError(f"{file}: 'max_turns' must be a positive integer, not {max_turns!r}")
    items = None
    if "tools" in front and front["tools"] is not None:
        items = _resolve_tools(_tool_names(front["tools"], file), tuple(tools), file)
    ignored = sorted(set(front) - set(_KNOWN))
    if ignored:
        _LOG.warning("%s: left out what anyagent does not read: %s", file, ", ".join(ignored))
    definition = AgentDefinition(
        description=" ".join(description.split()),
        prompt=prompt,
        tools=items,
        model=None if model in (None, "", "inherit") else model,
        max_turns=max_turns,
    )
    return name, definition


def load_agents(
    directory: str | os.PathLike[str], *, tools: Sequence[str | Tool | ToolSpec] = ()
) -> dict[str, AgentDefinition]:
    """The agents of the ``*.md`` files in ``directory`` (none if it does not exist), by name;
    two files naming the same agent raise ``ConfigurationError``."""
    folder = pathlib.Path(directory)
    if not folder.is_dir():
        return {}
    agents: dict[str, AgentDefinition] = {}
    origin: dict[str, pathlib.Path] = {}
    for file in sorted(folder.glob("*.md")):
        name, definition = load_agent_file(file, tools=tools)
        if name in agents:
            raise ConfigurationError(f"{file} and {origin[name]} both define the agent {name!r}")
        agents[name], origin[name] = definition, file
    return agents


def discover_agents(
    cwd: str | os.PathLike[str] | None = None,
    *,
    project: bool = True,
    user: bool = True,
    tools: Sequence[str | Tool | ToolSpec] = (),
    env: Mapping[str, str] | None = None,
) -> dict[str, AgentDefinition]:
    """The agents of the project's ``.anyagent/agents/`` (``cwd``: default the current
    directory) and of the user's ``agents/`` folders; a project agent replaces a user agent of
    the same name."""
    agents: dict[str, AgentDefinition] = {}
    if user:
        for folder in reversed(user_dirs(env)):  # the most specific folder last: it wins
            agents.update(load_agents(folder / "agents", tools=tools))
    if project:
        base = pathlib.Path(cwd if cwd is not None else os.getcwd())
        agents.update(load_agents(base / ".anyagent" / "agents", tools=tools))
    return agents
