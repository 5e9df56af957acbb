"""The shared ``__repr__``/``__eq__``/``__hash__`` (``anyagent_core.value``) behave exactly like
the ones attrs writes: every attrs class of the package is compared, on drawn field values,
against a twin class attrs builds with the same fields, name and options."""

from __future__ import annotations

import importlib
import math
import pkgutil
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import anyagent_core
from anyagent_core.value import Described, Record, Value

NAN = math.nan
"""One NaN object: equal to itself by identity in a tuple, unequal by ``==``."""


class Loud:
    """A field value whose ``==`` answers something that is not a bool."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def __eq__(self, other: object) -> Any:
        return self.answer

    def __hash__(self) -> int:
        return 7

    def __repr__(self) -> str:
        return f"Loud({self.answer!r})"


SCALARS = st.sampled_from([None, 0, 1, True, "", "x", "sk-secret", "http://u:p@host/v1", NAN, (), ("a", "b")])
VALUES = st.recursive(
    SCALARS | st.builds(Loud, st.sampled_from([0, "", "yes", 2])),
    lambda inner: st.lists(inner, max_size=3).map(tuple),
    max_leaves=4,
)


def modules_of(package: ModuleType) -> Iterator[ModuleType]:
    """The package's modules that import here (a module needing a missing extra is left out)."""
    yield package
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        try:
            yield importlib.import_module(info.name)
        except ImportError:
            continue


def shared_classes(package: ModuleType) -> list[type]:
    """The package's attrs classes that take their methods from ``Value`` or ``Described``."""
    found: dict[str, type] = {}
    for module in modules_of(package):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and attrs.has(value)
                and issubclass(value, Described | Value)
                and value.__module__.startswith(package.__name__)
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


def twin(cls: type) -> type:
    """A class attrs makes with ``cls``'s fields, name, module and options, attrs writing its methods."""
    fields: tuple[attrs.Attribute[Any], ...] = attrs.fields(cls)
    these = {
        field.name: attrs.field(
            default=None,
            repr=field.repr,
            eq=getattr(field, "eq_key", None) or field.eq,
            hash=field.hash,
            init=field.init,
        )
        for field in fields
    }
    blank = type(cls.__name__, (), {"__module__": cls.__module__, "__qualname__": cls.__qualname__})
    valued = issubclass(cls, Value)
    made: type = attrs.define(these=these, frozen=valued, eq=valued, kw_only=True)(blank)
    return made


def blank_instance(cls: type, values: dict[str, Any]) -> Any:
    """An instance of ``cls`` with ``values`` set as they are, without ``__init__`` checking them."""
    instance: Any = object.__new__(cls)
    for name, value in values.items():
        object.__setattr__(instance, name, value)
    return instance


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "value", call()
    except Exception as error:
        return "error", type(error)


UNSET = object()
"""A drawn value meaning: leave the field unset (only fields outside ``__init__``)."""


def field_values(cls: type) -> st.SearchStrategy[dict[str, Any]]:
    """Values for each field; a field without ``init`` is sometimes left unset."""
    parts = {field.name: VALUES if field.init else st.just(UNSET) | VALUES for field in attrs.fields(cls)}
    return st.fixed_dictionaries(parts).map(lambda drawn: {k: v for k, v in drawn.items() if v is not UNSET})


def check_like_attrs(cls: type, data: st.DataObject) -> None:
    """``cls``'s repr, equality and hash agree with its attrs twin's on drawn instances."""
    reference = twin(cls)
    first_values = data.draw(field_values(cls))
    second_values = data.draw(st.just(first_values) | field_values(cls))
    first, second = blank_instance(cls, first_values), blank_instance(cls, second_values)
    first_twin, second_twin = blank_instance(reference, first_values), blank_instance(reference, second_values)
    if "__repr__" not in cls.__dict__:  # a class's own __repr__ is its own
        assert outcome(lambda: repr(first)) == outcome(lambda: repr(first_twin))
    if issubclass(cls, Value):
        assert outcome(lambda: first == second) == outcome(lambda: first_twin == second_twin)
        assert outcome(lambda: first != second) == outcome(lambda: first_twin != second_twin)
        assert first.__eq__(object()) is NotImplemented and first.__ne__(object()) is NotImplemented
        assert outcome(lambda: hash(first)) == outcome(lambda: hash(first_twin))
    else:
        assert first == first and first != second_twin and hash(first) == object.__hash__(first)


