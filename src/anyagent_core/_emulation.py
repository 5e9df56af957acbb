"""Tool-call emulation: tools described in the system prompt, calls read back from the text.

Many local models (Hermes, Qwen 2.5, small models behind llama.cpp) answer a tool call as plain
text content. ``render_tool_prompt`` describes the tools the way those models were trained on,
``parse_tool_calls`` and ``ToolCallTextFilter`` find the calls in the answer (whole, or while it
streams), ``to_tool_uses`` turns them into tool-use blocks, and ``emulated_history`` writes a
conversation back as text for an endpoint that knows nothing of tools.

Accepted forms, anywhere in the text, in order of appearance:

* ``<tool_call>`` JSON ``</tool_call>``, whitespace around the JSON allowed. The JSON is an
  object with a ``name`` and ``arguments`` (or ``parameters``, Llama 3 style); ``arguments`` may
  be an object or a JSON string holding one (double-encoded); missing arguments mean ``{}``. A
  block not closed before the next ``<tool_call>`` or the end of the text (the server stopped at
  the stop token) is still a call: with an error if its JSON is incomplete or invalid. A block
  that cannot be used (invalid JSON, no name, arguments not an object) is a call with an
  ``error``, never dropped, so the model can be told.
* ``<tool_call>`` holding Qwen3-Coder's XML form instead of JSON::

      <tool_call>
      <function=NAME>
      <parameter=ARG>
      VALUE
      </parameter>
      ...
      </function>
      </tool_call>

  Each value is the raw text up to the first ``</parameter>`` (several lines allowed), less one
  line break right after the opening tag and one right before the closing tag. Values are
  strings, except where the tools are given (``tools=``) and the call's tool names the
  parameter in its schema: when that schema allows no string but allows integer, number,
  boolean, object, array or null (``type``, a list of types, or ``anyOf``/``oneOf`` branches),
  a value that parses as JSON of an allowed type is that JSON value; any other value stays the
  string, for the tool's validation to report. Whitespace between the tags is ignored. Anything
  else (text outside the tags, a parameter without ``</parameter>``, a parameter given twice,
  no ``</function>``, no name) makes the call unusable, with an ``error`` saying what. A block
  left open at the end is still a call when its ``</function>`` came.
* A fenced code block (a line starting with three or more backticks, after optional spaces,
  tabs or CRs, up to the first later line starting likewise with at least as many) whose info string
  is empty, ``json`` or ``tool_call`` (in any case) and whose entire content is exactly
  ``{"name": <non-empty string>, "arguments": <object>}`` (or with ``parameters``), or a
  non-empty JSON list of such objects (several calls). Any other fenced block, a JSON sample
  included, is text, and so is everything inside it: a ``<tool_call>`` shown in a code sample
  is not a call. An unclosed fence at the end of the text counts as a call only if its content
  has that exact shape.
* Nothing else: JSON outside a fence is too ambiguous to be a call.

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

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, final

import attrs

from ._errors import LocalProtocolError
from ._json import JSONObject, freeze_object
from ._messages import (
    AssistantBlock,
    AssistantMessage,
    ImageBlock,
    Message,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    ToolUseError,
    UserBlock,
    UserMessage,
)
from ._util import BLANK, WHITESPACE

__all__ = [
    "ParsedCalls",
    "TextCall",
    "ToolCallTextFilter",
    "emulated_history",
    "parse_tool_calls",
    "render_tool_prompt",
    "to_tool_uses",
]

_OPEN: Final = "<tool_call>"
_CLOSE: Final = "</tool_call>"
_FENCE_CALL_INFO: Final = frozenset({"", "json", "tool_call"})

# ---- the prompt ------------------------------------------------------------------------------

_PROMPT_HEAD: Final = (
    "# Tools\n\n"
    "You may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n"
    "<tools>\n"
)
_PROMPT_TAIL: Final = (
    "</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n"
    '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>\n'
    "Use one block per call; several blocks are allowed. "
    "When no function is needed, answer without these tags."
)


def render_tool_prompt(tools: Sequence[ToolSpec]) -> str:
    """A system-prompt section describing ``tools`` in the Hermes/Qwen style, one JSON line per
    tool, and how to call them; ``""`` when there are no tools. Deterministic: the same tools
    give the same text (keys in the order the specs hold them)."""
    if not tools:
        return ""
    lines = []
    for tool in tools:
        function: dict[str, Any] = {"name": tool.name}
        if tool.description:
            function["description"] = tool.description
        function["parameters"] = tool.parameters
        lines.append(json.dumps({"type": "function", "function": function}, ensure_ascii=False) + "\n")
    return _PROMPT_HEAD + "".join(lines) + _PROMPT_TAIL


# ---- parsed calls ----------------------------------------------------------------------------


def _optional_object(value: JSONObject | None) -> JSONObject | None:
    return None if value is None else freeze_object(value)


@attrs.frozen(kw_only=True)
class TextCall:
    """A tool call found in text. Exactly one of ``input`` and ``error`` is set."""

    name: str
    """The function name; ``""`` when none could be read."""
    arguments: str
    """The arguments as JSON text: as the model wrote them, or compact JSON when it wrote an
    object. For a call whose JSON could not be parsed, the text after the arguments key (or
    the whole block) as a best effort."""
    input: JSONObject | None = attrs.field(default=None, converter=_optional_object)
    """The arguments as a read-only dict, when usable."""
    error: str | None = None
    """Why the call cannot be used."""

    def __attrs_post_init__(self) -> None:
        if (self.input is None) == (self.error is None):
            raise ValueError("a TextCall has either an input or an error")


def _calls(value: Iterable[TextCall]) -> tuple[TextCall, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class ParsedCalls:
    """``parse_tool_calls``' answer: the text with the calls removed (tidied, see the module
    docstring), and the calls in order of appearance."""

    text: str
    calls: tuple[TextCall, ...] = attrs.field(default=(), converter=_calls)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str) -> Any:
    """``json.loads`` without NaN/Infinity; raises ValueError (or RecursionError)."""
    return json.loads(text, parse_constant=_reject_constant)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


_NAME_KEY = re.compile(r'"name"\s*:\s*("(?:[^"\\]|\\.)*")')
_ARGS_KEY = re.compile(r'"(?:arguments|parameters)"\s*:\s*')


def _salvage(content: str) -> tuple[str, str]:
    """Name and arguments text, as far as they can be read from JSON that does not parse."""
    name = ""
    match = _NAME_KEY.search(content)
    if match:
        try:
            decoded = json.loads(match.group(1))
        except ValueError:
            decoded = match.group(1)[1:-1]
        name = decoded if isinstance(decoded, str) else ""
    arguments = content
    match = _ARGS_KEY.search(content)
    if match:
        arguments = content[match.end() :].rstrip()
        # The object's own closing brace, when the braces say the object was closed.
        if content.startswith("{") and content.endswith("}") and content.count("{") == content.count("}"):
            arguments = arguments[:-1].rstrip()
    return name, arguments


def _bad(name: str, arguments: str, error: str) -> TextCall:
    return TextCall(name=name, arguments=arguments, error=error)


def _tag_call(content: str, *, closed: bool, schemas: Mapping[str, Any]) -> TextCall:
    """The call in one ``<tool_call>`` block (``closed``: its closing tag was seen)."""
    content = content.strip()
    if not content:
        return _bad("", "", "the tool call is empty" if closed else "the tool call was cut off before its JSON")
    if content.startswith(_FUNCTION_OPEN):
        return _xml_call(content, closed=closed, schemas=schemas)
    try:
        obj = _loads(content)
    except (ValueError, RecursionError) as exc:
        name, arguments = _salvage(content)
        what = "the tool call is not valid JSON" if closed else "the tool call is not closed and its JSON is incomplete"
        detail = f"{exc.msg} (character {exc.pos})" if isinstance(exc, json.JSONDecodeError) else str(exc)
        return _bad(name, arguments, f"{what}: {detail}")
    try:
        return _call_from_object(obj)
    except RecursionError:
        return _bad("", content, "the tool call is nested too deeply")


def _call_from_object(obj: Any) -> TextCall:
    if not isinstance(obj, dict):
        return _bad("", _compact(obj), 'a tool call must be a JSON object like {"name": ..., "arguments": {...}}')
    name = obj.get("name")
    raw = obj["arguments"] if "arguments" in obj else obj.get("parameters", {})
    if isinstance(raw, str):
        arguments = raw
        if not raw.strip():
            value: Any = {}
        else:
            try:
                value = _loads(raw)
            except (ValueError, RecursionError):
                value = None
    else:
        value = raw
        arguments = _compact(raw)
    if not isinstance(name, str) or not name:
        return _bad("", arguments, "the tool call has no name")
    if not isinstance(value, dict):
        if isinstance(raw, str):
            return _bad(name, arguments, "the arguments string does not hold a JSON object")
        return _bad(name, arguments, f"the arguments must be a JSON object, not {_kind(raw)}")
    return TextCall(name=name, arguments=arguments, input=value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "an array" if isinstance(value, list) else type(value).__name__


# ---- Qwen3-Coder's XML form ------------------------------------------------------------------

_FUNCTION_OPEN: Final = "<function="
_FUNCTION_HEAD = re.compile(r"<function=([^>\n]*)>")
_XML_NEXT = re.compile(r"\s*(?:<parameter=([^>\n]*)>|(</function>))")
_PARAMETER_CLOSE: Final = "</parameter>"
_JSON_TYPES: Final = frozenset({"integer", "number", "boolean", "object", "array", "null"})


def _xml_call(content: str, *, closed: bool, schemas: Mapping[str, Any]) -> TextCall:
    """The call in a ``<tool_call>`` block holding ``<function=NAME>`` and its parameters."""
    head = _FUNCTION_HEAD.match(content)
    if head is None:
        return _bad("", content, "the tool call's <function=...> tag is not closed with '>'")
    name = head.group(1).strip()
    values: dict[str, str] = {}
    pos = head.end()
    while True:
        match = _XML_NEXT.match(content, pos)
        if match is None:
            rest = content[pos:].strip()
            if rest:
                error = f"unexpected text {_clip(rest)} where <parameter=...> or </function> was expected"
            elif closed:
                error = "the tool call has no </function>"
            else:
                error = "the tool call was cut off before </function>"
            return _bad(name, content, error)
        if match.group(2) is not None:
            pos = match.end()
            break
        parameter = match.group(1).strip()
        end = content.find(_PARAMETER_CLOSE, match.end())
        if end < 0:
            what = "is not closed with </parameter>" if closed else "was cut off before </parameter>"
            return _bad(name, content, f"the parameter {parameter!r} {what}")
        if not parameter:
            return _bad(name, content, "a parameter has no name (<parameter=>)")
        if parameter in values:
            return _bad(name, content, f"the parameter {parameter!r} is given twice")
        values[parameter] = _xml_value(content[match.end() : end])
        pos = end + len(_PARAMETER_CLOSE)
    rest = content[pos:].strip()
    if rest:
        return _bad(name, content, f"unexpected text {_clip(rest)} after </function>")
    if not name:
        return _bad("", content, "the tool call has no name (<function=>)")
    schema = schemas.get(name)
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    if not isinstance(properties, Mapping):
        properties = {}
    arguments = {key: _typed(value, properties.get(key)) for key, value in values.items()}
    return TextCall(name=name, arguments=_compact(arguments), input=arguments)


def _clip(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _xml_value(raw: str) -> str:
    """A parameter's text: one line break after the opening tag and one before the closing
    tag are layout, not value."""
    if raw.startswith("\r\n"):
        raw = raw[2:]
    elif raw.startswith("\n"):
        raw = raw[1:]
    if raw.endswith("\r\n"):
        raw = raw[:-2]
    elif raw.endswith("\n"):
        raw = raw[:-1]
    return raw


def _types(schema: Any) -> set[str]:
    """The JSON types a parameter's schema names (``type``, or those of its ``anyOf``/``oneOf``
    branches); empty when it names none."""
    if not isinstance(schema, Mapping):
        return set()
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list | tuple):
        return {item for item in kind if isinstance(item, str)}
    found: set[str] = set()
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list | tuple):
            for branch in branches:
                if isinstance(branch, Mapping) and isinstance(branch.get("type"), str):
                    found.add(branch["type"])
    return found


def _is_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    return kind == "null" and value is None


def _typed(value: str, schema: Any) -> Any:
    """A parameter's value as its schema wants it: the JSON value the text holds when the schema
    allows no string but allows that value's type; otherwise the text itself."""
    kinds = _types(schema)
    if "string" in kinds or not kinds & _JSON_TYPES:
        return value
    try:
        parsed = _loads(value.strip())
    except (ValueError, RecursionError):
        return value
    return parsed if any(_is_type(parsed, kind) for kind in kinds) else value


