"""The agent loop's context handling: a window found later, compaction by summary through a side
request, compaction after the server refused a request, PreCompact's question, calibration and
the truncation notice."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from anyagent_core import (
    AgentLoop,
    AskCompaction,
    AssistantMessage,
    Commit,
    Emit,
    Failure,
    LoopSettings,
    LoopState,
    SendRequest,
    StartTurn,
    SystemMessage,
    TextBlock,
    Usage,
    UserMessage,
)
from anyagent_core.context import CharEstimate, CountSource, check_pairs
from tests.core.test_loop import FAST
from tests.core.test_loop import drain as _drain


def drain(loop: AgentLoop) -> list[Any]:
    return list(_drain(loop))


def loop_of(**kwargs: Any) -> AgentLoop:
    return AgentLoop(LoopSettings(template=StartTurn(model="m", messages=()), retry=FAST, **kwargs))


def reply(text: str, prompt_tokens: int | None = None) -> AssistantMessage:
    usage = (
        None
        if prompt_tokens is None
        else Usage(prompt_tokens=prompt_tokens, completion_tokens=1, total_tokens=prompt_tokens + 1)
    )
    return AssistantMessage(content=(TextBlock(text=text),), usage=usage, stop_reason="stop")


def talk(loop: AgentLoop, turns: int, size: int = 400) -> None:
    for number in range(turns):
        loop.start(UserMessage(content=f"q{number} " + "x" * size))
        drain(loop)
        loop.receive_response(reply(f"a{number} " + "y" * size))
        drain(loop)


def notices(actions: list[Any], subtype: str) -> list[SystemMessage]:
    return [
        a.message
        for a in actions
        if type(a) is Emit and type(a.message) is SystemMessage and a.message.subtype == subtype
    ]


def test_a_window_found_while_the_request_is_out_withdraws_it_compacted() -> None:
    loop = loop_of(token_counter=CharEstimate())
    talk(loop, 3)
    loop.start(UserMessage(content="last " + "z" * 400))
    (send,) = drain(loop)
    assert type(send) is SendRequest and len(send.turn.messages) == 7
    assert loop.context_window_found(400, source="server") is True
    actions = drain(loop)
    again = actions[-1]
    assert type(again) is SendRequest and again.turn_number == send.turn_number and len(again.turn.messages) == 1
    assert notices(actions, "context_window")[0].data["window"] == 400
    compact = notices(actions, "compact")[0]
    assert compact.data["strategy"] == "sliding" and compact.data["dropped_messages"] == 6
    assert compact.data["tokens_before"] > compact.data["limit"] >= compact.data["tokens_after"]
    assert loop.context_window == (400, "server")
    assert loop.context_usage().left_out == 6


def test_a_window_given_wins_over_one_found() -> None:
    loop = loop_of(context_window=100_000)
    assert loop.context_window_found(512) is False
    assert loop.context_window == (100_000, "user")


def test_an_unknown_window_is_said_once_at_the_next_run() -> None:
    loop = loop_of()
    loop.context_window_found(None, note="the server did not say")
    loop.start(UserMessage(content="hi"))
    actions = drain(loop)
    (said,) = notices(actions, "context_window")
    assert said.data == {"window": None, "source": "unknown", "note": "the server did not say"}


def test_summarize_replaces_the_old_part_with_the_model_s_summary() -> None:
    loop = loop_of(context_strategy="summarize", token_counter=CharEstimate(), commits=True)
    talk(loop, 3)
    loop.context_window_found(600)
    loop.start(UserMessage(content="go on " + "w" * 200))
    actions = drain(loop)
    side = actions[-1]
    assert type(side) is SendRequest and side.side == "summary"
    sent = str(side.turn.messages[0].content)
    assert sent.startswith("<conversation>\n") and "assistant: a1 " in sent and side.turn.system_prompt is not None
    loop.receive_response(reply("They talked about x and y."))
    actions = drain(loop)
    send = actions[-1]
    assert type(send) is SendRequest and send.side is None
    first = send.turn.messages[0]
    assert isinstance(first, UserMessage) and isinstance(first.content, str)
    assert (
        first.content.startswith("[Summary of the earlier conversation")
        and "They talked about x and y." in first.content
    )
    assert str(send.turn.messages[-1].content).startswith("go on")
    (compact,) = notices(actions, "compact")
    assert compact.data["summarized_messages"] > 0 and compact.data["strategy"] == "summarize"
    assert len(loop.messages) == 7  # the conversation itself keeps everything
    loop.receive_response(reply("ok"))
    commits = [a for a in drain(loop) if type(a) is Commit]
    assert commits[-1].summary is not None and commits[-1].summary.replaces == compact.data["summarized_messages"]
    # the summary goes on standing for them in the next runs
    loop.start(UserMessage(content="more"))
    nxt = drain(loop)[-1]
    assert type(nxt) is SendRequest and "They talked about" in str(nxt.turn.messages[0])


def test_a_failed_summary_slides_instead() -> None:
    loop = loop_of(context_strategy="summarize", token_counter=CharEstimate())
    talk(loop, 3)
    loop.context_window_found(600)
    loop.start(UserMessage(content="go on"))
    drain(loop)
    loop.request_failed(Failure.STATUS, status=401, message="bad key")
    actions = drain(loop)
    send = actions[-1]
    assert type(send) is SendRequest and send.side is None and check_pairs(send.turn.messages) is None
    (compact,) = notices(actions, "compact")
    assert "no summary" in compact.data["problem"] and compact.data["dropped_messages"] > 0


def test_a_context_error_compacts_and_resends_once() -> None:
    loop = loop_of(token_counter=CharEstimate())
    talk(loop, 3)
    loop.start(UserMessage(content="again"))
    (send,) = drain(loop)
    error = (
        "request (2622 tokens) exceeds the available context size (2048 tokens)",
        "exceed_context_size_error",
    )
    loop.request_failed(Failure.STATUS, status=400, error_text=error, message="HTTP 400")
    actions = drain(loop)
    again = actions[-1]
    assert type(again) is SendRequest and again.turn_number == send.turn_number
    assert len(again.turn.messages) < len(send.turn.messages)
    assert notices(actions, "compact")[0].data["trigger"] == "reactive"
    assert loop.context_window == (2048, "error")
    loop.request_failed(Failure.STATUS, status=400, error_text=error, message="HTTP 400")
    assert drain(loop)[-1].result.subtype == "error_during_execution"  # once per turn


def test_an_empty_answer_to_a_long_request_compacts_it() -> None:
    loop = loop_of()
    talk(loop, 3)
    loop.start(UserMessage(content="again"))
    (send,) = drain(loop)
    loop.request_failed(Failure.EMPTY_RESPONSE, message="the server answered HTTP 200 with an empty body")
    again = drain(loop)[-1]
    assert type(again) is SendRequest and len(again.turn.messages) < len(send.turn.messages)


def test_an_empty_answer_with_nothing_to_leave_out_is_retried() -> None:
    loop = loop_of()
    loop.start(UserMessage(content="hi"))
    drain(loop)
    loop.request_failed(Failure.EMPTY_RESPONSE)
    kinds = [type(a).__name__ for a in drain(loop)]
    assert kinds == ["Wait", "SendRequest"]


def test_pre_compact_may_veto() -> None:
    loop = loop_of(context_window=400, ask_before_compacting=True, token_counter=CharEstimate())
    talk(loop, 1)
    loop.start(UserMessage(content="next " + "q" * 400))
    actions = drain(loop)
    ask = actions[-1]
    assert type(ask) is AskCompaction and ask.trigger == "auto" and ask.tokens > ask.limit
    assert loop.state is LoopState.AWAITING_COMPACTION
    loop.compaction(False)
    actions = drain(loop)
    assert type(actions[-1]) is SendRequest and len(actions[-1].turn.messages) == 3  # sent as it is
    assert notices(actions, "compact")[0].data["vetoed"] is True


def test_pre_compact_instructions_reach_the_summary_request() -> None:
    loop = loop_of(context_strategy="summarize", ask_before_compacting=True)
    talk(loop, 3)
    loop.context_window_found(300)
    loop.start(UserMessage(content="next"))
    drain(loop)
    loop.compaction(True, instructions="Keep the numbers.")
    side = drain(loop)[-1]
    assert type(side) is SendRequest and side.side == "summary"
    assert "Keep the numbers." in (side.turn.system_prompt or "")


def test_a_custom_strategy_that_breaks_the_pairs_is_replaced_by_sliding() -> None:
    loop = loop_of(context_strategy=lambda view: view.messages[:1], token_counter=CharEstimate())
    talk(loop, 2)
    loop.context_window_found(400)
    loop.start(UserMessage(content="next"))
    actions = drain(loop)
    (compact,) = notices(actions, "compact")
    assert compact.data["problem"] == (
        "the context strategy's messages were not used: the run's own messages are not all kept, at the end"
    )
    send = actions[-1]
    assert type(send) is SendRequest and send.turn.messages[-1] == UserMessage(content="next")


def test_calibration_and_the_truncation_notice() -> None:
    loop = loop_of()
    talk(loop, 1, size=40)
    loop.start(UserMessage(content="x" * 4000))
    drain(loop)
    loop.receive_response(reply("ok", prompt_tokens=30))  # far fewer than the ~1000 sent
    actions = drain(loop)
    (cut,) = notices(actions, "context_truncated")
    assert cut.data["reported_prompt_tokens"] == 30 and cut.data["expected_prompt_tokens"] > 900
    assert loop.counter().source == "estimate"  # not learned from
    loop.start(UserMessage(content="y" * 400))
    drain(loop)
    loop.receive_response(reply("ok", prompt_tokens=1500))
    assert loop.counter().source == "calibrated"


def test_context_usage_parts() -> None:
    loop = AgentLoop(
        LoopSettings(
            template=StartTurn(model="m", messages=(), system_prompt="abcd" * 10), token_counter=CharEstimate()
        )
    )
    talk(loop, 1, size=36)
    usage = loop.context_usage()
    assert usage.system_tokens == 10 + 4 and usage.tools_tokens == 0
    assert usage.messages_tokens == 2 * (10 + 4) and usage.total_tokens == 42
    assert usage.window is None and usage.window_source == "unknown" and usage.percent is None


@attrs.frozen
class _Exact(CharEstimate):
    """The character count, said to be a tokenizer's (a count the loop trusts)."""

    @property
    def source(self) -> CountSource:
        return "tokenizer"


