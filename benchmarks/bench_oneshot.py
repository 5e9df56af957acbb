"""One-shot benchmark: ``query()`` as the README writes it (no ``http_client``), call after call.

    python benchmarks/bench_oneshot.py [--rounds N] [--quick] [--backend asyncio|trio] [--json PATH]

What a script, a ``query_sync()`` or a CLI run does: a prompt, an answer, done, with nothing
shared by hand. Each round starts a fresh event loop (so anyagent's default pool, one per event
loop, is built inside the timing) and makes ``CALLS`` calls in a row for 20-chunk answers from the
loopback server of ``bench_transport.py``. Every answer is checked against the ground truth.
Each round times every contender once, in an order rotated from round to round: a figure is the
median round, a ratio the median of the ratios within each round (contenders measured seconds
apart, not minutes), with the spread of the rounds (p25 to p75) beside it.

Contenders:

* ``anyagent query()``: ``query(prompt=..., options=AgentOptions(model=..., base_url=...))``,
  nothing else: the event loop's default pool serves every call after the first;
* ``raw httpx (shared client)``, the floor: one ``httpx.AsyncClient`` made before the timing
  and reused, ``aiter_lines()`` and ``json.loads`` per chunk (``bench_transport``'s floor);
* ``open-agent-sdk query()``: the closest local-first peer (PyPI ``open-agent-sdk``, import
  ``open_agent``): ``open_agent.query(prompt, AgentOptions(system_prompt=..., model=...,
  base_url=...))``, which builds an ``openai.AsyncOpenAI`` per call; asyncio only;
* ``openai per call``: ``async with AsyncOpenAI(...)`` around each ``chat.completions.create(...,
  stream=True)``, what a one-shot script on openai-python does; asyncio only.

Also import times in fresh interpreters (best of several, each told first that httpx's
command-line libraries are not installed, as ``bench_import.py`` does): ``import anyagent_httpx``
and what a plain ``query()`` loads (``from anyagent_httpx import AgentOptions, query``) against
``import httpx``.

Targets (PASS/FAIL, the script exits 0): per call **at most 1.3x** raw httpx's with a shared
client; **at least 5x faster** than open-agent-sdk's ``query()`` and than ``AsyncOpenAI`` per
call; ``import anyagent_httpx`` **at most 1.5x** ``import httpx`` (and the same bound for the
``query()`` imports, reported beside it).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _loopback import SHORT_VARIANTS
from _report import HIDE_CLI_EXTRAS, Rounds, rotated, table, target_lines
from bench_transport import (
    SHORT_MODEL,
    LoopbackServer,
    RawHttpx,
    Truth,
    _progress,
    _versions,
    child_env,
)

TARGET_VS_RAW = 1.3
"""anyagent's one-shot query() may take at most this multiple of raw httpx's time per call."""
TARGET_FASTER_THAN_PEERS = 5.0
"""anyagent's one-shot query() must be at least this many times faster than each peer's."""
TARGET_IMPORT_VS_HTTPX = 1.5
"""``import anyagent_httpx`` may take at most this multiple of ``import httpx``."""

ANYAGENT = "anyagent"
RAW = "raw httpx"
OPEN_AGENT = "open-agent-sdk"
OPENAI = "openai"
PEERS = (OPEN_AGENT, OPENAI)

LABELS = {
    ANYAGENT: "anyagent query(), no http_client",
    RAW: "raw httpx, one shared client (the floor)",
    OPEN_AGENT: "open-agent-sdk query()",
    OPENAI: "openai AsyncOpenAI per call",
}

Call = Callable[[str], Awaitable[str]]

IMPORTS = {
    "anyagent_httpx": "import anyagent_httpx",
    "anyagent query()": "from anyagent_httpx import AgentOptions, query",
    "httpx": "import httpx",
    "openai": "from openai import AsyncOpenAI",
}


def unavailable(name: str, backend: str) -> str | None:
    if name in PEERS and backend != "asyncio":
        return f"skipped: it runs under asyncio only, not {backend}"
    if name == OPEN_AGENT:
        try:
            import open_agent  # noqa: F401
        except ImportError:
            return "not installed (pip install open-agent-sdk: it is in the bench dependency group)"
    return None


async def anyagent_calls(base_url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    from anyagent_httpx import AgentOptions, ResultMessage, query

    options = AgentOptions(model=SHORT_MODEL, base_url=base_url)

    async def call(prompt: str) -> str:
        result: Any = None
        async for message in query(prompt=prompt, options=options):
            result = message
        if type(result) is not ResultMessage or result.subtype != "success":
            raise SystemExit(f"{ANYAGENT}: the last message is not a successful ResultMessage: {result!r:.300}")
        return result.result or ""

    async def close() -> None:
        pass

    return call, close


async def raw_calls(base_url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    raw = RawHttpx()
    await raw.open(base_url, connections=1)

    async def call(prompt: str) -> str:
        return await raw.request(SHORT_MODEL, prompt)

    return call, raw.aclose


async def open_agent_calls(base_url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    import open_agent

    options = open_agent.AgentOptions(system_prompt="", model=SHORT_MODEL, base_url=base_url, max_tokens=None)

    async def call(prompt: str) -> str:
        parts = []
        async for message in open_agent.query(prompt, options):
            for block in message.content:
                if isinstance(block, open_agent.TextBlock):
                    parts.append(block.text)
        return "".join(parts)

    async def close() -> None:
        pass

    return call, close


async def openai_calls(base_url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    import openai

    async def call(prompt: str) -> str:
        async with openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0) as client:
            stream = await client.chat.completions.create(
                model=SHORT_MODEL, messages=[{"role": "user", "content": prompt}], stream=True
            )
            parts = []
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    parts.append(chunk.choices[0].delta.content)
            return "".join(parts)

    async def close() -> None:
        pass

    return call, close


MAKERS = {ANYAGENT: anyagent_calls, RAW: raw_calls, OPEN_AGENT: open_agent_calls, OPENAI: openai_calls}


async def one_round(name: str, base_url: str, calls: int, truth: Truth) -> float:
    """``calls`` one-shot calls in this (fresh) event loop: seconds, everything set up inside."""
    gc.collect()
    texts = []
    start = time.perf_counter()
    call, close = await MAKERS[name](base_url)
    try:
        for i in range(calls):
            texts.append(await call(str(i)))
    finally:
        await close()
    elapsed = time.perf_counter() - start
    if name == OPEN_AGENT:
        # open-agent-sdk loses a piece of some answers (its own chunk assembly): counted and
        # reported rather than aborting the run; it did the whole request either way.
        wrong = sum(text != truth.short_texts[i % SHORT_VARIANTS] for i, text in enumerate(texts))
        MISASSEMBLED[name] = max(MISASSEMBLED.get(name, 0), wrong)
    else:
        truth.check_short(name, texts)
    return elapsed


#: Answers a peer assembled wrong, in its worst round (only open-agent-sdk is let off the check).
MISASSEMBLED: dict[str, int] = {}


def import_times(repeats: int) -> dict[str, float]:
    """Milliseconds beyond a bare interpreter start for each of ``IMPORTS`` (best of ``repeats``).
    Every interpreter reads compiled bytecode, as after ``pip install``, from a temporary cache
    filled by an unmeasured round (as ``bench_import.py`` does; without it an environment that
    sets ``PYTHONDONTWRITEBYTECODE`` compiles the editable install from source every time)."""
    env = child_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    best = dict.fromkeys(("", *IMPORTS), float("inf"))
    with tempfile.TemporaryDirectory(prefix="anyagent-bench-pycache-") as pycache:
        env["PYTHONPYCACHEPREFIX"] = pycache
        for code in IMPORTS.values():  # fills the bytecode cache
            subprocess.run([sys.executable, "-c", HIDE_CLI_EXTRAS + code], env=env, check=True)
        for _ in range(repeats):
            for key in best:
                code = HIDE_CLI_EXTRAS + IMPORTS.get(key, "pass")  # as for a user of anyagent alone
                start = time.perf_counter()
                subprocess.run([sys.executable, "-c", code], env=env, check=True)
                best[key] = min(best[key], time.perf_counter() - start)
    bare = best.pop("")
    return {"bare_start": bare * 1e3, **{key: (seconds - bare) * 1e3 for key, seconds in best.items()}}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default 5, quick 1)")
    parser.add_argument("--quick", action="store_true", help="fewer calls, one round: a smoke run")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio", help="the clients' event loop")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 5)
    calls = 50 if args.quick else 200
    import_repeats = 3 if args.quick else 7

    skipped = {name: why for name in LABELS if (why := unavailable(name, args.backend)) is not None}
    running = [name for name in LABELS if name not in skipped]
    truth = Truth.build()
    truth.add_short()
    timed = Rounds()
    import anyio

    with LoopbackServer() as server:
        for name in running:  # a verified warm-up: code paths taken once, modules imported
            anyio.run(one_round, name, server.base_url, 5, truth, backend=args.backend)
        for number in range(rounds):
            for name in rotated(running, number):
                timed.add(name, anyio.run(one_round, name, server.base_url, calls, truth, backend=args.backend))
    _progress(f"{', '.join(running)} done, every answer checked")
    imports = import_times(import_repeats)

    def per_call(seconds: float) -> float:
        return seconds / calls * 1e6

    rows = []
    for name in running:
        low, high = timed.spread(name)
        r_low, r_high = timed.ratio_spread(name, RAW)
        faster = [f"{timed.ratio(peer, name):.1f}x" if peer in running else "-" for peer in PEERS]
        rows.append((
            LABELS[name],
            f"{per_call(timed.median(name)):,.0f} us ({per_call(low):,.0f}-{per_call(high):,.0f})",
            f"{timed.ratio(name, RAW):.2f}x ({r_low:.2f}-{r_high:.2f})",
            *faster,
        ))  # fmt: skip
    head = ("contender", f"per call of {calls} (p25-p75)", "vs raw (p25-p75)", "open-agent-sdk / this",
            "openai per call / this")  # fmt: skip
    vs_raw = timed.ratio(ANYAGENT, RAW)
    targets: list[tuple[str, float | None, bool | None]] = [
        (f"anyagent per call <= {TARGET_VS_RAW:g}x raw httpx (shared client)", vs_raw, vs_raw <= TARGET_VS_RAW),
    ]
    for peer in PEERS:
        ratio = timed.ratio(peer, ANYAGENT) if peer in running else None
        targets.append((f"anyagent >= {TARGET_FASTER_THAN_PEERS:g}x faster than {LABELS[peer]}", ratio,
                        None if ratio is None else ratio >= TARGET_FASTER_THAN_PEERS))  # fmt: skip
    for key in ("anyagent_httpx", "anyagent query()"):
        ratio = imports[key] / imports["httpx"]
        targets.append((f"{IMPORTS[key]!r} <= {TARGET_IMPORT_VS_HTTPX:g}x 'import httpx'", ratio,
                        ratio <= TARGET_IMPORT_VS_HTTPX))  # fmt: skip
    header = (
        f"one-shot query() calls, each round in a fresh event loop ({args.backend}); loopback HTTP/1.1 server "
        f"in its own process; 20-chunk answers; median of {rounds} round(s), contenders in rotated order, ratios "
        f"the median of the ratios within each round\n"
        f"Python {platform.python_version()} ({platform.machine()}, {os.cpu_count()} CPUs), {_versions()}"
    )
    imports_line = (
        f"import time (fresh interpreter without click/pygments/rich, best of {import_repeats}, beyond a bare "
        f"start of {imports['bare_start']:.1f} ms): "
        + ", ".join(f"{IMPORTS[k]!r} {imports[k]:.1f} ms" for k in IMPORTS)
    )
    skipped_labels = {LABELS[name]: why for name, why in skipped.items()}
    wrong = [f"{LABELS[name]} assembled {n} of {calls} answers wrong" for name, n in MISASSEMBLED.items() if n]
    notes = ["", "; ".join(wrong) + " (checked, not fatal for this peer)"] if wrong else []
    lines = [header, "", *table(head, rows, skipped_labels), *notes, "", imports_line, "",
             *target_lines(targets, args.backend)]  # fmt: skip
    print("\n".join(lines), flush=True)
    if args.json is not None:
        data = {
            "python": platform.python_version(),
            "versions": _versions(),
            "backend": args.backend,
            "calls": calls,
            "rounds": rounds,
            "skipped": skipped,
            "seconds": timed.to_json(),
            "us_per_call": {name: per_call(timed.median(name)) for name in running},
            "misassembled": MISASSEMBLED,
            "imports_ms": imports,
            "targets": [{"target": what, "ratio": ratio, "pass": passed} for what, ratio, passed in targets],
        }
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
