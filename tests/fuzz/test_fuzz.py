"""The fuzz targets in the ordinary suite: every seed in the corpus, then hypothesis's inputs
(a bounded number per target: ``$FUZZ_EXAMPLES``, default 200). ``nox -s fuzz`` runs the same
targets for a bounded time instead (``tests/fuzz/run.py``)."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.run import CORPUS, mutate, seeds
from tests.fuzz.targets import TARGETS, connection, emulation, schema, think

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TOKENS = st.sampled_from(
    ["<think>", "</think>", "<tool_call>", "</tool_call>", "```", "```json", "\n", " ", "{", "}", "[", "]", '"',
     '"name"', ":", ",", '"arguments"', "1e999", "NaN", "<function=f>", "<parameter=x>", "</parameter>",
     "</function>", "<thi", "</thi", "`", "\\", "é", "\r\n"]
)  # fmt: skip
TEXTS = st.lists(TOKENS | st.text(max_size=8), max_size=40).map("".join)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
KEYWORDS = st.sampled_from(
    ["type", "enum", "const", "minimum", "maximum", "multipleOf", "pattern", "items", "prefixItems", "properties",
     "required", "anyOf", "oneOf", "allOf", "not", "$ref", "$defs", "uniqueItems", "contains", "minLength",
     "additionalProperties", "patternProperties", "nullable"]
)  # fmt: skip
SCHEMAS = st.recursive(
    st.dictionaries(KEYWORDS, JSON, max_size=3),
    lambda inner: st.dictionaries(KEYWORDS, inner | st.lists(inner, max_size=3) | JSON, max_size=4),
    max_leaves=10,
)


def chunk(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def choice(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


DELTAS = st.fixed_dictionaries(
    {},
    optional={
        "content": st.text(max_size=10) | TOKENS,
        "reasoning_content": st.text(max_size=5),
        "tool_calls": st.lists(
            st.fixed_dictionaries(
                {"index": st.integers(0, 2)},
                optional={
                    "id": st.text(max_size=3),
                    "function": st.fixed_dictionaries({}, optional={"name": st.text(max_size=3), "arguments": TEXTS}),
                },
            ),
            max_size=2,
        ),
    },
)
STREAMS = st.tuples(
    st.integers(0, 255),
    st.lists(
        st.builds(choice, DELTAS, st.none() | st.sampled_from(["stop", "tool_calls", "length"])),
        max_size=6,
    ),
    st.booleans(),
).map(lambda t: bytes([t[0]]) + b"".join(chunk(c) for c in t[1]) + (b"data: [DONE]\n\n" if t[2] else b""))


@pytest.mark.parametrize("name", list(TARGETS))
def test_every_target_has_seeds_and_passes_them(name: str) -> None:
    found = seeds(name)
    assert found, f"no seeds in {CORPUS / name}"
    for data in found:
        TARGETS[name](data)


@FUZZ
@given(STREAMS | st.binary(max_size=512))
def test_fuzz_connection(data: bytes) -> None:
    connection(data)


@FUZZ
@given(TEXTS.map(str.encode) | st.binary(max_size=256))
def test_fuzz_emulation(data: bytes) -> None:
    emulation(data)


@FUZZ
@given(TEXTS.map(str.encode) | st.binary(max_size=256))
def test_fuzz_think(data: bytes) -> None:
    think(data)


@FUZZ
@given(st.tuples(SCHEMAS, JSON).map(lambda pair: json.dumps(list(pair)).encode()) | st.binary(max_size=128))
def test_fuzz_schema(data: bytes) -> None:
    schema(data)


@FUZZ
@given(st.sampled_from(list(TARGETS)), st.randoms(use_true_random=False))
def test_fuzz_mutated_seeds(name: str, rng: Any) -> None:
    pool = seeds(name)
    TARGETS[name](mutate(rng.choice(pool), pool, rng))
