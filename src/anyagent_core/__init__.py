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
names stay importable from here too, as before they moved; the JSON Schema checks (``schema``,
``check_schema``, ``validate_schema``, ...) load on first use, when a tool or an output schema
needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from . import schema as schema
    from .schema import SchemaError as SchemaError
    from .schema import SchemaValidationError as SchemaValidationError

    # Kept from before the schema toolkit had a module of its own (anyagent_core.schema).
    check_schema = schema.check
    check_schema_definition = schema.check_definition
    validate_schema = schema.validate

#: Names loaded on first use (a module ``__getattr__``): the JSON Schema checks (and RE2 under
#: them) cost more to import than a plain run needs; a tool or an output schema loads them.
_LAZY: dict[str, tuple[str, str | None]] = {
    "schema": ("anyagent_core.schema", None),
    "SchemaError": ("anyagent_core.schema", "SchemaError"),
    "SchemaValidationError": ("anyagent_core.schema", "SchemaValidationError"),
    "check_schema": ("anyagent_core.schema", "check"),
    "check_schema_definition": ("anyagent_core.schema", "check_definition"),
    "validate_schema": ("anyagent_core.schema", "validate"),
}


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module, attribute = where
    value = importlib.import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value  # the next lookup is an ordinary one
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
