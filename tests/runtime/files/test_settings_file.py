"""The settings file: found from the current folder up, validated naming file and setting, and
the CLI's precedence: flag > environment > file > default."""

from __future__ import annotations

import io
import pathlib

import pytest

from anyagent_httpx import ConfigurationError, find_settings_file, load_settings, user_dirs
from anyagent_httpx._cli import _parser, main

PROJECT = """\
provider = "ollama"
model = "file-model"
tools = ["read_file", "grep"]
allowed_tools = ["grep"]
disallowed_tools = ["bash(rm *)"]
permission_mode = "acceptEdits"
max_tokens = 100
stream = false
cwd = "work"
skill_dirs = ["team-skills"]
"""


def test_the_nearest_file_is_found_and_a_project_top_ends_the_search(tmp_path: pathlib.Path) -> None:
    (tmp_path / "anyagent.toml").write_text('model = "outer"\n', "utf-8")
    inner = tmp_path / "repo" / "src" / "pkg"
    inner.mkdir(parents=True)
    assert find_settings_file(inner) == tmp_path / "anyagent.toml"
    (tmp_path / "repo" / "pyproject.toml").write_text('[project]\nname = "x"\n', "utf-8")
    assert find_settings_file(inner) is None  # a pyproject.toml without [tool.anyagent] is the top
    (tmp_path / "repo" / "pyproject.toml").write_text('[tool.anyagent]\nmodel = "py"\n', "utf-8")
    assert find_settings_file(inner) == tmp_path / "repo" / "pyproject.toml"
    assert load_settings(inner, user=False).values == {"model": "py"}
    (tmp_path / "repo" / "src" / ".git").mkdir()
    assert find_settings_file(inner) is None


def test_values_and_paths(tmp_path: pathlib.Path) -> None:
    (tmp_path / "anyagent.toml").write_text(PROJECT, "utf-8")
    settings = load_settings(tmp_path, user=False)
    assert settings.values["cwd"] == str((tmp_path / "work").resolve())
    assert settings.values["skill_dirs"] == [str((tmp_path / "team-skills").resolve())]
    assert settings.sources["model"] == tmp_path / "anyagent.toml"


def test_the_users_file_is_under_the_projects(tmp_path: pathlib.Path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    (user / "anyagent.toml").write_text('model = "user-model"\ntemperature = 0.5\n', "utf-8")
    project = tmp_path / "project"
    project.mkdir()
    (project / "anyagent.toml").write_text('model = "project-model"\n', "utf-8")
    env = {"ANY_AGENT_CONFIG_DIR": str(user)}
    assert user_dirs(env) == (user,)
    assert load_settings(project, env=env).values == {"model": "project-model", "temperature": 0.5}


def test_user_dirs_follow_the_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    assert user_dirs({"HOME": "/h"}) == (pathlib.Path("/h/.anyagent"), pathlib.Path("/h/.config/anyagent"))
    assert user_dirs({"HOME": "/h", "XDG_CONFIG_HOME": "/x"})[1] == pathlib.Path("/x/anyagent")
    monkeypatch.setattr("sys.platform", "darwin")
    assert user_dirs({"HOME": "/h"})[1] == pathlib.Path("/h/Library/Application Support/anyagent")
    assert user_dirs({}) == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('modle = "x"\n', "unknown setting 'modle'; known: provider"),
        ("max_tokens = -1\n", "'max_tokens' must be an integer of at least 1, not -1"),
        ('tools = ["teleport"]\n', "'tools' must be a list of built-in tool names"),
        ('allowed_tools = ["bash("]\n', "'allowed_tools' must be a list of permission rules"),
        ('permission_mode = "yolo"\n', "'permission_mode' must be one of"),
        ('api_key = "sk-123"\n', "'api_key' does not belong in a file"),
        ("stream = 1\n", "'stream' must be true or false"),
        ("model = \n", "is not valid TOML"),
    ],
)
def test_bad_settings_are_refused_naming_the_file_and_setting(tmp_path: pathlib.Path, text: str, message: str) -> None:
    (tmp_path / "anyagent.toml").write_text(text, "utf-8")
    with pytest.raises(ConfigurationError, match=message) as caught:
        load_settings(tmp_path, user=False)
    assert "anyagent.toml" in str(caught.value)
    assert "sk-123" not in str(caught.value)


