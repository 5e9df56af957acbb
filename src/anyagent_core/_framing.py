"""Body framing: the reader a response head calls for, and the bodies it frames as bytes.

``choose_reader(status, content_type, assembler, ...)`` plays the part of h11's ``_body_framing``:

* a 2xx ``text/event-stream`` body  -> ``SSEReader`` (events decoded by ``_sse``, JSON data
  parsed here);
* a 2xx JSON body                   -> ``JSONBodyReader`` (non-streaming answers, and servers
  that ignore ``stream: true``), parsed at EOF;
* a 2xx body of another or no type  -> ``SniffingReader`` (decides by the first byte);
* any other status                  -> ``ErrorBodyReader`` (the body as bytes, its first 64 KiB
  kept and the rest drained).

This module knows how a body is framed, never what it means: it imports no dialect. What the
chunks, bodies and error bodies say is read by the dialect's per-response ``Assembler``, which
the readers feed. The one event type read here is ``error``: an SSE ``event: error`` (and a
non-standard line ``_sse`` surfaces) is never parsed as a chunk but handed over as it is, since
servers put plain text in it.

A reader's ``read(out)`` appends the events that the buffered bytes complete. It raises
``LocalProtocolError`` for malformed input; the connection reports it as
``RemoteProtocolError``. Readers hold no connection state.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Final, Protocol, final

from ._errors import LocalProtocolError
from ._events import ErrorSource, Event
from ._messages import AssistantMessage
from ._sse import MessageFields, SSEDecoder, SSEMessage
from ._util import snippet

__all__ = [
    "Assembler",
    "BodyReader",
    "ErrorBodyReader",
    "JSONBodyReader",
    "SSEReader",
    "SniffingReader",
    "choose_reader",
]

# The C scanner, without json.loads's wrapper layers (its stubs do not declare it).
_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


_ERROR_BODY_KEEP: Final = 64 * 1024


class Assembler(Protocol):
    """A dialect's reading of one response: what the readers feed, and what the connection
    asks of it when a response breaks off.

    A response ends in exactly one of four ways, and each makes the assembler append its
    closing events, ``MessageComplete`` last: ``chunk`` or ``other_event`` returning
    True (the dialect's end marker), ``end_of_stream``, ``json_body`` or ``error_body``.
    Nothing is fed after that. Malformed content raises ``LocalProtocolError`` (except in
    ``error_body``, which never raises for its content).
    """

    def chunk(self, obj: Any, out: list[Event], source: ErrorSource, raw: str) -> bool:
        """The hot path, once per chunk: the JSON document ``obj`` parsed from ``raw``, an SSE
        data event's data (``source`` is ``"data_event"``, for the errors it reports). True when
        it completed the response. The event's name is not passed: the JSON APIs read here
        repeat it in the data (``type``); ``other_event`` gets whole messages."""
        ...

    def other_event(self, message: SSEMessage, out: list[Event]) -> bool | None:
        """Any other SSE message: data not starting with ``{``, an ``event: error``, a
        non-standard line ``_sse`` surfaced. True when it completed the response, False when
        it was handled (a keep-alive, an error report), None when its data is a JSON document
        after all: the reader parses it and passes it to ``chunk``."""
        ...

    def end_of_stream(self, out: list[Event], *, discarded: int) -> None:
        """The event stream reached EOF before the response completed; ``discarded`` bytes of
        an incomplete event were dropped there."""
        ...

    def json_body(self, obj: Any, text: str, out: list[Event]) -> None:
        """A whole 2xx JSON body: ``obj`` parsed from ``text``."""
        ...

    def error_body(self, body: bytes, out: list[Event], *, cut: bool) -> None:
        """The body of a non-2xx response (``cut``: only its start was kept)."""
        ...

    def partial(self) -> AssistantMessage:
        """What the response had delivered so far, as a message, for a response that broke
        off and will not continue."""
        ...


class BodyReader(Protocol):
    """What the connection needs of a body reader."""

    @property
    def finished(self) -> bool:
        """True once ``MessageComplete`` has been produced."""

    @property
    def at_eof(self) -> bool:
        """True once EOF has been fed and every byte before it consumed."""

    def feed(self, data: bytes | bytearray | memoryview) -> None: ...

    def read(self, out: list[Event]) -> None: ...


# ---- readers --------------------------------------------------------------------------------


@final
class SSEReader:
    """A ``text/event-stream`` body. Each data event whose data starts with ``{`` (not an
    ``event: error``) is parsed as JSON and passed to the assembler's ``chunk``; every
    other message goes to ``other_event``. When the assembler says the response is complete
    (``[DONE]``), the rest of the body may hold comments, blank lines, events without data and
    the same end marker again (some gateways repeat it), which are ignored; an event with other
    data there (a chunk, an error) or an incomplete one at EOF is not part of the answer, and is
    not dropped unseen either: it raises, naming it, after the complete answer's events. EOF
    first ends it with ``end_of_stream``."""

    __slots__ = ("_assembler", "_decoder", "_end_marker", "finished")

    def __init__(self, assembler: Assembler, *, max_event_size: int) -> None:
        self._assembler = assembler
        self._decoder = SSEDecoder(max_event_size=max_event_size)
        self._end_marker: tuple[str, str] | None = None  # (event, data) of the event that ended it
        self.finished = False

    @property
    def at_eof(self) -> bool:
        return self.finished and self._decoder._eof  # the decoder's eof, without its property's call

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._decoder.feed(data)

    def read(self, out: list[Event]) -> None:
        if self.finished:
            decoder = self._decoder
            if decoder._start == len(decoder._buf) and not decoder._event_size and decoder._deferred is None:
                return  # nothing buffered since the end, no event begun: _after_end would find nothing
            self._after_end(decoder.message_fields())
            return
        messages = self._decoder.message_fields()
        if messages:
            asm = self._assembler
            chunk = asm.chunk
            scan_once = _scan_once
            for message in messages:
                data = message[1]
                obj: Any
                if data[:1] == "{" and message[6] is None and message[0] != "error":
                    # The hot path: a JSON chunk in a data event, read by the C scanner (json.loads
                    # minus its wrapper layers); json.loads for its exact error if it refuses.
                    try:
                        obj, end = scan_once(data, 0)
                    except (ValueError, StopIteration):
                        obj = _loads(data, message)
                    except RecursionError:
                        raise _too_deep(message) from None
                    else:
                        if end != len(data) and data[end:].strip(" \t\n\r"):
                            obj = _loads(data, message)  # trailing garbage: json.loads raises its "Extra data"
                else:
                    outcome = asm.other_event(_as_message(message), out)
                    if outcome is None:
                        obj = _loads(data, message)  # a chunk after all (leading blanks, an array, ...)
                    elif outcome:
                        self._end_marker = (message[0], data)
                        self._end(messages, message)
                        return
                    else:
                        continue
                try:
                    done = chunk(obj, out, "data_event", data)
                except LocalProtocolError as exc:
                    if exc.offset is None:
                        exc.offset, exc.line, exc.snippet = message[4], message[5], snippet(data)
                    raise
                if done:
                    self._end(messages, message)
                    return
        self._decoder.check()
        if self._decoder.eof:
            self._assembler.end_of_stream(out, discarded=self._decoder.discarded)
            self.finished = True

    def _end(self, messages: list[MessageFields], last: MessageFields) -> None:
        """The assembler completed the response with ``last``, one of the ``messages`` of this
        read (its events, ``MessageComplete`` last, are already out); the messages after it are
        checked."""
        self.finished = True
        decoder = self._decoder
        if messages[-1] is not last or decoder._eof or decoder._deferred is not None:
            self._after_end(messages[messages.index(last) + 1 :])

    def _after_end(self, messages: list[MessageFields]) -> None:
        """Check what came after the end of the response: nothing with data may."""
        marker = self._end_marker
        for message in messages:
            if message[1] and (message[0], message[1]) != marker:
                raise LocalProtocolError(
                    "data after the end of the response",
                    offset=message[4],
                    line=message[5],
                    snippet=snippet(message[1]),
                    hint="the server sent more after it marked the answer complete; it is not part of the answer",
                )
        decoder = self._decoder
        decoder.check()
        if decoder._eof and decoder.discarded:
            # The decoder discards only at EOF, and only what follows its last message: here,
            # what follows the end of the response.
            raise LocalProtocolError(
                f"an incomplete SSE event after the end of the response, "
                f"{decoder.discarded} bytes cut off by the end of the body",
                offset=decoder.offset - decoder.discarded,
                line=decoder._cut_line,
                snippet=snippet(decoder._cut_head),
            )


@final
class JSONBodyReader:
    """A whole JSON body (a non-streaming answer, or an error object sent with a 2xx status),
    kept up to ``max_body_size`` and parsed at EOF for the assembler's ``json_body``."""

    __slots__ = ("_assembler", "_body", "_eof", "_max", "finished")

    def __init__(self, assembler: Assembler, *, max_body_size: int) -> None:
        self._assembler = assembler
        self._body = bytearray()
        self._max = max_body_size
        self._eof = False
        self.finished = False

    @property
    def at_eof(self) -> bool:
        return self._eof and self.finished

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            self._eof = True
            return
        if len(self._body) > self._max:
            return  # already over the cap and reported: drain, don't keep
        self._body += data
        if len(self._body) > self._max:
            raise LocalProtocolError(
                f"JSON response body exceeds max_body_size ({self._max} bytes)",
                offset=self._max,
                hint="raise Config.max_body_size if the server really sends bodies this large",
            )

    def read(self, out: list[Event]) -> None:
        if not self._eof or self.finished:
            return
        body = bytes(self._body)
        self._body = bytearray()
        if body.startswith(b"\xef\xbb\xbf"):
            body = body[3:]  # a UTF-8 BOM, as the SSE path strips it
        if not body.strip():
            raise LocalProtocolError("the JSON response body is empty", offset=0)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LocalProtocolError(
                f"the JSON response body is not UTF-8: {exc.reason}", offset=exc.start, snippet=snippet(body, exc.start)
            ) from None
        try:
            obj = json.loads(text)
        except ValueError as exc:
            error = _json_error("invalid JSON response body", exc, text, None)
            if getattr(exc, "msg", "") == "Extra data" and text.lstrip().startswith("{"):
                error.hint = (
                    "the body holds several JSON documents, as NDJSON does (Ollama's native API); "
                    "point base_url at the server's OpenAI-compatible /v1 API"
                )
            raise error from None
        except RecursionError:
            raise LocalProtocolError("JSON nested too deeply in the response body", offset=0) from None
        self._assembler.json_body(obj, text, out)
        self.finished = True


@final
class ErrorBodyReader:
    """The body of a non-2xx response, as bytes for the assembler's ``error_body``: its first
    64 KiB are kept and the rest drained. Never raises for its content."""

    __slots__ = ("_assembler", "_body", "_cut", "_eof", "finished")

    def __init__(self, assembler: Assembler) -> None:
        self._assembler = assembler
        self._body = bytearray()
        self._cut = False
        self._eof = False
        self.finished = False

    @property
    def at_eof(self) -> bool:
        return self._eof and self.finished

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            self._eof = True
            return
        room = _ERROR_BODY_KEEP - len(self._body)
        if room > 0:
            self._body += data[:room]
        if len(data) > room:
            self._cut = True  # the rest of a huge error page is drained, not kept

    def read(self, out: list[Event]) -> None:
        if not self._eof or self.finished:
            return
        self._assembler.error_body(bytes(self._body), out, cut=self._cut)
        self.finished = True


_NOT_BLANK: Final = re.compile(rb"[^ \t\r\n]")


@final
class SniffingReader:
    """A 2xx body whose content type says neither SSE nor JSON: the first byte that is not
    blank (after a BOM) decides: ``{`` or ``[`` means JSON, anything else SSE. Blank bytes are
    held (and searched once each) up to ``limit``; a longer blank prefix is read as SSE, where
    blank lines mean nothing."""

    __slots__ = ("_factory", "_held", "_inner", "_limit", "_scanned")

    def __init__(self, sse: Callable[[], BodyReader], json_body: Callable[[], BodyReader], *, limit: int) -> None:
        self._factory = (sse, json_body)
        self._held = bytearray()
        self._scanned = 0
        self._inner: BodyReader | None = None
        self._limit = limit

    @property
    def finished(self) -> bool:
        return self._inner is not None and self._inner.finished

    @property
    def at_eof(self) -> bool:
        return self._inner is not None and self._inner.at_eof

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._inner is not None:
            self._inner.feed(data)
            return
        held = self._held
        if data:
            held += data
            start = max(self._scanned, 3 if held.startswith(b"\xef\xbb\xbf") else 0)
            match = _NOT_BLANK.search(held, start)
            self._scanned = len(held)
            if match is None:
                if len(held) <= self._limit:
                    return
                chosen = self._factory[0]
            else:
                chosen = self._factory[1] if held[match.start()] in b"{[" else self._factory[0]
        else:
            chosen = self._factory[0]  # an empty or blank body: the SSE reader ends it (end_of_stream)
        inner = self._inner = chosen()
        if held:
            inner.feed(bytes(held))
            self._held = bytearray()
        if not data:
            inner.feed(b"")

    def read(self, out: list[Event]) -> None:
        if self._inner is not None:
            self._inner.read(out)


def choose_reader(
    status: int, content_type: str, assembler: Assembler, *, max_event_size: int, max_body_size: int
) -> BodyReader:
    """The body reader for a response head, feeding ``assembler``."""
    if not 200 <= status < 300:
        return ErrorBodyReader(assembler)
    if content_type == "text/event-stream":
        return SSEReader(assembler, max_event_size=max_event_size)  # as written, without parameters
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "text/event-stream":
        return SSEReader(assembler, max_event_size=max_event_size)
    if media == "application/json" or media.endswith("+json"):
        return JSONBodyReader(assembler, max_body_size=max_body_size)
    return SniffingReader(
        lambda: SSEReader(assembler, max_event_size=max_event_size),
        lambda: JSONBodyReader(assembler, max_body_size=max_body_size),
        limit=max_event_size,
    )


def _as_message(fields: MessageFields) -> SSEMessage:
    """A message from the decoder as an ``SSEMessage`` (it may come as a plain tuple)."""
    return fields if type(fields) is SSEMessage else tuple.__new__(SSEMessage, fields)


def _loads(data: str, message: MessageFields) -> Any:
    """``json.loads`` of an SSE data event's data, its errors located at the event."""
    try:
        return json.loads(data)
    except ValueError as exc:
        raise _json_error("invalid JSON in an SSE data event", exc, data, _as_message(message)) from None
    except RecursionError:
        raise _too_deep(message) from None


def _too_deep(message: MessageFields) -> LocalProtocolError:
    return LocalProtocolError("JSON nested too deeply in an SSE data event", offset=message[4], line=message[5])


def _json_error(what: str, exc: ValueError, text: str, message: SSEMessage | None) -> LocalProtocolError:
    pos = getattr(exc, "pos", 0)
    lineno = getattr(exc, "lineno", 1)
    reason = getattr(exc, "msg", str(exc))
    start = max(0, pos - 30)
    if message is not None:
        return LocalProtocolError(
            f"{what}: {reason} (char {pos} of the event data)",
            offset=message.offset,
            line=message.line + lineno - 1,
            snippet=snippet(text, start, 80),
        )
    return LocalProtocolError(
        f"{what}: {reason} (char {pos})",
        offset=len(text[:pos].encode("utf-8")),
        line=lineno,
        snippet=snippet(text, start, 80),
    )
