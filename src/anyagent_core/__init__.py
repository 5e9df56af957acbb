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
from ._sse import SSEDecoder, SSEMessage, encode_sse
from ._state import State
from ._util import NEED_DATA, PAUSED, NeedData, Paused
from ._version import __version__
from ._writers import parse_request_body

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_MAX_EVENT_SIZE",
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
    "Finished",
    "ImageBlock",
    "LocalProtocolError",
    "Message",
    "MessageComplete",
    "NeedData",
    "Paused",
    "ProtocolError",
    "ReasoningDelta",
    "RefusalDelta",
    "RemoteProtocolError",
    "Request",
    "SSEDecoder",
    "SSEMessage",
    "ServerError",
    "StartTurn",
    "State",
    "StreamDone",
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
    "decode_response",
    "encode_sse",
    "freeze_json",
    "parse_request_body",
    "thaw_json",
]
