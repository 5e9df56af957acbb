"""Sessions as data: entries from commits, their JSON form, the rebuilt conversation, and the
checks and repairs on the way back."""

from __future__ import annotations

import contextlib
import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyagent_core import (
    AgentLoop,
    AskPermission,
    AssistantMessage,
    Commit,
    Done,
    Failure,
    LoopSettings,
    LoopState,
    LoopTool,
    Message,
    PermissionDeny,
    ResultMessage,
    RetryPolicy,
    RunTools,
    SendRequest,
    StartTurn,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolSpec,
    ToolTraits,
    ToolUseBlock,
    ToolUseError,
    Usage,
    UserMessage,
)
from anyagent_core._sessions._codec import fast_entries, fast_entry
from anyagent_core.context import ContextSummary
from anyagent_core.sessions import (
    ENTRY_VERSION,
    INTERRUPTED_RESULT,
    CompactionEntry,
    Entry,
    MessageEntry,
    MetadataEntry,
    ResultEntry,
    SessionEntryError,
    chain,
    commit_entries,
    dumps_entry,
    entry_from_json,
    entry_to_json,
    loads_entries,
    message_from_json,
    message_to_json,
    rebuild,
    searchable_text,
)
from tests.strategies import any_text, conversations, json_objects, texts

TOOLS = (
    LoopTool(spec=ToolSpec(name="read_file"), traits=ToolTraits(read_only=True)),
    LoopTool(spec=ToolSpec(name="bash"), traits=ToolTraits(needs_permission=True)),
    LoopTool(spec=ToolSpec(name="ask_user"), external=True),
)


def ids() -> Any:
    counter = itertools.count(1)
    return lambda: f"e{next(counter)}"


def through_json(entries: list[Entry], session_id: str = "s") -> list[Entry]:
    return loads_entries([dumps_entry(e) for e in entries], session_id=session_id)


def drain(loop: AgentLoop) -> list[Any]:
    actions = []
    while loop.state is LoopState.ACTING:
        actions.append(loop.next_action())
    return actions


usages = st.none() | st.builds(
    Usage,
    prompt_tokens=st.none() | st.integers(0, 10**6),
    completion_tokens=st.none() | st.integers(0, 10**6),
    cached_tokens=st.none() | st.integers(0, 10**6),
    raw=st.just({}) | json_objects,
)


@st.composite
def answers(draw: st.DrawFn, prefix: str) -> AssistantMessage:
    blocks: list[Any] = []
    if draw(st.booleans()):
        blocks.append(ThinkingBlock(thinking=draw(texts), signature=draw(st.sampled_from(["", "sig"]))))
    if draw(st.booleans()):
        blocks.append(TextBlock(text=draw(any_text)))
    for i in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(["read_file", "bash", "ask_user", "missing"]))
        if draw(st.integers(0, 5)) == 0:
            blocks.append(ToolUseError(id=f"{prefix}-{i}", name=name, arguments="{bad", error="not JSON"))
        else:
            blocks.append(ToolUseBlock(id=f"{prefix}-{i}", name=name, input=draw(json_objects)))
    return AssistantMessage(
        content=blocks,
        model=draw(st.none() | st.just("m")),
        id=draw(st.none() | st.just("chatcmpl-1")),
        stop_reason=draw(st.none() | st.sampled_from(["stop", "tool_calls", "length"])),
        usage=draw(usages),
        refusal=draw(st.none() | texts),
    )


