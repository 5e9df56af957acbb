"""Skills: folders of instructions the model loads when a task calls for them.

A skill is a folder holding a ``SKILL.md``: front matter with ``name`` and ``description``,
then the instructions. Other files in the folder (scripts, references, templates) belong to it.
Skills are found in the project's ``.anyagent/skills/``, in the folders of
``AgentOptions.skill_dirs`` and in the user's ``~/.anyagent/skills/`` and
``<config dir>/anyagent/skills/`` (``user_dirs()``), in that order; a name found twice is the
first one's (the later one is logged and left out).

Progressive disclosure, as Claude Code does it: only each skill's name and description reach
the model, in the description of a ``skill`` tool; the instructions are read from disk when the
model calls ``skill(name=...)``, and the skill's other files with ``skill(name=..., file=...)``,
which reads only inside that skill's folder.

::

    options = AgentOptions(skills=True)                      # project and user skills
    options = AgentOptions(skill_dirs=["./team-skills"])     # just these
"""

from __future__ import annotations

import os
import pathlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from anyagent_core.value import Value

from ._errors import ConfigurationError
from ._frontmatter import FrontMatterError, split_front_matter
from ._logging import logger
from ._settings_file import user_dirs
from ._tools import Tool, ToolError, tool

__all__ = [
    "MAX_SKILL_FILE_BYTES",
    "SKILL_FILE",
    "SKILL_TOOL",
    "Skill",
    "discover_skills",
    "load_skill",
    "skill_tool",
]

#: The name of the tool skills are loaded with.
SKILL_TOOL = "skill"
#: The file that makes a folder a skill.
SKILL_FILE = "SKILL.md"
#: The most bytes the ``skill`` tool reads of one file.
MAX_SKILL_FILE_BYTES = 256 * 1024
_MAX_LISTED = 100
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_MAX_DESCRIPTION = 1024

_LOG = logger("files")


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Skill(Value):
    """A skill found on disk: its name and description (what the model is shown), its folder,
    and the rest of its front matter."""

    name: str
    description: str
    path: pathlib.Path
    """The skill's folder (resolved)."""
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
    """The front matter's other keys (``license``, ``allowed-tools``, ``metadata``, ...)."""

    @property
    def file(self) -> pathlib.Path:
        return self.path / SKILL_FILE

    def instructions(self) -> str:
        """The body of ``SKILL.md``, read now (it may have changed since it was found)."""
        _, body = split_front_matter(_read_text(self.file), str(self.file))
        return body.strip()


