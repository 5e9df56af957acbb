"""A WHATWG event-stream decoder (HTML §9.2.5-9.2.6): bytes in, dispatched messages out.

* UTF-8; one leading BOM is stripped, even when it arrives split across reads.
* CR, LF and CRLF all end a line, including a CRLF split across two reads.
* ``:`` lines are comments. A field is ``name[:[ ]value]``. ``data`` lines join with ``\\n``.
* A blank line dispatches only if a ``data`` line was seen; ``event``/``id``/``retry``-only
  blocks dispatch nothing. At EOF a partial line and an undispatched event are discarded.
* Results never depend on how the bytes were split into reads.

Lines are found at the byte level (UTF-8 never puts ``\\r`` or ``\\n`` inside a multi-byte
sequence), so a character split across reads is decoded whole. The buffer is searched only
where new bytes arrived. A line, or an event's data, longer than ``max_event_size`` is
rejected; the cap is defined on the byte stream, so it does not depend on read boundaries.

Two non-standard lines are surfaced instead of dropped, because servers really send them:
an ``error:`` field (llama.cpp before September 2025) and a raw JSON line with no field name.
This module does not parse JSON or know chat shapes.
"""

from __future__ import annotations

import re
from typing import Final, Literal, NamedTuple, NoReturn, final

from ._errors import LocalProtocolError
from ._util import lazy_pattern, snippet

__all__ = ["MessageFields", "SSEDecoder", "SSEMessage", "encode_sse"]

_BOM: Final = b"\xef\xbb\xbf"
_LINE_RE: Final = lazy_pattern(rb"([^\r\n]*)(\r\n|\r|\n)")


class SSEMessage(NamedTuple):
    """One dispatched event (or a surfaced non-standard line, when ``extension`` is set)."""

    event: str
    """The event type; ``message`` when no ``event:`` field was given."""
    data: str
    """The data lines joined with ``\\n``."""
    id: str
    """The last event id seen so far (it persists across events)."""
    retry: int | None
    """The last valid ``retry`` value seen so far."""
    offset: int
    """Byte offset, in the body, of the event's first line."""
    line: int
    """Line number (1-based) of the event's first line."""
    extension: Literal["error_field", "raw_line"] | None = None
    """``error_field``: a non-standard ``error:`` line; ``data`` holds its value.
    ``raw_line``: a line that looks like JSON but has no field name; ``data`` holds the line."""


MessageFields = tuple[str, str, str, int | None, int, int, Literal["error_field", "raw_line"] | None]
"""An ``SSEMessage``'s fields in its order: what ``SSEDecoder.message_fields`` returns for each
message (an ``SSEMessage`` itself, or a plain tuple, which is cheaper to make)."""


def _new_message(fields: MessageFields) -> SSEMessage:
    """Build an ``SSEMessage`` from a complete tuple, skipping NamedTuple's keyword handling."""
    return tuple.__new__(SSEMessage, fields)


