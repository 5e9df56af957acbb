"""Running one tool call: ``run_tool`` validates the arguments, runs the function without blocking
the event loop (async functions awaited, sync ones in a worker thread) under the tool's timeout,
and turns whatever happens, a return value or an exception, into a ``ToolResultBlock`` with its
text capped (``truncate_middle``); it never raises into the agent loop, except for cancellation.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio
import anyio.to_thread
import attrs

from anyagent_core import ImageBlock, TextBlock, ToolResultBlock

from ._context import ToolContext
from ._tool import Tool, ToolError, ToolInputError

__all__ = ["MAX_RESULT_BLOCKS", "MAX_RESULT_CHARS", "is_mcp_result", "mcp_content", "run_tool", "truncate_middle"]

MAX_RESULT_CHARS = 100_000
"""A result's text, summed over all its text blocks, is cut to this many characters: a single
text in the middle, keeping its start and end; blocks past the budget are dropped."""
MAX_RESULT_BLOCKS = 100
"""A result keeps at most this many content blocks (text and images); the rest are dropped."""
_MIN_PIECE = 200  # a text block cut shorter than this is dropped instead


def truncate_middle(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters (when ``limit`` leaves room for the marker),
    keeping its start and end around a ``[... N characters omitted ...]`` marker."""
    if len(text) <= limit:
        return text
    omitted = len(text) - limit
    while True:
        marker = f"\n[... {omitted} characters omitted ...]\n"
        keep = max(limit - len(marker), 0)
        if len(text) - keep == omitted:
            break
        omitted = len(text) - keep
    head = keep - keep // 2
    tail = keep // 2
    return text[:head] + marker + (text[len(text) - tail :] if tail else "")


def _json_fallback(value: object) -> object:
    if attrs.has(type(value)):
        return attrs.asdict(value)  # type: ignore[arg-type]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return list(value)
    return str(value)


_MCP_KEYS = frozenset({"content", "is_error", "isError", "structuredContent", "_meta"})


def is_mcp_result(value: object) -> bool:
    """Whether ``value`` is an MCP-shaped tool result: a dict with a ``content`` list of typed
    blocks and nothing but MCP's keys (``is_error``/``isError``, ``structuredContent``, ``_meta``)."""
    if not isinstance(value, Mapping) or not isinstance(value.get("content"), list):
        return False
    return set(value) <= _MCP_KEYS and all(isinstance(b, Mapping) and "type" in b for b in value["content"])


def mcp_content(value: Mapping[str, Any], name: str) -> tuple[str | tuple[TextBlock | ImageBlock, ...], bool]:
    """An MCP-shaped result as a result's content and error flag: ``text`` blocks as text
    (one alone as a string), ``image`` blocks (``data``, ``mimeType``) as images, a
    ``resource`` with text as its text, a ``resource_link`` as its name and URI. A block of
    another kind makes the result an error saying so (it is never dropped silently)."""
    blocks: list[TextBlock | ImageBlock] = []
    is_error = bool(value.get("is_error", value.get("isError", False)))
    for index, item in enumerate(value["content"]):
        kind = item.get("type")
        if kind == "text" and isinstance(item.get("text"), str):
            blocks.append(TextBlock(text=item["text"]))
        elif kind == "image" and isinstance(item.get("data"), str) and isinstance(item.get("mimeType"), str):
            blocks.append(ImageBlock(url=f"data:{item['mimeType']};base64,{item['data']}"))
        elif kind == "resource" and isinstance((item.get("resource") or {}).get("text"), str):
            blocks.append(TextBlock(text=item["resource"]["text"]))
        elif kind == "resource_link":
            parts = [str(item[key]) for key in ("name", "uri", "description") if item.get(key)]
            blocks.append(TextBlock(text="\n".join(parts) or "resource link"))
        else:
            return (
                f"{name} returned content[{index}] of type {kind!r}, which is not text, an image (data, mimeType) "
                "or a text resource",
                True,
            )
    if "structuredContent" in value and not blocks:
        return json.dumps(value["structuredContent"], ensure_ascii=False, default=_json_fallback), is_error
    if len(blocks) == 1 and isinstance(blocks[0], TextBlock):
        return blocks[0].text, is_error
    return tuple(blocks), is_error


def _content(value: object, name: str) -> tuple[str | tuple[TextBlock | ImageBlock, ...], bool]:
    if isinstance(value, ToolResultBlock):
        return value.content, value.is_error
    if is_mcp_result(value):
        assert isinstance(value, Mapping)
        return mcp_content(value, name)
    if isinstance(value, str):
        return value, False
    if value is None:
        return "", False
    if isinstance(value, TextBlock | ImageBlock):
        return (value,), False
    if isinstance(value, list | tuple) and value and all(isinstance(item, TextBlock | ImageBlock) for item in value):
        return tuple(value), False
    if isinstance(value, bytes | bytearray | memoryview):
        return f"{name} returned {type(value).__name__}, but tools must return text", True
    try:
        return json.dumps(value, ensure_ascii=False, default=_json_fallback), False
    except (TypeError, ValueError):
        return str(value), False