def _read_text(path: pathlib.Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{path} is not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from None


def load_skill(folder: str | os.PathLike[str]) -> Skill:
    """The skill in ``folder`` (which holds a ``SKILL.md``). Raises ``ConfigurationError``
    naming the file when it is missing, unreadable, or its front matter lacks a valid ``name``
    (lower-case letters, digits and hyphens, at most 64) or ``description`` (at most 1024
    characters)."""
    path = pathlib.Path(folder).resolve()
    file = path / SKILL_FILE
    if not file.is_file():
        raise ConfigurationError(f"{path} is not a skill: it holds no {SKILL_FILE}")
    try:
        front, _ = split_front_matter(_read_text(file), str(file))
    except FrontMatterError as exc:
        raise ConfigurationError(f"the front matter of {exc}") from None
    name, description = front.pop("name", None), front.pop("description", None)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(
            f"{file}: 'name' must be lower-case letters, digits and hyphens (at most 64), not {name!r}"
        )
    if not isinstance(description, str) or not description.strip():
        raise ConfigurationError(f"{file}: 'description' is missing: say what the skill is for and when to use it")
    description = " ".join(description.split())
    if len(description) > _MAX_DESCRIPTION:
        raise ConfigurationError(f"{file}: 'description' has {len(description)} characters; at most {_MAX_DESCRIPTION}")
    return Skill(name=name, description=description, path=path, metadata=front)


def _skills_in(directory: pathlib.Path) -> list[Skill]:
    """The skills in the sub-folders of ``directory``, by folder name."""
    try:
        entries = sorted(directory.iterdir())
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConfigurationError(f"cannot list the skills in {directory}: {exc.strerror or exc}") from None
    return [load_skill(entry) for entry in entries if entry.is_dir() and (entry / SKILL_FILE).is_file()]


def discover_skills(
    cwd: str | os.PathLike[str] | None = None,
    *,
    project: bool = True,
    user: bool = True,
    extra: Sequence[str | os.PathLike[str]] = (),
    env: Mapping[str, str] | None = None,
) -> tuple[Skill, ...]:
    """The skills of ``cwd``'s project (``.anyagent/skills/``), of the ``extra`` folders (each a
    folder of skills, or one skill's own folder) and of the user (``user_dirs(env)``), in that
    order, the first of each name kept. An ``extra`` folder that does not exist, or any
    malformed ``SKILL.md``, raises ``ConfigurationError`` naming it."""
    base = pathlib.Path(cwd if cwd is not None else os.getcwd())
    found: list[Skill] = []
    if project:
        found += _skills_in(base / ".anyagent" / "skills")
    for folder in extra:
        path = base / folder
        if not path.is_dir():
            shown = os.fspath(folder)
            raise ConfigurationError(f"skill folder {shown!r} is not a directory (resolved: {path.resolve()})")
        found += [load_skill(path)] if (path / SKILL_FILE).is_file() else _skills_in(path)
    if user:
        for directory in user_dirs(env):
            found += _skills_in(directory / "skills")
    kept: dict[str, Skill] = {}
    for skill in found:
        first = kept.setdefault(skill.name, skill)
        if first is not skill and first.path != skill.path:
            _LOG.warning("skill %r in %s is left out: %s has one of that name", skill.name, skill.path, first.path)
    return tuple(kept.values())


def _listing(skill: Skill) -> list[str]:
    files: list[str] = []
    for root, dirs, names in os.walk(skill.path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            relative = (pathlib.Path(root) / name).relative_to(skill.path).as_posix()
            if relative != SKILL_FILE:
                files.append(relative)
            if len(files) > _MAX_LISTED:
                return files
    return files


def _read_skill_file(skill: Skill, file: str) -> str:
    target = (skill.path / file).resolve()
    if not target.is_relative_to(skill.path):
        raise ToolError(f"{file!r} is outside the {skill.name} skill's folder")
    if not target.is_file():
        files = ", ".join(_listing(skill)) or "none"
        raise ToolError(f"the {skill.name} skill has no file {file!r}; its files: {files}")
    with target.open("rb") as handle:
        data = handle.read(MAX_SKILL_FILE_BYTES + 1)
    try:
        text = data[:MAX_SKILL_FILE_BYTES].decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"{file!r} is not UTF-8 text") from None
    if len(data) > MAX_SKILL_FILE_BYTES:
        text += f"\n[cut: the file is longer than {MAX_SKILL_FILE_BYTES} bytes]"
    return text


def skill_tool(skills: Sequence[Skill]) -> Tool:
    """The ``skill`` tool for ``skills``: its description lists each skill's name and
    description; a call returns a skill's instructions (and the list of its other files), or
    with ``file`` one of those files."""
    by_name = {skill.name: skill for skill in skills}
    if not by_name:
        raise ValueError("skill_tool() needs at least one skill")
    names = sorted(by_name)
    listing = "\n".join(f"- {name}: {by_name[name].description}" for name in names)

    def load(name: str, file: str | None = None) -> str:
        skill = by_name.get(name)
        if skill is None:
            raise ToolError(f"there is no skill named {name!r}; skills: {', '.join(names)}")
        if file:
            return _read_skill_file(skill, file)
        try:
            instructions = skill.instructions()
        except (ConfigurationError, FrontMatterError) as exc:
            raise ToolError(str(exc)) from None
        files = _listing(skill)
        text = f'<skill name="{skill.name}">\n{instructions}\n</skill>'
        if files:
            shown = ", ".join(files[:_MAX_LISTED]) + (", ..." if len(files) > _MAX_LISTED else "")
            text += f"\nThe skill's other files (read one with file=...): {shown}"
        return text

    made = tool(
        name=SKILL_TOOL,
        description="Load a skill: instructions for a particular kind of task. When the task matches a "
        "skill's description, load it first and follow it. Skills:\n" + listing,
        read_only=True,
    )(load)
    parameters = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "enum": names, "description": "The skill to load."},
            "file": {"type": "string", "description": "A file of the skill's folder to read instead (optional)."},
        },
        "required": ["name"],
        "additionalProperties": False,
    }
    return attrs.evolve(made, spec=attrs.evolve(made.spec, parameters=parameters))