def _fence_calls(content: str) -> list[TextCall] | None:
    """The calls a fenced block holds, or None when it is not exactly call-shaped."""
    try:
        value = _loads(content)
    except (ValueError, RecursionError):
        return None
    items = value if isinstance(value, list) else [value]
    if not items:
        return None
    calls = []
    for item in items:
        if not isinstance(item, dict) or len(item) != 2 or not isinstance(item.get("name"), str) or not item["name"]:
            return None
        key = "arguments" if "arguments" in item else "parameters"
        arguments = item.get(key)
        if not isinstance(arguments, dict):
            return None
        try:
            calls.append(TextCall(name=item["name"], arguments=_compact(arguments), input=arguments))
        except RecursionError:
            return None
    return calls


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
            self._end_call(_tag_call("".join(self._parts), closed=False, schemas=self._schemas))
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
            if match.group() == _OPEN:
                self._emit(s[base : match.start()])
                self._state = _TAG
            else:
                self._emit(s[base : match.end() - 3])
                self._parts = ["```"]
                self._state = _FENCE_INFO
            return s[match.end() :]
        hold = len(s)
        at = s.rfind("<", max(base, hold - 10))
        if at >= 0 and _OPEN.startswith(s[at:]):
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
            closed = match.group() == _CLOSE
            self._end_call(_tag_call("".join(self._parts), closed=closed, schemas=self._schemas))
            if closed:
                self._state = _PROSE
                self._line_start = False
            return s[match.end() :]
        at = s.rfind("<", max(0, len(s) - 11))
        if at >= 0 and (_CLOSE.startswith(s[at:]) or _OPEN.startswith(s[at:])):
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
        if info.strip().lower() in _FENCE_CALL_INFO:
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
        calls = _fence_calls(content)
        if calls is None:
            self._parts = []
            self._emit(block)
        else:
            self._end_call(*calls)


