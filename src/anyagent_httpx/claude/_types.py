"""claude-agent-sdk's value types, as its programs use them: messages and blocks (dataclasses
with its field names), ``ClaudeAgentOptions``, ``AgentDefinition``, the permission results and
context, the errors, and the type names its programs annotate with (hook inputs and outputs are
dicts of Claude Code's shape)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypeAlias, TypedDict

from anyagent_httpx._errors import AnyAgentError, APIConnectionError, MalformedResponseError
from anyagent_httpx._hooks import HookMatcher

__all__ = [
    "AgentDefinition",
    "AssistantMessage",
    "BaseHookInput",
    "CLIConnectionError",
    "CLIJSONDecodeError",
    "CLINotFoundError",
    "CanUseTool",
    "ClaudeAgentOptions",
    "ClaudeSDKError",
    "CompatibilityWarning",
    "ContentBlock",
    "ContextUsageCategory",
    "ContextUsageResponse",
    "EffortLevel",
    "HookCallback",
    "HookContext",
    "HookEvent",
    "HookInput",
    "HookJSONOutput",
    "HookMatcher",
    "McpSdkServerConfig",
    "McpServerConfig",
    "Message",
    "NotificationHookInput",
    "NotificationHookSpecificOutput",
    "PermissionMode",
    "PermissionResult",
    "PermissionResultAllow",
    "PermissionResultDeny",
    "PermissionUpdate",
    "PostToolUseHookInput",
    "SubagentStartHookSpecificOutput",
    "SubagentStartHookInput",
    "PostToolUseFailureHookSpecificOutput",
    "PostToolUseFailureHookInput",
    "PreCompactHookInput",
    "PreToolUseHookInput",
    "ProcessError",
    "ResultError",
    "ResultMessage",
    "SandboxIgnoreViolations",
    "SandboxNetworkConfig",
    "SandboxSettings",
    "SdkBeta",
    "SdkPluginConfig",
    "SettingSource",
    "StopHookInput",
    "StreamEvent",
    "SubagentStopHookInput",
    "MirrorErrorMessage",
    "SystemMessage",
    "TaskBudget",
    "TextBlock",
    "ThinkingBlock",
    "ThinkingConfig",
    "ThinkingConfigAdaptive",
    "ThinkingConfigDisabled",
    "ThinkingConfigEnabled",
    "ToolPermissionContext",
    "ToolResultBlock",
    "ToolUseBlock",
    "UserMessage",
    "UserPromptSubmitHookInput",
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


# ---- blocks and messages -------------------------------------------------------------------------


@dataclass
class TextBlock:
    text: str


@dataclass
class ThinkingBlock:
    thinking: str
    signature: str = ""


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


ContentBlock: TypeAlias = TextBlock | ThinkingBlock | ToolUseBlock | ToolResultBlock


@dataclass
class UserMessage:
    content: str | list[ContentBlock]
    uuid: str | None = None
    parent_tool_use_id: str | None = None
    tool_use_result: dict[str, Any] | None = None


@dataclass
class AssistantMessage:
    content: list[ContentBlock]
    model: str
    parent_tool_use_id: str | None = None
    error: str | None = None
    usage: dict[str, Any] | None = None
    """``input_tokens``, ``output_tokens`` (and ``estimated`` when the server reported none)."""
    message_id: str | None = None
    stop_reason: str | None = None
    session_id: str | None = None
    uuid: str | None = None


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
    model_usage: dict[str, Any] | None = None
    permission_denials: list[Any] | None = None
    errors: list[str] | None = None
    uuid: str | None = None


@dataclass
class StreamEvent:
    uuid: str
    session_id: str
    event: dict[str, Any]
    """An Anthropic Messages stream event (``message_start``, ``content_block_delta``, ...)."""
    parent_tool_use_id: str | None = None


Message: TypeAlias = UserMessage | AssistantMessage | SystemMessage | ResultMessage | StreamEvent


# ---- permissions ---------------------------------------------------------------------------------

PermissionMode: TypeAlias = Literal["default", "acceptEdits", "plan", "bypassPermissions", "dontAsk", "auto"]
SettingSource: TypeAlias = Literal["user", "project", "local"]


@dataclass
class PermissionUpdate:
    """Accepted in ``PermissionResultAllow.updated_permissions``; only ``setMode`` is applied
    (to the client), the others are Claude Code's settings files."""

    type: str
    rules: list[Any] | None = None
    behavior: str | None = None
    mode: PermissionMode | None = None
    directories: list[str] | None = None
    destination: str | None = None


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

# ---- hooks: dicts of Claude Code's shape ---------------------------------------------------------

