"""The chat-completions request: a ``StartTurn`` -> request bytes, and a body back.

``write_request`` builds ``POST {base_url}/chat/completions`` with a deterministic JSON body
(fixed key order, compact separators, UTF-8 kept as is). ``parse_request_body`` reads such a
body back into a ``StartTurn``, so recordings can be inspected and the writer round-trip tested.

Wire mapping:

* ``system_prompt`` -> a leading ``{"role": "system"}`` message.
* ``UserMessage``: ``ToolResultBlock``s become ``role: tool`` messages first (they must follow the
  assistant's calls); the remaining text and image blocks become one ``role: user`` message,
  a plain string when it is a single text block. Images in a tool result are sent in a user
  message after the tool messages, since most servers accept only text in ``role: tool``.
* ``AssistantMessage``: text -> ``content`` (left out when there are tool calls and no text:
  llama-cpp-python rejects ``null``; ``""`` for an empty answer), tool calls ->
  ``tool_calls`` (raw arguments for ``ToolUseError``), reasoning -> ``reasoning_content`` only
  when ``Config.send_reasoning``, a refusal -> ``refusal``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from anyagent_core._config import Config, Endpoint, chat_url
from anyagent_core._errors import LocalProtocolError
from anyagent_core._events import Request, StartTurn
from anyagent_core._json import thaw_json
from anyagent_core._messages import (
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

__all__ = ["parse_request_body", "request_payload", "write_request"]


def write_request(turn: StartTurn, endpoint: Endpoint, config: Config) -> Request:
    """The HTTP request for one chat-completions call."""
    try:
        written = _body(turn, config)
        body = _checked_body(turn, config) if written is None else written.encode("utf-8")
    except ValueError:  # a lone surrogate (UnicodeEncodeError), NaN: as the checked writer says
        body = _checked_body(turn, config)
    headers: list[tuple[str, str]] = [
        ("Content-Type", "application/json"),
        ("Accept", "text/event-stream" if turn.stream else "application/json"),
    ]
    if endpoint.api_key:
        headers.append(("Authorization", f"Bearer {endpoint.api_key}"))
    if config.user_agent:
        headers.append(("User-Agent", config.user_agent))
    if endpoint.headers:
        # The endpoint's own headers win (``api-key`` for Azure, a gateway's auth header, ...).
        replaced = {name.lower() for name, _ in endpoint.headers}
        headers = [h for h in headers if h[0].lower() not in replaced]
        headers.extend(endpoint.headers)
    return Request(method="POST", url=chat_url(endpoint.base_url, config.chat_path), headers=tuple(headers), body=body)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


#: The wire JSON of each message written lately, by ``id(message)``, with the message (whose
#: id it is while the entry holds it) and the ``send_reasoning`` it was written with: an agent's
#: requests repeat the conversation so far, message objects and all. Cleared when it would grow
#: past ``_WIRE_KEPT`` messages or ``_WIRE_CHARS_KEPT`` characters of JSON (the messages it
#: holds alive are about as large); a message whose JSON alone is longer is not kept.
_WIRE: dict[int, tuple[Message, bool, str]] = {}
_WIRE_KEPT = 4096
_WIRE_CHARS_KEPT = 32 * 1024 * 1024
#: The characters of JSON in ``_WIRE``, in a list so that it is changed in place.
_wire_chars = [0]


def _message_json(message: Message, config: Config) -> str:
    """The wire messages ``message`` becomes, as JSON joined by commas ("" for none)."""
    reasoning = config.send_reasoning
    found = _WIRE.get(id(message))
    if found is not None and found[0] is message and found[1] is reasoning:
        return found[2]
    out: list[dict[str, Any]] = []
    if type(message) is UserMessage:
        _user(message, out)
    else:
        out.append(_assistant(message, config))  # type: ignore[arg-type]
    written = ",".join(_dumps(wire) for wire in out)
    size = len(written)
    if size > _WIRE_CHARS_KEPT:
        return written
    if len(_WIRE) >= _WIRE_KEPT or _wire_chars[0] + size > _WIRE_CHARS_KEPT:
        _WIRE.clear()
        _wire_chars[0] = 0
    replaced = _WIRE.get(id(message))
    if replaced is not None:
        _wire_chars[0] -= len(replaced[2])
    _WIRE[id(message)] = (message, reasoning, written)
    _wire_chars[0] += size
    return written


def _body(turn: StartTurn, config: Config) -> str | None:
    """The body ``_checked_body`` writes, as text, each message's JSON reused from an earlier
    request that sent it: the compact JSON of ``request_payload``'s dict is ``{`` and its
    members joined by commas, and a list's is ``[`` and its items joined by commas. None when
    ``extra_body`` names ``model`` or ``messages`` (then it replaces theirs, in their place).
    Raises ``ValueError`` for a value JSON cannot represent (``_checked_body`` says which)."""
    rest = _payload_rest(turn, config)  # never empty: "stream" is always there
    if "model" in rest or "messages" in rest:
        return None
    parts = [] if turn.system_prompt is None else [_dumps({"role": "system", "content": turn.system_prompt})]
    for message in turn.messages:
        written = _message_json(message, config)
        if written:
            parts.append(written)
    return '{"model":' + _dumps(turn.model) + ',"messages":[' + ",".join(parts) + "]," + _dumps(rest)[1:]


def _checked_body(turn: StartTurn, config: Config) -> bytes:
    """The body, written from ``request_payload``'s dict in one go."""
    try:
        payload = request_payload(turn, config)
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (a model's "\\ud800" escape, or half a pair split across chunks)
        # cannot be UTF-8: write the whole body with ASCII escapes instead, which JSON allows.
        # (Caught before ValueError, of which it is a subclass.)
        body = json.dumps(payload, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode("ascii")
    except ValueError as exc:  # NaN or infinity somewhere in extra_body, a schema or tool input
        raise LocalProtocolError(f"the request holds a value JSON cannot represent: {exc}") from None
    return body


def request_payload(turn: StartTurn, config: Config) -> dict[str, Any]:
    """The request body as a dict, in wire key order."""
    payload: dict[str, Any] = {"model": turn.model, "messages": _messages(turn, config)}
    payload.update(_payload_rest(turn, config))
    return payload


def _payload_rest(turn: StartTurn, config: Config) -> dict[str, Any]:
    """The members of the body after ``model`` and ``messages``, in wire key order."""
    payload: dict[str, Any] = {}
    if turn.stream:
        payload["stream"] = True
        if turn.include_usage:
            payload["stream_options"] = {"include_usage": True}
    else:
        payload["stream"] = False
    if turn.tools:
        payload["tools"] = [_tool(tool) for tool in turn.tools]
    if turn.tool_choice is not None:
        if turn.tool_choice in ("auto", "none", "required"):
            payload["tool_choice"] = turn.tool_choice
        else:
            payload["tool_choice"] = {"type": "function", "function": {"name": turn.tool_choice}}
    if turn.parallel_tool_calls is not None:
        payload["parallel_tool_calls"] = turn.parallel_tool_calls
    for key, value in (
        ("temperature", turn.temperature),
        ("top_p", turn.top_p),
        ("presence_penalty", turn.presence_penalty),
        ("frequency_penalty", turn.frequency_penalty),
        (config.max_tokens_field, turn.max_tokens),
        ("seed", turn.seed),
        ("n", turn.n),
    ):
        if value is not None:
            payload[key] = value
    if turn.stop:
        payload["stop"] = list(turn.stop)
    if turn.response_format is not None:
        payload["response_format"] = thaw_json(turn.response_format)
    for key, value in turn.extra_body.items():
        payload[key] = thaw_json(value)
    return payload


def _tool(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    function["parameters"] = thaw_json(tool.parameters)
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _messages(turn: StartTurn, config: Config) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if turn.system_prompt is not None:
        out.append({"role": "system", "content": turn.system_prompt})
    for message in turn.messages:
        if type(message) is UserMessage:
            _user(message, out)
        else:
            out.append(_assistant(message, config))  # type: ignore[arg-type]
    return out


def _image_part(block: ImageBlock) -> dict[str, Any]:
    image: dict[str, Any] = {"url": block.url}
    if block.detail is not None:
        image["detail"] = block.detail
    return {"type": "image_url", "image_url": image}


def _user(message: UserMessage, out: list[dict[str, Any]]) -> None:
    if isinstance(message.content, str):
        out.append({"role": "user", "content": message.content})
        return
    parts: list[TextBlock | ImageBlock] = []
    tool_images: list[ImageBlock] = []
    for block in message.content:
        if type(block) is ToolResultBlock:
            if isinstance(block.content, str):
                text = block.content
            else:
                text = "".join(b.text for b in block.content if type(b) is TextBlock)
                tool_images.extend(b for b in block.content if type(b) is ImageBlock)
            out.append({"role": "tool", "tool_call_id": block.tool_use_id, "content": text})
        else:
            parts.append(block)  # type: ignore[arg-type]
    parts = [*tool_images, *parts]
    if not parts:
        return
    if len(parts) == 1 and type(parts[0]) is TextBlock:
        out.append({"role": "user", "content": parts[0].text})
        return
    content = [{"type": "text", "text": p.text} if type(p) is TextBlock else _image_part(p) for p in parts]  # type: ignore[arg-type]
    out.append({"role": "user", "content": content})


def _assistant(message: AssistantMessage, config: Config) -> dict[str, Any]:
    text = "".join(b.text for b in message.content if type(b) is TextBlock)
    has_calls = any(type(b) is ToolUseBlock or type(b) is ToolUseError for b in message.content)
    wire: dict[str, Any] = {"role": "assistant"}
    if text or not has_calls:
        # Without text, a message with tool calls leaves ``content`` out (as OpenAI allows):
        # llama-cpp-python answers ``"content": null`` with HTTP 500.
        wire["content"] = text
    if config.send_reasoning:
        reasoning = "".join(b.thinking for b in message.content if type(b) is ThinkingBlock)
        if reasoning:
            wire["reasoning_content"] = reasoning
    calls = []
    for block in message.content:
        if type(block) is ToolUseBlock or type(block) is ToolUseError:
            call: dict[str, Any] = {
                "id": block.id,
                "type": "function",
                "function": {"name": block.name, "arguments": block.arguments},
            }
            if block.extra_content is not None:
                call["extra_content"] = thaw_json(block.extra_content)
            calls.append(call)
    if calls:
        wire["tool_calls"] = calls
    if message.refusal:
        wire["refusal"] = message.refusal
    return wire


# ---- reading a body back --------------------------------------------------------------------


def parse_request_body(body: bytes | str, *, config: Config | None = None) -> StartTurn:
    """Read a chat-completions request body back into a ``StartTurn``.

    Inverse of the writer for everything the writer produces (``ToolResultBlock.is_error`` has
    no wire form and reads back as False). Raises ``LocalProtocolError`` saying what it cannot
    read, and nothing else.
    """
    try:
        return _parse_request_body(body, config or Config())
    except LocalProtocolError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise LocalProtocolError(f"request body does not describe a chat request: {exc!r}") from None
    except RecursionError:
        raise LocalProtocolError("request body nests JSON too deeply") from None


def _parse_request_body(body: bytes | str, cfg: Config) -> StartTurn:
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise LocalProtocolError(f"request body is not JSON: {exc}") from None
    if type(payload) is not dict:
        raise LocalProtocolError("request body must be a JSON object")
    known = {
        "model", "messages", "stream", "stream_options", "tools", "tool_choice", "parallel_tool_calls",
        "temperature", "top_p", "presence_penalty", "frequency_penalty", cfg.max_tokens_field, "seed",
        "n", "stop", "response_format",
    }  # fmt: skip
    system_prompt, messages = _read_messages(payload.get("messages"))
    tool_choice = payload.get("tool_choice")
    if isinstance(tool_choice, Mapping):
        tool_choice = tool_choice["function"]["name"]
    stream = bool(payload.get("stream", False))
    options = payload.get("stream_options") or {}
    if not isinstance(options, Mapping):
        raise LocalProtocolError("'stream_options' must be an object")
    return StartTurn(
        model=payload["model"],
        messages=messages,
        system_prompt=system_prompt,
        tools=[_read_tool(t) for t in payload.get("tools", [])],
        tool_choice=tool_choice,
        parallel_tool_calls=payload.get("parallel_tool_calls"),
        stream=stream,
        include_usage=bool(options.get("include_usage")) if stream else True,
        max_tokens=payload.get(cfg.max_tokens_field),
        temperature=payload.get("temperature"),
        top_p=payload.get("top_p"),
        presence_penalty=payload.get("presence_penalty"),
        frequency_penalty=payload.get("frequency_penalty"),
        seed=payload.get("seed"),
        stop=payload.get("stop"),
        n=payload.get("n"),
        response_format=payload.get("response_format"),
        extra_body={k: v for k, v in payload.items() if k not in known},
    )


def _read_tool(wire: dict[str, Any]) -> ToolSpec:
    function = wire["function"]
    return ToolSpec(
        name=function["name"],
        description=function.get("description", ""),
        parameters=function.get("parameters", {}),
        strict=function.get("strict"),
    )


def _read_messages(wire: object) -> tuple[str | None, list[Message]]:
    if type(wire) is not list:
        raise LocalProtocolError("'messages' must be an array")
    system: str | None = None
    messages: list[Message] = []
    pending: list[UserBlock] = []  # tool results waiting to be joined with the next user turn

    def flush() -> None:
        if pending:
            messages.append(UserMessage(content=tuple(pending)))
            pending.clear()

    for i, item in enumerate(wire):
        if type(item) is not dict:
            raise LocalProtocolError(f"messages[{i}] must be an object")
        role = item.get("role")
        if role == "system" and i == 0:
            system = item["content"]
            if type(system) is not str:
                raise LocalProtocolError("the system message's content must be a string")
        elif role == "tool":
            pending.append(ToolResultBlock(tool_use_id=item["tool_call_id"], content=item.get("content") or ""))
        elif role == "user":
            content = item.get("content")
            if isinstance(content, str):
                if pending:
                    pending.append(TextBlock(text=content))
                else:
                    messages.append(UserMessage(content=content))
            else:
                for part in content or []:
                    if part.get("type") == "text":
                        pending.append(TextBlock(text=part["text"]))
                    elif part.get("type") == "image_url":
                        image = part["image_url"]
                        pending.append(ImageBlock(url=image["url"], detail=image.get("detail")))
                    else:
                        raise LocalProtocolError(
                            f"messages[{i}] has a content part of unknown type {part.get('type')!r}"
                        )
                flush()
                continue
            flush()
        elif role == "assistant":
            flush()
            messages.append(_read_assistant(item))
        else:
            raise LocalProtocolError(f"messages[{i}] has an unknown role {role!r}")
    flush()
    return system, messages


def _read_assistant(item: dict[str, Any]) -> AssistantMessage:
    blocks: list[AssistantBlock] = []
    if item.get("reasoning_content"):
        blocks.append(ThinkingBlock(thinking=item["reasoning_content"]))
    if item.get("content"):
        blocks.append(TextBlock(text=item["content"]))
    for call in item.get("tool_calls") or []:
        function = call["function"]
        arguments = function.get("arguments", "")
        if type(arguments) is not str:
            arguments = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
        extra = call.get("extra_content")
        try:
            value = json.loads(arguments)
        except ValueError:
            value = None
        if (
            function["name"]
            and type(value) is dict
            and json.dumps(value, ensure_ascii=False, separators=(",", ":")) == arguments
        ):
            blocks.append(ToolUseBlock(id=call["id"], name=function["name"], input=value, extra_content=extra))
        else:
            blocks.append(
                ToolUseError(
                    id=call["id"], name=function["name"], arguments=arguments,
                    error="not a usable call (no name, or arguments not a compact JSON object)",
                    extra_content=extra,
                )
            )  # fmt: skip
    return AssistantMessage(content=tuple(blocks), refusal=item.get("refusal"))