def parse_tool_calls(text: str, *, tools: Iterable[ToolSpec] = ()) -> ParsedCalls:
    """Find the tool calls written in ``text`` (the forms are listed in the module docstring).

    Never raises: a call that cannot be used is returned with an ``error``. ``text`` of the
    answer is what ``ToolCallTextFilter`` would have shown. ``tools``: the specs whose parameter
    schemas type the values of calls in the XML form (strings otherwise)."""
    scanner = ToolCallTextFilter(tools=tools)
    shown = scanner.feed(text) + scanner.finish()
    return ParsedCalls(text=shown, calls=tuple(scanner._calls))


# ---- messages --------------------------------------------------------------------------------


def to_tool_uses(message: AssistantMessage, *, id_prefix: str, tools: Iterable[ToolSpec] = ()) -> AssistantMessage:
    """``message`` with the tool calls written in its text turned into tool-use blocks.

    Returned unchanged (the same object) when it already has tool-use blocks or its text holds
    no call. Otherwise: thinking blocks first, then one text block with the remaining text (none
    if it is empty), then each call as a ``ToolUseBlock`` or, when unusable, a ``ToolUseError``,
    with ids ``f"{id_prefix}{i}"`` counting from 0. The other fields are kept. ``tools`` as for
    ``parse_tool_calls``.
    """
    if message.tool_uses:
        return message
    parsed = parse_tool_calls(message.text, tools=tools)
    if not parsed.calls:
        return message
    content: list[AssistantBlock] = [block for block in message.content if isinstance(block, ThinkingBlock)]
    if parsed.text:
        content.append(TextBlock(text=parsed.text))
    for index, call in enumerate(parsed.calls):
        call_id = f"{id_prefix}{index}"
        if call.input is not None:
            content.append(ToolUseBlock(id=call_id, name=call.name, input=call.input))
        else:
            content.append(
                ToolUseError(id=call_id, name=call.name, arguments=call.arguments, error=call.error or "unusable")
            )
    return attrs.evolve(message, content=tuple(content))


