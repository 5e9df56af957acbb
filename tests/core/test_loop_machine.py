"""A rule-based state machine over AgentLoop's public API, checked against a model of the
protocol in ``_loop``'s docstring.

Inputs come in any order the protocol allows (answers with tool calls of every kind, ids
repeated within an answer included, failures, permission answers, tool results in any order,
external results and ``resume()``, a user message that continues a run, interrupts at any
time); inputs the current state does not expect must raise ``LocalProtocolError`` and change
nothing. The model predicts, after each input, the next action that waits for something (a
request, a permission question, a batch of tools, or a ``Done`` of a given subtype), and the
result of every tool call sent back to the model."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, get_args

import attrs
import pytest
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from anyagent_core import (
    PERMISSION_MODES,
    AgentLoop,
    AskPermission,
    AssistantMessage,
    Done,
    Emit,
    Failure,
    LocalProtocolError,
    LoopSettings,
    LoopState,
    LoopTool,
    Message,
    PermissionAllow,
    PermissionDeny,
    PermissionMode,
    PermissionPolicy,
    ResultSubtype,
    RetryPolicy,
    RunTools,
    SendRequest,
    StartTurn,
    SystemMessage,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolSpec,
    ToolTraits,
    ToolUseBlock,
    ToolUseError,
    Usage,
    UserMessage,
    Wait,
)

READ = LoopTool(spec=ToolSpec(name="read"), traits=ToolTraits(read_only=True, rule_argument="path"))
EDIT = LoopTool(
    spec=ToolSpec(name="edit"), traits=ToolTraits(edits_files=True, needs_permission=True, rule_argument="path")
)
BASH = LoopTool(spec=ToolSpec(name="bash"), traits=ToolTraits(needs_permission=True, rule_argument="command"))
EXT = LoopTool(spec=ToolSpec(name="ext"), external=True)
TOOLS = {tool.spec.name: tool for tool in (READ, EDIT, BASH, EXT)}

# Few argument choices, so identical calls (doom loops) come up often.
ARGS: dict[str, list[dict[str, Any]]] = {
    "read": [{"path": "a.txt"}, {"path": "b.txt"}],
    "edit": [{"path": "a.txt"}, {"path": "docs/x.md"}],
    "bash": [{"command": "git status"}, {"command": "ls"}, {"command": "rm -rf build"}],
    "ext": [{"q": 1}, {"q": 2}],
    "nope": [{}],
}
BROKEN = "<broken>"  # a call whose arguments could not be used (ToolUseError)

FAILURES: list[tuple[Failure, int | None, tuple[str, ...]]] = [
    (Failure.STATUS, 503, ()),
    (Failure.STATUS, 429, ()),
    (Failure.STATUS, 500, ()),
    (Failure.STATUS, 400, ()),
    (Failure.STATUS, 401, ()),
    (Failure.STATUS, 404, ()),
    (Failure.STATUS, 400, ("context_length_exceeded",)),
    (Failure.CONNECTION, None, ()),
    (Failure.TIMEOUT, None, ()),
    (Failure.EMPTY_RESPONSE, None, ()),
    (Failure.UNSUPPORTED_ENCODING, None, ()),
    (Failure.CORRUPT_ENCODING, None, ()),
    (Failure.STREAM_ERROR, None, ("overloaded",)),
    (Failure.STREAM_ERROR, None, ("bad things",)),
]

SUBTYPES = frozenset(get_args(ResultSubtype))
Expect = tuple[Any, ...]


def as_sent(history: Sequence[Message]) -> tuple[Message, ...]:
    """The conversation as a request carries it: prompts (plain text user messages, all the
    machine writes) that follow one another are joined into one, with a blank line between."""
    out: list[Message] = []
    for message in history:
        last = out[-1] if out else None
        if (
            isinstance(message, UserMessage)
            and isinstance(message.content, str)
            and isinstance(last, UserMessage)
            and isinstance(last.content, str)
        ):
            out[-1] = UserMessage(content=last.content + "\n\n" + message.content)
        else:
            out.append(message)
    return tuple(out)


def check_pairing(messages: Sequence[Message], *, complete: bool = True) -> None:
    """Every assistant message with calls is followed by exactly one user message holding one
    result per call, in the calls' order; no results without calls. With ``complete=False`` the
    last message may be an assistant message whose calls await results."""
    for index, message in enumerate(messages):
        if isinstance(message, UserMessage) and not isinstance(message.content, str):
            results = [b for b in message.content if isinstance(b, ToolResultBlock)]
            if results:
                assert len(results) == len(message.content), "tool results mixed with other blocks"
                before = messages[index - 1] if index else None
                assert isinstance(before, AssistantMessage) and before.tool_uses, "results without calls"
                assert [b.tool_use_id for b in results] == [c.id for c in before.tool_uses]
        if isinstance(message, AssistantMessage) and message.tool_uses:
            if index + 1 == len(messages):
                assert not complete, "the calls of the last answer have no results"
                continue
            after = messages[index + 1]
            assert isinstance(after, UserMessage) and not isinstance(after.content, str)
            assert [b.tool_use_id for b in after.content if isinstance(b, ToolResultBlock)] == [
                c.id for c in message.tool_uses
            ]


class LoopMachine(RuleBasedStateMachine):
    loop: AgentLoop
    settings: LoopSettings

    def __init__(self) -> None:
        super().__init__()
        self.seen: tuple[Message, ...] = ()
        self.serial = 0
        self.prompts = 0
        self.done = False  # a Done was handed out and no start()/resume() came since
        self.expect: Expect | None = None  # the next action that waits for something
        # counted since start()
        self.answers_run = 0
        self.tokens_run = 0
        self.doom_key: tuple[str, str] | None = None
        self.doom_count = 0  # the same call, one after another
        self.doom_answer: list[tuple[str, str]] = []  # the last answer's calls, sorted
        self.doom_answers = 0  # answers in a row with the same calls
        self.futile = 0  # answers in a row whose calls could none of them run
        # counted since start() or resume()
        self.answers_resp = 0
        self.tokens_resp = 0
        self.last_answer: AssistantMessage | None = None
        # the request in flight
        self.turn: SendRequest | None = None
        self.wait: Wait | None = None
        self.reactive_allowed = False
        # the tool round
        self.calls: list[ToolUseBlock | ToolUseError] = []
        self.kind: dict[str, str] = {}
        self.to_ask: list[ToolUseBlock] = []
        self.asking: ToolUseBlock | None = None
        self.approved: list[ToolUseBlock] = []
        self.given: dict[str, ToolResultBlock] = {}
        self.running: list[str] = []
        self.pending: list[ToolUseBlock] = []
        self.deny_messages: dict[str, str] = {}

    @initialize(
        max_turns=st.none() | st.integers(1, 4),
        threshold=st.integers(2, 3),
        doom_action=st.sampled_from(["warn", "stop"]),
        max_total_tokens=st.none() | st.integers(10, 150),
        mode=st.sampled_from(PERMISSION_MODES),
        disallowed=st.sampled_from([(), ("bash(rm *)",)]),
        allowed=st.sampled_from([(), ("bash(git *)",)]),
        max_retries=st.integers(0, 2),
        fallback=st.sampled_from([(), ("m2",)]),
        context_window=st.none() | st.integers(1040, 1300),
    )
    def setup(
        self,
        max_turns: int | None,
        threshold: int,
        doom_action: str,
        max_total_tokens: int | None,
        mode: PermissionMode,
        disallowed: tuple[str, ...],
        allowed: tuple[str, ...],
        max_retries: int,
        fallback: tuple[str, ...],
        context_window: int | None,
    ) -> None:
        self.settings = LoopSettings(
            template=StartTurn(model="m1", messages=(), max_tokens=1024),
            fallback_models=fallback,
            tools=tuple(TOOLS.values()),
            tool_mode="native",
            permissions=PermissionPolicy(mode=mode, allowed_tools=allowed, disallowed_tools=disallowed),
            max_turns=max_turns,
            max_total_tokens=max_total_tokens,
            doom_loop_threshold=threshold,
            doom_loop_action=doom_action,  # type: ignore[arg-type]
            retry=RetryPolicy(max_retries=max_retries, initial_delay=0.001, max_delay=0.01),
            context_window=context_window,
        )
        self.loop = AgentLoop(self.settings)
        assert self.loop.text_filter() is None

    # ---- the model ------------------------------------------------------------------------

    def disallowed(self, name: str, input: Any) -> bool:
        rules = self.settings.permissions.disallowed_tools
        return bool(rules) and name == "bash" and str(input.get("command", "")).startswith("rm ")

    def decide(self, call: ToolUseBlock) -> str:
        """``run``, ``ask`` or ``deny``, by the rules in PermissionPolicy's docstring."""
        mode = self.settings.permissions.mode
        traits = TOOLS[call.name].traits
        if self.disallowed(call.name, call.input):
            return "deny"
        if mode == "plan" and not traits.read_only:
            return "deny"
        if mode == "bypassPermissions":
            return "run"
        allowed = self.settings.permissions.allowed_tools
        if allowed and call.name == "bash" and str(call.input.get("command", "")).startswith("git "):
            return "run"
        if traits.read_only:
            return "run"
        if mode == "acceptEdits" and traits.edits_files:
            return "run"
        if traits.needs_permission:
            return "ask"
        return "run"

    def begin_turn(self) -> Expect:
        settings = self.settings
        if settings.max_turns is not None and self.answers_run >= settings.max_turns:
            return ("done", {"error_max_turns"})
        if settings.max_total_tokens is not None and self.tokens_run >= settings.max_total_tokens:
            return ("done", {"error_max_budget_tokens"})
        return ("send", self.answers_run + 1)

    def advance(self) -> Expect:
        if self.to_ask:
            return ("ask", self.to_ask[0].id)
        if self.approved:
            order = [call.id for call in self.calls]  # approved calls run in the model's order
            return ("run", tuple(sorted((call.id for call in self.approved), key=order.index)))
        if any(self.kind[call.id] == "external" for call in self.calls):
            return ("done", {"success"})
        return self.begin_turn()

    def plan(self, calls: Sequence[ToolUseBlock | ToolUseError]) -> Expect:
        self.calls = list(calls)
        self.kind = {}
        threshold = self.settings.doom_loop_threshold
        assert threshold is not None
        keys = [
            (call.name, "\0" + call.arguments)
            if isinstance(call, ToolUseError)
            else (call.name, json.dumps(call.input, sort_keys=True))
            for call in calls
        ]
        same_answer = sorted(keys) == self.doom_answer
        self.doom_answers = self.doom_answers + 1 if same_answer else 1
        self.doom_answer = sorted(keys)
        futile = all(isinstance(call, ToolUseError) or call.name not in TOOLS for call in calls)
        counts = []  # every call of the answer is counted, those after a stop too
        for key in keys:
            if key == self.doom_key:
                self.doom_count += 1
            else:
                self.doom_key, self.doom_count = key, 1
            counts.append(max(self.doom_count, self.doom_answers))
        for call, count in zip(calls, counts, strict=True):
            tool = None if isinstance(call, ToolUseError) else TOOLS.get(call.name)
            if count >= threshold:
                if self.settings.doom_loop_action == "stop" or count >= 2 * threshold:
                    self.kind[call.id] = "stop"
                    for other in calls:
                        self.kind.setdefault(other.id, "cut")
                    self.to_ask, self.approved = [], []
                    return ("done", {"error_doom_loop"})
                if tool is not None:
                    self.kind[call.id] = "doom"
                    continue
            if isinstance(call, ToolUseError):
                self.kind[call.id] = "broken"
                continue
            if tool is None:
                self.kind[call.id] = "unknown"
                continue
            if tool.external:
                self.kind[call.id] = "external"
                continue
            decision = self.decide(call)
            self.kind[call.id] = decision
            if decision == "run":
                self.approved.append(call)
            elif decision == "ask":
                self.to_ask.append(call)
        self.futile = self.futile + 1 if futile else 0
        if self.futile >= 2 * threshold:
            self.to_ask, self.approved = [], []
            return ("done", {"error_doom_loop"})
        return self.advance()

    def close_round(self) -> None:
        self.calls, self.kind, self.given, self.deny_messages = [], {}, {}, {}
        self.to_ask, self.approved, self.running, self.pending = [], [], [], []
        self.asking = None

    def check_results(self, message: UserMessage) -> None:
        """The results of the open round, sent back in one message."""
        assert self.calls, "tool results without an open round"
        assert not isinstance(message.content, str)
        assert [b.tool_use_id if isinstance(b, ToolResultBlock) else None for b in message.content] == [
            call.id for call in self.calls
        ]
        for block, call in zip(message.content, self.calls, strict=True):
            assert isinstance(block, ToolResultBlock)
            if call.id in self.given:
                assert block == self.given[call.id]
                continue
            assert block.is_error
            assert isinstance(block.content, str)
            kind = self.kind[call.id]
            if kind == "unknown":
                assert repr(call.name) in block.content
                assert "Available tools: read, edit, bash, ext" in block.content
            elif kind == "broken":
                assert "could not be used" in block.content
            elif kind == "deny":
                assert block.content.startswith("Permission denied")
            elif kind == "denied":
                assert block.content == f"Permission denied: {self.deny_messages[call.id]}"
            elif kind == "rewrite-denied":
                assert block.content.startswith("Permission denied") and "bash(rm *)" in block.content
            elif kind == "doom":
                assert "not run" in block.content and call.name in block.content
        self.close_round()

    def sync(self) -> None:
        """The conversation only grows; what was added is checked against the model."""
        messages = self.loop.messages
        assert messages[: len(self.seen)] == self.seen, "messages are append-only"
        for message in messages[len(self.seen) :]:
            if isinstance(message, UserMessage) and not isinstance(message.content, str):
                self.check_results(message)
        self.seen = messages

    def call(self, fn: Callable[..., object], *args: object, **kwargs: object) -> None:
        """An input the loop does not expect now: LocalProtocolError, and nothing changes."""
        before = (self.loop.state, self.loop.messages, self.loop.pending_tool_calls)
        with pytest.raises(LocalProtocolError, match=r"\(\)|tool call"):  # names a method, or the call
            fn(*args, **kwargs)
        assert (self.loop.state, self.loop.messages, self.loop.pending_tool_calls) == before

    # ---- inputs ---------------------------------------------------------------------------

    @precondition(lambda self: self.loop.state is LoopState.IDLE)
    @rule()
    def start(self) -> None:
        assert not self.calls, "a round is open while the loop is idle"
        self.prompts += 1
        self.loop.start(UserMessage(content=f"task {self.prompts}"))
        self.done = False
        self.answers_run = self.tokens_run = 0
        self.doom_key, self.doom_count = None, 0
        self.doom_answer, self.doom_answers, self.futile = [], 0, 0
        self.answers_resp = self.tokens_resp = 0
        self.last_answer = None
        self.expect = self.begin_turn()
        self.sync()

    @precondition(
        lambda self: (
            self.loop.state is LoopState.IDLE
            and bool(self.loop.messages)
            and isinstance(self.loop.messages[-1], UserMessage)
        )
    )
    @rule()
    def resume(self) -> None:
        self.loop.resume()
        self.done = False
        self.answers_resp = self.tokens_resp = 0
        self.last_answer = None
        self.expect = self.begin_turn()
        self.sync()

    @precondition(lambda self: self.loop.state is LoopState.IDLE and self.prompts > 0)
    @rule(new_response=st.booleans())
    def go_on(self, new_response: bool) -> None:
        """One more user message continues the run (what a Stop hook does)."""
        self.loop.resume(UserMessage(content="Continue."), new_response=new_response)
        self.done = False
        if new_response:
            self.answers_resp = self.tokens_resp = 0
            self.last_answer = None
        self.expect = self.begin_turn()
        self.sync()

    @precondition(lambda self: self.loop.state is LoopState.ACTING)
    @rule()
    def next_actions(self) -> None:
        """Every action that is ready, up to one that waits for an answer."""
        while self.loop.state is LoopState.ACTING:
            self.next_action()

    @precondition(lambda self: self.loop.state is LoopState.ACTING)
    @rule()
    def next_action(self) -> None:
        assert not self.done
        action = self.loop.next_action()
        if type(action) is Emit:
            message = action.message
            if isinstance(message, SystemMessage):
                assert message.subtype in ("compact", "context_truncated")
            else:
                assert message in self.loop.messages
        elif type(action) is Wait:
            assert self.expect == ("retry",)
            assert action.model in self.settings.models
            assert self.turn is not None and action.attempt >= 2
            self.wait = action
        elif type(action) is SendRequest:
            self.on_send(action)
        elif type(action) is AskPermission:
            assert self.expect == ("ask", action.call.id)
            assert action.call == self.to_ask.pop(0)
            assert action.traits == TOOLS[action.call.name].traits
            self.asking = action.call
            self.expect = None
            assert self.loop.state is LoopState.AWAITING_PERMISSION
        elif type(action) is RunTools:
            assert self.expect == ("run", tuple(call.id for call in action.calls))
            order = [call.id for call in self.calls]
            approved = sorted(self.approved, key=lambda call: order.index(call.id))
            assert action.calls == tuple(approved)  # in the model's order, rewritten inputs included
            self.running = [call.id for call in action.calls]
            self.approved = []
            self.expect = None
            assert self.loop.state is LoopState.AWAITING_TOOLS
        else:
            assert type(action) is Done
            self.on_done(action)
        self.sync()

    def on_send(self, action: SendRequest) -> None:
        turn = action.turn
        raw = self.loop.messages
        check_pairing(turn.messages)
        assert any(turn.messages == as_sent(raw[start:]) for start in range(len(raw))), "a suffix of the conversation"
        if self.loop.context_window[0] is None:  # none given, none learned from a context error
            assert turn.messages == as_sent(raw)
        assert isinstance(turn.messages[0], UserMessage)
        prompt = f"task {self.prompts}"
        assert any(
            isinstance(m, UserMessage) and isinstance(m.content, str) and prompt in m.content.split("\n\n")
            for m in turn.messages
        ), "the run's prompt is always sent"
        for before, after in zip(turn.messages, turn.messages[1:], strict=False):
            prompts = [isinstance(m, UserMessage) and isinstance(m.content, str) for m in (before, after)]
            assert prompts != [True, True], "a prompt never follows another prompt"
        if action.attempt == 1 and self.expect == ("retry",) and self.turn is not None:
            # the server refused the request as too long: compacted and sent again (once)
            assert self.reactive_allowed, "only a context error or an empty answer is compacted and sent again"
            assert action.turn_number == self.turn.turn_number
            assert len(turn.messages) < len(self.turn.turn.messages) or turn.messages != self.turn.turn.messages
        elif action.attempt == 1:
            assert self.expect == ("send", action.turn_number)
            assert turn.model == "m1"
            if self.settings.max_turns is not None:
                assert action.turn_number <= self.settings.max_turns
        else:
            assert self.expect == ("retry",)
            assert self.wait is not None and self.turn is not None
            assert (action.attempt, turn.model) == (self.wait.attempt, self.wait.model)
            assert action.turn_number == self.turn.turn_number
            assert turn.messages == self.turn.turn.messages
        self.turn = action
        self.wait = None
        self.expect = None
        assert self.loop.state is LoopState.AWAITING_RESPONSE

    def on_done(self, action: Done) -> None:
        result = action.result
        if self.expect == ("retry",):  # the failed request was not retried
            self.expect = ("done", {"error_during_execution"})
        assert self.expect is not None and self.expect[0] == "done", (self.expect, result)
        assert result.subtype in self.expect[1], (self.expect, result)
        assert result.subtype in SUBTYPES
        assert result.is_error == result.subtype.startswith("error")
        assert bool(result.errors) == result.is_error
        assert result.num_turns == self.answers_resp
        if self.answers_resp:
            assert result.usage is not None and result.usage.total_tokens == self.tokens_resp
        else:
            assert result.usage is None
        last = self.last_answer
        assert result.result == ((last.text or None) if last is not None else None)
        assert result.stop_reason == (last.stop_reason if last is not None else None)
        pending: tuple[ToolUseBlock | ToolUseError, ...] = ()
        if result.subtype == "success":
            pending = tuple(c for c in self.calls if self.kind[c.id] == "external" and c.id not in self.given)
        assert result.pending_tool_calls == pending
        if result.subtype == "error_max_turns":
            assert self.answers_run == self.settings.max_turns
        if result.subtype == "error_max_budget_tokens":
            assert self.settings.max_total_tokens is not None
            assert self.tokens_run >= self.settings.max_total_tokens
        self.pending = [c for c in pending if isinstance(c, ToolUseBlock)]
        self.expect = None
        self.done = True
        assert self.loop.state is (LoopState.AWAITING_EXTERNAL if pending else LoopState.IDLE)
        assert self.loop.pending_tool_calls == pending

    @precondition(lambda self: self.loop.state is LoopState.AWAITING_RESPONSE)
    @rule(data=st.data(), fail=st.integers(0, 4))
    def respond(self, data: st.DataObject, fail: int) -> None:
        """Mostly answers; a failure one time in five."""
        if fail == 0:
            self.request_failed(
                data.draw(st.sampled_from(FAILURES), label="failure"),
                data.draw(st.sampled_from([None, "0", "1", "1000"]), label="retry_after"),
                data.draw(st.floats(0, 0.99), label="random"),
            )
        else:
            self.receive_response(
                data.draw(st.sampled_from(["", "ok", "All done."]), label="text"),
                data.draw(
                    st.lists(
                        st.tuples(st.sampled_from([*ARGS, BROKEN]), st.integers(0, 2), st.integers(0, 4)), max_size=4
                    ),
                    label="calls",
                ),
                data.draw(st.integers(1, 40), label="tokens"),
            )

    def receive_response(self, text: str, specs: list[tuple[str, int, int]], tokens: int) -> None:
        """``reuse`` 0: the call repeats the id of the answer's previous call (some servers do)."""
        calls: list[ToolUseBlock | ToolUseError] = []
        for name, index, reuse in specs:
            if reuse or not calls:
                self.serial += 1
            call_id = f"call_{self.serial}"
            if name == BROKEN:
                calls.append(ToolUseError(id=call_id, name="read", arguments='{"path": "a', error="cut off"))
            else:
                choices = ARGS[name]
                calls.append(ToolUseBlock(id=call_id, name=name, input=choices[index % len(choices)]))
        assert self.turn is not None
        answer = AssistantMessage(
            content=[*([TextBlock(text=text)] if text else []), *calls],
            model=self.turn.turn.model,
            stop_reason="tool_calls" if calls else "stop",
            usage=Usage(prompt_tokens=tokens, completion_tokens=tokens, total_tokens=2 * tokens),
        )
        self.loop.receive_response(answer)
        # a repeated id is replaced by one of the call's own: <id>_2, <id>_3, ...
        seen: dict[str, int] = {}
        for position, one in enumerate(calls):
            seen[one.id] = seen.get(one.id, 0) + 1
            if seen[one.id] > 1:
                calls[position] = attrs.evolve(one, id=f"{one.id}_{seen[one.id]}")
        kept = self.loop.messages[len(self.seen)]
        assert isinstance(kept, AssistantMessage) and kept.tool_uses == tuple(calls)
        assert len({one.id for one in calls}) == len(calls)
        answer = kept
        self.answers_run += 1
        self.answers_resp += 1
        self.tokens_run += 2 * tokens
        self.tokens_resp += 2 * tokens
        self.last_answer = answer
        self.expect = self.plan(calls) if calls else ("done", {"success"})
        self.sync()

    def request_failed(
        self, failure: tuple[Failure, int | None, tuple[str, ...]], retry_after: str | None, random: float
    ) -> None:
        kind, status, texts = failure
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self.loop.request_failed(kind, status=status, headers=headers, error_text=texts, now=0.0, random=random)
        # a retry (Wait, then the same turn again), or giving up; after a context error or an
        # empty answer, perhaps the same turn compacted
        self.reactive_allowed = kind is Failure.EMPTY_RESPONSE or "context_length_exceeded" in texts
        self.expect = ("retry",)
        self.sync()

    @precondition(lambda self: self.loop.state is LoopState.AWAITING_PERMISSION)
    @rule(answer=st.sampled_from(["allow", "rewrite", "deny", "deny-interrupt"]), index=st.integers(0, 2))
    def permission(self, answer: str, index: int) -> None:
        call = self.asking
        assert call is not None
        self.asking = None
        if answer == "allow":
            self.loop.permission(call.id, PermissionAllow())
            self.approved.append(call)
        elif answer == "rewrite":
            choices = ARGS[call.name]
            new = {**choices[index % len(choices)], "rewritten": True}
            self.loop.permission(call.id, PermissionAllow(updated_input=new))
            if self.disallowed(call.name, new):
                self.kind[call.id] = "rewrite-denied"
            else:
                self.approved.append(attrs.evolve(call, input=new))
        else:
            message = f"no to {call.id}"
            self.loop.permission(call.id, PermissionDeny(message=message, interrupt=answer == "deny-interrupt"))
            self.kind[call.id] = "denied"
            self.deny_messages[call.id] = message
            if answer == "deny-interrupt":
                self.expect = ("done", {"interrupted"})
                self.sync()
                return
        self.expect = self.advance()
        self.sync()

    @precondition(lambda self: self.loop.state is LoopState.AWAITING_TOOLS)
    @rule(data=st.data(), is_error=st.booleans())
    def tool_result(self, data: st.DataObject, is_error: bool) -> None:
        call_id = data.draw(st.sampled_from(self.running))
        block = ToolResultBlock(tool_use_id=call_id, content=f"result of {call_id}", is_error=is_error)
        self.loop.tool_result(block)
        self.given[call_id] = block
        self.running.remove(call_id)
        if self.running:
            assert self.loop.state is LoopState.AWAITING_TOOLS
        else:
            self.expect = self.advance()
            assert self.loop.state is LoopState.ACTING
        self.sync()

    @precondition(lambda self: self.loop.state is LoopState.AWAITING_EXTERNAL)
    @rule(data=st.data())
    def external_result(self, data: st.DataObject) -> None:
        call = data.draw(st.sampled_from(self.pending))
        block = ToolResultBlock(tool_use_id=call.id, content=f"the caller says {call.id}")
        self.loop.tool_result(block)
        self.given[call.id] = block
        self.pending.remove(call)
        if self.pending:
            assert self.loop.state is LoopState.AWAITING_EXTERNAL
            assert self.loop.pending_tool_calls == tuple(self.pending)
        else:
            assert self.loop.state is LoopState.IDLE
            assert self.loop.pending_tool_calls == ()
        self.sync()

    @rule(data=st.data(), which=st.integers(0, 5))
    def disrupt(self, data: st.DataObject, which: int) -> None:
        """At any time: an interrupt (one time in six), or an input the loop does not expect."""
        if which == 0:
            self.interrupt(data.draw(st.sampled_from(["none", "text", "text+call", "call"]), label="partial"))
        else:
            self.misuse(data)

    def interrupt(self, partial: str) -> None:
        state = self.loop.state
        message = None
        if partial != "none":
            blocks: list[TextBlock | ThinkingBlock | ToolUseBlock | ToolUseError] = []
            if "text" in partial:
                blocks.append(TextBlock(text="half an ans"))
            if "call" in partial:
                blocks.append(ToolUseBlock(id="partial_call", name="read", input={"path": "a.txt"}))
            message = AssistantMessage(content=blocks, model="m1")
        before = self.loop.messages
        self.loop.interrupt(message)
        if state in (LoopState.IDLE, LoopState.AWAITING_EXTERNAL):
            assert self.loop.messages == before and self.loop.state is state
            return
        if self.expect is not None and self.expect[0] == "done":
            return  # the run is already over: its Done stands
        if self.expect == ("retry",):
            self.expect = ("done", {"interrupted", "error_during_execution"})
        else:
            self.expect = ("done", {"interrupted"})
        if state is LoopState.AWAITING_RESPONSE and message is not None and "text" in partial:
            kept = self.loop.messages[-1]
            assert isinstance(kept, AssistantMessage)
            assert kept.text == "half an ans" and kept.stop_reason == "interrupted" and not kept.tool_uses
            self.last_answer = kept
        else:
            assert not any(m == message for m in self.loop.messages[len(before) :])
        self.sync()
        assert not self.calls, "an interrupt answers every call of the round"

    # ---- misuse ---------------------------------------------------------------------------

    def misuse(self, data: st.DataObject) -> None:
        loop = self.loop
        state = loop.state
        ends_with_prompt = bool(loop.messages) and isinstance(loop.messages[-1], UserMessage)
        attempts: dict[str, Callable[[], None]] = {
            "next_action": lambda: self.call(loop.next_action),
            "start": lambda: self.call(loop.start, UserMessage(content="again")),
            "resume": lambda: self.call(loop.resume),
            "receive_response": lambda: self.call(loop.receive_response, AssistantMessage(content=[])),
            "request_failed": lambda: self.call(loop.request_failed, Failure.TIMEOUT),
            "permission": lambda: self.call(loop.permission, "call_1", PermissionAllow()),
            "tool_result": lambda: self.call(loop.tool_result, ToolResultBlock(tool_use_id="call_1")),
            "permission-wrong-id": lambda: self.call(loop.permission, "no-such-call", PermissionDeny()),
            "tool_result-unknown": lambda: self.call(loop.tool_result, ToolResultBlock(tool_use_id="no-such-call")),
        }
        valid = {
            LoopState.IDLE: {"start", "resume"} if ends_with_prompt else {"start"},
            LoopState.ACTING: {"next_action"},
            LoopState.AWAITING_RESPONSE: {"receive_response", "request_failed"},
            LoopState.AWAITING_PERMISSION: {"permission"} if self.asking and self.asking.id == "call_1" else set(),
            LoopState.AWAITING_TOOLS: {"tool_result"} if "call_1" in self.running else set(),
            LoopState.AWAITING_EXTERNAL: {"tool_result"} if any(c.id == "call_1" for c in self.pending) else set(),
        }[state]
        name = data.draw(st.sampled_from(sorted(set(attempts) - valid)))
        attempts[name]()

    # ---- invariants -----------------------------------------------------------------------

    @invariant()
    def nothing_after_done(self) -> None:
        if self.done:
            assert self.loop.state in (LoopState.IDLE, LoopState.AWAITING_EXTERNAL)
            self.call(self.loop.next_action)

    @invariant()
    def conversation_is_consistent(self) -> None:
        self.sync()
        check_pairing(self.loop.messages, complete=self.loop.state is LoopState.IDLE)

    @invariant()
    def waiting_matches_the_model(self) -> None:
        state = self.loop.state
        if state is LoopState.AWAITING_TOOLS:
            assert self.running
        if state is LoopState.AWAITING_PERMISSION:
            assert self.asking is not None
        if state is LoopState.AWAITING_EXTERNAL:
            assert self.loop.pending_tool_calls == tuple(self.pending)
        if state is LoopState.ACTING:
            assert self.expect is not None, "actions are ready but the model expects none"


TestLoopMachine = LoopMachine.TestCase
TestLoopMachine.settings = hypothesis_settings(stateful_step_count=80)
