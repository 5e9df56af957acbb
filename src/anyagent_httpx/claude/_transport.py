"""claude-agent-sdk's ``Transport``, for the programs that subclass it or name it.

There, a ``Transport`` is the connection to a Claude Code process (a subprocess, or one
elsewhere) carrying the Claude Code CLI's control protocol: JSON lines of prompts, control
requests and replies, read and written as they are. Here no Claude Code process runs, the
requests go to an OpenAI-compatible endpoint, so there is nothing for one to connect to:
``query(transport=)`` and ``ClaudeSDKClient(transport=)`` refuse one with a
``NotSupportedError`` saying so (``refuse``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any

from ._types import NotSupportedError

__all__ = ["Transport", "refuse"]


class Transport(ABC):
    """claude-agent-sdk's abstract transport, with its methods: the raw connection to a Claude
    Code process. A subclass imports and is typed as there, but is not used (see the module)."""

    @abstractmethod
    async def connect(self) -> None:
        """Start the process or open the connection."""

    @abstractmethod
    async def write(self, data: str) -> None:
        """Send ``data`` (JSON lines) as it is."""

    @abstractmethod
    def read_messages(self) -> AsyncIterator[dict[str, Any]]:
        """The messages read, each a parsed JSON object."""

    @abstractmethod
    async def close(self) -> None:
        """Close the connection; bounded, as the caller cannot cancel it."""

    @abstractmethod
    def is_ready(self) -> bool:
        """Whether messages can be sent and read."""

    @abstractmethod
    async def end_input(self) -> None:
        """End the input (close the process's stdin)."""


def refuse(transport: object) -> None:
    """Raise ``NotSupportedError`` for a ``transport=`` given (None passes)."""
    if transport is None:
        return
    kind = "a Transport carries" if isinstance(transport, Transport) else "it must be a Transport, which carries"
    raise NotSupportedError(
        f"transport={type(transport).__name__}(...): {kind} the Claude Code CLI's control protocol, and there "
        "is no Claude Code here: requests go to the OpenAI-compatible endpoint of ANY_AGENT_BASE_URL (for "
        "anyagent's own transports, use anyagent_httpx.Client(AgentOptions(transport=...)))"
    )
