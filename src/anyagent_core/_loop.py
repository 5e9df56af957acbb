"""``AgentLoop``: the agent as data. Inputs in, actions out, no awaits and no user code.

Theory of operation
-------------------
A *run* starts with ``start(prompt)`` (or ``resume()``, to continue a conversation whose last
message is the user's) and ends with a ``Done`` action. In between, ``next_action()`` hands out
one action at a time; some of them wait for an answer before anything else can happen:

====================  =============================================================
action handed out     what the loop waits for
====================  =============================================================
``SendRequest``       ``receive_response(message)`` or ``request_failed(...)``
``AskPermission``     ``permission(call_id, PermissionAllow | PermissionDeny)``
``RunTools``          one ``tool_result(block)`` per call, in any order
``Wait``, ``Emit``    nothing: ask for the next action
``Done``              nothing: the run is over
====================  =============================================================

Asking for an action while the loop waits for an answer, or answering what was not asked,
raises ``LocalProtocolError`` naming what the loop expects. ``interrupt()`` may come at any
time during a run.

After an answer with tool calls, every call gets exactly one result before the next request,
in the order the model made them: calls that ran, calls that were denied, unknown tools,
unusable arguments, repeated calls refused by the doom-loop check, and calls cut short by an
interrupt or a doom-loop stop (the model is told why, so it can recover). Budgets (turns,
tokens, cost) are checked before each request: the calls of the answer that spent them still run
and are answered, and the run ends before the next request. Calls of *external*
tools (offered to the model, answered by the caller) end the run with ``pending_tool_calls``;
once the caller has given every result, ``resume()`` continues.

Everything the loop decides (turn limits, token and cost budgets, doom loops, retries and
fallback models, permission rules, tool-call emulation, structured output checks, which old
messages to leave out of a request that would overflow the context) is a function of its inputs:
time and randomness come in as arguments (``request_failed(now=..., random=...)``).
"""

from __future__ import annotations

import enum
import json
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypeAlias

import attrs

from ._actions import Action, AskPermission, Done, Emit, RunTools, SendRequest, Wait
from ._budget import Pricing, compact, cost_usd, estimate_tokens
from ._budget import cost_usd as cost_usd_of
from ._errors import LocalProtocolError
from ._events import StartTurn
from ._json import JSONObject, freeze_object, thaw_json
from ._messages import (
    AssistantMessage,
    ImageBlock,
    Message,
    TextBlock,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    ToolUseError,
    Usage,
    UserMessage,
)
from ._permissions import PermissionAllow, PermissionDeny, PermissionPolicy, ToolTraits
from ._results import ResultMessage, ResultSubtype, SystemMessage, add_usage
from ._retry import DEFAULT_RETRY_POLICY, Failure, GiveUp, Retry, RetryPolicy, RetryState
from ._schema import check_definition as check_schema_definition
from ._schema import validate as validate_schema
from ._textual._emulation._history import emulated_history, to_tool_uses
from ._textual._emulation._prompt import render_tool_prompt
from ._textual._emulation._scanner import ToolCallTextFilter
from ._textual._think import AnswerFilter, think_to_blocks
from ._util import parsed_builder

