"""anyagent_httpx's attrs classes take the shared ``__repr__``/``__eq__``/``__hash__`` and behave
exactly like attrs's own: the same twin comparison as the core's (``tests/core/test_value.py``),
and options' secrets stay out of their repr."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import anyagent_httpx
from anyagent_httpx import AgentOptions
from tests.core.test_value import check_like_attrs, check_recursion_like_attrs, shared_classes

RUNTIME_CLASSES = shared_classes(anyagent_httpx)


def test_the_runtime_s_value_classes_are_found() -> None:
    names = {cls.__name__ for cls in RUNTIME_CLASSES}
    assert {"AgentOptions", "FallbackEndpoint", "Tool", "StreamLimits"} <= names


@pytest.mark.parametrize("cls", RUNTIME_CLASSES, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_repr_eq_and_hash_are_attrs_s(cls: type, data: st.DataObject) -> None:
    check_like_attrs(cls, data)


@pytest.mark.parametrize("cls", RUNTIME_CLASSES, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_a_repr_inside_itself_is_attrs_s(cls: type) -> None:
    check_recursion_like_attrs(cls)


def test_the_options_repr_keeps_the_key_and_the_password_out() -> None:
    options = AgentOptions(base_url="https://user:hunter2@example.com/v1", api_key="sk-very-secret")
    shown = repr(options)
    assert shown.startswith("AgentOptions(")
    assert "sk-very-secret" not in shown and "hunter2" not in shown
    assert options == AgentOptions(base_url="https://user:hunter2@example.com/v1", api_key="sk-very-secret")
    assert options != AgentOptions(base_url="https://user:hunter2@example.com/v1", api_key="sk-other")
