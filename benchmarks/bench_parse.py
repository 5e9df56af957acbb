"""Parse-and-assemble throughput: anyagent_core against openai-python and a minimal floor.

    python benchmarks/bench_parse.py [--quick] [--json PATH] [--repeats N] [--gc] [--floor-scanner] [--clock cpu|wall]
    python benchmarks/bench_parse.py --instructions [--workloads W3,W3-text] [--floor-scanner] [--json PATH]

Each contender does the whole job a client does with a streamed answer: response body bytes,
handed over in 4 KiB reads, to the final assembled message (content, tool calls with their
arguments, finish reason, usage).

* anyagent: ``anyagent_core.Connection``'s pull loop (``receive_data`` / ``next_event``), every
  event consumed, ``MessageComplete`` kept.
* openai: what ``client.chat.completions.stream()`` does per chunk: ``SSEDecoder.iter_bytes``,
  ``sse.json()``, the client's ``_process_response_data`` (``construct_type`` into a
  ``ChatCompletionChunk``), ``ChatCompletionStreamState.handle_chunk`` with every event it
  returns consumed, then ``get_final_completion()``.
* floor: the least any correct parser must do: a bytearray buffer split on ``\\n\\n``,
  ``json.loads`` of each ``data:`` payload, plain dict and list assembly. With
  ``--floor-scanner`` it calls the C JSON scanner directly instead (``json.loads`` minus its
  Python wrapper layers, about 0.8 us per chunk), as anyagent_core itself does.

All three are checked against the generator's ground truth before anything is timed.

The machine may be shared, so each workload is timed in many rounds (9 by default), by the
process's CPU time (``--clock wall`` for ``time.perf_counter``): time the process spends
descheduled by other work is not counted. A round times openai-python once, and anyagent and
the floor back to back ``--pairs`` times (5 by default, the two in alternating order), openai
before or after them in turns. A contender's figure is its best run. anyagent over the floor
is the median of the ratios of the pairs (45 by default): a run of either takes tens of
milliseconds, and two runs next to each other see the same machine, where one of each a round
next to openai's second-long run let a burst of other work fall between them. anyagent over
openai is the median of the rounds' ratios (anyagent's best run of the round). Each ratio is
printed with the middle half (p25-p75) as its spread.

``--instructions`` counts instructions instead of timing: a figure other work on the machine
cannot move. Each of anyagent and the floor runs a workload in a child process under valgrind's
callgrind (``PYTHONHASHSEED=0``), once with one pass after a warm-up pass and once with two;
the difference of the two counts is one pass, reported per response and per chunk, with
anyagent's count over the floor's. The targets stay the timed ones (instructions do not count
cache misses or branch mispredictions, which the floor's C-heavy work has fewer of), but two
trees compared this way differ only by their code. openai-python is left out (its pass would
take hours under valgrind). A few minutes for W3, much longer for W3-text.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import openai
from openai._streaming import SSEDecoder as OpenAISSEDecoder
from openai._utils import is_mapping
from openai.lib.streaming.chat._completions import (
    ChatCompletionStreamState,
    _is_valid_chat_completion_chunk_weak,
)
from openai.types.chat import ChatCompletionChunk

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import Rounds, rotated, table
from anyagent_core import (
    NEED_DATA,
    PAUSED,
    Connection,
    Endpoint,
    MessageComplete,
    ToolCall,
    ToolUseBlock,
    __version__,
    decode_response,
    thaw_json,
)
from streams import READ_SIZE, Expected, Workload, all_workloads

TARGET_VS_OPENAI = 25.0
"""anyagent must be at least this many times faster than openai-python's assembly path."""
TARGET_VS_FLOOR = 1.5
"""anyagent may take at most this many times the floor's time."""

StreamReads = list[list[bytes]]
Contender = Callable[[StreamReads], list[Any]]


# ---- anyagent -------------------------------------------------------------------------------

_ENDPOINT = Endpoint(base_url="http://bench.invalid/v1")
_SSE_HEAD = [("content-type", "text/event-stream")]


