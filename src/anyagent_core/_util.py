"""Signals returned by ``Connection.next_event`` and tiny pure helpers."""

from __future__ import annotations

import contextlib
import enum
import functools
import gc
import importlib
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, AnyStr, Final, TypeVar

import attrs

__all__ = [
    "BLANK",
    "NEED_DATA",
    "PAUSED",
    "WHITESPACE",
    "NeedData",
    "Paused",
    "gc_paused",
    "join_text",
    "lazy_names",
    "lazy_pattern",
    "parsed_builder",
    "snippet",
]

_T = TypeVar("_T")


class NeedData(enum.Enum):
    """The connection needs more bytes (``receive_data``) before it can produce an event."""

    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return self.value


class Paused(enum.Enum):
    """The response is over; call ``start_next_cycle()`` before the next request."""

    PAUSED = "PAUSED"

    def __repr__(self) -> str:
        return self.value


NEED_DATA: Final = NeedData.NEED_DATA
PAUSED: Final = Paused.PAUSED

#: Whitespace, for every rule that reads an answer's text (the edges of a ``<think>`` block, the
#: whitespace tidied around a tool call written as text, a fence's indentation): ASCII space,
#: tab, CR and LF, the whitespace of JSON and of chat templates. Lines end at LF (a CR before it
#: is blank). Other characters that ``str.isspace`` or ``str.splitlines`` count (U+2028, U+2029,
#: U+0085, U+3000, ``\x0b``, ``\x0c``, ``\x1c``-``\x1e``) are ordinary text: they neither end a
#: line nor get stripped, so a text means the same whether or not its ends were trimmed.
WHITESPACE: Final = " \t\r\n"
#: Whitespace inside a line: what may come before a fence's backticks.
BLANK: Final = " \t\r"


def snippet(data: bytes | bytearray | str, start: int = 0, length: int = 80) -> str:
    """A short printable excerpt of ``data`` from ``start``, for error messages."""
    piece = data[start : start + length]
    text = piece.decode("utf-8", "replace") if isinstance(piece, bytes | bytearray) else piece
    if len(data) - start > length:
        text += "..."
    return text


def join_text(parts: list[str]) -> str:
    """Streamed pieces of text joined, with surrogate pairs that a server split across two
    chunks (JSON escapes such as "\\ud83d" then "\\ude00") put back together into one character."""
    text = "".join(parts)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")
    return text


def parsed_builder(cls: type[_T], *names: str) -> Callable[..., _T]:
    """A positional constructor, taking ``names`` in order, for instances of a frozen attrs
    class that the parser builds: it skips attrs' ``__init__`` (keyword handling, converters,
    validators), as h11's ``_parsed=True`` does, because the parser guarantees the invariants
    and the property tests check them. The result is an ordinary, equal instance.

    ``names`` must be exactly the class's fields, so none can be left unset.
    """
    fields = tuple(field.name for field in attrs.fields(cls))  # type: ignore[arg-type]
    if sorted(names) != sorted(fields):
        raise TypeError(f"parsed_builder({cls.__name__}) names {names}, but its fields are {fields}")
    setters = tuple(cls.__dict__[name].__set__ for name in names)
    maker: Callable[[type[_T], tuple[_Setter, ...]], Callable[..., _T]] = _FIXED.get(len(setters), _any_count)
    build = maker(cls, setters)
    build.__name__ = f"new_{cls.__name__}"
    return build


# Builders of a fixed number of fields (the parsers' classes have up to seven, ToolCall ten): a
# call with that many parameters, each stored through its slot, costs a third of a loop over
# them, and a wrong number of values is Python's own TypeError.
_Setter = Callable[[Any, Any], None]


def _any_count(cls: type[_T], setters: tuple[_Setter, ...]) -> Callable[..., _T]:
    count = len(setters)
    new = object.__new__

    def build(*values: Any) -> _T:
        if len(values) != count:
            raise TypeError(f"{cls.__name__} takes {count} values, got {len(values)}")
        instance = new(cls)
        for setter, value in zip(setters, values, strict=False):  # the length is checked above
            setter(instance, value)
        return instance

    return build


def _one(cls: type[_T], setters: tuple[_Setter, ...]) -> Callable[..., _T]:
    (s0,) = setters
    new = object.__new__

    def build(a: Any) -> _T:
        instance = new(cls)
        s0(instance, a)
        return instance

    return build


