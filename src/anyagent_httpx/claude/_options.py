"""``ClaudeAgentOptions`` → ``AgentOptions``: what each claude-agent-sdk option becomes.

Read when a client opens (the environment is read then, as ``Client`` reads it):

- tools: Claude Code's names become its tools, backed by anyagent's (``_tools``); None or the
  ``claude_code`` preset: all of them; anyagent's own names and ``@tool`` tools are taken too;
  ``mcp_servers`` of type ``sdk`` add their tools as ``mcp__<server>__<tool>``; the others
  (stdio, http, sse) are passed on as ``AgentOptions.mcp_servers``.
- rules (``allowed_tools``, ``disallowed_tools``): Claude Code's names, anyagent's (a rule for
  ``Bash`` applies to ``bash`` when that is the tool offered), ``mcp__<server>`` for all of a
  server's tools; a rule for a Claude Code tool anyagent does not have is dropped (a deny holds
  anyway; an allow gives a ``CompatibilityWarning``); a name nobody knows is a ``ConfigurationError``.
- the model: ``ANY_AGENT_MODEL`` wins over a Claude model name (``claude-...``, ``sonnet``...);
  ``max_budget_usd`` needs prices: ``ANY_AGENT_PRICING="<input>/<output>"`` (dollars per million
  tokens) or the ``ConfigurationError`` says so.
- ``sandbox`` (``SandboxSettings``): ``enabled`` runs ``bash`` in anyagent's bubblewrap sandbox
  (``required`` when ``allowUnsandboxedCommands`` is False), ``enabled: False`` turns it off; its
  keys only Claude Code's sandbox knows give a ``CompatibilityWarning`` each;
- options only Claude Code can honour (plugins, setting sources, betas, the CLI's path and
  arguments, ...) give one ``CompatibilityWarning`` each, saying what is done with them;
- sessions: as Claude Code keeps every conversation, so does this layer: in anyagent's SQLite
  session store at its default place (``$ANY_AGENT_SESSIONS_DB``, or ``sessions.db`` in the user's
  data directory), or in ``session_store`` when it is an anyagent ``SessionStore``; a
  claude-style ``SessionStore`` (``append``/``load``) gets each committed turn as transcript
  lines, the session being kept in process meanwhile (``_mirror``); ``resume``,
  ``continue_conversation`` and ``fork_session`` go on from what is stored there;
  ``session_store_flush``: a store gets each committed turn (``'eager'`` warns so).
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import pathlib
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from anyagent_core import Config, PermissionAllow, PermissionDeny, Pricing, thaw_json
from anyagent_core.settings import PermissionRule
from anyagent_httpx._agent_files import load_agents
from anyagent_httpx._errors import ConfigurationError
from anyagent_httpx._hooks import HOOK_EVENTS, HookEvent, HookMatcher
from anyagent_httpx._options import CLIENT_CONFIG, AgentOptions
from anyagent_httpx._options import AgentDefinition as OurAgentDefinition
from anyagent_httpx._permissions import ToolPermissionContext as OurPermissionContext
from anyagent_httpx._sessions import SessionStore, SQLiteStore
from anyagent_httpx._sessions._sqlite import default_path
from anyagent_httpx._skills import discover_skills
from anyagent_httpx._tools import BUILTIN_TOOLS, Tool, ToolServer
from anyagent_httpx._tools._context import SandboxMode

from ._mirror import MirroredStore, is_claude_store
from ._store import implements
from ._tools import CLAUDE_TOOLS, OURS, TASK, UNAVAILABLE
from ._types import (
    AgentDefinition,
    ClaudeAgentOptions,
    CompatibilityWarning,
    PermissionResultAllow,
    PermissionResultDeny,
    ToolPermissionContext,
)
from ._types import HookMatcher as ClaudeHookMatcher

__all__ = ["ENV_PRICING", "PRESET_SYSTEM_PROMPT", "agent_options", "warn"]

ENV_PRICING = "ANY_AGENT_PRICING"

PRESET_SYSTEM_PROMPT = (
    "You are an agent that helps with software engineering tasks: reading, writing and changing "
    "files, running commands and answering questions about code. Use the tools you are given to "
    "look before you answer, make the smallest change that does the job, and say briefly what you did."
)
"""What ``{"type": "preset", "preset": "claude_code"}`` stands for here (Claude Code's own prompt
is Claude Code's)."""

_CLAUDE_MODEL = re.compile(r"(claude|anthropic)[-/.:]|^(sonnet|opus|haiku|inherit|default|opusplan)$", re.IGNORECASE)

# Options only Claude Code can honour: field -> what is done with it instead.
_CLAUDE_CODE_ONLY = {
    "strict_mcp_config": "there are no MCP configuration files to ignore",
    "betas": "Anthropic API betas are not sent to an OpenAI-compatible endpoint",
    "permission_prompt_tool_name": "permission questions go to can_use_tool",
    "cli_path": "there is no Claude Code CLI: requests go to ANY_AGENT_BASE_URL",
    "settings": "Claude Code's settings files are not read",
    "extra_args": "there is no CLI to pass arguments to",
    "max_buffer_size": "there is no CLI output to buffer",
    "stderr": "there is no CLI process: the callback is never called",
    "user": "there is no CLI process to run as another user",
    "include_hook_events": "hook events are not reported as messages",
    "forward_subagent_text": "subagents' text is not forwarded; a task's result is its final answer",
    "resume_session_at": "a resumed session goes on from its last turn",
    "resume_drops_turn": "a resumed session goes on from its last turn",
    "plugins": "Claude Code plugins are not loaded",
    "max_thinking_tokens": "the endpoint decides how much the model reasons",
    "thinking": "the endpoint decides how much the model reasons",
    "effort": "the endpoint decides how much the model reasons",
    "enable_file_checkpointing": "files are not checkpointed (rewind_files is unavailable)",
    "task_budget": "use max_turns or max_budget_usd",
}

#: One default store per location, shared by the clients of a process (the file stays open).
_STORES: dict[str, SessionStore] = {}


def _session_store(options: ClaudeAgentOptions, env: Mapping[str, str]) -> SessionStore:
    given = options.session_store
    if given is not None:
        if isinstance(given, SessionStore):
            return given
        if not is_claude_store(given):
            raise ConfigurationError(
                f"session_store must be a SessionStore (claude-agent-sdk's protocol: append and load) or an "
                f"anyagent SessionStore (SQLiteStore, PostgresStore, MemoryStore), not {type(given).__name__}"
            )
        if options.continue_conversation and options.resume is None and not implements(given, "list_sessions"):
            raise ConfigurationError(
                "continue_conversation with session_store requires the store to implement list_sessions()"
            )
        if options.load_timeout_ms < 0:
            raise ConfigurationError(f"load_timeout_ms must not be negative, not {options.load_timeout_ms!r}")
        cwd = os.path.realpath(options.cwd if options.cwd is not None else os.getcwd())
        return MirroredStore(given, cwd=cwd, load_timeout=options.load_timeout_ms / 1000)
    location = os.fspath(default_path(env))
    store = _STORES.get(location)
    if store is None:
        store = _STORES[location] = SQLiteStore(location)
    return store


_UNSUPPORTED_HOOKS = {"PermissionRequest"}


def warn(message: str) -> None:
    warnings.warn(message, CompatibilityWarning, stacklevel=4)


def _is_set(options: ClaudeAgentOptions, name: str) -> bool:
    value = getattr(options, name)
    default = ClaudeAgentOptions.__dataclass_fields__[name]
    if default.default_factory is not dataclasses.MISSING:
        try:
            return bool(value != default.default_factory())
        except TypeError:
            return True
    return bool(value != default.default)


def _pricing(env: Mapping[str, str]) -> Pricing | None:
    text = env.get(ENV_PRICING)
    if not text:
        return None
    try:
        given, taken = (float(part) for part in text.split("/"))
        return Pricing(input_per_million=given, output_per_million=taken)
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"{ENV_PRICING}={text!r}: expected '<input>/<output>' dollars per million tokens, such as '0.15/0.6'"
        ) from None