@settings(max_examples=60)
@given(data=st.data())
def test_any_conversation_the_loop_produces_survives_entries_and_json(data: st.DataObject) -> None:
    """Random runs (tool rounds, denials, external calls, failures, interrupts): the commits,
    written as entries, through JSON and back, rebuild the loop's conversation and results."""
    settings = LoopSettings(
        template=StartTurn(model="m", messages=()),
        tools=TOOLS,
        tool_mode="native",
        retry=RetryPolicy(max_retries=0),
        max_turns=5,
        commits=True,
    )
    loop = AgentLoop(settings)
    entries: list[Entry] = [MetadataEntry(id="root", parent_id=None, at=0.0, title="t", tags=("a",), model="m")]
    new_id = ids()
    results: list[ResultMessage] = []
    committed: list[Message] = []

    def commit(action: Commit) -> None:
        made = commit_entries(action, parent_id=entries[-1].id, new_id=new_id, at=float(len(entries)))
        entries.extend(made)
        committed.extend(action.messages)
        if action.result is not None:
            results.append(action.result)

    runs = data.draw(st.integers(1, 3))
    waiting: list[str] = []
    for n in range(runs):
        loop.start(UserMessage(content=data.draw(texts)))
        while True:
            actions = drain(loop)
            for action in actions:
                if type(action) is Commit:
                    commit(action)
            now = actions[-1]
            if type(now) is Done:
                break
            if type(now) is SendRequest:
                choice = data.draw(st.sampled_from(["answer", "answer", "fail", "interrupt"]))
                if choice == "answer":
                    loop.receive_response(data.draw(answers(f"{n}-{len(entries)}")))
                elif choice == "fail":
                    loop.request_failed(Failure.STATUS, status=400)
                else:
                    loop.interrupt(AssistantMessage(content=[TextBlock(text="hal")]))
            elif type(now) is AskPermission:
                loop.permission(now.call.id, PermissionDeny(message="no"))
            elif type(now) is RunTools:
                for ran in now.calls:
                    loop.tool_result(ToolResultBlock(tool_use_id=ran.id, content=data.draw(any_text)))
        waiting = [call.id for call in loop.pending_tool_calls]
        if waiting and n < runs - 1:  # the results join the conversation with the next run's commit
            for call_id in waiting:
                loop.tool_result(ToolResultBlock(tool_use_id=call_id, content="answer"))
            waiting = []
    back = through_json(entries)
    assert back == entries
    conversation = rebuild("s", back)
    assert tuple(committed) == loop.messages[: len(committed)]
    assert [m for m, i in zip(conversation.messages, conversation.message_ids, strict=True) if i] == committed
    # what the log left unanswered (a round still waiting for external calls) is answered as
    # interrupted: the waiting calls, and the others of their round
    assert set(waiting) <= set(conversation.repaired)
    assert bool(waiting) == bool(conversation.repaired)
    assert conversation.results == tuple(results)
    assert conversation.head == entries[-1].id
    assert conversation.metadata == entries[0]


@given(conversations)
def test_messages_round_trip_through_json(messages: list[Message]) -> None:
    for message in messages:
        text = json.dumps(message_to_json(message))
        assert message_from_json(json.loads(text)) == message


def test_an_entry_of_each_kind_round_trips() -> None:
    result = ResultMessage(
        subtype="success",
        result="done",
        is_error=False,
        num_turns=2,
        duration_ms=5,
        duration_api_ms=3,
        usage=Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3),
        pending_tool_calls=(ToolUseBlock(id="c9", name="ask_user", input={"q": "?"}),),
        errors=("x",),
        session_id="s",
        total_cost_usd=0.25,
        structured_output={"a": [1, 2]},
    )
    entries: list[Entry] = [
        MetadataEntry(id="m", parent_id=None, at=1.5, title="T", tags=("x", "y"), cwd="/w", forked_from="old"),
        MessageEntry(id="u", parent_id="m", at=2, message=UserMessage(content="hi"), turn=0),
        CompactionEntry(id="c", parent_id="u", at=3, replaced=("u",), summary=(UserMessage(content="sum"),)),
        ResultEntry(id="r", parent_id="c", at=4, result=result),
    ]
    assert through_json(entries) == entries
    assert entry_to_json(entries[0])["v"] == ENTRY_VERSION


# ---- bad entries -------------------------------------------------------------------------------


GOOD = {"v": 1, "id": "e1", "parent": None, "at": 1.0, "kind": "message", "turn": 1}


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        ({**GOOD, "v": 99, "message": {"role": "user", "content": "x"}}, "newer than"),
        ({**GOOD, "v": "1", "message": {"role": "user", "content": "x"}}, "'v'"),
        ({**GOOD, "message": {"role": "robot", "content": "x"}}, "'role'"),
        ({**GOOD, "message": {"role": "user", "content": 5}}, "'content'"),
        ({**GOOD, "message": {"role": "assistant", "content": [{"type": "nope"}]}}, "unknown type"),
        ({**GOOD, "message": {"role": "assistant", "content": [{"type": "tool_use", "id": "", "name": "x"}]}}, "id"),
        ({**GOOD, "message": {"role": "user", "content": [{"type": "thinking", "thinking": "t"}]}}, "holds no"),
        ({**GOOD, "at": "yesterday", "message": {"role": "user", "content": "x"}}, "'at'"),
        ({**GOOD, "kind": "weird"}, "unknown entry kind"),
        ({**GOOD, "kind": "result", "result": {"subtype": "odd", "is_error": False}}, "subtype"),
        ({**GOOD, "message": {"role": "assistant", "content": [], "usage": {"prompt_tokens": "9"}}}, "prompt_tokens"),
    ],
)
def test_an_entry_that_does_not_parse_names_the_session_the_entry_and_the_problem(
    obj: dict[str, Any], problem: str
) -> None:
    with pytest.raises(SessionEntryError, match=problem) as caught:
        entry_from_json(obj, session_id="sess-1")
    assert caught.value.session_id == "sess-1" and caught.value.entry_id == "e1"
    assert "sess-1" in str(caught.value) and "'e1'" in str(caught.value)


