"""The conversation model: content blocks, messages, tool specs and usage (all frozen).

These are the types the transports and the agent loop share. They do not know the wire format:
a dialect (``_dialects``) turns them into request JSON and builds them from responses.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

import attrs

from ._json import JSONObject, freeze_json, freeze_object
from ._util import lazy_pattern, parsed_builder
from .value import Value

__all__ = [
    "AssistantBlock",
    "AssistantMessage",
    "ContentBlock",
    "ImageBlock",
    "Message",
    "TextBlock",
    "ThinkingBlock",
    "ToolChoice",
    "ToolResultBlock",
    "ToolSpec",
    "ToolUseBlock",
    "ToolUseError",
    "Usage",
    "UserBlock",
    "UserMessage",
]

_TOOL_NAME = lazy_pattern(r"[A-Za-z0-9_-]{1,64}")  # what OpenAI-compatible servers accept
_nonempty: Any = attrs.validators.min_len(1)
_str: Any = attrs.validators.instance_of(str)


def _optional_object(value: Mapping[str, Any] | None) -> JSONObject | None:
    return None if value is None else freeze_object(value)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class TextBlock(Value):
    """Plain text, from the user or the model."""

    text: str = attrs.field(validator=_str)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ThinkingBlock(Value):
    """The model's reasoning (``reasoning_content`` / ``reasoning`` on the wire)."""

    thinking: str = attrs.field(validator=_str)
    signature: str = ""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ImageBlock(Value):
    """An image part, by URL (``https://...`` or a ``data:`` URL)."""

    url: str = attrs.field(validator=[_str, _nonempty])
    detail: Literal["auto", "low", "high"] | None = None

    @classmethod
    def from_bytes(
        cls, data: bytes, media_type: str, *, detail: Literal["auto", "low", "high"] | None = None
    ) -> ImageBlock:
        """An image sent inline as a base64 ``data:`` URL."""
        encoded = base64.b64encode(data).decode("ascii")
        return cls(url=f"data:{media_type};base64,{encoded}", detail=detail)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ToolUseBlock(Value):
    """A tool call the model made, with arguments that parsed to a JSON object."""

    id: str = attrs.field(validator=[_str, _nonempty])
    name: str = attrs.field(validator=[_str, _nonempty])
    input: JSONObject = attrs.field(factory=dict, converter=freeze_object)
    """The arguments, as a read-only dict (``thaw_json`` gives a mutable copy)."""
    extra_content: JSONObject | None = attrs.field(default=None, converter=_optional_object)
    """Provider data that must be sent back with the call (Gemini's ``thought_signature``)."""

    @functools.cached_property
    def arguments(self) -> str:
        """The arguments as compact JSON text, as they are written to the wire. Computed once
        per block (``input`` is immutable), so a request does not re-serialise every earlier
        call of the conversation."""
        return json.dumps(self.input, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ToolUseError(Value):
    """A tool call whose arguments could not be used (invalid JSON, not an object, cut off).

    It is kept so the conversation stays faithful: the agent loop answers it with an error
    result, and it is written back with its raw ``arguments``.
    """

    id: str = attrs.field(validator=[_str, _nonempty])
    name: str = attrs.field(validator=_str)
    arguments: str = attrs.field(validator=_str)
    error: str = attrs.field(validator=_str)
    extra_content: JSONObject | None = attrs.field(default=None, converter=_optional_object)


def _result_content(
    value: str | tuple[TextBlock | ImageBlock, ...] | list[TextBlock | ImageBlock],
) -> str | tuple[TextBlock | ImageBlock, ...]:
    if isinstance(value, str):
        return value
    blocks = tuple(value)
    for block in blocks:
        if not isinstance(block, TextBlock | ImageBlock):
            raise TypeError(f"tool result content must be text or image blocks, not {type(block).__name__}")
    return blocks


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ToolResultBlock(Value):
    """The result of a tool call, sent back as a ``role: tool`` message."""

    tool_use_id: str = attrs.field(validator=[_str, _nonempty])
    content: str | tuple[TextBlock | ImageBlock, ...] = attrs.field(default="", converter=_result_content)
    is_error: bool = False
    """OpenAI's wire format has no error flag: the text itself must say what went wrong."""


UserBlock: TypeAlias = TextBlock | ImageBlock | ToolResultBlock
AssistantBlock: TypeAlias = TextBlock | ThinkingBlock | ToolUseBlock | ToolUseError
ContentBlock: TypeAlias = TextBlock | ThinkingBlock | ImageBlock | ToolUseBlock | ToolUseError | ToolResultBlock


def _user_content(value: str | tuple[UserBlock, ...] | list[UserBlock]) -> str | tuple[UserBlock, ...]:
    if isinstance(value, str):
        return value
    blocks = tuple(value)
    for block in blocks:
        if not isinstance(block, TextBlock | ImageBlock | ToolResultBlock):
            raise TypeError(f"a user message holds text, image and tool result blocks, not {type(block).__name__}")
    return blocks


def _assistant_content(value: tuple[AssistantBlock, ...] | list[AssistantBlock]) -> tuple[AssistantBlock, ...]:
    blocks = tuple(value)
    for block in blocks:
        if not isinstance(block, TextBlock | ThinkingBlock | ToolUseBlock | ToolUseError):
            raise TypeError(
                f"an assistant message holds text, thinking and tool use blocks, not {type(block).__name__}"
            )
    return blocks


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Usage(Value):
    """Token counts as the server reported them; ``raw`` keeps the whole object as sent.

    ``estimated`` is True when the server reported no usage (llama-cpp-python's streams, some
    gateways) and the agent loop counted the tokens itself, from the text sent and received
    (``anyagent_core.context``'s estimate: about four characters a token); ``raw`` is empty then."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    raw: JSONObject = attrs.field(factory=dict, converter=freeze_object)
    estimated: bool = False

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Usage:
        """Build from a wire ``usage`` object; counts that are not integers become None."""
        get = obj.get
        prompt_details = get("prompt_tokens_details")
        completion_details = get("completion_tokens_details")
        if (
            type(obj) is dict
            and (prompt_details is None or type(prompt_details) is dict)
            and (completion_details is None or type(completion_details) is dict)
        ):
            # Parsed JSON (plain dicts): the reading below, inlined.
            cached = None if prompt_details is None else prompt_details.get("cached_tokens")
            if type(cached) is not int:
                cached = get("prompt_cache_hit_tokens")  # DeepSeek
            reasoning = None if completion_details is None else completion_details.get("reasoning_tokens")
            prompt = get("prompt_tokens")
            completion = get("completion_tokens")
            total = get("total_tokens")
            return _new_usage(
                prompt if type(prompt) is int else None,
                completion if type(completion) is int else None,
                total if type(total) is int else None,
                reasoning if type(reasoning) is int else None,
                cached if type(cached) is int else None,
                freeze_json(obj),
                False,
            )
        cached = _detail(obj, "prompt_tokens_details", "cached_tokens")
        if cached is None:
            cached = _count(obj.get("prompt_cache_hit_tokens"))  # DeepSeek
        return _new_usage(
            _count(obj.get("prompt_tokens")),
            _count(obj.get("completion_tokens")),
            _count(obj.get("total_tokens")),
            _detail(obj, "completion_tokens_details", "reasoning_tokens"),
            cached,
            freeze_object(obj),
            False,
        )


_new_usage = parsed_builder(
    Usage, "prompt_tokens", "completion_tokens", "total_tokens", "reasoning_tokens", "cached_tokens", "raw", "estimated"
)


def _count(value: object) -> int | None:
    return value if type(value) is int else None


def _detail(obj: Mapping[str, Any], key: str, field: str) -> int | None:
    details = obj.get(key)
    return _count(details.get(field)) if type(details) is dict or isinstance(details, Mapping) else None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class UserMessage(Value):
    """A user turn: a string, or text, image and tool result blocks."""

    content: str | tuple[UserBlock, ...] = attrs.field(converter=_user_content)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class AssistantMessage(Value):
    """A model turn as content blocks, with what the server said about it."""

    content: tuple[AssistantBlock, ...] = attrs.field(default=(), converter=_assistant_content)
    model: str | None = None
    id: str | None = None
    """The response id (``chatcmpl-...``) when the server sent one."""
    stop_reason: str | None = None
    """``finish_reason`` exactly as sent (``stop``, ``length``, ``tool_calls``, ``STOP``, ...)."""
    usage: Usage | None = None
    refusal: str | None = None

    @property
    def text(self) -> str:
        """The text blocks joined."""
        return "".join(block.text for block in self.content if isinstance(block, TextBlock))

    @property
    def tool_uses(self) -> tuple[ToolUseBlock | ToolUseError, ...]:
        """The tool calls, usable or not, in order."""
        return tuple(b for b in self.content if isinstance(b, ToolUseBlock | ToolUseError))


Message: TypeAlias = UserMessage | AssistantMessage


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ToolSpec(Value):
    """A tool offered to the model: a name, a description and a JSON schema for its arguments."""

    name: str = attrs.field(validator=[_str, _nonempty])
    description: str = ""
    parameters: JSONObject = attrs.field(
        factory=lambda: freeze_object({"type": "object", "properties": {}}), converter=freeze_object
    )
    strict: bool | None = None

    @name.validator
    def _check_name(self, attribute: attrs.Attribute[str], value: str) -> None:
        if not _TOOL_NAME().fullmatch(value):
            raise ValueError(f"tool name must be 1-64 characters of a-z, A-Z, 0-9, _ or -: {value!r}")


ToolChoice: TypeAlias = Literal["auto", "none", "required"] | str | None
"""``auto``, ``none``, ``required``, or a tool's name to force that tool; None omits the field."""