def _json_in_tag(value: Any) -> str:
    """JSON text that cannot end the ``<tool_call>`` block it is written in: the tags inside
    its strings are escaped (JSON allows ``\\/`` and ``\\u003c``), which reads back the same."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace(_CLOSE, "<\\/tool_call>").replace(_OPEN, "\\u003ctool_call>")


def _call_text(block: ToolUseBlock | ToolUseError) -> str:
    name = _json_in_tag(block.name)
    arguments = _json_in_tag(block.input) if isinstance(block, ToolUseBlock) else block.arguments
    return f'{_OPEN}\n{{"name": {name}, "arguments": {arguments}}}\n{_CLOSE}'


def _result_text(block: ToolResultBlock) -> tuple[str, list[ImageBlock]]:
    if isinstance(block.content, str):
        text, images = block.content, []
    else:
        text = "".join(b.text for b in block.content if isinstance(b, TextBlock))
        images = [b for b in block.content if isinstance(b, ImageBlock)]
    if block.is_error and not text.startswith("Error"):
        text = "Error: " + text
    return f"<tool_response>\n{text}\n</tool_response>", images


def _has_results(message: Message) -> bool:
    return (
        isinstance(message, UserMessage)
        and not isinstance(message.content, str)
        and any(isinstance(b, ToolResultBlock) for b in message.content)
    )


def _results_message(messages: list[UserMessage]) -> UserMessage:
    """Consecutive user messages holding tool results, as one message with the results as text."""
    blocks: list[UserBlock] = []
    responses: list[str] = []  # results next to each other, not yet written

    def flush() -> None:
        if responses:
            blocks.append(TextBlock(text="\n".join(responses)))
            responses.clear()

    for message in messages:
        content = (TextBlock(text=message.content),) if isinstance(message.content, str) else message.content
        for block in content:
            if isinstance(block, ToolResultBlock):
                text, images = _result_text(block)
                responses.append(text)
                if images:
                    flush()
                    blocks.extend(images)
            else:
                flush()
                blocks.append(block)
    flush()
    return UserMessage(content=tuple(blocks))


def emulated_history(messages: Sequence[Message]) -> list[Message]:
    """The conversation rewritten for an endpoint without tool support.

    An assistant message's tool-use blocks become text after its text (one ``\\n`` between):
    ``<tool_call>\\n{"name": ..., "arguments": ...}\\n</tool_call>`` per call, one ``\\n``
    apart (tags inside argument strings escaped so they read back the same), the arguments of a
    ``ToolUseError`` written as the raw text it holds; its thinking blocks stay first.

    A user message's tool results become ``<tool_response>\\n...\\n</tool_response>`` text (an
    ``is_error`` result says ``Error: `` first unless its text starts with ``Error``), a
    result's images following its text; results next to each other share one text block,
    joined by ``\\n``, and consecutive user messages holding results merge into one, with the
    user messages right after them (strict chat templates want user and assistant turns to
    alternate). Other messages without tools are passed through as they are (the same objects).
    """
    out: list[Message] = []
    group: list[UserMessage] = []
    for message in messages:
        if isinstance(message, UserMessage) and (group or _has_results(message)):
            group.append(message)  # a prompt right after results joins them: roles alternate
            continue
        if group:
            out.append(_results_message(group))
            group = []
        if isinstance(message, AssistantMessage) and message.tool_uses:
            text = "\n".join(_call_text(call) for call in message.tool_uses)
            if message.text:
                text = message.text + "\n" + text
            kept: list[AssistantBlock] = [b for b in message.content if isinstance(b, ThinkingBlock)]
            out.append(attrs.evolve(message, content=(*kept, TextBlock(text=text))))
        else:
            out.append(message)
    if group:
        out.append(_results_message(group))
    return out
