"""docs/transports.md states defaults and fields; they are checked against the code."""

from __future__ import annotations

import ast
import inspect
import pathlib

import attrs

from anyagent_httpx._h11 import H11Transport
from anyagent_httpx.testing import Reply

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "transports.md"


def table(marker: str) -> dict[str, object]:
    """The first two columns (name, default as a Python literal) of the table between
    ``<!-- marker -->`` and its closing comment."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split(f"<!-- {marker} -->")[1].split(f"<!-- /{marker} -->")[0]
    rows = [line.strip().strip("|").split("|") for line in block.strip().splitlines()[2:]]
    return {cells[0].strip().strip("`"): ast.literal_eval(cells[1].strip().strip("`")) for cells in rows}


def test_h11_settings_table_matches_the_constructor() -> None:
    parameters = inspect.signature(H11Transport).parameters
    assert table("h11-settings") == {name: p.default for name, p in parameters.items()}


def test_reply_fields_table_matches_the_class() -> None:
    assert table("reply-fields") == {field.name: field.default for field in attrs.fields(Reply)}
