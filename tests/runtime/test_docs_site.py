"""The documentation site: mkdocs.yml lists every page in docs/, the reference pages name the
public modules, every public class and function has a docstring (the reference is generated
from them), and the settings table of docs/files.md matches the code."""

from __future__ import annotations

import argparse
import ast
import inspect
import pathlib
import re
import types

import pytest

import anyagent_core
import anyagent_httpx
import anyagent_httpx.telemetry
import anyagent_httpx.testing
from anyagent_httpx._cli import _parser
from anyagent_httpx._settings_file import SETTINGS_KEYS

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CONFIG = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


def test_the_nav_lists_every_page_and_only_pages_that_exist() -> None:
    listed = set(re.findall(r":\s*([\w/.-]+\.md)\s*$", CONFIG, flags=re.MULTILINE))
    pages = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    assert listed == pages


@pytest.mark.parametrize(
    "module", [anyagent_httpx, anyagent_httpx.telemetry, anyagent_httpx.testing, anyagent_core], ids=str
)
def test_every_public_class_and_function_has_a_docstring(module: types.ModuleType) -> None:
    names = getattr(module, "__all__", [name for name in vars(module) if not name.startswith("_")])
    undocumented = [
        name
        for name in names
        if (inspect.isclass(obj := getattr(module, name)) or inspect.isfunction(obj))
        and not (obj.__doc__ or "").strip()
    ]
    assert undocumented == []


def test_every_public_module_has_a_reference_entry() -> None:
    reference = "\n".join(path.read_text(encoding="utf-8") for path in (DOCS / "reference").glob("*.md"))
    documented = set(re.findall(r"^::: ([\w.]+)", reference, flags=re.MULTILINE))
    core_public = {
        f"anyagent_core.{path.stem}" for path in pathlib.Path(anyagent_core.__file__).parent.glob("[a-z]*.py")
    }
    assert documented >= {"anyagent_httpx", "anyagent_httpx.telemetry", "anyagent_httpx.testing", "anyagent_core"}
    assert documented >= core_public


def test_the_settings_table_matches_the_settings_and_the_cli() -> None:
    text = (DOCS / "files.md").read_text(encoding="utf-8")
    block = text.split("<!-- settings-keys -->")[1].split("<!-- /settings-keys -->")[0]
    rows = [line.strip().strip("|").split("|") for line in block.strip().splitlines()[2:]]
    table = {cells[0].strip().strip("`"): cells[1].strip().strip("`") for cells in rows}
    assert list(table) == list(SETTINGS_KEYS)
    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    run = commands.choices["run"]
    options = {option: action.dest for action in run._actions for option in action.option_strings}
    for key, flag in table.items():
        assert options[flag] == SETTINGS_KEYS[key][1], key


@pytest.mark.parametrize("page", ["index.md", "observability.md", "files.md"])
def test_the_python_blocks_of_the_new_pages_compile(page: str) -> None:
    path = DOCS / page
    blocks = re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert blocks
    for block in blocks:
        compile(block, str(path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
