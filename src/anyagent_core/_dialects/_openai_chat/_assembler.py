"""The chat-completions chunk layer: chunks (or a whole completion) -> events and the final
messages.

``ResponseAssembler`` is the OpenAI dialect's ``Assembler`` (``_framing``), one per response:

* a ``data:`` chunk folds into its choices (``choices[].delta``: reasoning, text, refusal,
  tool calls by ``_toolcalls``' rules, ``finish_reason``), ``usage`` (or Groq's
  ``x_groq.usage``), and the ``model`` and ``id`` of the first chunk that has them;
* ``data: [DONE]`` completes the response; EOF before it is a truncation when a choice is
  unfinished and no error came;
* errors in a 200 stream (an ``error`` object, ``object: "error"``, ``event: error``, the legacy
  ``error:`` field, a raw JSON error line) and HTTP error bodies become ``ServerError``s, read by
  ``_envelopes``;
* a whole JSON body is a non-streaming completion (``choices[].message``).

At the end each choice becomes an ``AssistantMessage`` and the response a ``MessageComplete``.
"""

from __future__ import annotations

import json
from typing import Any, Final, final

from anyagent_core._errors import LocalProtocolError
from anyagent_core._events import (
    ErrorSource,
    Event,
    Finished,
    MessageComplete,
    RefusalDelta,
    ServerError,
    StreamDone,
    ToolCall,
    ToolCallDelta,
    Truncated,
    new_reasoning_delta,
    new_text_delta,
)
from anyagent_core._messages import (
    AssistantBlock,
    AssistantMessage,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    ToolUseError,
    Usage,
)
from anyagent_core._sse import SSEMessage
from anyagent_core._util import join_text, parsed_builder, snippet

from ._envelopes import error_from_json, server_error_from_body
from ._toolcalls import ToolCallAssembler, _kind

__all__ = ["ResponseAssembler"]


# Constructors for what the parser builds (validation skipped: the parser guarantees it).
_new_text_block = parsed_builder(TextBlock, "text")
_new_thinking_block = parsed_builder(ThinkingBlock, "thinking", "signature")
_new_assistant_message = parsed_builder(AssistantMessage, "content", "model", "id", "stop_reason", "usage", "refusal")
_new_complete = parsed_builder(MessageComplete, "message", "choices", "done_received", "truncated", "error")
_new_finished = parsed_builder(Finished, "reason", "choice")
# From a ToolCall without an error: its id and name are non-empty strings, its input and
# extra_content already frozen objects (what ToolUseBlock's validators and converters make sure of).
_new_tool_use = parsed_builder(ToolUseBlock, "id", "name", "input", "extra_content")
_STREAM_DONE: Final = StreamDone()
# ToolCallDelta's slots, for the fragment path to build its events without a builder's call.
_new_object: Final = object.__new__
_set_delta_index, _set_delta_id, _set_delta_name, _set_delta_arguments, _set_delta_choice = (
    ToolCallDelta.__dict__[name].__set__ for name in ("index", "id", "name", "arguments", "choice")
)

_TEXT: Final = 0
_THINKING: Final = 1


@final
class _Choice:
    __slots__ = ("finish_reason", "index", "refusal", "segments", "tools")

    def __init__(self, index: int) -> None:
        self.index = index
        self.segments: list[tuple[int, list[str]]] = []
        self.refusal: list[str] = []
        self.tools: ToolCallAssembler | None = None  # made by the first tool call
        self.finish_reason: str | None = None

    def add(self, kind: int, text: str) -> None:
        """Append text or reasoning, extending the last segment when it is of the same kind."""
        segments = self.segments
        if segments and segments[-1][0] == kind:
            segments[-1][1].append(text)
        else:
            segments.append((kind, [text]))


