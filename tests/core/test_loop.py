"""AgentLoop, one behaviour at a time: runs, tool rounds, permissions, doom loops, limits and
budgets, retries, tool_choice, structured output, compaction, external tools, interrupts and
misuse; plus the permission rules and the budget arithmetic on their own."""

from __future__ import annotations

import json
import math
import pathlib
from collections.abc import Sequence
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import (
    Action,
    AgentLoop,
    AskPermission,
    AssistantMessage,
    Commit,
    Done,
    Emit,
    Failure,
    ImageBlock,
    LocalProtocolError,
    LoopSettings,
    LoopState,
    LoopTool,
    Message,
    PermissionAllow,
    PermissionDeny,
    PermissionMode,
    PermissionPolicy,
    PermissionRule,
    Pricing,
    ResultMessage,
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
    compact,
    cost_usd,
    estimate_tokens,
    thaw_json,
)

READ = LoopTool(spec=ToolSpec(name="read_file"), traits=ToolTraits(read_only=True, rule_argument="path"))
EDIT = LoopTool(
    spec=ToolSpec(name="edit_file"), traits=ToolTraits(edits_files=True, needs_permission=True, rule_argument="path")
)
BASH = LoopTool(spec=ToolSpec(name="bash"), traits=ToolTraits(needs_permission=True, rule_argument="command"))
PLAIN = LoopTool(spec=ToolSpec(name="lookup"))  # declares nothing: the caller's own tool
EXTERNAL = LoopTool(spec=ToolSpec(name="ask_user"), external=True)
TOOLS = (READ, EDIT, BASH, PLAIN, EXTERNAL)
FAST = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.01, jitter=0.0)
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


def make(
    *, tools: Sequence[LoopTool] = TOOLS, template: StartTurn | None = None, **kwargs: Any
) -> tuple[AgentLoop, LoopSettings]:
    settings = LoopSettings(
        template=template or StartTurn(model="m", messages=()),
        tools=tools,
        tool_mode=kwargs.pop("tool_mode", "native"),
        retry=kwargs.pop("retry", FAST),
        **kwargs,
    )
    return AgentLoop(settings), settings


def state(loop: AgentLoop) -> LoopState:
    """``loop.state``, read through a call: mypy does not narrow a property read again."""
    return loop.state


def pending(loop: AgentLoop) -> tuple[ToolUseBlock | ToolUseError, ...]:
    return loop.pending_tool_calls


def drain(loop: AgentLoop) -> list[Action]:
    """Every action that is ready (up to one that waits for an answer, or Done)."""
    actions = []
    while loop.state is LoopState.ACTING:
        actions.append(loop.next_action())
    return actions


def call(call_id: str, name: str, **arguments: Any) -> ToolUseBlock:
    return ToolUseBlock(id=call_id, name=name, input=arguments)


def answer(
    text: str = "", *calls: ToolUseBlock | ToolUseError, usage: Usage | None = None, model: str = "m"
) -> AssistantMessage:
    blocks = [TextBlock(text=text)] if text else []
    return AssistantMessage(
        content=[*blocks, *calls], model=model, stop_reason="tool_calls" if calls else "stop", usage=usage
    )


def result(call_id: str, text: str = "") -> ToolResultBlock:
    return ToolResultBlock(tool_use_id=call_id, content=text or f"result of {call_id}")


def usage(prompt: int, completion: int) -> Usage:
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def started(loop: AgentLoop, prompt: str = "go") -> SendRequest:
    loop.start(UserMessage(content=prompt))
    actions = drain(loop)
    assert type(actions[-1]) is SendRequest, actions
    return actions[-1]


def only(actions: list[Action], kind: type[Any]) -> list[Any]:
    return [action for action in actions if type(action) is kind]


def done(actions: list[Action]) -> ResultMessage:
    assert type(actions[-1]) is Done, actions
    return actions[-1].result


def results_of(message: Message) -> dict[str, ToolResultBlock]:
    assert isinstance(message, UserMessage) and not isinstance(message.content, str)
    return {b.tool_use_id: b for b in message.content if isinstance(b, ToolResultBlock)}


def round_trip(loop: AgentLoop, *calls: ToolUseBlock | ToolUseError, text: str = "") -> list[Action]:
    """Answer with ``calls``, run whatever RunTools hands out, and return the actions."""
    loop.receive_response(answer(text, *calls))
    actions = drain(loop)
    for run in only(actions, RunTools):
        for c in run.calls:
            loop.tool_result(result(c.id))
        actions += drain(loop)
    return actions


# ---- runs ---------------------------------------------------------------------------------


def test_text_only_run() -> None:
    loop, _ = make(session_id="s1")
    prompt = UserMessage(content="hello")
    loop.start(prompt)
    assert state(loop) is LoopState.ACTING
    send = loop.next_action()
    assert send == SendRequest(turn=send.turn, turn_number=1, attempt=1)  # type: ignore[union-attr]
    assert type(send) is SendRequest
    assert send.turn.messages == (prompt,)
    assert send.turn.tools == tuple(tool.spec for tool in TOOLS)
    assert state(loop) is LoopState.AWAITING_RESPONSE
    reply = answer("hi there", usage=usage(10, 3))
    loop.receive_response(reply)
    actions = drain(loop)
    assert actions[0] == Emit(message=reply)
    final = done(actions)
    assert len(actions) == 2
    assert final.subtype == "success" and not final.is_error
    assert final.result == "hi there"
    assert final.num_turns == 1
    assert final.usage == usage(10, 3)
    assert final.stop_reason == "stop" and final.model == "m"
    assert final.session_id == "s1"
    assert final.errors == () and final.pending_tool_calls == ()
    assert state(loop) is LoopState.IDLE
    assert loop.messages == (prompt, reply)
    with pytest.raises(LocalProtocolError, match=r"start\(\) or resume\(\)"):
        loop.next_action()


def test_usage_is_summed_over_the_turns_of_a_run() -> None:
    loop, _ = make()
    started(loop)
    loop.receive_response(answer("", call("c1", "read_file", path="a"), usage=usage(10, 5)))
    actions = drain(loop)
    loop.tool_result(result("c1"))
    send = only(drain(loop), SendRequest)[0]
    assert (send.turn_number, send.attempt) == (2, 1)
    loop.receive_response(answer("done", usage=Usage(prompt_tokens=30, completion_tokens=2, cached_tokens=8)))
    final = done(drain(loop))
    assert final.num_turns == 2
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (40, 7)
    assert (final.usage.total_tokens, final.usage.cached_tokens) == (15, 8)
    assert only(actions, RunTools)


def test_a_read_only_call_runs_without_asking_and_results_go_back_in_call_order() -> None:
    loop, _ = make()
    prompt_send = started(loop)
    calls = [call("c1", "read_file", path="a"), call("c2", "lookup", q="x"), call("c3", "read_file", path="b")]
    reply = answer("let me look", *calls)
    loop.receive_response(reply)
    actions = drain(loop)
    assert actions == [Emit(message=reply), RunTools(calls=tuple(calls))]
    assert state(loop) is LoopState.AWAITING_TOOLS
    for c in reversed(calls):
        loop.tool_result(result(c.id))
    actions = drain(loop)
    sent = UserMessage(content=[result("c1"), result("c2"), result("c3")])
    assert actions[0] == Emit(message=sent)
    send = actions[1]
    assert type(send) is SendRequest
    assert send.turn.messages == (*prompt_send.turn.messages, reply, sent)
    assert loop.messages == send.turn.messages


def test_calls_that_share_an_id_get_ids_of_their_own_and_one_result_each() -> None:
    loop, _ = make()
    started(loop)
    broken = ToolUseError(id="x", name="read_file", arguments="{", error="cut off")
    loop.receive_response(answer("", call("x", "read_file", path="a"), call("x", "read_file", path="b"), broken))
    kept = loop.messages[-1]
    assert isinstance(kept, AssistantMessage)
    ids = [c.id for c in kept.tool_uses]
    assert ids[0] == "x" and len(set(ids)) == 3
    run = drain(loop)[-1]
    assert isinstance(run, RunTools) and [c.id for c in run.calls] == ids[:2]
    assert [c.input for c in run.calls] == [{"path": "a"}, {"path": "b"}]
    for c in run.calls:
        loop.tool_result(result(c.id, f"read {c.input['path']}"))
    actions = drain(loop)
    sent = results_of(only(actions, Emit)[0].message)
    assert list(sent) == ids
    assert [sent[i].content for i in ids[:2]] == ["read a", "read b"]
    assert sent[ids[2]].is_error
    assert type(actions[-1]) is SendRequest


def test_unknown_tool_and_unusable_arguments_get_error_results() -> None:
    loop, _ = make(tools=(READ, BASH))
    started(loop)
    broken = ToolUseError(id="c2", name="read_file", arguments='{"path": ', error="unexpected end")
    loop.receive_response(answer("", call("c1", "rm_rf", path="/"), broken))
    actions = drain(loop)
    assert not only(actions, RunTools) and not only(actions, AskPermission)
    sent = results_of(only(actions, Emit)[1].message)
    assert all(block.is_error for block in sent.values())
    assert "no tool named 'rm_rf'" in str(sent["c1"].content)
    assert "Available tools: read_file, bash." in str(sent["c1"].content)
    assert "read_file" in str(sent["c2"].content) and "unexpected end" in str(sent["c2"].content)
    assert "one JSON object" in str(sent["c2"].content)
    assert type(actions[-1]) is SendRequest


def test_unknown_tool_without_tools_says_none_are_available() -> None:
    loop, _ = make(tools=())
    started(loop)
    loop.receive_response(answer("", call("c1", "read_file")))
    sent = results_of(only(drain(loop), Emit)[1].message)
    assert "Available tools: none." in str(sent["c1"].content)


# ---- permissions in the loop ------------------------------------------------------------------


def test_default_mode_asks_for_tools_that_need_permission() -> None:
    loop, _ = make()
    started(loop)
    calls = [call("c1", "read_file", path="a"), call("c2", "bash", command="ls"), call("c3", "edit_file", path="b")]
    loop.receive_response(answer("", *calls))
    ask = drain(loop)[-1]
    assert type(ask) is AskPermission
    assert ask.call == calls[1] and ask.traits == BASH.traits
    assert "'bash' needs permission in default mode" in ask.reason
    assert state(loop) is LoopState.AWAITING_PERMISSION
    loop.permission("c2", PermissionAllow())
    ask = drain(loop)[-1]
    assert type(ask) is AskPermission and ask.call == calls[2]
    loop.permission("c3", PermissionDeny(message="not that file"))
    run = drain(loop)
    assert run == [RunTools(calls=(calls[0], calls[1]))]
    loop.tool_result(result("c2"))
    loop.tool_result(result("c1"))
    sent = results_of(only(drain(loop), Emit)[0].message)
    assert list(sent) == ["c1", "c2", "c3"]
    assert sent["c3"] == ToolResultBlock(tool_use_id="c3", content="Permission denied: not that file", is_error=True)


