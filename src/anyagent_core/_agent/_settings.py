"""``LoopSettings``: everything the agent loop decides with, frozen and validated once.

The knobs that users set through the transport package's ``AgentOptions`` as well (turn and
budget limits, the doom-loop check, structured output, tool mode, retries, ...) are declared
once, in ``KNOBS``: their defaults, converters and checks. ``LoopSettings`` and ``AgentOptions``
both build their fields from it with ``knob(name)``, so the two cannot disagree; a test checks
that they do not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

import attrs

from anyagent_core import _checks as checks
from anyagent_core._context._strategies import CONTEXT_STRATEGIES, ContextStrategy
from anyagent_core._context._tokens import TokenCounter
from anyagent_core._events import StartTurn
from anyagent_core._json import JSONObject, freeze_object
from anyagent_core._util import lazy_names
from anyagent_core.value import Value

from ._permissions import PermissionPolicy
from ._retry import DEFAULT_RETRY_POLICY, RetryPolicy

if TYPE_CHECKING:
    from ._pricing import Pricing
    from ._traits import LoopTool

__all__ = [
    "DOOM_LOOP_ACTIONS",
    "KNOBS",
    "NO_PRICING",
    "OUTPUT_MODES",
    "TOOL_MODES",
    "DoomLoopAction",
    "Knob",
    "LoopSettings",
    "LoopTool",
    "OutputMode",
    "ToolMode",
    "knob",
    "knob_validator",
    "str_tuple",
    "validator",
]

ToolMode: TypeAlias = Literal["native", "emulated", "auto"]
"""``native``: tools go in the request's ``tools``; ``emulated``: they are described in the
system prompt and calls are read from the answer's text (endpoints without tool support);
``auto``: native, and an answer without native calls whose text holds calls in a known format
(``<tool_call>{...}</tool_call>``, Qwen3-Coder's ``<tool_call><function=...>``, a fenced JSON
call) is read as calls."""

OutputMode: TypeAlias = Literal["json_schema", "json_object", "prompt"]
"""How an output schema reaches the model: ``response_format`` of type ``json_schema``
(OpenAI, vLLM, LM Studio, Ollama), of type ``json_object`` with a ``schema`` (llama.cpp), or
only in the system prompt."""

DoomLoopAction: TypeAlias = Literal["warn", "stop"]
"""``warn``: a repeated call is not run and the model is told so, and twice the threshold
stops the run; ``stop``: the run stops at the threshold."""

TOOL_MODES: Final[tuple[ToolMode, ...]] = ("native", "emulated", "auto")
OUTPUT_MODES: Final[tuple[OutputMode, ...]] = ("json_schema", "json_object", "prompt")
DOOM_LOOP_ACTIONS: Final[tuple[DoomLoopAction, ...]] = ("warn", "stop")


NO_PRICING: Final = (
    "max_budget_usd needs pricing=Pricing(input_per_million=..., output_per_million=...): "
    "without prices nothing a run spends can be counted in dollars, and the budget would never stop it"
)
"""Why ``max_budget_usd`` without ``pricing`` is refused."""


# ---- the shared knobs --------------------------------------------------------------------------


def _schema_or_none(name: str, value: Any) -> None:
    if value is not None:
        from anyagent_core._schema import check_definition  # only for settings with a schema

        try:
            check_definition(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} is not a usable JSON schema: {exc}") from None


def str_tuple(value: str | Iterable[str]) -> tuple[str, ...]:
    """A name or names, as a tuple (the converter of ``fallback_models``)."""
    return (value,) if isinstance(value, str) else tuple(value)


def _context_strategy(name: str, value: Any) -> None:
    if callable(value) or value in CONTEXT_STRATEGIES:
        return
    known = ", ".join(CONTEXT_STRATEGIES)
    raise ValueError(f"{name} must be one of {known} or a function of a ContextView, not {value!r}")


def _pricing_or_none(name: str, value: Any) -> None:
    if value is not None:
        from ._pricing import Pricing  # loaded by the first prices named (or refused)

        checks.instance(Pricing, optional=True)(name, value)


def _optional_schema(value: Any) -> Any:
    return None if value is None else freeze_object(value)


@attrs.frozen(repr=False, eq=False)
class Knob(Value):
    """One setting shared by ``LoopSettings`` and ``AgentOptions``."""

    default: Any
    check: Callable[[str, Any], None]
    """Raises ``ValueError`` naming the field when a value is not allowed."""
    converter: Callable[[Any], Any] | None = None


#: The knobs, in the order the docs list them.
KNOBS: Final[dict[str, Knob]] = {
    "tool_mode": Knob("auto", checks.one_of(TOOL_MODES, "tool mode")),
    "max_turns": Knob(None, checks.positive_int_or_none),
    "max_total_tokens": Knob(None, checks.positive_int_or_none),
    "max_budget_usd": Knob(None, checks.positive_number_or_none),
    "pricing": Knob(None, _pricing_or_none),
    "doom_loop_threshold": Knob(3, checks.positive_int_or_none),
    "doom_loop_action": Knob("warn", checks.one_of(DOOM_LOOP_ACTIONS, "action")),
    "output_schema": Knob(None, _schema_or_none, _optional_schema),
    "output_mode": Knob("json_schema", checks.one_of(OUTPUT_MODES, "output mode")),
    "structured_output_retries": Knob(1, checks.non_negative_int),
    "context_window": Knob(None, checks.positive_int_or_none),
    "context_strategy": Knob("sliding", _context_strategy),
    "token_counter": Knob(None, checks.instance(TokenCounter, optional=True)),
    "retry": Knob(DEFAULT_RETRY_POLICY, checks.instance(RetryPolicy)),
    "fallback_models": Knob((), checks.model_names, str_tuple),
    "reset_tool_choice": Knob(True, checks.boolean),
    "think_tags": Knob(True, checks.boolean),
}


def validator(check: checks.Check, *, error: Callable[[str], Exception] = ValueError) -> Any:
    """An attrs validator running ``check(field name, value)``; a refusal raises ``error(message)``."""

    def validate(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        try:
            check(attribute.name, value)
        except ValueError as exc:
            raise error(str(exc)) from None

    return validate


def knob_validator(name: str, *, error: Callable[[str], Exception] = ValueError) -> Any:
    """The attrs validator of the knob ``name``: a refused value raises ``error(message)``."""
    return validator(KNOBS[name].check, error=error)


def knob(name: str, *, error: Callable[[str], Exception] = ValueError) -> Any:
    """The attrs field for the knob ``name``, default, converter and validator. (A knob with a
    converter that changes the accepted type spells ``attrs.field(converter=...)`` out, so that
    type checkers see it, with ``knob_validator``; the tests check it agrees with ``KNOBS``.)"""
    declared = KNOBS[name]
    return attrs.field(
        default=declared.default, converter=declared.converter, validator=knob_validator(name, error=error)
    )


# ---- the loop's settings -----------------------------------------------------------------------


def _tool_tuple(value: Iterable[LoopTool]) -> tuple[LoopTool, ...]:
    tools = tuple(value)
    if tools:
        from ._traits import LoopTool  # loaded with the first tool given
    for tool in tools:
        if not isinstance(tool, LoopTool):
            raise TypeError(f"LoopSettings.tools holds LoopTool values, not {type(tool).__name__}")
    return tools


@attrs.frozen(kw_only=True, repr=False, eq=False)
class LoopSettings(Value):
    """Everything the loop needs to decide; frozen, no behaviour.

    The knobs shared with ``AgentOptions`` (``KNOBS``) mean the same in both; their
    documentation is ``AgentOptions``'."""

    template: StartTurn
    """The request every turn starts from (model, sampling, tool_choice, response_format,
    extra body, ...); the loop fills in the messages, tools and system prompt."""
    tools: tuple[LoopTool, ...] = attrs.field(default=(), converter=_tool_tuple)
    permissions: PermissionPolicy = attrs.field(factory=PermissionPolicy)
    session_id: str | None = None
    commits: bool = False
    """Hand out a ``Commit`` action at each point where the conversation is consistent (every
    tool call answered) and when the run ends, for a session store to persist."""
    tool_mode: ToolMode = knob("tool_mode")
    max_turns: int | None = knob("max_turns")
    """Model requests per run (since ``start()``), tool round trips included."""
    max_total_tokens: int | None = knob("max_total_tokens")
    max_budget_usd: float | None = knob("max_budget_usd")
    pricing: Pricing | None = knob("pricing")
    doom_loop_threshold: int | None = knob("doom_loop_threshold")
    doom_loop_action: DoomLoopAction = knob("doom_loop_action")
    output_schema: JSONObject | None = knob("output_schema")
    output_mode: OutputMode = knob("output_mode")
    structured_output_retries: int = knob("structured_output_retries")
    context_window: int | None = knob("context_window")
    """The window given (None: unknown until ``AgentLoop.context_window_found()`` tells it)."""
    context_strategy: ContextStrategy = knob("context_strategy")
    token_counter: TokenCounter | None = knob("token_counter")
    """None: a ``CalibratedEstimate`` per model, learning from the usage the server reports."""
    ask_before_compacting: bool = False
    """Hand out ``AskCompaction`` before compacting (a ``PreCompact`` hook may veto or add
    instructions for the summary); without it the loop compacts at once."""
    retry: RetryPolicy = knob("retry")
    fallback_models: tuple[str, ...] = attrs.field(
        default=(), converter=str_tuple, validator=knob_validator("fallback_models")
    )
    reset_tool_choice: bool = knob("reset_tool_choice")
    think_tags: bool = knob("think_tags")
    fallback_endpoint_models: tuple[str, ...] = attrs.field(
        default=(), converter=str_tuple, validator=knob_validator("fallback_models")
    )
    """The model of each fallback endpoint, in order (the endpoints themselves, their URLs and
    keys, are the driver's: ``SendRequest.endpoint`` says which, 1 for the first)."""

    def __attrs_post_init__(self) -> None:
        if self.max_budget_usd is not None and self.pricing is None:
            raise ValueError(NO_PRICING)
        choice = self.template.tool_choice
        if choice not in (None, "auto", "none", "required") and choice not in {t.spec.name for t in self.tools}:
            raise ValueError(f"tool_choice names {choice!r}, which is not among the tools")

    @property
    def models(self) -> tuple[str, ...]:
        return (self.template.model, *self.fallback_models)

    @property
    def routes(self) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """Every model a turn may be tried with, in order, and the endpoint of each: the main
        endpoint's models (the model, then ``fallback_models``), then each fallback endpoint's."""
        models = (*self.models, *self.fallback_endpoint_models)
        endpoints = (0,) * len(self.models) + tuple(range(1, len(self.fallback_endpoint_models) + 1))
        return models, endpoints


#: A tool as the loop sees it, made with the first tool given (``_traits``).
__getattr__, __dir__ = lazy_names(globals(), {"LoopTool": "._agent._traits"})