@final
class ResponseAssembler:
    """The chunk layer: folds chat-completion chunks (or a whole completion) into events and,
    at the end, the final messages. One per response."""

    __slots__ = (
        "_choices",
        "_fold",
        "done_received",
        "error",
        "model",
        "response_id",
        "status",
        "usage",
    )

    def __init__(self, *, status: int, single_choice: bool) -> None:
        self.status = status
        self._fold = single_choice  # n=1 was asked for: every choice index is choice 0
        self._choices: dict[int, _Choice] = {}
        self.usage: Usage | None = None
        self.model: str | None = None
        self.response_id: str | None = None
        self.error: ServerError | None = None
        self.done_received = False

    # ---- chunks ---------------------------------------------------------------------------

    def chunk(self, obj: Any, out: list[Event], source: ErrorSource, raw: str, delta_key: str = "delta") -> bool:
        """Fold one parsed chunk (or, from ``json_body``, a whole non-streaming completion, when
        ``delta_key`` is ``message``). Never completes the response: ``[DONE]`` does."""
        if type(obj) is not dict:
            if type(obj) is list and obj and type(obj[0]) is dict and obj[0].get("error"):
                self.report_error(error_from_json(obj[0]["error"], status=self.status, source=source, body=raw), out)
                return False
            raise LocalProtocolError(f"expected a JSON object (a chat completion chunk), got {_kind(obj)}")
        if self.model is None:
            model = obj.get("model")
            if type(model) is str:
                self.model = model
            response_id = obj.get("id")
            if type(response_id) is str and response_id:
                self.response_id = response_id
        err = obj.get("error")
        if err:
            self.report_error(error_from_json(err, status=self.status, source=source, body=raw), out)
        elif obj.get("object") == "error":
            self.report_error(error_from_json(obj, status=self.status, source=source, body=raw), out)
        choices = obj.get("choices")
        if choices:
            if type(choices) is not list:
                raise LocalProtocolError(f"'choices' must be an array, not {_kind(choices)}")
            for choice in choices:  # each folded into its choice's state (a call saved per chunk)
                if type(choice) is not dict:
                    raise LocalProtocolError(f"a 'choices' entry must be an object, not {_kind(choice)}")
                index = choice.get("index", 0)
                if type(index) is not int:
                    if index is not None:
                        raise LocalProtocolError(f"choices[].index must be an integer, not {_kind(index)}")
                    index = 0
                if self._fold:
                    index = 0
                state = self._choices.get(index)
                if state is None:
                    state = self._choices[index] = _Choice(index)
                delta = choice.get(delta_key)
                if delta_key != "delta":
                    if delta is None:
                        delta = choice.get("delta")
                    elif type(delta) is dict and type(delta.get("tool_calls")) is list:
                        # A whole message's tool_calls are an array of whole calls: position is index
                        # (after the calls of choices folded into this one before it).
                        base = 0 if state.tools is None else state.tools.next_index
                        delta = dict(delta)
                        delta["tool_calls"] = [
                            {**entry, "index": base + position} if type(entry) is dict else entry
                            for position, entry in enumerate(delta["tool_calls"])
                        ]
                if delta:
                    if type(delta) is not dict:
                        raise LocalProtocolError(f"choices[].{delta_key} must be an object, not {_kind(delta)}")
                    content = delta.get("content")
                    if content and len(delta) == 1 and type(content) is str:
                        # The hot path: a delta with nothing but text (_Choice.add, inlined).
                        segments = state.segments
                        if segments and segments[-1][0] == _TEXT:
                            segments[-1][1].append(content)
                        else:
                            segments.append((_TEXT, [content]))
                        out.append(new_text_delta(content, index))
                    elif (
                        len(delta) == 1 and type(tool_calls := delta.get("tool_calls")) is list and len(tool_calls) == 1
                    ):
                        # The other hot path: a delta with one tool_calls entry and nothing else,
                        # what _delta does for it, with the two usual entries (an argument
                        # fragment of an open call, the header that opens one) folded directly:
                        # the fragment by ToolCallAssembler.add_fragment's code, inlined.
                        tools = state.tools
                        if tools is None:
                            tools = state.tools = ToolCallAssembler(state.index)
                        entry = tool_calls[0]
                        if (
                            type(entry) is dict
                            and len(entry) == 2
                            and type(function := entry.get("function")) is dict
                            and len(function) == 1
                            and type(call_index := entry.get("index")) is int
                            and type(fragment := function.get("arguments")) is str
                            and (call := tools._calls.get(call_index)) is not None
                        ):
                            if fragment:
                                call.arguments.append(fragment)
                            tools._last = call
                            event = _new_object(ToolCallDelta)  # _new_delta(...), inlined
                            _set_delta_index(event, call_index)
                            _set_delta_id(event, call.id)
                            _set_delta_name(event, call.name)
                            _set_delta_arguments(event, fragment)
                            _set_delta_choice(event, index)
                            out.append(event)
                        elif not tools.add_header(entry, out):
                            tools.add(entry, out.append)  # type: ignore[arg-type]
                    else:
                        self._delta(state, delta, content, out)
                reason = choice.get("finish_reason")
                if reason:
                    state.finish_reason = reason if type(reason) is str else json.dumps(reason)
        usage = obj.get("usage")
        if usage is None and "x_groq" in obj:
            vendor = obj["x_groq"]
            usage = vendor.get("usage") if type(vendor) is dict else None
        if usage:
            if type(usage) is not dict:
                raise LocalProtocolError(f"'usage' must be an object, not {_kind(usage)}")
            self.usage = Usage.from_json(usage)
            out.append(self.usage)
        return False

    def _delta(self, state: _Choice, delta: dict[str, Any], content: Any, out: list[Event]) -> None:
        """A delta with more than text, in the order a turn reads: reasoning, text, refusal,
        tool calls."""
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning:
            if type(reasoning) is not str:
                raise LocalProtocolError(f"delta reasoning must be a string, not {_kind(reasoning)}")
            state.add(_THINKING, reasoning)
            out.append(new_reasoning_delta(reasoning, state.index))
        if content:
            if type(content) is not str:
                content = _content_text(content)
            state.add(_TEXT, content)
            out.append(new_text_delta(content, state.index))
        refusal = delta.get("refusal")
        if refusal:
            if type(refusal) is not str:
                raise LocalProtocolError(f"delta.refusal must be a string, not {_kind(refusal)}")
            state.refusal.append(refusal)
            out.append(RefusalDelta(text=refusal, choice=state.index))
        tool_calls = delta.get("tool_calls")
        if tool_calls:
            if type(tool_calls) is not list:
                raise LocalProtocolError(f"delta.tool_calls must be an array, not {_kind(tool_calls)}")
            tools = state.tools
            if tools is None:
                tools = state.tools = ToolCallAssembler(state.index)
            add_fragment = tools.add_fragment
            add = tools.add
            for position, entry in enumerate(tool_calls):
                if not add_fragment(entry, out):
                    add(entry, out.append, position)  # type: ignore[arg-type]
        function_call = None if tool_calls else delta.get("function_call")
        if function_call:
            # The deprecated functions API (one call, no id): folded in as tool call 0. A delta
            # with both (llama-cpp-python repeats each fragment in ``function_call``) is read
            # from ``tool_calls`` alone.
            tools = state.tools
            if tools is None:
                tools = state.tools = ToolCallAssembler(state.index)
            tools.add({"index": 0, "function": function_call}, out.append)  # type: ignore[arg-type]

    def other_event(self, message: SSEMessage, out: list[Event]) -> bool | None:
        """A message off the hot path: True for ``[DONE]`` (the response is complete), False
        when it was handled here (errors, keep-alives), None when it is a chunk to parse."""
        data = message.data
        if message.extension is not None or message.event == "error":
            self._error_event(message, out)
            return False
        stripped = data.strip()
        if not stripped:
            return False  # empty data: a keep-alive
        if stripped.startswith("[DONE]"):
            self.done_received = True
            out.append(_STREAM_DONE)
            self.finish(out, truncation=None)
            return True
        return None

    def _error_event(self, message: SSEMessage, out: list[Event]) -> None:
        data = message.data
        try:
            value: Any = json.loads(data) if data.strip() else None
        except (ValueError, RecursionError):
            value = None
        if message.extension == "raw_line":
            # A JSON line without a field name: an error object (Ollama writes one raw), or a
            # server that is not speaking SSE at all.
            if type(value) is dict and (value.get("error") or value.get("object") == "error"):
                err = value["error"] if value.get("error") else value
                self.report_error(error_from_json(err, status=self.status, source="data_event", body=data), out)
                return
            raise LocalProtocolError(
                "a JSON line without a 'data:' field in an event stream",
                offset=message.offset,
                line=message.line,
                snippet=snippet(data),
                hint="the server may be sending NDJSON; point base_url at its OpenAI-compatible /v1 API",
            )
        source: ErrorSource = "sse_error_field" if message.extension == "error_field" else "data_event"
        if type(value) is dict:
            err = value.get("error") if value.get("error") else value
            self.report_error(error_from_json(err, status=self.status, source=source, body=data), out)
        else:
            text = data.strip() or "the server sent an error event without details"
            self.report_error(ServerError(message=text, status=self.status, source=source, body=data), out)

    def end_of_stream(self, out: list[Event], *, discarded: int) -> None:
        """EOF before ``[DONE]``: truncated when a choice is unfinished and no error came."""
        truncation = None
        if not self.done_received and self.error is None and self.unfinished():
            truncation = "the stream ended without [DONE] and before every choice finished"
            if discarded:
                truncation += f"; {discarded} bytes of an incomplete event were discarded"
        self.finish(out, truncation=truncation)

    def json_body(self, obj: Any, text: str, out: list[Event]) -> None:
        """A non-streaming completion, or an error object sent with a 2xx status."""
        if type(obj) is dict and "choices" not in obj and not obj.get("error") and obj.get("object") != "error":
            raise LocalProtocolError(
                "the JSON response body is not a chat completion (no 'choices')", offset=0, snippet=snippet(text)
            )
        self.chunk(obj, out, "http", text, delta_key="message")
        self.finish(out, truncation=None)

    def error_body(self, body: bytes, out: list[Event], *, cut: bool) -> None:
        """An HTTP error body: a ``ServerError``, then an empty ``MessageComplete``."""
        self.report_error(server_error_from_body(self.status, body, cut=cut), out)
        self.finish(out, truncation=None)

    def report_error(self, error: ServerError, out: list[Event]) -> None:
        """Record a server-reported error (the first one is kept) and emit it."""
        if self.error is None:
            self.error = error
        out.append(error)

    # ---- the end --------------------------------------------------------------------------

    def finish(self, out: list[Event], *, truncation: str | None) -> None:
        """Emit the closing events: ``Truncated`` when ``truncation`` says why, each choice's
        assembled ``ToolCall``s and ``Finished``, and ``MessageComplete``."""
        truncated = truncation is not None
        if truncation is not None:
            out.append(Truncated(reason=truncation))
        messages = []
        choices = self._choices
        for index in sorted(choices) if len(choices) > 1 else choices:  # one choice: no sort
            state = choices[index]
            tools = state.tools
            calls = [] if tools is None else tools.finish(response_id=self.response_id, truncated=truncated)
            out.extend(calls)
            if state.finish_reason is not None:
                out.append(_new_finished(state.finish_reason, index))
            messages.append(self._message(state, calls))
        if not messages:
            messages.append(_new_assistant_message((), self.model, self.response_id, None, self.usage, None))
        out.append(_new_complete(messages[0], tuple(messages), self.done_received, truncated, self.error))

    def partial(self) -> AssistantMessage:
        """Choice 0 as assembled so far, for a response that broke off: its text and reasoning,
        and its tool calls (one whose arguments were cut off is a ``ToolUseError``). Only for
        a response that will not continue: it closes the tool calls in flight."""
        state = self._choices.get(0)
        if state is None:
            return _new_assistant_message((), self.model, self.response_id, None, self.usage, None)
        tools = state.tools
        calls = [] if tools is None else tools.finish(response_id=self.response_id, truncated=False, partial=True)
        return self._message(state, calls)

    def unfinished(self) -> bool:
        """No choice at all, or a choice without a finish reason."""
        return not self._choices or any(c.finish_reason is None for c in self._choices.values())

    def _message(self, state: _Choice, calls: list[ToolCall]) -> AssistantMessage:
        blocks: list[AssistantBlock] = []
        for kind, parts in state.segments:
            text = join_text(parts)
            blocks.append(_new_text_block(text) if kind == _TEXT else _new_thinking_block(text, ""))
        for call in calls:
            if call.error is None and call.input is not None:
                blocks.append(_new_tool_use(call.id, call.name, call.input, call.extra_content))
            else:
                blocks.append(
                    ToolUseError(
                        id=call.id,
                        name=call.name,
                        arguments=call.arguments,
                        error=call.error or "unusable tool call",
                        extra_content=call.extra_content,
                    )
                )
        return _new_assistant_message(
            tuple(blocks),
            self.model,
            self.response_id,
            state.finish_reason,
            self.usage,
            (join_text(state.refusal) or None) if state.refusal else None,
        )


def _content_text(content: object) -> str:
    """``content`` as a list of parts (some servers send ``[{"type": "text", "text": ...}]``)."""
    if type(content) is list:
        pieces = []
        for part in content:
            if type(part) is dict and type(part.get("text")) is str:
                pieces.append(part["text"])
            elif type(part) is str:
                pieces.append(part)
            else:
                raise LocalProtocolError(f"a content part must be a text part, not {_kind(part)}")
        return "".join(pieces)
    raise LocalProtocolError(f"delta.content must be a string, not {_kind(content)}")
