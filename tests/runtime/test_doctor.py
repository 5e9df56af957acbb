"""``anyagent doctor`` against each server kind's answers over loopback (recorded from both
llama.cpp servers, written from the documented shapes of vLLM, Ollama, LM Studio and
OpenRouter: tests/runtime/doctor/servers.py), an unreachable server, a malformed answer, and
the command's table and JSON."""

from __future__ import annotations

import io
import json
import socket
from typing import Any

import anyio
import pytest

from anyagent_httpx import DoctorCheck, diagnose
from anyagent_httpx._cli import main
from anyagent_httpx.testing import ReceivedRequest, Reply, serve

from .doctor.servers import SERVERS, handler

pytestmark = pytest.mark.anyio

MODELS = {"vllm": "Qwen/Qwen2.5-7B-Instruct", "openrouter": "openai/gpt-4o", "lmstudio": "qwen/qwen3-4b"}

# What each server kind supports, check by check (y: yes, n: no), then the recommended options.
CHECKS = (
    "chat", "streaming", "stream_usage", "tool_calls", "tool_calls_streamed", "parallel_tool_calls",
    "forced_tool_choice", "text_tool_calls", "reasoning_field", "json_schema", "context_window",
    "tokenize", "embeddings",
)  # fmt: skip
EXPECTED: dict[str, tuple[str, dict[str, Any]]] = {
    "llama-server": ("yyyyynynnyyyy", {"tool_mode": "native", "output_mode": "json_schema", "context_window": 2048}),
    "llama-cpp-python": ("yynnnnyynnnnn", {"tool_mode": "emulated", "output_mode": "prompt", "context_window": None}),
    "vllm": ("yyyyyyynyyyyn", {"tool_mode": "native", "output_mode": "json_schema", "context_window": 32768}),
    "ollama": ("yyyyyynnyyyny", {"tool_mode": "native", "output_mode": "json_schema", "context_window": 8192}),
    "lmstudio": ("yyyyynynyyyny", {"tool_mode": "native", "output_mode": "json_schema", "context_window": 4096}),
    "openrouter": ("yyyyyyynyyynn", {"tool_mode": "native", "output_mode": "json_schema", "context_window": 128000}),
}


def url(port: int, base: str) -> str:
    return f"http://127.0.0.1:{port}{base}"


@pytest.mark.parametrize("kind", sorted(SERVERS))
async def test_each_server_kind_is_judged_as_it_answers(kind: str) -> None:
    answers, base = SERVERS[kind]
    async with serve(handler(answers(), base)) as server:
        diagnosis = await diagnose(url(server.port, base), model=MODELS.get(kind))
    verdicts = "".join({"yes": "y", "no": "n"}.get(diagnosis.check(name).status, "?") for name in CHECKS)  # type: ignore[union-attr]
    flags, recommended = EXPECTED[kind]
    assert dict(zip(CHECKS, verdicts, strict=True)) == dict(zip(CHECKS, flags, strict=True))
    assert diagnosis.recommended == recommended
    assert diagnosis.supports("reachable") and diagnosis.supports("models")
    assert diagnosis.time_to_first_token_ms is not None
    assert diagnosis.tokens_per_second_estimated is (kind == "llama-cpp-python")


async def test_the_details_say_what_was_seen() -> None:
    answers, base = SERVERS["llama-server"]
    async with serve(handler(answers(), base)) as server:
        diagnosis = await diagnose(server.base_url)
    assert diagnosis.model == "/work/shared/models/tiny-agent.gguf"  # the first the server lists
    assert (diagnosis.context_window, diagnosis.slots) == (2048, 4)
    assert diagnosis.window_source == "meta.n_ctx (llama.cpp)"
    details = {check.name: check.detail for check in diagnosis.checks}
    assert details["context_window"] == "2048 tokens (meta.n_ctx, 4 slots)"
    assert details["tokenize"] == "'hello world' is 6 tokens"
    assert details["tool_calls_streamed"].endswith("arguments in 7 fragments")
    assert details["parallel_tool_calls"] == "1 call"