def _model(model: str | None, env: Mapping[str, str], what: str) -> str | None:
    if model is None or not _CLAUDE_MODEL.search(model):
        return model
    if not env.get("ANY_AGENT_MODEL") and what == "model":
        raise ConfigurationError(
            f"model={model!r} is a Claude model; set ANY_AGENT_MODEL to the endpoint's model (it replaces it)"
        )
    return None  # the endpoint's model (ANY_AGENT_MODEL, or the main agent's)


def _prompt_field(value: Mapping[str, Any], key: str) -> str:
    text = value.get(key)
    if not isinstance(text, str):
        raise ConfigurationError(
            f"system_prompt {{'type': {value.get('type')!r}}} needs {key!r} as a string, not {type(text).__name__}"
        )
    return text


def _system_prompt(value: str | Mapping[str, Any] | None) -> str | None:
    """A string as is; the ``claude_code`` preset (plus ``append``), a ``custom`` prompt, a
    ``file``'s text."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"system_prompt is a string or a dict, not {type(value).__name__}")
    kind = value.get("type")
    if value.get("snapshot"):
        warn(
            "system_prompt['snapshot'] is Claude Code's: a session, resumed or not, uses the system prompt "
            "of the options it runs with, never one recorded"
        )
    if kind == "preset":
        if value.get("preset") != "claude_code":
            raise ConfigurationError(f"system_prompt preset {value.get('preset')!r}: the only preset is 'claude_code'")
        append = value.get("append")
        if append is not None and not isinstance(append, str):
            raise ConfigurationError(f"system_prompt['append'] is a string, not {type(append).__name__}")
        return PRESET_SYSTEM_PROMPT + (f"\n\n{append}" if append else "")
    if kind == "custom":
        return _prompt_field(value, "prompt")
    if kind == "file":
        path = _prompt_field(value, "path")
        try:
            return pathlib.Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"system_prompt file {path!r} could not be read: {exc}") from None
    raise ConfigurationError(
        f"system_prompt type {kind!r}: expected a string or a dict of type 'preset', 'custom' or 'file'"
    )


def _servers(value: Any) -> tuple[dict[str, ToolServer], dict[str, Any]]:
    """The in-process servers (their tools join ``tools``) and the others (stdio, http, sse),
    passed on as ``AgentOptions.mcp_servers``."""
    if isinstance(value, str | os.PathLike):
        raise ConfigurationError(
            f"mcp_servers={os.fspath(value)!r}: MCP configuration files are not read; pass the servers in a dict"
        )
    servers: dict[str, ToolServer] = {}
    remote: dict[str, Any] = {}
    for key, config in value.items():
        instance = config.get("instance") if isinstance(config, Mapping) else None
        if isinstance(instance, ToolServer):
            servers[key] = instance
        elif isinstance(config, Mapping):
            remote[key] = {name: item for name, item in config.items() if name != "name"}
        else:
            raise ConfigurationError(f"mcp_servers[{key!r}] is a dict, not {type(config).__name__}")
    return servers, remote


def _tools(value: Any, servers: Mapping[str, ToolServer]) -> list[Tool]:
    if value is None or (isinstance(value, Mapping) and value.get("type") == "preset"):
        names: Sequence[Any] = list(CLAUDE_TOOLS)
    elif isinstance(value, Mapping):
        raise ConfigurationError(f"tools {dict(value)!r}: expected a list of names or the claude_code preset")
    else:
        names = value
    tools: list[Tool] = []
    for item in names:
        if isinstance(item, Tool):
            tools.append(item)
        elif item in CLAUDE_TOOLS:
            tools.append(CLAUDE_TOOLS[item])
        elif item in BUILTIN_TOOLS:
            tools.append(BUILTIN_TOOLS[item])
        elif item == TASK:
            continue  # the subagents' tool comes with agents=
        elif item in UNAVAILABLE:
            raise ConfigurationError(f"tools: {item} ({UNAVAILABLE[item]}) has no anyagent equivalent")
        else:
            known = ", ".join([*CLAUDE_TOOLS, *BUILTIN_TOOLS])
            raise ConfigurationError(f"tools: unknown tool {item!r}; known: {known}")
    for key, server in servers.items():
        tools.extend(server.tools_for(key))
    return tools


def _rules(
    field: str, rules: Sequence[str], tools: Sequence[Tool], has_agents: bool, remote: Mapping[str, Any] = {}
) -> list[str]:
    """The rules, with Claude Code's names mapped onto the tools offered."""
    names = {tool.name for tool in tools} | ({TASK} if has_agents else set())
    out: list[str] = []
    for text in rules:
        rule = PermissionRule.parse(text)
        pattern = "" if rule.pattern is None else f"({rule.pattern})"
        name = rule.tool
        if name in names:
            out.append(text)
        elif name.startswith("mcp__") and name.count("__") == 1:
            server = [tool for tool in names if tool.startswith(f"{name}__")]
            if not server and name[5:] in remote:
                raise ConfigurationError(
                    f"{field} rule {text!r}: the tools of MCP server {name[5:]!r} are known once it is reached; "
                    f"name them one by one ({name}__<tool>)"
                )
            if not server:
                raise ConfigurationError(f"{field} rule {text!r}: there is no MCP server {name[5:]!r}")
            out.extend(f"{tool}{pattern}" for tool in sorted(server))
        elif name in OURS and OURS[name] in names:
            out.append(f"{OURS[name]}{pattern}")  # Bash -> bash, when bash is the tool offered
        elif name in OURS or name in UNAVAILABLE:
            if field == "allowed_tools":
                warn(f"allowed_tools rule {text!r}: {name} is not among the tools offered, so the rule has no effect")
            # a deny rule for a tool that is not there holds anyway
        else:
            out.append(text)  # the ConfigurationError lists what is known
    return out


