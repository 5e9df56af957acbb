"""Token counts: the ``TokenCounter`` protocol, the character estimate, and the estimate
calibrated from the ``prompt_tokens`` a server reports.

A counter counts a request as the sum of its parts: a fixed part (the system prompt, the tools,
the chat template's frame) and one count per message, the message's template overhead included.
Compaction relies on that sum: dropping a message lowers the count by exactly its count, so
choosing what to keep of a long history is one pass over it.

``CalibratedEstimate`` learns, per model, how many tokens the server counts per character and
per message (and the fixed frame a template puts around tools) by a least-squares fit of the
``prompt_tokens`` the server reported for the requests it was sent; until it has seen one, it is
the plain estimate. Exact counters (a tokenizer, the server's own ``/tokenize``) live in
``anyagent_httpx``, which does the I/O and loads the files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Literal, Protocol, TypeAlias, runtime_checkable

import attrs

from anyagent_core._messages import (
    ImageBlock,
    Message,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    ToolUseError,
)
from anyagent_core.value import Record, Value

__all__ = [
    "CHARS_PER_TOKEN",
    "IMAGE_TOKENS",
    "MESSAGE_OVERHEAD",
    "CalibratedEstimate",
    "CharEstimate",
    "CountSource",
    "TokenCounter",
    "count_request",
    "estimate_tokens",
    "message_text",
    "message_texts",
    "tool_texts",
    "tools_text",
]

#: Rough characters per token for English text and code (GPT and Llama tokenizers give 3.5-4.5).
CHARS_PER_TOKEN = 4
#: What an image is counted as.
IMAGE_TOKENS = 800
#: Per-message overhead of the chat template (role markers, separators).
MESSAGE_OVERHEAD = 4
#: Characters counted for the frame around a tool call or a tool result.
_CALL_FRAME = 16

CountSource: TypeAlias = Literal["estimate", "calibrated", "tokenizer", "server"]
"""Where a count comes from: the character estimate, the estimate calibrated on the server's
reports, a local tokenizer, or the server's own ``/tokenize``."""

WindowSource: TypeAlias = Literal["user", "server", "error", "unknown"]
"""Where the window in use comes from: ``context_window`` given, the server's answer to a probe,
a context-length error that named it, or nowhere. (Defined here, where ``ContextUsage``'s hints
find it without loading the window probes; ``anyagent_core.context`` exports it.)"""


#: ``message_text`` of the messages seen last, by the message: a request resends the whole
#: conversation and every request counts it, so each message is measured once rather than once
#: per request. Messages are immutable; an entry holds its message, so an id is never another
#: message's. Cleared when it grows past ``_MESSAGE_TEXTS_KEPT`` messages.
_MESSAGE_TEXTS: dict[int, tuple[Message, tuple[int, int]]] = {}
_MESSAGE_TEXTS_KEPT = 4096


def message_text(message: Message) -> tuple[int, int]:
    """(characters, images) of a message as a counter sees it: texts, reasoning, calls (name and
    arguments with a frame), tool results."""
    content = message.content
    if type(content) is str:
        return len(content), 0
    found = _MESSAGE_TEXTS.get(id(message))
    if found is not None and found[0] is message:
        return found[1]
    measured = _measure(message)
    if len(_MESSAGE_TEXTS) >= _MESSAGE_TEXTS_KEPT:
        _MESSAGE_TEXTS.clear()
    _MESSAGE_TEXTS[id(message)] = (message, measured)
    return measured


def _measure(message: Message) -> tuple[int, int]:
    content = message.content
    if isinstance(content, str):
        return len(content), 0
    chars = images = 0
    for block in content:
        if isinstance(block, TextBlock):
            chars += len(block.text)
        elif isinstance(block, ThinkingBlock):
            chars += len(block.thinking)
        elif isinstance(block, ImageBlock):
            images += 1
        elif isinstance(block, ToolUseBlock | ToolUseError):
            chars += len(block.name) + len(block.arguments) + _CALL_FRAME
        elif isinstance(block, ToolResultBlock):
            if isinstance(block.content, str):
                chars += len(block.content) + _CALL_FRAME
            else:
                chars += _CALL_FRAME
                for part in block.content:
                    if isinstance(part, TextBlock):
                        chars += len(part.text)
                    else:
                        images += 1
    return chars, images


