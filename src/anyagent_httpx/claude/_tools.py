"""Claude Code's built-in tools, by their names and argument names, backed by anyagent's.

``Read``, ``Write``, ``Edit``, ``MultiEdit``, ``Bash``, ``Glob``, ``Grep`` and ``LS`` are offered to
the model as Claude Code offers them (``file_path``, ``old_string``, ``timeout`` in milliseconds,
``-i``, ...), so hooks, ``can_use_tool`` callbacks and permission rules written for Claude Code
see the names and arguments they expect; each call is mapped onto the built-in tool that does the
work (``read_file``, ``write_file``, ``edit_file``, ``bash``, ``glob``, ``grep``, ``list_dir``),
with its confinement to the working directory, its validation and its output caps. ``Task``
(``description``, ``prompt``, ``subagent_type``) runs subagents as anyagent's ``task`` does;
tools Claude Code has and anyagent does not (``WebFetch``, ``WebSearch``, ``TodoWrite``,
``NotebookEdit``, ...) are listed in ``UNAVAILABLE``.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import anyio

from anyagent_core import ToolResultBlock, ToolSpec
from anyagent_httpx._tools import BUILTIN_TOOLS, Tool, ToolContext, ToolError, run_tool
from anyagent_httpx._tools._schema import Signature

if TYPE_CHECKING:
    from anyagent_httpx._subagents import Subagents

__all__ = ["CLAUDE_TOOLS", "OURS", "TASK", "UNAVAILABLE", "claude_tool", "task_tool"]

TASK = "Task"

OURS: Mapping[str, str] = MappingProxyType(
    {
        "Read": "read_file",
        "Write": "write_file",
        "Edit": "edit_file",
        "MultiEdit": "edit_file",
        "Bash": "bash",
        "Glob": "glob",
        "Grep": "grep",
        "LS": "list_dir",
        TASK: "task",
    }
)
"""Each Claude Code tool name and the anyagent tool behind it."""

UNAVAILABLE: Mapping[str, str] = MappingProxyType(
    {
        "WebFetch": "fetching web pages",
        "WebSearch": "web search",
        "TodoWrite": "a todo list",
        "NotebookEdit": "Jupyter notebook editing",
        "NotebookRead": "Jupyter notebook reading",
        "BashOutput": "background shells",
        "KillShell": "background shells",
        "KillBash": "background shells",
        "ExitPlanMode": "Claude Code's plan mode dialogue",
        "SlashCommand": "slash commands",
        "Skill": "skills",
        "ListMcpResourcesTool": "MCP resources",
        "ReadMcpResourceTool": "MCP resources",
    }
)
"""Claude Code tools anyagent has no equivalent of, and what they do."""


def _obj(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


_PATH = {"type": "string", "description": "The path of the file (absolute, or relative to the working directory)."}


async def _inner(name: str, arguments: dict[str, Any], context: ToolContext) -> ToolResultBlock:
    """Run the built-in ``name`` on ``arguments``; its result, errors included."""
    return await run_tool(BUILTIN_TOOLS[name], context.tool_use_id or "call", arguments, context)


def _text(result: ToolResultBlock) -> str:
    return result.content if isinstance(result.content, str) else str(result.content)


async def _read(context: ToolContext, file_path: str, offset: int | None = None, limit: int | None = None) -> Any:
    arguments: dict[str, Any] = {"path": file_path}
    if offset is not None:
        arguments["offset"] = max(int(offset), 1)
    if limit is not None:
        arguments["limit"] = limit
    return await _inner("read_file", arguments, context)


async def _write(context: ToolContext, file_path: str, content: str) -> Any:
    return await _inner("write_file", {"path": file_path, "content": content}, context)


async def _edit(
    context: ToolContext, file_path: str, old_string: str, new_string: str, replace_all: bool = False
) -> Any:
    arguments = {"path": file_path, "old_string": old_string, "new_string": new_string, "replace_all": replace_all}
    return await _inner("edit_file", arguments, context)


async def _multi_edit(context: ToolContext, file_path: str, edits: list[dict[str, Any]]) -> Any:
    """The edits in order, all or none: the file is put back as it was if one fails."""
    before = await _inner("read_file", {"path": file_path, "limit": 1}, context)
    if before.is_error:
        return before
    path = pathlib.PurePath(file_path)
    target = anyio.Path(path if path.is_absolute() else context.cwd / path)
    original = await target.read_bytes()
    done: list[str] = []
    for number, edit in enumerate(edits, 1):
        result = await _inner(
            "edit_file",
            {
                "path": file_path,
                "old_string": edit["old_string"],
                "new_string": edit["new_string"],
                "replace_all": bool(edit.get("replace_all", False)),
            },
            context,
        )
        if result.is_error:
            await target.write_bytes(original)
            raise ToolError(f"edit {number} of {len(edits)} failed, so none was applied: {_text(result)}")
        done.append(_text(result))
    return f"Applied {len(edits)} edits to {file_path}."


async def _bash(
    context: ToolContext,
    command: str,
    timeout: float | None = None,  # noqa: ASYNC109 - the model sets it (milliseconds)
    description: str | None = None,
    run_in_background: bool = False,
) -> Any:
    if run_in_background:
        raise ToolError("run_in_background is not supported here: run the command in the foreground")
    arguments: dict[str, Any] = {"command": command}
    if timeout is not None:
        arguments["timeout"] = min(timeout / 1000.0, 600.0)  # Claude Code's is in milliseconds
    return await _inner("bash", arguments, context)


async def _glob(context: ToolContext, pattern: str, path: str | None = None) -> Any:
    return await _inner("glob", {"pattern": pattern, "path": path or "."}, context)


async def _grep(
    context: ToolContext,
    pattern: str,
    path: str | None = None,
    glob: str | None = None,
    head_limit: int | None = None,
    **flags: Any,
) -> Any:
    arguments: dict[str, Any] = {"pattern": pattern, "path": path or ".", "ignore_case": bool(flags.get("-i"))}
    if glob is not None:
        arguments["glob"] = glob
    if head_limit is not None:
        arguments["max_results"] = head_limit
    return await _inner("grep", arguments, context)


async def _ls(context: ToolContext, path: str = ".", ignore: list[str] | None = None) -> Any:
    result = await _inner("list_dir", {"path": path}, context)
    if result.is_error or not ignore:
        return result
    kept = [line for line in _text(result).splitlines() if not any(pathlib.PurePath(line).match(p) for p in ignore)]
    return "\n".join(kept)


def _make(
    name: str,
    description: str,
    parameters: dict[str, Any],
    function: Callable[..., Any],
    **traits: Any,
) -> Tool:
    return Tool(
        spec=ToolSpec(name=name, description=description, parameters=parameters),
        function=function,
        signature=Signature(parameters={}, context_parameter="context"),
        **traits,
    )


CLAUDE_TOOLS: Mapping[str, Tool] = MappingProxyType(
    {
        tool.name: tool
        for tool in (
            _make(
                "Read",
                "Read a text file, with line numbers; offset (the first line, from 1) and limit for long files.",
                _obj({"file_path": _PATH, "offset": {"type": "integer"}, "limit": {"type": "integer"}}, ["file_path"]),
                _read,
                read_only=True,
                rule_argument="file_path",
            ),
            _make(
                "Write",
                "Write a file, replacing what it held.",
                _obj({"file_path": _PATH, "content": {"type": "string"}}, ["file_path", "content"]),
                _write,
                edits_files=True,
                needs_permission=True,
                rule_argument="file_path",
            ),
            _make(
                "Edit",
                "Replace old_string with new_string in a file (old_string must be unique unless replace_all).",
                _obj(
                    {
                        "file_path": _PATH,
                        "old_string": {"type": "string"},
                        "new_string": {"type": "string"},
                        "replace_all": {"type": "boolean", "default": False},
                    },
                    ["file_path", "old_string", "new_string"],
                ),
                _edit,
                edits_files=True,
                needs_permission=True,
                rule_argument="file_path",
            ),
            _make(
                "MultiEdit",
                "Several edits to one file, in order, all or none.",
                _obj(
                    {
                        "file_path": _PATH,
                        "edits": {
                            "type": "array",
                            "minItems": 1,
                            "items": _obj(
                                {
                                    "old_string": {"type": "string"},
                                    "new_string": {"type": "string"},
                                    "replace_all": {"type": "boolean"},
                                },
                                ["old_string", "new_string"],
                            ),
                        },
                    },
                    ["file_path", "edits"],
                ),
                _multi_edit,
                edits_files=True,
                needs_permission=True,
                rule_argument="file_path",
            ),
            _make(
                "Bash",
                "Run a shell command in the working directory; timeout in milliseconds (at most 600000).",
                _obj(
                    {
                        "command": {"type": "string"},
                        "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 600000},
                        "description": {"type": "string"},
                        "run_in_background": {"type": "boolean"},
                    },
                    ["command"],
                ),
                _bash,
                needs_permission=True,
                rule_argument="command",
            ),
            _make(
                "Glob",
                "Find files whose paths match a glob pattern (**/*.py).",
                _obj({"pattern": {"type": "string"}, "path": {"type": "string"}}, ["pattern"]),
                _glob,
                read_only=True,
                rule_argument="pattern",
            ),
            _make(
                "Grep",
                "Search file contents for a regular expression; glob filters the files, -i ignores case.",
                _obj(
                    {
                        "pattern": {"type": "string"},
                        "path": {"type": "string"},
                        "glob": {"type": "string"},
                        "-i": {"type": "boolean"},
                        "head_limit": {"type": "integer", "minimum": 1},
                    },
                    ["pattern"],
                ),
                _grep,
                read_only=True,
                rule_argument="path",
            ),
            _make(
                "LS",
                "List a directory; ignore holds glob patterns to leave out.",
                _obj({"path": {"type": "string"}, "ignore": {"type": "array", "items": {"type": "string"}}}, ["path"]),
                _ls,
                read_only=True,
                rule_argument="path",
            ),
        )
    }
)
"""Claude Code's built-in tools, backed by anyagent's."""


def claude_tool(name: str) -> Tool:
    """The Claude Code tool ``name``; ``KeyError`` if anyagent has no such tool."""
    return CLAUDE_TOOLS[name]


def task_tool(subagents: Subagents) -> Tool:
    """Claude Code's ``Task`` (``description``, ``prompt``, ``subagent_type``), running the
    subagent as anyagent's ``task`` tool does, so hooks and callbacks written for Claude Code see
    the name and the input they expect."""
    ours = subagents.tool()
    names = sorted(subagents.options.agents)

    async def task(context: ToolContext, description: str, prompt: str, subagent_type: str) -> str:
        return await subagents.run(subagent_type, prompt)

    parameters = _obj(
        {
            "description": {"type": "string", "description": "A short (3-5 word) description of the task."},
            "prompt": {"type": "string", "description": "The task, with everything the agent needs to know."},
            "subagent_type": {"type": "string", "enum": names, "description": "Which agent runs the task."},
        },
        ["description", "prompt", "subagent_type"],
    )
    return _make(TASK, ours.spec.description, parameters, task, read_only=ours.read_only)