@pytest.mark.parametrize(
    ("mode", "tool", "expected"),
    [
        ("default", READ, "run"),
        ("default", EDIT, "ask"),
        ("default", BASH, "ask"),
        ("default", PLAIN, "run"),
        ("acceptEdits", EDIT, "run"),
        ("acceptEdits", BASH, "ask"),
        ("acceptEdits", READ, "run"),
        ("plan", READ, "run"),
        ("plan", EDIT, "deny"),
        ("plan", BASH, "deny"),
        ("plan", PLAIN, "deny"),
        ("bypassPermissions", EDIT, "run"),
        ("bypassPermissions", BASH, "run"),
        ("bypassPermissions", PLAIN, "run"),
    ],
)
def test_what_each_mode_does_with_each_kind_of_tool(mode: PermissionMode, tool: LoopTool, expected: str) -> None:
    loop, _ = make(permissions=PermissionPolicy(mode=mode))
    started(loop)
    the_call = call("c1", tool.spec.name, path="x", command="ls")
    loop.receive_response(answer("", the_call))
    last = drain(loop)[-1]
    if expected == "run":
        assert last == RunTools(calls=(the_call,))
    elif expected == "ask":
        assert type(last) is AskPermission and last.call == the_call
    else:
        assert type(last) is SendRequest
        block = results_of(last.turn.messages[-1])["c1"]
        assert block.is_error
        assert "Permission denied" in str(block.content) and "plan mode" in str(block.content)


def test_bypass_still_honours_disallowed_rules() -> None:
    policy = PermissionPolicy(mode="bypassPermissions", disallowed_tools=["bash(rm *)"])
    loop, _ = make(permissions=policy)
    started(loop)
    loop.receive_response(answer("", call("c1", "bash", command="rm -rf /"), call("c2", "bash", command="ls")))
    actions = drain(loop)
    assert actions[-1] == RunTools(calls=(call("c2", "bash", command="ls"),))
    loop.tool_result(result("c2"))
    sent = results_of(only(drain(loop), Emit)[0].message)
    assert sent["c1"].is_error
    assert sent["c1"].content == "Permission denied: 'bash' is disallowed by the rule 'bash(rm *)'."


def test_allowed_and_disallowed_rules_with_patterns() -> None:
    policy = PermissionPolicy(allowed_tools=["bash(git *)", "edit_file(docs/*)"], disallowed_tools="bash(git push*)")
    loop, _ = make(permissions=policy)
    started(loop)
    calls = [
        call("c1", "bash", command="git status"),
        call("c2", "bash", command="git push origin main"),
        call("c3", "bash", command="make"),
        call("c4", "edit_file", path="docs/deep/index.md"),
        call("c5", "edit_file", path="src/main.py"),
    ]
    loop.receive_response(answer("", *calls))
    ask = drain(loop)[-1]
    assert type(ask) is AskPermission and ask.call.id == "c3"
    loop.permission("c3", PermissionDeny())
    ask = drain(loop)[-1]
    assert type(ask) is AskPermission and ask.call.id == "c5"
    loop.permission("c5", PermissionDeny())
    run = drain(loop)[-1]
    assert run == RunTools(calls=(calls[0], calls[3]))
    loop.tool_result(result("c1"))
    loop.tool_result(result("c4"))
    sent = results_of(only(drain(loop), Emit)[0].message)
    assert "disallowed by the rule 'bash(git push*)'" in str(sent["c2"].content)
    assert sent["c3"].content == sent["c5"].content == "Permission denied: permission denied"


def test_a_rewritten_input_is_what_runs() -> None:
    loop, _ = make()
    started(loop)
    original = call("c1", "bash", command="rm -rf build")
    loop.receive_response(answer("", original))
    drain(loop)
    loop.permission("c1", PermissionAllow(updated_input={"command": "rm -ri build"}))
    run = drain(loop)
    assert run == [RunTools(calls=(attrs.evolve(original, input={"command": "rm -ri build"}),))]
    # the conversation keeps what the model asked for
    assert loop.messages[-1] == answer("", original)


def test_a_rewritten_input_that_matches_a_disallowed_rule_is_denied() -> None:
    loop, _ = make(permissions=PermissionPolicy(disallowed_tools=["bash(rm *)"]))
    started(loop)
    loop.receive_response(answer("", call("c1", "bash", command="ls"), call("c2", "read_file", path="a")))
    drain(loop)
    loop.permission("c1", PermissionAllow(updated_input={"command": "rm -rf /"}))
    run = drain(loop)
    assert run == [RunTools(calls=(call("c2", "read_file", path="a"),))]
    loop.tool_result(result("c2"))
    sent = results_of(only(drain(loop), Emit)[0].message)
    assert sent["c1"].is_error
    assert sent["c1"].content == (
        "Permission denied: the rewritten call is refused: 'bash' is disallowed by the rule 'bash(rm *)'."
    )


def test_deny_with_interrupt_ends_the_run_and_answers_every_call() -> None:
    loop, _ = make()
    started(loop)
    calls = [call("c1", "read_file", path="a"), call("c2", "bash", command="ls"), call("c3", "bash", command="pwd")]
    loop.receive_response(answer("working", *calls))
    drain(loop)
    loop.permission("c2", PermissionDeny(message="stop right there", interrupt=True))
    actions = drain(loop)
    assert not only(actions, RunTools) and not only(actions, AskPermission)
    sent = results_of(only(actions, Emit)[0].message)
    assert list(sent) == ["c1", "c2", "c3"]
    assert sent["c2"].content == "Permission denied: stop right there"
    assert all(sent[c].is_error and "interrupted" in str(sent[c].content) for c in ("c1", "c3"))
    final = done(actions)
    assert final.subtype == "interrupted" and final.result == "working"
    assert state(loop) is LoopState.IDLE
    assert loop.messages[-1] == only(actions, Emit)[0].message


def test_permission_with_a_wrong_answer_type_changes_nothing() -> None:
    loop, _ = make()
    started(loop)
    loop.receive_response(answer("", call("c1", "bash", command="ls")))
    drain(loop)
    with pytest.raises(TypeError, match="PermissionAllow or PermissionDeny"):
        loop.permission("c1", True)  # type: ignore[arg-type]
    assert state(loop) is LoopState.AWAITING_PERMISSION
    loop.permission("c1", PermissionAllow())
    assert drain(loop) == [RunTools(calls=(call("c1", "bash", command="ls"),))]


# ---- doom loops ---------------------------------------------------------------------------


def test_doom_loop_warn() -> None:
    loop, _ = make(doom_loop_threshold=2, doom_loop_action="warn")
    started(loop)
    same = {"path": "a"}
    first = round_trip(loop, call("c1", "read_file", **same))
    assert only(first, RunTools) == [RunTools(calls=(call("c1", "read_file", **same),))]
    second = round_trip(loop, call("c2", "read_file", **same))
    assert not only(second, RunTools)
    told = results_of(only(second, Emit)[1].message)["c2"]
    assert told.is_error
    assert "not run" in str(told.content) and "read_file" in str(told.content) and "2 times" in str(told.content)
    # a different call resets the count
    third = round_trip(loop, call("c3", "read_file", path="b"))
    assert only(third, RunTools)
    fourth = round_trip(loop, call("c4", "read_file", path="b"))
    assert not only(fourth, RunTools) and type(fourth[-1]) is SendRequest
    fifth = round_trip(loop, call("c5", "read_file", path="b"))  # three in a row: still warned
    assert not only(fifth, RunTools) and type(fifth[-1]) is SendRequest
    sixth = round_trip(loop, call("c6", "read_file", path="b"), call("c7", "read_file", path="a"))
    final = done(sixth)  # four in a row: twice the threshold
    assert final.subtype == "error_doom_loop"
    assert "read_file called with the same arguments 4 times in a row" in final.errors[0]
    sent = results_of(only(sixth, Emit)[1].message)
    assert list(sent) == ["c6", "c7"] and all(block.is_error for block in sent.values())
    assert not only(sixth, RunTools)


def test_doom_loop_counts_within_one_answer_and_different_arguments_differ() -> None:
    loop, _ = make(doom_loop_threshold=3)
    started(loop)
    actions = round_trip(
        loop,
        call("c1", "read_file", path="a"),
        call("c2", "read_file", path="a"),
        call("c3", "read_file", path="a"),
        call("c4", "read_file", path="b"),
    )
    assert only(actions, RunTools)[0].calls == (call("c1", "read_file", path="a"), call("c2", "read_file", path="a"),
                                                call("c4", "read_file", path="b"))  # fmt: skip
    assert results_of(loop.messages[-1])["c3"].is_error


def test_doom_loop_stop_ends_the_run_at_once() -> None:
    loop, _ = make(doom_loop_threshold=2, doom_loop_action="stop")
    started(loop)
    round_trip(loop, call("c1", "read_file", path="a"))
    # another call in between resets the count
    actions = round_trip(loop, call("c2", "lookup", q=1), call("c3", "read_file", path="a"))
    assert only(actions, RunTools) == [RunTools(calls=(call("c2", "lookup", q=1), call("c3", "read_file", path="a")))]
    actions = round_trip(loop, call("c4", "read_file", path="a"), call("c5", "lookup", q=2))
    final = done(actions)
    assert final.subtype == "error_doom_loop" and final.is_error
    assert not only(actions, RunTools)
    sent = results_of(loop.messages[-1])
    assert list(sent) == ["c4", "c5"] and all(block.is_error for block in sent.values())
    assert "doom loop" in str(sent["c5"].content)


def test_doom_loop_count_restarts_with_each_run() -> None:
    loop, _ = make(doom_loop_threshold=2, doom_loop_action="stop")
    started(loop)
    round_trip(loop, call("c1", "read_file", path="a"))
    loop.receive_response(answer("done"))
    assert done(drain(loop)).subtype == "success"
    started(loop, "again")
    actions = round_trip(loop, call("c2", "read_file", path="a"))
    assert only(actions, RunTools)


# ---- limits and budgets ---------------------------------------------------------------------


def test_max_turns_runs_the_last_turns_tools_then_stops() -> None:
    loop, _ = make(max_turns=2)
    started(loop)
    actions = round_trip(loop, call("c1", "read_file", path="a"))
    assert type(actions[-1]) is SendRequest and actions[-1].turn_number == 2
    actions = round_trip(loop, call("c2", "read_file", path="b"))
    assert only(actions, RunTools) == [RunTools(calls=(call("c2", "read_file", path="b"),))]
    assert not only(actions, SendRequest)
    final = done(actions)
    assert final.subtype == "error_max_turns"
    assert final.errors == ("max_turns (2) reached",)
    assert final.num_turns == 2
    # the results were kept: the conversation can go on later
    assert results_of(loop.messages[-1]) == {"c2": result("c2")}
    assert state(loop) is LoopState.IDLE
    # resume() keeps the run's count: the limit is still reached
    loop.resume()
    again = drain(loop)
    assert len(again) == 1 and done(again).subtype == "error_max_turns"
    assert done(again).num_turns == 0
    # a new run starts counting again
    assert started(loop, "next").turn_number == 1


