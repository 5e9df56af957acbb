"""Entries to JSON and back: the one format every session store writes.

``entry_to_json`` gives a plain JSON object (``{"v": 1, "id", "parent", "kind", "at", ...}``);
``entry_from_json`` reads one back, checking every field, and raises ``SessionEntryError``
naming the session, the entry and what is wrong; an entry of a newer format version is refused,
never guessed at. ``dumps_entry`` and ``loads_entries`` do the same for JSON text: a store keeps
one text per entry and reads a whole session back with one ``json.loads`` of their join.

Fields that are None (or empty) are left out, so a text-only exchange costs a few dozen bytes
over its text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, NoReturn, cast

from anyagent_core._agent._results import ResultMessage
from anyagent_core._json import freeze_object, thaw_json
from anyagent_core._messages import (
    AssistantBlock,
    AssistantMessage,
    ImageBlock,
    Message,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    ToolUseError,
    Usage,
    UserBlock,
    UserMessage,
)
from anyagent_core._util import gc_paused, parsed_builder

from ._entries import (
    ENTRY_VERSION,
    CompactionEntry,
    Entry,
    MessageEntry,
    MetadataEntry,
    ResultEntry,
    SessionEntryError,
)

__all__ = [
    "dumps_entry",
    "entry_from_json",
    "entry_to_json",
    "loads_entries",
    "message_from_json",
    "message_to_json",
    "searchable_text",
]

_RESULT_SUBTYPES = frozenset(
    {
        "success",
        "interrupted",
        "error_during_execution",
        "error_max_turns",
        "error_max_budget_tokens",
        "error_max_budget_usd",
        "error_doom_loop",
        "error_max_structured_output_retries",
    }
)
_USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens", "reasoning_tokens", "cached_tokens")


# What the reader builds after checking every field itself (attrs' checks skipped, as the wire
# parsers do; the round-trip properties check the result equals what the constructors give).
_new_text = parsed_builder(TextBlock, "text")
_new_user = parsed_builder(UserMessage, "content")
_new_assistant = parsed_builder(AssistantMessage, "content", "model", "id", "stop_reason", "usage", "refusal")
_new_usage = parsed_builder(
    Usage, "prompt_tokens", "completion_tokens", "total_tokens", "reasoning_tokens", "cached_tokens", "raw", "estimated"
)
_new_message_entry = parsed_builder(MessageEntry, "id", "parent_id", "at", "message", "turn")


class _Bad(Exception):
    """What is wrong with a field; turned into ``SessionEntryError`` at the entry."""


def _bad(problem: str) -> NoReturn:
    raise _Bad(problem)


# ---- writing ----------------------------------------------------------------------------------


def _block_to_json(block: UserBlock | AssistantBlock) -> dict[str, Any]:
    kind = type(block)
    if kind is TextBlock:
        return {"type": "text", "text": block.text}  # type: ignore[union-attr]
    if kind is ThinkingBlock:
        assert isinstance(block, ThinkingBlock)
        out: dict[str, Any] = {"type": "thinking", "thinking": block.thinking}
        if block.signature:
            out["signature"] = block.signature
        return out
    if kind is ToolUseBlock:
        assert isinstance(block, ToolUseBlock)
        out = {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
        if block.extra_content is not None:
            out["extra_content"] = block.extra_content
        return out
    if kind is ToolResultBlock:
        assert isinstance(block, ToolResultBlock)
        content = block.content
        out = {
            "type": "tool_result",
            "tool_use_id": block.tool_use_id,
            "content": content if isinstance(content, str) else [_block_to_json(part) for part in content],
        }
        if block.is_error:
            out["is_error"] = True
        return out
    if kind is ImageBlock:
        assert isinstance(block, ImageBlock)
        out = {"type": "image", "url": block.url}
        if block.detail is not None:
            out["detail"] = block.detail
        return out
    assert isinstance(block, ToolUseError)
    out = {"type": "tool_use_error", "id": block.id, "name": block.name, "arguments": block.arguments}
    out["error"] = block.error
    if block.extra_content is not None:
        out["extra_content"] = block.extra_content
    return out


def _usage_to_json(usage: Usage) -> dict[str, Any]:
    out: dict[str, Any] = {name: getattr(usage, name) for name in _USAGE_FIELDS if getattr(usage, name) is not None}
    if usage.raw:
        out["raw"] = usage.raw
    if usage.estimated:
        out["estimated"] = True
    return out


def message_to_json(message: Message) -> dict[str, Any]:
    """A message as a JSON object (``role``, ``content``, and the assistant's metadata)."""
    if type(message) is UserMessage:
        content = message.content
        return {
            "role": "user",
            "content": content if isinstance(content, str) else [_block_to_json(b) for b in content],
        }
    if not isinstance(message, AssistantMessage):
        raise TypeError(f"not a message: {type(message).__name__}")
    out: dict[str, Any] = {"role": "assistant", "content": [_block_to_json(b) for b in message.content]}
    if message.model is not None:
        out["model"] = message.model
    if message.id is not None:
        out["response_id"] = message.id
    if message.stop_reason is not None:
        out["stop_reason"] = message.stop_reason
    if message.usage is not None:
        out["usage"] = _usage_to_json(message.usage)
    if message.refusal is not None:
        out["refusal"] = message.refusal
    return out


def _result_to_json(result: ResultMessage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "subtype": result.subtype,
        "is_error": result.is_error,
        "num_turns": result.num_turns,
        "duration_ms": result.duration_ms,
        "duration_api_ms": result.duration_api_ms,
    }
    optional: dict[str, Any] = {
        "result": result.result,
        "stop_reason": result.stop_reason,
        "model": result.model,
        "session_id": result.session_id,
        "total_cost_usd": result.total_cost_usd,
        "structured_output": thaw_json(result.structured_output),
    }
    out.update((key, value) for key, value in optional.items() if value is not None)
    if result.usage is not None:
        out["usage"] = _usage_to_json(result.usage)
    if result.pending_tool_calls:
        out["pending_tool_calls"] = [_block_to_json(call) for call in result.pending_tool_calls]
    if result.errors:
        out["errors"] = list(result.errors)
    return out


def entry_to_json(entry: Entry) -> dict[str, Any]:
    """The entry as a plain JSON object."""
    out: dict[str, Any] = {"v": ENTRY_VERSION, "id": entry.id, "parent": entry.parent_id, "at": entry.at}
    kind = type(entry)
    if kind is MessageEntry:
        assert isinstance(entry, MessageEntry)
        out["kind"] = "message"
        out["turn"] = entry.turn
        out["message"] = message_to_json(entry.message)
    elif kind is ResultEntry:
        assert isinstance(entry, ResultEntry)
        out["kind"] = "result"
        out["result"] = _result_to_json(entry.result)
    elif kind is CompactionEntry:
        assert isinstance(entry, CompactionEntry)
        out["kind"] = "compaction"
        out["replaced"] = list(entry.replaced)
        out["summary"] = [message_to_json(m) for m in entry.summary]
        if entry.data:
            out["data"] = entry.data
    elif kind is MetadataEntry:
        assert isinstance(entry, MetadataEntry)
        out["kind"] = "metadata"
        fields = {"title": entry.title, "model": entry.model, "cwd": entry.cwd, "forked_from": entry.forked_from}
        out.update((key, value) for key, value in fields.items() if value is not None)
        if entry.tags:
            out["tags"] = list(entry.tags)
        if entry.data:
            out["data"] = entry.data
    else:
        raise TypeError(f"not a session entry: {kind.__name__}")
    return out


# ``json.dumps`` given options builds a ``JSONEncoder`` on every call (about 0.8 us of the 6 us
# a turn's entry takes); this one, made once, writes the same text.
_ENCODE: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def dumps_entry(entry: Entry) -> str:
    """The entry as compact JSON text (no NaN or infinity: they are not JSON)."""
    try:
        return _ENCODE(entry_to_json(entry))
    except ValueError as exc:
        raise ValueError(f"entry {entry.id!r} cannot be written as JSON: {exc}") from None


# ---- reading ----------------------------------------------------------------------------------


def _str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if type(value) is not str:
        _bad(f"{key!r} must be a string, not {_kind(value)}")
    return value


def _opt_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is not None and type(value) is not str:
        _bad(f"{key!r} must be a string or absent, not {_kind(value)}")
    return value


def _int(obj: Mapping[str, Any], key: str, default: int | None = None) -> int:
    value = obj.get(key, default)
    if type(value) is not int:
        _bad(f"{key!r} must be an integer, not {_kind(value)}")
    return value


def _number(obj: Mapping[str, Any], key: str) -> float:
    value = obj.get(key)
    if type(value) is not int and type(value) is not float:
        _bad(f"{key!r} must be a number, not {_kind(value)}")
    return float(value)


def _list(obj: Mapping[str, Any], key: str) -> list[Any]:
    value = obj.get(key, [])
    if type(value) is not list:
        _bad(f"{key!r} must be an array, not {_kind(value)}")
    return value


def _object(value: Any, what: str) -> dict[str, Any]:
    if type(value) is not dict:
        _bad(f"{what} must be an object, not {_kind(value)}")
    return value


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "an array"}.get(
        type(value), "an object" if isinstance(value, dict) else type(value).__name__
    )


