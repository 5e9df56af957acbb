"""The core's import rules, checked on the source (every module, subpackages included).

1. The framing is dialect-free: ``_sse.py`` and ``_framing.py`` import no module of
   ``_dialects``, nor ``_connection`` (they sit below both).
2. A dialect is reached only through the table: the modules of a dialect package
   (``_dialects/<name>/``) are imported only by ``_dialects/__init__.py`` (the table), by the
   dialect's own modules, and by ``anyagent_core/__init__.py`` for the public names it defines
   (``parse_request_body``). ``Connection`` imports ``_dialects`` itself and nothing below it.
3. The package ``_dialects`` is imported only by ``_connection.py`` (which takes a dialect) and
   by the modules of ``_dialects`` itself.
4. Dialects sit below the connection: nothing in ``_dialects`` imports ``_connection``, and
   the text rules (``_textual``) import no dialect.
5. The agent loop (``_agent``) imports no dialect, nor the connection or the framing.
6. The public submodules (``anyagent_core.wire``, ``.settings``, ...) re-export names; like
   ``anyagent_core/__init__.py`` they may import what they re-export, a dialect's public names
   included. ``anyagent_httpx`` imports only ``anyagent_core`` and those public submodules.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

import anyagent_core

CORE = pathlib.Path(anyagent_core.__file__).parent
PACKAGE = "anyagent_core"


def module_name(path: pathlib.Path) -> str:
    parts = [PACKAGE, *path.relative_to(CORE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(CORE.rglob("*.py"))}


def imports(name: str) -> set[str]:
    """Every core module ``name`` imports, relative imports resolved, ``from X import y``
    counted as importing ``X`` and (when it is a module) ``X.y``."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {m for m in found if m in MODULES}


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


DIALECTS = f"{PACKAGE}._dialects"
#: The package and its public submodules: re-exports of what lives in the private modules.
FACADES = {name for name in MODULES if name == PACKAGE or not name.split(".")[-1].startswith("_")}
DIALECT_PACKAGES = sorted(
    name
    for name, path in MODULES.items()
    if path.name == "__init__.py" and name.count(".") == 2 and within(name, DIALECTS)
)


def test_the_scan_sees_the_layers() -> None:
    assert f"{DIALECTS}._openai_chat" in DIALECT_PACKAGES
    assert imports(f"{PACKAGE}._connection") >= {DIALECTS, f"{PACKAGE}._framing"}
    assert f"{DIALECTS}._openai_chat" in imports(DIALECTS)


@pytest.mark.parametrize("name", [f"{PACKAGE}._sse", f"{PACKAGE}._framing"])
def test_the_framing_imports_no_dialect(name: str) -> None:
    bad = {m for m in imports(name) if within(m, DIALECTS) or m == f"{PACKAGE}._connection"}
    assert bad == set()


@pytest.mark.parametrize("dialect", DIALECT_PACKAGES)
def test_a_dialect_is_imported_only_through_the_table(dialect: str) -> None:
    allowed = {DIALECTS, *FACADES}
    offenders = {
        name
        for name in MODULES
        if name not in allowed and not within(name, dialect) and any(within(m, dialect) for m in imports(name))
    }
    assert offenders == set()


def test_only_the_connection_takes_a_dialect() -> None:
    offenders = {
        name
        for name in MODULES
        if not within(name, DIALECTS) and name not in {f"{PACKAGE}._connection", *FACADES} and DIALECTS in imports(name)
    }
    assert offenders == set()


def test_dialects_and_text_rules_sit_below_the_connection() -> None:
    for name in MODULES:
        if within(name, DIALECTS):
            assert f"{PACKAGE}._connection" not in imports(name), name
        if within(name, f"{PACKAGE}._textual"):
            assert not any(within(m, DIALECTS) for m in imports(name)), name


@pytest.mark.parametrize(
    "source",
    [
        "from ._dialects._openai_chat._assembler import ResponseAssembler",
        "from anyagent_core._dialects import DIALECTS",
        "from ._dialects import _openai_chat",
        "from . import _connection",
    ],
)
def test_the_scan_catches_a_framing_violation(tmp_path: pathlib.Path, source: str) -> None:
    # The resolver on a made-up module beside _framing, so a violation is seen, not just absent.
    fake = f"{PACKAGE}._fake_framing"
    MODULES[fake] = tmp_path / "_fake_framing.py"
    MODULES[fake].write_text(source + "\n", encoding="utf-8")
    try:
        assert any(within(m, DIALECTS) or m == f"{PACKAGE}._connection" for m in imports(fake))
    finally:
        del MODULES[fake]


def test_the_agent_loop_imports_no_dialect() -> None:
    # The loop speaks the dialect-free value types; requests become bytes in a Connection.
    offenders = {
        (name, m)
        for name in MODULES
        if within(name, f"{PACKAGE}._agent")
        for m in imports(name)
        if within(m, DIALECTS) or m == f"{PACKAGE}._connection" or m == f"{PACKAGE}._framing"
    }
    assert offenders == set()


def test_the_transport_package_imports_only_public_core_names() -> None:
    # anyagent_httpx is a client of the core like any other: it imports anyagent_core and its
    # public submodules (anyagent_core.settings, .wire, ...), never a private module.
    import anyagent_httpx

    root = pathlib.Path(anyagent_httpx.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == PACKAGE and any(part.startswith("_") and part != "__version__" for part in parts[1:2]):
                    offenders.append(f"{path.relative_to(root)}:{node.lineno}: {name}")
    assert offenders == []