def test_token_budget() -> None:
    loop, _ = make(max_total_tokens=100)
    started(loop)
    loop.receive_response(answer("", call("c1", "read_file", path="a"), usage=usage(60, 30)))
    run = drain(loop)[-1]
    assert type(run) is RunTools  # the answer's calls still run
    loop.tool_result(result("c1"))
    actions = drain(loop)
    assert type(actions[-1]) is SendRequest
    loop.receive_response(answer("", call("c2", "read_file", path="b"), usage=usage(5, 5)))
    drain(loop)
    loop.tool_result(result("c2"))
    final = done(drain(loop))
    assert final.subtype == "error_max_budget_tokens"
    assert final.errors == ("token budget spent: 100 of max_total_tokens=100",)


def test_token_budget_without_usage_uses_an_estimate() -> None:
    loop, _ = make(tools=(READ,), max_total_tokens=50)
    started(loop, "x" * 400)  # about 100 tokens sent
    loop.receive_response(answer("", call("c1", "read_file", path="a")))
    drain(loop)
    loop.tool_result(result("c1"))
    assert done(drain(loop)).subtype == "error_max_budget_tokens"


def test_a_final_answer_over_the_budget_is_still_a_success() -> None:
    loop, _ = make(max_total_tokens=10)
    started(loop)
    loop.receive_response(answer("here", usage=usage(100, 100)))
    assert done(drain(loop)).subtype == "success"


def test_cost_budget() -> None:
    pricing = Pricing(input_per_million=2.0, output_per_million=10.0)
    loop, _ = make(pricing=pricing, max_budget_usd=0.005)
    started(loop)
    loop.receive_response(answer("", call("c1", "read_file", path="a"), usage=usage(1000, 100)))  # $0.003
    drain(loop)
    loop.tool_result(result("c1"))
    assert type(drain(loop)[-1]) is SendRequest
    loop.receive_response(answer("", call("c2", "read_file", path="b"), usage=usage(1000, 100)))  # $0.006
    drain(loop)
    loop.tool_result(result("c2"))
    final = done(drain(loop))
    assert final.subtype == "error_max_budget_usd"
    assert final.total_cost_usd == pytest.approx(0.006)
    assert final.errors == ("cost budget spent: $0.006000 of max_budget_usd=0.005",)


def test_cost_is_reported_without_a_budget_and_zero_without_pricing() -> None:
    loop, _ = make(pricing=Pricing(input_per_million=1.0, output_per_million=4.0))
    started(loop)
    loop.receive_response(answer("hi", usage=usage(2000, 500)))
    assert done(drain(loop)).total_cost_usd == pytest.approx(0.004)
    loop, _ = make()
    started(loop)
    loop.receive_response(answer("hi", usage=usage(2000, 500)))
    assert done(drain(loop)).total_cost_usd == 0.0


def test_a_cost_budget_without_pricing_is_refused() -> None:
    with pytest.raises(ValueError, match="max_budget_usd needs pricing"):
        make(max_budget_usd=0.5)


def test_answers_without_usage_are_counted_as_estimates_marked_so() -> None:
    pricing = Pricing(input_per_million=1000.0, output_per_million=1000.0)
    loop, _ = make(pricing=pricing)
    started(loop, "x" * 400)
    reply = answer("y" * 200, call("c1", "read_file", path="a"))
    loop.receive_response(reply)
    emitted = drain(loop)
    assert emitted[0] == Emit(message=reply)  # the answer says what the server sent: no usage
    loop.tool_result(result("c1"))
    drain(loop)
    loop.receive_response(answer("done", usage=usage(300, 10)))
    final = done(drain(loop))
    assert final.usage is not None and final.usage.estimated
    first_prompt, first_answer = final.usage.prompt_tokens, final.usage.completion_tokens
    assert first_prompt is not None and first_answer is not None
    # about four characters a token: the 400-character prompt and the tools' specs, the 200-character answer
    assert 400 // 4 < first_prompt - 300 < 400
    assert 200 // 4 <= first_answer - 10 < 120
    assert final.usage.total_tokens == first_prompt + first_answer
    assert final.total_cost_usd == pytest.approx(final.usage.total_tokens * 1000.0 / 1e6)


def test_an_estimated_token_count_stops_a_token_budget() -> None:
    loop, _ = make(max_total_tokens=50)
    started(loop, "x" * 400)
    loop.receive_response(answer("", call("c1", "read_file", path="a")))
    drain(loop)
    loop.tool_result(result("c1"))
    final = done(drain(loop))
    assert final.subtype == "error_max_budget_tokens"
    assert final.usage is not None and final.usage.estimated


def test_an_interrupt_with_a_reason_answers_the_cut_calls_and_the_result_with_it() -> None:
    loop, _ = make()
    started(loop)
    loop.receive_response(answer("", call("c1", "read_file", path="a"), call("c2", "read_file", path="b")))
    drain(loop)
    loop.tool_result(result("c1"))
    loop.interrupt(reason="a PostToolUse hook said: enough")
    actions = drain(loop)
    final = done(actions)
    assert final.subtype == "interrupted"
    assert final.errors == ("a PostToolUse hook said: enough",)
    sent = [a.message for a in actions if type(a) is Emit and isinstance(a.message, UserMessage)]
    (results,) = sent
    assert isinstance(results.content, tuple)
    cut = results.content[1]
    assert isinstance(cut, ToolResultBlock) and cut.is_error
    assert "the run was stopped: a PostToolUse hook said: enough" in str(cut.content)


def test_usage_spent_on_the_run_s_behalf_counts_in_totals_and_budgets() -> None:
    pricing = Pricing(input_per_million=2.0, output_per_million=10.0)
    loop, _ = make(pricing=pricing, max_budget_usd=0.01, max_total_tokens=5000)
    with pytest.raises(LocalProtocolError, match="no run in progress"):
        loop.add_usage(usage(1, 1))
    started(loop)
    assert loop.budget_left() == (5000, 0.01)
    loop.receive_response(answer("", call("c1", "read_file", path="a"), usage=usage(1000, 100)))  # $0.003
    drain(loop)
    loop.add_usage(usage(1000, 200))  # priced as the loop's own answers: $0.004
    loop.add_usage(None, cost_usd=0.001)  # a cost without usage
    tokens, usd = loop.budget_left()
    assert tokens == 5000 - 1100 - 1200
    assert usd == pytest.approx(0.002)
    loop.tool_result(result("c1"))
    assert type(drain(loop)[-1]) is SendRequest  # still within both budgets
    loop.receive_response(answer("", call("c2", "read_file", path="b"), usage=usage(1000, 100)))  # $0.003
    drain(loop)
    assert loop.budget_left() == (5000 - 3400, 0.0)
    loop.tool_result(result("c2"))
    final = done(drain(loop))
    assert final.subtype == "error_max_budget_usd"
    assert final.total_cost_usd == pytest.approx(0.011)
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (3000, 400)
    with pytest.raises(TypeError, match="Usage or None"):
        make()[0].add_usage({"prompt_tokens": 1})  # type: ignore[arg-type]


def test_budget_left_is_none_without_budgets() -> None:
    loop, _ = make()
    started(loop)
    assert loop.budget_left() == (None, None)


# ---- retries ------------------------------------------------------------------------------


def test_a_503_is_retried_after_a_wait() -> None:
    loop, _ = make()
    first = started(loop)
    loop.request_failed(Failure.STATUS, status=503, random=0.5)
    wait, send = drain(loop)
    assert type(wait) is Wait and type(send) is SendRequest
    assert (wait.attempt, wait.model) == (2, "m")
    assert wait.seconds == pytest.approx(0.001)
    assert "HTTP 503" in wait.reason
    assert send == SendRequest(turn=first.turn, turn_number=1, attempt=2)
    loop.receive_response(answer("ok"))
    assert done(drain(loop)).num_turns == 1


def test_retry_after_is_obeyed() -> None:
    loop, _ = make()
    started(loop)
    loop.request_failed(Failure.STATUS, status=429, headers={"Retry-After": "7"})
    wait = drain(loop)[0]
    assert type(wait) is Wait and wait.seconds == 7


def test_fallback_model_after_the_retries() -> None:
    loop, _ = make(retry=RetryPolicy(max_retries=1, initial_delay=0.001, jitter=0.0), fallback_models=["small"])
    first = started(loop)
    loop.request_failed(Failure.CONNECTION)
    wait, send = drain(loop)
    assert type(send) is SendRequest and send.turn.model == "m" and send.attempt == 2
    loop.request_failed(Failure.TIMEOUT)
    wait, send = drain(loop)
    assert type(wait) is Wait and (wait.seconds, wait.model, wait.attempt) == (0.0, "small", 3)
    assert type(send) is SendRequest
    assert send.turn == attrs.evolve(first.turn, model="small")
    assert (send.turn_number, send.attempt) == (1, 3)
    loop.receive_response(answer("from the small one", model="small"))
    final = done(drain(loop))
    assert final.model == "small" and final.num_turns == 1


def test_a_400_gives_up_and_resume_sends_the_same_turn_again() -> None:
    loop, _ = make()
    first = started(loop)
    loop.request_failed(Failure.STATUS, status=400, message="bad request: no such parameter")
    final = done(drain(loop))
    assert final.subtype == "error_during_execution" and final.is_error
    assert final.errors == ("bad request: no such parameter; not retried: HTTP 400 (model 'm')",)
    assert final.num_turns == 0 and final.result is None
    assert state(loop) is LoopState.IDLE
    loop.resume()
    again = drain(loop)
    assert again == [SendRequest(turn=first.turn, turn_number=1, attempt=1)]


def test_giving_up_after_a_tool_round_keeps_the_turn_count() -> None:
    loop, _ = make(max_turns=2, retry=RetryPolicy(max_retries=0))
    started(loop)
    actions = round_trip(loop, call("c1", "read_file", path="a"))
    send = actions[-1]
    assert type(send) is SendRequest and send.turn_number == 2
    loop.request_failed(Failure.CONNECTION)
    assert done(drain(loop)).subtype == "error_during_execution"
    loop.resume()
    again = drain(loop)[-1]
    assert again == SendRequest(turn=send.turn, turn_number=2, attempt=1)


# ---- tool_choice ------------------------------------------------------------------------------