async def test_whole_streamed_calls_and_reasoning_fields_are_named() -> None:
    answers, base = SERVERS["ollama"]
    async with serve(handler(answers(), base)) as server:
        diagnosis = await diagnose(server.base_url)
    assert diagnosis.check("tool_calls_streamed") == DoctorCheck(
        name="tool_calls_streamed", status="yes", detail="get_weather with valid arguments, whole in one delta"
    )
    assert diagnosis.check("reasoning_field") == DoctorCheck(name="reasoning_field", status="yes", detail="reasoning")
    assert diagnosis.check("forced_tool_choice") == DoctorCheck(
        name="forced_tool_choice", status="no", detail="ignored: text"
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_an_unreachable_server_is_a_verdict_not_an_exception() -> None:
    diagnosis = await diagnose(f"http://127.0.0.1:{closed_port()}/v1", model="m", probe_timeout=5)
    assert [check.name for check in diagnosis.checks] == ["reachable"]
    assert diagnosis.checks[0].status == "no"
    assert diagnosis.recommended == {"tool_mode": "auto", "output_mode": "prompt", "context_window": None}


async def test_a_malformed_answer_fails_that_probe_only() -> None:
    answers, base = SERVERS["vllm"]
    table = answers()
    table["streaming"] = Reply(chunks=[b"data: {not json\n\n"])

    async with serve(handler(table, base)) as server:
        diagnosis = await diagnose(server.base_url, model="Qwen/Qwen2.5-7B-Instruct")
    streaming = diagnosis.check("streaming")
    assert streaming is not None and streaming.status == "no" and streaming.detail.startswith("a malformed answer")
    assert diagnosis.supports("chat") and diagnosis.supports("tool_calls")
    assert diagnosis.time_to_first_token_ms is None


async def test_a_server_listing_no_model_needs_one() -> None:
    async with serve(Reply.json({"object": "list", "data": []})) as server:
        diagnosis = await diagnose(server.base_url)
    assert diagnosis.model is None
    assert diagnosis.check("chat") == DoctorCheck(name="chat", status="skipped", detail="no model: pass --model NAME")


async def test_the_key_goes_in_the_header_and_nowhere_else() -> None:
    key = "sk-secret-0123456789"
    seen: list[str | None] = []
    answers, base = SERVERS["lmstudio"]
    answer = handler(answers(), base)

    def handle(request: ReceivedRequest) -> Reply:
        seen.append(request.header("authorization"))
        return answer(request)

    async with serve(handle) as server:
        diagnosis = await diagnose(server.base_url, api_key=key)
    assert seen and set(seen) == {f"Bearer {key}"}
    assert key not in diagnosis.table() and key not in json.dumps(diagnosis.to_json()) and key not in repr(diagnosis)


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(argv, out=out, err=err)
    return status, out.getvalue(), err.getvalue()


async def test_the_command_prints_the_table_and_the_options() -> None:
    answers, base = SERVERS["llama-server"]
    async with serve(handler(answers(), base)) as server:
        status, out, _ = await anyio.to_thread.run_sync(run_cli, ["doctor", server.base_url])
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == f"anyagent doctor: {server.base_url} (model /work/shared/models/tiny-agent.gguf)"
    assert any(
        line.split() == ["native", "tool", "calls", "yes", "get_weather", "with", "valid", "arguments"]
        for line in lines
    )
    assert "context window       yes    2048 tokens (meta.n_ctx, 4 slots)" in out
    assert lines[-1] == "Recommended: AgentOptions(tool_mode='native', output_mode='json_schema', context_window=2048)"


async def test_the_command_prints_json() -> None:
    answers, base = SERVERS["ollama"]
    async with serve(handler(answers(), base)) as server:
        status, out, _ = await anyio.to_thread.run_sync(
            run_cli, ["doctor", server.base_url, "--json", "--model", "llama3.2:latest"]
        )
    assert status == 0
    document = json.loads(out)
    assert document["model"] == "llama3.2:latest"
    assert document["checks"]["embeddings"] == {"status": "yes", "detail": "384 dimensions"}
    assert document["recommended"] == {"tool_mode": "native", "output_mode": "json_schema", "context_window": 8192}


def test_the_command_exits_1_when_nothing_answers() -> None:
    status, out, _ = run_cli(["doctor", f"http://127.0.0.1:{closed_port()}/v1", "--timeout", "5"])
    assert status == 1
    assert out.splitlines()[1].split()[:2] == ["reachable", "no"]
    assert out.splitlines()[1].endswith("(nothing is listening there: is the server running, on that port?)")
    assert out.splitlines()[-1] == "Nothing to recommend: the server was not reached."


@pytest.mark.parametrize("argv", [["doctor", "localhost:8080"], ["doctor", "http://h/v1", "--timeout", "0"]])
def test_bad_arguments_are_usage_errors(argv: list[str]) -> None:
    status, out, err = run_cli(argv)
    assert status == 2 and not out
    assert err.startswith("anyagent doctor: error:")