def message_texts(message: Message) -> list[str]:
    """The texts of a message an exact counter tokenizes: texts, reasoning, each call's name and
    arguments, each result's text."""
    content = message.content
    if isinstance(content, str):
        return [content]
    texts: list[str] = []
    for block in content:
        if isinstance(block, TextBlock):
            texts.append(block.text)
        elif isinstance(block, ThinkingBlock):
            texts.append(block.thinking)
        elif isinstance(block, ToolUseBlock | ToolUseError):
            texts.extend((block.name, block.arguments))
        elif isinstance(block, ToolResultBlock):
            if isinstance(block.content, str):
                texts.append(block.content)
            else:
                texts.extend(part.text for part in block.content if isinstance(part, TextBlock))
    return texts


def tool_texts(tools: Sequence[ToolSpec]) -> list[str]:
    """The texts of the tools' specs an exact counter tokenizes (name, description, schema)."""
    texts: list[str] = []
    for spec in tools:
        texts.extend((spec.name, spec.description, json.dumps(spec.parameters)))
    return texts


#: Characters of each tool spec, by the spec: a run sends the same specs with every request and
#: counts them several times a request (each is serialised once). Cleared when it grows past
#: ``_SPEC_CHARS_KEPT`` specs; an entry holds its spec, so an id is never another spec's.
_SPEC_CHARS: dict[int, tuple[ToolSpec, int]] = {}
_SPEC_CHARS_KEPT = 512


def _spec_chars(spec: ToolSpec) -> int:
    found = _SPEC_CHARS.get(id(spec))
    if found is not None and found[0] is spec:
        return found[1]
    chars = len(spec.name) + len(spec.description) + len(json.dumps(spec.parameters)) + 32
    if len(_SPEC_CHARS) >= _SPEC_CHARS_KEPT:
        _SPEC_CHARS.clear()
    _SPEC_CHARS[id(spec)] = (spec, chars)
    return chars


def tools_text(tools: Sequence[ToolSpec]) -> int:
    """Characters the tools' specs take (name, description, parameter schema, a frame)."""
    return sum(_spec_chars(spec) for spec in tools)


@runtime_checkable
class TokenCounter(Protocol):
    """Counts a request's prompt tokens as the sum of a fixed part and one count per message.

    ``count_fixed(system_prompt, tools) + sum(count_message(m) for m in messages)`` is the
    request's count (``count_request`` adds it up); ``count_text`` counts a bare text (a tool
    result being shortened). ``calibrate`` is told what the server reported for a request the
    counter counted: exact counters may ignore it. Counts are ints >= 0 and a function of their
    arguments and of what ``calibrate`` was told."""

    @property
    def source(self) -> CountSource: ...

    def count_text(self, text: str) -> int: ...

    def count_message(self, message: Message) -> int: ...

    def count_fixed(self, system_prompt: str | None, tools: Sequence[ToolSpec]) -> int: ...

    def calibrate(
        self, messages: Sequence[Message], system_prompt: str | None, tools: Sequence[ToolSpec], prompt_tokens: int
    ) -> None: ...


def count_request(
    counter: TokenCounter,
    messages: Iterable[Message],
    *,
    system_prompt: str | None = None,
    tools: Sequence[ToolSpec] = (),
) -> int:
    """The request's prompt tokens by ``counter``."""
    return counter.count_fixed(system_prompt, tools) + sum(counter.count_message(m) for m in messages)


