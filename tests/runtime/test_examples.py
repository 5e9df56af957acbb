"""The examples run from their shipped recordings with no server, as a user would run them."""

from __future__ import annotations

import pathlib
import subprocess
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=EXAMPLES.parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_copy_editor_prints_validated_issues_after_one_retry() -> None:
    out = run_example("copy_editor.py")
    lines = out.splitlines()
    assert lines[0].startswith("(asked again: Your answer does not match the required JSON schema")
    assert lines[1] == "2 issue(s), validated against the schema:"
    assert "chapters/03-departure.md:4" in lines[2]
    assert "spelling" in lines[2] and "the early ferry" in lines[2]


def test_custom_tool_runs_the_decorated_function_on_the_workspace() -> None:
    out = run_example("custom_tool.py")
    assert out.count("[hook] count(") == 3
    assert "Chapter 1 has 59 words, chapter 2 has 79 and chapter 3 has 33." in out
    assert out.rstrip().endswith("[success] 2 turns")


def test_embed_core_drives_the_loop_without_async() -> None:
    out = run_example("embed_core.py")
    assert 'tool population({"city": "Lyon"}) -> Lyon: 522,250 inhabitants' in out
    assert "model: Marseille is bigger" in out
    assert out.rstrip().endswith("[success] 2 turns")


def test_trio_app_answers_concurrently_and_interrupts_the_slow_one() -> None:
    out = run_example("trio_app.py")
    assert "What is the capital of France? One word. -> Paris." in out
    assert "Name the longest river in France. One word. -> Loire." in out
    story = next(line for line in out.splitlines() if line.startswith("story:"))
    assert story.startswith("story: interrupted after 0.5 s, kept: 'The sea was grey")
    assert "rumour" not in story  # cut short: the end of the story never arrived
