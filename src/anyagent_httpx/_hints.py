"""Type hints that resolve on demand: ``typing.get_type_hints(AgentOptions)`` needs the names its
annotations use, and some of those are imported only for type checkers, so that importing the
options does not load the modules behind them (subprocesses, sqlite, httpx, ...).

``get_type_hints`` (and ``inspect.get_annotations``) evaluate a class's ``__annotations__`` in its
module's namespace, which a module-level ``__getattr__`` cannot reach; so ``load_on_read`` puts a
mapping there that, the first time it is read, imports those names into the module.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

__all__ = ["load_on_read"]


class _Annotations(dict[str, Any]):
    """A class's annotations; reading them first runs ``load`` and adds what it returns to the
    module's namespace (names already there are kept)."""

    def __init__(
        self, annotations: Mapping[str, Any], namespace: MutableMapping[str, Any], load: Callable[[], Mapping[str, Any]]
    ) -> None:
        super().__init__(annotations)
        self._namespace = namespace
        self._load: Callable[[], Mapping[str, Any]] | None = load

    def _loaded(self) -> None:
        load, self._load = self._load, None
        if load is not None:
            for name, value in load().items():
                self._namespace.setdefault(name, value)

    def items(self) -> Any:
        self._loaded()
        return super().items()

    def values(self) -> Any:
        self._loaded()
        return super().values()

    def __getitem__(self, key: str) -> Any:
        self._loaded()
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._loaded()
        return super().get(key, default)

    def __iter__(self) -> Iterator[str]:
        self._loaded()
        return super().__iter__()


def load_on_read(cls: type, load: Callable[[], Mapping[str, Any]]) -> None:
    """Have ``typing.get_type_hints(cls)`` resolve the names ``load`` imports (``{name: value}``),
    loading them only then."""
    namespace = vars(sys.modules[cls.__module__])
    cls.__annotations__ = _Annotations(inspect.get_annotations(cls), namespace, load)