@final
class SSEDecoder:
    """Incremental decoder. ``feed(data)`` buffers; ``feed(b"")`` marks EOF; ``messages()``
    returns every message that the buffered bytes complete."""

    __slots__ = (
        "_base",
        "_buf",
        "_cut_head",
        "_cut_line",
        "_data",
        "_deferred",
        "_eof",
        "_event",
        "_event_line",
        "_event_offset",
        "_event_size",
        "_last_id",
        "_line_no",
        "_max_event_size",
        "_mode_cr",
        "_retry",
        "_scanned",
        "_skip_lf",
        "_start",
        "_started",
        "discarded",
    )

    def __init__(self, *, max_event_size: int) -> None:
        self._max_event_size = max_event_size
        self._buf = bytearray()
        self._start = 0  # first unprocessed byte in _buf
        self._scanned = 0  # bytes of _buf already searched for a line ending
        self._base = 0  # absolute body offset of _buf[0]
        self._line_no = 1  # line number of the line starting at _start
        self._started = False  # BOM handled
        self._mode_cr = False  # a CR has been seen: use the general line splitter
        self._skip_lf = False  # the last line ended with CR: drop an LF that follows
        self._eof = False
        self._data: list[bytes] = []
        self._event = ""
        self._event_size = 0
        self._event_offset = -1
        self._event_line = 0
        self._last_id = ""
        self._retry: int | None = None
        self._deferred: LocalProtocolError | None = None  # a cap error held back for good messages
        self._cut_line = 0  # at EOF, when bytes were discarded: the line they began on
        self._cut_head = b""  # and their first bytes (up to 81), for an error's snippet
        self.discarded = 0
        """At EOF: how many bytes of an incomplete event were dropped (the body's last bytes,
        from the event's first line on)."""

    @property
    def eof(self) -> bool:
        return self._eof

    @property
    def offset(self) -> int:
        """Bytes consumed so far (the absolute offset of the first unprocessed byte)."""
        return self._base + self._start

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._eof:
            if data:
                raise LocalProtocolError("received data after EOF")
            return
        if not data:
            self._eof = True
            return
        if type(data) is memoryview:
            data = data.tobytes()  # "in" on a memoryview compares its ints, not bytes
        # 13 (CR) as an int: bytes' "in" tries its operand as an integer first, so b"\r" would
        # raise and clear a TypeError on every read.
        if not self._mode_cr and 13 in data:
            self._mode_cr = True
        self._buf += data

    def messages(self) -> list[SSEMessage]:
        """Every message completed by the bytes fed so far, in order (often none).

        If the bytes break the size cap after some good messages, those are returned first
        and the error is raised by the next call (or by ``check()``), so that no good message
        is lost whatever the read boundaries were.
        """
        new = tuple.__new__
        return [m if type(m) is SSEMessage else new(SSEMessage, m) for m in self.message_fields()]

    def message_fields(self) -> list[MessageFields]:
        """``messages()``, with each message as its fields (``SSEMessage``'s order): an
        ``SSEMessage`` or a plain tuple of the same values, which costs less to make (the
        one-data-line events of the fast path come as those)."""
        if self._deferred is not None:
            raise self._deferred  # what check() does
        out: list[MessageFields] = []
        try:
            self._messages(out)
        except LocalProtocolError as exc:
            if not out:
                raise
            self._deferred = exc
        return out

    def check(self) -> None:
        """Raise the error that a ``messages()`` call deferred, if any."""
        if self._deferred is not None:
            raise self._deferred

    def _messages(self, out: list[MessageFields]) -> None:
        buf = self._buf
        if not self._started:
            if len(buf) < 3 and _BOM.startswith(buf) and not self._eof:
                return
            self._started = True
            if buf.startswith(_BOM):
                self._start = self._scanned = 3
                self._base = 0
        if self._skip_lf and self._start < len(buf):
            self._skip_lf = False
            if buf[self._start] == 10:
                self._start += 1
        start = self._start
        scan_from = max(self._scanned, start)
        if self._mode_cr:
            end = max(buf.rfind(b"\n", scan_from), buf.rfind(b"\r", scan_from))
        else:
            end = buf.rfind(b"\n", scan_from)
        self._scanned = len(buf)
        if end < 0:
            self._check_size()
            if self._eof:
                self._discard_tail()
            return
        if self._mode_cr:
            if buf[end] == 13:
                self._skip_lf = True
            self._lines_cr(bytes(buf[start : end + 1]), out)
        else:
            self._lines_lf(bytes(buf[start : end + 1]), out)
        self._start = end + 1
        if self._start > 65536 and self._start * 2 > len(buf):
            # Compact: drop consumed bytes once they dominate the buffer.
            del buf[: self._start]
            self._base += self._start
            self._scanned -= self._start
            self._start = 0
        limit = self._max_event_size
        if len(buf) - self._start > limit or self._event_size > limit:
            self._check_size()  # raises (the cap's two tests, checked here without its call)
        if self._eof:
            self._discard_tail()

    # ---- internals ------------------------------------------------------------------------

    def _discard_tail(self) -> None:
        """EOF: a partial last line and an undispatched event are dropped (as the spec says).
        When either holds something, ``discarded`` counts the bytes from the event's first line
        (or the partial line's start) to the end of the body: they end the body, from
        ``offset - discarded`` on. An event that gathered no data and left no partial line
        loses nothing."""
        end = len(self._buf)
        if self._start < end or self._event_size:
            if self._event_offset >= 0:
                first, self._cut_line = self._event_offset, self._event_line
            else:
                first, self._cut_line = self._base + self._start, self._line_no
            self.discarded += self._base + end - first
            at = max(first - self._base, 0)  # a long event's start may have been compacted away
            self._cut_head = bytes(self._buf[at : at + 81])
        self._start = end
        self._data = []
        self._event = ""
        self._event_size = 0
        self._event_offset = -1

    def _check_size(self) -> None:
        """The cap, defined so that it does not depend on how the bytes were split: no line may
        be longer than ``max_event_size``, and no event's data may add up to more."""
        partial = len(self._buf) - self._start
        if partial > self._max_event_size:
            self._too_large(
                f"a line longer than max_event_size ({self._max_event_size} bytes)",
                self._base + self._start,
                self._line_no,
            )
        if self._event_size > self._max_event_size:
            self._event_too_large()

    def _event_too_large(self, piece: bytes | None = None) -> NoReturn:
        self._too_large(
            f"an SSE event larger than max_event_size ({self._max_event_size} bytes)",
            self._event_offset,
            self._event_line,
            piece,
        )

    def _too_large(self, what: str, offset: int, line: int, piece: bytes | None = None) -> NoReturn:
        if piece is None and self._start < len(self._buf):
            piece = bytes(self._buf[self._start : self._start + 61])
        raise LocalProtocolError(
            what,
            offset=offset,
            line=line,
            snippet=None if piece is None else snippet(piece, 0, 60),
            hint="raise Config.max_event_size if the server really sends events this large",
        )

    def _lines_lf(self, lines: bytes, out: list[MessageFields]) -> None:
        """``lines``: complete lines, each ending in LF, starting at ``self._start``.

        The fast path: an event that is one ``data:`` line and its blank line (what every
        OpenAI-compatible server writes) is dispatched straight from the bytes as a plain tuple
        of its fields: a run of them at the start of ``lines`` by one split of the whole read,
        any other by one ``find``. Any other block (comments, other fields,
        several data lines, an oversized line, an event begun in an earlier read) goes to
        ``_lines_lf_general`` up to the blank line that ends it, and the fast path resumes
        after it. Both give the same messages."""
        base = self._base + self._start
        size = len(lines)
        limit = self._max_event_size
        append = out.append
        at = 0
        in_block = bool(self._data) or self._event_offset >= 0
        if not in_block and lines.startswith(b"data: "):
            # The events of a whole read at once: split on the blank line and the next event's
            # "data: ", a piece is an event's value when it holds no LF (then it was one data
            # line followed by a blank line); so is the last one, its blank line cut off, when
            # the lines end with one. Everything from the first piece that is not such a value
            # is left to the loop below.
            pieces = lines.split(b"\n\ndata: ")
            last = pieces[-1]
            if last[-2:] == b"\n\n":
                pieces[-1] = last[:-2]
            else:
                del pieces[-1]
            if pieces:
                pieces[0] = pieces[0][6:]
                line_no = self._line_no
                last_id = self._last_id
                retry = self._retry
                pos = base
                value_limit = limit - 6  # the line's "data: "
                for piece in pieces:
                    if 10 in piece or len(piece) > value_limit:  # 10: LF
                        break
                    append(("message", piece.decode("utf-8", "replace"), last_id, retry, pos, line_no, None))
                    pos += len(piece) + 8  # "data: ", the value, its LF and the blank line
                    line_no += 2
                self._line_no = line_no
                at = pos - base
        while at < size:
            if in_block:
                # Lines up to and including the next blank line, by the general loop.
                if lines[at] == 10:
                    stop = at
                else:
                    stop = lines.find(b"\n\n", at)
                    if stop < 0:
                        self._lines_lf_general(lines[at:-1], out, base + at)
                        return
                    stop += 1
                self._lines_lf_general(lines[at:stop], out, base + at)
                at = stop + 1
                in_block = False
                continue
            line_no = self._line_no
            last_id = self._last_id
            retry = self._retry
            while True:
                end = lines.find(b"\n", at)  # always found: every line ends in LF
                if end + 1 >= size or lines[end + 1] != 10 or end - at > limit or not lines.startswith(b"data:", at):
                    break
                value = at + 6 if end - at > 5 and lines[at + 5] == 32 else at + 5  # 32: the space after "data:"
                text = lines[value:end].decode("utf-8", "replace")
                append(("message", text, last_id, retry, base + at, line_no, None))  # a plain tuple
                line_no += 2
                at = end + 2
                if at >= size:
                    break
            self._line_no = line_no
            in_block = True

    def _lines_lf_general(self, chunk: bytes, out: list[MessageFields], pos: int) -> None:
        # Any LF-ended lines. ``chunk`` is complete lines (LF endings, the last LF cut off),
        # the first at body offset ``pos``. State lives in locals, written back at the end and
        # around the rare calls that need it (``_field``, which may change the event's name,
        # id and retry, and appends to the same ``_data`` list).
        line_no = self._line_no
        data = self._data
        event_offset = self._event_offset
        event_line = self._event_line
        event_size = self._event_size
        event = self._event
        last_id = self._last_id
        retry = self._retry
        limit = self._max_event_size
        append = out.append
        new = tuple.__new__
        for line in chunk.split(b"\n"):
            n = len(line)
            if n:
                if n > limit:
                    self._too_large(f"a line longer than max_event_size ({limit} bytes)", pos, line_no, line[:61])
                if line.startswith(b"data:"):
                    if event_offset < 0:
                        event_offset = pos
                        event_line = line_no
                    value = line[6:] if n > 5 and line[5] == 32 else line[5:]  # 32: the space after "data:"
                    data.append(value)
                    event_size += len(value) + 1
                    if event_size > limit:
                        self._event_offset, self._event_line, self._event_size = event_offset, event_line, event_size
                        self._event_too_large(line[:61])
                elif line[0] != 58:  # not a ":" comment
                    self._event_offset, self._event_line, self._event_size = event_offset, event_line, event_size
                    self._event = event
                    self._field(line, pos, line_no, out)
                    event_offset, event_line, event_size = self._event_offset, self._event_line, self._event_size
                    event, last_id, retry = self._event, self._last_id, self._retry
            elif data:
                raw = data[0] if len(data) == 1 else b"\n".join(data)
                text = raw.decode("utf-8", "replace")
                append(new(SSEMessage, (event or "message", text, last_id, retry, event_offset, event_line, None)))
                data.clear()
                event = ""
                event_size = 0
                event_offset = -1
            else:
                event = ""
                event_offset = -1
            pos += n + 1
            line_no += 1
        self._line_no = line_no
        self._event_offset = event_offset
        self._event_line = event_line
        self._event_size = event_size
        self._event = event

    def _lines_cr(self, chunk: bytes, out: list[MessageFields]) -> None:
        pos = self._base + self._start
        line_no = self._line_no
        for match in _LINE_RE().finditer(chunk):
            line = match.group(1)
            if line:
                if len(line) > self._max_event_size:
                    self._too_large(
                        f"a line longer than max_event_size ({self._max_event_size} bytes)", pos, line_no, line[:61]
                    )
                if line[0] != 58:
                    self._field(line, pos, line_no, out)
            elif self._data:
                out.append(self._dispatch())
            else:
                self._event = ""
                self._event_offset = -1
            pos += match.end() - match.start()
            line_no += 1
        self._line_no = line_no

    def _field(self, line: bytes, pos: int, line_no: int, out: list[MessageFields]) -> None:
        colon = line.find(b":")
        if colon < 0:
            name, value = line, b""
        else:
            name = line[:colon]
            value = line[colon + 2 :] if line[colon + 1 : colon + 2] == b" " else line[colon + 1 :]
        if self._event_offset < 0:
            self._event_offset = pos
            self._event_line = line_no
        if name == b"data":
            self._data.append(value)
            self._event_size += len(value) + 1
            if self._event_size > self._max_event_size:
                self._event_too_large(line[:61])
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id":
            if b"\0" not in value:
                self._last_id = value.decode("utf-8", "replace")
        elif name == b"retry":
            if value and value.isdigit():
                self._retry = int(value)
        elif name == b"error":
            out.append(
                SSEMessage(
                    "error",
                    value.decode("utf-8", "replace"),
                    self._last_id,
                    self._retry,
                    pos,
                    line_no,
                    "error_field",
                )
            )
        elif line[:1] in (b"{", b"["):
            out.append(
                SSEMessage(
                    "message",
                    line.decode("utf-8", "replace"),
                    self._last_id,
                    self._retry,
                    pos,
                    line_no,
                    "raw_line",
                )
            )
        # Any other field is ignored, as the spec says.

    def _dispatch(self) -> SSEMessage:
        data = self._data
        raw = data[0] if len(data) == 1 else b"\n".join(data)
        message = _new_message(
            (
                self._event or "message",
                raw.decode("utf-8", "replace"),
                self._last_id,
                self._retry,
                self._event_offset,
                self._event_line,
                None,
            )
        )
        self._data = []
        self._event = ""
        self._event_size = 0
        self._event_offset = -1
        return message


def encode_sse(data: str, *, event: str | None = None, id: str | None = None, retry: int | None = None) -> bytes:
    """One event in canonical framing (``data`` split on line breaks into ``data:`` lines)."""
    if event is not None and ("\n" in event or "\r" in event):
        raise ValueError("an event type cannot contain a line break")
    if id is not None and ("\n" in id or "\r" in id or "\0" in id):
        raise ValueError("an event id cannot contain a line break or NUL")
    lines = []
    if event is not None:
        lines.append(f"event: {event}")
    if id is not None:
        lines.append(f"id: {id}")
    if retry is not None:
        lines.append(f"retry: {int(retry)}")
    lines.extend(f"data: {piece}" for piece in re.split(r"\r\n|\r|\n", data))
    return ("\n".join(lines) + "\n\n").encode("utf-8")