def run_anyagent(streams: StreamReads) -> list[MessageComplete]:
    """A transport's receive loop: one ``Connection`` per response, every event pulled."""
    finals: list[MessageComplete] = []
    for reads in streams:
        conn = Connection(_ENDPOINT)
        conn._expect_response(single_choice=True)
        conn.receive_head(200, _SSE_HEAD)
        pending = iter(reads)
        next_event = conn.next_event
        receive_data = conn.receive_data
        final: MessageComplete | None = None
        while True:
            event = next_event()
            if event is NEED_DATA:
                receive_data(next(pending, b""))
            elif event is PAUSED:
                break
            elif type(event) is MessageComplete:
                final = event
        assert final is not None
        finals.append(final)
    return finals


# ---- openai-python --------------------------------------------------------------------------

_OPENAI_CLIENT: Any = openai.OpenAI(api_key="sk-bench", base_url="http://bench.invalid/v1")
# The decoder ``Stream`` gets from ``client._make_sse_decoder()``.
assert type(_OPENAI_CLIENT._make_sse_decoder()) is OpenAISSEDecoder


def run_openai(streams: StreamReads) -> list[Any]:
    """``Stream.__stream__`` (legacy mode, no options) feeding ``ChatCompletionStream.__stream__``,
    minus the HTTP response object: the same calls, in the same order, per chunk."""
    client = _OPENAI_CLIENT
    process_data = client._process_response_data
    chunk_type = ChatCompletionChunk
    finals: list[Any] = []
    for reads in streams:
        decoder = OpenAISSEDecoder()
        state = ChatCompletionStreamState()
        for sse in decoder.iter_bytes(iter(reads)):
            if sse.data.startswith("[DONE]"):
                break
            if sse.event and sse.event.startswith("thread."):
                raise AssertionError("unexpected Assistants event")
            data = sse.json()
            if is_mapping(data) and data.get("error"):
                raise AssertionError(f"unexpected error chunk: {data!r}")
            chunk = process_data(data=data, cast_to=chunk_type, response=None)
            if not _is_valid_chat_completion_chunk_weak(chunk):
                continue
            for _event in state.handle_chunk(chunk):
                pass
        finals.append(state.get_final_completion())
    return finals


# ---- the floor ------------------------------------------------------------------------------

_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _scanner_loads(text: str) -> Any:
    """``json.loads`` for well-formed input, without its wrapper layers."""
    value, end = _scan_once(text, 0)
    if end != len(text) and text[end:].strip(" \t\n\r"):
        raise ValueError("extra data after the JSON value")
    return value


_floor_loads: Callable[[str], Any] = json.loads


def run_floor(streams: StreamReads) -> list[dict[str, Any]]:
    """The minimum: framing on ``\\n\\n``, ``json.loads``, dict assembly (one data line per
    event, as every OpenAI-compatible server writes them). Arguments are parsed once at the end,
    as any client must before running a tool."""
    loads = _floor_loads
    finals: list[dict[str, Any]] = []
    for reads in streams:
        buf = bytearray()
        content: dict[int, list[str]] = {}
        calls: dict[int, dict[int, dict[str, Any]]] = {}
        finish: dict[int, str] = {}
        usage: dict[str, Any] | None = None
        done = False
        for read in reads:
            buf += read
            start = 0
            while (end := buf.find(b"\n\n", start)) >= 0:
                if buf.startswith(b"data: ", start):
                    payload = buf[start + 6 : end].decode()
                    if payload == "[DONE]":
                        done = True
                    else:
                        obj = loads(payload)
                        for choice in obj["choices"]:
                            index = choice["index"]
                            delta = choice["delta"]
                            text = delta.get("content")
                            if text:
                                parts = content.get(index)
                                if parts is None:
                                    parts = content[index] = []
                                parts.append(text)
                            tool_calls = delta.get("tool_calls")
                            if tool_calls:
                                by_index = calls.get(index)
                                if by_index is None:
                                    by_index = calls[index] = {}
                                for entry in tool_calls:
                                    call = by_index.get(entry["index"])
                                    if call is None:
                                        call = by_index[entry["index"]] = {"id": None, "name": "", "arguments": []}
                                    if entry.get("id"):
                                        call["id"] = entry["id"]
                                    function = entry.get("function")
                                    if function:
                                        if function.get("name"):
                                            call["name"] += function["name"]
                                        if function.get("arguments"):
                                            call["arguments"].append(function["arguments"])
                            reason = choice.get("finish_reason")
                            if reason:
                                finish[index] = reason
                        if obj.get("usage"):
                            usage = obj["usage"]
                start = end + 2
            if start:
                del buf[:start]
        tools = []
        for _, call in sorted(calls.get(0, {}).items()):
            arguments = "".join(call["arguments"])
            tools.append({"id": call["id"], "name": call["name"], "arguments": arguments, "input": loads(arguments)})
        finals.append(
            {
                "content": "".join(content.get(0, ())),
                "tool_calls": tools,
                "finish_reason": finish.get(0),
                "usage": usage,
                "done": done,
            }
        )
    return finals


