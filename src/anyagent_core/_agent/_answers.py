"""The permission rules' answers: ``PermissionDecision`` (what the rules say about a call) and
``PermissionAllow`` and ``PermissionDeny`` (what whoever is asked answers). Only runs whose tools
are called make them, so they load with the first call decided (or by name:
``anyagent_core._agent._permissions`` resolves them on first use), and keep that module as
their ``__module__``, where pickles find them."""

from __future__ import annotations

from typing import Literal

import attrs

from anyagent_core._json import JSONObject, freeze_object
from anyagent_core.value import Value

__all__ = ["PermissionAllow", "PermissionDecision", "PermissionDeny"]

_HOME = "anyagent_core._agent._permissions"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class PermissionDecision(Value):
    """What the rules say about one call: ``allow``, ``deny`` or ``ask``, and why."""

    __module__ = _HOME

    behavior: Literal["allow", "deny", "ask"]
    reason: str


@attrs.frozen(kw_only=True, repr=False, eq=False)
class PermissionAllow(Value):
    """Run the call, with ``updated_input`` instead of the model's arguments if given."""

    __module__ = _HOME

    updated_input: JSONObject | None = attrs.field(default=None, converter=attrs.converters.optional(freeze_object))


@attrs.frozen(kw_only=True, repr=False, eq=False)
class PermissionDeny(Value):
    """Do not run the call; the model is told ``message``. ``interrupt`` also ends the run."""

    __module__ = _HOME

    message: str = "permission denied"
    interrupt: bool = False