@pytest.mark.parametrize("trusted", [True, False])
def test_a_prompt_past_the_window_reported_as_fitting_is_a_truncation(trusted: bool) -> None:
    loop = loop_of(token_counter=_Exact() if trusted else CharEstimate())
    loop.context_window_found(1000)
    loop.start(UserMessage(content="x" * 6000))  # ~1500 tokens: one message, nothing to leave out
    sent = drain(loop)[-1]
    assert type(sent) is SendRequest
    loop.receive_response(reply("ok", prompt_tokens=1000))  # what fits: the server cut the rest
    cut = notices(drain(loop), "context_truncated")
    if trusted:  # two thirds reported: not under half, but past the window by a count to trust
        assert [(c.data["reported_prompt_tokens"], c.data["window"]) for c in cut] == [(1000, 1000)]
    else:  # a plain estimate past the window may only be high
        assert cut == []


def test_a_report_close_to_a_trusted_count_past_the_window_is_not_a_truncation() -> None:
    loop = loop_of(token_counter=_Exact())
    loop.context_window_found(1000)
    loop.start(UserMessage(content="x" * 4200))  # ~1050 tokens
    drain(loop)
    loop.receive_response(reply("ok", prompt_tokens=1000))  # within a tenth: counts differ that much
    assert notices(drain(loop), "context_truncated") == []