CONTENDERS: dict[str, Contender] = {"anyagent": run_anyagent, "openai": run_openai, "floor": run_floor}


# ---- verification ---------------------------------------------------------------------------


class Result(NamedTuple):
    """A contender's final message, reduced to what every contender reports."""

    content: str
    tool_calls: tuple[tuple[str, str, Any], ...]
    """``(id, name, parsed arguments)``."""
    finish_reason: str | None
    usage: tuple[int, int, int] | None


def _usage_triple(usage: Any) -> tuple[int, int, int] | None:
    if usage is None:
        return None
    if isinstance(usage, dict):
        return (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"])
    return (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)


def _expected_result(expected: Expected) -> Result:
    return Result(
        content=expected.content,
        tool_calls=tuple((cid, name, json.loads(args)) for cid, name, args in expected.tool_calls),
        finish_reason=expected.finish_reason,
        usage=_usage_triple(expected.usage),
    )


def _anyagent_result(final: MessageComplete) -> Result:
    message = final.message
    calls = []
    for block in message.tool_uses:
        assert isinstance(block, ToolUseBlock), f"unusable tool call: {block!r}"
        calls.append((block.id, block.name, thaw_json(block.input)))
    return Result(
        content=message.text,
        tool_calls=tuple(calls),
        finish_reason=message.stop_reason,
        usage=None if message.usage is None else _usage_triple(thaw_json(message.usage.raw)),
    )


def _openai_result(completion: Any) -> Result:
    choice = completion.choices[0]
    message = choice.message
    calls = tuple(
        (call.id, call.function.name, json.loads(call.function.arguments)) for call in message.tool_calls or ()
    )
    return Result(
        content=message.content or "",
        tool_calls=calls,
        finish_reason=choice.finish_reason,
        usage=_usage_triple(completion.usage),
    )


def _floor_result(final: dict[str, Any]) -> Result:
    return Result(
        content=final["content"],
        tool_calls=tuple((call["id"], call["name"], call["input"]) for call in final["tool_calls"]),
        finish_reason=final["finish_reason"],
        usage=_usage_triple(final["usage"]),
    )


NORMALIZERS: dict[str, Callable[[Any], Result]] = {
    "anyagent": _anyagent_result,
    "openai": _openai_result,
    "floor": _floor_result,
}


def verify(workload: Workload) -> None:
    """Every contender must assemble exactly the ground truth; fail loudly otherwise."""
    want = [_expected_result(expected) for expected in workload.expected]
    for name, run in CONTENDERS.items():
        got = [NORMALIZERS[name](final) for final in run(workload.reads)]
        if got != want:
            bad = next(i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w)
            raise SystemExit(
                f"{workload.name}: {name} assembled a different message for stream {bad}:\n"
                f"  got  {got[bad]!r:.600}\n  want {want[bad]!r:.600}"
            )
    # The raw argument strings, exactly as streamed (the final message keeps them parsed).
    floor_finals = run_floor(workload.reads)
    openai_finals = run_openai(workload.reads)
    for i, (reads, expected) in enumerate(zip(workload.reads, workload.expected, strict=True)):
        decoded = decode_response(reads, status=200, content_type="text/event-stream", single_choice=True)
        raw = {
            "anyagent": [(e.id, e.name, e.arguments) for e in decoded.events if type(e) is ToolCall],
            "openai": [
                (c.id, c.function.name, c.function.arguments)
                for c in openai_finals[i].choices[0].message.tool_calls or ()
            ],
            "floor": [(c["id"], c["name"], c["arguments"]) for c in floor_finals[i]["tool_calls"]],
        }
        for name, calls in raw.items():
            if calls != list(expected.tool_calls):
                raise SystemExit(f"{workload.name}: {name}'s raw tool call arguments differ in stream {i}")
        if not decoded.done_received or decoded.truncated or not floor_finals[i]["done"]:
            raise SystemExit(f"{workload.name}: stream {i} not seen to the end")


# ---- timing ---------------------------------------------------------------------------------


CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}


