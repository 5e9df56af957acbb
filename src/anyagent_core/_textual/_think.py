"""Reasoning written in the answer's text as ``<think>...</think>``, read as reasoning.

Servers that do not separate reasoning (llama.cpp with ``--reasoning-format none``, LM Studio
without reasoning separation, many local Qwen3 and DeepSeek-R1 setups) put it in the content:
``<think>\\nLet me see...\\n</think>\\n\\nThe answer.`` The wire stays as it is (the
``Connection`` reports that text as content); the agent reads it here.

The rule: a ``<think>`` at the very start of the answer's text, after optional whitespace, opens
a reasoning block, which runs to the first ``</think>`` or, unclosed, to the end of the answer.
The reasoning is the block's content with the whitespace at both ends stripped; the text is what
follows ``</think>``, with its leading whitespace dropped. Whitespace is ASCII space, tab, CR
and LF (``_util.WHITESPACE``), as for the tool calls written as text. Anything else is
text as written: a ``<think>`` later in the answer, and a lone ``</think>`` (from a chat
template that writes the opening tag itself into the prompt, so the answer begins with the
reasoning): telling such reasoning apart would mean holding back every answer in case a
``</think>`` comes, so use the server's reasoning parser for those templates (llama.cpp's
``--reasoning-format deepseek``, LM Studio's reasoning separation).

``split_think`` reads a whole text, ``ThinkTagFilter`` the same while it streams (its output
does not depend on how the text is split), ``think_to_blocks`` turns a message's reasoning into
a ``ThinkingBlock``, and ``AnswerFilter`` streams an answer through both this and the
tool-call filter, so that calls written inside the reasoning are never read as calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, final

import attrs

from anyagent_core._errors import LocalProtocolError
from anyagent_core._messages import AssistantBlock, AssistantMessage, TextBlock, ThinkingBlock, ToolSpec
from anyagent_core._util import WHITESPACE
from anyagent_core.value import Value

from ._emulation._formats import TextCall
from ._emulation._scanner import ToolCallTextFilter

__all__ = ["AnswerFilter", "ThinkSplit", "ThinkTagFilter", "split_think", "think_to_blocks"]

_OPEN: Final = "<think>"
_CLOSE: Final = "</think>"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ThinkSplit(Value):
    """``split_think``'s answer."""

    reasoning: str | None
    """The reasoning block's content, stripped; None when the text opens no reasoning block."""
    text: str
    """The text after the block (leading whitespace dropped), or the whole text without one."""
    closed: bool = False
    """The block ended with ``</think>`` (False: it ran to the end, or there is none)."""


def split_think(text: str) -> ThinkSplit:
    """The reasoning block at the start of ``text``, if any, and the text after it."""
    if not text or (text[0] != "<" and text[0] not in WHITESPACE):  # the common case: no block
        return ThinkSplit(reasoning=None, text=text)
    stripped = text.lstrip(WHITESPACE)
    if not stripped.startswith(_OPEN):
        return ThinkSplit(reasoning=None, text=text)
    body = stripped[len(_OPEN) :]
    end = body.find(_CLOSE)
    if end < 0:
        return ThinkSplit(reasoning=body.strip(WHITESPACE), text="")
    return ThinkSplit(
        reasoning=body[:end].strip(WHITESPACE), text=body[end + len(_CLOSE) :].lstrip(WHITESPACE), closed=True
    )


def think_to_blocks(message: AssistantMessage) -> AssistantMessage:
    """``message`` with a reasoning block at the start of its text made a ``ThinkingBlock``.

    Returned unchanged (the same object) when its text opens no reasoning block. Otherwise:
    the thinking blocks it had, then the block's reasoning as a ``ThinkingBlock`` (unless it is
    empty, or the message already has reasoning from the server, which some servers send as
    well as the tags: it is not repeated), then the text after the block as one text block
    (none if it is empty), then the tool-use blocks. The other fields are kept.
    """
    first = next((block.text for block in message.content if isinstance(block, TextBlock) and block.text), "")
    if not first or (first[0] != "<" and first[0] not in WHITESPACE):  # the common case: no block
        return message
    split = split_think(message.text)
    if split.reasoning is None:
        return message
    thinking: list[AssistantBlock] = [block for block in message.content if isinstance(block, ThinkingBlock)]
    if split.reasoning and not any(block.thinking for block in thinking if isinstance(block, ThinkingBlock)):
        thinking.append(ThinkingBlock(thinking=split.reasoning))
    content = thinking
    if split.text:
        content.append(TextBlock(text=split.text))
    content.extend(block for block in message.content if not isinstance(block, TextBlock | ThinkingBlock))
    return attrs.evolve(message, content=tuple(content))


# ---- streaming -------------------------------------------------------------------------------

_START, _THINK, _AFTER, _TEXT, _FINISHED = range(5)


