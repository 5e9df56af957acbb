"""claude-agent-sdk's type names and fields, against lists written here (taken from its
``types.py``), and what the names that are configurations do: system prompts, permission
updates, ``client_app``, and the client methods only Claude Code can carry out."""

from __future__ import annotations

import dataclasses
import io
import pathlib
import subprocess
import sys
import typing
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import anyagent_core as core
from anyagent_httpx import ConfigurationError, claude
from anyagent_httpx.claude import (
    ClaudeAgentOptions,
    ClaudeSDKClient,
    ClaudeSDKError,
    CompatibilityWarning,
    NotSupportedError,
    PermissionUpdate,
    ResultMessage,
    types,
)
from anyagent_httpx.claude._messages import Converter
from anyagent_httpx.claude._options import PRESET_SYSTEM_PROMPT, agent_options
from anyagent_httpx.claude.types import PermissionRuleValue
from anyagent_httpx.testing import serve
from tests.runtime.test_agent_end_to_end import says

ENV = {"ANY_AGENT_MODEL": "local", "ANY_AGENT_BASE_URL": "http://127.0.0.1:9/v1"}

#: Every public name of claude-agent-sdk's ``types`` module (0.2.190).
CLAUDE_TYPES = [
    "PermissionMode",
    "SdkBeta",
    "SettingSource",
    "EffortLevel",
    "SystemPromptPreset",
    "SystemPromptCustom",
    "SystemPromptFile",
    "TaskBudget",
    "ToolsPreset",
    "AgentDefinition",
    "PermissionUpdateDestination",
    "PermissionBehavior",
    "PermissionRuleValue",
    "PermissionUpdate",
    "ToolPermissionContext",
    "PermissionResultAllow",
    "PermissionResultDeny",
    "PermissionResult",
    "CanUseTool",
    "HookEvent",
    "HookEffort",
    "BaseHookInput",
    "PreToolUseHookInput",
    "PostToolUseHookInput",
    "PostToolUseFailureHookInput",
    "UserPromptSubmitHookInput",
    "BackgroundTaskSummary",
    "SessionCronSummary",
    "StopHookInput",
    "SubagentStopHookInput",
    "PreCompactHookInput",
    "NotificationHookInput",
    "SubagentStartHookInput",
    "PermissionRequestHookInput",
    "HookInput",
    "PreToolUseHookSpecificOutput",
    "PostToolUseHookSpecificOutput",
    "PostToolUseFailureHookSpecificOutput",
    "UserPromptSubmitHookSpecificOutput",
    "UserPromptExpansionHookSpecificOutput",
    "SessionStartHookSpecificOutput",
    "NotificationHookSpecificOutput",
    "SubagentStartHookSpecificOutput",
    "PermissionRequestHookSpecificOutput",
    "PostToolBatchHookSpecificOutput",
    "StopHookSpecificOutput",
    "SubagentStopHookSpecificOutput",
    "PermissionDeniedHookSpecificOutput",
    "PreModelSwitchHookSpecificOutput",
    "PostModelSwitchHookSpecificOutput",
    "ElicitationHookSpecificOutput",
    "ElicitationResultHookSpecificOutput",
    "CwdChangedHookSpecificOutput",
    "FileChangedHookSpecificOutput",
    "WorktreeCreateHookSpecificOutput",
    "MessageDisplayHookSpecificOutput",
    "HookSpecificOutput",
    "AsyncHookJSONOutput",
    "SyncHookJSONOutput",
    "HookJSONOutput",
    "HookContext",
    "HookCallback",
    "HookMatcher",
    "McpStdioServerConfig",
    "McpSSEServerConfig",
    "McpHttpServerConfig",
    "McpSdkServerConfig",
    "McpServerConfig",
    "McpSdkServerConfigStatus",
    "McpClaudeAIProxyServerConfig",
    "McpServerStatusConfig",
    "McpToolAnnotations",
    "McpToolInfo",
    "McpServerInfo",
    "McpServerConnectionStatus",
    "McpServerStatus",
    "McpStatusResponse",
    "ContextUsageCategory",
    "ContextUsageResponse",
    "SdkPluginConfig",
    "SandboxNetworkConfig",
    "SandboxIgnoreViolations",
    "SandboxSettings",
    "TextBlock",
    "ThinkingBlock",
    "ToolUseBlock",
    "ToolResultBlock",
    "ServerToolName",
    "ServerToolUseBlock",
    "ServerToolResultBlock",
    "ContentBlock",
    "AssistantMessageError",
    "MessageOriginKind",
    "TaskNotificationOriginSubkind",
    "MessageOrigin",
    "UserMessage",
    "AssistantMessage",
    "SystemMessage",
    "SystemInitMcpServer",
    "SystemInitPlugin",
    "SystemInitPluginError",
    "FastModeState",
    "FastModeDisabledReason",
    "SystemInitData",
    "TaskUsage",
    "TaskNotificationStatus",
    "TaskUpdatedStatus",
    "TERMINAL_TASK_STATUSES",
    "TaskStartedMessage",
    "TaskProgressMessage",
    "TaskNotificationMessage",
    "TaskUpdatedMessage",
    "MirrorErrorMessage",
    "DeferredToolUse",
    "ModelUsage",
    "ResultMessage",
    "StreamEvent",
    "RateLimitStatus",
    "RateLimitType",
    "RateLimitInfo",
    "RateLimitEvent",
    "ConversationResetMessage",
    "HookEventMessage",
    "Message",
    "SessionKey",
    "SessionStoreEntry",
    "SessionStoreListEntry",
    "SessionSummaryEntry",
    "SessionListSubkeysKey",
    "SessionStoreFlushMode",
    "SessionStore",
    "SDKSessionInfo",
    "SessionMessage",
    "ThinkingDisplay",
    "ThinkingConfigAdaptive",
    "ThinkingConfigEnabled",
    "ThinkingConfigDisabled",
    "ThinkingConfig",
    "CanUseToolShadowedWarning",
    "ClaudeAgentOptions",
    "SDKControlInterruptRequest",
    "SDKControlPermissionRequest",
    "SDKControlInitializeRequest",
    "SDKControlSetPermissionModeRequest",
    "SDKHookCallbackRequest",
    "SDKControlMcpMessageRequest",
    "SDKControlRewindFilesRequest",
    "SDKControlMcpReconnectRequest",
    "SDKControlMcpToggleRequest",
    "SDKControlStopTaskRequest",
    "SDKControlRequest",
    "ControlResponse",
    "ControlErrorResponse",
    "SDKControlResponse",
]

