"""The two protocol error classes.

``LocalProtocolError`` means the caller misused the API; ``RemoteProtocolError`` means the
server broke the protocol. Inside the parser everything raises ``LocalProtocolError``;
``Connection.next_event`` converts to ``RemoteProtocolError`` in one place. Both say what
went wrong and, where known, where: the byte offset in the response body, the line number and
a snippet of the offending input.
"""

from __future__ import annotations

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """Base class of the protocol errors. Abstract: raise a subclass."""

    msg: str
    offset: int | None
    line: int | None
    snippet: str | None
    hint: str | None

    def __init__(
        self,
        msg: str,
        *,
        offset: int | None = None,
        line: int | None = None,
        snippet: str | None = None,
        hint: str | None = None,
    ) -> None:
        if type(self) is ProtocolError:
            raise TypeError("ProtocolError is abstract: raise LocalProtocolError or RemoteProtocolError")
        super().__init__(msg)
        self.msg = msg
        self.offset = offset
        self.line = line
        self.snippet = snippet
        self.hint = hint

    def __str__(self) -> str:
        where = []
        if self.offset is not None:
            where.append(f"byte {self.offset}")
        if self.line is not None:
            where.append(f"line {self.line}")
        text = self.msg
        if where:
            text += f" (at {', '.join(where)})"
        if self.snippet is not None:
            text += f": {self.snippet!r}"
        if self.hint:
            text += f"; {self.hint}"
        return text

    def _reraise_as_remote_protocol_error(self) -> RemoteProtocolError:
        """Return a ``RemoteProtocolError`` carrying the same message and location."""
        return RemoteProtocolError(self.msg, offset=self.offset, line=self.line, snippet=self.snippet, hint=self.hint)


class LocalProtocolError(ProtocolError):
    """The API was used wrongly (a call in the wrong state, invalid arguments)."""


class RemoteProtocolError(ProtocolError):
    """The server sent something that breaks the protocol (malformed SSE or JSON, bad shapes)."""