def _agents(
    value: Mapping[str, AgentDefinition | OurAgentDefinition] | None,
    env: Mapping[str, str],
    main_tools: Sequence[Tool] = (),
) -> dict[str, OurAgentDefinition]:
    agents: dict[str, OurAgentDefinition] = {}
    for name, definition in (value or {}).items():
        if isinstance(definition, OurAgentDefinition):
            agents[name] = definition
            continue
        if not isinstance(definition, AgentDefinition):
            raise TypeError(f"agents[{name!r}] must be an AgentDefinition, not {type(definition).__name__}")
        for field, why in _AGENT_CLAUDE_CODE_ONLY.items():
            if getattr(definition, field) is not None:
                warn(f"agents[{name!r}].{field} is a Claude Code field and is ignored here: {why}")
        tools = None if definition.tools is None else _tools([t for t in definition.tools if t != TASK], {})
        if definition.disallowedTools:
            tools = _without(name, definition.disallowedTools, main_tools if tools is None else tools)
        agents[name] = OurAgentDefinition(
            description=definition.description,
            prompt=definition.prompt,
            tools=tools,
            model=_model(definition.model, env, "agent model"),
            max_turns=definition.maxTurns,
        )
    return agents


#: AgentDefinition fields only Claude Code can honour, and what is done instead.
_AGENT_CLAUDE_CODE_ONLY = {
    "skills": "the subagent has the main agent's skills",
    "memory": "subagents keep no memory between tasks",
    "mcpServers": "the subagent has the main agent's MCP tools (or those of its tools)",
    "initialPrompt": "the subagent starts from the task it is given",
    "background": "a task runs until its answer is ready",
    "effort": "the endpoint decides how much the model reasons",
    "permissionMode": "the subagent asks as the main agent does",
}