def test_text_that_is_not_json_is_a_session_entry_error() -> None:
    good = dumps_entry(MessageEntry(id="a", parent_id=None, at=0, message=UserMessage(content="x")))
    with pytest.raises(SessionEntryError, match="entry 1 of the log is not JSON"):
        loads_entries([good, '{"v": 1, "id": "b"'], session_id="s")
    with pytest.raises(SessionEntryError, match="must be a JSON object"):
        loads_entries(["[1]"], session_id="s")


@given(st.binary(max_size=200) | st.text(max_size=200))
def test_arbitrary_text_parses_or_raises_session_entry_error(data: bytes | str) -> None:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    with contextlib.suppress(SessionEntryError):
        loads_entries([text], session_id="s")


@given(st.data())
def test_mutated_entries_parse_or_raise_session_entry_error(data: st.DataObject) -> None:
    entry = MessageEntry(
        id="a",
        parent_id=None,
        at=0,
        message=AssistantMessage(content=[TextBlock(text="x"), ToolUseBlock(id="c", name="n", input={"k": 1})]),
    )
    obj = entry_to_json(entry)
    path = data.draw(st.sampled_from([("v",), ("kind",), ("message", "role"), ("message", "content"), ("at",)]))
    value = data.draw(st.none() | st.integers() | st.text(max_size=5) | st.lists(st.integers(), max_size=2))
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with contextlib.suppress(SessionEntryError):
        entry_from_json(json.loads(json.dumps(obj)), session_id="s")


# ---- the fast reader ---------------------------------------------------------------------------


def checked_or_error(obj: Any) -> Entry | str:
    try:
        return entry_from_json(obj, session_id="s")
    except SessionEntryError as exc:
        return f"error: {exc}"


text_answers = st.builds(
    AssistantMessage,
    content=st.lists(st.builds(TextBlock, text=any_text), max_size=3),
    model=st.none() | texts,
    id=st.none() | texts,
    stop_reason=st.none() | st.sampled_from(["stop", "length"]),
    usage=st.none()
    | st.builds(
        Usage,
        prompt_tokens=st.none() | st.integers(0, 10**6),
        completion_tokens=st.none() | st.integers(0, 10**6),
        total_tokens=st.none() | st.integers(0, 10**6),
        reasoning_tokens=st.none() | st.integers(0, 10**6),
        cached_tokens=st.none() | st.integers(0, 10**6),
    ),
    refusal=st.none() | texts,
)
any_messages = st.one_of(
    st.builds(UserMessage, content=any_text), text_answers, conversations.map(lambda ms: ms[0]), answers("c")
)


@given(any_messages, st.none() | texts, st.integers(0, 9), st.floats(0, 2e9) | st.integers(0, 2**40))
def test_the_fast_reader_gives_what_the_checked_one_gives(
    message: Message, parent: str | None, turn: int, at: float
) -> None:
    """For any message entry (the fast reader's shapes and the others it leaves), through JSON:
    ``fast_entry`` gives the checked reader's entry, or None; and it does take the text
    messages that conversations are mostly made of."""
    entry = MessageEntry(id="e", parent_id=parent, at=at, message=message, turn=turn)
    obj = json.loads(dumps_entry(entry))
    fast = fast_entry(obj)
    assert fast is None or fast == entry_from_json(obj, session_id="s") == entry
    if isinstance(message, UserMessage):
        plain = isinstance(message.content, str)
    else:
        usage = message.usage
        plain = all(type(b) is TextBlock for b in message.content)
        plain = plain and (usage is None or (not usage.raw and not usage.estimated))
    if plain:
        assert fast == entry
    assert loads_entries([dumps_entry(entry)], session_id="s") == [entry]