#: claude-agent-sdk's dataclass fields, in its order.
FIELDS = {
    "UserMessage": "content uuid parent_tool_use_id tool_use_result origin",
    "AssistantMessage": (
        "content model parent_tool_use_id error usage message_id stop_reason session_id uuid "
        "user_message_uuid user_message_uuids"
    ),
    "ResultMessage": (
        "subtype duration_ms duration_api_ms is_error num_turns session_id stop_reason total_cost_usd usage "
        "result structured_output model_usage permission_denials deferred_tool_use errors api_error_status uuid "
        "terminal_reason origin user_message_uuid user_message_uuids"
    ),
    "StreamEvent": "uuid session_id event parent_tool_use_id user_message_uuid user_message_uuids",
    "DeferredToolUse": "id name input",
    "HookMatcher": "matcher hooks timeout on_failure",
    "PermissionRuleValue": "tool_name rule_content",
    "PermissionUpdate": "type rules behavior mode directories destination",
    "ServerToolUseBlock": "id name input",
    "ServerToolResultBlock": "tool_use_id content",
    "RateLimitInfo": (
        "status resets_at rate_limit_type utilization overage_status overage_resets_at overage_disabled_reason raw"
    ),
    "TaskNotificationMessage": "subtype data task_id status output_file summary uuid session_id tool_use_id usage",
    "HookEventMessage": "subtype data hook_event_name session_id uuid",
    "ClaudeAgentOptions": (
        "tools allowed_tools system_prompt mcp_servers strict_mcp_config permission_mode continue_conversation "
        "resume session_id max_turns max_budget_usd disallowed_tools model fallback_model betas "
        "permission_prompt_tool_name cwd cli_path settings add_dirs env extra_args max_buffer_size debug_stderr "
        "stderr can_use_tool hooks user include_partial_messages include_hook_events forward_subagent_text "
        "verbatim_prompts fork_session resume_session_at resume_drops_turn agents setting_sources skills sandbox "
        "plugins max_thinking_tokens thinking effort output_format enable_file_checkpointing session_store "
        "session_store_flush load_timeout_ms task_budget client_app"
    ),
}

