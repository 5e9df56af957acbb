"""The wire, for tools around a ``Connection``: the dialects (``Dialect``, ``DIALECTS``), a
request body read back into a ``StartTurn`` (``parse_request_body``), a recorded response decoded
whole (``decode_response``), the limits' defaults, and URLs with their credentials removed
(``redact_url``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._config import DEFAULT_CONFIG, DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_EVENT_SIZE, redact_url
from ._dialects import DEFAULT_DIALECT, DIALECTS, Dialect
from ._dialects._openai_chat._writer import parse_request_body
from ._util import NeedData, Paused, lazy_names

if TYPE_CHECKING:
    from ._replay import DecodedResponse, decode_response

#: Loaded on first use: a run decodes its responses as they stream, not whole.
_LAZY = {"DecodedResponse": "._replay", "decode_response": "._replay"}

__getattr__, __dir__ = lazy_names(globals(), _LAZY)


__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_DIALECT",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_MAX_EVENT_SIZE",
    "DIALECTS",
    "DecodedResponse",
    "Dialect",
    "NeedData",
    "Paused",
    "decode_response",
    "parse_request_body",
    "redact_url",
]