@pytest.mark.parametrize("forced", ["required", "read_file"])
def test_a_forced_tool_choice_becomes_auto_after_tools_ran(forced: str) -> None:
    template = StartTurn(model="m", messages=(), tools=[READ.spec], tool_choice=forced)
    loop, _ = make(tools=(READ,), template=template)
    assert started(loop).turn.tool_choice == forced
    actions = round_trip(loop, call("c1", "read_file", path="a"))
    assert actions[-1].turn.tool_choice == "auto"  # type: ignore[union-attr]
    loop.receive_response(answer("done"))
    drain(loop)
    assert started(loop, "next").turn.tool_choice == forced


def test_tool_choice_is_kept_without_reset() -> None:
    template = StartTurn(model="m", messages=(), tool_choice="required")
    loop, _ = make(tools=(READ,), template=template, reset_tool_choice=False)
    started(loop)
    actions = round_trip(loop, call("c1", "read_file", path="a"))
    assert actions[-1].turn.tool_choice == "required"  # type: ignore[union-attr]


# ---- structured output ------------------------------------------------------------------------


def test_output_schema_as_json_schema_response_format() -> None:
    loop, _ = make(output_schema=SCHEMA)
    turn = started(loop).turn
    assert thaw_json(turn.response_format) == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": SCHEMA},
    }
    assert turn.system_prompt is None


def test_output_schema_as_json_object_response_format() -> None:
    loop, _ = make(output_schema=SCHEMA, output_mode="json_object")
    turn = started(loop).turn
    assert thaw_json(turn.response_format) == {"type": "json_object", "schema": SCHEMA}


def test_output_schema_in_the_system_prompt() -> None:
    template = StartTurn(model="m", messages=(), system_prompt="Be brief.")
    loop, _ = make(output_schema=SCHEMA, output_mode="prompt", template=template)
    turn = started(loop).turn
    assert turn.response_format is None
    assert turn.system_prompt is not None
    head, tail = turn.system_prompt.split("\n\n", 1)
    assert head == "Be brief."
    assert "JSON schema" in tail
    assert json.loads(tail.splitlines()[-1]) == SCHEMA


def test_a_valid_answer_gives_structured_output() -> None:
    loop, _ = make(output_schema=SCHEMA)
    started(loop)
    loop.receive_response(answer('{"answer": "42"}'))
    final = done(drain(loop))
    assert final.subtype == "success"
    assert final.structured_output == {"answer": "42"}
    assert final.result == '{"answer": "42"}'


def test_a_fenced_json_answer_is_accepted() -> None:
    loop, _ = make(output_schema=SCHEMA)
    started(loop)
    loop.receive_response(answer('```json\n{"answer": "fenced"}\n```'))
    assert done(drain(loop)).structured_output == {"answer": "fenced"}


def test_a_non_json_answer_is_asked_again_once() -> None:
    loop, _ = make(output_schema=SCHEMA)
    started(loop)
    loop.receive_response(answer("The answer is 42."))
    actions = drain(loop)
    again = only(actions, Emit)[1].message
    assert isinstance(again, UserMessage) and isinstance(again.content, str)
    assert "not valid JSON" in again.content
    send = actions[-1]
    assert type(send) is SendRequest and send.turn_number == 2
    assert send.turn.messages[-1] == again == loop.messages[-1]
    loop.receive_response(answer("Still 42."))
    final = done(drain(loop))
    assert final.subtype == "error_max_structured_output_retries" and final.is_error
    assert "not valid JSON" in final.errors[0]
    assert final.num_turns == 2 and final.structured_output is None


def test_a_missing_property_is_asked_again_and_a_fixed_answer_succeeds() -> None:
    loop, _ = make(output_schema=SCHEMA)
    started(loop)
    loop.receive_response(answer('{"reply": "42"}'))
    again = only(drain(loop), Emit)[1].message
    assert isinstance(again, UserMessage) and "answer" in str(again.content)
    loop.receive_response(answer('{"answer": "42"}'))
    final = done(drain(loop))
    assert final.subtype == "success" and final.structured_output == {"answer": "42"}


def test_no_structured_output_retries() -> None:
    loop, _ = make(output_schema=SCHEMA, structured_output_retries=0)
    started(loop)
    loop.receive_response(answer("[1, 2]"))
    final = done(drain(loop))
    assert final.subtype == "error_max_structured_output_retries"


def test_structured_output_retries_restart_with_each_run() -> None:
    loop, _ = make(output_schema=SCHEMA)
    started(loop)
    loop.receive_response(answer("nope"))
    drain(loop)
    loop.receive_response(answer('{"answer": "x"}'))
    drain(loop)
    started(loop, "again")
    loop.receive_response(answer("nope"))
    assert type(drain(loop)[-1]) is SendRequest


# ---- compaction ---------------------------------------------------------------------------


def _exchange(loop: AgentLoop, prompt: str, *replies: AssistantMessage) -> None:
    loop.start(UserMessage(content=prompt))
    for reply in replies:
        drain(loop)
        loop.receive_response(reply)
        for run in only(drain(loop), RunTools):
            for c in run.calls:
                loop.tool_result(result(c.id, "r" * 200))
    drain(loop)
    assert state(loop) is LoopState.IDLE


def test_compaction_leaves_old_exchanges_out_of_the_request() -> None:
    template = StartTurn(model="m", messages=(), max_tokens=100)
    loop, _ = make(tools=(READ,), template=template, context_window=100 + 200)
    _exchange(loop, "a" * 400, answer("", call("c1", "read_file", path="x")), answer("b" * 200))
    history = loop.messages
    assert len(history) == 4
    loop.start(UserMessage(content="c" * 40))
    actions = drain(loop)
    send = actions[-1]
    assert type(send) is SendRequest
    notice = only(actions, Emit)[0].message
    assert isinstance(notice, SystemMessage) and notice.subtype == "compact"
    assert notice.data["dropped_messages"] == 4  # the first exchange: prompt, call, result, answer
    assert send.turn.messages == (UserMessage(content="c" * 40),)
    assert notice.data["estimated_tokens"] == estimate_tokens(send.turn.messages, tools=[READ.spec])
    assert loop.messages == (*history, UserMessage(content="c" * 40))  # the conversation keeps everything
    # the next turn of the run keeps the tool round whole, and says nothing new
    loop.receive_response(answer("", call("c2", "read_file", path="y")))
    drain(loop)
    loop.tool_result(result("c2"))
    actions = drain(loop)
    assert [type(a.message) for a in only(actions, Emit)] == [UserMessage]
    send = actions[-1]
    assert type(send) is SendRequest
    assert send.turn.messages == loop.messages[4:]
    assert len(send.turn.messages) == 3


def test_compaction_never_separates_a_call_from_its_result() -> None:
    template = StartTurn(model="m", messages=(), max_tokens=10)
    loop, _ = make(tools=(READ,), template=template, context_window=10 + 90)
    _exchange(loop, "a", answer("", call("c1", "read_file", path="x")), answer("done"))
    # the first prompt is short, but its tool result is long: the whole exchange goes
    send = started(loop, "next")
    assert send.turn.messages == (UserMessage(content="next"),)


def test_compaction_keeps_the_last_prompt_even_when_it_does_not_fit() -> None:
    template = StartTurn(model="m", messages=(), max_tokens=10)
    loop, _ = make(tools=(), template=template, context_window=20)
    _exchange(loop, "first", answer("ok"))
    loop.start(UserMessage(content="x" * 400))
    actions = drain(loop)
    send = actions[-1]
    assert type(send) is SendRequest
    assert send.turn.messages == (UserMessage(content="x" * 400),)
    notice = only(actions, Emit)[0].message
    assert isinstance(notice, SystemMessage) and notice.data["dropped_messages"] == 2


def test_compaction_keeps_the_run_s_prompt_when_the_model_is_asked_again() -> None:
    template = StartTurn(model="m", messages=(), max_tokens=10)
    loop, _ = make(tools=(), template=template, context_window=10 + 120, output_schema=SCHEMA)
    task = "Summarise: " + "x" * 400
    started(loop, task)
    loop.receive_response(answer("not json"))
    send = drain(loop)[-1]
    assert type(send) is SendRequest  # the answer did not match the schema: the model is asked again
    assert send.turn.messages[0] == UserMessage(content=task)
    assert send.turn.messages == loop.messages
    # a user message that continues the run (a Stop hook's) is no new task either
    loop, _ = make(tools=(), template=template, context_window=10 + 120)
    started(loop, task)
    loop.receive_response(answer("ok"))
    drain(loop)
    loop.resume(UserMessage(content="Continue."), new_response=False)
    send = drain(loop)[-1]
    assert type(send) is SendRequest and send.turn.messages[0] == UserMessage(content=task)


def test_compaction_notice_only_when_what_is_dropped_changes() -> None:
    template = StartTurn(model="m", messages=(), max_tokens=10)
    loop, _ = make(tools=(READ,), template=template, context_window=10 + 120)
    _exchange(loop, "a" * 400, answer("ok"))
    loop.start(UserMessage(content="go"))
    assert len(only(drain(loop), Emit)) == 1
    loop.receive_response(answer("", call("c1", "read_file", path="x")))
    drain(loop)
    loop.tool_result(result("c1"))
    actions = drain(loop)
    assert [type(a.message) for a in only(actions, Emit)] == [UserMessage]  # the results only
    assert type(actions[-1]) is SendRequest and actions[-1].turn.messages[0] == UserMessage(content="go")


def test_no_compaction_without_a_context_window() -> None:
    loop, _ = make(tools=())
    _exchange(loop, "a" * 40_000, answer("ok"))
    send = started(loop, "next")
    assert len(send.turn.messages) == 3


# ---- external tools -----------------------------------------------------------------------


def test_external_calls_end_the_run_and_resume_sends_every_result_in_order() -> None:
    loop, _ = make()
    started(loop)
    calls = [call("c1", "ask_user", q="which?"), call("c2", "read_file", path="a"), call("c3", "ask_user", q="ok?")]
    loop.receive_response(answer("a question", *calls))
    run = drain(loop)[-1]
    assert run == RunTools(calls=(calls[1],))
    loop.tool_result(result("c2"))
    actions = drain(loop)
    final = done(actions)
    assert final.subtype == "success" and not final.is_error
    assert final.pending_tool_calls == (calls[0], calls[2])
    assert final.result == "a question"
    assert len(actions) == 1  # no results are emitted yet
    assert state(loop) is LoopState.AWAITING_EXTERNAL
    assert pending(loop) == (calls[0], calls[2])
    with pytest.raises(LocalProtocolError, match=r"tool_result\(\), then resume\(\)"):
        loop.next_action()
    with pytest.raises(LocalProtocolError, match=r"await results \(c1, c3\)"):
        loop.resume()
    with pytest.raises(LocalProtocolError, match="c1, c3"):
        loop.start(UserMessage(content="other"))
    with pytest.raises(LocalProtocolError, match="already has a result"):
        loop.tool_result(result("c2"))
    loop.tool_result(result("c3", "yes"))
    assert pending(loop) == (calls[0],)
    assert state(loop) is LoopState.AWAITING_EXTERNAL
    loop.interrupt()  # nothing to interrupt
    assert state(loop) is LoopState.AWAITING_EXTERNAL
    loop.tool_result(result("c1", "the blue one"))
    assert state(loop) is LoopState.IDLE and pending(loop) == ()
    loop.resume()
    send = drain(loop)[-1]
    assert type(send) is SendRequest and send.turn_number == 2
    assert send.turn.messages[-1] == UserMessage(
        content=[result("c1", "the blue one"), result("c2"), result("c3", "yes")]
    )
    loop.receive_response(answer("blue it is"))
    final = done(drain(loop))
    assert final.num_turns == 1 and final.pending_tool_calls == ()