__all__ = [
    "AgentLoop",
    "DoomLoopAction",
    "LoopSettings",
    "LoopState",
    "LoopTool",
    "OutputMode",
    "ToolMode",
    "parse_structured_output",
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
"""``warn``: a call repeated ``doom_loop_threshold`` times in a row is not run and the model is
told so (twice that many in a row stops the run); ``stop``: the run stops at once."""

TOOL_MODES: tuple[ToolMode, ...] = ("native", "emulated", "auto")
OUTPUT_MODES: tuple[OutputMode, ...] = ("json_schema", "json_object", "prompt")
DOOM_LOOP_ACTIONS: tuple[DoomLoopAction, ...] = ("warn", "stop")


class LoopState(enum.Enum):
    """Where the loop is; ``AgentLoop.state``."""

    IDLE = "IDLE"
    """No run: ``start()`` or ``resume()``."""
    ACTING = "ACTING"
    """Actions are ready: call ``next_action()``."""
    AWAITING_RESPONSE = "AWAITING_RESPONSE"
    """A request is out: ``receive_response()`` or ``request_failed()``."""
    AWAITING_PERMISSION = "AWAITING_PERMISSION"
    """``permission()`` for the call just asked about."""
    AWAITING_TOOLS = "AWAITING_TOOLS"
    """``tool_result()`` for each call handed out with ``RunTools``."""
    AWAITING_EXTERNAL = "AWAITING_EXTERNAL"
    """The run ended with external calls pending: ``tool_result()`` for each, then ``resume()``."""


def _one_of(choices: tuple[str, ...], what: str) -> Any:
    def check(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
        if value not in choices:
            raise ValueError(f"unknown {what} {value!r}; known: {', '.join(choices)}")

    return check


@attrs.frozen(kw_only=True)
class LoopTool:
    """A tool as the loop sees it: its spec, its traits for the permission rules, and whether
    the caller answers it (``external``) instead of the driver running it."""

    spec: ToolSpec
    traits: ToolTraits = attrs.field(factory=ToolTraits)
    external: bool = False


def _positive_or_none(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
        raise ValueError(f"{attribute.name} must be a positive number or None, not {value!r}")


def _schema_or_none(instance: object, attribute: attrs.Attribute[Any], value: JSONObject | None) -> None:
    if value is not None:
        check_schema_definition(value)


def _str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _tool_tuple(value: Iterable[LoopTool]) -> tuple[LoopTool, ...]:
    tools = tuple(value)
    for tool in tools:
        if not isinstance(tool, LoopTool):
            raise TypeError(f"LoopSettings.tools holds LoopTool values, not {type(tool).__name__}")
    return tools


@attrs.frozen(kw_only=True)
class LoopSettings:
    """Everything the loop needs to decide; frozen, no behaviour."""

    template: StartTurn
    """The request every turn starts from (model, sampling, tool_choice, response_format,
    extra body, ...); the loop fills in the messages, tools and system prompt."""
    fallback_models: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    tools: tuple[LoopTool, ...] = attrs.field(default=(), converter=_tool_tuple)
    tool_mode: ToolMode = attrs.field(default="auto", validator=_one_of(TOOL_MODES, "tool mode"))
    permissions: PermissionPolicy = attrs.field(factory=PermissionPolicy)
    max_turns: int | None = attrs.field(default=None, validator=_positive_or_none)
    """Model requests per run (since ``start()``), tool round trips included."""
    max_total_tokens: int | None = attrs.field(default=None, validator=_positive_or_none)
    """Tokens (prompt + completion, summed over the run's answers) after which the run stops."""
    max_budget_usd: float | None = attrs.field(default=None, validator=_positive_or_none)
    """Cost after which the run stops; needs ``pricing`` and usage from the server."""
    pricing: Pricing | None = None
    doom_loop_threshold: int | None = attrs.field(default=3, validator=_positive_or_none)
    """The same tool with the same arguments this many times in a row is a doom loop."""
    doom_loop_action: DoomLoopAction = attrs.field(default="warn", validator=_one_of(DOOM_LOOP_ACTIONS, "action"))
    output_schema: JSONObject | None = attrs.field(
        default=None, converter=attrs.converters.optional(freeze_object), validator=_schema_or_none
    )
    """A JSON schema the final answer must match; it is parsed into ``structured_output``."""
    output_mode: OutputMode = attrs.field(default="json_schema", validator=_one_of(OUTPUT_MODES, "output mode"))
    structured_output_retries: int = attrs.field(default=1, validator=attrs.validators.ge(0))
    """How many times the model is asked again after an answer that does not match the schema."""
    context_window: int | None = attrs.field(default=None, validator=_positive_or_none)
    """The model's context, in tokens: older exchanges are left out of a request whose estimate
    (plus ``max_tokens`` or 1024 for the answer) would not fit; the run's prompt is always kept."""
    retry: RetryPolicy = DEFAULT_RETRY_POLICY
    reset_tool_choice: bool = True
    """After the model called tools, a forcing ``tool_choice`` becomes ``auto`` for the run."""
    session_id: str | None = None
    think_tags: bool = True
    """Read a ``<think>...</think>`` block at the very start of an answer's text (after optional
    whitespace; unclosed, it runs to the end) as reasoning: a ``ThinkingBlock`` before the text,
    never text, and never a place where tool calls are read. False: such text stays text."""

    def __attrs_post_init__(self) -> None:
        choice = self.template.tool_choice
        if choice not in (None, "auto", "none", "required") and choice not in {t.spec.name for t in self.tools}:
            raise ValueError(f"tool_choice names {choice!r}, which is not among the tools")

    @property
    def models(self) -> tuple[str, ...]:
        return (self.template.model, *self.fallback_models)


_TURN_FIELDS = tuple(field.name for field in attrs.fields(StartTurn))
_new_turn = parsed_builder(StartTurn, *_TURN_FIELDS)


def _turn_like(template: StartTurn, **changes: Any) -> StartTurn:
    """``template`` with ``changes``, without running ``StartTurn``'s converters again: every
    value comes from validated objects (the history's messages, the tools' specs, the
    template), and ``LoopSettings`` checked that a forced tool is among the tools."""
    return _new_turn(*[changes[name] if name in changes else getattr(template, name) for name in _TURN_FIELDS])


def _error_result(call_id: str, text: str) -> ToolResultBlock:
    return ToolResultBlock(tool_use_id=call_id, content=text, is_error=True)


def _distinct_call_ids(message: AssistantMessage) -> AssistantMessage:
    """``message`` with each call that repeats an earlier call's id given an id of its own
    (``<id>_2``, ...), so every call gets its own result; unchanged when the ids differ."""
    calls = message.tool_uses
    ids = {call.id for call in calls}
    if len(ids) == len(calls):
        return message
    seen: set[str] = set()
    content = []
    for block in message.content:
        if isinstance(block, ToolUseBlock | ToolUseError):
            if block.id in seen:
                number = 2
                while f"{block.id}_{number}" in ids:
                    number += 1
                new_id = f"{block.id}_{number}"
                ids.add(new_id)
                block = attrs.evolve(block, id=new_id)
            seen.add(block.id)
        content.append(block)
    return attrs.evolve(message, content=tuple(content))


def _call_key(call: ToolUseBlock | ToolUseError) -> tuple[str, str]:
    """What makes two calls the same for the doom-loop check (unusable ones included)."""
    if isinstance(call, ToolUseError):
        return call.name, "\0" + call.arguments
    return call.name, json.dumps(call.input, sort_keys=True, ensure_ascii=False)


def parse_structured_output(text: str, schema: Mapping[str, Any]) -> tuple[Any, str | None]:
    """The answer's JSON value and None, or None and what is wrong with it. A surrounding
    Markdown fence (````` ```json `````) is tolerated."""
    body = text.strip()
    if body.startswith("```"):
        first_newline = body.find("\n")
        if first_newline != -1 and body.endswith("```"):
            body = body[first_newline + 1 : -3].strip()
    if not body:
        return None, "the answer is empty; a JSON value was expected"
    try:
        value = json.loads(body)
    except ValueError as exc:
        return None, f"the answer is not valid JSON ({exc})"
    errors = validate_schema(value, schema)
    if errors:
        return None, "; ".join(f"{error.path}: {error.message}" for error in errors)
    return value, None


class AgentLoop:
    """The agent loop as a state machine; see the module docstring for the protocol.

    ::

        loop = AgentLoop(settings)
        loop.start(UserMessage(content="Fix the typo in notes.md"))
        while True:
            action = loop.next_action()
            if type(action) is SendRequest: ...  # perform it, then loop.receive_response(answer)
            elif type(action) is RunTools: ...   # run them, then loop.tool_result(result) for each
            ...
            elif type(action) is Done: break
    """

    def __init__(self, settings: LoopSettings, *, history: Iterable[Message] = ()) -> None:
        self.settings = settings
        self._tools: dict[str, LoopTool] = {}
        for tool in settings.tools:
            if tool.spec.name in self._tools:
                raise ValueError(f"two tools are named {tool.spec.name!r}")
            self._tools[tool.spec.name] = tool
        self._history: list[Message] = list(history)
        for message in self._history:
            if not isinstance(message, UserMessage | AssistantMessage):
                raise TypeError(f"history holds UserMessage and AssistantMessage values, not {type(message).__name__}")
        self._queue: deque[Action] = deque()
        self._state = LoopState.IDLE
        # answers received over the loop's life (those in a history given too): unique ids for
        # emulated calls, call_<serial>_<n>, never those of the history's answers
        self._serial = sum(1 for message in self._history if type(message) is AssistantMessage)
        # the run (since start())
        self._run_requests = 0
        self._run_tokens = 0
        self._run_cost = 0.0
        self._after_tools = False
        self._prompt_at: int | None = None  # where the run's prompt is in the history
        self._doom_key: tuple[str, str] | None = None
        self._doom_count = 0
        self._schema_retries = settings.structured_output_retries
        # the response (since start() or resume())
        self._answers = 0
        self._usage: Usage | None = None
        self._cost: float | None = None
        self._last_answer: AssistantMessage | None = None
        self._compacted = 0
        self._schema_in_prompt = False  # the server refused response_format: the schema goes in the prompt
        # the request in flight
        self._turn: StartTurn | None = None
        self._retry: RetryState | None = None
        # the tool round in progress
        self._calls: list[ToolUseBlock | ToolUseError] = []
        self._results: dict[str, ToolResultBlock] = {}
        self._to_ask: deque[tuple[ToolUseBlock, str, ToolTraits]] = deque()
        self._asking: ToolUseBlock | None = None
        self._approved: list[ToolUseBlock] = []
        self._running: set[str] = set()
        self._external: list[ToolUseBlock | ToolUseError] = []
        self._stop: tuple[ResultSubtype, str] | None = None

    # ---- what the loop holds --------------------------------------------------------------

    @property
    def state(self) -> LoopState:
        if self._queue:
            return LoopState.ACTING
        return self._state

    @property
    def messages(self) -> tuple[Message, ...]:
        """The whole conversation, tool calls and results included (compaction only changes
        what is sent, never this)."""
        return tuple(self._history)

    @property
    def pending_tool_calls(self) -> tuple[ToolUseBlock | ToolUseError, ...]:
        """External calls still waiting for ``tool_result()``."""
        return tuple(call for call in self._external if call.id not in self._results)

    def tool(self, name: str) -> LoopTool | None:
        return self._tools.get(name)

    def text_filter(self) -> ToolCallTextFilter | None:
        """A filter for streamed text that holds back what may be an emulated tool call; None
        when calls cannot arrive as text (native mode, or no tools)."""
        if self.settings.tool_mode == "native" or not self._tools:
            return None
        return ToolCallTextFilter()

    def answer_filter(self) -> AnswerFilter | None:
        """A filter for streamed text that tells a leading ``<think>`` block (reasoning) from
        the text (``think_tags``) and holds back what may be a tool call written as text (as
        ``text_filter()``); None when neither applies."""
        calls = self.settings.tool_mode != "native" and bool(self._tools)
        if not calls and not self.settings.think_tags:
            return None
        specs = (tool.spec for tool in self.settings.tools)
        return AnswerFilter(think_tags=self.settings.think_tags, calls=calls, tools=specs)

    # ---- starting a run -------------------------------------------------------------------

    def start(self, prompt: UserMessage) -> None:
        """Begin a run with a new user prompt."""
        if not isinstance(prompt, UserMessage):
            raise TypeError(f"start() takes a UserMessage, not {type(prompt).__name__}")
        self._check_idle("start")
        self._prompt_at = len(self._history)
        self._history.append(prompt)
        self._run_requests = 0
        self._run_tokens = 0
        self._run_cost = 0.0
        self._after_tools = False
        self._doom_key = None
        self._doom_count = 0
        self._schema_retries = self.settings.structured_output_retries
        self._compacted = 0
        self._begin_response()

    def resume(self, prompt: UserMessage | None = None, *, new_response: bool = True) -> None:
        """Continue the run: after the external calls got their results, to try again after a
        request failed for good, or with one more user message (``prompt``) after the run ended
        (a ``Stop`` hook asking the model to go on). The run's limits keep counting;
        ``new_response=False`` also keeps the response's counts (turns, usage, cost) for the
        next ``Done``."""
        self._check_idle("resume")
        if prompt is not None:
            if not isinstance(prompt, UserMessage):
                raise TypeError(f"resume() takes a UserMessage, not {type(prompt).__name__}")
            self._history.append(prompt)
        if not self._history or not isinstance(self._history[-1], UserMessage):
            raise LocalProtocolError("resume() needs a conversation that ends with a user message")
        if new_response:
            self._begin_response()
        else:
            self._state = LoopState.ACTING
            self._begin_turn()

    def _check_idle(self, what: str) -> None:
        if self._state is LoopState.AWAITING_EXTERNAL:
            waiting = ", ".join(call.id for call in self.pending_tool_calls)
            raise LocalProtocolError(
                f"{what}() while tool calls await results ({waiting}): give them with tool_result()"
            )
        if self._queue or self._state is not LoopState.IDLE:
            raise LocalProtocolError(f"{what}() during a run (state {self.state.value})")

    def _begin_response(self) -> None:
        self._answers = 0
        self._usage = None
        self._cost = None
        self._last_answer = None
        self._state = LoopState.ACTING
        self._begin_turn()

    # ---- the actions ----------------------------------------------------------------------

    def next_action(self) -> Action:
        """The next thing to do. Raises ``LocalProtocolError`` when the loop waits for an
        answer or no run is in progress."""
        if not self._queue:
            if self._state is LoopState.IDLE:
                raise LocalProtocolError("no run in progress: call start() or resume()")
            if self._state is LoopState.AWAITING_EXTERNAL:
                raise LocalProtocolError("the run ended with tool calls for the caller: tool_result(), then resume()")
            raise LocalProtocolError(f"next_action() while waiting for {_WAITING_FOR[self._state]}")
        action = self._queue.popleft()
        kind = type(action)
        if kind is SendRequest:
            self._state = LoopState.AWAITING_RESPONSE
        elif kind is AskPermission:
            self._state = LoopState.AWAITING_PERMISSION
        elif kind is RunTools:
            self._state = LoopState.AWAITING_TOOLS
        elif kind is Done:
            self._state = LoopState.AWAITING_EXTERNAL if self.pending_tool_calls else LoopState.IDLE
        return action

    def _expect(self, state: LoopState, what: str) -> None:
        if self._queue:
            raise LocalProtocolError(f"{what}() while actions are waiting: call next_action() first")
        if self._state is not state:
            raise LocalProtocolError(f"{what}() unexpected: the loop is waiting for {_WAITING_FOR[self._state]}")

    # ---- requests -------------------------------------------------------------------------

    def _begin_turn(self) -> None:
        settings = self.settings
        if settings.max_turns is not None and self._run_requests >= settings.max_turns:
            self._finish("error_max_turns", f"max_turns ({settings.max_turns}) reached")
            return
        if self._over_budget():
            return
        self._run_requests += 1
        self._retry = RetryState(settings.retry, settings.models)
        self._turn = self._build_turn()
        self._queue.append(SendRequest(turn=self._turn, turn_number=self._run_requests, attempt=1))

    def _build_turn(self) -> StartTurn:
        settings = self.settings
        template = settings.template
        system = template.system_prompt
        specs = tuple(tool.spec for tool in settings.tools)
        tool_choice = template.tool_choice
        if self._after_tools and settings.reset_tool_choice and tool_choice not in (None, "auto", "none"):
            tool_choice = "auto"
        response_format = template.response_format
        schema = settings.output_schema
        if schema is not None:
            if self._schema_in_prompt:
                system = _join(system, _schema_prompt(schema))
            elif settings.output_mode == "json_schema":
                response_format = freeze_object(
                    {"type": "json_schema", "json_schema": {"name": "output", "schema": thaw_json(schema)}}
                )
            elif settings.output_mode == "json_object":
                response_format = freeze_object({"type": "json_object", "schema": thaw_json(schema)})
            else:
                system = _join(system, _schema_prompt(schema))
        history: Sequence[Message] = self._history
        if settings.context_window is not None:
            reserve = template.max_tokens or 1024
            history, dropped = compact(
                history, limit=max(settings.context_window - reserve, 1), system_prompt=system, tools=specs
            )
            if self._prompt_at is not None and dropped > self._prompt_at:
                # never the run's prompt: a later user message (asking again, a Stop hook's) is no task
                history, dropped = self._history[self._prompt_at :], self._prompt_at
            if dropped != self._compacted:
                self._compacted = dropped
                if dropped:
                    estimate = estimate_tokens(history, system_prompt=system, tools=specs)
                    self._queue.append(
                        Emit(
                            message=SystemMessage(
                                subtype="compact",
                                data={"dropped_messages": dropped, "estimated_tokens": estimate},
                            )
                        )
                    )
        tools = specs
        if settings.tool_mode == "emulated" and specs:
            system = _join(system, render_tool_prompt(specs))
            history = emulated_history(history)
            tools = ()
            tool_choice = None
        elif not specs:
            tool_choice = None if tool_choice not in ("none",) else tool_choice
        return _turn_like(
            template,
            messages=_alternating(history),
            system_prompt=system,
            tools=tools,
            tool_choice=tool_choice,
            response_format=response_format,
        )

    def receive_response(self, message: AssistantMessage) -> None:
        """The answer to the last ``SendRequest``. A call that repeats the id of an earlier call
        in the answer is kept with an id of its own (``<id>_2``), in the conversation too."""
        self._expect(LoopState.AWAITING_RESPONSE, "receive_response")
        if not isinstance(message, AssistantMessage):
            raise TypeError(f"receive_response() takes an AssistantMessage, not {type(message).__name__}")
        self._state = LoopState.ACTING
        self._serial += 1
        self._answers += 1
        if self.settings.think_tags:
            message = think_to_blocks(message)
        if self._tools and self.settings.tool_mode != "native":
            specs = (tool.spec for tool in self.settings.tools)
            message = to_tool_uses(message, id_prefix=f"call_{self._serial}_", tools=specs)
        message = _distinct_call_ids(message)
        self._count(message)
        self._history.append(message)
        self._last_answer = message
        self._queue.append(Emit(message=message))
        calls = message.tool_uses
        if calls:
            self._after_tools = True
            self._plan(calls)
        elif self._check_output(message):
            self._finish("success")

    def _count(self, message: AssistantMessage) -> None:
        usage = message.usage
        self._usage = add_usage(self._usage, usage)
        cost = cost_usd(usage, self.settings.pricing)
        if cost is not None:
            self._cost = (self._cost or 0.0) + cost
            self._run_cost += cost
        if self.settings.max_total_tokens is None:
            return  # tokens are only counted for a token budget
        tokens = None
        if usage is not None:
            tokens = usage.total_tokens
            if tokens is None and (usage.prompt_tokens is not None or usage.completion_tokens is not None):
                tokens = (usage.prompt_tokens or 0) + (usage.completion_tokens or 0)
        if tokens is None:  # no usage from the server: estimate what was sent and received
            turn = self._turn
            sent = 0
            if turn is not None:
                sent = estimate_tokens(turn.messages, system_prompt=turn.system_prompt, tools=turn.tools)
            tokens = sent + estimate_tokens([message]) - 4
        self._run_tokens += tokens

    def budget_left(self) -> tuple[int | None, float | None]:
        """What the run may still spend: ``(tokens, usd)`` left of ``max_total_tokens`` and
        ``max_budget_usd`` (None where there is no such budget; never below 0). A subagent run
        on the run's behalf gets these as its own budgets."""
        settings = self.settings
        tokens = None if settings.max_total_tokens is None else max(0, settings.max_total_tokens - self._run_tokens)
        usd = None if settings.max_budget_usd is None else max(0.0, settings.max_budget_usd - self._run_cost)
        return tokens, usd

    def add_usage(self, usage: Usage | None, *, cost_usd: float | None = None) -> None:
        """Count what was spent on the run's behalf outside its own requests (a subagent's run):
        ``usage`` goes into the response's usage totals and the run's token budget, ``cost_usd``
        (or, without it, ``usage`` at ``settings.pricing``) into its cost and cost budget. The
        budgets are checked before the next request, as for the loop's own answers."""
        if usage is not None and not isinstance(usage, Usage):
            raise TypeError(f"add_usage() takes a Usage or None, not {type(usage).__name__}")
        if self._state is LoopState.IDLE and not self._queue:
            raise LocalProtocolError("add_usage() with no run in progress")
        self._usage = add_usage(self._usage, usage)
        cost = cost_usd if cost_usd is not None else cost_usd_of(usage, self.settings.pricing)
        if cost is not None:
            self._cost = (self._cost or 0.0) + cost
            self._run_cost += cost
        if usage is not None:
            tokens = usage.total_tokens
            if tokens is None:
                tokens = (usage.prompt_tokens or 0) + (usage.completion_tokens or 0)
            self._run_tokens += tokens

    def _over_budget(self) -> bool:
        settings = self.settings
        if settings.max_total_tokens is not None and self._run_tokens >= settings.max_total_tokens:
            self._finish(
                "error_max_budget_tokens",
                f"token budget spent: {self._run_tokens} of max_total_tokens={settings.max_total_tokens}",
            )
            return True
        if settings.max_budget_usd is not None and self._run_cost >= settings.max_budget_usd:
            self._finish(
                "error_max_budget_usd",
                f"cost budget spent: ${self._run_cost:.6f} of max_budget_usd={settings.max_budget_usd}",
            )
            return True
        return False

    def request_failed(
        self,
        failure: Failure,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        error_text: Iterable[object] = (),
        message: str = "",
        now: float | None = None,
        random: float = 0.5,
        retryable: bool = True,
    ) -> None:
        """The last ``SendRequest`` failed: the loop retries (``Wait``, then ``SendRequest``,
        perhaps with a fallback model) or gives up (``Done`` with ``error_during_execution``).
        ``message`` describes the failure; ``now`` (Unix time) reads ``Retry-After`` dates and
        ``random`` in [0, 1) sets the jitter. ``retryable=False``: the failure came after output
        arrived, and a request is never repeated then."""
        self._expect(LoopState.AWAITING_RESPONSE, "request_failed")
        assert self._retry is not None and self._turn is not None
        error_text = tuple(error_text)
        if self._rejects_response_format(status, (message, *error_text)):
            # The server does not take response_format: ask for the schema in the prompt instead.
            self._schema_in_prompt = True
            self._state = LoopState.ACTING
            model = self._turn.model
            self._turn = attrs.evolve(self._build_turn(), model=model)
            self._queue.append(
                Emit(
                    message=SystemMessage(
                        subtype="structured_output_fallback",
                        data={"reason": message or f"HTTP {status}", "output_mode": "prompt"},
                    )
                )
            )
            attempt = self._retry.attempts + 1
            self._retry.attempts = attempt
            self._queue.append(SendRequest(turn=self._turn, turn_number=self._run_requests, attempt=attempt))
            return
        decision: Retry | GiveUp
        if retryable:
            decision = self._retry.failed(
                failure, status=status, headers=headers, error_text=error_text, now=now, random=random
            )
        else:
            decision = GiveUp(reason="the response had begun")
        self._state = LoopState.ACTING
        if isinstance(decision, GiveUp):
            self._run_requests -= 1  # the turn got no answer: resume() may try it again
            self._finish("error_during_execution", f"{message or failure.value}; not retried: {decision.reason}")
            return
        self._queue.append(
            Wait(seconds=decision.delay, attempt=decision.attempt, model=decision.model, reason=decision.reason)
        )
        turn = self._turn if decision.model == self._turn.model else attrs.evolve(self._turn, model=decision.model)
        self._queue.append(SendRequest(turn=turn, turn_number=self._run_requests, attempt=decision.attempt))

    def _rejects_response_format(self, status: int | None, texts: Iterable[object]) -> bool:
        """A 400 or 422 that names ``response_format`` (or ``json_schema``) for a request that
        sent one."""
        if status not in (400, 422) or self._schema_in_prompt:
            return False
        if self.settings.output_schema is None or self.settings.output_mode == "prompt":
            return False
        said = " ".join(str(text) for text in texts if text is not None).lower()
        return "response_format" in said or "json_schema" in said or "response format" in said

    # ---- tool calls -----------------------------------------------------------------------

    def _plan(self, calls: tuple[ToolUseBlock | ToolUseError, ...]) -> None:
        settings = self.settings
        self._calls = list(calls)
        self._results = {}
        self._approved = []
        self._external = []
        self._to_ask.clear()
        stop: str | None = None
        threshold = settings.doom_loop_threshold
        for call in calls:
            key = _call_key(call)
            if key == self._doom_key:
                self._doom_count += 1
            else:
                self._doom_key, self._doom_count = key, 1
            tool = None if isinstance(call, ToolUseError) else self._tools.get(call.name)
            if threshold is not None and self._doom_count >= threshold:
                if settings.doom_loop_action == "stop" or self._doom_count >= 2 * threshold:
                    stop = f"doom loop: {call.name} called with the same arguments {self._doom_count} times in a row"
                    break
                if tool is not None:
                    self._results[call.id] = _error_result(
                        call.id,
                        f"Error: not run. You called {call.name} with these same arguments {self._doom_count} "
                        "times in a row; the result will not change. Try a different approach, or answer with "
                        "what you have.",
                    )
                    continue
            if isinstance(call, ToolUseError):
                self._results[call.id] = _error_result(
                    call.id,
                    f"Error: the arguments of this {call.name or 'tool'} call could not be used ({call.error}). "
                    "Call it again with arguments that are one JSON object.",
                )
                continue
            if tool is None:
                known = ", ".join(self._tools) or "none"
                self._results[call.id] = _error_result(
                    call.id, f"Error: there is no tool named {call.name!r}. Available tools: {known}."
                )
                continue
            if tool.external:
                self._external.append(call)
                continue
            decision = settings.permissions.decide(call.name, call.input, tool.traits)
            if decision.behavior == "allow":
                self._approved.append(call)
            elif decision.behavior == "deny":
                self._results[call.id] = _error_result(call.id, f"Permission denied: {decision.reason}.")
            else:
                self._to_ask.append((call, decision.reason, tool.traits))
        if stop is not None:
            self._cut_round("not run: the run stopped (a doom loop: the same call repeated)")
            self._finish("error_doom_loop", stop)
            return
        self._advance()

    def _advance(self) -> None:
        """Hand out what the tool round needs next, or end the round."""
        if self._to_ask:
            call, reason, traits = self._to_ask.popleft()
            self._asking = call
            self._queue.append(AskPermission(call=call, reason=reason, traits=traits))
            return
        if self._approved:
            order = {call.id: index for index, call in enumerate(self._calls)}
            calls = tuple(sorted(self._approved, key=lambda call: order[call.id]))  # the model's order
            self._approved = []
            self._running = {call.id for call in calls}
            self._queue.append(RunTools(calls=calls))
            return
        if self._running:
            return
        if self.pending_tool_calls:
            self._finish("success")
            return
        self._send_results(emit=True)
        self._begin_turn()

    def _send_results(self, *, emit: bool) -> None:
        blocks = tuple(self._results[call.id] for call in self._calls if call.id in self._results)
        self._calls = []
        self._results = {}
        self._external = []
        if blocks:
            message = UserMessage(content=blocks)
            self._history.append(message)
            if emit:
                self._queue.append(Emit(message=message))

    def permission(self, call_id: str, answer: PermissionAllow | PermissionDeny) -> None:
        """The answer to the last ``AskPermission``."""
        self._expect(LoopState.AWAITING_PERMISSION, "permission")
        call = self._asking
        assert call is not None
        if call_id != call.id:
            raise LocalProtocolError(f"permission() for {call_id!r}, but the loop asked about {call.id!r}")
        if not isinstance(answer, PermissionAllow | PermissionDeny):
            raise TypeError(f"permission() takes PermissionAllow or PermissionDeny, not {type(answer).__name__}")
        self._asking = None
        self._state = LoopState.ACTING
        if isinstance(answer, PermissionAllow):
            if answer.updated_input is not None:
                call = attrs.evolve(call, input=answer.updated_input)
                tool = self._tools[call.name]
                for rule in self.settings.permissions.disallowed_tools:
                    if rule.matches(call.name, call.input, tool.traits):
                        self._results[call.id] = _error_result(
                            call.id, f"Permission denied: the rewritten call is disallowed by the rule {str(rule)!r}."
                        )
                        self._advance()
                        return
            self._approved.append(call)
        else:
            self._results[call.id] = _error_result(call.id, f"Permission denied: {answer.message}")
            if answer.interrupt:
                self.interrupt()
                return
        self._advance()

    def tool_result(self, result: ToolResultBlock) -> None:
        """The result of a call handed out with ``RunTools`` (or of an external call, after the
        run ended with it pending)."""
        if not isinstance(result, ToolResultBlock):
            raise TypeError(f"tool_result() takes a ToolResultBlock, not {type(result).__name__}")
        call_id = result.tool_use_id
        if self._state is LoopState.AWAITING_EXTERNAL and not self._queue:
            if call_id not in {call.id for call in self.pending_tool_calls}:
                raise LocalProtocolError(_no_call(call_id, self._results, self.pending_tool_calls))
            self._results[call_id] = result
            if not self.pending_tool_calls:
                self._send_results(emit=False)
                self._state = LoopState.IDLE
            return
        if self._state is LoopState.IDLE and not self._queue:
            raise LocalProtocolError(_no_call(call_id, {}, ()))
        self._expect(LoopState.AWAITING_TOOLS, "tool_result")
        if call_id not in self._running:
            waiting = [call for call in self._calls if call.id in self._running]
            raise LocalProtocolError(_no_call(call_id, self._results, waiting))
        self._running.discard(call_id)
        self._results[call_id] = result
        if not self._running:
            self._state = LoopState.ACTING
            self._advance()

    def _cut_round(self, why: str) -> None:
        """Answer every call of the round that has no result yet, and close the round."""
        for call in self._calls:
            if call.id not in self._results:
                self._results[call.id] = _error_result(call.id, f"Error: {why}.")
        self._to_ask.clear()
        self._asking = None
        self._approved = []
        self._running = set()
        self._send_results(emit=True)

    # ---- structured output ----------------------------------------------------------------

    def _check_output(self, message: AssistantMessage) -> bool:
        """True when the run may end with ``message``; otherwise the model was asked again."""
        schema = self.settings.output_schema
        if schema is None:
            return True
        _, error = parse_structured_output(message.text, schema)
        if error is None:
            return True
        if self._schema_retries <= 0:
            self._finish("error_max_structured_output_retries", f"the answer does not match the output schema: {error}")
            return False
        self._schema_retries -= 1
        again = UserMessage(
            content=f"Your answer does not match the required JSON schema: {error}. "
            "Answer again with only the JSON value, matching the schema."
        )
        self._history.append(again)
        self._queue.append(Emit(message=again))
        self._begin_turn()
        return False

    # ---- ending ---------------------------------------------------------------------------

    def interrupt(self, partial: AssistantMessage | None = None) -> None:
        """Stop the run: what is queued is dropped, calls without a result are answered as
        interrupted, and the run ends with ``interrupted``. ``partial`` is what had arrived of
        an answer being received (its text is kept, without the calls in it, native or written
        as text). Without a run, nothing happens."""
        if self._state in (LoopState.IDLE, LoopState.AWAITING_EXTERNAL) and not self._queue:
            return
        if self._queue and type(self._queue[-1]) is Done:
            return  # the run is already over
        if self._state is LoopState.AWAITING_RESPONSE or any(type(a) is SendRequest for a in self._queue):
            self._run_requests -= 1  # that turn got no answer
        receiving = self._state is LoopState.AWAITING_RESPONSE
        self._queue = deque(action for action in self._queue if type(action) is Emit)
        if receiving and partial is not None and partial.usage is not None:
            self._usage = add_usage(self._usage, partial.usage)
            cost = cost_usd(partial.usage, self.settings.pricing)
            if cost is not None:
                self._cost = (self._cost or 0.0) + cost
                self._run_cost += cost
        if receiving and partial is not None:
            if self.settings.think_tags:
                partial = think_to_blocks(partial)
            kept = tuple(b for b in partial.content if not isinstance(b, ToolUseBlock | ToolUseError))
            if self._tools and self.settings.tool_mode != "native":  # calls written as text go too
                kept = tuple(
                    b
                    for b in to_tool_uses(AssistantMessage(content=kept), id_prefix="").content
                    if not isinstance(b, ToolUseBlock | ToolUseError)
                )
            if kept:
                message = AssistantMessage(
                    content=kept, model=partial.model, id=partial.id, stop_reason="interrupted", usage=partial.usage
                )
                self._history.append(message)
                self._last_answer = message
                self._queue.append(Emit(message=message))
        self._state = LoopState.ACTING
        if self._calls:
            self._external = []
            self._cut_round("interrupted by the user; the call did not complete")
        self._finish("interrupted")

    def _finish(self, subtype: ResultSubtype, error: str | None = None) -> None:
        answer = self._last_answer
        structured = None
        if subtype == "success" and self.settings.output_schema is not None and answer is not None:
            structured, _ = parse_structured_output(answer.text, self.settings.output_schema)
        text = answer.text if answer is not None else ""
        pending = self.pending_tool_calls if subtype == "success" else ()
        result = ResultMessage(
            subtype=subtype,
            result=text or None,
            is_error=subtype.startswith("error"),
            num_turns=self._answers,
            duration_ms=0,
            duration_api_ms=0,
            usage=self._usage,
            stop_reason=answer.stop_reason if answer is not None else None,
            model=answer.model if answer is not None else None,
            pending_tool_calls=pending,
            errors=(error,) if error else (),
            session_id=self.settings.session_id,
            total_cost_usd=self._cost,
            structured_output=structured,
        )
        self._queue.append(Done(result=result))


_WAITING_FOR = {
    LoopState.IDLE: "start() or resume()",
    LoopState.ACTING: "next_action()",
    LoopState.AWAITING_RESPONSE: "receive_response() or request_failed()",
    LoopState.AWAITING_PERMISSION: "permission()",
    LoopState.AWAITING_TOOLS: "tool_result()",
    LoopState.AWAITING_EXTERNAL: "tool_result() for the pending calls, then resume()",
}


def _no_call(
    call_id: str, results: Mapping[str, ToolResultBlock], waiting: Sequence[ToolUseBlock | ToolUseError]
) -> str:
    if call_id in results:
        return f"tool call {call_id!r} already has a result"
    ids = ", ".join(call.id for call in waiting) or "none"
    return f"no tool call {call_id!r} awaits a result (waiting: {ids})"


def _is_prompt(message: Message) -> bool:
    """A user message with no tool results (a prompt)."""
    if type(message) is not UserMessage:
        return False
    content = message.content
    return isinstance(content, str) or not any(type(block) is ToolResultBlock for block in content)


def _alternating(history: Sequence[Message]) -> tuple[Message, ...]:
    """``history`` with prompts that follow one another joined into one message (a prompt sent
    after a request that failed, or after an interrupted answer that left nothing): many chat
    templates (Mistral's, Gemma's) reject two user turns in a row."""
    joined: list[Message] | None = None
    for index in range(1, len(history)):
        if _is_prompt(history[index]) and _is_prompt(history[index - 1]):
            joined = []
            break
    if joined is None:
        return tuple(history)
    for message in history:
        last = joined[-1] if joined else None
        if last is not None and _is_prompt(message) and _is_prompt(last):
            assert isinstance(last, UserMessage) and isinstance(message, UserMessage)
            joined[-1] = _join_prompts(last, message)
        else:
            joined.append(message)
    return tuple(joined)


def _join_prompts(first: UserMessage, second: UserMessage) -> UserMessage:
    if isinstance(first.content, str) and isinstance(second.content, str):
        return UserMessage(content=f"{first.content}\n\n{second.content}")
    blocks: list[TextBlock | ImageBlock | ToolResultBlock] = []
    for content in (first.content, second.content):
        blocks.extend((TextBlock(text=content),) if isinstance(content, str) else content)
    return UserMessage(content=tuple(blocks))


def _join(system: str | None, extra: str) -> str:
    return extra if not system else f"{system}\n\n{extra}"


def _schema_prompt(schema: JSONObject) -> str:
    text = json.dumps(thaw_json(schema), ensure_ascii=False, separators=(",", ":"))
    return f"Answer with only a JSON value (no prose, no code fence) that matches this JSON schema:\n{text}"