@attrs.frozen(repr=False, eq=False)
class CharEstimate(Value):
    """Characters / ``chars_per_token`` (rounded up, per message), images as ``IMAGE_TOKENS``,
    plus ``overhead`` per message. Errs on the high side for English; never learns."""

    chars_per_token: float = attrs.field(default=CHARS_PER_TOKEN, validator=attrs.validators.gt(0))
    overhead: int = attrs.field(default=MESSAGE_OVERHEAD, validator=attrs.validators.ge(0))

    @property
    def source(self) -> CountSource:
        return "estimate"

    def count_text(self, text: str) -> int:
        return math.ceil(len(text) / self.chars_per_token)

    def count_message(self, message: Message) -> int:
        chars, images = message_text(message)
        return math.ceil(chars / self.chars_per_token) + images * IMAGE_TOKENS + self.overhead

    def count_fixed(self, system_prompt: str | None, tools: Sequence[ToolSpec]) -> int:
        chars = len(system_prompt or "") + tools_text(tools)
        return math.ceil(chars / self.chars_per_token) + (self.overhead if system_prompt else 0)

    def calibrate(
        self, messages: Sequence[Message], system_prompt: str | None, tools: Sequence[ToolSpec], prompt_tokens: int
    ) -> None:
        return None


def estimate_tokens(
    messages: Sequence[Message], *, system_prompt: str | None = None, tools: Sequence[ToolSpec] = ()
) -> int:
    """A rough prompt size in tokens by the plain ``CharEstimate``: characters / 4, images as
    ``IMAGE_TOKENS``, plus template overhead. Meant for budgets, not billing."""
    return count_request(_PLAIN, messages, system_prompt=system_prompt, tools=tools)


_PLAIN = CharEstimate()


# ---- the calibrated estimate -----------------------------------------------------------------

#: The fit's unknowns: tokens per character, per message, and for the frame around tools.
_PRIOR = (1.0 / CHARS_PER_TOKEN, float(MESSAGE_OVERHEAD), 0.0)
#: How hard the fit holds to the prior of each unknown, in units of one observation of a request
#: as large as the largest seen: the per-character rate is learned at once, the per-message
#: overhead (a few tokens in every template) moves only on clear evidence, and the frame around
#: tools is learned from requests with and without tools.
_PRIOR_WEIGHTS = (0.02, 2.0, 0.02)
#: Each new observation counts this much more than the one before (old requests fade).
_FORGET = 0.8
#: Reports this far from the estimate are not learned from (a server that truncated, or a
#: report of a different request).
_IMPLAUSIBLE = 4.0


class _Fit(Record):
    """The weighted least-squares sums over (chars, messages, tool frames) -> reported tokens."""

    __slots__ = ("scale", "seen", "theta", "xtx", "xty")

    def __init__(self, *, theta: tuple[float, float, float] = _PRIOR) -> None:
        self.xtx = [[0.0] * 3 for _ in range(3)]
        self.xty = [0.0] * 3
        self.scale = [0.0] * 3
        self.seen = 0
        self.theta = theta