def test_external_calls_alone() -> None:
    loop, _ = make(tools=(EXTERNAL,))
    started(loop)
    loop.receive_response(answer("", call("c1", "ask_user")))
    assert done(drain(loop)).pending_tool_calls == (call("c1", "ask_user"),)


# ---- interrupts ---------------------------------------------------------------------------


def test_interrupt_while_receiving_keeps_the_partial_text_and_drops_partial_calls() -> None:
    loop, _ = make()
    started(loop)
    partial = AssistantMessage(
        content=[TextBlock(text="I was say"), call("c1", "read_file", path="a")], model="m", id="r1"
    )
    loop.interrupt(partial)
    actions = drain(loop)
    kept = AssistantMessage(content=[TextBlock(text="I was say")], model="m", id="r1", stop_reason="interrupted")
    assert actions[0] == Emit(message=kept)
    final = done(actions)
    assert final.subtype == "interrupted" and not final.is_error
    assert final.result == "I was say" and final.stop_reason == "interrupted"
    assert final.num_turns == 0
    assert loop.messages[-1] == kept
    with pytest.raises(LocalProtocolError, match="ends with a user message"):
        loop.resume()


def test_interrupt_while_receiving_with_only_partial_calls_keeps_nothing() -> None:
    loop, _ = make()
    send = started(loop)
    loop.interrupt(AssistantMessage(content=[call("c1", "read_file", path="a")]))
    final = done(drain(loop))
    assert final.result is None
    assert loop.messages == send.turn.messages
    loop.resume()  # the same turn again: it never got an answer
    assert drain(loop)[-1] == send


@pytest.mark.parametrize("mode", ["native", "emulated"])
def test_a_prompt_after_an_answer_that_left_nothing_joins_the_one_before(mode: str) -> None:
    """user, user is refused by strict chat templates: the request joins them (the history keeps both)."""
    loop, _ = make(tool_mode=mode)
    started(loop, "first")
    loop.interrupt()  # nothing had arrived
    assert done(drain(loop)).subtype == "interrupted"
    loop.start(UserMessage(content="second"))
    send = drain(loop)[-1]
    assert type(send) is SendRequest
    assert send.turn.messages == (UserMessage(content="first\n\nsecond"),)
    assert loop.messages == (UserMessage(content="first"), UserMessage(content="second"))
    loop.receive_response(answer("ok"))
    drain(loop)
    image = ImageBlock(url="data:image/png;base64,AAAA")
    loop.start(UserMessage(content=[TextBlock(text="look"), image]))
    loop.interrupt()
    drain(loop)
    loop.start(UserMessage(content="and?"))
    send = drain(loop)[-1]
    assert type(send) is SendRequest
    assert send.turn.messages[-1] == UserMessage(content=[TextBlock(text="look"), image, TextBlock(text="and?")])
    assert len(send.turn.messages) == 3


def test_tool_results_and_a_prompt_are_not_joined() -> None:
    loop, _ = make(max_turns=1)
    started(loop)
    loop.receive_response(answer("", call("c1", "read_file", path="a")))
    drain(loop)
    loop.tool_result(result("c1"))
    assert done(drain(loop)).subtype == "error_max_turns"
    loop.start(UserMessage(content="go on"))
    send = drain(loop)[-1]
    assert type(send) is SendRequest
    assert [type(m).__name__ for m in send.turn.messages] == [
        "UserMessage", "AssistantMessage", "UserMessage", "UserMessage"
    ]  # fmt: skip
    assert send.turn.messages[-1] == UserMessage(content="go on")


@pytest.mark.parametrize("mode", ["emulated", "auto"])
def test_interrupt_while_receiving_drops_calls_written_as_text(mode: str) -> None:
    loop, _ = make(tool_mode=mode)
    started(loop)
    text = 'Checking.\n<tool_call>\n{"name": "read_file", "arguments": {}}\n</tool_call>\n<tool_call>\n{"name": "ba'
    partial = AssistantMessage(content=[ThinkingBlock(thinking="hm"), TextBlock(text=text)], model="m", id="r1")
    loop.interrupt(partial)
    actions = drain(loop)
    blocks = (ThinkingBlock(thinking="hm"), TextBlock(text="Checking."))
    kept = AssistantMessage(content=blocks, model="m", id="r1", stop_reason="interrupted")
    assert actions[0] == Emit(message=kept)
    assert done(actions).result == "Checking."
    assert loop.messages[-1] == kept
    # Only a call: nothing is kept, and the same turn can be sent again.
    loop, _ = make(tool_mode=mode)
    send = started(loop)
    loop.interrupt(AssistantMessage(content=[TextBlock(text='<tool_call>{"name": "read_file", "argu')]))
    assert done(drain(loop)).result is None
    assert loop.messages == send.turn.messages


def test_interrupt_while_tools_run_answers_every_call() -> None:
    loop, _ = make()
    started(loop)
    calls = [call("c1", "read_file", path="a"), call("c2", "read_file", path="b"), call("c3", "bash", command="ls")]
    loop.receive_response(answer("", *calls))
    drain(loop)
    loop.permission("c3", PermissionAllow())
    drain(loop)
    loop.tool_result(result("c2"))
    loop.interrupt()
    actions = drain(loop)
    sent = results_of(only(actions, Emit)[0].message)
    assert list(sent) == ["c1", "c2", "c3"]
    assert sent["c2"] == result("c2")
    for c in ("c1", "c3"):
        assert sent[c].is_error and "interrupted" in str(sent[c].content)
    assert done(actions).subtype == "interrupted"
    with pytest.raises(LocalProtocolError):
        loop.tool_result(result("c1"))


def test_interrupt_after_the_run_ended_changes_nothing() -> None:
    loop, _ = make()
    started(loop)
    loop.receive_response(answer("done"))
    loop.interrupt()  # the Done is already queued
    actions = drain(loop)
    assert done(actions).subtype == "success"
    loop.interrupt()
    assert state(loop) is LoopState.IDLE


def test_interrupt_during_a_retry_wait() -> None:
    loop, _ = make(max_turns=1)
    send = started(loop)
    loop.request_failed(Failure.STATUS, status=503)
    assert type(loop.next_action()) is Wait
    loop.interrupt()
    assert done(drain(loop)).subtype == "interrupted"
    loop.resume()  # that turn never got an answer: max_turns=1 still allows it
    assert drain(loop) == [send]


# ---- misuse -----------------------------------------------------------------------------


def test_misuse_raises_and_names_what_is_expected() -> None:
    loop, _ = make()
    with pytest.raises(LocalProtocolError, match=r"no run in progress: call start\(\) or resume\(\)"):
        loop.next_action()
    with pytest.raises(LocalProtocolError, match="ends with a user message"):
        loop.resume()
    with pytest.raises(LocalProtocolError, match=r"waiting for start\(\) or resume\(\)"):
        loop.receive_response(answer("hi"))
    loop.start(UserMessage(content="go"))
    with pytest.raises(LocalProtocolError, match=r"actions are waiting: call next_action\(\) first"):
        loop.receive_response(answer("hi"))
    with pytest.raises(LocalProtocolError, match=r"start\(\) during a run"):
        loop.start(UserMessage(content="again"))
    loop.next_action()
    with pytest.raises(LocalProtocolError, match=r"next_action\(\) while waiting for receive_response\(\) or request"):
        loop.next_action()
    with pytest.raises(LocalProtocolError, match=r"start\(\) during a run \(state AWAITING_RESPONSE\)"):
        loop.start(UserMessage(content="again"))
    with pytest.raises(LocalProtocolError, match=r"tool_result\(\) unexpected.*receive_response\(\)"):
        loop.tool_result(result("c1"))
    loop.receive_response(answer("", call("c1", "bash", command="ls"), call("c2", "read_file", path="a")))
    drain(loop)
    with pytest.raises(LocalProtocolError, match=r"permission\(\) for 'c2', but the loop asked about 'c1'"):
        loop.permission("c2", PermissionAllow())
    with pytest.raises(LocalProtocolError, match=r"waiting for permission\(\)"):
        loop.next_action()
    loop.permission("c1", PermissionAllow())
    drain(loop)
    with pytest.raises(LocalProtocolError, match=r"no tool call 'c9' awaits a result \(waiting: c1, c2\)"):
        loop.tool_result(result("c9"))
    loop.tool_result(result("c2"))
    with pytest.raises(LocalProtocolError, match="'c2' already has a result"):
        loop.tool_result(result("c2"))
    with pytest.raises(LocalProtocolError, match=r"permission\(\) unexpected.*tool_result\(\)"):
        loop.permission("c1", PermissionAllow())
    assert state(loop) is LoopState.AWAITING_TOOLS
    loop.tool_result(result("c1"))
    assert type(drain(loop)[-1]) is SendRequest