#: Some of claude-agent-sdk's TypedDicts: their required keys, then their optional ones.
KEYS = {
    "SystemPromptPreset": ("type preset", "append exclude_dynamic_sections snapshot"),
    "SystemPromptCustom": ("type prompt", "snapshot"),
    "McpStdioServerConfig": ("command", "type args env"),
    "McpServerStatus": ("name status", "serverInfo error config scope tools"),
    "PreToolUseHookInput": (
        "session_id transcript_path cwd hook_event_name tool_name tool_input tool_use_id",
        "permission_mode prompt_id effort agent_id agent_type",
    ),
    "SyncHookJSONOutput": ("", "continue_ suppressOutput stopReason decision systemMessage reason hookSpecificOutput"),
    "MessageOrigin": ("kind", "server from name fromSession senderTaskId body verifiedPeerPid subkind"),
    "ContextUsageResponse": (
        "categories totalTokens maxTokens rawMaxTokens percentage model isAutoCompactEnabled memoryFiles mcpTools "
        "agents gridRows",
        "autoCompactThreshold deferredBuiltinTools systemTools systemPromptSections slashCommands skills "
        "messageBreakdown apiUsage",
    ),
}


def test_every_name_of_claude_agent_sdk_s_types_module_is_importable() -> None:
    assert [name for name in CLAUDE_TYPES if not hasattr(types, name)] == []
    assert set(CLAUDE_TYPES) <= set(types.__all__)


def test_the_type_hints_of_every_class_resolve() -> None:
    for name in types.__all__:
        value = getattr(types, name)
        if isinstance(value, type):
            typing.get_type_hints(value)  # a name only imported for type checkers raises NameError


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_dataclass_fields_are_claude_agent_sdk_s_in_its_order(name: str) -> None:
    assert [item.name for item in dataclasses.fields(getattr(types, name))] == FIELDS[name].split()


@pytest.mark.parametrize("name", sorted(KEYS))
def test_typed_dicts_have_claude_agent_sdk_s_keys(name: str) -> None:
    value = getattr(types, name)
    required, optional = KEYS[name]
    assert value.__required_keys__ == frozenset(required.split())
    assert value.__optional_keys__ == frozenset(optional.split())


def test_new_result_fields_default_to_none() -> None:
    result = ResultMessage(
        subtype="success", duration_ms=1, duration_api_ms=1, is_error=False, num_turns=1, session_id="s"
    )
    assert (result.deferred_tool_use, result.api_error_status, result.terminal_reason, result.origin) == (None,) * 4
    assert types.UserMessage(content="hi").origin is None


# ---- results ---------------------------------------------------------------------------------------


def _result(subtype: Any, **fields: Any) -> core.ResultMessage:
    return core.ResultMessage(
        subtype=subtype,
        result=None,
        is_error=False,
        num_turns=1,
        duration_ms=1,
        duration_api_ms=1,
        usage=None,
        **fields,
    )


@pytest.mark.parametrize(
    ("subtype", "fields", "reason"),
    [
        ("success", {}, "completed"),
        ("interrupted", {}, "aborted_streaming"),
        ("interrupted", {"errors": ("a Stop hook said so",)}, "hook_stopped"),
        ("error_max_turns", {}, "max_turns"),
        ("error_max_budget_usd", {}, "budget_exhausted"),
        ("error_max_budget_tokens", {}, "budget_exhausted"),
        ("error_max_structured_output_retries", {}, "structured_output_retry_exhausted"),
        ("error_during_execution", {}, "api_error"),
        ("error_doom_loop", {}, None),
    ],
)
def test_a_result_says_why_the_run_ended_in_claude_code_s_words(subtype: str, fields: Any, reason: str | None) -> None:
    [converted] = Converter("s").convert(_result(subtype, **fields))
    assert isinstance(converted, ResultMessage) and converted.terminal_reason == reason


def test_a_run_that_stopped_for_calls_the_program_answers_says_which() -> None:
    pending = (
        core.ToolUseBlock(id="c1", name="lookup", input={"q": "x"}),
        core.ToolUseBlock(id="c2", name="lookup", input={}),
    )
    [converted] = Converter("s").convert(_result("success", pending_tool_calls=pending))
    assert isinstance(converted, ResultMessage) and converted.terminal_reason == "tool_deferred"
    assert converted.deferred_tool_use == types.DeferredToolUse(id="c1", name="lookup", input={"q": "x"})


