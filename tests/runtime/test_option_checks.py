"""Option values that cannot work are refused when the options are made, with a typed error
naming the option."""

from __future__ import annotations

from typing import Any

import pytest

from anyagent_httpx import AgentOptions, ConfigurationError, tool


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("tool_timeout", -1),
        ("tool_timeout", "x"),
        ("tool_timeout", float("nan")),
        ("max_turns", 0),
        ("can_use_tool", 5),
        ("http_client", "x"),
        ("transport", "x"),
        ("cwd", 5),
        ("allowed_dirs", [5]),
        ("skill_dirs", 5),
        ("hooks", "x"),
        ("agents", 5),
    ],
)
def test_unusable_option_values_are_refused_naming_the_option(option: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=option):
        AgentOptions(**{option: value})


@pytest.mark.parametrize("value", [-1, 0, "x", float("nan"), True])
def test_a_tool_timeout_must_be_positive_seconds(value: Any) -> None:
    def f() -> str:
        """Nothing."""
        return ""

    with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):
        tool(timeout=value)(f)


@pytest.mark.parametrize("option", ["tools", "stop", "allowed_tools", "disallowed_tools"])
@pytest.mark.parametrize("value", [5, 1.5, {"bash": True}, object()])
def test_a_list_option_given_something_else_is_refused_naming_it(option: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=rf"^{option} must be a list, not "):
        AgentOptions(**{option: value})


def test_a_lone_string_is_one_item_of_a_list_option() -> None:
    """``tools="bash"`` is the one tool, as ``stop="END"`` is one stop sequence: not its letters."""
    options = AgentOptions(tools="bash", allowed_tools="bash(git status*)", disallowed_tools="bash(rm *)", stop="END")
    assert options.tools == ("bash",)
    assert options.allowed_tools == ("bash(git status*)",)
    assert options.disallowed_tools == ("bash(rm *)",)
    assert options.stop == ("END",)