def test_wrong_input_types() -> None:
    loop, _ = make()
    with pytest.raises(TypeError, match="UserMessage"):
        loop.start("hello")  # type: ignore[arg-type]
    started(loop)
    with pytest.raises(TypeError, match="AssistantMessage"):
        loop.receive_response(UserMessage(content="x"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ToolResultBlock"):
        loop.tool_result("x")  # type: ignore[arg-type]
    assert state(loop) is LoopState.AWAITING_RESPONSE


def test_settings_validation() -> None:
    template = StartTurn(model="m", messages=())
    with pytest.raises(ValueError, match="unknown tool mode 'magic'"):
        LoopSettings(template=template, tool_mode="magic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown output mode"):
        LoopSettings(template=template, output_mode="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown action"):
        LoopSettings(template=template, doom_loop_action="panic")  # type: ignore[arg-type]
    for field in ("max_turns", "max_total_tokens", "max_budget_usd", "context_window", "doom_loop_threshold"):
        for bad in (0, -1, True):
            with pytest.raises(ValueError, match=field):
                LoopSettings(template=template, **{field: bad})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="two tools are named 'read_file'"):
        AgentLoop(LoopSettings(template=template, tools=[READ, READ]))
    with pytest.raises(ValueError, match="schema at #/items/type: unknown type 'str'"):
        LoopSettings(template=template, output_schema={"type": "array", "items": {"type": "str"}})
    assert LoopSettings(template=template, fallback_models=["a", "b"]).models == ("m", "a", "b")


def test_text_filter_is_none_in_native_mode_or_without_tools() -> None:
    loop, _ = make()
    assert loop.text_filter() is None
    assert AgentLoop(LoopSettings(template=StartTurn(model="m", messages=()), tool_mode="auto")).text_filter() is None


def test_calls_written_as_text_get_ids_unused_in_the_history_given() -> None:
    """A loop built from an earlier conversation numbers its emulated calls after it."""
    written = '<tool_call>{"name": "read_file", "arguments": {"path": "a"}}</tool_call>'
    first, _ = make(tool_mode="emulated")
    started(first)
    first.receive_response(answer(written))
    (run,) = only(drain(first), RunTools)
    first.tool_result(result(run.calls[0].id))
    assert type(drain(first)[-1]) is SendRequest
    first.receive_response(answer("done"))
    assert done(drain(first)).subtype == "success"
    settings = LoopSettings(template=StartTurn(model="m", messages=()), tools=TOOLS, tool_mode="emulated")
    second = AgentLoop(settings, history=first.messages)
    started(second, "again")
    second.receive_response(answer(written))
    (rerun,) = only(drain(second), RunTools)
    old_ids = {c.id for m in first.messages if isinstance(m, AssistantMessage) for c in m.tool_uses}
    assert run.calls[0].id in old_ids
    assert rerun.calls[0].id not in old_ids


def test_history_is_where_the_conversation_starts() -> None:
    history: list[Message] = [UserMessage(content="earlier"), AssistantMessage(content=[TextBlock(text="yes")])]
    loop = AgentLoop(LoopSettings(template=StartTurn(model="m", messages=()), tool_mode="native"), history=history)
    assert loop.messages == tuple(history)
    assert started(loop, "now").turn.messages == (*history, UserMessage(content="now"))


# ---- permission rules ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "bash(", "bash(git *", "two words", "(git *)", "bash)(", "bash(x)y", "é"])
def test_rule_parse_errors(text: str) -> None:
    with pytest.raises(ValueError, match="invalid permission rule"):
        PermissionRule.parse(text)


def test_rule_parse() -> None:
    assert PermissionRule.parse("bash") == PermissionRule(tool="bash")
    assert PermissionRule.parse("  bash (git *) ") == PermissionRule(tool="bash", pattern="git *")
    assert str(PermissionRule.parse("edit_file(docs/*)")) == "edit_file(docs/*)"
    with pytest.raises(TypeError, match="permission rule is a string"):
        PermissionRule.parse(3)  # type: ignore[arg-type]


def test_rule_matching() -> None:
    bash = BASH.traits
    rule = PermissionRule.parse("bash(git *)")
    assert rule.matches("bash", {"command": "git status"}, bash)
    assert rule.matches("bash", {"command": "git log\nrm -rf /"}, bash)  # a pattern sees the whole argument
    assert rule.matches("bash", {"command": "git"}, bash)  # "git *" names a bare git too
    assert rule.matches("bash", {"command": "sudo git status"}, bash)  # wrappers are looked through
    assert not rule.matches("bash", {"command": "echo git status"}, bash)
    assert not rule.matches("bash", {"command": 3}, bash)
    assert not rule.matches("bash", {}, bash)
    assert not rule.matches("zsh", {"command": "git status"}, bash)
    assert not rule.matches("bash", {"command": "git status"}, ToolTraits())  # no rule argument
    assert PermissionRule.parse("bash").matches("bash", {}, ToolTraits())
    docs = PermissionRule.parse("edit_file(docs/*)")
    assert docs.matches("edit_file", {"path": "docs/a/b/c.md"}, EDIT.traits)  # * crosses /
    assert not docs.matches("edit_file", {"path": "src/docs/a.md"}, EDIT.traits)


@pytest.mark.parametrize(
    "command",
    [
        "git status; rm -rf x",
        "git status && rm -rf x",
        "git status || rm -rf x",
        "git status | sh",
        "git status & rm -rf x",
        "git status\nrm -rf x",
        "git status\rrm -rf x",
        "git status $(rm -rf x)",
        "git status `rm -rf x`",
        "git status > important.txt",
        "git status < /dev/zero",
    ],
)
def test_an_allowed_pattern_does_not_allow_chained_commands(command: str) -> None:
    policy = PermissionPolicy(allowed_tools=["bash(git status*)"])
    assert policy.decide("bash", {"command": "git status --short"}, BASH.traits).behavior == "allow"
    assert policy.decide("bash", {"command": command}, BASH.traits).behavior == "ask"


def test_an_allowed_pattern_allows_the_operators_it_names() -> None:
    policy = PermissionPolicy(allowed_tools=["bash(git log | head*)"])
    assert policy.decide("bash", {"command": "git log | head -5"}, BASH.traits).behavior == "allow"
    assert policy.decide("bash", {"command": "git log | head -5 | sh"}, BASH.traits).behavior == "ask"
    assert policy.decide("bash", {"command": "git log | head; rm -rf x"}, BASH.traits).behavior == "ask"


def test_path_patterns_see_through_dot_segments() -> None:
    edit = EDIT.traits
    allowed = PermissionPolicy(allowed_tools=["edit_file(docs/*)"])
    assert allowed.decide("edit_file", {"path": "docs/a.md"}, edit).behavior == "allow"
    assert allowed.decide("edit_file", {"path": "docs/../docs/a.md"}, edit).behavior == "allow"
    assert allowed.decide("edit_file", {"path": "docs/../setup.py"}, edit).behavior == "ask"
    assert allowed.decide("edit_file", {"path": "docs/sub/../../setup.py"}, edit).behavior == "ask"
    disallowed = PermissionPolicy(disallowed_tools=["read_file(secrets/*)"])
    for path in ("secrets/key", "./secrets/key", "docs/../secrets/key", "secrets//key"):
        assert disallowed.decide("read_file", {"path": path}, READ.traits).behavior == "deny", path
    assert disallowed.decide("read_file", {"path": "docs/secrets/key"}, READ.traits).behavior == "allow"


def test_deny_patterns_see_absolute_paths_under_the_working_directory() -> None:
    policy = PermissionPolicy(disallowed_tools=["read_file(secrets/*)"], cwd="/work/project")
    for path in ("/work/project/secrets/key", "/work/project/docs/../secrets/key", "/work/project//secrets/key"):
        assert policy.decide("read_file", {"path": path}, READ.traits).behavior == "deny", path
    for path in ("/work/projectx/secrets/key", "/elsewhere/secrets/key", "/work/project/docs/secrets/key"):
        assert policy.decide("read_file", {"path": path}, READ.traits).behavior == "allow", path
    unaware = PermissionPolicy(disallowed_tools=["read_file(secrets/*)"])
    assert unaware.decide("read_file", {"path": "/work/project/secrets/key"}, READ.traits).behavior == "allow"
    root = PermissionPolicy(disallowed_tools=["read_file(etc/*)"], cwd="/")
    assert root.decide("read_file", {"path": "/etc/passwd"}, READ.traits).behavior == "deny"
    with pytest.raises(TypeError):
        PermissionPolicy(cwd=pathlib.PurePosixPath("/work"))  # type: ignore[arg-type]


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="unknown permission mode 'yolo'; known: default, acceptEdits"):
        PermissionPolicy(mode="yolo")
    with pytest.raises(ValueError, match="invalid permission rule"):
        PermissionPolicy(allowed_tools=["bash("])
    policy = PermissionPolicy(allowed_tools="bash(git *)")
    assert policy.allowed_tools == (PermissionRule(tool="bash", pattern="git *"),)


def test_policy_order() -> None:
    policy = PermissionPolicy(mode="plan", allowed_tools=["bash"], disallowed_tools=["read_file(secret*)"])
    assert policy.decide("bash", {}, BASH.traits).behavior == "deny"  # plan beats allowed rules
    assert policy.decide("read_file", {"path": "secret.txt"}, READ.traits).behavior == "deny"
    assert policy.decide("read_file", {"path": "notes"}, READ.traits).behavior == "allow"
    allowed = PermissionPolicy(allowed_tools=["bash"], disallowed_tools=["bash(rm *)"])
    assert allowed.decide("bash", {"command": "rm x"}, BASH.traits).behavior == "deny"
    assert allowed.decide("bash", {"command": "ls"}, BASH.traits).reason == "allowed by the rule 'bash'"


# ---- budget arithmetic ----------------------------------------------------------------------


def test_estimate_tokens() -> None:
    assert estimate_tokens([]) == 0
    assert estimate_tokens([UserMessage(content="abcd" * 10)]) == 10 + 4
    assert estimate_tokens([UserMessage(content="abcde")]) == 2 + 4  # rounded up
    assert estimate_tokens([], system_prompt="abcd") == 1 + 4
    image = UserMessage(content=[TextBlock(text="look"), ImageBlock(url="https://example.com/a.png")])
    assert estimate_tokens([image]) == 1 + 800 + 4
    spec = ToolSpec(name="t", description="dd", parameters={"type": "object"})
    assert estimate_tokens([], tools=[spec]) == math.ceil((1 + 2 + len('{"type": "object"}') + 32) / 4)
    a_call = AssistantMessage(content=[call("c1", "read_file", path="a")])
    assert estimate_tokens([a_call]) == math.ceil((9 + len('{"path":"a"}') + 16) / 4) + 4
    a_result = UserMessage(content=[ToolResultBlock(tool_use_id="c1", content="x" * 8)])
    assert estimate_tokens([a_result]) == math.ceil((8 + 16) / 4) + 4


def test_cost_usd() -> None:
    pricing = Pricing(input_per_million=3.0, output_per_million=15.0, cached_input_per_million=0.3)
    assert cost_usd(None, pricing) is None
    assert cost_usd(usage(1, 1), None) is None
    assert cost_usd(usage(1_000_000, 0), pricing) == pytest.approx(3.0)
    assert cost_usd(usage(0, 1_000_000), pricing) == pytest.approx(15.0)
    cached = Usage(prompt_tokens=1_000_000, completion_tokens=0, cached_tokens=400_000)
    assert cost_usd(cached, pricing) == pytest.approx(0.6 * 3.0 + 0.4 * 0.3)
    too_many_cached = Usage(prompt_tokens=100, cached_tokens=1_000)
    assert cost_usd(too_many_cached, pricing) == pytest.approx(100 * 0.3 / 1e6)
    plain = Pricing(input_per_million=3.0, output_per_million=15.0)
    assert cost_usd(cached, plain) == pytest.approx(3.0)
    assert cost_usd(Usage(), plain) == 0.0
    with pytest.raises(ValueError, match="input_per_million"):
        Pricing(input_per_million=-1.0, output_per_million=0.0)


