"""Configuration helpers (precedence, errors) and the blocking facade (same messages, both loops)."""

from __future__ import annotations

import json
import pathlib
import threading
from typing import Literal

import attrs
import pytest

from anyagent_core import LoopSettings, Pricing, RetryPolicy, StartTurn
from anyagent_core._agent._settings import KNOBS
from anyagent_core.context import CharEstimate
from anyagent_httpx import (
    PROVIDERS,
    AgentDefinition,
    AgentOptions,
    AssistantMessage,
    ClientStateError,
    ConfigurationError,
    ResultMessage,
    StreamEvent,
    SyncClient,
    get_api_key,
    get_base_url,
    get_model,
    query_sync,
)

from .mock import Script, sse, text_stream


def test_base_url_precedence() -> None:
    env = {"ANY_AGENT_BASE_URL": "http://env:1/v1"}
    assert get_base_url("http://arg:1/v1", provider="ollama", fallback="http://fb:1/v1", env=env) == "http://arg:1/v1"
    assert get_base_url(provider="ollama", fallback="http://fb:1/v1", env=env) == "http://env:1/v1"
    assert get_base_url(provider="ollama", fallback="http://fb:1/v1", env={}) == "http://fb:1/v1"
    assert get_base_url(provider="ollama", env={}) == PROVIDERS["ollama"] == "http://localhost:11434/v1"
    with pytest.raises(ConfigurationError, match="no base URL"):
        get_base_url(env={})
    with pytest.raises(ConfigurationError, match="unknown provider 'lmstudioo'"):
        get_base_url(provider="lmstudioo", env={})
    with pytest.raises(ConfigurationError, match="http:// or https://"):
        get_base_url("localhost:1234/v1", env={})


def test_an_unusable_output_schema_fails_with_the_options() -> None:
    with pytest.raises(ConfigurationError, match=r"output_schema .* #/properties/n/type: unknown type 'int'"):
        AgentOptions(output_schema={"type": "object", "properties": {"n": {"type": "int"}}})
    assert AgentOptions(output_schema={"type": "object"}).output_schema == {"type": "object"}


def test_model_and_key_precedence() -> None:
    assert get_model("a", fallback="c", env={"ANY_AGENT_MODEL": "b"}) == "a"
    assert get_model(fallback="c", env={"ANY_AGENT_MODEL": "b"}) == "b"
    assert get_model(fallback="c", env={}) == "c"
    with pytest.raises(ConfigurationError, match="ANY_AGENT_MODEL"):
        get_model(env={})
    assert get_api_key(env={}) is None
    assert get_api_key(env={"ANY_AGENT_API_KEY": "k"}) == "k"
    assert get_api_key("x", env={"ANY_AGENT_API_KEY": "k"}) == "x"


def test_options_validate_and_never_show_the_key() -> None:
    options = AgentOptions(model="m", api_key="sk-secret-value", stop="END", fallback_models="small")
    assert "sk-secret-value" not in repr(options)
    assert options.stop == ("END",)
    assert options.fallback_models == ("small",)
    with pytest.raises(ConfigurationError, match="unknown provider"):
        AgentOptions(provider="nope")
    with pytest.raises(ValueError, match="max_turns"):
        AgentOptions(max_turns=0)
    with pytest.raises(TypeError, match="ToolSpec"):
        AgentOptions(tools=[42])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="unknown built-in tool 'read_files'"):
        AgentOptions(tools=["read_files"])
    with pytest.raises(ConfigurationError, match="two tools are named 'read_file'"):
        AgentOptions(tools=["read_file", "read_file"])
    with pytest.raises(ConfigurationError, match="unknown mode 'careful'"):
        AgentOptions(permission_mode="careful")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid permission rule"):
        AgentOptions(allowed_tools=["bash(("])
    turn = AgentOptions(model="m", system_prompt="be brief", max_tokens=5).start_turn("m", [])
    assert (turn.system_prompt, turn.max_tokens, turn.stream) == ("be brief", 5, True)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_query_sync_gives_the_async_messages(backend: Literal["asyncio", "trio"]) -> None:
    script = Script(lambda: sse(text_stream("sync ", "answer")))
    messages = list(query_sync(prompt="hi", options=script.options(include_partial_messages=True), backend=backend))
    assert isinstance(messages[-1], ResultMessage)
    answers = [m for m in messages if isinstance(m, AssistantMessage)]
    assert [a.text for a in answers] == ["sync answer"]
    assert any(isinstance(m, StreamEvent) for m in messages)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sync_client_conversation_and_early_stop(backend: Literal["asyncio", "trio"]) -> None:
    script = Script(
        sse(text_stream("one")), sse(text_stream(*["two "] * 5)), sse(text_stream("three")), sse(text_stream("x"))
    )
    with SyncClient(script.options(include_partial_messages=True), backend=backend) as client:
        client.query("first")
        assert [type(m) for m in client.receive_response()][-2:] == [AssistantMessage, ResultMessage]
        client.query("second")
        for message in client.receive_response():
            if isinstance(message, StreamEvent):
                break  # stopping early closes the response
        client.query("third")
        texts = [m.text for m in client.receive_response() if isinstance(m, AssistantMessage)]
        assert texts == ["three"]
        assert len(client.messages) == 5  # the abandoned answer is not in the conversation
    with pytest.raises(ClientStateError, match="not open"):
        client.query("after")