@given(
    any_messages,
    st.floats(allow_nan=True, allow_infinity=True) | st.integers(0, 2**40),
    st.none() | st.text(max_size=20) | json_objects,
)
def test_dumps_entry_writes_what_json_dumps_writes(message: Message, at: float, title: Any) -> None:
    """``dumps_entry`` (one encoder, made once) writes the text ``json.dumps`` with the same
    options writes, for messages, metadata and compaction entries; and refuses what it refuses
    (NaN and infinity: not JSON), naming the entry, having written nothing."""
    data = title if isinstance(title, dict) else {}
    name = title if isinstance(title, str) else None
    entries: list[Entry] = [
        MessageEntry(id="e", parent_id="p", at=at, message=message, turn=2),
        MetadataEntry(id="m", parent_id=None, at=at, title=name, tags=("a",), data=data),
        CompactionEntry(id="c", parent_id="e", at=at, replaced=("e",), summary=(message,), data=data),
    ]
    for entry in entries:
        try:
            expected = json.dumps(entry_to_json(entry), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except ValueError:
            with pytest.raises(ValueError, match=f"entry {entry.id!r} cannot be written as JSON"):
                dumps_entry(entry)
            assert at != at or at in (float("inf"), float("-inf"))
        else:
            assert dumps_entry(entry) == expected


mutations: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["type", "text"]), st.text(max_size=3)),
)


@given(st.data())
def test_the_fast_reader_never_takes_what_the_checked_one_refuses_or_reads_it_otherwise(data: st.DataObject) -> None:
    """Text entries with one field changed, dropped or added, anywhere: ``fast_entry`` gives
    None (the checked reader decides) or exactly what the checked reader gives."""
    message = data.draw(st.builds(UserMessage, content=any_text) | text_answers)
    obj = json.loads(dumps_entry(MessageEntry(id="e", parent_id="p", at=1.5, message=message, turn=1)))
    containers: list[Any] = [obj, obj["message"]]
    if "usage" in obj["message"]:
        containers.append(obj["message"]["usage"])
    if isinstance(obj["message"]["content"], list):
        containers += obj["message"]["content"]
    for _ in range(data.draw(st.integers(1, 3))):
        target = data.draw(st.sampled_from(containers))
        key = data.draw(st.sampled_from([*target, "v", "kind", "raw", "estimated", "extra"]))
        if data.draw(st.booleans()):
            target[key] = data.draw(mutations)
        else:
            target.pop(key, None)
    fast = fast_entry(obj)
    checked = checked_or_error(obj)
    assert fast is None or fast == checked


shared_counts: st.SearchStrategy[dict[str, Any]] = st.dictionaries(
    st.sampled_from(["prompt_tokens", "completion_tokens", "raw", "estimated"]),
    st.sampled_from([9, 0, True, False, 9.0, None, "9", {}]),
    max_size=2,
)


@given(st.data())
def test_the_batch_reader_gives_what_the_checked_one_gives_entry_by_entry(data: st.DataObject) -> None:
    """``fast_entries`` over a log of text entries, some answers' token counts drawn from a few
    (so that answers share them) and some of them not integers (true, 9.0, "9"): for each entry,
    None or exactly what the checked reader gives (an answer's shared usage never stands in for
    another's), as ``fast_entry`` of it alone; and ``loads_entries`` of their texts gives the
    checked entries, or refuses naming the first bad one."""
    objs: list[Any] = []
    for i in range(data.draw(st.integers(1, 8))):
        message = data.draw(st.builds(UserMessage, content=any_text) | text_answers)
        obj = json.loads(dumps_entry(MessageEntry(id=f"e{i}", parent_id=None, at=1.5, message=message, turn=1)))
        if obj["message"]["role"] == "assistant" and data.draw(st.booleans()):
            obj["message"]["usage"] = data.draw(shared_counts)
        objs.append(obj)
    batch = fast_entries(objs)
    checked = [checked_or_error(obj) for obj in objs]
    assert len(batch) == len(objs)
    for obj, fast, expected in zip(objs, batch, checked, strict=True):
        assert fast is None or fast == expected
        assert fast == fast_entry(obj)
    texts = [json.dumps(obj) for obj in objs]
    bad = [i for i, expected in enumerate(checked) if isinstance(expected, str)]
    if not bad:
        assert loads_entries(texts, session_id="s") == checked
    else:
        with pytest.raises(SessionEntryError) as caught:
            loads_entries(texts, session_id="s")
        assert caught.value.entry_id == f"e{bad[0]}"
        assert f"error: {caught.value}" == checked[bad[0]]


