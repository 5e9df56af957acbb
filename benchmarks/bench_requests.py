"""Request-building benchmark: how the cost of writing a request grows over a long agent run.

    python benchmarks/bench_requests.py [--turns N] [--calls N] [--quick] [--json PATH]

An ``AgentLoop`` (the core alone, no I/O) runs ``TURNS`` turns; each answer makes ``CALLS`` tool
calls (a few hundred bytes of arguments each) and each call gets a result, so request *n*
carries every earlier call and result. For each request the time from the loop handing out its
``SendRequest`` (the turn built from the conversation) to its bytes (``Connection.send``) is
taken, best of the rounds. A request holds all of the conversation, so its cost grows with the
turn number; what must not happen is a cost per request that grows faster than the conversation
does (re-serialising every earlier call's arguments on every request, say). The report prints
the cost at points along the run with the cost per message, which stays flat when the growth is
linear, and ``json.dumps`` of the same body (as plain dicts) as the floor.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import table
from anyagent_core import (
    AgentLoop,
    AssistantMessage,
    Connection,
    Done,
    Endpoint,
    LoopSettings,
    LoopTool,
    RunTools,
    SendRequest,
    StartTurn,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    UserMessage,
)

TOOL = ToolSpec(
    name="edit_file",
    description="Replace text in a file.",
    parameters={
        "type": "object",
        "properties": {"path": {"type": "string"}, "old": {"type": "string"}, "new": {"type": "string"}},
        "required": ["path", "old", "new"],
    },
)
ENDPOINT = Endpoint(base_url="http://bench.invalid/v1")


def answer(turn: int, calls: int) -> AssistantMessage:
    blocks = tuple(
        ToolUseBlock(
            id=f"call_{turn}_{i}",
            name=TOOL.name,
            input={"path": f"src/module_{turn}_{i}.py", "old": "x = 1\n" * 20, "new": f"x = {turn}\n" * 20},
        )
        for i in range(calls)
    )
    return AssistantMessage(content=blocks, model="bench", stop_reason="tool_calls")


def run(turns: int, calls: int) -> tuple[list[float], list[int], list[bytes]]:
    """One run: seconds to build each request, messages in it, and its body."""
    loop = AgentLoop(
        LoopSettings(template=StartTurn(model="bench", messages=()), tools=[LoopTool(spec=TOOL)], max_turns=turns + 1)
    )
    loop.start(UserMessage(content="Rename x everywhere."))
    seconds: list[float] = []
    sizes: list[int] = []
    bodies: list[bytes] = []
    turn = 0
    clock = time.perf_counter
    while True:
        start = clock()
        action = loop.next_action()
        if type(action) is SendRequest:
            body = Connection(ENDPOINT).send(action.turn).body
            seconds.append(clock() - start)
            sizes.append(len(action.turn.messages))
            bodies.append(body)
            turn += 1
            if turn > turns:
                loop.receive_response(AssistantMessage(content=(), stop_reason="stop"))
            else:
                loop.receive_response(answer(turn, calls))
        elif type(action) is RunTools:
            for call in action.calls:
                loop.tool_result(ToolResultBlock(tool_use_id=call.id, content="ok: 20 lines replaced"))
        elif type(action) is Done:
            return seconds, sizes, bodies


def floor(bodies: Sequence[bytes]) -> list[float]:
    """``json.dumps`` of each body as plain dicts: the least any writer does."""
    out = []
    for body in bodies:
        payload: Any = json.loads(body)
        start = time.perf_counter()
        json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        out.append(time.perf_counter() - start)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=200, help="tool turns in the run (default 200)")
    parser.add_argument("--calls", type=int, default=2, help="tool calls per answer (default 2)")
    parser.add_argument("--rounds", type=int, default=None, help="runs, best taken per request (default 5, quick 1)")
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 5)
    best: list[float] | None = None
    best_floor: list[float] | None = None
    sizes: list[int] = []
    for _ in range(rounds):
        gc.collect()
        seconds, sizes, bodies = run(args.turns, args.calls)
        floors = floor(bodies)
        best = seconds if best is None else [min(a, b) for a, b in zip(best, seconds, strict=True)]
        best_floor = floors if best_floor is None else [min(a, b) for a, b in zip(best_floor, floors, strict=True)]
    assert best is not None and best_floor is not None
    total = len(best)
    points = sorted({1, *(round(total * f) for f in (0.125, 0.25, 0.5, 0.75)), total})
    rows = []
    for n in points:
        i = n - 1
        rows.append(
            (
                f"request {n}",
                f"{sizes[i]:,}",
                f"{best[i] * 1e6:,.0f} us",
                f"{best[i] / sizes[i] * 1e6:.2f} us",
                f"{best_floor[i] * 1e6:,.0f} us",
                f"{best[i] / best_floor[i]:.2f}x",
            )
        )
    head = ("request", "messages", "build + write", "per message", "json.dumps floor", "vs floor")
    late = best[-1] / sizes[-1]
    early_at = max(0, total // 8 - 1)
    early = best[early_at] / sizes[early_at]
    print(
        f"request building over one run: {args.turns} turns of {args.calls} tool calls (+ results), the core alone; "
        f"best of {rounds} run(s)\n"
    )
    print("\n".join(table(head, rows, {})))
    print(
        f"\ncost per message, request {total} / request {early_at + 1}: {late / early:.2f}x "
        f"({'linear growth' if late / early <= 1.5 else 'FASTER THAN LINEAR'}); "
        f"whole run {sum(best) * 1e3:.1f} ms, floor {sum(best_floor) * 1e3:.1f} ms"
    )
    if args.json is not None:
        data = {"turns": args.turns, "calls": args.calls, "rounds": rounds, "messages": sizes,
                "seconds": best, "floor_seconds": best_floor}  # fmt: skip
        args.json.write_text(json.dumps(data) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
