"""What the emulation tests share: parsing shortcuts, splitting, and the generated prose and
XML values."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from anyagent_core import (
    ToolCallTextFilter,
    ToolSpec,
    parse_tool_calls,
    thaw_json,
)

WEATHER = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


def calls_of(text: str) -> list[tuple[str, Any, str | None]]:
    return [(c.name, None if c.input is None else thaw_json(c.input), c.error) for c in parse_tool_calls(text).calls]


def split(text: str, points: Sequence[int]) -> list[str]:
    cuts = sorted({p for p in points if 0 < p < len(text)})
    return [text[a:b] for a, b in itertools.pairwise([0, *cuts, len(text)])]


def filtered(pieces: Sequence[str]) -> tuple[list[str], str]:
    """Every ``feed`` result in order, and the final ``finish`` result."""
    stream = ToolCallTextFilter()
    return [stream.feed(piece) for piece in pieces], stream.finish()


def shown(pieces: Sequence[str]) -> str:
    fed, rest = filtered(pieces)
    return "".join(fed) + rest


_prose_chars = st.characters(exclude_categories=["Cs"], exclude_characters="<`")
prose = st.one_of(
    st.text(_prose_chars, min_size=1, max_size=30),
    st.sampled_from(["a < b", "use `x`", "1 <= 2", '{"name": "f"}', "é 🌍", "x\n\n\ny", "  \t "]),
)


# A value ending in "\r" is the one a writer cannot round-trip: with the layout line break after
# it, it reads as a value ending in a "\r\n" line break.
xml_values = st.text(st.characters(exclude_categories=["Cs"]), max_size=20).filter(
    lambda value: (
        not value.endswith("\r") and not any(tag in value for tag in ("</parameter>", "<tool_call>", "</tool_call>"))
    )
) | st.sampled_from(["", "\n", "line one\nline two", "  indented\n\n", "<b>bold</b>", '{"a": 1}', "42"])


XML_WEATHER = (
    "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n"
    "<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>"
)
TYPED = ToolSpec(
    name="f",
    parameters={
        "type": "object",
        "properties": {
            "s": {"type": "string"},
            "i": {"type": "integer"},
            "n": {"type": "number"},
            "b": {"type": "boolean"},
            "o": {"type": "object"},
            "a": {"type": "array", "items": {"type": "integer"}},
            "maybe": {"type": ["integer", "null"]},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "any": {},
        },
    },
)


def xml_call(**values: str) -> str:
    body = "".join(f"<parameter={key}>\n{value}\n</parameter>\n" for key, value in values.items())
    return f"<tool_call>\n<function=f>\n{body}</function>\n</tool_call>"