def test_compact_examples() -> None:
    p1, p2 = UserMessage(content="a" * 400), UserMessage(content="b" * 40)
    a1 = AssistantMessage(content=[call("c1", "read_file", path="a")])
    r1 = UserMessage(content=[ToolResultBlock(tool_use_id="c1", content="r")])
    messages: list[Message] = [p1, a1, r1, p2]
    assert compact(messages, limit=10_000) == (tuple(messages), 0)
    assert compact(messages, limit=20) == ((p2,), 3)
    assert compact(messages, limit=1) == ((p2,), 3)  # the last prompt stays
    assert compact(messages[1:3], limit=1) == ((a1, r1), 0)  # no prompt to start at


def test_compact_keeps_a_conversation_that_fits_even_if_it_opens_with_the_assistant() -> None:
    greeting = AssistantMessage(content=[TextBlock(text="Hello! How can I help?")])
    messages: list[Message] = [greeting, UserMessage(content="hi")]
    assert compact(messages, limit=10_000) == (tuple(messages), 0)
    assert compact(messages, limit=5) == ((messages[1],), 1)
    loop = AgentLoop(
        LoopSettings(template=StartTurn(model="m", messages=()), tool_mode="native", context_window=100_000),
        history=[greeting],
    )
    loop.start(UserMessage(content="hi"))
    actions = drain(loop)
    assert actions == [only(actions, SendRequest)[0]]  # no compaction notice
    assert only(actions, SendRequest)[0].turn.messages == tuple(messages)


_MESSAGES = st.lists(
    st.one_of(
        st.builds(lambda n: UserMessage(content="u" * n), st.integers(0, 200)),
        st.builds(lambda n: AssistantMessage(content=[TextBlock(text="a" * n)]), st.integers(0, 200)),
        st.builds(lambda n: ("call", n), st.integers(1, 3)),
    ),
    max_size=12,
)


def _conversation(items: list[Any]) -> list[Message]:
    """Generated items as a conversation: ("call", n) is an answer with n calls and its results."""
    messages: list[Message] = []
    for index, item in enumerate(items):
        if isinstance(item, tuple):
            calls = [call(f"c{index}_{k}", "read_file", path="x" * k * 30) for k in range(item[1])]
            messages.append(AssistantMessage(content=tuple(calls)))
            messages.append(UserMessage(content=[ToolResultBlock(tool_use_id=c.id, content="r" * 50) for c in calls]))
        else:
            messages.append(item)
    return messages


def _is_prompt(message: Message) -> bool:
    return isinstance(message, UserMessage) and (
        isinstance(message.content, str) or not any(isinstance(b, ToolResultBlock) for b in message.content)
    )


@given(items=_MESSAGES, limit=st.integers(1, 400), system=st.sampled_from([None, "", "be brief"]))
def test_compact_property(items: list[Any], limit: int, system: str | None) -> None:
    messages = _conversation(items)
    kept, dropped = compact(messages, limit=limit, system_prompt=system)
    assert kept == tuple(messages[dropped:])  # a suffix
    prompts = [i for i, m in enumerate(messages) if _is_prompt(m)]
    if not prompts or estimate_tokens(messages, system_prompt=system) <= limit:
        assert dropped == 0  # nothing to start at, or nothing to drop
        return
    assert _is_prompt(kept[0])  # starts at a user prompt: no result without its call
    if estimate_tokens(kept, system_prompt=system) > limit:
        assert dropped == prompts[-1]  # over the limit only when the last exchange alone is
    else:
        # the longest suffix starting at a prompt that fits
        assert all(estimate_tokens(messages[i:], system_prompt=system) > limit for i in prompts if i < dropped)
    for index, message in enumerate(kept):
        if isinstance(message, AssistantMessage) and message.tool_uses and index + 1 < len(kept):
            assert results_of(kept[index + 1]).keys() == {c.id for c in message.tool_uses}


def test_token_budget_counts_prompt_and_completion_without_a_total() -> None:
    loop, _ = make(max_total_tokens=50)
    started(loop)
    loop.receive_response(
        answer("", call("c1", "read_file", path="a"), usage=Usage(prompt_tokens=40, completion_tokens=10))
    )
    drain(loop)
    loop.tool_result(result("c1"))
    final = done(drain(loop))
    assert final.subtype == "error_max_budget_tokens"
    assert final.errors == ("token budget spent: 50 of max_total_tokens=50",)


# ---- order of execution, interrupted usage, repeated unknown calls ---------------------------


def test_run_tools_keeps_the_model_s_order_when_some_calls_were_asked_about() -> None:
    """An asked-about call approved by the answer runs where the model put it, before a call the
    rules allowed at once: sequential tools must run in the order the model meant."""
    loop, _ = make()
    loop.start(UserMessage(content="go"))
    drain(loop)
    loop.receive_response(answer("", call("c1", "bash", command="make"), call("c2", "lookup", q="x")))
    actions = drain(loop)
    assert isinstance(actions[-1], AskPermission) and actions[-1].call.id == "c1"
    loop.permission("c1", PermissionAllow())
    (run,) = drain(loop)
    assert isinstance(run, RunTools)
    assert [c.id for c in run.calls] == ["c1", "c2"]


def test_an_interrupted_answer_s_usage_is_counted() -> None:
    loop, _ = make(pricing=Pricing(input_per_million=1.0, output_per_million=2.0))
    loop.start(UserMessage(content="go"))
    drain(loop)
    partial = AssistantMessage(content=[TextBlock(text="half")], usage=usage(1000, 500))
    loop.interrupt(partial)
    done = drain(loop)[-1]
    assert isinstance(done, Done)
    assert done.result.subtype == "interrupted"
    assert done.result.usage is not None and done.result.usage.total_tokens == 1500
    assert done.result.total_cost_usd == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1e6)


def test_a_repeated_call_of_an_unknown_tool_is_a_doom_loop() -> None:
    """A model that keeps calling a tool that does not exist is stopped like any other loop."""
    loop, _ = make(doom_loop_threshold=2, doom_loop_action="warn")
    loop.start(UserMessage(content="go"))
    drain(loop)
    subtypes = []
    for n in range(6):
        loop.receive_response(answer("", call(f"c{n}", "nope", x=1)))
        actions = drain(loop)
        done = [a for a in actions if isinstance(a, Done)]
        if done:
            subtypes.append(done[0].result.subtype)
            break
    assert subtypes == ["error_doom_loop"]
    assert n == 3  # the fourth identical call is twice the threshold


def test_a_server_that_refuses_response_format_gets_the_schema_in_the_prompt() -> None:
    """A 400 naming ``response_format``: the same turn is sent again at once, with the schema in
    the system prompt and no ``response_format``; other 400s still end the run."""
    loop, _ = make(output_schema=SCHEMA, output_mode="json_schema")
    loop.start(UserMessage(content="go"))
    (first,) = drain(loop)
    assert isinstance(first, SendRequest)
    assert first.turn.response_format is not None
    loop.request_failed(
        Failure.STATUS, status=400, error_text=("'response_format' of type 'json_schema' is not supported",)
    )
    notice, again = drain(loop)
    assert isinstance(notice, Emit) and isinstance(notice.message, SystemMessage)
    assert notice.message.subtype == "structured_output_fallback"
    assert isinstance(again, SendRequest)
    assert again.attempt == 2
    assert again.turn.response_format is None
    assert again.turn.system_prompt is not None and '"answer"' in again.turn.system_prompt
    assert again.turn.messages == first.turn.messages
    loop.request_failed(Failure.STATUS, status=400, error_text=("response_format still wrong",))
    (done,) = drain(loop)
    assert isinstance(done, Done) and done.result.subtype == "error_during_execution"


@pytest.mark.parametrize("status", [400, 422, 500])
def test_a_refusal_naming_response_format_falls_back_at_once_whatever_its_status(status: int) -> None:
    """llama-cpp-python's server answers an unsupported ``json_schema`` with HTTP 500: the turn
    goes again at once with the schema in the prompt, not retried as a server error."""
    loop, _ = make(output_schema=SCHEMA, output_mode="json_schema")
    loop.start(UserMessage(content="go"))
    drain(loop)
    loop.request_failed(Failure.STATUS, status=status, error_text=("Unsupported response_format type: json_schema",))
    notice, again = drain(loop)
    assert isinstance(notice, Emit) and isinstance(notice.message, SystemMessage)
    assert notice.message.subtype == "structured_output_fallback"
    assert isinstance(again, SendRequest) and again.turn.response_format is None


def test_a_server_error_not_naming_response_format_is_retried_as_usual() -> None:
    loop, _ = make(output_schema=SCHEMA, output_mode="json_schema")
    loop.start(UserMessage(content="go"))
    drain(loop)
    loop.request_failed(Failure.STATUS, status=500, error_text=("out of memory",))
    actions = drain(loop)
    assert not any(
        isinstance(a, Emit)
        and isinstance(a.message, SystemMessage)
        and a.message.subtype == "structured_output_fallback"
        for a in actions
    )


def test_a_plain_bad_request_is_not_taken_for_a_response_format_refusal() -> None:
    loop, _ = make(output_schema=SCHEMA)
    loop.start(UserMessage(content="go"))
    drain(loop)
    loop.request_failed(Failure.STATUS, status=400, error_text=("messages: field required",))
    (done,) = drain(loop)
    assert isinstance(done, Done) and done.result.subtype == "error_during_execution"


# ---- the default run ends ------------------------------------------------------------------


def test_a_model_that_repeats_two_calls_for_ever_is_stopped_with_the_defaults() -> None:
    """No tools offered, and every answer makes the same two calls: the calls alternate, so no
    call follows itself, yet the run ends (the same set of calls answer after answer)."""
    loop = AgentLoop(LoopSettings(template=StartTurn(model="m", messages=())))
    started(loop)
    for n in range(100):
        loop.receive_response(answer("", call(f"a{n}", "search", q="x"), call(f"b{n}", "open", id=1)))
        actions = drain(loop)
        if type(actions[-1]) is Done:
            break
    final = done(actions)
    assert final.subtype == "error_doom_loop" and final.is_error
    assert n + 1 == 2 * 3  # twice the default threshold
    assert "6 times in a row" in final.errors[0]
    assert not pending(loop) and state(loop) is LoopState.IDLE


def test_a_model_that_only_calls_missing_tools_is_stopped_whatever_the_arguments() -> None:
    loop, _ = make()
    started(loop)
    for n in range(100):
        loop.receive_response(answer("", call(f"c{n}", "nope", attempt=n)))
        actions = drain(loop)
        if type(actions[-1]) is Done:
            break
    final = done(actions)
    assert final.subtype == "error_doom_loop"
    assert n + 1 == 6 and "called only tools that do not exist" in final.errors[0]
    assert "nope" in final.errors[0]