def _timed(run: Contender, streams: StreamReads, *, keep_gc: bool, clock: Callable[[], float]) -> float:
    """One run of ``run``, after a full collection; the collector off during it unless
    ``keep_gc``."""
    gc.collect()
    if not keep_gc:
        gc.disable()
    try:
        start = clock()
        run(streams)
        return clock() - start
    finally:
        gc.enable()


@dataclass
class Timings:
    rounds: Rounds
    """Per round: openai's run and anyagent's fastest run of the round."""
    paired: Rounds
    """anyagent's and the floor's runs, back to back, ``pairs`` times a round."""


def time_rounds(workload: Workload, repeats: int, *, pairs: int, keep_gc: bool, clock: Callable[[], float]) -> Timings:
    """``repeats`` rounds; a round times openai-python once and anyagent and the floor ``pairs``
    times back to back (the two in alternating order), openai before or after them in turns.
    A run of the floor or anyagent takes a few tens of milliseconds: timed next to each other,
    the two see the same machine, where a burst of other work would fall between them if each
    ran once a round next to openai's second-long run."""
    rounds = Rounds()
    paired = Rounds()
    streams = workload.reads
    for number in range(repeats):
        for part in rotated(["openai", "paired"], number):
            if part == "openai":
                rounds.add("openai", _timed(run_openai, streams, keep_gc=keep_gc, clock=clock))
                continue
            best = float("inf")
            for pair in range(pairs):
                for name in rotated(["anyagent", "floor"], number * pairs + pair):
                    elapsed = _timed(CONTENDERS[name], streams, keep_gc=keep_gc, clock=clock)
                    paired.add(name, elapsed)
                    if name == "anyagent":
                        best = min(best, elapsed)
            rounds.add("anyagent", best)
    return Timings(rounds, paired)


@dataclass
class Figures:
    workload: Workload
    timings: Timings

    @property
    def seconds(self) -> dict[str, float]:
        """Each contender's best run."""
        runs = {**self.timings.paired.seconds, "openai": self.timings.rounds.seconds["openai"]}
        return {name: min(runs[name]) for name in CONTENDERS}

    def chunks_per_s(self, name: str) -> float:
        return self.workload.chunks / self.seconds[name]

    def us_per_chunk(self, name: str) -> float:
        return self.seconds[name] / self.workload.chunks * 1e6

    @property
    def vs_openai(self) -> float:
        """How many times faster than openai-python anyagent is (the median round's ratio)."""
        return self.timings.rounds.ratio("openai", "anyagent")

    @property
    def vs_floor(self) -> float:
        """anyagent's time as a multiple of the floor's (the median pair's ratio)."""
        return self.timings.paired.ratio("anyagent", "floor")

    @property
    def vs_floor_spread(self) -> tuple[float, float]:
        return self.timings.paired.ratio_spread("anyagent", "floor")

    @property
    def pass_openai(self) -> bool:
        return self.vs_openai >= TARGET_VS_OPENAI

    @property
    def pass_floor(self) -> bool:
        return self.vs_floor <= TARGET_VS_FLOOR

    def to_json(self) -> dict[str, Any]:
        w = self.workload
        return {
            "workload": w.name,
            "description": w.description,
            "streams": len(w.bodies),
            "chunks": w.chunks,
            "bytes": w.total_bytes,
            "reads": w.total_reads,
            "seconds": self.seconds,
            "seconds_per_round": self.timings.rounds.to_json(),
            "seconds_per_pair": self.timings.paired.to_json(),
            "anyagent_over_floor_p25_p75": list(self.vs_floor_spread),
            "chunks_per_s": {name: self.chunks_per_s(name) for name in CONTENDERS},
            "us_per_chunk": {name: self.us_per_chunk(name) for name in CONTENDERS},
            "openai_over_anyagent": self.vs_openai,
            "anyagent_over_floor": self.vs_floor,
            "pass": {"vs_openai": self.pass_openai, "vs_floor": self.pass_floor},
        }


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def render(figures: Sequence[Figures], header: str) -> str:
    rows: list[tuple[str, ...]] = [
        (
            "workload",
            "chunks",
            "anyagent chunks/s",
            "openai chunks/s",
            "floor chunks/s",
            f"vs openai (>={TARGET_VS_OPENAI:g}x)",
            f"vs floor (<={TARGET_VS_FLOOR:g}x)",
        )
    ]
    for f in figures:
        rows.append(
            (
                f"{f.workload.name} {f.workload.description}",
                f"{f.workload.chunks:,}",
                *(f"{f.chunks_per_s(n):,.0f} ({f.us_per_chunk(n):.2f} us)" for n in CONTENDERS),
                f"{f.vs_openai:.1f}x faster {_verdict(f.pass_openai)}",
                f"{f.vs_floor:.2f}x floor ({f.vs_floor_spread[0]:.2f}-{f.vs_floor_spread[1]:.2f}) "
                f"{_verdict(f.pass_floor)}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [header, ""]
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), *(cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * width for width in widths))
    overall = all(f.pass_openai and f.pass_floor for f in figures)
    lines.append("")
    lines.append(
        f"targets: >= {TARGET_VS_OPENAI:g}x faster than openai-python, <= {TARGET_VS_FLOOR:g}x the floor's time"
    )
    lines.append(f"overall: {_verdict(overall)}")
    return "\n".join(lines)