def test_the_init_message_has_every_key_of_system_init_data() -> None:
    data = {"model": "m", "tools": ["Read"], "permission_mode": "default", "cwd": "/w", "session_id": "s"}
    [init] = Converter("s").convert(core.SystemMessage(subtype="init", data=data))
    assert isinstance(init, types.SystemMessage)
    assert types.SystemInitData.__required_keys__ <= set(init.data)
    assert init.data["claude_code_version"] == core.__version__ and init.data["permissionMode"] == "default"


# ---- configurations ----------------------------------------------------------------------------------


def test_system_prompts_custom_preset_and_file(tmp_path: pathlib.Path) -> None:
    def prompt(value: Any) -> str | None:
        return agent_options(ClaudeAgentOptions(system_prompt=value), ENV).system_prompt

    assert prompt({"type": "custom", "prompt": "Be terse."}) == "Be terse."
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no dynamic sections to exclude: nothing to warn about
        assert (
            prompt({"type": "preset", "preset": "claude_code", "exclude_dynamic_sections": True})
            == PRESET_SYSTEM_PROMPT
        )
    with pytest.warns(CompatibilityWarning, match=r"system_prompt\['snapshot'\] is Claude Code's"):
        assert prompt({"type": "custom", "prompt": "x", "snapshot": True}) == "x"
    (tmp_path / "p.md").write_text("From a file.", encoding="utf-8")
    assert prompt({"type": "file", "path": str(tmp_path / "p.md")}) == "From a file."
    with pytest.raises(ConfigurationError, match=r"needs 'path' as a string, not NoneType"):
        prompt({"type": "file"})
    with pytest.raises(ConfigurationError, match=r"needs 'prompt' as a string, not int"):
        prompt({"type": "custom", "prompt": 3})
    with pytest.raises(ConfigurationError, match=r"system_prompt file '.*missing.md' could not be read"):
        prompt({"type": "file", "path": str(tmp_path / "missing.md")})
    with pytest.raises(ConfigurationError, match="the only preset is 'claude_code'"):
        prompt({"type": "preset", "preset": "other"})
    with pytest.raises(ConfigurationError, match="system_prompt type 'inline'"):
        prompt({"type": "inline"})


_rules = st.lists(st.builds(PermissionRuleValue, st.text(min_size=1), st.none() | st.text()), max_size=3)
_updates = st.one_of(
    st.builds(
        PermissionUpdate,
        type=st.sampled_from(["addRules", "replaceRules", "removeRules"]),
        rules=_rules,
        behavior=st.sampled_from(["allow", "deny", "ask"]),
        destination=st.none() | st.sampled_from(["userSettings", "session"]),
    ),
    st.builds(PermissionUpdate, type=st.just("setMode"), mode=st.sampled_from(["default", "plan", "acceptEdits"])),
    st.builds(
        PermissionUpdate,
        type=st.sampled_from(["addDirectories", "removeDirectories"]),
        directories=st.lists(st.text(), max_size=3),
    ),
)


@given(_updates)
def test_a_permission_update_survives_its_wire_form(update: PermissionUpdate) -> None:
    wire = update.to_dict()
    assert wire["destination"] == (update.destination or "session")
    for rule, sent in zip(update.rules or [], wire.get("rules", []), strict=True):
        assert ("ruleContent" in sent) == (rule.rule_content is not None)  # Claude Code refuses a null one
    back = PermissionUpdate.from_dict(wire)
    assert dataclasses.replace(back, destination=update.destination) == update


def test_a_permission_update_that_cannot_be_sent_names_what_is_missing() -> None:
    with pytest.raises(ConfigurationError, match=r"PermissionUpdate\(type='addRules'\) needs rules and behavior"):
        PermissionUpdate(type="addRules").to_dict()
    with pytest.raises(ValueError, match=r"PermissionUpdate.type 'grant': expected one of addRules"):
        PermissionUpdate(type="grant").to_dict()  # type: ignore[arg-type]
    assert PermissionUpdate("addRules", [PermissionRuleValue("Bash")], "allow").to_dict()["rules"] == [
        {"toolName": "Bash"}
    ]
    with pytest.raises(ConfigurationError, match=r"a list of \{'toolName': \.\.\.\} dicts"):
        PermissionUpdate.from_dict({"type": "addRules", "rules": [{"ruleContent": "x"}]})
    with pytest.raises(ConfigurationError, match="a dict with a 'type'"):
        PermissionUpdate.from_dict({"rules": []})


