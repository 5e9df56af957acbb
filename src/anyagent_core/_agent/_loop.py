"""``AgentLoop``: the agent as data. Inputs in, actions out, no awaits and no user code.

Theory of operation
-------------------
A *run* starts with ``start(prompt)`` (or ``resume()``, to continue a conversation whose last
message is the user's) and ends with a ``Done`` action. In between, ``next_action()`` hands out
one action at a time; some of them wait for an answer before anything else can happen. The
transitions are tables in ``_loop_state.py``:

<!-- loop-transitions -->
====================  =============================================================
action handed out     what the loop waits for
====================  =============================================================
``SendRequest``       ``receive_response() or request_failed()``
``AskPermission``     ``permission()``
``AskCompaction``     ``compaction()``
``RunTools``          ``tool_result()`` (one per call, in any order)
``Wait``              nothing: ask for the next action
``Emit``              nothing: ask for the next action
``Commit``            nothing: ask for the next action
``Done``              nothing: the run is over (external calls pending: their ``tool_result()``)
====================  =============================================================
<!-- /loop-transitions -->

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

With ``LoopSettings.commits`` the loop also says when the conversation is consistent, so it can
be persisted one turn at a time: a ``Commit`` carries the messages added since the last one,
after each tool round and when the run ends (with the run's result). A *side request* (a
``SendRequest`` with ``side`` set) is a request of the loop's own whose answer does not join the
conversation.

Everything the loop decides (turn limits, token and cost budgets, doom loops, retries and
fallback models, permission rules, tool-call emulation, structured output checks, which old
messages to leave out of a request that would overflow the context) is a function of its inputs:
time and randomness come in as arguments (``request_failed(now=..., random=...)``).

State is grouped by lifetime: the loop's own (settings, conversation, queue), the *run*'s
(since ``start()``: turn count, spend for the budgets, doom-loop counts), the *response*'s
(since the last ``start()`` or ``resume()``: answers, spend reported, last answer), the request
in flight, and the tool round. Each is one object, so a reset is one assignment.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from anyagent_core._context._strategies import (
    check_pairs,
    sliding,
    strategy_function,
    truncate_text,
)
from anyagent_core._context._tokens import CalibratedEstimate, TokenCounter, count_request, estimate_tokens
from anyagent_core._errors import LocalProtocolError
from anyagent_core._events import StartTurn
from anyagent_core._json import JSONObject
from anyagent_core._messages import (
    AssistantMessage,
    Message,
    ToolChoice,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    ToolUseError,
    Usage,
    UserMessage,
)
from anyagent_core._util import parsed_builder
from anyagent_core.value import Record

from ._actions import Action, AskCompaction, AskPermission, Commit, Done, Emit, RunTools, SendRequest, Wait
from ._conversation import alternating, distinct_call_ids, join_system
from ._loop_state import AFTER_ACTION, DONE_WITH_PENDING_CALLS, LoopState, check_accepts
from ._output import parse_structured_output, rejects_response_format, response_format_for, schema_prompt
from ._results import ResultMessage, ResultSubtype, SystemMessage
from ._retry import Failure, RetryState, is_context_length_error
from ._round import DoomWatch, Round, error_result, plan_round
from ._settings import LoopSettings
from ._spend import Spend, cost_usd, tokens_of

if TYPE_CHECKING:  # the text toolkits load when a run needs them (tools as text, <think> tags)
    from anyagent_core._context._plans import Compaction, ContextView
    from anyagent_core._context._usage import ContextSummary, ContextUsage
    from anyagent_core._context._window import WindowSource
    from anyagent_core._textual._emulation._scanner import ToolCallTextFilter
    from anyagent_core._textual._think import AnswerFilter

    from ._answers import PermissionAllow, PermissionDeny
    from ._decisions import GiveUp, Retry
    from ._traits import LoopTool

__all__ = ["AgentLoop"]

_TURN_FIELDS = tuple(field.name for field in attrs.fields(StartTurn))
_new_turn = parsed_builder(StartTurn, *_TURN_FIELDS)


def _turn_like(template: StartTurn, **changes: object) -> StartTurn:
    """``template`` with ``changes``, without running ``StartTurn``'s converters again: every
    value comes from validated objects (the history's messages, the tools' specs, the
    template), and ``LoopSettings`` checked that a forced tool is among the tools."""
    return _new_turn(*[changes[name] if name in changes else getattr(template, name) for name in _TURN_FIELDS])


class _Run(Record):
    """What lives from ``start()`` to the next ``start()``."""

    __slots__ = ("after_tools", "doom", "prompt_at", "reactive_turn", "requests", "schema_retries", "spend")

    def __init__(self, *, prompt_at: int | None = None, schema_retries: int = 0) -> None:
        self.requests = 0
        """Model requests of the run's conversation (side requests not counted)."""
        self.spend = Spend()
        """What the budgets are checked against."""
        self.after_tools = False
        self.prompt_at = prompt_at
        """Where the run's prompt is in the conversation."""
        self.doom = DoomWatch()
        self.schema_retries = schema_retries
        self.reactive_turn = 0
        """The turn whose request was compacted after the server refused it (once per turn)."""


class _Response(Record):
    """What lives from a ``start()`` or ``resume()`` to the ``Done`` that reports it."""

    __slots__ = ("answers", "last_answer", "last_endpoint", "spend")

    def __init__(self) -> None:
        self.answers = 0
        self.spend = Spend()
        self.last_answer: AssistantMessage | None = None
        self.last_endpoint = 0


class _Side(Record):
    """A side request: its purpose, and what to do with its answer or its failure."""

    __slots__ = ("on_answer", "on_failure", "purpose")

    def __init__(
        self, *, purpose: str, on_answer: Callable[[AssistantMessage], None], on_failure: Callable[[str], None]
    ) -> None:
        self.purpose = purpose
        self.on_answer = on_answer
        self.on_failure = on_failure


class _Compacting(Record):
    """A compaction asked about (``AskCompaction``) or waiting for its summary."""

    __slots__ = ("instructions", "limit", "tokens", "trigger")

    def __init__(self, *, trigger: str, tokens: int, limit: int, instructions: str | None = None) -> None:
        self.trigger = trigger
        self.tokens = tokens
        self.limit = limit
        self.instructions = instructions