def _block_from_json(obj: Any, where: str) -> UserBlock | AssistantBlock:
    block = _object(obj, where)
    kind = block.get("type")
    try:
        if kind == "text":
            return _new_text(_str(block, "text"))
        if kind == "thinking":
            return ThinkingBlock(thinking=_str(block, "thinking"), signature=_opt_str(block, "signature") or "")
        if kind == "tool_use":
            return ToolUseBlock(
                id=_str(block, "id"),
                name=_str(block, "name"),
                input=_object(block.get("input", {}), "'input'"),
                extra_content=_optional_object(block.get("extra_content")),
            )
        if kind == "tool_result":
            content = block.get("content", "")
            if type(content) is list:
                parts = [_block_from_json(part, f"{where}'s content") for part in content]
                for part in parts:
                    if not isinstance(part, TextBlock | ImageBlock):
                        _bad(f"{where}: a tool result holds text and image blocks, not {type(part).__name__}")
                content = parts
            elif type(content) is not str:
                _bad(f"{where}: 'content' must be a string or an array, not {_kind(content)}")
            is_error = block.get("is_error", False)
            if type(is_error) is not bool:
                _bad(f"{where}: 'is_error' must be a boolean")
            return ToolResultBlock(tool_use_id=_str(block, "tool_use_id"), content=content, is_error=is_error)
        if kind == "image":
            detail = block.get("detail")
            if detail not in (None, "auto", "low", "high"):
                _bad(f"{where}: 'detail' must be auto, low or high, not {detail!r}")
            return ImageBlock(url=_str(block, "url"), detail=detail)
        if kind == "tool_use_error":
            return ToolUseError(
                id=_str(block, "id"),
                name=_str(block, "name"),
                arguments=_str(block, "arguments"),
                error=_str(block, "error"),
                extra_content=_optional_object(block.get("extra_content")),
            )
    except _Bad as exc:
        raise _Bad(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:
        _bad(f"{where}: {exc}")
    _bad(f"{where} has an unknown type {kind!r}")


def _optional_object(value: Any) -> dict[str, Any] | None:
    return None if value is None else _object(value, "'extra_content'")


def _usage_from_json(value: Any) -> Usage:
    obj = _object(value, "'usage'")
    counts: dict[str, int | None] = {}
    for name in _USAGE_FIELDS:
        count = obj.get(name)
        if count is not None and type(count) is not int:
            _bad(f"usage's {name!r} must be an integer, not {_kind(count)}")
        counts[name] = count
    return _new_usage(
        counts["prompt_tokens"],
        counts["completion_tokens"],
        counts["total_tokens"],
        counts["reasoning_tokens"],
        counts["cached_tokens"],
        freeze_object(_object(obj.get("raw", {}), "usage's 'raw'")),
        _estimated(obj),
    )


def _estimated(obj: Mapping[str, Any]) -> bool:
    value = obj.get("estimated", False)
    if type(value) is not bool:
        _bad(f"usage's 'estimated' must be true or false, not {_kind(value)}")
    return value


def message_from_json(value: Any) -> UserMessage | AssistantMessage:
    """A message written by ``message_to_json``; ``ValueError`` saying what is wrong otherwise."""
    try:
        return _message_from_json(value)
    except _Bad as exc:
        raise ValueError(str(exc)) from None


def _message_from_json(value: Any) -> UserMessage | AssistantMessage:
    obj = _object(value, "the message")
    role = obj.get("role")
    content = obj.get("content")
    if role == "user":
        if type(content) is str:
            return _new_user(content)
        if type(content) is not list:
            _bad(f"a user message's 'content' must be a string or an array, not {_kind(content)}")
        blocks = [_block_from_json(b, f"content block {i}") for i, b in enumerate(content)]
        for i, block in enumerate(blocks):
            if not isinstance(block, TextBlock | ImageBlock | ToolResultBlock):
                _bad(f"content block {i}: a user message holds no {type(block).__name__}")
        return UserMessage(content=blocks)  # type: ignore[arg-type]
    if role == "assistant":
        if type(content) is not list:
            _bad(f"an assistant message's 'content' must be an array, not {_kind(content)}")
        blocks = [_block_from_json(b, f"content block {i}") for i, b in enumerate(content)]
        for i, block in enumerate(blocks):
            if not isinstance(block, TextBlock | ThinkingBlock | ToolUseBlock | ToolUseError):
                _bad(f"content block {i}: an assistant message holds no {type(block).__name__}")
        usage = obj.get("usage")
        return _new_assistant(
            tuple(blocks),
            _opt_str(obj, "model"),
            _opt_str(obj, "response_id"),
            _opt_str(obj, "stop_reason"),
            None if usage is None else _usage_from_json(usage),
            _opt_str(obj, "refusal"),
        )
    _bad(f"a message's 'role' must be 'user' or 'assistant', not {role!r}")


def _result_from_json(value: Any) -> ResultMessage:
    obj = _object(value, "'result'")
    subtype = obj.get("subtype")
    if subtype not in _RESULT_SUBTYPES:
        _bad(f"unknown result subtype {subtype!r}")
    is_error = obj.get("is_error")
    if type(is_error) is not bool:
        _bad("the result's 'is_error' must be a boolean")
    cost = obj.get("total_cost_usd")
    if cost is not None and type(cost) not in (int, float):
        _bad(f"'total_cost_usd' must be a number, not {_kind(cost)}")
    usage = obj.get("usage")
    pending = []
    for i, item in enumerate(_list(obj, "pending_tool_calls")):
        call = _block_from_json(item, f"pending tool call {i}")
        if not isinstance(call, ToolUseBlock | ToolUseError):
            _bad(f"pending tool call {i} is a {type(call).__name__}, not a tool call")
        pending.append(call)
    errors = _list(obj, "errors")
    if any(type(error) is not str for error in errors):
        _bad("'errors' must be an array of strings")
    return ResultMessage(
        subtype=subtype,
        result=_opt_str(obj, "result"),
        is_error=is_error,
        num_turns=_int(obj, "num_turns"),
        duration_ms=_int(obj, "duration_ms"),
        duration_api_ms=_int(obj, "duration_api_ms"),
        usage=None if usage is None else _usage_from_json(usage),
        stop_reason=_opt_str(obj, "stop_reason"),
        model=_opt_str(obj, "model"),
        pending_tool_calls=tuple(pending),
        errors=tuple(errors),
        session_id=_opt_str(obj, "session_id"),
        total_cost_usd=0.0 if cost is None else cost,  # entries written before the cost was always known
        structured_output=obj.get("structured_output"),
    )


def _strings(obj: Mapping[str, Any], key: str) -> tuple[str, ...]:
    items = _list(obj, key)
    if any(type(item) is not str for item in items):
        _bad(f"{key!r} must be an array of strings")
    return tuple(items)


def _entry(obj: dict[str, Any]) -> Entry:
    version = obj.get("v")
    if type(version) is not int:
        _bad(f"'v' (the format version) must be an integer, not {_kind(version)}")
    if version > ENTRY_VERSION:
        _bad(f"written in entry format {version}, newer than this version of anyagent reads ({ENTRY_VERSION})")
    if version < 1:
        _bad(f"unknown entry format {version}")
    entry_id = _str(obj, "id")
    parent = _opt_str(obj, "parent")
    at = _number(obj, "at")
    kind = obj.get("kind")
    if kind == "message":
        if not entry_id or parent == "":
            _bad("'id' and 'parent' must not be empty")
        return _new_message_entry(entry_id, parent, at, _message_from_json(obj.get("message")), _int(obj, "turn", 0))
    if kind == "result":
        return ResultEntry(id=entry_id, parent_id=parent, at=at, result=_result_from_json(obj.get("result")))
    if kind == "compaction":
        summary = tuple(_message_from_json(m) for m in _list(obj, "summary"))
        return CompactionEntry(
            id=entry_id,
            parent_id=parent,
            at=at,
            replaced=_strings(obj, "replaced"),
            summary=summary,
            data=_object(obj.get("data", {}), "'data'"),
        )
    if kind == "metadata":
        return MetadataEntry(
            id=entry_id,
            parent_id=parent,
            at=at,
            title=_opt_str(obj, "title"),
            tags=_strings(obj, "tags"),
            model=_opt_str(obj, "model"),
            cwd=_opt_str(obj, "cwd"),
            forked_from=_opt_str(obj, "forked_from"),
            data=_object(obj.get("data", {}), "'data'"),
        )
    _bad(f"unknown entry kind {kind!r}")


def entry_from_json(obj: Any, *, session_id: str) -> Entry:
    """The entry ``obj`` (parsed JSON) holds; ``SessionEntryError`` naming ``session_id``, the
    entry and the problem if it is not one."""
    entry_id = obj.get("id") if type(obj) is dict else None
    name = entry_id if type(entry_id) is str else None
    if type(obj) is not dict:
        raise SessionEntryError(session_id, None, f"an entry must be a JSON object, not {_kind(obj)}")
    try:
        return _entry(obj)
    except _Bad as exc:
        raise SessionEntryError(session_id, name, str(exc)) from None
    except (TypeError, ValueError) as exc:  # a value the message types refuse
        raise SessionEntryError(session_id, name, str(exc)) from None


# ---- the fast path ----------------------------------------------------------------------------

_EMPTY_RAW: Final = freeze_object({})
_USAGE_KEYS: Final = frozenset(_USAGE_FIELDS)


def fast_entry(obj: Any) -> Entry | None:
    """What ``entry_from_json(obj)`` gives, for the entries a conversation is mostly made of
    (a message of text: a user's string, an answer of text blocks with token counts), built
    without the checked reader's calls per field; None for anything else, which
    ``entry_from_json`` then reads (and refuses, if it must), so the two never differ. A
    property test checks that they agree on every entry, well formed or not."""
    return fast_entries((obj,))[0]


def fast_entries(objs: Iterable[Any]) -> list[Entry | None]:
    """``fast_entry`` of each of ``objs`` (parsed JSON, a session's entries), in one loop: the
    answers of one batch with the same token counts share one ``Usage`` (it is immutable), so
    a text message costs its entry, its message and, for an answer, its text block alone."""
    return _fast_entries(objs)[0]


def _fast_entries(objs: Iterable[Any]) -> tuple[list[Entry | None], int]:
    """``fast_entries(objs)`` and how many of them it left (None) to the checked reader."""
    usages: dict[tuple[tuple[str, Any], ...], Usage] = {}
    out: list[Entry | None] = []
    append = out.append
    new_entry, new_user, new_text, new_assistant, new_usage = (
        _new_message_entry,
        _new_user,
        _new_text,
        _new_assistant,
        _new_usage,
    )
    usage_keys, empty_raw = _USAGE_KEYS, _EMPTY_RAW
    left = 0
    for obj in objs:
        # Subscripts, not ``get``: a key a text message always has and this one lacks is
        # unusual, so the checked reader takes it (KeyError), as it takes any other surprise.
        try:
            if type(obj) is not dict or obj["kind"] != "message":
                raise KeyError
            version, entry_id, parent, at, turn, message = (
                obj["v"],
                obj["id"],
                obj["parent"],
                obj["at"],
                obj["turn"],
                obj["message"],
            )
            if (
                type(version) is not int
                or version != ENTRY_VERSION
                or type(entry_id) is not str
                or not entry_id
                or (parent is not None and (type(parent) is not str or not parent))
                or type(turn) is not int
                or type(message) is not dict
            ):
                raise KeyError
            if type(at) is not float:
                if type(at) is not int:
                    raise KeyError
                at = float(at)
            role, content = message["role"], message["content"]
            if role == "user":
                if type(content) is not str:
                    raise KeyError
                append(new_entry(entry_id, parent, at, new_user(content), turn))
                continue
            if role != "assistant" or type(content) is not list:
                raise KeyError
            if len(content) == 1:  # the usual answer: one text block, without a list to grow
                (block,) = content
                if type(block) is not dict or block["type"] != "text":
                    raise KeyError
                text = block["text"]
                if type(text) is not str:
                    raise KeyError
                blocks: tuple[TextBlock, ...] = (new_text(text),)
            else:
                made = []
                for block in content:
                    if type(block) is not dict or block["type"] != "text":
                        raise KeyError
                    text = block["text"]
                    if type(text) is not str:
                        raise KeyError
                    made.append(new_text(text))
                blocks = tuple(made)
            get = message.get
            model, response_id, stop_reason, refusal, usage = (
                get("model"),
                get("response_id"),
                get("stop_reason"),
                get("refusal"),
                get("usage"),
            )
            if (
                (model is not None and type(model) is not str)
                or (response_id is not None and type(response_id) is not str)
                or (stop_reason is not None and type(stop_reason) is not str)
                or (refusal is not None and type(refusal) is not str)
            ):
                raise KeyError
            if usage is not None:
                if type(usage) is not dict:
                    raise KeyError
                counts = tuple(usage.items())
                for name, count in counts:  # token counts alone (no raw, no estimate): shareable
                    if name not in usage_keys or (count is not None and type(count) is not int):
                        raise KeyError
                shared = usages.get(counts)
                if shared is None:
                    get = usage.get
                    shared = usages[counts] = new_usage(
                        get("prompt_tokens"),
                        get("completion_tokens"),
                        get("total_tokens"),
                        get("reasoning_tokens"),
                        get("cached_tokens"),
                        empty_raw,
                        False,
                    )
                usage = shared
            answer = new_assistant(blocks, model, response_id, stop_reason, usage, refusal)
            append(new_entry(entry_id, parent, at, answer, turn))
        except KeyError:
            append(None)
            left += 1
    return out, left


def loads_entries(texts: Sequence[str], *, session_id: str) -> list[Entry]:
    """The entries of ``texts`` (one JSON text each, as ``dumps_entry`` wrote them), parsed in
    one pass (``fast_entries`` first, ``entry_from_json`` for what it leaves);
    ``SessionEntryError`` names the first one that does not parse."""
    if not texts:
        return []
    with gc_paused():  # a long session's objects would set off full collections (see gc_paused)
        return _loads_entries(texts, session_id)


def _loads_entries(texts: Sequence[str], session_id: str) -> list[Entry]:
    try:
        items = json.loads("[" + ",".join(texts) + "]")
    except ValueError:
        items = None
    if type(items) is not list or len(items) != len(texts):  # find the culprit
        items = []
        for index, text in enumerate(texts):
            try:
                items.append(json.loads(text))
            except ValueError as exc:
                raise SessionEntryError(
                    session_id, None, f"entry {index} of the log is not JSON: {exc} ({text[:60]!r})"
                ) from None
        if len(items) != len(texts):  # pragma: no cover (a text holding two values cannot parse alone)
            raise SessionEntryError(session_id, None, "the log's texts do not split into entries")
    fast, left = _fast_entries(items)
    if not left:  # the usual log, of text messages alone: every entry is built already
        return cast("list[Entry]", fast)
    return [
        entry if entry is not None else entry_from_json(item, session_id=session_id)
        for entry, item in zip(fast, items, strict=True)
    ]


def searchable_text(entry: Entry) -> str:
    """The text full-text search indexes for ``entry``: a message's text, reasoning, tool
    calls (name and arguments) and tool results, and a compaction's summary. Results and
    metadata have none (a run's final text is its last message's)."""
    if isinstance(entry, MessageEntry):
        return _message_text(entry.message)
    if isinstance(entry, CompactionEntry):
        return "\n".join(_message_text(m) for m in entry.summary)
    return ""


def _message_text(message: Message) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "\n".join(filter(None, (_block_text(block) for block in content)))


def _block_text(block: UserBlock | AssistantBlock) -> str:
    if isinstance(block, TextBlock):
        return block.text
    if isinstance(block, ThinkingBlock):
        return block.thinking
    if isinstance(block, ToolUseBlock):
        return f"{block.name} {block.arguments}"
    if isinstance(block, ToolUseError):
        return f"{block.name} {block.arguments}"
    if isinstance(block, ToolResultBlock):
        content = block.content
        return content if isinstance(content, str) else "\n".join(p.text for p in content if isinstance(p, TextBlock))
    return ""