class CalibratedEstimate:
    """The character estimate, calibrated on what the server reported.

    ``calibrate(messages, system_prompt, tools, prompt_tokens)`` after each response adds one
    observation; the fit (tokens per character, per message, and a fixed frame when tools are
    sent) is a ridge least-squares solution that starts at the plain estimate and is pulled to
    the server's counts, the newest observations weighing most. Reports far from the estimate
    (a server that silently dropped the start of the prompt) are not learned from.
    ``observations`` says how many were."""

    def __init__(self, *, chars_per_token: float = CHARS_PER_TOKEN, overhead: int = MESSAGE_OVERHEAD) -> None:
        if not (isinstance(chars_per_token, int | float) and chars_per_token > 0):
            raise ValueError(f"chars_per_token must be a number > 0, not {chars_per_token!r}")
        self._prior = (1.0 / chars_per_token, float(overhead), 0.0)
        self._fit = _Fit(theta=self._prior)

    def __repr__(self) -> str:
        per_char, per_message, frame = self._fit.theta
        return (
            f"CalibratedEstimate(chars_per_token={1 / per_char if per_char else math.inf:.3f}, "
            f"overhead={per_message:.2f}, tools_frame={frame:.1f}, observations={self._fit.seen})"
        )

    @property
    def source(self) -> CountSource:
        return "calibrated" if self._fit.seen else "estimate"

    @property
    def observations(self) -> int:
        return self._fit.seen

    @property
    def chars_per_token(self) -> float:
        per_char = self._fit.theta[0]
        return 1.0 / per_char if per_char > 0 else math.inf

    def count_text(self, text: str) -> int:
        return math.ceil(len(text) * self._fit.theta[0])

    def count_message(self, message: Message) -> int:
        per_char, per_message, _ = self._fit.theta
        chars, images = message_text(message)
        return max(0, math.ceil(chars * per_char + per_message)) + images * IMAGE_TOKENS

    def count_fixed(self, system_prompt: str | None, tools: Sequence[ToolSpec]) -> int:
        per_char, per_message, frame = self._fit.theta
        chars = len(system_prompt or "") + tools_text(tools)
        value = chars * per_char + (per_message if system_prompt else 0.0) + (frame if tools else 0.0)
        return max(0, math.ceil(value))

    def calibrate(
        self, messages: Sequence[Message], system_prompt: str | None, tools: Sequence[ToolSpec], prompt_tokens: int
    ) -> None:
        if not isinstance(prompt_tokens, int) or prompt_tokens <= 0:
            return
        chars = len(system_prompt or "") + tools_text(tools)
        images = 0
        for message in messages:
            c, i = message_text(message)
            chars += c
            images += i
        target = prompt_tokens - images * IMAGE_TOKENS
        count = len(messages) + (1 if system_prompt else 0)
        row = (float(chars), float(count), 1.0 if tools else 0.0)
        guess = sum(x * t for x, t in zip(row, self._fit.theta, strict=True))
        if target <= 0 or guess <= 0 or not (1 / _IMPLAUSIBLE <= target / guess <= _IMPLAUSIBLE):
            return
        self._observe(row, float(target))

    def _observe(self, row: tuple[float, float, float], target: float) -> None:
        fit = self._fit
        for i in range(3):
            fit.xty[i] *= _FORGET
            for j in range(3):
                fit.xtx[i][j] *= _FORGET
        for i in range(3):
            fit.xty[i] += row[i] * target
            fit.scale[i] = max(fit.scale[i], abs(row[i]))
            for j in range(3):
                fit.xtx[i][j] += row[i] * row[j]
        fit.seen += 1
        # ridge towards the prior, each unknown scaled by the largest value its column took
        matrix = [list(line) for line in fit.xtx]
        vector = list(fit.xty)
        for i in range(3):
            weight = _PRIOR_WEIGHTS[i] * max(fit.scale[i], 1.0) ** 2
            matrix[i][i] += weight
            vector[i] += weight * self._prior[i]
        solved = _solve3(matrix, vector)
        if solved is None:
            return
        per_char, per_message, frame = solved
        if per_char <= 0:
            return
        fit.theta = (per_char, max(0.0, per_message), max(0.0, frame))


def _solve3(matrix: list[list[float]], vector: list[float]) -> tuple[float, float, float] | None:
    """Gaussian elimination with partial pivoting on a 3x3 system; None if it is singular."""
    a = [[*matrix[i], vector[i]] for i in range(3)]
    for col in range(3):
        pivot = max(range(col, 3), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-12:
            return None
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(3):
            if r != col:
                factor = a[r][col] / a[col][col]
                for c in range(col, 4):
                    a[r][c] -= factor * a[col][c]
    x0, x1, x2 = (a[i][3] / a[i][i] for i in range(3))
    if not all(math.isfinite(v) for v in (x0, x1, x2)):
        return None
    return x0, x1, x2