def _without(agent: str, names: Sequence[str], tools: Sequence[Tool]) -> list[Tool]:
    """``tools`` less those ``names`` name (Claude Code's names or anyagent's)."""
    for text in names:
        if not isinstance(text, str) or PermissionRule.parse(text).pattern is not None:
            raise ConfigurationError(
                f"agents[{agent!r}].disallowedTools: {text!r} is not a tool name; a subagent's "
                "disallowedTools are whole tools here (put patterns in disallowed_tools)"
            )
    dropped = set(names) | {OURS[text] for text in names if text in OURS}
    return [tool for tool in tools if tool.name not in dropped]


def _claude_dirs(options: ClaudeAgentOptions, env: Mapping[str, str]) -> list[pathlib.Path]:
    """The ``.claude`` folders of ``setting_sources``, the user's first (a project's wins)."""
    sources = options.setting_sources or ()
    unknown = sorted(set(sources) - {"user", "project", "local"})
    if unknown:
        raise ConfigurationError(f"setting_sources: unknown source {unknown[0]!r}; known: user, project, local")
    folders = []
    if "user" in sources:
        home = env.get("HOME")
        folders.append((pathlib.Path(home) if home else pathlib.Path.home()) / ".claude")
    if "project" in sources or "local" in sources:
        folders.append(pathlib.Path(options.cwd if options.cwd is not None else os.getcwd()) / ".claude")
    return list(dict.fromkeys(folders))