@final
class ThinkTagFilter:
    """Streams an answer's text, telling the reasoning block at its start from the text.

    ``feed(text)`` takes the next piece and returns ``(reasoning, text)``: what can be shown
    now of each; ``finish()`` returns the rest. Whitespace at the start of the answer and a
    partial ``<think>`` are held until it is known whether a block opens; in the block, a
    partial ``</think>`` and a trailing whitespace run are held. Once the answer is known to
    open no block, or the block has closed, each piece is passed through as it is (the same
    string object).

    The concatenations of the reasoning and of the text that ``feed`` and ``finish`` return
    are exactly ``split_think(whole_text)``'s reasoning (``""`` for None) and text, however the
    text was split. Work is linear in the length of the text.
    """

    __slots__ = ("_carry", "_lead", "_probe", "_reasoning", "_started", "_state", "_ws")

    def __init__(self) -> None:
        self._state = _START
        self._lead: list[str] = []  # the answer's leading whitespace
        self._probe = ""  # a partial "<think>" after it
        self._carry = ""  # in the block: a partial "</think>"
        self._started = False  # visible reasoning was released
        self._ws = ""  # the reasoning's held trailing whitespace
        self._reasoning: list[str] = []

    def feed(self, text: str) -> tuple[str, str]:
        """Take the next piece; return the reasoning and the text that can be shown now."""
        state = self._state
        if state == _TEXT:
            return "", text
        if state == _FINISHED:
            raise LocalProtocolError("ThinkTagFilter.feed() called after finish()")
        shown = ""
        if state == _START:
            text = self._start(text)
            if self._state == _TEXT:
                return "", text
        if self._state == _THINK:
            text = self._think(text)
        if self._state == _AFTER and text:
            shown = text.lstrip(WHITESPACE)
            if shown:
                self._state = _TEXT
        return self._take(), shown

    def finish(self) -> tuple[str, str]:
        """The end of the answer: the reasoning and the text left to show."""
        state = self._state
        self._state = _FINISHED
        if state == _START:
            return "", "".join(self._lead) + self._probe
        if state == _THINK:
            self._emit(self._carry)  # a partial "</think>" at the end is reasoning
            self._carry = ""
        return self._take(), ""

    def _take(self) -> str:
        out = "".join(self._reasoning)
        self._reasoning = []
        return out

    def _start(self, text: str) -> str:
        """Before it is known whether a block opens; returns what follows the opening tag, or
        (the state now ``_TEXT``) the text to release."""
        if not self._probe:
            rest = text.lstrip(WHITESPACE)
            if len(rest) < len(text):
                self._lead.append(text[: len(text) - len(rest)])
            text = rest
            if not text:
                return ""
        probe = self._probe + text
        if probe.startswith(_OPEN):
            self._state = _THINK
            self._lead = []
            self._probe = ""
            return probe[len(_OPEN) :]
        if _OPEN.startswith(probe):
            self._probe = probe
            return ""
        self._state = _TEXT
        lead = "".join(self._lead)
        self._lead = []
        self._probe = ""
        return lead + probe if lead or len(probe) > len(text) else text

    def _think(self, text: str) -> str:
        """Inside the block; returns what follows ``</think>`` (the state now ``_AFTER``)."""
        s = self._carry + text if self._carry else text
        end = s.find(_CLOSE)
        if end >= 0:
            self._carry = ""
            self._emit(s[:end])
            self._ws = ""  # the reasoning's trailing whitespace is dropped
            self._state = _AFTER
            return s[end + len(_CLOSE) :]
        at = s.rfind("<", max(0, len(s) - len(_CLOSE) + 1))
        if at >= 0 and _CLOSE.startswith(s[at:]):
            self._carry = s[at:]
            self._emit(s[:at])
        else:
            self._carry = ""
            self._emit(s)
        return ""

    def _emit(self, text: str) -> None:
        """Release reasoning, without its leading whitespace and holding its trailing run."""
        if not self._started:
            text = text.lstrip(WHITESPACE)
            if not text:
                return
            self._started = True
        end = len(text.rstrip(WHITESPACE))
        if not end:
            self._ws += text
            return
        if self._ws:
            self._reasoning.append(self._ws)
        self._reasoning.append(text[:end])
        self._ws = text[end:]


@final
class AnswerFilter:
    """Streams an answer's text: a reasoning block at its start (``think_tags``) is told apart
    from the text, and tool calls written in the text after it (``calls``) are held back.

    ``feed(text)`` returns ``(reasoning, text)`` that can be shown now, ``finish()`` the rest;
    ``calls`` holds the calls found so far (``tools``: the specs whose parameter types convert
    the values of calls in Qwen3-Coder's XML form, see ``parse_tool_calls``). The text is what
    ``ThinkTagFilter`` releases, passed through ``ToolCallTextFilter``: calls written inside the
    reasoning are never calls. The output and the calls do not depend on how the text is split.
    """

    __slots__ = ("_calls", "_think")

    def __init__(self, *, think_tags: bool = True, calls: bool = True, tools: Iterable[ToolSpec] = ()) -> None:
        self._think = ThinkTagFilter() if think_tags else None
        self._calls = ToolCallTextFilter(tools=tools) if calls else None

    @property
    def calls(self) -> tuple[TextCall, ...]:
        """The tool calls found in the text so far."""
        return () if self._calls is None else self._calls.calls

    def feed(self, text: str) -> tuple[str, str]:
        """Take the next piece; return the reasoning and the text that can be shown now."""
        reasoning = ""
        if self._think is not None:
            reasoning, text = self._think.feed(text)
        if self._calls is not None and text:
            text = self._calls.feed(text)
        return reasoning, text

    def finish(self) -> tuple[str, str]:
        """The end of the answer: the reasoning and the text left to show."""
        reasoning, text = "", ""
        if self._think is not None:
            reasoning, text = self._think.finish()
        if self._calls is not None:
            text = (self._calls.feed(text) if text else "") + self._calls.finish()
        return reasoning, text
