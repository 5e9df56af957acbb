"""The core stays sans-IO: no I/O or async library, no clock, no randomness, no environment."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

import anyagent_core

CORE = pathlib.Path(anyagent_core.__file__).parent
MODULES = sorted(CORE.rglob("*.py"))

BANNED_MODULES = {
    "asyncio", "anyio", "trio", "sniffio", "httpx", "httpcore", "h11", "socket", "ssl", "select",
    "selectors", "threading", "_thread", "subprocess", "sqlite3", "multiprocessing", "concurrent",
    "time", "random", "secrets", "uuid", "os", "io", "pathlib", "shutil", "tempfile", "logging",
    "urllib.request", "http.client", "signal",
}  # fmt: skip
BANNED_ATTRIBUTES = {
    ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
    ("os", "environ"), ("os", "getenv"), ("sys", "stdin"), ("sys", "stdout"), ("sys", "stderr"),
}  # fmt: skip
BANNED_CALLS = {"open", "input", "print", "breakpoint", "exec", "eval", "__import__"}


def violations(source: str, filename: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if any(".".join(parts[: i + 1]) in BANNED_MODULES for i in range(len(parts))):
                found.append(f"{filename}:{getattr(node, 'lineno', 0)}: imports {name}")
        if isinstance(node, ast.Attribute):
            owner = node.value
            owner_name = (
                owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            )
            if (owner_name, node.attr) in BANNED_ATTRIBUTES:
                found.append(f"{filename}:{getattr(node, 'lineno', 0)}: uses {owner_name}.{node.attr}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in BANNED_CALLS:
            found.append(f"{filename}:{getattr(node, 'lineno', 0)}: calls {node.func.id}()")
    return found


def test_core_modules_exist() -> None:
    assert {p.name for p in MODULES} >= {"_sse.py", "_framing.py", "_connection.py", "_writer.py"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_core_module_is_pure(path: pathlib.Path) -> None:
    assert violations(path.read_text(encoding="utf-8"), path.name) == []


@pytest.mark.parametrize(
    "source",
    [
        "import asyncio",
        "import os.path",
        "from time import monotonic",
        "from concurrent.futures import ThreadPoolExecutor",
        "import datetime\ndatetime.datetime.now()",
        "from datetime import datetime\ndatetime.now()",
        "import os\nos.environ['X']",
        "open('f')",
        "from urllib import request",
    ],
)
def test_the_scan_catches_violations(source: str) -> None:
    assert violations(source, "x.py") != []


def test_importing_the_core_loads_no_io_module() -> None:
    # The allowed dependencies are imported first; whatever they pull in is theirs.
    script = (
        "import sys, attrs, json, re, re2, base64, enum, typing, collections\n"
        "before = set(sys.modules)\n"
        "import importlib, pkgutil, anyagent_core\n"
        "for name in dir(anyagent_core): getattr(anyagent_core, name)\n"  # the package loads them lazily
        "for info in pkgutil.iter_modules(anyagent_core.__path__):\n"
        "    importlib.import_module('anyagent_core.' + info.name)\n"
        "print('\\n'.join(sorted(set(sys.modules) - before)))\n"
    )
    new = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert [m for m in new if m.split(".")[0] in BANNED_MODULES] == []
    assert any(m.startswith("anyagent_core") for m in new)
