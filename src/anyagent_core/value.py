"""Public: one ``__repr__``, ``__eq__`` and ``__hash__`` shared by the attrs classes, instead of attrs
writing and compiling the three for each class when its module is imported.

``Record`` is the base of internal state kept in plain slotted classes instead (a written
``__init__``, compared by identity): such a class costs no generated code at import.

A class takes them by subclassing ``Value`` (frozen classes compared by their fields) or
``Described`` (classes compared by identity, ``eq=False``) and telling attrs not to write its
own: ``@attrs.frozen(kw_only=True, repr=False, eq=False) class Usage(Value): ...``. The methods
read the class's attrs fields (``repr=False`` and custom ``repr=`` callables, ``eq=False``,
``eq=`` keys, ``hash=``) on the first call and behave exactly like attrs's generated ones: the
same text, including ``...`` for an instance met again while it is being shown (attrs's own
guard, so the two kinds nest), the same equality (``NotImplemented`` for another class, fields
compared with ``==`` in order, the first false result returned) and the same hash values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

try:  # attrs's per-thread record of the instances being shown (its generated reprs share it)
    from attr._compat import repr_context as _repr_context
except ImportError:  # pragma: no cover (an attrs without it: a record of our own, for all threads)
    import types

    _repr_context = types.SimpleNamespace()  # type: ignore[assignment]

__all__ = ["Described", "Record", "Value"]

_Repr = Callable[[Any], str]
_Key = Callable[[Any], Any] | None

_REPRS: dict[type, tuple[tuple[str, _Repr, bool], ...]] = {}
_EQS: dict[type, tuple[tuple[str, _Key], ...]] = {}
_HASHES: dict[type, tuple[int, tuple[tuple[str, _Key], ...]]] = {}


def _fields(cls: type) -> tuple[attrs.Attribute[Any], ...]:
    found: tuple[attrs.Attribute[Any], ...] = attrs.fields(cls)
    return found


def _eq_key(field: attrs.Attribute[Any]) -> _Key:
    """The field's ``eq=`` key function (attrs keeps it as ``eq_key``; its stubs do not list it)."""
    key: _Key = getattr(field, "eq_key", None)
    return key


def _repr_plan(cls: type) -> tuple[tuple[str, _Repr, bool], ...]:
    plan = tuple(
        (field.name, repr if field.repr is True else field.repr, field.init)
        for field in _fields(cls)
        if field.repr is not False
    )
    _REPRS[cls] = plan
    return plan


def _eq_plan(cls: type) -> tuple[tuple[str, _Key], ...]:
    plan = tuple((field.name, _eq_key(field)) for field in _fields(cls) if field.eq)
    _EQS[cls] = plan
    return plan


def _hash_plan(cls: type) -> tuple[int, tuple[tuple[str, _Key], ...]]:
    fields = tuple(
        (field.name, _eq_key(field))
        for field in _fields(cls)
        if field.hash is True or (field.hash is None and field.eq is True)
    )
    # attrs seeds each class's hash with that of a name made from the class's module and
    # qualified name; the same seed keeps the hash values attrs would give.
    plan = (hash(f"<attrs generated hash {cls.__module__}.{cls.__qualname__}>"), fields)
    _HASHES[cls] = plan
    return plan


def _describe(self: object) -> str:
    cls = self.__class__
    plan = _REPRS.get(cls)
    if plan is None:
        plan = _repr_plan(cls)
    try:
        already_repring: set[int] = _repr_context.already_repring
    except AttributeError:
        already_repring = {id(self)}
        _repr_context.already_repring = already_repring
    else:
        if id(self) in already_repring:
            return "..."
        already_repring.add(id(self))
    try:
        shown = ", ".join(
            f"{name}={show(getattr(self, name) if init else getattr(self, name, attrs.NOTHING))}"
            for name, show, init in plan
        )
        return f"{cls.__qualname__.rsplit('>.', 1)[-1]}({shown})"
    finally:
        already_repring.remove(id(self))


class Described:
    """attrs's ``__repr__``, shared: for classes made with ``repr=False``."""

    __slots__ = ()

    __repr__ = _describe


class Value:
    """attrs's ``__repr__``, ``__eq__``, ``__ne__`` and ``__hash__``, shared: for frozen classes
    made with ``repr=False, eq=False``."""

    __slots__ = ()

    __repr__ = _describe

    # Hidden from type checkers, which see attrs's methods as object's (so ``==`` narrows types
    # as it does for any attrs class).
    if not TYPE_CHECKING:

        def __eq__(self, other: object) -> bool:
            cls = self.__class__
            if other.__class__ is not cls:
                return NotImplemented
            plan = _EQS.get(cls)
            if plan is None:
                plan = _eq_plan(cls)
            result: Any = True
            for name, key in plan:
                if key is None:
                    result = getattr(self, name) == getattr(other, name)
                else:
                    result = key(getattr(self, name)) == key(getattr(other, name))
                if not result:
                    return result
            return result

        def __ne__(self, other: object) -> bool:
            result = self.__eq__(other)
            if result is NotImplemented:
                return NotImplemented
            return not result

        def __hash__(self) -> int:
            cls = self.__class__
            plan = _HASHES.get(cls)
            if plan is None:
                plan = _hash_plan(cls)
            seed, fields = plan
            return hash(
                (
                    seed,
                    *[getattr(self, name) if key is None else key(getattr(self, name)) for name, key in fields],
                )
            )


class Record:
    """A base for mutable internal state kept in a plain slotted class (its own ``__slots__`` and
    ``__init__``, compared by identity), where an attrs class would cost a generated and compiled
    ``__init__`` when its module is imported. ``__repr__`` writes ``Name(slot=value, ...)`` over
    the ``__slots__`` of the class and its bases."""

    __slots__ = ()

    def __repr__(self) -> str:
        cls = self.__class__
        names = [name for klass in reversed(cls.__mro__) for name in klass.__dict__.get("__slots__", ())]
        shown = ", ".join(f"{name}={getattr(self, name, attrs.NOTHING)!r}" for name in names)
        return f"{cls.__qualname__}({shown})"
