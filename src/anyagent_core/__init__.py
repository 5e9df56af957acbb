"""anyagent_core: the sans-IO protocol machine for OpenAI-compatible chat completions.

It turns a conversation into request bytes and response bytes into typed events, and performs
no I/O: no sockets, no event loop, no clock, no environment. See ``Connection``.
"""

from __future__ import annotations

from ._config import DEFAULT_CONFIG, DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_EVENT_SIZE, Config, Endpoint
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
from ._results import PartialEvent, ResultMessage, ResultSubtype, RunMessage, StreamEvent, SystemMessage, add_usage
from ._retry import (
    DEFAULT_RETRY_POLICY,
    Failure,
    GiveUp,
    Retry,
    RetryPolicy,
    RetryState,
    is_context_length_error,
    parse_retry_after,
)
from ._schema import SchemaError, SchemaValidationError
from ._schema import check as check_schema
from ._schema import validate as validate_schema
from ._sse import SSEDecoder, SSEMessage, encode_sse
from ._state import State
from ._util import NEED_DATA, PAUSED, NeedData, Paused
from ._version import __version__
from ._writers import parse_request_body

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_MAX_EVENT_SIZE",
    "DEFAULT_RETRY_POLICY",
    "NEED_DATA",
    "PAUSED",
    "AssistantBlock",
    "AssistantMessage",
    "Config",
    "Connection",
    "ContentBlock",
    "DecodedResponse",
    "Endpoint",
    "Event",
    "Failure",
    "Finished",
    "GiveUp",
    "ImageBlock",
    "LocalProtocolError",
    "Message",
    "MessageComplete",
    "NeedData",
    "PartialEvent",
    "Paused",
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
    "SSEDecoder",
    "SSEMessage",
    "SchemaError",
    "SchemaValidationError",
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
    "ToolUseBlock",
    "ToolUseError",
    "Truncated",
    "Usage",
    "UserBlock",
    "UserMessage",
    "__version__",
    "add_usage",
    "check_schema",
    "decode_response",
    "encode_sse",
    "freeze_json",
    "is_context_length_error",
    "parse_request_body",
    "parse_retry_after",
    "thaw_json",
    "validate_schema",
]
