"""docs/durable.md and the durable module's public names: documented, and the page's code compiles."""

from __future__ import annotations

import ast
import inspect
import pathlib
import re

import pytest

import anyagent_httpx.durable as durable
from anyagent_httpx.durable._agent import _OVERRIDABLE

ROOT = pathlib.Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "durable.md"


def test_every_public_name_is_documented() -> None:
    for name in durable.__all__:
        obj = getattr(durable, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert (obj.__doc__ or "").strip(), name


def test_the_page_s_python_blocks_compile() -> None:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(blocks) >= 2
    for block in blocks:
        compile(block, str(PAGE), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def test_the_page_names_every_override_and_the_reference_page_exists() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for name in _OVERRIDABLE:
        assert f"`{name}`" in text, name
    assert "::: anyagent_httpx.durable" in (ROOT / "docs" / "reference" / "durable.md").read_text(encoding="utf-8")


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        durable.Nothing  # noqa: B018
