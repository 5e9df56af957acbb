"""``import anyagent_core`` is lazy: each name of the package loads its home on first use, and
every name the package and its public modules list in ``__all__`` resolves."""

from __future__ import annotations

import importlib
import json
import pickle
import pkgutil
import subprocess
import sys
import typing

import attrs
import pytest

import anyagent_core

PUBLIC_MODULES = sorted(
    f"anyagent_core.{info.name}"
    for info in pkgutil.iter_modules(anyagent_core.__path__)
    if not info.name.startswith("_")
)


def modules_after(code: str) -> set[str]:
    """The ``anyagent_core`` modules loaded in a fresh interpreter after running ``code``."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in sys.modules if m.startswith('anyagent'))))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_package_loads_nothing_else() -> None:
    assert modules_after("import anyagent_core") == {"anyagent_core"}


def test_the_loop_loads_no_toolkit_it_does_not_use() -> None:
    loaded = modules_after("from anyagent_core import AgentLoop, Connection")
    assert "anyagent_core._agent._loop" in loaded and "anyagent_core._connection" in loaded
    unused = {
        "anyagent_core._replay",
        "anyagent_core.schema",
        "anyagent_core._schema",
        "anyagent_core._sessions",
        "anyagent_core._agent._shell",  # the permission rules' shell reader: rules on commands
        "anyagent_core._context._window",  # window probes and context-length errors
        "anyagent_core._context._usage",  # context usage when asked for, a summary once made
        "anyagent_core._context._plans",  # the strategies' view and answer: a compaction
        "anyagent_core._agent._pricing",  # a model's prices: settings that name them
        "anyagent_core._agent._answers",  # the permission rules' answers: calls to decide on
        "anyagent_core._agent._decisions",  # the retry rules' decisions: a failed request
        "anyagent_core._agent._traits",  # the tools' traits and the loop's tools: settings with tools
    }
    assert loaded.isdisjoint(unused), sorted(loaded & unused)


@pytest.mark.parametrize("name", anyagent_core.__all__)
def test_every_name_of_the_package_resolves_and_is_listed(name: str) -> None:
    assert getattr(anyagent_core, name) is not None or name == "NEED_DATA"
    assert name in dir(anyagent_core)


def test_the_lazy_table_covers_all() -> None:
    assert set(anyagent_core.__all__) <= set(anyagent_core._HOMES)


@pytest.mark.parametrize("name", sorted(anyagent_core._HOMES))
def test_every_lazy_name_is_its_home_s_object(name: str) -> None:
    home = importlib.import_module(anyagent_core._HOMES[name], "anyagent_core")
    assert getattr(anyagent_core, name) is getattr(home, name)


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_name_of_a_public_module_resolves(module: str) -> None:
    loaded = importlib.import_module(module)
    for name in loaded.__all__:
        getattr(loaded, name)
        assert name in dir(loaded)


def test_the_renamed_schema_names_resolve() -> None:
    from anyagent_core import schema

    assert anyagent_core.schema is schema
    assert anyagent_core.check_schema is schema.check
    assert anyagent_core.validate_schema is schema.validate
    assert anyagent_core.SchemaError is schema.SchemaError


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = anyagent_core.nothing_here
    with pytest.raises(ImportError):
        exec("from anyagent_core import nothing_here", {})


def test_errors_still_pickle() -> None:
    error = anyagent_core.RemoteProtocolError("bad frame")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is anyagent_core.RemoteProtocolError and str(again) == str(error)


LOADED_ON_USE = [
    ("anyagent_core._agent._permissions", "PermissionDecision", {"behavior": "ask", "reason": "why"}),
    ("anyagent_core._agent._permissions", "PermissionAllow", {"updated_input": {"path": "a"}}),
    ("anyagent_core._agent._permissions", "PermissionDeny", {"message": "no", "interrupt": True}),
    ("anyagent_core._agent._retry", "Retry", {"delay": 1.5, "model": "m", "attempt": 2, "reason": "503"}),
    ("anyagent_core._agent._retry", "GiveUp", {"reason": "spent"}),
    ("anyagent_core._agent._permissions", "ToolTraits", {"read_only": True, "rule_argument": "path"}),
    ("anyagent_core._agent._settings", "LoopTool", {"spec": anyagent_core.ToolSpec(name="t"), "external": True}),
    ("anyagent_core._agent._spend", "Pricing", {"input_per_million": 1.5, "output_per_million": 6.0}),
]


@pytest.mark.parametrize(("home", "name", "fields"), LOADED_ON_USE, ids=[name for _, name, _ in LOADED_ON_USE])
def test_a_class_made_on_first_use_keeps_its_home_and_pickles(home: str, name: str, fields: dict[str, object]) -> None:
    module = importlib.import_module(home)
    cls = getattr(module, name)
    assert cls.__module__ == home and cls.__qualname__ == name
    assert getattr(anyagent_core, name) is cls and name in dir(module)
    value = cls(**fields)
    again = pickle.loads(pickle.dumps(value))
    assert type(again) is cls and again == value and repr(again) == repr(value)


@pytest.mark.parametrize(("home", "name", "fields"), LOADED_ON_USE, ids=[name for _, name, _ in LOADED_ON_USE])
def test_a_class_made_on_first_use_has_type_hints_its_home_resolves(
    home: str, name: str, fields: dict[str, object]
) -> None:
    """``typing.get_type_hints`` (and the libraries built on it) reads the annotations in the
    module ``__module__`` names: each name they use is there."""
    cls = getattr(importlib.import_module(home), name)
    hints = typing.get_type_hints(cls)
    assert set(fields) <= set(hints)


def test_prices_load_with_the_first_settings_that_name_them() -> None:
    plain = "from anyagent_core import LoopSettings, StartTurn\ntemplate = StartTurn(model='m', messages=())\n"
    assert "anyagent_core._agent._pricing" not in modules_after(plain + "LoopSettings(template=template)")
    refused = (
        "try:\n    LoopSettings(template=template, pricing=1.0)\nexcept ValueError as exc:\n"
        "    assert str(exc) == 'pricing must be a Pricing or None, not float', exc\n"
        "else:\n    raise SystemExit('a float was taken for prices')"
    )
    assert "anyagent_core._agent._pricing" in modules_after(plain + refused)


def test_the_strategies_view_and_answer_load_with_the_first_compaction_and_keep_their_home() -> None:
    """``ContextView`` and ``Compaction`` are made only when a request outgrows the window: they
    load then (or by name), keep ``anyagent_core._context._strategies`` as their module, pickle,
    and their hints resolve there."""
    loaded = modules_after("from anyagent_core.context import sliding, compact, CONTEXT_STRATEGIES")
    assert "anyagent_core._context._plans" not in loaded
    loaded = modules_after(
        "from anyagent_core import UserMessage\nfrom anyagent_core.context import compact\n"
        "assert compact([UserMessage(content='a' * 400), UserMessage(content='b')], limit=20)[1] == 1"
    )
    assert "anyagent_core._context._plans" in loaded
    from anyagent_core import UserMessage, context
    from anyagent_core._context import _strategies

    message = UserMessage(content="hi")
    values = (
        context.Compaction(messages=(message,), dropped=1),
        context.ContextView(messages=(message,), limit=10, keep_from=0, counter=context.CharEstimate()),
    )
    for value in values:
        cls = type(value)
        assert cls.__module__ == "anyagent_core._context._strategies" and getattr(_strategies, cls.__name__) is cls
        assert cls.__name__ in dir(_strategies) and cls.__name__ in dir(context)
        again = pickle.loads(pickle.dumps(value))
        assert type(again) is cls and repr(again) == repr(value)
        assert set(typing.get_type_hints(cls)) == {field.name for field in attrs.fields(cls)}
    assert pickle.loads(pickle.dumps(values[0])) == values[0]


def test_the_context_usage_s_hints_resolve_without_the_window_probes() -> None:
    """``ContextUsage`` names where its window came from with ``WindowSource``, which its module
    holds at run time (the window probes' module is not loaded for it)."""
    loaded = modules_after(
        "import typing\nfrom anyagent_core.context import ContextUsage\n"
        "hints = typing.get_type_hints(ContextUsage)\n"
        "assert hints['window_source'] == typing.Literal['user', 'server', 'error', 'unknown'], hints\n"
        "assert hints['counter'] == typing.Literal['estimate', 'calibrated', 'tokenizer', 'server'], hints"
    )
    assert "anyagent_core._context._window" not in loaded
    from anyagent_core._context import _window
    from anyagent_core.context import WindowSource

    assert _window.WindowSource is WindowSource


def test_the_allow_answer_s_input_is_typed_as_a_json_object() -> None:
    from anyagent_core.json import JSONObject

    hints = typing.get_type_hints(anyagent_core.PermissionAllow)
    assert hints["updated_input"] == JSONObject | None


def test_the_rules_and_a_failure_make_their_answers() -> None:
    """The permission rules and the retry rules load their answers when they first decide."""
    loaded = modules_after("from anyagent_core import AgentLoop, Connection")
    assert loaded.isdisjoint({"anyagent_core._agent._answers", "anyagent_core._agent._decisions"})
    loaded = modules_after(
        "from anyagent_core import LoopSettings, StartTurn\nLoopSettings(template=StartTurn(model='m', messages=()))"
    )
    assert "anyagent_core._agent._traits" not in loaded
    loaded = modules_after(
        "from anyagent_core import PermissionPolicy, ToolTraits, RetryPolicy, RetryState, Failure\n"
        "assert PermissionPolicy().decide('t', {}, ToolTraits()).behavior == 'allow'\n"
        "assert RetryState(RetryPolicy(max_retries=0), ['m']).failed(Failure.STATUS, status=503).reason"
    )
    assert {"anyagent_core._agent._answers", "anyagent_core._agent._decisions"} <= loaded
