"""Value checks for settings: ``check(name, value)`` raises ``ValueError`` naming the field and
what it allows, or returns. The loop's settings and the transport package's ``AgentOptions``
validate with the same functions, so the same value is refused the same way in both."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "Check",
    "base_url_or_none",
    "boolean",
    "boolean_or_none",
    "header_pairs",
    "instance",
    "int_or_none",
    "model_names",
    "non_negative_int",
    "non_negative_number_or_none",
    "nonempty_str_or_none",
    "number_or_none",
    "one_of",
    "one_of_or_none",
    "positive_int_or_none",
    "positive_number_or_none",
    "str_or_none",
    "strings",
]

Check = Callable[[str, Any], None]


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def positive_int_or_none(name: str, value: Any) -> None:
    if value is not None and (type(value) is not int or value < 1):
        raise ValueError(f"{name} must be a positive integer or None, not {value!r}")


def non_negative_int(name: str, value: Any) -> None:
    if type(value) is not int or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, not {value!r}")


def int_or_none(name: str, value: Any) -> None:
    if value is not None and type(value) is not int:
        raise ValueError(f"{name} must be an integer or None, not {value!r}")


def positive_number_or_none(name: str, value: Any) -> None:
    if value is not None and (not _number(value) or value <= 0):
        raise ValueError(f"{name} must be a positive number or None, not {value!r}")


def non_negative_number_or_none(name: str, value: Any) -> None:
    if value is not None and (not _number(value) or value < 0):
        raise ValueError(f"{name} must be a number >= 0 or None, not {value!r}")


def number_or_none(name: str, value: Any) -> None:
    if value is not None and not _number(value):
        raise ValueError(f"{name} must be a finite number or None, not {value!r}")


def boolean(name: str, value: Any) -> None:
    if type(value) is not bool:
        raise ValueError(f"{name} must be True or False, not {value!r}")


def boolean_or_none(name: str, value: Any) -> None:
    if value is not None and type(value) is not bool:
        raise ValueError(f"{name} must be True, False or None, not {value!r}")


def str_or_none(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string or None, not {type(value).__name__}")


def nonempty_str_or_none(name: str, value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"{name} must be a non-empty string or None, not {value!r}")


def base_url_or_none(name: str, value: Any) -> None:
    str_or_none(name, value)
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError(f"{name} must start with http:// or https://, not {value!r}")


def strings(name: str, value: Sequence[Any]) -> None:
    for item in value:
        if not isinstance(item, str):
            raise ValueError(f"{name} holds strings, not {type(item).__name__}")


def model_names(name: str, value: Sequence[Any]) -> None:
    for model in value:
        if not isinstance(model, str) or not model:
            raise ValueError(f"{name} holds model names (non-empty strings), not {model!r}")


def header_pairs(name: str, value: Sequence[Any]) -> None:
    for pair in value:
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(part, str) for part in pair)):
            raise ValueError(f"{name} holds (name, value) pairs of strings, not {pair!r}")
        if any(c in part for part in pair for c in "\r\n\0"):
            raise ValueError(f"{name}: the header {pair[0]!r} holds a line break or NUL")


def one_of(choices: tuple[str, ...], what: str) -> Check:
    def check(name: str, value: Any) -> None:
        if value not in choices:
            raise ValueError(f"{name}: unknown {what} {value!r}; known: {', '.join(choices)}")

    return check


def one_of_or_none(choices: tuple[str, ...], what: str = "value") -> Check:
    inner = one_of(choices, what)

    def check(name: str, value: Any) -> None:
        if value is not None:
            inner(name, value)

    return check


def instance(cls: type, *, optional: bool = False) -> Check:
    def check(name: str, value: Any) -> None:
        if value is None and optional:
            return
        if not isinstance(value, cls):
            allowed = f"a {cls.__name__}" + (" or None" if optional else "")
            raise ValueError(f"{name} must be {allowed}, not {type(value).__name__}")

    return check