def _two(cls: type[_T], setters: tuple[_Setter, ...]) -> Callable[..., _T]:
    s0, s1 = setters
    new = object.__new__

    def build(a: Any, b: Any) -> _T:
        instance = new(cls)
        s0(instance, a)
        s1(instance, b)
        return instance

    return build


def _three(cls: type[_T], setters: tuple[_Setter, ...]) -> Callable[..., _T]:
    s0, s1, s2 = setters
    new = object.__new__

    def build(a: Any, b: Any, c: Any) -> _T:
        instance = new(cls)
        s0(instance, a)
        s1(instance, b)
        s2(instance, c)
        return instance

    return build


def _four(cls: type[_T], setters: tuple[_Setter, ...]) -> Callable[..., _T]:
    s0, s1, s2, s3 = setters
    new = object.__new__

    def build(a: Any, b: Any, c: Any, d: Any) -> _T:
        instance = new(cls)
        s0(instance, a)
        s1(instance, b)
        s2(instance, c)
        s3(instance, d)
        return instance

    return build


def _five(cls: type[_T], setters: tuple[_Setter, ...]) -> Callable[..., _T]:
    s0, s1, s2, s3, s4 = setters
    new = object.__new__

    def build(a: Any, b: Any, c: Any, d: Any, e: Any) -> _T:
        instance = new(cls)
        s0(instance, a)
        s1(instance, b)
        s2(instance, c)
        s3(instance, d)
        s4(instance, e)
        return instance

    return build


def _six(cls: type[_T], setters: tuple[_Setter, ...]) -> Callable[..., _T]:
    s0, s1, s2, s3, s4, s5 = setters
    new = object.__new__

    def build(a: Any, b: Any, c: Any, d: Any, e: Any, f: Any) -> _T:
        instance = new(cls)
        s0(instance, a)
        s1(instance, b)
        s2(instance, c)
        s3(instance, d)
        s4(instance, e)
        s5(instance, f)
        return instance

    return build


def _seven(cls: type[_T], setters: tuple[_Setter, ...]) -> Callable[..., _T]:
    s0, s1, s2, s3, s4, s5, s6 = setters
    new = object.__new__

    def build(a: Any, b: Any, c: Any, d: Any, e: Any, f: Any, g: Any) -> _T:
        instance = new(cls)
        s0(instance, a)
        s1(instance, b)
        s2(instance, c)
        s3(instance, d)
        s4(instance, e)
        s5(instance, f)
        s6(instance, g)
        return instance

    return build


def _ten(cls: type[_T], setters: tuple[_Setter, ...]) -> Callable[..., _T]:
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9 = setters
    new = object.__new__

    def build(a: Any, b: Any, c: Any, d: Any, e: Any, f: Any, g: Any, h: Any, i: Any, j: Any) -> _T:
        instance = new(cls)
        s0(instance, a)
        s1(instance, b)
        s2(instance, c)
        s3(instance, d)
        s4(instance, e)
        s5(instance, f)
        s6(instance, g)
        s7(instance, h)
        s8(instance, i)
        s9(instance, j)
        return instance

    return build


_FIXED: Final[dict[int, Callable[[Any, tuple[_Setter, ...]], Callable[..., Any]]]] = {
    1: _one,
    2: _two,
    3: _three,
    4: _four,
    5: _five,
    6: _six,
    7: _seven,
    10: _ten,
}


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused for the block (when it was running), for code that
    builds tens of thousands of objects that hold no cycles, a long session's entries: each
    batch of new objects would set off a collection, and every few batches a full one over
    every object of the process. Reference counting frees what the block drops, as ever."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def lazy_names(
    namespace: dict[str, Any], homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module's ``__getattr__`` and ``__dir__`` (PEP 562) for names loaded on first use:
    ``homes`` maps each name to the module, relative to ``anyagent_core``, that defines it; the
    value found is kept in ``namespace`` (the module's ``globals()``), so the next lookup is an
    ordinary one."""
    module = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home, "anyagent_core"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *homes})

    return __getattr__, __dir__


def lazy_pattern(source: AnyStr, flags: int = 0) -> Callable[[], re.Pattern[AnyStr]]:
    """A regular expression compiled on its first use, for a rarely taken path (a failed
    request's ``Retry-After``, permission rules, a tool's name): ``_RULE = lazy_pattern(...)``,
    then ``_RULE().fullmatch(text)``. Compiling costs more than importing most modules, and a
    plain run never takes these paths."""

    @functools.cache
    def compiled() -> re.Pattern[AnyStr]:
        return re.compile(source, flags)

    return compiled
