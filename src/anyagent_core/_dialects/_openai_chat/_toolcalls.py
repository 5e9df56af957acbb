"""Chat-completions tool calls: ``tool_calls`` entries folded into whole calls, by the fold
rules of the conformance corpus (§5).

* An entry with an integer ``index`` merges into the call at that index, even when two entries
  of one delta share an index (vLLM with Kimi K2 speculative decoding).
* An entry with a missing or ``null`` index (Gemini, old Ollama, some proxies) opens a new call
  if it brings a new id or a name; otherwise it continues the most recent call. Entries further
  along one delta's list are always separate calls (Gemini's parallel calls); only in a later
  delta does a name equal to the current call's, whose arguments are still incomplete, count
  as a restatement (servers that repeat the name on every fragment).
* ``id``: the first non-empty value wins; repeats are no-ops; ``""`` means "no id".
* ``name``: a fragment equal to the name so far is a restatement (Fireworks, NIM); a different
  one is appended (names split across chunks); ``""`` is ignored (LM Studio).
* ``arguments`` fragments are concatenated verbatim. An object (some servers send one) is
  serialised. A whole call in one delta is normal.
* ``type`` may be missing (defaults to ``function``) or repeated.

When the response ends, each call is checked: its arguments must parse to a JSON object (an
empty string counts as ``{}``, for parameterless tools). A call that fails, has no name, or was
cut off by a truncated stream is reported with an ``error`` and must not be run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, final

from anyagent_core._errors import LocalProtocolError
from anyagent_core._events import Event, ToolCall, ToolCallDelta
from anyagent_core._json import JSONObject, freeze_json, freeze_object, loads_finite
from anyagent_core._util import join_text, parsed_builder

__all__ = ["ToolCallAssembler"]

_new_delta = parsed_builder(ToolCallDelta, "index", "id", "name", "arguments", "choice")
_new_tool_call = parsed_builder(
    ToolCall,
    "index",
    "id",
    "name",
    "arguments",
    "input",
    "error",
    "type",
    "id_synthesized",
    "extra_content",
    "choice",
)


@final
class _Call:
    __slots__ = ("arguments", "extra_content", "id", "index", "name", "type")

    def __init__(self, index: int) -> None:
        self.index = index
        self.id: str | None = None
        self.type = "function"
        self.name = ""
        self.arguments: list[str] = []
        self.extra_content: dict[str, Any] | None = None


@final
class ToolCallAssembler:
    """Folds the ``tool_calls`` entries of one choice's deltas into whole calls."""

    __slots__ = ("_calls", "_choice", "_last")

    def __init__(self, choice: int) -> None:
        self._choice = choice
        self._calls: dict[int, _Call] = {}
        self._last: _Call | None = None

    def __bool__(self) -> bool:
        return bool(self._calls)

    @property
    def next_index(self) -> int:
        """The index a call opened now would get."""
        return max(self._calls) + 1 if self._calls else 0

    def add_fragment(self, entry: object, out: list[Event]) -> bool:
        """The hot path: fold ``{"index": i, "function": {"arguments": "..."}}`` for a call
        already open, as ``add`` would, and emit its ``ToolCallDelta``. With only those keys
        there is no id, name, type or extra to fold. False, having done nothing, for any other
        entry: ``add`` takes it."""
        if type(entry) is dict and len(entry) == 2:
            function = entry.get("function")
            if type(function) is dict and len(function) == 1:
                index = entry.get("index")
                fragment = function.get("arguments")
                if type(index) is int and type(fragment) is str:
                    call = self._calls.get(index)
                    if call is not None:
                        if fragment:
                            call.arguments.append(fragment)
                        self._last = call
                        out.append(_new_delta(index, call.id, call.name, fragment, self._choice))
                        return True
        return False

    def add_header(self, entry: object, out: list[Event]) -> bool:
        """The other hot path: the entry that opens a call, ``{"index": i, "id": "...", "type":
        "...", "function": {"name": "...", "arguments": "..."}}`` with every value of those
        types and no call at ``i`` yet, folded as ``add`` would, and its ``ToolCallDelta``
        emitted. False, having done nothing, for any other entry: ``add`` takes it."""
        if type(entry) is dict and len(entry) == 4:
            function = entry.get("function")
            index = entry.get("index")
            call_id = entry.get("id")
            kind = entry.get("type")
            if (
                type(function) is dict
                and len(function) == 2
                and type(index) is int
                and type(call_id) is str
                and type(kind) is str
                and index not in self._calls
            ):
                name = function.get("name")
                arguments = function.get("arguments")
                if type(name) is str and type(arguments) is str:
                    call = self._calls[index] = _Call(index)
                    self._last = call
                    if call_id:
                        call.id = call_id
                    call.name = name
                    if kind:
                        call.type = kind
                    if arguments:
                        call.arguments.append(arguments)
                    out.append(_new_delta(index, call.id, name, arguments, self._choice))
                    return True
        return False

    def add(self, entry: object, emit: Callable[[object], None], position: int = 0) -> None:
        """Fold one ``tool_calls`` entry (at ``position`` in its delta's list) and emit a
        ``ToolCallDelta`` for it."""
        if type(entry) is not dict:
            raise LocalProtocolError(f"a tool_calls entry must be a JSON object, not {_kind(entry)}")
        function = entry.get("function")
        index = entry.get("index")
        if function is None:
            function = {}
        elif type(function) is not dict:
            raise LocalProtocolError(f"tool_calls[].function must be a JSON object, not {_kind(function)}")
        call_id = entry.get("id")
        if call_id is not None and type(call_id) is not str:
            # LM Studio and others have sent numeric ids; anything else keeps its JSON text.
            call_id = str(call_id) if type(call_id) is int else json.dumps(call_id)
        name = function.get("name") or ""
        if type(name) is not str:
            raise LocalProtocolError(f"tool_calls[].function.name must be a string, not {_kind(name)}")

        if type(index) is int:
            call = self._calls.get(index)
            if call is None:
                call = self._calls[index] = _Call(index)
        elif index is None:
            call = self._unindexed(call_id or None, name, position)
        else:
            raise LocalProtocolError(f"tool_calls[].index must be an integer or null, not {_kind(index)}")
        self._last = call

        if call_id and call.id is None:
            call.id = call_id
        if name and name != call.name:
            call.name += name
        kind = entry.get("type")
        if kind and type(kind) is str:
            call.type = kind
        arguments = function.get("arguments")
        if arguments is None:
            arguments = ""
        elif type(arguments) is not str:
            if type(arguments) is not dict:
                raise LocalProtocolError(
                    f"tool_calls[].function.arguments must be a string or an object, not {_kind(arguments)}"
                )
            arguments = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
        if arguments:
            call.arguments.append(arguments)
        extra = entry.get("extra_content")
        if type(extra) is dict:
            call.extra_content = extra
        emit(_new_delta(call.index, call.id, call.name, arguments, self._choice))

    def _unindexed(self, call_id: str | None, name: str, position: int) -> _Call:
        last = self._last
        if last is None:
            opens = True
        elif call_id is not None:
            if call_id == last.id:
                return last
            for call in self._calls.values():
                if call.id == call_id:
                    return call
            # A new id opens a new call, unless the last call was opened by a bare name.
            opens = last.id is not None or bool(last.arguments) or bool(name and last.name)
        elif name:
            if position == 0 and name == last.name and not _is_complete_json(last.arguments):
                # The name restated on every fragment of a call still being streamed. Entries
                # further along one delta's list are separate calls (Gemini's parallel calls).
                opens = False
            else:
                opens = bool(last.name) or bool(last.arguments)
        else:
            opens = False
        if not opens:
            assert last is not None
            return last
        index = self.next_index
        call = self._calls[index] = _Call(index)
        return call

    def finish(self, *, response_id: str | None, truncated: bool, partial: bool = False) -> list[ToolCall]:
        """The assembled calls in index order, each checked. ``truncated``: the response was
        cut off, so no call is trusted. ``partial``: the response broke off and only a call
        whose arguments do not parse is taken as cut off (a JSON object ends only at its
        closing brace, so one that parses is whole)."""
        result = []
        calls = self._calls
        for index in sorted(calls) if len(calls) > 1 else calls:  # one call: no sort
            call = calls[index]
            arguments = join_text(call.arguments)
            parsed: JSONObject | None = None
            error: str | None = None
            if truncated:
                error = "the response was cut off before this tool call was complete"
            elif not call.name:
                error = "the tool call has no function name"
            else:
                try:
                    value = loads_finite(arguments) if arguments and not arguments.isspace() else {}
                    if type(value) is dict:
                        parsed = freeze_json(value)  # freeze_object's reading of a plain dict
                    else:
                        error = f"the arguments must be a JSON object, not {_kind(value)}"
                except ValueError as exc:
                    error = f"the arguments are not valid JSON: {exc}"
                    if partial:
                        error = f"the response was cut off before this tool call was complete ({exc})"
            synthesized = call.id is None
            if call.id is not None:
                call_id = call.id
            elif response_id:
                call_id = f"call_{response_id}_{self._choice}_{index}"
            else:
                call_id = f"call_{self._choice}_{index}"
            result.append(
                _new_tool_call(
                    index,
                    call_id,
                    call.name,
                    arguments,
                    parsed,
                    error,
                    call.type,
                    synthesized,
                    None if call.extra_content is None else freeze_object(call.extra_content),
                    self._choice,
                )
            )
        return result


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def _is_complete_json(fragments: list[str]) -> bool:
    # Arguments are an object: only text ending in "}" can be complete, which keeps this from
    # re-parsing a long call on every fragment.
    for fragment in reversed(fragments):
        tail = fragment.rstrip()
        if tail:
            if not tail.endswith("}"):
                return False
            break
    else:
        return False
    try:
        json.loads("".join(fragments))
    except (ValueError, RecursionError):
        return False
    return True
