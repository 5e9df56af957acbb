"""``AgentDefinition`` and ``FallbackEndpoint``: values that only options naming subagents or
fallback endpoints hold, made (with this module) when such options are first given. Both keep
``anyagent_httpx._options`` as their module, where they are found by name as before."""

from __future__ import annotations

import typing

import attrs

from anyagent_core import ToolSpec
from anyagent_core.value import Value
from anyagent_core.wire import redact_url

from ._errors import ConfigurationError
from ._options import ToolItem, _tools
from ._tools._tool import Tool

__all__ = ["AgentDefinition", "FallbackEndpoint"]

_HOME = "anyagent_httpx._options"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class AgentDefinition(Value):
    """A subagent the model can hand a task to with the ``task`` tool: it runs as a nested agent
    with its own system prompt, tools, model and turn limit, and its final answer is the task's
    result."""

    __module__ = _HOME

    description: str
    """When to use it: shown to the model in the ``task`` tool's description."""
    prompt: str
    """Its system prompt."""
    tools: tuple[ToolItem, ...] | None = attrs.field(default=None, converter=attrs.converters.optional(_tools))
    """Its tools; None: the main agent's tools (never ``task``: subagents do not nest)."""
    model: str | None = None
    """None: the main agent's model."""
    max_turns: int | None = attrs.field(
        default=None, validator=attrs.validators.optional([attrs.validators.instance_of(int), attrs.validators.ge(1)])
    )


def _fallback_url(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value.strip().startswith(("http://", "https://")):
        raise ConfigurationError(f"a fallback endpoint's base_url must be an http:// or https:// URL, not {value!r}")


def _fallback_model(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"a fallback endpoint's model must be a non-empty str, not {value!r}")


@attrs.frozen(kw_only=True, repr=False, eq=False)
class FallbackEndpoint(Value):
    """Another server a turn may go to when the main one cannot be reached or keeps failing
    (``AgentOptions.fallback_endpoints``): its base URL, the model it serves and its key.
    Its context window and what it accepts are learned from it alone."""

    __module__ = _HOME

    base_url: str = attrs.field(validator=_fallback_url, repr=lambda url: repr(redact_url(url)))
    model: str = attrs.field(validator=_fallback_model)
    api_key: str | None = attrs.field(default=None, repr=False)
    """Sent as ``Authorization: Bearer ...`` to this endpoint only; never shown in a repr."""


# The hints name ``Tool``, which their home (``anyagent_httpx._options``) holds only under
# TYPE_CHECKING (it loads with the first tool): resolved here, so that ``typing.get_type_hints``
# finds them from the home too.
for _cls in (AgentDefinition, FallbackEndpoint):
    _cls.__annotations__.update(typing.get_type_hints(_cls, globalns={**globals(), "ToolItem": str | Tool | ToolSpec}))
del _cls