def test_a_real_call_between_calls_of_missing_tools_keeps_the_run_going() -> None:
    loop, _ = make()
    started(loop)
    for n in range(8):
        if n % 3 == 2:
            actions = round_trip(loop, call(f"c{n}", "read_file", path=str(n)))
        else:
            loop.receive_response(answer("", call(f"c{n}", "nope", attempt=n)))
            actions = drain(loop)
        assert type(actions[-1]) is SendRequest


# ---- commits ---------------------------------------------------------------------------------


def commits(actions: list[Action]) -> list[Commit]:
    return [action for action in actions if type(action) is Commit]


def test_commits_are_handed_out_only_when_asked_for() -> None:
    loop, _ = make()
    started(loop)
    actions = round_trip(loop, call("c1", "read_file", path="a"))
    loop.receive_response(answer("done"))
    actions += drain(loop)
    assert not commits(actions)


def test_each_turn_commits_once_and_the_commits_add_up_to_the_conversation() -> None:
    loop, _ = make(commits=True)
    started(loop)
    first = round_trip(loop, call("c1", "read_file", path="a"), call("c2", "lookup", q=1))
    (after_tools,) = commits(first)
    assert after_tools.result is None and after_tools.turn_number == 1
    assert [type(m) for m in after_tools.messages] == [UserMessage, AssistantMessage, UserMessage]
    # committed after the results, before the next request
    assert first.index(after_tools) > first.index(only(first, Emit)[-1])
    assert type(first[-1]) is SendRequest
    loop.receive_response(answer("all done"))
    last = drain(loop)
    (final,) = commits(last)
    assert final.result is not None and final.result == done(last) and final.result.subtype == "success"
    assert final.messages == loop.messages[-1:]
    assert last.index(final) == len(last) - 2  # just before Done
    assert after_tools.messages + final.messages == loop.messages


def test_an_interrupted_turn_is_committed_with_what_it_kept() -> None:
    loop, _ = make(commits=True)
    started(loop)
    loop.receive_response(answer("", call("c1", "read_file", path="a"), call("c2", "read_file", path="b")))
    drain(loop)  # RunTools
    loop.tool_result(result("c1"))
    loop.interrupt()
    actions = drain(loop)
    (commit,) = commits(actions)
    assert commit.result is not None and commit.result.subtype == "interrupted"
    assert commit.messages == loop.messages
    sent = results_of(loop.messages[-1])
    assert not sent["c1"].is_error and sent["c2"].is_error


def test_a_run_that_ends_with_external_calls_commits_the_answer_and_later_the_results() -> None:
    loop, _ = make(commits=True)
    started(loop)
    loop.receive_response(answer("", call("c1", "ask_user", q="?")))
    (first,) = commits(drain(loop))
    assert first.result is not None and first.result.pending_tool_calls
    assert first.messages == loop.messages
    loop.tool_result(result("c1"))
    loop.resume()
    actions = drain(loop)
    assert not commits(actions) and type(actions[-1]) is SendRequest  # the results go with the next commit
    loop.receive_response(answer("thanks"))
    (third,) = commits(drain(loop))
    assert first.messages + third.messages == loop.messages


@given(data=st.data())
def test_commits_always_add_up_to_the_conversation(data: st.DataObject) -> None:
    """Over random runs (tool rounds, denials, failures, interrupts), the commits' messages are
    the conversation, in order, and each commit leaves no call without a result except the
    pending calls of external tools."""
    loop, _ = make(commits=True, retry=RetryPolicy(max_retries=0), max_turns=6)
    committed: list[Message] = []
    for prompt in range(3):
        loop.start(UserMessage(content=f"task {prompt}"))
        while True:
            actions = drain(loop)
            for action in actions:
                if type(action) is Commit:
                    committed.extend(action.messages)
                    assert tuple(committed) == loop.messages[: len(committed)]
            if type(actions[-1]) is Done:
                break
            now = actions[-1]
            if type(now) is SendRequest:
                choice = data.draw(st.sampled_from(["text", "tools", "fail", "interrupt"]))
                if choice == "text":
                    loop.receive_response(answer("ok"))
                elif choice == "fail":
                    loop.request_failed(Failure.STATUS, status=400)
                elif choice == "interrupt":
                    loop.interrupt(answer("half"))
                else:
                    names = data.draw(st.lists(st.sampled_from(["read_file", "lookup", "nope", "bash"]), min_size=1))
                    loop.receive_response(
                        answer("", *(call(f"{prompt}-{i}-{len(committed)}", n, x=i) for i, n in enumerate(names)))
                    )
            elif type(now) is AskPermission:
                loop.permission(now.call.id, PermissionDeny())
            elif type(now) is RunTools:
                for ran in now.calls:
                    loop.tool_result(result(ran.id))
        if pending(loop):
            for waiting in pending(loop):
                loop.tool_result(result(waiting.id))
            loop.resume()
            loop.interrupt()
            for action in drain(loop):
                if type(action) is Commit:
                    committed.extend(action.messages)
    assert tuple(committed) == loop.messages


# ---- side requests ---------------------------------------------------------------------------


class SummarizingLoop(AgentLoop):
    """Asks for a summary before the first turn of each run, as compaction by summary will."""

    def __init__(self, settings: LoopSettings) -> None:
        super().__init__(settings)
        self.summaries: list[str] = []
        self.failures: list[str] = []
        self.asked = False

    def _begin_turn(self) -> None:
        if self.asked:
            super()._begin_turn()
            return
        self.asked = True
        turn = StartTurn(model="m", messages=(UserMessage(content="summarise"),))
        self._side_request(turn, purpose="summary", on_answer=self._summary, on_failure=self._failed)

    def _summary(self, message: AssistantMessage) -> None:
        self.summaries.append(message.text)
        self._begin_turn()

    def _failed(self, why: str) -> None:
        self.failures.append(why)
        self._begin_turn()


def summarizing(**kwargs: Any) -> SummarizingLoop:
    return SummarizingLoop(
        LoopSettings(template=StartTurn(model="m", messages=()), tools=TOOLS, retry=FAST, tool_mode="native", **kwargs)
    )


def test_a_side_request_answer_does_not_join_the_conversation() -> None:
    loop = summarizing(pricing=Pricing(input_per_million=1.0, output_per_million=1.0), max_turns=1)
    loop.start(UserMessage(content="go"))
    (side,) = drain(loop)
    assert (
        type(side) is SendRequest
        and side.side == "summary"
        and side.turn.messages[0] == UserMessage(content="summarise")
    )
    loop.receive_response(answer("a summary", usage=usage(100, 10)))
    (turn,) = drain(loop)
    assert type(turn) is SendRequest and turn.side is None and turn.turn_number == 1
    assert loop.summaries == ["a summary"] and loop.messages == (UserMessage(content="go"),)
    loop.receive_response(answer("hi", usage=usage(10, 1)))
    final = done(drain(loop))
    assert final.num_turns == 1 and final.result == "hi"  # max_turns=1: the side request is not a turn
    assert final.usage is not None and final.usage.total_tokens == 121  # but it is paid for
    assert final.total_cost_usd == pytest.approx(121 / 1e6)


def test_a_side_request_is_retried_and_its_failure_goes_to_its_owner() -> None:
    loop = summarizing()
    loop.start(UserMessage(content="go"))
    drain(loop)
    loop.request_failed(Failure.STATUS, status=503)
    wait, again = drain(loop)
    assert type(wait) is Wait and type(again) is SendRequest and again.side == "summary" and again.attempt == 2
    loop.request_failed(Failure.STATUS, status=401)
    (turn,) = drain(loop)
    assert type(turn) is SendRequest and turn.side is None
    assert len(loop.failures) == 1 and "HTTP 401" in loop.failures[0]
    assert loop.messages == (UserMessage(content="go"),)


def test_an_interrupt_during_a_side_request_ends_the_run_without_its_partial() -> None:
    loop = summarizing(max_turns=1)
    loop.start(UserMessage(content="go"))
    drain(loop)
    loop.interrupt(answer("half a summ"))
    final = done(drain(loop))
    assert final.subtype == "interrupted" and loop.messages == (UserMessage(content="go"),)
    loop.start(UserMessage(content="again"))  # the side request cost no turn of the run
    (turn,) = drain(loop)
    assert type(turn) is SendRequest and turn.turn_number == 1


def test_done_says_why_a_failed_request_was_not_retried() -> None:
    loop, _ = make()
    started(loop)
    loop.request_failed(Failure.STATUS, status=401, message="HTTP 401: bad key")
    (last,) = drain(loop)
    assert type(last) is Done and last.gave_up == "not retried: HTTP 401 (model 'm')"
    assert last.result.errors == ("HTTP 401: bad key; not retried: HTTP 401 (model 'm')",)


def test_a_fallback_endpoint_answers_with_its_own_window_and_the_next_turn_starts_on_the_main_one() -> None:
    loop, _ = make(
        retry=RetryPolicy(max_retries=0),
        fallback_models=["small"],
        fallback_endpoint_models=["remote"],
        output_schema={"type": "object"},
    )
    first = started(loop)
    assert first.endpoint == 0 and first.turn.response_format is not None
    loop.context_window_found(4096)
    loop.request_failed(Failure.STATUS, status=400, message="response_format is not supported")
    assert drain(loop)[-1].turn.response_format is None  # type: ignore[union-attr]
    loop.request_failed(Failure.CONNECTION)  # the main endpoint is gone: its fallback model too
    actions = drain(loop)
    notices = [a.message for a in actions if type(a) is Emit and isinstance(a.message, SystemMessage)]
    assert [(n.subtype, n.data["endpoint"], n.data["model"]) for n in notices] == [("fallback_endpoint", 1, "remote")]
    wait, send = [a for a in actions if type(a) is not Emit]
    assert type(wait) is Wait and wait.endpoint == 1 and wait.model == "remote"
    assert type(send) is SendRequest and send.endpoint == 1 and send.turn.model == "remote"
    assert send.turn.response_format is not None  # this endpoint has not refused it
    assert tuple(loop.context_window) == (None, "unknown")
    assert loop.endpoint == 1
    loop.context_window_found(2048)
    loop.receive_response(answer('{"ok": true}', model="remote"))
    result = done(drain(loop))
    assert result.endpoint == 1 and result.model == "remote"
    loop.resume(UserMessage(content="again"))
    again = drain(loop)[-1]
    assert type(again) is SendRequest and again.endpoint == 0 and again.turn.model == "m"
    assert tuple(loop.context_window) == (4096, "server")
    assert again.turn.response_format is None
