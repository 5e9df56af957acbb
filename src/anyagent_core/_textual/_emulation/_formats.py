"""The formats a tool call is written in as text, and their parsers: each block becomes a
``TextCall`` (usable, or with an ``error`` saying why not). Finding the blocks in a text, and
what is left to show, is ``_scanner``'s.

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

Whitespace is ASCII space, tab, CR and LF, and a line ends at LF (``_util.WHITESPACE``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

import attrs

from anyagent_core._json import JSONObject, freeze_object, loads_finite
from anyagent_core.value import Value

__all__ = ["CLOSE", "FENCE_CALL_INFO", "OPEN", "TextCall", "fence_calls", "tag_call"]

OPEN: Final = "<tool_call>"
CLOSE: Final = "</tool_call>"
FENCE_CALL_INFO: Final = frozenset({"", "json", "tool_call"})
"""The info strings of a fence that may hold calls (lower-cased, stripped)."""


def _optional_object(value: JSONObject | None) -> JSONObject | None:
    return None if value is None else freeze_object(value)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class TextCall(Value):
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


def _loads(text: str) -> Any:
    """``json.loads`` without NaN/Infinity, numbers that overflow or deep nesting; raises ValueError."""
    return loads_finite(text)


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


def tag_call(content: str, *, closed: bool, schemas: Mapping[str, Any]) -> TextCall:
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


def fence_calls(content: str) -> list[TextCall] | None:
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