def _result(call_id: str, content: str | tuple[TextBlock | ImageBlock, ...], is_error: bool) -> ToolResultBlock:
    if isinstance(content, str):
        content = truncate_middle(content, MAX_RESULT_CHARS)
    else:
        content = _cap_blocks(content)
    return ToolResultBlock(tool_use_id=call_id, content=content, is_error=is_error)


def _cap_blocks(blocks: Sequence[TextBlock | ImageBlock]) -> tuple[TextBlock | ImageBlock, ...]:
    """The blocks within the whole result's caps: ``MAX_RESULT_CHARS`` of text in total (the
    first blocks kept whole while they fit, the one that crosses the budget cut in the middle,
    later ones dropped) and ``MAX_RESULT_BLOCKS`` blocks, with a note of what was dropped."""
    kept: list[TextBlock | ImageBlock] = []
    remaining = MAX_RESULT_CHARS
    dropped = dropped_chars = 0
    for block in blocks:
        if len(kept) >= MAX_RESULT_BLOCKS:
            dropped += 1
            dropped_chars += len(block.text) if isinstance(block, TextBlock) else 0
        elif isinstance(block, TextBlock):
            if len(block.text) <= remaining:
                kept.append(block)
                remaining -= len(block.text)
            elif remaining >= _MIN_PIECE:
                text = truncate_middle(block.text, remaining)
                kept.append(TextBlock(text=text))
                remaining -= len(text)
            else:
                dropped += 1
                dropped_chars += len(block.text)
        else:
            kept.append(block)
    if dropped:
        note = f"[... {dropped} more content block{'' if dropped == 1 else 's'} omitted"
        note += f" ({dropped_chars} characters of text) ...]" if dropped_chars else " ...]"
        kept.append(TextBlock(text=note))
    return tuple(kept)


def _is_async(function: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(function):
        return True
    call = getattr(function, "__call__", None)  # noqa: B004 - an object whose __call__ is async
    return call is not None and inspect.iscoroutinefunction(call)


async def _call(function: Callable[..., Any], arguments: dict[str, Any]) -> Any:
    if _is_async(function):
        value = await function(**arguments)
    else:
        value = await anyio.to_thread.run_sync(functools.partial(function, **arguments), abandon_on_cancel=True)
    if inspect.isawaitable(value):
        value = await value
    return value


def _seconds(value: float) -> str:
    return f"{value:g}"


async def run_tool(
    tool: Tool, call_id: str, input: Mapping[str, Any], context: ToolContext, *, default_timeout: float | None = None
) -> ToolResultBlock:
    """Run one tool call and return its result; never raises, except for cancellation.

    The arguments are validated first (``Invalid arguments for <name>: ...``). Async functions are
    awaited; sync ones run in a worker thread so the event loop is not blocked (on timeout or
    cancellation the thread is abandoned, and the call's context is marked ``stopped``, which the
    built-in tools' walks and searches check as they go, so their thread ends soon after; any
    other sync tool finishes on its own unless it checks too). ``ToolError`` becomes an error
    result with its message; any other exception (``SystemExit`` too) ``<name> failed: ExcType: message``; running past
    ``tool.timeout`` (``default_timeout`` for a tool without one) ``<name> timed out after Xs``.
    Return values: ``str`` as is, ``None`` as
    ``""``, text and image blocks as blocks, a ``ToolResultBlock``'s content and error flag, an
    MCP-shaped dict (``{"content": [...], "is_error": ...}``, ``mcp_content``) as its content and
    flag, and anything else as JSON (attrs and dataclass instances as objects). The whole result's
    text is capped at ``MAX_RESULT_CHARS`` (over all its blocks) and its blocks at
    ``MAX_RESULT_BLOCKS``.
    """
    name = tool.name
    try:
        arguments = tool.validate(input)
    except ToolInputError as exc:
        return _result(call_id, f"Invalid arguments for {name}: {exc}", True)
    signature = tool._signature
    timeout = tool.timeout if tool.timeout is not None else default_timeout
    context, stop = context._for_run()
    if signature is not None and signature.context_parameter is not None:
        arguments[signature.context_parameter] = context
    try:
        try:
            if timeout is None:
                value = await _call(tool.function, arguments)
            else:
                with anyio.move_on_after(timeout) as scope:
                    value = await _call(tool.function, arguments)
                if scope.cancelled_caught:
                    stop.set()
                    return _result(call_id, f"{name} timed out after {_seconds(timeout)}s", True)
        except BaseException as exc:
            if not isinstance(exc, Exception | SystemExit):  # cancelled or interrupted: the thread is left to stop
                stop.set()
            raise
        content, is_error = _content(value, name)
    except ToolError as exc:
        return _result(call_id, str(exc) or f"{name} failed: {type(exc).__name__}", True)
    except (Exception, SystemExit) as exc:  # SystemExit: a wrapped command-line entry point (argparse)
        detail = str(exc)
        text = f"{name} failed: {type(exc).__name__}: {detail}" if detail else f"{name} failed: {type(exc).__name__}"
        return _result(call_id, text, True)
    return _result(call_id, content, is_error)