# ---- the rebuilt conversation ------------------------------------------------------------------


def messages_entries(*messages: Message) -> list[Entry]:
    out: list[Entry] = []
    for i, message in enumerate(messages):
        assert isinstance(message, UserMessage | AssistantMessage)
        out.append(MessageEntry(id=f"m{i}", parent_id=out[-1].id if out else None, at=i, message=message))
    return out


CALLS = AssistantMessage(
    content=[ToolUseBlock(id="c1", name="read_file", input={}), ToolUseBlock(id="c2", name="bash", input={})]
)


def test_a_round_cut_by_a_crash_gets_interrupted_results() -> None:
    conversation = rebuild("s", messages_entries(UserMessage(content="go"), CALLS))
    assert conversation.repaired == ("c1", "c2")
    last = conversation.messages[-1]
    assert isinstance(last, UserMessage) and not isinstance(last.content, str)
    assert [b.tool_use_id for b in last.content if isinstance(b, ToolResultBlock)] == ["c1", "c2"]
    assert all(isinstance(b, ToolResultBlock) and b.is_error and b.content == INTERRUPTED_RESULT for b in last.content)
    assert conversation.interrupted
    assert conversation.message_ids == ("m0", "m1", None)


def test_a_result_given_is_kept_and_the_missing_one_added_in_call_order() -> None:
    partial = UserMessage(content=[ToolResultBlock(tool_use_id="c2", content="ran"), TextBlock(text="and?")])
    conversation = rebuild("s", messages_entries(UserMessage(content="go"), CALLS, partial))
    last = conversation.messages[-1]
    assert isinstance(last, UserMessage) and not isinstance(last.content, str)
    first, second, text = last.content
    assert isinstance(first, ToolResultBlock) and first.tool_use_id == "c1" and first.is_error
    assert second == partial.content[0] and text == TextBlock(text="and?")
    assert conversation.repaired == ("c1",)


def test_a_prompt_after_unanswered_calls_gets_the_results_before_it() -> None:
    conversation = rebuild("s", messages_entries(UserMessage(content="go"), CALLS, UserMessage(content="next")))
    assert [type(m) for m in conversation.messages] == [UserMessage, AssistantMessage, UserMessage, UserMessage]
    assert conversation.messages[-1] == UserMessage(content="next")


def test_a_complete_conversation_is_left_as_it_is() -> None:
    results = UserMessage(content=[ToolResultBlock(tool_use_id="c1"), ToolResultBlock(tool_use_id="c2")])
    messages = (UserMessage(content="go"), CALLS, results, AssistantMessage(content=[TextBlock(text="ok")]))
    conversation = rebuild("s", messages_entries(*messages))
    assert conversation.messages == messages and conversation.repaired == () and not conversation.interrupted


@pytest.mark.parametrize(
    ("messages", "problem"),
    [
        ((UserMessage(content=[ToolResultBlock(tool_use_id="zz")]),), "no earlier answer made"),
        ((CALLS, CALLS), "used twice"),
        (
            (
                CALLS,
                UserMessage(content=[ToolResultBlock(tool_use_id="c1"), ToolResultBlock(tool_use_id="c2")]),
                UserMessage(content=[ToolResultBlock(tool_use_id="c1")]),
            ),
            "a second result",
        ),
    ],
)
def test_a_log_that_makes_no_conversation_is_refused(messages: tuple[Message, ...], problem: str) -> None:
    with pytest.raises(SessionEntryError, match=problem):
        rebuild("s", messages_entries(*messages))


def test_entries_out_of_order_are_refused_naming_the_entry() -> None:
    entries = messages_entries(UserMessage(content="a"), UserMessage(content="b"), UserMessage(content="c"))
    with pytest.raises(SessionEntryError, match="its parent is 'm1', but the entry before it is 'm0'") as caught:
        rebuild("s", [entries[0], entries[2], entries[1]])
    assert caught.value.entry_id == "m2"


def test_chain_orders_a_fork_and_its_ancestry_and_leaves_the_other_branch_out() -> None:
    trunk = messages_entries(UserMessage(content="a"), UserMessage(content="b"), UserMessage(content="c"))
    fork = MessageEntry(id="f1", parent_id="m1", at=9, message=UserMessage(content="branch"))
    assert chain([fork, *reversed(trunk)], "f1", session_id="s") == [trunk[0], trunk[1], fork]
    assert chain(trunk, "m2", session_id="s") == trunk
    with pytest.raises(SessionEntryError, match="not in the log"):
        chain(trunk[1:], "m2", session_id="s")
    with pytest.raises(SessionEntryError, match="twice"):
        chain([*trunk, trunk[0]], "m2", session_id="s")


