"""The OpenAI chat-completions dialect: ``POST {base_url}/chat/completions``, answered with
``data:`` chunks ending in ``data: [DONE]`` (or one JSON completion), errors in OpenAI's
envelopes and the variants OpenAI-compatible servers send.

* ``_writer``: a ``StartTurn`` -> the request, and a request body back (``parse_request_body``);
* ``_assembler``: ``ResponseAssembler``, chunks -> events and the final messages;
* ``_toolcalls``: the fold rules for streamed tool calls;
* ``_envelopes``: error envelopes -> ``ServerError``.

``OPENAI_CHAT`` is the dialect object the table in ``_dialects`` holds.
"""

from __future__ import annotations

from typing import Final, final

from anyagent_core._events import StartTurn

from ._assembler import ResponseAssembler
from ._writer import parse_request_body, write_request

__all__ = ["OPENAI_CHAT", "OpenAIChat"]


@final
class OpenAIChat:
    """The ``openai-chat`` dialect (see ``_dialects.Dialect``)."""

    __slots__ = ()

    name: Final = "openai-chat"
    write_request = staticmethod(write_request)
    parse_request_body = staticmethod(parse_request_body)
    assembler = ResponseAssembler

    @staticmethod
    def single_choice(turn: StartTurn) -> bool:
        """One choice was asked for (``n`` unset or 1; ``extra_body`` replaces our keys, ``n``
        included)."""
        n = turn.extra_body.get("n", turn.n)
        return n is None or n == 1

    def __repr__(self) -> str:
        return "<dialect openai-chat>"


OPENAI_CHAT: Final = OpenAIChat()
