"""Finding tool calls written in text: ``ToolCallTextFilter`` while an answer streams, and
``parse_tool_calls`` for a whole text (the forms are ``_formats``').

The displayed text (``ParsedCalls.text``, and what ``ToolCallTextFilter`` releases) is the
original text with every call removed, tidied by one rule: a removed call and the whitespace
runs on both sides of it (consecutive calls separated only by whitespace count as one) become a
single separator: ``"\\n\\n"`` if any of those runs held two or more ``"\\n"``, ``"\\n"`` if one, a
space if they held other whitespace, nothing if there was none. Whitespace anywhere else is kept
as written, except at the two ends of the whole text, which are stripped. Whitespace is ASCII
space, tab, CR and LF, and a line ends at LF (``_util.WHITESPACE``): U+2028, U+0085, U+3000 and
the other characters ``str.isspace`` counts are text, so leading whitespace never changes which
calls a text holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final, final

import attrs

from anyagent_core._errors import LocalProtocolError
from anyagent_core._messages import ToolSpec
from anyagent_core._util import BLANK, WHITESPACE
from anyagent_core.value import Value

from ._formats import CLOSE, FENCE_CALL_INFO, OPEN, TextCall, fence_calls, tag_call

__all__ = ["ParsedCalls", "ToolCallTextFilter", "parse_tool_calls"]


def _calls(value: Iterable[TextCall]) -> tuple[TextCall, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ParsedCalls(Value):
    """``parse_tool_calls``' answer: the text with the calls removed (tidied, see the module
    docstring), and the calls in order of appearance."""

    text: str
    calls: tuple[TextCall, ...] = attrs.field(default=(), converter=_calls)


# ---- the scanner -----------------------------------------------------------------------------

_PROSE, _TAG, _FENCE_INFO, _FENCE_HOLD, _FENCE_TEXT, _FINISHED = range(6)

# In prose: a call tag, or backticks at a line start. The text searched starts with a "\n" when
# the previous text ended at a line start, so the fence alternative always has its "\n".
_PROSE_MARK = re.compile(r"<tool_call>|\n[ \t\r]*```")
_TAG_END = re.compile(r"</?tool_call>")
_LINE_TAIL = re.compile(r"[ \t\r]*(`*)")
_PIECE: Final = 4096  # the longest piece a state scans at once


def _closer(count: int) -> re.Pattern[str]:
    return re.compile(rf"\n[ \t\r]*`{{{count},}}")


@final
class ToolCallTextFilter:
    """Streams the text of an answer that may hold text-embedded tool calls.

    ``feed(text)`` takes the next piece and returns what is safe to show now; ``finish()``
    returns the rest. Text that might start a call (``<tool_call>``, or backticks at a line
    start) is held until it is resolved; everything before it is released at once, except a
    trailing whitespace run, which is held until something visible follows (it may be tidied
    into a separator, see the module docstring). A block that is a call is never released; one
    that is not (a code sample) is released as written.

    The concatenation of every ``feed`` result and ``finish()`` is exactly
    ``parse_tool_calls(whole_text).text``, however the text was split, and ``calls`` holds the
    calls found so far (``tools`` as for ``parse_tool_calls``). Work is linear in the length of
    the text: held text is never rescanned.
    """

    __slots__ = (
        "_any_space",
        "_calls",
        "_carry",
        "_fence",
        "_line_start",
        "_newlines",
        "_opener",
        "_out",
        "_parts",
        "_removed",
        "_schemas",
        "_started",
        "_state",
        "_tail",
        "_ws",
    )

    def __init__(self, *, tools: Iterable[ToolSpec] = ()) -> None:
        self._schemas: dict[str, Any] = {tool.name: tool.parameters for tool in tools}
        self._state = _PROSE
        self._out: list[str] = []
        self._calls: list[TextCall] = []
        # Prose: a held partial marker ("<too", "``") and whether it starts at a line start.
        self._tail = ""
        self._line_start = True
        # Blocks: the block's text so far, and a short carry for finding its end across pieces
        # (tag blocks: the text itself; fences: "\n" and the backticks of a possible closing line).
        self._parts: list[str] = []
        self._carry = ""
        self._fence = 3
        self._opener = 0
        # The held whitespace run, and what the runs around removed calls held.
        self._ws: list[str] = []
        self._removed = False
        self._newlines = 0
        self._any_space = False
        self._started = False

    @property
    def calls(self) -> tuple[TextCall, ...]:
        """The calls found so far, in order."""
        return tuple(self._calls)

    def feed(self, text: str) -> str:
        """Take the next piece of the answer; return the text that can be shown now."""
        if self._state == _FINISHED:
            raise LocalProtocolError("ToolCallTextFilter.feed() called after finish()")
        # Each state hands back the rest of its piece as a new string: bounded pieces keep that
        # copying linear (the output does not depend on how the text is split).
        for start in range(0, len(text), _PIECE):
            piece = text[start : start + _PIECE]
            while piece:
                state = self._state
                if state == _PROSE:
                    piece = self._prose(piece)
                elif state == _TAG:
                    piece = self._tag(piece)
                elif state == _FENCE_INFO:
                    piece = self._fence_info(piece)
                else:
                    piece = self._fence_body(piece)
        return self._take()

    def finish(self) -> str:
        """The end of the answer: return what is left to show (held text that was no call)."""
        if self._state == _FINISHED:
            return ""
        if self._state == _FENCE_INFO:
            line = "".join(self._parts)
            self._parts = []
            count = len(line) - len(line.lstrip("`"))
            if "`" in line[count:]:
                self._state = _PROSE
                self._line_start = False
                self._emit(line[:count])
                rest = line[count:]
                while rest:  # the rest of the line is prose, which may open another block
                    rest = self._prose(rest) if self._state == _PROSE else self._tag(rest)
            else:
                self._emit(line)
        state = self._state
        if state == _PROSE:
            self._emit(self._tail)
            self._tail = ""
        elif state == _TAG:
            self._parts.append(self._carry)
            self._end_call(tag_call("".join(self._parts), closed=False, schemas=self._schemas))
        elif state == _FENCE_HOLD:
            block = "".join(self._parts)
            match = _LINE_TAIL.fullmatch(self._carry[1:]) if self._carry else None
            closed = match is not None and len(match.group(1)) >= self._fence
            end = block.rfind("\n") if closed else len(block)
            self._end_fence(block, block[self._opener + 1 : end])
        self._state = _FINISHED
        self._parts = []
        self._ws = []  # the trailing whitespace of the whole text is dropped
        return self._take()

    # -- output and whitespace --

    def _take(self) -> str:
        out = "".join(self._out)
        self._out = []
        return out

    def _emit(self, text: str) -> None:
        """Release visible text, holding its trailing whitespace run."""
        if not text:
            return
        end = len(text.rstrip(WHITESPACE))
        if not end:
            self._ws.append(text)
            return
        start = len(text) - len(text.lstrip(WHITESPACE))
        if start:
            self._ws.append(text[:start])
        if not self._started:  # leading whitespace is dropped
            self._started = True
        elif self._removed:
            self._fold()
            newlines = self._newlines
            self._out.append("\n\n" if newlines >= 2 else "\n" if newlines else " " if self._any_space else "")
        elif self._ws:
            self._out.append("".join(self._ws))
        self._removed = False
        self._newlines = 0
        self._any_space = False
        self._ws = [text[end:]] if end < len(text) else []
        self._out.append(text[start:end])

    def _fold(self) -> None:
        if self._ws:
            run = "".join(self._ws)
            self._ws = []
            self._newlines = max(self._newlines, run.count("\n"))
            self._any_space = self._any_space or bool(run)

    def _end_call(self, *calls: TextCall) -> None:
        self._calls.extend(calls)
        self._fold()
        self._removed = True
        self._parts = []
        self._carry = ""

    # -- states --

    def _prose(self, text: str) -> str:
        if not self._tail and "<" not in text and "`" not in text:  # no marker can start here
            self._emit(text)
            newline = text.rfind("\n")
            if newline >= 0:
                self._line_start = not text[newline + 1 :].strip(BLANK)
            elif self._line_start:
                self._line_start = not text.strip(BLANK)
            return ""
        lead = "\n" if self._line_start else ""
        s = lead + self._tail + text if lead or self._tail else text
        base = len(lead)
        match = _PROSE_MARK.search(s)
        if match is not None:
            self._tail = ""
            if match.group() == OPEN:
                self._emit(s[base : match.start()])
                self._state = _TAG
            else:
                self._emit(s[base : match.end() - 3])
                self._parts = ["```"]
                self._state = _FENCE_INFO
            return s[match.end() :]
        hold = len(s)
        at = s.rfind("<", max(base, hold - 10))
        if at >= 0 and OPEN.startswith(s[at:]):
            hold = at
        elif s.endswith("`"):
            at = hold - 2 if s.endswith("``") else hold - 1
            line = s.rfind("\n", 0, at)
            if line >= 0 and not s[line + 1 : at].strip(BLANK):
                hold = at
        self._emit(s[base:hold])
        self._tail = s[hold:]
        line = s.rfind("\n", 0, hold)
        self._line_start = line >= 0 and not s[line + 1 : hold].strip(BLANK)
        return ""

    def _tag(self, text: str) -> str:
        s = self._carry + text
        match = _TAG_END.search(s)
        if match is not None:
            self._parts.append(s[: match.start()])
            closed = match.group() == CLOSE
            self._end_call(tag_call("".join(self._parts), closed=closed, schemas=self._schemas))
            if closed:
                self._state = _PROSE
                self._line_start = False
            return s[match.end() :]
        at = s.rfind("<", max(0, len(s) - 11))
        if at >= 0 and (CLOSE.startswith(s[at:]) or OPEN.startswith(s[at:])):
            self._parts.append(s[:at])
            self._carry = s[at:]
        else:
            self._parts.append(s)
            self._carry = ""
        return ""

    def _fence_info(self, text: str) -> str:
        newline = text.find("\n")
        if newline < 0:
            self._parts.append(text)
            return ""
        self._parts.append(text[:newline])
        line = "".join(self._parts)
        count = len(line) - len(line.lstrip("`"))
        info = line[count:]
        if "`" in info:  # not a fence (CommonMark): the backticks are text, the rest is prose
            self._parts = []
            self._state = _PROSE
            self._line_start = False
            self._emit(line[:count])
            return info + text[newline:]
        self._fence = count
        self._opener = len(line)
        self._carry = "\n"
        if info.strip().lower() in FENCE_CALL_INFO:
            self._parts = [line, "\n"]
            self._state = _FENCE_HOLD
        else:
            self._parts = []
            self._emit(line + "\n")
            self._state = _FENCE_TEXT
        return text[newline + 1 :]

    def _fence_body(self, text: str) -> str:
        carry = self._carry
        if not carry and "\n" not in text:  # no closing line can start here
            if self._state == _FENCE_HOLD:
                self._parts.append(text)
            else:
                self._emit(text)
            return ""
        s = carry + text
        match = _closer(self._fence).search(s)
        if match is not None and match.end() < len(s):
            end = match.end() - len(carry)
            if self._state == _FENCE_HOLD:
                self._parts.append(text[:end])
                block = "".join(self._parts)
                self._end_fence(block, block[self._opener + 1 : block.rfind("\n")])
            else:
                self._emit(text[:end])
            self._state = _PROSE
            self._line_start = False
            self._carry = ""
            return text[end:]
        if self._state == _FENCE_HOLD:
            self._parts.append(text)
        else:
            self._emit(text)
        line = s.rfind("\n")
        tail = _LINE_TAIL.fullmatch(s, line + 1) if line >= 0 else None
        self._carry = "\n" + tail.group(1) if tail is not None else ""
        return ""

    def _end_fence(self, block: str, content: str) -> None:
        calls = fence_calls(content)
        if calls is None:
            self._parts = []
            self._emit(block)
        else:
            self._end_call(*calls)


def parse_tool_calls(text: str, *, tools: Iterable[ToolSpec] = ()) -> ParsedCalls:
    """Find the tool calls written in ``text`` (the forms are listed in ``_formats``).

    Never raises: a call that cannot be used is returned with an ``error``. ``text`` of the
    answer is what ``ToolCallTextFilter`` would have shown. ``tools``: the specs whose parameter
    schemas type the values of calls in the XML form (strings otherwise)."""
    scanner = ToolCallTextFilter(tools=tools)
    shown = scanner.feed(text) + scanner.finish()
    return ParsedCalls(text=shown, calls=tuple(scanner._calls))