def test_pyproject_table_is_named_in_errors(tmp_path: pathlib.Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.anyagent]\nmax_turns = 0\n", "utf-8")
    with pytest.raises(ConfigurationError, match=r"\[tool.anyagent\] in .*pyproject.toml: 'max_turns'"):
        load_settings(tmp_path, user=False)


def parse(tmp_path: pathlib.Path, argv: list[str], env: dict[str, str]) -> dict[str, object]:
    defaults = load_settings(tmp_path, user=False).cli_defaults(env)
    return vars(_parser(defaults).parse_args(["run", "hi", *argv]))


def test_precedence_flag_then_environment_then_file_then_default(tmp_path: pathlib.Path) -> None:
    (tmp_path / "anyagent.toml").write_text(PROJECT + 'api_key_env = "MY_KEY"\n', "utf-8")
    args = parse(tmp_path, [], {})
    assert args["model"] == "file-model" and args["provider"] == "ollama"  # file over default
    assert args["permission_mode"] == "acceptEdits" and args["no_stream"] is True
    assert args["tools"] == ("read_file", "grep") and args["max_tokens"] == 100
    assert args["temperature"] is None and args["transport"] == "httpx"  # defaults stay
    assert parse(tmp_path, [], {"ANY_AGENT_MODEL": "env-model"})["model"] is None  # the environment's turn
    assert parse(tmp_path, ["--model", "flag-model"], {"ANY_AGENT_MODEL": "env"})["model"] == "flag-model"
    assert parse(tmp_path, ["--permission-mode", "default"], {})["permission_mode"] == "default"
    assert parse(tmp_path, ["--tools", "bash"], {})["tools"] == ("bash",)
    # rules add up: a flag cannot drop the project's deny rule
    assert parse(tmp_path, ["--deny", "bash(curl *)"], {})["deny"] == ["bash(rm *)", "bash(curl *)"]
    assert parse(tmp_path, [], {})["deny"] == ["bash(rm *)"]  # the file's list was not appended to
    assert parse(tmp_path, [], {"MY_KEY": "k-from-env"})["api_key"] == "k-from-env"
    assert parse(tmp_path, [], {"MY_KEY": "k", "ANY_AGENT_API_KEY": "other"})["api_key"] is None


def test_the_cli_reports_a_bad_settings_file(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "anyagent.toml").write_text("max_turns = 'many'\n", "utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ANY_AGENT_CONFIG_DIR", str(tmp_path / "no-user"))
    err = io.StringIO()
    assert main(["run", "hi"], out=io.StringIO(), err=err) == 2
    assert "anyagent.toml: 'max_turns' must be an integer" in err.getvalue()


def test_the_cli_runs_with_the_files_settings(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cassette = pathlib.Path(__file__).parents[3] / "examples" / "agent.jsonl"
    if not cassette.is_file():
        pytest.skip(f"no {cassette}")
    workspace = cassette.parent / "workspace"
    (tmp_path / "anyagent.toml").write_text(
        f'tools = ["list_dir", "grep", "read_file"]\ncwd = "{workspace.as_posix()}"\n', "utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ANY_AGENT_CONFIG_DIR", str(tmp_path / "no-user"))
    out, err = io.StringIO(), io.StringIO()
    status = main(["run", "--replay", str(cassette), "--quiet"], out=out, err=err)
    assert status == 0, err.getvalue()
    assert "lighthouse" in out.getvalue().lower()
    assert "← read_file: " in err.getvalue()  # the file's tools and cwd: the recorded calls ran
    assert "no tool named" not in err.getvalue() and "error" not in err.getvalue()