def check_recursion_like_attrs(cls: type) -> None:
    """An instance shown inside itself reads ``...``, as attrs shows it."""
    shown = [field for field in attrs.fields(cls) if field.repr is True and field.init]
    if not shown or "__repr__" in cls.__dict__:
        pytest.skip("no field shown with repr()")
    reference = twin(cls)
    values = {field.name: None for field in attrs.fields(cls) if field.init}
    instance, instance_twin = blank_instance(cls, values), blank_instance(reference, values)
    object.__setattr__(instance, shown[0].name, (instance,))
    object.__setattr__(instance_twin, shown[0].name, (instance_twin,))
    shown_instance = outcome(lambda: repr(instance))
    assert shown_instance == outcome(lambda: repr(instance_twin))
    assert shown_instance[0] == "error" or "..." in shown_instance[1]


CORE_CLASSES = shared_classes(anyagent_core)


def test_the_core_s_value_classes_are_found() -> None:
    names = {cls.__name__ for cls in CORE_CLASSES}
    assert {"TextBlock", "Usage", "Endpoint", "RetryPolicy", "LoopSettings"} <= names
    assert all("__repr__" not in cls.__dict__ or cls.__name__ == "Request" for cls in CORE_CLASSES)


@pytest.mark.parametrize("cls", CORE_CLASSES, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_repr_eq_and_hash_are_attrs_s(cls: type, data: st.DataObject) -> None:
    check_like_attrs(cls, data)


@pytest.mark.parametrize("cls", CORE_CLASSES, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_a_repr_inside_itself_is_attrs_s(cls: type) -> None:
    check_recursion_like_attrs(cls)


def test_secrets_stay_out_of_the_repr() -> None:
    endpoint = anyagent_core.Endpoint(base_url="https://user:pw@example.com/v1", api_key="sk-secret-key")
    shown = repr(endpoint)
    assert "sk-secret-key" not in shown and "pw@" not in shown
    assert shown.startswith("Endpoint(base_url=")


def test_equal_values_hash_alike_and_different_ones_differ() -> None:
    block = anyagent_core.TextBlock(text="hi")
    assert block == anyagent_core.TextBlock(text="hi")
    assert block.__ne__(anyagent_core.TextBlock(text="hi")) is False
    assert hash(block) == hash(anyagent_core.TextBlock(text="hi"))
    assert block != anyagent_core.TextBlock(text="ho")
    assert {block: 1}[anyagent_core.TextBlock(text="hi")] == 1
    assert repr(block) == "TextBlock(text='hi')"
    usage = anyagent_core.Usage(prompt_tokens=3, completion_tokens=4)
    assert usage == anyagent_core.Usage(prompt_tokens=3, completion_tokens=4)
    assert usage != anyagent_core.Usage(prompt_tokens=3, completion_tokens=5)
    with pytest.raises(TypeError, match="unhashable"):
        hash(usage)  # its raw mapping is not hashable, as with attrs's hash


class _Tally(Record):
    __slots__ = ("count", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0


class _Marked(_Tally):
    __slots__ = ("mark",)

    def __init__(self, name: str, mark: object) -> None:
        super().__init__(name)
        self.mark = mark


def test_a_record_shows_its_slots_and_those_of_its_bases_and_compares_by_identity() -> None:
    tally = _Tally("a")
    tally.count = 2
    assert repr(tally) == "_Tally(count=2, name='a')"
    marked = _Marked("b", _Tally("c"))
    assert repr(marked) == "_Marked(count=0, name='b', mark=_Tally(count=0, name='c'))"
    assert tally != _Tally("a") and tally == tally and hash(tally) == object.__hash__(tally)
    assert not hasattr(tally, "__dict__")
    with pytest.raises(AttributeError):
        tally.other = 1  # type: ignore[attr-defined]
    del marked.mark
    assert repr(marked) == "_Marked(count=0, name='b', mark=NOTHING)"


def test_the_loops_internal_state_is_kept_in_records() -> None:
    """The loop's and the context's per-run state are plain slotted classes (no attrs class
    made when the core is imported), shown with their fields."""
    from anyagent_core._agent import _loop, _round, _spend
    from anyagent_core._context import _tokens

    made = [
        _loop._Run(prompt_at=3),
        _loop._Response(),
        _round.Round(),
        _round.DoomWatch(),
        _spend.Spend(),
        _tokens._Fit(),
    ]
    for record in made:
        assert isinstance(record, Record) and not attrs.has(type(record))
    assert repr(made[0]).startswith("_Run(after_tools=False, doom=DoomWatch(futile=0, ")
    assert "prompt_at=3" in repr(made[0]) and "spend=Spend(cost_usd=None, tokens=0, usage=None)" in repr(made[0])