def test_sync_client_interrupt_from_another_thread() -> None:
    chunks = text_stream(*["word "] * 200)
    script = Script(sse(chunks, delay=0.01))
    with SyncClient(script.options(include_partial_messages=True)) as client:
        client.query("go")
        timer: threading.Timer | None = None
        messages = []
        for seen, message in enumerate(client.receive_response(), 1):
            messages.append(message)
            if seen == 3:
                timer = threading.Timer(0.02, client.interrupt)
                timer.start()
        assert timer is not None
        timer.join()
    result = messages[-1]
    assert isinstance(result, ResultMessage)
    assert result.subtype == "interrupted"


# ---- one truth for the knobs AgentOptions shares with the loop's settings -------------------

# A value each knob refuses; the table must name every knob.
BAD_KNOB_VALUES: dict[str, object] = {
    "tool_mode": "magic",
    "max_turns": 0,
    "max_total_tokens": -1,
    "max_budget_usd": float("nan"),
    "pricing": 1.0,
    "doom_loop_threshold": -1,
    "doom_loop_action": "panic",
    "output_schema": {"type": "str"},
    "output_mode": "xml",
    "structured_output_retries": -1,
    "context_window": 0,
    "context_strategy": "lifo",
    "token_counter": "chars",
    "retry": 3,
    "fallback_models": [""],
    "reset_tool_choice": "yes",
    "think_tags": 1,
}
GOOD_KNOB_VALUES: dict[str, object] = {
    "tool_mode": "emulated",
    "max_turns": 7,
    "max_total_tokens": 1000,
    "max_budget_usd": 0.5,
    "pricing": Pricing(input_per_million=1.0, output_per_million=2.0),
    "doom_loop_threshold": None,
    "doom_loop_action": "stop",
    "output_schema": {"type": "object"},
    "output_mode": "prompt",
    "structured_output_retries": 0,
    "context_window": 4096,
    "context_strategy": "truncate",
    "token_counter": CharEstimate(chars_per_token=3.5),
    "retry": RetryPolicy(max_retries=0),
    "fallback_models": ("small",),
    "reset_tool_choice": False,
    "think_tags": False,
}


def test_the_shared_knobs_have_the_same_names_and_defaults_in_both() -> None:
    assert set(BAD_KNOB_VALUES) == set(GOOD_KNOB_VALUES) == set(KNOBS)
    options = {field.name: field for field in attrs.fields(AgentOptions)}
    settings = {field.name: field for field in attrs.fields(LoopSettings)}
    for name, declared in KNOBS.items():
        assert options[name].default == settings[name].default == declared.default, name