def test_client_app_joins_the_user_agent_and_a_bad_one_is_refused() -> None:
    options = agent_options(ClaudeAgentOptions(client_app="my-app/1.0.0"), ENV)
    assert options.config.user_agent is not None and options.config.user_agent.endswith(" my-app/1.0.0")
    assert options.config.user_agent.startswith("anyagent/")
    with pytest.raises(ConfigurationError, match="client_app is one line of printable ASCII"):
        agent_options(ClaudeAgentOptions(client_app="my-app\r\nX-Injected: 1"), ENV)


# ---- the client ----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_what_only_claude_code_can_do_is_a_typed_error_and_other_sessions_warn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with serve([says("one"), says("two"), says("three")]) as server:
        monkeypatch.setenv("ANY_AGENT_BASE_URL", server.base_url)
        monkeypatch.setenv("ANY_AGENT_MODEL", "local")
        options = ClaudeAgentOptions(client_app="probe/2", verbatim_prompts=True)
        client = ClaudeSDKClient(options)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # client_app and verbatim_prompts are honoured
            await client.connect()
        try:
            for call, method in [
                (client.rewind_files("u1"), "rewind_files('u1')"),
                (client.toggle_mcp_server("calc", False), "toggle_mcp_server('calc', False)"),
                (client.stop_task("t1"), "stop_task('t1')"),
            ]:
                with pytest.raises(NotSupportedError) as caught:
                    await call
                assert str(caught.value).startswith(method)
                assert isinstance(caught.value, ClaudeSDKError) and isinstance(caught.value, NotImplementedError)
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                await client.query("@/etc/passwd as written")
                _ = [m async for m in client.receive_response()]
                await client.query("again", session_id=client.client.session_id)
                _ = [m async for m in client.receive_response()]
            with pytest.warns(
                CompatibilityWarning, match=r"query\(session_id='other'\): one client is one conversation"
            ):
                await client.query("three", session_id="other")
            _ = [m async for m in client.receive_response()]
        finally:
            await client.disconnect()
    assert [r.json()["messages"][-1]["content"] for r in server.requests] == [
        "@/etc/passwd as written",
        "again",
        "three",
    ]
    assert {r.header("user-agent") for r in server.requests} == {f"anyagent/{core.__version__} probe/2"}


def test_debug_stderr_defaults_to_sys_stderr_and_is_not_read_as_there() -> None:
    code = (
        "import sys\n"
        "from anyagent_httpx.claude import ClaudeAgentOptions\n"
        "print(ClaudeAgentOptions().debug_stderr is sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "True"
    given = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # claude-agent-sdk does not read it either: nothing to warn about
        agent_options(ClaudeAgentOptions(debug_stderr=given), ENV)
        agent_options(ClaudeAgentOptions(), ENV)
    assert given.getvalue() == ""


# ---- Transport -------------------------------------------------------------------------------------


class _RemoteClaudeCode(claude.Transport):
    """What a program for claude-agent-sdk writes to reach a Claude Code elsewhere."""

    async def connect(self) -> None:
        raise AssertionError("never connected")

    async def write(self, data: str) -> None:
        raise AssertionError("never written to")

    def read_messages(self) -> AsyncIterator[dict[str, Any]]:
        raise AssertionError("never read")

    async def close(self) -> None:
        raise AssertionError("never closed")

    def is_ready(self) -> bool:
        return False

    async def end_input(self) -> None:
        raise AssertionError("never ended")


def test_transport_is_claude_agent_sdk_s_abstract_class() -> None:
    assert claude.Transport.__abstractmethods__ == {
        "connect",
        "write",
        "read_messages",
        "close",
        "is_ready",
        "end_input",
    }
    with pytest.raises(TypeError, match="abstract"):
        claude.Transport()  # type: ignore[abstract]
    assert not _RemoteClaudeCode().is_ready()


@pytest.mark.anyio
async def test_a_transport_is_refused_naming_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANY_AGENT_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("ANY_AGENT_MODEL", "local")
    why = r"transport=_RemoteClaudeCode\(\.\.\.\): a Transport carries the Claude Code CLI's control protocol"
    with pytest.raises(NotSupportedError, match=why):
        ClaudeSDKClient(transport=_RemoteClaudeCode())
    with pytest.raises(NotSupportedError, match=why):
        [m async for m in claude.query(prompt="hi", transport=_RemoteClaudeCode())]
