"""claude-agent-sdk's value types, as its programs use them: messages and blocks (dataclasses
with its field names), ``ClaudeAgentOptions``, ``AgentDefinition``, the permission results and
context, the errors, the MCP server configurations and statuses, and the TypedDicts its programs
build options from and annotate with (the hooks' are in ``_hook_types``, those of what only
Claude Code reports in ``_reported``)."""

import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, Required, TypeAlias, TypedDict

from anyagent_httpx._errors import AnyAgentError, APIConnectionError, ConfigurationError, MalformedResponseError
from anyagent_httpx._hooks import HookFailure
from anyagent_httpx._hooks import HookMatcher as OurHookMatcher
from anyagent_httpx._tools import ToolServer

from ._store import SessionStoreFlushMode

__all__ = [
    "AgentDefinition",
    "AssistantMessage",
    "AssistantMessageError",
    "CLIConnectionError",
    "CLIJSONDecodeError",
    "CLINotFoundError",
    "CanUseTool",
    "CanUseToolShadowedWarning",
    "ClaudeAgentOptions",
    "ClaudeSDKError",
    "CompatibilityWarning",
    "ContentBlock",
    "ContextUsageCategory",
    "ContextUsageResponse",
    "ConversationResetMessage",
    "DeferredToolUse",
    "EffortLevel",
    "HookMatcher",
    "McpClaudeAIProxyServerConfig",
    "McpHttpServerConfig",
    "McpSSEServerConfig",
    "McpSdkServerConfig",
    "McpSdkServerConfigStatus",
    "McpServerConfig",
    "McpServerConnectionStatus",
    "McpServerInfo",
    "McpServerStatus",
    "McpServerStatusConfig",
    "McpStatusResponse",
    "McpStdioServerConfig",
    "McpToolAnnotations",
    "McpToolInfo",
    "Message",
    "MessageOrigin",
    "MessageOriginKind",
    "MirrorErrorMessage",
    "ModelUsage",
    "PermissionBehavior",
    "PermissionMode",
    "PermissionResult",
    "PermissionResultAllow",
    "PermissionResultDeny",
    "PermissionRuleValue",
    "PermissionUpdate",
    "PermissionUpdateDestination",
    "ProcessError",
    "RateLimitEvent",
    "RateLimitInfo",
    "RateLimitStatus",
    "RateLimitType",
    "ResultError",
    "ResultMessage",
    "SandboxIgnoreViolations",
    "SandboxNetworkConfig",
    "SandboxSettings",
    "SdkBeta",
    "SdkPluginConfig",
    "ServerToolName",
    "ServerToolResultBlock",
    "ServerToolUseBlock",
    "SettingSource",
    "StreamEvent",
    "SystemMessage",
    "SystemPromptCustom",
    "SystemPromptFile",
    "SystemPromptPreset",
    "TaskBudget",
    "TaskNotificationOriginSubkind",
    "TextBlock",
    "ThinkingBlock",
    "ThinkingConfig",
    "ThinkingConfigAdaptive",
    "ThinkingConfigDisabled",
    "ThinkingConfigEnabled",
    "ThinkingDisplay",
    "ToolPermissionContext",
    "ToolResultBlock",
    "ToolUseBlock",
    "ToolsPreset",
    "UserMessage",
]


class CompatibilityWarning(UserWarning):
    """An option or call of claude-agent-sdk that only Claude Code can honour was accepted; the
    message says what is done with it instead."""


# ---- errors --------------------------------------------------------------------------------------

ClaudeSDKError = AnyAgentError
"""Every error anyagent raises."""
CLIConnectionError = APIConnectionError
"""The endpoint could not be reached (there is no CLI process: the connection is HTTP)."""
CLIJSONDecodeError = MalformedResponseError
"""The endpoint sent something that is not the protocol."""


class CLINotFoundError(APIConnectionError):
    """Never raised: there is no Claude Code CLI to find (kept so ``except`` clauses work)."""


