"""Small helpers of the core."""

from __future__ import annotations

import gc

import pytest

from anyagent_core import NEED_DATA, PAUSED, TextDelta
from anyagent_core._util import gc_paused, parsed_builder, snippet


def test_parsed_builder_must_name_every_field_and_get_every_value() -> None:
    with pytest.raises(TypeError, match="fields are"):
        parsed_builder(TextDelta, "text")
    build = parsed_builder(TextDelta, "choice", "text")
    assert build(2, "x") == TextDelta(text="x", choice=2)
    with pytest.raises(TypeError, match="positional argument"):
        build("x")


def test_snippet_marks_truncation() -> None:
    assert snippet(b"abc") == "abc"
    assert snippet(b"x" * 100, 10, 5) == "xxxxx..."
    assert snippet("h\u00e9llo", 1, 2) == "\u00e9l..."


def test_signals_repr_as_their_names() -> None:
    assert repr(NEED_DATA) == "NEED_DATA"
    assert repr(PAUSED) == "PAUSED"


def test_gc_paused_pauses_the_collector_and_leaves_it_as_it_found_it() -> None:
    assert gc.isenabled()
    seen = []

    def fail() -> None:
        with gc_paused():
            seen.append(gc.isenabled())
            raise KeyError

    with pytest.raises(KeyError):
        fail()
    assert seen == [False]
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # off before, off after
    finally:
        gc.enable()