HookEvent: TypeAlias = str
HookInput: TypeAlias = dict[str, Any]
BaseHookInput: TypeAlias = dict[str, Any]
PreToolUseHookInput: TypeAlias = dict[str, Any]
PostToolUseHookInput: TypeAlias = dict[str, Any]
PostToolUseFailureHookInput: TypeAlias = dict[str, Any]
PostToolUseFailureHookSpecificOutput: TypeAlias = dict[str, Any]
UserPromptSubmitHookInput: TypeAlias = dict[str, Any]
StopHookInput: TypeAlias = dict[str, Any]
SubagentStopHookInput: TypeAlias = dict[str, Any]
SubagentStartHookInput: TypeAlias = dict[str, Any]
SubagentStartHookSpecificOutput: TypeAlias = dict[str, Any]
PreCompactHookInput: TypeAlias = dict[str, Any]
NotificationHookInput: TypeAlias = dict[str, Any]
NotificationHookSpecificOutput: TypeAlias = dict[str, Any]
HookJSONOutput: TypeAlias = dict[str, Any]
HookContext: TypeAlias = dict[str, Any]
HookCallback: TypeAlias = Callable[[HookInput, str | None, HookContext], Awaitable[HookJSONOutput]]

# ---- MCP -----------------------------------------------------------------------------------------

McpSdkServerConfig: TypeAlias = dict[str, Any]
"""``{"type": "sdk", "name": ..., "instance": ToolServer}`` (``create_sdk_mcp_server``)."""
McpServerConfig: TypeAlias = dict[str, Any]

# ---- option values that are dicts in claude-agent-sdk --------------------------------------------

EffortLevel: TypeAlias = Literal["low", "medium", "high", "xhigh", "max"]
SdkBeta: TypeAlias = str
SdkPluginConfig: TypeAlias = dict[str, Any]
SandboxSettings: TypeAlias = dict[str, Any]
SandboxNetworkConfig: TypeAlias = dict[str, Any]
SandboxIgnoreViolations: TypeAlias = dict[str, Any]
ThinkingConfig: TypeAlias = dict[str, Any]
ThinkingConfigAdaptive: TypeAlias = dict[str, Any]
ThinkingConfigEnabled: TypeAlias = dict[str, Any]
ThinkingConfigDisabled: TypeAlias = dict[str, Any]
TaskBudget: TypeAlias = dict[str, Any]


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
    memory: str | None = None
    mcpServers: list[str | dict[str, Any]] | None = None
    initialPrompt: str | None = None
    maxTurns: int | None = None
    background: bool | None = None
    effort: Any = None
    permissionMode: PermissionMode | None = None


@dataclass
class ClaudeAgentOptions:
    """claude-agent-sdk's options, every field accepted. What each becomes is listed in
    docs/migrating-from-claude-agent-sdk.md; a field only Claude Code can honour gives one
    ``CompatibilityWarning`` saying what is done with it."""

    tools: list[str] | dict[str, Any] | None = None
    allowed_tools: list[str] = field(default_factory=list)
    system_prompt: str | dict[str, Any] | None = None
    # Kept out of the repr, as AgentOptions keeps them: servers' headers and env, the
    # environment and the extra arguments often hold keys.
    mcp_servers: dict[str, Any] | str | os.PathLike[str] = field(default_factory=dict, repr=False)
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
    betas: list[str] = field(default_factory=list)
    permission_prompt_tool_name: str | None = None
    cwd: str | os.PathLike[str] | None = None
    cli_path: str | os.PathLike[str] | None = None
    settings: str | None = None
    add_dirs: list[str | os.PathLike[str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict, repr=False)
    extra_args: dict[str, str | None] = field(default_factory=dict, repr=False)
    max_buffer_size: int | None = None
    debug_stderr: Any = None
    stderr: Callable[[str], None] | None = None
    can_use_tool: CanUseTool | None = None
    hooks: dict[str, list[HookMatcher]] | None = None
    user: str | None = None
    include_partial_messages: bool = False
    include_hook_events: bool = False
    forward_subagent_text: bool = False
    fork_session: bool = False
    resume_session_at: str | None = None
    resume_drops_turn: str | None = None
    agents: dict[str, AgentDefinition] | None = None
    setting_sources: list[SettingSource] | None = None
    skills: list[str] | str | None = None
    sandbox: dict[str, Any] | None = None
    plugins: list[dict[str, Any]] = field(default_factory=list)
    max_thinking_tokens: int | None = None
    thinking: dict[str, Any] | None = None
    effort: str | None = None
    output_format: dict[str, Any] | None = None
    enable_file_checkpointing: bool = False
    session_store: Any = None
    session_store_flush: str = "batched"
    load_timeout_ms: int = 60_000
    task_budget: dict[str, Any] | None = None