class _InFlight(Record):
    """The request out (or being retried)."""

    __slots__ = ("endpoint", "retry", "side", "turn")

    def __init__(self, *, turn: StartTurn, retry: RetryState, side: _Side | None = None, endpoint: int = 0) -> None:
        self.turn = turn
        self.retry = retry
        self.side = side
        self.endpoint = endpoint


#: The side request's instructions when a part of the conversation is summarised.
SUMMARY_PROMPT = (
    "You summarise a conversation between a user and an AI assistant so that the assistant can "
    "go on without it. Keep every fact, decision, file name, value, tool result and open question "
    "that later turns may need; leave out pleasantries. Write the summary only, as plain text."
)
#: What the summary message starts with, in the requests that follow.
SUMMARY_HEADER = "[Summary of the earlier conversation, which was left out to fit the context window]"
#: Below this many prompt tokens a server is not suspected of cutting the prompt.
TRUNCATION_MIN_TOKENS = 256


def _transcript(messages: Sequence[Message]) -> str:
    """The messages as text for the summary request: roles, texts, calls and results."""
    lines: list[str] = []
    for message in messages:
        role = "user" if type(message) is UserMessage else "assistant"
        content = message.content
        if isinstance(content, str):
            lines.append(f"{role}: {content}")
            continue
        for block in content:
            if isinstance(block, ToolUseBlock | ToolUseError):
                lines.append(f"{role} called {block.name}({block.arguments})")
            elif type(block) is ToolResultBlock:
                text = (
                    block.content
                    if isinstance(block.content, str)
                    else " ".join(getattr(part, "text", "[image]") for part in block.content)
                )
                lines.append(f"tool result: {text}")
            elif hasattr(block, "text"):
                lines.append(f"{role}: {block.text}")
    return "\n".join(lines)


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

    def __init__(
        self, settings: LoopSettings, *, history: Iterable[Message] = (), summary: ContextSummary | None = None
    ) -> None:
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
        self._committed = len(self._history)  # the history given is stored already
        self._schema_in_prompt = False  # the server refused response_format: the schema goes in the prompt
        self._run = _Run(schema_retries=settings.structured_output_retries)
        self._response = _Response()
        self._request: _InFlight | None = None
        self._round = Round()
        if summary is not None:
            from anyagent_core._context._usage import ContextSummary  # made by a run that summarised

            if not (isinstance(summary, ContextSummary) and 0 <= summary.replaces <= len(self._history)):
                raise ValueError("summary must be a ContextSummary replacing at most the history's messages")
        self._context_summary = summary
        self._summary_committed = True
        self._counters: dict[str, TokenCounter] = {}
        self._window: int | None = settings.context_window
        self._window_source: WindowSource = "user" if settings.context_window is not None else "unknown"
        self._notices: list[SystemMessage] = []  # told at the next run's start
        self._compaction_key: tuple[int, int, int] = (0, 0, 0)
        self._left_out = 0
        self._compacting: _Compacting | None = None
        self._truncation_told = False
        # what each endpoint has shown of itself (window, its source, response_format refused),
        # the current one's in the fields above; 0 is the main endpoint
        self._endpoint = 0
        self._endpoints: dict[int, tuple[int | None, WindowSource, bool]] = {}

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
        return self._round.pending

    def tool(self, name: str) -> LoopTool | None:
        return self._tools.get(name)

    def set_tools(self, tools: Sequence[LoopTool]) -> None:
        """Offer ``tools`` from the next run on, in place of ``settings.tools`` (a tool server's
        list changed). Between runs only: ``RuntimeError`` while a run is in progress,
        ``ValueError`` for two tools of one name."""
        if self.state is not LoopState.IDLE:
            raise RuntimeError(f"set_tools() between runs only, not while the loop is {self.state.value}")
        settings = attrs.evolve(self.settings, tools=tuple(tools))  # LoopSettings checks each is a LoopTool
        by_name: dict[str, LoopTool] = {}
        for tool in settings.tools:
            if tool.spec.name in by_name:
                raise ValueError(f"two tools are named {tool.spec.name!r}")
            by_name[tool.spec.name] = tool
        self.settings, self._tools = settings, by_name

    def text_filter(self) -> ToolCallTextFilter | None:
        """A filter for streamed text that holds back what may be an emulated tool call; None
        when calls cannot arrive as text (native mode, or no tools)."""
        if self.settings.tool_mode == "native" or not self._tools:
            return None
        from anyagent_core._textual._emulation._scanner import ToolCallTextFilter  # loaded when used

        return ToolCallTextFilter()

    def answer_filter(self) -> AnswerFilter | None:
        """A filter for streamed text that tells a leading ``<think>`` block (reasoning) from
        the text (``think_tags``) and holds back what may be a tool call written as text (as
        ``text_filter()``); None when neither applies."""
        calls = self.settings.tool_mode != "native" and bool(self._tools)
        if not calls and not self.settings.think_tags:
            return None
        from anyagent_core._textual._think import AnswerFilter  # loaded when used

        specs = (tool.spec for tool in self.settings.tools)
        return AnswerFilter(think_tags=self.settings.think_tags, calls=calls, tools=specs)

    # ---- starting a run -------------------------------------------------------------------

    def start(self, prompt: UserMessage) -> None:
        """Begin a run with a new user prompt."""
        if not isinstance(prompt, UserMessage):
            raise TypeError(f"start() takes a UserMessage, not {type(prompt).__name__}")
        self._check_idle("start")
        self._run = _Run(prompt_at=len(self._history), schema_retries=self.settings.structured_output_retries)
        self._history.append(prompt)
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
        if self._state is LoopState.AWAITING_EXTERNAL and not self._queue:
            waiting = ", ".join(call.id for call in self.pending_tool_calls)
            raise LocalProtocolError(
                f"{what}() while tool calls await results ({waiting}): give them with tool_result()"
            )
        check_accepts(self.state, what, queued=False)

    def _begin_response(self) -> None:
        self._response = _Response()
        self._state = LoopState.ACTING
        self._flush_notices()
        self._begin_turn()

    # ---- the actions ----------------------------------------------------------------------

    def next_action(self) -> Action:
        """The next thing to do. Raises ``LocalProtocolError`` when the loop waits for an
        answer or no run is in progress."""
        if not self._queue:
            check_accepts(self._state, "next_action", queued=False)
            raise LocalProtocolError("next_action(): no action is ready")  # pragma: no cover (a bug)
        action = self._queue.popleft()
        state = AFTER_ACTION[type(action)]
        if state is LoopState.IDLE and self.pending_tool_calls:
            state = DONE_WITH_PENDING_CALLS
        self._state = state
        return action

    def _expect(self, what: str) -> None:
        check_accepts(self._state, what, queued=bool(self._queue))

    def _commit(self, result: ResultMessage | None = None) -> None:
        """Hand out what joined the conversation since the last commit (with ``commits``)."""
        if not self.settings.commits:
            return
        added = tuple(self._history[self._committed :])
        summary = None if self._summary_committed else self._context_summary
        if not added and result is None and summary is None:
            return
        self._committed = len(self._history)
        self._summary_committed = True
        self._queue.append(Commit(messages=added, turn_number=self._run.requests, result=result, summary=summary))

    # ---- requests -------------------------------------------------------------------------

    def _begin_turn(self) -> None:
        settings = self.settings
        run = self._run
        if settings.max_turns is not None and run.requests >= settings.max_turns:
            self._finish("error_max_turns", f"max_turns ({settings.max_turns}) reached")
            return
        if self._over_budget():
            return
        run.requests += 1
        self._prepare_turn("auto")

    def _prepare_turn(self, trigger: str, *, limit: int | None = None) -> None:
        """Build the next request, compacting it first when it does not fit (asking first with
        ``ask_before_compacting``), and queue it. Every turn starts on the main endpoint, fitted
        to its window."""
        if self._endpoint != 0:
            self._use_endpoint(0)
        view = self._view(limit)
        if view is not None:
            tokens = view.tokens()
            if tokens > view.limit:
                compacting = _Compacting(trigger=trigger, tokens=tokens, limit=view.limit)
                if self.settings.ask_before_compacting:
                    self._compacting = compacting
                    self._queue.append(
                        AskCompaction(
                            trigger="reactive" if trigger == "reactive" else "auto",
                            strategy=self._strategy_name,
                            tokens=tokens,
                            limit=view.limit,
                            window=self._window,
                        )
                    )
                    return
                self._compact(compacting)
                return
            self._compaction_key = (0, 0, 0)
            self._left_out = self._history_start()
        else:
            self._left_out = 0
        self._queue_turn(self._build_turn())

    def _queue_turn(self, turn: StartTurn) -> None:
        settings = self.settings
        models, endpoints = settings.routes
        self._request = _InFlight(turn=turn, retry=RetryState(settings.retry, models, endpoints=endpoints))
        self._queue.append(SendRequest(turn=turn, turn_number=self._run.requests, attempt=1))

    @property
    def endpoint(self) -> int:
        """The endpoint requests go to now (0: the main one; ``n``: the ``n``-th fallback)."""
        return self._endpoint

    def _use_endpoint(self, endpoint: int) -> None:
        """Switch to ``endpoint``: what the loop knows of the one left is kept for its next turn,
        what it knows of the new one (nothing, the first time) comes in."""
        self._endpoints[self._endpoint] = (self._window, self._window_source, self._schema_in_prompt)
        given = self.settings.context_window
        fresh: tuple[int | None, WindowSource, bool] = (given, "user" if given is not None else "unknown", False)
        self._window, self._window_source, self._schema_in_prompt = self._endpoints.get(endpoint, fresh)
        self._endpoint = endpoint

    # ---- the context ----------------------------------------------------------------------

    @property
    def context_window(self) -> tuple[int | None, WindowSource]:
        """The window requests are fitted to, and where it comes from."""
        return self._window, self._window_source

    def context_window_found(self, tokens: int | None, *, source: WindowSource = "server", note: str = "") -> bool:
        """Tell the loop the window a probe of the server found (``tokens`` None: none was
        found; ``note`` says why, once, in a ``context_window`` notice). A ``context_window``
        given in the settings wins. Accepted at any time; while the run's request is out and not
        yet sent (``SendRequest`` handed out, nothing reported), a request that no longer fits
        is withdrawn and True returned: ask ``next_action()`` for its compacted form."""
        if tokens is not None and not (isinstance(tokens, int) and not isinstance(tokens, bool) and tokens > 0):
            raise ValueError(f"a context window is a positive number of tokens, not {tokens!r}")
        if self._window_source == "user":
            return False
        data: dict[str, object] = {"window": tokens, "source": source if tokens is not None else "unknown"}
        if note:
            data["note"] = note
        notice = SystemMessage(subtype="context_window", data=data)
        if tokens is None:
            self._tell(notice)
            return False
        self._window, self._window_source = tokens, source
        self._tell(notice)
        request = self._request
        if self._state is not LoopState.AWAITING_RESPONSE or request is None or request.side is not None:
            return False
        if request.retry.attempts != 1 or self._queue:
            return False
        view = self._view(None)
        if view is None or view.tokens() <= view.limit:
            return False
        self._request = None
        self._state = LoopState.ACTING
        self._flush_notices()
        self._prepare_turn("auto")
        return True

    def _tell(self, notice: SystemMessage) -> None:
        """A notice for the user: with the next actions the loop hands out."""
        self._notices.append(notice)
        if self._state is LoopState.ACTING:
            self._flush_notices()

    def _flush_notices(self) -> None:
        for notice in self._notices:
            self._queue.append(Emit(message=notice))
        self._notices.clear()

    def counter(self, model: str | None = None) -> TokenCounter:
        """The token counter for ``model`` (the settings' model by default): the settings'
        ``token_counter``, or one ``CalibratedEstimate`` per model."""
        given = self.settings.token_counter
        if given is not None:
            return given
        name = model or self.settings.template.model
        found = self._counters.get(name)
        if found is None:
            found = self._counters[name] = CalibratedEstimate()
        return found

    @property
    def _strategy_name(self) -> str:
        strategy = self.settings.context_strategy
        return strategy if isinstance(strategy, str) else "custom"

    def _history_start(self) -> int:
        return 0 if self._context_summary is None else self._context_summary.replaces

    def _sent_history(self) -> list[Message]:
        """The conversation as requests see it: a summary first, standing for what it replaces."""
        summary = self._context_summary
        if summary is None:
            return self._history
        return [summary.message, *self._history[summary.replaces :]]

    def _limit(self) -> int | None:
        window = self._window
        if window is None:
            return None
        reserve = self.settings.template.max_tokens or min(1024, window // 4)
        return max(window - reserve, 1)

    def _view(self, limit: int | None) -> ContextView | None:
        """What a strategy decides on for the next request (None without a window or limit)."""
        limit = self._limit() if limit is None else limit
        if limit is None:
            return None
        system, specs, _, _ = self._turn_parts()
        messages = tuple(self._sent_history())
        lead = 0 if self._context_summary is None else 1
        prompt_at = self._run.prompt_at
        keep_from = len(messages)
        if prompt_at is not None and prompt_at >= self._history_start():
            keep_from = prompt_at - self._history_start() + lead
        from anyagent_core._context._plans import ContextView  # made with the first window known

        return ContextView(
            messages=messages,
            system_prompt=system,
            tools=specs,
            limit=limit,
            keep_from=keep_from,
            counter=self.counter(),
        )

    def compaction(self, proceed: bool, *, instructions: str | None = None) -> None:
        """The answer to the last ``AskCompaction``: ``proceed=False`` sends the request as it
        is (the server may refuse it); ``instructions`` go to the summary request."""
        self._expect("compaction")
        compacting = self._compacting
        assert compacting is not None
        self._compacting = None
        self._state = LoopState.ACTING
        if not proceed:
            self._notice_compaction(
                {"strategy": self._strategy_name, "vetoed": True, "tokens_before": compacting.tokens}, force=True
            )
            self._queue_turn(self._build_turn())
            return
        compacting.instructions = instructions
        self._compact(compacting)

    def _compact(self, compacting: _Compacting) -> None:
        view = self._view(compacting.limit)
        assert view is not None
        plan, problem = self._plan_compaction(view)
        if plan.summarize:
            self._ask_summary(view, plan, compacting)
            return
        self._apply(view, plan, compacting, problem=problem)

    def _plan_compaction(self, view: ContextView) -> tuple[Compaction, str | None]:
        """The strategy's compaction of ``view``; ``sliding``'s, with why, when a strategy of the
        user's gave something that breaks the rules."""
        from anyagent_core._context._plans import Compaction

        strategy = self.settings.context_strategy
        if isinstance(strategy, str):
            named = strategy_function(strategy)(view)
            assert isinstance(named, Compaction)
            return named, None
        try:
            answer = strategy(view)
        except Exception as exc:  # a user's function: its failure is reported, the run goes on
            return sliding(view), f"the context strategy raised {type(exc).__name__}: {exc}"
        plan = answer if isinstance(answer, Compaction) else Compaction(messages=tuple(answer))
        problem = check_pairs(plan.messages) if not plan.summarize else None
        run_part = view.messages[view.keep_from :]
        if problem is None and run_part and tuple(plan.messages[len(plan.messages) - len(run_part) :]) != run_part:
            problem = "the run's own messages are not all kept, at the end"
        if problem is None and not all(isinstance(m, UserMessage | AssistantMessage) for m in plan.messages):
            problem = "it returned something that is not a UserMessage or AssistantMessage"
        if problem is not None:
            return sliding(view), f"the context strategy's messages were not used: {problem}"
        return plan, None

    def _apply(
        self,
        view: ContextView,
        plan: Compaction,
        compacting: _Compacting,
        *,
        problem: str | None = None,
        summarized: int = 0,
    ) -> None:
        """Send ``plan``'s messages, sliding further if they still do not fit, with a notice."""
        messages = plan.messages
        dropped = plan.dropped
        after = view.tokens(messages)
        if after > view.limit:  # still too long: the oldest turns go too
            rest = sliding(attrs.evolve(view, messages=messages, keep_from=max(0, view.keep_from - dropped)))
            dropped += rest.dropped
            messages = rest.messages
            after = view.tokens(messages)
        self._left_out = self._unsent(messages)
        data: dict[str, object] = {
            "strategy": self._strategy_name,
            "trigger": compacting.trigger,
            "tokens_before": compacting.tokens,
            "tokens_after": after,
            "limit": view.limit,
            "window": self._window,
            "dropped_messages": dropped,
            "truncated_results": plan.truncated,
            "summarized_messages": summarized,
            "counter": view.counter.source,
            "estimated_tokens": after,
        }
        if problem:
            data["problem"] = problem
        key = (dropped, plan.truncated, summarized)
        self._notice_compaction(data, force=compacting.trigger == "reactive" or key != self._compaction_key)
        self._compaction_key = key
        self._queue_turn(self._build_turn(messages))

    def _unsent(self, messages: Sequence[Message]) -> int:
        """Messages of the conversation that a request of ``messages`` leaves out."""
        summary = self._context_summary
        stands_in = summary is not None and bool(messages) and messages[0] is summary.message
        return max(0, len(self._history) - (len(messages) - (1 if stands_in else 0)))

    def _notice_compaction(self, data: dict[str, object], *, force: bool) -> None:
        if force:
            self._queue.append(Emit(message=SystemMessage(subtype="compact", data=data)))

    def _ask_summary(self, view: ContextView, plan: Compaction, compacting: _Compacting) -> None:
        """A side request for a summary of ``plan.summarize``; its answer replaces them."""
        part = plan.summarize
        settings = self.settings
        instructions = SUMMARY_PROMPT
        if compacting.instructions:
            instructions = f"{instructions}\n\nAlso: {compacting.instructions}"
        lines = _transcript(part).split("\n")
        # what is summarised must fit the window too: its oldest lines go first, then the head of
        # the one line left
        room = max(view.limit - count_request(view.counter, [], system_prompt=instructions) - 16, 64)
        while len(lines) > 1 and view.counter.count_text("\n".join(lines)) > room:
            lines.pop(0)
        transcript = "\n".join(lines)
        if view.counter.count_text(transcript) > room:
            transcript = truncate_text(
                transcript, max(room, 1) * len(transcript) // view.counter.count_text(transcript)
            )
        turn = _turn_like(
            settings.template,
            messages=(UserMessage(content=f"<conversation>\n{transcript}\n</conversation>"),),
            system_prompt=instructions,
            tools=(),
            tool_choice=None,
            response_format=None,
            stream=settings.template.stream,
        )
        lead = 0 if self._context_summary is None else 1
        replaces = self._history_start() + len(part) - lead

        def summarized(message: AssistantMessage) -> None:
            from anyagent_core._context._usage import ContextSummary  # once a run summarises

            text = message.text.strip()
            if not text:
                failed("the model's summary was empty")
                return
            self._context_summary = ContextSummary(
                replaces=replaces,
                message=UserMessage(content=f"{SUMMARY_HEADER}\n{text}"),
            )
            self._summary_committed = False
            new_view = self._view(compacting.limit)
            assert new_view is not None
            from anyagent_core._context._plans import Compaction

            self._apply(new_view, Compaction(messages=new_view.messages), compacting, summarized=len(part))

        def failed(why: str) -> None:
            self._apply(view, sliding(view), compacting, problem=f"no summary ({why}): the oldest turns were left out")

        self._side_request(turn, purpose="summary", on_answer=summarized, on_failure=failed)

    def context_usage(self) -> ContextUsage:
        """What the next request would take (the conversation as it is, a summary standing for
        what it replaces), by the counter in use, and the window."""
        system, specs, _, _ = self._turn_parts()
        counter = self.counter()
        messages = self._sent_history()
        from anyagent_core._context._usage import ContextUsage  # made when asked for

        return ContextUsage(
            system_tokens=counter.count_fixed(system, ()),
            tools_tokens=counter.count_fixed(None, specs),
            messages_tokens=sum(counter.count_message(m) for m in messages),
            window=self._window,
            window_source=self._window_source,
            counter=counter.source,
            messages=len(messages),
            left_out=self._left_out,
        )

    def _observe_usage(self, sent: StartTurn, answer: AssistantMessage) -> None:
        """Calibrate the counter on the prompt tokens the server reported, and say so when it
        reported far fewer than were sent (a server that silently cut the prompt): under half,
        or, by a count that is more than the estimate (calibrated, a tokenizer's, the server's),
        more than the known window while the report fits in it, a tenth short or more."""
        usage = answer.usage
        reported = usage.prompt_tokens if usage is not None else None
        if not reported:
            return
        counter = self.counter(sent.model)
        expected = count_request(counter, sent.messages, system_prompt=sent.system_prompt, tools=sent.tools)
        window = self._window
        past_window = (
            window is not None
            and counter.source != "estimate"
            and reported <= window < expected
            and reported * 10 <= expected * 9
        )
        # The plain estimate only when the count alone says the prompt was cut by half (it rarely is).
        halved = (
            reported * 2 < expected
            and reported * 2 < estimate_tokens(sent.messages, system_prompt=sent.system_prompt, tools=sent.tools) * 4
        )
        if expected >= TRUNCATION_MIN_TOKENS and (halved or past_window):
            if not self._truncation_told:
                self._truncation_told = True
                self._queue.append(
                    Emit(
                        message=SystemMessage(
                            subtype="context_truncated",
                            data={
                                "expected_prompt_tokens": expected,
                                "reported_prompt_tokens": reported,
                                "window": self._window,
                                "window_source": self._window_source,
                                "model": sent.model,
                            },
                        )
                    )
                )
            return
        counter.calibrate(sent.messages, sent.system_prompt, sent.tools, reported)

    def _turn_parts(self) -> tuple[str | None, tuple[ToolSpec, ...], ToolChoice, JSONObject | None]:
        """The system prompt, tools, tool_choice and response_format of the next request."""
        settings = self.settings
        template = settings.template
        system = template.system_prompt
        specs = tuple(tool.spec for tool in settings.tools)
        tool_choice = template.tool_choice
        if self._run.after_tools and settings.reset_tool_choice and tool_choice not in (None, "auto", "none"):
            tool_choice = "auto"
        response_format = template.response_format
        schema = settings.output_schema
        if schema is not None:
            mode = "prompt" if self._schema_in_prompt else settings.output_mode
            if mode == "prompt":
                system = join_system(system, schema_prompt(schema))
            else:
                response_format = response_format_for(schema, mode)
        return system, specs, tool_choice, response_format

    def _build_turn(self, history: Sequence[Message] | None = None) -> StartTurn:
        """The next request, with ``history`` (by default the conversation as requests see it,
        slid to what the last compaction kept when the window is known)."""
        settings = self.settings
        system, specs, tool_choice, response_format = self._turn_parts()
        if history is None:
            history = self._sent_history()
        tools = specs
        if settings.tool_mode == "emulated" and specs:
            from anyagent_core._textual._emulation._history import emulated_history
            from anyagent_core._textual._emulation._prompt import render_tool_prompt

            system = join_system(system, render_tool_prompt(specs))
            history = emulated_history(history)
            tools = ()
            tool_choice = None
        elif not specs:
            tool_choice = None if tool_choice not in ("none",) else tool_choice
        return _turn_like(
            settings.template,
            messages=alternating(history),
            system_prompt=system,
            tools=tools,
            tool_choice=tool_choice,
            response_format=response_format,
        )

    def receive_response(self, message: AssistantMessage) -> None:
        """The answer to the last ``SendRequest``. A call that repeats the id of an earlier call
        in the answer is kept with an id of its own (``<id>_2``), in the conversation too."""
        self._expect("receive_response")
        if not isinstance(message, AssistantMessage):
            raise TypeError(f"receive_response() takes an AssistantMessage, not {type(message).__name__}")
        self._state = LoopState.ACTING
        request = self._request
        assert request is not None
        self._request = None
        self._flush_notices()
        self._observe_usage(request.turn, message)
        if request.side is not None:
            self._charge(_usage_of(request.turn, message))
            request.side.on_answer(message)
            return
        self._serial += 1
        self._response.answers += 1
        self._response.last_endpoint = request.endpoint
        settings = self.settings
        if settings.think_tags:
            from anyagent_core._textual._think import think_to_blocks

            message = think_to_blocks(message)
        if self._tools and settings.tool_mode != "native":
            from anyagent_core._textual._emulation._history import to_tool_uses

            specs = (tool.spec for tool in settings.tools)
            message = to_tool_uses(message, id_prefix=f"call_{self._serial}_", tools=specs)
        message = distinct_call_ids(message)
        self._charge(_usage_of(request.turn, message))
        self._history.append(message)
        self._response.last_answer = message
        self._queue.append(Emit(message=message))
        calls = message.tool_uses
        if calls:
            self._run.after_tools = True
            self._plan(calls)
        elif self._check_output(message):
            self._finish("success")

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
        perhaps with a fallback model) or gives up (``Done`` with ``error_during_execution``,
        its ``gave_up`` saying why). ``message`` describes the failure; ``now`` (Unix time)
        reads ``Retry-After`` dates and ``random`` in [0, 1) sets the jitter.
        ``retryable=False``: the failure came after output arrived, and a request is never
        repeated then."""
        self._expect("request_failed")
        request = self._request
        assert request is not None
        error_text = tuple(error_text)
        self._state = LoopState.ACTING
        self._flush_notices()
        if request.side is None and self._refused_response_format(status, (message, *error_text)):
            # The server does not take response_format: ask for the schema in the prompt instead.
            self._schema_in_prompt = True
            rebuilt = self._build_turn()
            request.turn = attrs.evolve(
                request.turn, system_prompt=rebuilt.system_prompt, response_format=rebuilt.response_format
            )
            self._queue.append(
                Emit(
                    message=SystemMessage(
                        subtype="structured_output_fallback",
                        data={"reason": message or f"HTTP {status}", "output_mode": "prompt"},
                    )
                )
            )
            request.retry.attempts += 1
            self._send(request, attempt=request.retry.attempts)
            return
        if request.side is None and retryable and self._reactive(request, failure, (message, *error_text)):
            return
        from ._decisions import GiveUp  # the retry decisions load with the first failure

        decision: Retry | GiveUp
        if retryable:
            decision = request.retry.failed(
                failure, status=status, headers=headers, error_text=error_text, now=now, random=random
            )
        else:
            decision = GiveUp(reason="not retried: the response had begun")
        if isinstance(decision, GiveUp):
            self._request = None
            if request.side is not None:
                request.side.on_failure(f"{message or failure.value}; {decision.reason}")
                return
            self._run.requests -= 1  # the turn got no answer: resume() may try it again
            self._finish("error_during_execution", f"{message or failure.value}; {decision.reason}")
            self._gave_up(decision.reason)
            return
        self._queue.append(
            Wait(
                seconds=decision.delay,
                attempt=decision.attempt,
                model=decision.model,
                reason=decision.reason,
                endpoint=decision.endpoint,
                fallback_to=decision.fallback_to,
                gave_up=decision.gave_up,
            )
        )
        if decision.endpoint != request.endpoint:
            request.endpoint = decision.endpoint
            if request.side is None:
                self._use_endpoint(decision.endpoint)
                data = {"endpoint": decision.endpoint, "model": decision.model, "reason": decision.reason}
                self._queue.append(Emit(message=SystemMessage(subtype="fallback_endpoint", data=data)))
                rebuilt = self._build_turn()  # the output mode this endpoint takes
                request.turn = attrs.evolve(
                    request.turn, system_prompt=rebuilt.system_prompt, response_format=rebuilt.response_format
                )
        if decision.model != request.turn.model:
            request.turn = attrs.evolve(request.turn, model=decision.model)
        self._send(request, attempt=decision.attempt)

    def _reactive(self, request: _InFlight, failure: Failure, texts: tuple[object, ...]) -> bool:
        """The server refused the request as too long (a context-length error, or llama.cpp's
        empty answer to a streamed prompt over its window): compact and send it again, once per
        turn. False when compaction would change nothing (the retry rules decide then)."""
        overflow = is_context_length_error(*texts)
        if not overflow and failure is not Failure.EMPTY_RESPONSE:
            return False
        run = self._run
        if run.reactive_turn == run.requests:
            return False
        sent = request.turn
        from anyagent_core._context._window import parse_window_error  # only for refused requests

        window, prompt_tokens = parse_window_error(*texts)
        counter = self.counter(sent.model)
        if prompt_tokens:
            counter.calibrate(sent.messages, sent.system_prompt, sent.tools, prompt_tokens)
        if window and self._window_source != "user":
            self._window, self._window_source = window, "error"
        limit = self._limit()
        current = self._view(None if limit is not None else 1)
        assert current is not None
        tokens = current.tokens()
        if limit is not None and prompt_tokens and tokens < prompt_tokens:
            # the counter undercounts this server's tokens: the limit in the counter's units
            limit = max(1, limit * tokens // prompt_tokens)
        if limit is None or limit >= tokens:
            if not overflow and self._window is not None:
                return False  # an empty answer to a request that fits: not about the context
            limit = max(1, tokens * 3 // 5)  # the server refused it: aim well below what was sent
            if self._window is None:
                reserve = self.settings.template.max_tokens or 0
                self._window, self._window_source = max(limit + reserve, 1), "error"
        view = self._view(limit)
        assert view is not None
        plan, _ = self._plan_compaction(view)
        if not plan.summarize and self._build_turn(plan.messages).messages == sent.messages:
            return False  # nothing more to leave out or shorten than the request did
        run.reactive_turn = run.requests
        self._request = None
        self._compact_or_ask(view, tokens)
        return True

    def _compact_or_ask(self, view: ContextView, tokens: int) -> None:
        compacting = _Compacting(trigger="reactive", tokens=tokens, limit=view.limit)
        if self.settings.ask_before_compacting:
            self._compacting = compacting
            self._queue.append(
                AskCompaction(
                    trigger="reactive",
                    strategy=self._strategy_name,
                    tokens=tokens,
                    limit=view.limit,
                    window=self._window,
                )
            )
            return
        self._compact(compacting)

    def _send(self, request: _InFlight, *, attempt: int) -> None:
        self._request = request
        side = None if request.side is None else request.side.purpose
        self._queue.append(
            SendRequest(
                turn=request.turn, turn_number=self._run.requests, attempt=attempt, side=side, endpoint=request.endpoint
            )
        )

    def _gave_up(self, reason: str) -> None:
        """Put the retry rules' reason on the ``Done`` just queued."""
        done = self._queue[-1]
        assert type(done) is Done
        self._queue[-1] = attrs.evolve(done, gave_up=reason)

    def _refused_response_format(self, status: int | None, texts: Iterable[object]) -> bool:
        """The server refused the ``response_format`` this request sent."""
        settings = self.settings
        if self._schema_in_prompt or settings.output_schema is None or settings.output_mode == "prompt":
            return False
        return rejects_response_format(status, texts)

    def _side_request(
        self,
        turn: StartTurn,
        *,
        purpose: str,
        on_answer: Callable[[AssistantMessage], None],
        on_failure: Callable[[str], None],
    ) -> None:
        """Queue a side request for work of the loop's own (a summary, say): its answer goes to
        ``on_answer`` instead of the conversation, and ``on_failure`` gets why it failed for
        good. Each continues the run as it sees fit (queueing the next action)."""
        if self._request is not None:
            raise LocalProtocolError("a side request while a request is out")
        side = _Side(purpose=purpose, on_answer=on_answer, on_failure=on_failure)
        request = _InFlight(
            turn=turn, retry=RetryState(self.settings.retry, (turn.model,)), side=side, endpoint=self._endpoint
        )
        self._send(request, attempt=1)

    # ---- spending -------------------------------------------------------------------------

    def _charge(self, usage: Usage | None, *, cost: float | None = None) -> None:
        """The one place a spend is counted: into the run's tally (the budgets) and the
        response's (its ``ResultMessage``). ``cost`` defaults to ``usage`` at the settings'
        prices. (An answer the server reported no usage for is charged an estimate,
        ``_usage_of``.)"""
        settings = self.settings
        if cost is None:
            cost = cost_usd(usage, settings.pricing)
        tokens = tokens_of(usage) or 0
        self._run.spend.add(usage, cost, tokens)
        self._response.spend.add(usage, cost, 0)

    def budget_left(self) -> tuple[int | None, float | None]:
        """What the run may still spend: ``(tokens, usd)`` left of ``max_total_tokens`` and
        ``max_budget_usd`` (None where there is no such budget; never below 0). A subagent run
        on the run's behalf gets these as its own budgets."""
        settings = self.settings
        spend = self._run.spend
        tokens = None if settings.max_total_tokens is None else max(0, settings.max_total_tokens - spend.tokens)
        usd = None if settings.max_budget_usd is None else max(0.0, settings.max_budget_usd - (spend.cost_usd or 0.0))
        return tokens, usd

    def add_usage(self, usage: Usage | None, *, cost_usd: float | None = None) -> None:
        """Count what was spent on the run's behalf outside its own requests (a subagent's run):
        ``usage`` goes into the response's usage totals and the run's token budget, ``cost_usd``
        (or, without it, ``usage`` at ``settings.pricing``) into its cost and cost budget. The
        budgets are checked before the next request, as for the loop's own answers."""
        if usage is not None and not isinstance(usage, Usage):
            raise TypeError(f"add_usage() takes a Usage or None, not {type(usage).__name__}")
        self._expect("add_usage")
        self._charge(usage, cost=cost_usd)

    def _over_budget(self) -> bool:
        settings = self.settings
        spend = self._run.spend
        if settings.max_total_tokens is not None and spend.tokens >= settings.max_total_tokens:
            self._finish(
                "error_max_budget_tokens",
                f"token budget spent: {spend.tokens} of max_total_tokens={settings.max_total_tokens}",
            )
            return True
        cost = spend.cost_usd or 0.0
        if settings.max_budget_usd is not None and cost >= settings.max_budget_usd:
            self._finish(
                "error_max_budget_usd",
                f"cost budget spent: ${cost:.6f} of max_budget_usd={settings.max_budget_usd}",
            )
            return True
        return False

    # ---- tool calls -----------------------------------------------------------------------

    def _plan(self, calls: tuple[ToolUseBlock | ToolUseError, ...]) -> None:
        self._round, stop = plan_round(calls, self._tools, self.settings, self._run.doom)
        if stop is not None:
            self._cut_round("not run: the run stopped (a doom loop: the same call repeated)")
            self._finish("error_doom_loop", stop)
            return
        self._advance()

    def _advance(self) -> None:
        """Hand out what the tool round needs next, or end the round."""
        round_ = self._round
        if round_.to_ask:
            call, reason, traits = round_.to_ask.popleft()
            round_.asking = call
            self._queue.append(AskPermission(call=call, reason=reason, traits=traits))
            return
        if round_.approved:
            self._queue.append(RunTools(calls=round_.take_approved()))
            return
        if round_.running:
            return
        if round_.pending:
            self._finish("success")
            return
        self._send_results(emit=True)
        self._commit()
        self._begin_turn()

    def _send_results(self, *, emit: bool) -> None:
        blocks = self._round.answers()
        self._round = Round()
        if blocks:
            message = UserMessage(content=blocks)
            self._history.append(message)
            if emit:
                self._queue.append(Emit(message=message))

    def permission(self, call_id: str, answer: PermissionAllow | PermissionDeny) -> None:
        """The answer to the last ``AskPermission``. An input rewritten by the answer is checked
        against the rules again (``PermissionPolicy.decide(..., approved=True)``): what the
        rules deny stays denied."""
        from ._answers import PermissionAllow, PermissionDeny  # made by whoever answers

        self._expect("permission")
        round_ = self._round
        call = round_.asking
        assert call is not None
        if call_id != call.id:
            raise LocalProtocolError(f"permission() for {call_id!r}, but the loop asked about {call.id!r}")
        if not isinstance(answer, PermissionAllow | PermissionDeny):
            raise TypeError(f"permission() takes PermissionAllow or PermissionDeny, not {type(answer).__name__}")
        round_.asking = None
        self._state = LoopState.ACTING
        if isinstance(answer, PermissionDeny):
            round_.results[call.id] = error_result(call.id, f"Permission denied: {answer.message}")
            if answer.interrupt:
                self.interrupt()
                return
        elif answer.updated_input is None:
            round_.approved.append(call)
        else:
            call = attrs.evolve(call, input=answer.updated_input)
            tool = self._tools[call.name]
            decision = self.settings.permissions.decide(call.name, call.input, tool.traits, approved=True)
            if decision.behavior == "allow":
                round_.approved.append(call)
            else:
                round_.results[call.id] = error_result(
                    call.id, f"Permission denied: the rewritten call is refused: {decision.reason}."
                )
        self._advance()

    def tool_result(self, result: ToolResultBlock) -> None:
        """The result of a call handed out with ``RunTools`` (or of an external call, after the
        run ended with it pending)."""
        if not isinstance(result, ToolResultBlock):
            raise TypeError(f"tool_result() takes a ToolResultBlock, not {type(result).__name__}")
        call_id = result.tool_use_id
        round_ = self._round
        if self._state is LoopState.AWAITING_EXTERNAL and not self._queue:
            if call_id not in {call.id for call in round_.pending}:
                raise LocalProtocolError(_no_call(call_id, round_.results, round_.pending))
            round_.results[call_id] = result
            if not round_.pending:
                self._send_results(emit=False)
                self._state = LoopState.IDLE
            return
        if self._state is LoopState.IDLE and not self._queue:
            raise LocalProtocolError(_no_call(call_id, {}, ()))
        self._expect("tool_result")
        if call_id not in round_.running:
            waiting = [call for call in round_.calls if call.id in round_.running]
            raise LocalProtocolError(_no_call(call_id, round_.results, waiting))
        round_.running.discard(call_id)
        round_.results[call_id] = result
        if not round_.running:
            self._state = LoopState.ACTING
            self._advance()

    def _cut_round(self, why: str) -> None:
        """Answer every call of the round that has no result yet, and close the round."""
        self._round.cut(why)
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
        if self._run.schema_retries <= 0:
            self._finish("error_max_structured_output_retries", f"the answer does not match the output schema: {error}")
            return False
        self._run.schema_retries -= 1
        again = UserMessage(
            content=f"Your answer does not match the required JSON schema: {error}. "
            "Answer again with only the JSON value, matching the schema."
        )
        self._history.append(again)
        self._queue.append(Emit(message=again))
        self._begin_turn()
        return False

    # ---- ending ---------------------------------------------------------------------------

    def interrupt(self, partial: AssistantMessage | None = None, *, reason: str | None = None) -> None:
        """Stop the run: what is queued is dropped, calls without a result are answered as
        interrupted, and the run ends with ``interrupted``. ``partial`` is what had arrived of
        an answer being received (its text is kept, without the calls in it, native or written
        as text). ``reason`` says why (a hook that stopped the run): it is the result's
        ``errors`` and what cut calls are answered with. Without a run, nothing happens."""
        if self._state in (LoopState.IDLE, LoopState.AWAITING_EXTERNAL) and not self._queue:
            return
        if self._queue and type(self._queue[-1]) is Done:
            return  # the run is already over
        request = self._request
        sending = request is not None and request.side is None  # a turn is queued or out
        if sending:
            self._run.requests -= 1  # that turn got no answer
        receiving = sending and self._state is LoopState.AWAITING_RESPONSE
        self._request = None
        self._queue = deque(action for action in self._queue if type(action) in (Emit, Commit))
        if receiving and partial is not None:
            self._charge(partial.usage)
            self._keep_partial(partial)
        self._state = LoopState.ACTING
        if self._round.calls:
            self._round.external = []
            why = "interrupted by the user" if reason is None else f"the run was stopped: {reason}"
            self._cut_round(f"{why}; the call did not complete")
        self._finish("interrupted", reason)

    def _keep_partial(self, partial: AssistantMessage) -> None:
        """The text of an interrupted answer joins the conversation, without its calls."""
        if self.settings.think_tags:
            from anyagent_core._textual._think import think_to_blocks

            partial = think_to_blocks(partial)
        kept = tuple(b for b in partial.content if not isinstance(b, ToolUseBlock | ToolUseError))
        if self._tools and self.settings.tool_mode != "native":  # calls written as text go too
            from anyagent_core._textual._emulation._history import to_tool_uses

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
            self._response.last_answer = message
            self._queue.append(Emit(message=message))

    def _finish(self, subtype: ResultSubtype, error: str | None = None) -> None:
        response = self._response
        answer = response.last_answer
        structured = None
        if subtype == "success" and self.settings.output_schema is not None and answer is not None:
            structured, _ = parse_structured_output(answer.text, self.settings.output_schema)
        text = answer.text if answer is not None else ""
        pending = self.pending_tool_calls if subtype == "success" else ()
        result = ResultMessage(
            subtype=subtype,
            result=text or None,
            is_error=subtype.startswith("error"),
            num_turns=response.answers,
            duration_ms=0,
            duration_api_ms=0,
            usage=response.spend.usage,
            stop_reason=answer.stop_reason if answer is not None else None,
            model=answer.model if answer is not None else None,
            pending_tool_calls=pending,
            errors=(error,) if error else (),
            session_id=self.settings.session_id,
            total_cost_usd=response.spend.cost_usd or 0.0,
            structured_output=structured,
            endpoint=response.last_endpoint,
        )
        self._commit(result)
        self._queue.append(Done(result=result))


def _usage_of(sent: StartTurn, answer: AssistantMessage) -> Usage:
    """What ``answer`` is charged: the usage the server reported, or, when it reported none,
    token counts estimated from the request and the answer, marked ``estimated`` (the answer
    itself keeps ``usage=None``: it says what the server sent)."""
    if answer.usage is not None:
        return answer.usage
    prompt = estimate_tokens(sent.messages, system_prompt=sent.system_prompt, tools=sent.tools)
    completion = max(estimate_tokens([answer]) - 4, 0)  # 4: the per-message overhead
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion, estimated=True)


def _no_call(
    call_id: str, results: Mapping[str, ToolResultBlock], waiting: Sequence[ToolUseBlock | ToolUseError]
) -> str:
    if call_id in results:
        return f"tool call {call_id!r} already has a result"
    ids = ", ".join(call.id for call in waiting) or "none"
    return f"no tool call {call_id!r} awaits a result (waiting: {ids})"
