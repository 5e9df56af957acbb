"""Wire dialects: how one API shape writes a turn and reads a response, as a ``Dialect``.

What every dialect shares is not here: ``_framing`` chooses the body reader from the status and
content type and frames event streams (``_sse``), JSON bodies and error bodies; a dialect says
what they mean. ``Connection(endpoint, dialect=...)`` takes one; ``DIALECTS`` maps each name to
its dialect, and ``DEFAULT_DIALECT`` is OpenAI chat completions (``_openai_chat``).

Import rule (checked by ``tests/core/test_layers.py``): ``_framing`` and ``_sse`` import no
dialect, and a dialect's modules are imported only by this table, by the dialect's own package
and by ``anyagent_core/__init__.py`` (for the public names it defines), so that ``Connection``
reaches a dialect only through the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Protocol

from anyagent_core._config import Config, Endpoint
from anyagent_core._events import Request, StartTurn
from anyagent_core._framing import Assembler

from ._openai_chat import OPENAI_CHAT

__all__ = ["DEFAULT_DIALECT", "DIALECTS", "Dialect"]


class Dialect(Protocol):
    """What a wire dialect provides. Its methods are pure; the per-response state lives in the
    ``Assembler`` it makes."""

    @property
    def name(self) -> str:
        """Its key in ``DIALECTS``."""
        ...

    def write_request(self, turn: StartTurn, endpoint: Endpoint, config: Config) -> Request:
        """The HTTP request for ``turn``: method, URL, headers and deterministic body bytes.
        Raises ``LocalProtocolError`` for a turn the dialect cannot write."""
        ...

    def parse_request_body(self, body: bytes | str, *, config: Config | None = None) -> StartTurn:
        """A request body read back into a ``StartTurn`` (the writer's inverse); raises
        ``LocalProtocolError`` saying what it cannot read."""
        ...

    def single_choice(self, turn: StartTurn) -> bool:
        """Whether ``turn`` asked for one choice, so that every choice index a response uses
        is read as choice 0."""
        ...

    def assembler(self, *, status: int, single_choice: bool) -> Assembler:
        """A fresh ``Assembler`` for one response with this status: the framing readers feed
        it chunks, a whole JSON body or an error body."""
        ...


DIALECTS: Final[Mapping[str, Dialect]] = MappingProxyType({OPENAI_CHAT.name: OPENAI_CHAT})
DEFAULT_DIALECT: Final[Dialect] = OPENAI_CHAT