def test_compaction_records_apply_only_when_asked() -> None:
    entries = messages_entries(
        UserMessage(content="old"), AssistantMessage(content=[TextBlock(text="old answer")]), UserMessage(content="new")
    )
    summary = UserMessage(content="(earlier: a question and its answer)")
    entries.append(CompactionEntry(id="k", parent_id="m2", at=5, replaced=("m0", "m1"), summary=(summary,)))
    assert rebuild("s", entries).messages == tuple(e.message for e in entries[:3] if isinstance(e, MessageEntry))
    assert rebuild("s", entries, compacted=True).messages == (summary, UserMessage(content="new"))
    bad = [*entries[:3], CompactionEntry(id="k", parent_id="m2", at=5, replaced=("zz",))]
    with pytest.raises(SessionEntryError, match="not before it"):
        rebuild("s", bad, compacted=True)


def test_a_summary_over_an_earlier_compaction_replaces_it_and_is_handed_to_the_loop() -> None:
    """Compactions overlap: a slide, then a summary of the start, then a summary of more that
    covers the first summary. The compacted view holds only the latest summary; the plain one
    gives it, with the messages it stands for, to resume the loop with."""
    texts_ = ["q0", "a0", "q1", "a1", "q2", "a2", "q3"]
    entries = messages_entries(
        *(UserMessage(content=t) if t[0] == "q" else AssistantMessage(content=[TextBlock(text=t)]) for t in texts_)
    )
    first = UserMessage(content="(summary of q0..a1)")
    second = UserMessage(content="(summary of q0..a2)")
    entries.append(CompactionEntry(id="k0", parent_id="m6", at=7, replaced=("m0", "m1")))  # slid away
    entries.append(CompactionEntry(id="k1", parent_id="k0", at=8, replaced=("m0", "m1", "m2", "m3"), summary=(first,)))
    compacted = rebuild("s", entries, compacted=True)
    assert compacted.messages[0] == first and compacted.messages[1:] == tuple(
        e.message for e in entries[4:7] if isinstance(e, MessageEntry)
    )
    entries.append(
        CompactionEntry(id="k2", parent_id="k1", at=9, replaced=("m0", "m1", "m2", "m3", "m4", "m5"), summary=(second,))
    )
    assert rebuild("s", entries, compacted=True).messages == (second, UserMessage(content="q3"))
    plain = rebuild("s", entries)
    assert len(plain.messages) == 7 and compacted.summary is None
    assert plain.summary == ContextSummary(replaces=6, message=second)


def test_a_summary_keeps_a_call_with_the_result_the_repair_gave_it() -> None:
    entries = messages_entries(UserMessage(content="go"), CALLS, UserMessage(content="next"))
    summary = UserMessage(content="(summary)")
    entries.append(CompactionEntry(id="k", parent_id="m2", at=5, replaced=("m0", "m1"), summary=(summary,)))
    plain = rebuild("s", entries)  # the calls never got results: the repair answers them after m1
    assert plain.repaired == ("c1", "c2") and plain.message_ids[2] is None
    assert plain.summary == ContextSummary(replaces=3, message=summary)


def test_commit_entries_chain_after_the_parent() -> None:
    commit = Commit(messages=(UserMessage(content="a"), AssistantMessage(content=[])), turn_number=3)
    made = commit_entries(commit, parent_id="p", new_id=ids(), at=7.0)
    assert [(e.id, e.parent_id) for e in made] == [("e1", "p"), ("e2", "e1")]
    assert all(isinstance(e, MessageEntry) and e.turn == 3 and e.at == 7.0 for e in made)


def test_searchable_text_covers_text_reasoning_calls_and_results() -> None:
    message = AssistantMessage(
        content=[ThinkingBlock(thinking="ponder"), TextBlock(text="say"), ToolUseBlock(id="c", name="grep", input={})]
    )
    text = searchable_text(MessageEntry(id="a", parent_id=None, at=0, message=message))
    assert "ponder" in text and "say" in text and "grep" in text
    results = UserMessage(content=[ToolResultBlock(tool_use_id="c", content="found it")])
    assert searchable_text(MessageEntry(id="b", parent_id="a", at=0, message=results)) == "found it"