def _file_agents(folders: Sequence[pathlib.Path], env: Mapping[str, str]) -> dict[str, OurAgentDefinition]:
    """The agents of ``<folder>/agents/*.md``, a later folder's replacing an earlier's."""
    agents: dict[str, OurAgentDefinition] = {}
    claude_tools = list(CLAUDE_TOOLS.values())  # an agent file names Claude Code's tools
    for folder in folders:
        for name, definition in load_agents(folder / "agents", tools=claude_tools).items():
            model = _model(definition.model, env, f"the model of {folder / 'agents' / name}.md")
            agents[name] = attrs.evolve(definition, model=model)
    return agents


def _skill_folders(options: ClaudeAgentOptions, folders: Sequence[pathlib.Path]) -> tuple[bool, list[str]]:
    """``skills=`` and ``setting_sources`` as anyagent's ``skills`` flag and ``skill_dirs``."""
    wanted = options.skills
    dirs = [os.fspath(folder / "skills") for folder in reversed(folders) if (folder / "skills").is_dir()]
    if wanted is None:
        return False, dirs
    if wanted == "all":
        return True, dirs
    if isinstance(wanted, str) or not all(isinstance(name, str) for name in wanted):
        raise ConfigurationError(f"skills must be 'all' or a list of skill names, not {wanted!r}")
    if not wanted:
        return False, []
    found = {skill.name: skill for skill in discover_skills(options.cwd, extra=dirs, user=False)}
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise ConfigurationError(
            f"skills: no skill named {missing[0]!r}; found: {', '.join(sorted(found)) or 'none'} "
            f"(in .anyagent/skills/ and the .claude/skills/ of setting_sources)"
        )
    return False, [os.fspath(found[name].path) for name in dict.fromkeys(wanted)]


#: Claude Code's timeout for a hook whose matcher gives none, in seconds.
CLAUDE_HOOK_TIMEOUT = 60.0


def _hooks(
    value: Mapping[str, Sequence[HookMatcher | ClaudeHookMatcher]] | None,
) -> dict[HookEvent, list[HookMatcher]]:
    hooks: dict[HookEvent, list[HookMatcher]] = {}
    for event, matchers in (value or {}).items():
        if event in _UNSUPPORTED_HOOKS:
            warn(f"hooks[{event!r}]: anyagent has no {event} event, so these hooks are never called")
            continue
        known = next((name for name in HOOK_EVENTS if name == event), None)
        if known is None:
            raise ConfigurationError(f"unknown hook event {event!r}; known: {', '.join(HOOK_EVENTS)}")
        hooks[known] = [_matcher(_ours(matcher, f"hooks[{event!r}][{at}]")) for at, matcher in enumerate(matchers)]
    return hooks


def _ours(matcher: HookMatcher | ClaudeHookMatcher, where: str) -> HookMatcher:
    """claude-agent-sdk's ``HookMatcher`` as anyagent's (no timeout: Claude Code's 60 seconds)."""
    if isinstance(matcher, HookMatcher):
        return matcher
    if not isinstance(matcher, ClaudeHookMatcher):
        raise ConfigurationError(f"{where} must be a HookMatcher, not {type(matcher).__name__}")
    try:
        return HookMatcher(
            matcher=matcher.matcher,
            hooks=matcher.hooks,
            timeout=CLAUDE_HOOK_TIMEOUT if matcher.timeout is None else matcher.timeout,
            on_failure=matcher.on_failure,
        )
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