# ---- instruction counts (--instructions) ----------------------------------------------------

#: The contenders counted: openai-python's pass would take hours under valgrind.
COUNTED = ("anyagent", "floor")
_COLLECTED = re.compile(rb"Collected : ([0-9]+)")


def _passes(contender: str, workload_name: str, passes: int) -> None:
    """The child's work: a warm-up pass, then ``passes`` passes of ``contender`` over the
    workload (the collector off, as when timing)."""
    workload = next(w for w in all_workloads(READ_SIZE) if w.name == workload_name)
    run = CONTENDERS[contender]
    run(workload.reads)
    gc.collect()
    gc.disable()
    for _ in range(passes):
        run(workload.reads)


def count_instructions(valgrind: str, contender: str, workload_name: str, *, floor_scanner: bool) -> int:
    """Instructions of one pass of ``contender`` over the workload: two children under callgrind,
    with one pass and with two after the warm-up, the first's count taken from the second's."""
    counts = []
    for passes in (1, 2):
        command = [
            valgrind,
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            str(Path(__file__).resolve()),
            "--_passes",
            f"{contender}:{workload_name}:{passes}",
            *(["--floor-scanner"] if floor_scanner else []),
        ]
        done = subprocess.run(command, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "0"}, check=False)
        found = _COLLECTED.search(done.stderr)
        if done.returncode != 0 or found is None:
            raise SystemExit(
                f"callgrind failed for {contender} on {workload_name} (exit {done.returncode}):\n"
                + done.stderr.decode(errors="replace")[-2000:]
            )
        counts.append(int(found.group(1)))
    return counts[1] - counts[0]


