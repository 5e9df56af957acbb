"""Body readers, chosen by status and content type, and the chat-chunk layer they share.

``choose_reader(status, content_type, ...)`` plays the part of h11's ``_body_framing``:

* a 2xx ``text/event-stream`` body  -> ``SSEChatReader`` (``data:`` chunks, ``[DONE]``);
* a 2xx JSON body                   -> ``JSONBodyReader`` (non-streaming answers, and servers
  that ignore ``stream: true``);
* a 2xx body of another or no type  -> ``SniffingReader`` (decides by the first byte);
* any other status                  -> ``ErrorBodyReader`` (every error shape servers send).

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
from ._events import (
    ErrorSource,
    Event,
    Finished,
    MessageComplete,
    RefusalDelta,
    ServerError,
    StreamDone,
    ToolCall,
    Truncated,
    new_reasoning_delta,
    new_text_delta,
)
from ._messages import (
    AssistantBlock,
    AssistantMessage,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    ToolUseError,
    Usage,
)
from ._sse import SSEDecoder, SSEMessage
from ._toolcalls import ToolCallAssembler, _kind
from ._util import join_text, parsed_builder, snippet

__all__ = [
    "BodyReader",
    "ErrorBodyReader",
    "JSONBodyReader",
    "ResponseAssembler",
    "SSEChatReader",
    "SniffingReader",
    "choose_reader",
    "server_error_from_body",
]

# The C scanner, without json.loads's wrapper layers (its stubs do not declare it).
_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _loads(text: str) -> Any:
    """``json.loads`` for a data event that starts with ``{``: the C scanner directly, falling
    back to ``json.loads`` (for its exact error message) when the fast path refuses."""
    try:
        value, end = _scan_once(text, 0)
    except (ValueError, StopIteration):
        return json.loads(text)
    if end != len(text) and text[end:].strip(" \t\n\r"):
        return json.loads(text)  # trailing garbage: let json.loads raise its "Extra data"
    return value


# Constructors for what the parser builds (validation skipped: the parser guarantees it).
_new_text_block = parsed_builder(TextBlock, "text")
_new_thinking_block = parsed_builder(ThinkingBlock, "thinking", "signature")
_new_assistant_message = parsed_builder(AssistantMessage, "content", "model", "id", "stop_reason", "usage", "refusal")
_new_complete = parsed_builder(MessageComplete, "message", "choices", "done_received", "truncated", "error")
_new_finished = parsed_builder(Finished, "reason", "choice")
_STREAM_DONE: Final = StreamDone()

_TEXT: Final = 0
_THINKING: Final = 1
_ERROR_BODY_KEEP: Final = 64 * 1024


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


@final
class _Choice:
    __slots__ = ("finish_reason", "index", "refusal", "segments", "tools")

    def __init__(self, index: int) -> None:
        self.index = index
        self.segments: list[tuple[int, list[str]]] = []
        self.refusal: list[str] = []
        self.tools = ToolCallAssembler(index)
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

    def chunk(self, obj: Any, out: list[Event], source: ErrorSource, raw: str, delta_key: str = "delta") -> None:
        """Fold one parsed chunk (or a whole non-streaming completion when ``delta_key`` is
        ``message``)."""
        if type(obj) is not dict:
            if type(obj) is list and obj and type(obj[0]) is dict and obj[0].get("error"):
                self.report_error(error_from_json(obj[0]["error"], status=self.status, source=source, body=raw), out)
                return
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
            for choice in choices:
                self._choice(choice, out, delta_key)
        usage = obj.get("usage")
        if usage is None and "x_groq" in obj:
            vendor = obj["x_groq"]
            usage = vendor.get("usage") if type(vendor) is dict else None
        if usage:
            if type(usage) is not dict:
                raise LocalProtocolError(f"'usage' must be an object, not {_kind(usage)}")
            self.usage = Usage.from_json(usage)
            out.append(self.usage)

    def _choice(self, choice: Any, out: list[Event], delta_key: str) -> None:
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
                base = state.tools.next_index
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
            else:
                self._delta(state, delta, content, out)
        reason = choice.get("finish_reason")
        if reason:
            state.finish_reason = reason if type(reason) is str else json.dumps(reason)

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
            add = state.tools.add
            for position, entry in enumerate(tool_calls):
                add(entry, out.append, position)  # type: ignore[arg-type]
        function_call = None if tool_calls else delta.get("function_call")
        if function_call:
            # The deprecated functions API (one call, no id): folded in as tool call 0. A delta
            # with both (llama-cpp-python repeats each fragment in ``function_call``) is read
            # from ``tool_calls`` alone.
            state.tools.add({"index": 0, "function": function_call}, out.append)  # type: ignore[arg-type]

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
        for index in sorted(self._choices):
            state = self._choices[index]
            calls = state.tools.finish(response_id=self.response_id, truncated=truncated) if state.tools else []
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
        calls = state.tools.finish(response_id=self.response_id, truncated=False, partial=True) if state.tools else []
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
                blocks.append(
                    ToolUseBlock(id=call.id, name=call.name, input=call.input, extra_content=call.extra_content)
                )
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
            join_text(state.refusal) or None,
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


# ---- errors ---------------------------------------------------------------------------------


def _str_or_none(value: object) -> str | None:
    if value is None or value == "":
        return None
    return value if type(value) is str else json.dumps(value)


def error_from_json(err: Any, *, status: int | None, source: ErrorSource, body: str) -> ServerError:
    """A ``ServerError`` from any JSON error shape: ``{"message", "type", "code", ...}``, a bare
    string, or FastAPI's ``{"detail": ...}``."""
    if type(err) is dict:
        message = err.get("message")
        if not message or type(message) is not str:
            inner = err.get("error") or err.get("detail") or err.get("msg")
            if type(inner) is str and inner:
                message = inner
            elif inner is not None:
                message = json.dumps(inner, ensure_ascii=False)
            else:
                message = json.dumps(err, ensure_ascii=False)
        code = err.get("code")
        if code is not None and type(code) not in (int, str):
            code = json.dumps(code)
        kind = err.get("type") or err.get("status")
        return ServerError(
            message=message,
            type=_str_or_none(kind),
            code=code,
            param=_str_or_none(err.get("param")),
            status=status,
            source=source,
            body=body,
        )
    text = err if type(err) is str else json.dumps(err, ensure_ascii=False)
    return ServerError(message=text, status=status, source=source, body=body)


def server_error_from_body(status: int, body: bytes, *, cut: bool = False) -> ServerError:
    """A ``ServerError`` for an HTTP error response, whatever its body: the JSON envelopes of
    SERVERS.md §6 (nested, flat, string, Google's array, FastAPI's ``detail``), an SSE body
    carrying an error event, or plain text and HTML."""
    text = body.decode("utf-8", "replace")
    shown = text if not cut else text + " [...]"
    stripped = text.strip().lstrip("\ufeff")
    value: Any = None
    if stripped[:1] in ("{", "["):
        try:
            value = json.loads(stripped)
        except (ValueError, RecursionError):
            value = None
    elif stripped.startswith(("data:", "event:", "error:")):
        decoder = SSEDecoder(max_event_size=len(body) + 64)
        decoder.feed(body)
        decoder.feed(b"\n\n")
        for message in decoder.messages():
            try:
                value = json.loads(message.data)
            except (ValueError, RecursionError):
                continue
            break
    if type(value) is list and value and type(value[0]) is dict:
        value = value[0]
    if type(value) is dict:
        err = value.get("error")
        if type(err) is dict:
            return error_from_json(err, status=status, source="http", body=shown)
        if type(err) is str and err:
            return ServerError(message=err, status=status, source="http", body=shown)
        return error_from_json(value, status=status, source="http", body=shown)
    text_message = stripped[:500] if stripped else f"HTTP {status} with an empty body"
    return ServerError(message=text_message, status=status, source="http", body=shown)


# ---- readers --------------------------------------------------------------------------------


@final
class SSEChatReader:
    """``text/event-stream`` chat chunks. ``[DONE]`` completes the message; the rest of the
    body is drained and ignored. EOF first completes it too, as truncated if a choice is
    unfinished and no error came."""

    __slots__ = ("_assembler", "_decoder", "finished")

    def __init__(self, assembler: ResponseAssembler, *, max_event_size: int) -> None:
        self._assembler = assembler
        self._decoder = SSEDecoder(max_event_size=max_event_size)
        self.finished = False

    @property
    def at_eof(self) -> bool:
        return self._decoder.eof and self.finished

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self.finished and data:
            return  # draining after the message completed: the rest is ignored, not parsed
        self._decoder.feed(data)

    def read(self, out: list[Event]) -> None:
        if self.finished:
            return
        messages = self._decoder.messages()
        if messages:
            chunk = self._assembler.chunk
            for message in messages:
                data = message[1]
                if data[:1] == "{" and message[6] is None and message[0] != "error":
                    loads: Callable[[str], Any] = _loads  # the hot path: a JSON chunk in a data event
                else:
                    outcome = self._other(message, out)
                    if outcome is None:
                        loads = json.loads  # a chunk after all (leading blanks, an array, ...)
                    elif outcome:
                        self.finished = True
                        return
                    else:
                        continue
                try:
                    obj = loads(data)
                except ValueError as exc:
                    raise _json_error("invalid JSON in an SSE data event", exc, data, message) from None
                except RecursionError:
                    raise _too_deep(message) from None
                try:
                    chunk(obj, out, "data_event", data)
                except LocalProtocolError as exc:
                    if exc.offset is None:
                        exc.offset, exc.line, exc.snippet = message.offset, message.line, snippet(data)
                    raise
        self._decoder.check()
        if self._decoder.eof:
            asm = self._assembler
            truncation = None
            if not asm.done_received and asm.error is None and asm.unfinished():
                discarded = self._decoder.discarded
                truncation = "the stream ended without [DONE] and before every choice finished"
                if discarded:
                    truncation += f"; {discarded} bytes of an incomplete event were discarded"
            asm.finish(out, truncation=truncation)
            self.finished = True

    def _other(self, message: SSEMessage, out: list[Event]) -> bool | None:
        """A message off the hot path: True when it completed the response (``[DONE]``),
        False when it was handled here (errors, keep-alives), None when it is a chunk to parse."""
        data = message.data
        if message.extension is not None or message.event == "error":
            self._error_event(message, out)
            return False
        stripped = data.strip()
        if not stripped:
            return False  # empty data: a keep-alive
        if stripped.startswith("[DONE]"):
            asm = self._assembler
            asm.done_received = True
            out.append(_STREAM_DONE)
            asm.finish(out, truncation=None)
            return True
        return None

    def _error_event(self, message: SSEMessage, out: list[Event]) -> None:
        data = message.data
        asm = self._assembler
        try:
            value: Any = json.loads(data) if data.strip() else None
        except (ValueError, RecursionError):
            value = None
        if message.extension == "raw_line":
            # A JSON line without a field name: an error object (Ollama writes one raw), or a
            # server that is not speaking SSE at all.
            if type(value) is dict and (value.get("error") or value.get("object") == "error"):
                err = value["error"] if value.get("error") else value
                asm.report_error(error_from_json(err, status=asm.status, source="data_event", body=data), out)
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
            asm.report_error(error_from_json(err, status=asm.status, source=source, body=data), out)
        else:
            text = data.strip() or "the server sent an error event without details"
            asm.report_error(ServerError(message=text, status=asm.status, source=source, body=data), out)


@final
class JSONBodyReader:
    """A whole JSON body: a non-streaming completion (``choices[].message``), or an error
    object sent with a 2xx status. Parsed at EOF."""

    __slots__ = ("_assembler", "_body", "_eof", "_max", "finished")

    def __init__(self, assembler: ResponseAssembler, *, max_body_size: int) -> None:
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
        asm = self._assembler
        if type(obj) is dict and "choices" not in obj and not obj.get("error") and obj.get("object") != "error":
            raise LocalProtocolError(
                "the JSON response body is not a chat completion (no 'choices')", offset=0, snippet=snippet(text)
            )
        asm.chunk(obj, out, "http", text, delta_key="message")
        asm.finish(out, truncation=None)
        self.finished = True


@final
class ErrorBodyReader:
    """The body of a non-2xx response, in any of the shapes servers use; it becomes a
    ``ServerError`` followed by an empty ``MessageComplete``. Never raises for its content."""

    __slots__ = ("_assembler", "_body", "_cut", "_eof", "finished")

    def __init__(self, assembler: ResponseAssembler) -> None:
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
        asm = self._assembler
        asm.report_error(server_error_from_body(asm.status, bytes(self._body), cut=self._cut), out)
        asm.finish(out, truncation=None)
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
            chosen = self._factory[0]  # an empty or blank body: the SSE reader reports the truncation
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
    status: int, content_type: str, assembler: ResponseAssembler, *, max_event_size: int, max_body_size: int
) -> BodyReader:
    """The body reader for a response head, folding chunks into ``assembler``."""
    if not 200 <= status < 300:
        return ErrorBodyReader(assembler)
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "text/event-stream":
        return SSEChatReader(assembler, max_event_size=max_event_size)
    if media == "application/json" or media.endswith("+json"):
        return JSONBodyReader(assembler, max_body_size=max_body_size)
    return SniffingReader(
        lambda: SSEChatReader(assembler, max_event_size=max_event_size),
        lambda: JSONBodyReader(assembler, max_body_size=max_body_size),
        limit=max_event_size,
    )


def _too_deep(message: SSEMessage) -> LocalProtocolError:
    return LocalProtocolError("JSON nested too deeply in an SSE data event", offset=message.offset, line=message.line)


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
