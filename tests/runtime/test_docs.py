"""docs/transports.md states defaults and fields; they are checked against the code."""

from __future__ import annotations

import ast
import inspect
import pathlib
import re
import typing

import attrs

from anyagent_core import ResultSubtype
from anyagent_httpx import BUILTIN_TOOLS
from anyagent_httpx._transports import H11Transport
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


AGENT_DOC = pathlib.Path(__file__).parents[2] / "docs" / "agent.md"


def test_agent_doc_lists_every_result_subtype_and_builtin_tool() -> None:
    text = AGENT_DOC.read_text(encoding="utf-8")
    rows = re.findall(r"^\| (`[a-z_]+`(?: / `[a-z_]+`)?) \|", text, flags=re.MULTILINE)
    documented = {name.strip("`") for row in rows for name in row.split(" / ")}
    assert documented >= set(typing.get_args(ResultSubtype))
    for name in BUILTIN_TOOLS:
        assert f"`{name}`" in text, f"docs/agent.md does not describe the built-in tool {name}"


def test_agent_doc_python_blocks_compile() -> None:
    blocks = re.findall(r"```python\n(.*?)```", AGENT_DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert blocks
    for block in blocks:
        compile(block, str(AGENT_DOC), "exec")