def instructions_report(names: Sequence[str], *, floor_scanner: bool) -> tuple[str, list[dict[str, Any]]]:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind on PATH (Debian: apt install valgrind)")
    workloads = {w.name: w for w in all_workloads(READ_SIZE)}
    unknown = [name for name in names if name not in workloads]
    if unknown:
        raise SystemExit(f"unknown workload(s) {', '.join(unknown)}: choose from {', '.join(workloads)}")
    head = ("workload", "responses", "chunks", "anyagent instr/response", "floor instr/response", "anyagent/floor")
    rows = []
    report = []
    for name in names:
        workload = workloads[name]
        responses = len(workload.bodies)
        counts = {c: count_instructions(valgrind, c, name, floor_scanner=floor_scanner) for c in COUNTED}
        ratio = counts["anyagent"] / counts["floor"]
        rows.append(
            (
                f"{name} {workload.description}",
                f"{responses:,}",
                f"{workload.chunks:,}",
                *(f"{counts[c] / responses / 1000:,.1f}k ({counts[c] / workload.chunks:,.0f}/chunk)" for c in COUNTED),
                f"{ratio:.3f}x",
            )
        )
        report.append({"name": name, "responses": responses, "chunks": workload.chunks, "instructions": counts})
    return "\n".join(table(head, rows, {})), report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run, noisy figures)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per contender (default 9, quick 3)")
    parser.add_argument(
        "--pairs", type=int, default=5, help="anyagent and floor runs back to back in each round (default 5)"
    )
    parser.add_argument("--gc", action="store_true", help="leave the garbage collector on while timing")
    parser.add_argument(
        "--floor-scanner", action="store_true", help="the floor calls the C JSON scanner directly, not json.loads"
    )
    parser.add_argument(
        "--clock", choices=tuple(CLOCKS), default="cpu", help="the process's CPU time (default) or wall time"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions under valgrind's callgrind instead of timing (anyagent and the floor)",
    )
    parser.add_argument(
        "--workloads", metavar="NAMES", help="with --instructions: the workloads, comma-separated (default all)"
    )
    parser.add_argument("--_passes", metavar="CONTENDER:WORKLOAD:N", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 9)
    if repeats < 1 or args.pairs < 1:
        parser.error("--repeats and --pairs must be at least 1")
    global _floor_loads
    floor_json = "scan_once" if args.floor_scanner else "json.loads"
    _floor_loads = _scanner_loads if args.floor_scanner else json.loads
    if args._passes:
        contender, workload_name, passes = args._passes.split(":")
        _passes(contender, workload_name, int(passes))
        return 0
    if args.instructions:
        known = {w.name: w for w in all_workloads(READ_SIZE)}
        names = args.workloads.split(",") if args.workloads else list(known)
        unknown = [name for name in names if name not in known]
        if unknown:
            parser.error(f"unknown workloads {', '.join(unknown)}; these exist: {', '.join(known)}")
        for name in names:
            verify(known[name])  # what is counted assembles what the others do
        text, counted = instructions_report(names, floor_scanner=args.floor_scanner)
        print(
            f"instructions of one pass (callgrind, PYTHONHASHSEED=0; two children a workload and contender, "
            f"their difference), {READ_SIZE}-byte reads, floor JSON: {floor_json}\n"
            f"Python {platform.python_version()} ({platform.machine()}), anyagent {__version__}; not the targets, "
            f"which are timed\n"
        )
        print(text)
        if args.json is not None:
            args.json.write_text(json.dumps({"floor_json": floor_json, "workloads": counted}, indent=2) + "\n")
        return 0

    workloads = all_workloads(READ_SIZE)
    for workload in workloads:
        verify(workload)  # doubles as the warm-up
    print("verified: anyagent, openai and floor assemble the same messages on every workload")

    clock = CLOCKS[args.clock]
    figures = [Figures(w, time_rounds(w, repeats, pairs=args.pairs, keep_gc=args.gc, clock=clock)) for w in workloads]
    header = (
        f"bytes -> final message, {READ_SIZE}-byte reads, {repeats} rounds ({args.clock} time), each timing openai "
        f"once and anyagent and the floor back to back {args.pairs} times; best run per contender; vs openai the "
        f"median of the rounds' ratios, vs floor the median of the {repeats * args.pairs} pairs' (p25-p75); "
        f"gc {'on' if args.gc else 'off'} while timing, floor JSON: {floor_json}\n"
        f"Python {platform.python_version()} ({platform.machine()}), anyagent {__version__}, "
        f"openai {openai.__version__}; cells: chunks/s (us per chunk)"
    )
    print(render(figures, header))
    if args.json is not None:
        report = {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "anyagent": __version__,
            "openai": openai.__version__,
            "read_size": READ_SIZE,
            "repeats": repeats,
            "pairs": args.pairs,
            "clock": args.clock,
            "gc_during_timing": bool(args.gc),
            "floor_json": floor_json,
            "targets": {"min_openai_over_anyagent": TARGET_VS_OPENAI, "max_anyagent_over_floor": TARGET_VS_FLOOR},
            "workloads": [f.to_json() for f in figures],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    _OPENAI_CLIENT.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