@pytest.mark.parametrize("name", sorted(KNOBS))
def test_a_shared_knob_refuses_the_same_values_in_both(name: str) -> None:
    template = StartTurn(model="m", messages=())
    with pytest.raises(ConfigurationError, match=name):
        AgentOptions(**{name: BAD_KNOB_VALUES[name]})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=name):
        LoopSettings(template=template, **{name: BAD_KNOB_VALUES[name]})  # type: ignore[arg-type]
    given: dict[str, object] = {name: GOOD_KNOB_VALUES[name]}
    if name == "max_budget_usd":  # a cost budget needs prices
        given["pricing"] = GOOD_KNOB_VALUES["pricing"]
    options = AgentOptions(**given)  # type: ignore[arg-type]
    settings = options.loop_settings("m", ())
    assert (
        getattr(settings, name)
        == getattr(options, name)
        == LoopSettings(
            template=template,
            **given,  # type: ignore[arg-type]
        ).__getattribute__(name)
    )


def test_a_cost_budget_without_pricing_is_a_configuration_error_saying_why() -> None:
    with pytest.raises(ConfigurationError, match=r"max_budget_usd needs pricing=.*would never stop it"):
        AgentOptions(max_budget_usd=0.1)
    AgentOptions(max_budget_usd=0.1, pricing=Pricing(input_per_million=1.0, output_per_million=2.0))


@pytest.mark.parametrize("field", ["allowed_tools", "disallowed_tools"])
def test_a_rule_naming_no_known_tool_is_a_configuration_error_listing_the_tools(field: str) -> None:
    # the bug: tools=["bash"], disallowed_tools=["Bash"] under bypassPermissions ran the command
    with pytest.raises(ConfigurationError, match=rf"{field} rule 'Bash' names no tool.*\(bash, read_file\)"):
        AgentOptions(tools=["bash", "read_file"], permission_mode="bypassPermissions", **{field: ["Bash"]})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"'bash\(git \*\)' names no tool.*none: offer tools"):
        AgentOptions(**{field: ["bash(git *)"]})  # type: ignore[arg-type]
    AgentOptions(tools=["bash"], **{field: ["bash(git *)"]})  # type: ignore[arg-type]


def test_rules_may_name_the_task_tool_and_the_agents_tools() -> None:
    agents = {"reader": AgentDefinition(description="reads", prompt="read", tools=["read_file"])}
    AgentOptions(tools=["bash"], agents=agents, allowed_tools=["task", "read_file"], disallowed_tools=["bash"])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model", ""),
        ("base_url", "localhost:1234/v1"),
        ("provider", "nope"),
        ("api_key", 42),
        ("system_prompt", 3),
        ("max_tokens", -5),
        ("max_tokens", 1.5),
        ("temperature", "x"),
        ("temperature", float("inf")),
        ("top_p", -0.1),
        ("presence_penalty", float("nan")),
        ("frequency_penalty", "a lot"),
        ("seed", 1.5),
        ("stop", [1]),
        ("tool_timeout", -1),
        ("tool_timeout", "x"),
        ("tool_timeout", 0),
        ("stream_idle_timeout", 0),
        ("stream_idle_timeout", -1),
        ("stream_idle_timeout", float("inf")),
        ("request_timeout", "x"),
        ("request_timeout", float("nan")),
        ("max_response_bytes", 0),
        ("max_response_bytes", 1.5),
        ("max_text_chars", -1),
        ("max_tool_argument_chars", "many"),
        ("max_tool_calls", 0),
        ("doom_loop_threshold", -1),
        ("tool_choice", 3),
        ("tool_choice", "read_file"),
        ("parallel_tool_calls", "yes"),
        ("output_format", "json"),
        ("include_partial_messages", None),
        ("stream", "no"),
        ("include_usage", 0),
        ("extra_body", ["top_k", 5]),
        ("extra_headers", [("X-Key", "a\r\nb")]),
        ("extra_headers", [("X-Key",)]),
        ("config", {"max_event_size": 10}),
        ("permission_mode", "careful"),
    ],
)
def test_options_refuse_a_bad_value_at_construction_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=field):
        AgentOptions(**{field: value})  # type: ignore[arg-type]


def test_the_limits_on_a_server_default_to_bounded_and_lift_with_none() -> None:
    limits = AgentOptions().stream_limits()
    assert limits.stream_idle_timeout == 600.0 and limits.request_timeout is None
    assert limits.max_response_bytes == 128 * 1024 * 1024 and limits.max_tool_calls == 1024
    lifted = AgentOptions(stream_idle_timeout=None, max_response_bytes=None, max_tool_calls=None).stream_limits()
    assert (lifted.stream_idle_timeout, lifted.max_response_bytes, lifted.max_tool_calls) == (None, None, None)


