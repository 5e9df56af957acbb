"""Documentation that states facts about the code is checked against the code."""

from __future__ import annotations

import pathlib
import re
import shlex

from anyagent_core._state import EVENT_TRIGGERED_TRANSITIONS

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_state_table_in_docs_matches_the_code() -> None:
    text = (ROOT / "docs" / "core.md").read_text(encoding="utf-8")
    block = text.split("<!-- transitions -->")[1].split("<!-- /transitions -->")[0]
    rows = {tuple(cell.strip() for cell in line.strip("|").split("|")) for line in block.strip().splitlines()[2:]}
    code = {
        (side.value, state.value, inp.value, new.value)
        for side, table in EVENT_TRIGGERED_TRANSITIONS.items()
        for state, moves in table.items()
        for inp, new in moves.items()
    }
    assert rows == code


def test_module_table_in_docs_lists_every_core_module() -> None:
    text = (ROOT / "docs" / "core.md").read_text(encoding="utf-8")
    block = text.split("<!-- modules -->")[1].split("<!-- /modules -->")[0]
    listed: list[str] = []
    for line in block.strip().splitlines()[2:]:
        first_cell = line.strip().strip("|").split("|")[0]
        listed.extend(re.findall(r"`([^`]+\.py)`", first_cell))
    core = ROOT / "src" / "anyagent_core"
    files = {path.relative_to(core).as_posix() for path in core.rglob("*.py")}
    assert len(listed) == len(set(listed)), "a module is listed twice"
    assert set(listed) - files == set(), "listed in docs/core.md but not a file"
    assert files - set(listed) == set(), "a core module missing from the table in docs/core.md"


def test_ci_runs_the_readme_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    setup, run, test = blocks[0].strip(), blocks[1].strip(), blocks[2].strip()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_lines = {line.strip() for line in ci.splitlines()}
    for command in (setup, run, test):
        assert command in ci_lines, f"{command!r} is in the README but not in .ci/run"
        assert shlex.split(command)


def test_loop_table_in_docs_matches_the_code() -> None:
    from anyagent_core._agent._loop_state import transition_rows

    text = (ROOT / "docs" / "agent.md").read_text(encoding="utf-8")
    block = text.split("<!-- loop-actions -->")[1].split("<!-- /loop-actions -->")[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in block.strip().splitlines()[2:]]
    assert [(row[0].strip("`"), row[-1]) for row in rows] == transition_rows()
