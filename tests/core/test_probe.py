"""``anyagent doctor``'s verdicts as pure functions: recorded answers of llama.cpp's own server
and of llama-cpp-python (tests/runtime/doctor/) decoded by a ``Connection`` and judged, the
options recommended from the checks, and any bytes at all judged without an exception."""

from __future__ import annotations

import json
import pathlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import NEED_DATA, PAUSED, Connection, Endpoint, RemoteProtocolError
from anyagent_core.probe import (
    Diagnosis,
    DoctorCheck,
    ProbeAnswer,
    judge_chat,
    judge_forced_tool,
    judge_json_schema,
    judge_streaming,
    judge_text_tool_calls,
    judge_tool_calls,
    probe_turns,
    recommend,
)

RECORDED = pathlib.Path(__file__).resolve().parents[1] / "runtime" / "doctor"
ENDPOINT = Endpoint(base_url="http://127.0.0.1:8080/v1")


def decoded(probe: str, status: int, content_type: str, body: bytes) -> ProbeAnswer:
    """The answer to ``probe``'s request as the ``Connection`` decodes it, in one read."""
    conn = Connection(ENDPOINT)
    conn.send(probe_turns("tiny")[probe])
    conn.receive_head(status, [("content-type", content_type)])
    events: list[object] = []
    try:
        for data in (body, b""):
            conn.receive_data(data)
            while (event := conn.next_event()) is not NEED_DATA and event is not PAUSED:
                events.append(event)
    except RemoteProtocolError as exc:
        return ProbeAnswer(status=status, body=body, events=tuple(events), content_type=content_type, error=str(exc))
    return ProbeAnswer(status=status, body=body, events=tuple(events), content_type=content_type)


def recorded(server: str, probe: str) -> ProbeAnswer:
    entry = json.loads((RECORDED / f"{server}.json").read_text(encoding="utf-8"))[probe]
    return decoded(probe, entry["status"], entry["content_type"], entry["body"].encode())


def test_llama_server_s_answers() -> None:
    assert judge_chat(recorded("llama-server", "chat")).status == "yes"
    streaming, usage = judge_streaming(recorded("llama-server", "streaming"))
    assert (streaming.status, usage.status) == ("yes", "yes")
    assert usage.detail == "12 prompt + 10 completion tokens"
    streamed = judge_tool_calls(recorded("llama-server", "tools_streamed"), streamed=True)
    assert streamed == DoctorCheck(
        name="tool_calls_streamed", status="yes", detail="get_weather with valid arguments, arguments in 7 fragments"
    )
    assert judge_json_schema(recorded("llama-server", "json_schema")).detail == '{"ok": true}'


def test_llama_cpp_python_s_answers() -> None:
    tools = [recorded("llama-cpp-python", p) for p in ("tools", "tools_streamed", "parallel")]
    assert judge_tool_calls(tools[0], streamed=False) == DoctorCheck(
        name="tool_calls", status="no", detail="the call came as text"
    )
    assert judge_text_tool_calls(tools) == DoctorCheck(
        name="text_tool_calls", status="yes", detail="3 of 3 answers (<tool_call>)"
    )
    assert judge_forced_tool(recorded("llama-cpp-python", "forced_tool")).status == "yes"
    refused = judge_json_schema(recorded("llama-cpp-python", "json_schema"))
    assert refused.status == "no" and refused.detail.startswith("HTTP 500")
    assert judge_streaming(recorded("llama-cpp-python", "streaming"))[1].status == "no"  # no usage chunk


def diagnosis(**statuses: str) -> Diagnosis:
    checks = tuple(DoctorCheck(name=name, status=status) for name, status in statuses.items())  # type: ignore[arg-type]
    return Diagnosis(base_url="http://user:secret@h/v1", model="m", checks=checks, context_window=4096)


def test_recommend_is_a_function_of_the_checks() -> None:
    assert recommend(diagnosis(chat="yes", tool_calls="no", tool_calls_streamed="yes", json_schema="no")) == {
        "tool_mode": "native",
        "output_mode": "prompt",
        "context_window": 4096,
    }
    assert recommend(diagnosis(chat="yes", tool_calls="no", json_schema="yes"))["tool_mode"] == "emulated"
    assert recommend(diagnosis(chat="no", streaming="no"))["tool_mode"] == "auto"


def test_the_diagnosis_hides_credentials_in_the_url() -> None:
    found = diagnosis(chat="yes")
    assert "secret" not in found.base_url and "secret" not in found.table() and "secret" not in repr(found)


PROBES = sorted(probe_turns("tiny"))


@given(
    probe=st.sampled_from(PROBES),
    status=st.sampled_from([200, 400, 404, 500]),
    content_type=st.sampled_from(["text/event-stream", "application/json", "text/plain"]),
    body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
)
def test_any_answer_gets_a_verdict(probe: str, status: int, content_type: str, body: bytes) -> None:
    answer = decoded(probe, status, content_type, body)
    checks = [
        judge_chat(answer),
        *judge_streaming(answer),
        judge_tool_calls(answer, streamed=True),
        judge_forced_tool(answer),
        judge_json_schema(answer),
        judge_text_tool_calls([answer]),
    ]
    assert all(check.status in ("yes", "no", "skipped") for check in checks)
    if status != 200:
        assert judge_chat(answer).status == "no"


@pytest.mark.parametrize("probe", PROBES)
def test_each_probe_asks_for_what_it_judges(probe: str) -> None:
    turn = probe_turns("tiny")[probe]
    assert turn.stream is (probe in ("streaming", "tools_streamed"))
    assert bool(turn.tools) is (probe in ("tools", "tools_streamed", "parallel", "forced_tool"))
    assert (turn.response_format is not None) is (probe == "json_schema")
