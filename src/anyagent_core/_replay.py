"""Decoding one complete recorded response, without a transport."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from ._config import DEFAULT_CONFIG, Config, Endpoint
from ._connection import Connection
from ._events import Event, MessageComplete, ServerError
from ._messages import AssistantMessage
from ._util import NEED_DATA, PAUSED
from .value import Value

__all__ = ["DecodedResponse", "decode_response"]

_REPLAY_ENDPOINT = Endpoint(base_url="http://replay.invalid/v1")


@attrs.frozen(kw_only=True, repr=False, eq=False)
class DecodedResponse(Value):
    """Every event of one response, and its outcome."""

    events: tuple[Event, ...]
    message: AssistantMessage
    """Choice 0 (the lowest index), as content blocks."""
    choices: tuple[AssistantMessage, ...]
    error: ServerError | None
    done_received: bool
    truncated: bool


def decode_response(
    body: bytes | Iterable[bytes],
    *,
    status: int = 200,
    content_type: str | None = "text/event-stream",
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    config: Config = DEFAULT_CONFIG,
    single_choice: bool = False,
) -> DecodedResponse:
    """Decode a recorded response body: ``body`` whole, or as the exact list of chunks received.

    ``headers`` (if given) replaces ``content_type``. ``single_choice`` folds every choice
    index into choice 0, as a connection does when the request asked for one choice.
    Raises ``RemoteProtocolError`` if the body breaks the protocol.
    """
    conn = Connection(_REPLAY_ENDPOINT, config=config)
    conn._expect_response(single_choice=single_choice)
    if headers is None:
        headers = [("content-type", content_type)] if content_type is not None else []
    conn.receive_head(status, headers)
    chunks = iter([body] if isinstance(body, bytes | bytearray | memoryview) else body)
    events: list[Event] = []
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            # An empty chunk is not EOF; only the end of the chunks is.
            chunk = next((c for c in chunks if c), b"")
            conn.receive_data(chunk)
        elif event is PAUSED:
            break
        else:
            events.append(event)
    last = events[-1]
    assert type(last) is MessageComplete
    return DecodedResponse(
        events=tuple(events),
        message=last.message,
        choices=last.choices,
        error=last.error,
        done_received=last.done_received,
        truncated=last.truncated,
    )
