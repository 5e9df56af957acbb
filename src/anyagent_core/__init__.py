"""anyagent_core: the sans-IO protocol machine for OpenAI-compatible chat completions.

It turns a conversation into request bytes and response bytes into typed events, and performs
no I/O: no sockets, no event loop, no clock, no environment. See ``Connection``.
"""

from __future__ import annotations

from ._agent._actions import Action, AskPermission, Commit, Done, Emit, RunTools, SendRequest, Wait
from ._agent._loop import AgentLoop
from ._agent._loop_state import LoopState
from ._agent._output import parse_structured_output
from ._agent._permissions import (
    PERMISSION_MODES,
    PermissionAllow,
    PermissionDecision,
    PermissionDeny,
    PermissionMode,
    PermissionPolicy,
    PermissionRule,
    ToolTraits,
)
from ._agent._results import (
    PartialEvent,
    ResultMessage,
    ResultSubtype,
    RunMessage,
    StreamEvent,
    SystemMessage,
    add_usage,
)
from ._agent._retry import (
    DEFAULT_RETRY_POLICY,
    Failure,
    GiveUp,
    Retry,
    RetryPolicy,
    RetryState,
    is_context_length_error,
    parse_retry_after,
)
from ._agent._settings import DoomLoopAction, LoopSettings, LoopTool, OutputMode, ToolMode
from ._agent._spend import Pricing, cost_usd
from ._budget import compact, estimate_tokens
from ._config import DEFAULT_CONFIG, DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_EVENT_SIZE, Config, Endpoint
from ._connection import Connection
from ._dialects._openai_chat._writer import parse_request_body
from ._errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from ._events import (
    Event,
    Finished,
    MessageComplete,
    ReasoningDelta,
    RefusalDelta,
    Request,
    ServerError,
    StartTurn,
    StreamDone,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Truncated,
)
from ._json import freeze_json, thaw_json
from ._messages import (
    AssistantBlock,
    AssistantMessage,
    ContentBlock,
    ImageBlock,
    Message,
    TextBlock,
    ThinkingBlock,
    ToolChoice,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    ToolUseError,
    Usage,
    UserBlock,
    UserMessage,
)
from ._replay import DecodedResponse, decode_response
from ._schema import SchemaError, SchemaValidationError
from ._schema import check as check_schema
from ._schema import check_definition as check_schema_definition
from ._schema import validate as validate_schema
from ._sse import SSEDecoder, SSEMessage, encode_sse
from ._state import State
from ._textual._emulation._formats import TextCall
from ._textual._emulation._history import emulated_history, to_tool_uses
from ._textual._emulation._prompt import render_tool_prompt
from ._textual._emulation._scanner import ParsedCalls, ToolCallTextFilter, parse_tool_calls
from ._textual._think import AnswerFilter, ThinkSplit, ThinkTagFilter, split_think, think_to_blocks
from ._util import NEED_DATA, PAUSED, NeedData, Paused
from ._version import __version__

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_MAX_EVENT_SIZE",
    "DEFAULT_RETRY_POLICY",
    "NEED_DATA",
    "PAUSED",
    "PERMISSION_MODES",
    "Action",
    "AgentLoop",
    "AnswerFilter",
    "AskPermission",
    "Commit",
    "AssistantBlock",
    "AssistantMessage",
    "Config",
    "Connection",
    "ContentBlock",
    "DecodedResponse",
    "Done",
    "DoomLoopAction",
    "Emit",
    "Endpoint",
    "Event",
    "Failure",
    "Finished",
    "GiveUp",
    "ImageBlock",
    "LocalProtocolError",
    "LoopSettings",
    "LoopState",
    "LoopTool",
    "Message",
    "MessageComplete",
    "NeedData",
    "OutputMode",
    "ParsedCalls",
    "PartialEvent",
    "Paused",
    "PermissionAllow",
    "PermissionDecision",
    "PermissionDeny",
    "PermissionMode",
    "PermissionPolicy",
    "PermissionRule",
    "Pricing",
    "ProtocolError",
    "ReasoningDelta",
    "RefusalDelta",
    "RemoteProtocolError",
    "Request",
    "ResultMessage",
    "ResultSubtype",
    "Retry",
    "RetryPolicy",
    "RetryState",
    "RunMessage",
    "RunTools",
    "SSEDecoder",
    "SSEMessage",
    "SchemaError",
    "SchemaValidationError",
    "SendRequest",
    "ServerError",
    "StartTurn",
    "State",
    "StreamDone",
    "StreamEvent",
    "SystemMessage",
    "TextBlock",
    "TextCall",
    "TextDelta",
    "ThinkSplit",
    "ThinkTagFilter",
    "ThinkingBlock",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallTextFilter",
    "ToolChoice",
    "ToolMode",
    "ToolResultBlock",
    "ToolSpec",
    "ToolTraits",
    "ToolUseBlock",
    "ToolUseError",
    "Truncated",
    "Usage",
    "UserBlock",
    "UserMessage",
    "Wait",
    "__version__",
    "add_usage",
    "check_schema",
    "check_schema_definition",
    "compact",
    "cost_usd",
    "decode_response",
    "emulated_history",
    "encode_sse",
    "estimate_tokens",
    "freeze_json",
    "is_context_length_error",
    "parse_request_body",
    "parse_retry_after",
    "parse_structured_output",
    "parse_tool_calls",
    "render_tool_prompt",
    "split_think",
    "thaw_json",
    "think_to_blocks",
    "to_tool_uses",
    "validate_schema",
]
