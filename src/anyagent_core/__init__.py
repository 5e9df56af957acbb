"""anyagent_core: the sans-IO protocol machine for OpenAI-compatible chat completions.

It turns a conversation into request bytes and response bytes into typed events, and performs
no I/O: no sockets, no event loop, no clock, no environment. ``Connection`` is one exchange;
``AgentLoop`` is the agent.

The names here are the two machines, their inputs, events, actions and messages. The toolkits
around them are public submodules: ``anyagent_core.emulation`` (tool calls written as text),
``.think`` (``<think>`` reasoning in text), ``.schema`` (JSON Schema checks), ``.sse`` (the
event-stream codec), ``.retry`` (retry decisions), ``.context`` (token estimates, compaction),
``.json`` (immutable JSON), ``.settings`` (the loop's settings and the knobs shared with
options) and ``.wire`` (dialects, request bodies read back, recorded responses decoded). Their
names stay importable from here too, as before they moved.

Importing the package loads nothing but this module: each name is imported from its home on
first use (a module ``__getattr__``), so ``from anyagent_core import AgentLoop`` loads the loop
and what it needs, while the toolkits it does not use (compaction strategies, tool-call
emulation, the JSON Schema checks, replay, ...) load when something asks for them. Type checkers
see ordinary imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import schema as schema
    from ._agent._actions import Action, AskCompaction, AskPermission, Commit, Done, Emit, RunTools, SendRequest, Wait
    from ._agent._loop import AgentLoop
    from ._agent._loop_state import LoopState
    from ._agent._permissions import (
        PATH_RULE_TOOLS,
        PermissionAllow,
        PermissionDeny,
        PermissionMode,
        PermissionPolicy,
        ToolTraits,
        protected_path,
    )
    from ._agent._results import PartialEvent as PartialEvent
    from ._agent._results import ResultMessage, RunMessage, StreamEvent, SystemMessage, add_usage
    from ._agent._results import ResultSubtype as ResultSubtype
    from ._agent._retry import RetryPolicy
    from ._agent._settings import LoopSettings, LoopTool
    from ._agent._spend import Pricing
    from ._config import Config, Endpoint
    from ._connection import Connection
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
    from ._state import State
    from ._util import NEED_DATA, PAUSED
    from ._version import __version__
    from .context import compact as compact
    from .context import estimate_tokens as estimate_tokens
    from .emulation import ParsedCalls as ParsedCalls
    from .emulation import TextCall as TextCall
    from .emulation import ToolCallTextFilter as ToolCallTextFilter
    from .emulation import emulated_history as emulated_history
    from .emulation import parse_tool_calls as parse_tool_calls
    from .emulation import render_tool_prompt as render_tool_prompt
    from .emulation import to_tool_uses as to_tool_uses
    from .json import freeze_json as freeze_json
    from .json import thaw_json as thaw_json
    from .retry import DEFAULT_RETRY_POLICY as DEFAULT_RETRY_POLICY
    from .retry import Failure as Failure
    from .retry import GiveUp as GiveUp
    from .retry import Retry as Retry
    from .retry import RetryState as RetryState
    from .retry import is_context_length_error as is_context_length_error
    from .retry import parse_retry_after as parse_retry_after
    from .schema import SchemaError as SchemaError
    from .schema import SchemaValidationError as SchemaValidationError
    from .settings import PERMISSION_MODES as PERMISSION_MODES
    from .settings import DoomLoopAction as DoomLoopAction
    from .settings import OutputMode as OutputMode
    from .settings import PermissionDecision as PermissionDecision
    from .settings import PermissionRule as PermissionRule
    from .settings import ToolMode as ToolMode
    from .settings import cost_usd as cost_usd
    from .settings import parse_structured_output as parse_structured_output
    from .sse import SSEDecoder as SSEDecoder
    from .sse import SSEMessage as SSEMessage
    from .sse import encode_sse as encode_sse
    from .think import AnswerFilter as AnswerFilter
    from .think import ThinkSplit as ThinkSplit
    from .think import ThinkTagFilter as ThinkTagFilter
    from .think import split_think as split_think
    from .think import think_to_blocks as think_to_blocks
    from .wire import DEFAULT_CONFIG as DEFAULT_CONFIG
    from .wire import DEFAULT_MAX_BODY_SIZE as DEFAULT_MAX_BODY_SIZE
    from .wire import DEFAULT_MAX_EVENT_SIZE as DEFAULT_MAX_EVENT_SIZE
    from .wire import DecodedResponse as DecodedResponse
    from .wire import NeedData as NeedData
    from .wire import Paused as Paused
    from .wire import decode_response as decode_response
    from .wire import parse_request_body as parse_request_body

    # Kept from before the schema toolkit had a module of its own (anyagent_core.schema).
    check_schema = schema.check
    check_schema_definition = schema.check_definition
    validate_schema = schema.validate

#: Where each name lives: imported from there on first use (a module ``__getattr__``), so
#: ``from anyagent_core import AgentLoop`` loads the loop and what it needs, not the toolkits
#: around it (compaction strategies, tool-call emulation, ``<think>`` filters, replay, ...).
_HOMES: dict[str, str] = {
    "Action": "._agent._actions",
    "AskCompaction": "._agent._actions",
    "AskPermission": "._agent._actions",
    "Commit": "._agent._actions",
    "Done": "._agent._actions",
    "Emit": "._agent._actions",
    "RunTools": "._agent._actions",
    "SendRequest": "._agent._actions",
    "Wait": "._agent._actions",
    "AgentLoop": "._agent._loop",
    "LoopState": "._agent._loop_state",
    "PATH_RULE_TOOLS": "._agent._permissions",
    "PermissionAllow": "._agent._permissions",
    "PermissionDeny": "._agent._permissions",
    "PermissionMode": "._agent._permissions",
    "PermissionPolicy": "._agent._permissions",
    "ToolTraits": "._agent._permissions",
    "protected_path": "._agent._permissions",
    "PartialEvent": "._agent._results",
    "ResultMessage": "._agent._results",
    "RunMessage": "._agent._results",
    "StreamEvent": "._agent._results",
    "SystemMessage": "._agent._results",
    "add_usage": "._agent._results",
    "ResultSubtype": "._agent._results",
    "RetryPolicy": "._agent._retry",
    "LoopSettings": "._agent._settings",
    "LoopTool": "._agent._settings",
    "Pricing": "._agent._spend",
    "Config": "._config",
    "Endpoint": "._config",
    "Connection": "._connection",
    "LocalProtocolError": "._errors",
    "ProtocolError": "._errors",
    "RemoteProtocolError": "._errors",
    "Event": "._events",
    "Finished": "._events",
    "MessageComplete": "._events",
    "ReasoningDelta": "._events",
    "RefusalDelta": "._events",
    "Request": "._events",
    "ServerError": "._events",
    "StartTurn": "._events",
    "StreamDone": "._events",
    "TextDelta": "._events",
    "ToolCall": "._events",
    "ToolCallDelta": "._events",
    "Truncated": "._events",
    "AssistantBlock": "._messages",
    "AssistantMessage": "._messages",
    "ContentBlock": "._messages",
    "ImageBlock": "._messages",
    "Message": "._messages",
    "TextBlock": "._messages",
    "ThinkingBlock": "._messages",
    "ToolChoice": "._messages",
    "ToolResultBlock": "._messages",
    "ToolSpec": "._messages",
    "ToolUseBlock": "._messages",
    "ToolUseError": "._messages",
    "Usage": "._messages",
    "UserBlock": "._messages",
    "UserMessage": "._messages",
    "State": "._state",
    "NEED_DATA": "._util",
    "PAUSED": "._util",
    "__version__": "._version",
    "compact": ".context",
    "estimate_tokens": ".context",
    "ParsedCalls": ".emulation",
    "TextCall": ".emulation",
    "ToolCallTextFilter": ".emulation",
    "emulated_history": ".emulation",
    "parse_tool_calls": ".emulation",
    "render_tool_prompt": ".emulation",
    "to_tool_uses": ".emulation",
    "freeze_json": ".json",
    "thaw_json": ".json",
    "DEFAULT_RETRY_POLICY": ".retry",
    "Failure": ".retry",
    "GiveUp": ".retry",
    "Retry": ".retry",
    "RetryState": ".retry",
    "is_context_length_error": ".retry",
    "parse_retry_after": ".retry",
    "PERMISSION_MODES": ".settings",
    "DoomLoopAction": ".settings",
    "OutputMode": ".settings",
    "PermissionDecision": ".settings",
    "PermissionRule": ".settings",
    "ToolMode": ".settings",
    "cost_usd": ".settings",
    "parse_structured_output": ".settings",
    "SSEDecoder": ".sse",
    "SSEMessage": ".sse",
    "encode_sse": ".sse",
    "AnswerFilter": ".think",
    "ThinkSplit": ".think",
    "ThinkTagFilter": ".think",
    "split_think": ".think",
    "think_to_blocks": ".think",
    "DEFAULT_CONFIG": ".wire",
    "DEFAULT_MAX_BODY_SIZE": ".wire",
    "DEFAULT_MAX_EVENT_SIZE": ".wire",
    "DecodedResponse": ".wire",
    "NeedData": ".wire",
    "Paused": ".wire",
    "decode_response": ".wire",
    "parse_request_body": ".wire",
}

#: Names kept from before the schema toolkit had a module of its own: their home and the name
#: they have there (``None``: the module itself). The JSON Schema checks (and RE2 under them)
#: load when a tool or an output schema needs them.
_RENAMED: dict[str, tuple[str, str | None]] = {
    "schema": (".schema", None),
    "SchemaError": (".schema", "SchemaError"),
    "SchemaValidationError": (".schema", "SchemaValidationError"),
    "check_schema": (".schema", "check"),
    "check_schema_definition": (".schema", "check_definition"),
    "validate_schema": (".schema", "validate"),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    attribute: str | None = name
    if home is None:
        if name not in _RENAMED:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        home, attribute = _RENAMED[name]
    import importlib

    value = importlib.import_module(home, __name__)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value  # the next lookup is an ordinary one
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES, *_RENAMED})


__all__ = [
    "NEED_DATA",
    "PATH_RULE_TOOLS",
    "PAUSED",
    "Action",
    "AgentLoop",
    "AskCompaction",
    "AskPermission",
    "AssistantBlock",
    "AssistantMessage",
    "Commit",
    "Config",
    "Connection",
    "ContentBlock",
    "Done",
    "Emit",
    "Endpoint",
    "Event",
    "Finished",
    "ImageBlock",
    "LocalProtocolError",
    "LoopSettings",
    "LoopState",
    "LoopTool",
    "Message",
    "MessageComplete",
    "PermissionAllow",
    "PermissionDeny",
    "PermissionMode",
    "PermissionPolicy",
    "Pricing",
    "ProtocolError",
    "ReasoningDelta",
    "RefusalDelta",
    "RemoteProtocolError",
    "Request",
    "ResultMessage",
    "RetryPolicy",
    "RunMessage",
    "RunTools",
    "SendRequest",
    "ServerError",
    "StartTurn",
    "State",
    "StreamDone",
    "StreamEvent",
    "SystemMessage",
    "TextBlock",
    "TextDelta",
    "ThinkingBlock",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolResultBlock",
    "ToolSpec",
    "ToolTraits",
    "protected_path",
    "ToolUseBlock",
    "ToolUseError",
    "Truncated",
    "Usage",
    "UserBlock",
    "UserMessage",
    "Wait",
    "__version__",
    "add_usage",
]