class ProcessError(AnyAgentError):
    """Never raised: there is no CLI process (kept so ``except`` clauses work)."""

    def __init__(self, message: str, exit_code: int | None = None, stderr: str | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr = stderr


class ResultError(ProcessError):
    """Never raised (kept so ``except`` clauses work)."""


class NotSupportedError(ClaudeSDKError, NotImplementedError):
    """A ``ClaudeSDKClient`` method that only Claude Code can carry out was called, or a
    ``transport=`` given; the message names it and why (an ``except NotImplementedError``
    catches it too)."""


class CanUseToolShadowedWarning(UserWarning):
    """Never issued here (kept so warning filters naming it work)."""


# ---- blocks and messages -------------------------------------------------------------------------


@dataclass
class TextBlock:
    text: str


@dataclass
class ThinkingBlock:
    thinking: str
    signature: str = ""
    """Empty when the endpoint sent none (claude-agent-sdk's has no default)."""


@dataclass
class ToolUseBlock:
    id: str
    name: str
    input: dict[str, Any]


@dataclass
class ToolResultBlock:
    tool_use_id: str
    content: str | list[dict[str, Any]] | None = None
    is_error: bool | None = None


# Server-side tools: the Anthropic API runs them, so an OpenAI-compatible endpoint never reports them.
ServerToolName: TypeAlias = Literal[
    "advisor",
    "web_search",
    "web_fetch",
    "code_execution",
    "bash_code_execution",
    "text_editor_code_execution",
    "tool_search_tool_regex",
    "tool_search_tool_bm25",
]


@dataclass
class ServerToolUseBlock:
    id: str
    name: ServerToolName
    input: dict[str, Any]


@dataclass
class ServerToolResultBlock:
    tool_use_id: str
    content: dict[str, Any]


ContentBlock: TypeAlias = (
    TextBlock | ThinkingBlock | ToolUseBlock | ToolResultBlock | ServerToolUseBlock | ServerToolResultBlock
)

AssistantMessageError: TypeAlias = Literal[
    "authentication_failed", "billing_error", "rate_limit", "invalid_request", "server_error", "unknown"
]
MessageOriginKind: TypeAlias = Literal[
    "human",
    "channel",
    "peer",
    "task-notification",
    "coordinator",
    "unclassified",
    "observer",
    "auto-continuation",
    "observer-activity",
]
TaskNotificationOriginSubkind: TypeAlias = Literal["scheduled-trigger", "peer-send-message"]
MessageOrigin = TypedDict(
    "MessageOrigin",
    {
        "kind": Required[MessageOriginKind],
        "server": str,
        "from": str,
        "name": str,
        "fromSession": str,
        "senderTaskId": str,
        "body": str,
        "verifiedPeerPid": int,
        "subkind": TaskNotificationOriginSubkind,
    },
    total=False,
)
"""Where a user message came from (Claude Code's injected turns); None on every message here: all
of them are the program's prompts, its tools' results or its own answers."""


@dataclass
class UserMessage:
    content: str | list[ContentBlock]
    uuid: str | None = None
    parent_tool_use_id: str | None = None
    tool_use_result: dict[str, Any] | None = None
    origin: MessageOrigin | None = None
    """Always None: no turn is injected here."""


@dataclass
class AssistantMessage:
    content: list[ContentBlock]
    model: str
    parent_tool_use_id: str | None = None
    error: AssistantMessageError | None = None
    usage: dict[str, Any] | None = None
    """``input_tokens``, ``output_tokens`` (and ``estimated`` when the server reported none)."""
    message_id: str | None = None
    stop_reason: str | None = None
    session_id: str | None = None
    uuid: str | None = None
    user_message_uuid: str | None = None
    """Always None (the prompts' own ``uuid`` keys are not tracked)."""
    user_message_uuids: list[str] | None = None
    """Always None."""


@dataclass
class SystemMessage:
    subtype: str
    data: dict[str, Any]


@dataclass
class MirrorErrorMessage(SystemMessage):
    """A ``session_store``'s ``append`` failed (three tries, or one that timed out): the
    conversation goes on, and the store lacks those entries. ``subtype`` is ``mirror_error``."""

    key: Any = None
    """The ``SessionKey`` the entries were for."""
    error: str = ""


@dataclass
class DeferredToolUse:
    """The tool call a run stopped for, waiting for its result (``terminal_reason``
    ``tool_deferred``)."""

    id: str
    name: str
    input: dict[str, Any]


class ModelUsage(TypedDict):
    inputTokens: int
    outputTokens: int
    cacheReadInputTokens: int
    cacheCreationInputTokens: int
    webSearchRequests: int
    costUSD: float
    contextWindow: int
    maxOutputTokens: int
    canonicalModel: NotRequired[str]
    provider: NotRequired[str]


@dataclass
class ResultMessage:
    subtype: str
    duration_ms: int
    duration_api_ms: int
    is_error: bool
    num_turns: int
    session_id: str
    stop_reason: str | None = None
    total_cost_usd: float | None = None
    """0.0 without pricing (``ANY_AGENT_PRICING``), never None."""
    usage: dict[str, Any] | None = None
    result: str | None = None
    structured_output: Any = None
    model_usage: dict[str, ModelUsage] | None = None
    permission_denials: list[Any] | None = None
    deferred_tool_use: DeferredToolUse | None = None
    """The first tool call waiting for its result (``ToolSpec`` tools), if the run stopped for one."""
    errors: list[str] | None = None
    api_error_status: int | None = None
    """Always None: the result does not carry the failed request's status (``errors`` says
    what failed; ``anyagent_httpx.APIStatusError`` has the status where one is raised)."""
    uuid: str | None = None
    terminal_reason: str | None = None
    """Why the run ended, in Claude Code's words: ``completed``, ``tool_deferred``, ``max_turns``,
    ``aborted_streaming`` (interrupted), ``hook_stopped``, ``budget_exhausted``,
    ``structured_output_retry_exhausted``, ``api_error``; None when Claude Code has no word
    for it (a doom loop)."""
    origin: MessageOrigin | None = None
    """Always None: no turn is injected here."""
    user_message_uuid: str | None = None
    """Always None (the prompts' own ``uuid`` keys are not tracked)."""
    user_message_uuids: list[str] | None = None
    """Always None."""


@dataclass
class StreamEvent:
    uuid: str
    session_id: str
    event: dict[str, Any]
    """An Anthropic Messages stream event (``message_start``, ``content_block_delta``, ...)."""
    parent_tool_use_id: str | None = None
    user_message_uuid: str | None = None
    """Always None (the prompts' own ``uuid`` keys are not tracked)."""
    user_message_uuids: list[str] | None = None
    """Always None."""


RateLimitStatus: TypeAlias = Literal["allowed", "allowed_warning", "rejected"]
RateLimitType: TypeAlias = Literal["five_hour", "seven_day", "seven_day_opus", "seven_day_sonnet", "overage"]


@dataclass
class RateLimitInfo:
    status: RateLimitStatus
    resets_at: int | None = None
    rate_limit_type: RateLimitType | None = None
    utilization: float | None = None
    overage_status: RateLimitStatus | None = None
    overage_resets_at: int | None = None
    overage_disabled_reason: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class RateLimitEvent:
    """A Claude subscription's rate limit changed (an endpoint's 429s are retried instead)."""

    rate_limit_info: RateLimitInfo
    uuid: str
    session_id: str


@dataclass
class ConversationResetMessage:
    """Claude Code's ``/clear``; anyagent's conversations are not cleared in place."""

    new_conversation_id: str
    uuid: str
    session_id: str


Message: TypeAlias = (
    UserMessage
    | AssistantMessage
    | SystemMessage
    | ResultMessage
    | StreamEvent
    | RateLimitEvent
    | ConversationResetMessage
)


# ---- permissions ---------------------------------------------------------------------------------

PermissionMode: TypeAlias = Literal["default", "acceptEdits", "plan", "bypassPermissions", "dontAsk", "auto"]
SettingSource: TypeAlias = Literal["user", "project", "local"]
PermissionUpdateDestination: TypeAlias = Literal["userSettings", "projectSettings", "localSettings", "session"]
PermissionBehavior: TypeAlias = Literal["allow", "deny", "ask"]

_UPDATE_NEEDS = {
    "addRules": ("rules", "behavior"),
    "replaceRules": ("rules", "behavior"),
    "removeRules": ("rules", "behavior"),
    "setMode": ("mode",),
    "addDirectories": ("directories",),
    "removeDirectories": ("directories",),
}


@dataclass
class PermissionRuleValue:
    """A rule of a ``PermissionUpdate``: a tool, and what it matches in the tool's input
    (None: every call)."""

    tool_name: str
    rule_content: str | None = None


@dataclass
class PermissionUpdate:
    """Accepted in ``PermissionResultAllow.updated_permissions``; not applied (Claude Code
    keeps them in its settings files)."""

    type: Literal["addRules", "replaceRules", "removeRules", "setMode", "addDirectories", "removeDirectories"]
    rules: list[PermissionRuleValue] | None = None
    behavior: PermissionBehavior | None = None
    mode: PermissionMode | None = None
    directories: list[str] | None = None
    destination: PermissionUpdateDestination | None = None
    """None means ``session``."""

    def to_dict(self) -> dict[str, Any]:
        """The update in Claude Code's wire form (camelCase rules, ``session`` for no
        destination); a ``ConfigurationError`` (a ``ValueError``) names a field its type needs
        that is None, or a type that is none of the six."""
        needs = _UPDATE_NEEDS.get(self.type)
        if needs is None:
            raise ConfigurationError(f"PermissionUpdate.type {self.type!r}: expected one of {', '.join(_UPDATE_NEEDS)}")
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ConfigurationError(f"PermissionUpdate(type={self.type!r}) needs {' and '.join(missing)}")
        out: dict[str, Any] = {"type": self.type, "destination": self.destination or "session"}
        if self.rules is not None and "rules" in needs:
            out["rules"] = [
                {"toolName": rule.tool_name} | ({} if rule.rule_content is None else {"ruleContent": rule.rule_content})
                for rule in self.rules
            ]
        for name in needs:
            if name != "rules":
                out[name] = getattr(self, name)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PermissionUpdate":
        """An update from its wire form (``to_dict``'s); a ``ConfigurationError`` names what is
        missing or of the wrong type."""
        if not isinstance(data, Mapping) or not isinstance(data.get("type"), str):
            raise ConfigurationError(f"a permission update is a dict with a 'type', not {data!r}")
        rules = data.get("rules")
        if rules is not None:
            if not isinstance(rules, list) or not all(
                isinstance(rule, Mapping) and isinstance(rule.get("toolName"), str) for rule in rules
            ):
                raise ConfigurationError(
                    f"permission update 'rules' is a list of {{'toolName': ...}} dicts, not {rules!r}"
                )
            rules = [
                PermissionRuleValue(tool_name=rule["toolName"], rule_content=rule.get("ruleContent")) for rule in rules
            ]
        return cls(
            type=data["type"],
            rules=rules,
            behavior=data.get("behavior"),
            mode=data.get("mode"),
            directories=data.get("directories"),
            destination=data.get("destination"),
        )


@dataclass
class ToolPermissionContext:
    signal: Any | None = None
    suggestions: list[PermissionUpdate] = field(default_factory=list)
    tool_use_id: str | None = None
    agent_id: str | None = None
    blocked_path: str | None = None
    decision_reason: str | None = None
    title: str | None = None
    display_name: str | None = None
    description: str | None = None


@dataclass
class PermissionResultAllow:
    behavior: Literal["allow"] = "allow"
    updated_input: dict[str, Any] | None = None
    updated_permissions: list[PermissionUpdate] | None = None


@dataclass
class PermissionResultDeny:
    behavior: Literal["deny"] = "deny"
    message: str = ""
    interrupt: bool = False


PermissionResult: TypeAlias = PermissionResultAllow | PermissionResultDeny
CanUseTool: TypeAlias = Callable[[str, dict[str, Any], ToolPermissionContext], Awaitable[PermissionResult]]

# ---- MCP -----------------------------------------------------------------------------------------


class McpStdioServerConfig(TypedDict):
    """A server run as a command (``mcp`` extra)."""

    type: NotRequired[Literal["stdio"]]
    command: str
    args: NotRequired[list[str]]
    env: NotRequired[dict[str, str]]


class McpSSEServerConfig(TypedDict):
    """A server over server-sent events (``mcp`` extra)."""

    type: Literal["sse"]
    url: str
    headers: NotRequired[dict[str, str]]


class McpHttpServerConfig(TypedDict):
    """A server over streamable HTTP (``mcp`` extra)."""

    type: Literal["http"]
    url: str
    headers: NotRequired[dict[str, str]]


class McpSdkServerConfig(TypedDict):
    """An in-process server, from ``create_sdk_mcp_server``: its tools are offered as
    ``mcp__<key>__<tool>``."""

    type: Literal["sdk"]
    name: str
    instance: ToolServer


McpServerConfig: TypeAlias = McpStdioServerConfig | McpSSEServerConfig | McpHttpServerConfig | McpSdkServerConfig


class McpSdkServerConfigStatus(TypedDict):
    """An in-process server's configuration as ``get_mcp_status()`` gives it (no ``instance``)."""

    type: Literal["sdk"]
    name: str


class McpClaudeAIProxyServerConfig(TypedDict):
    """A server proxied through claude.ai (never reported here)."""

    type: Literal["claudeai-proxy"]
    url: str
    id: str


McpServerStatusConfig: TypeAlias = (
    McpStdioServerConfig
    | McpSSEServerConfig
    | McpHttpServerConfig
    | McpSdkServerConfigStatus
    | McpClaudeAIProxyServerConfig
)


class McpToolAnnotations(TypedDict, total=False):
    readOnly: bool
    destructive: bool
    openWorld: bool


class McpToolInfo(TypedDict):
    name: str
    description: NotRequired[str]
    annotations: NotRequired[McpToolAnnotations]


class McpServerInfo(TypedDict):
    """What the server said its name and version are."""

    name: str
    version: str


McpServerConnectionStatus: TypeAlias = Literal["connected", "failed", "needs-auth", "pending", "disabled"]


class McpServerStatus(TypedDict):
    """One server of ``get_mcp_status()``."""

    name: str
    status: McpServerConnectionStatus
    serverInfo: NotRequired[McpServerInfo]
    error: NotRequired[str]
    config: NotRequired[McpServerStatusConfig]
    scope: NotRequired[str]
    tools: NotRequired[list[McpToolInfo]]


class McpStatusResponse(TypedDict):
    """What ``ClaudeSDKClient.get_mcp_status()`` gives."""

    mcpServers: list[McpServerStatus]


# ---- option values that are dicts in claude-agent-sdk --------------------------------------------

EffortLevel: TypeAlias = Literal["low", "medium", "high", "xhigh", "max"]
SdkBeta: TypeAlias = Literal["context-1m-2025-08-07"]


class SystemPromptPreset(TypedDict):
    """``{"type": "preset", "preset": "claude_code"}``: anyagent's short agentic prompt (Claude
    Code's own is Claude Code's), with ``append`` after it. It has no dynamic sections, so
    ``exclude_dynamic_sections`` changes nothing; ``snapshot`` gives a ``CompatibilityWarning``:
    a session uses the prompt of the options it runs with, never one recorded."""

    type: Literal["preset"]
    preset: Literal["claude_code"]
    append: NotRequired[str]
    exclude_dynamic_sections: NotRequired[bool]
    snapshot: NotRequired[bool]


class SystemPromptCustom(TypedDict):
    """``{"type": "custom", "prompt": ...}``: the same as the string ``prompt``."""

    type: Literal["custom"]
    prompt: str
    snapshot: NotRequired[bool]


class SystemPromptFile(TypedDict):
    """``{"type": "file", "path": ...}``: the file's text (UTF-8), read when the client opens."""

    type: Literal["file"]
    path: str


class ToolsPreset(TypedDict):
    """``{"type": "preset", "preset": "claude_code"}``: every tool of ``CLAUDE_TOOLS``."""

    type: Literal["preset"]
    preset: Literal["claude_code"]


class TaskBudget(TypedDict):
    """Accepted, with a ``CompatibilityWarning``: use ``max_turns`` or ``max_budget_usd``."""

    total: int


class SdkPluginConfig(TypedDict):
    """Accepted, with a ``CompatibilityWarning``: plugins are not loaded."""

    type: Literal["local"]
    path: str


class SandboxNetworkConfig(TypedDict, total=False):
    """Any of it gives the sandboxed commands the whole network (the finer rules are Claude Code's)."""

    allowedDomains: list[str]
    deniedDomains: list[str]
    allowManagedDomainsOnly: bool
    allowUnixSockets: list[str]
    allowAllUnixSockets: bool
    allowLocalBinding: bool
    allowMachLookup: list[str]
    httpProxyPort: int
    socksProxyPort: int


SandboxIgnoreViolations: TypeAlias = dict[str, list[str]]


class SandboxSettings(TypedDict, total=False):
    """``enabled`` runs ``bash`` in anyagent's bubblewrap sandbox (see ``ClaudeAgentOptions.sandbox``)."""

    enabled: bool
    autoAllowBashIfSandboxed: bool
    excludedCommands: list[str]
    allowUnsandboxedCommands: bool
    network: SandboxNetworkConfig
    ignoreViolations: SandboxIgnoreViolations
    enableWeakerNestedSandbox: bool


ThinkingDisplay: TypeAlias = Literal["summarized", "omitted"]


class ThinkingConfigAdaptive(TypedDict):
    type: Literal["adaptive"]
    display: NotRequired[ThinkingDisplay]


class ThinkingConfigEnabled(TypedDict):
    type: Literal["enabled"]
    budget_tokens: int
    display: NotRequired[ThinkingDisplay]


class ThinkingConfigDisabled(TypedDict):
    type: Literal["disabled"]


ThinkingConfig: TypeAlias = ThinkingConfigAdaptive | ThinkingConfigEnabled | ThinkingConfigDisabled
"""Accepted, with a ``CompatibilityWarning``: the endpoint decides how much the model reasons."""


class ContextUsageCategory(TypedDict):
    """One part of the context: its name, tokens and the colour Claude Code draws it in."""

    name: str
    tokens: int
    color: str
    isDeferred: NotRequired[bool]


class ContextUsageResponse(TypedDict):
    """What ``ClaudeSDKClient.get_context_usage()`` gives: the next request's tokens by part
    (system prompt, tools, messages) against the model's window."""

    categories: list[ContextUsageCategory]
    totalTokens: int
    maxTokens: int
    """The window (0 when no window is known)."""
    rawMaxTokens: int
    percentage: float
    model: str
    isAutoCompactEnabled: bool
    """Always True: a request that would not fit is compacted (``context_strategy``)."""
    memoryFiles: list[dict[str, Any]]
    mcpTools: list[dict[str, Any]]
    agents: list[dict[str, Any]]
    gridRows: list[list[dict[str, Any]]]
    autoCompactThreshold: NotRequired[int]
    deferredBuiltinTools: NotRequired[list[dict[str, Any]]]
    systemTools: NotRequired[list[dict[str, Any]]]
    systemPromptSections: NotRequired[list[dict[str, Any]]]
    slashCommands: NotRequired[dict[str, Any]]
    skills: NotRequired[dict[str, Any]]
    messageBreakdown: NotRequired[dict[str, Any]]
    apiUsage: NotRequired[dict[str, Any] | None]


# ---- agents and options --------------------------------------------------------------------------


@dataclass
class AgentDefinition:
    """A subagent, with claude-agent-sdk's fields in its order. ``tools``, ``disallowedTools``
    (tool names), ``model`` and ``maxTurns`` are kept; the other fields give one
    ``CompatibilityWarning`` each when set."""

    description: str
    prompt: str
    tools: list[str] | None = None
    """None: the main agent's tools."""
    disallowedTools: list[str] | None = None
    """Tool names taken out of ``tools`` (or of the main agent's tools)."""
    model: str | None = None
    """A model name; Claude's aliases (``sonnet``, ``opus``, ``haiku``, ``inherit``) mean the
    main agent's model."""
    skills: list[str] | None = None
    memory: Literal["user", "project", "local"] | None = None
    mcpServers: list[str | dict[str, Any]] | None = None
    initialPrompt: str | None = None
    maxTurns: int | None = None
    background: bool | None = None
    effort: EffortLevel | int | None = None
    permissionMode: PermissionMode | None = None


@dataclass
class HookMatcher:
    """Hooks for the tools ``matcher`` names, with claude-agent-sdk's fields in its order; it
    becomes anyagent's ``HookMatcher`` (``ClaudeAgentOptions.hooks`` takes those too)."""

    matcher: str | None = None
    """A regular expression matched against the whole tool name (``"Write|Edit"``); a Claude
    Code tool's name also matches the anyagent tool behind it. None or ``"*"``: every tool."""
    hooks: list[Callable[..., Any]] = field(default_factory=list)
    """claude-agent-sdk's ``(input_data, tool_use_id, context)`` callbacks (or anyagent's)."""
    timeout: float | None = None
    """Seconds each of these hooks may take; None: Claude Code's 60."""
    on_failure: HookFailure | None = None
    """What a hook's failure (it raises, runs past ``timeout``, returns what cannot be read) does:
    ``"block"`` refuses the call or prompt (a hook returning None fails too: return ``{}``);
    ``"continue"`` counts it as no decision; None stops the run with a ``HookError``, where
    Claude Code would count it as no decision."""


@dataclass
class ClaudeAgentOptions:
    """claude-agent-sdk's options, every field accepted. What each becomes is listed in
    docs/migrating-from-claude-agent-sdk.md; a field only Claude Code can honour gives one
    ``CompatibilityWarning`` saying what is done with it."""

    tools: list[str] | ToolsPreset | None = None
    allowed_tools: list[str] = field(default_factory=list)
    system_prompt: str | SystemPromptPreset | SystemPromptCustom | SystemPromptFile | None = None
    # Kept out of the repr, as AgentOptions keeps them: servers' headers and env, the
    # environment and the extra arguments often hold keys.
    mcp_servers: dict[str, McpServerConfig] | str | os.PathLike[str] = field(default_factory=dict, repr=False)
    strict_mcp_config: bool = False
    permission_mode: PermissionMode | None = None
    continue_conversation: bool = False
    resume: str | None = None
    session_id: str | None = None
    max_turns: int | None = None
    max_budget_usd: float | None = None
    disallowed_tools: list[str] = field(default_factory=list)
    model: str | None = None
    fallback_model: str | None = None
    betas: list[SdkBeta] = field(default_factory=list)
    permission_prompt_tool_name: str | None = None
    cwd: str | os.PathLike[str] | None = None
    cli_path: str | os.PathLike[str] | None = None
    settings: str | None = None
    add_dirs: list[str | os.PathLike[str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict, repr=False)
    extra_args: dict[str, str | None] = field(default_factory=dict, repr=False)
    max_buffer_size: int | None = None
    debug_stderr: Any = sys.stderr
    """Not read, as in claude-agent-sdk (where it is deprecated): use ``stderr``."""
    stderr: Callable[[str], None] | None = None
    can_use_tool: CanUseTool | None = None
    hooks: dict[str, list[HookMatcher | OurHookMatcher]] | None = None
    user: str | None = None
    include_partial_messages: bool = False
    include_hook_events: bool = False
    forward_subagent_text: bool = False
    verbatim_prompts: bool = False
    """Prompts are always delivered as written here (no ``@path`` or slash-command expansion)."""
    fork_session: bool = False
    resume_session_at: str | None = None
    resume_drops_turn: str | None = None
    agents: dict[str, AgentDefinition] | None = None
    setting_sources: list[SettingSource] | None = None
    skills: list[str] | str | None = None
    sandbox: SandboxSettings | None = None
    plugins: list[SdkPluginConfig] = field(default_factory=list)
    max_thinking_tokens: int | None = None
    thinking: ThinkingConfig | None = None
    effort: EffortLevel | None = None
    output_format: dict[str, Any] | None = None
    enable_file_checkpointing: bool = False
    session_store: Any = None
    session_store_flush: SessionStoreFlushMode = "batched"
    load_timeout_ms: int = 60_000
    task_budget: TaskBudget | None = None
    client_app: str | None = None