def _matcher(matcher: HookMatcher) -> HookMatcher:
    """``matcher``, also matching the anyagent tools behind the Claude Code names it matches:
    a hook for ``Task`` sees the ``task`` calls that run subagents, one for ``Bash`` those of
    ``bash`` when that is the tool offered (as permission rules are mapped)."""
    pattern = matcher.matcher
    if pattern in (None, "*", ""):
        return matcher
    assert pattern is not None
    ours = [
        theirs for name, theirs in OURS.items() if re.fullmatch(pattern, name) and not re.fullmatch(pattern, theirs)
    ]
    if not ours:
        return matcher
    return attrs.evolve(matcher, matcher="|".join([f"(?:{pattern})", *map(re.escape, dict.fromkeys(ours))]))


def _can_use_tool(callback: Any) -> Any:
    """The claude-agent-sdk callback as anyagent's: a dict input, its context and results."""
    if callback is None:
        return None

    async def ask(
        name: str, input: Mapping[str, Any], context: OurPermissionContext
    ) -> PermissionAllow | PermissionDeny:
        theirs = ToolPermissionContext(
            tool_use_id=context.tool_use_id, agent_id=context.agent, decision_reason=context.reason
        )
        answer = callback(name, thaw_json(input), theirs)
        if inspect.isawaitable(answer):
            answer = await answer
        if isinstance(answer, PermissionResultAllow):
            return PermissionAllow(updated_input=answer.updated_input)
        if isinstance(answer, PermissionResultDeny):
            return PermissionDeny(message=answer.message or "denied", interrupt=answer.interrupt)
        if isinstance(answer, PermissionAllow | PermissionDeny):
            return answer
        raise TypeError(
            f"can_use_tool returned {type(answer).__name__} for {name!r}; "
            "return PermissionResultAllow(...) or PermissionResultDeny(...)"
        )

    return ask


#: SandboxSettings keys that only Claude Code's sandbox honours, and what is done instead.
_SANDBOX_ONLY = {
    "autoAllowBashIfSandboxed": "commands are still asked about (or allowed by rule) in the sandbox",
    "excludedCommands": "every command runs in the sandbox",
    "ignoreViolations": "a command the sandbox stops fails",
    "enableWeakerNestedSandbox": "bubblewrap runs as it is",
}


def _sandbox(settings: Mapping[str, Any] | None) -> tuple[SandboxMode, bool]:
    """Claude Code's ``SandboxSettings`` as anyagent's ``sandbox`` and ``sandbox_network``:
    ``enabled`` runs ``bash`` in bubblewrap (``required`` when ``allowUnsandboxedCommands`` is
    False, else ``auto``: sandboxed where bubblewrap works); ``enabled: False`` turns it off;
    unset keeps anyagent's default (``auto``). Any ``network`` setting gives the commands the
    network (Claude Code's finer network rules are not kept)."""
    if settings is None:
        return "auto", False
    if not isinstance(settings, Mapping):
        raise ConfigurationError(f"sandbox is a dict of SandboxSettings, not {type(settings).__name__}")
    for key, why in _SANDBOX_ONLY.items():
        if key in settings:
            warn(f"sandbox[{key!r}] is Claude Code's and is ignored here: {why}")
    network = bool(settings.get("network"))
    if network:
        warn("sandbox['network']: commands in the sandbox get the whole network (its finer rules are Claude Code's)")
    enabled = settings.get("enabled")
    if enabled is None:
        return "auto", network
    if not enabled:
        return "off", network
    return ("required" if settings.get("allowUnsandboxedCommands") is False else "auto"), network


def _client_app(app: object) -> Config:
    """anyagent's configuration with ``app`` after its User-Agent, as Claude Code sends it."""
    if not isinstance(app, str) or not app.isprintable() or not app.isascii():
        raise ConfigurationError(f"client_app is one line of printable ASCII (such as 'my-app/1.0.0'), not {app!r}")
    return attrs.evolve(CLIENT_CONFIG, user_agent=f"{CLIENT_CONFIG.user_agent} {app}")