def test_the_repr_of_options_hides_header_values_and_url_credentials() -> None:
    options = AgentOptions(
        base_url="https://user:pw-123456@gw.example.com/v1?key=query-secret-42",
        extra_headers={"X-Route": "header-secret-42"},
        api_key="sk-repr-0123456789",
        extra_body={"gateway": {"token": "body-secret-42"}, "top_k": 40},
        fallback_endpoints=[{"base_url": "http://b.example/v1", "model": "m2", "api_key": "sk-fallback-42"}],
    )
    text = repr(options)
    assert "X-Route" in text and "gw.example.com/v1" in text
    assert "'gateway'" in text and "'top_k'" in text  # the body's keys, to see what is sent
    for secret in (
        "query-secret-42",
        "header-secret-42",
        "pw-123456",
        "sk-repr-0123456789",
        "body-secret-42",
        "sk-fallback-42",
    ):
        assert secret not in text


def test_a_forced_tool_choice_must_name_an_offered_tool() -> None:
    assert AgentOptions(tools=["read_file"], tool_choice="read_file").tool_choice == "read_file"
    with pytest.raises(ConfigurationError, match=r"tool_choice names 'grep'.*\(read_file\)"):
        AgentOptions(tools=["read_file"], tool_choice="grep")


def test_loop_settings_follow_what_they_are_made_from_call_after_call(tmp_path: pathlib.Path) -> None:
    from anyagent_core import LoopTool, ToolSpec
    from anyagent_httpx import HookMatcher

    hooks: dict[str, list[HookMatcher]] = {}
    options = AgentOptions(model="m", max_turns=3, extra_body={"top_k": 5}, hooks=hooks)  # type: ignore[arg-type]
    first = options.loop_settings("m", ())
    assert options.loop_settings("m", ()) == first
    assert not first.ask_before_compacting
    assert first.template.extra_body == {"top_k": 5} and first.max_turns == 3
    assert options.loop_settings("other", ()).template.model == "other"
    assert options.loop_settings("m", (), session_id="s").session_id == "s"
    tool = LoopTool(spec=ToolSpec(name="t", description="d", parameters={"type": "object"}))
    assert options.loop_settings("m", [tool]).tools == (tool,)
    assert options.loop_settings("m", ()).tools == ()
    # hooks is a dict: an event added after the options were made still counts
    options.hooks["PreCompact"] = (HookMatcher(hooks=[]),)  # type: ignore[index]
    assert options.loop_settings("m", ()).ask_before_compacting
    assert attrs.evolve(options, cwd=str(tmp_path)).loop_settings("m", ()).permissions.cwd == str(tmp_path.resolve())


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"minimum": 1}, {"minimum": True}),
        ({"minimum": 1}, {"minimum": 1.0}),
        ({"minimum": 0.0}, {"minimum": -0.0}),
        ({"enum": [1, 2]}, {"enum": [True, 2]}),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        ({"default": {"x": False}}, {"default": {"x": 0}}),
    ],
)
def test_loop_settings_are_made_again_for_a_tool_schema_equal_only_in_python(
    before: dict[str, object], after: dict[str, object]
) -> None:
    """``1``, ``1.0`` and ``true`` (and key orders) are equal in Python and apart on the wire:
    the tools kept with the settings are the ones given, to the byte they write."""
    from anyagent_core import LoopTool, ToolSpec

    options = AgentOptions(model="m")

    def settings(properties: dict[str, object]) -> ToolSpec:
        spec = ToolSpec(name="t", parameters={"type": "object", "properties": {"x": properties}})
        return options.loop_settings("m", [LoopTool(spec=spec)]).tools[0].spec

    first = settings(before)
    assert settings(before) is first  # the same schema again: the kept settings
    second = settings(after)
    assert second is not first
    assert json.dumps(second.parameters) == json.dumps({"type": "object", "properties": {"x": after}})