def agent_options(options: ClaudeAgentOptions, env: Mapping[str, str], **extra: Any) -> AgentOptions:
    """``options`` as anyagent's ``AgentOptions`` (``extra``: more of its fields)."""
    if not isinstance(options, ClaudeAgentOptions):
        raise TypeError(f"options must be ClaudeAgentOptions, not {type(options).__name__}")
    for name, why in _CLAUDE_CODE_ONLY.items():
        if _is_set(options, name):
            warn(f"{name} is a Claude Code option and is ignored here: {why}")
    if options.session_store_flush not in ("batched", "eager"):
        raise ConfigurationError(f"session_store_flush={options.session_store_flush!r}: expected 'batched' or 'eager'")
    if options.session_store_flush == "eager" and options.session_store is not None:
        warn("session_store_flush='eager' is not kept: the session_store gets each committed turn, as with 'batched'")
    mode = options.permission_mode or "default"
    can_use_tool = options.can_use_tool
    if mode == "dontAsk":
        mode, can_use_tool = "default", None  # what would be asked is denied
    elif mode == "auto":
        warn("permission_mode='auto' is Claude Code's classifier; 'default' is used (can_use_tool is asked)")
        mode = "default"
    servers, remote = _servers(options.mcp_servers)
    tools = _tools(options.tools, servers)
    folders = _claude_dirs(options, env)
    if options.setting_sources:
        warn(
            "setting_sources: the agents and skills in the .claude/ folders of these sources are loaded; "
            "Claude Code's settings.json files, CLAUDE.md and slash commands are not read"
        )
    agents = {**_file_agents(folders, env), **_agents(options.agents, env, tools)}  # the options' agents win
    skills, skill_dirs = _skill_folders(options, folders)
    fallback: tuple[str, ...] = ()
    if options.fallback_model is not None:
        fallback_model = _model(options.fallback_model, env, "fallback_model")
        if fallback_model is None:
            warn(f"fallback_model={options.fallback_model!r} is a Claude model and is not used")
        else:
            fallback = (fallback_model,)
    output_schema = None
    if options.output_format is not None:
        schema = options.output_format.get("schema")
        if options.output_format.get("type") != "json_schema" or not isinstance(schema, Mapping):
            raise ConfigurationError("output_format is {'type': 'json_schema', 'schema': {...}}")
        output_schema = schema
    pricing = _pricing(env)
    if options.max_budget_usd is not None and pricing is None:
        raise ConfigurationError(
            f"max_budget_usd needs the model's prices: set {ENV_PRICING}='<input>/<output>' "
            "(dollars per million tokens, such as '0.15/0.6'); without prices the budget would never stop a run"
        )
    sandbox, sandbox_network = _sandbox(options.sandbox)
    if options.client_app:
        extra.setdefault("config", _client_app(options.client_app))
    return AgentOptions(
        sandbox=sandbox,
        sandbox_network=sandbox_network,
        model=_model(options.model, env, "model"),
        system_prompt=_system_prompt(options.system_prompt),
        max_turns=options.max_turns,
        tools=tools,
        allowed_tools=_rules("allowed_tools", options.allowed_tools, tools, bool(agents), remote),
        disallowed_tools=_rules("disallowed_tools", options.disallowed_tools, tools, bool(agents), remote),
        mcp_servers=remote,
        permission_mode=mode,
        can_use_tool=_can_use_tool(can_use_tool),
        hooks=_hooks(options.hooks),
        cwd=options.cwd,
        allowed_dirs=options.add_dirs,
        include_partial_messages=options.include_partial_messages,
        agents=agents,
        skills=skills,
        skill_dirs=tuple(skill_dirs),
        fallback_models=fallback,
        output_schema=output_schema,
        max_budget_usd=options.max_budget_usd,
        pricing=pricing,
        session_store=_session_store(options, env),
        resume=options.resume,
        continue_conversation=options.continue_conversation,
        fork_session=options.fork_session,
        **extra,
    )
